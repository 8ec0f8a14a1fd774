//! W3C baggage from the client, arbitrary bytes: reading our member and writing it never panics,
//! every other member passes byte for byte, the result keeps the W3C limits whenever our member
//! is in it, and a written lane reads back.
#![no_main]

use libfuzzer_sys::{arbitrary, fuzz_target};
use sticky_canary_core::lane::{
    member_value, write_member, BaggageWrite, BAGGAGE_MAX_BYTES, BAGGAGE_MAX_MEMBERS,
};

#[derive(arbitrary::Arbitrary, Debug)]
struct Input<'a> {
    baggage: Option<&'a [u8]>,
    /// Subset names are `[A-Za-z0-9_-]`: the value is built from these bytes.
    value: &'a [u8],
}

const KEY: &[u8] = b"canary-lane";

/// Whether a list-member is named `KEY`: its key runs to the first `=` or `;`, without
/// surrounding spaces and tabs (written here apart from the module's own parser).
fn is_ours(member: &[u8]) -> bool {
    let end = member
        .iter()
        .position(|&b| b == b'=' || b == b';')
        .unwrap_or(member.len());
    let key = &member[..end];
    let start = key
        .iter()
        .position(|&b| b != b' ' && b != b'\t')
        .unwrap_or(key.len());
    let stop = key
        .iter()
        .rposition(|&b| b != b' ' && b != b'\t')
        .map_or(start, |e| e + 1);
    &key[start..stop] == KEY
}

fuzz_target!(|input: Input<'_>| {
    let value: Vec<u8> = input
        .value
        .iter()
        .map(|b| b"abcdefghijklmnopqrstuvwxyz0123456789-_"[usize::from(*b) % 38])
        .take(63)
        .collect();
    if let Some(baggage) = input.baggage {
        if let Some(found) = member_value(baggage, KEY) {
            let within = baggage.as_ptr_range();
            let found = found.as_ptr_range();
            assert!(within.start <= found.start && found.end <= within.end);
        }
    }
    let written = write_member(input.baggage, KEY, &value);
    let out = match &written {
        BaggageWrite::Set(out) => out.as_slice(),
        BaggageWrite::Remove => &[][..],
    };
    let others = |bytes: &[u8]| -> Vec<Vec<u8>> {
        if bytes.trim_ascii().is_empty() {
            return Vec::new();
        }
        bytes
            .split(|&b| b == b',')
            .filter(|m| !is_ours(m))
            .map(<[u8]>::to_vec)
            .collect()
    };
    // Every member that is not ours passes byte for byte, in order.
    assert_eq!(others(input.baggage.unwrap_or_default()), others(out));
    let ours = member_value(out, KEY);
    if let Some(ours) = ours {
        assert_eq!(ours, value.as_slice(), "a written lane reads back");
        assert!(out.len() <= BAGGAGE_MAX_BYTES);
        let members = out
            .split(|&b| b == b',')
            .filter(|m| !m.trim_ascii().is_empty());
        assert!(members.count() <= BAGGAGE_MAX_MEMBERS);
    }
    // Writing again changes nothing.
    if let BaggageWrite::Set(out) = &written {
        assert_eq!(
            write_member(Some(out), KEY, &value),
            BaggageWrite::Set(out.clone())
        );
    }
});
