//! Pushing filter configs through file-based ECDS, as Envoy needs it: a new version of the
//! resource file renamed over the watched one. And the ECDS counters that tell what became of a
//! push (`update_success`, `update_rejected`; never `config_reload`, which also counts rejects).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::artifacts::wasm_module;
use crate::bootstrap::{EcdsResource, ECDS_RESOURCE};
use crate::envoy::Envoy;
use crate::istio;

/// The full name of an ECDS counter of the HTTP filter named `filter`.
pub fn ecds_stat_name(filter: &str, counter: &str) -> String {
    format!("extension_config_discovery.http_filter.{filter}.{counter}")
}

/// The watched file of one Envoy and what was pushed into it.
pub(crate) struct EcdsFeed {
    filter: String,
    /// The scenario's resource file that pushes are made from.
    template: String,
    dir: PathBuf,
    file_name: String,
    version: u32,
    vm_env: Vec<(String, String)>,
}

impl EcdsFeed {
    pub(crate) fn new(
        filter: &str,
        dir: &Path,
        file_name: &str,
        vm_env: &[(String, String)],
    ) -> EcdsFeed {
        EcdsFeed {
            filter: filter.to_string(),
            template: ECDS_RESOURCE.to_string(),
            dir: dir.to_path_buf(),
            file_name: file_name.to_string(),
            version: 0,
            vm_env: vm_env.to_vec(),
        }
    }

    /// Pushes made from another resource file of the scenario.
    pub(crate) fn with_template(mut self, relative: &str) -> EcdsFeed {
        self.template = relative.to_string();
        self
    }

    /// The scenario's resource with this pluginConfig and the current VM environment.
    pub(crate) fn push_plugin_config(&mut self, plugin_config: &str) {
        self.version += 1;
        let mut resource = EcdsResource::load_from(&self.template);
        resource.set_version(self.version);
        resource.set_plugin_config(plugin_config);
        resource.set_vm_env(&self.vm_env);
        resource.set_module(&wasm_module());
        self.install(&resource.render());
    }

    /// An extension config as Istio pushes it (same resource name as the filter).
    pub(crate) fn push_extension(&mut self, extension: &Value) {
        assert_eq!(
            extension["name"].as_str(),
            Some(self.filter.as_str()),
            "the extension's name must be the filter's"
        );
        self.version += 1;
        let response = istio::discovery_response(extension, self.version);
        self.install(&serde_json::to_string_pretty(&response).unwrap());
    }

    /// The filter without Wasm: an allow-all RBAC filter in its place, as Istio pushes for a
    /// WasmPlugin whose module cannot be used under FAIL_OPEN. The filter's root in the VM goes.
    pub(crate) fn push_no_wasm(&mut self) {
        self.version += 1;
        let response = serde_json::json!({
            "version_info": self.version.to_string(),
            "resources": [{
                "@type": "type.googleapis.com/envoy.config.core.v3.TypedExtensionConfig",
                "name": self.filter,
                "typed_config": {
                    "@type": "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC"
                }
            }]
        });
        self.install(&serde_json::to_string_pretty(&response).unwrap());
    }

    /// Envoy only sees an ECDS file replaced by an atomic rename.
    fn install(&self, text: &str) {
        let staged = self.dir.join(format!(".{}.tmp", self.file_name));
        fs::write(&staged, text).unwrap();
        fs::rename(&staged, self.dir.join(&self.file_name)).unwrap();
    }
}

impl Envoy {
    fn feed(&mut self) -> &mut EcdsFeed {
        self.ecds
            .first_mut()
            .expect("this Envoy has its config inline: start it with Delivery::Ecds")
    }

    fn feed_of(&mut self, filter: &str) -> &mut EcdsFeed {
        self.ecds
            .iter_mut()
            .find(|feed| feed.filter == filter)
            .unwrap_or_else(|| panic!("no ECDS filter {filter}"))
    }

    /// Pushes this pluginConfig to the ECDS filter named `filter` (scenarios with several).
    pub fn push_ecds_to(&mut self, filter: &str, plugin_config: &str) {
        self.feed_of(filter).push_plugin_config(plugin_config);
    }

    /// Takes the Wasm out of the ECDS filter named `filter` (see `push_no_wasm`); a later
    /// [`Envoy::push_ecds_to`] puts it back.
    pub fn push_no_wasm_to(&mut self, filter: &str) {
        self.feed_of(filter).push_no_wasm();
    }

    /// One ECDS counter of the filter named `filter`, e.g. `update_success`.
    pub fn ecds_stat_of(&self, filter: &str, counter: &str) -> u64 {
        self.stat(&ecds_stat_name(filter, counter))
    }

    /// Pushes the scenario's ECDS resource with this pluginConfig (and the VM environment of the
    /// last push, or of the start).
    pub fn push_ecds(&mut self, plugin_config: &str) {
        self.feed().push_plugin_config(plugin_config);
    }

    /// Like [`Envoy::push_ecds`] with another VM environment, which later pushes keep.
    pub fn push_ecds_with_env(&mut self, plugin_config: &str, env: &[(&str, &str)]) {
        let feed = self.feed();
        feed.vm_env = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        feed.push_plugin_config(plugin_config);
    }

    /// Pushes a new extension config (same resource name).
    pub fn push_extension(&mut self, extension: &Value) {
        self.feed().push_extension(extension);
    }

    /// The watched ECDS file of the (first) ECDS filter, for a tool that writes it itself.
    pub fn ecds_file(&self) -> PathBuf {
        let feed = self.ecds.first().expect("this Envoy has its config inline");
        feed.dir.join(&feed.file_name)
    }

    /// The name of the filter ECDS configures.
    pub fn ecds_filter(&self) -> &str {
        &self
            .ecds
            .first()
            .expect("this Envoy has its config inline")
            .filter
    }

    /// One of this Envoy's ECDS counters, e.g. `update_success`.
    pub fn ecds_stat(&self, counter: &str) -> u64 {
        self.stat(&ecds_stat_name(self.ecds_filter(), counter))
    }
}
