//! Measuring and printing: histograms in microseconds, resident memory from /proc.

use hdrhistogram::Histogram;

/// Microseconds, 1 µs to 60 s, 3 significant digits.
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("constant, valid bounds")
}

fn ms(micros: u64) -> f64 {
    micros as f64 / 1000.0
}

pub fn latency_line(
    count: u64,
    rate: u64,
    h: &Histogram<u64>,
    lost: u64,
    duplicates: u64,
    out_of_order: u64,
) -> String {
    format!(
        "latency: {count} notifications at {rate}/s: p50 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms, \
         max {:.2} ms; lost {lost}, duplicated {duplicates}, out of order {out_of_order}",
        ms(h.value_at_quantile(0.50)),
        ms(h.value_at_quantile(0.99)),
        ms(h.value_at_quantile(0.999)),
        ms(h.max()),
    )
}

/// `VmRSS` of a process, in KiB.
pub fn rss_kib(pid: u32) -> Result<u64, String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(|e| format!("cannot read /proc/{pid}/status: {e}"))?;
    parse_rss(&status).ok_or_else(|| format!("no VmRSS in /proc/{pid}/status"))
}

fn parse_rss(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
}

pub fn idle_line(streams: usize, before_kib: u64, after_kib: u64) -> String {
    let grown = after_kib.saturating_sub(before_kib);
    format!(
        "idle: {streams} streams: server RSS {before_kib} KiB -> {after_kib} KiB, \
         +{grown} KiB, {:.1} KiB per stream",
        grown as f64 / streams as f64
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_vmrss() {
        let status = "Name:\tbelfry\nVmPeak:\t  9000 kB\nVmRSS:\t   12345 kB\nThreads:\t3\n";
        assert_eq!(parse_rss(status), Some(12345));
        assert_eq!(parse_rss("Name: x\n"), None);
    }

    #[test]
    fn reports_quantiles_in_milliseconds() {
        let mut h = histogram();
        for micros in 1..=1000 {
            h.record(micros * 10).unwrap();
        }
        let line = latency_line(1000, 100, &h, 0, 0, 0);
        assert!(line.contains("p50 5.00 ms"), "{line}");
        // Three significant digits: 10,000 µs is reported within 0.1 %.
        assert!(line.contains("max 10.0"), "{line}");
    }

    #[test]
    fn idle_growth_per_stream() {
        assert!(idle_line(1000, 10_000, 15_000).ends_with("5.0 KiB per stream"));
    }
}
