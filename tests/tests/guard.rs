//! The guard and the per-subset health counters in Envoy with two workers: a v2 that answers 500
//! trips the guard within window + 2 s, no hashed user reaches v2 during the cool-down, then
//! exactly the contract's v2 users return; a healthy v2, a v2 failing 3 % under a 5 % bound and
//! fewer responses than minRequests never trip; a local 503 (connect failure, reset before
//! headers) counts as 5xx.
//!
//! The tests take turns: each runs an Envoy with two workers and two load threads, and the trip
//! bound is only meaningful when they do not compete with each other for the two cores.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashSet;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::json;
use sticky_canary_e2e::traffic::{Sample, Traffic};
use sticky_canary_e2e::upstream::{Behaviour, Upstream};
use sticky_canary_e2e::{subset_of, Delivery, Envoy, EnvoyOptions};

const SOCKET: &str = "v2-scripted.sock";
const WINDOW: Duration = Duration::from_secs(5);
const COOL_DOWN: Duration = Duration::from_secs(8);

fn one_at_a_time() -> MutexGuard<'static, ()> {
    static TURN: Mutex<()> = Mutex::new(());
    TURN.lock().unwrap_or_else(|e| e.into_inner())
}

/// 50/50 on x-user-id; route extras merged in.
fn config(extra: serde_json::Value) -> String {
    let mut config = json!({
        "routes": [{
            "name": "service-a",
            "subsets": [{"name": "v1", "weight": 50}, {"name": "v2", "weight": 50}],
            "stickiness": {"keys": [{"header": "x-user-id"}], "fallback": "stable"}
        }]
    });
    for (k, v) in extra.as_object().unwrap() {
        config["routes"][0][k] = v.clone();
    }
    config.to_string()
}

fn guarded(min_requests: u64) -> String {
    config(json!({"guard": {
        "subset": "v2", "maxErrorRate": 0.05, "minRequests": min_requests,
        "window": format!("{}s", WINDOW.as_secs()), "coolDown": format!("{}s", COOL_DOWN.as_secs())
    }}))
}

/// Envoy with `workers` workers whose v2 cluster is the test's scripted upstream (started
/// separately, see [`scripted`]).
fn envoy(config: &str, workers: u32) -> Envoy {
    envoy_by(Delivery::Inline, config, workers)
}

fn envoy_by(delivery: Delivery, config: &str, workers: u32) -> Envoy {
    EnvoyOptions::scenario(delivery, config)
        .concurrency(workers)
        .access_log(false)
        .edit_bootstrap(|bootstrap, dir| {
            bootstrap.point_cluster_at_pipe("service-a-v2", &dir.join(SOCKET));
        })
        .start()
}

fn scripted(envoy: &Envoy, behaviour: Behaviour) -> Upstream {
    Upstream::start_at(&envoy.dir().join(SOCKET), "v2", behaviour)
}

fn users(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("user-{i}")).collect()
}

fn stat_name(kind: &str, tail: &str) -> String {
    format!("wasmcustom.sticky_canary.{kind}.route.service-a.{tail}")
}

fn responses(envoy: &Envoy, subset: &str, class: &str) -> u64 {
    envoy.stat(&stat_name(
        "responses_total",
        &format!("subset.{subset}.class.{class}"),
    ))
}

fn trips(envoy: &Envoy) -> u64 {
    envoy.stat(&stat_name("guard_tripped_total", "subset.v2"))
}

fn guard_state(envoy: &Envoy) -> u64 {
    envoy.stat(&stat_name("guard_state", "subset.v2"))
}

/// Waits until v2's counted responses (all classes) reach `count`: every response so far has
/// been handed over, and so merged into the guard's window on the same tick.
fn wait_for_v2_responses(envoy: &Envoy, count: u64) {
    envoy.wait_for(
        &format!("{count} v2 responses counted"),
        Duration::from_secs(30),
        |e| {
            ["2xx", "3xx", "4xx", "5xx"]
                .iter()
                .map(|c| responses(e, "v2", c))
                .sum::<u64>()
                >= count
        },
    );
}

/// For every worker, the first sample at or after `since` that `hit` picks.
fn on_every_worker(
    samples: &[Sample],
    workers: usize,
    since: Instant,
    hit: impl Fn(&Sample) -> bool,
) -> Option<Instant> {
    (0..workers)
        .map(|w| {
            samples
                .iter()
                .find(|s| s.worker == w && s.at >= since && hit(s))
                .map(|s| s.at)
        })
        .collect::<Option<Vec<_>>>()
        .and_then(|times| times.into_iter().max())
}

