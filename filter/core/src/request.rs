//! What the decision reads from a request, behind a small trait the host implements, plus a lazy
//! view that fetches each header at most once and only when a rule or key needs it.

use std::borrow::Cow;
use std::cell::OnceCell;

use crate::matcher::{detect_os, percent_decode, strip_port};
use crate::schema::Os;

/// The host's request headers. `name` is lowercase; pseudo-headers (`:path`, `:authority`) are
/// included. With repeated headers the host returns the first value.
pub trait RequestHeaders {
    fn header(&self, name: &str) -> Option<Vec<u8>>;

    /// Every value of a list header, joined with `,` (RFC 9110 §5.3: repeated fields are one
    /// list). A host that sees only the first value keeps this default.
    fn header_list(&self, name: &str) -> Option<Vec<u8>> {
        self.header(name)
    }
}

/// Caches the headers several conditions share (`:path`, `cookie`, `user-agent`).
pub struct RequestView<'h, H: RequestHeaders + ?Sized> {
    host: &'h H,
    path: OnceCell<Option<Vec<u8>>>,
    authority: OnceCell<Option<Vec<u8>>>,
    cookie: OnceCell<Option<Vec<u8>>>,
    os: OnceCell<Option<Os>>,
}

impl<'h, H: RequestHeaders + ?Sized> RequestView<'h, H> {
    pub fn new(host: &'h H) -> Self {
        RequestView {
            host,
            path: OnceCell::new(),
            authority: OnceCell::new(),
            cookie: OnceCell::new(),
            os: OnceCell::new(),
        }
    }

    pub fn header(&self, name: &str) -> Option<Vec<u8>> {
        self.host.header(name)
    }

    pub fn header_list(&self, name: &str) -> Option<Vec<u8>> {
        self.host.header_list(name)
    }

    /// `:authority` without its port.
    pub fn host_name(&self) -> Option<&[u8]> {
        self.authority
            .get_or_init(|| self.host.header(":authority"))
            .as_deref()
            .map(strip_port)
    }

    fn full_path(&self) -> Option<&[u8]> {
        self.path
            .get_or_init(|| self.host.header(":path"))
            .as_deref()
    }

    /// `:path` up to the query string.
    pub fn path(&self) -> Option<&[u8]> {
        self.full_path().map(|p| split_query(p).0)
    }

    /// First query parameter with this (percent-decoded) name, its value percent-decoded.
    pub fn query(&self, name: &[u8]) -> Option<Cow<'_, [u8]>> {
        let query = split_query(self.full_path()?).1?;
        query_param(query, name)
    }

    /// First cookie with this name, surrounding double quotes removed.
    pub fn cookie(&self, name: &[u8]) -> Option<&[u8]> {
        let header = self.cookie.get_or_init(|| self.host.header("cookie"));
        cookie_value(header.as_deref()?, name)
    }

    pub fn os(&self) -> Option<Os> {
        *self
            .os
            .get_or_init(|| self.host.header("user-agent").and_then(|ua| detect_os(&ua)))
    }
}

/// Splits `/a/b?x=1` into `/a/b` and `Some("x=1")`. A fragment, never sent by clients, is kept.
pub fn split_query(path: &[u8]) -> (&[u8], Option<&[u8]>) {
    match path.iter().position(|&b| b == b'?') {
        Some(q) => (path.get(..q).unwrap_or(path), path.get(q + 1..)),
        None => (path, None),
    }
}

/// Finds a parameter in `a=1&b=2`. A parameter without `=` has an empty value.
pub fn query_param<'q>(query: &'q [u8], name: &[u8]) -> Option<Cow<'q, [u8]>> {
    for pair in query.split(|&b| b == b'&') {
        let (raw_name, raw_value) = match pair.iter().position(|&b| b == b'=') {
            Some(eq) => (
                pair.get(..eq).unwrap_or(pair),
                pair.get(eq + 1..).unwrap_or(&[]),
            ),
            None => (pair, &[][..]),
        };
        if *percent_decode(raw_name) == *name {
            return Some(percent_decode(raw_value));
        }
    }
    None
}

/// Finds a cookie in a `Cookie` header (`a=1; b="2"`). Names are case-sensitive.
pub fn cookie_value<'c>(header: &'c [u8], name: &[u8]) -> Option<&'c [u8]> {
    for pair in header.split(|&b| b == b';') {
        let pair = pair.trim_ascii();
        let Some(eq) = pair.iter().position(|&b| b == b'=') else {
            continue;
        };
        let (cookie_name, value) = (pair.get(..eq)?, pair.get(eq + 1..)?);
        if cookie_name.trim_ascii() == name {
            let value = value.trim_ascii();
            let unquoted = value
                .strip_prefix(b"\"")
                .and_then(|v| v.strip_suffix(b"\""))
                .unwrap_or(value);
            return Some(unquoted);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_parameters() {
        assert_eq!(
            query_param(b"a=1&uid=bob&uid=eve", b"uid").as_deref(),
            Some(&b"bob"[..])
        );
        assert_eq!(query_param(b"uid", b"uid").as_deref(), Some(&b""[..]));
        assert_eq!(
            query_param(b"u%69d=a%40b", b"uid").as_deref(),
            Some(&b"a@b"[..])
        );
        assert_eq!(query_param(b"uidx=1", b"uid"), None);
        assert_eq!(
            query_param(b"&&=&uid=%zz", b"uid").as_deref(),
            Some(&b"%zz"[..])
        );
        assert_eq!(
            query_param(b"uid=\xff\xfe", b"uid").as_deref(),
            Some(&b"\xff\xfe"[..])
        );
    }

    #[test]
    fn cookies() {
        let header = b"theme=dark; uid=\"u-1\";beta=yes;  spaced = v ;novalue";
        assert_eq!(cookie_value(header, b"uid"), Some(&b"u-1"[..]));
        assert_eq!(cookie_value(header, b"beta"), Some(&b"yes"[..]));
        assert_eq!(cookie_value(header, b"spaced"), Some(&b"v"[..]));
        assert_eq!(cookie_value(header, b"novalue"), None);
        assert_eq!(cookie_value(header, b"UID"), None);
        assert_eq!(cookie_value(b"uid=\xff;x=1", b"uid"), Some(&b"\xff"[..]));
        assert_eq!(cookie_value(b"uid=\"", b"uid"), Some(&b"\""[..]));
    }

    #[test]
    fn path_and_query_split() {
        assert_eq!(split_query(b"/a?b=1"), (&b"/a"[..], Some(&b"b=1"[..])));
        assert_eq!(split_query(b"/a"), (&b"/a"[..], None));
        assert_eq!(split_query(b"/?"), (&b"/"[..], Some(&b""[..])));
    }
}
