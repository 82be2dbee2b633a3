//! The client side of a SurrealDB server (`ws://`), the store's path past one machine: no
//! server is installable here, so these check what the hub does when the server is not there
//! or does not speak SurrealDB — a typed connect error naming the URL with the password
//! redacted, within a bounded time, never a hang or a panic.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};

use cavs_models::store::{Store, StoreError};

#[tokio::test]
async fn a_server_that_is_not_there_is_a_connect_error_without_the_password() {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let url = format!("ws://root:secret-pw@127.0.0.1:{port}");
    let started = Instant::now();
    let error = tokio::time::timeout(Duration::from_secs(30), Store::open(&url))
        .await
        .expect("bounded")
        .expect_err("nothing listens");
    assert!(started.elapsed() < Duration::from_secs(30));
    match &error {
        StoreError::Connect { url, .. } => {
            assert!(url.contains("root:***@127.0.0.1"), "{url}");
        }
        other => panic!("not a connect error: {other:?}"),
    }
    assert!(!error.to_string().contains("secret-pw"), "{error}");
}

#[tokio::test]
async fn a_server_that_is_not_surrealdb_is_a_connect_error() {
    // Answers every connection with a plain HTTP 404: no WebSocket upgrade.
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(8) {
            let Ok(mut stream) = stream else { continue };
            let mut request = [0u8; 2048];
            let _ = stream.read(&mut request);
            let _ = stream.write_all(
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
        }
    });
    let url = format!("ws://127.0.0.1:{port}");
    let error = tokio::time::timeout(Duration::from_secs(30), Store::open(&url))
        .await
        .expect("bounded")
        .expect_err("not a SurrealDB server");
    assert!(
        matches!(error, StoreError::Connect { .. }),
        "not a connect error: {error:?}"
    );
}
