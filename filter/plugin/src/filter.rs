//! The VM's state and what each callback does with it: configurations by root context, and
//! which configuration each request belongs to.

use std::rc::Rc;
use std::time::Duration;

use crate::abi::{self, LogLevel};
use crate::http;
use crate::log::log;
use crate::root::{configure, Active};
use crate::vm::VmState;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");
pub const GIT_REVISION: &str = env!("STICKY_CANARY_GIT_REVISION");

/// The VM's tick: how far Envoy's counters may lag the requests (counts are handed over on each
/// tick), and how soon `/logging?wasm=debug` takes effect while running.
const TICK: Duration = Duration::from_secs(1);

/// Configurations kept per VM. Root contexts are never reported gone (that callback would cost
/// every request), so the oldest configuration beyond this is dropped; one VM serves one or a
/// few, plus one per update while old streams drain.
const MAX_CONFIGURATIONS: usize = 32;

/// Requests remembered between context creation and response headers, by context id modulo
/// this. Ids are handed out in sequence, so a slot is only reused after this many newer
/// requests; a request whose slot was reused falls back to the newest configuration and, with
/// `exposeSubset`, goes without the response header.
const STREAM_SLOTS: usize = 1024;

#[derive(Clone, Copy, Default)]
struct StreamSlot {
    context: u32,
    root: u32,
    /// `(route, subset)` to echo on the response, set only under `exposeSubset`.
    chosen: Option<(u32, u32)>,
}

pub struct Filter {
    vm: VmState,
    /// `(root context id, configuration)`, oldest first.
    configurations: Vec<(u32, Rc<Active>)>,
    streams: Vec<StreamSlot>,
}

impl Filter {
    pub fn new() -> Self {
        Filter {
            vm: VmState::new(),
            configurations: Vec::new(),
            streams: vec![StreamSlot::default(); STREAM_SLOTS],
        }
    }

    pub fn on_vm_start(&mut self) -> bool {
        log(
            LogLevel::Info,
            &format!("sticky-canary {VERSION} (git {GIT_REVISION}) started"),
        );
        true
    }

    pub fn on_configure(&mut self, root: u32) -> bool {
        self.vm.refresh_log_level();
        let _ = abi::set_tick_period(TICK.as_millis() as u32);
        let Some(active) = configure(&abi::plugin_configuration()) else {
            return false;
        };
        // A configuration leaving the list hands over its counts first.
        self.configurations.retain(|(id, replaced)| {
            let keep = *id != root;
            if !keep {
                replaced.counters.flush();
            }
            keep
        });
        if self.configurations.len() >= MAX_CONFIGURATIONS {
            let (_, oldest) = self.configurations.remove(0);
            oldest.counters.flush();
        }
        self.configurations.push((root, Rc::new(active)));
        true
    }

    /// Every root context ticks; any one of them flushing every configuration's counts keeps
    /// the lag under one tick.
    pub fn on_tick(&mut self) {
        self.vm.refresh_log_level();
        for (_, active) in &self.configurations {
            active.counters.flush();
        }
    }

    pub fn on_context_create(&mut self, context: u32, root: u32) {
        if let Some(slot) = self.streams.get_mut(slot_index(context)) {
            *slot = StreamSlot {
                context,
                root,
                chosen: None,
            };
        }
    }

    pub fn on_request_headers(&mut self, context: u32) {
        let index = slot_index(context);
        let root = self
            .streams
            .get(index)
            .filter(|slot| slot.context == context)
            .map(|slot| slot.root);
        let Some(active) = self.configuration(root) else {
            return;
        };
        let decision = http::on_request_headers(&self.vm, &active);
        if active.config.expose_subset {
            if let Some(slot) = self.streams.get_mut(index) {
                if slot.context == context {
                    slot.chosen = decision.map(|d| (d.route as u32, d.subset as u32));
                }
            }
        }
    }

    pub fn on_response_headers(&mut self, context: u32) {
        let Some(slot) = self.streams.get(slot_index(context)).copied() else {
            return;
        };
        if slot.context != context {
            return;
        }
        if let (Some(chosen), Some(active)) = (slot.chosen, self.configuration(Some(slot.root))) {
            http::on_response_headers(&active, chosen);
        }
    }

    /// The configuration of this root context, else the newest one.
    fn configuration(&self, root: Option<u32>) -> Option<Rc<Active>> {
        root.and_then(|root| self.configurations.iter().find(|(id, _)| *id == root))
            .or(self.configurations.last())
            .map(|(_, active)| Rc::clone(active))
    }
}

fn slot_index(context: u32) -> usize {
    context as usize % STREAM_SLOTS
}
