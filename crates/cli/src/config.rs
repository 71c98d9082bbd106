//! The client's configuration file (`$XDG_CONFIG_HOME/ragenie/config.json`, else
//! `~/.config/ragenie/config.json`): the API key `ragenie login` created for each server, and
//! the server used last. Written readable by its owner only, since it holds keys.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};

pub const DEFAULT_URL: &str = "http://127.0.0.1:8080";

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Config {
    /// The server `ragenie login` signed in to last (used when no `--url` is given).
    #[serde(default)]
    pub default_url: Option<String>,
    /// Keys by server base URL.
    #[serde(default)]
    pub servers: BTreeMap<String, ServerEntry>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ServerEntry {
    pub api_key: String,
    #[serde(default)]
    pub api_key_id: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
}

/// Where the configuration lives, from the environment.
pub fn config_path() -> Option<PathBuf> {
    let dir = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|h| PathBuf::from(h).join(".config"))
        })?;
    Some(dir.join("ragenie").join("config.json"))
}

/// Normalises a base URL so `http://h:1/` and `http://h:1` name the same server.
pub fn normalise_url(url: &str) -> String {
    url.trim().trim_end_matches('/').to_owned()
}

impl Config {
    /// Reads the file; a missing file is an empty configuration.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        match std::fs::read_to_string(path) {
            Ok(text) => serde_json::from_str(&text)
                .with_context(|| format!("{} is not a valid configuration", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    pub fn save(&self, path: &Path) -> anyhow::Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let text = serde_json::to_string_pretty(self)?;
        let tmp = path.with_extension("json.tmp");
        {
            use std::io::Write;
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create(true).truncate(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                options.mode(0o600);
            }
            let mut file = options
                .open(&tmp)
                .with_context(|| format!("writing {}", tmp.display()))?;
            file.write_all(text.as_bytes())?;
            file.write_all(b"\n")?;
        }
        std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
        Ok(())
    }

    /// The server to talk to: the flag or environment, else the last login, else the default.
    pub fn resolve_url(&self, given: Option<&str>) -> String {
        normalise_url(
            given
                .filter(|u| !u.trim().is_empty())
                .or(self.default_url.as_deref())
                .unwrap_or(DEFAULT_URL),
        )
    }

    /// The key to use with `url`: the flag or environment, else the stored one for that server.
    pub fn resolve_key(&self, url: &str, given: Option<&str>) -> Option<String> {
        given
            .filter(|k| !k.trim().is_empty())
            .map(|k| k.trim().to_owned())
            .or_else(|| {
                self.servers
                    .get(&normalise_url(url))
                    .map(|s| s.api_key.clone())
            })
    }

    pub fn remember(&mut self, url: &str, entry: ServerEntry) {
        let url = normalise_url(url);
        self.servers.insert(url.clone(), entry);
        self.default_url = Some(url);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_kept_per_server_and_the_file_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ragenie/config.json");
        assert_eq!(Config::load(&path).unwrap(), Config::default());
        let mut config = Config::default();
        config.remember(
            "http://example.test/",
            ServerEntry {
                api_key: "rk_1".into(),
                ..Default::default()
            },
        );
        config.save(&path).unwrap();
        let loaded = Config::load(&path).unwrap();
        assert_eq!(loaded.resolve_url(None), "http://example.test");
        assert_eq!(
            loaded.resolve_key("http://example.test", None).as_deref(),
            Some("rk_1")
        );
        assert_eq!(loaded.resolve_key("http://other.test", None), None);
        assert_eq!(
            loaded
                .resolve_key("http://example.test", Some("flag"))
                .as_deref(),
            Some("flag")
        );
        assert_eq!(
            loaded.resolve_url(Some("http://x:1/")),
            "http://x:1",
            "the flag wins"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "{mode:o}");
        }
    }

    #[test]
    fn a_corrupt_file_is_an_error_not_an_empty_config() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        std::fs::write(&path, "{not json").unwrap();
        assert!(Config::load(&path).is_err());
    }
}
