//! Quick single-thread timing (minimum of N runs, robust on a shared machine):
//! `cargo run --release -p cavs-recognizer --example timing`. The criterion bench is the
//! reference measurement; this gives the best-case figures in a few seconds.

use cavs_recognizer::multiscale::{FineDetector, PassSettings, detect_fine};
use cavs_recognizer::nets::recognition;
use cavs_recognizer::scan;
use cavs_recognizer::{DecodeLimits, DetectorKind, Recognizer, RecognizerConfig, decode_file};
use std::time::Instant;

fn min_ms<F: FnMut()>(n: usize, mut f: F) -> f64 {
    f();
    (0..n)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64() * 1e3
        })
        .fold(f64::INFINITY, f64::min)
}

fn main() {
    let rec = Recognizer::new(RecognizerConfig::default()).unwrap();
    // A 1080p frame's fine level (scale 0.6): one fully convolutional pass, two heads.
    let (gw, gh) = (1152, 672);
    let grid_input = vec![0.1f32; 3 * gw * gh];
    println!(
        "SSD fine pass {gw}x{gh}, 2 heads: {:.1} ms",
        min_ms(5, || {
            rec.nets().ssd.forward_grid(&grid_input, gh, gw, 2).unwrap();
        })
    );
    // An optional frame (e.g. a make_scenes.py classroom): the whole analysis.
    if let Some(path) = std::env::args().nth(1) {
        let frame = decode_file(&path, &DecodeLimits::default()).unwrap();
        println!(
            "analyze {path}: {:.1} ms",
            min_ms(3, || {
                rec.analyze(&frame).unwrap();
            })
        );
        println!(
            "  level 0 (face-api pass): {:.1} ms",
            min_ms(3, || {
                rec.detect_with(&frame, DetectorKind::Ssd).unwrap();
            })
        );
        let rgb = frame.to_rgb8();
        let c = rec.config();
        let plan = scan::plan(rgb.width(), rgb.height(), c.scan, &rec.scan_limits());
        let settings = PassSettings {
            min_confidence: c.min_confidence,
            nms_iou: c.nms_iou,
            max_faces: c.max_faces,
        };
        for level in &plan.fine {
            println!(
                "  level x{:.2} ({} window(s), {} heads): {:.1} ms",
                level.scale,
                level.windows.len(),
                level.heads,
                min_ms(3, || {
                    detect_fine(FineDetector::Ssd(rec.nets().ssd), &rgb, level, &settings).unwrap();
                })
            );
        }
        let dets = rec.detect(&frame).unwrap();
        println!(
            "  landmarks + descriptors of {} faces: {:.1} ms",
            dets.len(),
            min_ms(3, || {
                rec.embed_faces(&frame, &dets).unwrap();
            })
        );
    }
    let img = decode_file(
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../shared/faces/dev/_group/faceapi_sample1.jpg"
        ),
        &DecodeLimits::default(),
    )
    .unwrap()
    .resize_exact(640, 480, image::imageops::FilterType::Triangle);
    println!(
        "SSD detect 640x480: {:.1} ms",
        min_ms(8, || {
            rec.detect_with(&img, DetectorKind::Ssd).unwrap();
        })
    );
    println!(
        "tiny detect 640x480: {:.1} ms",
        min_ms(8, || {
            rec.detect_with(&img, DetectorKind::Tiny).unwrap();
        })
    );
    let d = rec.detect(&img).unwrap();
    let one = vec![d[0]];
    let eight: Vec<_> = d.iter().cycle().take(8).copied().collect();
    println!(
        "landmarks+descriptor batch 1: {:.1} ms/face",
        min_ms(8, || {
            rec.embed_faces(&img, &one).unwrap();
        })
    );
    println!(
        "landmarks+descriptor batch 8: {:.1} ms/face",
        min_ms(5, || {
            rec.embed_faces(&img, &eight).unwrap();
        }) / 8.0
    );
    let n = recognition::INPUT_SIZE;
    let input = vec![0.1f32; 3 * n * n];
    println!(
        "recognition net alone, batch 1: {:.1} ms",
        min_ms(8, || {
            rec.nets().recognition.forward(input.clone(), 1).unwrap();
        })
    );
    let faces = rec.embed_faces(&img, &one).unwrap();
    let crops = vec![faces[0].crop.clone()];
    println!(
        "recognition net on a real face crop (embed_crops), batch 1: {:.1} ms",
        min_ms(8, || {
            rec.embed_crops(&crops).unwrap();
        })
    );
}
