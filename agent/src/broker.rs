//! Where the hub's broker is and how to reach it: `mqtt://HOST[:1883]` in the clear, or
//! `mqtts://HOST[:8883]` over TLS trusting only the CA in `ca_file` (pinned: a certificate
//! from any other authority, the system's included, is refused).

use std::path::Path;
use std::sync::Arc;

use rumqttc::{TlsConfiguration, Transport};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use crate::AgentError;

/// A parsed broker URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerAddress {
    /// Host name or IP address.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// `mqtts://`: TLS.
    pub tls: bool,
}

/// Parses `mqtt://HOST[:PORT]` (port 1883 by default) or `mqtts://HOST[:PORT]` (8883).
pub fn parse_broker_url(url: &str) -> Result<BrokerAddress, AgentError> {
    let bad = |reason: &str| AgentError::BrokerUrl {
        url: url.to_owned(),
        reason: reason.to_owned(),
    };
    let (rest, tls, default_port) = if let Some(rest) = url.strip_prefix("mqtt://") {
        (rest, false, 1883)
    } else if let Some(rest) = url.strip_prefix("mqtts://") {
        (rest, true, 8883)
    } else {
        return Err(bad("expected mqtts://HOST[:PORT] or mqtt://HOST[:PORT]"));
    };
    let rest = rest.trim_end_matches('/');
    let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
        let (host, after) = v6.split_once(']').ok_or_else(|| bad("unclosed '['"))?;
        (host, after.strip_prefix(':'))
    } else {
        match rest.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (rest, None),
        }
    };
    if host.is_empty() || host.contains(['/', '@']) {
        return Err(bad("missing or invalid host"));
    }
    let port = match port {
        Some(p) => p.parse::<u16>().map_err(|_| bad("invalid port"))?,
        None => default_port,
    };
    Ok(BrokerAddress {
        host: host.to_owned(),
        port,
        tls,
    })
}

/// The TLS transport trusting only the CA certificates in the PEM file `ca_file`.
pub fn tls_transport(ca_file: &Path) -> Result<Transport, AgentError> {
    let bad = |reason: String| AgentError::Tls {
        path: ca_file.display().to_string(),
        reason,
    };
    let pem = std::fs::read(ca_file).map_err(|e| bad(e.to_string()))?;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&pem) {
        let cert = cert.map_err(|e| bad(format!("not a PEM certificate: {e}")))?;
        roots
            .add(cert)
            .map_err(|e| bad(format!("unusable CA certificate: {e}")))?;
    }
    if roots.is_empty() {
        return Err(bad("holds no PEM certificate".to_owned()));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| bad(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Transport::tls_with_config(TlsConfiguration::Rustls(
        Arc::new(config),
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(host: &str, port: u16, tls: bool) -> BrokerAddress {
        BrokerAddress {
            host: host.into(),
            port,
            tls,
        }
    }

    #[test]
    fn broker_urls() {
        let parse = |url| parse_broker_url(url).expect(url);
        assert_eq!(
            parse("mqtt://127.0.0.1:1883"),
            addr("127.0.0.1", 1883, false)
        );
        assert_eq!(parse("mqtt://hub.local"), addr("hub.local", 1883, false));
        assert_eq!(parse("mqtt://[::1]:1884/"), addr("::1", 1884, false));
        assert_eq!(parse("mqtts://hub.local"), addr("hub.local", 8883, true));
        assert_eq!(parse("mqtts://10.0.0.2:9883"), addr("10.0.0.2", 9883, true));
        for bad in [
            "http://x",
            "mqtt://",
            "mqtt://h:port",
            "mqtts://",
            "mqtt://u@h",
        ] {
            assert!(parse_broker_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_ca_file_must_hold_certificates() {
        let dir = std::env::temp_dir().join(format!("cavs-agent-ca-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "no certificate here\n").expect("write");
        assert!(matches!(tls_transport(&empty), Err(AgentError::Tls { .. })));
        assert!(matches!(
            tls_transport(&dir.join("missing.pem")),
            Err(AgentError::Tls { .. })
        ));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
