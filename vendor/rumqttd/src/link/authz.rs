//! CAVS patch: applies the [`AuthzHandler`] to the packets a remote client sends (see this
//! crate's README.md). Pure decisions on packets; `remote.rs` does the I/O.

use crate::protocol::{
    LastWill, Packet, PubAck, PubAckReason, Publish, QoS, SubAck, Subscribe, SubscribeReasonCode,
};
use crate::{Action, AuthzHandler};

/// What to do with one packet from the client.
#[derive(Debug, PartialEq)]
pub enum Verdict {
    /// Hand it to the router.
    Forward(Packet),
    /// Do not forward; answer the client with this packet instead.
    Reply(Packet),
    /// Do not forward and do not answer (refused QoS 0 publish).
    Drop,
    /// Close the connection (a refused QoS 2 publish: its handshake cannot be completed).
    Close,
}

/// The client a verdict is for.
pub struct Client<'a> {
    pub client_id: &'a str,
    pub username: &'a str,
    pub authorize: &'a AuthzHandler,
}

impl Client<'_> {
    fn allows(&self, action: Action<'_>) -> bool {
        (self.authorize)(self.client_id, self.username, action)
    }

    /// True while the client may stay connected.
    pub fn may_remain(&self) -> bool {
        self.allows(Action::Remain)
    }

    /// True when the CONNECT's last will (if any) may be published.
    pub fn will_allowed(&self, will: Option<&LastWill>) -> bool {
        match will {
            None => true,
            Some(w) => match std::str::from_utf8(&w.topic) {
                Ok(topic) => self.allows(Action::Publish {
                    topic,
                    retain: w.retain,
                }),
                Err(_) => false,
            },
        }
    }

    /// The verdict on one packet.
    pub fn judge(&self, packet: Packet) -> Verdict {
        match packet {
            Packet::Publish(publish, props) => {
                if self.publish_allowed(&publish) {
                    Verdict::Forward(Packet::Publish(publish, props))
                } else {
                    refused_publish(&publish)
                }
            }
            Packet::Subscribe(subscribe, props) => {
                let all = subscribe.filters.iter().all(|f| {
                    self.allows(Action::Subscribe {
                        filter: f.path.as_str(),
                    })
                });
                if all {
                    Verdict::Forward(Packet::Subscribe(subscribe, props))
                } else {
                    Verdict::Reply(refused_subscribe(&subscribe))
                }
            }
            other => Verdict::Forward(other),
        }
    }

    fn publish_allowed(&self, publish: &Publish) -> bool {
        match std::str::from_utf8(&publish.topic) {
            Ok(topic) => self.allows(Action::Publish {
                topic,
                retain: publish.retain,
            }),
            Err(_) => false,
        }
    }
}

fn refused_publish(publish: &Publish) -> Verdict {
    match publish.qos {
        QoS::AtMostOnce => Verdict::Drop,
        // MQTT 3.1.1 has no negative PUBACK: acknowledge so the client does not resend it.
        QoS::AtLeastOnce => Verdict::Reply(Packet::PubAck(
            PubAck {
                pkid: publish.pkid,
                reason: PubAckReason::NotAuthorized,
            },
            None,
        )),
        QoS::ExactlyOnce => Verdict::Close,
    }
}

