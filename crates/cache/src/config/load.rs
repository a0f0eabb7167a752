//! Reading a configuration: environment expansion, YAML parsing, environment overrides.

use std::path::Path;

use serde_json::{Map, Value};

use super::{Config, ConfigError};

/// Prefix of the environment variables that override configuration keys, as in
/// `RELAYCACHE_CACHE__RISTRETTO__MAX_COST=64MiB`. Only variables with `__` in them are overrides, so
/// `RELAYCACHE_CONFIG` (the config file path of the binaries) is not one.
pub const ENV_PREFIX: &str = "RELAYCACHE_";

impl Config {
    /// Reads, expands, parses, overrides and validates the file at `path`, using the process environment.
    ///
    /// # Errors
    /// [`ConfigError`] naming the problem: unreadable file, unset variable, bad YAML, unknown key, or a
    /// broken rule with the key's path.
    pub fn load(path: impl AsRef<Path>) -> Result<Config, ConfigError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Io {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        Config::from_yaml_str(&text)
    }

    /// Like [`Config::load`], from text.
    ///
    /// ```
    /// let cfg = relaycache::Config::from_yaml_str("cache:\n  mode: single\n  ristretto:\n    max_cost: 64MiB\n")?;
    /// assert_eq!(cfg.cache.ristretto.max_cost, 64 << 20);
    /// # Ok::<(), relaycache::ConfigError>(())
    /// ```
    ///
    /// # Errors
    /// As [`Config::load`].
    pub fn from_yaml_str(text: &str) -> Result<Config, ConfigError> {
        let vars: Vec<(String, String)> = std::env::vars().collect();
        Config::from_yaml_str_with_env(text, &vars)
    }

    /// Like [`Config::from_yaml_str`] with an explicit environment instead of the process's, for tests and
    /// tools.
    ///
    /// # Errors
    /// As [`Config::load`].
    pub fn from_yaml_str_with_env(
        text: &str,
        env: &[(String, String)],
    ) -> Result<Config, ConfigError> {
        let lookup = |name: &str| env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        let expanded = expand_env(text, lookup)?;
        let mut tree = parse_tree(&expanded)?;
        normalize_aliases(&mut tree)?;
        for (name, value) in env {
            apply_override(&mut tree, name, value)?;
        }
        let config: Config = serde_path_to_error::deserialize(tree).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner().to_string();
            if path == "." {
                ConfigError::Parse(inner)
            } else {
                ConfigError::Parse(format!("{path}: {inner}"))
            }
        })?;
        config.validate()?;
        Ok(config)
    }
}

/// Replaces `${VAR}` and `${VAR:-default}` with values from `lookup`; `$$` stands for `$`. Any other `$`
/// is kept as written, and so are lines that are only a comment (first non-blank character `#`), so a
/// commented-out `${SECRET}` does not need the variable.
///
/// # Errors
/// [`ConfigError::MissingEnv`] for an unset variable without default, [`ConfigError::Parse`] for an
/// unterminated `${`.
pub fn expand_env(
    text: &str,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<String, ConfigError> {
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        if line.trim_start().starts_with('#') {
            out.push_str(line);
        } else {
            expand_line(line, &lookup, &mut out)?;
        }
    }
    Ok(out)
}

fn expand_line(
    line: &str,
    lookup: &impl Fn(&str) -> Option<String>,
    out: &mut String,
) -> Result<(), ConfigError> {
    let mut rest = line;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(body_and_tail) = after.strip_prefix('{') {
            let end = body_and_tail.find('}').ok_or_else(|| {
                ConfigError::Parse(format!(
                    "unterminated ${{ in {:?}",
                    &rest[pos..rest.len().min(pos + 40)]
                ))
            })?;
            let body = &body_and_tail[..end];
            let (name, default) = match body.split_once(":-") {
                Some((name, default)) => (name, Some(default)),
                None => (body, None),
            };
            let valid =
                !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid {
                return Err(ConfigError::Parse(format!(
                    "invalid environment variable name {name:?} in ${{{body}}}"
                )));
            }
            match (lookup(name), default) {
                (Some(value), _) => out.push_str(&value),
                (None, Some(default)) => out.push_str(default),
                (None, None) => {
                    return Err(ConfigError::MissingEnv {
                        var: name.to_owned(),
                    });
                }
            }
            rest = &body_and_tail[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(())
}

fn parse_tree(text: &str) -> Result<Value, ConfigError> {
    if text.trim().is_empty() {
        return Ok(Value::Object(Map::new()));
    }
    let value: Value =
        serde_saphyr::from_str(text).map_err(|e| ConfigError::Parse(e.to_string()))?;
    match value {
        Value::Null => Ok(Value::Object(Map::new())),
        Value::Object(_) => Ok(value),
        other => Err(ConfigError::Parse(format!(
            "the top level must be a mapping with keys such as `cache:`, found {}",
            kind(&other)
        ))),
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

/// Folds `cache.single` into `cache.ristretto` and `cache.ha` into `cache.olric`, so overrides and
/// validation messages use one name.
fn normalize_aliases(tree: &mut Value) -> Result<(), ConfigError> {
    let Some(Value::Object(cache)) = tree.get_mut("cache") else {
        return Ok(());
    };
    for (alias, name) in [("single", "ristretto"), ("ha", "olric")] {
        if let Some(section) = cache.remove(alias) {
            if cache.contains_key(name) {
                return Err(ConfigError::invalid(
                    format!("cache.{alias}"),
                    format!("`{alias}` is another name for `{name}`; give only one of them"),
                ));
            }
            cache.insert(name.to_owned(), section);
        }
    }
    Ok(())
}

fn apply_override(tree: &mut Value, name: &str, raw: &str) -> Result<(), ConfigError> {
    let Some(path) = name.strip_prefix(ENV_PREFIX) else {
        return Ok(());
    };
    if !path.contains("__") {
        return Ok(());
    }
    let mut keys: Vec<String> = path.split("__").map(str::to_ascii_lowercase).collect();
    if keys.iter().any(String::is_empty) {
        return Err(ConfigError::Parse(format!(
            "environment override {name}: empty key between `__`"
        )));
    }
    if keys.len() >= 2 && keys[0] == "cache" {
        match keys[1].as_str() {
            "single" => keys[1] = "ristretto".to_owned(),
            "ha" => keys[1] = "olric".to_owned(),
            _ => {}
        }
    }
    let value = parse_scalar(raw);
    let mut node = tree;
    let (last, parents) = keys.split_last().expect("split yields at least one key");
    for key in parents {
        let Value::Object(map) = node else {
            return Err(ConfigError::Parse(format!(
                "environment override {name}: `{key}` is not inside a mapping"
            )));
        };
        node = map
            .entry(key.clone())
            .or_insert_with(|| Value::Object(Map::new()));
    }
    let Value::Object(map) = node else {
        return Err(ConfigError::Parse(format!(
            "environment override {name}: `{last}` is not inside a mapping"
        )));
    };
    map.insert(last.clone(), value);
    Ok(())
}

/// An override value is read as a YAML scalar or flow list (`5s`, `3`, `true`, `[a:1, b:2]`); anything that
/// does not parse is taken as a string.
fn parse_scalar(raw: &str) -> Value {
    match serde_saphyr::from_str::<Value>(raw) {
        Ok(Value::Object(_)) | Err(_) => Value::String(raw.to_owned()),
        Ok(Value::Null) if !raw.trim().is_empty() => Value::String(raw.to_owned()),
        Ok(v) => v,
    }
}
