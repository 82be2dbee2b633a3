//! Research tool for the multi-scale scan: runs the fine-level detector at several scales
//! over a synthetic classroom frame and prints, per seat of its truth file, the best score
//! and box found at each scale (scores down to 0.05), so the scale range and thresholds in
//! `scan.rs` can be chosen from data.
//!
//! `cargo run --release -p cavs-recognizer --example scan_sweep -- SCENE.png TRUTH.json [ssd|tiny] [SCALE...]`

use cavs_recognizer::multiscale::{FineDetector, PassSettings, detect_fine};
use cavs_recognizer::scan::{FineLevel, split_windows};
use cavs_recognizer::{DecodeLimits, Recognizer, RecognizerConfig, decode_file};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [scene, truth, rest @ ..] = args.as_slice() else {
        anyhow::bail!("usage: scan_sweep SCENE.png TRUTH.json [ssd|tiny] [SCALE...]");
    };
    let tiny = rest.first().is_some_and(|d| d == "tiny");
    let scales: Vec<f64> = rest
        .iter()
        .filter_map(|s| s.parse().ok())
        .collect::<Vec<_>>();
    let scales = if scales.is_empty() {
        vec![0.267, 0.35, 0.45, 0.55, 0.67, 0.8, 1.0]
    } else {
        scales
    };
    let window_px: usize = std::env::var("SWEEP_WINDOW")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(usize::MAX);
    let rec = Recognizer::new(RecognizerConfig::default())?;
    let img = decode_file(scene, &DecodeLimits::default())?.to_rgb8();
    let key = std::path::Path::new(scene)
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default()
        .to_string();
    let truth: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(truth)?)?;
    let seats = truth[&key].as_array().cloned().unwrap_or_default();
    let nets = rec.nets();
    let det = if tiny {
        FineDetector::Tiny(nets.tiny)
    } else {
        FineDetector::Ssd(nets.ssd)
    };
    let settings = PassSettings {
        min_confidence: std::env::var("SWEEP_MIN")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.05),
        nms_iou: 0.5,
        max_faces: 1000,
    };
    let mut table: Vec<Vec<String>> = vec![Vec::new(); seats.len()];
    let mut extras = Vec::new();
    for &scale in &scales {
        let (w, h) = img.dimensions();
        let scaled = (
            (f64::from(w) * scale).round() as usize,
            (f64::from(h) * scale).round() as usize,
        );
        let fine = FineLevel {
            scale,
            scaled,
            windows: split_windows(scaled, 64, window_px),
            overlap: 64,
            heads: std::env::var("SWEEP_HEADS")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(2),
        };
        let mut ms = f64::INFINITY;
        let mut found = Vec::new();
        for _ in 0..3 {
            let started = std::time::Instant::now();
            found = detect_fine(det, &img, &fine, &settings)?;
            ms = ms.min(started.elapsed().as_secs_f64() * 1e3);
        }
        let mut used = vec![false; found.len()];
        for (seat, row) in seats.iter().zip(table.iter_mut()) {
            let r: Vec<f64> = (2..6).filter_map(|i| seat[i].as_f64()).collect();
            let mut best: Option<(f32, String)> = None;
            for (i, f) in found.iter().enumerate() {
                let b = f.detection.bbox;
                let (cx, cy) = (
                    f64::from(b.x + b.width / 2.0),
                    f64::from(b.y + b.height / 2.0),
                );
                if cx >= r[0] && cx <= r[0] + r[2] && cy >= r[1] && cy <= r[1] + r[3] {
                    used[i] = true;
                    if best.as_ref().is_none_or(|(s, _)| f.detection.score > *s) {
                        best = Some((
                            f.detection.score,
                            format!("{:.2}@{:.0}x{:.0}", f.detection.score, b.width, b.height),
                        ));
                    }
                }
            }
            row.push(best.map_or("-".into(), |b| b.1));
        }
        let strong: Vec<String> = found
            .iter()
            .zip(&used)
            .filter(|(f, u)| !**u && f.detection.score > 0.3)
            .map(|(f, _)| {
                let b = f.detection.bbox;
                format!(
                    "{:.2}@{:.0},{:.0},{:.0}x{:.0}",
                    f.detection.score, b.x, b.y, b.width, b.height
                )
            })
            .collect();
        extras.push(format!("scale {scale}: {ms:.0} ms, extras>0.3: {strong:?}"));
    }
    print!("{:<22} {:>8}", "seat", "rect");
    for s in &scales {
        print!(" {:>14}", format!("x{s}"));
    }
    println!();
    for (seat, row) in seats.iter().zip(&table) {
        print!(
            "{:<22} {:>8}",
            seat[0].as_str().unwrap_or("?"),
            format!("{}x{}", seat[4], seat[5])
        );
        for c in row {
            print!(" {c:>14}");
        }
        println!();
    }
    for e in extras {
        println!("{e}");
    }
    Ok(())
}
