//! The guard's pure part: a window of the canary's responses per second of the host clock, the
//! trip when its 5xx share goes above the bound, the cool-down, and the re-arm. The plugin keeps
//! one [`GuardState`] per guarded route in the host's shared data ([`GuardState::encode`]), so
//! every worker of one Envoy adds to the same window and sees the same state; it only moves
//! counts, all deciding is here. Time is whole seconds of the host clock, passed in: tests drive
//! it with a fake clock.

/// A compiled `routes[].guard`.
#[derive(Clone, Debug, PartialEq)]
pub struct Guard {
    /// Index of the guarded subset (never the route's stable subset).
    pub subset: usize,
    /// Trips when the 5xx share of the window is strictly above this (0 to 1).
    pub max_error_rate: f64,
    /// No decision on fewer responses in the window.
    pub min_requests: u64,
    pub window_secs: u32,
    pub cool_down_secs: u32,
}

/// The longest window: the state holds one slice per second of it.
pub const MAX_WINDOW_SECS: u32 = 600;
/// The longest cool-down.
pub const MAX_COOL_DOWN_SECS: u32 = 86_400;

/// Counts of one second.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Slice {
    second: u64,
    responses: u64,
    errors: u64,
}

/// The window and the state, as every worker shares them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GuardState {
    /// The second the canary gets its traffic back; `None` while armed.
    tripped_until: Option<u64>,
    /// Ordered by second, none older than the window.
    slices: Vec<Slice>,
}

/// What [`GuardState::evaluate`] changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// Nothing.
    Unchanged,
    /// The window's share went above the bound: these are its numbers.
    Tripped {
        responses: u64,
        errors: u64,
        until: u64,
    },
    /// The cool-down ended: the canary's users return, with an empty window.
    Rearmed,
}

/// `SCG` + format version: bytes of any other layout are not read as a state.
const MAGIC: &[u8; 4] = b"SCG1";
const SLICE_BYTES: usize = 24;

impl GuardState {
    pub fn is_tripped(&self) -> bool {
        self.tripped_until.is_some()
    }

    pub fn tripped_until(&self) -> Option<u64> {
        self.tripped_until
    }

    /// Adds responses (`errors` of them 5xx) counted up to `now`. While tripped nothing is
    /// recorded: only token requests reach the canary then, and the window starts afresh at the
    /// re-arm anyway.
    pub fn record(&mut self, guard: &Guard, now: u64, responses: u64, errors: u64) {
        self.forget_before(guard, now);
        if self.is_tripped() || responses == 0 {
            return;
        }
        let errors = errors.min(responses);
        match self.slices.binary_search_by_key(&now, |s| s.second) {
            Ok(i) => {
                if let Some(slice) = self.slices.get_mut(i) {
                    slice.responses = slice.responses.saturating_add(responses);
                    slice.errors = slice.errors.saturating_add(errors);
                }
            }
            Err(i) => self.slices.insert(
                i,
                Slice {
                    second: now,
                    responses,
                    errors,
                },
            ),
        }
    }

    /// `(responses, errors)` in the window ending at `now` (its last `window_secs` seconds).
    pub fn window(&self, guard: &Guard, now: u64) -> (u64, u64) {
        let start = window_start(guard, now);
        self.slices
            .iter()
            .filter(|s| s.second >= start && s.second <= now)
            .fold((0u64, 0u64), |(r, e), s| {
                (r.saturating_add(s.responses), e.saturating_add(s.errors))
            })
    }

    /// Trips, or re-arms once the cool-down is over.
    pub fn evaluate(&mut self, guard: &Guard, now: u64) -> Event {
        self.forget_before(guard, now);
        if let Some(until) = self.tripped_until {
            if now < until {
                return Event::Unchanged;
            }
            self.tripped_until = None;
            self.slices.clear();
            return Event::Rearmed;
        }
        let (responses, errors) = self.window(guard, now);
        if responses < guard.min_requests || !above(errors, responses, guard.max_error_rate) {
            return Event::Unchanged;
        }
        let until = now.saturating_add(u64::from(guard.cool_down_secs.max(1)));
        self.tripped_until = Some(until);
        self.slices.clear();
        Event::Tripped {
            responses,
            errors,
            until,
        }
    }

