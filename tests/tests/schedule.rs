//! `schedule` in Envoy with two workers and a schedule of seconds: the split passes through
//! every step exactly (each user on the subset the step's weights give their bucket), no user
//! ever moves back on a worker, and a tripped guard holds the ramp: past the step's time the
//! weights stay, and after the cool-down the ramp resumes from where it held.
//!
//! Nothing here asserts a duration: each state is polled for, in paced rounds of requests, until a
//! generous deadline, and the times lie far enough apart that a slow machine only makes the test
//! take longer.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeSet, HashMap};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use sticky_canary_core::time::format_rfc3339;
use sticky_canary_core::Config;
use sticky_canary_e2e::upstream::{Behaviour, Upstream};
use sticky_canary_e2e::{Client, Delivery, Envoy, EnvoyOptions};

const SOCKET: &str = "v2-scripted.sock";
const DEADLINE: Duration = Duration::from_secs(90);
/// Between two rounds of requests: traffic enough to see every tick, not a flood.
const PAUSE: Duration = Duration::from_millis(50);

/// One Envoy with two workers at a time, as the guard's tests do.
fn one_at_a_time() -> MutexGuard<'static, ()> {
    static TURN: Mutex<()> = Mutex::new(());
    TURN.lock().unwrap_or_else(|e| e.into_inner())
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// A whole second `ahead` seconds from now.
fn start_in(ahead: u64) -> u64 {
    (now_ms() / 1000 + ahead) * 1000
}

/// v1=100 v2=0 on x-user-id, with this schedule; `extra` route keys merged in.
fn config(start_ms: u64, steps: Value, extra: Value) -> String {
    let mut config = json!({"routes": [{
        "name": "service-a",
        "subsets": [{"name": "v1", "weight": 100}, {"name": "v2", "weight": 0}],
        "stickiness": {"keys": [{"header": "x-user-id"}], "fallback": "stable"},
        "schedule": {"start": format_rfc3339(start_ms), "steps": steps},
    }]});
    for (k, v) in extra.as_object().unwrap() {
        config["routes"][0][k] = v.clone();
    }
    config.to_string()
}

fn users(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("user-{i}")).collect()
}

/// The users (indexes) the contract puts on v2 when v2 has `v2_hundredths`: the newest subset
/// owns the buckets below its weight.
fn on_v2(config: &str, users: &[String], v2_hundredths: u16) -> BTreeSet<usize> {
    let compiled = Config::from_json(config.as_bytes()).unwrap();
    let route = &compiled.routes[0];
    (0..users.len())
        .filter(|&u| route.bucket_of(users[u].as_bytes()) < v2_hundredths)
        .collect()
}

/// Each user once on each worker: `served[worker][user]`, and every answer in the order sent
/// (worker, user, subset).
struct Rounds {
    clients: Vec<Client>,
    users: Vec<String>,
    seen: Vec<(usize, usize, String)>,
}

impl Rounds {
    fn new(envoy: &Envoy, users: &[String]) -> Rounds {
        Rounds {
            clients: envoy.one_client_per_worker(),
            users: users.to_vec(),
            seen: Vec::new(),
        }
    }

    fn round(&mut self) -> Vec<Vec<String>> {
        let mut served = Vec::new();
        for (worker, client) in self.clients.iter_mut().enumerate() {
            let mut on_worker = Vec::new();
            for (user, id) in self.users.iter().enumerate() {
                let response = client.get("/", &[("x-user-id", id.as_bytes())]);
                assert_eq!(response.status, 200, "{id} on worker {worker}");
                let by = response.served_by().to_string();
                self.seen.push((worker, user, by.clone()));
                on_worker.push(by);
            }
            served.push(on_worker);
        }
        std::thread::sleep(PAUSE);
        served
    }

