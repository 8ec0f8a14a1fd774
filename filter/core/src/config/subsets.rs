//! `routes[].subsets` and their weights, kept exactly as hundredths of a percent.

use super::names::check_name;
use super::{ConfigError, Subset};
use crate::hash::BUCKETS;
use crate::schema::SubsetConfig;

pub(super) fn unknown_subset(path: &str, name: &str, subsets: &[Subset]) -> ConfigError {
    ConfigError::new(
        path,
        format!(
            "unknown subset \"{name}\" (this route has {})",
            known_subsets(subsets)
        ),
    )
}

fn known_subsets(subsets: &[Subset]) -> String {
    subsets
        .iter()
        .map(|s| format!("\"{}\"", s.name))
        .collect::<Vec<_>>()
        .join(", ")
}

#[inline(never)] // kept out of line for V8 at load: see `compile` in config/mod.rs
pub(super) fn compile_subsets(
    path: &str,
    raw: Vec<SubsetConfig>,
) -> Result<Vec<Subset>, ConfigError> {
    if raw.is_empty() {
        return Err(ConfigError::new(
            format!("{path}.subsets"),
            "must list at least one subset",
        ));
    }
    let mut subsets: Vec<Subset> = Vec::with_capacity(raw.len());
    let mut total: u32 = 0;
    for (i, subset) in raw.into_iter().enumerate() {
        let here = format!("{path}.subsets[{i}]");
        check_name(&format!("{here}.name"), &subset.name)?;
        if let Some(first) = subsets.iter().position(|s| s.name == subset.name) {
            return Err(ConfigError::new(
                format!("{here}.name"),
                format!(
                    "duplicate subset name \"{}\" (also subsets[{first}])",
                    subset.name
                ),
            ));
        }
        let weight = weight_hundredths(&format!("{here}.weight"), subset.weight)?;
        total += u32::from(weight);
        subsets.push(Subset {
            name: subset.name,
            weight,
        });
    }
    if total != BUCKETS {
        let listed = subsets
            .iter()
            .map(|s| format!("{}={}", s.name, percent(s.weight)))
            .collect::<Vec<_>>()
            .join(", ");
        return Err(ConfigError::new(
            format!("{path}.subsets"),
            format!(
                "weights must sum to 100, got {} ({listed})",
                percent_u32(total)
            ),
        ));
    }
    Ok(subsets)
}

/// A weight is a percent with at most two decimals, stored exactly as hundredths.
fn weight_hundredths(path: &str, weight: f64) -> Result<u16, ConfigError> {
    hundredths(path, weight, "a weight")
}

/// A percent with at most two decimals, stored exactly as hundredths; `what` names it.
pub(super) fn hundredths(path: &str, weight: f64, what: &str) -> Result<u16, ConfigError> {
    if !(0.0..=100.0).contains(&weight) {
        return Err(ConfigError::new(
            path,
            format!("{weight} is out of range: {what} is a percent from 0 to 100"),
        ));
    }
    let scaled = weight * 100.0;
    let rounded = scaled.round();
    if (scaled - rounded).abs() > 1e-6 {
        return Err(ConfigError::new(
            path,
            format!("{weight} has more than two decimals"),
        ));
    }
    // 0 <= rounded <= 10_000 was checked above.
    Ok(rounded as u16)
}

/// A weight in hundredths as the admin wrote it: 1000 -> "10", 3333 -> "33.33", 3330 -> "33.3".
pub fn percent(hundredths: u16) -> String {
    percent_u32(u32::from(hundredths))
}

pub(super) fn percent_u32(hundredths: u32) -> String {
    if hundredths % 100 == 0 {
        format!("{}", hundredths / 100)
    } else {
        format!("{}.{:02}", hundredths / 100, hundredths % 100)
            .trim_end_matches('0')
            .to_string()
    }
}
