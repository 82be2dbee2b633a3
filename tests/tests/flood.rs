//! A camera flooding the broker with 8 MiB junk publishes neither stops another camera's frames
//! from becoming records nor makes the hub keep the junk: every junk publish is counted as
//! `malformed` and released.

use std::time::Duration;

use cavs_tests::TestHub;
use cavs_tests::flood::flood;

const SECRET: &str = "flood-test-secret";

#[actix::test]
async fn a_junk_flood_from_one_camera_leaves_another_cameras_frames_recorded() {
    let hub =
        TestHub::start(|s| s.device_max_fps = cavs_config::HubSettings::default().device_max_fps)
            .await
            .expect("hub");
    hub.register_device("cam-good", "room-good", SECRET)
        .await
        .expect("good");
    hub.register_device("cam-junk", "room-junk", SECRET)
        .await
        .expect("junk");
    hub.wait_for_broker().await;
    let report = flood(&hub, SECRET, Duration::from_secs(8), 8 * 1024 * 1024 - 4096)
        .await
        .expect("flood");
    eprintln!("{report:?}");
    assert!(report.junk_sent >= 4, "the flood ran: {report:?}");
    assert!(report.good_sent >= 6, "{report:?}");
    assert_eq!(
        report.committed, report.good_sent,
        "every good frame recorded: {report:?}"
    );
    assert!(
        report.junk_dropped > 0,
        "junk read and counted as dropped: {report:?}"
    );
    assert!(
        report.junk_dropped <= report.junk_sent + 4,
        "at most 4 in flight: {report:?}"
    );
}
