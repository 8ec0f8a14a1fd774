//! `routes[].mirror`: a sticky sample of users whose requests are marked for mirroring.

use super::names::header_name;
use super::subsets::{hundredths, unknown_subset};
use super::{ConfigError, Route};
use crate::hash::bucket;
use crate::schema::MirrorConfig;

/// A sticky sample of users whose requests are marked for mirroring to `subset`.
#[derive(Debug, PartialEq, Eq)]
pub struct Mirror {
    pub subset: usize,
    /// Users whose mirror bucket is below this (hundredths of a percent) are sampled.
    pub threshold: u16,
    /// Lowercase header name.
    pub header: String,
    /// The route's salt followed by `:mirror`.
    pub salt: Vec<u8>,
}

impl Mirror {
    /// Whether the user with this stickiness key is in the sample: the hashing contract's
    /// bucket under the mirror salt.
    pub fn samples(&self, key: &[u8]) -> bool {
        bucket(&self.salt, key) < self.threshold
    }
}

pub(super) fn compile(path: &str, raw: MirrorConfig, route: &Route) -> Result<Mirror, ConfigError> {
    let here = format!("{path}.mirror");
    let subset = route
        .subsets
        .iter()
        .position(|s| s.name == raw.subset)
        .ok_or_else(|| unknown_subset(&format!("{here}.subset"), &raw.subset, &route.subsets))?;
    let threshold = hundredths(
        &format!("{here}.percent"),
        raw.percent,
        "the share of users mirrored",
    )?;
    let field = format!("{here}.header");
    let header = header_name(&field, &raw.header)?;
    let mut salt = route.salt.clone();
    salt.extend_from_slice(b":mirror");
    Ok(Mirror {
        subset,
        threshold,
        header,
        salt,
    })
}
