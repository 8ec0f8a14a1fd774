//! One accepted configuration: compiled once, with everything a request needs prepared.

use sticky_canary_core::config::percent;
use sticky_canary_core::{Config, Secret, COOKIE_KEY_ENV, TOKEN_ENV};

use crate::counters::Counters;
use crate::host::Host;

/// What every request of one configuration shares.
pub struct Active {
    pub config: Config,
    pub counters: Counters,
    /// Subset names as header values, built once: `[route][subset]`.
    pub subset_values: Vec<Vec<Vec<u8>>>,
    /// Every route's `assign.header`: a request no route matched has them removed, as a client
    /// may have forged them.
    pub assign_headers: Vec<String>,
}

impl Active {
    pub fn subset_value(&self, route: usize, subset: usize) -> Option<&[u8]> {
        self.subset_values
            .get(route)
            .and_then(|subsets| subsets.get(subset))
            .map(Vec::as_slice)
    }
}

/// Compiles a pluginConfig, logging the one line that says what was accepted or why not.
pub fn configure(host: &impl Host, bytes: &[u8]) -> Option<Active> {
    let token = host.env_var(TOKEN_ENV);
    let token = Secret::new(token.as_deref());
    let cookie_key = Secret::new(host.env_var(COOKIE_KEY_ENV).as_deref());
    match Config::from_json_with_secrets(bytes, token, cookie_key) {
        Ok(config) => {
            log::info!("sticky-canary: configured {}", summary(&config));
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
            let mut assign_headers: Vec<String> = config
                .routes
                .iter()
                .filter_map(|r| r.assign.as_ref()?.header.clone())
                .collect();
            assign_headers.sort_unstable();
            assign_headers.dedup();
            Some(Active {
                counters: Counters::define(host, &config),
                config,
                subset_values,
                assign_headers,
            })
        }
        Err(err) => {
            log::error!("sticky-canary: invalid pluginConfig: {err}");
            None
        }
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
                .map(|s| format!("{}={}", s.name, percent(s.weight)))
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
