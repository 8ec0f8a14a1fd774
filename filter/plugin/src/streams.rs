//! Which configuration each stream belongs to, from its creation to the last callback that needs
//! it.
//!
//! A stream's context is created with its root context's id, and its request headers follow;
//! in Envoy at once, in the same call. A stream needs its decision again on its response headers
//! only under `exposeSubset`, on a route that counts its responses (health, guard), or when it
//! was issued an id (`stickiness.assign`); those streams are kept until then, however many
//! others start meanwhile. A stream that never gets a response (reset, aborted) would stay forever, so such
//! entries expire after [`RESPONSE_WAIT`], and at most [`MAX_AWAITING`] are kept (the oldest
//! goes first): the memory stays bounded whatever clients do.

use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::Duration;

use sticky_canary_core::ResponsePlan;

use crate::configuration::Configuration;

/// How long a request's decision waits for its response headers.
pub const RESPONSE_WAIT: Duration = Duration::from_secs(3600);

/// Requests waiting for their response headers, per VM (Envoy: per worker). About 64 bytes
/// each.
pub const MAX_AWAITING: usize = 100_000;

/// How long a created stream waits for its request headers before it is taken as never coming.
const OPENING_WAIT: Duration = Duration::from_secs(60);

struct Opening {
    context: u32,
    /// `None`: the stream's root has no configuration.
    active: Option<Rc<Configuration>>,
    since: Duration,
}

/// What a stream's response headers need from its request: the plan's response part.
pub struct Awaiting {
    pub active: Rc<Configuration>,
    pub plan: ResponsePlan,
    since: Duration,
}

#[derive(Default)]
pub struct Streams {
    /// Created, waiting for their request headers: in Envoy never more than one at a time.
    opening: Vec<Opening>,
    /// Decided, waiting for their response headers; ids grow with age.
    awaiting: BTreeMap<u32, Awaiting>,
}

/// What a stream's request headers find.
pub enum Opened {
    /// The stream's root has this configuration.
    Configured(Rc<Configuration>),
    /// The stream's root has no configuration (or the stream was never announced).
    Unconfigured,
}

impl Streams {
    pub fn create(&mut self, context: u32, active: Option<Rc<Configuration>>, now: Duration) {
        self.opening.push(Opening {
            context,
            active,
            since: now,
        });
    }

    pub fn open(&mut self, context: u32) -> Opened {
        let found = self.opening.iter().rposition(|s| s.context == context);
        match found.map(|i| self.opening.swap_remove(i).active) {
            Some(Some(active)) => Opened::Configured(active),
            _ => Opened::Unconfigured,
        }
    }

    /// Keeps a decision for the stream's response headers.
    pub fn await_response(
        &mut self,
        context: u32,
        active: Rc<Configuration>,
        plan: ResponsePlan,
        now: Duration,
    ) {
        if self.awaiting.len() >= MAX_AWAITING {
            self.awaiting.pop_first();
        }
        self.awaiting.insert(
            context,
            Awaiting {
                active,
                plan,
                since: now,
            },
        );
    }

    pub fn respond(&mut self, context: u32) -> Option<Awaiting> {
        self.awaiting.remove(&context)
    }

    /// Drops streams that waited too long; called on every root's tick. Context ids grow with
    /// time, so the stale ones are the first: only they are visited, however many wait.
    pub fn expire(&mut self, now: Duration) {
        let fresh = |since: Duration, wait: Duration| now.saturating_sub(since) <= wait;
        self.opening.retain(|s| fresh(s.since, OPENING_WAIT));
        while let Some(oldest) = self.awaiting.first_entry() {
            if fresh(oldest.get().since, RESPONSE_WAIT) {
                break;
            }
            oldest.remove();
        }
    }

    /// Streams held: `(waiting for request headers, waiting for response headers)`.
    pub fn held(&self) -> (usize, usize) {
        (self.opening.len(), self.awaiting.len())
    }
}
