//! The response side of a stream the filter kept, as its plan says: echoes the chosen subset
//! (`exposeSubset`), counts the response for health and the guard, and adds the `Set-Cookie` of
//! an issued id after every one the upstream sent. A gRPC response whose status comes in its
//! trailers is counted there.

use crate::header_map;
use crate::health::{classify, grpc_code, is_error, Classified};
use crate::host::{Host, Map};
use crate::streams::Awaiting;

/// What a stream still needs after its response headers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    Done,
    /// Its `grpc-status`, from the trailers.
    Trailers,
}

pub fn on_response_headers(host: &impl Host, stream: &Awaiting) -> Next {
    let configuration = &stream.active;
    let config = &configuration.config;
    let plan = &stream.plan;
    let (route, subset) = (plan.route, plan.subset);
    if plan.expose {
        let name = config
            .routes
            .get(route)
            .and_then(|r| r.subsets.get(subset))
            .map(|s| s.name.as_bytes());
        if let Some(name) = name {
            host.set_header(Map::Response, &config.routing_header, name);
        }
    }
    let mut next = Next::Done;
    if plan.health {
        // One copy of the map costs about what one header read does.
        let map = host.header_pairs(Map::Response);
        let pairs = header_map::pairs(&map);
        let first = |name: &str| {
            pairs
                .iter()
                .find(|(key, _)| *key == name.as_bytes())
                .map(|(_, value)| *value)
        };
        match classify(
            first(":status"),
            first("content-type"),
            first("grpc-status"),
        ) {
            Classified::Http(class) => {
                configuration.health.count(route, subset, class);
                configuration.guards.count(route, subset, is_error(class));
            }
            Classified::Grpc(code) => count_grpc(host, stream, code),
            Classified::AwaitTrailers => next = Next::Trailers,
        }
    }
    if let Some(id) = &plan.issued {
        if let Some(assign) = config.routes.get(route).and_then(|r| r.assign.as_ref()) {
            host.add_header(Map::Response, "set-cookie", &assign.set_cookie(id));
            configuration.counters.count_assigned(route);
        }
    }
    next
}

/// The trailers of a gRPC response whose headers carried no status; trailers without one are
/// UNKNOWN, as a gRPC client takes them.
pub fn on_response_trailers(host: &impl Host, stream: &Awaiting) {
    let code = grpc_code(host.header(Map::ResponseTrailers, "grpc-status").as_deref());
    count_grpc(host, stream, code);
}

fn count_grpc(host: &impl Host, stream: &Awaiting, code: u8) {
    let configuration = &stream.active;
    let (route, subset) = (stream.plan.route, stream.plan.subset);
    configuration
        .health
        .count_grpc(host, &configuration.config, (route, subset), code);
    let class = crate::health::grpc_class(code);
    configuration.guards.count(route, subset, is_error(class));
}
