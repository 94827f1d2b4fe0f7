//! Latencies (an HDR histogram in microseconds) and the figures drawn from them: percentiles in
//! milliseconds, throughput, the ratio to the ceiling.

use std::time::Duration;

use hdrhistogram::Histogram;

/// Latencies in microseconds, from 1 µs to 10 minutes, to 3 significant digits.
#[derive(Debug)]
pub struct Latencies(Histogram<u64>);

/// The longest latency recorded exactly; longer ones count as this.
const MAX_MICROS: u64 = 600_000_000;

impl Latencies {
    pub fn new() -> Result<Self, String> {
        Self::histogram().map(Latencies)
    }

    /// An empty histogram of the shape every latency uses (so that they add up).
    pub fn histogram() -> Result<Histogram<u64>, String> {
        Histogram::new_with_bounds(1, MAX_MICROS, 3).map_err(|e| format!("histogram: {e}"))
    }

    pub fn record(&mut self, latency: Duration) {
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.0.saturating_record(micros.clamp(1, MAX_MICROS));
    }

    pub fn add(&mut self, other: &Histogram<u64>) -> Result<(), String> {
        self.0.add(other).map_err(|e| format!("adding latencies: {e}"))
    }

    pub fn count(&self) -> u64 {
        self.0.len()
    }

    /// The latency at `quantile` (0.5, 0.99) in milliseconds; `None` when nothing was recorded.
    pub fn quantile_ms(&self, quantile: f64) -> Option<f64> {
        (self.count() > 0).then(|| self.0.value_at_quantile(quantile) as f64 / 1000.0)
    }

    pub fn max_ms(&self) -> Option<f64> {
        (self.count() > 0).then(|| self.0.max() as f64 / 1000.0)
    }
}

/// `count` per second over `elapsed` (0 when nothing elapsed).
pub fn per_second(count: u64, elapsed: Duration) -> f64 {
    let seconds = elapsed.as_secs_f64();
    if seconds > 0.0 { count as f64 / seconds } else { 0.0 }
}

/// `throughput` as a fraction of `ceiling`; `None` without a ceiling to compare with.
pub fn ratio(throughput: f64, ceiling: Option<f64>) -> Option<f64> {
    match ceiling {
        Some(ceiling) if ceiling > 0.0 => Some(throughput / ceiling),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_come_from_the_recorded_latencies() {
        let mut latencies = Latencies::new().unwrap();
        for ms in 1..=100 {
            latencies.record(Duration::from_millis(ms));
        }
        let p50 = latencies.quantile_ms(0.5).unwrap();
        let p99 = latencies.quantile_ms(0.99).unwrap();
        // Three significant digits: within 0.1 % of the exact value.
        assert!((p50 - 50.0).abs() < 0.1, "{p50}");
        assert!((p99 - 99.0).abs() < 0.1, "{p99}");
        assert!((latencies.max_ms().unwrap() - 100.0).abs() < 0.1);
        assert_eq!(latencies.count(), 100);
    }

    #[test]
    fn no_latency_means_no_percentile() {
        let latencies = Latencies::new().unwrap();
        assert_eq!(latencies.quantile_ms(0.5), None);
        assert_eq!(latencies.max_ms(), None);
    }

    #[test]
    fn histograms_add_up() {
        let mut a = Latencies::new().unwrap();
        let mut b = Latencies::histogram().unwrap();
        a.record(Duration::from_millis(1));
        b.record(2000).unwrap();
        a.add(&b).unwrap();
        assert_eq!(a.count(), 2);
        assert!((a.max_ms().unwrap() - 2.0).abs() < 0.01);
    }

    #[test]
    fn throughput_and_ratio() {
        assert_eq!(per_second(500, Duration::from_secs(2)), 250.0);
        assert_eq!(per_second(5, Duration::ZERO), 0.0);
        assert_eq!(ratio(25.0, Some(100.0)), Some(0.25));
        assert_eq!(ratio(25.0, None), None);
        assert_eq!(ratio(25.0, Some(0.0)), None);
    }
}
