//! The models a user may answer with: the gateway's (catalog, configured providers, ids as
//! people write them) with what admins set ([`ModelSettings`]: enabled, limits, prices, added
//! models) and the user's allow-list. `/models`, `/v1/models`, the model rule's default and
//! every send go through here, so a disabled or forbidden model is neither listed nor usable.

use std::sync::Arc;

use ragenie_common::accounts::UserId;
use ragenie_common::accounts::model_settings::{ModelRule, ModelSettings, ModelSettingsCache};
use ragenie_common::accounts::operator::{self, UserLimits};
use ragenie_common::storage::Table;
use ragenie_gateway::{Gateway, GatewayError, ModelKind, ModelSpec, Pricing, ProviderKind};

use crate::error::{ConversationError, ConversationResult};
use crate::models::{RETRIEVAL_ONLY_MODEL, retrieval_only_spec};

/// A model as listed: its spec with admins' rules applied, and whether it can answer now.
#[derive(Clone, Debug, PartialEq)]
pub struct ListedModel {
    pub spec: ModelSpec,
    /// Its provider is configured (key, or the compatible server's URL).
    pub available: bool,
    pub unavailable_reason: Option<String>,
    /// Not disabled by an admin.
    pub enabled: bool,
    /// Added by an admin (not in the built-in catalog).
    pub added: bool,
    /// An admin set its prices (else the catalog's, or none).
    pub price_set_by_admin: bool,
}

pub struct ModelRegistry {
    gateway: Arc<Gateway>,
    table: Arc<dyn Table>,
    settings: ModelSettingsCache,
}

/// Applies a rule's display name, limits and prices to a spec.
fn apply(spec: &mut ModelSpec, rule: &ModelRule) {
    if let Some(name) = &rule.display_name {
        spec.display_name = name.clone();
    }
    if let Some(n) = rule.context_window {
        spec.context_window = n;
    }
    if let Some(n) = rule.max_output_tokens {
        spec.max_output_tokens = n;
        spec.default_max_tokens = spec.default_max_tokens.map(|d| d.min(n));
    }
    if let Some((input, output)) = rule.prices() {
        spec.pricing = Some(Pricing {
            input,
            output,
            cache_read: None,
            cache_write: None,
        });
    }
}

/// The provider an added model names (stored as its catalog name).
pub fn parse_provider(name: &str) -> Option<ProviderKind> {
    ProviderKind::parse(name)
}

impl ModelRegistry {
    pub fn new(table: Arc<dyn Table>, gateway: Arc<Gateway>) -> Self {
        Self {
            settings: ModelSettingsCache::new(table.clone()),
            gateway,
            table,
        }
    }

    pub fn gateway(&self) -> &Gateway {
        &self.gateway
    }

    /// The admins' settings, through this process's cache; admins edit through it so their
    /// change applies here at once.
    pub fn settings(&self) -> &ModelSettingsCache {
        &self.settings
    }

    /// The ids a requested model is known by: as named, the provider's id, and the catalog
    /// entry it resolves to (a dated snapshot and `anthropic/…` count as their entry).
    fn names<'a>(&'a self, requested: &'a str) -> Vec<&'a str> {
        let mut names = vec![requested.trim()];
        let (_, bare) = ragenie_gateway::split_provider(requested);
        names.push(bare);
        if let Some((entry, wire)) = self.gateway.catalog().lookup(requested) {
            names.push(entry.id.as_str());
            names.push(wire);
        }
        names.dedup();
        names
    }

