//! Prometheus metrics of the pipeline, served as text at `/metrics`.

use std::sync::Arc;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// `device` label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DeviceLabel {
    /// Device id.
    pub device: String,
}

/// `reason` label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabel {
    /// Why a frame was dropped.
    pub reason: String,
}

/// `state` label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StateLabel {
    /// Device state.
    pub state: String,
}

/// `outcome` label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabel {
    /// created / updated / unknown / auto_approved.
    pub outcome: String,
}

/// Every metric of the hub.
pub struct Metrics {
    registry: Registry,
    /// Frames accepted after validation and de-duplication, per device.
    pub frames_received: Family<DeviceLabel, Counter>,
    /// Frames dropped, per reason.
    pub frames_dropped: Family<ReasonLabel, Counter>,
    /// Faces detected.
    pub faces_detected: Counter,
    /// Recognition time per frame.
    pub recognition_seconds: Histogram,
    /// Capture → record stored.
    pub frame_latency_seconds: Histogram,
    /// Devices per state.
    pub devices: Family<StateLabel, Gauge>,
    /// Attendance writes per outcome.
    pub attendance_records: Family<OutcomeLabel, Counter>,
    /// Frame acknowledgements handed to the broker.
    pub acks_published: Counter,
    /// Frame acknowledgements dropped because their queue was full.
    pub acks_dropped: Counter,
    /// Panics caught in recognition workers (each worker goes on).
    pub worker_panics: Counter,
    /// Frames committed by the writer (recorded, faces or not).
    pub frames_committed: Counter,
    /// Status and heartbeat reports dropped because the health mailbox was full.
    pub health_reports_dropped: Counter,
    /// Time the attendance writer takes per frame (its transaction, crops and events).
    pub write_seconds: Histogram,
    /// Recognition worker processes online (external broker).
    pub workers_online: Gauge,
    /// Frames whose faces a worker process found.
    pub worker_results: Counter,
    /// Frames recognised in the hub because no worker result came within the deadline.
    pub worker_deadline_missed: Counter,
    /// Worker results refused as malformed.
    pub worker_results_refused: Counter,
    /// Worker results dropped without meeting their frame (parked too long or too many).
    pub worker_results_unmatched: Counter,
}

impl Metrics {
    /// Registers every metric under the `cavs_` prefix.
    pub fn new() -> Arc<Self> {
        let mut registry = Registry::with_prefix("cavs");
        let frames_received = Family::<DeviceLabel, Counter>::default();
        let frames_dropped = Family::<ReasonLabel, Counter>::default();
        let faces_detected = Counter::default();
        let recognition_seconds = Histogram::new(exponential_buckets(0.01, 2.0, 10));
        let frame_latency_seconds = Histogram::new(exponential_buckets(0.01, 2.0, 12));
        let devices = Family::<StateLabel, Gauge>::default();
        let attendance_records = Family::<OutcomeLabel, Counter>::default();
        let acks_published = Counter::default();
        let acks_dropped = Counter::default();
        let worker_panics = Counter::default();
        let frames_committed = Counter::default();
        let health_reports_dropped = Counter::default();
        let workers_online = Gauge::default();
        let write_seconds = Histogram::new(exponential_buckets(0.005, 2.0, 12));
        registry.register(
            "write_seconds",
            "Attendance writer time per frame",
            write_seconds.clone(),
        );
        let worker_results = Counter::default();
        let worker_deadline_missed = Counter::default();
        let worker_results_refused = Counter::default();
        let worker_results_unmatched = Counter::default();
        registry.register(
            "workers_online",
            "Recognition worker processes online",
            workers_online.clone(),
        );
        registry.register(
            "worker_results",
            "Frames recognised by worker processes",
            worker_results.clone(),
        );
        registry.register(
            "worker_deadline_missed",
            "Frames recognised in the hub after no worker result came in time",
            worker_deadline_missed.clone(),
        );
        registry.register(
            "worker_results_refused",
            "Malformed worker results refused",
            worker_results_refused.clone(),
        );
        registry.register(
            "worker_results_unmatched",
            "Worker results dropped without meeting their frame",
            worker_results_unmatched.clone(),
        );
        registry.register(
            "health_reports_dropped",
            "Device status and heartbeat reports dropped (health mailbox full)",
            health_reports_dropped.clone(),
        );
        registry.register(
            "acks_published",
            "Frame acknowledgements published to devices",
            acks_published.clone(),
        );
        registry.register(
            "acks_dropped",
            "Frame acknowledgements dropped (queue full)",
            acks_dropped.clone(),
        );
        registry.register(
            "worker_panics",
            "Panics caught in recognition workers",
            worker_panics.clone(),
        );
        registry.register(
            "frames_committed",
            "Frames whose outcome the writer committed",
            frames_committed.clone(),
        );
        registry.register(
            "frames_received",
            "Frames accepted (after validation and de-duplication)",
            frames_received.clone(),
        );
        registry.register(
            "frames_dropped",
            "Frames dropped, by reason",
            frames_dropped.clone(),
        );
        registry.register("faces_detected", "Faces detected", faces_detected.clone());
        registry.register(
            "recognition_seconds",
            "Recognition time per frame",
            recognition_seconds.clone(),
        );
        registry.register(
            "frame_latency_seconds",
            "Time from capture to stored record",
            frame_latency_seconds.clone(),
        );
        registry.register("devices", "Devices by state", devices.clone());
        registry.register(
            "attendance_records",
            "Attendance writes by outcome",
            attendance_records.clone(),
        );
        Arc::new(Metrics {
            registry,
            frames_received,
            frames_dropped,
            faces_detected,
            recognition_seconds,
            frame_latency_seconds,
            devices,
            attendance_records,
            acks_published,
            acks_dropped,
            worker_panics,
            frames_committed,
            health_reports_dropped,
            write_seconds,
            workers_online,
            worker_results,
            worker_deadline_missed,
            worker_results_refused,
            worker_results_unmatched,
        })
    }

    /// Counts a dropped frame.
    pub fn dropped(&self, reason: &str) {
        self.frames_dropped
            .get_or_create(&ReasonLabel {
                reason: reason.to_owned(),
            })
            .inc();
    }

    /// Frames dropped for `reason` so far.
    pub fn dropped_count(&self, reason: &str) -> u64 {
        self.frames_dropped
            .get_or_create(&ReasonLabel {
                reason: reason.to_owned(),
            })
            .get()
    }

    /// Counts an attendance write.
    pub fn record(&self, outcome: &str) {
        self.attendance_records
            .get_or_create(&OutcomeLabel {
                outcome: outcome.to_owned(),
            })
            .inc();
    }

    /// Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            tracing::warn!("could not encode metrics");
        }
        out
    }
}
