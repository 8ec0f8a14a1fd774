#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! `stickiness.assign`: its validation (exact one-line errors), the Set-Cookie it compiles, and
//! how the plan treats a request without a key, with the id cookie (one or several), with a
//! forged or tampered signed cookie, and with a key from another source.

mod common;

use std::cell::Cell;

use common::{decide, Given, Headers};
use serde_json::{json, Value};
use sticky_canary_core::{bucket, plan, Assigned, Config, Decision, Fixed, NewId, Reason, Secret};

/// 38 bytes: a cookie key must be at least 32.
const KEY: &[u8] = b"cookie-key-for-tests-at-least-32-bytes";

/// service-a at 50/50, keyed by x-user-id then the canary-uid cookie, assigning canary-uid.
fn assigning() -> Value {
    json!({
        "routes": [{
            "name": "service-a",
            "subsets": [{"name": "v1", "weight": 50}, {"name": "v2", "weight": 50}],
            "stickiness": {
                "keys": [{"header": "x-user-id"}, {"cookie": "canary-uid"}],
                "assign": {"cookie": "canary-uid", "maxAge": 2_592_000}
            }
        }]
    })
}

fn with(edit: impl FnOnce(&mut Value)) -> String {
    let mut config = assigning();
    edit(&mut config);
    config.to_string()
}

fn compile(document: &str, cookie_key: Option<&[u8]>) -> Result<Config, String> {
    Config::from_json_with_secrets(document.as_bytes(), None, Secret::new(cookie_key))
        .map_err(|e| e.to_string())
}

