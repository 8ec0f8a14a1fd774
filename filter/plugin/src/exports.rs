//! The callbacks Envoy calls, exported under their proxy-wasm ABI names. Only these exist:
//! Envoy skips a callback the module does not export, and each one it calls costs on every
//! request. `proxy_on_response_headers` is the one kept for the response side (`exposeSubset`,
//! per-subset health and the guard, the `Set-Cookie` of `stickiness.assign`).

use std::cell::RefCell;

use crate::abi;
use crate::dispatch::Filter;
use crate::envoy_host::{EnvoyHost, EnvoyLogger};

thread_local! {
    static FILTER: RefCell<Filter<EnvoyHost>> = RefCell::new(Filter::new(EnvoyHost));
}

static LOGGER: EnvoyLogger = EnvoyLogger;

/// Action::Continue.
const CONTINUE: u32 = 0;

/// Runs `f` on the VM's filter state. The host never re-enters a callback that uses it, so the
/// borrow always succeeds; if it ever did not, the request would pass unchanged.
fn with_filter<R>(otherwise: R, f: impl FnOnce(&mut Filter<EnvoyHost>) -> R) -> R {
    FILTER.with(|cell| match cell.try_borrow_mut() {
        Ok(mut filter) => f(&mut filter),
        Err(_) => otherwise,
    })
}

#[no_mangle]
pub extern "C" fn proxy_abi_version_0_2_1() {}

#[no_mangle]
pub extern "C" fn proxy_on_memory_allocate(size: usize) -> *mut u8 {
    abi::allocate(size)
}

#[no_mangle]
pub extern "C" fn proxy_on_vm_start(_root_context: u32, _vm_configuration_size: usize) -> u32 {
    // Fails only if a logger is already set, which is then this one.
    let _ = log::set_logger(&LOGGER);
    with_filter(1, |filter| u32::from(filter.on_vm_start()))
}

#[no_mangle]
pub extern "C" fn proxy_on_configure(root_context: u32, _plugin_configuration_size: usize) -> u32 {
    with_filter(0, |filter| u32::from(filter.on_configure(root_context)))
}

#[no_mangle]
pub extern "C" fn proxy_on_tick(root_context: u32) {
    with_filter((), |filter| filter.on_tick(root_context));
}

#[no_mangle]
pub extern "C" fn proxy_on_context_create(context: u32, root_context: u32) {
    with_filter((), |filter| filter.on_context_create(context, root_context));
}

#[no_mangle]
pub extern "C" fn proxy_on_request_headers(context: u32, _headers: usize, _end: u32) -> u32 {
    with_filter((), |filter| filter.on_request_headers(context));
    CONTINUE
}

#[no_mangle]
pub extern "C" fn proxy_on_response_headers(context: u32, _headers: usize, _end: u32) -> u32 {
    with_filter((), |filter| filter.on_response_headers(context));
    CONTINUE
}
