//! What a config change may do to the traffic that flows through it: a ramp moves users only
//! forward, and a worker switches from the old config to the new one once, between two requests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::ops::RangeInclusive;
use std::time::Duration;

use crate::envoy::Envoy;
use crate::oracle::{subset_of, user_moving};
use crate::traffic::{Recorded, Traffic};

/// Makes `push` (an ECDS push from `old` to `new`) while `traffic` flows over `background`: waits
/// until every background user was served before it, until ECDS accepts it, until the worker
/// routes with it (a user whom `new` moves from v1 to v2 is served by v2 on another connection),
/// and until every background user was served once more. Returns the window the switch must lie
/// in (see [`assert_one_switch`]).
pub fn push_while_flowing(
    envoy: &mut Envoy,
    traffic: &Traffic,
    background: &[String],
    (old, new): (&str, &str),
    push: impl FnOnce(&mut Envoy),
) -> RangeInclusive<usize> {
    traffic.wait_until_answered(background.len());
    let accepted = envoy.ecds_stat("update_success");
    let before_push = traffic.answered();
    push(envoy);
    envoy.wait_for(
        "the new config to be accepted",
        Duration::from_secs(15),
        |e| e.ecds_stat("update_success") > accepted,
    );
    wait_until_routing_follows(envoy, background, old, new);
    let following = traffic.answered();
    traffic.wait_until_answered(following + 1 + background.len());
    before_push..=following + 1
}

/// Waits until the worker routes with `new` (ECDS accepts a config on the main thread a moment
/// before the workers use it): a user of `users` whom `new` moves from v1 to v2 is served by v2.
pub fn wait_until_routing_follows(envoy: &Envoy, users: &[String], old: &str, new: &str) {
    let mover = user_moving(users, old, new, ("v1", "v2"));
    let mut client = envoy.front();
    envoy.wait_for(
        "the worker to route with the new config",
        Duration::from_secs(20),
        |_| {
            client
                .get("/", &[("x-user-id", mover.as_bytes())])
                .served_by()
                == "v2"
        },
    );
}

/// Each user's furthest subset so far, in a ramp that only ever gives weight to later subsets
/// (v1 -> v2): a user may move forward, never back.
pub struct ForwardOnly {
    order: Vec<String>,
    furthest: Vec<Option<usize>>,
}

impl ForwardOnly {
    /// `order`: the subsets, earliest first; users are indexes below `users`.
    pub fn new(order: &[&str], users: usize) -> ForwardOnly {
        ForwardOnly {
            order: order.iter().map(|s| s.to_string()).collect(),
            furthest: vec![None; users],
        }
    }

    /// Records that `user` was served by `subset`; an error says how it moved back.
    pub fn observe(&mut self, user: usize, subset: &str) -> Result<(), String> {
        let Some(now) = self.order.iter().position(|s| s == subset) else {
            return Err(format!("user {user}: unknown subset {subset:?}"));
        };
        match self.furthest[user] {
            Some(before) if before > now => Err(format!(
                "user {user} moved back from {} to {subset}",
                self.order[before]
            )),
            _ => {
                self.furthest[user] = Some(now);
                Ok(())
            }
        }
    }
}

/// Checks a recording through one worker across one config change from `old` to `new`: there is
/// an index k such that every request before k got its user's subset under `old` and every
/// request from k on its subset under `new` (a worker switches once, between two requests), and k
/// lies in `window` (requests answered before the push could only see `old`, requests sent after
/// the new config was seen routing only `new`). Every user must appear before and after the
/// window, so some users' requests tell the configs apart on both sides. Returns the possible k.
pub fn assert_one_switch(
    recorded: &Recorded,
    users: &[String],
    old: &str,
    new: &str,
    window: RangeInclusive<usize>,
) -> RangeInclusive<usize> {
    recorded.assert_no_failures();
    let under: Vec<(String, String)> = users
        .iter()
        .map(|id| (subset_of(old, id), subset_of(new, id)))
        .collect();
    let served = recorded.served();
    let describe = |i: usize| {
        let (user, got) = served[i];
        let (before, after) = &under[user];
        format!(
            "request #{i} (user {}) got {got}; old config: {before}, new config: {after}",
            users[user]
        )
    };
    let movers = |range: &[(usize, &str)]| {
        range
            .iter()
            .filter(|(user, _)| under[*user].0 != under[*user].1)
            .count()
    };
    assert!(
        *window.start() <= *window.end() && *window.end() <= served.len(),
        "window {window:?} outside the {} requests",
        served.len()
    );
    assert!(
        movers(&served[..*window.start()]) > 0 && movers(&served[*window.end()..]) > 0,
        "no request before or after the window {window:?} tells the configs apart"
    );

    // Valid switch points: after the last request that does not fit `new`, up to the first
    // that does not fit `old`.
    let first_not_old = served
        .iter()
        .position(|(user, got)| *got != under[*user].0.as_str())
        .unwrap_or(served.len());
    let after_last_not_new = served
        .iter()
        .rposition(|(user, got)| *got != under[*user].1.as_str())
        .map_or(0, |i| i + 1);
    assert!(
        after_last_not_new <= first_not_old,
        "not one switch: {} (so the new config was in force), yet later {}",
        describe(first_not_old),
        describe(after_last_not_new - 1)
    );
    let possible = after_last_not_new.max(*window.start())..=first_not_old.min(*window.end());
    assert!(
        possible.start() <= possible.end(),
        "the switch happened at {after_last_not_new}..={first_not_old}, outside the push window {window:?}"
    );
    possible
}

