//! End-to-end parity with the original face-api on real photos (requirements 2 and 7).

use std::collections::HashMap;
use std::path::Path;

use cavs_recognizer::parity::{load_reference, reference_key, run_png_parity};
use cavs_recognizer::{
    DecodeLimits, DetectorKind, FaceAnalysis, Gallery, Recognizer, RecognizerConfig, decode_file,
};

const FACES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/faces/");

#[test]
fn png_parity_subset_both_detectors() {
    let reference =
        load_reference(Path::new(&format!("{FACES}reference/dev-png.json"))).expect("reference");
    let subset = [
        "_group__faceapi_sample1.png",
        "_group__kit_with_rose.png",
        "obama__obama_partial_face.png",
        "obama__obama-240p.png",
    ];
    for (kind, config) in [
        (DetectorKind::Ssd, RecognizerConfig::default()),
        (DetectorKind::Tiny, RecognizerConfig::tiny()),
    ] {
        let rec = Recognizer::new(config).expect("recognizer");
        let r = run_png_parity(
            &rec,
            kind,
            &reference,
            Path::new(&format!("{FACES}reference/png")),
            Some(&subset),
        )
        .expect("parity");
        println!(
            "{}: {} faces, missed {}, L2 median {:e} max {:e}, IoU min {}, landmarks max {} px",
            r.detector,
            r.reference_faces,
            r.missed,
            r.descriptor_l2_median,
            r.descriptor_l2_max,
            r.iou_min,
            r.landmark_mean_px_max
        );
        assert_eq!(r.images, subset.len());
        assert!(r.reference_faces >= 5);
        assert_eq!(r.missed, 0, "{}", r.detector);
        assert_eq!(r.our_faces, r.reference_faces, "{}", r.detector);
        assert!(
            r.descriptor_l2_median <= 0.02 && r.descriptor_l2_max <= 0.05,
            "{r:?}"
        );
        assert!(r.iou_min >= 0.9, "{r:?}");
        assert!(r.landmark_mean_px_max <= 2.0, "{r:?}");
    }
}

fn largest(faces: &[FaceAnalysis]) -> Option<&FaceAnalysis> {
    faces
        .iter()
        .max_by(|a, b| a.detection.bbox.area().total_cmp(&b.detection.bbox.area()))
}

/// Identification accuracy with one enrolled photo per identity (the first in manifest
/// order), every other photo of that identity matched against the gallery (largest face,
/// accepted when the distance is below 0.6). Returns (correct, total).
fn identification(descs: &[(String, Option<[f32; 128]>)]) -> (usize, usize) {
    let mut gallery = Gallery::new();
    let mut enrolled: HashMap<&str, bool> = HashMap::new();
    let mut queries = Vec::new();
    for (id, d) in descs {
        if !enrolled.contains_key(id.as_str()) {
            if let Some(d) = d {
                gallery.insert(id.clone(), cavs_recognizer::Descriptor(*d));
                enrolled.insert(id, true);
            }
        } else {
            queries.push((id, d));
        }
    }
    let correct = queries
        .iter()
        .filter(|(id, d)| {
            d.and_then(|d| gallery.best_match(&cavs_recognizer::Descriptor(d)))
                .is_some_and(|m| &m.subject == *id && m.distance < 0.6)
        })
        .count();
    (correct, queries.len())
}

#[test]
fn dev_photos_recall_and_identification_match_reference() {
    let manifest = std::fs::read_to_string(format!("{FACES}dev/manifest.csv")).expect("manifest");
    let rows: Vec<(String, String)> = manifest
        .lines()
        .skip(1)
        .filter_map(|l| {
            let mut it = l.split(',');
            Some((it.next()?.to_string(), it.next()?.to_string()))
        })
        .collect();
    let reference =
        load_reference(Path::new(&format!("{FACES}reference/dev.json"))).expect("reference");
    assert_eq!(reference.results.len(), rows.len());
    let rec = Recognizer::new(RecognizerConfig::default()).expect("recognizer");
    // The reference decodes pixels in stored order (no EXIF rotation).
    let limits = DecodeLimits {
        apply_orientation: false,
        ..DecodeLimits::default()
    };
    let mut ours = Vec::new();
    let mut theirs = Vec::new();
    let mut missed = Vec::new();
    for ((path, id), r) in rows.iter().zip(&reference.results) {
        assert!(path.ends_with(&r.image), "{path} vs {}", r.image);
        let img = decode_file(format!("{FACES}dev/{path}"), &limits).expect("decode");
        let faces = rec.analyze(&img).expect("analyze");
        let ref_faces = &r.detectors[reference_key(DetectorKind::Ssd)].faces;
        for f in ref_faces {
            let b = f.bounding_box();
            if !faces.iter().any(|o| o.detection.bbox.iou(&b) >= 0.5) {
                missed.push(path.clone());
            }
        }
        if id.starts_with('_') {
            continue;
        }
        ours.push((id.clone(), largest(&faces).map(|f| f.descriptor.0)));
        let best_ref = ref_faces
            .iter()
            .max_by(|a, b| a.bounding_box().area().total_cmp(&b.bounding_box().area()));
        theirs.push((
            id.clone(),
            best_ref.and_then(|f| f.descriptor.as_slice().try_into().ok()),
        ));
    }
    assert!(missed.is_empty(), "reference faces not found: {missed:?}");
    let (ok_ours, n) = identification(&ours);
    let (ok_ref, n_ref) = identification(&theirs);
    println!("identification: ours {ok_ours}/{n}, reference {ok_ref}/{n_ref}");
    assert_eq!(n, n_ref);
    assert!(n >= 15);
    assert!(
        ok_ours >= ok_ref,
        "ours {ok_ours}/{n} < reference {ok_ref}/{n}"
    );
}