fn guard_warnings(envoy: &Envoy) -> Vec<String> {
    envoy
        .log()
        .lines()
        .filter(|l| l.contains("guard tripped on route"))
        .map(str::to_string)
        .collect()
}

#[test]
fn a_failing_v2_trips_the_guard_within_window_plus_2s_and_its_users_return_after_the_cool_down() {
    let _turn = one_at_a_time();
    let config = guarded(20);
    let envoy = envoy(&config, 2);
    let upstream = scripted(&envoy, Behaviour::FailEvery(1));
    let users = users(40);
    let on_v2: HashSet<usize> = (0..users.len())
        .filter(|&u| subset_of(&config, &users[u]) == "v2")
        .collect();
    assert!(on_v2.len() >= 10 && on_v2.len() <= 30, "{}", on_v2.len());
    let load = Traffic::on_every_worker(&envoy, &users);

    let first_failure = load.wait_for("a failing response", Duration::from_secs(30), |s| {
        s.iter().find(|s| s.status == 500).map(|s| s.at)
    });
    // Tripped: on both workers a v2 user is served by v1, after the first failure.
    let bound = WINDOW + Duration::from_secs(2);
    let tripped = load.wait_for("the trip on both workers", bound * 4, |s| {
        on_every_worker(s, 2, first_failure, |s| {
            on_v2.contains(&s.user) && s.served_by == "v1"
        })
    });
    assert!(
        tripped.duration_since(first_failure) <= bound,
        "tripped on both workers {:?} after the first failing response (bound {bound:?})",
        tripped.duration_since(first_failure)
    );
    // v2 is healthy again, so that its users stay once they are back.
    upstream.set(Behaviour::Answer);

    let back = load.wait_for(
        "v2's users back on both workers",
        COOL_DOWN + Duration::from_secs(30),
        |s| {
            on_every_worker(s, 2, tripped, |s| {
                on_v2.contains(&s.user) && s.served_by == "v2"
            })
        },
    );
    let samples = load.finish().samples;
    // The re-arm comes at the earliest cool-down - 1 s (the host clock's whole seconds) after
    // the trip, and the trip came after the first failure was counted.
    let earliest_back = first_failure + COOL_DOWN - Duration::from_millis(1500);
    let early: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.at >= tripped && s.at < earliest_back)
        .filter(|s| on_v2.contains(&s.user) && s.served_by != "v1")
        .collect();
    assert!(
        early.is_empty(),
        "{} requests of v2's users were not served by v1 during the cool-down: {:?}",
        early.len(),
        &early[..early.len().min(3)]
    );
    let during = samples
        .iter()
        .filter(|s| s.at >= tripped && s.at < earliest_back)
        .count();
    assert!(during > 100, "only {during} requests during the cool-down");
    assert!(back > earliest_back);
    // Nobody else moved: v1's users stayed on v1 throughout.
    assert!(samples
        .iter()
        .filter(|s| !on_v2.contains(&s.user))
        .all(|s| s.served_by == "v1" && s.status == 200));

    // Exactly the users the contract puts on v2 are back on it, on both workers.
    for mut client in envoy.one_client_per_worker() {
        for user in &users {
            let response = client.get("/", &[("x-user-id", user.as_bytes())]);
            assert_eq!(response.status, 200, "{user}");
            assert_eq!(response.served_by(), subset_of(&config, user), "{user}");
        }
    }
    envoy.wait_for("the gauge back at 0", Duration::from_secs(30), |e| {
        guard_state(e) == 0
    });
    assert_eq!(trips(&envoy), 1, "one trip, counted once for both workers");
    let warnings = guard_warnings(&envoy);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].contains(
            "sticky-canary: guard tripped on route service-a: subset v2 answered "
        ) && warnings[0].contains(
            "responses with 5xx (100.0 %) in the last 5s, above maxErrorRate 0.05 (minRequests 20); its users go to v1 for 8s"
        ),
        "{}",
        warnings[0]
    );
    let stepped_back = envoy.stat(&stat_name("requests_total", "subset.v1.reason.guard"));
    assert!(stepped_back > 0);
}

