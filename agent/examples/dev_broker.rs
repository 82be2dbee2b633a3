//! A throw-away MQTT broker (rumqttd, in memory) for trying the agent without a hub, e.g. to
//! measure its footprint:
//!
//! ```text
//! cargo run --release -p cavs-agent --example dev_broker -- 127.0.0.1:1883
//! ```
//!
//! It accepts any username and password, allows 8 MiB payloads like the hub's broker, and prints
//! one line per frame it routes. Not for production: the hub embeds the real broker.

use std::collections::HashMap;
use std::net::SocketAddr;

fn main() {
    let listen: SocketAddr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:1883".to_owned())
        .parse()
        .unwrap_or_else(|e| {
            eprintln!("usage: dev_broker [ADDR:PORT] ({e})");
            std::process::exit(2)
        });
    let server = rumqttd::ServerSettings {
        name: "v4".into(),
        listen,
        tls: None,
        next_connection_delay_ms: 1,
        connections: rumqttd::ConnectionSettings {
            connection_timeout_ms: 5000,
            max_payload_size: 8 * 1024 * 1024,
            max_inflight_count: 100,
            auth: None,
            external_auth: None,
            dynamic_filters: true,
            authorize: None,
        },
    };
    let config = rumqttd::Config {
        id: 0,
        router: rumqttd::RouterConfig {
            max_connections: 64,
            max_outgoing_packet_count: 200,
            max_segment_size: 16 * 1024 * 1024,
            max_segment_count: 4,
            ..Default::default()
        },
        v4: Some(HashMap::from([("1".to_owned(), server)])),
        ..Default::default()
    };
    let mut broker = rumqttd::Broker::new(config);
    let (mut link_tx, mut link_rx) = match broker.link("dev-broker-monitor") {
        Ok(link) => link,
        Err(e) => {
            eprintln!("broker link: {e}");
            std::process::exit(1)
        }
    };
    std::thread::spawn(move || {
        if let Err(e) = broker.start() {
            eprintln!("broker stopped: {e}");
            std::process::exit(1)
        }
    });
    if let Err(e) = link_tx.subscribe("cavs/v1/#") {
        eprintln!("subscribe: {e}");
    }
    println!("dev broker listening on {listen}");
    let mut frames = 0u64;
    while let Ok(notification) = link_rx.recv() {
        if let Some(rumqttd::Notification::Forward(forward)) = notification {
            let topic = String::from_utf8_lossy(&forward.publish.topic).into_owned();
            if topic.ends_with("/frames") {
                frames += 1;
                println!(
                    "frame {frames}: {} bytes on {topic}",
                    forward.publish.payload.len()
                );
            } else {
                println!(
                    "{topic}: {}",
                    String::from_utf8_lossy(&forward.publish.payload)
                );
            }
        }
    }
}
