//! A route's `schedule`: weights that move by themselves with the clock, and the clock itself.
//!
//! The route's own weights hold until `start`; from `start` on, each step's weights hold from
//! its `after`. With `linear`, the weights move from one point to the next (the route's own
//! weights are the point at `start`, unless a step is at `0s`) instead of jumping at each step.
//!
//! Users only move forward. With `S[i]` the weight of subset `i` and of every subset listed after
//! it, a layout change moves nobody back exactly when no `S[i]` shrinks (see
//! [`crate::layout`]). Configuration refuses a step under which an `S[i]` shrinks from the point
//! before it, and a linear ramp moves each `S[i]` on its own, rounding down: between two points
//! where no `S[i]` shrinks it only grows, so across any two times of a schedule nobody moves back.
//!
//! Time is the host's clock in Unix milliseconds; [`Hold`] is the schedule's own clock, which a
//! tripped guard stops (every worker of one proxy reads it from the host's shared data).

use crate::assign::ID_BYTES;
use crate::config::Config;
use crate::decide::Inputs;
use crate::layout::BucketLayout;

/// A compiled `routes[].schedule`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Schedule {
    /// `start` in Unix milliseconds.
    pub start_ms: u64,
    pub linear: bool,
    /// The route's own weights (hundredths, listed stable first): before `start`, and the point
    /// at `start` a linear ramp leaves from.
    pub own: Vec<u16>,
    /// Strictly ascending by `after`.
    pub steps: Vec<Step>,
    /// The weights move in multiples of this many hundredths (100 under unleash bucketing, which
    /// needs whole percents; otherwise 1).
    pub granularity: u16,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    /// Seconds after `start`.
    pub after_secs: u32,
    /// Hundredths of a percent per subset, listed stable first, summing to 10 000.
    pub weights: Vec<u16>,
}

impl Step {
    fn at_ms(&self) -> u64 {
        u64::from(self.after_secs) * 1000
    }
}

impl Schedule {
    /// Milliseconds of the schedule at `now_ms` when no guard ever held it; `None` before start.
    pub fn elapsed(&self, now_ms: u64) -> Option<u64> {
        now_ms.checked_sub(self.start_ms)
    }

    /// The index of the step in force `elapsed_ms` into the schedule; `None` before the first.
    pub fn step_at(&self, elapsed_ms: Option<u64>) -> Option<usize> {
        let elapsed = elapsed_ms?;
        self.steps.iter().rposition(|s| s.at_ms() <= elapsed)
    }

    /// The weights `elapsed_ms` into the schedule (`None`: before `start`), listed stable first.
    pub fn weights_at(&self, elapsed_ms: Option<u64>) -> Vec<u16> {
        let Some(elapsed) = elapsed_ms else {
            return self.own.clone();
        };
        let current = self.step_at(Some(elapsed));
        let (from_ms, from) = match current.and_then(|i| self.steps.get(i)) {
            Some(step) => (step.at_ms(), &step.weights),
            None => (0, &self.own),
        };
        let next = self.steps.get(current.map_or(0, |i| i + 1));
        match next {
            Some(next) if self.linear => {
                let span = next.at_ms() - from_ms;
                let done = elapsed - from_ms;
                between(from, &next.weights, done, span, self.granularity)
            }
            _ => from.clone(),
        }
    }

    pub fn layout_at(&self, elapsed_ms: Option<u64>) -> BucketLayout {
        BucketLayout::new(&self.weights_at(elapsed_ms))
    }

    /// Milliseconds from `start` to the last step, after which nothing moves.
    pub fn end_ms(&self) -> u64 {
        self.steps.last().map_or(0, Step::at_ms)
    }
}

/// `S[i]`: the weight of subset `i` and every subset listed after it; `S[n] = 0`.
pub fn newer_sums(weights: &[u16]) -> Vec<u32> {
    let mut sums = vec![0u32; weights.len() + 1];
    let mut total = 0u32;
    for (i, &w) in weights.iter().enumerate().rev() {
        total += u32::from(w);
        if let Some(slot) = sums.get_mut(i) {
            *slot = total;
        }
    }
    sums
}

