//! Parses, validates and compiles a pluginConfig once, at configure time. The request path only
//! reads the compiled [`Config`]. Every error names the field path and the reason on one line.

use std::fmt;

use crate::assign::{Assign, CookieAttributes, CookieKey, COOKIE_KEY_ENV};
use crate::guard::{format_duration, parse_duration, Guard, MAX_COOL_DOWN_SECS, MAX_WINDOW_SECS};
use crate::hash::{bucket, unleash_normalized, BUCKETS};
use crate::lane::BAGGAGE_HEADER;
use crate::layout::BucketLayout;
use crate::matcher::{HostPattern, StringMatcher};
use crate::schema::{
    AssignConfig, BucketingConfig, FallbackConfig, GuardConfig, KeySourceConfig, LaneConfig,
    LaneFallbackConfig, MirrorConfig, Os, PluginConfig, RouteConfig, RuleConfig, RuleMatchConfig,
    SameSite, StringMatchConfig, SubsetConfig,
};
use crate::token::{Secret, DEFAULT_TOKEN_HEADER, TOKEN_ENV};

pub const DEFAULT_ROUTING_HEADER: &str = "x-canary-subset";

/// Names end up in metric names and header values, so they are kept to a safe alphabet.
const MAX_NAME_LEN: usize = 63;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// Field path such as `routes[0].subsets[1].weight`; empty for the document itself.
    pub path: String,
    pub reason: String,
}

impl ConfigError {
    fn new(path: impl Into<String>, reason: impl Into<String>) -> Self {
        ConfigError {
            path: path.into(),
            reason: reason.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    /// One line, always: the message echoes the admin's own keys and values, and a `\n` in them
    /// must neither split the log line nor forge a second one, so control characters are escaped.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.path.is_empty() {
            write_escaped(f, &self.path)?;
            f.write_str(": ")?;
        }
        write_escaped(f, &self.reason)
    }
}

fn write_escaped(f: &mut fmt::Formatter<'_>, text: &str) -> fmt::Result {
    for c in text.chars() {
        if c.is_control() {
            write!(f, "{}", c.escape_default())?;
        } else {
            fmt::Write::write_char(f, c)?;
        }
    }
    Ok(())
}

impl std::error::Error for ConfigError {}

/// The compiled configuration, shared by every request.
#[derive(Debug)]
pub struct Config {
    /// Lowercase header name the chosen subset is written to.
    pub routing_header: String,
    pub expose_subset: bool,
    /// Lowercase header a client presents the override token in.
    pub token_header: String,
    /// The override token from the VM's environment, if one is set.
    pub token: Option<Secret>,
    pub routes: Vec<Route>,
    /// Lowercase request header the decision's reason is written to (`reasonHeader`), for an
    /// upstream that shows or logs why it was chosen; `None`: the filter writes nothing more.
    pub reason_header: Option<String>,
    /// Every route's mirror header, once each: a request no mirroring route decided has them
    /// removed, so a forged one never reaches the route table. Empty without `mirror`.
    pub mirror_headers: Vec<String>,
}

#[derive(Debug)]
pub struct Route {
    pub name: String,
    pub hosts: Vec<HostPattern>,
    pub path_prefix: Option<Vec<u8>>,
    pub subsets: Vec<Subset>,
    pub layout: BucketLayout,
    pub keys: Vec<KeySource>,
    pub salt: Vec<u8>,
    pub bucketing: Bucketing,
    pub fallback: Fallback,
    /// The first-listed subset with a weight above 0: where `stable` sends keyless requests, so
    /// that after a full cutover (v1=0, v2=100) they follow it.
    pub stable_subset: usize,
    pub rules: Vec<Rule>,
    /// Count this route's responses per subset and status class (`health`, or a `guard`).
    pub health: bool,
    pub guard: Option<Guard>,
    /// `stickiness.assign`: keyless requests get a new id.
    pub assign: Option<Assign>,
    pub lane: Option<Lane>,
    pub mirror: Option<Mirror>,
}

/// Where a route's lane travels, and whether the incoming one is followed or replaced.
#[derive(Debug, PartialEq, Eq)]
pub struct Lane {
    pub carrier: LaneCarrier,
    /// `true`: an incoming lane decides; `false`: the decision is written over it.
    pub trust: bool,
    /// With `trust`: what a lane naming no subset of this route gets.
    pub fallback: LaneFallback,
}

