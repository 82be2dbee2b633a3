//! Layer-level parity with the original TensorFlow.js implementation: the golden tensors in
//! `shared/faces/reference/golden/` (face-api's own intermediate tensors for
//! `_group/faceapi_sample1.jpg`) fed through each network.

use cavs_recognizer::detect::decode_ssd_raw;
use cavs_recognizer::preprocess::{FACE_MEAN, HwcF32, Normalize, TINY_MEAN, prepare_input};
use cavs_recognizer::{Recognizer, RecognizerConfig};

const GOLDEN: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/faces/reference/golden/"
);

fn read_f32(name: &str) -> Vec<f32> {
    let bytes = std::fs::read(format!("{GOLDEN}{name}")).expect("golden file");
    bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

/// NHWC (batch 1) -> CHW, with normalisation.
fn to_chw(v: &[f32], side: usize, f: impl Fn(f32, usize) -> f32) -> Vec<f32> {
    let mut out = vec![0f32; v.len()];
    for i in 0..side * side {
        for c in 0..3 {
            out[c * side * side + i] = f(v[i * 3 + c], c);
        }
    }
    out
}

fn max_abs(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

fn recognizer() -> Recognizer {
    Recognizer::new(RecognizerConfig::default()).expect("recognizer")
}

#[test]
fn golden_layers_match_tfjs() {
    let rec = recognizer();
    let nets = rec.nets();

    // (b) recognition net: golden 150x150 input -> descriptor
    let x = read_f32("recognition_input_150.f32");
    let input = to_chw(&x, 150, |v, c| (v - FACE_MEAN[c]) / 255.0);
    let desc = nets.recognition.forward(input, 1).expect("forward");
    let want = read_f32("descriptor_128.f32");
    let l2: f32 = desc[0]
        .iter()
        .zip(&want)
        .map(|(a, b)| (a - b) * (a - b))
        .sum::<f32>()
        .sqrt();
    println!(
        "descriptor L2 vs tfjs: {l2:e}, max abs {:e}",
        max_abs(&desc[0], &want)
    );
    assert!(l2 < 1e-4, "descriptor L2 {l2}");

    // (c) landmark net: golden 112x112 input -> 136 raw outputs
    let x = read_f32("landmark_input_112.f32");
    let input = to_chw(&x, 112, |v, c| (v - FACE_MEAN[c]) / 255.0);
    let lm = nets.landmarks.forward(input, 1).expect("forward");
    let want = read_f32("landmark68_raw_output_136.f32");
    let d = max_abs(&lm[0], &want);
    println!("landmark raw max abs vs tfjs: {d:e}");
    assert!(d < 1e-4, "landmarks {d}");

    // (e) tiny detector raw output
    let x = read_f32("tiny_input_416.f32");
    let input = to_chw(&x, 416, |v, c| (v - TINY_MEAN[c]) / 255.0);
    let out = nets.tiny.forward(input, 416).expect("forward");
    let want = read_f32("tiny_output_13x13x25.f32");
    let d = max_abs(&out, &want);
    println!("tiny output max abs vs tfjs: {d:e}");
    assert!(d < 2e-3, "tiny {d}");

    // (f) SSD decoded boxes and scores
    let x = read_f32("ssd_input_512.f32");
    let input = to_chw(&x, 512, |v, _| v / 127.5 - 1.0);
    let raw = nets.ssd.forward(input).expect("forward");
    let (boxes, scores) = decode_ssd_raw(&raw, &nets.ssd.anchors);
    let boxes: Vec<f32> = boxes.iter().flat_map(|b| b.map(|v| v as f32)).collect();
    let scores: Vec<f32> = scores.iter().map(|v| *v as f32).collect();
    let db = max_abs(&boxes, &read_f32("ssd_boxes_5118x4.f32"));
    let ds = max_abs(&scores, &read_f32("ssd_scores_5118.f32"));
    println!("ssd boxes max abs {db:e}, scores max abs {ds:e}");
    assert!(db < 1e-4 && ds < 1e-4, "ssd {db} {ds}");
}

#[test]
fn golden_preprocessing_matches_tfjs() {
    for (crop, shape, input, size) in [
        (
            "recognition_crop_rgb.f32",
            (212, 212),
            "recognition_input_150.f32",
            150,
        ),
        (
            "landmark_crop_rgb.f32",
            (177, 239),
            "landmark_input_112.f32",
            112,
        ),
    ] {
        let data = read_f32(crop);
        let src = HwcF32 {
            data: &data,
            width: shape.0,
            height: shape.1,
        };
        let mut out = vec![0f32; 3 * size * size];
        prepare_input(&src, size, true, Normalize::Raw, &mut out);
        let want = to_chw(&read_f32(input), size, |v, _| v);
        let d = max_abs(&out, &want);
        println!("{input}: max abs {d:e}");
        assert!(d < 1e-3, "{input}: {d}");
    }
}
