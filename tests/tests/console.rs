//! `sticky-canary console` against the real Envoy of the ECDS scenario: an applied change is
//! what Envoy then serves, and a change the console accepts but Envoy refuses (a `requireToken`
//! rule while only the console has the token) is reported as rejected, with Envoy's own reason,
//! while the previous config keeps serving.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use serde_json::{json, Value};
use sticky_canary_e2e::console_process::ConsoleProcess;
use sticky_canary_e2e::{service_a_config, service_a_json, subset_of, Client, Delivery, Envoy};

const CONSOLE: &str = env!("CARGO_BIN_EXE_sticky-canary-e2e-cli");
const TOKEN: &str = "console-test-token";
const SETTLE: Duration = Duration::from_secs(30);

struct Console {
    _process: ConsoleProcess,
    port: u16,
}

fn start_console(envoy: &Envoy) -> Console {
    let (ecds, log) = (envoy.ecds_file(), envoy.log_path());
    let admin = format!("127.0.0.1:{}", envoy.admin_port());
    let mut command = ConsoleProcess::command(CONSOLE, &ecds, &admin, &log);
    // The console can compile requireToken rules; the Envoy VM has no token.
    command.env("STICKY_CANARY_TOKEN", TOKEN);
    let process = ConsoleProcess::start(command);
    Console {
        port: process.port(),
        _process: process,
    }
}

fn get_json(console: &Console, path: &str) -> Value {
    let host = format!("127.0.0.1:{}", console.port);
    let response = Client::new(console.port).get(path, &[("host", host.as_bytes())]);
    assert_eq!(response.status, 200, "{path}");
    serde_json::from_slice(&response.body).unwrap()
}

fn apply(console: &Console, etag: &str, plugin_config: &str) -> (u16, Value) {
    let raw = format!(
        "POST /api/apply HTTP/1.1\r\nhost: 127.0.0.1:{}\r\nif-match: {etag}\r\ncontent-length: {}\r\n\r\n{plugin_config}",
        console.port,
        plugin_config.len()
    );
    let response = Client::new(console.port).request(raw.as_bytes());
    (
        response.status,
        serde_json::from_slice(&response.body).unwrap(),
    )
}

fn served(envoy: &Envoy, user: &str) -> String {
    envoy
        .front()
        .get("/", &[("x-user-id", user.as_bytes())])
        .served_by()
        .to_string()
}

#[test]
fn applied_configs_serve_and_a_push_envoy_rejects_is_reported_with_its_reason() {
    let old = service_a_config(10);
    let new = service_a_config(30);
    let envoy = Envoy::start(Delivery::Ecds, &old);
    let console = start_console(&envoy);
    let users: Vec<String> = (0..2000).map(|i| format!("console-user-{i}")).collect();
    let mover = users
        .iter()
        .find(|u| subset_of(&old, u) == "v1" && subset_of(&new, u) == "v2")
        .unwrap()
        .clone();
    assert_eq!(served(&envoy, &mover), "v1");

    let config = get_json(&console, "/api/config");
    let (status, answer) = apply(&console, config["etag"].as_str().unwrap(), &new);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["envoy"]["verdict"], "accepted", "{answer}");
    assert_eq!(envoy.ecds_stat("update_success"), 2);
    envoy.wait_for("the mover on v2", SETTLE, |e| served(e, &mover) == "v2");

    let mut token_rule = service_a_json(50);
    token_rule["routes"][0]["rules"] =
        json!([{"subset": "v2", "requireToken": true, "users": ["qa-1"]}]);
    let (status, answer) = apply(
        &console,
        answer["etag"].as_str().unwrap(),
        &token_rule.to_string(),
    );
    assert_eq!(status, 200, "{answer}");
    let verdict = &answer["envoy"];
    assert_eq!(verdict["verdict"], "rejected", "{verdict}");
    let first_line = verdict["reason"]
        .as_str()
        .unwrap_or_default()
        .lines()
        .next()
        .unwrap_or_default();
    assert!(
        first_line.contains("routes[0].rules[0].requireToken: no token is configured"),
        "Envoy's reason is not reported: {verdict}\n{}",
        envoy.log()
    );
    assert_eq!(envoy.ecds_stat("update_rejected"), 1);
    // The previous config (v2=30) keeps serving: every user as before.
    for user in users.iter().take(200) {
        assert_eq!(served(&envoy, user), subset_of(&new, user), "{user}");
    }
}
