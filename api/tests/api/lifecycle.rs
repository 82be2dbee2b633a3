//! Account lifecycle: deactivation refuses access and refresh tokens at once, password changes
//! (own and admin reset) revoke every token issued before, and reusing a spent refresh token
//! revokes its whole rotation chain.

use serde_json::json;

use crate::common::{Env, PASSWORD};

#[tokio::test]
async fn a_deactivated_account_is_refused_at_once_and_can_come_back() {
    let env = Env::new().await;
    let (user, pair) = env.teacher_of("alice", &["room-1"]).await;
    let id = user["id"].as_str().expect("id");
    let access = pair["access"].as_str().expect("access");
    env.get("/api/auth/me", access).await.assert_status(200);

    let off = env
        .put(
            &format!("/api/users/{id}"),
            &env.admin,
            json!({ "active": false }),
        )
        .await;
    off.assert_status(200);
    assert_eq!(off.json["active"], false);
    assert_eq!(env.account_changes(), vec!["alice".to_owned()]);
    env.get("/api/auth/me", access)
        .await
        .assert_problem(401, "user-inactive");
    assert_eq!(env.refresh(&pair["refresh"]).await.status.as_u16(), 401);
    env.sign_in("alice", PASSWORD)
        .await
        .assert_problem(401, "invalid-credentials");

    env.put(
        &format!("/api/users/{id}"),
        &env.admin,
        json!({ "active": true }),
    )
    .await
    .assert_status(200);
    let again = env.sign_in("alice", PASSWORD).await;
    again.assert_status(200);
    // Tokens from before the deactivation stay revoked.
    assert_eq!(env.refresh(&pair["refresh"]).await.status.as_u16(), 401);
}

#[tokio::test]
async fn changing_ones_password_revokes_every_earlier_token() {
    let env = Env::new().await;
    let (_, first) = env.teacher_of("alice", &["room-1"]).await;
    let second = env.login("alice").await;
    let access = first["access"].as_str().expect("access");

    env.post(
        "/api/auth/password",
        access,
        json!({ "old_password": "not the password", "new_password": "a new password" }),
    )
    .await
    .assert_problem(403, "wrong-password");
    env.post(
        "/api/auth/password",
        access,
        json!({ "old_password": PASSWORD, "new_password": "short" }),
    )
    .await
    .assert_problem(400, "malformed-request");

    // iat has one-second resolution: let the earlier tokens be strictly older.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let changed = env
        .post(
            "/api/auth/password",
            access,
            json!({ "old_password": PASSWORD, "new_password": "a new password" }),
        )
        .await;
    changed.assert_status(200);
    assert_eq!(env.account_changes(), vec!["alice".to_owned()]);
    let fresh = changed.json["access"].as_str().expect("new access");
    env.get("/api/auth/me", fresh).await.assert_status(200);
    for old in [&first, &second] {
        env.get("/api/auth/me", old["access"].as_str().expect("access"))
            .await
            .assert_problem(401, "token-revoked");
        assert_eq!(env.refresh(&old["refresh"]).await.status.as_u16(), 401);
    }
    env.refresh(&changed.json["refresh"])
        .await
        .assert_status(200);
    env.sign_in("alice", PASSWORD)
        .await
        .assert_problem(401, "invalid-credentials");
    env.sign_in("alice", "a new password")
        .await
        .assert_status(200);
}

#[tokio::test]
async fn wrong_current_passwords_are_throttled_like_sign_ins() {
    let env = Env::new().await;
    let (_, pair) = env.teacher_of("alice", &[]).await;
    let access = pair["access"].as_str().expect("access");
    let attempt = json!({ "old_password": "guess", "new_password": "a new password" });
    // As for sign-ins: five failures are free, the sixth starts the lockout.
    for _ in 0..6 {
        env.post("/api/auth/password", access, attempt.clone())
            .await
            .assert_problem(403, "wrong-password");
    }
    let locked = env.post("/api/auth/password", access, attempt).await;
    locked.assert_problem(429, "too-many-failures");
    assert!(locked.headers.get("retry-after").is_some());
}

#[tokio::test]
async fn an_admin_reset_revokes_the_accounts_tokens() {
    let env = Env::new().await;
    let (user, pair) = env.teacher_of("alice", &[]).await;
    let id = user["id"].as_str().expect("id");
    env.post(
        &format!("/api/users/{id}/password"),
        pair["access"].as_str().expect("access"),
        json!({ "new_password": "reset by alice" }),
    )
    .await
    .assert_problem(403, "forbidden");
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    env.post(
        &format!("/api/users/{id}/password"),
        &env.admin,
        json!({ "new_password": "reset by admin" }),
    )
    .await
    .assert_status(200);
    assert_eq!(env.account_changes(), vec!["alice".to_owned()]);
    env.get("/api/auth/me", pair["access"].as_str().expect("access"))
        .await
        .assert_problem(401, "token-revoked");
    assert_eq!(env.refresh(&pair["refresh"]).await.status.as_u16(), 401);
    env.sign_in("alice", "reset by admin")
        .await
        .assert_status(200);
}

#[tokio::test]
async fn reusing_a_spent_refresh_token_revokes_its_chain_only() {
    let env = Env::new().await;
    let (_, stolen) = env.teacher_of("alice", &[]).await;
    let other_device = env.login("alice").await;
    // The owner refreshes; later the thief presents the spent token.
    let next = env.refresh(&stolen["refresh"]).await;
    next.assert_status(200);
    env.refresh(&stolen["refresh"])
        .await
        .assert_problem(401, "token-reused");
    // The successor is revoked with it.
    env.refresh(&next.json["refresh"])
        .await
        .assert_problem(401, "token-revoked");
    // A separate sign-in is another chain and keeps working.
    env.refresh(&other_device["refresh"])
        .await
        .assert_status(200);
}
