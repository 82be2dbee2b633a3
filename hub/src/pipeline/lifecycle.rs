//! A device's lifecycle as a plain state machine: what its agent says (`online` / `offline`),
//! hearing from it (heartbeat or frame), silence (stale after missed heartbeats) and an admin
//! disabling or enabling it decide its state; each step says whether to store it and whether
//! the hub publishes the retained status itself. The `DeviceMonitor` actor only drives it.

use std::time::{Duration, Instant};

use cavs_models::protocol::DeviceState;

/// What the monitor does after an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// The state now (store it).
    pub state: DeviceState,
    /// True when it differs from the state before.
    pub changed: bool,
    /// The reason, when the hub publishes the retained status (the agent publishes its own
    /// `online` and `offline`).
    pub publish: Option<String>,
}

/// One device's state, activity and silence.
#[derive(Debug, Clone)]
pub struct Lifecycle {
    state: DeviceState,
    active: bool,
    last_seen: Option<Instant>,
    heartbeat: Duration,
    missed_for_stale: u32,
}

impl Lifecycle {
    /// A device in `state` (as restored at start-up), `active` or disabled, whose agent beats
    /// every `heartbeat` and goes stale after `missed_for_stale` missed beats.
    pub fn new(
        state: DeviceState,
        active: bool,
        heartbeat: Duration,
        missed_for_stale: u32,
    ) -> Self {
        Lifecycle {
            state,
            active,
            last_seen: None,
            heartbeat,
            missed_for_stale: missed_for_stale.max(1),
        }
    }

    /// The state now.
    pub fn state(&self) -> DeviceState {
        self.state
    }

    /// When the device was last heard from.
    pub fn last_seen(&self) -> Option<Instant> {
        self.last_seen
    }

    fn step(&mut self, state: DeviceState, publish: Option<String>) -> Option<Step> {
        let changed = self.state != state;
        self.state = state;
        Some(Step {
            state,
            changed,
            publish,
        })
    }

    /// The agent published its status. Only the hub decides `stale` and `disabled`.
    pub fn agent_status(&mut self, said: DeviceState, now: Instant) -> Option<Step> {
        if !self.active {
            return None;
        }
        match said {
            DeviceState::Online => {
                self.last_seen = Some(now);
                self.step(DeviceState::Online, None)
            }
            DeviceState::Offline => self.step(DeviceState::Offline, None),
            _ => None,
        }
    }

    /// A heartbeat (`heartbeat`) or a frame arrived. While online, `last_seen` is stored at
    /// most once per half heartbeat interval (and on every heartbeat); a device heard from after
    /// going quiet is online again, which the hub publishes.
    pub fn heard(&mut self, heartbeat: bool, now: Instant) -> Option<Step> {
        if !self.active {
            return None;
        }
        let previous = self.last_seen.replace(now);
        match self.state {
            DeviceState::Online => {
                let due =
                    previous.is_none_or(|p| now.saturating_duration_since(p) >= self.heartbeat / 2);
                if due || heartbeat {
                    self.step(DeviceState::Online, None)
                } else {
                    None
                }
            }
            DeviceState::Stale | DeviceState::Offline | DeviceState::Unknown => {
                self.step(DeviceState::Online, Some("heard from again".to_owned()))
            }
            DeviceState::Disabled => None,
        }
    }

    /// Time passed: an online device silent for the missed heartbeats is stale.
    pub fn tick(&mut self, now: Instant) -> Option<Step> {
        if self.state != DeviceState::Online {
            return None;
        }
        let silent_for = self
            .last_seen
            .map_or(Duration::MAX, |seen| now.saturating_duration_since(seen));
        if silent_for >= self.heartbeat * self.missed_for_stale {
            let reason = format!("missed {} heartbeats", self.missed_for_stale);
            return self.step(DeviceState::Stale, Some(reason));
        }
        None
    }

    /// An admin changed the device: disabling it is published at once; enabling it makes it
    /// offline until its agent connects.
    pub fn reconfigured(&mut self, active: bool) -> Option<Step> {
        let was_active = self.active;
        self.active = active;
        if !active {
            self.step(
                DeviceState::Disabled,
                Some("disabled by an admin".to_owned()),
            )
        } else if !was_active {
            self.step(DeviceState::Offline, Some("enabled by an admin".to_owned()))
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BEAT: Duration = Duration::from_secs(30);

    fn online() -> (Lifecycle, Instant) {
        let now = Instant::now();
        let mut device = Lifecycle::new(DeviceState::Unknown, true, BEAT, 3);
        let step = device.agent_status(DeviceState::Online, now).expect("step");
        assert_eq!(
            step,
            Step {
                state: DeviceState::Online,
                changed: true,
                publish: None
            },
            "unknown → online: the agent said so (and published it)"
        );
        (device, now)
    }

    #[test]
    fn online_goes_stale_after_missed_heartbeats_and_back_when_heard() {
        let (mut device, start) = online();
        assert_eq!(device.tick(start + BEAT * 2), None);
        let stale = device.tick(start + BEAT * 3).expect("stale");
        assert_eq!(stale.state, DeviceState::Stale);
        assert_eq!(stale.publish.as_deref(), Some("missed 3 heartbeats"));
        assert_eq!(device.tick(start + BEAT * 4), None, "stale once");
        let back = device.heard(true, start + BEAT * 5).expect("back");
        assert_eq!(back.state, DeviceState::Online);
        assert_eq!(back.publish.as_deref(), Some("heard from again"));
    }

    #[test]
    fn while_online_last_seen_is_stored_at_most_every_half_beat_but_on_every_heartbeat() {
        let (mut device, start) = online();
        assert!(
            device
                .heard(false, start + Duration::from_secs(1))
                .is_none(),
            "a frame just after"
        );
        let later = device.heard(false, start + BEAT).expect("due");
        assert!(!later.changed);
        assert!(
            device
                .heard(true, start + BEAT + Duration::from_secs(1))
                .is_some(),
            "heartbeat"
        );
        assert_eq!(
            device.last_seen(),
            Some(start + BEAT + Duration::from_secs(1))
        );
    }

    #[test]
    fn the_agent_going_offline_is_stored_not_republished() {
        let (mut device, start) = online();
        let offline = device
            .agent_status(DeviceState::Offline, start)
            .expect("offline");
        assert_eq!(offline.state, DeviceState::Offline);
        assert_eq!(offline.publish, None);
        assert_eq!(
            device.agent_status(DeviceState::Stale, start),
            None,
            "clients cannot say stale"
        );
        let heard = device.heard(false, start).expect("heard");
        assert_eq!(heard.publish.as_deref(), Some("heard from again"));
    }

    #[test]
    fn a_disabled_device_ignores_its_agent_until_enabled() {
        let (mut device, start) = online();
        let disabled = device.reconfigured(false).expect("disabled");
        assert_eq!(disabled.state, DeviceState::Disabled);
        assert_eq!(disabled.publish.as_deref(), Some("disabled by an admin"));
        assert_eq!(device.agent_status(DeviceState::Online, start), None);
        assert_eq!(device.heard(true, start), None);
        assert_eq!(device.tick(start + BEAT * 10), None);
        let enabled = device.reconfigured(true).expect("enabled");
        assert_eq!(enabled.state, DeviceState::Offline);
        assert_eq!(enabled.publish.as_deref(), Some("enabled by an admin"));
        assert_eq!(device.reconfigured(true), None, "no change");
    }
}
