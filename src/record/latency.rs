//! Request latency as summary.json keeps it: the histogram's non-empty buckets, with p50,
//! p95 and p99 read from them. The buckets are fixed (`rate::latency::bounds_ms`), so a
//! merge adds its shards' histograms bucket by bucket and reads the percentiles again; the
//! metrics file and the report draw from the same buckets.

use serde::{Deserialize, Serialize};

use crate::rate::latency::{bounds_ms, LatencyCounts};

/// One run's (or a merge's) request latency.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct LatencyFigures {
    /// API requests answered (or failed) whose time was measured.
    pub(crate) requests: u64,
    pub(crate) mean_ms: f64,
    pub(crate) p50_ms: f64,
    pub(crate) p95_ms: f64,
    pub(crate) p99_ms: f64,
    /// `[upper bound in ms, requests]` per bucket, empty buckets left out; the bound is
    /// `null` for answers slower than the last bound (120 s).
    pub(crate) buckets: Vec<(Option<f64>, u64)>,
}

/// Percentiles of a histogram, read by linear interpolation inside the bucket that holds the
/// rank: exact to the bucket's width (about 10 %).
fn percentile(per_bucket: &[u64], total: u64, share: f64) -> f64 {
    let bounds = bounds_ms();
    let rank = share * total as f64;
    let mut below = 0u64;
    for (index, count) in per_bucket.iter().enumerate() {
        if *count == 0 {
            continue;
        }
        if (below + count) as f64 >= rank {
            let low = if index == 0 { 0.0 } else { bounds[index - 1] };
            let Some(high) = bounds.get(index) else {
                // Slower than the last bound: that bound is all that is known.
                return low;
            };
            let inside = (rank - below as f64) / *count as f64;
            return round2(low + (high - low) * inside.clamp(0.0, 1.0));
        }
        below += count;
    }
    0.0
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

impl LatencyFigures {
    /// `None` when no request was measured (an offline dry run).
    pub(crate) fn from_counts(counts: &LatencyCounts) -> Option<LatencyFigures> {
        let requests: u64 = counts.per_bucket.iter().sum();
        if requests == 0 {
            return None;
        }
        let bounds = bounds_ms();
        let buckets = counts
            .per_bucket
            .iter()
            .enumerate()
            .filter(|(_, count)| **count > 0)
            .map(|(index, count)| (bounds.get(index).copied(), *count))
            .collect();
        Some(LatencyFigures {
            requests,
            mean_ms: round2(counts.sum_s * 1000.0 / requests as f64),
            p50_ms: percentile(&counts.per_bucket, requests, 0.50),
            p95_ms: percentile(&counts.per_bucket, requests, 0.95),
            p99_ms: percentile(&counts.per_bucket, requests, 0.99),
            buckets,
        })
    }

    /// The histogram back on the fixed buckets; a bound this version does not know goes to
    /// the next one up.
    pub(crate) fn counts(&self) -> LatencyCounts {
        let bounds = bounds_ms();
        let mut per_bucket = vec![0u64; bounds.len() + 1];
        for (bound, count) in &self.buckets {
            let index = match bound {
                Some(bound) => bounds.partition_point(|b| *b < bound - 1e-9),
                None => bounds.len(),
            };
            per_bucket[index.min(bounds.len())] += count;
        }
        LatencyCounts {
            per_bucket,
            sum_s: self.sum_s(),
        }
    }

    /// Several runs' (shards') latency as one.
    pub(crate) fn combine<'a>(
        all: impl IntoIterator<Item = &'a LatencyFigures>,
    ) -> Option<LatencyFigures> {
        let mut total = LatencyCounts {
            per_bucket: vec![0; bounds_ms().len() + 1],
            sum_s: 0.0,
        };
        for figures in all {
            let counts = figures.counts();
            for (sum, count) in total.per_bucket.iter_mut().zip(&counts.per_bucket) {
                *sum += count;
            }
            total.sum_s += counts.sum_s;
        }
        LatencyFigures::from_counts(&total)
    }

    /// The histogram on coarser bounds (in seconds), each of which must be one of the fixed
    /// bounds: `(bound, requests in that bucket)`, the last bound infinite. For Prometheus.
    pub(crate) fn coarse_buckets(&self, bounds_s: &[f64]) -> Vec<(f64, u64)> {
        let counts = self.counts();
        let fine = bounds_ms();
        let mut coarse: Vec<(f64, u64)> = bounds_s.iter().map(|b| (*b, 0)).collect();
        coarse.push((f64::INFINITY, 0));
        for (index, count) in counts.per_bucket.iter().enumerate() {
            let upper_s = fine.get(index).map_or(f64::INFINITY, |ms| ms / 1000.0);
            let slot = coarse
                .iter()
                .position(|(bound, _)| *bound >= upper_s - 1e-12)
                .unwrap_or(coarse.len() - 1);
            coarse[slot].1 += count;
        }
        coarse
    }

    pub(crate) fn sum_s(&self) -> f64 {
        self.mean_ms * self.requests as f64 / 1000.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts_at(samples_ms: &[(f64, u64)]) -> LatencyCounts {
        let bounds = bounds_ms();
        let mut per_bucket = vec![0; bounds.len() + 1];
        let mut sum_s = 0.0;
        for (ms, n) in samples_ms {
            per_bucket[bounds.partition_point(|b| b < ms)] += n;
            sum_s += ms / 1000.0 * *n as f64;
        }
        LatencyCounts { per_bucket, sum_s }
    }

    #[test]
    fn percentiles_fall_in_the_bucket_that_holds_them() {
        // 90 fast answers, 9 slower, 1 very slow.
        let figures =
            LatencyFigures::from_counts(&counts_at(&[(12.0, 90), (95.0, 9), (1500.0, 1)])).unwrap();
        assert_eq!(figures.requests, 100);
        // Rank 50 of the 90 answers in the bucket from 11 to 12 ms.
        assert_eq!(figures.p50_ms, 11.56, "{figures:?}");
        assert!((90.0..=100.0).contains(&figures.p95_ms), "{figures:?}");
        assert!((90.0..=100.0).contains(&figures.p99_ms), "{figures:?}");
        assert!((figures.mean_ms - 34.35).abs() < 0.01, "{figures:?}");
        assert_eq!(
            figures.buckets.len(),
            3,
            "only the buckets that hold answers"
        );
    }

    #[test]
    fn shards_add_up_bucket_by_bucket() {
        let one = LatencyFigures::from_counts(&counts_at(&[(12.0, 10)])).unwrap();
        let two = LatencyFigures::from_counts(&counts_at(&[(12.0, 5), (200_000.0, 1)])).unwrap();
        let both = LatencyFigures::combine([&one, &two]).unwrap();
        assert_eq!(both.requests, 16);
        assert_eq!(both.buckets.len(), 2);
        assert_eq!(both.buckets[1], (None, 1), "slower than the last bound");
        assert_eq!(
            LatencyFigures::from_counts(&both.counts()).unwrap(),
            both,
            "the buckets read back to the same figures"
        );
    }

    #[test]
    fn coarse_buckets_hold_every_request_once() {
        let figures =
            LatencyFigures::from_counts(&counts_at(&[(0.3, 4), (12.0, 3), (30_000.0, 2)])).unwrap();
        let coarse = figures.coarse_buckets(&[0.005, 0.025, 30.0]);
        assert_eq!(
            coarse,
            vec![(0.005, 4), (0.025, 3), (30.0, 2), (f64::INFINITY, 0)]
        );
    }
}
