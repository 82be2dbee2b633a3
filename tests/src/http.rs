//! A REST client for the end-to-end tests: the real `curl` binary (a third-party client, as a
//! school's scripts would use), run on tokio's blocking pool so the in-process hub keeps
//! serving while it waits.

use std::process::Command;

use anyhow::Context;
use serde_json::Value;

/// One HTTP answer: status and JSON body (Null when empty or not JSON).
#[derive(Debug, Clone)]
pub struct HttpAnswer {
    /// Status code.
    pub status: u16,
    /// The body as JSON.
    pub json: Value,
}

/// A request to send with curl.
#[derive(Debug, Clone, Default)]
pub struct HttpRequest {
    /// `GET`, `POST`, `PUT`, ...
    pub method: String,
    /// Full URL.
    pub url: String,
    /// Bearer token.
    pub token: Option<String>,
    /// JSON body.
    pub body: Option<Value>,
    /// PEM file of the CA to trust (for `https://`), instead of the system's.
    pub ca_file: Option<std::path::PathBuf>,
}

/// Sends `request` with curl (at most 20 s).
pub async fn send(request: HttpRequest) -> anyhow::Result<HttpAnswer> {
    tokio::task::spawn_blocking(move || send_blocking(&request))
        .await
        .context("curl task")?
}

fn send_blocking(request: &HttpRequest) -> anyhow::Result<HttpAnswer> {
    let mut command = Command::new("curl");
    command
        .args(["--silent", "--show-error", "--max-time", "20"])
        .args(["--request", &request.method])
        .args(["--write-out", "\n%{http_code}"]);
    if let Some(token) = &request.token {
        command.args(["--header", &format!("authorization: Bearer {token}")]);
    }
    if let Some(body) = &request.body {
        command
            .args(["--header", "content-type: application/json"])
            .args(["--data-binary", &body.to_string()]);
    }
    if let Some(ca) = &request.ca_file {
        command.arg("--cacert").arg(ca);
    }
    let output = command
        .arg(&request.url)
        .output()
        .context("running curl (is it installed?)")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let (body, status) = stdout.rsplit_once('\n').unwrap_or(("", stdout.as_ref()));
    let status: u16 = status.trim().parse().unwrap_or(0);
    if !output.status.success() || status == 0 {
        anyhow::bail!(
            "curl {} {} failed: {}",
            request.method,
            request.url,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(HttpAnswer {
        status,
        json: serde_json::from_str(body).unwrap_or(Value::Null),
    })
}

/// Signs in at `base` (e.g. `http://127.0.0.1:8000`); returns the access token.
pub async fn sign_in(base: &str, username: &str, password: &str) -> anyhow::Result<String> {
    let answer = send(HttpRequest {
        method: "POST".into(),
        url: format!("{base}/api/auth/login"),
        body: Some(serde_json::json!({ "username": username, "password": password })),
        ..HttpRequest::default()
    })
    .await?;
    answer.json["access"]
        .as_str()
        .map(str::to_owned)
        .with_context(|| format!("sign-in of {username} answered {answer:?}"))
}

/// Sends `method` `path` (under `base`) with a bearer token and JSON body.
pub async fn call(
    base: &str,
    method: &str,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> anyhow::Result<HttpAnswer> {
    send(HttpRequest {
        method: method.into(),
        url: format!("{base}{path}"),
        token: Some(token.to_owned()),
        body,
        ..HttpRequest::default()
    })
    .await
}
