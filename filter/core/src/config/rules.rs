//! `routes[].rules`: content rules and their string matchers.

use super::names::{header_name, non_empty};
use super::{Condition, ConfigError, Rule, Subset};
use crate::matcher::StringMatcher;
use crate::schema::{RuleConfig, RuleMatchConfig, StringMatchConfig};
use crate::token::TOKEN_ENV;

pub(super) fn compile(
    path: &str,
    raw: RuleConfig,
    subsets: &[Subset],
    has_token: bool,
) -> Result<Rule, ConfigError> {
    let subset = subsets
        .iter()
        .position(|s| s.name == raw.subset)
        .ok_or_else(|| {
            let known = subsets
                .iter()
                .map(|s| format!("\"{}\"", s.name))
                .collect::<Vec<_>>()
                .join(", ");
            ConfigError::new(
                format!("{path}.subset"),
                format!("unknown subset \"{}\" (this route has {known})", raw.subset),
            )
        })?;
    let users = match raw.users {
        None => None,
        Some(list) if list.is_empty() => {
            return Err(ConfigError::new(
                format!("{path}.users"),
                "must not be empty",
            ))
        }
        Some(list) => {
            if let Some(i) = list.iter().position(String::is_empty) {
                return Err(ConfigError::new(
                    format!("{path}.users[{i}]"),
                    "must not be empty: an empty key is never a user",
                ));
            }
            let mut users: Vec<Vec<u8>> = list.into_iter().map(String::into_bytes).collect();
            users.sort_unstable();
            users.dedup();
            Some(users)
        }
    };
    let conditions = match raw.rule_match {
        None => Vec::new(),
        Some(m) => compile_conditions(&format!("{path}.match"), m)?,
    };
    if users.is_none() && conditions.is_empty() {
        return Err(ConfigError::new(
            path,
            "needs `users` or at least one condition under `match`",
        ));
    }
    let require_token = raw.require_token.unwrap_or(false);
    if require_token && !has_token {
        return Err(ConfigError::new(
            format!("{path}.requireToken"),
            format!("no token is configured: set {TOKEN_ENV} in the plugin's vmConfig.env (Envoy: vm_config.environment_variables)"),
        ));
    }
    Ok(Rule {
        subset,
        users,
        conditions,
        require_token,
    })
}

fn compile_conditions(path: &str, raw: RuleMatchConfig) -> Result<Vec<Condition>, ConfigError> {
    let mut conditions = Vec::new();
    for (i, named) in raw.headers.into_iter().enumerate() {
        let here = format!("{path}.headers[{i}]");
        let (name, m) = named.into_parts();
        let field = format!("{here}.name");
        let name = header_name(&field, &name)?;
        conditions.push(Condition::Header(name, string_matcher(&here, m)?));
    }
    for (i, named) in raw.cookies.into_iter().enumerate() {
        let here = format!("{path}.cookies[{i}]");
        let (name, m) = named.into_parts();
        non_empty(&format!("{here}.name"), &name)?;
        conditions.push(Condition::Cookie(
            name.into_bytes(),
            string_matcher(&here, m)?,
        ));
    }
    for (i, named) in raw.query.into_iter().enumerate() {
        let here = format!("{path}.query[{i}]");
        let (name, m) = named.into_parts();
        non_empty(&format!("{here}.name"), &name)?;
        conditions.push(Condition::Query(
            name.into_bytes(),
            string_matcher(&here, m)?,
        ));
    }
    if let Some(m) = raw.path {
        conditions.push(Condition::Path(string_matcher(&format!("{path}.path"), m)?));
    }
    if let Some(os) = raw.os {
        if os.is_empty() {
            return Err(ConfigError::new(format!("{path}.os"), "must not be empty"));
        }
        conditions.push(Condition::Os(os));
    }
    Ok(conditions)
}

fn string_matcher(path: &str, raw: StringMatchConfig) -> Result<StringMatcher, ConfigError> {
    let ic = raw.ignore_case.unwrap_or(false);
    let set = [
        raw.exact.is_some(),
        raw.prefix.is_some(),
        raw.suffix.is_some(),
        raw.contains.is_some(),
        raw.regex.is_some(),
        raw.present.is_some(),
    ]
    .iter()
    .filter(|&&b| b)
    .count();
    if set != 1 {
        return Err(ConfigError::new(
            path,
            format!(
                "needs exactly one of `exact`, `prefix`, `suffix`, `contains`, `regex`, `present` (found {set})"
            ),
        ));
    }
    if let Some(v) = raw.exact {
        Ok(StringMatcher::exact(&v, ic))
    } else if let Some(v) = raw.prefix {
        Ok(StringMatcher::prefix(&v, ic))
    } else if let Some(v) = raw.suffix {
        Ok(StringMatcher::suffix(&v, ic))
    } else if let Some(v) = raw.contains {
        Ok(StringMatcher::contains(&v, ic))
    } else if let Some(v) = raw.regex {
        StringMatcher::regex(&v, ic)
            .map_err(|reason| ConfigError::new(format!("{path}.regex"), reason))
    } else {
        Ok(StringMatcher::present(raw.present.unwrap_or(true)))
    }
}
