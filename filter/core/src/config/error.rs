//! A configuration error: the field path and the reason, printed on one line.

use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// Field path such as `routes[0].subsets[1].weight`; empty for the document itself.
    pub path: String,
    pub reason: String,
}

impl ConfigError {
    pub(crate) fn new(path: impl Into<String>, reason: impl Into<String>) -> Self {
        ConfigError {
            path: path.into(),
            reason: reason.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    /// One line, always: the message echoes the admin's own keys and values, and a `\n` in them
    /// must neither split the log line nor forge a second one, so control characters are escaped.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.path.is_empty() {
            write_escaped(f, &self.path)?;
            f.write_str(": ")?;
        }
        write_escaped(f, &self.reason)
    }
}

fn write_escaped(f: &mut fmt::Formatter<'_>, text: &str) -> fmt::Result {
    for c in text.chars() {
        if c.is_control() {
            write!(f, "{}", c.escape_default())?;
        } else {
            fmt::Write::write_char(f, c)?;
        }
    }
    Ok(())
}

impl std::error::Error for ConfigError {}
