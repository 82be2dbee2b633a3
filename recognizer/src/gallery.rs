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

/// Enrolled descriptors, several per subject, searched by brute force over a contiguous
/// array (50 000 descriptors ≈ 25 MB, well under 2 ms per query on one core).
#[derive(Debug, Clone)]
pub struct Gallery<K> {
    data: Vec<[f32; 128]>,
    owners: Vec<K>,
    counts: HashMap<K, usize>,
}

impl<K> Default for Gallery<K> {
    fn default() -> Self {
        Self {
            data: Vec::new(),
            owners: Vec::new(),
            counts: HashMap::new(),
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
        let mut best = f32::INFINITY;
        let mut idx = None;
        for (i, d) in self.data.iter().enumerate() {
            let s = squared_distance(&query.0, d);
            if s < best {
                best = s;
                idx = Some(i);
            }
        }
        let i = idx?;
        let distance = best.sqrt();
        Some(Match {
            subject: self.owners[i].clone(),
            distance,
            confidence: confidence_from_distance(distance),
        })
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
    }
}
