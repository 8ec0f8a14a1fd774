//! Compiled matchers: string matches on request bytes, `:authority` host patterns and the client
//! OS presets over `User-Agent`. All work on raw bytes: client data is never required to be UTF-8.

use std::borrow::Cow;

use regex_lite::Regex;

use crate::schema::Os;

#[derive(Debug)]
enum Pattern {
    Exact(Vec<u8>),
    Prefix(Vec<u8>),
    Suffix(Vec<u8>),
    Contains(Vec<u8>),
    Regex(Regex),
    Present(bool),
}

/// One string condition. `ignore_case` folds ASCII letters only.
#[derive(Debug)]
pub struct StringMatcher {
    pattern: Pattern,
    ignore_case: bool,
}

impl StringMatcher {
    pub fn exact(value: &str, ignore_case: bool) -> Self {
        Self::with(Pattern::Exact(value.as_bytes().to_vec()), ignore_case)
    }
    pub fn prefix(value: &str, ignore_case: bool) -> Self {
        Self::with(Pattern::Prefix(value.as_bytes().to_vec()), ignore_case)
    }
    pub fn suffix(value: &str, ignore_case: bool) -> Self {
        Self::with(Pattern::Suffix(value.as_bytes().to_vec()), ignore_case)
    }
    pub fn contains(value: &str, ignore_case: bool) -> Self {
        Self::with(Pattern::Contains(value.as_bytes().to_vec()), ignore_case)
    }
    pub fn present(present: bool) -> Self {
        Self::with(Pattern::Present(present), false)
    }
    /// Compiles once, at configure time. The regex is searched, not anchored: use `^...$`.
    pub fn regex(source: &str, ignore_case: bool) -> Result<Self, String> {
        let regex = regex_lite::RegexBuilder::new(source)
            .case_insensitive(ignore_case)
            .build()
            .map_err(|err| format!("invalid regex: {}", one_line(&err.to_string())))?;
        Ok(Self::with(Pattern::Regex(regex), ignore_case))
    }

    fn with(pattern: Pattern, ignore_case: bool) -> Self {
        StringMatcher {
            pattern,
            ignore_case,
        }
    }

    /// `value` is `None` when the header, cookie or parameter is absent. Only `present: false`
    /// matches an absent value.
    pub fn matches(&self, value: Option<&[u8]>) -> bool {
        let Some(value) = value else {
            return matches!(self.pattern, Pattern::Present(false));
        };
        let ic = self.ignore_case;
        match &self.pattern {
            Pattern::Present(wanted) => *wanted,
            Pattern::Exact(p) => bytes_eq(value, p, ic),
            Pattern::Prefix(p) => value.get(..p.len()).is_some_and(|v| bytes_eq(v, p, ic)),
            Pattern::Suffix(p) => value
                .len()
                .checked_sub(p.len())
                .and_then(|start| value.get(start..))
                .is_some_and(|v| bytes_eq(v, p, ic)),
            Pattern::Contains(p) => find(value, p, ic).is_some(),
            // regex-lite matches text only: invalid UTF-8 is matched as U+FFFD, never rejected.
            Pattern::Regex(regex) => regex.is_match(&String::from_utf8_lossy(value)),
        }
    }
}

/// Words joined by single spaces. Built by hand rather than with `[&str]::join`, whose extra
/// instance costs the module about 1 KB next to the `[String]::join` it already has.
fn one_line(text: &str) -> String {
    let mut line = String::with_capacity(text.len());
    for word in text.split_whitespace() {
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    line
}

fn bytes_eq(a: &[u8], b: &[u8], ignore_case: bool) -> bool {
    if ignore_case {
        a.eq_ignore_ascii_case(b)
    } else {
        a == b
    }
}

/// Position of `needle` in `haystack`.
pub fn find(haystack: &[u8], needle: &[u8], ignore_case: bool) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    haystack
        .windows(needle.len())
        .position(|window| bytes_eq(window, needle, ignore_case))
}

/// A `hosts` entry: exact name, `*.suffix` wildcard, or `*` for any. Lowercased at configure time.
#[derive(Debug, PartialEq, Eq)]
pub enum HostPattern {
    Any,
    Exact(Vec<u8>),
    /// Holds the suffix with its leading dot: `*.example.com` keeps `.example.com`.
    WildcardSuffix(Vec<u8>),
}

