//! Latency histograms and the least-squares line used for memory per stream.

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// Microseconds, 1 µs to 10 minutes, 3 significant digits.
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("constant, valid bounds")
}

/// Records a latency, clamping what is beyond the histogram's range (it still counts).
pub fn record(h: &mut Histogram<u64>, micros: u64) {
    h.saturating_record(micros.max(1));
}

/// The quantiles every latency table shows, in milliseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
}

impl Latency {
    pub fn of(h: &Histogram<u64>) -> Self {
        if h.is_empty() {
            return Self::default();
        }
        let ms = |micros: u64| micros as f64 / 1000.0;
        Self {
            p50_ms: ms(h.value_at_quantile(0.50)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            p999_ms: ms(h.value_at_quantile(0.999)),
            max_ms: ms(h.max()),
        }
    }
}

/// Least-squares line through `(x, y)` points: `(slope, intercept)`; `None` with fewer than two
/// distinct x values.
pub fn linear_fit(points: &[(f64, f64)]) -> Option<(f64, f64)> {
    let n = points.len() as f64;
    let mean_x = points.iter().map(|p| p.0).sum::<f64>() / n;
    let mean_y = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|p| (p.0 - mean_x).powi(2)).sum();
    if points.len() < 2 || sxx == 0.0 {
        return None;
    }
    let sxy: f64 = points.iter().map(|p| (p.0 - mean_x) * (p.1 - mean_y)).sum();
    let slope = sxy / sxx;
    Some((slope, mean_y - slope * mean_x))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_in_milliseconds() {
        let mut h = histogram();
        for micros in 1..=1000 {
            record(&mut h, micros * 10);
        }
        let latency = Latency::of(&h);
        assert!((latency.p50_ms - 5.0).abs() <= 0.005, "{latency:?}");
        // Three significant digits: 10,000 µs is reported within 0.1 %.
        assert!((latency.max_ms - 10.0).abs() <= 0.01, "{latency:?}");
        assert_eq!(Latency::of(&histogram()), Latency::default());
    }

    #[test]
    fn out_of_range_values_still_count() {
        let mut h = histogram();
        record(&mut h, 0);
        record(&mut h, u64::MAX);
        assert_eq!(h.len(), 2);
    }

    #[test]
    fn fits_a_line() {
        let points = [
            (1000.0, 15_000.0),
            (5000.0, 55_000.0),
            (10_000.0, 105_000.0),
        ];
        let (slope, intercept) = linear_fit(&points).unwrap();
        assert!((slope - 10.0).abs() < 1e-9);
        assert!((intercept - 5000.0).abs() < 1e-6);
        assert_eq!(linear_fit(&[(1.0, 2.0)]), None);
        assert_eq!(linear_fit(&[(1.0, 2.0), (1.0, 3.0)]), None);
    }
}
