//! Envoy's admin interface, read over plain HTTP/1.1 on loopback: `/stats` counters only.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// Counters of one ECDS-configured HTTP filter: Envoy's verdict on each push.
pub fn ecds_prefix(filter: &str) -> String {
    format!("extension_config_discovery.http_filter.{filter}.")
}

pub struct Admin {
    address: String,
}

impl Admin {
    pub fn new(address: &str) -> Admin {
        Admin {
            address: address.to_string(),
        }
    }

    pub fn get(&self, path: &str) -> Result<String, String> {
        let fail = |e: std::io::Error| format!("Envoy admin {}: {e}", self.address);
        let mut stream = TcpStream::connect(&self.address).map_err(fail)?;
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .map_err(fail)?;
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nhost: {}\r\nconnection: close\r\n\r\n",
            self.address
        )
        .map_err(fail)?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).map_err(fail)?;
        let text = String::from_utf8_lossy(&raw);
        let (head, body) = text
            .split_once("\r\n\r\n")
            .ok_or_else(|| format!("Envoy admin {}: no HTTP answer", self.address))?;
        let status = head.split_whitespace().nth(1).unwrap_or("");
        if status != "200" {
            return Err(format!(
                "Envoy admin {}{path}: status {status}",
                self.address
            ));
        }
        let chunked = head.lines().any(|l| {
            l.to_ascii_lowercase()
                .starts_with("transfer-encoding: chunked")
        });
        Ok(if chunked {
            dechunk(body)
        } else {
            body.to_string()
        })
    }

    /// Counters and gauges whose names match `filter` (Envoy's regex), by full name.
    pub fn stats(&self, filter: &str) -> Result<BTreeMap<String, u64>, String> {
        let body = self.get(&format!("/stats?filter={}", encode(filter)))?;
        Ok(body
            .lines()
            .filter_map(|line| {
                let (name, value) = line.split_once(": ")?;
                Some((name.to_string(), value.trim().parse().ok()?))
            })
            .collect())
    }
}

fn dechunk(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, after)) = rest.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if size == 0 {
            break;
        }
        let Some(chunk) = after.get(..size) else {
            out.push_str(after);
            break;
        };
        out.push_str(chunk);
        rest = after.get(size..).unwrap_or("").trim_start_matches("\r\n");
    }
    out
}

/// Percent-encodes a query value.
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