impl HostPattern {
    pub fn parse(pattern: &str) -> Result<Self, String> {
        let lower = pattern.to_ascii_lowercase();
        if lower == "*" {
            return Ok(HostPattern::Any);
        }
        if lower.contains('*') {
            return match lower.strip_prefix('*') {
                Some(suffix)
                    if suffix.len() >= 2 && suffix.starts_with('.') && !suffix.contains('*') =>
                {
                    Ok(HostPattern::WildcardSuffix(suffix.as_bytes().to_vec()))
                }
                _ => Err(format!(
                    "\"{pattern}\": a wildcard must be \"*\" or a \"*.\" prefix"
                )),
            };
        }
        if lower.is_empty() || lower.bytes().any(|b| b <= b' ' || b == b'/') {
            return Err(format!("\"{pattern}\": not a host name"));
        }
        if lower.contains(':') && !lower.starts_with('[') {
            return Err(format!(
                "\"{pattern}\": list the host without a port (ports are ignored when matching)"
            ));
        }
        Ok(HostPattern::Exact(lower.into_bytes()))
    }

    /// `host` is the request's `:authority` with its port already removed.
    pub fn matches(&self, host: &[u8]) -> bool {
        match self {
            HostPattern::Any => true,
            HostPattern::Exact(name) => host.eq_ignore_ascii_case(name),
            HostPattern::WildcardSuffix(suffix) => {
                host.len() > suffix.len()
                    && host
                        .get(host.len() - suffix.len()..)
                        .is_some_and(|tail| tail.eq_ignore_ascii_case(suffix))
            }
        }
    }
}

/// `:authority` without its port: `a.com:8080` -> `a.com`, `[::1]:80` -> `[::1]`.
pub fn strip_port(authority: &[u8]) -> &[u8] {
    if authority.first() == Some(&b'[') {
        return match authority.iter().position(|&b| b == b']') {
            Some(end) => authority.get(..=end).unwrap_or(authority),
            None => authority,
        };
    }
    match authority.iter().rposition(|&b| b == b':') {
        Some(colon)
            if authority
                .get(colon + 1..)
                .is_some_and(|p| p.iter().all(u8::is_ascii_digit)) =>
        {
            authority.get(..colon).unwrap_or(authority)
        }
        _ => authority,
    }
}

/// The client OS a `User-Agent` names, checked in an order that resolves the usual overlaps:
/// iOS agents say "like Mac OS X" and Android agents say "Linux".
pub fn detect_os(user_agent: &[u8]) -> Option<Os> {
    let has = |needle: &[u8]| find(user_agent, needle, false).is_some();
    if has(b"iPhone") || has(b"iPad") || has(b"iPod") {
        Some(Os::Ios)
    } else if has(b"Android") {
        Some(Os::Android)
    } else if has(b"Windows") {
        Some(Os::Windows)
    } else if has(b"Macintosh") || has(b"Mac OS X") {
        Some(Os::MacOs)
    } else if has(b"Linux") || has(b"X11") {
        Some(Os::Linux)
    } else {
        None
    }
}

