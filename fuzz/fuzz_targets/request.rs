//! The cookie and query-string parsers and percent-decoding on arbitrary bytes: no panic, and
//! every answer is consistent with its input.
#![no_main]

use libfuzzer_sys::{arbitrary, fuzz_target};
use sticky_canary_core::matcher::percent_decode;
use sticky_canary_core::request::{cookie_value, query_param, split_query};

#[derive(arbitrary::Arbitrary, Debug)]
struct Input<'a> {
    name: &'a [u8],
    text: &'a [u8],
}

fuzz_target!(|input: Input<'_>| {
    let Input { name, text } = input;

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

    if let Some(value) = cookie_value(text, name) {
        let within = text.as_ptr_range();
        let found = value.as_ptr_range();
        assert!(
            within.start <= found.start && found.end <= within.end,
            "a cookie value is a slice of the header"
        );
        assert!(!value.contains(&b';'));
    }
});
