//! Per-subset health: responses by route, subset and status class, for the routes that ask
//! (`health: true`, or a `guard`), and gRPC responses by their `grpc-status`. Counted in module
//! memory like the decisions, handed to the host on the tick.
//!
//! A gRPC error is an HTTP 200 whose `grpc-status` (in the response headers of a trailers-only
//! response, else in the trailers) says what failed. It is classed as Envoy classes it for
//! outlier detection (`Grpc::Utility::grpcToHttpStatus`, after Google's API design guide), so
//! `5xx` means the same for both protocols: UNKNOWN, DEADLINE_EXCEEDED, UNIMPLEMENTED, INTERNAL,
//! UNAVAILABLE and DATA_LOSS are server errors the guard counts; CANCELLED and the client errors
//! (INVALID_ARGUMENT, NOT_FOUND, RESOURCE_EXHAUSTED, ...) are `4xx`.

use std::cell::OnceCell;

use sticky_canary_core::Config;

use crate::counters::Slot;
use crate::host::Host;

/// Status classes, in counter order.
pub const CLASSES: [&str; 4] = ["2xx", "3xx", "4xx", "5xx"];

const CLASS_2XX: usize = 0;
const CLASS_3XX: usize = 1;
const CLASS_4XX: usize = 2;
const CLASS_5XX: usize = 3;

/// gRPC's status codes, 0 (OK) to 16 (UNAUTHENTICATED).
const GRPC_CODES: usize = 17;
/// UNKNOWN: what a gRPC client makes of a status it cannot read, or of a code beyond 16.
const GRPC_UNKNOWN: u8 = 2;

/// The counter's name as defined in Envoy (`/stats`: `wasmcustom.<name>`); with the
/// `stats_tags` of `envoy/local/envoy.yaml`, `/stats/prometheus` shows
/// `sticky_canary_responses_total{route="...",subset="...",class="5xx"}`.
pub fn responses_name(route: &str, subset: &str, class: &str) -> String {
    format!("sticky_canary.responses_total.route.{route}.subset.{subset}.class.{class}")
}

/// gRPC responses by `grpc-status` code (a number, as in Istio's `grpc_response_status`):
/// `sticky_canary_grpc_responses_total{route="...",subset="...",code="14"}`.
pub fn grpc_responses_name(route: &str, subset: &str, code: u8) -> String {
    format!("sticky_canary.grpc_responses_total.route.{route}.subset.{subset}.code.{code}")
}

/// How a response counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Classified {
    /// By its HTTP status class.
    Http(usize),
    /// A gRPC response, by its status code.
    Grpc(u8),
    /// A gRPC response whose status comes in the trailers.
    AwaitTrailers,
}

/// Classes a response by its `:status`, and a gRPC one (`content-type: application/grpc`, with
/// or without `+proto` or parameters; not gRPC-Web, whose status travels in the body) answered
/// 200 by its `grpc-status`. A gRPC response with another HTTP status failed at the HTTP level
/// and is classed by it, as gRPC clients do.
pub fn classify(
    status: Option<&[u8]>,
    content_type: Option<&[u8]>,
    grpc_status: Option<&[u8]>,
) -> Classified {
    let class = class_of(status);
    if status != Some(&b"200"[..]) || !content_type.is_some_and(is_grpc) {
        return Classified::Http(class);
    }
    match grpc_status {
        Some(code) => Classified::Grpc(grpc_code(Some(code))),
        None => Classified::AwaitTrailers,
    }
}

fn is_grpc(content_type: &[u8]) -> bool {
    const GRPC: &[u8] = b"application/grpc";
    content_type.len() >= GRPC.len()
        && content_type
            .get(..GRPC.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(GRPC))
        && matches!(content_type.get(GRPC.len()), None | Some(b'+' | b';'))
}

/// The code of a `grpc-status` value; a missing or garbled one is UNKNOWN.
pub fn grpc_code(value: Option<&[u8]>) -> u8 {
    value
        .and_then(|v| std::str::from_utf8(v).ok())
        .and_then(|v| v.trim().parse::<u8>().ok())
        .filter(|&code| usize::from(code) < GRPC_CODES)
        .unwrap_or(GRPC_UNKNOWN)
}

/// The class of a gRPC status code, by the HTTP status Envoy maps it to.
pub fn grpc_class(code: u8) -> usize {
    match code {
        0 => CLASS_2XX,
        // CANCELLED (499), INVALID_ARGUMENT, NOT_FOUND, ALREADY_EXISTS, PERMISSION_DENIED,
        // RESOURCE_EXHAUSTED (429), FAILED_PRECONDITION, ABORTED, OUT_OF_RANGE, UNAUTHENTICATED.
        1 | 3 | 5..=11 | 16 => CLASS_4XX,
        // UNKNOWN, DEADLINE_EXCEEDED (504), UNIMPLEMENTED (501), INTERNAL, UNAVAILABLE (503),
        // DATA_LOSS, and any code beyond.
        _ => CLASS_5XX,
    }
}

