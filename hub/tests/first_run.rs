//! A newcomer's first run, as the README's quick start has them do it: start the hub, then
//! create the first admin — with `cavs-hub user create` while the hub runs (the embedded
//! database is locked to the hub, so the command goes through its local admin channel), or
//! on the web app's first-run page with the one-time code the hub logs. Also: the app is
//! served at `/` with a strict policy, and the default log carries no dependency chatter.

use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

mod common;

use common::{free_port, http_get, http_json, run_with_stdin};

const HUB: &str = env!("CARGO_BIN_EXE_cavs-hub");

/// `cavs-hub` with a clean environment (no `RUST_LOG`: the default filter applies).
fn hub(dir: &Path, http: u16, mqtt: u16) -> Command {
    let mut cmd = Command::new(HUB);
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("CAVS_HTTP_ADDR", format!("127.0.0.1:{http}"))
        .env("CAVS_MQTT_ADDR", format!("127.0.0.1:{mqtt}"))
        .env("CAVS_RECOGNIZER_WORKERS", "1")
        .current_dir(dir);
    cmd
}

fn wait_for_health(http: u16, child: &mut Child) {
    let until = Instant::now() + Duration::from_secs(60);
    while Instant::now() < until {
        if let Some((200, _)) = http_get(http, "/api/health") {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("hub exited early: {status:?}");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("hub did not answer /api/health within 60 s");
}

/// Runs `cavs-hub ARGS` against the running hub's data dir, with `stdin` as input.
fn admin_command(dir: &Path, http: u16, mqtt: u16, args: &[&str], stdin: &str) -> (bool, String) {
    let mut command = hub(dir, http, mqtt);
    command.args(args);
    let out = run_with_stdin(command, stdin);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn header<'a>(response: &'a str, name: &str) -> Option<&'a str> {
    let head = response.split("\r\n\r\n").next().unwrap_or_default();
    head.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.eq_ignore_ascii_case(name).then(|| value.trim())
    })
}

