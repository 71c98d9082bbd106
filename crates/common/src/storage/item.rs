//! The item model both table adapters share: a partition key, a sort key and JSON attributes.

use serde_json::{Map, Value};

use super::{MAX_ITEM_BYTES, StoreError, StoreResult, attr};

pub type Attrs = Map<String, Value>;

#[derive(Clone, Debug, PartialEq)]
pub struct Item {
    pub pk: String,
    pub sk: String,
    /// Every other attribute, including `gsi1pk`, `gsi1sk` and `expires_at` when set.
    pub attrs: Attrs,
}

impl Item {
    pub fn new(pk: impl Into<String>, sk: impl Into<String>) -> Self {
        Self {
            pk: pk.into(),
            sk: sk.into(),
            attrs: Attrs::new(),
        }
    }

    pub fn with(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.attrs.insert(name.into(), value.into());
        self
    }

    /// Puts the item in the secondary index under these keys.
    pub fn indexed(self, gsi_pk: impl Into<String>, gsi_sk: impl Into<String>) -> Self {
        self.with(attr::GSI1_PK, gsi_pk.into())
            .with(attr::GSI1_SK, gsi_sk.into())
    }

    /// The item counts as deleted from this epoch second on.
    pub fn expires_at(self, epoch_seconds: i64) -> Self {
        self.with(attr::EXPIRES_AT, epoch_seconds)
    }

    pub fn get(&self, name: &str) -> Option<&Value> {
        self.attrs.get(name)
    }

    pub fn str(&self, name: &str) -> Option<&str> {
        self.attrs.get(name).and_then(Value::as_str)
    }

    pub fn i64(&self, name: &str) -> Option<i64> {
        self.attrs.get(name).and_then(Value::as_i64)
    }

    pub fn index_keys(&self) -> Option<(&str, &str)> {
        Some((self.str(attr::GSI1_PK)?, self.str(attr::GSI1_SK)?))
    }

    pub fn is_expired_at(&self, now: i64) -> bool {
        self.i64(attr::EXPIRES_AT).is_some_and(|t| t <= now)
    }

    /// Deserialises the attributes into a domain type.
    pub fn decode<T: serde::de::DeserializeOwned>(&self) -> StoreResult<T> {
        serde_json::from_value(Value::Object(self.attrs.clone())).map_err(|e| {
            StoreError::Unexpected(anyhow::anyhow!(
                "item {}/{} is malformed: {e}",
                self.pk,
                self.sk
            ))
        })
    }

    /// Builds an item from a domain type serialised to a JSON object.
    pub fn encode<T: serde::Serialize>(
        pk: impl Into<String>,
        sk: impl Into<String>,
        value: &T,
    ) -> StoreResult<Self> {
        match serde_json::to_value(value) {
            Ok(Value::Object(attrs)) => Ok(Self {
                pk: pk.into(),
                sk: sk.into(),
                attrs,
            }),
            Ok(_) => Err(StoreError::Invalid(
                "an item must serialise to a JSON object".into(),
            )),
            Err(e) => Err(StoreError::Invalid(format!("item does not serialise: {e}"))),
        }
    }

    /// The item as one JSON object with `pk` and `sk` inside (the embedded store's encoding).
    pub fn to_json(&self) -> Value {
        let mut all = self.attrs.clone();
        all.insert(attr::PK.into(), Value::String(self.pk.clone()));
        all.insert(attr::SK.into(), Value::String(self.sk.clone()));
        Value::Object(all)
    }

    pub fn from_json(value: Value) -> StoreResult<Self> {
        let Value::Object(mut attrs) = value else {
            return Err(StoreError::Invalid("an item must be a JSON object".into()));
        };
        let mut key = |name: &str| match attrs.remove(name) {
            Some(Value::String(s)) => Ok(s),
            _ => Err(StoreError::Invalid(format!("item lacks a string `{name}`"))),
        };
        let pk = key(attr::PK)?;
        let sk = key(attr::SK)?;
        Ok(Self { pk, sk, attrs })
    }

