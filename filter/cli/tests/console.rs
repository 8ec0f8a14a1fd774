//! `sticky-canary console` over HTTP, against a stand-in for Envoy's admin that counts each new
//! version of the ECDS file as accepted (`update_success`) or, for a v2 weight of 13, rejected
//! (`update_rejected`, with a warning line in the log it writes, as Envoy's would be). The real
//! Envoy and a real browser: tests/tests/browser.rs.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::Duration;

use common::console_process::ConsoleProcess;
use serde_json::{json, Value};

const FILTER: &str = "extensions.istio.io/wasmplugin/default.sticky-canary";

fn resource(plugin_config: &Value) -> String {
    format!(
        r#"# a comment the console does not keep
version_info: "1"
resources:
- "@type": type.googleapis.com/envoy.config.core.v3.TypedExtensionConfig
  name: {FILTER}
  typed_config:
    "@type": type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm
    config:
      root_id: sticky_canary
      vm_config:
        code: {{local: {{filename: build/sticky_canary.wasm}}}}
      configuration:
        "@type": type.googleapis.com/google.protobuf.StringValue
        value: '{}'
"#,
        plugin_config
    )
}

fn weights(v1: u32, v2: u32) -> Value {
    json!({"routes": [{
        "name": "service-a",
        "subsets": [{"name": "v1", "weight": v1}, {"name": "v2", "weight": v2}],
        "stickiness": {"keys": [{"header": "x-user-id"}]}
    }]})
}

/// What a test makes the stand-in admin do besides counting.
#[derive(Default)]
struct AdminControl {
    /// While set, a new version of the file is not counted yet: Envoy is slow to decide.
    hold_verdict: bool,
    /// Written over the ECDS file when the next `/stats` request arrives: another writer (an
    /// editor, a second console) changing the file while an apply is under way.
    write_on_next_stats: Option<String>,
}

/// Envoy's admin as far as the console uses it: `/stats` with the ECDS counters of the filter,
/// moved by each new version of the file, and a filter counter.
fn fake_admin(ecds: PathBuf, log: PathBuf, control: Arc<Mutex<AdminControl>>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let state = Arc::new(Mutex::new((fs::read(&ecds).unwrap(), 0u64, 0u64)));
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut request_line = String::new();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            reader.read_line(&mut request_line).unwrap();
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap() == 0 || line == "\r\n" {
                    break;
                }
            }
            let mut state = state.lock().unwrap();
            let hold = {
                let mut control = control.lock().unwrap();
                if let Some(other) = control.write_on_next_stats.take() {
                    fs::write(&ecds, other).unwrap();
                    state.0 = fs::read(&ecds).unwrap();
                }
                control.hold_verdict
            };
            let now = fs::read(&ecds).unwrap();
            if now != state.0 && !hold {
                if String::from_utf8_lossy(&now).contains(r#"\"weight\":13"#)
                    || String::from_utf8_lossy(&now).contains(r#""weight":13"#)
                {
                    state.2 += 1;
                    let mut file = fs::OpenOptions::new().append(true).open(&log).unwrap();
                    // As Envoy logs it: the plugin's line, then Envoy's, once per worker.
                    for _ in 0..2 {
                        writeln!(file, "[2026-01-01 00:00:00.000][7][warning][config] [source/x.cc:81] Filesystem config update rejected: Unable to create Wasm plugin sticky_canary").unwrap();
                    }
                    writeln!(
                        file,
                        "[2026-01-01 00:00:00.000][7][info][main] [source/x.cc:1] unrelated"
                    )
                    .unwrap();
                    writeln!(file, "[2026-01-01 00:00:00.000][7][error][wasm] [source/y.cc:1] wasm log sticky_canary sticky_canary: invalid pluginConfig: fake").unwrap();
                } else {
                    state.1 += 1;
                }
                state.0 = now;
            }
            let body = format!(
                "extension_config_discovery.http_filter.{FILTER}.update_success: {}\n\
                 extension_config_discovery.http_filter.{FILTER}.update_rejected: {}\n\
                 wasmcustom.sticky_canary.requests_total.route.service-a.subset.v2.reason.hash: 7\n",
                state.1, state.2
            );
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    port
}

struct Console {
    process: ConsoleProcess,
    port: u16,
    ecds: PathBuf,
    log: PathBuf,
    admin: Arc<Mutex<AdminControl>>,
    _dir: tempfile::TempDir,
}

fn start(plugin_config: &Value) -> Console {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("filters")).unwrap();
    let ecds = dir.path().join("filters/sticky-canary.yaml");
    fs::write(&ecds, resource(plugin_config)).unwrap();
    let log = dir.path().join("envoy.log");
    fs::write(&log, "").unwrap();
    let control = Arc::new(Mutex::new(AdminControl::default()));
    let admin = fake_admin(ecds.clone(), log.clone(), Arc::clone(&control));
    let admin = format!("127.0.0.1:{admin}");
    let mut command =
        ConsoleProcess::command(env!("CARGO_BIN_EXE_sticky-canary"), &ecds, &admin, &log);
    command.env_remove("STICKY_CANARY_TOKEN");
    let process = ConsoleProcess::start(command);
    Console {
        port: process.port(),
        process,
        ecds,
        log,
        admin: control,
        _dir: dir,
    }
}

