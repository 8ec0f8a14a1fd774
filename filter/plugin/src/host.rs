//! The request headers as the core sees them, read from Envoy on demand.

use proxy_wasm::types::MapType;
use sticky_canary_core::RequestHeaders;

pub struct EnvoyRequestHeaders;

impl RequestHeaders for EnvoyRequestHeaders {
    fn header(&self, name: &str) -> Option<Vec<u8>> {
        // Bytes, not strings: a non-UTF-8 value is data, and the string getter would panic.
        proxy_wasm::hostcalls::get_map_value_bytes(MapType::HttpRequestHeaders, name)
            .ok()
            .flatten()
    }
}
