//! `cavs-hub cert`: a development certificate authority and a server certificate signed by
//! it, for a school without its own PKI. Agents pin the CA (`ca_file`); the hub serves the
//! server certificate (`tls_cert_file`, `tls_key_file`). The CA's private key is not kept:
//! re-running the command makes a new CA, which every agent must then be given.

use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::Datelike;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};

/// Why certificates could not be made or written.
#[derive(Debug, thiserror::Error)]
pub enum CertError {
    /// No host name or address to certify.
    #[error("name at least one host (DNS name or IP address) the hub is reached at")]
    NoHost,
    /// A host is neither a DNS name nor an IP address.
    #[error(
        "`{0}` is not a DNS name (letters, digits, `-` in dot-separated labels) or an IP address"
    )]
    BadHost(String),
    /// Key generation or signing failed.
    #[error("certificate generation: {0}")]
    Generate(#[from] rcgen::Error),
    /// A file could not be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// A CA certificate and a server certificate with its key, all PEM.
pub struct DevCertificates {
    /// The CA certificate (give it to agents and clients as `ca.pem`).
    pub ca_pem: String,
    /// The server certificate followed by the CA certificate.
    pub server_chain_pem: String,
    /// The server's private key.
    pub server_key_pem: String,
}

/// Where [`write`] put the files.
#[derive(Debug, Clone)]
pub struct WrittenCertificates {
    /// `ca.pem`.
    pub ca: PathBuf,
    /// `server.pem`.
    pub server_cert: PathBuf,
    /// `server.key` (mode 0600).
    pub server_key: PathBuf,
}

/// Years the CA is valid; the server certificate is valid for [`SERVER_DAYS`].
const CA_YEARS: i32 = 10;
/// Days the server certificate is valid (under the 825 days clients accept).
const SERVER_DAYS: i64 = 825;

fn date(t: chrono::DateTime<chrono::Utc>) -> time::OffsetDateTime {
    rcgen::date_time_ymd(t.year(), t.month() as u8, t.day() as u8)
}

/// A fresh ECDSA P-256 CA and a server certificate for `hosts` (DNS names or IP addresses,
/// the first also the common name).
pub fn generate(hosts: &[String]) -> Result<DevCertificates, CertError> {
    let first = hosts.first().ok_or(CertError::NoHost)?;
    let now = chrono::Utc::now();
    let yesterday = now - chrono::Duration::days(1);

    let ca_key = KeyPair::generate()?;
    let mut ca = CertificateParams::default();
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, "CAVS development CA");
    name.push(DnType::OrganizationName, "CAVS");
    ca.distinguished_name = name;
    ca.not_before = date(yesterday);
    ca.not_after = date(now + chrono::Duration::days(365 * i64::from(CA_YEARS)));
    let ca_cert = ca.self_signed(&ca_key)?;

    if let Some(bad) = hosts.iter().find(|h| !is_host(h)) {
        return Err(CertError::BadHost(bad.clone()));
    }
    let server_key = KeyPair::generate()?;
    let mut server = CertificateParams::new(hosts.to_vec())?;
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, first.as_str());
    server.distinguished_name = name;
    server.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    server.not_before = date(yesterday);
    server.not_after = date(now + chrono::Duration::days(SERVER_DAYS));
    let issuer = Issuer::new(ca, ca_key);
    let server_cert = server.signed_by(&server_key, &issuer)?;

    Ok(DevCertificates {
        ca_pem: ca_cert.pem(),
        server_chain_pem: format!("{}{}", server_cert.pem(), ca_cert.pem()),
        server_key_pem: server_key.serialize_pem(),
    })
}

/// True for an IP address or a DNS name: dot-separated labels of 1-63 letters, digits and `-`
/// (not at either end), 253 characters at most.
fn is_host(host: &str) -> bool {
    if host.parse::<std::net::IpAddr>().is_ok() {
        return true;
    }
    let label = |l: &str| {
        (1..=63).contains(&l.len())
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    (1..=253).contains(&host.len()) && host.split('.').all(label)
}

fn write_file(path: &Path, contents: &str, private: bool) -> Result<(), CertError> {
    let fail = |source| CertError::Write {
        path: path.to_path_buf(),
        source,
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = private;
    let mut file = options.open(path).map_err(fail)?;
    file.write_all(contents.as_bytes()).map_err(fail)?;
    file.sync_all().map_err(fail)
}

/// Writes `ca.pem`, `server.pem` and `server.key` (owner-only) into `dir`, creating it.
pub fn write(dir: &Path, certs: &DevCertificates) -> Result<WrittenCertificates, CertError> {
    std::fs::create_dir_all(dir).map_err(|source| CertError::Write {
        path: dir.to_path_buf(),
        source,
    })?;
    let written = WrittenCertificates {
        ca: dir.join("ca.pem"),
        server_cert: dir.join("server.pem"),
        server_key: dir.join("server.key"),
    };
    write_file(&written.ca, &certs.ca_pem, false)?;
    write_file(&written.server_cert, &certs.server_chain_pem, false)?;
    write_file(&written.server_key, &certs.server_key_pem, true)?;
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_required_and_checked() {
        assert!(matches!(generate(&[]), Err(CertError::NoHost)));
        for bad in ["not a host!", "", "-x.lan", "a..b", "hub.lan/"] {
            assert!(
                matches!(generate(&[bad.to_owned()]), Err(CertError::BadHost(_))),
                "{bad}"
            );
        }
        for good in [
            "hub",
            "hub.school.lan",
            "192.168.1.10",
            "::1",
            "cam-host-1.local",
        ] {
            assert!(is_host(good), "{good}");
        }
    }

    #[test]
    fn writes_three_pem_files_with_a_private_key() {
        let dir = tempfile::tempdir().expect("dir");
        let certs =
            generate(&["hub.school.lan".to_owned(), "127.0.0.1".to_owned()]).expect("generated");
        let written = write(&dir.path().join("tls"), &certs).expect("written");
        let ca = std::fs::read_to_string(&written.ca).expect("ca");
        let chain = std::fs::read_to_string(&written.server_cert).expect("chain");
        assert!(ca.starts_with("-----BEGIN CERTIFICATE-----"));
        assert_eq!(chain.matches("BEGIN CERTIFICATE").count(), 2);
        assert!(chain.ends_with(&ca));
        let key = std::fs::read_to_string(&written.server_key).expect("key");
        assert!(key.contains("PRIVATE KEY"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&written.server_key)
                .expect("meta")
                .permissions()
                .mode();
            assert_eq!(
                mode & 0o077,
                0,
                "server.key is readable by others: {mode:o}"
            );
        }
    }
}