    fn forget_before(&mut self, guard: &Guard, now: u64) {
        let start = window_start(guard, now);
        self.slices.retain(|s| s.second >= start);
        // A clock that jumped back leaves slices "in the future"; they age out with the window
        // counted from them, and at most one slice per second of the window is kept.
        let cap = usize::try_from(guard.window_secs.max(1)).unwrap_or(usize::MAX);
        if self.slices.len() > cap {
            let excess = self.slices.len() - cap;
            self.slices.drain(..excess);
        }
    }

    /// The bytes kept in the host's shared data.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(16 + self.slices.len() * SLICE_BYTES);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&self.tripped_until.unwrap_or(0).to_le_bytes());
        out.extend_from_slice(&u32::try_from(self.slices.len()).unwrap_or(0).to_le_bytes());
        for s in &self.slices {
            out.extend_from_slice(&s.second.to_le_bytes());
            out.extend_from_slice(&s.responses.to_le_bytes());
            out.extend_from_slice(&s.errors.to_le_bytes());
        }
        out
    }

    /// `None` for bytes [`GuardState::encode`] did not write.
    pub fn decode(bytes: &[u8]) -> Option<GuardState> {
        let rest = bytes.strip_prefix(MAGIC)?;
        let (until, rest) = take_u64(rest)?;
        let (count, mut rest) = take_u32(rest)?;
        let count = usize::try_from(count).ok()?;
        if rest.len() != count.checked_mul(SLICE_BYTES)? {
            return None;
        }
        let mut slices = Vec::with_capacity(count);
        for _ in 0..count {
            let (second, r) = take_u64(rest)?;
            let (responses, r) = take_u64(r)?;
            let (errors, r) = take_u64(r)?;
            rest = r;
            slices.push(Slice {
                second,
                responses,
                errors,
            });
        }
        if slices
            .windows(2)
            .any(|w| matches!(w, [a, b] if a.second >= b.second))
        {
            return None;
        }
        Some(GuardState {
            tripped_until: (until != 0).then_some(until),
            slices,
        })
    }
}

/// The first second inside the window ending at `now`.
fn window_start(guard: &Guard, now: u64) -> u64 {
    now.saturating_sub(u64::from(guard.window_secs.max(1)) - 1)
}

/// `errors / responses > rate`, exactly for the rates an admin writes (up to 1e-9 off).
fn above(errors: u64, responses: u64, rate: f64) -> bool {
    responses > 0 && (errors as f64) > rate * (responses as f64) + 1e-9
}

fn take_u64(bytes: &[u8]) -> Option<(u64, &[u8])> {
    let (head, rest) = bytes.split_first_chunk::<8>()?;
    Some((u64::from_le_bytes(*head), rest))
}

fn take_u32(bytes: &[u8]) -> Option<(u32, &[u8])> {
    let (head, rest) = bytes.split_first_chunk::<4>()?;
    Some((u32::from_le_bytes(*head), rest))
}

/// A duration as a guard field takes it: whole seconds, minutes or hours ("30s", "5m", "1h").
pub fn parse_duration(text: &str) -> Result<u32, String> {
    let form = || {
        format!(
            "\"{text}\" is not a duration: a whole number of seconds, minutes or hours such as \"30s\", \"5m\", \"1h\""
        )
    };
    let split = text.find(|c: char| !c.is_ascii_digit()).ok_or_else(form)?;
    let (digits, unit) = text.split_at(split);
    let scale: u64 = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        _ => return Err(form()),
    };
    if digits.is_empty() || digits.len() > 9 {
        return Err(form());
    }
    let value: u64 = digits.parse().map_err(|_| form())?;
    u32::try_from(value * scale).map_err(|_| form())
}

/// Seconds as an admin would write them back: 300 -> "5m", 90 -> "90s".
pub fn format_duration(secs: u32) -> String {
    if secs != 0 && secs % 3600 == 0 {
        format!("{}h", secs / 3600)
    } else if secs != 0 && secs % 60 == 0 {
        format!("{}m", secs / 60)
    } else {
        format!("{secs}s")
    }
}
