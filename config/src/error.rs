//! Errors raised while loading or validating settings.

use std::path::PathBuf;

/// Why settings could not be loaded. Every message names the setting and the offending value.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A value could not be parsed into the setting's type.
    #[error("invalid value for setting `{setting}` (from {origin}): {value:?} ({reason})")]
    Parse {
        /// The setting's name (the TOML key).
        setting: String,
        /// Where the value came from: the file, `.env` or environment variable.
        origin: String,
        /// The value as given.
        value: String,
        /// The parser's explanation.
        reason: String,
    },
    /// A value parsed but is out of range or inconsistent with another setting.
    #[error("invalid value for setting `{setting}`: {value:?} ({reason})")]
    Invalid {
        /// The setting's name.
        setting: &'static str,
        /// The value as given (never a secret).
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A key in the TOML file is not a known setting (most often a typo).
    #[error("unknown setting `{key}` in {}; known settings: {known}", file.display())]
    UnknownKey {
        /// The unknown key.
        key: String,
        /// The file it was found in.
        file: PathBuf,
        /// The known setting names, comma separated.
        known: String,
    },
    /// The TOML or `.env` file could not be read or is not valid syntax.
    #[error("cannot read {}: {reason}", file.display())]
    File {
        /// The file.
        file: PathBuf,
        /// What went wrong.
        reason: String,
    },
}
