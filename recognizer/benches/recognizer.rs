//! `cargo bench -p cavs-recognizer`: detection on a 640×480 frame (both detectors),
//! landmarks + descriptor per face at batch 1 and 8, the bare networks (for GFLOP/s), and
//! gallery matching against 50 000 descriptors.

use std::hint::black_box;
use std::time::Duration;

use cavs_recognizer::nets::{landmarks, recognition, ssd, tiny};
use cavs_recognizer::{
    DecodeLimits, Descriptor, DetectorKind, Gallery, Recognizer, RecognizerConfig, decode_file,
};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const PHOTO: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/faces/dev/_group/faceapi_sample1.jpg"
);

fn frame() -> image::DynamicImage {
    let img = decode_file(PHOTO, &DecodeLimits::default()).expect("photo");
    img.resize_exact(640, 480, image::imageops::FilterType::Triangle)
}

fn bench(c: &mut Criterion) {
    let rec = Recognizer::new(RecognizerConfig::default()).expect("recognizer");
    let img = frame();

    let mut g = c.benchmark_group("detect_640x480");
    g.sample_size(10).measurement_time(Duration::from_secs(8));
    g.bench_function("ssd", |b| {
        b.iter(|| black_box(rec.detect_with(&img, DetectorKind::Ssd).expect("d")))
    });
    g.bench_function("tiny_416", |b| {
        b.iter(|| black_box(rec.detect_with(&img, DetectorKind::Tiny).expect("d")))
    });
    g.finish();

    let dets = rec.detect(&img).expect("detect");
    assert!(!dets.is_empty(), "no face in the benchmark frame");
    let mut g = c.benchmark_group("landmarks_descriptor");
    g.sample_size(10).measurement_time(Duration::from_secs(8));
    for batch in [1usize, 8] {
        let many: Vec<_> = dets.iter().cycle().take(batch).copied().collect();
        g.throughput(Throughput::Elements(batch as u64));
        g.bench_function(format!("batch_{batch}"), |b| {
            b.iter(|| black_box(rec.embed_faces(&img, &many).expect("embed")))
        });
    }
    g.finish();

    // Bare networks on fixed inputs: divide the MACs by the time for GFLOP/s (2 FLOP per MAC).
    let nets = rec.nets();
    let mut g = c.benchmark_group("nets");
    g.sample_size(10).measurement_time(Duration::from_secs(6));
    let n = recognition::INPUT_SIZE;
    for batch in [1usize, 8] {
        let input = vec![0.1f32; batch * 3 * n * n];
        g.throughput(Throughput::Elements(batch as u64));
        g.bench_function(format!("recognition_b{batch}"), |b| {
            b.iter(|| black_box(nets.recognition.forward(input.clone(), batch).expect("f")))
        });
    }
    let n = landmarks::INPUT_SIZE;
    for batch in [1usize, 8] {
        let input = vec![0.1f32; batch * 3 * n * n];
        g.throughput(Throughput::Elements(batch as u64));
        g.bench_function(format!("landmarks_b{batch}"), |b| {
            b.iter(|| black_box(nets.landmarks.forward(input.clone(), batch).expect("f")))
        });
    }
    g.throughput(Throughput::Elements(1));
    let n = ssd::INPUT_SIZE;
    let input = vec![0.1f32; 3 * n * n];
    g.bench_function("ssd_512", |b| {
        b.iter(|| black_box(nets.ssd.forward(input.clone()).expect("f")))
    });
    let input = vec![0.1f32; 3 * 416 * 416];
    g.bench_function("tiny_416", |b| {
        b.iter(|| black_box(nets.tiny.forward(input.clone(), 416).expect("f")))
    });
    g.finish();
    eprintln!(
        "MACs: ssd {:.1} M, tiny@416 {:.1} M, landmarks {:.2} M, recognition {:.2} M",
        ssd::MACS / 1e6,
        tiny::macs(416) / 1e6,
        landmarks::MACS / 1e6,
        recognition::MACS / 1e6
    );

    // Matching against 50 000 enrolled descriptors (5 per subject).
    let mut gallery = Gallery::new();
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5
    };
    for i in 0..50_000u32 {
        let d: [f32; 128] = std::array::from_fn(|_| next() * 0.25);
        gallery.insert(i / 5, Descriptor(d));
    }
    let query = Descriptor(std::array::from_fn(|_| next() * 0.25));
    let mut g = c.benchmark_group("gallery");
    g.sample_size(30);
    g.bench_function("best_match_50000", |b| {
        b.iter(|| black_box(gallery.best_match(&query)))
    });
    let queries: Vec<Descriptor> = (0..8)
        .map(|_| Descriptor(std::array::from_fn(|_| next() * 0.25)))
        .collect();
    g.throughput(Throughput::Elements(8));
    g.bench_function("best_matches_8_faces_50000", |b| {
        b.iter(|| black_box(gallery.best_matches(&queries)))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
