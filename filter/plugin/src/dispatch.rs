//! The VM's dispatcher: what each callback does with the VM's state (configurations by root
//! context, streams by context) and the tick that hands over counts and forgets what is gone.

use std::time::Duration;

use crate::configuration::configure;
use crate::counters::{Slot, NOT_REACHED_NAME, UNCONFIGURED_NAME};
use crate::entropy::Entropy;
use crate::host::Host;
use crate::request;
use crate::response::{self, Next};
use crate::roots::Roots;
use crate::streams::{Opened, Streams};

pub const VERSION: &str = env!("CARGO_PKG_VERSION");
pub const GIT_REVISION: &str = env!("STICKY_CANARY_GIT_REVISION");

/// The VM's tick: how far the host's counters may lag the requests (counts are handed over on
/// each tick), how soon `/logging?wasm=debug` takes effect, and the unit in which gone roots
/// are noticed.
pub const TICK: Duration = Duration::from_secs(1);

/// Gauge: the module's linear memory in bytes, as of the last tick of the VM that set it.
pub const MEMORY_NAME: &str = "sticky_canary.vm_memory_bytes";

pub struct Filter<H: Host> {
    host: H,
    entropy: Entropy,
    roots: Roots,
    streams: Streams,
    /// The host's clock at the last tick or configuration: requests read this, not the host.
    clock: Duration,
    unconfigured: Option<Slot>,
    /// Streams created whose request headers never came (a filter before this one answered).
    not_reached: Option<Slot>,
    /// The memory gauge; set only by a VM that has had streams, so that Envoy's VMs that never
    /// serve (the main thread's, the throw-away canary of each push) do not overwrite a worker's.
    memory: Option<u32>,
    had_streams: bool,
}

impl<H: Host> Filter<H> {
    pub fn new(host: H) -> Self {
        Filter {
            entropy: Entropy::new(&host),
            host,
            roots: Roots::default(),
            streams: Streams::default(),
            clock: Duration::ZERO,
            unconfigured: None,
            not_reached: None,
            memory: None,
            had_streams: false,
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
        if self.not_reached.is_none() {
            self.not_reached = Slot::define(&self.host, NOT_REACHED_NAME);
        }
        if self.memory.is_none() {
            self.memory = self.host.define_gauge(MEMORY_NAME);
        }
        self.host.set_tick_period(TICK);
        self.roots.configure(&self.host, root, active);
        true
    }

    pub fn on_tick(&mut self, root: u32) {
        refresh_log_level(&self.host);
        self.clock = self.host.now();
        self.roots.tick(&self.host, root);
        let given_up = self.streams.expire(self.clock);
        // Any root's tick hands over every configuration's counts: the lag stays under a tick.
        let now_secs = self.clock.as_secs();
        let now_ms = u64::try_from(self.clock.as_millis()).unwrap_or(u64::MAX);
        for active in self.roots.all() {
            active.guards.sync(&self.host, now_secs);
            active.schedules.sync(&self.host, now_ms, &active.guards);
            active.flush(&self.host);
        }
        self.roots.release_retired();
        if let Some(slot) = &self.not_reached {
            slot.add(given_up);
        }
        for slot in [&self.unconfigured, &self.not_reached]
            .into_iter()
            .flatten()
        {
            slot.flush(&self.host);
        }
        if let (Some(id), true) = (self.memory, self.had_streams) {
            if let Some(bytes) = self.host.memory_bytes() {
                self.host.set_gauge(id, bytes);
            }
        }
    }

    /// `root` is 0 when the context created is itself a root context.
    pub fn on_context_create(&mut self, context: u32, root: u32) {
        if root != 0 {
            self.had_streams = true;
            let active = self.roots.get(root).cloned();
            if self.streams.create(context, active, self.clock) {
                if let Some(slot) = &self.not_reached {
                    slot.add_one();
                }
            }
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
        if let Some(plan) = request::on_request_headers(&self.host, &self.entropy, &active) {
            self.streams
                .await_response(context, active, plan, self.clock);
        }
    }

    pub fn on_response_headers(&mut self, context: u32) {
        if let Some(stream) = self.streams.respond(context) {
            if response::on_response_headers(&self.host, &stream) == Next::Trailers {
                self.streams.await_trailers(context, stream);
            }
        }
    }

    /// Only a stream kept for its gRPC status finds anything to do here.
    pub fn on_response_trailers(&mut self, context: u32) {
        if let Some(stream) = self.streams.trailers(context) {
            response::on_response_trailers(&self.host, &stream);
        }
    }

    /// Root context ids that have a configuration, oldest first.
    pub fn configured_roots(&self) -> Vec<u32> {
        self.roots.ids()
    }

    /// Streams held: `(waiting for request headers, waiting for response headers or trailers)`.
    pub fn streams_held(&self) -> (usize, usize) {
        self.streams.held()
    }

    /// Replaced or gone configurations still held by a stream.
    pub fn retired_configurations(&self) -> usize {
        self.roots.retired()
    }
}

/// Follows the host's wasm log level (`/logging?wasm=debug` in Envoy). Read on configure and on
/// each tick, never per request: a request only compares against `log::max_level()`.
fn refresh_log_level(host: &impl Host) {
    if let Some(level) = host.log_level() {
        log::set_max_level(level);
    }
}
