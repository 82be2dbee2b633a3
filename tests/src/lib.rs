//! Helpers shared by the end-to-end tests and the `loadgen` benchmark: start a hub in-process
//! on loopback ports with a fresh store, enroll students from photos, register devices, and
//! build signed frames.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::time::Duration;

pub mod flood;
pub mod http;
pub mod mqtt;

use anyhow::Context;
use cavs_api::Pipeline;
use cavs_config::HubSettings;
use cavs_hub::RunningHub;
use cavs_models::protocol::{
    DeviceConfig, FrameHeader, SigningKey, StatusPayload, Topic, encode_frame, sign_header,
};
use cavs_models::store::hash_secret;
use cavs_models::{Actor, Device, DeviceFields, DeviceStatus, StudentFields};
use rumqttc::{AsyncClient, EventLoop, LastWill, MqttOptions, QoS};

/// The labelled development photos (`../shared/faces/dev`, beside the repository).
pub fn faces_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/faces/dev")
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// Settings for a test hub: mem store, temp data dir, loopback ports.
pub fn test_settings(data_dir: &Path) -> anyhow::Result<HubSettings> {
    let mut settings = HubSettings {
        data_dir: data_dir.to_path_buf(),
        database_url: Some("mem://".into()),
        http_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        mqtt_addr: SocketAddr::from(([127, 0, 0, 1], free_port()?)),
        secret_key: Some(secrecy::SecretString::from(
            "test-secret-key-0123456789abcdef0123",
        )),
        ..HubSettings::default()
    };
    settings.device_max_fps = 50.0;
    Ok(settings)
}

/// A hub running in this process with its temp data dir.
pub struct TestHub {
    /// The hub.
    pub hub: RunningHub,
    /// Its data dir (deleted on drop).
    pub data_dir: tempfile::TempDir,
}

impl TestHub {
    /// Starts a hub with `adjust` applied to the test settings. Call inside an actix system.
    pub async fn start(adjust: impl FnOnce(&mut HubSettings)) -> anyhow::Result<Self> {
        let data_dir = tempfile::tempdir()?;
        let mut settings = test_settings(data_dir.path())?;
        adjust(&mut settings);
        let hub = cavs_hub::start(settings).await?;
        Ok(TestHub { hub, data_dir })
    }

    /// Creates a student and enrolls the single face of each photo.
    pub async fn enroll(
        &self,
        number: &str,
        name: &str,
        photos: &[PathBuf],
    ) -> anyhow::Result<cavs_models::Student> {
        let store = &self.hub.store;
        let student = store
            .students()
            .create(
                &StudentFields {
                    student_number: number.into(),
                    full_name: name.into(),
                    ..StudentFields::default()
                },
                &Actor::System,
            )
            .await?;
        // Enrolled students have granted consent (a student without it is never enrolled).
        store
            .students()
            .record_consent(student.id, &test_consent(), &Actor::System)
            .await?;
        for photo in photos {
            let bytes = std::fs::read(photo).with_context(|| photo.display().to_string())?;
            let faces = self.hub.pipeline.embed_photo(bytes).await?;
            anyhow::ensure!(
                faces.len() == 1,
                "{} has {} faces",
                photo.display(),
                faces.len()
            );
            store
                .faces()
                .add(
                    student.id,
                    &faces[0].descriptor,
                    photo.to_str(),
                    &Actor::System,
                )
                .await?;
        }
        self.hub.pipeline.gallery_changed().await;
        Ok(store.students().get(student.id).await?)
    }

    /// The first 500 attendance records in the store.
    pub async fn records(&self) -> anyhow::Result<Vec<cavs_models::AttendanceRecord>> {
        Ok(self
            .hub
            .store
            .attendance()
            .list(
                &cavs_models::AttendanceFilter::default(),
                &cavs_models::PageRequest {
                    page: 1,
                    page_size: 500,
                },
            )
            .await?
            .items)
    }

    /// Registers an active device with credentials `secret`.
    pub async fn register_device(
        &self,
        device_id: &str,
        classroom_id: &str,
        secret: &str,
    ) -> anyhow::Result<Device> {
        let store = &self.hub.store;
        let device = store
            .devices()
            .create(
                &DeviceFields {
                    device_id: device_id.into(),
                    classroom_id: classroom_id.into(),
                    location: None,
                    status: DeviceStatus::Active,
                    config: DeviceConfig::default(),
                },
                &Actor::System,
            )
            .await?;
        let device = store
            .devices()
            .set_credentials(
                device.id,
                &hash_secret(secret)?,
                &SigningKey::derive(secret).to_hex(),
                &Actor::System,
            )
            .await?;
        self.hub
            .pipeline
            .device_changed(&device.device_id, Some(&device))
            .await;
        Ok(device)
    }

