//! Latency histograms (HDR, microseconds) and their summary.

use hdrhistogram::Histogram;
use serde_json::{json, Value};

/// Largest latency recorded exactly: 10 minutes (longer ones are clamped).
const MAX_US: u64 = 600_000_000;

/// A new microsecond histogram with 3 significant digits.
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_US, 3).expect("histogram bounds")
}

/// Records one latency in microseconds.
pub fn record(h: &mut Histogram<u64>, d: std::time::Duration) {
    h.saturating_record((d.as_micros() as u64).clamp(1, MAX_US));
}

/// Percentiles of a histogram, in microseconds.
#[derive(Debug, Clone, Copy, Default)]
pub struct Summary {
    pub count: u64,
    pub mean: f64,
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub p999: u64,
    pub max: u64,
}

impl Summary {
    /// Summarises `h`.
    pub fn of(h: &Histogram<u64>) -> Summary {
        if h.is_empty() {
            return Summary::default();
        }
        Summary {
            count: h.len(),
            mean: h.mean(),
            p50: h.value_at_quantile(0.50),
            p90: h.value_at_quantile(0.90),
            p99: h.value_at_quantile(0.99),
            p999: h.value_at_quantile(0.999),
            max: h.max(),
        }
    }

    /// Adds `p50_us` ... `max_us` to a JSON object.
    pub fn put(&self, obj: &mut Value) {
        obj["p50_us"] = json!(self.p50);
        obj["p90_us"] = json!(self.p90);
        obj["p99_us"] = json!(self.p99);
        obj["p999_us"] = json!(self.p999);
        obj["max_us"] = json!(self.max);
        obj["mean_us"] = json!((self.mean * 10.0).round() / 10.0);
    }

    /// `p50 … max` as human text.
    pub fn text(&self) -> String {
        format!(
            "p50 {} us, p90 {} us, p99 {} us, p99.9 {} us, max {} us",
            self.p50, self.p90, self.p99, self.p999, self.max
        )
    }
}

/// Median of `xs` (the mean of the middle two for an even count); `None` when empty.
pub fn median(xs: &[f64]) -> Option<f64> {
    let mut v: Vec<f64> = xs.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_and_median() {
        let mut h = histogram();
        for us in 1..=1000u64 {
            record(&mut h, std::time::Duration::from_micros(us));
        }
        let s = Summary::of(&h);
        assert_eq!(s.count, 1000);
        assert!((499..=501).contains(&s.p50));
        assert_eq!(s.max, 1000);
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&[]), None);
    }
}
