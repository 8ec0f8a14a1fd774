//! The part of the proxy-wasm ABI (0.2.1) this filter uses: the host functions it imports, behind
//! safe wrappers whose errors are values. The SDK is not used: its dispatcher exports every
//! callback of the ABI, and Envoy calls each exported one on every request (about 0.6 µs each
//! on the benchmark machine), while this filter needs three per request (context create, request
//! headers, response headers: `exports.rs`), and a fourth for responses with trailers.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Status(u32);

const STATUS_OK: u32 = 0;

pub const MAP_REQUEST_HEADERS: u32 = 0;
pub const MAP_RESPONSE_HEADERS: u32 = 2;
pub const MAP_RESPONSE_TRAILERS: u32 = 3;
const BUFFER_PLUGIN_CONFIGURATION: u32 = 7;
const METRIC_COUNTER: u32 = 0;
const METRIC_GAUGE: u32 = 1;
/// proxy-wasm's `CasMismatch`.
pub const STATUS_CAS_MISMATCH: u32 = 8;

extern "C" {
    fn proxy_log(level: u32, message_data: *const u8, message_size: usize) -> u32;
    fn proxy_get_log_level(return_level: *mut u32) -> u32;
    fn proxy_set_tick_period_milliseconds(period: u32) -> u32;
    fn proxy_get_current_time_nanoseconds(return_time: *mut u64) -> u32;
    fn proxy_get_buffer_bytes(
        buffer_type: u32,
        start: usize,
        max_size: usize,
        return_data: *mut *mut u8,
        return_size: *mut usize,
    ) -> u32;
    fn proxy_get_header_map_value(
        map_type: u32,
        key_data: *const u8,
        key_size: usize,
        return_value_data: *mut *mut u8,
        return_value_size: *mut usize,
    ) -> u32;
    fn proxy_replace_header_map_value(
        map_type: u32,
        key_data: *const u8,
        key_size: usize,
        value_data: *const u8,
        value_size: usize,
    ) -> u32;
    fn proxy_add_header_map_value(
        map_type: u32,
        key_data: *const u8,
        key_size: usize,
        value_data: *const u8,
        value_size: usize,
    ) -> u32;
    fn proxy_remove_header_map_value(map_type: u32, key_data: *const u8, key_size: usize) -> u32;
    fn proxy_get_header_map_pairs(
        map_type: u32,
        return_map_data: *mut *mut u8,
        return_map_size: *mut usize,
    ) -> u32;
    fn proxy_define_metric(
        metric_type: u32,
        name_data: *const u8,
        name_size: usize,
        return_id: *mut u32,
    ) -> u32;
    fn proxy_increment_metric(metric_id: u32, offset: i64) -> u32;
    fn proxy_record_metric(metric_id: u32, value: u64) -> u32;
    fn proxy_get_property(
        path_data: *const u8,
        path_size: usize,
        return_value_data: *mut *mut u8,
        return_value_size: *mut usize,
    ) -> u32;
    fn proxy_get_shared_data(
        key_data: *const u8,
        key_size: usize,
        return_value_data: *mut *mut u8,
        return_value_size: *mut usize,
        return_cas: *mut u32,
    ) -> u32;
    fn proxy_set_shared_data(
        key_data: *const u8,
        key_size: usize,
        value_data: *const u8,
        value_size: usize,
        cas: u32,
    ) -> u32;
}

fn check(status: u32) -> Result<(), Status> {
    if status == STATUS_OK {
        Ok(())
    } else {
        Err(Status(status))
    }
}

/// Takes ownership of bytes the host wrote into memory it got from [`allocate`].
fn take(data: *mut u8, size: usize) -> Vec<u8> {
    if data.is_null() {
        return Vec::new();
    }
    // SAFETY: the host hands back exactly one block it obtained from `allocate(size)`.
    unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(data, size)) }.into_vec()
}

/// Memory for the host to write results into; handed back to [`take`].
pub fn allocate(size: usize) -> *mut u8 {
    Box::into_raw(vec![0u8; size].into_boxed_slice()).cast::<u8>()
}

/// Envoy's log levels: trace 0, debug 1, info 2, warn 3, error 4, critical 5.
pub fn log(level: u32, message: &str) -> Result<(), Status> {
    // SAFETY: pointer and length describe a live string for the duration of the call.
    check(unsafe { proxy_log(level, message.as_ptr(), message.len()) })
}

pub fn log_level() -> Option<u32> {
    let mut level = 0u32;
    // SAFETY: the host writes one u32 through a valid pointer.
    let status = unsafe { proxy_get_log_level(&mut level) };
    check(status).ok().map(|()| level)
}

pub fn set_tick_period(period_ms: u32) -> Result<(), Status> {
    // SAFETY: plain value call.
    check(unsafe { proxy_set_tick_period_milliseconds(period_ms) })
}

