//! Lanes: the chosen subset carried down a call chain in a header or a W3C `baggage` member.
//!
//! Baggage is client bytes. Nothing here fails on it: a member that does not parse is kept as it
//! came, and only our own member is ever read or rewritten. Members are split on `,` (which
//! neither a value nor a property may contain), so every other member, its properties and its
//! surrounding whitespace are passed on byte for byte.

use std::borrow::Cow;

use crate::config::{Lane, LaneCarrier};
use crate::matcher::percent_decode;
use crate::request::Request;

/// The header W3C baggage travels in.
pub const BAGGAGE_HEADER: &str = "baggage";

/// The W3C Baggage limits every platform must propagate (Limits section): a baggage-string of
/// at most 64 list-members and 8192 bytes reaches the next hop whole.
pub const BAGGAGE_MAX_MEMBERS: usize = 64;
pub const BAGGAGE_MAX_BYTES: usize = 8192;

/// The incoming lane of a request: the header's value, or our baggage member's value
/// (percent-decoded, without properties). `None` when absent or empty.
pub fn read(lane: &Lane, request: &Request<'_>) -> Option<Vec<u8>> {
    let value = match &lane.carrier {
        LaneCarrier::Header(name) => request.header(name).map(<[u8]>::to_vec),
        LaneCarrier::Baggage(key) => {
            let baggage = request.header_list(BAGGAGE_HEADER)?;
            member_value(&baggage, key).map(|v| percent_decode(v).into_owned())
        }
    };
    value.filter(|v| !v.is_empty())
}

/// The raw value of the first list-member named `key`: after `=`, up to its properties, without
/// surrounding whitespace. A member named `key` without `=` has no value.
pub fn member_value<'b>(baggage: &'b [u8], key: &[u8]) -> Option<&'b [u8]> {
    let member = baggage
        .split(|&b| b == b',')
        .find(|member| names(member, key))?;
    let eq = member.iter().position(|&b| b == b'=')?;
    let rest = member.get(eq + 1..)?;
    let end = rest.iter().position(|&b| b == b';').unwrap_or(rest.len());
    rest.get(..end).map(trim_ows)
}

/// What the baggage header becomes.
#[derive(Debug, PartialEq, Eq)]
pub enum BaggageWrite {
    /// The header's new value.
    Set(Vec<u8>),
    /// Nothing is left: the header goes.
    Remove,
}

/// Which members of a baggage list are ours and what becomes of them. A member is named by its
/// key as the propagators downstream read it ([`member_name`]): `canary%2Dlane`, `canary-lane+`
/// and `canary-lane%C2%A0` are all `canary-lane` to some of them, so all are ours.
pub struct BaggageRule<'r> {
    /// The keys the configuration writes: their members never pass as the client sent them,
    /// except under `keep`.
    pub owned: &'r [Vec<u8>],
    /// A key whose members pass byte for byte (the deciding route trusts that lane).
    pub keep: Option<&'r [u8]>,
    /// Our member: it takes the place of the first member of its key, or is appended.
    pub write: Option<(&'r [u8], &'r [u8])>,
}

/// `baggage` (the incoming list, if any) under `rule`. Every member that is not ours passes
/// byte for byte. When the result would break a W3C limit, our member is left out instead (the
/// other members are not ours to drop); the `bool` says whether it was written.
pub fn rewrite(baggage: Option<&[u8]>, rule: &BaggageRule<'_>) -> (BaggageWrite, bool) {
    let baggage = baggage.unwrap_or_default();
    let is_ours = |member: &[u8]| {
        let key = member_name(member);
        rule.keep != Some(&key[..])
            && (rule.owned.iter().any(|k| k[..] == key[..])
                || rule.write.is_some_and(|(k, _)| *k == key[..]))
    };
    let written_key = |member: &[u8]| {
        rule.write
            .is_some_and(|(k, _)| *k == member_name(member)[..])
    };
    let mut others: Vec<&[u8]> = Vec::new();
    let mut ours_at = None;
    if !baggage.trim_ascii().is_empty() {
        for member in baggage.split(|&b| b == b',') {
            if !is_ours(member) {
                others.push(member);
            } else if written_key(member) {
                ours_at.get_or_insert(others.len());
            }
        }
    }
    let ours = rule.write.map(|(key, value)| {
        let mut member = Vec::with_capacity(key.len() + 1 + value.len());
        member.extend_from_slice(key);
        member.push(b'=');
        member.extend_from_slice(value);
        member
    });
    let members = others.iter().filter(|m| !m.trim_ascii().is_empty()).count() + 1;
    let bytes =
        others.iter().map(|m| m.len() + 1).sum::<usize>() + ours.as_ref().map_or(0, Vec::len);
    let ours = ours.filter(|_| members <= BAGGAGE_MAX_MEMBERS && bytes <= BAGGAGE_MAX_BYTES);
    let written = ours.is_some();
    let at = ours_at.unwrap_or(others.len());
    let mut out = Vec::with_capacity(bytes);
    // Empty members are kept too, so the separator goes before every member but the first.
    let mut first = true;
    let mut push = |out: &mut Vec<u8>, part: &[u8]| {
        if !std::mem::take(&mut first) {
            out.push(b',');
        }
        out.extend_from_slice(part);
    };
    for (i, member) in others.iter().enumerate() {
        if i == at {
            if let Some(ours) = &ours {
                push(&mut out, ours);
            }
        }
        push(&mut out, member);
    }
    if at == others.len() {
        if let Some(ours) = &ours {
            push(&mut out, ours);
        }
    }
    if out.is_empty() {
        (BaggageWrite::Remove, written)
    } else {
        (BaggageWrite::Set(out), written)
    }
}

