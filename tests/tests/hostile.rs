//! Client bytes are data: any header, cookie or query value is served, never a VM crash.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use sticky_canary_e2e::{expected_subset, service_a_json, Delivery, Envoy, Header};

#[test]
fn non_utf8_and_long_values_are_routed_as_bytes() {
    let mut config = service_a_json(50);
    config["routes"][0]["rules"] = serde_json::json!([
        {"subset": "v2", "match": {"cookies": [{"name": "beta", "regex": "^y.s$"}]}},
        {"subset": "v2", "match": {"headers": [{"name": "x-flag", "contains": "on", "ignoreCase": true}]}}
    ]);
    let config = config.to_string();
    let envoy = Envoy::start(Delivery::Inline, &config);
    let mut client = envoy.front();
    let vms_before = envoy.stat("wasm.envoy.wasm.runtime.v8.active");

    let long_key = vec![b'k'; 16 * 1024];
    let long_cookie = [b"uid=".as_slice(), &vec![0xe9; 8 * 1024]].concat();
    let many_cookies: Vec<u8> = (0..300)
        .flat_map(|i| format!("c{i}=v{i}; ").into_bytes())
        .chain(*b"uid=last")
        .collect();
    let cases: Vec<(&str, &str, Vec<Header>)> = vec![
        (
            "non-UTF-8 key header",
            "/",
            vec![("x-user-id", b"\xff\xfe\x80abc")],
        ),
        ("non-UTF-8 cookie", "/", vec![("cookie", b"uid=\xff\xfe")]),
        ("percent-encoded bytes in query", "/?uid=%FF%FE", vec![]),
        ("malformed escapes in query", "/?uid=%zz%4&&=&x", vec![]),
        ("16 KiB key header", "/", vec![("x-user-id", &long_key)]),
        (
            "8 KiB non-UTF-8 cookie",
            "/",
            vec![("cookie", &long_cookie)],
        ),
        ("300 cookies", "/", vec![("cookie", &many_cookies)]),
        (
            "non-UTF-8 in a regex-matched cookie",
            "/",
            vec![("x-user-id", b"bob"), ("cookie", b"beta=y\xffs")],
        ),
        (
            "non-UTF-8 user agent",
            "/",
            vec![
                ("x-user-id", b"bob"),
                ("user-agent", b"\xc3\x28 iPhone\xff"),
            ],
        ),
        (
            "control-free binary flag",
            "/",
            vec![("x-user-id", b"bob"), ("x-flag", b"\x80ON\x81")],
        ),
    ];
    for (name, path, headers) in &cases {
        let response = client.get(path, headers);
        assert_eq!(response.status, 200, "case {name}");
        let want = expected_subset(&config, path, headers).unwrap();
        assert_eq!(response.served_by(), want, "case {name}");
        assert_eq!(
            response.received_subset(),
            Some(want.as_str()),
            "case {name}"
        );
    }
    // The query's %FF%FE decodes to the same bytes as the raw header, hence the same subset.
    assert_eq!(
        expected_subset(&config, "/?uid=%FF%FE", &[]),
        expected_subset(&config, "/", &[("x-user-id", b"\xff\xfe")])
    );

    let ordinary = client.get("/", &[("x-user-id", b"alice")]);
    assert_eq!(
        ordinary.served_by(),
        expected_subset(&config, "/", &[("x-user-id", b"alice")]).unwrap()
    );
    assert_eq!(
        envoy.stat("wasm.envoy.wasm.runtime.v8.active"),
        vms_before,
        "a VM was lost"
    );
    let log = envoy.log();
    for sign_of_a_crash in [
        "panicked",
        "Wasm VM failed",
        "Function: proxy_on_request_headers failed",
    ] {
        assert!(
            !log.contains(sign_of_a_crash),
            "Envoy log shows `{sign_of_a_crash}`:\n{log}"
        );
    }
}
