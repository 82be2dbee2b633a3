//! No frame lost, none counted twice: the real `cavs-hub` binary with its default settings
//! (only addresses, data dir and key set), a real agent (in this process) capturing 24 photos,
//! and the hub (a) down while the agent captures, or (b) killed with SIGKILL while frames are in
//! flight and started again. Each time the records count exactly the faces of the same 24 frames
//! sent at a calm pace, and admission drops none of the replayed frames for their rate.

use std::time::Duration;

use tokio::time::{Instant, sleep};

mod common;

use common::fleet::{
    Agent, FRAMES, Hub, Tally, all_captured, calm_baseline, frame_dir, prepare, tally,
};
use common::free_port;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_captured_while_the_hub_is_down_are_each_recorded_once() {
    let calm = calm_baseline().await;

    let root = tempfile::tempdir().expect("tempdir");
    let frames = frame_dir(root.path());
    let data = prepare(root.path(), 150).await;
    let (http, mqtt) = (free_port(), free_port());
    // The hub is down: every frame goes to the agent's spool.
    let agent = Agent::start(root.path(), &frames, mqtt, 150);
    let deadline = Instant::now() + Duration::from_secs(60);
    while agent.spooled() < FRAMES {
        assert!(
            Instant::now() < deadline,
            "only {} frames spooled",
            agent.spooled()
        );
        sleep(Duration::from_millis(100)).await;
    }
    // It comes back: the backlog is replayed at the pace the hub admits.
    let hub = Hub::start(&data, http, mqtt).await;
    agent
        .until_delivered(Duration::from_secs(240), || true)
        .await;
    assert_eq!(
        hub.dropped("rate_limited"),
        0,
        "replay paced below the admitted rate"
    );
    assert_eq!(hub.dropped("overloaded"), 0);
    let stats = agent.stop().await;
    assert_eq!(stats.frames_captured, FRAMES as u64, "{stats:?}");
    assert_eq!(stats.frames_sent, FRAMES as u64, "{stats:?}");
    assert_eq!(stats.spool_dropped, 0, "{stats:?}");
    assert!(hub.stop().await.success());
    assert_eq!(
        tally(&data).await,
        calm,
        "the same faces as the calm run, once each"
    );
}

/// How a running hub is interrupted mid-stream.
#[derive(Clone, Copy)]
enum Interruption {
    /// SIGKILL: nothing flushed, nothing drained.
    Kill,
    /// SIGTERM: intake stops, admitted frames are committed and acknowledged, the process
    /// exits well within its drain bound; what it did not take stays in the spool.
    Term,
}

/// The agent captures one frame every `interval_ms` to a hub that is interrupted 3 s in and
/// started again; returns what the store holds once every frame is delivered.
async fn interrupted_run(interval_ms: u64, interruption: Interruption) -> Tally {
    let root = tempfile::tempdir().expect("tempdir");
    let frames = frame_dir(root.path());
    let data = prepare(root.path(), interval_ms).await;
    let (http, mqtt) = (free_port(), free_port());
    let hub = Hub::start(&data, http, mqtt).await;
    let started = Instant::now();
    let agent = Agent::start(root.path(), &frames, mqtt, interval_ms);
    // Frames are being recognised, written and acknowledged when the hub goes.
    sleep(Duration::from_secs(3)).await;
    match interruption {
        Interruption::Kill => hub.kill().await,
        Interruption::Term => {
            let stopping = Instant::now();
            assert!(hub.stop().await.success(), "clean exit");
            assert!(
                stopping.elapsed() < Duration::from_secs(30),
                "{:?}",
                stopping.elapsed()
            );
            assert!(
                agent.spooled() > 0,
                "frames captured meanwhile wait in the spool"
            );
        }
    }
    sleep(Duration::from_secs(1)).await;
    let hub = Hub::start(&data, http, mqtt).await;
    agent
        .until_delivered(Duration::from_secs(240), all_captured(started, interval_ms))
        .await;
    let stats = agent.stop().await;
    assert_eq!(stats.frames_captured, FRAMES as u64, "{stats:?}");
    assert_eq!(stats.spool_dropped, 0, "{stats:?}");
    assert!(hub.stop().await.success());
    tally(&data).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hub_killed_while_frames_are_in_flight_loses_none_and_counts_none_twice() {
    let calm = calm_baseline().await;
    eprintln!("calm run: {calm:?}");
    assert_eq!(
        interrupted_run(300, Interruption::Kill).await,
        calm,
        "the same faces as the calm run, once each"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hub_stopped_with_sigterm_drains_exits_and_loses_nothing() {
    let calm = calm_baseline().await;
    assert_eq!(
        interrupted_run(200, Interruption::Term).await,
        calm,
        "the same faces as the calm run, once each"
    );
}
