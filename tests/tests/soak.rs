//! `make soak`: a million requests from many users through the filter in the real Envoy while
//! ECDS ramps the canary up every few seconds. Not part of `make test` (minutes, not seconds).
//!
//! Proves: no response other than 200, each served by the subset the filter wrote, no user ever
//! moved back from v2 to v1 while the weight only rose, every user on the final config's subset
//! at the end, the VM never replaced, and Envoy's RSS at the end within 5 % of its value after
//! warm-up. Tunable: SOAK_REQUESTS (default 1,000,000), SOAK_PUSH_SECONDS (default 3).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use sticky_canary_e2e::ramp::ForwardOnly;
use sticky_canary_e2e::{service_a_config, subset_of, Client, Delivery, Envoy};

const CONNECTIONS: usize = 4;
const USERS: usize = 40_000;
const WARM_UP_SHARE: u64 = 10;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[derive(Default)]
struct Tally {
    sent: u64,
    non_2xx: u64,
    mismatched: u64,
    backwards: u64,
    examples: Vec<String>,
}

/// One connection's share of the users, so each user's requests are strictly sequential and
/// a later request can never have been decided under an older config.
fn drive(port: u16, lane: usize, quota: u64, done: Arc<AtomicU64>, stop: Arc<AtomicBool>) -> Tally {
    let users: Vec<String> = (lane..USERS)
        .step_by(CONNECTIONS)
        .map(|i| format!("soak-user-{i}"))
        .collect();
    let mut forward = ForwardOnly::new(&["v1", "v2"], users.len());
    let mut client = Client::new(port);
    let mut tally = Tally::default();
    let mut rng: u64 = 0x9e37_79b9_7f4a_7c15 ^ (lane as u64 + 1);
    while tally.sent < quota && !stop.load(Ordering::Relaxed) {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let index = (rng % users.len() as u64) as usize;
        let id = &users[index];
        let response = client.get("/", &[("x-user-id", id.as_bytes())]);
        tally.sent += 1;
        done.fetch_add(1, Ordering::Relaxed);
        let note = |tally: &mut Tally, what: String| {
            if tally.examples.len() < 5 {
                tally.examples.push(what);
            }
        };
        if response.status != 200 {
            tally.non_2xx += 1;
            note(&mut tally, format!("{id}: status {}", response.status));
            continue;
        }
        let served = response.header("x-served-by").unwrap_or("");
        if response.received_subset() != Some(served) {
            tally.mismatched += 1;
            note(
                &mut tally,
                format!(
                    "{id}: served by {served:?}, header {:?}",
                    response.received_subset()
                ),
            );
        }
        // A missing x-served-by is counted as mismatched above.
        if served.is_empty() {
            continue;
        }
        if let Err(moved_back) = forward.observe(index, served) {
            tally.backwards += 1;
            note(&mut tally, format!("{id}: {moved_back}"));
        }
    }
    tally
}

