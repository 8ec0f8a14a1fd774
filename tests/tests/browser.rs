//! The demo in headless Chromium (Debian's `chromium`, driven by playwright-core from
//! tests/browser): the pages (an id cookie, the same picture over reloads, 300 fresh browsers
//! split as weighted) and the console (apply moves the live chart, a user keeps B, an invalid
//! edit is refused with nothing written, two tabs cannot both apply). `make test` installs
//! Chromium and playwright-core (`make browser-deps`). With SCREENSHOTS set to a directory, the
//! same run saves the screenshots README shows (`make screenshots`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use sticky_canary_core::Config;
use sticky_canary_e2e::demo::{demo_plugin_config, expected, Demo, READY_TIMEOUT};
use sticky_canary_e2e::repo_root;

const CONSOLE: &str = env!("CARGO_BIN_EXE_sticky-canary-e2e-cli");
/// Each script is bounded; a loaded machine gets this long before the run counts as hung.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(900);
/// The demo's id cookie (`stickiness.assign.cookie` of envoy/demo/filters/sticky-canary.yaml).
const ID_COOKIE: &str = "uid";

fn browser_dir() -> PathBuf {
    repo_root().join("tests/browser")
}

fn chromium() -> PathBuf {
    std::env::var_os("CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"))
}

/// Runs one script of tests/browser with node; its output, and whether it passed.
fn node(script: &str, env: &[(&str, String)]) -> (bool, String) {
    let mut child = Command::new("node")
        .arg(browser_dir().join(script))
        .current_dir(browser_dir())
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .env("CHROMIUM", chromium())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node (Node.js) must be installed");
    let read_all = |mut pipe: Box<dyn Read + Send>| {
        thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        })
    };
    let readers = [
        read_all(Box::new(child.stdout.take().unwrap())),
        read_all(Box::new(child.stderr.take().unwrap())),
    ];
    let deadline = Instant::now() + SCRIPT_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        thread::sleep(Duration::from_millis(100));
    };
    let output = readers.map(|r| r.join().unwrap());
    let text = format!("{script}:\n{}{}", output[0], output[1]);
    match status {
        Some(status) => (status.success(), text),
        None => (
            false,
            format!("{text}\n{script} still ran after {SCRIPT_TIMEOUT:?}"),
        ),
    }
}

/// Ten users whose requests go exactly 10% to v2 at the demo's v2=10 and 30% at v2=30: the
/// console's live split of their traffic has one right answer before and after the change.
fn traffic_users(config: &str) -> Vec<String> {
    let before = Config::from_json(config.as_bytes()).unwrap();
    let mut after: serde_json::Value = serde_json::from_str(config).unwrap();
    after["routes"][0]["subsets"][0]["weight"] = 70.into();
    after["routes"][0]["subsets"][1]["weight"] = 30.into();
    let after = Config::from_json(after.to_string().as_bytes()).unwrap();
    let (mut stays_v2, mut moves, mut stays_v1) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0.. {
        let user = format!("browser-traffic-{i}");
        let headers = [("x-user-id", user.as_str())];
        match (
            expected(&before, "/", &headers).as_str(),
            expected(&after, "/", &headers).as_str(),
        ) {
            ("v2", "v2") if stays_v2.is_empty() => stays_v2.push(user),
            ("v1", "v2") if moves.len() < 2 => moves.push(user),
            ("v1", "v1") if stays_v1.len() < 7 => stays_v1.push(user),
            _ => {}
        }
        if stays_v2.len() + moves.len() + stays_v1.len() == 10 {
            break;
        }
    }
    // Spread over the cycle, so a one-second window of it is close to the whole.
    let mut cycle = stays_v1;
    cycle.insert(0, stays_v2.remove(0));
    cycle.insert(4, moves.remove(0));
    cycle.insert(7, moves.remove(0));
    cycle
}

#[test]
fn the_demo_pages_and_the_console_in_headless_chromium() {
    assert!(
        chromium().exists(),
        "no Chromium at {}: `make browser-deps` (part of `make test`) installs it",
        chromium().display()
    );
    assert!(
        browser_dir().join("node_modules/playwright-core").exists(),
        "no playwright-core in tests/browser/node_modules: `make browser-deps` (part of `make test`) installs it"
    );
    let screenshots = std::env::var("SCREENSHOTS").ok();
    let config = demo_plugin_config();
    let v2_weight = serde_json::from_str::<serde_json::Value>(&config).unwrap()["routes"][0]
        ["subsets"][1]["weight"]
        .to_string();
    let ports = sticky_canary_e2e::demo::free_ports(1);
    let mut demo = Demo::start(ports, Path::new(CONSOLE));
    demo.read_until("Ready:", READY_TIMEOUT);
    let front = format!("http://127.0.0.1:{}", ports[0]);
    let console = demo.url_of("the console");

    let mut env = vec![
        ("FRONT", front),
        ("ID_COOKIE", ID_COOKIE.to_string()),
        ("V2_WEIGHT", v2_weight),
    ];
    if let Some(dir) = &screenshots {
        env.push(("SCREENSHOTS", dir.clone()));
    }
    let (pages_passed, pages) = node("pages.mjs", &env);
    println!("{pages}");
    env.extend([
        ("CONSOLE", console),
        ("ECDS_FILE", demo.ecds_file().display().to_string()),
        (
            "USERS",
            serde_json::to_string(&traffic_users(&config)).unwrap(),
        ),
    ]);
    let (console_passed, console) = node("console.mjs", &env);
    println!("{console}");
    assert!(
        pages_passed && console_passed,
        "{pages}\n{console}\n{}",
        demo.transcript()
    );
}
