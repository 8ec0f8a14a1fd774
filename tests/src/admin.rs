//! Envoy's admin interface: raw requests, `/stats` snapshots and the counters tests read.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::bootstrap::{FRONT_ADDRESS, FRONT_LISTENER};
use crate::envoy::Envoy;
use crate::http_client::Client;

/// The filter's own counters.
const FILTER_STATS: &str = "wasmcustom.sticky_canary.";
/// The filter's gauges: a value, not a count of requests.
const FILTER_GAUGES: [&str; 2] = [
    "wasmcustom.sticky_canary.vm_memory_bytes",
    "wasmcustom.sticky_canary.guard_state.",
];

/// Whether `name` is one of the filter's counters (not one of its gauges).
pub fn is_filter_counter(name: &str) -> bool {
    name.starts_with(FILTER_STATS) && !FILTER_GAUGES.iter().any(|g| name.starts_with(g))
}
/// Envoy's V8 VM counters and gauges (`.created`, `.active`): a VM that crashed and was replaced
/// changes them.
const WASM_VM_STATS: &str = "wasm.envoy.wasm.runtime.v8.";

/// The front listener's bound port in a `/listeners?format=json` answer.
pub(crate) fn front_port(listeners: &Value) -> Option<u16> {
    listeners["listener_statuses"]
        .as_array()?
        .iter()
        .find(|l| l["name"] == FRONT_LISTENER)?["local_address"]["socket_address"]["port_value"]
        .as_u64()
        .and_then(|p| u16::try_from(p).ok())
        .filter(|&p| p != 0)
}

impl Envoy {
    pub fn admin(&self, path: &str) -> String {
        let response = Client::new(self.admin_port).get(path, &[]);
        assert_eq!(response.status, 200, "admin {path}");
        String::from_utf8(response.body).unwrap()
    }

    /// POSTs to the admin interface (e.g. `/logging?wasm=debug`).
    pub fn admin_post(&self, path: &str) -> String {
        let raw = format!("POST {path} HTTP/1.1\r\nhost: admin\r\ncontent-length: 0\r\n\r\n");
        let response = Client::new(self.admin_port).request(raw.as_bytes());
        assert_eq!(response.status, 200, "admin POST {path}");
        String::from_utf8(response.body).unwrap()
    }

    /// Counters and gauges from `/stats`, by full name.
    pub fn stats(&self) -> HashMap<String, u64> {
        self.admin("/stats")
            .lines()
            .filter_map(|line| {
                let (name, value) = line.split_once(": ")?;
                Some((name.to_string(), value.trim().parse().ok()?))
            })
            .collect()
    }

    /// The stats whose names start with `prefix`, sorted by name, to compare snapshots.
    pub fn stats_with_prefix(&self, prefix: &str) -> Vec<(String, u64)> {
        let mut stats: Vec<(String, u64)> = self
            .stats()
            .into_iter()
            .filter(|(name, _)| name.starts_with(prefix))
            .collect();
        stats.sort();
        stats
    }

    pub fn stat(&self, name: &str) -> u64 {
        self.stats().get(name).copied().unwrap_or(0)
    }

    /// Envoy's Wasm VM counters and gauges (`wasm.envoy.wasm.runtime.v8.created` / `.active`),
    /// sorted; at least one VM is active.
    pub fn wasm_vm_stats(&self) -> Vec<(String, u64)> {
        let stats = self.stats_with_prefix(WASM_VM_STATS);
        assert!(
            stats
                .iter()
                .any(|(n, v)| n == &format!("{WASM_VM_STATS}active") && *v >= 1),
            "no active V8 VM: {stats:?}"
        );
        stats
    }

    /// Connections the front listener accepted, per worker thread (index = worker).
    pub fn front_connections_per_worker(&self) -> Vec<u64> {
        // Envoy names a listener's stats after its configured address, port 0 here.
        let prefix = format!("listener.{FRONT_ADDRESS}_0.worker_");
        let stats = self.stats();
        (0..self.concurrency())
            .map(|worker| {
                let name = format!("{prefix}{worker}.downstream_cx_total");
                *stats.get(&name).unwrap_or_else(|| panic!("no stat {name}"))
            })
            .collect()
    }

    /// Keep-alive clients of the front listener, one per worker thread: connections are opened
    /// until each worker has accepted one (the kernel spreads them over the workers' sockets),
    /// and the worker whose accept count rose owns the connection.
    pub fn one_client_per_worker(&self) -> Vec<Client> {
        let workers = self.concurrency() as usize;
        let mut clients: Vec<Option<Client>> = (0..workers).map(|_| None).collect();
        for _ in 0..500 {
            let before = self.front_connections_per_worker();
            let mut client = self.front();
            assert_eq!(client.get("/", &[]).status, 200);
            let after = self.front_connections_per_worker();
            let grew: Vec<usize> = (0..workers).filter(|&w| after[w] > before[w]).collect();
            // Another connection counted meanwhile (the readiness probe's, counted late): this
            // one's worker cannot be told, so it is dropped and another one made.
            let [worker] = grew[..] else {
                continue;
            };
            clients[worker].get_or_insert(client);
            if clients.iter().all(Option::is_some) {
                return clients.into_iter().flatten().collect();
            }
        }
        panic!("500 connections did not reach all {workers} workers");
    }

    /// The filter's own counters (`wasmcustom.sticky_canary.*`, gauges left out) once their sum has reached
    /// `at_least`. The filter hands its counts to Envoy on its 1 s tick, so they lag the
    /// requests; waiting for the expected total means every request so far has been handed over.
    pub fn settled_filter_counts(&self, at_least: u64) -> HashMap<String, u64> {
        let total = |stats: &HashMap<String, u64>| -> u64 {
            stats
                .iter()
                .filter(|(name, _)| is_filter_counter(name))
                .map(|(_, v)| v)
                .sum()
        };
        let mut stats = self.stats();
        let start = Instant::now();
        while total(&stats) < at_least {
            if start.elapsed() > Duration::from_secs(30) {
                panic!(
                    "the filter's counters stayed at {} (< {at_least}): {stats:?}\nEnvoy log:\n{}",
                    total(&stats),
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
            stats = self.stats();
        }
        stats
    }
}
