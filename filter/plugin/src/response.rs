//! The response side: echoes the chosen subset (`exposeSubset`), counts the response for health
//! and the guard, and adds the `Set-Cookie` of an issued id after every one the upstream sent.

use crate::health::{class_of, is_error};
use crate::host::{Host, Map};
use crate::streams::Awaiting;

pub fn on_response_headers(host: &impl Host, stream: &Awaiting) {
    let configuration = &stream.active;
    let config = &configuration.config;
    let plan = &stream.plan;
    let (route, subset) = (plan.route, plan.subset);
    let name = config
        .routes
        .get(route)
        .and_then(|r| r.subsets.get(subset))
        .map(|s| s.name.as_bytes());
    if plan.expose {
        if let Some(name) = name {
            host.set_header(Map::Response, &config.routing_header, name);
        }
    }
    if plan.health {
        let class = class_of(host.header(Map::Response, ":status").as_deref());
        configuration.health.count(route, subset, class);
        configuration.guards.count(route, subset, is_error(class));
    }
    if let Some(id) = &plan.issued {
        if let Some(assign) = config.routes.get(route).and_then(|r| r.assign.as_ref()) {
            host.add_header(Map::Response, "set-cookie", &assign.set_cookie(id));
            configuration.counters.count_assigned(route);
        }
    }
}
