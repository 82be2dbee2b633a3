//! Errors that stop the hub from starting.

/// Why the hub could not start.
#[derive(Debug, thiserror::Error)]
pub enum HubError {
    /// The data directory could not be created.
    #[error("data dir {path}: {source}")]
    DataDir {
        /// The directory.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The database could not be opened or migrated.
    #[error(transparent)]
    Store(#[from] cavs_models::store::StoreError),
    /// The JWT key could not be loaded.
    #[error(transparent)]
    Secret(#[from] crate::secret::SecretError),
    /// The data key (encryption at rest) could not be loaded.
    #[error(transparent)]
    DataKey(#[from] crate::at_rest::AtRestError),
    /// The TLS certificate or key cannot be used.
    #[error("TLS: {0}")]
    Tls(#[from] crate::tls::TlsError),
    /// The recognition networks could not be loaded.
    #[error("recognition networks: {0}")]
    Recognizer(#[from] cavs_recognizer::RecognizerError),
    /// A pipeline thread could not be started.
    #[error("pipeline thread: {0}")]
    Thread(std::io::Error),
    /// The MQTT broker could not start.
    #[error("MQTT broker: {0}")]
    Broker(#[from] crate::broker::BrokerError),
    /// The HTTP listener could not bind.
    #[error("cannot listen for HTTP on {addr}: {source}")]
    Http {
        /// The address.
        addr: std::net::SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
}
