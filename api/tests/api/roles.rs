//! The role × endpoint matrix: admin may do everything, teacher may read students and
//! devices and list/review attendance, nobody without a token may do anything, and people
//! cannot use the device endpoint.

use chrono::Utc;
use poem::http::Method;
use serde_json::{Value, json};

use cavs_models::{Actor, NewAttendance, ReviewStatus};

use crate::common::{Env, blank_png};

struct Case {
    method: Method,
    path: String,
    body: Option<Value>,
    teacher_allowed: bool,
}

fn case(method: Method, path: &str, body: Option<Value>, teacher_allowed: bool) -> Case {
    Case {
        method,
        path: path.to_owned(),
        body,
        teacher_allowed,
    }
}

async fn record(env: &Env) -> uuid::Uuid {
    env.store
        .attendance()
        .create(
            &NewAttendance {
                device_id: "cam-1".into(),
                classroom_id: "room-1".into(),
                predicted_student_id: None,
                confidence: 0.4,
                distance: Some(0.7),
                timestamp: Utc::now(),
                review_status: ReviewStatus::Pending,
                captured_image_path: None,
                session_start: Utc::now(),
                descriptor: None,
            },
            &Actor::Device("cam-1".into()),
        )
        .await
        .expect("record created")
        .id
}

#[tokio::test]
async fn role_endpoint_matrix() {
    let env = Env::new().await;
    let student = env.student("S1", "Student One").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let victim = env.student("S2", "Student Two").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let erased = env.student("S3", "Student Three").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    env.device("cam-1", "room-1").await;
    env.device("cam-2", "room-1").await;
    let rec = record(&env).await;
    let rec2 = record(&env).await;
    let device_body =
        json!({ "device_id": "cam-1", "classroom_id": "room-1", "location": "front" });
    let cases = vec![
        case(Method::GET, "/api/auth/me", None, true),
        case(
            Method::POST,
            "/api/auth/register",
            Some(json!({ "username": "u2", "password": "password123", "role": "teacher" })),
            false,
        ),
        case(Method::GET, "/api/students?search=one", None, true),
        case(
            Method::POST,
            "/api/students",
            Some(json!({ "student_number": "S9", "full_name": "Nine" })),
            false,
        ),
        case(Method::GET, &format!("/api/students/{student}"), None, true),
        case(Method::GET, "/api/students/S1", None, true),
        case(
            Method::PUT,
            &format!("/api/students/{student}"),
            Some(json!({ "student_number": "S1", "full_name": "Student Uno" })),
            false,
        ),
        case(
            Method::DELETE,
            &format!("/api/students/{victim}"),
            None,
            false,
        ),
        case(Method::GET, "/api/attendance", None, true),
        case(Method::GET, "/api/attendance/pending", None, true),
        case(Method::GET, &format!("/api/attendance/{rec}"), None, true),
        case(
            Method::POST,
            &format!("/api/attendance/{rec}/review"),
            Some(json!({ "decision": "approve", "notes": "ok" })),
            true,
        ),
        case(
            Method::DELETE,
            &format!("/api/attendance/{rec2}"),
            None,
            false,
        ),
        case(Method::GET, "/api/devices", None, true),
        case(Method::GET, "/api/devices/cam-1", None, true),
        case(
            Method::POST,
            "/api/devices",
            Some(json!({ "device_id": "cam-9", "classroom_id": "room-9" })),
            false,
        ),
        case(Method::PUT, "/api/devices/cam-1", Some(device_body), false),
        case(Method::POST, "/api/devices/cam-1/credentials", None, false),
        case(Method::DELETE, "/api/devices/cam-2", None, false),
        case(Method::GET, "/api/audit", None, false),
        case(
            Method::POST,
            &format!("/api/students/{student}/consent"),
            Some(json!({ "granted": true, "given_by": "a parent", "notice_version": "v2" })),
            false,
        ),
        case(
            Method::GET,
            &format!("/api/students/{student}/export"),
            None,
            false,
        ),
        case(
            Method::POST,
            &format!("/api/students/{erased}/erase"),
            None,
            false,
        ),
    ];
    for c in &cases {
        // Nobody without a token.
        let anonymous = env
            .send(c.method.clone(), &c.path, None, c.body.clone())
            .await;
        assert_eq!(
            anonymous.status.as_u16(),
            401,
            "anonymous {} {}",
            c.method,
            c.path
        );
        anonymous.assert_problem(401, "unauthorized");
        // Teacher: allowed or 403.
        let teacher = env
            .send(
                c.method.clone(),
                &c.path,
                Some(&env.teacher),
                c.body.clone(),
            )
            .await;
        if c.teacher_allowed {
            assert!(
                teacher.status.is_success(),
                "teacher {} {} -> {} {}",
                c.method,
                c.path,
                teacher.status,
                teacher.json
            );
        } else {
            assert_eq!(
                teacher.status.as_u16(),
                403,
                "teacher {} {}: {}",
                c.method,
                c.path,
                teacher.json
            );
            teacher.assert_problem(403, "forbidden");
        }
    }
    for c in &cases {
        let admin = env
            .send(c.method.clone(), &c.path, Some(&env.admin), c.body.clone())
            .await;
        assert!(
            admin.status.is_success(),
            "admin {} {} -> {} {}",
            c.method,
            c.path,
            admin.status,
            admin.json
        );
    }

    // Photos (multipart): teacher 403, admin gets past the role check (422: no face).
    let path = format!("/api/students/{student}/photos");
    env.upload_photos(&path, &env.teacher, &[("blank.png", blank_png())])
        .await
        .assert_problem(403, "forbidden");
    env.upload_photos(&path, &env.admin, &[("blank.png", blank_png())])
        .await
        .assert_problem(422, "no-face");

    // Attendance image: teacher allowed (404: this record has no image).
    env.get(&format!("/api/attendance/{rec}/image"), &env.teacher)
        .await
        .assert_problem(404, "not-found");

    // People cannot use the device endpoint: it wants HTTP Basic device credentials.
    for token in [&env.admin, &env.teacher] {
        let answer = env
            .send(Method::POST, "/api/capture", Some(token), None)
            .await;
        answer.assert_problem(401, "unauthorized");
    }
    // Health is public.
    env.send(Method::GET, "/api/health", None, None)
        .await
        .assert_status(200);
}

#[tokio::test]
async fn health_answers_503_naming_the_pipeline_part_that_stopped() {
    let env = Env::new().await;
    let ok = env.send(Method::GET, "/api/health", None, None).await;
    ok.assert_status(200);
    assert_eq!(ok.json["pipeline"], "ok");
    assert_eq!(ok.json["workers"], 2);
    env.pipeline
        .down
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .extend(["writer".to_owned(), "workers".to_owned()]);
    let down = env.send(Method::GET, "/api/health", None, None).await;
    down.assert_problem(503, "unavailable");
    assert_eq!(down.json["detail"], "pipeline: writer, workers stopped");
    assert_eq!(down.json["pipeline"], "writer, workers stopped");
    assert_eq!(down.json["workers"], 0);
    assert_eq!(down.json["database"], "ok");
}
