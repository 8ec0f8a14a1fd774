//! `stickiness.assign`: a visitor who presents no key gets a new random id, hashed by the contract
//! as if it had sent it, and a cookie holding it. With `signed`, the cookie is `<id>.<mac>` (an
//! HMAC-SHA256 of the id under a key from the VM's environment), so a visitor cannot choose an id
//! that lands on the canary: a cookie whose MAC does not verify counts as absent.

use std::fmt;

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Environment variable holding the key that signs ids (WasmPlugin `vmConfig.env`, Envoy
/// `vm_config.environment_variables`).
pub const COOKIE_KEY_ENV: &str = "STICKY_CANARY_COOKIE_KEY";

/// Random bytes in an id: 128 bits, so ids never collide and cannot be guessed.
pub const ID_BYTES: usize = 16;

/// An id's text: [`ID_BYTES`] in URL-safe base64 without padding.
pub const ID_LEN: usize = 22;

/// A MAC's text: 32 bytes in URL-safe base64 without padding.
const MAC_LEN: usize = 43;

/// A newly issued id, as the text that is hashed and sent. Fixed size, so a decision carrying
/// one is still `Copy` and allocates nothing.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct NewId([u8; ID_LEN]);

impl NewId {
    pub fn from_random(bytes: [u8; ID_BYTES]) -> NewId {
        let mut text = [0u8; ID_LEN];
        encode(&bytes, &mut text);
        NewId(text)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for NewId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NewId({})", String::from_utf8_lossy(&self.0))
    }
}

/// The signing key, keyed once at configure time; each signature or check starts from a copy.
/// `Debug` never prints it.
#[derive(Clone)]
pub struct CookieKey(Hmac<Sha256>);

impl CookieKey {
    /// `None` only for a key HMAC cannot take, which for HMAC-SHA256 is none.
    pub fn new(key: &[u8]) -> Option<CookieKey> {
        Hmac::<Sha256>::new_from_slice(key).ok().map(CookieKey)
    }

    fn mac(&self, id: &[u8]) -> [u8; 32] {
        let mut mac = self.0.clone();
        mac.update(id);
        mac.finalize().into_bytes().into()
    }

    /// Whether `mac_text` is the id's MAC, compared in constant time.
    fn verifies(&self, id: &[u8], mac_text: &[u8]) -> bool {
        let mut presented = [0u8; 32];
        if !decode(mac_text, &mut presented) {
            return false;
        }
        let mut mac = self.0.clone();
        mac.update(id);
        mac.verify_slice(&presented).is_ok()
    }
}

impl fmt::Debug for CookieKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CookieKey(..)")
    }
}

/// A route's compiled `assign`.
#[derive(Debug)]
pub struct Assign {
    /// The cookie's name; also one of the route's cookie key sources.
    pub cookie: Vec<u8>,
    /// Lowercase request header the id travels upstream in.
    pub header: Option<String>,
    pub key: Option<CookieKey>,
    /// `<cookie>=`, built once.
    set_cookie_head: Vec<u8>,
    /// `; Max-Age=...` and the other attributes, built once.
    set_cookie_tail: Vec<u8>,
}

/// The attributes of the cookie, already validated.
pub struct CookieAttributes<'a> {
    pub max_age: u64,
    pub domain: Option<&'a str>,
    pub path: &'a str,
    pub secure: bool,
    pub http_only: bool,
    pub same_site: Option<&'a str>,
}

impl Assign {
    pub fn new(
        cookie: Vec<u8>,
        header: Option<String>,
        key: Option<CookieKey>,
        attributes: &CookieAttributes<'_>,
    ) -> Assign {
        let mut head = cookie.clone();
        head.push(b'=');
        let mut tail = format!("; Max-Age={}", attributes.max_age);
        if let Some(domain) = attributes.domain {
            tail.push_str("; Domain=");
            tail.push_str(domain);
        }
        tail.push_str("; Path=");
        tail.push_str(attributes.path);
        if attributes.secure {
            tail.push_str("; Secure");
        }
        if attributes.http_only {
            tail.push_str("; HttpOnly");
        }
        if let Some(same_site) = attributes.same_site {
            tail.push_str("; SameSite=");
            tail.push_str(same_site);
        }
        Assign {
            cookie,
            header,
            key,
            set_cookie_head: head,
            set_cookie_tail: tail.into_bytes(),
        }
    }

