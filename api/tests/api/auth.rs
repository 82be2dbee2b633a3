//! Login, refresh rotation, register, me, token expiry and tampering.

use cavs_api::jwt::{Claims, TokenService, TokenType};
use chrono::Utc;
use poem::http::Method;
use serde_json::json;

use crate::common::{Env, PASSWORD};

#[tokio::test]
async fn login_gives_tokens_and_me_answers() {
    let env = Env::new().await;
    let pair = env.login("teacher").await;
    assert!(pair["access"].is_string() && pair["refresh"].is_string());
    assert_eq!(pair["expires_in"], 300);
    let me = env
        .get("/api/auth/me", pair["access"].as_str().unwrap())
        .await;
    me.assert_status(200);
    assert_eq!(me.json["username"], "teacher");
    assert_eq!(me.json["role"], "teacher");
    assert!(me.json.get("password_hash").is_none());
}

#[tokio::test]
async fn wrong_password_is_401() {
    let env = Env::new().await;
    let answer = env
        .send(
            Method::POST,
            "/api/auth/login",
            None,
            Some(json!({ "username": "admin", "password": "nope-nope" })),
        )
        .await;
    answer.assert_problem(401, "invalid-credentials");
    let answer = env
        .send(
            Method::POST,
            "/api/auth/login",
            None,
            Some(json!({ "username": "ghost", "password": PASSWORD })),
        )
        .await;
    answer.assert_problem(401, "invalid-credentials");
}

#[tokio::test]
async fn repeated_wrong_passwords_meet_429_with_retry_after_even_with_the_right_one() {
    let env = Env::new().await;
    let attempt = |password: &'static str| {
        env.send(
            Method::POST,
            "/api/auth/login",
            None,
            Some(json!({ "username": "teacher", "password": password })),
        )
    };
    for _ in 0..5 {
        attempt("wrong-guess")
            .await
            .assert_problem(401, "invalid-credentials");
    }
    // The 6th failure starts the lockout; from then on even the right password waits.
    attempt("wrong-guess")
        .await
        .assert_problem(401, "invalid-credentials");
    for password in ["wrong-guess", PASSWORD] {
        let answer = attempt(password).await;
        answer.assert_problem(429, "too-many-failures");
        let retry: u64 = answer
            .headers
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .expect("Retry-After seconds");
        assert!((1..=900).contains(&retry), "Retry-After {retry}");
    }
    // Other accounts are not affected.
    let pair = env.login("admin").await;
    assert!(pair["access"].is_string());
}

#[tokio::test]
async fn require_admin_bearer_accepts_only_an_admins_access_token() {
    let env = Env::new().await;
    let state = cavs_api::ApiState {
        store: env.store.clone(),
        pipeline: env.pipeline.clone(),
        config: env.config.clone(),
        events: env.events.clone(),
        first_run: cavs_api::FirstRunCode::none(),
    };
    let request = |token: Option<&str>| {
        let mut builder = poem::Request::builder();
        if let Some(token) = token {
            builder = builder.header("authorization", format!("Bearer {token}"));
        }
        builder.finish()
    };
    let status = |r: Result<(), cavs_api::error::ApiError>| r.err().map(|e| e.problem().status);
    let admin = env.login("admin").await;
    let teacher = env.login("teacher").await;
    assert_eq!(
        status(cavs_api::auth::require_admin_bearer(&state, &request(None)).await),
        Some(401)
    );
    assert_eq!(
        status(cavs_api::auth::require_admin_bearer(&state, &request(Some("garbage"))).await),
        Some(401)
    );
    assert_eq!(
        status(
            cavs_api::auth::require_admin_bearer(&state, &request(teacher["access"].as_str()))
                .await
        ),
        Some(403)
    );
    assert_eq!(
        status(
            cavs_api::auth::require_admin_bearer(&state, &request(admin["refresh"].as_str())).await
        ),
        Some(401)
    );
    assert_eq!(
        status(
            cavs_api::auth::require_admin_bearer(&state, &request(admin["access"].as_str())).await
        ),
        None
    );
}