/// Load on both workers until v2 answered `v2_responses` counted responses and window + 2 s
/// passed (the time in which a failing v2 trips); then what the load saw.
fn steady_load(envoy: &Envoy, users: &[String], v2_responses: u64) -> Vec<Sample> {
    let load = Traffic::on_every_worker(envoy, users);
    let start = Instant::now();
    wait_for_v2_responses(envoy, v2_responses);
    let span = WINDOW + Duration::from_secs(2);
    load.wait_for(
        "window + 2 s of load",
        span + Duration::from_secs(30),
        |_| (start.elapsed() >= span).then_some(()),
    );
    load.finish().samples
}

#[test]
fn a_healthy_v2_under_the_same_load_never_trips() {
    let _turn = one_at_a_time();
    let config = guarded(20);
    let envoy = envoy(&config, 2);
    let upstream = scripted(&envoy, Behaviour::Answer);
    let users = users(40);
    let samples = steady_load(&envoy, &users, 1_000);
    for s in &samples {
        assert_eq!(s.status, 200);
        assert_eq!(s.served_by, subset_of(&config, &users[s.user]), "{s:?}");
    }
    wait_for_v2_responses(&envoy, upstream.received_count());
    assert_eq!(responses(&envoy, "v2", "2xx"), upstream.received_count());
    assert_eq!(responses(&envoy, "v2", "5xx"), 0);
    assert_eq!((trips(&envoy), guard_state(&envoy)), (0, 0));
}

#[test]
fn a_v2_failing_3_percent_never_trips_a_5_percent_guard_and_10_percent_does() {
    let _turn = one_at_a_time();
    // At least 200 responses per decision: 3 % of any 200 consecutive requests is at most 7
    // failures (every 33rd), 3.5 %.
    let config = guarded(200);
    let envoy = envoy(&config, 2);
    let upstream = scripted(&envoy, Behaviour::FailEvery(33));
    let users = users(40);
    let samples = steady_load(&envoy, &users, 3_000);
    for s in &samples {
        assert_eq!(s.served_by, subset_of(&config, &users[s.user]), "{s:?}");
    }
    wait_for_v2_responses(&envoy, upstream.received_count());
    let received = upstream.received_count();
    assert_eq!(responses(&envoy, "v2", "5xx"), upstream.failed());
    assert_eq!(upstream.failed(), received / 33);
    assert_eq!(responses(&envoy, "v2", "2xx"), received - received / 33);
    assert_eq!((trips(&envoy), guard_state(&envoy)), (0, 0));

    // The same load at 10 % trips it: the 3 % run was watched, not ignored.
    upstream.set(Behaviour::FailEvery(10));
    let load = Traffic::on_every_worker(&envoy, &users);
    envoy.wait_for("the trip at 10 %", Duration::from_secs(60), |e| {
        trips(e) == 1
    });
    load.finish();
}

#[test]
fn fewer_responses_than_min_requests_never_trip() {
    let _turn = one_at_a_time();
    let config = guarded(20);
    let envoy = envoy(&config, 2);
    let _upstream = scripted(&envoy, Behaviour::FailEvery(1));
    let on_v2: Vec<String> = users(200)
        .into_iter()
        .filter(|u| subset_of(&config, u) == "v2")
        .collect();
    let mut clients = envoy.one_client_per_worker();
    // 17 failing responses, spread over both workers.
    for (i, user) in on_v2.iter().cycle().take(17).enumerate() {
        let response = clients[i % 2].get("/", &[("x-user-id", user.as_bytes())]);
        assert_eq!((response.status, response.served_by()), (500, "v2"));
    }
    // Counted: merged into the window and evaluated on the tick that handed them over.
    wait_for_v2_responses(&envoy, 17);
    for client in &mut clients {
        let response = client.get("/", &[("x-user-id", on_v2[0].as_bytes())]);
        assert_eq!((response.status, response.served_by()), (500, "v2"));
    }
    wait_for_v2_responses(&envoy, 19);
    assert_eq!(responses(&envoy, "v2", "5xx"), 19);
    assert_eq!((trips(&envoy), guard_state(&envoy)), (0, 0));
    assert!(guard_warnings(&envoy).is_empty());
}

