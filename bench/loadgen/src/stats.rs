//! Latencies per request type, errors with their first messages, and the summary printed as JSON.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{json, Value};

/// Most error messages kept for the report.
const MAX_ERROR_SAMPLES: usize = 20;

/// What one virtual client (or the whole run, once merged) measured.
#[derive(Debug, Default)]
pub struct Stats {
    /// Latencies in microseconds per kind. Kinds starting with `op:` are operations made of several
    /// requests (a whole blob upload) and are not counted as requests.
    lat: BTreeMap<&'static str, Vec<u32>>,
    pub errors: u64,
    pub error_samples: Vec<String>,
    pub bytes_up: u64,
    pub bytes_down: u64,
    pub images_pushed: u64,
    pub images_pulled: u64,
    pub iterations: u64,
}

impl Stats {
    /// Records one request (or operation) of `kind` that took `d`.
    pub fn record(&mut self, kind: &'static str, d: Duration) {
        let us = d.as_micros().min(u32::MAX as u128) as u32;
        self.lat.entry(kind).or_default().push(us);
    }

    /// Counts an error and keeps its message if few are kept yet.
    pub fn error(&mut self, msg: String) {
        self.errors += 1;
        if self.error_samples.len() < MAX_ERROR_SAMPLES {
            self.error_samples.push(msg);
        }
    }

    /// Adds `other` into `self`.
    pub fn merge(&mut self, other: Stats) {
        for (k, mut v) in other.lat {
            self.lat.entry(k).or_default().append(&mut v);
        }
        self.errors += other.errors;
        for m in other.error_samples {
            if self.error_samples.len() < MAX_ERROR_SAMPLES {
                self.error_samples.push(m);
            }
        }
        self.bytes_up += other.bytes_up;
        self.bytes_down += other.bytes_down;
        self.images_pushed += other.images_pushed;
        self.images_pulled += other.images_pulled;
        self.iterations += other.iterations;
    }

    /// HTTP requests made (operations left out).
    pub fn requests(&self) -> u64 {
        self.lat
            .iter()
            .filter(|(k, _)| !k.starts_with("op:"))
            .map(|(_, v)| v.len() as u64)
            .sum()
    }

    /// The summary: counts, throughput and per-kind latency percentiles (milliseconds).
    pub fn summary(&mut self, wall: Duration, extra: Value) -> Value {
        let secs = wall.as_secs_f64().max(1e-9);
        let mut kinds = serde_json::Map::new();
        for (k, v) in self.lat.iter_mut() {
            v.sort_unstable();
            let ms = |p: f64| {
                let i = ((v.len() as f64 * p).ceil() as usize).clamp(1, v.len()) - 1;
                f64::from(v[i]) / 1000.0
            };
            let mean = v.iter().map(|x| f64::from(*x)).sum::<f64>() / v.len() as f64 / 1000.0;
            kinds.insert(
                (*k).to_owned(),
                json!({ "n": v.len(), "p50_ms": ms(0.50), "p90_ms": ms(0.90), "p99_ms": ms(0.99),
                        "max_ms": ms(1.0), "mean_ms": mean }),
            );
        }
        let requests = self.requests();
        json!({
            "wall_s": secs,
            "requests": requests,
            "requests_per_s": requests as f64 / secs,
            "errors": self.errors,
            "error_samples": self.error_samples,
            "iterations": self.iterations,
            "images_pushed": self.images_pushed,
            "images_pulled": self.images_pulled,
            "bytes_up": self.bytes_up,
            "bytes_down": self.bytes_down,
            "mb_per_s_up": self.bytes_up as f64 / secs / 1e6,
            "mb_per_s_down": self.bytes_down as f64 / secs / 1e6,
            "kinds": kinds,
            "run": extra,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_and_requests() {
        let mut s = Stats::default();
        for i in 1..=100u64 {
            s.record("manifest GET", Duration::from_millis(i));
        }
        s.record("op:blob upload", Duration::from_millis(5));
        let v = s.summary(Duration::from_secs(1), json!({}));
        assert_eq!(v["requests"], 100);
        assert_eq!(v["kinds"]["manifest GET"]["p50_ms"], 50.0);
        assert_eq!(v["kinds"]["manifest GET"]["p99_ms"], 99.0);
        assert_eq!(v["kinds"]["op:blob upload"]["n"], 1);
    }
}
