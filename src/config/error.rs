//! Configuration errors: each names the file, the key path inside it and what was expected.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{file}: cannot read: {source}")]
    Read {
        file: PathBuf,
        source: std::io::Error,
    },
    /// TOML syntax, a wrong type or an unknown key; `key` is where serde stopped.
    #[error("{file}: {key}: {message}")]
    Syntax {
        file: PathBuf,
        key: String,
        message: String,
    },
    /// A value of the right type that does not make sense.
    #[error("{file}: {key}: expected {expected}, found {found}")]
    Invalid {
        file: PathBuf,
        key: String,
        expected: String,
        found: String,
    },
    /// Several of the above, from sections compiled one after the other: `check` reports
    /// every one it finds, one a line.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\nerror: "))]
    Several(Vec<ConfigError>),
}

impl ConfigError {
    /// One error as itself, more than one as [`ConfigError::Several`] (flattened: a
    /// section's own several are listed with the rest).
    pub fn all(errors: Vec<ConfigError>) -> ConfigError {
        let mut errors: Vec<ConfigError> = errors
            .into_iter()
            .flat_map(|e| match e {
                ConfigError::Several(inner) => inner,
                e => vec![e],
            })
            .collect();
        match errors.len() {
            1 => errors.remove(0),
            _ => ConfigError::Several(errors),
        }
    }

    /// What a section answers when it has no settings to give and has reported every
    /// reason to the compile context already (it adds no line of its own).
    pub(crate) fn already_reported() -> ConfigError {
        ConfigError::Several(Vec::new())
    }

    /// The key path the error is about, e.g. `routes[1].paths[0]`.
    pub fn key(&self) -> Option<&str> {
        match self {
            ConfigError::Read { .. } => None,
            ConfigError::Syntax { key, .. } | ConfigError::Invalid { key, .. } => Some(key),
            ConfigError::Several(errors) => errors.first().and_then(ConfigError::key),
        }
    }
}