#[test]
#[ignore = "minutes long: run with `make soak`"]
fn a_million_requests_under_a_ramp() {
    let total = env_u64("SOAK_REQUESTS", 1_000_000);
    let push_every = Duration::from_secs(env_u64("SOAK_PUSH_SECONDS", 3));
    let mut weight = 0;
    let mut envoy = Envoy::start_without_access_log(Delivery::Ecds, &service_a_config(weight));
    let wasm_at_start = envoy.wasm_vm_stats();

    let done = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let per_lane = total / CONNECTIONS as u64;
    let lanes: Vec<_> = (0..CONNECTIONS)
        .map(|lane| {
            let (done, stop, port) = (done.clone(), stop.clone(), envoy.front_port());
            thread::spawn(move || drive(port, lane, per_lane, done, stop))
        })
        .collect();

    let started = Instant::now();
    let mut last_push = Instant::now();
    let mut pushes = 0;
    let mut rss_after_warm_up = None;
    let mut rss_peak = 0;
    while lanes.iter().any(|l| !l.is_finished()) {
        thread::sleep(Duration::from_millis(100));
        let sent = done.load(Ordering::Relaxed);
        if rss_after_warm_up.is_none() && sent >= total / WARM_UP_SHARE {
            rss_after_warm_up = Some((envoy.rss_kib(), sent));
        }
        rss_peak = rss_peak.max(envoy.rss_kib());
        if last_push.elapsed() >= push_every && weight < 100 {
            // Up by 2 points every push: the ramp only ever moves users forward.
            weight += 2;
            let accepted = envoy.ecds_stat("update_success");
            envoy.push_ecds(&service_a_config(weight));
            pushes += 1;
            last_push = Instant::now();
            envoy.wait_for("the ramp step to be taken", Duration::from_secs(15), |e| {
                e.ecds_stat("update_success") > accepted
            });
        }
    }
    let elapsed = started.elapsed();
    let tallies: Vec<Tally> = lanes.into_iter().map(|l| l.join().unwrap()).collect();
    stop.store(true, Ordering::Relaxed);
    let rss_end = envoy.rss_kib();

    let sum = |f: fn(&Tally) -> u64| tallies.iter().map(f).sum::<u64>();
    let (sent, non_2xx, mismatched, backwards) = (
        sum(|t| t.sent),
        sum(|t| t.non_2xx),
        sum(|t| t.mismatched),
        sum(|t| t.backwards),
    );
    let examples: Vec<&String> = tallies.iter().flat_map(|t| &t.examples).take(10).collect();

    // Every user lands where the final config puts it.
    let final_config = service_a_config(weight);
    let mut client = envoy.front();
    let mut final_wrong = 0;
    for i in (0..USERS).step_by(7) {
        let id = format!("soak-user-{i}");
        let want = subset_of(&final_config, &id);
        if client.get("/", &[("x-user-id", id.as_bytes())]).served_by() != want {
            final_wrong += 1;
        }
    }

    let (rss_warm, warm_at) = rss_after_warm_up.expect("warm-up never ended");
    let rss_change = (rss_end as f64 - rss_warm as f64) / rss_warm as f64 * 100.0;
    let rejected = envoy.ecds_stat("update_rejected");
    println!(
        "soak: {sent} requests in {:.1} s ({:.0}/s) over {CONNECTIONS} connections, {USERS} users",
        elapsed.as_secs_f64(),
        sent as f64 / elapsed.as_secs_f64()
    );
    println!(
        "soak: {pushes} ECDS pushes every {} s, v2 weight 0 -> {weight} %, {rejected} rejected",
        push_every.as_secs()
    );
    println!("soak: non-2xx {non_2xx}, served != routing header {mismatched}, v2 -> v1 moves {backwards}, wrong after the ramp {final_wrong}");
    println!("soak: Envoy RSS {rss_warm} KiB after warm-up ({warm_at} requests), {rss_end} KiB at the end ({rss_change:+.2} %), peak {rss_peak} KiB");
    println!(
        "soak: Wasm VM stats at start {wasm_at_start:?}, at the end {:?}",
        envoy.wasm_vm_stats()
    );

    assert_eq!(sent, per_lane * CONNECTIONS as u64);
    assert_eq!(non_2xx, 0, "{examples:?}");
    assert_eq!(mismatched, 0, "{examples:?}");
    assert_eq!(backwards, 0, "{examples:?}");
    assert_eq!(final_wrong, 0);
    assert_eq!(rejected, 0);
    assert!(
        pushes >= 3,
        "only {pushes} pushes: the run was too short to ramp"
    );
    assert!(
        rss_change.abs() <= 5.0,
        "RSS moved {rss_change:+.2} % after warm-up"
    );
    // Envoy 1.40 creates one VM per accepted ECDS push (same code, new configuration) and
    // retires the old one; any other VM creation would be a replacement after a failure.
    let stat = |stats: &[(String, u64)], name: &str| {
        stats
            .iter()
            .find(|(n, _)| n.ends_with(name))
            .map_or(0, |(_, v)| *v)
    };
    let wasm_at_end = envoy.wasm_vm_stats();
    assert_eq!(
        stat(&wasm_at_end, ".active"),
        stat(&wasm_at_start, ".active")
    );
    assert_eq!(
        stat(&wasm_at_end, ".created"),
        stat(&wasm_at_start, ".created") + pushes,
        "a Wasm VM was created other than by a push"
    );
    let log = envoy.log();
    assert!(
        !log.contains("panicked") && !log.contains("failed"),
        "{log}"
    );
}