/// The class index of a response's `:status`. A final 1xx (101 on an upgrade) is a success;
/// a missing or garbled status is a failure, as the client got no usable answer.
pub fn class_of(status: Option<&[u8]>) -> usize {
    let code = status
        .and_then(|s| std::str::from_utf8(s).ok())
        .and_then(|s| s.parse::<u16>().ok());
    match code {
        Some(100..=299) => CLASS_2XX,
        Some(300..=399) => CLASS_3XX,
        Some(400..=499) => CLASS_4XX,
        _ => CLASS_5XX,
    }
}

pub fn is_error(class: usize) -> bool {
    class == CLASS_5XX
}

struct RouteHealth {
    /// One slot per `subset * CLASSES + class`.
    classes: Vec<Option<Slot>>,
    /// One per `subset * GRPC_CODES + code`, defined on its first response: a route that never
    /// sees gRPC defines none.
    grpc: Vec<OnceCell<Option<Slot>>>,
}

pub struct Health {
    /// Per route: `None` without health.
    routes: Vec<Option<RouteHealth>>,
}

impl Health {
    pub fn define(host: &impl Host, config: &Config) -> Self {
        let routes = config
            .routes
            .iter()
            .map(|route| {
                route.health.then(|| RouteHealth {
                    classes: route
                        .subsets
                        .iter()
                        .flat_map(|subset| {
                            CLASSES.iter().map(|class| {
                                Slot::define(
                                    host,
                                    &responses_name(&route.name, &subset.name, class),
                                )
                            })
                        })
                        .collect(),
                    grpc: (0..route.subsets.len() * GRPC_CODES)
                        .map(|_| OnceCell::new())
                        .collect(),
                })
            })
            .collect();
        Health { routes }
    }

    pub fn count(&self, route: usize, subset: usize, class: usize) {
        let slot = self
            .routes
            .get(route)
            .and_then(Option::as_ref)
            .and_then(|r| r.classes.get(subset * CLASSES.len() + class))
            .and_then(Option::as_ref);
        if let Some(slot) = slot {
            slot.add_one();
        }
    }

    /// A gRPC response: counted by its code, and in its class.
    pub fn count_grpc(
        &self,
        host: &impl Host,
        config: &Config,
        (route, subset): (usize, usize),
        code: u8,
    ) {
        self.count(route, subset, grpc_class(code));
        let cell = self
            .routes
            .get(route)
            .and_then(Option::as_ref)
            .and_then(|r| r.grpc.get(subset * GRPC_CODES + usize::from(code)));
        let names = config
            .routes
            .get(route)
            .and_then(|r| Some((r.name.as_str(), r.subsets.get(subset)?.name.as_str())));
        let (Some(cell), Some((route_name, subset_name))) = (cell, names) else {
            return;
        };
        let slot = cell.get_or_init(|| {
            Slot::define(host, &grpc_responses_name(route_name, subset_name, code))
        });
        if let Some(slot) = slot {
            slot.add_one();
        }
    }

    pub fn flush(&self, host: &impl Host) {
        for route in self.routes.iter().flatten() {
            let grpc = route.grpc.iter().filter_map(OnceCell::get);
            for slot in route.classes.iter().chain(grpc).flatten() {
                slot.flush(host);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{classify, grpc_class, grpc_code, is_error, Classified};

    #[test]
    fn grpc_is_classed_by_its_status_and_only_a_200_waits_for_trailers() {
        let grpc = Some(&b"application/grpc"[..]);
        assert_eq!(
            classify(Some(b"200"), grpc, None),
            Classified::AwaitTrailers
        );
        assert_eq!(
            classify(Some(b"200"), grpc, Some(b"14")),
            Classified::Grpc(14)
        );
        assert_eq!(
            classify(Some(b"200"), grpc, Some(b"x")),
            Classified::Grpc(2)
        );
        assert_eq!(
            classify(Some(b"200"), grpc, Some(b"99")),
            Classified::Grpc(2)
        );
        for content_type in [&b"application/grpc+proto"[..], b"Application/GRPC; q=1"] {
            assert_eq!(
                classify(Some(b"200"), Some(content_type), None),
                Classified::AwaitTrailers
            );
        }
        // An HTTP failure, gRPC-Web (status in the body) and anything else: by `:status`.
        assert_eq!(classify(Some(b"503"), grpc, None), Classified::Http(3));
        for content_type in [&b"application/grpc-web"[..], b"application/json", b"grpc"] {
            assert_eq!(
                classify(Some(b"200"), Some(content_type), Some(b"14")),
                Classified::Http(0)
            );
        }
        assert_eq!(
            classify(Some(b"200"), None, Some(b"14")),
            Classified::Http(0)
        );
        assert_eq!(grpc_code(None), 2);
        let errors: Vec<u8> = (0..=17).filter(|&c| is_error(grpc_class(c))).collect();
        assert_eq!(errors, vec![2, 4, 12, 13, 14, 15, 17]);
        assert_eq!(grpc_class(0), 0);
        assert_eq!(grpc_class(8), 2, "RESOURCE_EXHAUSTED is a 429");
    }
}
