//! The agent against a real MQTT broker: rumqttd started in the test on a 127.0.0.1 port, with a
//! TCP relay in front of it that the tests cut and restore to simulate outages. A watcher client
//! connects to the broker directly and checks what arrives (de-duplicating frames by `frame_id`,
//! as the hub does); like the hub, it acknowledges every frame it receives on the device's acks
//! topic, which is what lets the agent delete a frame from its spool.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use cavs_agent::RunStats;
use cavs_config::{AgentSettings, Resolution, SecretString};
use cavs_models::protocol::{
    AckOutcome, DeviceState, FrameAck, FrameHeader, Heartbeat, SigningKey, StatusPayload, Topic,
    decode_frame, verify_header,
};
use rumqttc::{AsyncClient, Event, Incoming, MqttOptions, Publish, QoS};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::{Instant, sleep, timeout};

const DEVICE: &str = "cam-101";
const SECRET: &str = "s3cret-device";
const CLASSROOM: &str = "room-101";
const WATCHER: &str = "watcher";
const WATCHER_PASS: &str = "watch";
const PHOTOS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/faces/dev");

// ---------------------------------------------------------------------------------------------
// Log capture (to check that problems are logged).

#[derive(Clone, Default)]
struct LogBuf(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogBuf {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(buf);
        std::io::stderr().write_all(buf)?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn logs() -> &'static LogBuf {
    static LOGS: OnceLock<LogBuf> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buf = LogBuf::default();
        let writer = buf.clone();
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("cavs_agent=debug"))
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .try_init();
        buf
    })
}