#[test]
fn a_local_503_from_the_router_counts_as_5xx() {
    let _turn = one_at_a_time();
    let config = config(json!({"health": true}));
    let envoy = envoy(&config, 1);
    let v2 = users(100)
        .into_iter()
        .find(|u| subset_of(&config, u) == "v2")
        .unwrap();
    let v1 = users(100)
        .into_iter()
        .find(|u| subset_of(&config, u) == "v1")
        .unwrap();
    let mut client = envoy.front();
    let mut get = |user: &str| client.get("/", &[("x-user-id", user.as_bytes())]);
    // Nothing listens on v2's socket: the connection fails.
    for _ in 0..3 {
        let response = get(&v2);
        assert_eq!(response.status, 503);
        assert_eq!(response.header("x-served-by"), None);
    }
    assert_eq!(get(&v1).served_by(), "v1");
    // The upstream closes each connection once a request arrived: reset before any headers.
    let upstream = scripted(&envoy, Behaviour::Reset);
    let mut client = envoy.front();
    for _ in 0..4 {
        let response = client.get("/", &[("x-user-id", v2.as_bytes())]);
        assert_eq!(response.status, 503);
        let body = String::from_utf8_lossy(&response.body).into_owned();
        assert!(
            body.starts_with("upstream connect error or disconnect/reset before headers"),
            "{body}"
        );
    }
    assert_eq!(upstream.received_count(), 4);
    wait_for_v2_responses(&envoy, 7);
    assert_eq!(responses(&envoy, "v2", "5xx"), 7);
    assert_eq!(responses(&envoy, "v2", "2xx"), 0);
    assert_eq!(responses(&envoy, "v1", "2xx"), 1);
    assert!(envoy.stat("cluster.service-a-v2.upstream_cx_connect_fail") >= 3);
}

#[test]
fn an_ecds_push_keeps_a_trip_unless_it_changes_the_guard() {
    let _turn = one_at_a_time();
    let with = |v2: u32, rate: f64| {
        let mut config: serde_json::Value = serde_json::from_str(&config(json!({"guard": {
            "subset": "v2", "maxErrorRate": rate, "minRequests": 10, "window": "5s", "coolDown": "1h"
        }})))
        .unwrap();
        config["routes"][0]["subsets"] =
            json!([{"name": "v1", "weight": 100 - v2}, {"name": "v2", "weight": v2}]);
        config.to_string()
    };
    let first = with(50, 0.05);
    let mut envoy = envoy_by(Delivery::Ecds, &first, 1);
    let _upstream = scripted(&envoy, Behaviour::FailEvery(1));
    let on_v2: Vec<String> = users(200)
        .into_iter()
        .filter(|u| subset_of(&first, u) == "v2")
        .collect();
    let mut client = envoy.front();
    for user in on_v2.iter().take(10) {
        let response = client.get("/", &[("x-user-id", user.as_bytes())]);
        assert_eq!((response.status, response.served_by()), (500, "v2"));
    }
    envoy.wait_for("the trip", Duration::from_secs(30), |e| trips(e) == 1);
    let served = |client: &mut sticky_canary_e2e::Client, user: &str| {
        client
            .get("/", &[("x-user-id", user.as_bytes())])
            .served_by()
            .to_string()
    };
    assert_eq!(served(&mut client, &on_v2[0]), "v1");
    let stepped_back = |e: &Envoy| {
        e.stat("wasmcustom.sticky_canary.requests_total.route.service-a.subset.v1.reason.guard")
    };
    envoy.wait_for("one guard decision counted", Duration::from_secs(30), |e| {
        stepped_back(e) == 1
    });

    // A ramp to 60 % keeps the trip: the same guard, the same shared state.
    let ramp = with(60, 0.05);
    envoy.push_ecds(&ramp);
    let moved = users(200)
        .into_iter()
        .find(|u| subset_of(&first, u) == "v1" && subset_of(&ramp, u) == "v2")
        .unwrap();
    // The first config hashes this user to v1 (reason hash); the ramp to v2, which the kept trip
    // steps back to v1 (reason guard).
    envoy.wait_for(
        "the ramp to decide, tripped",
        Duration::from_secs(30),
        |e| {
            assert_eq!(served(&mut e.front(), &moved), "v1");
            stepped_back(e) >= 2
        },
    );
    for user in on_v2.iter().chain([&moved]) {
        assert_eq!(served(&mut client, user), "v1", "{user}");
    }

    // A changed guard starts armed: v2's users reach the (still failing) v2 again.
    let looser = with(60, 0.5);
    envoy.push_ecds(&looser);
    envoy.wait_for("the new guard", Duration::from_secs(30), |e| {
        e.ecds_stat("update_success") >= 3
    });
    envoy.wait_for("v2's users back on v2", Duration::from_secs(30), |e| {
        let mut c = e.front();
        served(&mut c, &moved) == "v2"
    });
    for user in on_v2.iter().take(3) {
        let response = client.get("/", &[("x-user-id", user.as_bytes())]);
        assert_eq!(
            (response.status, response.served_by()),
            (500, "v2"),
            "{user}"
        );
    }
}
