//! The enrolled-face matcher.
//!
//! # Distance → confidence
//!
//! `confidence = clamp(1 − 0.4 · (d / 0.6)², 0, 1)` for euclidean distance `d` between
//! descriptors. So `d = 0` gives 1.0, `d = 0.424` gives 0.80, `d = 0.6` (face-api's
//! same-person threshold) gives 0.60, and `d ≥ 0.949` gives 0. With the default
//! [`Thresholds`] (high 0.80, medium 0.60) a match is `High` below d ≈ 0.42, `Medium` up to
//! face-api's 0.6, and `Unknown` beyond — i.e. `Unknown` exactly where face-api's
//! `FaceMatcher` would answer "unknown".

use std::collections::HashMap;
use std::hash::Hash;

use serde::{Deserialize, Serialize};

use crate::types::{Descriptor, squared_distance};

/// Distance at which confidence is [`Thresholds::default`]'s medium (0.6).
pub const REFERENCE_DISTANCE: f32 = 0.6;

/// Maps a descriptor distance to a confidence in [0, 1] (see the module docs).
pub fn confidence_from_distance(distance: f32) -> f32 {
    if !distance.is_finite() {
        return 0.0;
    }
    let r = distance / REFERENCE_DISTANCE;
    (1.0 - 0.4 * r * r).clamp(0.0, 1.0)
}

/// Inverse of [`confidence_from_distance`] on (0, 1]: the largest distance that still
/// reaches `confidence`.
pub fn distance_for_confidence(confidence: f32) -> f32 {
    REFERENCE_DISTANCE * ((1.0 - confidence.clamp(0.0, 1.0)) / 0.4).sqrt()
}

/// Confidence thresholds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Thresholds {
    /// At or above: a confident match (default 0.8, d ≤ 0.424).
    pub high: f32,
    /// At or above (and below `high`): a plausible match to review (default 0.6, d ≤ 0.6).
    pub medium: f32,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            high: 0.8,
            medium: 0.6,
        }
    }
}

/// Outcome class of a match.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MatchClass {
    /// confidence ≥ high.
    High,
    /// medium ≤ confidence < high.
    Medium,
    /// confidence < medium (or no match at all).
    Unknown,
}

impl Thresholds {
    /// Classifies a confidence.
    pub fn classify(&self, confidence: f32) -> MatchClass {
        if confidence >= self.high {
            MatchClass::High
        } else if confidence >= self.medium {
            MatchClass::Medium
        } else {
            MatchClass::Unknown
        }
    }
}

/// Best match of a query.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Match<K> {
    /// The subject owning the nearest descriptor.
    pub subject: K,
    /// Euclidean distance to it.
    pub distance: f32,
    /// [`confidence_from_distance`] of `distance`.
    pub confidence: f32,
}

/// Enrolled descriptors, several per subject, searched by brute force.
///
/// The scan reads a half-precision copy (256 bytes per descriptor; 50 000 descriptors =
/// 12.8 MB, ≈ 1 ms per query on one core with AVX2/F16C), then re-scores every candidate
/// within [`RESCORE_MARGIN`] of the best approximate distance in full f32 precision, so the
/// returned match and distance are exactly those of an f32 brute-force search.
#[derive(Debug, Clone)]
pub struct Gallery<K> {
    data: Vec<[f32; 128]>,
    half: Vec<[u16; 128]>,
    owners: Vec<K>,
    counts: HashMap<K, usize>,
}

/// Candidates whose half-precision distance is within this of the best one are re-scored in
/// f32. Rounding descriptors (|v| < 1) to f16 moves a distance by < 0.003.
pub const RESCORE_MARGIN: f32 = 0.02;

impl<K> Default for Gallery<K> {
    fn default() -> Self {
        Self {
            data: Vec::new(),
            half: Vec::new(),
            owners: Vec::new(),
            counts: HashMap::new(),
        }
    }
}

fn to_half(d: &[f32; 128]) -> [u16; 128] {
    std::array::from_fn(|i| half::f16::from_f32(d[i]).to_bits())
}

