//! Helpers shared by the tests that run the `cavs-hub` binary.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

pub mod fleet;
pub mod mosquitto;

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// `GET path` on 127.0.0.1:`port`: the status and the whole response, or `None` when nothing
/// answers (5 s read timeout).
pub fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, response))
}

/// `method path` with a JSON `body` on 127.0.0.1:`port`: the status and the whole response,
/// or `None` when nothing answers (5 s read timeout).
#[allow(dead_code)] // shared by the test binaries; not every one of them posts JSON
pub fn http_json(port: u16, method: &str, path: &str, body: &str) -> Option<(u16, String)> {
    http_json_as(port, method, path, body, None)
}

/// [`http_json`] with a bearer token.
#[allow(dead_code)] // shared by the test binaries; not every one of them posts JSON
pub fn http_json_as(
    port: u16,
    method: &str,
    path: &str,
    body: &str,
    token: Option<&str>,
) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n{auth}\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, response))
}

/// A string field of the JSON body of a whole HTTP response.
#[allow(dead_code)] // shared by the test binaries; not every one of them reads JSON
pub fn json_field(response: &str, name: &str) -> String {
    let body = response.split("\r\n\r\n").nth(1).unwrap_or_default();
    let value: serde_json::Value = serde_json::from_str(body.trim()).expect("a JSON body");
    value[name].as_str().expect("the field").to_owned()
}

/// Signs in over `POST /api/auth/login`: the access token.
#[allow(dead_code)] // shared by the test binaries; not every one of them signs in
pub fn sign_in(port: u16, username: &str, password: &str) -> String {
    let body = format!(r#"{{"username":"{username}","password":"{password}"}}"#);
    let (status, response) = http_json(port, "POST", "/api/auth/login", &body).expect("login");
    assert_eq!(status, 200, "{response}");
    json_field(&response, "access")
}

/// Issues `device`'s credentials as the admin holding `token`: the new secret.
#[allow(dead_code)] // shared by the test binaries; not every one of them issues credentials
pub fn issue_credentials(port: u16, token: &str, device: &str) -> String {
    let path = format!("/api/devices/{device}/credentials");
    let (status, response) =
        http_json_as(port, "POST", &path, "{}", Some(token)).expect("credentials");
    assert_eq!(status, 201, "{response}");
    json_field(&response, "secret")
}

/// Runs `command` with `stdin` written to its standard input; its whole output.
#[allow(dead_code)] // shared by the test binaries; not every one of them runs commands
pub fn run_with_stdin(mut command: Command, stdin: &str) -> Output {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write");
    child.wait_with_output().expect("wait")
}
