//! `routes[].schedule`: a start time and steps of weights, each a full set over the route's
//! subsets, each moving users only forward from the point before it (see [`crate::schedule`]).

use super::subsets::{hundredths, percent, percent_u32, unknown_subset};
use super::{Bucketing, ConfigError, Subset};
use crate::guard::{format_duration, parse_duration};
use crate::hash::BUCKETS;
use crate::schedule::{newer_sums, Schedule, Step};
use crate::schema::{ScheduleConfig, WeightsConfig};
use crate::time::parse_rfc3339;

#[inline(never)] // kept out of line for V8 at load: see `compile` in config/mod.rs
pub(super) fn compile(
    path: &str,
    raw: ScheduleConfig,
    subsets: &[Subset],
    bucketing: &Bucketing,
) -> Result<Schedule, ConfigError> {
    let start_ms = parse_rfc3339(&raw.start)
        .map_err(|reason| ConfigError::new(format!("{path}.start"), reason))?;
    if raw.steps.is_empty() {
        return Err(ConfigError::new(
            format!("{path}.steps"),
            "must list at least one step",
        ));
    }
    let whole_percents = matches!(bucketing, Bucketing::Unleash { .. });
    let own: Vec<u16> = subsets.iter().map(|s| s.weight).collect();
    let mut steps: Vec<Step> = Vec::with_capacity(raw.steps.len());
    for (i, step) in raw.steps.into_iter().enumerate() {
        let here = format!("{path}.steps[{i}]");
        let after_secs = parse_duration(&step.after)
            .map_err(|reason| ConfigError::new(format!("{here}.after"), reason))?;
        if let Some(previous) = steps.last() {
            if after_secs <= previous.after_secs {
                return Err(ConfigError::new(
                    format!("{here}.after"),
                    format!(
                        "{} is not after steps[{}] ({}): steps are listed in the order they apply",
                        format_duration(after_secs),
                        i - 1,
                        format_duration(previous.after_secs)
                    ),
                ));
            }
        }
        let field = format!("{here}.weights");
        let weights = step_weights(&field, step.weights, subsets, whole_percents)?;
        let (before, what) = match steps.last() {
            Some(previous) => (&previous.weights, format!("steps[{}]", i - 1)),
            None => (&own, "the route's own weights".to_string()),
        };
        forward_only(&field, before, &weights, &what, subsets)?;
        steps.push(Step {
            after_secs,
            weights,
        });
    }
    Ok(Schedule {
        start_ms,
        linear: raw.linear.unwrap_or(false),
        own,
        steps,
        granularity: if whole_percents { 100 } else { 1 },
    })
}

/// A step's weights in the route's subset order: every subset once, summing to 100.
#[inline(never)] // kept out of line for V8 at load: see `compile` in config/mod.rs
fn step_weights(
    path: &str,
    raw: WeightsConfig,
    subsets: &[Subset],
    whole_percents: bool,
) -> Result<Vec<u16>, ConfigError> {
    let mut weights: Vec<Option<u16>> = vec![None; subsets.len()];
    for (name, weight) in raw.0 {
        let field = format!("{path}.{name}");
        let index = subsets
            .iter()
            .position(|s| s.name == name)
            .ok_or_else(|| unknown_subset(&field, &name, subsets))?;
        let hundredths = hundredths(&field, weight, "a weight")?;
        if whole_percents && hundredths % 100 != 0 {
            return Err(ConfigError::new(
                field,
                format!(
                    "{} is not a whole percent, which unleash bucketing needs",
                    percent(hundredths)
                ),
            ));
        }
        match weights.get_mut(index) {
            Some(slot @ None) => *slot = Some(hundredths),
            _ => return Err(ConfigError::new(field, "is listed twice")),
        }
    }
    let mut complete = Vec::with_capacity(subsets.len());
    for (subset, weight) in subsets.iter().zip(&weights) {
        match weight {
            Some(w) => complete.push(*w),
            None => {
                return Err(ConfigError::new(
                    path,
                    format!(
                        "no weight for \"{}\": a step gives every subset of the route its weight",
                        subset.name
                    ),
                ))
            }
        }
    }
    let total: u32 = complete.iter().map(|&w| u32::from(w)).sum();
    if total != BUCKETS {
        let listed = subsets
            .iter()
            .zip(&complete)
            .map(|(s, &w)| format!("{}={}", s.name, percent(w)))
            .collect::<Vec<_>>()
            .join(", ");
        return Err(ConfigError::new(
            path,
            format!(
                "weights must sum to 100, got {} ({listed})",
                percent_u32(total)
            ),
        ));
    }
    Ok(complete)
}

/// Refuses weights under which some user would move to an older subset: the weight of a subset
/// and every subset listed after it (its "newer sum") must not shrink from `before` to `after`.
#[inline(never)] // kept out of line for V8 at load: see `compile` in config/mod.rs
fn forward_only(
    path: &str,
    before: &[u16],
    after: &[u16],
    what: &str,
    subsets: &[Subset],
) -> Result<(), ConfigError> {
    let (old, new) = (newer_sums(before), newer_sums(after));
    let shrinks = old
        .iter()
        .zip(&new)
        .zip(subsets)
        .find(|((old, new), _)| new < old);
    match shrinks {
        None => Ok(()),
        Some(((&old, &new), subset)) => {
            Err(ConfigError::new(
                path,
                format!(
                    "moves users back: \"{}\" and the subsets listed after it would drop from {} ({what}) to {}; a step may only move weight to subsets listed later",
                    subset.name,
                    percent_u32(old),
                    percent_u32(new),
                ),
            ))
        }
    }
}
