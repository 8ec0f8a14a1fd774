//! A host for the filter's VM-wide state, in memory: one VM's root contexts, streams, headers,
//! counters, clock and log, so the glue is tested natively in milliseconds.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, dead_code)]

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use log::{Level, LevelFilter, Log, Metadata, Record};
use sticky_canary::host::{Host, Map, SharedDataError};
use sticky_canary::{Filter, TICK};

#[derive(Default)]
pub struct State {
    pub now: Duration,
    pub level: Option<LevelFilter>,
    pub configuration: Vec<u8>,
    pub env: HashMap<String, Vec<u8>>,
    /// The current stream's headers, lowercase names, in order.
    pub request: Vec<(String, Vec<u8>)>,
    pub response: Vec<(String, Vec<u8>)>,
    pub trailers: Vec<(String, Vec<u8>)>,
    /// Counter names by id, and their values.
    pub counters: Vec<(String, u64)>,
    pub tick_period: Option<Duration>,
    /// Gauge names by id, and their values.
    pub gauges: Vec<(String, u64)>,
    pub plugin_name: Option<String>,
    /// Shared with every VM made by [`Vm::pair`].
    pub shared: Rc<RefCell<SharedData>>,
    /// The module's linear memory, as the VM would report it.
    pub memory: Option<u64>,
}

/// Envoy's shared data: a value and a compare-and-swap token per key; every store takes a new
/// token from one sequence.
#[derive(Default)]
pub struct SharedData {
    pub values: HashMap<String, (Vec<u8>, u32)>,
    next_cas: u32,
    /// Stores refused for a stale token, to show that concurrent writers were exercised.
    pub mismatches: usize,
    /// Values another worker stores between a VM's read and its next store, one per store.
    pub interleaved: Vec<(String, Vec<u8>)>,
}

#[derive(Default)]
pub struct FakeHost(pub RefCell<State>);

impl FakeHost {
    fn map(&self, map: Map) -> std::cell::RefMut<'_, Vec<(String, Vec<u8>)>> {
        std::cell::RefMut::map(self.0.borrow_mut(), |s| match map {
            Map::Request => &mut s.request,
            Map::Response => &mut s.response,
            Map::ResponseTrailers => &mut s.trailers,
        })
    }
}

impl Host for FakeHost {
    fn log_level(&self) -> Option<LevelFilter> {
        self.0.borrow().level
    }
    fn set_tick_period(&self, period: Duration) {
        self.0.borrow_mut().tick_period = Some(period);
    }
    fn now(&self) -> Duration {
        self.0.borrow().now
    }
    fn plugin_configuration(&self) -> Vec<u8> {
        self.0.borrow().configuration.clone()
    }
    /// The operating system's random source, as WASI's `random_get` is the host's.
    fn random_bytes(&self, out: &mut [u8]) -> bool {
        getrandom::fill(out).is_ok()
    }
    fn env_var(&self, name: &str) -> Option<Vec<u8>> {
        self.0.borrow().env.get(name).cloned()
    }
    fn header(&self, map: Map, name: &str) -> Option<Vec<u8>> {
        HOST_CALLS.with(|c| c.borrow_mut().push(format!("get {name}")));
        self.map(map)
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    }
    /// Serialized as proxy-wasm does: a count, (key size, value size) pairs, then each key and
    /// value followed by a NUL, all little-endian.
    fn header_pairs(&self, map: Map) -> Vec<u8> {
        HOST_CALLS.with(|c| c.borrow_mut().push("get map".to_string()));
        let headers = self.map(map);
        let mut out = (headers.len() as u32).to_le_bytes().to_vec();
        for (k, v) in headers.iter() {
            out.extend((k.len() as u32).to_le_bytes());
            out.extend((v.len() as u32).to_le_bytes());
        }
        for (k, v) in headers.iter() {
            out.extend(k.as_bytes());
            out.push(0);
            out.extend(v);
            out.push(0);
        }
        out
    }
    fn set_header(&self, map: Map, name: &str, value: &[u8]) {
        HOST_CALLS.with(|c| c.borrow_mut().push(format!("set {name}")));
        let mut headers = self.map(map);
        headers.retain(|(n, _)| n != name);
        headers.push((name.to_string(), value.to_vec()));
    }
    fn add_header(&self, map: Map, name: &str, value: &[u8]) {
        HOST_CALLS.with(|c| c.borrow_mut().push(format!("add {name}")));
        self.map(map).push((name.to_string(), value.to_vec()));
    }
    fn remove_header(&self, map: Map, name: &str) {
        HOST_CALLS.with(|c| c.borrow_mut().push(format!("remove {name}")));
        self.map(map).retain(|(n, _)| n != name);
    }
    fn define_counter(&self, name: &str) -> Option<u32> {
        let mut state = self.0.borrow_mut();
        if let Some(id) = state.counters.iter().position(|(n, _)| n == name) {
            return Some(id as u32);
        }
        state.counters.push((name.to_string(), 0));
        Some(state.counters.len() as u32 - 1)
    }
    fn increment_counter(&self, id: u32, by: u64) {
        HOST_CALLS.with(|c| c.borrow_mut().push(format!("increment {id}")));
        self.0.borrow_mut().counters[id as usize].1 += by;
    }
    fn define_gauge(&self, name: &str) -> Option<u32> {
        let mut state = self.0.borrow_mut();
        if let Some(id) = state.gauges.iter().position(|(n, _)| n == name) {
            return Some(id as u32);
        }
        state.gauges.push((name.to_string(), 0));
        Some(state.gauges.len() as u32 - 1)
    }
    fn set_gauge(&self, id: u32, value: u64) {
        self.0.borrow_mut().gauges[id as usize].1 = value;
    }
    fn plugin_name(&self) -> Option<Vec<u8>> {
        self.0.borrow().plugin_name.clone().map(String::into_bytes)
    }
    fn shared_data(&self, key: &str) -> Option<(Vec<u8>, u32)> {
        HOST_CALLS.with(|c| c.borrow_mut().push(format!("get shared {key}")));
        let shared = self.0.borrow().shared.clone();
        let found = shared.borrow().values.get(key).cloned();
        found
    }
    /// As Envoy's `SharedData::set`: a token of 0, or a key holding nothing, stores without a
    /// check; otherwise the token must be the key's current one.
    fn set_shared_data(&self, key: &str, value: &[u8], cas: u32) -> Result<(), SharedDataError> {
        HOST_CALLS.with(|c| c.borrow_mut().push(format!("set shared {key}")));
        let shared = self.0.borrow().shared.clone();
        let mut shared = shared.borrow_mut();
        if !shared.interleaved.is_empty() {
            let (other_key, other_value) = shared.interleaved.remove(0);
            shared.next_cas += 1;
            let token = shared.next_cas;
            shared.values.insert(other_key, (other_value, token));
        }
        if let Some((_, current)) = shared.values.get(key) {
            if cas != 0 && cas != *current {
                shared.mismatches += 1;
                return Err(SharedDataError::CasMismatch);
            }
        }
        shared.next_cas += 1;
        let token = shared.next_cas;
        shared
            .values
            .insert(key.to_string(), (value.to_vec(), token));
        Ok(())
    }
    fn memory_bytes(&self) -> Option<u64> {
        self.0.borrow().memory
    }
}