/// Squared distances from `q` to every half-precision row.
fn approx_distances(q: &[f32; 128], rows: &[[u16; 128]], out: &mut Vec<f32>) {
    out.clear();
    out.reserve(rows.len());
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2")
            && std::arch::is_x86_feature_detected!("fma")
            && std::arch::is_x86_feature_detected!("f16c")
        {
            // SAFETY: the CPU features the function is compiled for were just detected.
            unsafe { approx_distances_avx2(q, rows, out) };
            return;
        }
    }
    for r in rows {
        let mut acc = [0f32; 8];
        for (cq, cr) in q.chunks_exact(8).zip(r.chunks_exact(8)) {
            for k in 0..8 {
                let d = cq[k] - half::f16::from_bits(cr[k]).to_f32();
                acc[k] += d * d;
            }
        }
        out.push(acc.iter().sum());
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn approx_distances_avx2(q: &[f32; 128], rows: &[[u16; 128]], out: &mut Vec<f32>) {
    use std::arch::x86_64::*;
    // SAFETY: every load reads 8 f32 / 8 u16 inside `q` or a row (indices < 128).
    unsafe {
        let mut qv = [_mm256_setzero_ps(); 16];
        for (i, v) in qv.iter_mut().enumerate() {
            *v = _mm256_loadu_ps(q.as_ptr().add(i * 8));
        }
        for r in rows {
            let mut a0 = _mm256_setzero_ps();
            let mut a1 = _mm256_setzero_ps();
            for i in (0..16).step_by(2) {
                let h0 = _mm_loadu_si128(r.as_ptr().add(i * 8).cast::<__m128i>());
                let h1 = _mm_loadu_si128(r.as_ptr().add(i * 8 + 8).cast::<__m128i>());
                let d0 = _mm256_sub_ps(qv[i], _mm256_cvtph_ps(h0));
                let d1 = _mm256_sub_ps(qv[i + 1], _mm256_cvtph_ps(h1));
                a0 = _mm256_fmadd_ps(d0, d0, a0);
                a1 = _mm256_fmadd_ps(d1, d1, a1);
            }
            let a = _mm256_add_ps(a0, a1);
            let hi = _mm256_extractf128_ps(a, 1);
            let lo = _mm256_castps256_ps128(a);
            let s = _mm_add_ps(hi, lo);
            let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
            let s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
            out.push(_mm_cvtss_f32(s));
        }
    }
}

impl<K: Clone + Eq + Hash> Gallery<K> {
    /// An empty gallery.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one descriptor for `subject`.
    pub fn insert(&mut self, subject: K, descriptor: Descriptor) {
        *self.counts.entry(subject.clone()).or_insert(0) += 1;
        self.half.push(to_half(&descriptor.0));
        self.data.push(descriptor.0);
        self.owners.push(subject);
    }

    /// Removes every descriptor of `subject`; returns how many were removed.
    pub fn remove(&mut self, subject: &K) -> usize {
        let Some(n) = self.counts.remove(subject) else {
            return 0;
        };
        let mut i = 0;
        while i < self.owners.len() {
            if &self.owners[i] == subject {
                self.owners.swap_remove(i);
                self.data.swap_remove(i);
                self.half.swap_remove(i);
            } else {
                i += 1;
            }
        }
        n
    }

    /// Number of descriptors.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Number of distinct subjects.
    pub fn subject_count(&self) -> usize {
        self.counts.len()
    }

    /// Descriptors enrolled for `subject`.
    pub fn descriptors_of(&self, subject: &K) -> usize {
        self.counts.get(subject).copied().unwrap_or(0)
    }

    /// The nearest enrolled descriptor (over all subjects), or `None` when empty.
    pub fn best_match(&self, query: &Descriptor) -> Option<Match<K>> {
        let mut approx = Vec::new();
        self.best_match_with(query, &mut approx)
    }

    fn best_match_with(&self, query: &Descriptor, approx: &mut Vec<f32>) -> Option<Match<K>> {
        approx_distances(&query.0, &self.half, approx);
        let min = approx.iter().copied().fold(f32::INFINITY, f32::min);
        if !min.is_finite() {
            // empty gallery, or NaN in the query: fall back to the exact scan
            return self.exact_best(query, 0..self.data.len());
        }
        let limit = (min.sqrt() + RESCORE_MARGIN).powi(2);
        let mut best = (f32::INFINITY, usize::MAX);
        for (i, a) in approx.iter().enumerate() {
            if *a <= limit {
                let s = squared_distance(&query.0, &self.data[i]);
                if s < best.0 {
                    best = (s, i);
                }
            }
        }
        (best.1 != usize::MAX).then(|| self.make_match(best.1, best.0))
    }

    fn exact_best(&self, query: &Descriptor, range: std::ops::Range<usize>) -> Option<Match<K>> {
        let mut best = (f32::INFINITY, usize::MAX);
        for i in range {
            let s = squared_distance(&query.0, &self.data[i]);
            if s < best.0 {
                best = (s, i);
            }
        }
        (best.1 != usize::MAX).then(|| self.make_match(best.1, best.0))
    }

    /// [`Self::best_match`] for several faces at once (e.g. all faces of a frame).
    pub fn best_matches(&self, queries: &[Descriptor]) -> Vec<Option<Match<K>>> {
        let mut approx = Vec::new();
        queries
            .iter()
            .map(|q| self.best_match_with(q, &mut approx))
            .collect()
    }

    /// The `k` subjects nearest to `query`, nearest first: each subject once, at the exact
    /// (f32) distance of its closest descriptor. A brute-force scan; for a reviewer's picker,
    /// not the per-frame path.
    pub fn nearest_subjects(&self, query: &Descriptor, k: usize) -> Vec<Match<K>> {
        let mut closest: HashMap<&K, (f32, usize)> = HashMap::new();
        for (i, row) in self.data.iter().enumerate() {
            let s = squared_distance(&query.0, row);
            if !s.is_finite() {
                continue;
            }
            let entry = closest.entry(&self.owners[i]).or_insert((s, i));
            if s < entry.0 {
                *entry = (s, i);
            }
        }
        let mut nearest: Vec<(f32, usize)> = closest.into_values().collect();
        nearest.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        nearest
            .into_iter()
            .take(k)
            .map(|(s, i)| self.make_match(i, s))
            .collect()
    }

    fn make_match(&self, i: usize, squared: f32) -> Match<K> {
        let distance = squared.sqrt();
        Match {
            subject: self.owners[i].clone(),
            distance,
            confidence: confidence_from_distance(distance),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(v: f32) -> Descriptor {
        let mut a = [0f32; 128];
        a[0] = v;
        Descriptor(a)
    }

    #[test]
    fn mapping_is_monotonic_and_anchored() {
        assert_eq!(confidence_from_distance(0.0), 1.0);
        assert!((confidence_from_distance(0.6) - 0.6).abs() < 1e-6);
        assert_eq!(confidence_from_distance(2.0), 0.0);
        assert_eq!(confidence_from_distance(f32::NAN), 0.0);
        let mut prev = 2.0;
        for i in 0..100 {
            let c = confidence_from_distance(i as f32 * 0.02);
            assert!(c <= prev);
            prev = c;
        }
        assert!((distance_for_confidence(0.6) - 0.6).abs() < 1e-6);
    }

    #[test]
    fn nearest_subjects_lists_each_subject_once_at_its_closest_face() {
        let mut g = Gallery::new();
        g.insert("ada", d(0.9));
        g.insert("ada", d(0.1));
        g.insert("bob", d(0.3));
        g.insert("cy", d(2.0));
        let near = g.nearest_subjects(&d(0.0), 2);
        let names: Vec<_> = near.iter().map(|m| m.subject).collect();
        assert_eq!(names, ["ada", "bob"]);
        assert!((near[0].distance - 0.1).abs() < 1e-6);
        assert!((near[1].distance - 0.3).abs() < 1e-6);
        assert_eq!(
            near[0].confidence,
            confidence_from_distance(near[0].distance)
        );
        assert_eq!(g.nearest_subjects(&d(0.0), 10).len(), 3);
        assert!(
            Gallery::<&str>::new()
                .nearest_subjects(&d(0.0), 3)
                .is_empty()
        );
    }

    #[test]
    fn half_precision_scan_returns_the_exact_nearest() {
        let mut g = Gallery::new();
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        };
        let rows: Vec<Descriptor> = (0..2000)
            .map(|_| Descriptor(std::array::from_fn(|_| next() * 0.3)))
            .collect();
        for (i, r) in rows.iter().enumerate() {
            g.insert(i, *r);
        }
        for _ in 0..50 {
            let q = Descriptor(std::array::from_fn(|_| next() * 0.3));
            let (bi, bd) = rows
                .iter()
                .enumerate()
                .map(|(i, r)| (i, q.distance(r)))
                .min_by(|a, b| a.1.total_cmp(&b.1))
                .expect("rows");
            let m = g.best_match(&q).expect("match");
            assert_eq!(m.subject, bi);
            assert!((m.distance - bd).abs() < 1e-6);
        }
    }

    #[test]
    fn thresholds_classify() {
        let t = Thresholds::default();
        assert_eq!(t.classify(0.9), MatchClass::High);
        assert_eq!(t.classify(0.7), MatchClass::Medium);
        assert_eq!(t.classify(0.1), MatchClass::Unknown);
    }

    #[test]
    fn nearest_wins_and_remove_works() {
        let mut g = Gallery::new();
        assert!(g.best_match(&d(0.0)).is_none());
        g.insert("a", d(1.0));
        g.insert("a", d(0.2));
        g.insert("b", d(0.5));
        assert_eq!(g.len(), 3);
        assert_eq!(g.subject_count(), 2);
        let m = g.best_match(&d(0.1)).expect("match");
        assert_eq!(m.subject, "a");
        assert!((m.distance - 0.1).abs() < 1e-6);
        assert_eq!(g.remove(&"a"), 2);
        assert_eq!(g.len(), 1);
        assert_eq!(g.best_match(&d(0.1)).expect("m").subject, "b");
        assert_eq!(g.remove(&"zzz"), 0);
        g.insert("c", d(-1.0));
        let many = g.best_matches(&[d(0.4), d(-0.9)]);
        assert_eq!(many.len(), 2);
        assert_eq!(many[0].as_ref().expect("m").subject, "b");
        assert_eq!(many[1].as_ref().expect("m").subject, "c");
        assert_eq!(many[0], g.best_match(&d(0.4)));
        assert!(Gallery::<u8>::new().best_matches(&[d(0.0)])[0].is_none());
    }
}
