//! The root context: owns the compiled configuration and hands it to every HTTP context.

use std::rc::Rc;
use std::time::Duration;

use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{ContextType, LogLevel};
use sticky_canary_core::{Config, Secret, TOKEN_ENV};

use crate::counters::Counters;
use crate::http::StickyCanaryHttp;
use crate::log::log;
use crate::vm::VmState;

/// What every request of one configuration shares.
pub struct Active {
    pub config: Config,
    pub counters: Counters,
    /// Subset names as header values, built once: `[route][subset]`.
    pub subset_values: Vec<Vec<Vec<u8>>>,
}

pub struct StickyCanaryRoot {
    vm: Rc<VmState>,
    active: Option<Rc<Active>>,
}

pub const VERSION: &str = env!("CARGO_PKG_VERSION");
pub const GIT_REVISION: &str = env!("STICKY_CANARY_GIT_REVISION");

/// How often the wasm log level is re-read, so `/logging?wasm=debug` takes effect while running.
const LOG_LEVEL_REFRESH: Duration = Duration::from_secs(5);

impl StickyCanaryRoot {
    pub fn new() -> Self {
        StickyCanaryRoot {
            vm: Rc::new(VmState::new()),
            active: None,
        }
    }
}

impl Context for StickyCanaryRoot {}

impl RootContext for StickyCanaryRoot {
    fn on_vm_start(&mut self, _vm_configuration_size: usize) -> bool {
        log(
            LogLevel::Info,
            &format!("sticky-canary {VERSION} (git {GIT_REVISION}) started"),
        );
        true
    }

    fn on_configure(&mut self, _plugin_configuration_size: usize) -> bool {
        self.vm.refresh_log_level();
        let _ = proxy_wasm::hostcalls::set_tick_period(LOG_LEVEL_REFRESH);
        let bytes = proxy_wasm::hostcalls::get_buffer(
            proxy_wasm::types::BufferType::PluginConfiguration,
            0,
            usize::MAX,
        )
        .ok()
        .flatten()
        .unwrap_or_default();
        // WASI environ: Envoy's vm_config.environment_variables, Istio's WasmPlugin vmConfig.env.
        let token = std::env::var_os(TOKEN_ENV);
        let token = Secret::new(token.as_ref().map(|t| t.as_encoded_bytes()));
        match Config::from_json_with_token(&bytes, token) {
            Ok(config) => {
                log(
                    LogLevel::Info,
                    &format!("sticky-canary: configured {}", summary(&config)),
                );
                let subset_values = config
                    .routes
                    .iter()
                    .map(|r| {
                        r.subsets
                            .iter()
                            .map(|s| s.name.as_bytes().to_vec())
                            .collect()
                    })
                    .collect();
                self.active = Some(Rc::new(Active {
                    counters: Counters::define(&config),
                    config,
                    subset_values,
                }));
                true
            }
            Err(err) => {
                log(
                    LogLevel::Error,
                    &format!("sticky-canary: invalid pluginConfig: {err}"),
                );
                false
            }
        }
    }

    fn on_tick(&mut self) {
        self.vm.refresh_log_level();
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(StickyCanaryHttp::new(
            self.vm.clone(),
            self.active.clone(),
        )))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

/// `routes: service-a [v1=90 v2=10], ...` for the one info line per accepted configuration.
fn summary(config: &Config) -> String {
    let routes: Vec<String> = config
        .routes
        .iter()
        .map(|route| {
            let subsets: Vec<String> = route
                .subsets
                .iter()
                .map(|s| format!("{}={}", s.name, f64::from(s.weight) / 100.0))
                .collect();
            format!("{} [{}]", route.name, subsets.join(" "))
        })
        .collect();
    format!(
        "routing header {}, routes: {}",
        config.routing_header,
        routes.join(", ")
    )
}
