//! The web app in a real browser: Debian's headless Chromium, driven by `tests/web/app.test.mjs`
//! (playwright-core, installed by the README's set-up: `npm ci --prefix tests/web`), against
//! a real hub in this process whose records come from real photos through the recognition
//! pipeline. The script signs in as a teacher, sees a pending record's crop, approves,
//! reassigns, rejects by keyboard, bulk-approves, labels an unknown group and watches a new
//! record arrive live, checking the API after each step; then visits the admin views and the
//! phone layout, taking screenshots of the main views (`CAVS_SCREENSHOTS_DIR=$PWD/docs/screenshots`
//! refreshes the README's). This test then checks the store agrees.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use cavs_models::pipeline::CaptureRequest;
use cavs_models::{ReviewStatus, Role};
use cavs_tests::{TestHub, camera_frame, faces_dir};

const SECRET: &str = "cam-secret-web-app";
const PASSWORD: &str = "web-app-password";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("repository root")
        .to_path_buf()
}

fn more(name: &str, file: &str) -> PathBuf {
    faces_dir().join("../more").join(name).join(file)
}

/// Sends `photo` as a 640×480 camera frame of `device` through the hub's pipeline.
async fn capture(hub: &TestHub, device: &str, classroom: &str, photo: &Path) -> usize {
    let image = camera_frame(photo, 640, 480).expect("camera frame");
    let outcome = cavs_api::Pipeline::capture(
        &hub.hub.pipeline,
        CaptureRequest {
            device_id: device.into(),
            classroom_id: classroom.into(),
            captured_at: chrono::Utc::now(),
            image,
        },
    )
    .await
    .expect("captured");
    outcome.faces.len()
}

