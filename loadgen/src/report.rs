//! The report at the end of a run: figures, latency percentiles in milliseconds and the
//! correctness check, as a table or as one JSON object.

use hdrhistogram::Histogram;
use serde_json::{json, Map, Value};

use crate::collect::{Clock, Outcome, Window, WINDOW_US};

/// Percentiles of one latency, in ms.
pub struct Latency {
    pub label: String,
    pub count: u64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
}

/// A label as a JSON key: `send → ack` → `send_ack`.
fn key(label: &str) -> String {
    let mut k = String::new();
    for c in label.chars() {
        if c.is_ascii_alphanumeric() {
            k.push(c.to_ascii_lowercase());
        } else if !k.is_empty() && !k.ends_with('_') {
            k.push('_');
        }
    }
    k.trim_end_matches('_').to_string()
}

fn ms(us: u64) -> f64 {
    (us as f64 / 10.0).round() / 100.0
}

impl Latency {
    pub fn of(label: &str, h: &Histogram<u64>) -> Latency {
        let empty = h.is_empty();
        let q = |q: f64| {
            if empty {
                0.0
            } else {
                ms(h.value_at_quantile(q))
            }
        };
        Latency {
            label: label.to_string(),
            count: h.len(),
            p50: q(0.50),
            p90: q(0.90),
            p99: q(0.99),
            max: if empty { 0.0 } else { ms(h.max()) },
        }
    }
}

/// The correctness check of a messaging run.
pub struct Checks {
    pub missing_acks: u64,
    pub missing_copies: u64,
    pub duplicates: u64,
    pub out_of_order: u64,
    pub refused: u64,
    pub closed: u64,
}

impl Checks {
    pub fn of(o: &Outcome) -> Checks {
        Checks {
            missing_acks: o.missing_acks,
            missing_copies: o.missing_copies,
            duplicates: o.duplicates,
            out_of_order: o.out_of_order,
            refused: o.refused,
            closed: o.closes.len() as u64,
        }
    }

    fn missing(&self) -> u64 {
        self.missing_acks + self.missing_copies
    }

    /// Every message arrived once and in order, none was refused, no socket was closed.
    pub fn passed(&self) -> bool {
        self.missing() == 0
            && self.duplicates == 0
            && self.out_of_order == 0
            && self.refused == 0
            && self.closed == 0
    }
}

/// A figure: its name, value and unit.
struct Figure {
    name: String,
    value: f64,
    decimals: usize,
    unit: &'static str,
}

/// A run's report.
pub struct Report {
    scenario: &'static str,
    params: Map<String, Value>,
    figures: Vec<Figure>,
    latencies: Vec<Latency>,
    checks: Option<Checks>,
    /// The slowest windows of send times, each with its UTC time of day.
    slowest: Vec<(Window, String)>,
    failures: Vec<String>,
}

impl Report {
    pub fn new(scenario: &'static str) -> Report {
        Report {
            scenario,
            params: Map::new(),
            figures: Vec::new(),
            latencies: Vec::new(),
            checks: None,
            slowest: Vec::new(),
            failures: Vec::new(),
        }
    }

    pub fn param(&mut self, name: &str, value: impl Into<Value>) -> &mut Self {
        self.params.insert(name.to_string(), value.into());
        self
    }

    /// A figure shown with `decimals` decimals.
    pub fn figure(
        &mut self,
        name: &str,
        value: f64,
        decimals: usize,
        unit: &'static str,
    ) -> &mut Self {
        self.figures.push(Figure {
            name: name.to_string(),
            value,
            decimals,
            unit,
        });
        self
    }

    pub fn latency(&mut self, label: &str, h: &Histogram<u64>) -> &mut Self {
        self.latencies.push(Latency::of(label, h));
        self
    }

    /// Names the windows of send times whose messages waited longest (see
    /// [`Outcome::slowest`]), with the time of day the server's logs would show.
    pub fn slowest(&mut self, windows: &[Window], clock: &Clock) -> &mut Self {
        self.slowest = windows
            .iter()
            .map(|w| (*w, clock.utc(w.start_us)))
            .collect();
        self
    }

    pub fn checks(&mut self, c: Checks) -> &mut Self {
        self.checks = Some(c);
        self
    }

    /// Marks the run failed, saying why, when `failed`.
    pub fn fail_if(&mut self, failed: bool, why: String) -> &mut Self {
        if failed {
            self.failures.push(why);
        }
        self
    }