thread_local! {
    /// Every record handed to the logger on this thread, whatever its level: the level check
    /// belongs to the filter (through `log::max_level`), so a line the filter should not have
    /// asked for shows up here.
    static LINES: RefCell<Vec<(Level, String)>> = const { RefCell::new(Vec::new()) };
    /// Levels the filter asked the logger about (`Log::enabled`, e.g. through `log_enabled!`
    /// once `log::max_level` lets the level through).
    static LEVEL_QUERIES: RefCell<Vec<Level>> = const { RefCell::new(Vec::new()) };
    /// Header and counter calls the filter made on this thread.
    static HOST_CALLS: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

struct CapturingLogger;

/// Counts calls instead of filtering them, so that "no log call" means none reached the logger
/// (Envoy's logger would have turned each into a host call).
impl Log for CapturingLogger {
    fn enabled(&self, metadata: &Metadata) -> bool {
        LEVEL_QUERIES.with(|q| q.borrow_mut().push(metadata.level()));
        metadata.level() <= log::max_level()
    }
    fn log(&self, record: &Record) {
        LINES.with(|l| {
            l.borrow_mut()
                .push((record.level(), record.args().to_string()))
        });
    }
    fn flush(&self) {}
}

/// One VM with the filter in it, driven callback by callback as Envoy drives it.
pub struct Vm {
    pub filter: Filter<FakeHost>,
    next_context: u32,
    /// `log::max_level` is process-wide: tests that run a VM take turns (the second VM of a
    /// [`Vm::pair`] holds none: its first holds the turn).
    _serial: Option<MutexGuard<'static, ()>>,
}

/// The first context id Envoy gives a VM's contexts; roots and streams share the sequence.
const FIRST_CONTEXT: u32 = 1;

impl Vm {
    pub fn new() -> Vm {
        static SERIAL: Mutex<()> = Mutex::new(());
        static LOGGER: OnceLock<()> = OnceLock::new();
        let serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        LOGGER.get_or_init(|| log::set_logger(&CapturingLogger).unwrap());
        LINES.with(|l| l.borrow_mut().clear());
        LEVEL_QUERIES.with(|q| q.borrow_mut().clear());
        let host = FakeHost::default();
        host.0.borrow_mut().level = Some(LevelFilter::Info);
        let mut vm = Vm {
            filter: Filter::new(host),
            next_context: FIRST_CONTEXT,
            _serial: Some(serial),
        };
        assert!(vm.filter.on_vm_start());
        vm
    }

    /// Two VMs of one Envoy (two workers): same log, same shared data, their own state. The
    /// first is dropped last, so it holds the turn for both.
    pub fn pair() -> (Vm, Vm) {
        let first = Vm::new();
        let host = FakeHost::default();
        {
            let mut state = host.0.borrow_mut();
            state.level = Some(LevelFilter::Info);
            state.shared = first.state().shared.clone();
        }
        let mut second = Vm {
            filter: Filter::new(host),
            next_context: FIRST_CONTEXT,
            _serial: None,
        };
        assert!(second.filter.on_vm_start());
        (first, second)
    }

    /// Runs a stream's response headers with this `:status`.
    pub fn response_with_status(&mut self, context: u32, status: &str) {
        self.state().response = vec![(":status".to_string(), status.as_bytes().to_vec())];
        self.filter.on_response_headers(context);
    }

    pub fn gauge(&self, name: &str) -> Option<u64> {
        let state = self.filter.host().0.borrow();
        state
            .gauges
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| *v)
    }

    pub fn state(&self) -> std::cell::RefMut<'_, State> {
        self.filter.host().0.borrow_mut()
    }

    pub fn next_context(&mut self) -> u32 {
        let id = self.next_context;
        self.next_context = self.next_context.wrapping_add(1).max(1);
        id
    }

    /// A new root context configured with `config`, as Envoy does for each push; its id.
    pub fn add_root(&mut self, config: &str) -> Option<u32> {
        let root = self.next_context();
        self.filter.on_context_create(root, 0);
        self.state().configuration = config.as_bytes().to_vec();
        self.filter.on_configure(root).then_some(root)
    }

    /// One tick period later, each of `roots` ticks once (Envoy: each live root's own timer).
    pub fn tick(&mut self, roots: &[u32]) {
        self.advance(TICK);
        for &root in roots {
            self.filter.on_tick(root);
        }
    }

    pub fn advance(&mut self, by: Duration) {
        self.state().now += by;
    }

    /// Creates a stream of `root` and runs its request headers; returns the stream's context id
    /// and the request headers as the filter left them.
    pub fn request(
        &mut self,
        root: u32,
        headers: &[(&str, &str)],
    ) -> (u32, Vec<(String, Vec<u8>)>) {
        let context = self.next_context();
        self.filter.on_context_create(context, root);
        self.request_headers(context, headers);
        (context, self.state().request.clone())
    }

    /// Runs the request headers callback of an already created stream.
    pub fn request_headers(&mut self, context: u32, headers: &[(&str, &str)]) {
        self.state().request = headers
            .iter()
            .map(|(n, v)| (n.to_string(), v.as_bytes().to_vec()))
            .collect();
        self.filter.on_request_headers(context);
    }

    /// Runs a stream's response trailers with these fields.
    pub fn trailers(&mut self, context: u32, trailers: &[(&str, &str)]) {
        self.state().trailers = trailers
            .iter()
            .map(|(n, v)| (n.to_string(), v.as_bytes().to_vec()))
            .collect();
        self.filter.on_response_trailers(context);
    }

    /// The context id the next stream or root gets (Envoy's ids are u32 and wrap).
    pub fn set_next_context(&mut self, id: u32) {
        self.next_context = id;
    }

    /// Runs a stream's response headers; returns the response headers as the filter left them.
    pub fn response(&mut self, context: u32) -> Vec<(String, Vec<u8>)> {
        self.response_with(context, &[])
    }

    /// [`Vm::response`] of an upstream that sent these headers after `:status: 200`.
    pub fn response_with(
        &mut self,
        context: u32,
        headers: &[(&str, &str)],
    ) -> Vec<(String, Vec<u8>)> {
        let mut response = vec![(":status".to_string(), b"200".to_vec())];
        response.extend(
            headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.as_bytes().to_vec())),
        );
        self.state().response = response;
        self.filter.on_response_headers(context);
        self.state().response.clone()
    }

    pub fn counter(&self, name: &str) -> u64 {
        let state = self.filter.host().0.borrow();
        state
            .counters
            .iter()
            .find(|(n, _)| n == name)
            .map_or(0, |(_, v)| *v)
    }
}

/// The value of `name` among `headers`, as text.
pub fn value(headers: &[(String, Vec<u8>)], name: &str) -> Option<String> {
    headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| String::from_utf8(v.clone()).unwrap())
}

/// Every value of `name` among `headers`, as text, in order.
pub fn values(headers: &[(String, Vec<u8>)], name: &str) -> Vec<String> {
    headers
        .iter()
        .filter(|(n, _)| n == name)
        .map(|(_, v)| String::from_utf8(v.clone()).unwrap())
        .collect()
}

/// Every record handed to the logger on this thread since the VM was made, and forgets them.
pub fn take_log_lines() -> Vec<(Level, String)> {
    LINES.with(|l| std::mem::take(&mut *l.borrow_mut()))
}

/// The levels the logger was asked about on this thread since the VM was made, and forgets them.
pub fn take_level_queries() -> Vec<Level> {
    LEVEL_QUERIES.with(|q| std::mem::take(&mut *q.borrow_mut()))
}

/// Header and counter calls made on this thread, and forgets them.
pub fn take_host_calls() -> Vec<String> {
    HOST_CALLS.with(|c| std::mem::take(&mut *c.borrow_mut()))
}