#[derive(Debug, PartialEq, Eq)]
pub enum LaneCarrier {
    /// A lowercase header name.
    Header(String),
    /// A W3C baggage member's key.
    Baggage(Vec<u8>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LaneFallback {
    /// The route's stable subset (reason `lane`).
    Stable,
    /// The route's own decision, as without a lane.
    Decide,
}

/// A sticky sample of users whose requests are marked for mirroring to `subset`.
#[derive(Debug, PartialEq, Eq)]
pub struct Mirror {
    pub subset: usize,
    /// Users whose mirror bucket is below this (hundredths of a percent) are sampled.
    pub threshold: u16,
    /// Lowercase header name.
    pub header: String,
    /// The route's salt followed by `:mirror`.
    pub salt: Vec<u8>,
}

impl Mirror {
    /// Whether the user with this stickiness key is in the sample: the hashing contract's
    /// bucket under the mirror salt.
    pub fn samples(&self, key: &[u8]) -> bool {
        bucket(&self.salt, key) < self.threshold
    }
}

/// How a key becomes a bucket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Bucketing {
    /// The frozen contract: `murmur3_x86_32(salt + ":" + key) % 10000`.
    Default,
    /// Unleash's gradual rollout: value `v` = [`crate::unleash_normalized`] (1 to 100) maps to
    /// bucket `(v - 1) * 100`, so with whole-percent weights the newest subset takes the values
    /// up to its weight, exactly the keys an Unleash rollout of that percentage enables.
    Unleash { group_id: Vec<u8> },
}

impl Route {
    /// The bucket of a stickiness key on this route.
    pub fn bucket_of(&self, key: &[u8]) -> u16 {
        match &self.bucketing {
            Bucketing::Default => bucket(&self.salt, key),
            Bucketing::Unleash { group_id } => {
                (u16::from(unleash_normalized(group_id, key)) - 1) * 100
            }
        }
    }
}

#[derive(Debug)]
pub struct Subset {
    pub name: String,
    /// Hundredths of a percent: 10 % is 1000.
    pub weight: u16,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fallback {
    Random,
    Stable,
}

/// Where the stickiness key is read from. Header names are lowercase.
#[derive(Debug, PartialEq, Eq)]
pub enum KeySource {
    Header(String),
    Cookie(Vec<u8>),
    Query(Vec<u8>),
}

#[derive(Debug)]
pub struct Rule {
    pub subset: usize,
    /// Sorted stickiness-key values that always get this subset.
    pub users: Option<Vec<Vec<u8>>>,
    pub conditions: Vec<Condition>,
    /// The rule applies only to requests presenting the override token.
    pub require_token: bool,
}

#[derive(Debug)]
pub enum Condition {
    Header(String, StringMatcher),
    Cookie(Vec<u8>, StringMatcher),
    Query(Vec<u8>, StringMatcher),
    Path(StringMatcher),
    Os(Vec<Os>),
}

impl Config {
    /// Parses and compiles a pluginConfig JSON document, with no override token.
    pub fn from_json(bytes: &[u8]) -> Result<Config, ConfigError> {
        Config::from_json_with_token(bytes, None)
    }

    /// Parses and compiles a pluginConfig JSON document; `token` is the value of
    /// [`TOKEN_ENV`] in the VM's environment, which `requireToken` rules need.
    pub fn from_json_with_token(
        bytes: &[u8],
        token: Option<Secret>,
    ) -> Result<Config, ConfigError> {
        Config::from_json_with_secrets(bytes, token, None)
    }