    /// False when the correctness check or another check failed.
    pub fn passed(&self) -> bool {
        self.failures.is_empty() && self.checks.as_ref().is_none_or(Checks::passed)
    }

    /// The human-readable table.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let params: Vec<String> = self
            .params
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        out += &format!("== {} ({}) ==\n", self.scenario, params.join(", "));
        for f in &self.figures {
            let value = format!("{:.*}", f.decimals, f.value);
            let line = format!("{:<34} {value:>12} {}", f.name, f.unit);
            out += line.trim_end();
            out.push('\n');
        }
        if !self.latencies.is_empty() {
            out += &format!(
                "{:<22} {:>9} {:>9} {:>9} {:>9} {:>9}\n",
                "latency (ms)", "count", "p50", "p90", "p99", "max"
            );
            for l in &self.latencies {
                out += &format!(
                    "{:<22} {:>9} {:>9.2} {:>9.2} {:>9.2} {:>9.2}\n",
                    l.label, l.count, l.p50, l.p90, l.p99, l.max
                );
            }
        }
        for (w, utc) in &self.slowest {
            out += &format!(
                "slow moment: sent {:.1}–{:.1} s in ({utc} UTC): ack max {:.2} ms, deliver max {:.2} ms\n",
                w.start_us as f64 / 1e6,
                (w.start_us + WINDOW_US) as f64 / 1e6,
                ms(w.ack_max_us),
                ms(w.deliver_max_us),
            );
        }
        if let Some(c) = &self.checks {
            out += &format!(
                "missing {} (acks {}, copies {}), duplicates {}, out of order {}, refused {}, sockets closed {}: {}\n",
                c.missing(),
                c.missing_acks,
                c.missing_copies,
                c.duplicates,
                c.out_of_order,
                c.refused,
                c.closed,
                if c.passed() { "OK" } else { "FAILED" }
            );
        }
        for f in &self.failures {
            out += &format!("FAILED: {f}\n");
        }
        out
    }

    /// The report as one JSON object.
    pub fn json(&self) -> Value {
        let figures: Map<String, Value> = self
            .figures
            .iter()
            .map(|f| {
                let p = 10f64.powi(i32::try_from(f.decimals).unwrap_or(2));
                let v = json!({"value": (f.value * p).round() / p, "unit": f.unit});
                (key(&f.name), v)
            })
            .collect();
        let latency: Map<String, Value> = self
            .latencies
            .iter()
            .map(|l| {
                let v = json!({"count": l.count, "p50_ms": l.p50, "p90_ms": l.p90,
                               "p99_ms": l.p99, "max_ms": l.max});
                (key(&l.label), v)
            })
            .collect();
        let checks = self.checks.as_ref().map(|c| {
            json!({"missing": c.missing(), "missing_acks": c.missing_acks,
                   "missing_copies": c.missing_copies, "duplicates": c.duplicates,
                   "out_of_order": c.out_of_order, "refused": c.refused,
                   "sockets_closed": c.closed})
        });
        let slowest: Vec<Value> = self
            .slowest
            .iter()
            .map(|(w, utc)| {
                json!({"start_s": w.start_us as f64 / 1e6, "utc": utc,
                       "ack_max_ms": ms(w.ack_max_us), "deliver_max_ms": ms(w.deliver_max_us)})
            })
            .collect();
        json!({
            "scenario": self.scenario,
            "params": self.params,
            "figures": figures,
            "latency": latency,
            "correctness": checks,
            "slowest": slowest,
            "failures": self.failures,
            "passed": self.passed(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::histogram;

    #[test]
    fn percentiles_in_ms_with_two_decimals() {
        let mut h = histogram();
        for us in [1_000, 2_000, 3_000, 10_000] {
            h.record(us).unwrap();
        }
        let l = Latency::of("x", &h);
        assert_eq!(l.count, 4);
        assert!((2.0..=2.01).contains(&l.p50), "{}", l.p50);
        assert!((10.0..=10.01).contains(&l.max), "{}", l.max);
        let mut r = Report::new("t");
        r.param("n", 4)
            .figure("rate", 1234.567, 2, "msg/s")
            .latency("x", &h);
        assert!(r.table().contains("1234.57"));
        assert_eq!(r.json()["figures"]["rate"]["value"], 1234.57);
        assert_eq!(key("send → last copy"), "send_last_copy");
        assert_eq!(
            key("throughput (acked and delivered)"),
            "throughput_acked_and_delivered"
        );
        assert!(r.passed());
    }
}
