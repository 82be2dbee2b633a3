//! Typed, layered settings for the CAVS hub ([`HubSettings`]) and camera agent ([`AgentSettings`]).
//!
//! Every setting is resolved from four layers, later ones winning:
//!
//! 1. built-in defaults (each struct's `Default`),
//! 2. a TOML file (`--config FILE`; keys are the setting names, e.g. `http_addr = "0.0.0.0:8000"`),
//! 3. a `.env` file in the working directory,
//! 4. the process environment.
//!
//! In layers 3 and 4 a setting is named `CAVS_` + its upper-cased name (`CAVS_HTTP_ADDR`); the hub
//! also accepts the Django-era names of the original design (`SECRET_KEY`, `DATABASE_URL`, ...) as
//! aliases, which a `CAVS_` name overrides. An invalid value fails loading with a
//! [`ConfigError`] that names the setting, where it came from and the value; secrets are held in
//! [`secrecy::SecretString`] and never appear in `Debug` output or logs.

mod agent;
mod broker;
mod error;
mod hub;
mod layers;
mod lenient;
mod listeners;

pub use agent::{AgentSettings, Resolution, is_valid_id};
pub use broker::{BrokerMode, BrokerProvisioning};
pub use error::ConfigError;
pub use hub::{DetectorKind, HubSettings, ScanMode};
pub use layers::{Settings, Sources, load};
pub use secrecy::{ExposeSecret, SecretString};
