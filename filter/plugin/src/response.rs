//! The response side of a stream the filter kept: echoes the chosen subset (`exposeSubset`),
//! counts the response for health and the guard, and adds the `Set-Cookie` of an issued id,
//! after every `Set-Cookie` the upstream sent. A gRPC response whose status comes in its
//! trailers is counted there.

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
    let active = &stream.active;
    let (route, subset) = (usize::from(stream.route), usize::from(stream.subset));
    if active.config.expose_subset {
        if let Some(value) = active.subset_value(route, subset) {
            host.set_header(Map::Response, &active.config.routing_header, value);
        }
    }
    let mut next = Next::Done;
    if active.health.counts(route) {
        // One copy of the map costs about what one header read does.
        let [status, content_type, grpc_status] =
            host.first_values(Map::Response, [":status", "content-type", "grpc-status"]);
        match classify(
            status.as_deref(),
            content_type.as_deref(),
            grpc_status.as_deref(),
        ) {
            Classified::Http(class) => {
                active.health.count(route, subset, class);
                active.guards.count(route, subset, is_error(class));
            }
            Classified::Grpc(code) => count_grpc(host, stream, code),
            Classified::AwaitTrailers => next = Next::Trailers,
        }
    }
    if let Some(id) = &stream.issued {
        if let Some(assign) = active
            .config
            .routes
            .get(route)
            .and_then(|r| r.assign.as_ref())
        {
            host.add_header(Map::Response, "set-cookie", &assign.set_cookie(id));
            active.counters.count_assigned(route);
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
    let active = &stream.active;
    let (route, subset) = (usize::from(stream.route), usize::from(stream.subset));
    active
        .health
        .count_grpc(host, &active.config, (route, subset), code);
    let class = crate::health::grpc_class(code);
    active.guards.count(route, subset, is_error(class));
}
