//! Which configuration each stream belongs to, from its creation to the last callback that needs
//! it.
//!
//! A stream's context is created with its root context's id, and its request headers follow;
//! in Envoy at once, in the same call. A stream an earlier filter answered (RBAC, ext_authz, JWT,
//! a CORS preflight) is created too, for the access log, and never gets its request headers:
//! created streams wait in a few fixed slots, the oldest taken over by the next, so such streams
//! cost no memory however many arrive.
//!
//! A stream needs its decision again on its response only under `exposeSubset`, on a route that
//! counts its responses (health, guard), or when it was issued an id (`stickiness.assign`);
//! those streams are kept until then, however many others start meanwhile. A stream that never
//! gets a response (reset, aborted) would stay forever, so such entries expire after
//! [`RESPONSE_WAIT`], and at most [`MAX_AWAITING`] are kept (the oldest goes first): the memory
//! stays bounded whatever clients do. Age is the order the filter kept them in, not the context
//! id: ids are the host's u32 and wrap.

use std::collections::{BTreeMap, VecDeque};
use std::rc::Rc;
use std::time::Duration;

use sticky_canary_core::ResponsePlan;

use crate::configuration::Configuration;

/// How long a request's decision waits for its response headers (and a gRPC response for its
/// trailers).
pub const RESPONSE_WAIT: Duration = Duration::from_secs(3600);

/// Requests waiting for their response headers, per VM (Envoy: per worker). About 100 bytes
/// each.
pub const MAX_AWAITING: usize = 100_000;

/// Created streams waiting for their request headers. Envoy never has more than one (the headers
/// follow in the same call); the others leave room for a host that creates a few streams ahead.
pub const OPENING_SLOTS: usize = 16;

/// Answered streams' entries by age the queue may hold beyond twice the streams kept.
const AGE_SLACK: usize = 64;

/// How long a created stream waits for its request headers before it is taken as never coming,
/// unless a newer stream takes its slot first.
const OPENING_WAIT: Duration = Duration::from_secs(60);

struct Opening {
    context: u32,
    /// `None`: the stream's root has no configuration.
    active: Option<Rc<Configuration>>,
    since: Duration,
}

/// What a stream's response needs from its request: its configuration and the plan's response
/// part.
pub struct Awaiting {
    pub active: Rc<Configuration>,
    pub plan: ResponsePlan,
    /// Its response headers came: only its trailers are awaited (a gRPC status).
    trailers: bool,
    since: Duration,
    /// When it was kept, in keeping order: its entry in [`Streams::by_age`].
    age: u64,
}

#[derive(Default)]
pub struct Streams {
    /// Created, waiting for their request headers; `next_slot` is the next one taken.
    opening: [Option<Opening>; OPENING_SLOTS],
    next_slot: usize,
    /// Decided, waiting for their response headers or trailers, by context id.
    awaiting: BTreeMap<u32, Awaiting>,
    /// `(age, context)` in the order streams were kept. An entry whose stream was answered stays
    /// until it reaches the front or the queue is compacted (when it holds twice the streams
    /// kept, plus a few): a queue costs less code than a second ordered map.
    by_age: VecDeque<(u64, u32)>,
    next_age: u64,
}

/// What a stream's request headers find.
pub enum Opened {
    /// The stream's root has this configuration.
    Configured(Rc<Configuration>),
    /// The stream's root has no configuration (or the stream was never announced).
    Unconfigured,
}

impl Streams {
    /// Takes a slot for a new stream. `true`: the slot held a stream whose request headers never
    /// came (stopped before this filter), now given up.
    pub fn create(
        &mut self,
        context: u32,
        active: Option<Rc<Configuration>>,
        now: Duration,
    ) -> bool {
        let slot = self.next_slot % OPENING_SLOTS;
        self.next_slot = (slot + 1) % OPENING_SLOTS;
        let Some(slot) = self.opening.get_mut(slot) else {
            return false;
        };
        slot.replace(Opening {
            context,
            active,
            since: now,
        })
        .is_some()
    }

    pub fn open(&mut self, context: u32) -> Opened {
        let found = self
            .opening
            .iter_mut()
            .find(|slot| matches!(slot, Some(s) if s.context == context))
            .and_then(Option::take);
        match found.map(|s| s.active) {
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
            while let Some(entry) = self.by_age.pop_front() {
                if self.remove_kept(entry).is_some() {
                    break;
                }
            }
        }
        if self.by_age.len() >= 2 * self.awaiting.len() + AGE_SLACK {
            let awaiting = &self.awaiting;
            self.by_age
                .retain(|&(age, context)| awaiting.get(&context).is_some_and(|s| s.age == age));
        }
        let age = self.next_age;
        self.next_age += 1;
        let stream = Awaiting {
            active,
            plan,
            trailers: false,
            since: now,
            age,
        };
        // A host never reuses the id of a live stream; if one did, the older entry goes (its
        // entry by age no longer matches).
        self.awaiting.insert(context, stream);
        self.by_age.push_back((age, context));
    }

    /// The stream's decision, on its response headers.
    pub fn respond(&mut self, context: u32) -> Option<Awaiting> {
        self.take(context, false)
    }

    /// Keeps a stream whose response headers came for its trailers, in its place by age.
    pub fn await_trailers(&mut self, context: u32, mut stream: Awaiting) {
        stream.trailers = true;
        stream.plan.issued = None;
        // Its entry by age is still queued: it was taken out only of `awaiting`.
        self.awaiting.insert(context, stream);
    }

    /// The stream's decision, on its response trailers, if they were awaited.
    pub fn trailers(&mut self, context: u32) -> Option<Awaiting> {
        self.take(context, true)
    }

    fn take(&mut self, context: u32, trailers: bool) -> Option<Awaiting> {
        if self.awaiting.get(&context)?.trailers != trailers {
            return None;
        }
        self.awaiting.remove(&context)
    }

    /// Removes the stream of an entry by age, unless it was answered (or its id reused) since.
    fn remove_kept(&mut self, (age, context): (u64, u32)) -> Option<Awaiting> {
        match self.awaiting.get(&context) {
            Some(stream) if stream.age == age => self.awaiting.remove(&context),
            _ => None,
        }
    }

    /// Drops streams that waited too long; called on every root's tick; the number of created
    /// streams given up. Only the stale ones are visited, however many wait.
    pub fn expire(&mut self, now: Duration) -> u64 {
        let fresh = |since: Duration, wait: Duration| now.saturating_sub(since) <= wait;
        let mut given_up = 0;
        for slot in &mut self.opening {
            if matches!(slot, Some(s) if !fresh(s.since, OPENING_WAIT)) {
                *slot = None;
                given_up += 1;
            }
        }
        while let Some(&(age, context)) = self.by_age.front() {
            match self.awaiting.get(&context) {
                Some(stream) if stream.age == age && fresh(stream.since, RESPONSE_WAIT) => break,
                _ => {}
            }
            self.by_age.pop_front();
            self.remove_kept((age, context));
        }
        given_up
    }

    /// Streams held: `(waiting for request headers, waiting for response headers or trailers)`.
    pub fn held(&self) -> (usize, usize) {
        (self.opening.iter().flatten().count(), self.awaiting.len())
    }
}