    /// Parses and compiles a pluginConfig JSON document; `token` and `cookie_key` are the
    /// values of [`TOKEN_ENV`] and [`COOKIE_KEY_ENV`] in the VM's environment, which
    /// `requireToken` rules and `assign.signed` need.
    pub fn from_json_with_secrets(
        bytes: &[u8],
        token: Option<Secret>,
        cookie_key: Option<Secret>,
    ) -> Result<Config, ConfigError> {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(ConfigError::new(
                "",
                "pluginConfig is empty: at least `routes` is required",
            ));
        }
        let mut deserializer = serde_json::Deserializer::from_slice(bytes);
        let raw: PluginConfig =
            serde_path_to_error::deserialize(&mut deserializer).map_err(|err| {
                let path = err.path().to_string();
                let path = if path == "." { String::new() } else { path };
                ConfigError::new(path, json_reason(&err.into_inner()))
            })?;
        deserializer
            .end()
            .map_err(|err| ConfigError::new("", json_reason(&err)))?;
        compile(raw, token, cookie_key.as_ref())
    }
}

/// serde_json's own text, with "invalid JSON: " in front of a syntax error so that a document in
/// another format (YAML pasted as is) is not reported as a bare "expected value at line 1 column 1".
fn json_reason(err: &serde_json::Error) -> String {
    if err.is_syntax() || err.is_eof() {
        format!("invalid JSON: {err}")
    } else {
        err.to_string()
    }
}

fn compile(
    raw: PluginConfig,
    token: Option<Secret>,
    cookie_key: Option<&Secret>,
) -> Result<Config, ConfigError> {
    let routing = match &raw.routing_header {
        Some(name) => RoutingHeader {
            name: routing_header_name(name)?,
            named: true,
        },
        None => RoutingHeader {
            name: DEFAULT_ROUTING_HEADER.to_string(),
            named: false,
        },
    };
    let token_header = match &raw.token_header {
        Some(name) => header_name("tokenHeader", name)?,
        None => DEFAULT_TOKEN_HEADER.to_string(),
    };
    // The same name twice: the error goes to the one the admin wrote (routingHeader if both).
    if token_header == routing.name && raw.token_header.is_some() && !routing.named {
        return Err(ConfigError::new(
            "tokenHeader",
            format!("\"{token_header}\" is the routing header, which the filter overwrites"),
        ));
    }
    let token_field = match raw.token_header {
        Some(_) => "tokenHeader",
        None => "the default tokenHeader",
    };
    routing.must_differ(&token_header, token_field, "the token it checks")?;
    if raw.routes.is_empty() {
        return Err(ConfigError::new("routes", "must list at least one route"));
    }
    let mut routes: Vec<Route> = Vec::with_capacity(raw.routes.len());
    let mut mirror_headers: Vec<String> = Vec::new();
    for (index, mut route) in raw.routes.into_iter().enumerate() {
        let path = format!("routes[{index}]");
        let (lane, mirror) = (route.lane.take(), route.mirror.take());
        let headers = FilterHeaders {
            routing: &routing,
            token: &token_header,
            token_field,
        };
        let mut route = compile_route(&path, route, &headers, token.is_some(), cookie_key)?;
        route.lane = lane
            .map(|lane| compile_lane(&path, lane, &route, &headers))
            .transpose()?;
        route.mirror = mirror
            .map(|mirror| compile_mirror(&path, mirror, &route, &headers))
            .transpose()?;
        if let Some(mirror) = &route.mirror {
            if !mirror_headers.contains(&mirror.header) {
                mirror_headers.push(mirror.header.clone());
            }
        }
        if let Some(first) = routes.iter().position(|r| r.name == route.name) {
            return Err(ConfigError::new(
                format!("{path}.name"),
                format!(
                    "duplicate route name \"{}\" (also routes[{first}])",
                    route.name
                ),
            ));
        }
        routes.push(route);
    }
    let reason_header =
        match &raw.reason_header {
            Some(name) => {
                let name = header_name("reasonHeader", name)?;
                if name == routing.name || name == token_header {
                    return Err(ConfigError::new(
                        "reasonHeader",
                        format!("\"{name}\" is already the routing or the token header"),
                    ));
                }
                if let Some(used) = routes.iter().enumerate().find_map(|(i, route)| {
                    header_use(route, &name).map(|f| format!("routes[{i}].{f}"))
                }) {
                    return Err(ConfigError::new(
                        "reasonHeader",
                        format!("\"{name}\" is also {used}: the filter would overwrite it"),
                    ));
                }
                Some(name)
            }
            None => None,
        };
    Ok(Config {
        routing_header: routing.name,
        expose_subset: raw.expose_subset.unwrap_or(false),
        token_header,
        token,
        routes,
        reason_header,
        mirror_headers,
    })
}

/// Where a route reads or writes request header `name` (lowercase) for its decision, its lane,
/// its mirror mark or its id, as a field path below the route; `host` and `cookie` are read by
/// every route's matching and keys.
fn header_use(route: &Route, name: &str) -> Option<String> {
    if name == "host" || name == "cookie" {
        return Some("match (host) or stickiness.keys (cookie)".to_string());
    }
    if let Some(i) = route
        .keys
        .iter()
        .position(|k| matches!(k, KeySource::Header(h) if h == name))
    {
        return Some(format!("stickiness.keys[{i}].header"));
    }
    match route.lane.as_ref().map(|lane| &lane.carrier) {
        Some(LaneCarrier::Header(h)) if h == name => return Some("lane.header".to_string()),
        Some(LaneCarrier::Baggage(_)) if name == BAGGAGE_HEADER => {
            return Some("lane.baggage (the baggage header)".to_string())
        }
        _ => {}
    }
    if route.mirror.as_ref().is_some_and(|m| m.header == name) {
        return Some("mirror.header".to_string());
    }
    if route
        .assign
        .as_ref()
        .and_then(|a| a.header.as_deref())
        .is_some_and(|h| h == name)
    {
        return Some("stickiness.assign.header".to_string());
    }
    None
}

/// The routing header, and whether the admin named it or it is the default: the filter writes it
/// on every routed request, so it must not be a header the filter or the routing reads.
struct RoutingHeader {
    /// Lowercase.
    name: String,
    named: bool,
}

impl RoutingHeader {
    /// Refuses a routing header equal to `header` (lowercase), which `field` reads.
    fn must_differ(&self, header: &str, field: &str, lost: &str) -> Result<(), ConfigError> {
        if header != self.name {
            return Ok(());
        }
        let default = if self.named { "" } else { " (the default)" };
        Err(ConfigError::new(
            "routingHeader",
            format!(
                "\"{}\"{default} is also {field}; the filter would overwrite {lost}",
                self.name
            ),
        ))
    }
}

/// The routing header's name: an HTTP header, and not one that routing itself depends on.
fn routing_header_name(name: &str) -> Result<String, ConfigError> {
    const PATH: &str = "routingHeader";
    if name
        .strip_prefix(':')
        .is_some_and(|rest| header_name(PATH, rest).is_ok())
    {
        return Err(ConfigError::new(
            PATH,
            format!("\"{name}\" is a pseudo-header, part of the request itself; the routing header must be an ordinary header"),
        ));
    }
    let name = header_name(PATH, name)?;
    let reason = match name.as_str() {
        "host" => "is the request's authority (:authority), which routes[].match.hosts and Envoy's virtual hosts match; the filter would overwrite it",
        "cookie" => "holds all of the request's cookies; the filter would overwrite them",
        _ => return Ok(name),
    };
    Err(ConfigError::new(PATH, format!("\"{name}\" {reason}")))
}

/// The request headers the filter itself reads or writes on every route.
struct FilterHeaders<'a> {
    routing: &'a RoutingHeader,
    /// Lowercase.
    token: &'a str,
    /// How the token header is named in messages.
    token_field: &'a str,
}

