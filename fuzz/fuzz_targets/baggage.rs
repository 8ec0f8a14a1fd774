//! W3C baggage from the client, arbitrary bytes, under the three things the plan does with it:
//! write our member, strip every member of ours, keep a trusted lane. Never a panic; a member is
//! ours when its key, percent-decoded, is our key (however the client encoded it); every other
//! member passes byte for byte, in order; the result keeps the W3C limits whenever our member is
//! in it; a written lane reads back, once.
#![no_main]

use libfuzzer_sys::{arbitrary, fuzz_target};
use sticky_canary_core::lane::{
    member_value, rewrite, write_member, BaggageRule, BaggageWrite, BAGGAGE_MAX_BYTES,
    BAGGAGE_MAX_MEMBERS,
};

#[derive(arbitrary::Arbitrary, Debug)]
struct Input<'a> {
    baggage: Option<&'a [u8]>,
    /// Subset names are `[A-Za-z0-9_-]`: the value is built from these bytes.
    value: &'a [u8],
}

const KEY: &[u8] = b"canary-lane";

/// Whether a list-member is ours: its key runs to the first `=` or `;`, without surrounding
/// spaces and tabs, and percent-decodes to `KEY` (written here apart from the module's own
/// parser; an escape that is not `%` and two hex digits stays as it is).
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
    decode(&key[start..stop]) == KEY
}

fn decode(text: &[u8]) -> Vec<u8> {
    let hex = |b: u8| char::from(b).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        if text[i] == b'%' && i + 2 < text.len() {
            if let (Some(hi), Some(lo)) = (hex(text[i + 1]), hex(text[i + 2])) {
                out.push(hi << 4 | lo);
                i += 3;
                continue;
            }
        }
        out.push(text[i]);
        i += 1;
    }
    out
}

/// The members of a baggage string, none when it is blank.
fn members(bytes: &[u8]) -> Vec<&[u8]> {
    if bytes.trim_ascii().is_empty() {
        return Vec::new();
    }
    bytes.split(|&b| b == b',').collect()
}

fn others(bytes: &[u8]) -> Vec<&[u8]> {
    members(bytes).into_iter().filter(|m| !is_ours(m)).collect()
}

fn bytes(written: &BaggageWrite) -> &[u8] {
    match written {
        BaggageWrite::Set(out) => out,
        BaggageWrite::Remove => &[],
    }
}

fuzz_target!(|input: Input<'_>| {
    let value: Vec<u8> = input
        .value
        .iter()
        .map(|b| b"abcdefghijklmnopqrstuvwxyz0123456789-_"[usize::from(*b) % 38])
        .take(63)
        .collect();
    let incoming = input.baggage.unwrap_or_default();
    if let Some(found) = member_value(incoming, KEY) {
        let within = incoming.as_ptr_range();
        let found = found.as_ptr_range();
        assert!(within.start <= found.start && found.end <= within.end);
        assert!(members(incoming).iter().any(|m| is_ours(m)));
    }

    // An untrusted lane: ours written over every member of ours.
    let written = write_member(input.baggage, KEY, &value);
    let out = bytes(&written);
    assert_eq!(others(incoming), others(out), "a member not ours changed");
    let ours: Vec<&[u8]> = members(out).into_iter().filter(|m| is_ours(m)).collect();
    match member_value(out, KEY) {
        Some(read) => {
            assert_eq!(read, value.as_slice(), "a written lane reads back");
            assert_eq!(ours.len(), 1, "one member of ours: {ours:?}");
            assert_eq!(ours[0], [KEY, b"=", &value].concat());
            assert!(out.len() <= BAGGAGE_MAX_BYTES);
            let count = members(out)
                .into_iter()
                .filter(|m| !m.trim_ascii().is_empty())
                .count();
            assert!(count <= BAGGAGE_MAX_MEMBERS);
        }
        // Left out rather than break a limit: and then no client's member of ours either.
        None => assert!(ours.is_empty(), "a client's member survived: {ours:?}"),
    }
    // Writing again changes nothing.
    if let BaggageWrite::Set(out) = &written {
        assert_eq!(
            write_member(Some(out), KEY, &value),
            BaggageWrite::Set(out.clone())
        );
    }

    // A request no lane route decides: every member of ours goes, the rest stays.
    let owned = [KEY.to_vec()];
    let strip = BaggageRule {
        owned: &owned,
        keep: None,
        write: None,
    };
    let (stripped, wrote) = rewrite(input.baggage, &strip);
    assert!(!wrote);
    let out = bytes(&stripped);
    assert!(members(out).iter().all(|m| !is_ours(m)), "ours kept");
    assert_eq!(members(out), members(&others(incoming).join(&b',')));

    // A route that trusts the lane: everything passes as it came.
    let keep = BaggageRule {
        owned: &owned,
        keep: Some(KEY),
        write: None,
    };
    let (kept, wrote) = rewrite(input.baggage, &keep);
    assert!(!wrote);
    assert_eq!(members(bytes(&kept)), members(incoming));
});
