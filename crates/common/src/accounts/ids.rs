//! Typed ids: ULID newtypes, so a profile id can never be passed where a user id is expected,
//! and sort keys built from them sort by creation time.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use ulid::Ulid;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};

/// ULIDs made within one millisecond are random among themselves; a monotonic generator keeps
/// them in creation order, so lists sorted by id are in creation order.
fn monotonic() -> Ulid {
    static GENERATOR: Mutex<ulid::Generator> = Mutex::new(ulid::Generator::new());
    let mut generator = GENERATOR.lock().unwrap_or_else(|e| e.into_inner());
    generator.generate().unwrap_or_else(|_| Ulid::new())
}

macro_rules! ulid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(Ulid);

        impl $name {
            /// A new id; ids made later (in this process) sort after earlier ones.
            #[allow(clippy::new_without_default)]
            pub fn new() -> Self {
                Self(monotonic())
            }

            /// Parses the canonical (26 character) form; `None` for anything else.
            pub fn parse(raw: &str) -> Option<Self> {
                if raw.len() != 26 {
                    return None;
                }
                Ulid::from_string(raw).ok().map(Self)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = String;
            fn from_str(raw: &str) -> Result<Self, String> {
                Self::parse(raw).ok_or_else(|| format!("`{raw}` is not a valid id"))
            }
        }

        impl TryFrom<String> for $name {
            type Error = String;
            fn try_from(raw: String) -> Result<Self, String> {
                raw.parse()
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.to_string()
            }
        }

        impl utoipa::PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .description(Some("A ULID (26 characters)"))
                    .min_length(Some(26))
                    .max_length(Some(26))
                    .examples(["01JDQ5Y8ZKXG2M4N6P8R0T2V4W"])
                    .into()
            }
        }

        impl utoipa::ToSchema for $name {
            fn name() -> Cow<'static, str> {
                Cow::Borrowed(stringify!($name))
            }
        }
    };
}

ulid_id!(
    /// A user account.
    UserId
);
impl UserId {
    /// Where every user's objects live in the blob store (the integrity check lists it).
    pub const BLOB_ROOT: &'static str = "users/";

    /// The table partition holding everything the user owns: `USER#<id>`. Every key builder
    /// of a user's items starts here, so nothing is reachable without the user's id.
    pub fn partition(&self) -> String {
        format!("USER#{self}")
    }

    /// The blob-store prefix under which the user's objects live: `users/<id>/`.
    pub fn blob_prefix(&self) -> String {
        format!("{}{self}/", Self::BLOB_ROOT)
    }

    /// Where the user's presigned uploads wait for their commit: `uploads/users/<id>/`. Under
    /// one bucket-wide prefix ([`UPLOADS_PREFIX`]), so a lifecycle rule removes the ones never
    /// committed (S3 lifecycle filters take a literal prefix, not a pattern).
    pub fn upload_prefix(&self) -> String {
        format!("{UPLOADS_PREFIX}{}", self.blob_prefix())
    }
}

/// The blob-store prefix of every uncommitted upload; the bucket's lifecycle rule
/// (`infra/cdk`, `template.yaml`) expires objects under it after a day.
pub const UPLOADS_PREFIX: &str = "uploads/";

ulid_id!(
    /// One of a user's profiles.
    ProfileId
);
ulid_id!(
    /// A personal API key (its public id, not its secret value).
    ApiKeyId
);
ulid_id!(
    /// A chain of refresh tokens descending from one login.
    RefreshFamilyId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_refuse_anything_else() {
        let id = UserId::new();
        assert_eq!(UserId::parse(&id.to_string()), Some(id));
        assert_eq!(serde_json::to_value(id).unwrap(), id.to_string());
        assert_eq!(UserId::parse("nope"), None);
        assert_eq!(UserId::parse(""), None);
        assert_eq!(UserId::parse("USER#01JDQ5Y8ZKXG2M4N6P8R0T2V4W"), None);
        assert!(serde_json::from_str::<ProfileId>("\"x\"").is_err());
    }

    #[test]
    fn a_user_partition_and_blob_prefix_start_from_the_id() {
        let id = UserId::parse("01JDQ5Y8ZKXG2M4N6P8R0T2V4W").unwrap();
        assert_eq!(id.partition(), "USER#01JDQ5Y8ZKXG2M4N6P8R0T2V4W");
        assert_eq!(id.blob_prefix(), "users/01JDQ5Y8ZKXG2M4N6P8R0T2V4W/");
        assert_eq!(
            id.upload_prefix(),
            "uploads/users/01JDQ5Y8ZKXG2M4N6P8R0T2V4W/"
        );
    }

    #[test]
    fn later_ids_sort_after_earlier_ones() {
        let ids: Vec<String> = (0..1000).map(|_| ProfileId::new().to_string()).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
    }
}
