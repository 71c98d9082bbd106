//! Model management: what admins set for models (`/admin/models`), kept in one table item so
//! every instance reads the same, and read through a short-lived per-process cache so a chat
//! request adds no table read while the cache is fresh (at most one per [`CACHE_TTL`] per
//! instance; a change made through this process's cache is seen at once).
//!
//! A model without a rule is enabled with the catalog's limits and prices. A rule can disable
//! a model, set its display name, limits and prices (per million input/output tokens), or add
//! a model the catalog lacks for a configured provider (an Ollama or vLLM model, a new
//! snapshot). Per-user allow-lists live beside the user's quota ([`super::operator::UserLimits`]).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::error::{AccountError, AccountResult};
use super::keys;
use crate::storage::{Condition, Item, StoreError, Table};

/// How long an instance trusts its copy of the model settings: another instance's change is
/// applied here within this time.
pub const CACHE_TTL: Duration = Duration::from_secs(10);
/// At most this many model rules (one table item holds them all).
pub const MAX_RULES: usize = 500;
/// The longest model id (as a request may name one).
pub const MAX_MODEL_ID_CHARS: usize = 200;
/// Largest price accepted, USD per million tokens.
pub const MAX_PRICE_PER_MILLION: f64 = 10_000.0;
/// Largest context window or output limit accepted, tokens.
pub const MAX_TOKENS_LIMIT: u32 = 100_000_000;

/// What an admin set for one model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelRule {
    /// The model id as users name it (for a catalog model: the catalog's id).
    pub id: String,
    /// Set for models the admin added: `openai`, `anthropic`, `gemini` or `openai_compatible`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    pub enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_window: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_output_tokens: Option<u32>,
    /// USD per million input tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_price: Option<f64>,
    /// USD per million output tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_price: Option<f64>,
}

impl ModelRule {
    /// A rule that changes nothing (an enabled model with the catalog's values).
    pub fn new(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            provider: None,
            enabled: true,
            display_name: None,
            context_window: None,
            max_output_tokens: None,
            input_price: None,
            output_price: None,
        }
    }

    /// Both prices are set: the model is priced by this rule.
    pub fn prices(&self) -> Option<(f64, f64)> {
        Some((self.input_price?, self.output_price?))
    }

    pub fn validate(&self) -> AccountResult<()> {
        let id = self.id.trim();
        if id.is_empty() || id != self.id || id.chars().count() > MAX_MODEL_ID_CHARS {
            return Err(AccountError::invalid(
                "id",
                format!("1 to {MAX_MODEL_ID_CHARS} characters, no surrounding spaces"),
            ));
        }
        if id.chars().any(char::is_control) {
            return Err(AccountError::invalid("id", "no control characters"));
        }
        if let Some(name) = &self.display_name
            && (name.trim().is_empty() || name.chars().count() > 200)
        {
            return Err(AccountError::invalid("display_name", "1 to 200 characters"));
        }
        for (field, v) in [
            ("context_window", self.context_window),
            ("max_output_tokens", self.max_output_tokens),
        ] {
            if v.is_some_and(|n| !(1..=MAX_TOKENS_LIMIT).contains(&n)) {
                return Err(AccountError::invalid(
                    field,
                    format!("1 to {MAX_TOKENS_LIMIT} tokens"),
                ));
            }
        }
        for (field, v) in [
            ("input_price", self.input_price),
            ("output_price", self.output_price),
        ] {
            if v.is_some_and(|p| !(p.is_finite() && (0.0..=MAX_PRICE_PER_MILLION).contains(&p))) {
                return Err(AccountError::invalid(
                    field,
                    format!("0 to {MAX_PRICE_PER_MILLION} USD per million tokens"),
                ));
            }
        }
        if self.input_price.is_some() != self.output_price.is_some() {
            let missing = if self.input_price.is_none() {
                "input_price"
            } else {
                "output_price"
            };
            return Err(AccountError::invalid(
                missing,
                "set both prices (per million input and output tokens), or neither",
            ));
        }
        Ok(())
    }
}

