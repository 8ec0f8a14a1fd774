//! The request snapshot, the cookie and query-string parsers and percent-decoding on arbitrary
//! bytes: no panic, and every answer is consistent with its input.
#![no_main]

use libfuzzer_sys::{arbitrary, fuzz_target};
use sticky_canary_core::matcher::percent_decode;
use sticky_canary_core::request::{cookie_value, cookie_values, query_param, split_query};
use sticky_canary_core::Request;

#[derive(arbitrary::Arbitrary, Debug)]
struct Input<'a> {
    name: &'a [u8],
    text: &'a [u8],
    /// Where `text` is cut in two header values.
    cut: u16,
}

fuzz_target!(|input: Input<'_>| {
    let Input { name, text, cut } = input;

    let decoded = percent_decode(text);
    assert!(decoded.len() <= text.len(), "decoding never grows");
    if !text.contains(&b'%') {
        assert_eq!(&*decoded, text);
    }

    let (path, query) = split_query(text);
    match query {
        None => assert_eq!(path, text),
        Some(q) => assert_eq!([path, b"?", q].concat(), text),
    }

    if let Some(value) = query_param(text, name) {
        assert!(value.len() <= text.len());
    }

    let all: Vec<&[u8]> = cookie_values(text, name).collect();
    assert_eq!(all.first().copied(), cookie_value(text, name));
    for value in &all {
        let within = text.as_ptr_range();
        let found = value.as_ptr_range();
        assert!(
            within.start <= found.start && found.end <= within.end,
            "a cookie value is a slice of the header"
        );
        assert!(!value.contains(&b';'));
    }

    // The same bytes as two `cookie` headers (names in any case) around another header: each
    // is read as it came, the list joins them, and the cookies of both are found in order.
    let (a, b) = text.split_at(usize::from(cut) % (text.len() + 1));
    let request = Request::new(vec![(b"Cookie", a), (b"x-other", name), (b"cookie", b)]);
    assert_eq!(request.header("COOKIE"), Some(a));
    assert_eq!(request.values("cookie").collect::<Vec<_>>(), vec![a, b]);
    assert!(!request.has_only("cookie", a));
    assert_eq!(
        request.header_list("cookie").as_deref(),
        Some(&[a, b",", b].concat()[..])
    );
    let both: Vec<&[u8]> = cookie_values(a, name)
        .chain(cookie_values(b, name))
        .collect();
    assert_eq!(request.cookies(name).collect::<Vec<_>>(), both);
    assert_eq!(request.cookie(name), both.first().copied());
});
