//! The console's HTTP API and its embedded page.
//!
//! - `GET /api/config`: the pluginConfig, routes and weights, with the file's ETag.
//! - `POST /api/preview` (a pluginConfig): the core's verdict and the `diff` from the file's.
//! - `POST /api/apply` (a pluginConfig, `If-Match: <ETag>`): 412 if the file changed since that
//!   ETag, 422 if the core refuses it (nothing written), else written atomically and answered
//!   with Envoy's verdict from the ECDS counters (`update_success` / `update_rejected`).
//! - `GET /api/stats`: the filter's counters and the ECDS counters, as read now.
//! - `POST /api/which` (`{user, headers, cookies, path, host}`): the `which` answer.

use std::fs;
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use sticky_canary_core::Config;

use super::admin::{ecds_prefix, Admin};
use super::ecds_file::{self, Replaced, Snapshot};
use super::envoy_log::LogTail;
use super::http_server::{Handler, Reply, Request};
use super::{stats, Settings};
use crate::{diff, input, schedule, which};

const INDEX_HTML: &str = include_str!("assets/index.html");
const CONSOLE_JS: &str = include_str!("assets/console.js");
const CONSOLE_CSS: &str = include_str!("assets/console.css");

/// How long an apply waits for Envoy to count the push as accepted or rejected.
const VERDICT_TIMEOUT: Duration = Duration::from_secs(20);

pub struct Console {
    settings: Settings,
    /// The `Host` values a browser sends to this console. Any other is refused: a web page of
    /// another site whose name an attacker points at 127.0.0.1 (DNS rebinding) would otherwise
    /// be same-origin with the console and could apply changes.
    hosts: [String; 2],
    admin: Admin,
    /// One write at a time in this console: the ETag check and the rename belong together.
    /// Never held across a call to Envoy: a slow admin must not stall the other tabs.
    applying: Mutex<()>,
}

fn reply_json(status: u16, body: Value) -> Reply {
    Reply::json(status, body)
}

fn error(status: u16, message: impl Into<String>) -> Reply {
    Reply::error(status, message)
}

/// The answer to an apply whose ETag is not the file's (`etag`) any more.
fn changed(etag: String) -> Reply {
    let mut reply = reply_json(
        412,
        json!({
            "error": "the ECDS file changed since you loaded it (another tab or editor applied a change): reload to see it, then edit again",
            "etag": etag,
        }),
    );
    reply.etag = Some(etag);
    reply
}

fn asset(content_type: &'static str, body: &str) -> Reply {
    Reply {
        status: 200,
        content_type,
        body: body.to_string(),
        etag: None,
        body_omitted: false,
    }
}

/// The routes and weights of a pluginConfig the core accepted, for the page's sliders, and a
/// scheduled route's timeline at `now_ms`.
fn routes(config: &Config, now_ms: u64) -> Value {
    config
        .routes
        .iter()
        .map(|route| {
            let mut out = json!({
                "name": route.name,
                "subsets": route.subsets.iter().map(|s| json!({
                    "name": s.name,
                    "weight": f64::from(s.weight) / 100.0,
                })).collect::<Vec<_>>(),
            });
            if let (Some(s), Some(map)) = (&route.schedule, out.as_object_mut()) {
                map.insert("schedule".into(), schedule::timeline(route, s, now_ms));
            }
            out
        })
        .collect()
}

impl Console {
    pub fn new(settings: Settings, port: u16) -> Console {
        Console {
            hosts: [format!("127.0.0.1:{port}"), format!("localhost:{port}")],
            admin: Admin::new(&settings.admin),
            settings,
            applying: Mutex::new(()),
        }
    }

    fn route(&self, method: &str, path: &str, body: &str, if_match: Option<&str>) -> Reply {
        match (method, path) {
            ("GET", "/") => asset("text/html; charset=utf-8", INDEX_HTML),
            ("GET", "/console.js") => asset("text/javascript; charset=utf-8", CONSOLE_JS),
            ("GET", "/console.css") => asset("text/css; charset=utf-8", CONSOLE_CSS),
            ("GET", "/api/config") => self.config(),
            ("POST", "/api/preview") => self.preview(body),
            ("POST", "/api/apply") => self.apply(body, if_match),
            ("GET", "/api/stats") => self.stats(),
            ("POST", "/api/which") => self.which(body),
            (_, "/" | "/console.js" | "/console.css" | "/api/config" | "/api/stats") => {
                error(405, "use GET")
            }
            (_, "/api/preview" | "/api/apply" | "/api/which") => error(405, "use POST"),
            _ => error(404, format!("no such page: {path}")),
        }
    }

    fn snapshot(&self) -> Result<Snapshot, Reply> {
        ecds_file::read(&self.settings.ecds).map_err(|e| error(500, e))
    }

    /// The core's verdict, with the secrets the other commands use (`--token`, and the
    /// environment's cookie key for `assign.signed`).
    fn compile(&self, plugin_config: &str) -> Result<Config, String> {
        let found = input::Found {
            json: plugin_config.to_string(),
            manifest: None,
            manifest_errors: Vec::new(),
        };
        found.compile(self.settings.token.as_ref())
    }