/// The weights `done / span` of the way from `from` to `to`: each `S[i]` moves on its own and is
/// rounded down to `granularity`, so it never shrinks as `done` grows and never passes `S[i-1]`.
fn between(from: &[u16], to: &[u16], done: u64, span: u64, granularity: u16) -> Vec<u16> {
    let (a, b) = (newer_sums(from), newer_sums(to));
    let unit = u64::from(granularity.max(1));
    let sums: Vec<u64> = a
        .iter()
        .zip(&b)
        .map(|(&a, &b)| {
            let (a, b) = (u64::from(a), u64::from(b));
            // Configuration made every S[i] non-decreasing along the schedule; were one not, it
            // would hold rather than move users back.
            let steps = b.saturating_sub(a) / unit;
            a + unit * (steps * done / span.max(1))
        })
        .collect();
    sums.windows(2)
        .map(|pair| match pair {
            [newer_and_this, newer] => {
                u16::try_from(newer_and_this.saturating_sub(*newer)).unwrap_or(u16::MAX)
            }
            _ => 0,
        })
        .collect()
}

/// The schedule's clock as every worker of one proxy shares it: milliseconds spent held so far,
/// and since when it is held (the guard has tripped). Kept in the host's shared data.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Hold {
    held_ms: u64,
    since_ms: Option<u64>,
}

/// `SCS` + format version.
const HOLD_MAGIC: &[u8; 4] = b"SCS1";

impl Hold {
    pub fn is_held(&self) -> bool {
        self.since_ms.is_some()
    }

    /// Milliseconds the schedule has run at `now_ms`: since `start`, less the time it was held.
    /// `None` before start. Holding before `start` costs nothing: the clock only runs from it.
    pub fn elapsed(&self, schedule: &Schedule, now_ms: u64) -> Option<u64> {
        let run = schedule.elapsed(now_ms)?;
        let holding = self.since_ms.map_or(0, |since| {
            now_ms.saturating_sub(since.max(schedule.start_ms))
        });
        Some(run.saturating_sub(self.held_ms.saturating_add(holding)))
    }

    /// Stops the clock at `now_ms`; `true` if it was running.
    pub fn hold(&mut self, now_ms: u64) -> bool {
        if self.since_ms.is_some() {
            return false;
        }
        self.since_ms = Some(now_ms);
        true
    }

    /// Runs the clock again from `now_ms`, counting the time held since `start`; `true` if it was
    /// held.
    pub fn release(&mut self, schedule: &Schedule, now_ms: u64) -> bool {
        let Some(since) = self.since_ms.take() else {
            return false;
        };
        let held = now_ms.saturating_sub(since.max(schedule.start_ms));
        self.held_ms = self.held_ms.saturating_add(held);
        true
    }

    /// Milliseconds held by the time of the last release.
    pub fn held_ms(&self) -> u64 {
        self.held_ms
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(21);
        out.extend_from_slice(HOLD_MAGIC);
        out.extend_from_slice(&self.held_ms.to_le_bytes());
        out.push(u8::from(self.since_ms.is_some()));
        out.extend_from_slice(&self.since_ms.unwrap_or(0).to_le_bytes());
        out
    }

    /// `None` for bytes [`Hold::encode`] did not write.
    pub fn decode(bytes: &[u8]) -> Option<Hold> {
        let rest = bytes.strip_prefix(HOLD_MAGIC)?;
        let (held, rest) = rest.split_first_chunk::<8>()?;
        let (&flag, rest) = rest.split_first()?;
        let since: [u8; 8] = rest.try_into().ok()?;
        let since_ms = match flag {
            0 => None,
            1 => Some(u64::from_le_bytes(since)),
            _ => return None,
        };
        Some(Hold {
            held_ms: u64::from_le_bytes(*held),
            since_ms,
        })
    }
}

