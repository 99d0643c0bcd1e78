//! Percentiles and the run summary.

use std::time::Duration;

/// The `p`-th percentile (0 < p <= 100) of `samples` by the nearest-rank method: the smallest
/// sample such that at least `p`% of the samples are less than or equal to it. `None` for no
/// samples. The input need not be sorted.
pub fn percentile(samples: &[Duration], p: f64) -> Option<Duration> {
    if samples.is_empty() || !(p > 0.0 && p <= 100.0) {
        return None;
    }
    let mut sorted = samples.to_vec();
    sorted.sort_unstable();
    // Nearest rank: ceil(p/100 * n), 1-based. Computed in integers on per-mille-of-percent
    // precision so that p = 50 with n = 200 gives exactly rank 100 (no float round-up).
    let n = sorted.len() as u128;
    let p_milli = (p * 1000.0).round() as u128; // p in thousandths of a percent
    let rank = (p_milli * n).div_ceil(100_000).max(1);
    let index = usize::try_from(rank - 1).ok()?.min(sorted.len() - 1);
    sorted.get(index).copied()
}

/// Milliseconds as a float, for reports.
pub fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: &[u64]) -> Vec<Duration> {
        v.iter().map(|&m| Duration::from_millis(m)).collect()
    }

    #[test]
    fn empty_and_out_of_range() {
        assert_eq!(percentile(&[], 50.0), None);
        assert_eq!(percentile(&ms(&[1]), 0.0), None);
        assert_eq!(percentile(&ms(&[1]), 100.1), None);
        assert_eq!(percentile(&ms(&[1]), f64::NAN), None);
    }

    #[test]
    fn single_sample_is_every_percentile() {
        let s = ms(&[7]);
        for p in [0.1, 50.0, 99.0, 100.0] {
            assert_eq!(percentile(&s, p), Some(Duration::from_millis(7)));
        }
    }

    #[test]
    fn nearest_rank_on_unsorted_input() {
        // 1..=100 shuffled: the p-th percentile is p.
        let mut v: Vec<u64> = (1..=100).collect();
        v.reverse();
        v.swap(3, 70);
        let s = ms(&v);
        assert_eq!(percentile(&s, 50.0), Some(Duration::from_millis(50)));
        assert_eq!(percentile(&s, 99.0), Some(Duration::from_millis(99)));
        assert_eq!(percentile(&s, 100.0), Some(Duration::from_millis(100)));
        assert_eq!(percentile(&s, 1.0), Some(Duration::from_millis(1)));
    }

    #[test]
    fn small_sets_round_up() {
        let s = ms(&[10, 20, 30, 40]);
        // 50% of 4 = rank 2; 99% of 4 = 3.96 -> rank 4; 26% of 4 = 1.04 -> rank 2.
        assert_eq!(percentile(&s, 50.0), Some(Duration::from_millis(20)));
        assert_eq!(percentile(&s, 99.0), Some(Duration::from_millis(40)));
        assert_eq!(percentile(&s, 26.0), Some(Duration::from_millis(20)));
        assert_eq!(percentile(&s, 25.0), Some(Duration::from_millis(10)));
    }

    #[test]
    fn p99_of_200_and_1000() {
        let s: Vec<Duration> = (1..=200).map(Duration::from_millis).collect();
        assert_eq!(percentile(&s, 99.0), Some(Duration::from_millis(198)));
        assert_eq!(percentile(&s, 50.0), Some(Duration::from_millis(100)));
        let s: Vec<Duration> = (1..=1000).map(Duration::from_millis).collect();
        assert_eq!(percentile(&s, 99.0), Some(Duration::from_millis(990)));
        assert_eq!(percentile(&s, 99.9), Some(Duration::from_millis(999)));
    }

    #[test]
    fn millis_converts() {
        assert_eq!(millis(Duration::from_micros(1500)), 1.5);
    }
}
