//! Any pluginConfig bytes: parsing and validation either compile a config the plan can use or
//! refuse it with one line naming the field, and never panic. Secrets in the VM only ever let
//! more configs compile (`requireToken`, `assign.signed`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sticky_canary_core::{plan, Config, Fixed, Op, Request, Secret};

/// At least 32 bytes, as `assign.signed` needs.
const COOKIE_KEY: &[u8] = b"fuzz-cookie-key-of-at-least-32-bytes";

fuzz_target!(|data: &[u8]| {
    let with_secrets = Config::from_json_with_secrets(
        data,
        Secret::new(Some(b"t")),
        Secret::new(Some(COOKIE_KEY)),
    );
    if Config::from_json(data).is_ok() {
        assert!(with_secrets.is_ok(), "a secret made a valid config invalid");
    }
    match with_secrets {
        Ok(config) => {
            // A config that compiled must serve requests with and without a key.
            let keyed: Vec<(&[u8], &[u8])> = vec![
                (b":authority", b"servicea.com"),
                (b":path", b"/api/v2?uid=u1&version=v2"),
                (b"x-user-id", b"u1"),
                (b"cookie", b"uid=u1; beta=1"),
                (b"user-agent", b"iPhone"),
                (b"baggage", b"k=1,lane=v2"),
            ];
            let inputs = Fixed {
                random: 7,
                id: [3; 16],
            };
            for pairs in [keyed, Vec::new()] {
                let request = Request::new(pairs);
                let planned = plan(&config, &request, &inputs);
                for op in &planned.ops {
                    let name = match op {
                        Op::Set(name, _) | Op::Remove(name) => *name,
                    };
                    assert!(
                        name == "baggage" || config.owned.headers.iter().any(|h| h.name == name),
                        "an op on {name}, which the configuration does not own"
                    );
                }
                let Some(d) = planned.decision else { continue };
                let route = config.routes.get(d.route).expect("route index in range");
                assert!(d.subset < route.subsets.len(), "subset index in range");
                if let Some(rule) = d.rule {
                    assert!(rule < route.rules.len(), "rule index in range");
                }
                if let Some(id) = planned.response.and_then(|r| r.issued) {
                    let assign = route.assign.as_ref().expect("issued by an assigning route");
                    let set_cookie = assign.set_cookie(&id);
                    assert!(
                        !set_cookie.iter().any(|b| b.is_ascii_control()),
                        "a Set-Cookie with a control character"
                    );
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
