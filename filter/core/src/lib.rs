//! sticky-canary's pure core: the pluginConfig schema and its validation, the frozen hashing
//! contract, content matchers and the request plan. It never touches proxy-wasm: a request is
//! one snapshot of its headers ([`Request`]) and [`plan()`] says what it leaves with, so all of
//! it is tested natively and on wasm32.

pub mod assign;
pub mod config;
pub mod decide;
pub mod guard;
pub mod hash;
pub mod lane;
pub mod layout;
pub mod matcher;
pub mod plan;
pub mod request;
pub mod schedule;
pub mod schema;
pub mod time;
pub mod token;

pub use assign::{NewId, COOKIE_KEY_ENV};
pub use config::{Config, ConfigError, DEFAULT_ROUTING_HEADER};
pub use decide::{Assigned, Decision, Fixed, Inputs, Reason};
pub use guard::{Guard, GuardState};
pub use hash::{bucket, flagd_bucket, murmur3_x86_32, unleash_normalized, BUCKETS};
pub use plan::{plan, Op, Plan, ResponsePlan};
pub use request::Request;
pub use token::{Secret, DEFAULT_TOKEN_HEADER, TOKEN_ENV};