    fn config(&self) -> Reply {
        let snapshot = match self.snapshot() {
            Ok(s) => s,
            Err(reply) => return reply,
        };
        let plugin_config: Value =
            serde_json::from_str(&snapshot.plugin_config).unwrap_or(Value::Null);
        let (routes, problem) = match self.compile(&snapshot.plugin_config) {
            Ok(config) => (routes(&config, schedule::now_ms()), None),
            Err(e) => (Value::Array(Vec::new()), Some(e)),
        };
        let mut reply = reply_json(
            200,
            json!({
                "etag": snapshot.etag,
                "version": snapshot.version,
                "filter": snapshot.filter,
                "file": self.settings.ecds.display().to_string(),
                "admin": self.settings.admin,
                "pluginConfig": plugin_config,
                "routes": routes,
                "problem": problem,
            }),
        );
        reply.etag = Some(snapshot.etag);
        reply
    }

    /// The edited pluginConfig (a JSON object in the body) as compact text, and compiled.
    fn edited(&self, body: &str) -> Result<(String, Config), Reply> {
        let value: Value = serde_json::from_str(body)
            .map_err(|e| error(400, format!("the body is not JSON: {e}")))?;
        let text = value.to_string();
        let config = self.compile(&text).map_err(|e| error(422, e))?;
        Ok((text, config))
    }

    fn preview(&self, body: &str) -> Reply {
        let snapshot = match self.snapshot() {
            Ok(s) => s,
            Err(reply) => return reply,
        };
        let (_, new) = match self.edited(body) {
            Ok(edited) => edited,
            Err(reply) => return reply,
        };
        let moves = match self.compile(&snapshot.plugin_config) {
            Ok(old) => {
                let diff = diff::diff(&old, &new);
                json!({ "diff": diff.json(), "text": diff.human(), "notForward": diff.not_forward() })
            }
            Err(e) => {
                json!({ "text": format!("the file's current config is invalid ({e}): every user may move") })
            }
        };
        reply_json(
            200,
            json!({ "valid": true, "etag": snapshot.etag, "preview": moves }),
        )
    }

    fn apply(&self, body: &str, if_match: Option<&str>) -> Reply {
        let Some(if_match) = if_match else {
            return error(
                428,
                "apply needs If-Match: the ETag of the config you edited",
            );
        };
        let snapshot = match self.snapshot() {
            Ok(s) => s,
            Err(reply) => return reply,
        };
        if if_match != snapshot.etag {
            return changed(snapshot.etag);
        }
        let (text, _) = match self.edited(body) {
            Ok(edited) => edited,
            Err(reply) => return reply,
        };
        // What the verdict compares with, read before the write and outside the lock: Envoy's
        // admin may be slow, and the file may change meanwhile (checked again below).
        let prefix = ecds_prefix(&snapshot.filter);
        let before = self.admin.stats(&format!("^{}", regex_escape(&prefix)));
        let log_start = self.log_len();
        let (etag, version) = {
            let _one_at_a_time = self.applying.lock().unwrap_or_else(|e| e.into_inner());
            let snapshot = match self.snapshot() {
                Ok(s) => s,
                Err(reply) => return reply,
            };
            if if_match != snapshot.etag {
                return changed(snapshot.etag);
            }
            let (file_text, version) = match ecds_file::render(&snapshot, &text) {
                Ok(rendered) => rendered,
                Err(e) => return error(500, e),
            };
            // Another console or an editor may write between the check above and the rename:
            // the file is checked once more just before it is replaced.
            match ecds_file::replace_if_unchanged(&self.settings.ecds, &file_text, &snapshot.etag) {
                Ok(()) => {}
                Err(Replaced::Changed(etag)) => return changed(etag),
                Err(Replaced::Failed(e)) => return error(500, e),
            }
            (ecds_file::etag(file_text.as_bytes()), version)
        };
        let verdict = match before {
            Ok(before) => self.verdict(&prefix, &before, log_start),
            Err(e) => {
                json!({ "verdict": "unknown", "detail": format!("written, but Envoy's verdict cannot be read: {e}") })
            }
        };
        let mut reply = reply_json(
            200,
            json!({ "etag": etag, "version": version, "envoy": verdict }),
        );
        reply.etag = Some(etag);
        reply
    }

