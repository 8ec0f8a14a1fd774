//! Steady traffic through Envoy's front listener while a test does something else (pushes a
//! config, breaks an upstream): keep-alive connections, each in its own thread, sending users
//! round-robin as `x-user-id` as fast as answers come, and recording every answer, so a test can
//! poll what happened so far and check every request afterwards.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::envoy::Envoy;
use crate::http_client::Client;

/// Requests per connection at most, so that traffic a test never stops still ends.
pub const MAX_PER_CONNECTION: usize = 100_000;
/// How long [`Traffic::wait_until_answered`] waits.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(60);

/// One answered request.
#[derive(Clone, Debug)]
pub struct Sample {
    /// When the answer had been read.
    pub at: Instant,
    /// The connection's worker ([`Traffic::on_every_worker`]); 0 for [`Traffic::start`].
    pub worker: usize,
    /// Index into the users the traffic was started with.
    pub user: usize,
    pub status: u16,
    /// `x-served-by`, empty when Envoy answered itself.
    pub served_by: String,
    /// `x-received-subset`: the routing header the upstream received.
    pub received_subset: Option<String>,
}

impl Sample {
    /// A 200 from the upstream the routing header named.
    pub fn served_as_routed(&self) -> bool {
        self.status == 200 && self.received_subset.as_deref() == Some(self.served_by.as_str())
    }
}

pub struct Traffic {
    stop: Arc<AtomicBool>,
    samples: Arc<Mutex<Vec<Sample>>>,
    threads: Vec<JoinHandle<()>>,
}

/// Every request a finished [`Traffic`] sent, in the order answered.
#[derive(Debug, Default)]
pub struct Recorded {
    pub samples: Vec<Sample>,
}

impl Traffic {
    /// One connection: requests one at a time, so the samples are in the order sent and one
    /// worker decided them all.
    pub fn start(envoy: &Envoy, users: &[String]) -> Traffic {
        Traffic::on(vec![envoy.front()], users)
    }

    /// One connection on each of Envoy's workers at once; each starts at another user, so every
    /// worker sees every user.
    pub fn on_every_worker(envoy: &Envoy, users: &[String]) -> Traffic {
        Traffic::on(envoy.one_client_per_worker(), users)
    }

    fn on(clients: Vec<Client>, users: &[String]) -> Traffic {
        assert!(!users.is_empty(), "traffic without users");
        let stop = Arc::new(AtomicBool::new(false));
        let samples = Arc::new(Mutex::new(Vec::new()));
        let threads = clients
            .into_iter()
            .enumerate()
            .map(|(worker, mut client)| {
                let (stop, samples, users) = (stop.clone(), samples.clone(), users.to_vec());
                thread::spawn(move || {
                    for sent in 0..MAX_PER_CONNECTION {
                        if stop.load(Ordering::Relaxed) {
                            return;
                        }
                        let user = (sent + worker) % users.len();
                        let response = client.get("/", &[("x-user-id", users[user].as_bytes())]);
                        let sample = Sample {
                            at: Instant::now(),
                            worker,
                            user,
                            status: response.status,
                            served_by: response.header("x-served-by").unwrap_or("").to_string(),
                            received_subset: response.received_subset().map(str::to_string),
                        };
                        samples.lock().unwrap().push(sample);
                    }
                })
            })
            .collect();
        Traffic {
            stop,
            samples,
            threads,
        }
    }

    /// Requests answered so far. On one connection, requests up to this count were decided
    /// before the call; the next one may be in flight.
    pub fn answered(&self) -> usize {
        self.samples.lock().unwrap().len()
    }

    /// What was answered so far.
    pub fn samples(&self) -> Vec<Sample> {
        self.samples.lock().unwrap().clone()
    }

    /// Waits until `count` requests have been answered.
    pub fn wait_until_answered(&self, count: usize) {
        assert!(
            count <= MAX_PER_CONNECTION * self.threads.len(),
            "the traffic stops at {MAX_PER_CONNECTION} requests per connection"
        );
        self.wait_for("the requests to be answered", ANSWER_TIMEOUT, |s| {
            (s.len() >= count).then_some(())
        });
    }

    /// Polls the samples until `done` gives a value; fails the test after `timeout`.
    pub fn wait_for<T>(
        &self,
        what: &str,
        timeout: Duration,
        mut done: impl FnMut(&[Sample]) -> Option<T>,
    ) -> T {
        let start = Instant::now();
        loop {
            if let Some(found) = done(&self.samples.lock().unwrap()) {
                return found;
            }
            assert!(
                !self.threads.iter().any(JoinHandle::is_finished),
                "the traffic stopped at {} requests while waiting for {what}",
                self.answered()
            );
            assert!(
                start.elapsed() < timeout,
                "no {what} within {} s ({} requests answered)",
                timeout.as_secs(),
                self.answered()
            );
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops the traffic; every request it sent.
    pub fn finish(self) -> Recorded {
        self.stop.store(true, Ordering::Relaxed);
        for thread in self.threads {
            thread.join().expect("a traffic thread failed");
        }
        let samples = Arc::try_unwrap(self.samples)
            .map(|m| m.into_inner().unwrap())
            .unwrap_or_default();
        Recorded { samples }
    }
}

impl Recorded {
    /// `(user, subset that served it)` of every request, in order.
    pub fn served(&self) -> Vec<(usize, &str)> {
        self.samples
            .iter()
            .map(|s| (s.user, s.served_by.as_str()))
            .collect()
    }

    /// Fails the test unless requests were answered and each was a 200 from the upstream the
    /// routing header named.
    pub fn assert_no_failures(&self) {
        let failures: Vec<String> = self
            .samples
            .iter()
            .enumerate()
            .filter(|(_, s)| !s.served_as_routed())
            .map(|(i, s)| {
                format!(
                    "request #{i} (user #{}): status {}, served by {:?}, routed to {:?}",
                    s.user, s.status, s.served_by, s.received_subset
                )
            })
            .collect();
        assert!(
            !self.samples.is_empty() && failures.is_empty(),
            "{} of {} requests failed: {:?}",
            failures.len(),
            self.samples.len(),
            &failures[..failures.len().min(5)]
        );
    }
}
