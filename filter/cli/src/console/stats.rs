//! The filter's counters from `/stats`, taken apart into metric, route, subset and the other
//! labels of their names, for the live chart. Rates are the page's business (differences
//! between two reads): the console keeps no history.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

/// Envoy shows a Wasm counter named N as `wasmcustom.N`; the filter's all start with this.
pub const FILTER_PREFIX: &str = "wasmcustom.sticky_canary.";

/// `wasmcustom.sticky_canary.requests_total.route.R.subset.S.reason.hash` ->
/// `{metric: requests_total, route: R, subset: S, labels: {reason: hash}}`.
pub fn parse(name: &str) -> Option<Value> {
    let rest = name.strip_prefix(FILTER_PREFIX)?;
    let mut parts = rest.split('.');
    let metric = parts.next()?;
    let mut labels = Map::new();
    let mut route = Value::Null;
    let mut subset = Value::Null;
    while let Some(key) = parts.next() {
        let value = parts.next()?;
        match key {
            "route" => route = value.into(),
            "subset" => subset = value.into(),
            _ => {
                labels.insert(key.to_string(), value.into());
            }
        }
    }
    Some(json!({
        "metric": metric,
        "route": route,
        "subset": subset,
        "labels": labels,
    }))
}

pub fn counters(stats: &BTreeMap<String, u64>) -> Vec<Value> {
    stats
        .iter()
        .filter_map(|(name, value)| {
            let mut counter = parse(name)?;
            counter
                .as_object_mut()?
                .insert("value".into(), (*value).into());
            Some(counter)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_come_apart_into_metric_route_subset_and_labels() {
        assert_eq!(
            parse("wasmcustom.sticky_canary.requests_total.route.service-a.subset.v2.reason.hash"),
            Some(
                json!({"metric": "requests_total", "route": "service-a", "subset": "v2",
                        "labels": {"reason": "hash"}})
            )
        );
        assert_eq!(
            parse("wasmcustom.sticky_canary.unrouted_total"),
            Some(json!({"metric": "unrouted_total", "route": null, "subset": null, "labels": {}}))
        );
        assert_eq!(parse("wasmcustom.other.requests_total"), None);
        assert_eq!(
            parse("wasmcustom.sticky_canary.requests_total.route"),
            None,
            "a label without a value is not the filter's"
        );
    }
}
