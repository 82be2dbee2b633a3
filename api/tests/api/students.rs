//! Students CRUD, search, paging, and enrollment photos.

use poem::http::Method;
use serde_json::json;

use crate::common::{Env, MAX_UPLOAD, blank_png, photo};

#[tokio::test]
async fn crud_search_and_paging() {
    let env = Env::new().await;
    for i in 1..=7 {
        env.student(&format!("S{i:02}"), &format!("Name {i}")).await;
    }
    let created = env
        .post(
            "/api/students",
            &env.admin,
            json!({ "student_number": "X1", "full_name": "Ada Lovelace", "email": "ada@example.org",
                    "department": "Maths", "year": 2 }),
        )
        .await;
    created.assert_status(201);
    for key in [
        "id",
        "student_number",
        "full_name",
        "email",
        "department",
        "year",
        "created_at",
        "face_count",
    ] {
        assert!(created.json.get(key).is_some(), "missing {key}");
    }
    let id = created.json["id"].as_str().unwrap().to_owned();

    let page = env
        .get("/api/students?page=2&page_size=3", &env.teacher)
        .await;
    page.assert_status(200);
    assert_eq!(page.json["total"], 8);
    assert_eq!(page.json["page"], 2);
    assert_eq!(page.json["page_size"], 3);
    assert_eq!(page.json["items"].as_array().unwrap().len(), 3);
    assert_eq!(page.json["items"][0]["student_number"], "S04");

    // limit/offset, offset not a multiple of limit.
    let window = env
        .get("/api/students?limit=3&offset=2", &env.teacher)
        .await;
    let numbers: Vec<&str> = window.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["student_number"].as_str().unwrap())
        .collect();
    assert_eq!(numbers, ["S03", "S04", "S05"]);

    let found = env.get("/api/students?search=lovelace", &env.teacher).await;
    assert_eq!(found.json["total"], 1);
    assert_eq!(found.json["items"][0]["id"], id.as_str());

    let by_number = env.get("/api/students/X1", &env.teacher).await;
    assert_eq!(by_number.json["id"], id.as_str());

    let updated = env
        .send(
            Method::PUT,
            &format!("/api/students/{id}"),
            Some(&env.admin),
            Some(json!({ "student_number": "X1", "full_name": "Augusta Ada King" })),
        )
        .await;
    updated.assert_status(200);
    assert_eq!(updated.json["full_name"], "Augusta Ada King");
    assert!(updated.json["email"].is_null());

    let duplicate = env
        .post(
            "/api/students",
            &env.admin,
            json!({ "student_number": "X1", "full_name": "Dup" }),
        )
        .await;
    duplicate.assert_problem(409, "conflict");
    // The detail names the value, never the store's tables, indexes or record ids.
    let detail = duplicate.json["detail"].as_str().unwrap_or_default();
    assert_eq!(detail, "student_number `X1` already exists");

    env.send(
        Method::DELETE,
        &format!("/api/students/{id}"),
        Some(&env.admin),
        None,
    )
    .await
    .assert_status(204);
    env.get(&format!("/api/students/{id}"), &env.admin)
        .await
        .assert_problem(404, "not-found");
    env.get("/api/students/nobody", &env.admin)
        .await
        .assert_problem(404, "not-found");
    env.get("/api/students?page=0", &env.admin)
        .await
        .assert_status(400);
    env.get("/api/students?page_size=501", &env.admin)
        .await
        .assert_status(400);
}

#[tokio::test]
async fn photo_with_one_face_is_enrolled_and_delete_follows() {
    let env = Env::new().await;
    let student = env.student("OB1", "Barack Obama").await;
    let id = student["id"].as_str().unwrap();
    let before = env.gallery_changes();
    let answer = env
        .upload_photos(
            &format!("/api/students/{id}/photos"),
            &env.admin,
            &[
                ("obama-240p.jpg", photo("obama/obama-240p.jpg")),
                ("obama_small.jpg", photo("obama/obama_small.jpg")),
            ],
        )
        .await;
    answer.assert_status(201);
    assert_eq!(answer.json["faces"].as_array().unwrap().len(), 2);
    assert_eq!(answer.json["student"]["face_count"], 2);
    assert_eq!(env.gallery_changes(), before + 1);
    let faces = env
        .store
        .faces()
        .for_student(id.parse().unwrap())
        .await
        .unwrap();
    assert_eq!(faces.len(), 2);
    let stored = faces[0].source_path.clone().unwrap();
    assert!(env.data_dir().join(&stored).is_file(), "{stored} kept");

    // Enrollments are audited.
    let audit = env.get("/api/audit?action=enroll", &env.admin).await;
    assert_eq!(audit.json["total"], 2);

    // Faces can be listed (teacher) and one deleted (admin); the gallery follows.
    let listed = env.get("/api/students/OB1/faces", &env.teacher).await;
    listed.assert_status(200);
    assert_eq!(listed.json.as_array().unwrap().len(), 2);
    let second = faces[1].id;
    let second_path = env.data_dir().join(faces[1].source_path.clone().unwrap());
    env.send(
        Method::DELETE,
        &format!("/api/students/OB1/faces/{second}"),
        Some(&env.teacher),
        None,
    )
    .await
    .assert_problem(403, "forbidden");
    env.send(
        Method::DELETE,
        &format!("/api/students/OB1/faces/{second}"),
        Some(&env.admin),
        None,
    )
    .await
    .assert_status(204);
    assert!(!second_path.exists());
    assert_eq!(env.gallery_changes(), before + 2);
    env.send(
        Method::DELETE,
        &format!("/api/students/OB1/faces/{second}"),
        Some(&env.admin),
        None,
    )
    .await
    .assert_problem(404, "not-found");
    assert_eq!(
        env.get("/api/students/OB1", &env.admin).await.json["face_count"],
        1
    );

    // Deleting the student deletes their descriptors and the gallery follows.
    env.send(Method::DELETE, "/api/students/OB1", Some(&env.admin), None)
        .await
        .assert_status(204);
    assert!(
        env.store
            .faces()
            .for_student(id.parse().unwrap())
            .await
            .unwrap()
            .is_empty()
    );
    assert!(env.store.faces().all().await.unwrap().is_empty());
    assert_eq!(env.gallery_changes(), before + 3);
    assert!(!env.data_dir().join(&stored).exists());
}

