//! HTTP/2 through curl, with prior knowledge (h2c) or over TLS where ALPN picks `h2`: requests
//! with their own `:authority` and header fields, each header sent as a field of its own.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// Per request: a slow loaded CI machine still answers well within this.
const REQUEST_TIMEOUT_SECS: u32 = 60;

/// One request: `GET <path>` with this `:authority` and these header fields, in order (a name
/// given twice is sent as two fields).
#[derive(Clone, Debug)]
pub struct H2Request {
    pub authority: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
}

impl H2Request {
    /// `GET /` to `servicea.com` (the client's default host, as in [`crate::http_client`]).
    pub fn get(headers: &[(&str, &str)]) -> H2Request {
        H2Request {
            authority: "servicea.com".to_string(),
            path: "/".to_string(),
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
        }
    }

    pub fn authority(mut self, authority: &str) -> H2Request {
        self.authority = authority.to_string();
        self
    }
}

/// What came back for one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct H2Response {
    /// The HTTP version curl spoke (`2` for HTTP/2).
    pub http_version: String,
    pub status: u16,
    /// The upstream's `x-served-by`, if any.
    pub served_by: Option<String>,
    /// The routing header as the upstream received it (its `x-received-subset`), if any.
    pub received_subset: Option<String>,
}

/// Fails the test with a clear reason when curl is missing or lacks HTTP/2.
fn assert_curl_speaks_http2() {
    let version = Command::new("curl")
        .arg("-V")
        .output()
        .unwrap_or_else(|e| panic!("curl is needed for the HTTP/2 tests: {e}"));
    let text = String::from_utf8_lossy(&version.stdout);
    assert!(
        text.lines()
            .any(|l| l.starts_with("Features:") && l.split_whitespace().any(|f| f == "HTTP2")),
        "this curl has no HTTP/2 support:\n{text}"
    );
}

/// How curl reaches Envoy.
#[derive(Clone, Debug)]
pub enum Transport {
    /// Cleartext HTTP/2 with prior knowledge (h2c).
    PriorKnowledge,
    /// TLS, offering `h2` and `http/1.1` by ALPN, trusting this certificate (see [`TestCert`]).
    Tls { ca: PathBuf },
}

/// A self-signed certificate for `servicea.com` and `other.example` made for one test by
/// `openssl`, with its key, in `dir`.
pub struct TestCert {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl TestCert {
    pub fn make(dir: &Path) -> TestCert {
        let cert = dir.join("test-cert.pem");
        let key = dir.join("test-key.pem");
        let output = Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
            ])
            .args(["-nodes", "-days", "2", "-subj", "/CN=servicea.com"])
            .args([
                "-addext",
                "subjectAltName=DNS:servicea.com,DNS:other.example",
            ])
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .output()
            .unwrap_or_else(|e| panic!("openssl is needed for the TLS tests: {e}"));
        assert!(
            output.status.success(),
            "openssl failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        TestCert { cert, key }
    }
}

/// Sends `requests` in order over h2c to 127.0.0.1:`port`, each on a connection of its own: the
/// curl of Debian 12 (7.88.1) fails a second request on a reused prior-knowledge connection with
/// "Error in the HTTP2 framing layer" (curl issue 10634, fixed in 8.0.0).
pub fn send(port: u16, requests: &[H2Request]) -> Vec<H2Response> {
    send_over(port, &Transport::PriorKnowledge, requests)
}

/// Like [`send`], over `transport`.
pub fn send_over(port: u16, transport: &Transport, requests: &[H2Request]) -> Vec<H2Response> {
    assert_curl_speaks_http2();
    requests
        .iter()
        .map(|request| {
            let output = curl(port, transport, request)
                .args(["--silent", "--show-error", "--output", "/dev/null"])
                .arg("--write-out")
                .arg("%{http_version}\t%{http_code}\t%header{x-served-by}\t%header{x-received-subset}")
                .output()
                .unwrap();
            assert!(
                output.status.success(),
                "curl failed ({}) for {request:?}: {}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            );
            parse_write_out(&String::from_utf8_lossy(&output.stdout))
        })
        .collect()
}

/// curl set up for `request` over `transport` to 127.0.0.1:`port`: the URL names the authority
/// (and, over TLS, the name the certificate is checked against), the connection goes to Envoy
/// whatever it is, and each header is a field of its own.
fn curl(port: u16, transport: &Transport, request: &H2Request) -> Command {
    let mut command = Command::new("curl");
    let scheme = match transport {
        Transport::PriorKnowledge => {
            command.arg("--http2-prior-knowledge");
            "http"
        }
        Transport::Tls { ca } => {
            command.arg("--http2").arg("--cacert").arg(ca);
            "https"
        }
    };
    command
        .args(["--max-time", &REQUEST_TIMEOUT_SECS.to_string()])
        .arg("--connect-to")
        .arg(format!("::127.0.0.1:{port}"));
    for (name, value) in &request.headers {
        command.arg("--header").arg(format!("{name}: {value}"));
    }
    command.arg(format!("{scheme}://{}{}", request.authority, request.path));
    command
}

fn parse_write_out(line: &str) -> H2Response {
    let fields: Vec<&str> = line.split('\t').collect();
    let [version, status, served_by, received] = fields[..] else {
        panic!("unexpected curl output line {line:?}");
    };
    let present = |v: &str| (!v.is_empty()).then(|| v.to_string());
    H2Response {
        http_version: version.to_string(),
        status: status.parse().unwrap(),
        served_by: present(served_by),
        received_subset: present(received),
    }
}

/// The header fields curl puts in the HEADERS frame of `request`, in order, as its verbose log
/// lists them (`[name: value]`, one field each; curl 7.x and 8.x both print that part).
pub fn fields_sent(port: u16, request: &H2Request) -> Vec<(String, String)> {
    assert_curl_speaks_http2();
    let output = curl(port, &Transport::PriorKnowledge, request)
        .args(["--verbose", "--silent", "--output", "/dev/null"])
        .output()
        .unwrap();
    assert!(output.status.success(), "curl failed: {}", output.status);
    String::from_utf8_lossy(&output.stderr)
        .lines()
        .filter(|l| l.starts_with("* "))
        .filter_map(|l| {
            let field = l.trim_end().strip_suffix(']')?;
            let field = &field[field.rfind('[')? + 1..];
            let (name, value) = field.get(1..)?.split_once(": ")?;
            Some((format!("{}{name}", &field[..1]), value.to_string()))
        })
        .collect()
}
