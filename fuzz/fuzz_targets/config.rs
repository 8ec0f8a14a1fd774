//! Any pluginConfig bytes: parsing and validation either compile a config the decision can use
//! or refuse it with one line naming the field, and never panic.
#![no_main]

use std::collections::HashMap;

use libfuzzer_sys::fuzz_target;
use sticky_canary_core::{decide, Config, RequestHeaders};

struct Headers(HashMap<&'static str, &'static [u8]>);

impl RequestHeaders for Headers {
    fn header(&self, name: &str) -> Option<Vec<u8>> {
        self.0.get(name).map(|v| v.to_vec())
    }
}

fuzz_target!(|data: &[u8]| {
    match Config::from_json(data) {
        Ok(config) => {
            // A config that compiled must serve requests with and without a key.
            let keyed = Headers(HashMap::from([
                (":authority", &b"servicea.com"[..]),
                (":path", &b"/api/v2?uid=u1&version=v2"[..]),
                ("x-user-id", &b"u1"[..]),
                ("cookie", &b"uid=u1; beta=1"[..]),
                ("user-agent", &b"iPhone"[..]),
            ]));
            let keyless = Headers(HashMap::new());
            for request in [&keyed, &keyless] {
                if let Some(d) = decide(&config, request, || 7) {
                    let route = config.routes.get(d.route).expect("route index in range");
                    assert!(d.subset < route.subsets.len(), "subset index in range");
                }
            }
        }
        Err(err) => {
            let line = err.to_string();
            assert!(!line.contains('\n'), "error spans lines: {line:?}");
            assert!(!line.is_empty());
        }
    }
});