#[tokio::test]
async fn refresh_rotates_and_refuses_reuse() {
    let env = Env::new().await;
    let pair = env.login("admin").await;
    let first = pair["refresh"].as_str().unwrap();
    let answer = env
        .send(
            Method::POST,
            "/api/auth/refresh",
            None,
            Some(json!({ "refresh": first })),
        )
        .await;
    answer.assert_status(200);
    let second = answer.json["refresh"].as_str().unwrap().to_owned();
    assert_ne!(second, first);
    env.get("/api/auth/me", answer.json["access"].as_str().unwrap())
        .await
        .assert_status(200);
    // The first refresh token was consumed.
    let reused = env
        .send(
            Method::POST,
            "/api/auth/refresh",
            None,
            Some(json!({ "refresh": first })),
        )
        .await;
    reused.assert_problem(401, "token-reused");
    // The reuse revoked the chain: the token rotated from the first one stops working too
    // (whoever presented the spent token, thief or owner, must sign in again).
    env.send(
        Method::POST,
        "/api/auth/refresh",
        None,
        Some(json!({ "refresh": second })),
    )
    .await
    .assert_problem(401, "token-revoked");
    // An access token is not a refresh token, nor the reverse.
    let access = pair["access"].as_str().unwrap();
    env.send(
        Method::POST,
        "/api/auth/refresh",
        None,
        Some(json!({ "refresh": access })),
    )
    .await
    .assert_problem(401, "token-invalid");
    env.get("/api/auth/me", &second)
        .await
        .assert_problem(401, "token-invalid");
}

#[tokio::test]
async fn register_creates_users_admin_only() {
    let env = Env::new().await;
    let body = json!({ "username": "newteacher", "password": "long enough pw", "role": "teacher" });
    env.post("/api/auth/register", &env.teacher, body.clone())
        .await
        .assert_problem(403, "forbidden");
    let created = env
        .post("/api/auth/register", &env.admin, body.clone())
        .await;
    created.assert_status(201);
    assert_eq!(created.json["role"], "teacher");
    env.post("/api/auth/register", &env.admin, body)
        .await
        .assert_problem(409, "conflict");
    env.post(
        "/api/auth/register",
        &env.admin,
        json!({ "username": "x", "password": "short", "role": "admin" }),
    )
    .await
    .assert_status(400);
    env.post(
        "/api/auth/register",
        &env.admin,
        json!({ "username": "x", "password": "long enough pw", "role": "root" }),
    )
    .await
    .assert_status(400);
    let answer = env
        .send(
            Method::POST,
            "/api/auth/login",
            None,
            Some(json!({ "username": "newteacher", "password": "long enough pw" })),
        )
        .await;
    answer.assert_status(200);
}

fn claims(kind: TokenType, exp_offset: i64, user: uuid::Uuid) -> Claims {
    let now = Utc::now().timestamp();
    Claims {
        token_type: kind,
        exp: now + exp_offset,
        iat: now - 7200,
        jti: uuid::Uuid::new_v4(),
        user_id: user,
        username: "admin".into(),
        role: "admin".into(),
    }
}

