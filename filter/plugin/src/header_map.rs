//! The proxy-wasm serialized header map, read without trusting its sizes: what the host hands
//! over from `proxy_get_header_map_pairs`, kept apart so it is tested natively.

/// The (name, value) pairs of a serialized header map, borrowed from it: a u32 count, a (key
/// size, value size) u32 pair per header, then each key and value followed by a NUL (all
/// little-endian). A map that does not parse yields what was read before the fault.
pub fn pairs(map: &[u8]) -> Vec<(&[u8], &[u8])> {
    let word = |at: usize| -> Option<usize> {
        let bytes: [u8; 4] = map.get(at..at.checked_add(4)?)?.try_into().ok()?;
        usize::try_from(u32::from_le_bytes(bytes)).ok()
    };
    // The byte range `[at, at + len)`, or `None` past the end (or past usize on wasm32).
    let range = |at: usize, len: usize| map.get(at..at.checked_add(len)?);
    let Some(count) = word(0) else {
        return Vec::new();
    };
    let Some(mut data) = count.checked_mul(8).and_then(|sizes| sizes.checked_add(4)) else {
        return Vec::new();
    };
    // A count the sizes cannot back is a torn map: never reserve more than the map could hold.
    let mut pairs = Vec::with_capacity(count.min(map.len() / 8));
    for i in 0..count {
        let sizes = 4 + i * 8;
        let (Some(key_len), Some(value_len)) = (word(sizes), word(sizes + 4)) else {
            break;
        };
        let Some(value_at) = data.checked_add(key_len).and_then(|end| end.checked_add(1)) else {
            break;
        };
        match (range(data, key_len), range(value_at, value_len)) {
            (Some(key), Some(value)) => pairs.push((key, value)),
            _ => break,
        }
        match value_at
            .checked_add(value_len)
            .and_then(|end| end.checked_add(1))
        {
            Some(next) => data = next,
            None => break,
        }
    }
    pairs
}

#[cfg(test)]
mod tests {
    use super::pairs;

    fn serialize(pairs: &[(&str, &[u8])]) -> Vec<u8> {
        let mut out = (pairs.len() as u32).to_le_bytes().to_vec();
        for (k, v) in pairs {
            out.extend((k.len() as u32).to_le_bytes());
            out.extend((v.len() as u32).to_le_bytes());
        }
        for (k, v) in pairs {
            out.extend(k.as_bytes());
            out.push(0);
            out.extend(*v);
            out.push(0);
        }
        out
    }

    #[test]
    fn every_pair_in_order_and_a_torn_map_is_no_fault() {
        let map = serialize(&[
            (":path", b"/"),
            ("baggage", b"a=1"),
            ("x", b""),
            ("baggage", b"b\xff"),
        ]);
        let read = pairs(&map);
        assert_eq!(
            read,
            vec![
                (&b":path"[..], &b"/"[..]),
                (b"baggage", b"a=1"),
                (b"x", b""),
                (b"baggage", b"b\xff"),
            ]
        );
        for cut in 0..map.len() {
            let torn = pairs(&map[..cut]);
            assert!(torn.len() <= 4);
            assert_eq!(torn[..], read[..torn.len()]);
        }
        assert!(pairs(&[0xff; 12]).is_empty());
    }
}