    /// Polls the filter's ECDS counters until the push is counted as accepted or rejected.
    fn verdict(
        &self,
        prefix: &str,
        before: &std::collections::BTreeMap<String, u64>,
        log_start: Option<u64>,
    ) -> Value {
        let filter = format!("^{}", regex_escape(prefix));
        let count = |stats: &std::collections::BTreeMap<String, u64>, name: &str| {
            stats.get(&format!("{prefix}{name}")).copied().unwrap_or(0)
        };
        let deadline = Instant::now() + VERDICT_TIMEOUT;
        while Instant::now() < deadline {
            thread::sleep(Duration::from_millis(100));
            let Ok(now) = self.admin.stats(&filter) else {
                continue;
            };
            if count(&now, "update_success") > count(before, "update_success") {
                return json!({ "verdict": "accepted", "detail": "Envoy counted update_success: the new config serves" });
            }
            let rejected = ["update_rejected", "update_failure"]
                .iter()
                .any(|name| count(&now, name) > count(before, name));
            if rejected {
                return json!({
                    "verdict": "rejected",
                    "detail": "Envoy counted update_rejected: the previous config keeps serving",
                    "reason": self.rejection_reason(log_start),
                });
            }
        }
        json!({ "verdict": "unknown", "detail": format!("written; Envoy counted neither update_success nor update_rejected within {} s", VERDICT_TIMEOUT.as_secs()) })
    }

    fn log_len(&self) -> Option<u64> {
        let log = self.settings.envoy_log.as_deref()?;
        fs::metadata(log).ok().map(|m| m.len())
    }

    /// Envoy's warnings and errors logged since the push, when the console was given the log:
    /// the plugin's own words first (its line names the field), then Envoy's.
    fn rejection_reason(&self, log_start: Option<u64>) -> Value {
        let (Some(log), Some(start)) = (self.settings.envoy_log.as_deref(), log_start) else {
            return Value::Null;
        };
        // Envoy's last line about a rejected file is its "update rejected" warning; the log is
        // flushed every 100 ms or so, so wait a little for it. Only what was appended since the
        // push is read, each part once.
        let deadline = Instant::now() + Duration::from_secs(3);
        let mut tail = LogTail::from(log, start);
        let mut lines = tail.warnings();
        while !lines.iter().any(|l| l.contains("update rejected")) && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(100));
            for line in tail.warnings() {
                if !lines.contains(&line) {
                    lines.push(line);
                }
            }
        }
        if lines.is_empty() {
            return Value::Null;
        }
        lines.sort_by_key(|line| !line.contains("wasm log"));
        lines.truncate(6);
        lines.join("\n").into()
    }

    fn stats(&self) -> Reply {
        let time = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        let filter = match self.snapshot() {
            Ok(s) => s.filter,
            Err(reply) => return reply,
        };
        let prefix = ecds_prefix(&filter);
        let pattern = format!(
            "^({}|{})",
            regex_escape(stats::FILTER_PREFIX),
            regex_escape(&prefix)
        );
        match self.admin.stats(&pattern) {
            Ok(all) => {
                let ecds: serde_json::Map<String, Value> = all
                    .iter()
                    .filter_map(|(name, value)| {
                        Some((name.strip_prefix(&prefix)?.to_string(), (*value).into()))
                    })
                    .collect();
                reply_json(
                    200,
                    json!({ "time": time, "counters": stats::counters(&all), "ecds": ecds }),
                )
            }
            Err(e) => error(502, e),
        }
    }

    fn which(&self, body: &str) -> Reply {
        let snapshot = match self.snapshot() {
            Ok(s) => s,
            Err(reply) => return reply,
        };
        let config = match self.compile(&snapshot.plugin_config) {
            Ok(config) => config,
            Err(e) => return error(422, format!("the file's config is invalid: {e}")),
        };
        let asked: Value = match serde_json::from_str(body) {
            Ok(v) => v,
            Err(e) => return error(400, format!("the body is not JSON: {e}")),
        };
        let text = |key: &str| {
            asked
                .get(key)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        let pairs = |key: &str| -> Vec<(String, String)> {
            asked
                .get(key)
                .and_then(Value::as_object)
                .map(|map| {
                    map.iter()
                        .filter_map(|(k, v)| {
                            Some((k.to_ascii_lowercase(), v.as_str()?.to_string()))
                        })
                        .collect()
                })
                .unwrap_or_default()
        };
        let request = which::Request {
            user: text("user"),
            headers: pairs("headers"),
            cookies: pairs("cookies"),
            query: pairs("query"),
            host: text("host"),
            path: text("path"),
            user_agent: text("userAgent"),
        };
        let answer = which::which(&config, &request, schedule::now_ms());
        let mut json = answer.json();
        if let Some(map) = json.as_object_mut() {
            map.insert("reason_text".into(), answer.reason_text().into());
            map.insert("text".into(), answer.human().into());
        }
        reply_json(200, json)
    }
}

impl Handler for Console {
    /// A page of another site whose name an attacker points at 127.0.0.1 (DNS rebinding) would
    /// be same-origin with the console: refused before anything else about its request is read.
    fn admit(&self, host: Option<&str>) -> Result<(), Reply> {
        if host.is_some_and(|h| self.hosts.iter().any(|ours| ours == h)) {
            Ok(())
        } else {
            Err(error(
                403,
                format!("open the console as http://{}/", self.hosts[0]),
            ))
        }
    }

    fn handle(&self, request: Request) -> Reply {
        self.route(
            &request.method,
            &request.path,
            &request.body,
            request.if_match.as_deref(),
        )
    }
}

/// Envoy's `/stats?filter=` is a regex; names hold `.` and `/`.
fn regex_escape(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
