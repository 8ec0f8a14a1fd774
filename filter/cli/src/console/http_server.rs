//! The console's HTTP/1.1 server, on std::net alone: one request per connection, each connection
//! on a thread of its own, at most `MAX_CONNECTIONS` at once. Nothing a client announces is
//! trusted: the head is capped, the `Host` is checked on the head alone, a body is refused by its
//! declared length before a byte of it is read, and the whole request must arrive within
//! `REQUEST_TIMEOUT`. (tiny_http, used before, read the declared rest of a body when a request was
//! dropped, into a buffer of that size: one request with a huge `Content-Length` aborted the
//! process, and a few stalled bodies held every worker.)

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// A pluginConfig is small; anything bigger is not one.
pub const MAX_BODY: usize = 1 << 20;
/// The request line and headers of a browser's request fit many times over.
const MAX_HEAD: usize = 16 << 10;
/// Open connections at once; past it a connection is answered 503 and closed. A browser opens
/// six per host; an apply holds one for up to Envoy's verdict.
pub const MAX_CONNECTIONS: usize = 32;
/// From the connection's accept to the last byte of its body: a client on this machine sends a
/// request in microseconds, so a slow one is stalled (or stalling on purpose).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// A client that does not read its answer is dropped after this long.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// After a refusal sent before the body was read, how long (and how much) of what the client
/// still sends is read and dropped, so that closing does not reset the connection under the
/// answer before the client reads it.
const LINGER: Duration = Duration::from_secs(1);
const LINGER_BYTES: usize = 1 << 20;
/// Refused connections waiting for their 503; more are closed without one.
const REFUSALS_QUEUED: usize = 64;

/// One request, read whole.
pub struct Request {
    pub method: String,
    /// The target without its query.
    pub path: String,
    pub if_match: Option<String>,
    pub body: String,
}

pub struct Reply {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
    pub etag: Option<String>,
    /// An answer to HEAD.
    pub body_omitted: bool,
}

impl Reply {
    pub fn json(status: u16, body: Value) -> Reply {
        Reply {
            status,
            content_type: "application/json",
            body: body.to_string(),
            etag: None,
            body_omitted: false,
        }
    }

    pub fn error(status: u16, message: impl Into<String>) -> Reply {
        Reply::json(status, json!({ "error": message.into() }))
    }
}

pub trait Handler: Send + Sync + 'static {
    /// Decided on the request's head alone, before any of its body is read.
    fn admit(&self, host: Option<&str>) -> Result<(), Reply>;
    fn handle(&self, request: Request) -> Reply;
}

/// Serves `listener` until the process is stopped.
pub fn serve(listener: TcpListener, handler: Arc<dyn Handler>) {
    let open = Arc::new(AtomicUsize::new(0));
    let refusals = refuser();
    for stream in listener.incoming() {
        let stream = match stream {
            Ok(stream) => stream,
            Err(e) => {
                // Out of file descriptors, say: pause rather than spin on the error.
                eprintln!("console: accept: {e}");
                thread::sleep(Duration::from_millis(50));
                continue;
            }
        };
        // Only this thread adds to `open`, so the count cannot pass the cap in between.
        if open.load(Ordering::Acquire) >= MAX_CONNECTIONS {
            let _ = refusals.try_send(stream);
            continue;
        }
        open.fetch_add(1, Ordering::AcqRel);
        let slot = Slot(Arc::clone(&open));
        let handler = Arc::clone(&handler);
        let spawned = thread::Builder::new()
            .name("console-connection".into())
            .spawn(move || {
                let _slot = slot;
                connection(stream, handler.as_ref());
            });
        if let Err(e) = spawned {
            eprintln!("console: cannot start a thread for a connection: {e}");
        }
    }
}

/// Frees its place under the cap when the connection's thread ends, however it ends.
struct Slot(Arc<AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// One thread answers the connections past the cap, one at a time, so refusing costs no thread
/// per connection.
fn refuser() -> SyncSender<TcpStream> {
    let (send, receive): (SyncSender<TcpStream>, Receiver<TcpStream>) =
        mpsc::sync_channel(REFUSALS_QUEUED);
    let spawned = thread::Builder::new()
        .name("console-refuser".into())
        .spawn(move || {
            for mut stream in receive {
                let reply = Reply::error(
                    503,
                    format!("the console has {MAX_CONNECTIONS} connections open: try again"),
                );
                if stream.set_write_timeout(Some(LINGER)).is_ok() && respond(&mut stream, reply) {
                    linger(&mut stream);
                }
            }
        });
    if let Err(e) = spawned {
        // Then a connection past the cap is closed without an answer.
        eprintln!("console: cannot start the thread that refuses connections: {e}");
    }
    send
}

/// Why reading a request stopped.
enum Stop {
    /// The client closed its side.
    Closed,
    TimedOut,
    Failed,
}

/// Reads what has arrived, waiting no later than `deadline`.
fn read_until(stream: &mut TcpStream, buf: &mut [u8], deadline: Instant) -> Result<usize, Stop> {
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(Stop::TimedOut);
        }
        stream
            .set_read_timeout(Some(left))
            .map_err(|_| Stop::Failed)?;
        match stream.read(buf) {
            Ok(0) => return Err(Stop::Closed),
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return Err(Stop::TimedOut)
            }
            Err(_) => return Err(Stop::Failed),
        }
    }
}