/// Decision inputs at one instant: every scheduled route's weights at `now_ms` (no guard holding
/// it), everything else from `inner`. For tools (`which --at`, `simulate --at`) and tests.
pub struct At<I> {
    pub inner: I,
    layouts: Vec<Option<BucketLayout>>,
}

impl<I: Inputs> At<I> {
    pub fn new(config: &Config, now_ms: u64, inner: I) -> Self {
        let layouts = config
            .routes
            .iter()
            .map(|route| {
                let schedule = route.schedule.as_ref()?;
                Some(schedule.layout_at(schedule.elapsed(now_ms)))
            })
            .collect();
        At { inner, layouts }
    }
}

impl<I: Inputs> Inputs for At<I> {
    fn tripped(&self, route: usize) -> bool {
        self.inner.tripped(route)
    }

    fn random(&self) -> u32 {
        self.inner.random()
    }

    fn new_id(&self) -> [u8; ID_BYTES] {
        self.inner.new_id()
    }

    fn scheduled(&self, route: usize, bucket: u16) -> Option<usize> {
        let layout = self.layouts.get(route)?.as_ref()?;
        Some(layout.subset_for(bucket))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule(linear: bool) -> Schedule {
        Schedule {
            start_ms: 1_000_000,
            linear,
            own: vec![10000, 0],
            steps: vec![
                Step {
                    after_secs: 10,
                    weights: vec![9000, 1000],
                },
                Step {
                    after_secs: 20,
                    weights: vec![5000, 5000],
                },
            ],
            granularity: 1,
        }
    }

    #[test]
    fn hold_round_trips_and_refuses_other_bytes() {
        let mut hold = Hold::default();
        assert_eq!(Hold::decode(&hold.encode()), Some(hold));
        hold.hold(1_234);
        assert_eq!(Hold::decode(&hold.encode()), Some(hold));
        assert_eq!(Hold::decode(b"SCG1"), None);
        let mut bytes = hold.encode();
        bytes.push(0);
        assert_eq!(Hold::decode(&bytes), None);
    }

    #[test]
    fn a_held_clock_stops_and_resumes_where_it_stopped() {
        let s = schedule(false);
        let mut hold = Hold::default();
        assert_eq!(hold.elapsed(&s, 999_999), None);
        assert_eq!(hold.elapsed(&s, 1_005_000), Some(5_000));
        assert!(hold.hold(1_005_000));
        assert!(!hold.hold(1_006_000));
        assert_eq!(hold.elapsed(&s, 1_030_000), Some(5_000));
        assert!(hold.release(&s, 1_030_000));
        assert_eq!(hold.elapsed(&s, 1_030_000), Some(5_000));
        assert_eq!(hold.elapsed(&s, 1_031_000), Some(6_000));
        assert_eq!(hold.held_ms(), 25_000);
    }

    #[test]
    fn a_hold_before_start_only_counts_from_start() {
        let s = schedule(false);
        let mut hold = Hold::default();
        hold.hold(990_000);
        assert_eq!(hold.elapsed(&s, 1_004_000), Some(0));
        hold.release(&s, 1_004_000);
        assert_eq!(hold.held_ms(), 4_000);
        assert_eq!(hold.elapsed(&s, 1_005_000), Some(1_000));
    }

    #[test]
    fn linear_weights_keep_their_sum_and_round_each_newer_sum_down() {
        let s = schedule(true);
        assert_eq!(s.weights_at(Some(0)), vec![10000, 0]);
        assert_eq!(s.weights_at(Some(5_000)), vec![9500, 500]);
        assert_eq!(s.weights_at(Some(1)), vec![10000, 0]);
        assert_eq!(s.weights_at(Some(10)), vec![9999, 1]);
        assert_eq!(s.weights_at(Some(15_000)), vec![7000, 3000]);
        assert_eq!(s.weights_at(Some(u64::MAX)), vec![5000, 5000]);
    }
}
