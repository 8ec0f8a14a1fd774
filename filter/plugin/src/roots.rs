//! The configurations of the root contexts living in this VM, by root context id.
//!
//! Envoy runs every filter instance with the same VM configuration in one VM per worker (Istio:
//! every WasmPlugin with the same image), and each configuration push adds a root context to it.
//! A request belongs to exactly the configuration of its own root, never to another's.
//!
//! Envoy deletes a root when its configuration is replaced or removed, but reporting that
//! (`proxy_on_delete`) would be a callback Envoy also calls on every request. A root that is
//! deleted stops ticking instead, so a root is taken as gone once another root has ticked
//! [`GONE_AFTER_TICKS`] times without it. Counting other roots' ticks instead of reading the clock
//! keeps a worker that stalled for a while from mistaking its live roots for gone ones: after a
//! stall every root ticks once, not several times.
//!
//! A configuration replaced or gone is retired, not dropped, while streams it decided still wait
//! for their responses: what they count (health, the guard's window) is still handed over on the
//! tick, until the last of them is done.

use std::collections::VecDeque;
use std::rc::Rc;

use crate::configuration::Configuration;
use crate::host::Host;

/// Ticks of another root after which a silent root is forgotten (5 s at the 1 s tick).
pub const GONE_AFTER_TICKS: usize = 5;

/// Roots kept at most, for a host that never ticks (so nothing is ever known gone): beyond this
/// the one seen least recently is forgotten. Envoy ticks, so there it takes 256 live plugins
/// sharing one VM.
pub const MAX_ROOTS: usize = 256;

struct Root {
    id: u32,
    active: Rc<Configuration>,
    /// The VM's tick count when this root last ticked or was configured.
    last_seen: u64,
    /// The VM's tick count at each of this root's last [`GONE_AFTER_TICKS`] ticks, oldest first.
    own_ticks: VecDeque<u64>,
}

#[derive(Default)]
pub struct Roots {
    roots: Vec<Root>,
    /// Configurations no root has any more, kept while a stream holds them.
    retired: Vec<Rc<Configuration>>,
    /// Ticks of all roots so far: the clock root liveness is measured in.
    ticks: u64,
}

impl Roots {
    /// This root's configuration, if it has one.
    pub fn get(&self, id: u32) -> Option<&Rc<Configuration>> {
        self.roots.iter().find(|r| r.id == id).map(|r| &r.active)
    }

    /// Root context ids with a configuration, in the order they were configured.
    pub fn ids(&self) -> Vec<u32> {
        self.roots.iter().map(|r| r.id).collect()
    }

    /// Every configuration, to hand over their counts: the retired first, so that a trip their
    /// counts cause reaches the live ones on the same tick.
    pub fn all(&self) -> impl Iterator<Item = &Rc<Configuration>> {
        self.retired
            .iter()
            .chain(self.roots.iter().map(|r| &r.active))
    }

    /// Drops the retired configurations no stream holds any more; after their counts were
    /// handed over for the last time.
    pub fn release_retired(&mut self) {
        self.retired.retain(|active| Rc::strong_count(active) > 1);
    }

    /// Configurations retired and still held by a stream.
    pub fn retired(&self) -> usize {
        self.retired.len()
    }

    fn retire(&mut self, host: &impl Host, active: Rc<Configuration>) {
        active.flush(host);
        // Bounded like the roots: beyond, the oldest goes, with what its guards counted since
        // the last tick.
        if self.retired.len() >= MAX_ROOTS {
            self.retired.remove(0);
        }
        self.retired.push(active);
    }

    /// Sets (or replaces) the configuration of a root. A configuration leaving the VM hands over
    /// its counts first.
    pub fn configure(&mut self, host: &impl Host, id: u32, active: Configuration) {
        let active = Rc::new(active);
        if let Some(root) = self.roots.iter_mut().find(|r| r.id == id) {
            let replaced = std::mem::replace(&mut root.active, active);
            root.last_seen = self.ticks;
            self.retire(host, replaced);
            return;
        }
        if self.roots.len() >= MAX_ROOTS {
            if let Some(stalest) = self
                .roots
                .iter()
                .enumerate()
                .min_by_key(|(_, r)| r.last_seen)
                .map(|(i, _)| i)
            {
                let stalest = self.roots.remove(stalest).active;
                self.retire(host, stalest);
            }
        }
        self.roots.push(Root {
            id,
            active,
            last_seen: self.ticks,
            own_ticks: VecDeque::with_capacity(GONE_AFTER_TICKS),
        });
    }

    /// Records a tick of `id` and forgets the roots that have missed [`GONE_AFTER_TICKS`] of its
    /// ticks. A tick from a root without a configuration counts for nothing.
    pub fn tick(&mut self, host: &impl Host, id: u32) {
        self.ticks += 1;
        let now = self.ticks;
        let Some(root) = self.roots.iter_mut().find(|r| r.id == id) else {
            return;
        };
        root.last_seen = now;
        if root.own_ticks.len() == GONE_AFTER_TICKS {
            root.own_ticks.pop_front();
        }
        root.own_ticks.push_back(now);
        if root.own_ticks.len() < GONE_AFTER_TICKS {
            return;
        }
        let Some(&horizon) = root.own_ticks.front() else {
            return;
        };
        let (alive, gone): (Vec<Root>, Vec<Root>) = std::mem::take(&mut self.roots)
            .into_iter()
            .partition(|r| r.last_seen >= horizon);
        self.roots = alive;
        for root in gone {
            self.retire(host, root.active);
        }
    }
}
