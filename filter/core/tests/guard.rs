//! The guard's state machine on a fake clock (whole seconds): the window, the trip, the
//! cool-down, the re-arm, several workers adding to one state, and the shared bytes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use sticky_canary_core::guard::{format_duration, parse_duration, Event};
use sticky_canary_core::{Guard, GuardState};

/// 5 % over a 30 s window, at least 100 responses, 300 s cool-down.
fn guard() -> Guard {
    Guard {
        subset: 1,
        max_error_rate: 0.05,
        min_requests: 100,
        window_secs: 30,
        cool_down_secs: 300,
    }
}

const T0: u64 = 1_700_000_000;

#[test]
fn trips_when_the_share_of_5xx_in_the_window_goes_above_the_bound() {
    let g = guard();
    let mut state = GuardState::default();
    // 10 s of 10 responses a second, 5 % of them errors: at the bound, not above.
    for s in 0..10 {
        state.record(&g, T0 + s, 20, 1);
        assert_eq!(state.evaluate(&g, T0 + s), Event::Unchanged, "second {s}");
    }
    assert_eq!(state.window(&g, T0 + 9), (200, 10));
    // One more error: 11 of 201.
    state.record(&g, T0 + 10, 1, 1);
    assert_eq!(
        state.evaluate(&g, T0 + 10),
        Event::Tripped {
            responses: 201,
            errors: 11,
            until: T0 + 310
        }
    );
    assert!(state.is_tripped());
    assert_eq!(state.tripped_until(), Some(T0 + 310));
}

#[test]
fn never_decides_on_fewer_than_min_requests() {
    let g = guard();
    let mut state = GuardState::default();
    state.record(&g, T0, 99, 99);
    assert_eq!(state.evaluate(&g, T0), Event::Unchanged);
    state.record(&g, T0 + 1, 1, 0);
    assert!(matches!(
        state.evaluate(&g, T0 + 1),
        Event::Tripped {
            responses: 100,
            errors: 99,
            ..
        }
    ));
}

#[test]
fn responses_older_than_the_window_no_longer_count() {
    let g = guard();
    let mut state = GuardState::default();
    // 90 errors at T0, then healthy traffic: the errors leave the window after 30 s.
    state.record(&g, T0, 90, 90);
    assert_eq!(state.evaluate(&g, T0), Event::Unchanged);
    state.record(&g, T0 + 29, 10, 0);
    assert_eq!(state.window(&g, T0 + 29), (100, 90));
    // The last second of the window still holds T0.
    let mut at_edge = state.clone();
    assert!(matches!(
        at_edge.evaluate(&g, T0 + 29),
        Event::Tripped { .. }
    ));
    state.record(&g, T0 + 30, 95, 0);
    assert_eq!(state.window(&g, T0 + 30), (105, 0));
    assert_eq!(state.evaluate(&g, T0 + 30), Event::Unchanged);
}

#[test]
fn cool_down_then_re_arm_with_an_empty_window() {
    let g = guard();
    let mut state = GuardState::default();
    state.record(&g, T0, 100, 100);
    assert!(matches!(state.evaluate(&g, T0), Event::Tripped { .. }));
    // While tripped nothing is recorded and nothing changes, whatever comes.
    for s in [1, 100, 299] {
        state.record(&g, T0 + s, 1000, 1000);
        assert_eq!(state.evaluate(&g, T0 + s), Event::Unchanged, "second {s}");
        assert!(state.is_tripped());
    }
    assert_eq!(state.evaluate(&g, T0 + 300), Event::Rearmed);
    assert!(!state.is_tripped());
    assert_eq!(state.window(&g, T0 + 300), (0, 0));
    // Watched again: the next bad window trips again.
    state.record(&g, T0 + 301, 100, 6);
    assert!(matches!(
        state.evaluate(&g, T0 + 301),
        Event::Tripped {
            responses: 100,
            errors: 6,
            ..
        }
    ));
}

#[test]
fn a_late_evaluation_re_arms_at_once() {
    let g = guard();
    let mut state = GuardState::default();
    state.record(&g, T0, 100, 100);
    assert!(matches!(state.evaluate(&g, T0), Event::Tripped { .. }));
    assert_eq!(state.evaluate(&g, T0 + 10_000), Event::Rearmed);
}

