//! Configuration: plain serde data, loaded from YAML, then validated.
//!
//! The names and defaults are those of the reference system (`num_counters`, `max_cost`, `buffer_items`,
//! `bind_addr`, `peers`, `replica_count`, ...), so its configuration files load unchanged. The
//! `ristretto:` and `olric:` sections may also be written `single:` and `ha:`.
//!
//! Loading ([`Config::from_yaml_str`], [`Config::load`]) runs in this order:
//! 1. `${VAR}` and `${VAR:-default}` in the text are replaced from the environment (`$$` is a literal `$`);
//! 2. the YAML is parsed; unknown keys are errors that name the key's path;
//! 3. environment variables `RELAYCACHE_<PATH>` override keys, where `<PATH>` is the key path upper-cased
//!    with `__` between levels: `RELAYCACHE_CACHE__MODE=redis`, `RELAYCACHE_CACHE__RISTRETTO__MAX_COST=64MiB`;
//! 4. [`Config::validate`] checks every rule and names the field that breaks one.

mod load;
mod types;
mod validate;

pub use load::{ENV_PREFIX, expand_env};
pub use types::{
    AdminConfig, CacheConfig, Config, Environment, EnvironmentPreset, HaConfig, LimitsConfig,
    LogFormat, LoggingConfig, Mode, RedisConfig, ServerConfig, SingleConfig, TlsAuthClients,
};

impl Config {
    /// A commented configuration with every key and its default (what `relaycache config init` prints).
    pub const SAMPLE_YAML: &'static str = include_str!("sample.yaml");
}

/// A configuration that cannot be used, with the path of the offending key (`cache.olric.write_quorum`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("config: cannot read {path}: {reason}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// `${VAR}` names a variable that is not set and has no default.
    #[error(
        "config: environment variable {var} is not set (used as ${{{var}}}; write ${{{var}:-default}} to give a default)"
    )]
    MissingEnv {
        /// The variable.
        var: String,
    },
    /// The text is not valid YAML or does not fit the schema (unknown key, wrong type).
    #[error("config: {0}")]
    Parse(String),
    /// A value breaks a rule; `field` is the key's path.
    #[error("config: {field}: {message}")]
    Invalid {
        /// The key's path, such as `cache.olric.write_quorum`.
        field: String,
        /// What is wrong and what is allowed.
        message: String,
    },
}

impl ConfigError {
    pub(crate) fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod sample_tests {
    use super::Config;

    #[test]
    fn the_sample_is_the_defaults() {
        let parsed =
            Config::from_yaml_str_with_env(Config::SAMPLE_YAML, &[]).expect("sample loads");
        assert_eq!(parsed, Config::default());
    }
}
