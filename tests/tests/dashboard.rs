//! The Grafana dashboard (`examples/grafana/sticky-canary-dashboard.json`): every PromQL
//! expression in it parses with a real PromQL parser once Grafana's variables are put in, and
//! every metric it names, with every label it matches or groups by, is one Envoy exposes on
//! `/stats/prometheus` when the filter runs with health and a guard (or Istio's standard
//! `istio_requests_total`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use promql_parser::parser::{self, Expr};
use serde_json::{json, Value};
use sticky_canary_e2e::{repo_root, user_on, Delivery, Envoy};

const DASHBOARD: &str = "examples/grafana/sticky-canary-dashboard.json";

/// Istio's standard request metric and the labels the dashboard may use
/// (https://istio.io/latest/docs/reference/config/metrics/).
const ISTIO_REQUESTS: &str = "istio_requests_total";
const ISTIO_LABELS: &[&str] = &[
    "reporter",
    "destination_service_name",
    "destination_version",
    "response_code",
];

/// What Grafana puts in for its variables before the query reaches Prometheus.
const VARIABLES: &[(&str, &str)] = &[
    ("$__rate_interval", "1m"),
    ("$route", ".*"),
    ("$service", ".*"),
];

fn dashboard() -> Value {
    let text = std::fs::read_to_string(repo_root().join(DASHBOARD)).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// `(panel title, expression)` of every query, rows' panels included.
fn expressions(panels: &Value, out: &mut Vec<(String, String)>) {
    for panel in panels.as_array().unwrap() {
        if let Some(inner) = panel.get("panels") {
            expressions(inner, out);
        }
        for target in panel["targets"].as_array().into_iter().flatten() {
            let title = panel["title"].as_str().unwrap().to_string();
            out.push((title, target["expr"].as_str().unwrap().to_string()));
        }
    }
}

fn interpolate(expr: &str) -> String {
    let mut text = expr.to_string();
    for (variable, value) in VARIABLES {
        text = text.replace(variable, value);
    }
    assert!(!text.contains('$'), "an unknown Grafana variable in {expr}");
    text
}

/// Metric names, each with the labels the expression matches on or groups by.
fn metrics(expr: &Expr, grouping: &BTreeSet<String>, out: &mut BTreeMap<String, BTreeSet<String>>) {
    let mut add = |vs: &parser::VectorSelector| {
        let name = vs.name.clone().expect("a selector without a metric name");
        let labels = out.entry(name).or_default();
        labels.extend(vs.matchers.matchers.iter().map(|m| m.name.clone()));
        labels.extend(grouping.iter().cloned());
    };
    match expr {
        Expr::VectorSelector(vs) => add(vs),
        Expr::MatrixSelector(ms) => add(&ms.vs),
        Expr::Aggregate(a) => {
            let mut grouping = grouping.clone();
            if let Some(modifier) = &a.modifier {
                grouping.extend(modifier.labels().labels.iter().cloned());
            }
            metrics(&a.expr, &grouping, out);
        }
        Expr::Binary(b) => {
            metrics(&b.lhs, grouping, out);
            metrics(&b.rhs, grouping, out);
        }
        Expr::Paren(p) => metrics(&p.expr, grouping, out),
        Expr::Unary(u) => metrics(&u.expr, grouping, out),
        Expr::Subquery(s) => metrics(&s.expr, grouping, out),
        Expr::Call(c) => {
            for arg in &c.args.args {
                metrics(arg, grouping, out);
            }
        }
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::Extension(_) => {}
    }
}

/// Label names per metric in a `/stats/prometheus` answer.
fn exposed(text: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some((series, _)) = line.rsplit_once(' ') else {
            continue;
        };
        let (name, labels) = series.split_once('{').unwrap_or((series, ""));
        let names = out.entry(name.to_string()).or_default();
        for pair in labels.trim_end_matches('}').split(',') {
            if let Some((label, _)) = pair.split_once('=') {
                names.insert(label.to_string());
            }
        }
    }
    out
}

#[test]
fn the_dashboard_has_these_six_panels_in_this_order() {
    let dashboard = dashboard();
    let titles: Vec<&str> = dashboard["panels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["title"].as_str().unwrap())
        .collect();
    assert_eq!(
        titles,
        [
            "Requests per subset",
            "Decisions by reason",
            "Error rate, canary vs stable (filter)",
            "Error rate, canary vs stable (Istio)",
            "Guard state (proxies tripped)",
            "Guard trips",
        ]
    );
}

#[test]
fn every_expression_parses_and_names_only_metrics_envoy_exposes() {
    let dashboard = dashboard();
    let mut queries = Vec::new();
    expressions(&dashboard["panels"], &mut queries);
    // The variables' own queries: label_values(<selector>, <label>).
    for variable in dashboard["templating"]["list"].as_array().unwrap() {
        let Some(query) = variable["query"].as_str() else {
            continue;
        };
        if let Some(inner) = query
            .strip_prefix("label_values(")
            .and_then(|q| q.strip_suffix(')'))
        {
            let (selector, label) = inner.rsplit_once(',').unwrap();
            let name = variable["name"].as_str().unwrap();
            queries.push((
                format!("variable {name}"),
                format!("sum by ({}) ({selector})", label.trim()),
            ));
        }
    }
    assert!(queries.len() >= 8, "{queries:?}");
    let mut named: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (title, expr) in &queries {
        let parsed = parser::parse(&interpolate(expr))
            .unwrap_or_else(|e| panic!("{title}: {expr} does not parse: {e}"));
        metrics(&parsed, &BTreeSet::new(), &mut named);
    }

    // An Envoy whose filter counted decisions, responses and a trip.
    let config = json!({"routes": [{
        "name": "service-a",
        "subsets": [{"name": "v1", "weight": 50}, {"name": "v2", "weight": 50}],
        "stickiness": {"keys": [{"header": "x-user-id"}]},
        "guard": {"subset": "v2", "maxErrorRate": 0.05, "minRequests": 1, "window": "5s", "coolDown": "1h"}
    }]})
    .to_string();
    let envoy = Envoy::start(Delivery::Inline, &config);
    let mut client = envoy.front();
    for user in [user_on(&config, "v1"), user_on(&config, "v2")] {
        assert_eq!(
            client.get("/", &[("x-user-id", user.as_bytes())]).status,
            200
        );
    }
    let mut text = String::new();
    envoy.wait_for(
        "the filter's metrics in /stats/prometheus",
        Duration::from_secs(30),
        |e| {
            text = e.admin("/stats/prometheus");
            text.contains("sticky_canary_responses_total{")
                && text.contains("sticky_canary_guard_state{")
        },
    );
    let exposed = exposed(&text);
    for (metric, labels) in &named {
        if metric == ISTIO_REQUESTS {
            for label in labels {
                assert!(
                    ISTIO_LABELS.contains(&label.as_str()),
                    "{metric}: {label} is not one of Istio's labels"
                );
            }
            continue;
        }
        let have = exposed
            .get(metric)
            .unwrap_or_else(|| panic!("{metric} is not in /stats/prometheus:\n{text}"));
        for label in labels {
            assert!(
                have.contains(label),
                "{metric} has no label {label} (it has {have:?})"
            );
        }
    }
    for metric in [
        "sticky_canary_requests_total",
        "sticky_canary_responses_total",
        "sticky_canary_guard_state",
        "sticky_canary_guard_tripped_total",
        ISTIO_REQUESTS,
    ] {
        assert!(
            named.contains_key(metric),
            "the dashboard never shows {metric}"
        );
    }
}