/// `baggage` with our member `key=value`: every member named `key` (however encoded) goes, ours
/// takes the first one's place or is appended; left out rather than break a W3C limit.
pub fn write_member(baggage: Option<&[u8]>, key: &[u8], value: &[u8]) -> BaggageWrite {
    let rule = BaggageRule {
        owned: &[],
        keep: None,
        write: Some((key, value)),
    };
    rewrite(baggage, &rule).0
}

/// Whether a list-member is named `key`, as [`member_name`] reads it.
fn names(member: &[u8], key: &[u8]) -> bool {
    *member_name(member) == *key
}

/// A list-member's key as the most lenient propagator reads it: `%XX` decoded, `+` as a space
/// (OpenTelemetry Python's `unquote_plus`), then whitespace trimmed, Unicode's included (Python's
/// `str.strip`, JavaScript's `trim`). Reading more members as ours only ever removes a client's.
fn member_name(member: &[u8]) -> Cow<'_, [u8]> {
    let raw = member_key(member);
    // Nothing to decode and nothing to trim: the key as it is.
    let plain = !raw.iter().any(|&b| b == b'%' || b == b'+')
        && raw.first().map_or(true, u8::is_ascii_graphic)
        && raw.last().map_or(true, u8::is_ascii_graphic);
    if plain {
        return Cow::Borrowed(raw);
    }
    let plus_as_space: Vec<u8> = raw
        .iter()
        .map(|&b| if b == b'+' { b' ' } else { b })
        .collect();
    let decoded = percent_decode(&plus_as_space).into_owned();
    match std::str::from_utf8(&decoded) {
        Ok(text) => Cow::Owned(
            text.trim_matches(|c: char| {
                c.is_whitespace() || c == '\u{feff}' || ('\u{1c}'..='\u{1f}').contains(&c)
            })
            .as_bytes()
            .to_vec(),
        ),
        Err(_) => Cow::Owned(decoded.trim_ascii().to_vec()),
    }
}

/// A list-member's key: up to `=` or `;`, without surrounding whitespace.
fn member_key(member: &[u8]) -> &[u8] {
    let end = member
        .iter()
        .position(|&b| b == b'=' || b == b';')
        .unwrap_or(member.len());
    trim_ows(member.get(..end).unwrap_or(member))
}