    /// Rounds until one puts exactly `expected` on v2 and everyone else on v1, on every worker.
    fn until_split(&mut self, what: &str, expected: &BTreeSet<usize>) {
        let begun = Instant::now();
        loop {
            let served = self.round();
            let exact = served.iter().all(|on_worker| {
                on_worker
                    .iter()
                    .enumerate()
                    .all(|(user, by)| by == if expected.contains(&user) { "v2" } else { "v1" })
            });
            if exact {
                return;
            }
            assert!(
                begun.elapsed() < DEADLINE,
                "no round with {what} within {} s; last: {served:?}",
                DEADLINE.as_secs()
            );
        }
    }
}

fn weight(envoy: &Envoy, subset: &str) -> u64 {
    envoy.stat(&format!(
        "wasmcustom.sticky_canary.weight.route.service-a.subset.{subset}"
    ))
}

#[test]
fn the_split_passes_through_every_step_and_no_user_moves_back() {
    let _turn = one_at_a_time();
    let start = start_in(10);
    let config = config(
        start,
        json!([
            {"after": "0s", "weights": {"v1": 90, "v2": 10}},
            {"after": "6s", "weights": {"v1": 60, "v2": 40}},
            {"after": "12s", "weights": {"v1": 0, "v2": 100}},
        ]),
        json!({}),
    );
    let envoy = EnvoyOptions::scenario(Delivery::Inline, &config)
        .concurrency(2)
        .access_log(false)
        .start();
    let users = users(100);
    let phases = [0u16, 1000, 4000, 10000].map(|w| on_v2(&config, &users, w));
    // Each step moves users: the check below cannot pass on a split that never changed.
    assert!(
        phases.windows(2).all(|p| p[0].len() < p[1].len()),
        "{phases:?}"
    );
    let mut rounds = Rounds::new(&envoy, &users);
    for (phase, expected) in phases.iter().enumerate() {
        if phase == 0 && now_ms() + 2_000 > start {
            // Envoy took long to start: the route's own weights are (nearly) over.
            continue;
        }
        rounds.until_split(
            &format!(
                "the split of phase {phase} ({} users on v2)",
                expected.len()
            ),
            expected,
        );
    }
    // On each worker, a user once served by v2 is never served by v1 again.
    let mut on_v2_at: HashMap<(usize, usize), usize> = HashMap::new();
    for (i, (worker, user, by)) in rounds.seen.iter().enumerate() {
        match by.as_str() {
            "v2" => {
                on_v2_at.entry((*worker, *user)).or_insert(i);
            }
            "v1" => assert!(
                !on_v2_at.contains_key(&(*worker, *user)),
                "user-{user} moved back to v1 on worker {worker} (v2 at answer {}, v1 at {i})",
                on_v2_at[&(*worker, *user)]
            ),
            other => panic!("served by {other:?}"),
        }
    }
    envoy.wait_for("the weight gauges at the last step", DEADLINE, |e| {
        (weight(e, "v1"), weight(e, "v2")) == (0, 10000)
    });
}