fn refused_subscribe(subscribe: &Subscribe) -> Packet {
    Packet::SubAck(
        SubAck {
            pkid: subscribe.pkid,
            return_codes: vec![SubscribeReasonCode::Failure; subscribe.filters.len()],
        },
        None,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{Filter, RetainForwardRule};
    use std::sync::Arc;

    /// "dev" may publish on "dev/..." (retained too), subscribe to "dev/in"; nobody else may.
    fn rule() -> AuthzHandler {
        Arc::new(|client_id, username, action| {
            client_id == "dev"
                && username == "dev"
                && match action {
                    Action::Publish { topic, .. } => topic.starts_with("dev/"),
                    Action::Subscribe { filter } => filter == "dev/in",
                    Action::Remain => true,
                }
        })
    }

    fn publish(topic: &str, qos: QoS, pkid: u16) -> Packet {
        let mut p = Publish::new(topic.to_owned(), "x".to_owned(), true);
        p.qos = qos;
        p.pkid = pkid;
        Packet::Publish(p, None)
    }

    fn subscribe(filters: &[&str]) -> Packet {
        Packet::Subscribe(
            Subscribe {
                pkid: 7,
                filters: filters
                    .iter()
                    .map(|f| Filter {
                        path: f.to_string(),
                        qos: QoS::AtLeastOnce,
                        nolocal: false,
                        preserve_retain: false,
                        retain_forward_rule: RetainForwardRule::OnEverySubscribe,
                    })
                    .collect(),
            },
            None,
        )
    }

    #[test]
    fn allowed_packets_are_forwarded_unchanged() {
        let authorize = rule();
        let c = Client {
            client_id: "dev",
            username: "dev",
            authorize: &authorize,
        };
        let p = publish("dev/status", QoS::AtLeastOnce, 3);
        assert_eq!(c.judge(p.clone()), Verdict::Forward(p));
        let s = subscribe(&["dev/in"]);
        assert_eq!(c.judge(s.clone()), Verdict::Forward(s));
        let ping = Packet::PingReq(crate::protocol::PingReq);
        assert_eq!(c.judge(ping.clone()), Verdict::Forward(ping));
    }

    #[test]
    fn refused_publishes_are_dropped_acked_or_close_by_qos() {
        let authorize = rule();
        let c = Client {
            client_id: "dev",
            username: "dev",
            authorize: &authorize,
        };
        assert_eq!(c.judge(publish("other/x", QoS::AtMostOnce, 0)), Verdict::Drop);
        assert_eq!(
            c.judge(publish("other/x", QoS::AtLeastOnce, 9)),
            Verdict::Reply(Packet::PubAck(
                PubAck {
                    pkid: 9,
                    reason: PubAckReason::NotAuthorized
                },
                None
            ))
        );
        assert_eq!(c.judge(publish("other/x", QoS::ExactlyOnce, 4)), Verdict::Close);
        // Same topic, another identity.
        let other = Client {
            client_id: "dev",
            username: "mallory",
            authorize: &authorize,
        };
        assert_eq!(other.judge(publish("dev/x", QoS::AtMostOnce, 0)), Verdict::Drop);
    }

    #[test]
    fn a_subscribe_with_one_refused_filter_fails_whole() {
        let authorize = rule();
        let c = Client {
            client_id: "dev",
            username: "dev",
            authorize: &authorize,
        };
        assert_eq!(
            c.judge(subscribe(&["dev/in", "#"])),
            Verdict::Reply(Packet::SubAck(
                SubAck {
                    pkid: 7,
                    return_codes: vec![SubscribeReasonCode::Failure; 2]
                },
                None
            ))
        );
    }

    #[test]
    fn last_wills_are_checked_like_publishes() {
        let authorize = rule();
        let c = Client {
            client_id: "dev",
            username: "dev",
            authorize: &authorize,
        };
        let will = |topic: &str| LastWill {
            topic: topic.to_owned().into(),
            message: "offline".into(),
            qos: QoS::AtLeastOnce,
            retain: true,
        };
        assert!(c.will_allowed(None));
        assert!(c.will_allowed(Some(&will("dev/status"))));
        assert!(!c.will_allowed(Some(&will("other/status"))));
    }

    #[test]
    fn standing_is_the_hooks_answer_to_remain() {
        let authorize = rule();
        let dev = Client {
            client_id: "dev",
            username: "dev",
            authorize: &authorize,
        };
        assert!(dev.may_remain());
        let other = Client {
            client_id: "other",
            username: "other",
            authorize: &authorize,
        };
        assert!(!other.may_remain());
    }

    #[test]
    fn the_connecting_peer_is_known_inside_its_connection_task_only() {
        let addr: std::net::SocketAddr = "192.0.2.7:50123".parse().expect("addr");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let inside = runtime.block_on(crate::PEER_ADDR.scope(addr, async {
            crate::connecting_peer()
        }));
        assert_eq!(inside, Some(addr));
        assert_eq!(crate::connecting_peer(), None);
    }
}
