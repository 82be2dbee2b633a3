//! The admin commands' side of the local channel.

use std::path::{Path, PathBuf};

use super::protocol::{ControlReply, ControlRequest};

/// The socket's file name inside the data dir.
pub const SOCKET_FILE: &str = "control.sock";

/// Where the running hub of `data_dir` listens.
pub fn socket_path(data_dir: &Path) -> PathBuf {
    data_dir.join(SOCKET_FILE)
}

/// Sends `request` to the hub running on `data_dir`: `Ok(None)` when no hub listens there
/// (the command then opens the store itself), the hub's reply otherwise.
#[cfg(unix)]
pub async fn ask_running_hub(
    data_dir: &Path,
    request: &ControlRequest,
) -> std::io::Result<Option<ControlReply>> {
    use std::io::ErrorKind;
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

    let mut stream = match tokio::net::UnixStream::connect(socket_path(data_dir)).await {
        Ok(stream) => stream,
        Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::ConnectionRefused) => {
            return Ok(None);
        }
        Err(e) => return Err(e),
    };
    let mut line = serde_json::to_vec(request).map_err(std::io::Error::other)?;
    line.push(b'\n');
    stream.write_all(&line).await?;
    let mut reply = String::new();
    BufReader::new(stream).read_line(&mut reply).await?;
    serde_json::from_str(&reply)
        .map(Some)
        .map_err(|e| std::io::Error::new(ErrorKind::InvalidData, e))
}

/// Off Unix there is no local channel: commands always open the store themselves.
#[cfg(not(unix))]
pub async fn ask_running_hub(
    _data_dir: &Path,
    _request: &ControlRequest,
) -> std::io::Result<Option<ControlReply>> {
    Ok(None)
}
