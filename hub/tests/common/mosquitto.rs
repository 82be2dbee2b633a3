//! A real Mosquitto (Debian's `mosquitto`, 2.0) on a free 127.0.0.1 port with the
//! dynamic-security plugin, started by `scripts/mosquitto-dev.sh` the way `docs/scaling.md`
//! tells an installer to set it up: `mosquitto_ctrl dynsec init` makes the hub's service
//! account its admin, and the hub does the rest.
#![allow(dead_code)] // shared by the test binaries; not every one of them starts a broker

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::free_port;

/// A running broker; killed when dropped.
pub struct Mosquitto {
    child: Child,
    /// Its plaintext port on 127.0.0.1.
    pub port: u16,
    /// Its log.
    pub log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Mosquitto {
    /// Starts a broker whose dynamic-security admin is `admin` / `password`, and waits until
    /// it accepts connections.
    pub fn start(admin: &str, password: &str) -> Mosquitto {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/mosquitto-dev.sh");
        let dir = tempfile::tempdir().expect("tempdir");
        let port = free_port();
        let child = Command::new(script)
            .arg(dir.path())
            .arg(port.to_string())
            .args([admin, password])
            .stdout(Stdio::null())
            .spawn()
            .expect("scripts/mosquitto-dev.sh (apt-get install mosquitto mosquitto-clients)");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "mosquitto never listened");
            std::thread::sleep(Duration::from_millis(50));
        }
        Mosquitto {
            child,
            port,
            log: dir.path().join("mosquitto.log"),
            _dir: dir,
        }
    }

    /// The broker's URL.
    pub fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
