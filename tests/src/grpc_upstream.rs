//! A gRPC-shaped upstream of the test's own: HTTP/2 with prior knowledge (h2c) on a Unix socket,
//! answering every call `200`, `content-type: application/grpc` and `x-served-by: <name>`, with
//! its `grpc-status` in the trailers or, trailers-only, in the response headers, as the test
//! scripts it. Only as much HTTP/2 as Envoy's upstream codec needs: the preface, SETTINGS and
//! PING acknowledged, request header blocks skipped (never decoded: the answer does not depend on
//! them), responses encoded as HPACK literals without indexing, connection flow control refilled
//! for request bodies (RFC 9113, RFC 7541).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// How one call is answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Answer {
    /// The `grpc-status` code.
    pub code: u8,
    /// In the response headers, with no body and no trailers; else a message, then trailers.
    pub trailers_only: bool,
}

impl Answer {
    pub const fn trailers(code: u8) -> Answer {
        Answer {
            code,
            trailers_only: false,
        }
    }

    pub const fn trailers_only(code: u8) -> Answer {
        Answer {
            code,
            trailers_only: true,
        }
    }
}

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
const DATA: u8 = 0x0;
const HEADERS: u8 = 0x1;
const SETTINGS: u8 = 0x4;
const PING: u8 = 0x6;
const GOAWAY: u8 = 0x7;
const WINDOW_UPDATE: u8 = 0x8;
const CONTINUATION: u8 = 0x9;
const END_STREAM: u8 = 0x1;
const ACK: u8 = 0x1;
const END_HEADERS: u8 = 0x4;

#[derive(Default)]
struct Shared {
    /// Calls are answered by these in turn, counted across all connections.
    script: Mutex<Vec<Answer>>,
    received: AtomicU64,
    stop: AtomicBool,
}

pub struct GrpcUpstream {
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

impl GrpcUpstream {
    /// Listens on `socket`; answers in turn by `script` (at least one answer).
    pub fn start(socket: &Path, name: &str, script: &[Answer]) -> GrpcUpstream {
        assert!(!script.is_empty());
        let listener =
            UnixListener::bind(socket).unwrap_or_else(|e| panic!("bind {}: {e}", socket.display()));
        listener.set_nonblocking(true).unwrap();
        let shared = Arc::new(Shared::default());
        *shared.script.lock().unwrap() = script.to_vec();
        let accept_shared = shared.clone();
        let name = name.to_string();
        let accept = thread::spawn(move || {
            let shared = accept_shared;
            while !shared.stop.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let (shared, name) = (shared.clone(), name.clone());
                        thread::spawn(move || {
                            // A connection Envoy closes ends here, with whatever error.
                            let _ = serve(stream, &shared, &name);
                        });
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        thread::sleep(Duration::from_millis(2));
                    }
                    Err(e) => panic!("accept: {e}"),
                }
            }
        });
        GrpcUpstream {
            shared,
            accept: Some(accept),
        }
    }

    /// Calls received so far.
    pub fn received(&self) -> u64 {
        self.shared.received.load(Ordering::SeqCst)
    }
}

impl Drop for GrpcUpstream {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
    }
}

fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = u32::try_from(payload.len()).unwrap();
    assert!(len < 1 << 14, "within the default SETTINGS_MAX_FRAME_SIZE");
    let mut out = len.to_be_bytes()[1..].to_vec();
    out.push(kind);
    out.push(flags);
    out.extend((stream & 0x7fff_ffff).to_be_bytes());
    out.extend(payload);
    out
}

/// A header block of literal fields without indexing, new names (RFC 7541 6.2.2), no Huffman.
fn header_block(fields: &[(&str, &str)]) -> Vec<u8> {
    let mut block = Vec::new();
    for (name, value) in fields {
        block.push(0x00);
        for text in [name, value] {
            assert!(text.len() < 0x7f, "a one-byte length prefix");
            block.push(u8::try_from(text.len()).unwrap());
            block.extend(text.as_bytes());
        }
    }
    block
}

fn answer(out: &mut UnixStream, stream: u32, name: &str, answer: Answer) -> std::io::Result<()> {
    let code = answer.code.to_string();
    let mut head = vec![
        (":status", "200"),
        ("content-type", "application/grpc"),
        ("x-served-by", name),
    ];
    let status = [("grpc-status", code.as_str()), ("grpc-message", "scripted")];
    let mut bytes = Vec::new();
    if answer.trailers_only {
        head.extend(status);
        bytes.extend(frame(
            HEADERS,
            END_HEADERS | END_STREAM,
            stream,
            &header_block(&head),
        ));
    } else {
        bytes.extend(frame(HEADERS, END_HEADERS, stream, &header_block(&head)));
        // One empty message: not compressed, length 0.
        bytes.extend(frame(DATA, 0, stream, &[0, 0, 0, 0, 0]));
        bytes.extend(frame(
            HEADERS,
            END_HEADERS | END_STREAM,
            stream,
            &header_block(&status),
        ));
    }
    out.write_all(&bytes)
}

fn serve(mut stream: UnixStream, shared: &Shared, name: &str) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    let mut preface = [0u8; PREFACE.len()];
    stream.read_exact(&mut preface)?;
    assert_eq!(&preface[..], PREFACE, "not HTTP/2 with prior knowledge");
    let mut out = stream.try_clone()?;
    out.write_all(&frame(SETTINGS, 0, 0, &[]))?;
    // The stream whose header block is still open (CONTINUATION follows), and whether it ended.
    let mut open_block: Option<(u32, bool)> = None;
    loop {
        let mut head = [0u8; 9];
        stream.read_exact(&mut head)?;
        let len = usize::try_from(u32::from_be_bytes([0, head[0], head[1], head[2]])).unwrap();
        let (kind, flags) = (head[3], head[4]);
        let id = u32::from_be_bytes([head[5], head[6], head[7], head[8]]) & 0x7fff_ffff;
        let mut payload = vec![0u8; len];
        stream.read_exact(&mut payload)?;
        let ended = match kind {
            SETTINGS if flags & ACK == 0 => {
                out.write_all(&frame(SETTINGS, ACK, 0, &[]))?;
                None
            }
            PING if flags & ACK == 0 => {
                out.write_all(&frame(PING, ACK, 0, &payload))?;
                None
            }
            HEADERS | CONTINUATION => {
                let ends = if kind == HEADERS {
                    flags & END_STREAM != 0
                } else {
                    open_block.is_some_and(|(_, ends)| ends)
                };
                if flags & END_HEADERS == 0 {
                    open_block = Some((id, ends));
                    None
                } else {
                    open_block = None;
                    ends.then_some(id)
                }
            }
            DATA => {
                if len > 0 {
                    let increment = u32::try_from(len).unwrap().to_be_bytes();
                    out.write_all(&frame(WINDOW_UPDATE, 0, 0, &increment))?;
                }
                (flags & END_STREAM != 0).then_some(id)
            }
            GOAWAY => return Ok(()),
            _ => None,
        };
        if let Some(id) = ended {
            let number = shared.received.fetch_add(1, Ordering::SeqCst);
            let script = shared.script.lock().unwrap();
            let pick = script[usize::try_from(number).unwrap() % script.len()];
            drop(script);
            answer(&mut out, id, name, pick)?;
        }
    }
}
