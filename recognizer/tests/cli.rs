//! `cavs-recognize` end to end (requirement 4).

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_cavs-recognize");
const DEV: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/faces/dev/");

#[test]
fn json_lines_errors_and_exit_codes() {
    let good = format!("{DEV}obama/obama-240p.jpg");
    let dir = std::env::temp_dir().join(format!("cavs-recognize-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp");
    let bad = dir.join("not-an-image.jpg");
    std::fs::write(&bad, b"definitely not a jpeg").expect("write");
    let empty = dir.join("empty.png");
    std::fs::write(&empty, b"").expect("write");

    let out = Command::new(BIN)
        .args([
            good.as_str(),
            bad.to_str().expect("p"),
            empty.to_str().expect("p"),
            "--json",
        ])
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).expect("utf8");
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["image"], good.as_str());
    assert!(lines[0]["error"].is_null());
    let faces = lines[0]["faces"].as_array().expect("faces");
    assert_eq!(faces.len(), 1);
    assert_eq!(faces[0]["box"].as_array().expect("box").len(), 4);
    assert_eq!(faces[0]["landmarks"].as_array().expect("lm").len(), 68);
    assert_eq!(faces[0]["descriptor"].as_array().expect("d").len(), 128);
    assert!(faces[0]["score"].as_f64().expect("score") > 0.5);
    for l in &lines[1..] {
        assert!(l["error"].is_string(), "{l}");
        assert_eq!(l["faces"].as_array().expect("faces").len(), 0);
    }

    // Every image failed: non-zero exit.
    let out = Command::new(BIN)
        .args([bad.to_str().expect("p"), "--json"])
        .output()
        .expect("run");
    assert!(!out.status.success());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn compare_same_and_different() {
    let run = |a: &str, b: &str| {
        let out = Command::new(BIN)
            .args(["compare", &format!("{DEV}{a}"), &format!("{DEV}{b}")])
            .output()
            .expect("run");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf8")
    };
    let same = run("obama/obama-480p.jpg", "obama/obama2.jpg");
    assert!(
        same.contains("distance") && same.trim_end().ends_with("same"),
        "{same}"
    );
    let diff = run("obama/obama-480p.jpg", "biden/biden.jpg");
    assert!(diff.trim_end().ends_with("different"), "{diff}");
}
