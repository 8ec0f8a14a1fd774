//! The route table Istio's waypoint builds from an HTTPRoute attached to a Service (Gateway API's
//! mesh form, `parentRefs: [{group: "", kind: Service}]`), as Envoy route entries, so a test runs
//! the routing a manifest gives instead of a hand-written copy that could drift from it.
//!
//! Mirrors istio/istio 1.29.6 (the same in 1.28.10, 1.30.3 and master 86c9f01):
//! - each match of each rule becomes one route (pilot/pkg/config/kube/gateway/conversion.go,
//!   `convertHTTPRoute`), named after the rule's `name`, else `<namespace>.<route>.<rule index>`;
//!   a rule without matches matches `PathPrefix /` (the CRD's default for `matches`, and for
//!   `path` within a match);
//! - the routes sorted as Gateway API orders them (`sortHTTPRoutes`, stable): exact path before
//!   prefix, the longer path first, then the one with more header matches;
//! - the table ends at the first catch-all (listener_waypoint.go, `waypointInboundRoute`);
//! - one virtual host with domains `*` (`buildRouteVHostDomains`: the waypoint's chain for the
//!   Service already picked the Service, so the host is not matched again);
//! - a backendRef to a Service the waypoint serves goes to the cluster
//!   `inbound-vip|<port>|http|<name>.<namespace>.svc.cluster.local` (`getWaypointDestinationCluster`,
//!   `portToSubset`, `model.BuildSubsetKey`).
//!
//! Only what matters to routing on the filter's header is rendered (match and cluster; not the
//! timeouts and metadata Istio adds). What the examples do not use (filters, method or query
//! matches, regular expressions, paths other than `/`, several backends, non-HTTP ports) is
//! refused naming its field, rather than rendered wrong.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::{json, Map, Value};

/// A backendRef: a Service of the route's namespace and its port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Backend {
    pub service: String,
    pub namespace: String,
    pub port: u64,
}

/// How a route matches the path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathMatch {
    Exact(String),
    Prefix(String),
}

/// One route of the waypoint's table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WaypointRoute {
    pub name: String,
    pub path: PathMatch,
    /// Exact header matches: (lowercase name, value).
    pub headers: Vec<(String, String)>,
    pub backend: Backend,
}

impl WaypointRoute {
    fn is_catch_all(&self) -> bool {
        self.path == PathMatch::Prefix("/".into()) && self.headers.is_empty()
    }

    /// Gateway API's precedence key, larger first: path kind (exact 3, prefix 2), path length,
    /// number of header matches.
    fn precedence(&self) -> (u8, usize, usize) {
        match &self.path {
            PathMatch::Exact(p) => (3, p.len(), self.headers.len()),
            PathMatch::Prefix(p) => (2, p.len(), self.headers.len()),
        }
    }
}

/// Is `parent` (a parentRef) the Service `service` of `namespace`, seen from a route in
/// `route_namespace`?
pub fn is_service_parent(
    parent: &Value,
    route_namespace: &str,
    service: &str,
    namespace: &str,
) -> bool {
    parent["group"] == "" // the core group must be spelled out: unset means Gateway API's
        && parent["kind"] == "Service"
        && parent["name"] == service
        && parent["namespace"].as_str().unwrap_or(route_namespace) == namespace
}

/// The waypoint's routes for an HTTPRoute, in the order Envoy tries them.
pub fn routes(httproute: &Value) -> Result<Vec<WaypointRoute>, String> {
    let namespace = httproute["metadata"]["namespace"]
        .as_str()
        .unwrap_or("default");
    let route_name = httproute["metadata"]["name"]
        .as_str()
        .ok_or("metadata.name missing")?;
    let rules = httproute["spec"]["rules"]
        .as_array()
        .ok_or("spec.rules: missing")?;
    let mut out = Vec::new();
    for (i, rule) in rules.iter().enumerate() {
        let at = format!("spec.rules[{i}]");
        if let Some(key) = rule
            .as_object()
            .into_iter()
            .flat_map(|r| r.keys())
            .find(|k| !["name", "matches", "backendRefs"].contains(&k.as_str()))
        {
            return Err(format!("{at}.{key}: not rendered"));
        }
        let name = rule["name"]
            .as_str()
            .map_or_else(|| format!("{namespace}.{route_name}.{i}"), str::to_string);
        let backend = match rule["backendRefs"].as_array().map(Vec::as_slice) {
            Some([backend]) => backend_of(backend, namespace, &format!("{at}.backendRefs[0]"))?,
            _ => return Err(format!("{at}.backendRefs: exactly one is rendered")),
        };
        let default_match = [json!({})];
        let matches = match rule["matches"].as_array() {
            Some(matches) if !matches.is_empty() => matches.as_slice(),
            _ => &default_match[..],
        };
        for (j, condition) in matches.iter().enumerate() {
            let at = format!("{at}.matches[{j}]");
            out.push(WaypointRoute {
                name: name.clone(),
                path: path_of(&condition["path"], &at)?,
                headers: headers_of(condition, &at)?,
                backend: backend.clone(),
            });
        }
    }
    // Stable: routes of equal precedence keep the manifest's order.
    out.sort_by_key(|r| std::cmp::Reverse(r.precedence()));
    if let Some(first) = out.iter().position(WaypointRoute::is_catch_all) {
        out.truncate(first + 1);
    }
    Ok(out)
}

