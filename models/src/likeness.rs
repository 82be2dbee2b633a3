//! Grouping faces by likeness: unknown faces whose descriptors are close enough are taken to be
//! the same person, so a reviewer labels them in one action.
//!
//! Groups are the connected components of the graph that joins two faces at a euclidean
//! descriptor distance of at most the threshold (single linkage). The default,
//! [`GROUP_DISTANCE`], is stricter than the 0.6 that face-api treats as a match: two unknown
//! faces joined into a group are labelled together, so a false join costs more than a split.

/// Faces at most this far apart (euclidean, 128-D face-api descriptors) join one group.
pub const GROUP_DISTANCE: f32 = 0.5;

/// Euclidean distance between two descriptors (of equal length).
pub fn distance(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y) * (x - y))
        .sum::<f32>()
        .sqrt()
}

/// Groups `descriptors` by likeness (see the module): each group lists indices into
/// `descriptors` in ascending order; groups are ordered largest first, then by their first
/// index. Every index is in exactly one group (a face like no other is a group of one).
pub fn group_by_likeness(descriptors: &[Vec<f32>], threshold: f32) -> Vec<Vec<usize>> {
    let mut parent: Vec<usize> = (0..descriptors.len()).collect();
    fn root(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    for i in 0..descriptors.len() {
        for j in (i + 1)..descriptors.len() {
            if distance(&descriptors[i], &descriptors[j]) <= threshold {
                let (a, b) = (root(&mut parent, i), root(&mut parent, j));
                if a != b {
                    parent[a.max(b)] = a.min(b);
                }
            }
        }
    }
    let mut groups: std::collections::BTreeMap<usize, Vec<usize>> = Default::default();
    for i in 0..descriptors.len() {
        let r = root(&mut parent, i);
        groups.entry(r).or_default().push(i);
    }
    let mut groups: Vec<Vec<usize>> = groups.into_values().collect();
    groups.sort_by(|a, b| b.len().cmp(&a.len()).then(a[0].cmp(&b[0])));
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(x: f32) -> Vec<f32> {
        let mut d = vec![0.0; 128];
        d[0] = x;
        d
    }

    #[test]
    fn distance_is_euclidean() {
        let mut b = at(3.0);
        b[1] = 4.0;
        assert!((distance(&at(0.0), &b) - 5.0).abs() < 1e-6);
    }

    #[test]
    fn close_faces_join_and_far_faces_stay_apart() {
        let faces = vec![at(0.0), at(2.0), at(0.3), at(2.2), at(5.0)];
        assert_eq!(
            group_by_likeness(&faces, GROUP_DISTANCE),
            vec![vec![0, 2], vec![1, 3], vec![4]]
        );
    }

    #[test]
    fn a_chain_of_close_faces_is_one_group_even_when_its_ends_are_far() {
        let faces = vec![at(0.0), at(0.4), at(0.8), at(1.2)];
        assert_eq!(group_by_likeness(&faces, 0.45), vec![vec![0, 1, 2, 3]]);
    }

    #[test]
    fn the_threshold_is_inclusive_and_no_faces_make_no_groups() {
        assert_eq!(
            group_by_likeness(&[at(0.0), at(0.5)], 0.5),
            vec![vec![0, 1]]
        );
        assert!(group_by_likeness(&[], 0.5).is_empty());
    }
}
