//! Bulk enrollment from a directory.

use std::path::Path;

use cavs_api::enroll::enroll_directory;
use cavs_api::photos::PhotoRejection;

use crate::common::{Env, FACES, blank_png};

fn copy(from: &str, to: &Path) {
    std::fs::create_dir_all(to.parent().unwrap()).unwrap();
    std::fs::copy(Path::new(FACES).join(from), to).unwrap();
}

#[tokio::test]
async fn enrolls_folders_creates_students_and_reports_rejections() {
    let env = Env::new().await;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    copy("obama/obama_small.jpg", &root.join("S100/a.jpg"));
    copy("obama/obama-240p.jpg", &root.join("S100/b.jpg"));
    copy("_group/kit_with_rose.jpg", &root.join("S100/group.jpg"));
    copy("kit_harington/john2.jpeg", &root.join("S200/john2.jpeg"));
    std::fs::write(root.join("S200/blank.png"), blank_png()).unwrap();
    std::fs::write(root.join("S200/readme.txt"), "not a photo").unwrap();
    std::fs::create_dir_all(root.join("S300")).unwrap();
    copy("biden/biden.jpg", &root.join("S400/biden.jpg"));
    std::fs::write(
        root.join("students.csv"),
        "student_number,full_name,email,department,year,consent\n\
         S100,Barack Obama,b@example.org,Law,4,yes\n\
         S400,Joe Biden,,,,no\n",
    )
    .unwrap();
    // S200 exists already with another name: kept.
    env.student("S200", "Kit Harington").await;

    let pipeline = env.pipeline.clone();
    let before = env.gallery_changes();
    let summary = enroll_directory(&env.store, pipeline.as_ref(), root, false)
        .await
        .expect("enrollment runs");
    assert_eq!(summary.students_seen, 4);
    assert_eq!(summary.students_created, 3);
    assert_eq!(summary.consents_recorded, 2, "S100's yes and S400's no");
    assert_eq!(summary.photos_seen, 7);
    assert_eq!(summary.faces_added, 3);
    // Without consent (S400 said no, S300 has no decision) a folder is skipped, saying so.
    let skipped: Vec<String> = summary
        .skipped_folders
        .iter()
        .map(|(folder, reason)| {
            assert!(reason.contains("consent"), "{reason}");
            folder.file_name().unwrap().to_string_lossy().into_owned()
        })
        .collect();
    assert_eq!(skipped, vec!["S300".to_owned(), "S400".to_owned()]);
    assert!(summary.to_string().contains("skipped folder"), "{summary}");
    let reasons: Vec<(String, PhotoRejection)> = summary
        .rejected
        .iter()
        .map(|r| {
            (
                r.path.file_name().unwrap().to_string_lossy().into_owned(),
                r.reason.clone(),
            )
        })
        .collect();
    assert!(
        reasons.contains(&("group.jpg".into(), PhotoRejection::MultipleFaces(2))),
        "{reasons:?}"
    );
    assert!(
        reasons.contains(&("blank.png".into(), PhotoRejection::NoFace)),
        "{reasons:?}"
    );
    assert!(
        reasons.contains(&("readme.txt".into(), PhotoRejection::NotAnImage)),
        "{reasons:?}"
    );
    assert_eq!(env.gallery_changes(), before + 1);
    let text = summary.to_string();
    assert!(
        text.contains("group.jpg") && text.contains("2 faces"),
        "{text}"
    );

    let obama = env.store.students().find("S100").await.unwrap();
    assert_eq!(obama.full_name, "Barack Obama");
    assert_eq!(obama.year, Some(4));
    assert_eq!(obama.face_count, 2);
    assert_eq!(
        env.store.students().find("S200").await.unwrap().face_count,
        1
    );
    assert_eq!(
        env.store.students().find("S300").await.unwrap().full_name,
        "S300"
    );

    // A second run adds nothing.
    let again = enroll_directory(&env.store, pipeline.as_ref(), root, false)
        .await
        .unwrap();
    assert_eq!(again.faces_added, 0);
    assert_eq!(again.already_enrolled, 3);
    assert_eq!(again.students_created, 0);
    assert_eq!(
        again.consents_recorded, 0,
        "an unchanged decision is not recorded again"
    );
    let biden = env.store.students().find("S400").await.unwrap();
    assert_eq!(biden.face_count, 0);
    assert_eq!(biden.consent.map(|c| c.granted), Some(false));
}