#[test]
fn two_workers_adding_to_one_state_trip_it_together() {
    // Each worker alone stays under min_requests; their sum trips.
    let g = guard();
    let mut shared = GuardState::default().encode();
    for (worker, now) in [(0, T0), (1, T0), (0, T0 + 1)] {
        let mut state = GuardState::decode(&shared).unwrap();
        state.record(&g, now, 40, 40);
        let event = state.evaluate(&g, now);
        shared = state.encode();
        if (worker, now) == (0, T0 + 1) {
            assert!(
                matches!(
                    event,
                    Event::Tripped {
                        responses: 120,
                        errors: 120,
                        ..
                    }
                ),
                "{event:?}"
            );
        } else {
            assert_eq!(event, Event::Unchanged);
        }
    }
    assert!(GuardState::decode(&shared).unwrap().is_tripped());
}

#[test]
fn a_worker_whose_clock_reads_an_earlier_second_adds_to_that_second() {
    let g = guard();
    let mut state = GuardState::default();
    state.record(&g, T0 + 5, 10, 1);
    state.record(&g, T0 + 3, 10, 2);
    state.record(&g, T0 + 5, 10, 3);
    assert_eq!(state.window(&g, T0 + 5), (30, 6));
    let bytes = state.encode();
    assert_eq!(GuardState::decode(&bytes).unwrap(), state);
}

#[test]
fn the_shared_bytes_round_trip_and_anything_else_is_no_state() {
    let g = guard();
    let mut state = GuardState::default();
    state.record(&g, T0, 7, 3);
    state.record(&g, T0 + 1, 5, 0);
    let bytes = state.encode();
    assert_eq!(bytes.len(), 4 + 8 + 4 + 2 * 24);
    assert_eq!(GuardState::decode(&bytes).unwrap(), state);
    let mut tripped = state.clone();
    tripped.record(&g, T0 + 2, 100, 100);
    tripped.evaluate(&g, T0 + 2);
    assert_eq!(GuardState::decode(&tripped.encode()).unwrap(), tripped);

    assert_eq!(GuardState::decode(b""), None);
    assert_eq!(GuardState::decode(b"SCG0\0\0\0\0\0\0\0\0\0\0\0\0"), None);
    assert_eq!(GuardState::decode(&bytes[..bytes.len() - 1]), None);
    let mut longer = bytes.clone();
    longer.push(0);
    assert_eq!(GuardState::decode(&longer), None);
}

#[test]
fn error_counts_never_exceed_responses_and_counts_saturate() {
    let g = guard();
    let mut state = GuardState::default();
    state.record(&g, T0, 10, 50);
    assert_eq!(state.window(&g, T0), (10, 10));
    state.record(&g, T0, u64::MAX, 0);
    assert_eq!(state.window(&g, T0), (u64::MAX, 10));
}

#[test]
fn a_rate_of_0_trips_on_one_error_and_a_rate_of_1_never() {
    let mut g = guard();
    g.min_requests = 1;
    g.max_error_rate = 0.0;
    let mut state = GuardState::default();
    state.record(&g, T0, 1000, 0);
    assert_eq!(state.evaluate(&g, T0), Event::Unchanged);
    state.record(&g, T0, 1, 1);
    assert!(matches!(state.evaluate(&g, T0), Event::Tripped { .. }));

    g.max_error_rate = 1.0;
    let mut state = GuardState::default();
    state.record(&g, T0, 1000, 1000);
    assert_eq!(state.evaluate(&g, T0), Event::Unchanged);
}

#[test]
fn durations_are_whole_seconds_minutes_or_hours() {
    for (text, secs) in [
        ("30s", 30),
        ("5m", 300),
        ("1h", 3600),
        ("0s", 0),
        ("90s", 90),
    ] {
        assert_eq!(parse_duration(text), Ok(secs), "{text}");
    }
    for text in [
        "",
        "30",
        "s",
        "1.5m",
        "500ms",
        "30 s",
        " 30s",
        "-1s",
        "5M",
        "1d",
        "9999999999s",
    ] {
        assert_eq!(
            parse_duration(text),
            Err(format!("\"{text}\" is not a duration: a whole number of seconds, minutes or hours such as \"30s\", \"5m\", \"1h\"")),
            "{text}"
        );
    }
    assert_eq!(format_duration(300), "5m");
    assert_eq!(format_duration(90), "90s");
    assert_eq!(format_duration(86_400), "24h");
}
