//! `routes[].stickiness.assign`: ids for visitors without a key, in a cookie.

use super::names::{header_name, is_token};
use super::{ConfigError, KeySource};
use crate::assign::{Assign, CookieAttributes, CookieKey, COOKIE_KEY_ENV};
use crate::schema::{AssignConfig, SameSite};
use crate::token::Secret;

/// The shortest cookie key accepted: HMAC-SHA256's own output size. A shorter key can be
/// brute-forced offline from one issued cookie.
pub const MIN_COOKIE_KEY_BYTES: usize = 32;

pub(super) fn compile(
    path: &str,
    raw: AssignConfig,
    keys: &[KeySource],
    cookie_key: Option<&Secret>,
) -> Result<Assign, ConfigError> {
    let field = format!("{path}.cookie");
    if !is_token(&raw.cookie) {
        return Err(ConfigError::new(
            field,
            format!("\"{}\" is not a valid cookie name", raw.cookie),
        ));
    }
    let cookie = raw.cookie.into_bytes();
    if !keys
        .iter()
        .any(|k| matches!(k, KeySource::Cookie(name) if *name == cookie))
    {
        let name = String::from_utf8_lossy(&cookie);
        return Err(ConfigError::new(
            field,
            format!("\"{name}\" is not a cookie key source of this route: add {{\"cookie\": \"{name}\"}} to stickiness.keys"),
        ));
    }
    if let Some(domain) = &raw.domain {
        let domain_char = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'.';
        if !domain.bytes().all(domain_char) || !domain.bytes().any(|b| b != b'.') {
            return Err(ConfigError::new(
                format!("{path}.domain"),
                format!("\"{domain}\" is not a valid cookie domain (a host name)"),
            ));
        }
    }
    let cookie_path = raw.path.as_deref().unwrap_or("/");
    if !cookie_path.starts_with('/') {
        return Err(ConfigError::new(
            format!("{path}.path"),
            format!("\"{cookie_path}\" must start with \"/\""),
        ));
    }
    if !cookie_path
        .bytes()
        .all(|b| (b' '..=b'~').contains(&b) && b != b';')
    {
        return Err(ConfigError::new(
            format!("{path}.path"),
            format!("\"{cookie_path}\" is not a valid cookie path (printable ASCII without \";\")"),
        ));
    }
    let secure = raw.secure.unwrap_or(false);
    if raw.same_site == Some(SameSite::None) && !secure {
        return Err(ConfigError::new(
            format!("{path}.sameSite"),
            "None needs secure: true (browsers drop a SameSite=None cookie that is not Secure)",
        ));
    }
    let header = match &raw.header {
        None => None,
        Some(name) => Some(header_name(&format!("{path}.header"), name)?),
    };
    let key = if raw.signed.unwrap_or(false) {
        let here = format!("{path}.signed");
        let Some(secret) = cookie_key else {
            return Err(ConfigError::new(
                here,
                format!("no cookie key is configured: set {COOKIE_KEY_ENV} in the plugin's vmConfig.env (Envoy: vm_config.environment_variables)"),
            ));
        };
        let length = secret.bytes().len();
        if length < MIN_COOKIE_KEY_BYTES {
            return Err(ConfigError::new(
                here,
                format!("the cookie key ({COOKIE_KEY_ENV}) is {length} bytes; at least {MIN_COOKIE_KEY_BYTES} are needed, as a shorter one can be guessed offline from one issued cookie"),
            ));
        }
        Some(
            CookieKey::new(secret.bytes())
                .ok_or_else(|| ConfigError::new(here, "the cookie key cannot key HMAC-SHA256"))?,
        )
    } else {
        None
    };
    let attributes = CookieAttributes {
        max_age: raw.max_age,
        domain: raw.domain.as_deref(),
        path: cookie_path,
        secure,
        http_only: raw.http_only.unwrap_or(false),
        same_site: raw.same_site.map(|s| match s {
            SameSite::Strict => "Strict",
            SameSite::Lax => "Lax",
            SameSite::None => "None",
        }),
    };
    Ok(Assign::new(cookie, header, key, &attributes))
}