/// Percent-decodes `%XX` escapes; a malformed escape is kept as it is. Borrows when there is none.
pub fn percent_decode(raw: &[u8]) -> Cow<'_, [u8]> {
    if !raw.contains(&b'%') {
        return Cow::Borrowed(raw);
    }
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while let Some(&byte) = raw.get(i) {
        if byte == b'%' {
            let hi = raw.get(i + 1).and_then(|&b| hex_value(b));
            let lo = raw.get(i + 2).and_then(|&b| hex_value(b));
            if let (Some(hi), Some(lo)) = (hi, lo) {
                out.push(hi << 4 | lo);
                i += 3;
                continue;
            }
        }
        out.push(byte);
        i += 1;
    }
    Cow::Owned(out)
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_matchers_on_bytes() {
        let v = Some(&b"Hello-World"[..]);
        assert!(StringMatcher::exact("Hello-World", false).matches(v));
        assert!(!StringMatcher::exact("hello-world", false).matches(v));
        assert!(StringMatcher::exact("hello-world", true).matches(v));
        assert!(StringMatcher::prefix("hello", true).matches(v));
        assert!(!StringMatcher::prefix("Hello-World!", false).matches(v));
        assert!(StringMatcher::suffix("World", false).matches(v));
        assert!(!StringMatcher::suffix("xHello-World", false).matches(v));
        assert!(StringMatcher::contains("o-w", true).matches(v));
        assert!(!StringMatcher::contains("o-w", false).matches(v));
        assert!(StringMatcher::present(true).matches(Some(b"")));
        assert!(!StringMatcher::present(true).matches(None));
        assert!(StringMatcher::present(false).matches(None));
        assert!(!StringMatcher::exact("", false).matches(None));
    }

    #[test]
    fn regex_is_unanchored_and_survives_invalid_utf8() {
        let re = StringMatcher::regex("^(1|yes)$", false).unwrap();
        assert!(re.matches(Some(b"yes")));
        assert!(!re.matches(Some(b"yes!")));
        assert!(StringMatcher::regex("ab", false)
            .unwrap()
            .matches(Some(b"xxabxx")));
        assert!(StringMatcher::regex("^YES$", true)
            .unwrap()
            .matches(Some(b"yes")));
        assert!(!re.matches(Some(b"\xff\xfe")));
        assert!(StringMatcher::regex("^a.b$", false)
            .unwrap()
            .matches(Some(b"a\xffb")));
    }

    #[test]
    fn bad_regex_reports_on_one_line() {
        let err = StringMatcher::regex("(", false).unwrap_err();
        assert!(err.starts_with("invalid regex: "), "{err}");
        assert!(!err.contains('\n'));
    }

    #[test]
    fn host_patterns() {
        let exact = HostPattern::parse("ServiceA.com").unwrap();
        assert!(exact.matches(b"servicea.COM"));
        assert!(!exact.matches(b"x.servicea.com"));
        let wild = HostPattern::parse("*.example.com").unwrap();
        assert!(wild.matches(b"a.example.com"));
        assert!(wild.matches(b"a.b.Example.com"));
        assert!(!wild.matches(b"example.com"));
        assert!(!wild.matches(b".example.com"));
        assert!(HostPattern::parse("*").unwrap().matches(b"anything"));
        assert_eq!(
            HostPattern::parse("a*.com").unwrap_err(),
            "\"a*.com\": a wildcard must be \"*\" or a \"*.\" prefix"
        );
        assert_eq!(HostPattern::parse("").unwrap_err(), "\"\": not a host name");
    }

    #[test]
    fn ports_are_stripped() {
        assert_eq!(strip_port(b"a.com:8080"), b"a.com");
        assert_eq!(strip_port(b"a.com"), b"a.com");
        assert_eq!(strip_port(b"[::1]:80"), b"[::1]");
        assert_eq!(strip_port(b"[::1]"), b"[::1]");
        assert_eq!(strip_port(b"a.com:x"), b"a.com:x");
    }

    #[test]
    fn os_presets() {
        let iphone = b"Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15";
        let android = b"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36";
        let windows = b"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36";
        let mac = b"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/605.1.15";
        let linux = b"Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0";
        assert_eq!(detect_os(iphone), Some(Os::Ios));
        assert_eq!(detect_os(android), Some(Os::Android));
        assert_eq!(detect_os(windows), Some(Os::Windows));
        assert_eq!(detect_os(mac), Some(Os::MacOs));
        assert_eq!(detect_os(linux), Some(Os::Linux));
        assert_eq!(detect_os(b"curl/8.5.0"), None);
        assert_eq!(detect_os(b"\xff\xfe"), None);
    }

    #[test]
    fn percent_decoding_keeps_malformed_escapes() {
        assert_eq!(&*percent_decode(b"a%40b"), b"a@b");
        assert_eq!(&*percent_decode(b"100%"), b"100%");
        assert_eq!(&*percent_decode(b"%zz%4"), b"%zz%4");
        assert_eq!(&*percent_decode(b"%ff"), b"\xff");
        assert!(matches!(percent_decode(b"plain"), Cow::Borrowed(_)));
    }
}
