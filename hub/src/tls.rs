//! The hub's TLS material: the PEM certificate chain and private key named by `tls_cert_file`
//! and `tls_key_file`, read and checked once at start-up so that a wrong path or a file that
//! holds no certificate stops the hub with a clear message instead of failing every handshake.

use std::path::{Path, PathBuf};

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// Why the TLS files cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The certificate file holds no PEM certificate.
    #[error("{0} holds no PEM certificate (-----BEGIN CERTIFICATE-----)")]
    NoCertificate(PathBuf),
    /// The key file holds no PEM private key.
    #[error("{0} holds no PEM private key (PKCS#8, PKCS#1 or SEC1)")]
    NoKey(PathBuf),
}

/// The checked certificate chain and key, as PEM, with the paths they came from.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// Path of the certificate chain.
    pub cert_path: PathBuf,
    /// Path of the private key.
    pub key_path: PathBuf,
    /// The chain, PEM.
    pub cert_pem: Vec<u8>,
    /// The key, PEM.
    pub key_pem: Vec<u8>,
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_path_buf(),
        source,
    })
}

impl TlsFiles {
    /// Reads both files and checks that they hold at least one certificate and a key.
    pub fn load(cert_path: &Path, key_path: &Path) -> Result<Self, TlsError> {
        let cert_pem = read(cert_path)?;
        let key_pem = read(key_path)?;
        let has_cert = CertificateDer::pem_slice_iter(&cert_pem).any(|c| c.is_ok());
        if !has_cert {
            return Err(TlsError::NoCertificate(cert_path.to_path_buf()));
        }
        if PrivateKeyDer::from_pem_slice(&key_pem).is_err() {
            return Err(TlsError::NoKey(key_path.to_path_buf()));
        }
        Ok(TlsFiles {
            cert_path: cert_path.to_path_buf(),
            key_path: key_path.to_path_buf(),
            cert_pem,
            key_pem,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_without_a_certificate_or_key_are_refused_by_name() {
        let dir = tempfile::tempdir().expect("dir");
        let certs = crate::cert::generate(&["localhost".to_owned()]).expect("certs");
        let written = crate::cert::write(dir.path(), &certs).expect("written");
        let (cert, key) = (&written.server_cert, &written.server_key);
        assert!(TlsFiles::load(cert, key).is_ok());
        assert!(matches!(
            TlsFiles::load(key, key),
            Err(TlsError::NoCertificate(path)) if &path == key
        ));
        assert!(matches!(
            TlsFiles::load(cert, cert),
            Err(TlsError::NoKey(path)) if &path == cert
        ));
        let missing = dir.path().join("missing.pem");
        assert!(matches!(
            TlsFiles::load(&missing, key),
            Err(TlsError::Read { path, .. }) if path == missing
        ));
    }
}