#[tokio::test]
async fn photos_with_no_face_or_two_faces_are_422_and_nothing_is_stored() {
    let env = Env::new().await;
    env.student("K1", "Kit Harington").await;
    let uri = "/api/students/K1/photos";
    let two = env
        .upload_photos(
            uri,
            &env.admin,
            &[("kit_with_rose.jpg", photo("_group/kit_with_rose.jpg"))],
        )
        .await;
    two.assert_problem(422, "multiple-faces");
    assert!(
        two.json["detail"]
            .as_str()
            .unwrap()
            .contains("kit_with_rose.jpg")
    );
    assert!(two.json["detail"].as_str().unwrap().contains("2 faces"));

    let none = env
        .upload_photos(uri, &env.admin, &[("blank.png", blank_png())])
        .await;
    none.assert_problem(422, "no-face");
    assert!(none.json["detail"].as_str().unwrap().contains("blank.png"));

    // One good and one bad: nothing stored, the bad one named.
    let mixed = env
        .upload_photos(
            uri,
            &env.admin,
            &[
                ("john2.jpeg", photo("kit_harington/john2.jpeg")),
                ("blank.png", blank_png()),
            ],
        )
        .await;
    mixed.assert_problem(422, "no-face");
    let detail = mixed.json["detail"].as_str().unwrap();
    assert!(
        detail.contains("blank.png") && !detail.contains("john2.jpeg"),
        "{detail}"
    );
    let student = env.get("/api/students/K1", &env.admin).await;
    assert_eq!(student.json["face_count"], 0);

    // Not an image: 415. Corrupt JPEG: 422.
    env.upload_photos(
        uri,
        &env.admin,
        &[("notes.txt", b"hello, not an image".to_vec())],
    )
    .await
    .assert_problem(415, "unsupported-media-type");
    let mut corrupt = photo("kit_harington/john2.jpeg");
    corrupt.truncate(200);
    env.upload_photos(uri, &env.admin, &[("corrupt.jpg", corrupt)])
        .await
        .assert_problem(422, "invalid-image");

    // Oversized upload: 413 before buffering.
    let big = vec![0xFFu8; (MAX_UPLOAD + 1024) as usize];
    env.upload_photos(uri, &env.admin, &[("big.jpg", big)])
        .await
        .assert_problem(413, "payload-too-large");

    // No file at all / unknown student.
    let empty = crate::common::read(
        env.client
            .post(uri)
            .header("authorization", format!("Bearer {}", env.admin))
            .multipart(poem::test::TestForm::new().text("other", "x"))
            .send()
            .await,
    )
    .await;
    assert_eq!(empty.status.as_u16(), 400, "{}", empty.json);
    env.upload_photos(
        "/api/students/NOPE/photos",
        &env.admin,
        &[("blank.png", blank_png())],
    )
    .await
    .assert_problem(404, "not-found");
}

/// A school ID-style photo: the aligned 160 px crop cut 20 px tighter on every side and
/// resized to 150 px, which the detector alone does not find.
fn tight_id_crop(name: &str) -> Vec<u8> {
    let img = image::load_from_memory(&photo(&format!("../more/{name}/{name}_aligned.png")))
        .expect("aligned crop");
    let tight = img
        .crop_imm(20, 20, img.width() - 40, img.height() - 40)
        .resize_exact(150, 150, image::imageops::FilterType::Triangle);
    let mut bytes = std::io::Cursor::new(Vec::new());
    tight
        .write_to(&mut bytes, image::ImageFormat::Png)
        .expect("png encodes");
    bytes.into_inner()
}

#[tokio::test]
async fn tight_id_crops_are_enrolled() {
    let env = Env::new().await;
    let student = env.student("KS1", "Kate Siegel").await;
    let id = student["id"].as_str().unwrap();
    let answer = env
        .upload_photos(
            &format!("/api/students/{id}/photos"),
            &env.admin,
            &[
                ("kate.png", tight_id_crop("kate_siegel")),
                (
                    "kate_full.png",
                    photo("../more/kate_siegel/kate_siegel_aligned.png"),
                ),
            ],
        )
        .await;
    answer.assert_status(201);
    let faces = answer.json["faces"].as_array().unwrap();
    assert_eq!(faces.len(), 2);
    assert_eq!(answer.json["student"]["face_count"], 2);
}
