//! What the filter needs from its host, as a trait: Envoy through the proxy-wasm ABI in the
//! module (`envoy_host`), a fake in the native tests. Log lines go through the `log` facade
//! instead (to `envoy_host::EnvoyLogger` in the module). Every call is infallible from the
//! filter's point of view: a host error is no reason to fail a request.

use std::time::Duration;

use log::LevelFilter;

/// Which header map a header call works on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Map {
    Request,
    Response,
    /// The response's trailers (a gRPC response's `grpc-status`).
    ResponseTrailers,
}

pub trait Host {
    /// The wasm log level the host wants now; `None` when it cannot say.
    fn log_level(&self) -> Option<LevelFilter>;
    /// Asks for `proxy_on_tick` of the root context being configured, every `period`.
    fn set_tick_period(&self, period: Duration);
    /// The host's clock.
    fn now(&self) -> Duration;
    /// Fills `out` from the host's random source; `false` when it has none.
    fn random_bytes(&self, out: &mut [u8]) -> bool;
    /// The pluginConfig of the root context being configured.
    fn plugin_configuration(&self) -> Vec<u8>;
    /// An environment variable of the VM (Envoy's `vm_config.environment_variables`).
    fn env_var(&self, name: &str) -> Option<Vec<u8>>;
    /// The first value of a header of the current stream; bytes, as a value need not be UTF-8.
    fn header(&self, map: Map, name: &str) -> Option<Vec<u8>>;
    /// The whole header map in one call, serialized as proxy-wasm does (see `header_map`): one
    /// host call costs about what reading one header does, however many headers are read.
    fn header_pairs(&self, map: Map) -> Vec<u8>;
    fn set_header(&self, map: Map, name: &str, value: &[u8]);
    /// Adds a value, keeping the header's other values (one more `Set-Cookie`).
    fn add_header(&self, map: Map, name: &str, value: &[u8]);
    fn remove_header(&self, map: Map, name: &str);
    /// A counter's id, `None` if the host refused to define it.
    fn define_counter(&self, name: &str) -> Option<u32>;
    fn increment_counter(&self, id: u32, by: u64);
    /// A gauge's id, `None` if the host refused to define it.
    fn define_gauge(&self, name: &str) -> Option<u32>;
    fn set_gauge(&self, id: u32, value: u64);
    /// The configuring plugin's name (Envoy: the Wasm filter config's `name`; Istio: the
    /// WasmPlugin's namespace and name), `None` if the host does not say.
    fn plugin_name(&self) -> Option<Vec<u8>>;
    /// A value of the data every VM with this VM id shares (Envoy: all workers), with its
    /// compare-and-swap token; `None` when the key holds nothing.
    fn shared_data(&self, key: &str) -> Option<(Vec<u8>, u32)>;
    /// Stores `value` under `key` if the key's token is still `cas` (0: whatever it is, as in
    /// Envoy, which also sets a key that holds nothing yet without looking at `cas`).
    fn set_shared_data(&self, key: &str, value: &[u8], cas: u32) -> Result<(), SharedDataError>;
    /// The module's linear memory in bytes (wasm memory only grows); `None` outside a VM.
    fn memory_bytes(&self) -> Option<u64>;
}

/// Why shared data was not stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SharedDataError {
    /// Another VM stored the key since it was read: read it again.
    CasMismatch,
    /// Anything else: give up until the next tick.
    Failed,
}
