//! A real Mosquitto (Debian's `mosquitto`, 2.0) on a free 127.0.0.1 port with the
//! dynamic-security plugin, set up the way `docs/scaling.md` tells an installer to: `mosquitto_ctrl
//! dynsec init` makes the hub's service account its admin, and the hub does the rest.
#![allow(dead_code)] // shared by the test binaries; not every one of them starts a broker

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::free_port;

/// Where Debian and others install the plugin.
const PLUGIN_PATHS: [&str; 3] = [
    "/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so",
    "/usr/lib/aarch64-linux-gnu/mosquitto_dynamic_security.so",
    "/usr/lib/mosquitto_dynamic_security.so",
];

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
        let plugin = PLUGIN_PATHS
            .iter()
            .find(|p| Path::new(p).exists())
            .expect("mosquitto's dynamic-security plugin (apt-get install mosquitto)");
        let dir = tempfile::tempdir().expect("tempdir");
        let dynsec = dir.path().join("dynsec.json");
        let init = Command::new("mosquitto_ctrl")
            .args(["dynsec", "init"])
            .arg(&dynsec)
            .args([admin, password])
            .stdout(Stdio::null())
            .status()
            .expect("mosquitto_ctrl (apt-get install mosquitto-clients)");
        assert!(init.success(), "dynsec init");
        let port = free_port();
        let user = Command::new("id")
            .arg("-un")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .expect("id -un");
        let log = dir.path().join("mosquitto.log");
        let config = dir.path().join("mosquitto.conf");
        std::fs::write(
            &config,
            format!(
                "listener {port} 127.0.0.1\nallow_anonymous false\nuser {user}\npersistence false\n\
                 plugin {plugin}\nplugin_opt_config_file {}\nlog_dest file {}\nlog_type error\nlog_type warning\nlog_type notice\n",
                dynsec.display(),
                log.display()
            ),
        )
        .expect("config");
        let child = Command::new("mosquitto")
            .arg("-c")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("mosquitto (apt-get install mosquitto)");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "mosquitto never listened");
            std::thread::sleep(Duration::from_millis(50));
        }
        Mosquitto {
            child,
            port,
            log,
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
