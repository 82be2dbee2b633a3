//! Which MQTT broker the hub uses: its embedded rumqttd (the default), or an external one
//! (Mosquitto, EMQX) it joins as a client with a service account, provisioning device and
//! people accounts there through the broker's own ACL engine.

use serde::Deserialize;

use crate::{ConfigError, HubSettings};

/// Where the hub's MQTT broker runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum BrokerMode {
    /// rumqttd inside the hub, listening on `mqtt_addr` (and `mqtts_addr` with TLS).
    #[default]
    Embedded,
    /// An external broker at `broker_url`; the hub is one of its clients.
    External,
}

/// How the hub keeps an external broker's accounts and ACLs in step with its database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum BrokerProvisioning {
    /// Mosquitto's dynamic-security plugin, driven over `$CONTROL/dynamic-security/v1`.
    #[default]
    Dynsec,
    /// Nothing: accounts and ACLs are managed on the broker by other means (e.g. EMQX's
    /// HTTP authentication and authorization against the hub, see `docs/scaling.md`).
    None,
}

/// Refuses an external broker without an address or service account.
pub(crate) fn check(settings: &HubSettings) -> Result<(), ConfigError> {
    if settings.broker == BrokerMode::Embedded {
        return Ok(());
    }
    let invalid = |setting: &'static str, value: String, reason: &str| ConfigError::Invalid {
        setting,
        value,
        reason: reason.to_owned(),
    };
    match settings.broker_url.as_deref() {
        None => {
            return Err(invalid(
                "broker_url",
                String::new(),
                "broker = \"external\" needs broker_url (mqtt://HOST:PORT or mqtts://HOST:PORT)",
            ));
        }
        Some(url) if !(url.starts_with("mqtt://") || url.starts_with("mqtts://")) => {
            return Err(invalid(
                "broker_url",
                url.to_owned(),
                "expected mqtt://HOST:PORT or mqtts://HOST:PORT",
            ));
        }
        Some(url) if url.starts_with("mqtts://") && settings.broker_ca_file.is_none() => {
            return Err(invalid(
                "broker_ca_file",
                String::new(),
                "an mqtts:// broker_url needs broker_ca_file (the PEM of the CA that signed the broker's certificate)",
            ));
        }
        Some(_) => {}
    }
    if settings
        .broker_username
        .as_deref()
        .is_none_or(str::is_empty)
    {
        return Err(invalid(
            "broker_username",
            String::new(),
            "broker = \"external\" needs the hub's service account (broker_username and broker_password)",
        ));
    }
    if settings.worker_deadline_secs == 0 {
        return Err(invalid(
            "worker_deadline_secs",
            "0".into(),
            "must be greater than 0",
        ));
    }
    Ok(())
}
