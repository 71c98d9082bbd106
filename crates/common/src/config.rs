//! Typed configuration, read once at start-up from the environment. A missing or malformed
//! setting fails start-up with a message naming the variable, never a request later.

use std::path::PathBuf;

use crate::accounts::operator::OperatorDefaults;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ConfigError {
    #[error("{name} is required{why}")]
    Missing {
        name: &'static str,
        why: &'static str,
    },
    #[error("{name}={value:?} is not valid: {reason}")]
    Invalid {
        name: &'static str,
        value: String,
        reason: String,
    },
}

/// Where data lives.
#[derive(Clone, Debug, PartialEq)]
pub enum StoreSettings {
    /// A local data directory: redb for items, files for blobs and secrets.
    Embedded { data_dir: PathBuf },
    /// DynamoDB, S3 and Secrets Manager (or an emulator through `AWS_ENDPOINT_URL`).
    Aws {
        table: String,
        bucket: String,
        jwt_secret_id: String,
        provider_keys_secret_id: Option<String>,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    pub store: StoreSettings,
    /// The origin clients reach this server at; presigned local URLs point here.
    pub public_url: String,
    /// Largest JSON request body, in bytes.
    pub max_json_body: usize,
    /// Largest direct document upload, in bytes.
    pub max_upload_body: usize,
    /// Embeddings for hybrid retrieval; `None` ranks by BM25 alone.
    pub embedding: Option<EmbeddingSettings>,
    /// How long security events stay in the audit trail (`RAGENIE_AUDIT_RETENTION_DAYS`).
    pub audit_retention_days: u32,
    /// Registration policy, admins, quota and limits before an admin changes them.
    pub operator: OperatorDefaults,
    /// How account mail (password-reset links) leaves.
    pub mail: MailSettings,
}

/// Account mail: the sender (`RAGENIE_MAIL_FROM`) and the way out — SMTP when
/// `RAGENIE_SMTP_URL` is set (self-hosting), Amazon SES when `RAGENIE_SES_REGION` is set (AWS),
/// else the outbox folder of the data directory and the server log (local, offline, tests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailSettings {
    pub from: String,
    pub transport: MailTransport,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailTransport {
    Outbox,
    /// `smtps://user:pass@host:465` or `smtp://host:587?tls=required` (lettre's URL form).
    Smtp {
        url: String,
    },
    Ses {
        region: String,
    },
}

impl Default for MailSettings {
    fn default() -> Self {
        Self {
            from: "RaGenie <no-reply@ragenie.invalid>".into(),
            transport: MailTransport::Outbox,
        }
    }
}

/// Audit events are kept a year unless configured otherwise.
pub const DEFAULT_AUDIT_RETENTION_DAYS: u32 = 365;
/// The longest retention accepted (ten years).
pub const MAX_AUDIT_RETENTION_DAYS: u32 = 3650;

/// The embedding model documents and queries are embedded with (`RAGENIE_EMBEDDING_MODEL`, a
/// catalog embedding model or a model on the OpenAI-compatible endpoint) and its output size
/// (`RAGENIE_EMBEDDING_DIMENSIONS`, default: the model's own). `local:<name>` is the built-in
/// model whose weights are in `RAGENIE_EMBEDDING_MODEL_DIR`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EmbeddingSettings {
    pub model: String,
    pub dimensions: Option<u32>,
    /// The built-in model's weights folder (required for `local:` models, unused otherwise).
    pub model_dir: Option<PathBuf>,
}

/// The prefix of `RAGENIE_EMBEDDING_MODEL` that names a built-in model.
pub const LOCAL_EMBEDDING_PREFIX: &str = "local:";

/// The largest embedding RaGenie stores (the biggest common models use 3,072 dimensions).
pub const MAX_EMBEDDING_DIMENSIONS: u32 = 8192;

pub const DEFAULT_PORT: u16 = 8080;