/// Every rule admins set, as stored.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ModelSettings {
    /// Sorted by id, one per id.
    pub rules: Vec<ModelRule>,
    /// Raised by every save (optimistic concurrency between two admins).
    #[serde(default)]
    pub version: i64,
}

impl ModelSettings {
    /// The rule for a model id (exact match).
    pub fn rule(&self, id: &str) -> Option<&ModelRule> {
        self.rules.iter().find(|r| r.id == id)
    }

    /// Adds or replaces the rule with the same id.
    pub fn upsert(&mut self, rule: ModelRule) {
        match self.rules.iter_mut().find(|r| r.id == rule.id) {
            Some(r) => *r = rule,
            None => {
                self.rules.push(rule);
                self.rules.sort_by(|a, b| a.id.cmp(&b.id));
            }
        }
    }

    /// Removes the rule with this id; false when there was none.
    pub fn remove(&mut self, id: &str) -> bool {
        let before = self.rules.len();
        self.rules.retain(|r| r.id != id);
        self.rules.len() != before
    }
}

/// Reads the stored settings (none stored: no rules).
pub async fn load(table: &dyn Table) -> AccountResult<ModelSettings> {
    let k = keys::model_settings();
    match table.get(&k.pk, &k.sk).await? {
        Some(item) => Ok(item.decode()?),
        None => Ok(ModelSettings::default()),
    }
}

/// Saves `settings` if nobody saved since they were read (their `version`); a concurrent
/// change is a conflict, never a lost update.
pub async fn save(table: &dyn Table, settings: &ModelSettings) -> AccountResult<ModelSettings> {
    if settings.rules.len() > MAX_RULES {
        return Err(AccountError::invalid(
            "id",
            format!("at most {MAX_RULES} model rules"),
        ));
    }
    for rule in &settings.rules {
        rule.validate()?;
    }
    let k = keys::model_settings();
    let next = ModelSettings {
        rules: settings.rules.clone(),
        version: settings.version + 1,
    };
    let condition = if settings.version == 0 {
        Condition::NotExists
    } else {
        Condition::AttrEquals("version".into(), settings.version.into())
    };
    match table.put(Item::encode(k.pk, k.sk, &next)?, condition).await {
        Ok(()) => Ok(next),
        Err(StoreError::ConditionFailed) => Err(AccountError::Conflict(
            "another administrator changed the models at the same time; reload and retry".into(),
        )),
        Err(e) => Err(e.into()),
    }
}

/// The model settings as one process sees them: cached for [`CACHE_TTL`].
pub struct ModelSettingsCache {
    table: Arc<dyn Table>,
    ttl: Duration,
    cached: Mutex<Option<(Instant, Arc<ModelSettings>)>>,
}

impl ModelSettingsCache {
    pub fn new(table: Arc<dyn Table>) -> Self {
        Self::with_ttl(table, CACHE_TTL)
    }

    pub fn with_ttl(table: Arc<dyn Table>, ttl: Duration) -> Self {
        Self {
            table,
            ttl,
            cached: Mutex::new(None),
        }
    }

    fn fresh(&self) -> Option<Arc<ModelSettings>> {
        let guard = self.cached.lock().unwrap_or_else(|e| e.into_inner());
        guard
            .as_ref()
            .filter(|(at, _)| at.elapsed() < self.ttl)
            .map(|(_, s)| s.clone())
    }

    fn keep(&self, settings: Arc<ModelSettings>) {
        *self.cached.lock().unwrap_or_else(|e| e.into_inner()) = Some((Instant::now(), settings));
    }

    /// The settings: the cached copy while fresh, else one table read.
    pub async fn get(&self) -> AccountResult<Arc<ModelSettings>> {
        if let Some(s) = self.fresh() {
            return Ok(s);
        }
        let settings = Arc::new(load(self.table.as_ref()).await?);
        self.keep(settings.clone());
        Ok(settings)
    }