    /// Checks keys, reserved attribute types and size the way DynamoDB would.
    pub fn validate(&self) -> StoreResult<()> {
        validate_key(&self.pk, &self.sk)?;
        if self.attrs.contains_key(attr::PK) || self.attrs.contains_key(attr::SK) {
            return Err(StoreError::Invalid(
                "`pk` and `sk` are the item's keys, not attributes".into(),
            ));
        }
        for name in [attr::GSI1_PK, attr::GSI1_SK] {
            match self.attrs.get(name) {
                None => {}
                Some(Value::String(s)) if !s.is_empty() && !s.contains('\0') => {}
                Some(_) => {
                    return Err(StoreError::Invalid(format!(
                        "`{name}` must be a non-empty string"
                    )));
                }
            }
        }
        if self.attrs.contains_key(attr::GSI1_PK) != self.attrs.contains_key(attr::GSI1_SK) {
            return Err(StoreError::Invalid(
                "`gsi1pk` and `gsi1sk` go together".into(),
            ));
        }
        if let Some(v) = self.attrs.get(attr::EXPIRES_AT)
            && v.as_i64().is_none()
        {
            return Err(StoreError::Invalid(
                "`expires_at` must be an integer (epoch seconds)".into(),
            ));
        }
        let size = item_size(self);
        if size > MAX_ITEM_BYTES {
            return Err(StoreError::ItemTooLarge {
                size,
                limit: MAX_ITEM_BYTES,
            });
        }
        Ok(())
    }
}

pub(crate) fn validate_key(pk: &str, sk: &str) -> StoreResult<()> {
    for (name, value) in [(attr::PK, pk), (attr::SK, sk)] {
        if value.is_empty() || value.len() > 1024 || value.contains('\0') {
            return Err(StoreError::Invalid(format!(
                "`{name}` must be 1..=1024 bytes without NUL characters"
            )));
        }
    }
    Ok(())
}

/// The item's size as DynamoDB counts it: attribute names plus values.
pub fn item_size(item: &Item) -> usize {
    attr::PK.len()
        + item.pk.len()
        + attr::SK.len()
        + item.sk.len()
        + item
            .attrs
            .iter()
            .map(|(k, v)| k.len() + value_size(v))
            .sum::<usize>()
}

fn value_size(value: &Value) -> usize {
    match value {
        Value::Null | Value::Bool(_) => 1,
        Value::String(s) => s.len(),
        // DynamoDB: about one byte per two significant digits, plus one.
        Value::Number(n) => n.to_string().len().div_ceil(2) + 1,
        Value::Array(items) => 3 + items.iter().map(|v| 1 + value_size(v)).sum::<usize>(),
        Value::Object(map) => {
            3 + map
                .iter()
                .map(|(k, v)| 1 + k.len() + value_size(v))
                .sum::<usize>()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_item_round_trips_through_its_json_encoding() {
        let item = Item::new("USER#1", "PROFILE#a")
            .with("name", "Work")
            .indexed("X", "Y")
            .expires_at(5);
        assert_eq!(Item::from_json(item.to_json()).unwrap(), item);
    }

    #[test]
    fn an_item_over_400_kb_is_refused_with_its_size() {
        let item = Item::new("p", "s").with("blob", "x".repeat(MAX_ITEM_BYTES));
        match item.validate() {
            Err(StoreError::ItemTooLarge { size, limit }) => assert!(size > limit),
            other => panic!("expected ItemTooLarge, got {other:?}"),
        }
    }

    #[test]
    fn keys_with_nul_or_empty_are_refused() {
        assert!(Item::new("", "s").validate().is_err());
        assert!(Item::new("p", "a\0b").validate().is_err());
        assert!(
            Item::new("p", "s").with("gsi1pk", "x").validate().is_err(),
            "index keys go in pairs"
        );
        assert!(
            Item::new("p", "s")
                .with("expires_at", json!("soon"))
                .validate()
                .is_err()
        );
    }
}