#[test]
fn a_newcomer_creates_the_first_admin_while_the_hub_runs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log_path = dir.path().join("hub.log");
    let log = std::fs::File::create(&log_path).expect("log file");
    let (http, mqtt) = (free_port(), free_port());
    let mut child = hub(dir.path(), http, mqtt)
        .arg("serve")
        .stdout(log.try_clone().expect("clone"))
        .stderr(log)
        .spawn()
        .expect("spawn");
    wait_for_health(http, &mut child);

    // The empty hub logs a one-time code for the first-run page.
    let text = std::fs::read_to_string(&log_path).expect("log");
    let code = text
        .split("one-time set-up code ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no set-up code in the log:\n{text}"))
        .to_owned();
    assert_eq!(code.len(), 12, "{code}");

    // The app is served at `/` with a strict policy; its script is a file, never inline.
    let (status, page) = http_get(http, "/").expect("GET /");
    assert_eq!(status, 200, "{page}");
    assert!(header(&page, "content-type").is_some_and(|t| t.starts_with("text/html")));
    let csp = header(&page, "content-security-policy").expect("CSP header");
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe"),
        "{csp}"
    );
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(page.contains("src=\"/js/app.js\""), "{page}");
    assert!(!page.contains("<script>"), "no inline script");
    let (status, _) = http_get(http, "/js/app.js").expect("GET app.js");
    assert_eq!(status, 200);
    let (status, missing) = http_get(http, "/js/no-such-file.js").expect("GET missing");
    assert_eq!(status, 404, "{missing}");
    assert!(missing.contains("application/problem+json"), "{missing}");

    // The first-run page: needed, a wrong code refused, the right one creates an admin.
    let (_, setup) = http_get(http, "/api/setup").expect("GET /api/setup");
    assert!(setup.contains("\"needed\":true"), "{setup}");
    let body = |code: &str| {
        format!(r#"{{"code":"{code}","username":"first-admin","password":"long-enough-password"}}"#)
    };
    let (status, wrong) =
        http_json(http, "POST", "/api/setup", &body("WRONGCODE234")).expect("POST");
    assert_eq!(status, 403, "{wrong}");
    assert!(wrong.contains("wrong-setup-code"), "{wrong}");
    let (status, created) = http_json(http, "POST", "/api/setup", &body(&code)).expect("POST");
    assert_eq!(status, 201, "{created}");
    assert!(created.contains("\"access\""), "{created}");
    let (status, again) = http_json(http, "POST", "/api/setup", &body(&code)).expect("POST");
    assert_eq!(status, 409, "{again}");
    let (_, setup) = http_get(http, "/api/setup").expect("GET /api/setup");
    assert!(setup.contains("\"needed\":false"), "{setup}");

    // The admin commands work while the hub holds the database, through a socket only this
    // OS account may open.
    let socket = dir.path().join("data").join("control.sock");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&socket)
            .expect("control.sock")
            .permissions(),
    );
    assert_eq!(mode & 0o777, 0o600, "control.sock mode {mode:o}");
    let (ok, out) = admin_command(
        dir.path(),
        http,
        mqtt,
        &[
            "user",
            "create",
            "--username",
            "teacher-1",
            "--role",
            "teacher",
            "--classroom",
            "room-1",
            "--password-stdin",
        ],
        "another-long-password\n",
    );
    assert!(ok, "{out}");
    assert!(out.contains("created teacher user teacher-1"), "{out}");
    let (ok, out) = admin_command(
        dir.path(),
        http,
        mqtt,
        &[
            "user",
            "create",
            "--username",
            "teacher-1",
            "--role",
            "teacher",
            "--password-stdin",
        ],
        "another-long-password\n",
    );
    assert!(!ok && out.contains("taken"), "{out}");
    let (ok, out) = admin_command(dir.path(), http, mqtt, &["migrate"], "");
    assert!(ok && out.contains("schema version 5"), "{out}");
    let photos = dir.path().join("photos");
    std::fs::create_dir_all(photos.join("S1")).expect("mkdir");
    std::fs::copy(
        format!(
            "{}/../../shared/faces/more/paul_rudd/paul_rudd_aligned.png",
            env!("CARGO_MANIFEST_DIR")
        ),
        photos.join("S1").join("id.png"),
    )
    .expect("copy a photo");
    std::fs::write(photos.join("students.csv"), "S1,Paul Rudd,,,,yes\n").expect("roster");
    let (ok, out) = admin_command(
        dir.path(),
        http,
        mqtt,
        &["enroll", photos.to_str().expect("utf-8 path")],
        "",
    );
    assert!(ok && out.contains("1 enrolled"), "{out}");
    // The retention schedule, asked of the running hub: a new enrollment has nothing expired.
    let (ok, out) = admin_command(dir.path(), http, mqtt, &["purge", "--dry-run"], "");
    assert!(
        ok && out.contains("retention purge (dry run): would delete 0 records"),
        "{out}"
    );
    let (status, login) = http_json(
        http,
        "POST",
        "/api/auth/login",
        r#"{"username":"teacher-1","password":"another-long-password"}"#,
    )
    .expect("login");
    assert_eq!(status, 200, "{login}");

    // Quiet by default: no storage engine chatter, no line per request.
    let text = std::fs::read_to_string(&log_path).expect("log");
    assert!(!text.contains("surrealkv"), "{text}");
    assert!(!text.contains("/api/health"), "{text}");
    assert!(text.contains("hub ready"), "{text}");

    let kill = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(kill.success());
    let status = child.wait().expect("wait");
    assert!(status.success(), "{status:?}");
    assert!(
        !dir.path().join("data").join("control.sock").exists(),
        "the socket is removed on stop"
    );
    // With the hub stopped the same command opens the store itself.
    let (ok, out) = admin_command(dir.path(), http, mqtt, &["migrate"], "");
    assert!(
        ok && out.contains("schema version 5") && !out.contains("running hub"),
        "{out}"
    );
}