#[test]
fn bad_assign_settings_are_rejected_with_the_field_path() {
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "cookie that is no key source",
            with(|c| c["routes"][0]["stickiness"]["assign"]["cookie"] = json!("sid")),
            r#"routes[0].stickiness.assign.cookie: "sid" is not a cookie key source of this route: add {"cookie": "sid"} to stickiness.keys"#,
        ),
        (
            "cookie name with a semicolon",
            with(|c| c["routes"][0]["stickiness"]["assign"]["cookie"] = json!("a;b")),
            r#"routes[0].stickiness.assign.cookie: "a;b" is not a valid cookie name"#,
        ),
        (
            "empty cookie name",
            with(|c| c["routes"][0]["stickiness"]["assign"]["cookie"] = json!("")),
            r#"routes[0].stickiness.assign.cookie: "" is not a valid cookie name"#,
        ),
        (
            "maxAge 0",
            with(|c| c["routes"][0]["stickiness"]["assign"]["maxAge"] = json!(0)),
            "routes[0].stickiness.assign.maxAge: invalid value: integer `0`, expected a positive whole number of seconds",
        ),
        (
            "negative maxAge",
            with(|c| c["routes"][0]["stickiness"]["assign"]["maxAge"] = json!(-1)),
            "routes[0].stickiness.assign.maxAge: invalid type: integer `-1`, expected a positive whole number of seconds",
        ),
        (
            "fractional maxAge",
            with(|c| c["routes"][0]["stickiness"]["assign"]["maxAge"] = json!(1.5)),
            "routes[0].stickiness.assign.maxAge: invalid type: floating point `1.5`, expected a positive whole number of seconds",
        ),
        (
            "maxAge missing",
            with(|c| {
                c["routes"][0]["stickiness"]["assign"]
                    .as_object_mut()
                    .unwrap()
                    .remove("maxAge");
            }),
            "routes[0].stickiness.assign: missing field `maxAge`",
        ),
        (
            "unknown key",
            with(|c| c["routes"][0]["stickiness"]["assign"]["max-age"] = json!(60)),
            "routes[0].stickiness.assign.max-age: unknown field `max-age`, expected one of `cookie`, `maxAge`, `domain`, `path`, `secure`, `httpOnly`, `sameSite`, `header`, `signed`",
        ),
        (
            "sameSite in lowercase",
            with(|c| c["routes"][0]["stickiness"]["assign"]["sameSite"] = json!("lax")),
            "routes[0].stickiness.assign.sameSite: unknown variant `lax`, expected one of `Strict`, `Lax`, `None`",
        ),
        (
            "sameSite None without secure",
            with(|c| c["routes"][0]["stickiness"]["assign"]["sameSite"] = json!("None")),
            "routes[0].stickiness.assign.sameSite: None needs secure: true (browsers drop a SameSite=None cookie that is not Secure)",
        ),
        (
            "domain with an attribute smuggled in",
            with(|c| c["routes"][0]["stickiness"]["assign"]["domain"] = json!("a.com; Secure")),
            r#"routes[0].stickiness.assign.domain: "a.com; Secure" is not a valid cookie domain (a host name)"#,
        ),
        (
            "domain of dots",
            with(|c| c["routes"][0]["stickiness"]["assign"]["domain"] = json!(".")),
            r#"routes[0].stickiness.assign.domain: "." is not a valid cookie domain (a host name)"#,
        ),
        (
            "path without a slash",
            with(|c| c["routes"][0]["stickiness"]["assign"]["path"] = json!("app")),
            r#"routes[0].stickiness.assign.path: "app" must start with "/""#,
        ),
        (
            "path with a semicolon",
            with(|c| c["routes"][0]["stickiness"]["assign"]["path"] = json!("/a;HttpOnly")),
            r#"routes[0].stickiness.assign.path: "/a;HttpOnly" is not a valid cookie path (printable ASCII without ";")"#,
        ),
        (
            "path with a newline, escaped in the message",
            with(|c| c["routes"][0]["stickiness"]["assign"]["path"] = json!("/a\nb")),
            r#"routes[0].stickiness.assign.path: "/a\nb" is not a valid cookie path (printable ASCII without ";")"#,
        ),
        (
            "header is the routing header",
            with(|c| c["routes"][0]["stickiness"]["assign"]["header"] = json!("X-Canary-Subset")),
            r#"routes[0].stickiness.assign.header: "x-canary-subset" is also the routing header; the filter would overwrite the subset it routes on"#,
        ),
        (
            "header is the named routing header",
            with(|c| {
                c["routingHeader"] = json!("x-release");
                c["routes"][0]["stickiness"]["assign"]["header"] = json!("x-release");
            }),
            r#"routingHeader: "x-release" is also routes[0].stickiness.assign.header; the filter would overwrite the visitor's id"#,
        ),
        (
            "header is the default token header",
            with(|c| c["routes"][0]["stickiness"]["assign"]["header"] = json!("x-canary-token")),
            r#"routes[0].stickiness.assign.header: "x-canary-token" is also the default tokenHeader; the filter would overwrite the token it checks"#,
        ),
        (
            "header is a key source",
            with(|c| c["routes"][0]["stickiness"]["assign"]["header"] = json!("X-User-Id")),
            r#"routes[0].stickiness.assign.header: "x-user-id" is also routes[0].stickiness.keys[0].header; the filter would overwrite the key it hashes"#,
        ),
        (
            "header is cookie",
            with(|c| c["routes"][0]["stickiness"]["assign"]["header"] = json!("Cookie")),
            r#"routes[0].stickiness.assign.header: "cookie" is also the request's cookies (cookie), which cookie keys and rules read; the filter would overwrite them"#,
        ),
        (
            "header is no header name",
            with(|c| c["routes"][0]["stickiness"]["assign"]["header"] = json!(":path")),
            r#"routes[0].stickiness.assign.header: ":path" is not a valid HTTP header name"#,
        ),
        (
            "a fallback, never used",
            with(|c| c["routes"][0]["stickiness"]["fallback"] = json!("stable")),
            "routes[0].stickiness.fallback: is never used with assign, which gives every request without a key an id: remove fallback",
        ),
        (
            "signed without a key",
            with(|c| c["routes"][0]["stickiness"]["assign"]["signed"] = json!(true)),
            "routes[0].stickiness.assign.signed: no cookie key is configured: set STICKY_CANARY_COOKIE_KEY in the plugin's vmConfig.env (Envoy: vm_config.environment_variables)",
        ),
    ];
    let mut failures = Vec::new();
    for (name, document, expected) in &cases {
        // Schema errors end with a position in the re-serialised document, not in anything an
        // admin wrote: compared without it.
        let compiled = compile(document, None)
            .map_err(|e| e.split(" at line 1 column ").next().unwrap().to_string());
        match compiled {
            Ok(_) => failures.push(format!("{name}: accepted, expected {expected}")),
            Err(actual) if actual != *expected => failures.push(format!(
                "{name}:\n    expected {expected}\n    actual   {actual}"
            )),
            Err(_) => {}
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn signed_is_refused_with_an_empty_key_and_accepted_with_one() {
    let document = with(|c| c["routes"][0]["stickiness"]["assign"]["signed"] = json!(true));
    assert!(compile(&document, Some(b""))
        .unwrap_err()
        .starts_with("routes[0].stickiness.assign.signed: no cookie key is configured"));
    assert!(compile(&document, Some(KEY)).is_ok());
    // The plain constructor never has a cookie key.
    assert!(Config::from_json_with_token(document.as_bytes(), None).is_err());
}

/// A decided id, as text.
fn id(bytes: [u8; 16]) -> NewId {
    NewId::from_random(bytes)
}

#[test]
fn the_set_cookie_is_compiled_from_the_attributes() {
    let fresh = id([0; 16]);
    assert_eq!(fresh.as_bytes(), b"AAAAAAAAAAAAAAAAAAAAAA");
    let set_cookie = |document: &str| {
        let config = compile(document, Some(KEY)).unwrap();
        let assign = config.routes[0].assign.as_ref().unwrap();
        String::from_utf8(assign.set_cookie(&fresh)).unwrap()
    };
    assert_eq!(
        set_cookie(&assigning().to_string()),
        "canary-uid=AAAAAAAAAAAAAAAAAAAAAA; Max-Age=2592000; Path=/"
    );
    let everything = with(|c| {
        c["routes"][0]["stickiness"]["assign"] = json!({
            "cookie": "canary-uid", "maxAge": 60, "domain": ".example.com", "path": "/shop",
            "secure": true, "httpOnly": true, "sameSite": "None", "header": "x-canary-uid"
        });
    });
    assert_eq!(
        set_cookie(&everything),
        "canary-uid=AAAAAAAAAAAAAAAAAAAAAA; Max-Age=60; Domain=.example.com; Path=/shop; Secure; HttpOnly; SameSite=None"
    );
    let signed = with(|c| c["routes"][0]["stickiness"]["assign"]["signed"] = json!(true));
    let value = set_cookie(&signed);
    let cookie = value.split(';').next().unwrap();
    let (id_part, mac) = cookie
        .strip_prefix("canary-uid=")
        .unwrap()
        .split_once('.')
        .unwrap();
    assert_eq!(id_part, "AAAAAAAAAAAAAAAAAAAAAA");
    // HMAC-SHA256(KEY, "AAAAAAAAAAAAAAAAAAAAAA"), base64url without padding, computed
    // independently with Python's hmac module.
    assert_eq!(mac, SIGNED_ZERO_MAC);
    assert!(value.ends_with("; Max-Age=2592000; Path=/"));
}

const SIGNED_ZERO_MAC: &str = "sRZMkTkQMjkxMnwCjff9FB-y5iNYWSj1gUdT3h9jgbk";

/// A request to servicea.com `/` with these headers, in this order (repeats kept).
fn request(headers: &[(&str, &str)]) -> Headers {
    let base = Headers::to("servicea.com", "/");
    headers.iter().fold(base, |r, (n, v)| r.also(n, v))
}

/// Decides with ids from `bytes`, failing if the fallback's randomness is asked for (an
/// assigning route never falls back); says whether an id was drawn.
fn decide_issuing(config: &Config, request: &Headers, bytes: [u8; 16]) -> (Decision, bool) {
    let asked = Cell::new(false);
    let inputs = Given::nothing().new_id(|| {
        asked.set(true);
        bytes
    });
    let decision = decide(config, request, &inputs).unwrap();
    (decision, asked.get())
}

fn subset<'c>(config: &'c Config, decision: &Decision) -> &'c str {
    &config.routes[decision.route].subsets[decision.subset].name
}

