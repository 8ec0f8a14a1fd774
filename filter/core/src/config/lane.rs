//! `routes[].lane`: where the chosen subset travels down a call chain, and whether the incoming
//! one is followed (`trust`) or replaced.

use super::names::header_name;
use super::ConfigError;
use crate::schema::{LaneConfig, LaneFallbackConfig};

/// Where a route's lane travels, and whether the incoming one is followed or replaced.
#[derive(Debug, PartialEq, Eq)]
pub struct Lane {
    pub carrier: LaneCarrier,
    /// `true`: an incoming lane decides; `false`: the decision is written over it.
    pub trust: bool,
    /// With `trust`: what a lane naming no subset of this route gets.
    pub fallback: LaneFallback,
}

#[derive(Debug, PartialEq, Eq)]
pub enum LaneCarrier {
    /// A lowercase header name.
    Header(String),
    /// A W3C baggage member's key.
    Baggage(Vec<u8>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LaneFallback {
    /// The route's stable subset (reason `lane`).
    Stable,
    /// The route's own decision, as without a lane.
    Decide,
}

pub(super) fn compile(path: &str, raw: LaneConfig) -> Result<Lane, ConfigError> {
    let here = format!("{path}.lane");
    let carrier = match (raw.header, raw.baggage) {
        (Some(header), None) => {
            let field = format!("{here}.header");
            LaneCarrier::Header(header_name(&field, &header)?)
        }
        (None, Some(key)) => {
            let field = format!("{here}.baggage");
            if header_name(&field, &key).is_err() {
                return Err(ConfigError::new(
                    field,
                    format!(
                        "\"{key}\" is not a valid baggage key (a token, as an HTTP header name)"
                    ),
                ));
            }
            LaneCarrier::Baggage(key.into_bytes())
        }
        _ => {
            return Err(ConfigError::new(
                here,
                "needs exactly one of `header`, `baggage`",
            ))
        }
    };
    let trust = raw.trust.unwrap_or(false);
    let fallback = match (trust, raw.fallback) {
        (false, Some(_)) => {
            return Err(ConfigError::new(
                format!("{here}.fallback"),
                "applies only with trust: true (an untrusted lane is always replaced)",
            ))
        }
        (_, None | Some(LaneFallbackConfig::Stable)) => LaneFallback::Stable,
        (true, Some(LaneFallbackConfig::Decide)) => LaneFallback::Decide,
    };
    Ok(Lane {
        carrier,
        trust,
        fallback,
    })
}