fn backend_of(backend: &Value, namespace: &str, at: &str) -> Result<Backend, String> {
    for key in backend.as_object().into_iter().flat_map(|b| b.keys()) {
        if !["group", "kind", "name", "port"].contains(&key.as_str()) {
            return Err(format!("{at}.{key}: not rendered"));
        }
    }
    if !backend["group"].as_str().unwrap_or("").is_empty()
        || backend["kind"].as_str().unwrap_or("Service") != "Service"
    {
        return Err(format!("{at}: only a Service is rendered"));
    }
    Ok(Backend {
        service: backend["name"]
            .as_str()
            .ok_or(format!("{at}.name: missing"))?
            .to_string(),
        namespace: namespace.to_string(),
        port: backend["port"]
            .as_u64()
            .ok_or(format!("{at}.port: missing (required for a Service)"))?,
    })
}

fn path_of(path: &Value, at: &str) -> Result<PathMatch, String> {
    if path.is_null() {
        return Ok(PathMatch::Prefix("/".into()));
    }
    let value = path["value"].as_str().unwrap_or("/");
    match (path["type"].as_str().unwrap_or("PathPrefix"), value) {
        ("PathPrefix", "/") => Ok(PathMatch::Prefix("/".into())),
        ("Exact", value) => Ok(PathMatch::Exact(value.to_string())),
        (kind, value) => Err(format!(
            "{at}.path: {kind} {value:?} not rendered (only PathPrefix / and Exact)"
        )),
    }
}

fn headers_of(condition: &Value, at: &str) -> Result<Vec<(String, String)>, String> {
    for key in condition.as_object().into_iter().flat_map(|c| c.keys()) {
        if !["path", "headers"].contains(&key.as_str()) {
            return Err(format!("{at}.{key}: not rendered"));
        }
    }
    let mut out = Vec::new();
    for (k, header) in condition["headers"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        if header["type"].as_str().unwrap_or("Exact") != "Exact" {
            return Err(format!("{at}.headers[{k}].type: only Exact is rendered"));
        }
        let name = header["name"]
            .as_str()
            .ok_or(format!("{at}.headers[{k}].name: missing"))?;
        let value = header["value"]
            .as_str()
            .ok_or(format!("{at}.headers[{k}].value: missing"))?;
        out.push((name.to_ascii_lowercase(), value.to_string()));
    }
    Ok(out)
}

/// The cluster a waypoint sends a backend's requests to, when `service` (the backend's Service
/// manifest) is one it serves. Its port must be HTTP to Istio: named `http` or `http-...`, or
/// `appProtocol: http`.
pub fn inbound_vip_cluster(backend: &Backend, service: &Value) -> Result<String, String> {
    let port = service["spec"]["ports"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["port"] == backend.port)
        .ok_or(format!(
            "Service {} has no port {}",
            backend.service, backend.port
        ))?;
    let name = port["name"].as_str().unwrap_or("");
    let http = port["appProtocol"] == "http" || name == "http" || name.starts_with("http-");
    if !http {
        return Err(format!(
            "Service {} port {}: not HTTP to Istio (name it http or http-..., or set appProtocol: http)",
            backend.service, backend.port
        ));
    }
    Ok(format!(
        "inbound-vip|{}|http|{}.{}.svc.cluster.local",
        backend.port, backend.service, backend.namespace
    ))
}