#[test]
fn a_request_without_a_key_gets_a_new_id_decided_as_if_it_had_sent_it() {
    let config = compile(&assigning().to_string(), None).unwrap();
    let mut seen = [0usize; 2];
    for n in 0..200u8 {
        let bytes = [n; 16];
        let (decision, asked) = decide_issuing(&config, &request(&[]), bytes);
        assert!(asked);
        let Assigned::Issued(fresh) = decision.assigned else {
            panic!("no id issued: {decision:?}");
        };
        assert_eq!(fresh, id(bytes));
        assert_eq!(decision.reason, Reason::Hash);
        let expected_bucket = bucket(b"service-a", fresh.as_bytes());
        assert_eq!(decision.bucket, Some(expected_bucket));
        // The same id sent back as the cookie is decided the same, and not re-issued.
        let cookie = format!("canary-uid={}", String::from_utf8_lossy(fresh.as_bytes()));
        let (again, asked) = decide_issuing(&config, &request(&[("cookie", &cookie)]), [9; 16]);
        assert!(!asked, "an id was drawn for a visitor who sent one");
        assert_eq!(again.assigned, Assigned::Sent);
        assert_eq!(
            (again.subset, again.bucket),
            (decision.subset, decision.bucket)
        );
        seen[decision.subset] += 1;
    }
    assert!(
        seen[0] > 0 && seen[1] > 0,
        "ids land on both subsets: {seen:?}"
    );
}

