//! Steady traffic on its own connection while a test changes the configuration, recording which
//! subset served each request so a test can check every request against the config in force.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::Client;

/// Requests sent round-robin over `users` (as `x-user-id`), one at a time, bounded to 50,000.
pub struct Traffic {
    stop: Arc<AtomicBool>,
    answered: Arc<AtomicUsize>,
    handle: JoinHandle<Recorded>,
}

#[derive(Default)]
pub struct Recorded {
    /// `(user index, subset that served it)` in the order sent.
    pub served: Vec<(usize, String)>,
    /// Requests that did not get a 200 from the upstream the routing header named.
    pub failures: Vec<String>,
}

impl Traffic {
    pub fn start(port: u16, users: Vec<String>) -> Traffic {
        let stop = Arc::new(AtomicBool::new(false));
        let answered = Arc::new(AtomicUsize::new(0));
        let (flag, count) = (stop.clone(), answered.clone());
        let handle = thread::spawn(move || {
            let mut client = Client::new(port);
            let mut recorded = Recorded::default();
            let mut sent = 0;
            while !flag.load(Ordering::Relaxed) && sent < 50_000 {
                let user = sent % users.len();
                let response = client.get("/", &[("x-user-id", users[user].as_bytes())]);
                match response.header("x-served-by") {
                    Some(served)
                        if response.status == 200 && response.received_subset() == Some(served) =>
                    {
                        recorded.served.push((user, served.to_string()));
                    }
                    _ => recorded.failures.push(format!(
                        "{}: status {} served by {:?}",
                        users[user],
                        response.status,
                        response.header("x-served-by")
                    )),
                }
                sent += 1;
                count.store(sent, Ordering::Release);
            }
            recorded
        });
        Traffic {
            stop,
            answered,
            handle,
        }
    }

    /// Requests answered so far. Requests up to this count were decided before the call; the
    /// next one may be in flight.
    pub fn answered(&self) -> usize {
        self.answered.load(Ordering::Acquire)
    }

    /// Waits until `count` requests have been answered (the traffic stops at 50,000).
    pub fn wait_until_answered(&self, count: usize) {
        assert!(count <= 50_000, "the traffic stops at 50,000 requests");
        let start = Instant::now();
        while self.answered() < count {
            assert!(
                !self.handle.is_finished(),
                "the traffic stopped at {} of {count} requests",
                self.answered()
            );
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "only {} of {count} requests answered in 60 s",
                self.answered()
            );
            thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn finish(self) -> Recorded {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.join().expect("traffic thread failed")
    }
}

impl Recorded {
    /// Fails the test unless requests were answered and none failed.
    pub fn assert_no_failures(&self) {
        let failures = &self.failures;
        assert!(
            !self.served.is_empty() && failures.is_empty(),
            "{} of {} requests failed: {:?}",
            failures.len(),
            self.served.len() + failures.len(),
            &failures[..failures.len().min(5)]
        );
    }
}