    fn rule<'s>(settings: &'s ModelSettings, names: &[&str]) -> Option<&'s ModelRule> {
        names.iter().find_map(|n| settings.rule(n))
    }

    /// Every chat model: the catalog's (with availability) and the ones admins added, with
    /// the admins' rules applied (the admin console's list).
    pub fn all(&self, settings: &ModelSettings) -> Vec<ListedModel> {
        let mut list: Vec<ListedModel> = self
            .gateway
            .models()
            .into_iter()
            .filter(|m| m.model.kind == ModelKind::Chat)
            .map(|m| {
                let mut spec = m.model;
                let rule = settings.rule(&spec.id);
                if let Some(rule) = rule {
                    apply(&mut spec, rule);
                }
                ListedModel {
                    spec,
                    available: m.available,
                    unavailable_reason: m.unavailable_reason,
                    enabled: rule.is_none_or(|r| r.enabled),
                    added: false,
                    price_set_by_admin: rule.is_some_and(|r| r.prices().is_some()),
                }
            })
            .collect();
        for rule in &settings.rules {
            let Some(provider) = rule.provider.as_deref().and_then(parse_provider) else {
                continue;
            };
            if list.iter().any(|m| m.spec.id == rule.id) {
                continue;
            }
            let mut spec = ModelSpec::unknown(&rule.id, provider);
            apply(&mut spec, rule);
            let available = self.gateway.is_available(provider);
            list.push(ListedModel {
                spec,
                available,
                unavailable_reason: (!available)
                    .then(|| format!("{provider} is not configured on this server")),
                enabled: rule.enabled,
                added: true,
                price_set_by_admin: rule.prices().is_some(),
            });
        }
        list
    }

    async fn limits(&self, user: UserId) -> ConversationResult<UserLimits> {
        Ok(operator::user_limits(self.table.as_ref(), user).await?)
    }

    /// The chat models `user` may pick: enabled and on their allow-list (if they have one).
    pub async fn for_user(&self, user: UserId) -> ConversationResult<Vec<ListedModel>> {
        let settings = self.settings.get().await?;
        let limits = self.limits(user).await?;
        Ok(self
            .all(&settings)
            .into_iter()
            .filter(|m| m.enabled && limits.allows(std::iter::once(m.spec.id.as_str())))
            .collect())
    }

    /// What a conversation without a model uses for `user`: the first available flagship
    /// they may use, else the first available model, else the retrieval-only model.
    pub fn default_of(models: &[ListedModel]) -> String {
        let usable = || models.iter().filter(|m| m.available);
        usable()
            .find(|m| m.spec.flagship)
            .or_else(|| usable().next())
            .map(|m| m.spec.id.clone())
            .unwrap_or_else(|| RETRIEVAL_ONLY_MODEL.to_owned())
    }

    /// The spec `user` answers with when naming `model`: refused when no configured provider
    /// serves it (422), when an admin disabled it, or when it is not on the user's allow-list
    /// (403). A model with no known price is usable; its cost is reported as unknown.
    pub async fn spec(&self, user: UserId, model: &str) -> ConversationResult<ModelSpec> {
        if model == RETRIEVAL_ONLY_MODEL {
            return Ok(retrieval_only_spec());
        }
        let settings = self.settings.get().await?;
        let names = self.names(model);
        let rule = Self::rule(&settings, &names);
        let mut spec = match rule.and_then(|r| Some((r, parse_provider(r.provider.as_deref()?)?))) {
            // A model an admin added (not in the catalog): served by the provider they named.
            Some((r, provider)) if self.gateway.catalog().lookup(model).is_none() => {
                if !self.gateway.is_available(provider) {
                    return Err(GatewayError::MissingKey {
                        provider: provider.to_string(),
                    }
                    .into());
                }
                let (_, bare) = ragenie_gateway::split_provider(&r.id);
                ModelSpec::unknown(bare, provider)
            }
            _ => self.gateway.chat_model(model)?,
        };
        if let Some(rule) = rule {
            if !rule.enabled {
                return Err(ConversationError::ModelRefused(format!(
                    "the model `{model}` is disabled on this server; pick another (GET /models)"
                )));
            }
            apply(&mut spec, rule);
        }
        if !self.limits(user).await?.allows(names.iter().copied()) {
            return Err(ConversationError::ModelRefused(format!(
                "your account may not use the model `{model}`; pick one of GET /models"
            )));
        }
        Ok(spec)
    }
}
