//! The test oracle: what the pure core decides for a request. The module in Envoy must agree
//! with it bit for bit.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

/// How many ids the searches below try before giving up (a subset with weight 0 has none).
const SEARCH_LIMIT: usize = 100_000;

/// What the core decides for a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expected {
    /// No route matches: the routing header is removed.
    Unrouted,
    /// No key and a `random` fallback: any subset, by weight.
    Random,
    Subset(String),
}

/// The subset the core decides for a request with this path and these headers. `None`: no route
/// matches.
pub fn expected_subset(
    plugin_config: &str,
    path: &str,
    headers: &[(&str, &[u8])],
) -> Option<String> {
    expected_subset_with_token(plugin_config, None, path, headers)
}

/// [`expected_subset`] for any request, also those without a route or a key.
pub fn expected_outcome(plugin_config: &str, path: &str, headers: &[(&str, &[u8])]) -> Expected {
    expected_outcome_with_token(plugin_config, None, path, headers)
}

/// [`expected_subset`] for a VM whose environment holds this override token.
pub fn expected_subset_with_token(
    plugin_config: &str,
    token: Option<&str>,
    path: &str,
    headers: &[(&str, &[u8])],
) -> Option<String> {
    match expected_outcome_with_token(plugin_config, token, path, headers) {
        Expected::Unrouted => None,
        Expected::Random => panic!("oracle asked for randomness"),
        Expected::Subset(name) => Some(name),
    }
}

/// [`expected_outcome`] for a VM whose environment holds this override token.
pub fn expected_outcome_with_token(
    plugin_config: &str,
    token: Option<&str>,
    path: &str,
    headers: &[(&str, &[u8])],
) -> Expected {
    let secret = sticky_canary_core::Secret::new(token.map(str::as_bytes));
    let config =
        sticky_canary_core::Config::from_json_with_token(plugin_config.as_bytes(), secret).unwrap();
    // As Envoy hands the header map to the module: every header in order, repeated ones as
    // separate pairs, `host` as `:authority`.
    let mut owned: Vec<(String, Vec<u8>)> = vec![(":path".to_string(), path.as_bytes().to_vec())];
    // The client's default host, unless the request names its own.
    if !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("host")) {
        owned.push((":authority".to_string(), b"servicea.com".to_vec()));
    }
    for (name, value) in headers {
        let name = if name.eq_ignore_ascii_case("host") {
            ":authority".to_string()
        } else {
            name.to_ascii_lowercase()
        };
        owned.push((name, value.to_vec()));
    }
    let pairs = owned
        .iter()
        .map(|(n, v)| (n.as_bytes(), v.as_slice()))
        .collect();
    let request = sticky_canary_core::Request::new(pairs);
    let inputs = RandomSeen(std::cell::Cell::new(false));
    let decision = sticky_canary_core::plan(&config, &request, &inputs).decision;
    let random_asked = inputs.0;
    match decision {
        None => Expected::Unrouted,
        Some(_) if random_asked.get() => Expected::Random,
        Some(d) => Expected::Subset(config.routes[d.route].subsets[d.subset].name.clone()),
    }
}

/// The subset of a user (by `x-user-id`, on `/`, the client's default host).
pub fn subset_of(plugin_config: &str, user: &str) -> String {
    match expected_outcome(plugin_config, "/", &[("x-user-id", user.as_bytes())]) {
        Expected::Subset(subset) => subset,
        other => panic!("user {user}: the oracle says {other:?}"),
    }
}

/// The first `count` of the ids `user-0`, `user-1`, ... whose subset (see [`subset_of`]) under
/// this config is `subset`.
pub fn users_on(plugin_config: &str, subset: &str, count: usize) -> Vec<String> {
    let found: Vec<String> = (0..SEARCH_LIMIT)
        .map(|i| format!("user-{i}"))
        .filter(|id| subset_of(plugin_config, id) == subset)
        .take(count)
        .collect();
    assert_eq!(
        found.len(),
        count,
        "only {} of the first {SEARCH_LIMIT} ids are on {subset}",
        found.len()
    );
    found
}

/// The first id `user-N` on `subset` (see [`users_on`]).
pub fn user_on(plugin_config: &str, subset: &str) -> String {
    users_on(plugin_config, subset, 1).remove(0)
}

/// The first of `users` that `old` puts on `from` and `new` on `to`.
pub fn user_moving<'a>(
    users: &'a [String],
    old: &str,
    new: &str,
    (from, to): (&str, &str),
) -> &'a str {
    users
        .iter()
        .find(|id| subset_of(old, id) == from && subset_of(new, id) == to)
        .unwrap_or_else(|| panic!("none of {} users moves from {from} to {to}", users.len()))
}

/// No guard tripped; remembers whether the decision drew a random number or a new id.
struct RandomSeen(std::cell::Cell<bool>);

impl sticky_canary_core::Inputs for RandomSeen {
    fn tripped(&self, _route: usize) -> bool {
        false
    }

    fn random(&self) -> u32 {
        self.0.set(true);
        0
    }

    fn new_id(&self) -> [u8; 16] {
        self.0.set(true);
        [0; 16]
    }
}
