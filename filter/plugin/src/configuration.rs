//! One accepted configuration: compiled once, with everything a request needs prepared.

use sticky_canary_core::config::percent;
use sticky_canary_core::{Config, Secret, COOKIE_KEY_ENV, TOKEN_ENV};

use crate::counters::Counters;
use crate::guard::Guards;
use crate::health::Health;
use crate::host::Host;
use crate::schedule::Schedules;

/// What every request of one configuration shares.
pub struct Configuration {
    pub config: Config,
    pub counters: Counters,
    /// Responses by subset and status class, for routes with health.
    pub health: Health,
    pub guards: Guards,
    /// The layouts of scheduled routes, as of the last tick.
    pub schedules: Schedules,
}

impl Configuration {
    /// Hands every count to the host.
    pub fn flush(&self, host: &impl Host) {
        self.counters.flush(host);
        self.health.flush(host);
        self.guards.flush(host);
    }
}

/// Compiles a pluginConfig, logging the one line that says what was accepted or why not.
pub fn configure(host: &impl Host, bytes: &[u8]) -> Option<Configuration> {
    let token = host.env_var(TOKEN_ENV);
    let token = Secret::new(token.as_deref());
    let cookie_key = Secret::new(host.env_var(COOKIE_KEY_ENV).as_deref());
    match Config::from_json_with_secrets(bytes, token, cookie_key) {
        Ok(config) => {
            log::info!("sticky-canary: configured {}", summary(&config));
            Some(Configuration {
                counters: Counters::define(host, &config),
                health: Health::define(host, &config),
                guards: Guards::define(host, &config),
                schedules: Schedules::define(host, &config),
                config,
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