#[test]
fn a_tripped_guard_holds_the_ramp_and_it_resumes_where_it_held() {
    let _turn = one_at_a_time();
    let start = start_in(5);
    let config = config(
        start,
        json!([
            {"after": "0s", "weights": {"v1": 50, "v2": 50}},
            {"after": "12s", "weights": {"v1": 0, "v2": 100}},
        ]),
        json!({"guard": {"subset": "v2", "maxErrorRate": 0.05, "minRequests": 5,
                         "window": "2s", "coolDown": "15s"}}),
    );
    let envoy = EnvoyOptions::scenario(Delivery::Inline, &config)
        .concurrency(2)
        .access_log(false)
        .edit_bootstrap(|bootstrap, dir| {
            bootstrap.point_cluster_at_pipe("service-a-v2", &dir.join(SOCKET));
        })
        .start();
    let upstream = Upstream::start_at(&envoy.dir().join(SOCKET), "v2", Behaviour::FailEvery(1));
    let users = users(40);
    let mut rounds = Rounds::new(&envoy, &users);

    // v2 fails from the first step on: the guard trips and the schedule's clock holds.
    let held_line = |e: &Envoy| {
        e.log().lines().find_map(|l| {
            let rest = l
                .split("sticky-canary: schedule of route service-a held ")
                .nth(1)?;
            Some(rest.to_string())
        })
    };
    let begun = Instant::now();
    while held_line(&envoy).is_none() {
        // Requests only: a failing v2 answers 500, which is what trips the guard.
        for (worker, client) in rounds.clients.iter_mut().enumerate() {
            for id in &users {
                let status = client.get("/", &[("x-user-id", id.as_bytes())]).status;
                assert!(
                    status == 200 || status == 500,
                    "{id} on worker {worker}: {status}"
                );
            }
        }
        std::thread::sleep(PAUSE);
        assert!(begun.elapsed() < DEADLINE, "no hold; log:\n{}", envoy.log());
    }
    let held = held_line(&envoy).unwrap();
    let held_at: u64 = held
        .strip_suffix(" s in: its guard has tripped")
        .unwrap_or_else(|| panic!("{held}"))
        .parse()
        .unwrap();
    assert!(
        held_at < 12,
        "the guard tripped {held_at} s into the schedule, after the step it was to hold back"
    );
    upstream.set(Behaviour::Answer);

    // Past the 12 s step in wall time, before the cool-down (15 s) can have ended: held, the
    // weights are still the first step's on both workers, and v2's users are on v1 (guard).
    while now_ms() < start + 14_000 {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!((weight(&envoy, "v1"), weight(&envoy, "v2")), (5000, 5000));
    let elapsed = envoy.stat("wasmcustom.sticky_canary.schedule_elapsed_seconds.route.service-a");
    assert!(
        elapsed <= held_at + 1,
        "{elapsed} s into the schedule, held at {held_at}"
    );
    rounds.until_split("every user on v1 (the guard)", &BTreeSet::new());

    // The guard re-arms and the clock runs again from where it held.
    let resumed = format!(
        "sticky-canary: schedule of route service-a resumes {held_at} s in: its guard re-armed"
    );
    envoy.wait_for("the schedule resumed", DEADLINE, |e| {
        e.log().contains(&resumed)
    });
    // Then the ramp goes on to its last step: every user on v2, on both workers.
    let all = (0..users.len()).collect::<BTreeSet<usize>>();
    rounds.until_split("every user on v2", &all);
    assert_eq!((weight(&envoy, "v1"), weight(&envoy, "v2")), (0, 10000));
    let holds = envoy
        .log()
        .matches("schedule of route service-a held")
        .count();
    assert_eq!(holds, 1, "one hold, logged by the worker that held it");
}

/// The README's example compiles to the steps it shows, and the error it quotes for a step back is
/// the core's own.
#[test]
fn the_readme_example_is_valid_and_its_error_is_the_cores() {
    let section =
        sticky_canary_e2e::fixtures::readme_section("## A schedule: a rollout that ramps itself");
    let mut plugin_config: Value = sticky_canary_e2e::fixtures::first_yaml_example(&section);
    let compiled = Config::from_json(plugin_config.to_string().as_bytes()).unwrap();
    let schedule = compiled.routes[0].schedule.as_ref().unwrap();
    assert_eq!(format_rfc3339(schedule.start_ms), "2026-12-07T09:00:00Z");
    let steps: Vec<(u32, Vec<u16>)> = schedule
        .steps
        .iter()
        .map(|s| (s.after_secs, s.weights.clone()))
        .collect();
    assert_eq!(
        steps,
        [
            (0, vec![9900, 100]),
            (600, vec![9500, 500]),
            (1800, vec![7500, 2500]),
            (3600, vec![0, 10000])
        ]
    );
    plugin_config["routes"][0]["schedule"]["steps"][2]["weights"] = json!({"v1": 97, "v2": 3});
    let error = Config::from_json(plugin_config.to_string().as_bytes())
        .unwrap_err()
        .to_string();
    let quoted: String = section
        .split("e.g.\n`")
        .nth(1)
        .unwrap()
        .split('`')
        .next()
        .unwrap()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert_eq!(error, quoted);
}