#[test]
fn a_key_from_another_source_or_an_empty_cookie_is_no_assigned_id() {
    let config = compile(&assigning().to_string(), None).unwrap();
    let (decision, asked) = decide_issuing(&config, &request(&[("x-user-id", "alice")]), [1; 16]);
    assert!(!asked);
    assert_eq!(decision.assigned, Assigned::Other);
    assert_eq!(decision.bucket, Some(bucket(b"service-a", b"alice")));
    let (decision, asked) =
        decide_issuing(&config, &request(&[("cookie", "canary-uid=")]), [1; 16]);
    assert!(asked, "an empty cookie counts as absent");
    assert_eq!(decision.assigned, Assigned::Issued(id([1; 16])));
}

#[test]
fn users_rules_see_the_new_id_as_the_key() {
    let fresh = id([7; 16]);
    let text = String::from_utf8(fresh.as_bytes().to_vec()).unwrap();
    let document = with(|c| c["routes"][0]["rules"] = json!([{"subset": "v2", "users": [text]}]));
    let config = compile(&document, None).unwrap();
    let (decision, _) = decide_issuing(&config, &request(&[]), [7; 16]);
    assert_eq!(
        (subset(&config, &decision), decision.reason),
        ("v2", Reason::User)
    );
    assert_eq!(decision.assigned, Assigned::Issued(fresh));
}