fn connection(mut stream: TcpStream, handler: &dyn Handler) {
    let deadline = Instant::now() + REQUEST_TIMEOUT;
    if stream.set_write_timeout(Some(WRITE_TIMEOUT)).is_err() {
        return;
    }
    let _ = stream.set_nodelay(true);
    match read_request(&mut stream, handler, deadline) {
        Ok(request) => {
            let head_only = request.method == "HEAD";
            let mut reply = handler.handle(request);
            if head_only {
                // The length stays the body's; the body is not sent (RFC 9110, 9.3.2).
                reply.body_omitted = true;
            }
            // The whole request was read: closing now ends the connection cleanly.
            let _ = respond(&mut stream, reply);
        }
        Err(Some(refusal)) => {
            if respond(&mut stream, refusal) {
                linger(&mut stream);
            }
        }
        Err(None) => {}
    }
}

/// The request, or the answer that refuses it (`None`: the client is gone, nobody to answer).
fn read_request(
    stream: &mut TcpStream,
    handler: &dyn Handler,
    deadline: Instant,
) -> Result<Request, Option<Reply>> {
    let timed_out = || Some(Reply::error(408, "the request did not arrive in time"));
    let mut buf: Vec<u8> = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(end) = find(&buf, b"\r\n\r\n") {
            break end;
        }
        if buf.len() > MAX_HEAD {
            return Err(Some(Reply::error(
                431,
                format!("the request's head is larger than {MAX_HEAD} bytes"),
            )));
        }
        match read_until(stream, &mut chunk, deadline) {
            Ok(n) => buf.extend_from_slice(chunk.get(..n).unwrap_or_default()),
            Err(Stop::Closed) if buf.is_empty() => return Err(None),
            Err(Stop::Closed) => {
                return Err(Some(Reply::error(400, "the request ended inside its head")))
            }
            Err(Stop::TimedOut) => return Err(timed_out()),
            Err(Stop::Failed) => return Err(None),
        }
    };
    let head = std::str::from_utf8(buf.get(..head_end).unwrap_or_default())
        .map_err(|_| Some(Reply::error(400, "the request's head is not UTF-8")))?;
    let head = Head::parse(head).map_err(|e| Some(Reply::error(400, e)))?;
    handler.admit(head.host.as_deref()).map_err(Some)?;
    if head.chunked {
        return Err(Some(Reply::error(
            411,
            "send the body with a Content-Length, not Transfer-Encoding",
        )));
    }
    if head.length > MAX_BODY as u64 {
        return Err(Some(Reply::error(
            413,
            format!("the body is larger than {MAX_BODY} bytes"),
        )));
    }
    // At most MAX_BODY, checked just above.
    let length = usize::try_from(head.length).unwrap_or(MAX_BODY);
    if head.continue_expected && buf.len() == head_end + 4 && length > 0 {
        stream
            .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
            .map_err(|_| None)?;
    }
    let mut body: Vec<u8> = buf.get(head_end + 4..).unwrap_or_default().to_vec();
    while body.len() < length {
        let want = (length - body.len()).min(chunk.len());
        let into = chunk.get_mut(..want).unwrap_or_default();
        match read_until(stream, into, deadline) {
            Ok(n) => body.extend_from_slice(into.get(..n).unwrap_or_default()),
            Err(Stop::Closed) => {
                return Err(Some(Reply::error(
                    400,
                    "the body ended before its Content-Length",
                )))
            }
            Err(Stop::TimedOut) => return Err(timed_out()),
            Err(Stop::Failed) => return Err(None),
        }
    }
    // Bytes past the body would be a pipelined request; this server answers one and closes.
    body.truncate(length);
    let body =
        String::from_utf8(body).map_err(|_| Some(Reply::error(400, "the body is not UTF-8")))?;
    Ok(Request {
        method: head.method,
        path: head.path,
        if_match: head.if_match,
        body,
    })
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// What the server and the console read from a request's head.
struct Head {
    method: String,
    path: String,
    host: Option<String>,
    if_match: Option<String>,
    length: u64,
    chunked: bool,
    continue_expected: bool,
}