/// The Envoy route entries (`virtual_hosts[].routes`) of `routes`, each backend's cluster named by
/// [`inbound_vip_cluster`] from the Service manifests in `services`.
pub fn envoy_routes(routes: &[WaypointRoute], services: &[&Value]) -> Result<Value, String> {
    let mut out = Vec::new();
    for route in routes {
        let service = services
            .iter()
            .find(|s| {
                s["metadata"]["name"] == route.backend.service.as_str()
                    && s["metadata"]["namespace"].as_str().unwrap_or("default")
                        == route.backend.namespace
            })
            .ok_or(format!(
                "route {}: backend {} is no Service of {}",
                route.name, route.backend.service, route.backend.namespace
            ))?;
        let mut matcher = Map::new();
        match &route.path {
            PathMatch::Exact(path) => matcher.insert("path".into(), json!(path)),
            PathMatch::Prefix(prefix) => matcher.insert("prefix".into(), json!(prefix)),
        };
        if !route.headers.is_empty() {
            let headers: Vec<Value> = route
                .headers
                .iter()
                .map(|(name, value)| json!({"name": name, "string_match": {"exact": value}}))
                .collect();
            matcher.insert("headers".into(), Value::Array(headers));
        }
        out.push(json!({
            "name": route.name,
            "match": matcher,
            "route": {"cluster": inbound_vip_cluster(&route.backend, service)?},
        }));
    }
    Ok(Value::Array(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(rules: Value) -> Value {
        json!({"metadata": {"name": "r", "namespace": "ns"}, "spec": {"rules": rules}})
    }

    fn names(routes: &[WaypointRoute]) -> Vec<&str> {
        routes.iter().map(|r| r.name.as_str()).collect()
    }

    #[test]
    fn rules_are_ordered_by_gateway_api_precedence_and_end_at_the_first_catch_all() {
        let backend = json!([{"name": "s", "port": 80}]);
        let header = |v: &str| json!([{"headers": [{"name": "X-H", "value": v}]}]);
        let table = routes(&route(json!([
            {"backendRefs": backend},
            {"name": "a", "matches": header("a"), "backendRefs": backend},
            {"name": "exact", "matches": [{"path": {"type": "Exact", "value": "/x"}}], "backendRefs": backend},
            {"name": "two", "matches": [{"headers": [{"name": "x-h", "value": "b"}, {"name": "x-i", "value": "c"}]}], "backendRefs": backend},
            {"name": "after-catch-all", "backendRefs": backend},
        ])))
        .unwrap();
        assert_eq!(names(&table), ["exact", "two", "a", "ns.r.0"]);
        assert_eq!(table[2].headers, [("x-h".to_string(), "a".to_string())]);
        assert_eq!(table[3].path, PathMatch::Prefix("/".into()));
    }

    #[test]
    fn what_is_not_rendered_is_refused_with_its_field() {
        let cases = [
            (json!([{"filters": [], "backendRefs": [{"name": "s", "port": 80}]}]), "spec.rules[0].filters: not rendered"),
            (json!([{"backendRefs": [{"name": "s", "port": 80}, {"name": "t", "port": 80}]}]), "spec.rules[0].backendRefs: exactly one is rendered"),
            (json!([{"matches": [{"method": "GET"}], "backendRefs": [{"name": "s", "port": 80}]}]), "spec.rules[0].matches[0].method: not rendered"),
            (json!([{"matches": [{"headers": [{"type": "RegularExpression", "name": "h", "value": "."}]}], "backendRefs": [{"name": "s", "port": 80}]}]), "spec.rules[0].matches[0].headers[0].type: only Exact is rendered"),
            (json!([{"matches": [{"path": {"type": "PathPrefix", "value": "/api"}}], "backendRefs": [{"name": "s", "port": 80}]}]), "spec.rules[0].matches[0].path: PathPrefix \"/api\" not rendered (only PathPrefix / and Exact)"),
            (json!([{"backendRefs": [{"name": "s"}]}]), "spec.rules[0].backendRefs[0].port: missing (required for a Service)"),
        ];
        for (rules, expected) in cases {
            assert_eq!(routes(&route(rules)), Err(expected.to_string()));
        }
    }

    #[test]
    fn a_backend_goes_to_the_inbound_vip_cluster_of_its_http_port() {
        let table = routes(&route(
            json!([{"backendRefs": [{"name": "s", "port": 7777}]}]),
        ))
        .unwrap();
        let service = json!({"metadata": {"name": "s", "namespace": "ns"}, "spec": {"ports": [{"name": "http", "port": 7777}]}});
        assert_eq!(
            envoy_routes(&table, &[&service]).unwrap(),
            json!([{"name": "ns.r.0", "match": {"prefix": "/"}, "route": {"cluster": "inbound-vip|7777|http|s.ns.svc.cluster.local"}}])
        );
        let tcp = json!({"metadata": {"name": "s", "namespace": "ns"}, "spec": {"ports": [{"name": "tcp", "port": 7777}]}});
        assert_eq!(
            envoy_routes(&table, &[&tcp]),
            Err("Service s port 7777: not HTTP to Istio (name it http or http-..., or set appProtocol: http)".to_string())
        );
    }
}
