//! Parses, validates and compiles a pluginConfig once, at configure time. The request path only
//! reads the compiled [`Config`]. Every error names the field path and the reason on one line.
//! One module per concern; [`ownership`] holds the table of every header the configuration
//! reads or writes, which both refuses clashes and drives the request plan.

mod assign;
mod error;
mod guard;
mod lane;
mod mirror;
mod names;
pub mod ownership;
mod route;
mod rules;
mod schedule;
mod subsets;

use crate::assign::Assign;
use crate::guard::Guard;
use crate::hash::{bucket, flagd_bucket, unleash_normalized};
use crate::layout::BucketLayout;
use crate::matcher::{HostPattern, StringMatcher};
use crate::schedule::Schedule;
use crate::schema::{Os, PluginConfig};
use crate::token::{Secret, DEFAULT_TOKEN_HEADER};

pub use error::ConfigError;
pub use guard::{
    GUARD_DEFAULT_COOL_DOWN_SECS, GUARD_DEFAULT_MIN_REQUESTS, GUARD_DEFAULT_WINDOW_SECS,
};
pub use lane::{Lane, LaneCarrier, LaneFallback};
pub use mirror::Mirror;
pub use ownership::{Owned, OwnedHeader, Role};
pub use subsets::percent;

use names::{header_name, routing_header_name};
use ownership::Uses;

pub const DEFAULT_ROUTING_HEADER: &str = "x-canary-subset";

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
    /// Every header and baggage member the filter writes, for every request it sees.
    pub owned: Owned,
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
    /// Weights that move with the clock; the request reads them through
    /// [`crate::Inputs::scheduled`], never computes them.
    pub schedule: Option<Schedule>,
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
    /// flagd's `fractional` with no bucketing expression: bucket [`crate::flagd_bucket`]
    /// (`murmur3_x86_32(flagKey + key) * 10000 >> 32`), the route's layout listed-first, so the
    /// subsets in the order listed are the rule's variants in the same order.
    Flagd { flag_key: Vec<u8> },
}

impl Route {
    /// The bucket of a stickiness key on this route.
    pub fn bucket_of(&self, key: &[u8]) -> u16 {
        match &self.bucketing {
            Bucketing::Default => bucket(&self.salt, key),
            Bucketing::Unleash { group_id } => {
                (u16::from(unleash_normalized(group_id, key)) - 1) * 100
            }
            Bucketing::Flagd { flag_key } => flagd_bucket(flag_key, key),
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

// The compilers of each concern (`route::compile`, `rules::compile`, ...) are kept out of line
// (`#[inline(never)]`): V8 compiles every function of the module with TurboFan when it loads, and
// one function holding the whole configure path cost 11 MiB more per Envoy than the same code in
// pieces (BENCHMARKS.md, "Memory"). They run once per configuration, so the calls cost nothing
// per request.
#[inline(never)]
fn compile(
    raw: PluginConfig,
    token: Option<Secret>,
    cookie_key: Option<&Secret>,
) -> Result<Config, ConfigError> {
    let routing_header = match &raw.routing_header {
        Some(name) => routing_header_name(name)?,
        None => DEFAULT_ROUTING_HEADER.to_string(),
    };
    let mut uses = Uses::new(&routing_header, raw.routing_header.is_some())?;
    let token_header = match &raw.token_header {
        Some(name) => header_name("tokenHeader", name)?,
        None => DEFAULT_TOKEN_HEADER.to_string(),
    };
    uses.token(&token_header, raw.token_header.is_some())?;
    let reason_header = raw
        .reason_header
        .as_deref()
        .map(|name| header_name("reasonHeader", name))
        .transpose()?;
    if let Some(name) = &reason_header {
        uses.reason(name)?;
    }
    if raw.routes.is_empty() {
        return Err(ConfigError::new("routes", "must list at least one route"));
    }
    let mut routes: Vec<Route> = Vec::with_capacity(raw.routes.len());
    for (index, mut raw_route) in raw.routes.into_iter().enumerate() {
        let path = format!("routes[{index}]");
        let (raw_lane, raw_mirror) = (raw_route.lane.take(), raw_route.mirror.take());
        let mut route = route::compile(&path, raw_route, token.is_some(), cookie_key)?;
        route.lane = raw_lane.map(|raw| lane::compile(&path, raw)).transpose()?;
        route.mirror = raw_mirror
            .map(|raw| mirror::compile(&path, raw, &route))
            .transpose()?;
        if let Some(first) = routes.iter().position(|r| r.name == route.name) {
            return Err(ConfigError::new(
                format!("{path}.name"),
                format!(
                    "duplicate route name \"{}\" (also routes[{first}])",
                    route.name
                ),
            ));
        }
        uses.route(&path, &route)?;
        routes.push(route);
    }
    Ok(Config {
        routing_header,
        expose_subset: raw.expose_subset.unwrap_or(false),
        token_header,
        token,
        routes,
        reason_header,
        owned: uses.owned(),
    })
}