fn compile_route(
    path: &str,
    raw: RouteConfig,
    filter_headers: &FilterHeaders<'_>,
    has_token: bool,
    cookie_key: Option<&Secret>,
) -> Result<Route, ConfigError> {
    let routing = filter_headers.routing;
    check_name(&format!("{path}.name"), &raw.name)?;
    let (hosts, path_prefix) = match raw.route_match {
        None => (Vec::new(), None),
        Some(m) => {
            let hosts = match m.hosts {
                None => Vec::new(),
                Some(list) if list.is_empty() => {
                    return Err(ConfigError::new(
                        format!("{path}.match.hosts"),
                        "must not be empty: omit it to match any host",
                    ))
                }
                Some(list) => list
                    .iter()
                    .enumerate()
                    .map(|(i, h)| {
                        HostPattern::parse(h).map_err(|reason| {
                            ConfigError::new(format!("{path}.match.hosts[{i}]"), reason)
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            };
            let prefix = match m.path_prefix {
                Some(p) if !p.starts_with('/') => {
                    return Err(ConfigError::new(
                        format!("{path}.match.pathPrefix"),
                        format!("\"{p}\" must start with \"/\""),
                    ))
                }
                other => other.map(String::into_bytes),
            };
            (hosts, prefix)
        }
    };

    let subsets = compile_subsets(path, raw.subsets)?;
    let layout = BucketLayout::new(&subsets.iter().map(|s| s.weight).collect::<Vec<_>>());

    let stick = raw.stickiness;
    if stick.keys.is_empty() {
        return Err(ConfigError::new(
            format!("{path}.stickiness.keys"),
            "must list at least one key source",
        ));
    }
    let keys = stick
        .keys
        .into_iter()
        .enumerate()
        .map(|(i, key)| key_source(&format!("{path}.stickiness.keys[{i}]"), key))
        .collect::<Result<Vec<_>, _>>()?;
    for (i, key) in keys.iter().enumerate() {
        if let KeySource::Header(name) = key {
            let field = format!("{path}.stickiness.keys[{i}].header");
            routing.must_differ(name, &field, "the key it hashes")?;
        }
    }
    let salt_given = stick.salt.is_some();
    let salt = match stick.salt {
        Some(salt) if salt.is_empty() => {
            return Err(ConfigError::new(
                format!("{path}.stickiness.salt"),
                "must not be empty: omit it to use the route name",
            ))
        }
        Some(salt) => salt.into_bytes(),
        None => raw.name.clone().into_bytes(),
    };
    let bucketing = match stick.bucketing {
        None => Bucketing::Default,
        Some(BucketingConfig { unleash: None }) => {
            return Err(ConfigError::new(
                format!("{path}.stickiness.bucketing"),
                "must name a bucketing: unleash",
            ))
        }
        Some(BucketingConfig {
            unleash: Some(unleash),
        }) => {
            let here = format!("{path}.stickiness.bucketing.unleash");
            if unleash.group_id.is_empty() {
                return Err(ConfigError::new(
                    format!("{here}.groupId"),
                    "must not be empty: Unleash's groupId (usually the feature name)",
                ));
            }
            if salt_given {
                return Err(ConfigError::new(
                    format!("{path}.stickiness.salt"),
                    "unleash bucketing hashes groupId, not the salt: remove salt",
                ));
            }
            if let Some((i, s)) = subsets
                .iter()
                .enumerate()
                .find(|(_, s)| s.weight % 100 != 0)
            {
                return Err(ConfigError::new(
                    format!("{path}.subsets[{i}].weight"),
                    format!(
                        "{} is not a whole percent, which unleash bucketing needs",
                        percent(s.weight)
                    ),
                ));
            }
            Bucketing::Unleash {
                group_id: unleash.group_id.into_bytes(),
            }
        }
    };
    let assign = match stick.assign {
        None => None,
        Some(raw_assign) => {
            if stick.fallback.is_some() {
                return Err(ConfigError::new(
                    format!("{path}.stickiness.fallback"),
                    "is never used with assign, which gives every request without a key an id: remove fallback",
                ));
            }
            let here = format!("{path}.stickiness.assign");
            Some(compile_assign(
                &here,
                raw_assign,
                &keys,
                filter_headers,
                cookie_key,
            )?)
        }
    };
    let fallback = match stick.fallback {
        None | Some(FallbackConfig::Random) => Fallback::Random,
        Some(FallbackConfig::Stable) => Fallback::Stable,
    };

    let rules = raw
        .rules
        .into_iter()
        .enumerate()
        .map(|(i, rule)| {
            let here = format!("{path}.rules[{i}]");
            compile_rule(&here, rule, &subsets, routing, has_token)
        })
        .collect::<Result<Vec<_>, _>>()?;

    let stable_subset = subsets.iter().position(|s| s.weight > 0).unwrap_or(0);
    let guard = match raw.guard {
        None => None,
        Some(guard) => Some(compile_guard(
            &format!("{path}.guard"),
            guard,
            &subsets,
            stable_subset,
        )?),
    };
    if raw.health == Some(false) && guard.is_some() {
        return Err(ConfigError::new(
            format!("{path}.health"),
            "is false, but the route's guard counts its responses: remove health or set it true",
        ));
    }
    let health = raw.health.unwrap_or(false) || guard.is_some();
    Ok(Route {
        name: raw.name,
        hosts,
        path_prefix,
        subsets,
        layout,
        keys,
        salt,
        bucketing,
        fallback,
        stable_subset,
        rules,
        health,
        guard,
        assign,
        lane: None,
        mirror: None,
    })
}

fn compile_assign(
    path: &str,
    raw: AssignConfig,
    keys: &[KeySource],
    filter_headers: &FilterHeaders<'_>,
    cookie_key: Option<&Secret>,
) -> Result<Assign, ConfigError> {
    let field = format!("{path}.cookie");
    if !is_token(&raw.cookie) {
        return Err(ConfigError::new(
            field,
            format!("\"{}\" is not a valid cookie name", raw.cookie),
        ));
    }
    let cookie = raw.cookie.into_bytes();
    if !keys
        .iter()
        .any(|k| matches!(k, KeySource::Cookie(name) if *name == cookie))
    {
        let name = String::from_utf8_lossy(&cookie);
        return Err(ConfigError::new(
            field,
            format!("\"{name}\" is not a cookie key source of this route: add {{\"cookie\": \"{name}\"}} to stickiness.keys"),
        ));
    }
    if let Some(domain) = &raw.domain {
        let domain_char = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'.';
        if !domain.bytes().all(domain_char) || !domain.bytes().any(|b| b != b'.') {
            return Err(ConfigError::new(
                format!("{path}.domain"),
                format!("\"{domain}\" is not a valid cookie domain (a host name)"),
            ));
        }
    }
    let cookie_path = raw.path.as_deref().unwrap_or("/");
    if !cookie_path.starts_with('/') {
        return Err(ConfigError::new(
            format!("{path}.path"),
            format!("\"{cookie_path}\" must start with \"/\""),
        ));
    }
    if !cookie_path
        .bytes()
        .all(|b| (b' '..=b'~').contains(&b) && b != b';')
    {
        return Err(ConfigError::new(
            format!("{path}.path"),
            format!("\"{cookie_path}\" is not a valid cookie path (printable ASCII without \";\")"),
        ));
    }
    let secure = raw.secure.unwrap_or(false);
    if raw.same_site == Some(SameSite::None) && !secure {
        return Err(ConfigError::new(
            format!("{path}.sameSite"),
            "None needs secure: true (browsers drop a SameSite=None cookie that is not Secure)",
        ));
    }
    let header = match &raw.header {
        None => None,
        Some(name) => Some(assign_header(
            &format!("{path}.header"),
            name,
            keys,
            filter_headers,
        )?),
    };
    let key = if raw.signed.unwrap_or(false) {
        let here = format!("{path}.signed");
        let Some(secret) = cookie_key else {
            return Err(ConfigError::new(
                here,
                format!("no cookie key is configured: set {COOKIE_KEY_ENV} in the plugin's vmConfig.env (Envoy: vm_config.environment_variables)"),
            ));
        };
        Some(
            CookieKey::new(secret.bytes())
                .ok_or_else(|| ConfigError::new(here, "the cookie key cannot key HMAC-SHA256"))?,
        )
    } else {
        None
    };
    let attributes = CookieAttributes {
        max_age: raw.max_age,
        domain: raw.domain.as_deref(),
        path: cookie_path,
        secure,
        http_only: raw.http_only.unwrap_or(false),
        same_site: raw.same_site.map(|s| match s {
            SameSite::Strict => "Strict",
            SameSite::Lax => "Lax",
            SameSite::None => "None",
        }),
    };
    Ok(Assign::new(cookie, header, key, &attributes))
}

/// The header an id travels upstream in: the filter overwrites it, so it must not be one the
/// filter or the routing reads.
fn assign_header(
    path: &str,
    name: &str,
    keys: &[KeySource],
    filter_headers: &FilterHeaders<'_>,
) -> Result<String, ConfigError> {
    let name = header_name(path, name)?;
    let reason = if name == filter_headers.routing.name {
        "is the routing header, which the filter overwrites".to_string()
    } else if name == filter_headers.token {
        format!(
            "is also {}; the filter would overwrite the token it checks",
            filter_headers.token_field
        )
    } else if name == "host" || name == "cookie" {
        "is part of what routing reads; the filter would overwrite it".to_string()
    } else if let Some(i) = keys
        .iter()
        .position(|k| matches!(k, KeySource::Header(h) if *h == name))
    {
        format!("is also stickiness.keys[{i}].header; the filter would overwrite the key it hashes")
    } else {
        return Ok(name);
    };
    Err(ConfigError::new(path, format!("\"{name}\" {reason}")))
}

/// What a header the filter writes on a route (lane, mirror) must not be: a header the decision
/// reads or the filter writes for something else.
impl FilterHeaders<'_> {
    /// Refuses `name` (lowercase), set at `path` and described as `field` to the routing
    /// header's error, where it is also a header of the request the filter reads or writes.
    fn check(
        &self,
        (path, field): (&str, &str),
        name: &str,
        route: &Route,
        lost: &str,
    ) -> Result<(), ConfigError> {
        self.routing.must_differ(name, field, lost)?;
        let clash = |what: String| {
            Err(ConfigError::new(
                path,
                format!("\"{name}\" is also {what}: the filter would overwrite it"),
            ))
        };
        if name == self.token {
            return clash(self.token_field.to_string());
        }
        if name == "host" || name == "cookie" {
            return clash("a header routing depends on".to_string());
        }
        for (i, key) in route.keys.iter().enumerate() {
            if matches!(key, KeySource::Header(h) if h == name) {
                return clash(format!("stickiness.keys[{i}].header"));
            }
        }
        if let Some(Lane {
            carrier: LaneCarrier::Header(lane),
            ..
        }) = &route.lane
        {
            if lane == name {
                return clash("lane.header".to_string());
            }
        }
        if route
            .lane
            .as_ref()
            .is_some_and(|l| matches!(l.carrier, LaneCarrier::Baggage(_)))
            && name == BAGGAGE_HEADER
        {
            return clash("the header lane.baggage is carried in".to_string());
        }
        Ok(())
    }
}

fn compile_lane(
    path: &str,
    raw: LaneConfig,
    route: &Route,
    written: &FilterHeaders<'_>,
) -> Result<Lane, ConfigError> {
    let here = format!("{path}.lane");
    let carrier = match (raw.header, raw.baggage) {
        (Some(header), None) => {
            let field = format!("{here}.header");
            let name = header_name(&field, &header)?;
            written.check((&field, &field), &name, route, "the lane it carries")?;
            LaneCarrier::Header(name)
        }
        (None, Some(key)) => {
            let field = format!("{here}.baggage");
            if header_name(&field, &key).is_err() {
                return Err(ConfigError::new(
                    field,
                    format!(
                        "\"{key}\" is not a valid baggage key (a token, as an HTTP header name)"
                    ),
                ));
            }
            let carried_in = format!("the header {field} is carried in");
            written.check(
                (&field, &carried_in),
                BAGGAGE_HEADER,
                route,
                "the lane it carries",
            )?;
            LaneCarrier::Baggage(key.into_bytes())
        }
        _ => {
            return Err(ConfigError::new(
                here,
                "needs exactly one of `header`, `baggage`",
            ))
        }
    };
    let trust = raw.trust.unwrap_or(false);
    let fallback = match (trust, raw.fallback) {
        (false, Some(_)) => {
            return Err(ConfigError::new(
                format!("{here}.fallback"),
                "applies only with trust: true (an untrusted lane is always replaced)",
            ))
        }
        (_, None | Some(LaneFallbackConfig::Stable)) => LaneFallback::Stable,
        (true, Some(LaneFallbackConfig::Decide)) => LaneFallback::Decide,
    };
    Ok(Lane {
        carrier,
        trust,
        fallback,
    })
}

fn compile_mirror(
    path: &str,
    raw: MirrorConfig,
    route: &Route,
    written: &FilterHeaders<'_>,
) -> Result<Mirror, ConfigError> {
    let here = format!("{path}.mirror");
    let subset = route
        .subsets
        .iter()
        .position(|s| s.name == raw.subset)
        .ok_or_else(|| unknown_subset(&format!("{here}.subset"), &raw.subset, &route.subsets))?;
    let threshold = hundredths(
        &format!("{here}.percent"),
        raw.percent,
        "the share of users mirrored",
    )?;
    let field = format!("{here}.header");
    let header = header_name(&field, &raw.header)?;
    written.check((&field, &field), &header, route, "the mirror mark")?;
    let mut salt = route.salt.clone();
    salt.extend_from_slice(b":mirror");
    Ok(Mirror {
        subset,
        threshold,
        header,
        salt,
    })
}

fn unknown_subset(path: &str, name: &str, subsets: &[Subset]) -> ConfigError {
    ConfigError::new(
        path,
        format!(
            "unknown subset \"{name}\" (this route has {})",
            known_subsets(subsets)
        ),
    )
}

/// Default `minRequests`, `window` and `coolDown` of a guard.
pub const GUARD_DEFAULT_MIN_REQUESTS: u64 = 100;
pub const GUARD_DEFAULT_WINDOW_SECS: u32 = 30;
pub const GUARD_DEFAULT_COOL_DOWN_SECS: u32 = 300;

fn compile_guard(
    path: &str,
    raw: GuardConfig,
    subsets: &[Subset],
    stable_subset: usize,
) -> Result<Guard, ConfigError> {
    let subset = subsets
        .iter()
        .position(|s| s.name == raw.subset)
        .ok_or_else(|| unknown_subset(&format!("{path}.subset"), &raw.subset, subsets))?;
    if subset == stable_subset {
        return Err(ConfigError::new(
            format!("{path}.subset"),
            format!(
                "\"{}\" is the route's stable subset (the first with a weight above 0), where a tripped guard sends the canary's users: guard a newer subset",
                raw.subset
            ),
        ));
    }
    let rate = raw.max_error_rate;
    if !(0.0..=1.0).contains(&rate) {
        return Err(ConfigError::new(
            format!("{path}.maxErrorRate"),
            format!("{rate} is out of range: a share of responses from 0 to 1 (0.05 is 5 %)"),
        ));
    }
    let min_requests = raw.min_requests.unwrap_or(GUARD_DEFAULT_MIN_REQUESTS);
    if min_requests == 0 {
        return Err(ConfigError::new(
            format!("{path}.minRequests"),
            "must be at least 1: a guard decides on at least one response",
        ));
    }
    let window = guard_duration(
        &format!("{path}.window"),
        raw.window.as_deref(),
        GUARD_DEFAULT_WINDOW_SECS,
        MAX_WINDOW_SECS,
    )?;
    let cool_down = guard_duration(
        &format!("{path}.coolDown"),
        raw.cool_down.as_deref(),
        GUARD_DEFAULT_COOL_DOWN_SECS,
        MAX_COOL_DOWN_SECS,
    )?;
    Ok(Guard {
        subset,
        max_error_rate: rate,
        min_requests,
        window_secs: window,
        cool_down_secs: cool_down,
    })
}

/// A guard's duration field: 1 s up to `max`.
fn guard_duration(
    path: &str,
    raw: Option<&str>,
    default: u32,
    max: u32,
) -> Result<u32, ConfigError> {
    let Some(text) = raw else {
        return Ok(default);
    };
    let secs = parse_duration(text).map_err(|reason| ConfigError::new(path, reason))?;
    if secs == 0 {
        return Err(ConfigError::new(
            path,
            format!("\"{text}\" must be at least 1s"),
        ));
    }
    if secs > max {
        return Err(ConfigError::new(
            path,
            format!(
                "\"{text}\" is longer than {}, the most it may be",
                format_duration(max)
            ),
        ));
    }
    Ok(secs)
}

fn known_subsets(subsets: &[Subset]) -> String {
    subsets
        .iter()
        .map(|s| format!("\"{}\"", s.name))
        .collect::<Vec<_>>()
        .join(", ")
}

fn compile_subsets(path: &str, raw: Vec<SubsetConfig>) -> Result<Vec<Subset>, ConfigError> {
    if raw.is_empty() {
        return Err(ConfigError::new(
            format!("{path}.subsets"),
            "must list at least one subset",
        ));
    }
    let mut subsets: Vec<Subset> = Vec::with_capacity(raw.len());
    let mut total: u32 = 0;
    for (i, subset) in raw.into_iter().enumerate() {
        let here = format!("{path}.subsets[{i}]");
        check_name(&format!("{here}.name"), &subset.name)?;
        if let Some(first) = subsets.iter().position(|s| s.name == subset.name) {
            return Err(ConfigError::new(
                format!("{here}.name"),
                format!(
                    "duplicate subset name \"{}\" (also subsets[{first}])",
                    subset.name
                ),
            ));
        }
        let weight = weight_hundredths(&format!("{here}.weight"), subset.weight)?;
        total += u32::from(weight);
        subsets.push(Subset {
            name: subset.name,
            weight,
        });
    }
    if total != BUCKETS {
        let listed = subsets
            .iter()
            .map(|s| format!("{}={}", s.name, percent(s.weight)))
            .collect::<Vec<_>>()
            .join(", ");
        return Err(ConfigError::new(
            format!("{path}.subsets"),
            format!(
                "weights must sum to 100, got {} ({listed})",
                percent_u32(total)
            ),
        ));
    }
    Ok(subsets)
}

/// A weight is a percent with at most two decimals, stored exactly as hundredths.
fn weight_hundredths(path: &str, weight: f64) -> Result<u16, ConfigError> {
    hundredths(path, weight, "a weight")
}

/// A percent with at most two decimals, stored exactly as hundredths; `what` names it.
fn hundredths(path: &str, weight: f64, what: &str) -> Result<u16, ConfigError> {
    if !(0.0..=100.0).contains(&weight) {
        return Err(ConfigError::new(
            path,
            format!("{weight} is out of range: {what} is a percent from 0 to 100"),
        ));
    }
    let scaled = weight * 100.0;
    let rounded = scaled.round();
    if (scaled - rounded).abs() > 1e-6 {
        return Err(ConfigError::new(
            path,
            format!("{weight} has more than two decimals"),
        ));
    }
    // 0 <= rounded <= 10_000 was checked above.
    Ok(rounded as u16)
}

/// A weight in hundredths as the admin wrote it: 1000 -> "10", 3333 -> "33.33", 3330 -> "33.3".
pub fn percent(hundredths: u16) -> String {
    percent_u32(u32::from(hundredths))
}

fn percent_u32(hundredths: u32) -> String {
    if hundredths % 100 == 0 {
        format!("{}", hundredths / 100)
    } else {
        format!("{}.{:02}", hundredths / 100, hundredths % 100)
            .trim_end_matches('0')
            .to_string()
    }
}

fn key_source(path: &str, raw: KeySourceConfig) -> Result<KeySource, ConfigError> {
    match (raw.header, raw.cookie, raw.query) {
        (Some(header), None, None) => Ok(KeySource::Header(header_name(
            &format!("{path}.header"),
            &header,
        )?)),
        (None, Some(cookie), None) => {
            non_empty(&format!("{path}.cookie"), &cookie)?;
            Ok(KeySource::Cookie(cookie.into_bytes()))
        }
        (None, None, Some(query)) => {
            non_empty(&format!("{path}.query"), &query)?;
            Ok(KeySource::Query(query.into_bytes()))
        }
        _ => Err(ConfigError::new(
            path,
            "needs exactly one of `header`, `cookie`, `query`",
        )),
    }
}

fn compile_rule(
    path: &str,
    raw: RuleConfig,
    subsets: &[Subset],
    routing: &RoutingHeader,
    has_token: bool,
) -> Result<Rule, ConfigError> {
    let subset = subsets
        .iter()
        .position(|s| s.name == raw.subset)
        .ok_or_else(|| {
            let known = subsets
                .iter()
                .map(|s| format!("\"{}\"", s.name))
                .collect::<Vec<_>>()
                .join(", ");
            ConfigError::new(
                format!("{path}.subset"),
                format!("unknown subset \"{}\" (this route has {known})", raw.subset),
            )
        })?;
    let users = match raw.users {
        None => None,
        Some(list) if list.is_empty() => {
            return Err(ConfigError::new(
                format!("{path}.users"),
                "must not be empty",
            ))
        }
        Some(list) => {
            if let Some(i) = list.iter().position(String::is_empty) {
                return Err(ConfigError::new(
                    format!("{path}.users[{i}]"),
                    "must not be empty: an empty key is never a user",
                ));
            }
            let mut users: Vec<Vec<u8>> = list.into_iter().map(String::into_bytes).collect();
            users.sort_unstable();
            users.dedup();
            Some(users)
        }
    };
    let conditions = match raw.rule_match {
        None => Vec::new(),
        Some(m) => compile_conditions(&format!("{path}.match"), m, routing)?,
    };
    if users.is_none() && conditions.is_empty() {
        return Err(ConfigError::new(
            path,
            "needs `users` or at least one condition under `match`",
        ));
    }
    let require_token = raw.require_token.unwrap_or(false);
    if require_token && !has_token {
        return Err(ConfigError::new(
            format!("{path}.requireToken"),
            format!("no token is configured: set {TOKEN_ENV} in the plugin's vmConfig.env (Envoy: vm_config.environment_variables)"),
        ));
    }
    Ok(Rule {
        subset,
        users,
        conditions,
        require_token,
    })
}

fn compile_conditions(
    path: &str,
    raw: RuleMatchConfig,
    routing: &RoutingHeader,
) -> Result<Vec<Condition>, ConfigError> {
    const LOST: &str = "the header the rule matches";
    let mut conditions = Vec::new();
    for (i, named) in raw.headers.into_iter().enumerate() {
        let here = format!("{path}.headers[{i}]");
        let (name, m) = named.into_parts();
        let field = format!("{here}.name");
        let name = header_name(&field, &name)?;
        routing.must_differ(&name, &field, LOST)?;
        conditions.push(Condition::Header(name, string_matcher(&here, m)?));
    }
    for (i, named) in raw.cookies.into_iter().enumerate() {
        let here = format!("{path}.cookies[{i}]");
        let (name, m) = named.into_parts();
        non_empty(&format!("{here}.name"), &name)?;
        conditions.push(Condition::Cookie(
            name.into_bytes(),
            string_matcher(&here, m)?,
        ));
    }
    for (i, named) in raw.query.into_iter().enumerate() {
        let here = format!("{path}.query[{i}]");
        let (name, m) = named.into_parts();
        non_empty(&format!("{here}.name"), &name)?;
        conditions.push(Condition::Query(
            name.into_bytes(),
            string_matcher(&here, m)?,
        ));
    }
    if let Some(m) = raw.path {
        conditions.push(Condition::Path(string_matcher(&format!("{path}.path"), m)?));
    }
    if let Some(os) = raw.os {
        if os.is_empty() {
            return Err(ConfigError::new(format!("{path}.os"), "must not be empty"));
        }
        let field = format!("the header {path}.os reads");
        routing.must_differ("user-agent", &field, LOST)?;
        conditions.push(Condition::Os(os));
    }
    Ok(conditions)
}

fn string_matcher(path: &str, raw: StringMatchConfig) -> Result<StringMatcher, ConfigError> {
    let ic = raw.ignore_case.unwrap_or(false);
    let set = [
        raw.exact.is_some(),
        raw.prefix.is_some(),
        raw.suffix.is_some(),
        raw.contains.is_some(),
        raw.regex.is_some(),
        raw.present.is_some(),
    ]
    .iter()
    .filter(|&&b| b)
    .count();
    if set != 1 {
        return Err(ConfigError::new(
            path,
            format!(
                "needs exactly one of `exact`, `prefix`, `suffix`, `contains`, `regex`, `present` (found {set})"
            ),
        ));
    }
    if let Some(v) = raw.exact {
        Ok(StringMatcher::exact(&v, ic))
    } else if let Some(v) = raw.prefix {
        Ok(StringMatcher::prefix(&v, ic))
    } else if let Some(v) = raw.suffix {
        Ok(StringMatcher::suffix(&v, ic))
    } else if let Some(v) = raw.contains {
        Ok(StringMatcher::contains(&v, ic))
    } else if let Some(v) = raw.regex {
        StringMatcher::regex(&v, ic)
            .map_err(|reason| ConfigError::new(format!("{path}.regex"), reason))
    } else {
        Ok(StringMatcher::present(raw.present.unwrap_or(true)))
    }
}

fn non_empty(path: &str, value: &str) -> Result<(), ConfigError> {
    if value.is_empty() {
        Err(ConfigError::new(path, "must not be empty"))
    } else {
        Ok(())
    }
}

/// Route and subset names: `[A-Za-z0-9_-]`, 1 to 63 characters, because they are written into
/// a header value and into metric names.
fn check_name(path: &str, name: &str) -> Result<(), ConfigError> {
    let valid = !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if valid {
        Ok(())
    } else {
        Err(ConfigError::new(
            path,
            format!("\"{name}\" must be 1 to {MAX_NAME_LEN} characters of A-Z a-z 0-9 - _"),
        ))
    }
}

/// An RFC 9110 token: what a header name and a cookie name (RFC 6265) may be.
fn is_token(name: &str) -> bool {
    let is_tchar = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    !name.is_empty() && name.bytes().all(is_tchar)
}

/// An HTTP header name (RFC 9110 token), returned lowercase. Pseudo-headers are refused.
fn header_name(path: &str, name: &str) -> Result<String, ConfigError> {
    if !is_token(name) {
        return Err(ConfigError::new(
            path,
            format!("\"{name}\" is not a valid HTTP header name"),
        ));
    }
    Ok(name.to_ascii_lowercase())
}
