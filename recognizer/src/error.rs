//! The crate's error type.

/// Everything that can go wrong in this crate.
#[derive(Debug, thiserror::Error)]
pub enum RecognizerError {
    /// The input buffer was empty.
    #[error("empty input: no image bytes")]
    EmptyInput,
    /// The bytes are not in an image format this build can decode (JPEG or PNG).
    #[error("unsupported image format: {0}")]
    UnsupportedFormat(String),
    /// The image is in a supported format but could not be decoded (truncated, corrupt, ...).
    #[error("could not decode image: {0}")]
    Decode(String),
    /// The image has more pixels than the configured limit.
    #[error("image too large: {pixels} pixels exceeds the limit of {limit}")]
    TooLarge {
        /// Pixels in the image (width × height).
        pixels: u64,
        /// Configured limit.
        limit: u64,
    },
    /// The image has a zero width or height.
    #[error("image has no pixels ({width}x{height})")]
    EmptyImage {
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
    },
    /// The embedded weights are missing, corrupt or do not fit the network.
    #[error("weights: {0}")]
    Weights(String),
    /// An invalid configuration value.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// An I/O error (reading a file).
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
}