impl Settings {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
    }

    /// Reads settings through `lookup` (the environment in production, a map in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let store_kind = lookup("RAGENIE_STORE").unwrap_or_else(|| "embedded".into());
        let store = match store_kind.as_str() {
            "embedded" => StoreSettings::Embedded {
                data_dir: PathBuf::from(
                    lookup("RAGENIE_DATA_DIR").unwrap_or_else(|| ".ragenie".into()),
                ),
            },
            "aws" => {
                let required = |name: &'static str| {
                    lookup(name).ok_or(ConfigError::Missing {
                        name,
                        why: " when RAGENIE_STORE=aws",
                    })
                };
                StoreSettings::Aws {
                    table: required("RAGENIE_TABLE")?,
                    bucket: required("RAGENIE_BUCKET")?,
                    jwt_secret_id: required("RAGENIE_JWT_SECRET_ID")?,
                    provider_keys_secret_id: lookup("RAGENIE_PROVIDER_KEYS_SECRET_ID"),
                }
            }
            other => {
                return Err(ConfigError::Invalid {
                    name: "RAGENIE_STORE",
                    value: other.into(),
                    reason: "expected `embedded` or `aws`".into(),
                });
            }
        };
        let port = parse(&lookup, "RAGENIE_PORT", DEFAULT_PORT)?;
        let public_url = match lookup("RAGENIE_PUBLIC_URL") {
            Some(url) => {
                url::Url::parse(&url).map_err(|e| ConfigError::Invalid {
                    name: "RAGENIE_PUBLIC_URL",
                    value: url.clone(),
                    reason: e.to_string(),
                })?;
                url.trim_end_matches('/').to_owned()
            }
            None => format!("http://127.0.0.1:{port}"),
        };
        let dimensions = match lookup("RAGENIE_EMBEDDING_DIMENSIONS") {
            None => None,
            Some(value) => Some(
                value
                    .parse::<u32>()
                    .ok()
                    .filter(|d| (1..=MAX_EMBEDDING_DIMENSIONS).contains(d))
                    .ok_or_else(|| ConfigError::Invalid {
                        name: "RAGENIE_EMBEDDING_DIMENSIONS",
                        value,
                        reason: format!(
                            "expected a whole number from 1 to {MAX_EMBEDDING_DIMENSIONS}"
                        ),
                    })?,
            ),
        };
        let model = lookup("RAGENIE_EMBEDDING_MODEL")
            .map(|m| m.trim().to_owned())
            .filter(|m| !m.is_empty());
        let model_dir = lookup("RAGENIE_EMBEDDING_MODEL_DIR").map(PathBuf::from);
        let embedding = match model {
            Some(model) if model.starts_with(LOCAL_EMBEDDING_PREFIX) => {
                if model[LOCAL_EMBEDDING_PREFIX.len()..].trim().is_empty() {
                    return Err(ConfigError::Invalid {
                        name: "RAGENIE_EMBEDDING_MODEL",
                        value: model,
                        reason: "expected local:<name>, e.g. local:all-MiniLM-L6-v2".into(),
                    });
                }
                if model_dir.is_none() {
                    return Err(ConfigError::Missing {
                        name: "RAGENIE_EMBEDDING_MODEL_DIR",
                        why: " when RAGENIE_EMBEDDING_MODEL is a built-in (local:) model",
                    });
                }
                Some(EmbeddingSettings {
                    model,
                    dimensions,
                    model_dir,
                })
            }
            Some(model) => Some(EmbeddingSettings {
                model,
                dimensions,
                model_dir: None,
            }),
            None if dimensions.is_some() => {
                return Err(ConfigError::Missing {
                    name: "RAGENIE_EMBEDDING_MODEL",
                    why: " when RAGENIE_EMBEDDING_DIMENSIONS is set",
                });
            }
            None => None,
        };
        let audit_retention_days = parse(
            &lookup,
            "RAGENIE_AUDIT_RETENTION_DAYS",
            DEFAULT_AUDIT_RETENTION_DAYS,
        )?;
        if !(1..=MAX_AUDIT_RETENTION_DAYS).contains(&audit_retention_days) {
            return Err(ConfigError::Invalid {
                name: "RAGENIE_AUDIT_RETENTION_DAYS",
                value: audit_retention_days.to_string(),
                reason: format!("expected 1 to {MAX_AUDIT_RETENTION_DAYS} days"),
            });
        }
        let operator =
            OperatorDefaults::from_lookup(&lookup, matches!(store, StoreSettings::Aws { .. }))?;
        let mail = {
            let from = lookup("RAGENIE_MAIL_FROM");
            let transport = match (lookup("RAGENIE_SMTP_URL"), lookup("RAGENIE_SES_REGION")) {
                (Some(_), Some(_)) => {
                    return Err(ConfigError::Invalid {
                        name: "RAGENIE_SES_REGION",
                        value: "set".into(),
                        reason: "set either RAGENIE_SMTP_URL or RAGENIE_SES_REGION, not both"
                            .into(),
                    });
                }
                (Some(url), None) => {
                    let parsed = url::Url::parse(&url).ok().filter(|u| {
                        matches!(u.scheme(), "smtp" | "smtps") && u.host_str().is_some()
                    });
                    if parsed.is_none() {
                        return Err(ConfigError::Invalid {
                            name: "RAGENIE_SMTP_URL",
                            value: "(hidden: it may hold a password)".into(),
                            reason: "expected smtps://user:password@host:465 or smtp://host:587?tls=required".into(),
                        });
                    }
                    MailTransport::Smtp { url }
                }
                (None, Some(region)) => MailTransport::Ses { region },
                (None, None) => MailTransport::Outbox,
            };
            match (from, &transport) {
                (Some(from), _) => MailSettings { from, transport },
                (None, MailTransport::Outbox) => MailSettings::default(),
                (None, _) => {
                    return Err(ConfigError::Missing {
                        name: "RAGENIE_MAIL_FROM",
                        why: " when RAGENIE_SMTP_URL or RAGENIE_SES_REGION is set",
                    });
                }
            }
        };
        Ok(Self {
            operator,
            store,
            public_url,
            max_json_body: parse(&lookup, "RAGENIE_MAX_JSON_BYTES", 1024 * 1024)?,
            max_upload_body: parse(&lookup, "RAGENIE_MAX_UPLOAD_BYTES", 6 * 1024 * 1024)?,
            embedding,
            audit_retention_days,
            mail,
        })
    }

    /// The port the local server listens on.
    pub fn port_from_env() -> Result<u16, ConfigError> {
        parse(
            &|n: &str| std::env::var(n).ok().filter(|v| !v.is_empty()),
            "RAGENIE_PORT",
            DEFAULT_PORT,
        )
    }

    /// Settings for tests: an embedded store in `data_dir`.
    pub fn embedded(data_dir: impl Into<PathBuf>, public_url: &str) -> Self {
        Self {
            store: StoreSettings::Embedded {
                data_dir: data_dir.into(),
            },
            public_url: public_url.into(),
            max_json_body: 1024 * 1024,
            max_upload_body: 6 * 1024 * 1024,
            embedding: None,
            audit_retention_days: DEFAULT_AUDIT_RETENTION_DAYS,
            operator: OperatorDefaults::default(),
            mail: MailSettings::default(),
        }
    }

    /// Where the outbox mailer writes (embedded store only).
    pub fn outbox_dir(&self) -> Option<PathBuf> {
        match &self.store {
            StoreSettings::Embedded { data_dir } => Some(data_dir.join("outbox")),
            StoreSettings::Aws { .. } => None,
        }
    }
}

