//! The proxy-wasm serialized header map, read without trusting its sizes: what `abi` gets from
//! `proxy_get_header_map_pairs`, kept apart so it is tested natively.

/// The values named `name` in a serialized header map: a u32 count, a (key size, value size) u32
/// pair per header, then each key and value followed by a NUL (all little-endian). A map that
/// does not parse yields what was read before the fault.
pub fn values_named(map: &[u8], name: &[u8]) -> Vec<Vec<u8>> {
    pairs(map)
        .filter(|(key, _)| *key == name)
        .map(|(_, value)| value.to_vec())
        .collect()
}

/// The first value of each of `names`, in one pass over the map.
pub fn first_values<const N: usize>(map: &[u8], names: [&str; N]) -> [Option<Vec<u8>>; N] {
    let mut found: [Option<Vec<u8>>; N] = std::array::from_fn(|_| None);
    for (key, value) in pairs(map) {
        for (slot, name) in found.iter_mut().zip(names) {
            if slot.is_none() && key == name.as_bytes() {
                *slot = Some(value.to_vec());
            }
        }
    }
    found
}

/// The map's (key, value) pairs in order, up to the first fault.
fn pairs(map: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    let word = |at: usize| -> Option<usize> {
        let bytes: [u8; 4] = map.get(at..at.checked_add(4)?)?.try_into().ok()?;
        usize::try_from(u32::from_le_bytes(bytes)).ok()
    };
    // The byte range `[at, at + len)`, or `None` past the end (or past usize on wasm32).
    let range = move |at: usize, len: usize| map.get(at..at.checked_add(len)?);
    let count = word(0).unwrap_or(0);
    let mut data = count.checked_mul(8).and_then(|sizes| sizes.checked_add(4));
    (0..count).map_while(move |i| {
        let at = data?;
        let sizes = 4 + i * 8;
        let (key_len, value_len) = (word(sizes)?, word(sizes + 4)?);
        let value_at = at.checked_add(key_len)?.checked_add(1)?;
        let pair = (range(at, key_len)?, range(value_at, value_len)?);
        data = value_at
            .checked_add(value_len)
            .and_then(|end| end.checked_add(1));
        Some(pair)
    })
}

#[cfg(test)]
mod tests {
    use super::{first_values, values_named};

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
    fn repeated_values_are_found_in_order_and_a_torn_map_is_no_fault() {
        let map = serialize(&[
            (":path", b"/"),
            ("baggage", b"a=1"),
            ("x", b""),
            ("baggage", b"b\xff"),
        ]);
        assert_eq!(
            values_named(&map, b"baggage"),
            vec![b"a=1".to_vec(), b"b\xff".to_vec()]
        );
        assert_eq!(values_named(&map, b"x"), vec![Vec::<u8>::new()]);
        for cut in 0..map.len() {
            assert!(values_named(&map[..cut], b"baggage").len() <= 2);
        }
        assert!(values_named(&[0xff; 12], b"baggage").is_empty());
        assert_eq!(
            first_values(&map, ["x", "baggage", "none"]),
            [Some(Vec::new()), Some(b"a=1".to_vec()), None]
        );
        for cut in 0..map.len() {
            let [path, _, _] = first_values(&map[..cut], [":path", "baggage", "x"]);
            assert!(path.is_none() || path.as_deref() == Some(&b"/"[..]));
        }
    }
}
