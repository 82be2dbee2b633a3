//! The whole classroom: the synthetic 1080p (and 2× scaled 4K) classroom frames of
//! `shared/faces/classroom`, built by its `make_scenes.py`, run through the real
//! `cavs-recognize --json` and scored by its `score.py` — the README's commands — plus the
//! real group photos against the original's detections. Needs `python3` with Pillow (the
//! README's set-up installs it).

use std::path::{Path, PathBuf};
use std::process::Command;

use cavs_recognizer::{BoundingBox, DecodeLimits, Recognizer, RecognizerConfig, decode_file};
use serde_json::Value;

const SHARED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/faces/");
const RECOGNIZE: &str = env!("CARGO_BIN_EXE_cavs-recognize");

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().expect("command starts");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// `make_scenes.py OUT`: enroll photos, three 1080p frames and their truth file.
fn make_scenes(out: &Path) {
    run(Command::new("python3")
        .arg(format!("{SHARED}classroom/make_scenes.py"))
        .arg(out));
}

fn pngs(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension().is_some_and(|e| e == "png")
                && p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(prefix))
        })
        .collect();
    v.sort();
    v
}

/// `cavs-recognize IMAGES --json` into `out`; returns its lines.
fn recognize(images: &[PathBuf], out: &Path) -> Vec<Value> {
    let stdout = run(Command::new(RECOGNIZE).args(images).arg("--json"));
    std::fs::write(out, &stdout).expect("write jsonl");
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect()
}

fn score(enroll: &Path, scenes: &Path, truth: &Path) -> Value {
    let stdout = run(Command::new("python3")
        .arg(format!("{SHARED}classroom/score.py"))
        .args([enroll, scenes, truth]));
    serde_json::from_str(stdout.trim()).expect("score.py prints JSON")
}

fn bbox(face: &Value) -> BoundingBox {
    let b: Vec<f32> = face["box"]
        .as_array()
        .expect("box")
        .iter()
        .map(|v| v.as_f64().unwrap_or(0.0) as f32)
        .collect();
    BoundingBox {
        x: b[0],
        y: b[1],
        width: b[2],
        height: b[3],
    }
}

/// Detections that are not a seated student: centre in no seat, or a second box in a seat.
fn false_detections(lines: &[Value], truth: &Value) -> Vec<(String, usize)> {
    lines
        .iter()
        .map(|line| {
            let name = Path::new(line["image"].as_str().unwrap_or_default())
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or_default()
                .to_owned();
            let seats = truth[&name].as_array().cloned().unwrap_or_default();
            let mut per_seat = vec![0usize; seats.len()];
            let mut stray = 0;
            for face in line["faces"].as_array().into_iter().flatten() {
                let b = bbox(face);
                let (cx, cy) = (
                    f64::from(b.x + b.width / 2.0),
                    f64::from(b.y + b.height / 2.0),
                );
                let seat = seats.iter().position(|s| {
                    let r: Vec<f64> = (2..6).map(|i| s[i].as_f64().unwrap_or(0.0)).collect();
                    cx >= r[0] && cx <= r[0] + r[2] && cy >= r[1] && cy <= r[1] + r[3]
                });
                match seat {
                    Some(i) => per_seat[i] += 1,
                    None => stray += 1,
                }
            }
            let doubles: usize = per_seat.iter().map(|n| n.saturating_sub(1)).sum();
            (name, stray + doubles)
        })
        .collect()
}

/// Asserts the bar on every frame: ≥ 15 of 16 found and named, no wrong name, at
/// most one false detection.
fn assert_classroom(label: &str, scores: &Value, false_dets: &[(String, usize)]) {
    println!("{label}: {scores} false detections {false_dets:?}");
    for scene in ["scene_1", "scene_2", "scene_3"] {
        let s = &scores[scene];
        let students = s["students"].as_u64().expect("students");
        assert_eq!(students, 16, "{label} {scene}");
        assert!(s["found"].as_u64() >= Some(15), "{label} {scene}: {s}");
        assert!(s["named"].as_u64() >= Some(15), "{label} {scene}: {s}");
        assert_eq!(s["wrong"].as_u64(), Some(0), "{label} {scene}: {s}");
    }
    for (scene, n) in false_dets {
        assert!(*n <= 1, "{label} {scene}: {n} false detections");
    }
}

