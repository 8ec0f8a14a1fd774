//! `make demo` as a user runs it: envoy/demo/demo.sh in the foreground, on ports of its own.
//! It must print a ready line with the page and the console URLs, keep serving both after that
//! (the pinned Envoy dies with its parent, the console is started with a parent-death signal),
//! show only what the pure core decides, and on SIGINT stop both, exit 0 and leave no process
//! behind.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::thread;
use std::time::Duration;

use serde_json::Value;
use sticky_canary_core::Config;
use sticky_canary_e2e::demo::{
    children_of, demo_plugin_config, expected, first_url, refuses_connections, signal, split_url,
    still_running, Demo, EXIT_TIMEOUT, READY_TIMEOUT,
};
use sticky_canary_e2e::Client;

const CONSOLE: &str = env!("CARGO_BIN_EXE_sticky-canary-e2e-cli");

#[test]
fn make_demo_serves_pages_and_the_console_until_sigint_then_leaves_nothing_running() {
    let config = Config::from_json(demo_plugin_config().as_bytes()).unwrap();
    let ports = sticky_canary_e2e::demo::free_ports(0);
    let [front, _, _, admin, console] = ports;
    let mut demo = Demo::start(ports, Path::new(CONSOLE));

    let ready = demo.read_until("Ready:", READY_TIMEOUT);
    assert_eq!(
        first_url(&ready),
        format!("http://127.0.0.1:{front}/"),
        "{ready}"
    );
    let console_url = format!("http://127.0.0.1:{console}/");
    let console_host = format!("127.0.0.1:{console}");
    assert!(ready.contains(&console_url), "{ready}");
    assert_eq!(demo.url_of("the console"), console_url);

    // What the demo showed is what the core decides.
    let users: Vec<String> = (1..=500).map(|i| format!("user-{i}")).collect();
    let on_v2 = users
        .iter()
        .filter(|u| expected(&config, "/", &[("x-user-id", u)]) == "v2")
        .count();
    assert_eq!(
        demo.line_after("v1 (page A): "),
        format!("{}   v2 (page B): {on_v2}", 500 - on_v2)
    );
    for user in ["alice", "bob", "user-7", "user-42"] {
        let subset = expected(&config, "/", &[("x-user-id", user)]);
        let shown: Vec<&str> = demo
            .line_after(&format!("{user} "))
            .split_whitespace()
            .collect();
        assert_eq!(shown, vec![subset.as_str(); 5], "stickiness of {user}");
    }
    let alice = expected(&config, "/", &[("x-user-id", "alice")]);
    let by_rule = expected(
        &config,
        "/",
        &[("x-user-id", "alice"), ("x-canary", "true")],
    );
    assert_ne!(by_rule, alice, "the demo's rule must change alice's subset");
    assert!(demo
        .line_after("== a content rule wins over hashing: ")
        .ends_with(&format!("-> {by_rule}")));
    assert!(demo
        .line_after("== a forged routing header is overwritten: ")
        .ends_with(&format!("-> {alice}")));

    let pid_after = |prefix: &str| -> u32 {
        demo.line_after(prefix)
            .split(')')
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    let envoy_pid = pid_after("Starting Envoy (pid ");
    let console_pid = pid_after("Starting the console (pid ");
    let children = children_of(demo.pid());
    for (what, pid) in [("Envoy", envoy_pid), ("the console", console_pid)] {
        assert!(
            children.iter().any(|&(child, _)| child == pid),
            "{what} (pid {pid}) is not among the script's children {children:?}"
        );
    }

    // The URL printed for a user's page, fetched as a browser would (no header of its own):
    // the page of the subset the core picks, saying so, and why.
    let browser_url = demo.url_of("?uid=");
    let (port, path) = split_url(&browser_url);
    assert_eq!(port, front, "{browser_url}");
    let uid = path.split_once("?uid=").unwrap().1.to_string();
    let want = expected(&config, &path, &[]);
    assert_eq!(want, expected(&config, "/", &[("x-user-id", &uid)]));
    let picture = match want.as_str() {
        "v1" => "A",
        "v2" => "B",
        other => panic!("the demo has no subset {other}"),
    };
    let fetch = |demo: &Demo| {
        let response = Client::new(port).get(&path, &[]);
        assert_eq!(response.status, 200, "{}", demo.transcript());
        assert_eq!(response.served_by(), want, "{browser_url}");
        let body = String::from_utf8(response.body).unwrap();
        for part in [
            format!("data-picture=\"{picture}\""),
            format!("<dd id=\"subset\">{want}</dd>"),
            "<dd id=\"reason\">hash</dd>".to_string(),
            "<svg id=\"picture\"".to_string(),
        ] {
            assert!(body.contains(&part), "{part} not in the page:\n{body}");
        }
    };
    fetch(&demo);
    assert_eq!(Client::new(admin).get("/ready", &[]).status, 200);
    let console_page = Client::new(console).get("/", &[("host", console_host.as_bytes())]);
    assert_eq!(console_page.status, 200);
    assert!(String::from_utf8_lossy(&console_page.body).contains("sticky-canary console"));
    let config_answer =
        Client::new(console).get("/api/config", &[("host", console_host.as_bytes())]);
    assert_eq!(config_answer.status, 200);
    let config_answer: Value = serde_json::from_slice(&config_answer.body).unwrap();
    assert_eq!(
        config_answer["file"].as_str().map(Path::new),
        Some(
            demo.ecds_file()
                .strip_prefix(sticky_canary_e2e::repo_root())
                .unwrap()
        ),
        "the console edits the demo's copy of the ECDS file"
    );

    // The bug this guards against: Envoy died a moment after the script had printed its URLs.
    // Waiting is the point here, not a way to wait for something.
    thread::sleep(Duration::from_secs(2));
    assert!(
        demo.child.try_wait().unwrap().is_none(),
        "the demo exited by itself\n{}",
        demo.transcript()
    );
    fetch(&demo);
    assert_eq!(
        Client::new(console)
            .get("/api/stats", &[("host", console_host.as_bytes())])
            .status,
        200
    );

    signal(demo.pid(), "INT");
    let status = demo.wait_exit(EXIT_TIMEOUT);
    demo.read_to_end(EXIT_TIMEOUT);
    assert_eq!(status.code(), Some(0), "{}", demo.transcript());
    assert_eq!(
        demo.output.last().map(String::as_str),
        Some("Stopped: nothing is left running."),
        "{}",
        demo.transcript()
    );
    let left: Vec<_> = children
        .into_iter()
        .filter(|&child| still_running(child))
        .collect();
    assert!(left.is_empty(), "still running after the demo: {left:?}");
    for (what, port) in [("front", front), ("admin", admin), ("console", console)] {
        assert!(refuses_connections(port), "the {what} port still accepts");
    }
}