pub fn current_time_nanos() -> Option<u64> {
    let mut time = 0u64;
    // SAFETY: the host writes one u64 through a valid pointer.
    check(unsafe { proxy_get_current_time_nanoseconds(&mut time) })
        .ok()
        .map(|()| time)
}

pub fn plugin_configuration() -> Vec<u8> {
    let (mut data, mut size) = (std::ptr::null_mut(), 0usize);
    // SAFETY: the host writes a pointer from `allocate` and its size through valid pointers.
    let status = unsafe {
        proxy_get_buffer_bytes(
            BUFFER_PLUGIN_CONFIGURATION,
            0,
            usize::MAX,
            &mut data,
            &mut size,
        )
    };
    match check(status) {
        Ok(()) => take(data, size),
        Err(_) => Vec::new(),
    }
}

pub fn header(map: u32, name: &str) -> Option<Vec<u8>> {
    let (mut data, mut size) = (std::ptr::null_mut(), 0usize);
    // SAFETY: as for `plugin_configuration`; the name lives for the call.
    let status =
        unsafe { proxy_get_header_map_value(map, name.as_ptr(), name.len(), &mut data, &mut size) };
    check(status).ok().map(|()| take(data, size))
}

/// The whole header map, serialized (`header_map::pairs` reads it); empty on a host error.
pub fn header_pairs(map: u32) -> Vec<u8> {
    let (mut data, mut size) = (std::ptr::null_mut(), 0usize);
    // SAFETY: as for `plugin_configuration`.
    let status = unsafe { proxy_get_header_map_pairs(map, &mut data, &mut size) };
    match check(status) {
        Ok(()) => take(data, size),
        Err(_) => Vec::new(),
    }
}

pub fn replace_header(map: u32, name: &str, value: &[u8]) -> Result<(), Status> {
    // SAFETY: both slices live for the call.
    check(unsafe {
        proxy_replace_header_map_value(map, name.as_ptr(), name.len(), value.as_ptr(), value.len())
    })
}

pub fn add_header(map: u32, name: &str, value: &[u8]) -> Result<(), Status> {
    // SAFETY: both slices live for the call.
    check(unsafe {
        proxy_add_header_map_value(map, name.as_ptr(), name.len(), value.as_ptr(), value.len())
    })
}

pub fn remove_header(map: u32, name: &str) -> Result<(), Status> {
    // SAFETY: the name lives for the call.
    check(unsafe { proxy_remove_header_map_value(map, name.as_ptr(), name.len()) })
}

fn define_metric(kind: u32, name: &str) -> Result<u32, Status> {
    let mut id = 0u32;
    // SAFETY: the name lives for the call; the host writes one u32.
    check(unsafe { proxy_define_metric(kind, name.as_ptr(), name.len(), &mut id) }).map(|()| id)
}

pub fn define_counter(name: &str) -> Result<u32, Status> {
    define_metric(METRIC_COUNTER, name)
}

pub fn increment_counter(id: u32, by: i64) -> Result<(), Status> {
    // SAFETY: plain value call.
    check(unsafe { proxy_increment_metric(id, by) })
}

pub fn define_gauge(name: &str) -> Result<u32, Status> {
    define_metric(METRIC_GAUGE, name)
}

pub fn record_metric(id: u32, value: u64) -> Result<(), Status> {
    // SAFETY: plain value call.
    check(unsafe { proxy_record_metric(id, value) })
}

/// A host property; `path` is its segments joined by NUL (one segment: the name itself).
pub fn property(path: &str) -> Option<Vec<u8>> {
    let (mut data, mut size) = (std::ptr::null_mut(), 0usize);
    // SAFETY: as for `plugin_configuration`; the path lives for the call.
    let status = unsafe { proxy_get_property(path.as_ptr(), path.len(), &mut data, &mut size) };
    check(status).ok().map(|()| take(data, size))
}

pub fn shared_data(key: &str) -> Result<(Vec<u8>, u32), Status> {
    let (mut data, mut size, mut cas) = (std::ptr::null_mut(), 0usize, 0u32);
    // SAFETY: as for `plugin_configuration`, plus one u32 for the token; the key lives for the
    // call.
    let status =
        unsafe { proxy_get_shared_data(key.as_ptr(), key.len(), &mut data, &mut size, &mut cas) };
    check(status).map(|()| (take(data, size), cas))
}

pub fn set_shared_data(key: &str, value: &[u8], cas: u32) -> Result<(), Status> {
    // SAFETY: both slices live for the call.
    check(unsafe {
        proxy_set_shared_data(key.as_ptr(), key.len(), value.as_ptr(), value.len(), cas)
    })
}

impl Status {
    pub fn code(self) -> u32 {
        self.0
    }
}
