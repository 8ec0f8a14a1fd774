//! `routes[].guard`: the error-rate bound that steps a route back to its stable subset.

use super::subsets::unknown_subset;
use super::{ConfigError, Subset};
use crate::guard::{format_duration, parse_duration, Guard, MAX_COOL_DOWN_SECS, MAX_WINDOW_SECS};
use crate::schema::GuardConfig;

/// Default `minRequests`, `window` and `coolDown` of a guard.
pub const GUARD_DEFAULT_MIN_REQUESTS: u64 = 100;
pub const GUARD_DEFAULT_WINDOW_SECS: u32 = 30;
pub const GUARD_DEFAULT_COOL_DOWN_SECS: u32 = 300;

pub(super) fn compile(
    path: &str,
    raw: GuardConfig,
    subsets: &[Subset],
    stable_subset: usize,
) -> Result<Guard, ConfigError> {
    let subset = subsets
        .iter()
        .position(|s| s.name == raw.subset)
        .ok_or_else(|| unknown_subset(&format!("{path}.subset"), &raw.subset, subsets))?;
    if subset == stable_subset {
        return Err(ConfigError::new(
            format!("{path}.subset"),
            format!(
                "\"{}\" is the route's stable subset (the first with a weight above 0), where a tripped guard sends the canary's users: guard a newer subset",
                raw.subset
            ),
        ));
    }
    let rate = raw.max_error_rate;
    if !(0.0..=1.0).contains(&rate) {
        return Err(ConfigError::new(
            format!("{path}.maxErrorRate"),
            format!("{rate} is out of range: a share of responses from 0 to 1 (0.05 is 5 %)"),
        ));
    }
    let min_requests = raw.min_requests.unwrap_or(GUARD_DEFAULT_MIN_REQUESTS);
    if min_requests == 0 {
        return Err(ConfigError::new(
            format!("{path}.minRequests"),
            "must be at least 1: a guard decides on at least one response",
        ));
    }
    let window = duration(
        &format!("{path}.window"),
        raw.window.as_deref(),
        GUARD_DEFAULT_WINDOW_SECS,
        MAX_WINDOW_SECS,
    )?;
    let cool_down = duration(
        &format!("{path}.coolDown"),
        raw.cool_down.as_deref(),
        GUARD_DEFAULT_COOL_DOWN_SECS,
        MAX_COOL_DOWN_SECS,
    )?;
    Ok(Guard {
        subset,
        max_error_rate: rate,
        min_requests,
        window_secs: window,
        cool_down_secs: cool_down,
    })
}

/// A guard's duration field: 1 s up to `max`.
fn duration(path: &str, raw: Option<&str>, default: u32, max: u32) -> Result<u32, ConfigError> {
    let Some(text) = raw else {
        return Ok(default);
    };
    let secs = parse_duration(text).map_err(|reason| ConfigError::new(path, reason))?;
    if secs == 0 {
        return Err(ConfigError::new(
            path,
            format!("\"{text}\" must be at least 1s"),
        ));
    }
    if secs > max {
        return Err(ConfigError::new(
            path,
            format!(
                "\"{text}\" is longer than {}, the most it may be",
                format_duration(max)
            ),
        ));
    }
    Ok(secs)
}
