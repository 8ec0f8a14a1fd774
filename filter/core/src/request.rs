//! One snapshot of a request's headers, as the host hands them over in one call, and what the
//! decision reads from it: the authority, the path and its query, cookies, the client's OS.
//! Nothing is copied: every value borrows from the host's buffer.

use std::borrow::Cow;
use std::cell::OnceCell;

use crate::matcher::{detect_os, percent_decode, strip_port};
use crate::schema::Os;

/// Every request header in the host's order, pseudo-headers included, repeated ones as
/// separate pairs. Names compare ASCII case-insensitively: a host that keeps a client's casing
/// still has `X-Canary-Subset` found, and stripped, as the routing header.
pub struct Request<'a> {
    pairs: Vec<(&'a [u8], &'a [u8])>,
    os: OnceCell<Option<Os>>,
}

impl<'a> Request<'a> {
    pub fn new(pairs: Vec<(&'a [u8], &'a [u8])>) -> Self {
        Request {
            pairs,
            os: OnceCell::new(),
        }
    }

    /// Every value of header `name`, in order.
    pub fn values<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'a [u8]> + 's {
        self.pairs
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
            .map(|(_, v)| *v)
    }

    /// The first value of header `name`.
    pub fn header(&self, name: &str) -> Option<&'a [u8]> {
        self.values(name).next()
    }

    /// Whether the header is present exactly once with exactly this value: then writing it
    /// again changes nothing.
    pub fn has_only(&self, name: &str, value: &[u8]) -> bool {
        let mut values = self.values(name);
        values.next() == Some(value) && values.next().is_none()
    }

    /// Every value of a list header joined with `,` (RFC 9110 §5.3: repeated fields are one
    /// list); borrowed when it came once.
    pub fn header_list(&self, name: &str) -> Option<Cow<'a, [u8]>> {
        let mut values = self.values(name);
        let first = values.next()?;
        let Some(second) = values.next() else {
            return Some(Cow::Borrowed(first));
        };
        let mut list = first.to_vec();
        for value in std::iter::once(second).chain(values) {
            list.push(b',');
            list.extend_from_slice(value);
        }
        Some(Cow::Owned(list))
    }

    /// `:authority` without its port.
    pub fn host_name(&self) -> Option<&'a [u8]> {
        self.header(":authority").map(strip_port)
    }

    /// `:path` up to the query string.
    pub fn path(&self) -> Option<&'a [u8]> {
        self.header(":path").map(|p| split_query(p).0)
    }

    /// First query parameter with this (percent-decoded) name, its value percent-decoded.
    pub fn query(&self, name: &[u8]) -> Option<Cow<'a, [u8]>> {
        let query = split_query(self.header(":path")?).1?;
        query_param(query, name)
    }

    /// Every cookie with this name, in every `cookie` header, in order, surrounding double
    /// quotes removed. Browsers send several of one name (another Path or Domain, an old copy).
    pub fn cookies<'s>(&'s self, name: &'s [u8]) -> impl Iterator<Item = &'s [u8]> + 's {
        self.values("cookie")
            .flat_map(move |header| cookie_values(header, name))
    }

    /// The first cookie with this name.
    pub fn cookie<'s>(&'s self, name: &'s [u8]) -> Option<&'s [u8]> {
        self.cookies(name).next()
    }

    pub fn os(&self) -> Option<Os> {
        *self
            .os
            .get_or_init(|| self.header("user-agent").and_then(detect_os))
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

/// Every cookie named `name` in one `Cookie` header (`a=1; b="2"`). Names are case-sensitive.
pub fn cookie_values<'c>(header: &'c [u8], name: &'c [u8]) -> impl Iterator<Item = &'c [u8]> {
    header.split(|&b| b == b';').filter_map(move |pair| {
        let pair = pair.trim_ascii();
        let eq = pair.iter().position(|&b| b == b'=')?;
        let (cookie_name, value) = (pair.get(..eq)?, pair.get(eq + 1..)?);
        if cookie_name.trim_ascii() != name {
            return None;
        }
        let value = value.trim_ascii();
        Some(
            value
                .strip_prefix(b"\"")
                .and_then(|v| v.strip_suffix(b"\""))
                .unwrap_or(value),
        )
    })
}

/// The first cookie named `name` in one `Cookie` header.
pub fn cookie_value<'c>(header: &'c [u8], name: &'c [u8]) -> Option<&'c [u8]> {
    cookie_values(header, name).next()
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
    fn every_cookie_of_a_name_in_every_cookie_header() {
        let pairs: Vec<(&[u8], &[u8])> = vec![
            (b"cookie", b"uid=old; a=1; uid=older"),
            (b"x", b"y"),
            (b"Cookie", b"uid=\"new\""),
        ];
        let request = Request::new(pairs);
        let all: Vec<&[u8]> = request.cookies(b"uid").collect();
        assert_eq!(all, vec![&b"old"[..], b"older", b"new"]);
        assert_eq!(request.cookie(b"a"), Some(&b"1"[..]));
    }

    #[test]
    fn repeated_headers_and_case() {
        let pairs: Vec<(&[u8], &[u8])> = vec![
            (b":path", b"/a?uid=q"),
            (b"baggage", b"a=1"),
            (b"X-Canary-Subset", b"v2"),
            (b"baggage", b"b=2"),
        ];
        let request = Request::new(pairs);
        assert_eq!(request.header("x-canary-subset"), Some(&b"v2"[..]));
        assert!(request.has_only("x-canary-subset", b"v2"));
        assert!(!request.has_only("baggage", b"a=1"));
        assert_eq!(
            request.header_list("baggage").as_deref(),
            Some(&b"a=1,b=2"[..])
        );
        assert_eq!(request.path(), Some(&b"/a"[..]));
        assert_eq!(request.query(b"uid").as_deref(), Some(&b"q"[..]));
    }

    #[test]
    fn path_and_query_split() {
        assert_eq!(split_query(b"/a?b=1"), (&b"/a"[..], Some(&b"b=1"[..])));
        assert_eq!(split_query(b"/a"), (&b"/a"[..], None));
        assert_eq!(split_query(b"/?"), (&b"/"[..], Some(&b""[..])));
    }
}