/// Checks that every recorded request got its user's subset under `config`.
pub fn assert_all_under(recorded: &Recorded, users: &[String], config: &str) {
    recorded.assert_no_failures();
    let expected: Vec<String> = users.iter().map(|id| subset_of(config, id)).collect();
    for (i, (user, got)) in recorded.served().into_iter().enumerate() {
        assert_eq!(got, expected[user], "request #{i} (user {})", users[user]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::service_a_config;
    use crate::traffic::Sample;
    use std::time::Instant;

    #[test]
    fn a_user_may_move_forward_but_not_back() {
        let mut forward = ForwardOnly::new(&["v1", "v2"], 2);
        assert_eq!(forward.observe(0, "v1"), Ok(()));
        assert_eq!(forward.observe(0, "v2"), Ok(()));
        assert_eq!(forward.observe(0, "v2"), Ok(()));
        assert_eq!(
            forward.observe(0, "v1"),
            Err("user 0 moved back from v2 to v1".to_string())
        );
        assert_eq!(forward.observe(1, "v2"), Ok(()));
        assert!(forward.observe(1, "v3").is_err());
    }

    /// Users, and a recording of them round-robin: `switch` requests under 10 %, then 50 %.
    fn recording(switch: usize, total: usize) -> (Vec<String>, Recorded, String, String) {
        let (old, new) = (service_a_config(10), service_a_config(50));
        let users: Vec<String> = (0..100).map(|i| format!("u-{i}")).collect();
        let samples = (0..total)
            .map(|i| {
                let user = i % users.len();
                let config = if i < switch { &old } else { &new };
                let subset = subset_of(config, &users[user]);
                Sample {
                    at: Instant::now(),
                    worker: 0,
                    user,
                    status: 200,
                    received_subset: Some(subset.clone()),
                    served_by: subset,
                }
            })
            .collect();
        (users, Recorded { samples }, old, new)
    }

    /// Request `i` served by `subset`, as routed.
    fn serve(recorded: &mut Recorded, i: usize, subset: String) {
        recorded.samples[i].received_subset = Some(subset.clone());
        recorded.samples[i].served_by = subset;
    }

    #[test]
    fn one_switch_inside_the_window_passes() {
        let (users, recorded, old, new) = recording(250, 500);
        let possible = assert_one_switch(&recorded, &users, &old, &new, 200..=300);
        assert!(possible.contains(&250), "{possible:?}");
    }

    #[test]
    #[should_panic(expected = "outside the push window")]
    fn a_switch_before_the_push_fails() {
        let (users, recorded, old, new) = recording(150, 500);
        assert_one_switch(&recorded, &users, &old, &new, 200..=300);
    }

    #[test]
    #[should_panic(expected = "not one switch")]
    fn a_request_back_on_the_old_config_fails() {
        let (users, mut recorded, old, new) = recording(250, 500);
        let mover = (260..500)
            .find(|&i| {
                let user = &users[recorded.samples[i].user];
                subset_of(&old, user) != subset_of(&new, user)
            })
            .unwrap();
        let user = recorded.samples[mover].user;
        serve(&mut recorded, mover, subset_of(&old, &users[user]));
        assert_one_switch(&recorded, &users, &old, &new, 200..=300);
    }

    #[test]
    #[should_panic(expected = "request #")]
    fn a_request_on_neither_config_fails_the_steady_check() {
        let (users, mut recorded, old, _) = recording(500, 500);
        let user = recorded.samples[7].user;
        let other = if subset_of(&old, &users[user]) == "v1" {
            "v2"
        } else {
            "v1"
        };
        serve(&mut recorded, 7, other.into());
        assert_all_under(&recorded, &users, &old);
    }
}
