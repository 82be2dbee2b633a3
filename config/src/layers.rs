//! The layering machinery: defaults < TOML file < `.env` < environment.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use figment::providers::{Format, Toml};
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};
use serde::de::DeserializeOwned;

use crate::ConfigError;

/// Prefix of every setting's environment variable.
pub const ENV_PREFIX: &str = "CAVS_";

/// A settings struct that [`load`] can fill.
pub trait Settings: DeserializeOwned + Default {
    /// Every setting's name: its TOML key; its environment name is `CAVS_` + the name upper-cased.
    const KEYS: &'static [&'static str];
    /// Extra environment names accepted for a setting, as `(ALIAS, setting)`; `CAVS_` names win.
    const ALIASES: &'static [(&'static str, &'static str)] = &[];

    /// Checks ranges and cross-setting rules after parsing.
    fn validate(&self) -> Result<(), ConfigError>;
}

/// Where settings come from. [`Sources::from_process`] is what binaries use; tests build one by hand.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    /// A TOML file given with `--config FILE`; it must exist when given.
    pub file: Option<PathBuf>,
    /// A `.env` file; read only if it exists.
    pub dotenv: Option<PathBuf>,
    /// Environment variables as `(name, value)` pairs.
    pub env: Vec<(String, String)>,
}

impl Sources {
    /// The running process's sources: `file`, `./.env` and the real environment.
    pub fn from_process(file: Option<PathBuf>) -> Self {
        Sources {
            file,
            dotenv: Some(PathBuf::from(".env")),
            env: std::env::vars().collect(),
        }
    }
}

/// Resolves `S` from `sources` and validates it.
pub fn load<S: Settings>(sources: &Sources) -> Result<S, ConfigError> {
    let mut figment = Figment::new();
    if let Some(file) = &sources.file {
        figment = figment.merge(toml_layer::<S>(file)?);
    }
    if let Some(dotenv) = sources.dotenv.as_deref().filter(|p| p.exists()) {
        let pairs = read_dotenv(dotenv)?;
        figment = figment.merge(EnvLayer::new::<S>(format!("{}", dotenv.display()), &pairs));
    }
    figment = figment.merge(EnvLayer::new::<S>("the environment".into(), &sources.env));
    let settings: S = figment.extract().map_err(|e| parse_error(e, &figment))?;
    settings.validate()?;
    Ok(settings)
}

fn toml_layer<S: Settings>(file: &Path) -> Result<Figment, ConfigError> {
    let text = std::fs::read_to_string(file).map_err(|e| ConfigError::File {
        file: file.to_owned(),
        reason: e.to_string(),
    })?;
    let data = Toml::string(&text).data().map_err(|e| ConfigError::File {
        file: file.to_owned(),
        reason: e.to_string(),
    })?;
    for key in data.values().flat_map(|dict| dict.keys()) {
        if !S::KEYS.contains(&key.as_str()) {
            return Err(ConfigError::UnknownKey {
                key: key.clone(),
                file: file.to_owned(),
                known: S::KEYS.join(", "),
            });
        }
    }
    Ok(Figment::from(Toml::file_exact(file)))
}

fn read_dotenv(path: &Path) -> Result<Vec<(String, String)>, ConfigError> {
    let file_error = |reason: String| ConfigError::File {
        file: path.to_owned(),
        reason,
    };
    dotenvy::from_path_iter(path)
        .map_err(|e| file_error(e.to_string()))?
        .map(|item| item.map_err(|e| file_error(e.to_string())))
        .collect()
}

/// Environment-style `(NAME, value)` pairs mapped onto setting names.
struct EnvLayer {
    origin: String,
    values: Dict,
    /// Setting name → the variable it was read from, for error messages.
    var_names: Arc<BTreeMap<String, String>>,
}

impl EnvLayer {
    fn new<S: Settings>(origin: String, pairs: &[(String, String)]) -> Self {
        let mut values = Dict::new();
        let mut var_names = BTreeMap::new();
        let mut put = |setting: &str, var: &str, raw: &str| {
            let value: Value = match raw.parse() {
                Ok(v) => v,
                Err(never) => match never {},
            };
            values.insert(setting.to_owned(), value);
            var_names.insert(setting.to_owned(), var.to_owned());
        };
        // Aliases first so that a `CAVS_` name set alongside wins.
        for (alias, setting) in S::ALIASES {
            if let Some((var, raw)) = pairs.iter().find(|(k, _)| k == alias) {
                put(setting, var, raw);
            }
        }
        for (var, raw) in pairs {
            let Some(name) = var.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            let setting = name.to_ascii_lowercase();
            if S::KEYS.contains(&setting.as_str()) {
                put(&setting, var, raw);
            }
        }
        EnvLayer {
            origin,
            values,
            var_names: Arc::new(var_names),
        }
    }
}

impl Provider for EnvLayer {
    fn metadata(&self) -> Metadata {
        let names = Arc::clone(&self.var_names);
        Metadata::named(self.origin.clone()).interpolater(
            move |_profile: &Profile, keys: &[&str]| {
                keys.last()
                    .and_then(|k| names.get(*k).cloned())
                    .unwrap_or_else(|| keys.join("."))
            },
        )
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        Ok(Profile::Default.collect(self.values.clone()))
    }
}

fn parse_error(error: figment::Error, figment: &Figment) -> ConfigError {
    let setting = error.path.last().cloned().unwrap_or_else(|| "?".into());
    let value = figment
        .find_value(&setting)
        .map(|v| match v.as_str() {
            Some(text) => text.to_owned(),
            None => format!("{v:?}"),
        })
        .unwrap_or_default();
    let origin = match &error.metadata {
        Some(meta) => {
            let profile = error.profile.clone().unwrap_or_default();
            let keys: Vec<&str> = error.path.iter().map(String::as_str).collect();
            let var = meta.interpolate(&profile, &keys);
            match &meta.source {
                Some(source) => format!("{source}"),
                None if var != keys.join(".") => format!("{var} in {}", meta.name),
                None => meta.name.to_string(),
            }
        }
        None => "defaults".into(),
    };
    ConfigError::Parse {
        setting,
        origin,
        value,
        reason: error.kind.to_string(),
    }
}