fn parse<T: std::str::FromStr>(
    lookup: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: T,
) -> Result<T, ConfigError>
where
    T::Err: std::fmt::Display,
{
    match lookup(name) {
        None => Ok(default),
        Some(v) => v.parse().map_err(|e: T::Err| ConfigError::Invalid {
            name,
            value: v,
            reason: e.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn from(pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_to_an_embedded_store_in_dot_ragenie() {
        let s = from(&[]).unwrap();
        assert_eq!(
            s.store,
            StoreSettings::Embedded {
                data_dir: ".ragenie".into()
            }
        );
        assert_eq!(s.public_url, "http://127.0.0.1:8080");
    }

    #[test]
    fn aws_mode_without_a_table_fails_naming_the_variable() {
        let err = from(&[("RAGENIE_STORE", "aws"), ("RAGENIE_BUCKET", "b")]).unwrap_err();
        assert!(err.to_string().contains("RAGENIE_TABLE"), "{err}");
    }

    #[test]
    fn an_embedding_model_is_optional_and_its_dimensions_are_checked() {
        assert_eq!(from(&[]).unwrap().embedding, None);
        let blank = from(&[("RAGENIE_EMBEDDING_MODEL", "  ")]).unwrap();
        assert_eq!(blank.embedding, None, "a blank model means off");
        let s = from(&[
            ("RAGENIE_EMBEDDING_MODEL", "text-embedding-3-small"),
            ("RAGENIE_EMBEDDING_DIMENSIONS", "512"),
        ])
        .unwrap();
        assert_eq!(
            s.embedding,
            Some(EmbeddingSettings {
                model: "text-embedding-3-small".into(),
                dimensions: Some(512),
                model_dir: None,
            })
        );
        for bad in ["0", "many", "9000"] {
            let err = from(&[
                ("RAGENIE_EMBEDDING_MODEL", "m"),
                ("RAGENIE_EMBEDDING_DIMENSIONS", bad),
            ])
            .unwrap_err();
            assert!(
                err.to_string().contains("RAGENIE_EMBEDDING_DIMENSIONS"),
                "{err}"
            );
        }
        let err = from(&[("RAGENIE_EMBEDDING_DIMENSIONS", "512")]).unwrap_err();
        assert!(err.to_string().contains("RAGENIE_EMBEDDING_MODEL"), "{err}");
    }

    #[test]
    fn audit_retention_defaults_to_a_year_and_is_bounded() {
        assert_eq!(from(&[]).unwrap().audit_retention_days, 365);
        let custom = from(&[("RAGENIE_AUDIT_RETENTION_DAYS", "30")]).unwrap();
        assert_eq!(custom.audit_retention_days, 30);
        for bad in ["0", "3651", "a year"] {
            let err = from(&[("RAGENIE_AUDIT_RETENTION_DAYS", bad)]).unwrap_err();
            assert!(
                err.to_string().contains("RAGENIE_AUDIT_RETENTION_DAYS"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn mail_goes_to_the_outbox_unless_smtp_or_ses_is_configured() {
        assert_eq!(from(&[]).unwrap().mail.transport, MailTransport::Outbox);
        let smtp = from(&[
            ("RAGENIE_SMTP_URL", "smtps://me:secret@mail.example.com:465"),
            ("RAGENIE_MAIL_FROM", "RaGenie <no-reply@example.com>"),
        ])
        .unwrap();
        assert!(matches!(smtp.mail.transport, MailTransport::Smtp { .. }));
        let ses = from(&[
            ("RAGENIE_SES_REGION", "eu-west-1"),
            ("RAGENIE_MAIL_FROM", "no-reply@example.com"),
        ])
        .unwrap();
        assert_eq!(
            ses.mail.transport,
            MailTransport::Ses {
                region: "eu-west-1".into()
            }
        );
        let err = from(&[("RAGENIE_SES_REGION", "eu-west-1")]).unwrap_err();
        assert!(err.to_string().contains("RAGENIE_MAIL_FROM"), "{err}");
        let err = from(&[("RAGENIE_SMTP_URL", "http://user:pw@x")]).unwrap_err();
        let shown = err.to_string();
        assert!(
            shown.contains("RAGENIE_SMTP_URL") && !shown.contains("pw"),
            "{shown}"
        );
    }

    #[test]
    fn a_built_in_model_needs_its_weights_folder() {
        let err = from(&[("RAGENIE_EMBEDDING_MODEL", "local:all-MiniLM-L6-v2")]).unwrap_err();
        assert!(
            err.to_string().contains("RAGENIE_EMBEDDING_MODEL_DIR"),
            "{err}"
        );
        let err = from(&[
            ("RAGENIE_EMBEDDING_MODEL", "local: "),
            ("RAGENIE_EMBEDDING_MODEL_DIR", "/m"),
        ])
        .unwrap_err();
        assert!(err.to_string().contains("local:<name>"), "{err}");
        let s = from(&[
            ("RAGENIE_EMBEDDING_MODEL", "local:all-MiniLM-L6-v2"),
            ("RAGENIE_EMBEDDING_MODEL_DIR", "/models/minilm"),
        ])
        .unwrap();
        assert_eq!(
            s.embedding,
            Some(EmbeddingSettings {
                model: "local:all-MiniLM-L6-v2".into(),
                dimensions: None,
                model_dir: Some("/models/minilm".into()),
            })
        );
        // A provider's model ignores the folder.
        let s = from(&[
            ("RAGENIE_EMBEDDING_MODEL", "text-embedding-3-small"),
            ("RAGENIE_EMBEDDING_MODEL_DIR", "/models/minilm"),
        ])
        .unwrap();
        assert_eq!(s.embedding.unwrap().model_dir, None);
    }

    #[test]
    fn a_malformed_port_fails_naming_the_variable() {
        let err = from(&[("RAGENIE_PORT", "eighty")]).unwrap_err();
        assert!(
            err.to_string().starts_with("RAGENIE_PORT=\"eighty\""),
            "{err}"
        );
        assert!(
            from(&[("RAGENIE_STORE", "cloud")])
                .unwrap_err()
                .to_string()
                .contains("RAGENIE_STORE")
        );
    }
}
