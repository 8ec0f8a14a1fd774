//! One entry of `routes`: its match, subsets, stickiness and fallback; rules, guard, assign,
//! schedule, lane and mirror are compiled by their own modules.

use super::names::{check_name, header_name, non_empty};
use super::subsets::{compile_subsets, percent};
use super::{assign, guard, rules, schedule};
use super::{Bucketing, ConfigError, Fallback, KeySource, Route, Subset};
use crate::layout::BucketLayout;
use crate::matcher::HostPattern;
use crate::schema::{
    BucketingConfig, FallbackConfig, KeySourceConfig, RouteConfig, RouteMatchConfig,
};
use crate::token::Secret;

#[inline(never)] // kept out of line for V8 at load: see `compile` in config/mod.rs
pub(super) fn compile(
    path: &str,
    raw: RouteConfig,
    has_token: bool,
    cookie_key: Option<&Secret>,
) -> Result<Route, ConfigError> {
    check_name(&format!("{path}.name"), &raw.name)?;
    let (hosts, path_prefix) = route_match(path, raw.route_match)?;

    let subsets = compile_subsets(path, raw.subsets)?;

    let stick = raw.stickiness;
    if stick.keys.is_empty() {
        return Err(ConfigError::new(
            format!("{path}.stickiness.keys"),
            "must list at least one key source",
        ));
    }
    let keys = stick
        .keys
        .into_iter()
        .enumerate()
        .map(|(i, key)| key_source(&format!("{path}.stickiness.keys[{i}]"), key))
        .collect::<Result<Vec<_>, _>>()?;
    let salt_given = stick.salt.is_some();
    let salt = match stick.salt {
        Some(salt) if salt.is_empty() => {
            return Err(ConfigError::new(
                format!("{path}.stickiness.salt"),
                "must not be empty: omit it to use the route name",
            ))
        }
        Some(salt) => salt.into_bytes(),
        None => raw.name.clone().into_bytes(),
    };
    let bucketing = match stick.bucketing {
        None => Bucketing::Default,
        Some(raw) => bucketing(path, raw, salt_given, &subsets)?,
    };
    let weights: Vec<u16> = subsets.iter().map(|s| s.weight).collect();
    let layout = match bucketing {
        Bucketing::Flagd { .. } => BucketLayout::listed_first(&weights),
        Bucketing::Default | Bucketing::Unleash { .. } => BucketLayout::new(&weights),
    };
    let schedule = raw
        .schedule
        .map(|raw| schedule::compile(&format!("{path}.schedule"), raw, &subsets, &bucketing))
        .transpose()?;
    let assign = match stick.assign {
        None => None,
        Some(raw_assign) => {
            if stick.fallback.is_some() {
                return Err(ConfigError::new(
                    format!("{path}.stickiness.fallback"),
                    "is never used with assign, which gives every request without a key an id: remove fallback",
                ));
            }
            let here = format!("{path}.stickiness.assign");
            Some(assign::compile(&here, raw_assign, &keys, cookie_key)?)
        }
    };
    let fallback = match stick.fallback {
        None | Some(FallbackConfig::Random) => Fallback::Random,
        Some(FallbackConfig::Stable) => Fallback::Stable,
    };

    let rules = raw
        .rules
        .into_iter()
        .enumerate()
        .map(|(i, rule)| {
            let here = format!("{path}.rules[{i}]");
            rules::compile(&here, rule, &subsets, has_token)
        })
        .collect::<Result<Vec<_>, _>>()?;

    let stable_subset = subsets.iter().position(|s| s.weight > 0).unwrap_or(0);
    let guard = match raw.guard {
        None => None,
        Some(guard) => Some(guard::compile(
            &format!("{path}.guard"),
            guard,
            &subsets,
            stable_subset,
        )?),
    };
    if raw.health == Some(false) && guard.is_some() {
        return Err(ConfigError::new(
            format!("{path}.health"),
            "is false, but the route's guard counts its responses: remove health or set it true",
        ));
    }
    let health = raw.health.unwrap_or(false) || guard.is_some();
    Ok(Route {
        name: raw.name,
        hosts,
        path_prefix,
        subsets,
        layout,
        keys,
        salt,
        bucketing,
        fallback,
        stable_subset,
        rules,
        health,
        guard,
        assign,
        lane: None,
        mirror: None,
        schedule,
    })
}