fn log_text() -> String {
    String::from_utf8_lossy(&logs().0.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
}

// ---------------------------------------------------------------------------------------------
// Broker and relay.

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

/// Starts rumqttd on 127.0.0.1 (it runs on its own threads until the test process exits) and
/// returns its port once it accepts connections.
async fn start_broker() -> u16 {
    logs();
    let port = free_port();
    let mut connections = rumqttd::ConnectionSettings {
        connection_timeout_ms: 5000,
        max_payload_size: 8 * 1024 * 1024,
        max_inflight_count: 100,
        auth: None,
        external_auth: None,
        dynamic_filters: true,
        authorize: None,
    };
    connections.set_auth_handler(|_client: String, user: String, pass: String| async move {
        (user == DEVICE && pass == SECRET) || (user == WATCHER && pass == WATCHER_PASS)
    });
    let server = rumqttd::ServerSettings {
        name: "v4".into(),
        listen: SocketAddr::from(([127, 0, 0, 1], port)),
        tls: None,
        next_connection_delay_ms: 1,
        connections,
    };
    let config = rumqttd::Config {
        id: 0,
        router: rumqttd::RouterConfig {
            max_connections: 64,
            max_outgoing_packet_count: 200,
            max_segment_size: 16 * 1024 * 1024,
            max_segment_count: 10,
            ..Default::default()
        },
        v4: Some(HashMap::from([("1".to_owned(), server)])),
        ..Default::default()
    };
    std::thread::spawn(move || {
        let mut broker = rumqttd::Broker::new(config);
        if let Err(e) = broker.start() {
            eprintln!("broker stopped: {e}");
        }
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).await.is_err() {
        assert!(Instant::now() < deadline, "broker did not start");
        sleep(Duration::from_millis(20)).await;
    }
    port
}

/// A TCP relay in front of the broker: `down` drops the listener and every relayed connection
/// (the broker sees the agent vanish, as in a network outage); `up` listens again on the same port.
struct Relay {
    port: u16,
    upstream: u16,
    task: Option<JoinHandle<()>>,
}

impl Relay {
    fn new(upstream: u16) -> Self {
        Relay {
            port: free_port(),
            upstream,
            task: None,
        }
    }

    async fn up(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        let listener = loop {
            match TcpListener::bind(("127.0.0.1", self.port)).await {
                Ok(l) => break l,
                Err(e) => {
                    assert!(Instant::now() < deadline, "relay cannot listen again: {e}");
                    sleep(Duration::from_millis(50)).await;
                }
            }
        };
        let upstream = self.upstream;
        self.task = Some(tokio::spawn(async move {
            let mut links = JoinSet::new();
            while let Ok((mut inbound, _)) = listener.accept().await {
                links.spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(("127.0.0.1", upstream)).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        }));
    }

    async fn down(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Watcher client.

struct Watcher {
    client: AsyncClient,
    rx: mpsc::UnboundedReceiver<Publish>,
    task: JoinHandle<()>,
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Watcher {
    /// Connects to the broker directly and subscribes (QoS 1) to `filters`.
    async fn connect(port: u16, name: &str, filters: &[String]) -> Watcher {
        let mut options = MqttOptions::new(name, "127.0.0.1", port);
        options
            .set_credentials(WATCHER, WATCHER_PASS)
            .set_max_packet_size(16 << 20, 16 << 20);
        let (client, mut eventloop) = AsyncClient::new(options, 64);
        for filter in filters {
            client
                .subscribe(filter.clone(), QoS::AtLeastOnce)
                .await
                .expect("subscribe");
        }
        let (tx, rx) = mpsc::unbounded_channel();
        let (ready_tx, ready_rx) = oneshot::channel();
        let ack_client = client.clone();
        let task = tokio::spawn(async move {
            let mut ready = Some(ready_tx);
            loop {
                match eventloop.poll().await {
                    Ok(Event::Incoming(Incoming::SubAck(_))) => {
                        if let Some(r) = ready.take() {
                            let _ = r.send(());
                        }
                    }
                    Ok(Event::Incoming(Incoming::Publish(p))) => {
                        if p.topic == frames_topic() {
                            ack_frame(&ack_client, &p.payload);
                        }
                        let _ = tx.send(p);
                    }
                    Ok(_) => {}
                    Err(_) => sleep(Duration::from_millis(100)).await,
                }
            }
        });
        timeout(Duration::from_secs(10), ready_rx)
            .await
            .expect("watcher subscribed in time")
            .expect("watcher task alive");
        Watcher { client, rx, task }
    }

    async fn next(&mut self, within: Duration) -> Option<Publish> {
        timeout(within, self.rx.recv()).await.ok().flatten()
    }

    fn drain(&mut self) -> Vec<Publish> {
        let mut out = Vec::new();
        while let Ok(p) = self.rx.try_recv() {
            out.push(p);
        }
        out
    }

    async fn publish_config(&self, json: &str) {
        self.client
            .publish(
                Topic::config(DEVICE).to_string(),
                QoS::AtLeastOnce,
                true,
                json.as_bytes().to_vec(),
            )
            .await
            .expect("publish config");
    }
}

fn status_topic() -> String {
    Topic::status(DEVICE).to_string()
}

fn frames_topic() -> String {
    Topic::frames(CLASSROOM, DEVICE).to_string()
}

/// The retained status a fresh subscriber gets now.
async fn retained_status(port: u16) -> Option<StatusPayload> {
    let mut w = Watcher::connect(port, "status-probe", &[status_topic()]).await;
    // A status published while the probe subscribes may arrive live (not flagged retained):
    // only a message flagged retained counts.
    let deadline = Instant::now() + Duration::from_secs(1);
    while let Some(p) = w
        .next(deadline.saturating_duration_since(Instant::now()))
        .await
    {
        if p.retain {
            return Some(StatusPayload::from_slice(&p.payload).expect("status json"));
        }
        eprintln!(
            "probe: live status {:?}",
            String::from_utf8_lossy(&p.payload)
        );
    }
    None
}

/// Polls the retained status until `want` (bounded).
async fn wait_retained(port: u16, want: DeviceState, within: Duration) -> StatusPayload {
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = retained_status(port).await
            && status.state == want
        {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "retained status never became {want:?}"
        );
        sleep(Duration::from_millis(100)).await;
    }
}

/// Decodes and verifies a frame envelope.
fn check_frame(payload: &[u8]) -> FrameHeader {
    let (header, image) = decode_frame(payload).expect("frame envelope");
    verify_header(&header, image, &SigningKey::derive(SECRET)).expect("valid signature");
    assert_eq!(header.device_id, DEVICE);
    assert_eq!(header.classroom_id, CLASSROOM);
    let decoded = image::load_from_memory(image).expect("JPEG decodes");
    assert_eq!(
        (decoded.width(), decoded.height()),
        (header.width, header.height)
    );
    header
}

// ---------------------------------------------------------------------------------------------
// Agent.

fn settings(broker_port: u16, spool: &Path) -> AgentSettings {
    AgentSettings {
        broker_url: format!("mqtt://127.0.0.1:{broker_port}"),
        ca_file: None,
        device_id: DEVICE.into(),
        device_secret: Some(SecretString::from(SECRET)),
        classroom_id: CLASSROOM.into(),
        source: "synthetic".into(),
        capture_interval_ms: 100,
        jpeg_quality: 60,
        resolution: Resolution {
            width: 160,
            height: 120,
        },
        spool_dir: spool.to_owned(),
        spool_max_mb: 64,
        heartbeat_secs: 1,
        change_threshold: 0.0,
        enabled: true,
        source_loop: false,
        reconnect_max_ms: 400,
    }
}

struct Running {
    stop: oneshot::Sender<()>,
    task: JoinHandle<Result<RunStats, cavs_agent::AgentError>>,
}

fn start_agent(settings: AgentSettings) -> Running {
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(cavs_agent::run(settings, async move {
        let _ = stopped.await;
    }));
    Running { stop, task }
}

impl Running {
    async fn stop(self) -> RunStats {
        let _ = self.stop.send(());
        timeout(Duration::from_secs(20), self.task)
            .await
            .expect("agent stops in time")
            .expect("agent task")
            .expect("agent run")
    }
}

fn spool_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == "frame"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// Acknowledges a frame as the hub does once it is recorded.
fn ack_frame(client: &AsyncClient, payload: &[u8]) {
    let Ok((header, _)) = decode_frame(payload) else {
        return;
    };
    let ack = FrameAck {
        frame_id: header.frame_id,
        outcome: AckOutcome::Recorded,
        reason: None,
        retry_after_ms: None,
        faces: Some(0),
    };
    let _ = client.try_publish(
        Topic::acks(DEVICE).to_string(),
        QoS::AtLeastOnce,
        false,
        ack.to_vec(),
    );
}

async fn wait_until(what: &str, within: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        sleep(Duration::from_millis(50)).await;
    }
}

/// Waits (bounded) until the spool is empty and no frame has arrived for half a second.
async fn quiesce(frames: &mut Watcher, spool: &Path) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let quiet = frames.next(Duration::from_millis(500)).await.is_none();
        if quiet && spool_files(spool).is_empty() {
            return;
        }
        assert!(Instant::now() < deadline, "frames never stopped");
    }
}

/// Collects frames de-duplicated by `frame_id`: seq → header, plus the count of repeats.
#[derive(Default)]
struct Frames {
    by_id: HashMap<uuid::Uuid, FrameHeader>,
    by_seq: BTreeMap<u64, uuid::Uuid>,
    arrival: Vec<u64>,
    repeats: usize,
}

impl Frames {
    fn add(&mut self, p: &Publish) {
        let header = check_frame(&p.payload);
        if let Some(seen) = self.by_id.get(&header.frame_id) {
            assert_eq!(
                seen, &header,
                "a repeated frame_id must carry the same frame"
            );
            self.repeats += 1;
            return;
        }
        assert!(
            self.by_seq.insert(header.seq, header.frame_id).is_none(),
            "two different frames with seq {}",
            header.seq
        );
        self.arrival.push(header.seq);
        self.by_id.insert(header.frame_id, header);
    }
}

// ---------------------------------------------------------------------------------------------
// Tests.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retained_online_then_last_will_offline_then_clean_offline() {
    let broker = start_broker().await;
    let mut relay = Relay::new(broker);
    relay.up().await;
    let spool = tempfile::tempdir().expect("tempdir");
    let mut hb = Watcher::connect(broker, "hb", &[Topic::heartbeat(DEVICE).to_string()]).await;
    let _frames = Watcher::connect(broker, "frames-acker", &[frames_topic()]).await;
    let agent = start_agent(settings(relay.port, spool.path()));

    let online = wait_retained(broker, DeviceState::Online, Duration::from_secs(10)).await;
    assert_eq!(
        online.agent_version.as_deref(),
        Some(cavs_agent::AGENT_VERSION)
    );
    let beat = hb.next(Duration::from_secs(5)).await.expect("a heartbeat");
    let beat = Heartbeat::from_slice(&beat.payload).expect("heartbeat json");
    assert!(beat.spool_depth < 1000);
    assert!(beat.disk_free.is_some_and(|b| b > 0), "{beat:?}");

    // The network goes away: the broker publishes the agent's retained last will.
    relay.down().await;
    let offline = wait_retained(broker, DeviceState::Offline, Duration::from_secs(10)).await;
    assert_eq!(offline.reason.as_deref(), Some("connection lost"));

    // It comes back: the agent reconnects and is online again.
    relay.up().await;
    wait_retained(broker, DeviceState::Online, Duration::from_secs(10)).await;

    // A clean stop leaves a retained offline status with its own reason.
    let stats = agent.stop().await;
    let stopped = wait_retained(broker, DeviceState::Offline, Duration::from_secs(5)).await;
    assert_eq!(stopped.reason.as_deref(), Some("agent stopped"));
    assert!(stats.frames_sent > 0, "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_changes_apply_live_and_malformed_ones_are_ignored() {
    let broker = start_broker().await;
    let spool = tempfile::tempdir().expect("tempdir");
    let mut frames = Watcher::connect(broker, "frames-cfg", &[frames_topic()]).await;
    let mut s = settings(broker, spool.path());
    s.capture_interval_ms = 150;
    let agent = start_agent(s);

    let first = frames
        .next(Duration::from_secs(10))
        .await
        .expect("a first frame");
    assert_eq!(
        (
            check_frame(&first.payload).width,
            check_frame(&first.payload).height
        ),
        (160, 120)
    );

    // Resolution and interval change while running.
    frames
        .publish_config(r#"{"resolution": "64x48", "capture_interval_ms": 100}"#)
        .await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let p = frames
            .next(Duration::from_secs(5))
            .await
            .expect("frames keep coming");
        if check_frame(&p.payload).width == 64 {
            break;
        }
        assert!(Instant::now() < deadline, "new resolution never applied");
    }
    for _ in 0..3 {
        let p = frames
            .next(Duration::from_secs(5))
            .await
            .expect("frames keep coming");
        let h = check_frame(&p.payload);
        assert_eq!((h.width, h.height), (64, 48));
    }

    // Disabled: frames stop (once the spool has drained what was captured before).
    frames.publish_config(r#"{"enabled": false}"#).await;
    quiesce(&mut frames, spool.path()).await;
    assert!(
        frames.next(Duration::from_millis(1200)).await.is_none(),
        "frames after disable"
    );

    // A malformed config is refused with a warning naming the device; the current one stays.
    frames
        .publish_config(r#"{"enabled": true, "jpeg_quality": 0}"#)
        .await;
    assert!(
        frames.next(Duration::from_millis(1200)).await.is_none(),
        "malformed config applied"
    );
    wait_until(
        "the malformed-config warning",
        Duration::from_secs(5),
        || {
            log_text()
                .lines()
                .any(|l| l.contains("ignoring malformed config") && l.contains(DEVICE))
        },
    )
    .await;

    // Enabled again: the earlier resolution is kept (a config names only what it changes).
    frames.publish_config(r#"{"enabled": true}"#).await;
    let p = frames
        .next(Duration::from_secs(5))
        .await
        .expect("frames resume");
    assert_eq!(check_frame(&p.payload).width, 64);

    agent.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outage_spools_then_replays_every_frame_exactly_once() {
    let broker = start_broker().await;
    let mut relay = Relay::new(broker);
    relay.up().await;
    let spool = tempfile::tempdir().expect("tempdir");
    let mut frames = Watcher::connect(broker, "frames-outage", &[frames_topic()]).await;
    // The hub advertises the rate it admits; the agent captures at 10 fps here, so it must be
    // told more than that to catch up after the outage.
    frames.publish_config(r#"{"max_fps": 50}"#).await;
    let agent = start_agent(settings(relay.port, spool.path()));
    let mut seen = Frames::default();

    for _ in 0..3 {
        let p = frames
            .next(Duration::from_secs(10))
            .await
            .expect("frames before the outage");
        seen.add(&p);
    }

    // Broker unreachable: the spool grows.
    relay.down().await;
    wait_until("the spool to grow", Duration::from_secs(15), || {
        spool_files(spool.path()).len() >= 12
    })
    .await;
    // The frames waiting in the spool at the peak of the outage (some may have reached the
    // broker before it went away, their acks lost): every one of them must arrive.
    let spooled: Vec<u64> = spool_files(spool.path())
        .iter()
        .filter_map(|p| p.file_stem()?.to_str()?.parse().ok())
        .collect();

    // Broker back: everything spooled is replayed; then capture is switched off so the set of
    // frames is final, and the spool drains.
    relay.up().await;
    wait_until(
        "the spool to start draining",
        Duration::from_secs(15),
        || spool_files(spool.path()).len() < 12,
    )
    .await;
    frames.publish_config(r#"{"enabled": false}"#).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        while let Some(p) = frames.next(Duration::from_millis(300)).await {
            seen.add(&p);
        }
        if spool_files(spool.path()).is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "the spool never drained");
    }
    sleep(Duration::from_millis(500)).await;
    for p in frames.drain() {
        seen.add(&p);
    }
    let stats = agent.stop().await;

    let seqs: Vec<u64> = seen.by_seq.keys().copied().collect();
    assert!(spooled.len() >= 12, "{spooled:?}");
    let missing: Vec<u64> = spooled
        .iter()
        .filter(|s| !seen.by_seq.contains_key(s))
        .copied()
        .collect();
    assert!(
        missing.is_empty(),
        "spooled frames never arrived: {missing:?}"
    );
    let expected: Vec<u64> = (1..=stats.frames_captured).collect();
    assert_eq!(seqs, expected, "every captured frame arrives, none missing");
    let mut arrival = seen.arrival.clone();
    arrival.sort();
    assert_eq!(
        arrival, seen.arrival,
        "frames first arrive in capture order"
    );
    assert_eq!(stats.frames_sent, stats.frames_captured, "{stats:?}");
    assert_eq!(stats.spool_depth, 0);
    assert_eq!(stats.spool_dropped, 0);
    eprintln!(
        "outage: {} frames, {} repeats removed by frame_id",
        seqs.len(),
        seen.repeats
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spool_survives_restart_and_skips_a_corrupt_entry() {
    let broker = start_broker().await;
    let mut relay = Relay::new(broker);
    let spool = tempfile::tempdir().expect("tempdir");

    // First run: the broker is unreachable the whole time, frames pile up in the spool.
    let first = start_agent(settings(relay.port, spool.path()));
    wait_until("frames in the spool", Duration::from_secs(15), || {
        spool_files(spool.path()).len() >= 8
    })
    .await;
    let stats = first.stop().await;
    assert_eq!(stats.frames_sent, 0);
    let files = spool_files(spool.path());
    assert_eq!(files.len() as u64, stats.spool_depth);

    // Damage one entry in the middle.
    let bad = files[files.len() / 2].clone();
    let mut data = std::fs::read(&bad).expect("read");
    let last = data.len() - 1;
    data[last] ^= 0x5a;
    std::fs::write(&bad, data).expect("write");
    let bad_seq: u64 = bad
        .file_stem()
        .and_then(|s| s.to_str())
        .and_then(|s| s.parse().ok())
        .expect("seq file name");
    let mut wanted: Vec<u64> = files
        .iter()
        .filter_map(|f| f.file_stem()?.to_str()?.parse().ok())
        .collect();
    wanted.retain(|s| *s != bad_seq);

    // Second run, capture off, broker reachable: only the spooled frames are replayed.
    relay.up().await;
    let mut frames = Watcher::connect(broker, "frames-restart", &[frames_topic()]).await;
    let mut s = settings(relay.port, spool.path());
    s.enabled = false;
    let second = start_agent(s);
    let mut seen = Frames::default();
    let deadline = Instant::now() + Duration::from_secs(20);
    while seen.by_seq.len() < wanted.len() {
        let p = frames
            .next(Duration::from_secs(5))
            .await
            .expect("replayed frames");
        seen.add(&p);
        assert!(Instant::now() < deadline, "replay incomplete");
    }
    wait_until("the spool to drain", Duration::from_secs(10), || {
        spool_files(spool.path()).is_empty()
    })
    .await;
    assert!(
        frames.next(Duration::from_millis(500)).await.is_none(),
        "unexpected extra frame"
    );
    let stats = second.stop().await;

    assert_eq!(
        seen.arrival, wanted,
        "the intact frames, in order, once each"
    );
    assert_eq!(stats.frames_sent as usize, wanted.len());
    let bad_name = bad
        .file_name()
        .and_then(|n| n.to_str())
        .expect("name")
        .to_owned();
    assert!(
        log_text()
            .lines()
            .any(|l| l.contains("skipping corrupt spool entry") && l.contains(&bad_name)),
        "no log line for the corrupt entry {bad_name}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_publishes_images_once_and_returns() {
    let broker = start_broker().await;
    let spool = tempfile::tempdir().expect("tempdir");
    let mut frames =
        Watcher::connect(broker, "frames-send", &[frames_topic(), status_topic()]).await;
    let mut s = settings(broker, spool.path());
    s.resolution = Resolution {
        width: 320,
        height: 240,
    };
    let photos = [
        PathBuf::from(PHOTOS).join("obama/obama-480p.jpg"),
        PathBuf::from(PHOTOS).join("biden/biden.jpg"),
    ];
    let sent = cavs_agent::send_images(&s, &photos, Duration::from_secs(10))
        .await
        .expect("send");
    assert_eq!(sent, 2);
    let mut seen = Frames::default();
    while let Some(p) = frames.next(Duration::from_secs(2)).await {
        assert_eq!(p.topic, frames_topic(), "send must not publish a status");
        seen.add(&p);
    }
    assert_eq!(seen.by_id.len(), 2);
    for header in seen.by_id.values() {
        assert!(header.width <= 320 && header.height <= 240, "{header:?}");
    }
    assert!(
        spool_files(spool.path()).is_empty(),
        "send does not use the spool"
    );
}
