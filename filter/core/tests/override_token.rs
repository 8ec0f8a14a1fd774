#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! `requireToken` rules: they apply only to requests whose token header equals the secret from
//! the VM's environment; every other request is decided as if the rule were not there. A config
//! that requires a token nobody configured is refused.

mod common;

use common::{decide, Given, Headers};
use sticky_canary_core::{Config, Reason, Secret};

/// 100 % v1 by hash, and two override rules to v2: one opened by a header, one by user id.
const CONFIG: &str = r#"{"routes":[{"name":"service-a","subsets":[{"name":"v1","weight":100},{"name":"v2","weight":0}],"stickiness":{"keys":[{"header":"x-user-id"}]},"rules":[{"subset":"v2","requireToken":true,"match":{"headers":[{"name":"x-canary","exact":"true"}]}},{"subset":"v2","requireToken":true,"users":["qa-1"]}]}]}"#;

/// A request's extra headers and the subset and reason it must get.
type Case<'a> = (&'a str, Vec<(&'a str, &'a [u8])>, (String, Reason));

fn request(headers: &[(&str, &[u8])]) -> Headers {
    headers
        .iter()
        .fold(Headers::to("servicea.com", "/"), |r, (name, value)| {
            r.with(name, value)
        })
}

fn with_token(json: &str, token: &[u8]) -> Config {
    Config::from_json_with_token(json.as_bytes(), Secret::new(Some(token))).unwrap()
}

fn outcome(config: &Config, request: &Headers) -> (String, Reason) {
    // Every request has a key: no random fallback.
    let d = decide(config, request, &Given::nothing()).unwrap();
    (
        config.routes[d.route].subsets[d.subset].name.clone(),
        d.reason,
    )
}

#[test]
fn the_right_token_opens_the_rule_and_anything_else_hashes() {
    let config = with_token(CONFIG, b"s3cret");
    let v2_rule = ("v2".to_string(), Reason::Rule);
    let v2_user = ("v2".to_string(), Reason::User);
    let hashed = ("v1".to_string(), Reason::Hash);
    let cases: Vec<Case> = vec![
        (
            "right token and header",
            vec![
                ("x-user-id", b"u1"),
                ("x-canary", b"true"),
                ("x-canary-token", b"s3cret"),
            ],
            v2_rule.clone(),
        ),
        (
            "right token, listed user",
            vec![("x-user-id", b"qa-1"), ("x-canary-token", b"s3cret")],
            v2_user,
        ),
        (
            "header without token",
            vec![("x-user-id", b"u1"), ("x-canary", b"true")],
            hashed.clone(),
        ),
        (
            "listed user without token",
            vec![("x-user-id", b"qa-1")],
            hashed.clone(),
        ),
        (
            "wrong token",
            vec![
                ("x-user-id", b"u1"),
                ("x-canary", b"true"),
                ("x-canary-token", b"s3cres"),
            ],
            hashed.clone(),
        ),
        (
            "token prefix",
            vec![
                ("x-user-id", b"u1"),
                ("x-canary", b"true"),
                ("x-canary-token", b"s3cre"),
            ],
            hashed.clone(),
        ),
        (
            "token with extra bytes",
            vec![
                ("x-user-id", b"u1"),
                ("x-canary", b"true"),
                ("x-canary-token", b"s3cret\xff"),
            ],
            hashed.clone(),
        ),
        (
            "empty token",
            vec![
                ("x-user-id", b"u1"),
                ("x-canary", b"true"),
                ("x-canary-token", b""),
            ],
            hashed.clone(),
        ),
        (
            "right token, rule's own condition missing",
            vec![("x-user-id", b"u1"), ("x-canary-token", b"s3cret")],
            hashed,
        ),
    ];
    for (name, headers, expected) in cases {
        assert_eq!(outcome(&config, &request(&headers)), expected, "{name}");
    }
}

#[test]
fn rules_without_require_token_stay_open_to_everyone() {
    let open = CONFIG.replace(r#""requireToken":true,"match""#, r#""match""#);
    let config = with_token(&open, b"s3cret");
    let req = request(&[("x-user-id", b"u1"), ("x-canary", b"true")]);
    assert_eq!(outcome(&config, &req), ("v2".to_string(), Reason::Rule));
}

#[test]
fn the_token_header_can_be_renamed() {
    let renamed = CONFIG.replacen('{', r#"{"tokenHeader":"X-QA-Pass","#, 1);
    let config = with_token(&renamed, b"s3cret");
    assert_eq!(config.token_header, "x-qa-pass");
    let old_header = request(&[
        ("x-user-id", b"u1"),
        ("x-canary", b"true"),
        ("x-canary-token", b"s3cret"),
    ]);
    assert_eq!(outcome(&config, &old_header).1, Reason::Hash);
    let new_header = request(&[
        ("x-user-id", b"u1"),
        ("x-canary", b"true"),
        ("x-qa-pass", b"s3cret"),
    ]);
    assert_eq!(outcome(&config, &new_header).1, Reason::Rule);
}

#[test]
fn a_required_token_must_be_configured() {
    for token in [None, Secret::new(Some(b"")), Secret::new(None)] {
        let err = Config::from_json_with_token(CONFIG.as_bytes(), token).unwrap_err();
        assert_eq!(
            err.to_string(),
            "routes[0].rules[0].requireToken: no token is configured: set STICKY_CANARY_TOKEN in the plugin's vmConfig.env (Envoy: vm_config.environment_variables)"
        );
    }
    let err = Config::from_json(CONFIG.as_bytes()).unwrap_err();
    assert_eq!(err.path, "routes[0].rules[0].requireToken");
    let only_second = CONFIG.replacen(r#""requireToken":true,"#, "", 1);
    let err = Config::from_json(only_second.as_bytes()).unwrap_err();
    assert_eq!(err.path, "routes[0].rules[1].requireToken");
    let explicitly_off = CONFIG.replace(r#""requireToken":true"#, r#""requireToken":false"#);
    assert!(Config::from_json(explicitly_off.as_bytes()).is_ok());
}

#[test]
fn bad_token_settings_name_their_field() {
    let cases = [
        (
            CONFIG.replacen('{', r#"{"tokenHeader":"x token","#, 1),
            r#"tokenHeader: "x token" is not a valid HTTP header name"#,
        ),
        (
            CONFIG.replacen('{', r#"{"tokenHeader":"X-Canary-Subset","#, 1),
            r#"routingHeader: "x-canary-subset" (the default) is also tokenHeader; the filter would overwrite the token it checks"#,
        ),
        (
            CONFIG.replace(
                r#""requireToken":true,"match""#,
                r#""requireToken":"yes","match""#,
            ),
            r#"routes[0].rules[0].requireToken: invalid type: string "yes", expected a boolean at line 1 column 186"#,
        ),
    ];
    let mut failures = Vec::new();
    for (json, expected) in cases {
        let err =
            Config::from_json_with_token(json.as_bytes(), Secret::new(Some(b"s"))).unwrap_err();
        if err.to_string() != expected {
            failures.push(format!("expected {expected}\n    actual   {err}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_secret_never_shows_in_the_compiled_config() {
    let config = with_token(CONFIG, b"hunter2-secret");
    let printed = format!("{config:?}");
    assert!(!printed.contains("hunter2"), "{printed}");
}
