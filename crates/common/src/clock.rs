//! Time: the one clock every timestamp comes from ([`now`]) and the one form every timestamp is
//! stored and shown in ([`Timestamp`]: RFC 3339, UTC, microseconds, fixed width, so stored
//! strings sort by time).
//!
//! Items written before this form was settled carry other RFC 3339 forms (whole seconds, or
//! nanoseconds); [`Timestamp::parse`] reads every RFC 3339 form, so they still load.
//!
//! Tests set the time with [`testing::freeze`]: it holds for the current thread, which is where a
//! `#[tokio::test]` (current-thread runtime) runs every task it spawns.

use std::borrow::Cow;
use std::cell::Cell;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, Schema, SchemaFormat, Type};

/// A moment in UTC, to the microsecond.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Timestamp(OffsetDateTime);

#[derive(Debug, thiserror::Error)]
#[error("`{0}` is not an RFC 3339 timestamp")]
pub struct TimestampError(String);

impl Timestamp {
    /// Normalises to UTC and drops what is finer than a microsecond (the stored precision), so
    /// a timestamp equals itself after a round trip through its string.
    pub fn from_datetime(moment: OffsetDateTime) -> Self {
        let utc = moment.to_offset(time::UtcOffset::UTC);
        let micros = utc.nanosecond() / 1_000 * 1_000;
        Self(utc.replace_nanosecond(micros).unwrap_or(utc))
    }

    /// The moment `seconds` after the Unix epoch; `None` outside the representable years.
    pub fn from_unix_seconds(seconds: i64) -> Option<Self> {
        OffsetDateTime::from_unix_timestamp(seconds)
            .ok()
            .map(Self::from_datetime)
    }

    /// Reads any RFC 3339 timestamp (any offset, any fraction of a second, or none): the
    /// current form and every form older items were written in.
    pub fn parse(raw: &str) -> Result<Self, TimestampError> {
        OffsetDateTime::parse(raw.trim(), &Rfc3339)
            .map(Self::from_datetime)
            .map_err(|_| TimestampError(raw.to_owned()))
    }

    pub fn unix_seconds(self) -> i64 {
        self.0.unix_timestamp()
    }

    pub fn datetime(self) -> OffsetDateTime {
        self.0
    }

    pub fn date(self) -> time::Date {
        self.0.date()
    }

    /// `self + duration`, saturating at the largest representable moment.
    pub fn plus(self, duration: Duration) -> Self {
        Self(
            self.0
                .saturating_add(duration.try_into().unwrap_or(time::Duration::MAX)),
        )
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = self.0;
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second(),
            t.microsecond()
        )
    }
}

impl FromStr for Timestamp {
    type Err = TimestampError;
    fn from_str(raw: &str) -> Result<Self, TimestampError> {
        Self::parse(raw)
    }
}

impl From<OffsetDateTime> for Timestamp {
    fn from(moment: OffsetDateTime) -> Self {
        Self::from_datetime(moment)
    }
}

impl From<Timestamp> for serde_json::Value {
    fn from(t: Timestamp) -> Self {
        serde_json::Value::String(t.to_string())
    }
}

impl Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = Cow::<str>::deserialize(deserializer)?;
        Self::parse(&raw).map_err(serde::de::Error::custom)
    }
}

impl utoipa::PartialSchema for Timestamp {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
            .description(Some("RFC 3339, UTC"))
            .examples(["2026-12-03T09:30:00.000000Z"])
            .into()
    }
}

impl utoipa::ToSchema for Timestamp {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Timestamp")
    }
}

/// Readers for fields older items stored in another form.
pub mod legacy {
    use super::Timestamp;
    use serde::{Deserialize, Deserializer};

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum EpochOrTimestamp {
        Epoch(i64),
        Timestamp(Timestamp),
    }

    /// An optional timestamp stored as epoch seconds (older items) or in the current form.
    pub fn option_epoch_or_timestamp<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Timestamp>, D::Error> {
        match Option::<EpochOrTimestamp>::deserialize(deserializer)? {
            None => Ok(None),
            Some(EpochOrTimestamp::Timestamp(t)) => Ok(Some(t)),
            Some(EpochOrTimestamp::Epoch(secs)) => Timestamp::from_unix_seconds(secs)
                .map(Some)
                .ok_or_else(|| serde::de::Error::custom(format!("epoch {secs} out of range"))),
        }
    }
}

thread_local! {
    /// A test's frozen time for this thread (see [`testing::freeze`]).
    static FROZEN: Cell<Option<Timestamp>> = const { Cell::new(None) };
}