#[test]
fn classroom_frames_at_every_distance_in_1080p_and_4k() {
    let dir = tempfile::tempdir().expect("tempdir");
    let scenes = dir.path().join("scenes");
    make_scenes(&scenes);
    let enroll = dir.path().join("enroll.jsonl");
    let enrolled = recognize(&pngs(&scenes.join("enroll"), ""), &enroll);
    assert_eq!(enrolled.len(), 8);

    let hd = dir.path().join("scenes.jsonl");
    let lines = recognize(&pngs(&scenes, "scene_"), &hd);
    let truth: Value =
        serde_json::from_str(&std::fs::read_to_string(scenes.join("truth.json")).expect("truth"))
            .expect("truth json");
    let scores = score(&enroll, &hd, &scenes.join("truth.json"));
    assert_eq!(scores["enrolled"], 8);
    assert_classroom("1080p", &scores, &false_detections(&lines, &truth));

    // The same frames at 3840×2160 (faces twice as large, four times the pixels).
    let uhd_dir = dir.path().join("uhd");
    std::fs::create_dir_all(&uhd_dir).expect("mkdir");
    for path in pngs(&scenes, "scene_") {
        let img = image::open(&path).expect("scene");
        img.resize_exact(3840, 2160, image::imageops::FilterType::Triangle)
            .save(uhd_dir.join(path.file_name().expect("name")))
            .expect("save");
    }
    let mut uhd_truth = serde_json::Map::new();
    for (scene, seats) in truth.as_object().expect("truth object") {
        let doubled: Vec<Value> = seats
            .as_array()
            .expect("seats")
            .iter()
            .map(|s| {
                let mut s = s.as_array().expect("seat").clone();
                for v in s.iter_mut().skip(2) {
                    *v = Value::from(v.as_f64().unwrap_or(0.0) * 2.0);
                }
                Value::Array(s)
            })
            .collect();
        uhd_truth.insert(scene.clone(), Value::Array(doubled));
    }
    let uhd_truth = Value::Object(uhd_truth);
    let truth_path = uhd_dir.join("truth.json");
    std::fs::write(&truth_path, uhd_truth.to_string()).expect("write truth");
    let uhd = dir.path().join("uhd.jsonl");
    let lines = recognize(&pngs(&uhd_dir, "scene_"), &uhd);
    let scores = score(&enroll, &uhd, &truth_path);
    assert_classroom("4K", &scores, &false_detections(&lines, &uhd_truth));
}

#[test]
fn group_photos_keep_every_face_the_original_finds() {
    let rec = Recognizer::new(RecognizerConfig::default()).expect("recognizer");
    let single = Recognizer::new(RecognizerConfig {
        scan: cavs_recognizer::ScanMode::Single,
        ..RecognizerConfig::default()
    })
    .expect("recognizer");
    let reference: Value = serde_json::from_str(
        &std::fs::read_to_string(format!("{SHARED}reference/dev.json")).expect("reference"),
    )
    .expect("reference json");
    // face-api ignores EXIF orientation; so does the comparison.
    let limits = DecodeLimits {
        apply_orientation: false,
        ..DecodeLimits::default()
    };
    let mut checked = 0;
    for entry in reference["results"].as_array().expect("results") {
        let image = entry["image"].as_str().unwrap_or_default();
        let path = format!("{SHARED}dev/_group/{image}");
        if !Path::new(&path).exists() {
            continue;
        }
        let img = decode_file(&path, &limits).expect("photo");
        let ours = rec.analyze(&img).expect("analyze");
        for face in entry["detectors"]["ssd_mobilenetv1"]["faces"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let theirs = bbox(face);
            let best = ours
                .iter()
                .map(|f| f.detection.bbox.iou(&theirs))
                .fold(0.0f32, f32::max);
            assert!(
                best >= 0.9,
                "{image}: original's face {theirs:?} lost ({best})"
            );
            checked += 1;
        }
    }
    assert!(checked >= 28, "only {checked} reference faces checked");
    // multiface.jpg has no reference file: the single pass is the original's (parity-tested).
    let img = decode_file(format!("{SHARED}more/multiface.jpg"), &limits).expect("photo");
    let ours = rec.analyze(&img).expect("analyze");
    let original = single.analyze(&img).expect("analyze");
    assert!(!original.is_empty());
    for face in &original {
        let best = ours
            .iter()
            .map(|f| f.detection.bbox.iou(&face.detection.bbox))
            .fold(0.0f32, f32::max);
        assert!(
            best >= 0.9,
            "multiface: face {:?} lost",
            face.detection.bbox
        );
    }
}
