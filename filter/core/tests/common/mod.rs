//! What several core test files share: the full example config, requests built by hand, and
//! inputs that fail the test when the core asks for something it must not.
#![allow(dead_code, clippy::panic)]

#[cfg(not(target_arch = "wasm32"))]
pub mod strategies;

use sticky_canary_core::{plan, Config, Decision, Inputs, Request};

/// The full example from the project brief, valid, with every field set: 90/10, keys header >
/// cookie > query, salt "service-a", random fallback, a `users` rule and a five-condition rule,
/// both to v2.
pub const FULL_CONFIG: &str = r#"{"routingHeader":"X-Canary-Subset","exposeSubset":true,"routes":[{"name":"service-a","match":{"hosts":["servicea.com","*.svc.cluster.local"],"pathPrefix":"/"},"subsets":[{"name":"v1","weight":90},{"name":"v2","weight":10}],"stickiness":{"keys":[{"header":"x-user-id"},{"cookie":"uid"},{"query":"uid"}],"salt":"service-a","fallback":"random"},"rules":[{"subset":"v2","users":["alice","bob"]},{"subset":"v2","match":{"headers":[{"name":"x-canary","exact":"true"}],"cookies":[{"name":"beta","regex":"^(1|yes)$"}],"query":[{"name":"version","exact":"v2"}],"path":{"prefix":"/api/v2"},"os":["iOS","Android"]}}]}]}"#;

/// A request's headers, owned, in the order a host would hand them over (pseudo-headers
/// included, repeated headers as separate pairs); [`Headers::request`] lends them to the core.
#[derive(Clone, Debug, Default)]
pub struct Headers(pub Vec<(Vec<u8>, Vec<u8>)>);

impl Headers {
    /// Exactly these pairs, in this order.
    pub fn new<N: AsRef<[u8]>, V: AsRef<[u8]>>(pairs: &[(N, V)]) -> Headers {
        Headers(
            pairs
                .iter()
                .map(|(n, v)| (n.as_ref().to_vec(), v.as_ref().to_vec()))
                .collect(),
        )
    }

    /// A request for `http://{authority}{path}`.
    pub fn to(authority: &str, path: impl AsRef<[u8]>) -> Headers {
        Headers::default()
            .with(":authority", authority)
            .with(":path", path)
    }

    /// Sets `name` to this one value, replacing every value it had (names compared as a host
    /// does, ignoring ASCII case).
    pub fn with(self, name: &str, value: impl AsRef<[u8]>) -> Headers {
        self.without(name).also(name, value)
    }

    /// Adds one more value of `name`, after the ones it has.
    pub fn also(mut self, name: &str, value: impl AsRef<[u8]>) -> Headers {
        self.0
            .push((name.as_bytes().to_vec(), value.as_ref().to_vec()));
        self
    }

    pub fn without(mut self, name: &str) -> Headers {
        self.0
            .retain(|(n, _)| !n.eq_ignore_ascii_case(name.as_bytes()));
        self
    }

    /// The snapshot the core reads.
    pub fn request(&self) -> Request<'_> {
        Request::new(
            self.0
                .iter()
                .map(|(n, v)| (n.as_slice(), v.as_slice()))
                .collect(),
        )
    }
}

/// The plan's decision for these headers. `None`: no route matched.
pub fn decide(config: &Config, headers: &Headers, inputs: &impl Inputs) -> Option<Decision> {
    plan(config, &headers.request(), inputs).decision
}

/// Guard state and randomness for a test, each a closure. [`Given::nothing`] fails the test if
/// the core asks for a random number or a new id, and trips no guard; each setter replaces one.
pub struct Given<'a> {
    random: Box<dyn Fn() -> u32 + 'a>,
    new_id: Box<dyn Fn() -> [u8; 16] + 'a>,
    tripped: Box<dyn Fn(usize) -> bool + 'a>,
}

impl<'a> Given<'a> {
    pub fn nothing() -> Given<'a> {
        Given {
            random: Box::new(|| panic!("random() was asked, but this request must not need it")),
            new_id: Box::new(|| panic!("new_id() was asked, but this request must not get an id")),
            tripped: Box::new(|_| false),
        }
    }

    pub fn random(self, random: impl Fn() -> u32 + 'a) -> Given<'a> {
        Given {
            random: Box::new(random),
            ..self
        }
    }

    pub fn new_id(self, new_id: impl Fn() -> [u8; 16] + 'a) -> Given<'a> {
        Given {
            new_id: Box::new(new_id),
            ..self
        }
    }

    pub fn tripped(self, tripped: impl Fn(usize) -> bool + 'a) -> Given<'a> {
        Given {
            tripped: Box::new(tripped),
            ..self
        }
    }
}

impl Inputs for Given<'_> {
    fn tripped(&self, route: usize) -> bool {
        (self.tripped)(route)
    }

    fn random(&self) -> u32 {
        (self.random)()
    }

    fn new_id(&self) -> [u8; 16] {
        (self.new_id)()
    }
}