/// RFC 9110 optional whitespace: spaces and tabs.
fn trim_ows(bytes: &[u8]) -> &[u8] {
    let is_ows = |b: &u8| *b == b' ' || *b == b'\t';
    let start = bytes.iter().position(|b| !is_ows(b)).unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !is_ows(b))
        .map_or(start, |e| e + 1);
    bytes.get(start..end).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(baggage: &str) -> BaggageWrite {
        BaggageWrite::Set(baggage.as_bytes().to_vec())
    }

    #[test]
    fn our_member_is_read_without_properties_or_whitespace() {
        let baggage = b"userId=alice, lane = v2 ;p=1;q, x=1";
        assert_eq!(member_value(baggage, b"lane"), Some(&b"v2"[..]));
        assert_eq!(member_value(baggage, b"userId"), Some(&b"alice"[..]));
        assert_eq!(member_value(b"lane,lane=v3", b"lane"), None);
        assert_eq!(member_value(b"lanex=v2", b"lane"), None);
        assert_eq!(member_value(b"lane=", b"lane"), Some(&b""[..]));
        assert_eq!(
            member_value(b"a=1,lane=v1,lane=v2", b"lane"),
            Some(&b"v1"[..])
        );
    }

    #[test]
    fn a_key_any_propagator_reads_as_ours_is_ours() {
        // OpenTelemetry Python: unquote_plus(key).strip(); JavaScript: decodeURIComponent(key)
        // .trim(). Each of these reaches an app as `canary-lane`.
        for forged in [
            "canary%2Dlane",
            "canary%2dlane",
            "canary-lane+",
            "canary-lane%20",
            "%20canary-lane",
            "+canary-lane",
            "canary-lane%C2%A0",
            "canary-lane%E2%80%83",
            "%EF%BB%BFcanary-lane",
            "canary-lane%09",
            "\rcanary-lane",
            "canary-lane\x0b",
            "\x1fcanary-lane",
        ] {
            let baggage = format!("a=1,{forged}=v2");
            assert_eq!(
                write_member(Some(baggage.as_bytes()), b"canary-lane", b"v1"),
                set("a=1,canary-lane=v1"),
                "{forged}"
            );
        }
        // Not ours: another key, or bytes no propagator trims.
        for other in [
            "canary-lanes",
            "canary%2Blane",
            "canary_lane",
            "canary-lane%00",
        ] {
            let baggage = format!("{other}=v2");
            assert_eq!(
                write_member(Some(baggage.as_bytes()), b"canary-lane", b"v1"),
                set(&format!("{other}=v2,canary-lane=v1")),
                "{other}"
            );
        }
    }

    #[test]
    fn other_members_are_kept_byte_for_byte() {
        assert_eq!(
            write_member(Some(b"a=1;p , lane=v1;x=y,  b=%20"), b"lane", b"v2"),
            set("a=1;p ,lane=v2,  b=%20")
        );
        assert_eq!(
            write_member(Some(b"a=1"), b"lane", b"v2"),
            set("a=1,lane=v2")
        );
        assert_eq!(write_member(None, b"lane", b"v2"), set("lane=v2"));
        assert_eq!(write_member(Some(b"  "), b"lane", b"v2"), set("lane=v2"));
        assert_eq!(
            write_member(Some(b"lane=v1,a=1,lane=v1"), b"lane", b"v2"),
            set("lane=v2,a=1")
        );
    }

    #[test]
    fn every_member_naming_our_key_is_ours_however_encoded() {
        assert_eq!(
            write_member(
                Some(b"canary-lane=v1,canary%2Dlane=v2,k=1"),
                b"canary-lane",
                b"v1"
            ),
            set("canary-lane=v1,k=1")
        );
        assert_eq!(
            member_value(b"canary%2dlane=v2", b"canary-lane"),
            Some(&b"v2"[..])
        );
        let owned = vec![b"canary-lane".to_vec()];
        let strip = BaggageRule {
            owned: &owned,
            keep: None,
            write: None,
        };
        assert_eq!(
            rewrite(Some(b"k=1, canary%2dlane=v2;p, canary-lane = v3"), &strip),
            (set("k=1"), false)
        );
        assert_eq!(
            rewrite(Some(b"canary-lane=v2"), &strip),
            (BaggageWrite::Remove, false)
        );
        let keep = BaggageRule {
            owned: &owned,
            keep: Some(b"canary-lane"),
            write: None,
        };
        assert_eq!(
            rewrite(Some(b"canary%2Dlane=v2,k=1"), &keep),
            (set("canary%2Dlane=v2,k=1"), false)
        );
    }

    #[test]
    fn malformed_members_pass_untouched() {
        assert_eq!(
            write_member(Some(b"=,,garbage\xff;;,lane"), b"lane", b"v2"),
            BaggageWrite::Set(b"=,,garbage\xff;;,lane=v2".to_vec())
        );
        assert_eq!(write_member(Some(b","), b"lane", b"v2"), set(",,lane=v2"));
        assert_eq!(
            write_member(Some(b",lane=v1"), b"lane", b"v2"),
            set(",lane=v2")
        );
        assert_eq!(member_value(b"=,,lane\xff=v2", b"lane"), None);
    }

    #[test]
    fn our_member_is_left_out_rather_than_break_a_limit() {
        let full: Vec<String> = (0..BAGGAGE_MAX_MEMBERS)
            .map(|i| format!("k{i}=v"))
            .collect();
        let full = full.join(",");
        assert_eq!(
            write_member(Some(full.as_bytes()), b"lane", b"v2"),
            set(&full)
        );
        let forged = format!("lane=v2,{full}");
        assert_eq!(
            write_member(Some(forged.as_bytes()), b"lane", b"v2"),
            set(&full)
        );
        let one_less: Vec<String> = (1..BAGGAGE_MAX_MEMBERS)
            .map(|i| format!("k{i}=v"))
            .collect();
        let one_less = one_less.join(",");
        assert_eq!(
            write_member(Some(one_less.as_bytes()), b"lane", b"v2"),
            set(&format!("{one_less},lane=v2"))
        );
        // 8192 bytes exactly with ours; one more byte and ours is left out.
        let big = format!(
            "k={}",
            "x".repeat(BAGGAGE_MAX_BYTES - "k=".len() - ",lane=v2".len())
        );
        let written = write_member(Some(big.as_bytes()), b"lane", b"v2");
        assert_eq!(written, set(&format!("{big},lane=v2")));
        let bigger = format!("{big}x");
        assert_eq!(
            write_member(Some(bigger.as_bytes()), b"lane", b"v2"),
            set(&bigger)
        );
        assert_eq!(
            write_member(Some(b"lane=v9"), b"lane", &[b'v'; BAGGAGE_MAX_BYTES]),
            BaggageWrite::Remove
        );
    }
}