    /// Reads the stored settings (not the cache: an admin edits what is stored), applies
    /// `change` and saves; this process sees the result at once.
    pub async fn update<T>(
        &self,
        change: impl FnOnce(&mut ModelSettings) -> AccountResult<T>,
    ) -> AccountResult<(T, Arc<ModelSettings>)> {
        let mut settings = load(self.table.as_ref()).await?;
        let out = change(&mut settings)?;
        let saved = Arc::new(save(self.table.as_ref(), &settings).await?);
        self.keep(saved.clone());
        Ok((out, saved))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::counting::CountingTable;
    use crate::storage::embedded::EmbeddedTable;

    fn table() -> (tempfile::TempDir, Arc<dyn Table>) {
        let dir = tempfile::tempdir().unwrap();
        let t: Arc<dyn Table> = Arc::new(EmbeddedTable::open(&dir.path().join("t.redb")).unwrap());
        (dir, t)
    }

    #[tokio::test]
    async fn rules_round_trip_and_a_stale_save_is_a_conflict_not_a_lost_update() {
        let (_d, t) = table();
        let mut a = load(t.as_ref()).await.unwrap();
        assert!(a.rules.is_empty());
        let b = a.clone();
        a.upsert(ModelRule {
            enabled: false,
            ..ModelRule::new("gpt-4o")
        });
        let saved = save(t.as_ref(), &a).await.unwrap();
        assert_eq!(saved.version, 1);
        assert!(matches!(
            save(t.as_ref(), &b).await,
            Err(AccountError::Conflict(_))
        ));
        let read = load(t.as_ref()).await.unwrap();
        assert_eq!(read, saved);
        assert!(!read.rule("gpt-4o").unwrap().enabled);
    }

    #[test]
    fn bad_rules_name_their_field() {
        let field = |r: ModelRule| match r.validate() {
            Err(AccountError::Invalid { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(field(ModelRule::new(" x")), "id");
        assert_eq!(field(ModelRule::new("")), "id");
        assert_eq!(
            field(ModelRule {
                input_price: Some(1.0),
                ..ModelRule::new("m")
            }),
            "output_price"
        );
        assert_eq!(
            field(ModelRule {
                input_price: Some(-1.0),
                output_price: Some(1.0),
                ..ModelRule::new("m")
            }),
            "input_price"
        );
        assert_eq!(
            field(ModelRule {
                context_window: Some(0),
                ..ModelRule::new("m")
            }),
            "context_window"
        );
        assert!(
            ModelRule {
                input_price: Some(0.0),
                output_price: Some(0.0),
                ..ModelRule::new("llama3")
            }
            .validate()
            .is_ok()
        );
    }

    #[tokio::test]
    async fn the_cache_reads_the_table_once_per_ttl_and_sees_its_own_changes_at_once() {
        let (_d, inner) = table();
        let counting = Arc::new(CountingTable::new(inner));
        let cache = ModelSettingsCache::with_ttl(counting.clone(), Duration::from_secs(60));
        for _ in 0..20 {
            cache.get().await.unwrap();
        }
        assert_eq!(counting.calls().reads, 1, "twenty requests, one read");
        cache
            .update(|s| {
                s.upsert(ModelRule {
                    enabled: false,
                    ..ModelRule::new("m")
                });
                Ok(())
            })
            .await
            .unwrap();
        let before = counting.calls().reads;
        assert!(!cache.get().await.unwrap().rule("m").unwrap().enabled);
        assert_eq!(counting.calls().reads, before, "served from the cache");
        let expired = ModelSettingsCache::with_ttl(counting.clone(), Duration::ZERO);
        expired.get().await.unwrap();
        expired.get().await.unwrap();
        assert_eq!(counting.calls().reads, before + 2);
    }
}
