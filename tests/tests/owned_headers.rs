//! Every header a configuration owns (routing, `reasonHeader`, `mirror.header`, `assign.header`)
//! reaches the upstream with the decision's value or not at all, in real Envoy, whatever the
//! client sent: forged, repeated, in another letter case, percent-encoded, on a path no route
//! decides or on a route that does not own the header. The test's own upstream records what
//! service-a v1 received.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::json;
use sticky_canary_e2e::upstream::{Behaviour, Request, Upstream};
use sticky_canary_e2e::{Delivery, EnvoyOptions};

const SOCKET: &str = "v1-recording.sock";

/// service-a on `/a` issues ids (`x-canary-uid`) and marks a mirror sample (`x-canary-mirror`);
/// `other` on `/other` owns neither; every route writes `x-canary-reason`.
fn config() -> String {
    json!({
        "reasonHeader": "x-canary-reason",
        "routes": [
            {
                "name": "service-a",
                "match": {"pathPrefix": "/a"},
                "subsets": [{"name": "v1", "weight": 50}, {"name": "v2", "weight": 50}],
                "stickiness": {
                    "keys": [{"header": "x-user-id"}, {"cookie": "uid"}],
                    "assign": {"cookie": "uid", "maxAge": 3600, "header": "x-canary-uid"}
                },
                "mirror": {"subset": "v2", "percent": 50, "header": "x-canary-mirror"}
            },
            {
                "name": "other",
                "match": {"pathPrefix": "/other"},
                "subsets": [{"name": "v1", "weight": 100}],
                "stickiness": {"keys": [{"header": "x-user-id"}]}
            }
        ]
    })
    .to_string()
}

const FORGED: &[(&str, &[u8])] = &[
    ("X-Canary-Subset", b"v2"),
    ("x-canary-subset", b"v2"),
    ("X-CANARY-REASON", b"rule"),
    ("x-canary-reason", b"user"),
    ("x-canary-mirror", b"v2"),
    ("X-Canary-Mirror", b"v%32"),
    ("x-canary-uid", b"forged-by-client"),
    ("X-Canary-Uid", b"forged%2Dtoo"),
];

fn values<'r>(request: &'r Request, name: &str) -> Vec<&'r str> {
    request
        .headers
        .iter()
        .filter(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
        .collect()
}

#[test]
fn forged_owned_headers_never_reach_the_upstream_on_paths_that_do_not_own_them() {
    let envoy = EnvoyOptions::scenario(Delivery::Inline, &config())
        .access_log(false)
        .edit_bootstrap(|bootstrap, dir| {
            bootstrap.point_cluster_at_pipe("service-a-v1", &dir.join(SOCKET));
        })
        .start();
    let upstream = Upstream::start_at(&envoy.dir().join(SOCKET), "v1", Behaviour::Answer);
    let mut client = envoy.front();
    for path in ["/none", "/other"] {
        for user in ["u1", "u2", "u3"] {
            let mut headers = FORGED.to_vec();
            headers.push(("x-user-id", user.as_bytes()));
            let response = client.get(path, &headers);
            assert_eq!(response.status, 200, "{path} {user}");
        }
    }
    let received = upstream.received();
    assert_eq!(received.len(), 6, "every request reached service-a v1");
    for request in &received {
        let line = &request.request_line;
        assert_eq!(
            values(request, "x-canary-mirror"),
            Vec::<&str>::new(),
            "{line}"
        );
        assert_eq!(
            values(request, "x-canary-uid"),
            Vec::<&str>::new(),
            "{line}"
        );
        if line.contains(" /none ") {
            // No route decides: every owned header is removed, routing and reason included.
            assert_eq!(
                values(request, "x-canary-subset"),
                Vec::<&str>::new(),
                "{line}"
            );
            assert_eq!(
                values(request, "x-canary-reason"),
                Vec::<&str>::new(),
                "{line}"
            );
        } else {
            assert!(line.contains(" /other "), "{line}");
            // `other` decides by hash: its own values, once each.
            assert_eq!(values(request, "x-canary-subset"), vec!["v1"], "{line}");
            assert_eq!(values(request, "x-canary-reason"), vec!["hash"], "{line}");
        }
    }
}