#[test]
fn signed_ids_bucket_by_the_id_and_a_cookie_that_does_not_verify_is_replaced() {
    let document = with(|c| c["routes"][0]["stickiness"]["assign"]["signed"] = json!(true));
    let config = compile(&document, Some(KEY)).unwrap();
    let assign = config.routes[0].assign.as_ref().unwrap();
    let fresh = id([3; 16]);
    let signed = String::from_utf8(assign.cookie_value(&fresh)).unwrap();
    let (issued, _) = decide_issuing(&config, &request(&[]), [3; 16]);
    assert_eq!(issued.assigned, Assigned::Issued(fresh));
    assert_eq!(issued.bucket, Some(bucket(b"service-a", fresh.as_bytes())));

    let (kept, asked) = decide_issuing(
        &config,
        &request(&[("cookie", &format!("theme=dark; canary-uid={signed}"))]),
        [4; 16],
    );
    assert!(!asked);
    assert_eq!(kept.assigned, Assigned::Sent);
    assert_eq!(kept.bucket, issued.bucket, "bucket from the id part only");

    let (id_part, mac) = signed.split_once('.').unwrap();
    let mut flipped = mac.as_bytes().to_vec();
    flipped[5] = if flipped[5] == b'A' { b'B' } else { b'A' };
    let flipped = String::from_utf8(flipped).unwrap();
    let other_mac = String::from_utf8(assign.cookie_value(&id([5; 16]))).unwrap();
    let other_mac = other_mac.split_once('.').unwrap().1;
    let forged: Vec<(&str, String)> = vec![
        ("unsigned id", id_part.to_string()),
        ("tampered mac", format!("{id_part}.{flipped}")),
        ("another id's mac", format!("{id_part}.{other_mac}")),
        ("chosen id, copied mac", format!("alice.{mac}")),
        ("truncated mac", format!("{id_part}.{}", &mac[..42])),
        ("mac only", format!(".{mac}")),
        ("padded mac", format!("{id_part}.{mac}=")),
        ("empty", String::new()),
    ];
    for (name, value) in forged {
        let cookie = format!("canary-uid={value}");
        let (decision, asked) = decide_issuing(&config, &request(&[("cookie", &cookie)]), [6; 16]);
        assert!(asked, "{name}: counted as present");
        assert_eq!(decision.assigned, Assigned::Issued(id([6; 16])), "{name}");
        assert_eq!(
            decision.bucket,
            Some(bucket(b"service-a", id([6; 16]).as_bytes())),
            "{name}: a forged id chose the bucket"
        );
    }
}

#[test]
fn fixed_inputs_issue_their_id() {
    let config = compile(&assigning().to_string(), None).unwrap();
    let headers = request(&[]);
    let fixed = Fixed {
        random: 42,
        id: [8; 16],
    };
    let decision = plan(&config, &headers.request(), &fixed).decision.unwrap();
    assert_eq!(decision.assigned, Assigned::Issued(id([8; 16])));
    assert_eq!(decision.reason, Reason::Hash);
    assert_eq!(
        decision.bucket,
        Some(bucket(b"service-a", id([8; 16]).as_bytes()))
    );
}

#[test]
fn routes_without_assign_have_no_assigned_id() {
    let mut document = assigning();
    document["routes"][0]["stickiness"]
        .as_object_mut()
        .unwrap()
        .remove("assign");
    document["routes"][0]["stickiness"]["fallback"] = json!("stable");
    let config = compile(&document.to_string(), None).unwrap();
    assert!(config.routes[0].assign.is_none());
    // Neither random() (stable fallback) nor new_id() (no assign) may be asked.
    let decision = decide(&config, &request(&[]), &Given::nothing()).unwrap();
    assert_eq!(decision.assigned, Assigned::Other);
    assert_eq!(decision.reason, Reason::Fallback);
}

#[test]
fn a_signed_cookie_key_shorter_than_32_bytes_is_refused() {
    let document = with(|c| c["routes"][0]["stickiness"]["assign"]["signed"] = json!(true));
    let cases: [(&[u8], &str); 3] = [
        (
            b"k",
            "routes[0].stickiness.assign.signed: the cookie key (STICKY_CANARY_COOKIE_KEY) is 1 bytes; at least 32 are needed, as a shorter one can be guessed offline from one issued cookie",
        ),
        (
            b"cookie-key-for-tests",
            "routes[0].stickiness.assign.signed: the cookie key (STICKY_CANARY_COOKIE_KEY) is 20 bytes; at least 32 are needed, as a shorter one can be guessed offline from one issued cookie",
        ),
        (
            &KEY[..31],
            "routes[0].stickiness.assign.signed: the cookie key (STICKY_CANARY_COOKIE_KEY) is 31 bytes; at least 32 are needed, as a shorter one can be guessed offline from one issued cookie",
        ),
    ];
    for (key, expected) in cases {
        assert_eq!(compile(&document, Some(key)).unwrap_err(), expected);
    }
    assert!(
        compile(&document, Some(&KEY[..32])).is_ok(),
        "32 bytes is enough"
    );
    // An unsigned assign never uses the key, whatever its length.
    assert!(compile(&assigning().to_string(), Some(b"k")).is_ok());
}

