//! The request headers as the core sees them, read from Envoy on demand.

use sticky_canary_core::RequestHeaders;

use crate::abi;

pub struct EnvoyRequestHeaders;

impl RequestHeaders for EnvoyRequestHeaders {
    fn header(&self, name: &str) -> Option<Vec<u8>> {
        abi::header(abi::MAP_REQUEST_HEADERS, name)
    }
}
