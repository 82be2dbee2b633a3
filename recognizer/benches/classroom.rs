//! `cargo bench -p cavs-recognizer --bench classroom`: the whole classroom on one core. The
//! three 1080p frames of `shared/faces/classroom/make_scenes.py` (16 students each, near /
//! middle / far; needs python3 with Pillow) sent as JPEG (quality 85, as the agent does):
//! decode + multi-scale detection + landmarks + descriptors end to end, then each stage
//! alone (the face-api pass, each finer level of the scan, the 16 faces' landmarks and
//! descriptors). The multiply-adds of every level are printed for GFLOP/s.

use std::hint::black_box;
use std::time::Duration;

use cavs_recognizer::multiscale::{FineDetector, PassSettings, detect_fine};
use cavs_recognizer::nets::{landmarks, recognition, ssd};
use cavs_recognizer::{DecodeLimits, DetectorKind, Recognizer, RecognizerConfig, decode_image};
use criterion::{Criterion, criterion_group, criterion_main};

fn scenes() -> Vec<Vec<u8>> {
    let dir = tempfile::tempdir().expect("tempdir");
    let status = std::process::Command::new("python3")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../shared/faces/classroom/make_scenes.py"
        ))
        .arg(dir.path())
        .status()
        .expect("python3 runs");
    assert!(
        status.success(),
        "make_scenes.py failed (is Pillow installed?)"
    );
    (1..=3)
        .map(|n| {
            let img = image::open(dir.path().join(format!("scene_{n}.png"))).expect("scene");
            let mut jpeg = std::io::Cursor::new(Vec::new());
            image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 85)
                .encode_image(&img.to_rgb8())
                .expect("jpeg");
            jpeg.into_inner()
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let rec = Recognizer::new(RecognizerConfig::default()).expect("recognizer");
    let frames = scenes();
    let limits = DecodeLimits::default();

    let mut g = c.benchmark_group("classroom_1080p");
    g.sample_size(10).measurement_time(Duration::from_secs(20));
    for (i, jpeg) in frames.iter().enumerate() {
        let faces = rec
            .analyze(&decode_image(jpeg, &limits).expect("decode"))
            .expect("analyze")
            .len();
        eprintln!("scene_{}: {faces} faces", i + 1);
        g.bench_function(format!("end_to_end_scene_{}", i + 1), |b| {
            b.iter(|| {
                let img = decode_image(black_box(jpeg), &limits).expect("decode");
                black_box(rec.analyze(&img).expect("analyze"))
            })
        });
    }

    // Stages on the middle frame.
    let img = decode_image(&frames[1], &limits).expect("decode");
    let rgb = img.to_rgb8();
    g.bench_function("stage_decode_jpeg", |b| {
        b.iter(|| black_box(decode_image(black_box(&frames[1]), &limits).expect("decode")))
    });
    g.bench_function("stage_level0_faceapi_pass", |b| {
        b.iter(|| black_box(rec.detect_with(&img, DetectorKind::Ssd).expect("detect")))
    });
    let plan = cavs_recognizer::scan::plan(
        rgb.width(),
        rgb.height(),
        rec.config().scan,
        &rec.scan_limits(),
    );
    let settings = PassSettings {
        min_confidence: rec.config().min_confidence,
        nms_iou: rec.config().nms_iou,
        max_faces: rec.config().max_faces,
    };
    eprintln!("level 0: {:.0} M MACs", ssd::MACS / 1e6);
    for level in &plan.fine {
        let macs: f64 = level
            .windows
            .iter()
            .map(|w| {
                let (iw, ih) = w.input();
                ssd::grid_macs(ih, iw, 2)
            })
            .sum();
        eprintln!(
            "level x{:.3}: {} window(s) {:?}, {:.0} M MACs",
            level.scale,
            level.windows.len(),
            level.windows.iter().map(|w| w.input()).collect::<Vec<_>>(),
            macs / 1e6
        );
        g.bench_function(format!("stage_level_x{:.2}", level.scale), |b| {
            b.iter(|| {
                black_box(
                    detect_fine(FineDetector::Ssd(rec.nets().ssd), &rgb, level, &settings)
                        .expect("fine"),
                )
            })
        });
    }
    let dets = rec.detect(&img).expect("detect");
    eprintln!(
        "{} faces: landmarks {:.1} M + recognition {:.1} M MACs each",
        dets.len(),
        landmarks::MACS / 1e6,
        recognition::MACS / 1e6
    );
    g.bench_function(format!("stage_embed_{}_faces", dets.len()), |b| {
        b.iter(|| black_box(rec.embed_faces(&img, &dets).expect("embed")))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
