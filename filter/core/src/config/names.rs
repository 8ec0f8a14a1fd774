//! The names a configuration may use: route and subset names, header and cookie names.

use super::ConfigError;

/// Names end up in metric names and header values, so they are kept to a safe alphabet.
const MAX_NAME_LEN: usize = 63;

/// The routing header's name: an HTTP header, and not one that routing itself depends on.
pub(super) fn routing_header_name(name: &str) -> Result<String, ConfigError> {
    const PATH: &str = "routingHeader";
    if name
        .strip_prefix(':')
        .is_some_and(|rest| header_name(PATH, rest).is_ok())
    {
        return Err(ConfigError::new(
            PATH,
            format!("\"{name}\" is a pseudo-header, part of the request itself; the routing header must be an ordinary header"),
        ));
    }
    let name = header_name(PATH, name)?;
    let reason = match name.as_str() {
        "host" => "is the request's authority (:authority), which routes[].match.hosts and Envoy's virtual hosts match; the filter would overwrite it",
        "cookie" => "holds all of the request's cookies; the filter would overwrite them",
        _ => return Ok(name),
    };
    Err(ConfigError::new(PATH, format!("\"{name}\" {reason}")))
}

pub(super) fn non_empty(path: &str, value: &str) -> Result<(), ConfigError> {
    if value.is_empty() {
        Err(ConfigError::new(path, "must not be empty"))
    } else {
        Ok(())
    }
}

/// Route and subset names: `[A-Za-z0-9_-]`, 1 to 63 characters, because they are written into
/// a header value and into metric names.
pub(super) fn check_name(path: &str, name: &str) -> Result<(), ConfigError> {
    let valid = !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if valid {
        Ok(())
    } else {
        Err(ConfigError::new(
            path,
            format!("\"{name}\" must be 1 to {MAX_NAME_LEN} characters of A-Z a-z 0-9 - _"),
        ))
    }
}

/// An RFC 9110 token: what a header name and a cookie name (RFC 6265) may be.
pub(super) fn is_token(name: &str) -> bool {
    let is_tchar = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    !name.is_empty() && name.bytes().all(is_tchar)
}

/// An HTTP header name (RFC 9110 token), returned lowercase. Pseudo-headers are refused.
pub(super) fn header_name(path: &str, name: &str) -> Result<String, ConfigError> {
    if !is_token(name) {
        return Err(ConfigError::new(
            path,
            format!("\"{name}\" is not a valid HTTP header name"),
        ));
    }
    Ok(name.to_ascii_lowercase())
}
