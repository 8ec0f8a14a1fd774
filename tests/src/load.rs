//! Steady traffic on every worker of one Envoy at once (one keep-alive connection per worker,
//! each in its own thread), recording when each answer arrived and who served it, so a test can
//! poll what happened so far and check every request afterwards.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::envoy::Envoy;

/// Requests per worker at most, so that a test that never stops its load still ends.
const MAX_PER_WORKER: usize = 100_000;

/// One answered request.
#[derive(Clone, Debug)]
pub struct Sample {
    /// When the answer had been read.
    pub at: Instant,
    pub worker: usize,
    pub user: usize,
    pub status: u16,
    /// `x-served-by`, empty when Envoy answered itself.
    pub served_by: String,
}

pub struct Load {
    stop: Arc<AtomicBool>,
    samples: Arc<Mutex<Vec<Sample>>>,
    threads: Vec<JoinHandle<()>>,
}

impl Load {
    /// Sends `users` round-robin (as `x-user-id`) on each worker, as fast as answers come.
    pub fn start(envoy: &Envoy, users: &[String]) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let samples = Arc::new(Mutex::new(Vec::new()));
        let threads = envoy
            .one_client_per_worker()
            .into_iter()
            .enumerate()
            .map(|(worker, mut client)| {
                let (stop, samples, users) = (stop.clone(), samples.clone(), users.to_vec());
                thread::spawn(move || {
                    for sent in 0..MAX_PER_WORKER {
                        if stop.load(Ordering::Relaxed) {
                            return;
                        }
                        // Each worker starts at another user, so both see every user.
                        let user = (sent + worker) % users.len();
                        let response = client.get("/", &[("x-user-id", users[user].as_bytes())]);
                        let sample = Sample {
                            at: Instant::now(),
                            worker,
                            user,
                            status: response.status,
                            served_by: response.header("x-served-by").unwrap_or("").to_string(),
                        };
                        samples.lock().unwrap().push(sample);
                    }
                })
            })
            .collect();
        Load {
            stop,
            samples,
            threads,
        }
    }

    /// What was answered so far.
    pub fn samples(&self) -> Vec<Sample> {
        self.samples.lock().unwrap().clone()
    }

    /// Polls [`Load::samples`] until `done` gives a value; fails the test after `timeout`.
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
                "the load stopped while waiting for {what}"
            );
            assert!(
                start.elapsed() < timeout,
                "no {what} within {} s",
                timeout.as_secs()
            );
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops the load; every request it sent.
    pub fn finish(self) -> Vec<Sample> {
        self.stop.store(true, Ordering::Relaxed);
        for thread in self.threads {
            thread.join().expect("a load thread failed");
        }
        Arc::try_unwrap(self.samples)
            .map(|m| m.into_inner().unwrap())
            .unwrap_or_default()
    }
}
