//! Steady traffic on its own connection while a test changes the configuration, recording which
//! subset served each request so a test can check every user's history.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};

use crate::Client;

/// Requests sent round-robin over `users` (as `x-user-id`), bounded to 50,000.
pub struct Traffic {
    stop: Arc<AtomicBool>,
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
        let flag = stop.clone();
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
            }
            recorded
        });
        Traffic { stop, handle }
    }

    pub fn finish(self) -> Recorded {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.join().expect("traffic thread failed")
    }
}