    /// A hub with one recognition worker and two cameras with `secret`: `cam-1` in `room-1`
    /// and `cam-2` in `room-2` (the broker tests' two classrooms).
    pub async fn with_two_classrooms(secret: &str) -> anyhow::Result<Self> {
        let hub = TestHub::start(|s| s.recognizer_workers = 1).await?;
        hub.register_device("cam-1", "room-1", secret).await?;
        hub.register_device("cam-2", "room-2", secret).await?;
        Ok(hub)
    }

    /// Adds an account with `password` (argon2-hashed by the store).
    pub async fn add_user(
        &self,
        username: &str,
        password: &str,
        role: cavs_models::Role,
        classrooms: &[&str],
    ) -> anyhow::Result<cavs_models::User> {
        Ok(self
            .hub
            .store
            .users()
            .create(
                &cavs_models::NewUser {
                    username: username.into(),
                    password: password.into(),
                    role,
                    classrooms: classrooms.iter().map(|c| c.to_string()).collect(),
                },
                &Actor::System,
            )
            .await?)
    }

    /// Waits (at most 10 s each) until the broker's listeners (plain and, when configured,
    /// TLS), which run on its own thread, accept TCP connections: a refused CONNECT afterwards is the broker's answer, not a listener still
    /// starting.
    pub async fn wait_for_broker(&self) {
        wait_for_port(self.hub.mqtt_addr).await;
        if let Some(mqtts) = self.hub.mqtts_addr {
            wait_for_port(mqtts).await;
        }
    }

    /// MQTT options for a client of this hub's broker.
    pub fn mqtt_options(&self, client_id: &str, username: &str, password: &str) -> MqttOptions {
        let mut options = MqttOptions::new(
            client_id,
            self.hub.mqtt_addr.ip().to_string(),
            self.hub.mqtt_addr.port(),
        );
        options.set_credentials(username, password);
        options.set_keep_alive(Duration::from_secs(5));
        options.set_max_packet_size(16 * 1024 * 1024, 16 * 1024 * 1024);
        options
    }
}

/// Waits (at most 10 s) until `addr` accepts TCP connections.
pub async fn wait_for_port(addr: SocketAddr) {
    let until = std::time::Instant::now() + Duration::from_secs(10);
    while tokio::net::TcpStream::connect(addr).await.is_err() && std::time::Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A device client: connected with its credentials and a retained `offline` last will.
pub fn device_client(hub: &TestHub, device_id: &str, secret: &str) -> (AsyncClient, EventLoop) {
    let mut options = hub.mqtt_options(device_id, device_id, secret);
    let will = serde_json::to_vec(&StatusPayload::now(
        cavs_models::protocol::DeviceState::Offline,
    ))
    .unwrap_or_default();
    options.set_last_will(LastWill::new(
        Topic::status(device_id).to_string(),
        will,
        QoS::AtLeastOnce,
        true,
    ));
    AsyncClient::new(options, 64)
}

/// A signed frame envelope for `jpeg`, captured now.
pub fn signed_frame(
    device_id: &str,
    classroom_id: &str,
    secret: &str,
    seq: u64,
    jpeg: &[u8],
) -> anyhow::Result<(FrameHeader, Vec<u8>)> {
    let (width, height) = image::ImageReader::new(std::io::Cursor::new(jpeg))
        .with_guessed_format()?
        .into_dimensions()?;
    let mut header = FrameHeader::new_jpeg(device_id, classroom_id, seq, width, height);
    sign_header(&mut header, jpeg, &SigningKey::derive(secret));
    let envelope = encode_frame(&header, jpeg);
    Ok((header, envelope))
}

/// Re-encodes a photo as a `width`×`height` JPEG (letterboxed), like a camera frame.
pub fn camera_frame(photo: &Path, width: u32, height: u32) -> anyhow::Result<Vec<u8>> {
    let img = image::open(photo)?.to_rgb8();
    let scale = f64::min(
        f64::from(width) / f64::from(img.width()),
        f64::from(height) / f64::from(img.height()),
    );
    let (w, h) = (
        ((f64::from(img.width()) * scale) as u32).max(1),
        ((f64::from(img.height()) * scale) as u32).max(1),
    );
    let resized = image::imageops::resize(&img, w, h, image::imageops::FilterType::Triangle);
    let mut canvas = image::RgbImage::new(width, height);
    image::imageops::overlay(
        &mut canvas,
        &resized,
        i64::from((width - w) / 2),
        i64::from((height - h) / 2),
    );
    let mut out = std::io::Cursor::new(Vec::new());
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 85).encode_image(&canvas)?;
    Ok(out.into_inner())
}

/// The consent decision the tests record for the students they enroll.
pub fn test_consent() -> cavs_models::ConsentFields {
    cavs_models::ConsentFields {
        granted: true,
        given_by: "the student's parent".into(),
        notice_version: "test-notice-1".into(),
    }
}
