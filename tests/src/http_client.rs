//! A minimal HTTP/1.1 client over a raw socket: requests are bytes, so a test can send header
//! values no well-behaved client library would (non-UTF-8, repeated, 60 KiB long).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// A request header as sent: name and raw value bytes.
pub type Header<'a> = (&'a str, &'a [u8]);

pub struct Response {
    pub status: u16,
    /// Lowercase names, in order.
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| std::str::from_utf8(v).unwrap())
    }

    /// The subset whose upstream answered (its `x-served-by`).
    pub fn served_by(&self) -> &str {
        self.header("x-served-by").unwrap_or_else(|| {
            panic!(
                "no x-served-by: status {} body {:?}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// The routing header as the upstream received it, if any.
    pub fn received_subset(&self) -> Option<&str> {
        self.header("x-received-subset")
    }
}

/// A keep-alive connection to one port on 127.0.0.1.
pub struct Client {
    port: u16,
    conn: Option<BufReader<TcpStream>>,
}

impl Client {
    pub fn new(port: u16) -> Self {
        Client { port, conn: None }
    }

    /// GET with these headers (each name/value sent exactly as given, repeats allowed).
    pub fn get(&mut self, path: &str, headers: &[(&str, &[u8])]) -> Response {
        self.request(&build_request(path.as_bytes(), headers))
    }

    /// Like `get` but `None` when the connection fails (for readiness polling).
    pub fn try_get(&mut self, path: &str) -> Option<Response> {
        self.try_request(&build_request(path.as_bytes(), &[])).ok()
    }

    /// Sends raw request bytes; retries once on a fresh connection if a kept-alive one was closed.
    pub fn request(&mut self, raw: &[u8]) -> Response {
        match self.try_request(raw) {
            Ok(response) => response,
            Err(_) => {
                self.conn = None;
                self.try_request(raw)
                    .unwrap_or_else(|e| panic!("request to port {} failed: {e}", self.port))
            }
        }
    }

    fn try_request(&mut self, raw: &[u8]) -> std::io::Result<Response> {
        if self.conn.is_none() {
            let stream = TcpStream::connect(("127.0.0.1", self.port))?;
            stream.set_read_timeout(Some(Duration::from_secs(10)))?;
            stream.set_nodelay(true)?;
            self.conn = Some(BufReader::new(stream));
        }
        let conn = self.conn.as_mut().unwrap();
        conn.get_mut().write_all(raw)?;
        let result = read_response(conn);
        match &result {
            Ok(r) if r.header("connection") == Some("close") => self.conn = None,
            Err(_) => self.conn = None,
            _ => {}
        }
        result
    }
}

/// A request sent on a connection of its own, its response read later: many such requests are
/// in flight at once.
pub struct Pending(BufReader<TcpStream>);

impl Pending {
    pub fn send(port: u16, path: &str, headers: &[(&str, &[u8])]) -> Pending {
        let mut stream = TcpStream::connect(("127.0.0.1", port))
            .unwrap_or_else(|e| panic!("connect to port {port}: {e}"));
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        stream
            .write_all(&build_request(path.as_bytes(), headers))
            .unwrap();
        Pending(BufReader::new(stream))
    }

    pub fn response(mut self) -> Response {
        read_response(&mut self.0).unwrap_or_else(|e| panic!("no response: {e}"))
    }
}

pub fn build_request(path: &[u8], headers: &[(&str, &[u8])]) -> Vec<u8> {
    let mut raw = Vec::with_capacity(256);
    raw.extend_from_slice(b"GET ");
    raw.extend_from_slice(path);
    raw.extend_from_slice(b" HTTP/1.1\r\n");
    if !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("host")) {
        raw.extend_from_slice(b"host: servicea.com\r\n");
    }
    for (name, value) in headers {
        raw.extend_from_slice(name.as_bytes());
        raw.extend_from_slice(b": ");
        raw.extend_from_slice(value);
        raw.extend_from_slice(b"\r\n");
    }
    raw.extend_from_slice(b"\r\n");
    raw
}

fn invalid(what: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_string())
}

fn read_response(conn: &mut BufReader<TcpStream>) -> std::io::Result<Response> {
    let mut line = String::new();
    if conn.read_line(&mut line)? == 0 {
        return Err(invalid("connection closed"));
    }
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| invalid("bad status line"))?;
    let mut headers = Vec::new();
    loop {
        let mut raw = Vec::new();
        conn.read_until(b'\n', &mut raw)?;
        let raw = raw.strip_suffix(b"\r\n").unwrap_or(&raw);
        if raw.is_empty() {
            break;
        }
        let colon = raw
            .iter()
            .position(|&b| b == b':')
            .ok_or_else(|| invalid("bad header"))?;
        let name = String::from_utf8_lossy(&raw[..colon]).to_ascii_lowercase();
        headers.push((name, raw[colon + 1..].trim_ascii().to_vec()));
    }
    let chunked = headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.eq_ignore_ascii_case(b"chunked"));
    if chunked {
        let body = read_chunked(conn)?;
        return Ok(Response {
            status,
            headers,
            body,
        });
    }
    let length: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| std::str::from_utf8(v).ok()?.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    conn.read_exact(&mut body)?;
    Ok(Response {
        status,
        headers,
        body,
    })
}

fn read_chunked(conn: &mut BufReader<TcpStream>) -> std::io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let mut size_line = String::new();
        conn.read_line(&mut size_line)?;
        let size_hex = size_line.trim().split(';').next().unwrap_or("");
        let size = usize::from_str_radix(size_hex, 16).map_err(|_| invalid("bad chunk size"))?;
        if size == 0 {
            // Trailers, if any, end with an empty line.
            loop {
                let mut line = String::new();
                if conn.read_line(&mut line)? == 0 || line == "\r\n" {
                    return Ok(body);
                }
            }
        }
        let start = body.len();
        body.resize(start + size, 0);
        conn.read_exact(&mut body[start..])?;
        let mut crlf = [0; 2];
        conn.read_exact(&mut crlf)?;
    }
}
