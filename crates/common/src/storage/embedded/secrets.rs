//! Secrets as files, created on first use where a generator is given.

use super::*;

/// Secrets as files in `<data dir>/secrets/`, created on first use where a generator is given.
#[derive(Clone)]
pub struct EmbeddedSecrets {
    dir: PathBuf,
}

impl EmbeddedSecrets {
    pub fn open(dir: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        Ok(Self {
            dir: dir.to_path_buf(),
        })
    }

    fn path(&self, name: &str) -> StoreResult<PathBuf> {
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            || name.starts_with('.')
        {
            return Err(StoreError::Invalid(format!("invalid secret name `{name}`")));
        }
        Ok(self.dir.join(name))
    }

    /// Reads the secret, first writing a new random one (64 hex characters) if there is none.
    pub fn get_or_generate(&self, name: &str) -> StoreResult<String> {
        let path = self.path(name)?;
        if let Ok(existing) = std::fs::read_to_string(&path) {
            return Ok(existing.trim().to_owned());
        }
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        let value = hex::encode(bytes);
        let tmp = self.dir.join(format!(".{name}.{}", ulid::Ulid::new()));
        std::fs::write(&tmp, &value).map_err(unexpected)?;
        restrict_permissions(&tmp);
        // Two processes starting at once: the first rename wins and both read the winner.
        if std::fs::hard_link(&tmp, &path).is_err() && !path.exists() {
            let _ = std::fs::remove_file(&tmp);
            return Err(unexpected(anyhow::anyhow!(
                "could not create secret {name}"
            )));
        }
        let _ = std::fs::remove_file(&tmp);
        Ok(std::fs::read_to_string(&path)
            .map_err(unexpected)?
            .trim()
            .to_owned())
    }
}

#[cfg(unix)]
pub(super) fn restrict_permissions(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
}
#[cfg(not(unix))]
pub(super) fn restrict_permissions(_: &Path) {}

#[async_trait]
impl Secrets for EmbeddedSecrets {
    async fn get_string(&self, name: &str) -> StoreResult<Option<String>> {
        match tokio::fs::read_to_string(self.path(name)?).await {
            Ok(s) => Ok(Some(s.trim_end_matches(['\n', '\r']).to_owned())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(unexpected(e)),
        }
    }
}