/// `routes[].match`: its host patterns and path prefix.
#[inline(never)] // kept out of line for V8 at load: see `compile` in config/mod.rs
fn route_match(
    path: &str,
    raw: Option<RouteMatchConfig>,
) -> Result<(Vec<HostPattern>, Option<Vec<u8>>), ConfigError> {
    Ok(match raw {
        None => (Vec::new(), None),
        Some(m) => {
            let hosts = match m.hosts {
                None => Vec::new(),
                Some(list) if list.is_empty() => {
                    return Err(ConfigError::new(
                        format!("{path}.match.hosts"),
                        "must not be empty: omit it to match any host",
                    ))
                }
                Some(list) => list
                    .iter()
                    .enumerate()
                    .map(|(i, h)| {
                        HostPattern::parse(h).map_err(|reason| {
                            ConfigError::new(format!("{path}.match.hosts[{i}]"), reason)
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            };
            let prefix = match m.path_prefix {
                Some(p) if !p.starts_with('/') => {
                    return Err(ConfigError::new(
                        format!("{path}.match.pathPrefix"),
                        format!("\"{p}\" must start with \"/\""),
                    ))
                }
                other => other.map(String::into_bytes),
            };
            (hosts, prefix)
        }
    })
}

/// `stickiness.bucketing`: exactly one other tool's bucketing, which hashes its own id in place
/// of the salt.
#[inline(never)] // kept out of line for V8 at load: see `compile` in config/mod.rs
fn bucketing(
    path: &str,
    raw: BucketingConfig,
    salt_given: bool,
    subsets: &[Subset],
) -> Result<Bucketing, ConfigError> {
    let here = format!("{path}.stickiness.bucketing");
    let (tool, id_field, bucketing) = match (raw.unleash, raw.flagd) {
        (None, None) => {
            return Err(ConfigError::new(
                here,
                "must name a bucketing: unleash or flagd",
            ))
        }
        (Some(_), Some(_)) => {
            return Err(ConfigError::new(
                here,
                "names both unleash and flagd: keep one",
            ))
        }
        (Some(unleash), None) => {
            if unleash.group_id.is_empty() {
                return Err(ConfigError::new(
                    format!("{here}.unleash.groupId"),
                    "must not be empty: Unleash's groupId (usually the feature name)",
                ));
            }
            (
                "unleash",
                "groupId",
                Bucketing::Unleash {
                    group_id: unleash.group_id.into_bytes(),
                },
            )
        }
        (None, Some(flagd)) => {
            if flagd.flag_key.is_empty() {
                return Err(ConfigError::new(
                    format!("{here}.flagd.flagKey"),
                    "must not be empty: the key of the flagd flag (or the seed its fractional rule puts before the key)",
                ));
            }
            (
                "flagd",
                "flagKey",
                Bucketing::Flagd {
                    flag_key: flagd.flag_key.into_bytes(),
                },
            )
        }
    };
    if salt_given {
        return Err(ConfigError::new(
            format!("{path}.stickiness.salt"),
            format!("{tool} bucketing hashes {id_field}, not the salt: remove salt"),
        ));
    }
    // flagd's weights are whole numbers like hundredths of a percent, so any weight works there.
    if let Bucketing::Unleash { .. } = bucketing {
        if let Some((i, s)) = subsets
            .iter()
            .enumerate()
            .find(|(_, s)| s.weight % 100 != 0)
        {
            return Err(ConfigError::new(
                format!("{path}.subsets[{i}].weight"),
                format!(
                    "{} is not a whole percent, which unleash bucketing needs",
                    percent(s.weight)
                ),
            ));
        }
    }
    Ok(bucketing)
}

#[inline(never)] // kept out of line for V8 at load: see `compile` in config/mod.rs
fn key_source(path: &str, raw: KeySourceConfig) -> Result<KeySource, ConfigError> {
    match (raw.header, raw.cookie, raw.query) {
        (Some(header), None, None) => Ok(KeySource::Header(header_name(
            &format!("{path}.header"),
            &header,
        )?)),
        (None, Some(cookie), None) => {
            non_empty(&format!("{path}.cookie"), &cookie)?;
            Ok(KeySource::Cookie(cookie.into_bytes()))
        }
        (None, None, Some(query)) => {
            non_empty(&format!("{path}.query"), &query)?;
            Ok(KeySource::Query(query.into_bytes()))
        }
        _ => Err(ConfigError::new(
            path,
            "needs exactly one of `header`, `cookie`, `query`",
        )),
    }
}
