//! Any pluginConfig bytes: parsing and validation either compile a config the decision can use
//! or refuse it with one line naming the field, and never panic. Secrets in the VM only ever
//! let more configs compile (`requireToken`, `assign.signed`).
#![no_main]

use std::collections::HashMap;

use libfuzzer_sys::fuzz_target;
use sticky_canary_core::{decide, Assigned, Config, RequestHeaders, Secret};

struct Headers(HashMap<&'static str, &'static [u8]>);

impl RequestHeaders for Headers {
    fn header(&self, name: &str) -> Option<Vec<u8>> {
        self.0.get(name).map(|v| v.to_vec())
    }
}

fuzz_target!(|data: &[u8]| {
    let with_secrets =
        Config::from_json_with_secrets(data, Secret::new(Some(b"t")), Secret::new(Some(b"k")));
    if Config::from_json(data).is_ok() {
        assert!(with_secrets.is_ok(), "a secret made a valid config invalid");
    }
    match with_secrets {
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
                    if let Assigned::Issued(id) = d.assigned {
                        let assign = route.assign.as_ref().expect("issued by an assigning route");
                        let set_cookie = assign.set_cookie(&id);
                        assert!(
                            !set_cookie.iter().any(|b| b.is_ascii_control()),
                            "a Set-Cookie with a control character"
                        );
                    }
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