impl Head {
    fn parse(head: &str) -> Result<Head, String> {
        let mut lines = head.split("\r\n");
        let request_line = lines.next().unwrap_or_default();
        let mut parts = request_line.split(' ');
        let (Some(method), Some(target), Some(version), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(format!("not an HTTP request line: {request_line:?}"));
        };
        if version != "HTTP/1.1" && version != "HTTP/1.0" {
            return Err(format!("HTTP/1.1 only, not {version:?}"));
        }
        let mut parsed = Head {
            method: method.to_string(),
            path: target.split('?').next().unwrap_or_default().to_string(),
            host: None,
            if_match: None,
            length: 0,
            chunked: false,
            continue_expected: false,
        };
        let mut hosts = 0;
        let mut lengths: Vec<u64> = Vec::new();
        for line in lines {
            let Some((name, value)) = line.split_once(':') else {
                return Err(format!("not a header: {line:?}"));
            };
            if name.is_empty() || name.bytes().any(|b| b.is_ascii_whitespace()) {
                // Also a folded line, which RFC 9112 lets a server refuse.
                return Err(format!("not a header: {line:?}"));
            }
            let value = value.trim_matches([' ', '\t']);
            match name.to_ascii_lowercase().as_str() {
                "host" => {
                    hosts += 1;
                    parsed.host = Some(value.to_ascii_lowercase());
                }
                "if-match" => parsed.if_match = Some(value.to_string()),
                "content-length" => {
                    for one in value.split(',') {
                        let one = one.trim_matches([' ', '\t']);
                        if one.is_empty() || !one.bytes().all(|b| b.is_ascii_digit()) {
                            return Err(format!("Content-Length is not a number: {value:?}"));
                        }
                        // Past u64 is past the cap too.
                        lengths.push(one.parse().unwrap_or(u64::MAX));
                    }
                }
                "transfer-encoding" => parsed.chunked = true,
                "expect" => {
                    if !value.eq_ignore_ascii_case("100-continue") {
                        return Err(format!("cannot meet Expect: {value}"));
                    }
                    parsed.continue_expected = true;
                }
                _ => {}
            }
        }
        if hosts > 1 {
            return Err("more than one Host header".into());
        }
        if let Some(first) = lengths.first() {
            if lengths.iter().any(|l| l != first) {
                return Err("Content-Length headers that disagree".into());
            }
            parsed.length = *first;
        }
        Ok(parsed)
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        411 => "Length Required",
        412 => "Precondition Failed",
        413 => "Content Too Large",
        422 => "Unprocessable Content",
        428 => "Precondition Required",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "",
    }
}

/// Writes the answer and closes the write side; false if the client is gone.
fn respond(stream: &mut TcpStream, reply: Reply) -> bool {
    let mut head = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n",
        reply.status,
        reason(reply.status),
        reply.content_type,
        reply.body.len()
    );
    if let Some(etag) = &reply.etag {
        head.push_str(&format!("ETag: {etag}\r\n"));
    }
    head.push_str("\r\n");
    let body = if reply.body_omitted { "" } else { &reply.body };
    let written = stream
        .write_all(head.as_bytes())
        .and_then(|()| stream.write_all(body.as_bytes()))
        .and_then(|()| stream.flush());
    let _ = stream.shutdown(Shutdown::Write);
    written.is_ok()
}

/// Reads and drops what the client still sends, until it closes, for at most `LINGER` and
/// `LINGER_BYTES`.
fn linger(stream: &mut TcpStream) {
    let deadline = Instant::now() + LINGER;
    let mut chunk = [0u8; 4096];
    let mut dropped = 0;
    while dropped < LINGER_BYTES {
        match read_until(stream, &mut chunk, deadline) {
            Ok(n) => dropped += n,
            Err(_) => break,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_head_is_read_strictly() {
        let head = Head::parse(
            "POST /api/apply?x=1 HTTP/1.1\r\nHost: LocalHost:9\r\nIf-Match: \"e\"\r\nContent-Length: 12, 12",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (
                head.method.as_str(),
                head.path.as_str(),
                head.host.as_deref(),
                head.if_match.as_deref(),
                head.length
            ),
            ("POST", "/api/apply", Some("localhost:9"), Some("\"e\""), 12)
        );
        let refused = |head: &str| Head::parse(head).err().unwrap_or_default();
        assert_eq!(
            refused("GET / HTTP/1.1\r\nHost: a\r\nHost: b"),
            "more than one Host header"
        );
        assert_eq!(
            refused("POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2"),
            "Content-Length headers that disagree"
        );
        assert_eq!(
            refused("POST / HTTP/1.1\r\nContent-Length: -1"),
            "Content-Length is not a number: \"-1\""
        );
        assert_eq!(
            refused("GET / HTTP/1.1\r\nHost: a\r\n b"),
            "not a header: \" b\""
        );
        assert_eq!(refused("GET / HTTP/2"), "HTTP/1.1 only, not \"HTTP/2\"");
        assert_eq!(
            Head::parse("POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999")
                .map(|h| h.length)
                .ok(),
            Some(u64::MAX),
            "a length past u64 is past the cap"
        );
    }
}
