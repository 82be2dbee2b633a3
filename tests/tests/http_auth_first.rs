//! The REST API authenticates before it reads a request body: a client that announces a large
//! upload without valid credentials gets its 401 at once, while the body it announced has not
//! been sent (raw HTTP/1.1 on a loopback socket, the way an attacker would hold a connection).

use std::time::Duration;

use cavs_tests::TestHub;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Sends `head` (request line and headers) and no body; returns the status line the hub sends
/// within 5 s, if any.
async fn status_without_body(hub: &TestHub, head: String) -> Option<String> {
    let mut stream = tokio::net::TcpStream::connect(hub.hub.http_addr)
        .await
        .expect("connect");
    stream.write_all(head.as_bytes()).await.expect("write");
    let mut answer = vec![0u8; 512];
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut answer)).await;
    match read {
        Ok(Ok(n)) if n > 0 => String::from_utf8_lossy(&answer[..n])
            .lines()
            .next()
            .map(str::to_owned),
        _ => None,
    }
}

#[actix::test]
async fn unauthenticated_uploads_are_refused_before_their_body_is_read() {
    let hub = TestHub::start(|s| s.recognizer_workers = 1)
        .await
        .expect("hub starts");
    let student = uuid::Uuid::now_v7();
    let cases = [
        // No credentials, a photo upload of 5 MB announced.
        format!(
            "POST /api/students/{student}/photos HTTP/1.1\r\nHost: 127.0.0.1\r\n\
             Content-Type: multipart/form-data; boundary=xyz\r\nContent-Length: 5000000\r\n\r\n"
        ),
        // A forged bearer token on a JSON endpoint.
        "POST /api/students HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer not.a.jwt\r\n\
         Content-Type: application/json\r\nContent-Length: 4000000\r\n\r\n"
            .to_owned(),
        // A camera upload with a wrong device secret.
        "POST /api/capture HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Basic Y2FtLTE6d3Jvbmc=\r\n\
         Content-Type: multipart/form-data; boundary=xyz\r\nContent-Length: 5000000\r\n\r\n"
            .to_owned(),
    ];
    for head in cases {
        let status = status_without_body(&hub, head.clone()).await;
        assert!(
            status.as_deref().is_some_and(|s| s.contains(" 401 ")),
            "expected an immediate 401, got {status:?} for\n{head}"
        );
    }
    hub.hub.shutdown().await;
}