#[actix::test]
async fn teachers_review_attendance_in_a_real_browser() {
    let script = repo().join("tests/web/app.test.mjs");
    let playwright = repo().join("tests/web/node_modules/playwright-core");
    assert!(
        playwright.is_dir(),
        "playwright-core is missing: run `npm ci --prefix tests/web` (README, set-up)"
    );
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        Path::new(&chromium).exists(),
        "{chromium} is missing: `apt-get install chromium` (README, set-up)"
    );

    let hub = TestHub::start(|s| s.recognizer_workers = 2)
        .await
        .expect("hub starts");
    let dev = faces_dir();
    let students = [
        (
            "S-OBAMA",
            "Barack Obama",
            dev.join("obama/obama.jpg"),
            dev.join("obama/obama1.jpg"),
        ),
        (
            "S-BIDEN",
            "Joe Biden",
            dev.join("biden/biden.jpg"),
            dev.join("biden/biden2.jpg"),
        ),
        (
            "S-ALEX",
            "Alex Lacamoire",
            dev.join("alex_lacamoire/alex_lacamoire1.jpg"),
            dev.join("alex_lacamoire/img1.jpg"),
        ),
        (
            "S-KIT",
            "Kit Harington",
            dev.join("kit_harington/john1.jpeg"),
            dev.join("kit_harington/john2.jpeg"),
        ),
        (
            "S-PAUL",
            "Paul Rudd",
            more("paul_rudd", "paul_rudd_aligned.png"),
            more("paul_rudd", "paul_rudd_1.jpg"),
        ),
    ];
    for (number, name, enrolled, _) in &students {
        hub.enroll(number, name, std::slice::from_ref(enrolled))
            .await
            .expect("enroll");
    }
    let kate = hub
        .enroll(
            "S-KATE",
            "Kate Siegel",
            &[more("kate_siegel", "kate_siegel_aligned.png")],
        )
        .await
        .expect("enroll");
    hub.register_device("cam-1", "room-1", SECRET)
        .await
        .expect("device");
    hub.register_device("cam-2", "room-2", SECRET)
        .await
        .expect("device");
    hub.add_user("admin", PASSWORD, Role::Admin, &[])
        .await
        .expect("admin");
    hub.add_user("teacher", PASSWORD, Role::Teacher, &["room-1", "room-2"])
        .await
        .expect("teacher");

    for (_, _, _, seen) in &students {
        assert_eq!(
            capture(&hub, "cam-1", "room-1", seen).await,
            1,
            "{}",
            seen.display()
        );
    }
    // A child nobody enrolled, seen in both classrooms: one group of two unknown faces.
    let stranger = more("shea_whigham", "shea_whigham_1.jpg");
    assert_eq!(capture(&hub, "cam-1", "room-1", &stranger).await, 1);
    assert_eq!(capture(&hub, "cam-2", "room-2", &stranger).await, 1);
    let records = hub.records().await.expect("records");
    assert_eq!(
        records.len(),
        7,
        "one record per student and stranger: {records:?}"
    );
    assert_eq!(
        records
            .iter()
            .filter(|r| r.predicted_student_id.is_none())
            .count(),
        2,
        "{records:?}"
    );

    // The live capture's photo, written where the script can read it.
    let live = hub.data_dir.path().join("live-capture.jpg");
    std::fs::write(
        &live,
        camera_frame(&more("kate_siegel", "kate_siegel_1.jpg"), 640, 480).expect("frame"),
    )
    .expect("write");
    // Screenshots go to the data dir, or where `CAVS_SCREENSHOTS_DIR` says (the README's
    // screenshots: `CAVS_SCREENSHOTS_DIR=$PWD/docs/screenshots`).
    let screenshots = std::env::var_os("CAVS_SCREENSHOTS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| hub.data_dir.path().join("screenshots"));
    std::fs::create_dir_all(&screenshots).expect("screenshots dir");

    let mut child = std::process::Command::new("node")
        .arg(&script)
        .env("CAVS_URL", format!("http://{}", hub.hub.http_addr))
        .env("CAVS_TEACHER", "teacher")
        .env("CAVS_TEACHER_PASSWORD", PASSWORD)
        .env("CAVS_ADMIN", "admin")
        .env("CAVS_ADMIN_PASSWORD", PASSWORD)
        .env("CAVS_CAPTURE_DEVICE", "cam-1")
        .env("CAVS_CAPTURE_SECRET", SECRET)
        .env("CAVS_CAPTURE_IMAGE", &live)
        .env("CAVS_SCREENSHOTS", &screenshots)
        .env("CHROMIUM", &chromium)
        .current_dir(repo().join("tests/web"))
        .spawn()
        .expect("node runs (README set-up: Node 20)");
    let started = Instant::now();
    // The hub runs on this thread's runtime: wait without blocking it.
    let status = loop {
        if let Some(status) = child.try_wait().expect("node exit status") {
            break status;
        }
        if started.elapsed() > Duration::from_secs(300) {
            let _ = child.kill();
            panic!("the browser test did not finish within 5 minutes");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(status.success(), "the browser test failed: {status:?}");
    eprintln!("browser test took {:?}", started.elapsed());

    // The store agrees with what the script saw through the API.
    let records = hub.records().await.expect("records");
    let pending = records
        .iter()
        .filter(|r| r.review_status == ReviewStatus::Pending)
        .count();
    let unknown_left = records
        .iter()
        .filter(|r| r.predicted_student_id.is_none())
        .count();
    assert_eq!(
        unknown_left, 0,
        "the unknown group was labelled: {records:?}"
    );
    assert!(
        records
            .iter()
            .any(|r| r.predicted_student_id == Some(kate.id)),
        "the live capture became a record"
    );
    assert!(
        records
            .iter()
            .any(|r| r.review_status == ReviewStatus::Rejected),
        "a record was rejected by keyboard"
    );
    assert!(
        records
            .iter()
            .filter(|r| r.review_status == ReviewStatus::Approved)
            .count()
            >= 6,
        "approved: one, reassigned, two in bulk, the group of two: {records:?}"
    );
    assert!(pending <= 2, "{records:?}");
    for shot in [
        "signin",
        "lesson",
        "reassign",
        "unknowns",
        "students",
        "devices",
        "users",
        "audit",
        "import",
        "lesson-phone",
    ] {
        assert!(
            screenshots.join(format!("{shot}.png")).is_file(),
            "screenshot {shot}.png written"
        );
    }
}
