//! [`Host`] for Envoy and every other proxy-wasm host, through the ABI imports, and the `log`
//! facade's logger that writes to the host's log.

use std::time::Duration;

use log::{Level, LevelFilter, Log, Metadata, Record};

use crate::abi;
use crate::host::{Host, Map, SharedDataError};

pub struct EnvoyHost;

fn map_type(map: Map) -> u32 {
    match map {
        Map::Request => abi::MAP_REQUEST_HEADERS,
        Map::Response => abi::MAP_RESPONSE_HEADERS,
        Map::ResponseTrailers => abi::MAP_RESPONSE_TRAILERS,
    }
}

impl Host for EnvoyHost {
    fn log_level(&self) -> Option<LevelFilter> {
        // Envoy's levels: trace 0 ... error 4, critical 5 (`log` has nothing above error).
        Some(match abi::log_level()? {
            0 => LevelFilter::Trace,
            1 => LevelFilter::Debug,
            2 => LevelFilter::Info,
            3 => LevelFilter::Warn,
            4 | 5 => LevelFilter::Error,
            _ => return None,
        })
    }

    fn set_tick_period(&self, period: Duration) {
        let millis = u32::try_from(period.as_millis()).unwrap_or(u32::MAX);
        // Without ticks counts are not handed over and gone roots are not forgotten (bounded
        // by the root cap): worse, but no reason to refuse the configuration.
        let _ = abi::set_tick_period(millis);
    }

    fn now(&self) -> Duration {
        Duration::from_nanos(abi::current_time_nanos().unwrap_or(0))
    }

    fn random_bytes(&self, out: &mut [u8]) -> bool {
        // WASI random_get: in Envoy, BoringSSL's RAND_bytes.
        getrandom::fill(out).is_ok()
    }

    fn plugin_configuration(&self) -> Vec<u8> {
        abi::plugin_configuration()
    }

    fn env_var(&self, name: &str) -> Option<Vec<u8>> {
        // WASI environ: Envoy's vm_config.environment_variables, Istio's WasmPlugin vmConfig.env.
        std::env::var_os(name).map(|v| v.into_encoded_bytes())
    }

    fn header(&self, map: Map, name: &str) -> Option<Vec<u8>> {
        abi::header(map_type(map), name)
    }

    fn header_pairs(&self, map: Map) -> Vec<u8> {
        abi::header_pairs(map_type(map))
    }

    fn set_header(&self, map: Map, name: &str, value: &[u8]) {
        let _ = abi::replace_header(map_type(map), name, value);
    }

    fn add_header(&self, map: Map, name: &str, value: &[u8]) {
        let _ = abi::add_header(map_type(map), name, value);
    }

    fn remove_header(&self, map: Map, name: &str) {
        let _ = abi::remove_header(map_type(map), name);
    }

    fn define_counter(&self, name: &str) -> Option<u32> {
        abi::define_counter(name).ok()
    }

    fn increment_counter(&self, id: u32, by: u64) {
        // A counter that fails to move is no reason to fail anything; its count is lost.
        let _ = abi::increment_counter(id, i64::try_from(by).unwrap_or(i64::MAX));
    }

    fn define_gauge(&self, name: &str) -> Option<u32> {
        abi::define_gauge(name).ok()
    }

    fn set_gauge(&self, id: u32, value: u64) {
        let _ = abi::record_metric(id, value);
    }

    fn plugin_name(&self) -> Option<Vec<u8>> {
        abi::property("plugin_name")
    }

    fn shared_data(&self, key: &str) -> Option<(Vec<u8>, u32)> {
        abi::shared_data(key).ok()
    }

    fn set_shared_data(&self, key: &str, value: &[u8], cas: u32) -> Result<(), SharedDataError> {
        abi::set_shared_data(key, value, cas).map_err(|status| {
            if status.code() == abi::STATUS_CAS_MISMATCH {
                SharedDataError::CasMismatch
            } else {
                SharedDataError::Failed
            }
        })
    }

    fn memory_bytes(&self) -> Option<u64> {
        let pages = core::arch::wasm32::memory_size::<0>();
        u64::try_from(pages).ok()?.checked_mul(65_536)
    }
}

/// Writes `log` records to the host's log. The level filter is `log::max_level()`, which the
/// filter keeps equal to the host's wasm log level (read on each tick).
pub struct EnvoyLogger;

impl Log for EnvoyLogger {
    fn enabled(&self, metadata: &Metadata) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let level = match record.level() {
            Level::Trace => 0,
            Level::Debug => 1,
            Level::Info => 2,
            Level::Warn => 3,
            Level::Error => 4,
        };
        let message = record.args().to_string();
        // A lost log line is no reason to fail anything.
        let _ = abi::log(level, &message);
    }

    fn flush(&self) {}
}