struct Answer {
    status: u16,
    etag: Option<String>,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

fn http(
    console: &Console,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Answer {
    let mut stream = TcpStream::connect(("127.0.0.1", console.port)).unwrap();
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nhost: {}\r\nconnection: close\r\ncontent-length: {}\r\n",
        headers
            .iter()
            .find(|(name, _)| *name == "host")
            .map_or(format!("127.0.0.1:{}", console.port), |(_, v)| v
                .to_string()),
        body.len()
    );
    for (name, value) in headers.iter().filter(|(name, _)| *name != "host") {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes()).unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    Answer {
        status: head.split_whitespace().nth(1).unwrap().parse().unwrap(),
        etag: head
            .lines()
            .find_map(|l| {
                l.strip_prefix("ETag: ")
                    .or_else(|| l.strip_prefix("etag: "))
            })
            .map(str::to_string),
        body: body.to_string(),
    }
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// The pluginConfig in the ECDS file, and its version.
fn file_config(ecds: &Path) -> (Value, String) {
    let yaml: yaml_serde::Value = yaml_serde::from_str(&fs::read_to_string(ecds).unwrap()).unwrap();
    let doc: Value = serde_json::to_value(yaml).unwrap();
    assert_eq!(doc["resources"][0]["name"], FILTER);
    assert_eq!(
        doc["resources"][0]["typed_config"]["@type"],
        "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm"
    );
    let value = doc["resources"][0]["typed_config"]["config"]["configuration"]["value"]
        .as_str()
        .unwrap();
    (
        serde_json::from_str(value).unwrap(),
        doc["version_info"].as_str().unwrap().to_string(),
    )
}

#[test]
fn the_config_comes_with_the_files_etag_and_the_page_is_served_from_the_binary() {
    let console = start(&weights(90, 10));
    let answer = http(&console, "GET", "/api/config", &[], "");
    assert_eq!(answer.status, 200);
    let body = answer.json();
    assert_eq!(answer.etag.as_deref(), body["etag"].as_str());
    assert_eq!(body["filter"], FILTER);
    assert_eq!(body["version"], "1");
    assert_eq!(body["pluginConfig"], weights(90, 10));
    assert_eq!(
        body["routes"],
        json!([{"name": "service-a", "subsets": [{"name": "v1", "weight": 90.0}, {"name": "v2", "weight": 10.0}]}])
    );
    for (path, part) in [
        ("/", "<title>sticky-canary console</title>"),
        ("/console.js", "async function apply()"),
        ("/console.css", "#chart"),
    ] {
        let answer = http(&console, "GET", path, &[], "");
        assert_eq!(answer.status, 200, "{path}");
        assert!(answer.body.contains(part), "{path}");
    }
    assert_eq!(http(&console, "GET", "/nothing", &[], "").status, 404);
    // Only the names a browser on this machine uses for the console: not another site's name
    // pointed at 127.0.0.1.
    let localhost = format!("localhost:{}", console.port);
    assert_eq!(
        http(&console, "GET", "/api/config", &[("host", &localhost)], "").status,
        200
    );
    for host in ["evil.example", "evil.example:80", "127.0.0.1"] {
        let answer = http(&console, "GET", "/api/config", &[("host", host)], "");
        assert_eq!(answer.status, 403, "{host}");
    }
    assert_eq!(http(&console, "GET", "/api/apply", &[], "").status, 405);
}

#[test]
fn a_scheduled_route_comes_with_its_timeline_and_where_now_is() {
    let mut config = weights(100, 0);
    config["routes"][0]["schedule"] = json!({
        "start": "2020-01-01T00:00:00Z",
        "steps": [
            {"after": "0s", "weights": {"v1": 99, "v2": 1}},
            {"after": "10m", "weights": {"v1": 50, "v2": 50}},
        ],
    });
    let console = start(&config);
    let body = http(&console, "GET", "/api/config", &[], "").json();
    let mut timeline = body["routes"][0]["schedule"].clone();
    // This machine's clock is years past the last step: the last step's weights, now.
    let elapsed = timeline["now"]["elapsed_seconds"].as_u64().unwrap();
    assert!(elapsed > 5 * 365 * 86_400, "{elapsed}");
    let at = timeline["now"]["at"].as_str().unwrap().to_string();
    assert!(at.ends_with('Z') && at.as_str() > "2025-", "{at}");
    timeline["now"]["elapsed_seconds"] = json!(null);
    timeline["now"]["at"] = json!(null);
    assert_eq!(
        timeline,
        json!({
            "start": "2020-01-01T00:00:00Z",
            "linear": false,
            "own": {"v1": 100.0, "v2": 0.0},
            "steps": [
                {"after": "0s", "at": "2020-01-01T00:00:00Z", "weights": {"v1": 99.0, "v2": 1.0}},
                {"after": "10m", "at": "2020-01-01T00:10:00Z", "weights": {"v1": 50.0, "v2": 50.0}},
            ],
            "end": "2020-01-01T00:10:00Z",
            "now": {"at": null, "elapsed_seconds": null, "step": 1,
                    "text": "steps[1] (after 10m), the last", "weights": {"v1": 50.0, "v2": 50.0}},
        })
    );
    // A route without a schedule has no timeline; the page has the section, hidden until one.
    let plain = start(&weights(90, 10));
    let body = http(&plain, "GET", "/api/config", &[], "").json();
    assert_eq!(body["routes"][0].get("schedule"), None);
    let page = http(&console, "GET", "/", &[], "").body;
    assert!(page.contains(r#"<section id="schedule-section" hidden>"#));
    let script = http(&console, "GET", "/console.js", &[], "").body;
    assert!(script.contains("function renderSchedules(data)"));
    assert!(script.contains(r#"c.metric === "schedule_elapsed_seconds""#));
    // `which` answers with the weights of now too.
    let answer = http(&console, "POST", "/api/which", &[], r#"{"user": "alice"}"#).json();
    assert_eq!(answer["schedule"]["step"], 1);
}

#[test]
fn an_invalid_edit_is_refused_with_the_field_path_and_nothing_is_written() {
    let console = start(&weights(90, 10));
    let before = fs::read(&console.ecds).unwrap();
    let etag = http(&console, "GET", "/api/config", &[], "").etag.unwrap();
    let edit = weights(80, 30).to_string();
    let want = "routes[0].subsets: weights must sum to 100, got 110 (v1=80, v2=30)";
    let preview = http(&console, "POST", "/api/preview", &[], &edit);
    assert_eq!(
        (preview.status, preview.json()["error"].clone()),
        (422, json!(want))
    );
    let apply = http(
        &console,
        "POST",
        "/api/apply",
        &[("If-Match", &etag)],
        &edit,
    );
    assert_eq!(
        (apply.status, apply.json()["error"].clone()),
        (422, json!(want))
    );
    let unknown = http(
        &console,
        "POST",
        "/api/apply",
        &[("If-Match", &etag)],
        r#"{"routes":[],"x":1}"#,
    );
    assert_eq!(unknown.status, 422);
    assert!(unknown.json()["error"]
        .as_str()
        .unwrap()
        .starts_with("x: unknown field `x`"));
    let no_etag = http(
        &console,
        "POST",
        "/api/apply",
        &[],
        &weights(70, 30).to_string(),
    );
    assert_eq!(no_etag.status, 428);
    assert_eq!(
        fs::read(&console.ecds).unwrap(),
        before,
        "the ECDS file changed"
    );
}

#[test]
fn apply_writes_atomically_reports_envoys_verdict_and_a_stale_etag_gets_412() {
    let console = start(&weights(90, 10));
    let etag = http(&console, "GET", "/api/config", &[], "").etag.unwrap();
    let preview = http(
        &console,
        "POST",
        "/api/preview",
        &[],
        &weights(70, 30).to_string(),
    );
    assert_eq!(preview.status, 200);
    assert_eq!(
        preview.json()["preview"]["diff"]["routes"][0]["moves"],
        json!([{"from": "v1", "to": "v2", "buckets": 2000.0, "percent": 20.0, "backward": false}])
    );

    let apply = http(
        &console,
        "POST",
        "/api/apply",
        &[("If-Match", &etag)],
        &weights(70, 30).to_string(),
    );
    assert_eq!(apply.status, 200, "{}", apply.body);
    let body = apply.json();
    assert_eq!(body["envoy"]["verdict"], "accepted", "{body}");
    assert_eq!(body["version"], "2");
    assert_eq!(
        file_config(&console.ecds),
        (weights(70, 30), "2".to_string())
    );
    let new_etag = body["etag"].as_str().unwrap().to_string();
    assert_ne!(new_etag, etag);
    assert_eq!(
        http(&console, "GET", "/api/config", &[], "")
            .etag
            .as_deref(),
        Some(new_etag.as_str()),
        "the ETag is the file's"
    );
    assert_eq!(
        files_in(console.ecds.parent().unwrap()),
        ["sticky-canary.yaml"],
        "no staged file left in the watched directory"
    );

    // Another tab still holds the first ETag: its apply changes nothing.
    let written = fs::read(&console.ecds).unwrap();
    let stale = http(
        &console,
        "POST",
        "/api/apply",
        &[("If-Match", &etag)],
        &weights(50, 50).to_string(),
    );
    assert_eq!(stale.status, 412);
    assert_eq!(stale.json()["etag"], json!(new_etag));
    assert_eq!(fs::read(&console.ecds).unwrap(), written);

    // Envoy refuses a config the core accepts (here the stand-in does, for v2=13): the console
    // says so, with the log's reason; the file holds what was pushed, Envoy serves the previous.
    let rejected = http(
        &console,
        "POST",
        "/api/apply",
        &[("If-Match", &new_etag)],
        &weights(87, 13).to_string(),
    );
    assert_eq!(rejected.status, 200);
    let envoy = &rejected.json()["envoy"];
    assert_eq!(envoy["verdict"], "rejected", "{envoy}");
    assert!(envoy["detail"]
        .as_str()
        .unwrap()
        .contains("the previous config keeps serving"));
    assert_eq!(
        envoy["reason"],
        "[error][wasm] [source/y.cc:1] wasm log sticky_canary sticky_canary: invalid pluginConfig: fake\n\
         [warning][config] [source/x.cc:81] Filesystem config update rejected: Unable to create Wasm plugin sticky_canary",
        "the plugin's line first, each message once, no other levels"
    );
}

#[test]
fn stats_and_which_answer_from_the_admin_and_the_file() {
    let console = start(&weights(90, 10));
    let stats = http(&console, "GET", "/api/stats", &[], "");
    assert_eq!(stats.status, 200);
    let stats = stats.json();
    assert_eq!(
        stats["counters"],
        json!([{"metric": "requests_total", "route": "service-a", "subset": "v2", "labels": {"reason": "hash"}, "value": 7}])
    );
    assert_eq!(stats["ecds"]["update_success"], 0);
    let which = http(&console, "POST", "/api/which", &[], r#"{"user":"alice"}"#);
    assert_eq!(which.status, 200);
    let which = which.json();
    let bucket = sticky_canary_core::bucket(b"service-a", b"alice");
    assert_eq!(
        (
            which["subset"].clone(),
            which["reason"].clone(),
            which["bucket"].clone()
        ),
        (json!("v1"), json!("hash"), json!(bucket))
    );
}

/// Long enough for any answer on a loaded machine: past it the console counts as hung.
const HUNG: Duration = Duration::from_secs(60);

/// A connection that sends `bytes` and nothing more (the socket stays open unless
/// `half_close`), answering with its status line and body once the console closes it.
fn send_raw(console: &Console, bytes: &[u8], half_close: bool) -> TcpStream {
    let mut stream = TcpStream::connect(("127.0.0.1", console.port)).unwrap();
    stream.set_read_timeout(Some(HUNG)).unwrap();
    stream.write_all(bytes).unwrap();
    if half_close {
        stream.shutdown(Shutdown::Write).unwrap();
    }
    stream
}

fn answer_of(mut stream: TcpStream, what: &str) -> Answer {
    let mut raw = Vec::new();
    if let Err(e) = stream.read_to_end(&mut raw) {
        panic!(
            "{what}: no answer within {} s ({e}): the console hangs",
            HUNG.as_secs()
        );
    }
    let raw = String::from_utf8_lossy(&raw);
    let (head, body) = raw
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("{what}: not an HTTP answer: {raw:?}"));
    Answer {
        status: head.split_whitespace().nth(1).unwrap().parse().unwrap(),
        etag: None,
        body: body.to_string(),
    }
}

fn assert_alive(console: &mut Console) {
    assert!(console.process.running(), "the console exited");
    let page = answer_of(
        send_raw(
            console,
            format!("GET / HTTP/1.1\r\nhost: 127.0.0.1:{}\r\n\r\n", console.port).as_bytes(),
            false,
        ),
        "GET /",
    );
    assert_eq!(page.status, 200);
    assert!(page.body.contains("<title>sticky-canary console</title>"));
}

#[test]
fn a_body_declared_larger_than_the_cap_is_refused_before_it_is_read_and_the_console_lives() {
    let mut console = start(&weights(90, 10));
    // 2^62 bytes announced, one sent, then the write side closed: a reader that allocates what
    // is announced aborts the process.
    let huge = send_raw(
        &console,
        format!(
            "POST /x HTTP/1.1\r\nhost: 127.0.0.1:{}\r\ncontent-length: 4611686018427387904\r\n\r\nx",
            console.port
        )
        .as_bytes(),
        true,
    );
    let answer = answer_of(huge, "the 2^62-byte POST");
    assert_eq!(answer.status, 413, "{}", answer.body);
    assert_eq!(
        serde_json::from_str::<Value>(&answer.body).unwrap()["error"],
        "the body is larger than 1048576 bytes"
    );
    // Just over the cap, nothing of it sent, the socket left open: refused at once, not after
    // waiting for a body that never comes.
    let over = send_raw(
        &console,
        format!(
            "POST /api/preview HTTP/1.1\r\nhost: 127.0.0.1:{}\r\ncontent-length: 1048577\r\n\r\n",
            console.port
        )
        .as_bytes(),
        false,
    );
    assert_eq!(answer_of(over, "the 1 MiB + 1 POST").status, 413);
    assert_alive(&mut console);
}

#[test]
fn another_host_is_refused_before_the_body_is_read() {
    let mut console = start(&weights(90, 10));
    let before = fs::read(&console.ecds).unwrap();
    // The body is announced and never sent: the answer cannot wait for it.
    let foreign = send_raw(
        &console,
        b"POST /api/apply HTTP/1.1\r\nhost: evil.example\r\nif-match: \"x\"\r\ncontent-length: 100\r\n\r\n",
        false,
    );
    let answer = answer_of(foreign, "the foreign POST");
    assert_eq!(answer.status, 403, "{}", answer.body);
    let no_host = send_raw(
        &console,
        b"POST /api/apply HTTP/1.1\r\ncontent-length: 100\r\n\r\n",
        false,
    );
    assert_eq!(answer_of(no_host, "the POST without Host").status, 403);
    assert_eq!(fs::read(&console.ecds).unwrap(), before);
    assert_alive(&mut console);
}

#[test]
fn stalled_uploads_do_not_keep_the_page_from_being_served() {
    let mut console = start(&weights(90, 10));
    // Eight clients announce a body, send part of it and stall (their sockets stay open).
    let stalled: Vec<TcpStream> = (0..8)
        .map(|_| {
            send_raw(
                &console,
                format!(
                    "POST /api/preview HTTP/1.1\r\nhost: 127.0.0.1:{}\r\ncontent-length: 4096\r\n\r\n{{\"routes\"",
                    console.port
                )
                .as_bytes(),
                false,
            )
        })
        .collect();
    assert_alive(&mut console);
    drop(stalled);
}

#[test]
fn a_request_that_stops_halfway_is_answered_408_and_closed() {
    let console = start(&weights(90, 10));
    let head = send_raw(
        &console,
        format!("GET / HTTP/1.1\r\nhost: 127.0.0.1:{}\r\n", console.port).as_bytes(),
        false,
    );
    let body = send_raw(
        &console,
        format!(
            "POST /api/preview HTTP/1.1\r\nhost: 127.0.0.1:{}\r\ncontent-length: 10\r\n\r\n{{",
            console.port
        )
        .as_bytes(),
        false,
    );
    assert_eq!(answer_of(head, "the unfinished head").status, 408);
    assert_eq!(answer_of(body, "the unfinished body").status, 408);
}

#[test]
fn connections_past_the_cap_are_refused_with_503_until_others_close() {
    let mut console = start(&weights(90, 10));
    let port = console.port;
    // Each holds a connection (its head unfinished) well within the console's 10 s to finish.
    let held: Vec<TcpStream> = (0..32)
        .map(|_| send_raw(&console, b"GET / HTTP/1.1\r\n", false))
        .collect();
    let refused = answer_of(
        send_raw(
            &console,
            format!("GET / HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\n\r\n").as_bytes(),
            false,
        ),
        "the 33rd connection",
    );
    assert_eq!(refused.status, 503, "{}", refused.body);
    assert_eq!(
        serde_json::from_str::<Value>(&refused.body).unwrap()["error"],
        "the console has 32 connections open: try again"
    );
    drop(held);
    // The closed connections' threads notice and end; the next connection is served.
    let mut page = None;
    for _ in 0..600 {
        let answer = answer_of(
            send_raw(
                &console,
                format!("GET / HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\n\r\n").as_bytes(),
                false,
            ),
            "GET / after the others closed",
        );
        if answer.status != 503 {
            page = Some(answer.status);
            break;
        }
        thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(page, Some(200));
    assert_alive(&mut console);
}

#[test]
fn apply_keeps_the_files_mode_and_owner() {
    let console = start(&weights(90, 10));
    fs::set_permissions(&console.ecds, fs::Permissions::from_mode(0o600)).unwrap();
    // As root (a container's console), the file may belong to another user: it stays theirs.
    let root = fs::metadata(&console.ecds).unwrap().uid() == 0;
    if root {
        std::os::unix::fs::chown(&console.ecds, Some(65534), Some(65534)).unwrap();
    }
    let before = fs::metadata(&console.ecds).unwrap();
    let etag = http(&console, "GET", "/api/config", &[], "").etag.unwrap();
    let apply = http(
        &console,
        "POST",
        "/api/apply",
        &[("If-Match", &etag)],
        &weights(70, 30).to_string(),
    );
    assert_eq!(apply.status, 200, "{}", apply.body);
    assert_eq!(file_config(&console.ecds).1, "2");
    let after = fs::metadata(&console.ecds).unwrap();
    assert_ne!(after.ino(), before.ino(), "written by a rename");
    assert_eq!(after.mode() & 0o7777, 0o600);
    assert_eq!((after.uid(), after.gid()), (before.uid(), before.gid()));
    if root {
        assert_eq!(after.uid(), 65534);
    }
}

#[test]
fn a_write_by_another_while_an_apply_runs_is_not_overwritten() {
    let console = start(&weights(90, 10));
    let etag = http(&console, "GET", "/api/config", &[], "").etag.unwrap();
    // The other writer strikes during the apply's first call to Envoy's admin.
    let theirs = resource(&weights(60, 40));
    console.admin.lock().unwrap().write_on_next_stats = Some(theirs.clone());
    let apply = http(
        &console,
        "POST",
        "/api/apply",
        &[("If-Match", &etag)],
        &weights(70, 30).to_string(),
    );
    assert!(
        console.admin.lock().unwrap().write_on_next_stats.is_none(),
        "the apply never asked Envoy"
    );
    assert_eq!(apply.status, 412, "{}", apply.body);
    assert_eq!(fs::read_to_string(&console.ecds).unwrap(), theirs);
}

#[test]
fn a_stale_apply_is_refused_while_another_waits_for_envoys_verdict() {
    let console = start(&weights(90, 10));
    let etag = http(&console, "GET", "/api/config", &[], "").etag.unwrap();
    let before = fs::read(&console.ecds).unwrap();
    console.admin.lock().unwrap().hold_verdict = true;
    let (done, finished) = mpsc::channel();
    let port = console.port;
    let first_etag = etag.clone();
    thread::spawn(move || {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        let body = weights(70, 30).to_string();
        write!(
            stream,
            "POST /api/apply HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\nconnection: close\r\nif-match: {first_etag}\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut raw = String::new();
        let _ = stream.read_to_string(&mut raw);
        let _ = done.send(raw);
    });
    // The first apply has written; Envoy has not decided.
    let mut written = false;
    for _ in 0..1200 {
        if fs::read(&console.ecds).unwrap() != before {
            written = true;
            break;
        }
        thread::sleep(Duration::from_millis(50));
    }
    assert!(written, "the first apply never wrote");
    let stale = http(
        &console,
        "POST",
        "/api/apply",
        &[("If-Match", &etag)],
        &weights(50, 50).to_string(),
    );
    assert_eq!(stale.status, 412, "{}", stale.body);
    assert!(
        finished.try_recv().is_err(),
        "the stale apply was answered only after the first one's verdict"
    );
    console.admin.lock().unwrap().hold_verdict = false;
    let first = finished.recv_timeout(HUNG).unwrap();
    assert!(first.starts_with("HTTP/1.1 200"), "{first}");
    assert!(first.contains(r#""verdict":"accepted""#), "{first}");
    assert_eq!(file_config(&console.ecds).0, weights(70, 30));
}

#[test]
fn a_large_envoy_log_is_read_from_where_the_push_began() {
    let console = start(&weights(90, 10));
    // Months of Envoy's log (a sparse 1 TiB file): only what follows the push is read.
    fs::OpenOptions::new()
        .write(true)
        .open(&console.log)
        .unwrap()
        .set_len(1 << 40)
        .unwrap();
    let etag = http(&console, "GET", "/api/config", &[], "").etag.unwrap();
    let rejected = http(
        &console,
        "POST",
        "/api/apply",
        &[("If-Match", &etag)],
        &weights(87, 13).to_string(),
    );
    assert_eq!(rejected.status, 200, "{}", rejected.body);
    let envoy = &rejected.json()["envoy"];
    assert_eq!(envoy["verdict"], "rejected", "{envoy}");
    assert_eq!(
        envoy["reason"],
        "[error][wasm] [source/y.cc:1] wasm log sticky_canary sticky_canary: invalid pluginConfig: fake\n\
         [warning][config] [source/x.cc:81] Filesystem config update rejected: Unable to create Wasm plugin sticky_canary"
    );
}