/// Issue 18 §4: browsers send several cookies of one name (another Path or Domain, an old copy
/// after a key rotation). The first that verifies is the visitor's id, wherever it comes.
#[test]
fn of_several_id_cookies_the_first_that_verifies_wins() {
    let document = with(|c| {
        c["routes"][0]["stickiness"]["assign"]["signed"] = json!(true);
        c["routes"][0]["stickiness"]["assign"]["header"] = json!("x-canary-uid");
    });
    let config = compile(&document, Some(KEY)).unwrap();
    let assign = config.routes[0].assign.as_ref().unwrap();
    let value = |n: u8| String::from_utf8(assign.cookie_value(&id([n; 16]))).unwrap();
    let (first, second) = (value(3), value(4));
    let (id_part, mac) = second.split_once('.').unwrap();
    let mut flipped = mac.as_bytes().to_vec();
    flipped[0] = if flipped[0] == b'A' { b'B' } else { b'A' };
    let tampered = format!("{id_part}.{}", String::from_utf8(flipped).unwrap());
    let old_key = Config::from_json_with_secrets(
        document.as_bytes(),
        None,
        Secret::new(Some(b"the-key-before-rotation-32-bytes-long")),
    )
    .unwrap();
    let rotated = String::from_utf8(
        old_key.routes[0]
            .assign
            .as_ref()
            .unwrap()
            .cookie_value(&id([5; 16])),
    )
    .unwrap();

    let (three, four) = (id([3; 16]), id([4; 16]));
    let cases: Vec<(&str, Vec<String>, NewId)> = vec![
        (
            "tampered, then valid, in one header",
            vec![format!("canary-uid={tampered}; canary-uid={first}")],
            three,
        ),
        (
            "tampered, then valid, in two cookie headers",
            vec![
                format!("canary-uid={tampered}"),
                format!("a=1; canary-uid={first}"),
            ],
            three,
        ),
        (
            "signed under the old key, then valid",
            vec![format!("canary-uid={rotated}; canary-uid={second}")],
            four,
        ),
        (
            "valid, then another valid: the first",
            vec![format!("canary-uid={second}; canary-uid={first}")],
            four,
        ),
        (
            "empty, then valid",
            vec![format!("canary-uid=; canary-uid=\"{first}\"")],
            three,
        ),
    ];
    for (name, cookies, expected) in cases {
        let pairs: Vec<(&str, &str)> = cookies.iter().map(|c| ("cookie", c.as_str())).collect();
        let headers = request(&pairs);
        let (decision, asked) = decide_issuing(&config, &headers, [9; 16]);
        assert!(!asked, "{name}: a new id was drawn");
        assert_eq!(decision.assigned, Assigned::Sent, "{name}");
        assert_eq!(
            decision.bucket,
            Some(bucket(b"service-a", expected.as_bytes())),
            "{name}"
        );
        // The id that verified is the one sent upstream, and no Set-Cookie goes back.
        let snapshot = headers.request();
        let planned = plan(&config, &snapshot, &Given::nothing());
        assert_eq!(
            planned.ops,
            vec![
                sticky_canary_core::Op::Set(
                    "x-canary-subset",
                    config.routes[0].subsets[decision.subset]
                        .name
                        .as_bytes()
                        .into()
                ),
                sticky_canary_core::Op::Set("x-canary-uid", expected.as_bytes().into()),
            ],
            "{name}"
        );
        assert_eq!(planned.response, None, "{name}");
    }

    // Control: when none verifies, a new id is issued and handed back.
    let headers = request(&[(
        "cookie",
        &format!("canary-uid={tampered}; canary-uid={rotated}"),
    )]);
    let (decision, asked) = decide_issuing(&config, &headers, [9; 16]);
    assert!(asked);
    assert_eq!(decision.assigned, Assigned::Issued(id([9; 16])));
}
