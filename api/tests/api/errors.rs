//! One error format for everything, the OpenAPI document, Swagger UI and CORS.

use poem::http::Method;

use crate::common::{Env, read};

#[tokio::test]
async fn malformed_json_unknown_routes_and_methods_are_problems() {
    let env = Env::new().await;
    let bad = read(
        env.client
            .post("/api/students")
            .header("authorization", format!("Bearer {}", env.admin))
            .content_type("application/json")
            .body("{\"student_number\": ")
            .send()
            .await,
    )
    .await;
    bad.assert_problem(400, "malformed-request");
    let wrong_shape = env
        .post(
            "/api/students",
            &env.admin,
            serde_json::json!({ "student_number": 5 }),
        )
        .await;
    wrong_shape.assert_problem(400, "malformed-request");
    // JSON numbers and booleans are not strings.
    env.post(
        "/api/students",
        &env.admin,
        serde_json::json!({ "student_number": "S1", "full_name": false }),
    )
    .await
    .assert_problem(400, "malformed-request");
    let login_garbage = read(
        env.client
            .post("/api/auth/login")
            .content_type("application/json")
            .body("not json")
            .send()
            .await,
    )
    .await;
    login_garbage.assert_problem(400, "malformed-request");
    let wrong_type = read(
        env.client
            .post("/api/auth/login")
            .content_type("text/plain")
            .body("username=admin")
            .send()
            .await,
    )
    .await;
    assert!(wrong_type.status.is_client_error());
    assert!(
        wrong_type
            .content_type
            .starts_with("application/problem+json")
    );

    env.get("/api/nothing-here", &env.admin)
        .await
        .assert_problem(404, "not-found");
    env.send(Method::GET, "/nowhere", None, None)
        .await
        .assert_problem(404, "not-found");
    let not_allowed = env
        .send(Method::PATCH, "/api/students", Some(&env.admin), None)
        .await;
    assert!(not_allowed.status.as_u16() == 405 || not_allowed.status.as_u16() == 404);
    assert!(
        not_allowed
            .content_type
            .starts_with("application/problem+json")
    );
    env.get("/api/students?page=abc", &env.admin)
        .await
        .assert_problem(400, "bad-request");
}

#[tokio::test]
async fn openapi_documents_every_endpoint_and_both_schemes() {
    let env = Env::new().await;
    let spec = env.send(Method::GET, "/api/openapi.json", None, None).await;
    spec.assert_status(200);
    let paths = spec.json["paths"].as_object().expect("paths");
    let expected = [
        ("/auth/login", "post"),
        ("/auth/refresh", "post"),
        ("/auth/register", "post"),
        ("/auth/me", "get"),
        ("/capture", "post"),
        ("/attendance/pending", "get"),
        ("/attendance", "get"),
        ("/attendance/{id}/review", "post"),
        ("/attendance/{id}", "get"),
        ("/attendance/{id}", "delete"),
        ("/attendance/{id}/image", "get"),
        ("/students", "get"),
        ("/students", "post"),
        ("/students/{id}", "get"),
        ("/students/{id}", "put"),
        ("/students/{id}", "delete"),
        ("/students/{id}/photos", "post"),
        ("/students/{id}/consent", "post"),
        ("/students/{id}/erase", "post"),
        ("/students/{id}/export", "get"),
        ("/attendance", "post"),
        ("/devices", "get"),
        ("/devices", "post"),
        ("/devices/{id}", "get"),
        ("/devices/{id}", "put"),
        ("/devices/{id}", "delete"),
        ("/devices/{id}/credentials", "post"),
        ("/audit", "get"),
        ("/health", "get"),
    ];
    for (path, method) in expected {
        let op = &paths
            .get(path)
            .unwrap_or_else(|| panic!("{path} missing from {:?}", paths.keys()))[method];
        assert!(op.is_object(), "{method} {path} missing");
        if path != "/health"
            && !path.starts_with("/auth/login")
            && !path.starts_with("/auth/refresh")
        {
            assert!(op["security"].is_array(), "{method} {path} has no security");
        }
    }
    let schemes = &spec.json["components"]["securitySchemes"];
    assert_eq!(schemes["BearerAuth"]["scheme"], "bearer");
    assert_eq!(schemes["BearerAuth"]["bearerFormat"], "JWT");
    assert_eq!(schemes["DeviceAuth"]["scheme"], "basic");
    let problem = &spec.json["components"]["schemas"]["Problem"]["properties"];
    for key in ["type", "title", "status", "detail"] {
        assert!(problem[key].is_object(), "Problem.{key}");
    }
    assert!(
        spec.json["paths"]["/students/{id}"]["get"]["responses"]["404"]["content"]
            ["application/problem+json"]
            .is_object()
    );
    let ui = env.send(Method::GET, "/docs", None, None).await;
    ui.assert_status(200);
    assert!(ui.content_type.starts_with("text/html"));
}

#[tokio::test]
async fn cors_allows_only_configured_origins() {
    let env = Env::with_origins(vec!["https://school.example".into()]).await;
    let allowed = read(
        env.client
            .get("/api/health")
            .header("origin", "https://school.example")
            .send()
            .await,
    )
    .await;
    allowed.assert_status(200);
    assert_eq!(
        allowed
            .headers
            .get("access-control-allow-origin")
            .and_then(|v| v.to_str().ok()),
        Some("https://school.example")
    );
    let preflight = read(
        env.client
            .request(Method::OPTIONS, "/api/students")
            .header("origin", "https://school.example")
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization, content-type",
            )
            .send()
            .await,
    )
    .await;
    assert!(preflight.status.is_success(), "{}", preflight.status);
    let refused = read(
        env.client
            .get("/api/health")
            .header("origin", "https://evil.example")
            .send()
            .await,
    )
    .await;
    assert!(refused.headers.get("access-control-allow-origin").is_none());
    // An error answer to an allowed origin still carries the CORS header.
    let error = read(
        env.client
            .get("/api/students")
            .header("origin", "https://school.example")
            .send()
            .await,
    )
    .await;
    error.assert_problem(401, "unauthorized");
    assert!(error.headers.get("access-control-allow-origin").is_some());
}

#[tokio::test]
async fn a_streamed_body_past_the_limit_is_413_without_content_length() {
    let env = Env::new().await;
    let oversized = vec![b' '; crate::common::MAX_UPLOAD as usize + 1];
    let answer = read(
        env.client
            .post("/api/students")
            .header("authorization", format!("Bearer {}", env.admin))
            .content_type("application/json")
            .body(poem::Body::from_async_read(std::io::Cursor::new(oversized)))
            .send()
            .await,
    )
    .await;
    // A body of unknown length (no Content-Length) is cut off by the reader, not buffered.
    answer.assert_problem(413, "payload-too-large");
}