/// The current time: every timestamp RaGenie stores, every expiry it checks, comes from here.
pub fn now() -> Timestamp {
    FROZEN
        .with(Cell::get)
        .unwrap_or_else(|| Timestamp::from_datetime(OffsetDateTime::now_utc()))
}

/// [`now`] as seconds since the Unix epoch (token expiry, item TTLs, throttle windows).
pub fn unix_now() -> i64 {
    now().unix_seconds()
}

/// Setting the time in tests.
#[cfg(any(test, feature = "test-support"))]
pub mod testing {
    use super::{FROZEN, Timestamp};
    use std::time::Duration;

    /// Stops [`super::now`] at `at` on this thread until the guard drops.
    #[must_use = "the time is frozen only while the guard lives"]
    pub fn freeze(at: Timestamp) -> Frozen {
        let previous = FROZEN.with(|f| f.replace(Some(at)));
        Frozen { previous }
    }

    pub struct Frozen {
        previous: Option<Timestamp>,
    }

    impl Frozen {
        /// Moves the frozen time forward.
        pub fn advance(&self, by: Duration) {
            FROZEN.with(|f| f.set(f.get().map(|t| t.plus(by))));
        }
    }

    impl Drop for Frozen {
        fn drop(&mut self) {
            FROZEN.with(|f| f.set(self.previous));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stored_form_is_utc_with_microseconds_and_round_trips() {
        let t = Timestamp::parse("2026-12-03T10:15:30.123456789+02:00").unwrap();
        assert_eq!(t.to_string(), "2026-12-03T08:15:30.123456Z");
        assert_eq!(Timestamp::parse(&t.to_string()).unwrap(), t);
        let json = serde_json::to_value(t).unwrap();
        assert_eq!(json, "2026-12-03T08:15:30.123456Z");
        assert_eq!(serde_json::from_value::<Timestamp>(json).unwrap(), t);
    }

    #[test]
    fn every_older_stored_form_still_reads() {
        // Accounts wrote whole seconds, documents nanoseconds, conversations microseconds.
        for (old, want) in [
            ("2026-01-02T03:04:05Z", "2026-01-02T03:04:05.000000Z"),
            (
                "2026-01-02T03:04:05.123456789Z",
                "2026-01-02T03:04:05.123456Z",
            ),
            ("2026-01-02T03:04:05.5Z", "2026-01-02T03:04:05.500000Z"),
            ("2026-01-02T03:04:05.000042Z", "2026-01-02T03:04:05.000042Z"),
        ] {
            let t: Timestamp = serde_json::from_value(serde_json::json!(old)).unwrap();
            assert_eq!(t.to_string(), want, "{old}");
        }
    }

    #[test]
    fn a_legacy_field_reads_epoch_seconds_and_the_current_form() {
        #[derive(serde::Deserialize)]
        struct Record {
            #[serde(default, deserialize_with = "legacy::option_epoch_or_timestamp")]
            at: Option<Timestamp>,
        }
        let read = |v: serde_json::Value| serde_json::from_value::<Record>(v).map(|r| r.at);
        let want = Timestamp::parse("2024-12-03T10:00:00Z").unwrap();
        assert_eq!(
            read(serde_json::json!({"at": 1_733_220_000})).unwrap(),
            Some(want)
        );
        assert_eq!(
            read(serde_json::json!({"at": "2024-12-03T10:00:00.000000Z"})).unwrap(),
            Some(want)
        );
        assert_eq!(read(serde_json::json!({"at": null})).unwrap(), None);
        assert_eq!(read(serde_json::json!({})).unwrap(), None);
        assert!(read(serde_json::json!({"at": "soon"})).is_err());
    }

    #[test]
    fn anything_else_is_refused() {
        for bad in ["", "yesterday", "2026-13-01T00:00:00Z", "1733220000"] {
            assert!(Timestamp::parse(bad).is_err(), "{bad}");
            assert!(serde_json::from_value::<Timestamp>(serde_json::json!(bad)).is_err());
        }
    }

    #[test]
    fn stored_strings_sort_by_time() {
        let early = Timestamp::parse("2026-01-02T03:04:05.9Z").unwrap();
        let late = Timestamp::parse("2026-01-02T03:04:10Z").unwrap();
        assert!(early < late);
        assert!(early.to_string() < late.to_string());
    }

    #[test]
    fn a_frozen_clock_is_what_now_returns_until_released() {
        let at = Timestamp::from_unix_seconds(1_700_000_000).unwrap();
        {
            let frozen = testing::freeze(at);
            assert_eq!(now(), at);
            assert_eq!(unix_now(), 1_700_000_000);
            frozen.advance(Duration::from_secs(90));
            assert_eq!(unix_now(), 1_700_000_090);
        }
        assert!(unix_now() > 1_700_000_090, "the real clock is back");
    }
}
