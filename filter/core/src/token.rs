//! The optional shared secret that opens override rules (`requireToken`) only to requests that
//! carry it. The secret comes from the VM's environment, never from the pluginConfig, so it is
//! not in the config an admin shares or in its log line, and is compared in constant time.

use std::fmt;

/// Environment variable holding the secret (WasmPlugin `vmConfig.env`, Envoy
/// `vm_config.environment_variables`).
pub const TOKEN_ENV: &str = "STICKY_CANARY_TOKEN";

/// Request header a client presents the secret in, unless `tokenHeader` names another.
pub const DEFAULT_TOKEN_HEADER: &str = "x-canary-token";

/// The secret bytes. `Debug` never prints them.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl Secret {
    /// `None` for an unset or empty value: an empty secret would open rules to everyone.
    pub fn new(value: Option<&[u8]>) -> Option<Secret> {
        value.filter(|v| !v.is_empty()).map(|v| Secret(v.to_vec()))
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        &self.0
    }

    /// Whether `presented` equals the secret. The time taken depends only on the secret's
    /// length, never on how many leading bytes a guess got right.
    pub fn matches(&self, presented: &[u8]) -> bool {
        let secret = self.0.as_slice();
        let mut difference = u8::from(presented.len() != secret.len());
        for (i, &expected) in secret.iter().enumerate() {
            let got = presented.get(i).copied().unwrap_or(!expected);
            difference |= got ^ expected;
        }
        std::hint::black_box(difference) == 0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({} bytes)", self.0.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_secret_matches() {
        let secret = Secret::new(Some(b"s3cret")).unwrap();
        assert!(secret.matches(b"s3cret"));
        for wrong in [
            &b""[..],
            b"s3cre",
            b"s3cret ",
            b"s3cret\0",
            b"S3cret",
            b"x3cret",
            b"\xff\xff",
        ] {
            assert!(!secret.matches(wrong), "{wrong:?}");
        }
    }

    #[test]
    fn empty_or_unset_is_no_secret_and_never_printed() {
        assert!(Secret::new(None).is_none());
        assert!(Secret::new(Some(b"")).is_none());
        let secret = Secret::new(Some(b"hunter2")).unwrap();
        assert_eq!(format!("{secret:?}"), "Secret(7 bytes)");
    }
}
