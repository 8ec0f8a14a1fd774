//! What each callback does with the VM's state: configurations by root context, streams by
//! context, and the tick that hands over counts and forgets what is gone.

use std::time::Duration;

use crate::active::configure;
use crate::counters::{Slot, UNCONFIGURED_NAME};
use crate::host::Host;
use crate::http;
use crate::roots::Roots;
use crate::streams::{Opened, Streams};
use crate::vm::{refresh_log_level, VmState};

pub const VERSION: &str = env!("CARGO_PKG_VERSION");
pub const GIT_REVISION: &str = env!("STICKY_CANARY_GIT_REVISION");

/// The VM's tick: how far the host's counters may lag the requests (counts are handed over on
/// each tick), how soon `/logging?wasm=debug` takes effect, and the unit in which gone roots
/// are noticed.
pub const TICK: Duration = Duration::from_secs(1);

pub struct Filter<H: Host> {
    host: H,
    vm: VmState,
    roots: Roots,
    streams: Streams,
    /// The host's clock at the last tick or configuration: requests read this, not the host.
    clock: Duration,
    unconfigured: Option<Slot>,
}

impl<H: Host> Filter<H> {
    pub fn new(host: H) -> Self {
        Filter {
            host,
            vm: VmState::new(),
            roots: Roots::default(),
            streams: Streams::default(),
            clock: Duration::ZERO,
            unconfigured: None,
        }
    }

    pub fn host(&self) -> &H {
        &self.host
    }

    pub fn on_vm_start(&mut self) -> bool {
        refresh_log_level(&self.host);
        log::info!("sticky-canary {VERSION} (git {GIT_REVISION}) started");
        true
    }

    pub fn on_configure(&mut self, root: u32) -> bool {
        refresh_log_level(&self.host);
        self.clock = self.host.now();
        let Some(active) = configure(&self.host, &self.host.plugin_configuration()) else {
            return false;
        };
        if self.unconfigured.is_none() {
            self.unconfigured = Slot::define(&self.host, UNCONFIGURED_NAME);
        }
        self.host.set_tick_period(TICK);
        self.roots.configure(&self.host, root, active);
        true
    }

    pub fn on_tick(&mut self, root: u32) {
        refresh_log_level(&self.host);
        self.clock = self.host.now();
        self.roots.tick(&self.host, root);
        self.streams.expire(self.clock);
        // Any root's tick hands over every configuration's counts: the lag stays under a tick.
        let now_secs = self.clock.as_secs();
        for active in self.roots.all() {
            active.guards.sync(&self.host, now_secs);
            active.flush(&self.host);
        }
        if let Some(slot) = &self.unconfigured {
            slot.flush(&self.host);
        }
    }

    /// `root` is 0 when the context created is itself a root context.
    pub fn on_context_create(&mut self, context: u32, root: u32) {
        if root != 0 {
            let active = self.roots.get(root).cloned();
            self.streams.create(context, active, self.clock);
        }
    }

    pub fn on_request_headers(&mut self, context: u32) {
        let Opened::Configured(active) = self.streams.open(context) else {
            // Deciding by any other configuration could route by another plugin's rules, or
            // leave its routing header forged: the request passes untouched and is counted.
            if let Some(slot) = &self.unconfigured {
                slot.add_one();
            }
            return;
        };
        let decision = http::on_request_headers(&self.host, &self.vm, &active);
        if let Some(d) = decision.filter(|d| active.awaits_response(d.route)) {
            if let (Ok(route), Ok(subset)) = (u16::try_from(d.route), u16::try_from(d.subset)) {
                self.streams
                    .await_response(context, active, (route, subset), self.clock);
            }
        }
    }

    pub fn on_response_headers(&mut self, context: u32) {
        if let Some(stream) = self.streams.respond(context) {
            http::on_response_headers(
                &self.host,
                &stream.active,
                usize::from(stream.route),
                usize::from(stream.subset),
            );
        }
    }

    /// Root context ids that have a configuration, oldest first.
    pub fn configured_roots(&self) -> Vec<u32> {
        self.roots.ids()
    }

    /// Streams held: `(waiting for request headers, waiting for response headers)`.
    pub fn streams_held(&self) -> (usize, usize) {
        self.streams.held()
    }
}