    /// The id a sent cookie value carries: the value itself, or with `signed` its `<id>` part
    /// when the MAC verifies. `None`: the cookie counts as absent.
    pub fn verified<'v>(&self, value: &'v [u8]) -> Option<&'v [u8]> {
        if value.is_empty() {
            return None;
        }
        let Some(key) = &self.key else {
            return Some(value);
        };
        let dot = value.iter().rposition(|&b| b == b'.')?;
        let (id, mac) = (value.get(..dot)?, value.get(dot + 1..)?);
        (!id.is_empty() && key.verifies(id, mac)).then_some(id)
    }

    /// The cookie's value for a new id: the id, or `<id>.<mac>`.
    pub fn cookie_value(&self, id: &NewId) -> Vec<u8> {
        let mut value = Vec::with_capacity(ID_LEN + 1 + MAC_LEN);
        value.extend_from_slice(id.as_bytes());
        if let Some(key) = &self.key {
            let mut mac = [0u8; MAC_LEN];
            encode(&key.mac(id.as_bytes()), &mut mac);
            value.push(b'.');
            value.extend_from_slice(&mac);
        }
        value
    }

    /// The `Set-Cookie` response header value that hands a new id to the visitor.
    pub fn set_cookie(&self, id: &NewId) -> Vec<u8> {
        let value = self.cookie_value(id);
        let mut header = Vec::with_capacity(
            self.set_cookie_head.len() + value.len() + self.set_cookie_tail.len(),
        );
        header.extend_from_slice(&self.set_cookie_head);
        header.extend_from_slice(&value);
        header.extend_from_slice(&self.set_cookie_tail);
        header
    }
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// URL-safe base64 without padding; `out` is exactly as long as the text.
fn encode(bytes: &[u8], out: &mut [u8]) {
    let mut bits: u32 = 0;
    let mut pending = 0u32;
    let mut chars = out.iter_mut();
    for &byte in bytes {
        bits = (bits << 8) | u32::from(byte);
        pending += 8;
        while pending >= 6 {
            pending -= 6;
            if let Some(c) = chars.next() {
                *c = ALPHABET
                    .get(((bits >> pending) & 63) as usize)
                    .copied()
                    .unwrap_or(b'A');
            }
        }
    }
    if pending > 0 {
        if let Some(c) = chars.next() {
            *c = ALPHABET
                .get(((bits << (6 - pending)) & 63) as usize)
                .copied()
                .unwrap_or(b'A');
        }
    }
}

fn sextet(c: u8) -> Option<u32> {
    let value = match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'-' => 62,
        b'_' => 63,
        _ => return None,
    };
    Some(u32::from(value))
}

/// Decodes text [`encode`] wrote for exactly `out.len()` bytes; `false` for anything else,
/// including unused trailing bits that are not zero (one byte string has one text).
fn decode(text: &[u8], out: &mut [u8]) -> bool {
    if text.len() != (out.len() * 8).div_ceil(6) {
        return false;
    }
    let mut bits: u32 = 0;
    let mut pending = 0u32;
    let mut bytes = out.iter_mut();
    for &c in text {
        let Some(value) = sextet(c) else {
            return false;
        };
        bits = (bits << 6) | value;
        pending += 6;
        if pending >= 8 {
            pending -= 8;
            if let Some(b) = bytes.next() {
                *b = (bits >> pending) as u8;
            }
        }
    }
    bits & ((1 << pending) - 1) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64url_round_trips_and_is_canonical() {
        let bytes: [u8; 16] = *b"\x00\x01\xfe\xffany 16 bytes";
        let mut text = [0u8; ID_LEN];
        encode(&bytes, &mut text);
        assert!(text
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || *c == b'-' || *c == b'_'));
        let mut back = [0u8; 16];
        assert!(decode(&text, &mut back));
        assert_eq!(back, bytes);
        // 22 characters carry 132 bits: the last 4 must be zero.
        let mut other = text;
        other[ID_LEN - 1] = ALPHABET[(sextet(text[ID_LEN - 1]).unwrap() | 1) as usize];
        assert_ne!(other, text);
        assert!(!decode(&other, &mut back));
        assert!(!decode(&text[1..], &mut back));
        assert!(!decode(b"AAAAAAAAAAAAAAAAAAAA+/", &mut back));
    }

    #[test]
    fn known_vectors() {
        // RFC 4648 test vectors, URL-safe alphabet, no padding.
        let mut out = [0u8; 8];
        encode(b"foobar", &mut out);
        assert_eq!(&out, b"Zm9vYmFy");
        let mut out = [0u8; 7];
        encode(b"fooba", &mut out);
        assert_eq!(&out, b"Zm9vYmE");
        let mut out = [0u8; 3];
        encode(&[0xfb, 0xff], &mut out);
        assert_eq!(&out, b"-_8");
    }
}
