//! Opaque pagination cursors: the last key a page returned, encoded so clients cannot read or
//! forge a position in another partition. A cursor is only accepted by a query of the same
//! partition whose sort-key range contains it.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use super::{Query, StoreError, StoreResult};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    pub pk: String,
    pub sk: String,
    /// Index keys, for cursors of a secondary-index query.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<(String, String)>,
}

impl Cursor {
    pub fn encode(&self) -> String {
        let json = serde_json::to_vec(self).expect("a cursor always serialises");
        URL_SAFE_NO_PAD.encode(json)
    }

    /// The cursor `raw` encodes, whatever it belongs to.
    fn parse(raw: &str) -> StoreResult<Self> {
        if raw.len() > 4096 {
            return Err(StoreError::InvalidCursor);
        }
        let bytes = URL_SAFE_NO_PAD
            .decode(raw)
            .map_err(|_| StoreError::InvalidCursor)?;
        serde_json::from_slice(&bytes).map_err(|_| StoreError::InvalidCursor)
    }

    /// Decodes a cursor of a table scan (no partition to check it against).
    pub fn decode_scan(raw: &str) -> StoreResult<Self> {
        let cursor = Self::parse(raw)?;
        if cursor.index.is_some() {
            return Err(StoreError::InvalidCursor);
        }
        Ok(cursor)
    }

    /// Decodes a cursor and checks it belongs to `query` (of the table, or of the index when
    /// `for_index`).
    pub fn decode_for(raw: &str, query: &Query, for_index: bool) -> StoreResult<Self> {
        let cursor = Self::parse(raw)?;
        let (pk, sk) = match (&cursor.index, for_index) {
            (Some((ipk, isk)), true) => (ipk.as_str(), isk.as_str()),
            (None, false) => (cursor.pk.as_str(), cursor.sk.as_str()),
            _ => return Err(StoreError::InvalidCursor),
        };
        if pk != query.pk || !query.sort.matches(sk) {
            return Err(StoreError::InvalidCursor);
        }
        Ok(cursor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_from_another_partition_is_refused() {
        let c = Cursor {
            pk: "USER#a".into(),
            sk: "X#1".into(),
            index: None,
        }
        .encode();
        let q = Query::partition("USER#b");
        assert!(matches!(
            Cursor::decode_for(&c, &q, false),
            Err(StoreError::InvalidCursor)
        ));
        assert!(Cursor::decode_for(&c, &Query::partition("USER#a"), false).is_ok());
        assert!(Cursor::decode_for(&c, &Query::partition("USER#a").prefix("Y#"), false).is_err());
        assert!(Cursor::decode_for("not base64!", &q, false).is_err());
    }
}