#[tokio::test]
async fn expired_tampered_and_missing_tokens_are_401() {
    let env = Env::new().await;
    let admin = env.store.users().by_username("admin").await.unwrap();
    let tokens = TokenService::new(&env.config);
    let expired = tokens
        .sign(&claims(TokenType::Access, -60, admin.id))
        .unwrap();
    env.get("/api/auth/me", &expired)
        .await
        .assert_problem(401, "token-expired");
    let valid = tokens
        .sign(&claims(TokenType::Access, 600, admin.id))
        .unwrap();
    env.get("/api/auth/me", &valid).await.assert_status(200);

    // Tampered payload: claim to be someone else with the old signature.
    let mut parts: Vec<String> = valid.split('.').map(str::to_owned).collect();
    let teacher = env.store.users().by_username("teacher").await.unwrap();
    let forged = claims(TokenType::Access, 600, teacher.id);
    use base64_like::encode;
    parts[1] = encode(&serde_json::to_vec(&forged).unwrap());
    let tampered = parts.join(".");
    env.get("/api/auth/me", &tampered)
        .await
        .assert_problem(401, "token-invalid");
    // Tampered signature.
    let mut bad_sig = valid.clone();
    let last = bad_sig.pop().unwrap();
    bad_sig.push(if last == 'A' { 'B' } else { 'A' });
    env.get("/api/auth/me", &bad_sig)
        .await
        .assert_problem(401, "token-invalid");
    // Signed with another key.
    let other = cavs_api::ApiConfig {
        secret_key: "another-secret-entirely".to_owned().into(),
        ..(*env.config).clone()
    };
    let foreign = TokenService::new(&other)
        .sign(&claims(TokenType::Access, 600, admin.id))
        .unwrap();
    env.get("/api/auth/me", &foreign)
        .await
        .assert_problem(401, "token-invalid");
    // alg=none.
    let none = format!(
        "{}.{}.",
        encode(br#"{"alg":"none","typ":"JWT"}"#),
        encode(&serde_json::to_vec(&claims(TokenType::Access, 600, admin.id)).unwrap())
    );
    env.get("/api/auth/me", &none)
        .await
        .assert_problem(401, "token-invalid");
    // Garbage and missing.
    env.get("/api/auth/me", "not-a-jwt")
        .await
        .assert_problem(401, "token-invalid");
    let missing = env.send(Method::GET, "/api/auth/me", None, None).await;
    missing.assert_problem(401, "unauthorized");
    assert!(missing.headers.contains_key("www-authenticate"));
    // Expired refresh token.
    let expired_refresh = tokens
        .sign(&claims(TokenType::Refresh, -60, admin.id))
        .unwrap();
    env.send(
        Method::POST,
        "/api/auth/refresh",
        None,
        Some(json!({ "refresh": expired_refresh })),
    )
    .await
    .assert_problem(401, "token-expired");
}

#[tokio::test]
async fn deleted_or_unknown_user_token_is_401() {
    let env = Env::new().await;
    let tokens = TokenService::new(&env.config);
    let ghost = tokens
        .sign(&claims(TokenType::Access, 600, uuid::Uuid::now_v7()))
        .unwrap();
    env.get("/api/auth/me", &ghost)
        .await
        .assert_problem(401, "token-invalid");
}

/// Minimal base64url without padding (the tests forge JWT parts).
mod base64_like {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

    pub fn encode(bytes: &[u8]) -> String {
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let b = [
                chunk[0],
                *chunk.get(1).unwrap_or(&0),
                *chunk.get(2).unwrap_or(&0),
            ];
            let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            let chars = chunk.len() + 1;
            for i in 0..chars {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            }
        }
        out
    }
}

#[tokio::test]
async fn signing_out_revokes_that_sign_ins_chain_only() {
    let env = Env::new().await;
    let this = env.login("admin").await;
    let other = env.login("admin").await;
    let refresh = |token: &str| {
        env.send(
            Method::POST,
            "/api/auth/refresh",
            None,
            Some(json!({ "refresh": token })),
        )
    };
    // One refresh first: signing out with the newest token also ends the tokens before it.
    let rotated = refresh(this["refresh"].as_str().expect("refresh")).await;
    rotated.assert_status(200);
    let newest = rotated.json["refresh"]
        .as_str()
        .expect("refresh")
        .to_owned();
    let logout = |token: &str| {
        env.send(
            Method::POST,
            "/api/auth/logout",
            None,
            Some(json!({ "refresh": token })),
        )
    };
    logout(&newest).await.assert_status(204);
    refresh(&newest).await.assert_problem(401, "token-revoked");
    // Signing out twice is not an error.
    logout(&newest).await.assert_status(204);
    // The other sign-in of the same account keeps working.
    refresh(other["refresh"].as_str().expect("refresh"))
        .await
        .assert_status(200);
    // An access token or garbage is not a refresh token.
    logout(this["access"].as_str().expect("access"))
        .await
        .assert_problem(401, "token-invalid");
    logout("garbage").await.assert_problem(401, "token-invalid");
}
