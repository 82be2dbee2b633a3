//! Which listeners the hub may open: TLS needs both files, and a plaintext listener (REST on
//! `http_addr`, MQTT on `mqtt_addr`) on an address other hosts can reach needs an explicit
//! `allow_plaintext = true` — passwords, tokens and children's faces would cross the network
//! in the clear.

use crate::{ConfigError, HubSettings};

/// Refuses half a TLS configuration and exposed plaintext listeners.
pub(crate) fn check(settings: &HubSettings) -> Result<(), ConfigError> {
    match (&settings.tls_cert_file, &settings.tls_key_file) {
        (Some(_), None) => return Err(half("tls_key_file")),
        (None, Some(_)) => return Err(half("tls_cert_file")),
        _ => {}
    }
    if settings.allow_plaintext {
        return Ok(());
    }
    for (setting, addr) in [
        ("http_addr", settings.http_addr),
        ("mqtt_addr", settings.mqtt_addr),
    ] {
        if !addr.ip().is_loopback() {
            return Err(ConfigError::Invalid {
                setting,
                value: addr.to_string(),
                reason: "a plaintext listener on a non-loopback address sends passwords, tokens \
                         and face images in the clear: keep it on 127.0.0.1 and serve the network \
                         with tls_cert_file/tls_key_file on https_addr/mqtts_addr, or set \
                         allow_plaintext = true"
                    .to_owned(),
            });
        }
    }
    Ok(())
}

fn half(missing: &'static str) -> ConfigError {
    ConfigError::Invalid {
        setting: missing,
        value: String::new(),
        reason: "TLS needs both tls_cert_file and tls_key_file".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(adjust: impl FnOnce(&mut HubSettings)) -> HubSettings {
        let mut s = HubSettings::default();
        adjust(&mut s);
        s
    }

    #[test]
    fn loopback_plaintext_is_fine_and_exposed_plaintext_is_refused() {
        assert!(check(&HubSettings::default()).is_ok());
        let exposed = settings(|s| s.http_addr = "0.0.0.0:8000".parse().expect("addr"));
        assert!(matches!(
            check(&exposed),
            Err(ConfigError::Invalid {
                setting: "http_addr",
                ..
            })
        ));
        let exposed = settings(|s| s.mqtt_addr = "192.168.1.10:1883".parse().expect("addr"));
        assert!(matches!(
            check(&exposed),
            Err(ConfigError::Invalid {
                setting: "mqtt_addr",
                ..
            })
        ));
        let allowed = settings(|s| {
            s.mqtt_addr = "0.0.0.0:1883".parse().expect("addr");
            s.allow_plaintext = true;
        });
        assert!(check(&allowed).is_ok());
        // TLS listeners may face the network.
        let tls = settings(|s| {
            s.mqtts_addr = "0.0.0.0:8883".parse().expect("addr");
            s.https_addr = "[::]:8443".parse().expect("addr");
            s.tls_cert_file = Some("server.pem".into());
            s.tls_key_file = Some("server.key".into());
        });
        assert!(check(&tls).is_ok());
    }

    #[test]
    fn tls_needs_both_files() {
        let cert_only = settings(|s| s.tls_cert_file = Some("server.pem".into()));
        assert!(matches!(
            check(&cert_only),
            Err(ConfigError::Invalid {
                setting: "tls_key_file",
                ..
            })
        ));
        let key_only = settings(|s| s.tls_key_file = Some("server.key".into()));
        assert!(matches!(
            check(&key_only),
            Err(ConfigError::Invalid {
                setting: "tls_cert_file",
                ..
            })
        ));
    }
}
