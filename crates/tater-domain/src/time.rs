//! Time as a value. The domain never reads the clock; callers pass `now` in.

use std::fmt;

use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Date, OffsetDateTime, UtcOffset};

/// A UTC instant with millisecond resolution, stored as milliseconds since the Unix epoch and
/// written as ISO 8601 with exactly three fractional digits and `Z`, e.g.
/// `2026-11-29T21:44:13.123Z`. That written form is what audit signatures cover (SPEC L2), so it
/// must never vary.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a valid timestamp (expected RFC 3339, e.g. 2026-11-29T21:44:13.123Z, or a date)")]
pub struct InvalidTimestamp;

impl Timestamp {
    pub fn from_millis(ms: i64) -> Self {
        Self(ms)
    }

    pub fn millis(self) -> i64 {
        self.0
    }

    pub fn from_datetime(dt: OffsetDateTime) -> Self {
        Self((dt.unix_timestamp_nanos() / 1_000_000) as i64)
    }

    pub fn to_datetime(self) -> OffsetDateTime {
        let nanos = i128::from(self.0) * 1_000_000;
        OffsetDateTime::from_unix_timestamp_nanos(nanos).unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }

    /// The UTC calendar date of this instant.
    pub fn date(self) -> Date {
        self.to_datetime().to_offset(UtcOffset::UTC).date()
    }

    /// The start (00:00:00.000 UTC) of a calendar date.
    pub fn start_of(date: Date) -> Self {
        Self::from_datetime(date.midnight().assume_utc())
    }

    pub fn plus_millis(self, ms: i64) -> Self {
        Self(self.0.saturating_add(ms))
    }

    pub fn plus_seconds(self, secs: i64) -> Self {
        Self(self.0.saturating_add(secs.saturating_mul(1000)))
    }

    /// Parses RFC 3339 with any offset (normalised to UTC) or a bare `YYYY-MM-DD` date (its
    /// start in UTC), as users type them into filters.
    pub fn parse(s: &str) -> Result<Self, InvalidTimestamp> {
        if let Ok(dt) = OffsetDateTime::parse(s, &Rfc3339) {
            return Ok(Self::from_datetime(dt));
        }
        parse_date(s)
            .map(Self::start_of)
            .map_err(|_| InvalidTimestamp)
    }
}

/// Parses a strict `YYYY-MM-DD` calendar date.
pub fn parse_date(s: &str) -> Result<Date, InvalidTimestamp> {
    let format = format_description!("[year]-[month]-[day]");
    if s.len() != 10 {
        return Err(InvalidTimestamp);
    }
    Date::parse(s, &format).map_err(|_| InvalidTimestamp)
}

/// Writes a date as `YYYY-MM-DD`.
pub fn format_date(d: Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

impl fmt::Display for Timestamp {
    /// Digits written straight into a fixed buffer: every record view carries two timestamps,
    /// and the formatting machinery's padded integers were a fifth of a list's view (issue 20).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let dt = self.to_datetime().to_offset(UtcOffset::UTC);
        let year = dt.year();
        let Ok(year) = u32::try_from(year) else {
            return write_padded(f, dt);
        };
        if year > 9999 {
            return write_padded(f, dt);
        }
        let mut out = *b"0000-00-00T00:00:00.000Z";
        let fields = [
            (0, 4, year),
            (5, 2, u32::from(u8::from(dt.month()))),
            (8, 2, u32::from(dt.day())),
            (11, 2, u32::from(dt.hour())),
            (14, 2, u32::from(dt.minute())),
            (17, 2, u32::from(dt.second())),
            (20, 3, u32::from(dt.millisecond())),
        ];
        for (at, width, mut value) in fields {
            for digit in out[at..at + width].iter_mut().rev() {
                *digit = b'0' + (value % 10) as u8;
                value /= 10;
            }
        }
        f.write_str(std::str::from_utf8(&out).map_err(|_| fmt::Error)?)
    }
}

/// The general form, for years outside 0000–9999 (which `time` can hold but no record does).
fn write_padded(f: &mut fmt::Formatter<'_>, dt: OffsetDateTime) -> fmt::Result {
    write!(
        f,
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        dt.year(),
        u8::from(dt.month()),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second(),
        dt.millisecond()
    )
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Timestamp({self})")
    }
}

impl Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Timestamp::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl schemars::JsonSchema for Timestamp {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Timestamp".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "format": "date-time",
            "description": "UTC, milliseconds: 2026-11-29T21:44:13.123Z",
        })
    }
}

/// The one source of the current time for the server: services, the SIEM worker, the rate
/// limiter and the Entra ID key cache all read it, so tests move time by moving one clock.
/// The implementations (the wall clock, a clock tests set) live in the service crate; the
/// domain only names the trait.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> Timestamp;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The written form is what audit signatures cover: the digit writer must give exactly what
    /// the padded `write!` gives, for any instant the type can hold.
    #[test]
    fn the_digit_writer_writes_what_the_padded_form_writes() {
        struct Padded(Timestamp);
        impl fmt::Display for Padded {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write_padded(f, self.0.to_datetime().to_offset(UtcOffset::UTC))
            }
        }
        let year_9999_end = 253_402_300_799_999_i64;
        let year_0_start = -62_167_219_200_000_i64;
        let mut edges = vec![
            0,
            -1,
            1,
            999,
            1000,
            -1000,
            year_9999_end,
            year_9999_end + 1,
            year_0_start,
            year_0_start - 1,
            -62_135_596_800_000,
            i64::MIN,
            i64::MAX,
        ];
        // A fixed pseudo-random walk over about years -6000 to 9999 (negative years take the
        // padded form too; instants `time` cannot hold become the epoch in both).
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            edges.push((x % (2 * year_9999_end as u64)) as i64 - year_9999_end);
        }
        for ms in edges {
            let t = Timestamp::from_millis(ms);
            assert_eq!(t.to_string(), Padded(t).to_string(), "{ms}");
        }
        assert_eq!(
            Timestamp::from_millis(0).to_string(),
            "1970-01-01T00:00:00.000Z"
        );
        assert_eq!(
            Timestamp::from_millis(year_9999_end).to_string(),
            "9999-12-31T23:59:59.999Z"
        );
    }

    #[test]
    fn formats_with_exactly_three_fraction_digits() {
        let t = Timestamp::parse("2026-11-29T21:44:13.123Z").unwrap();
        assert_eq!(t.to_string(), "2026-11-29T21:44:13.123Z");
        let whole = Timestamp::parse("2026-11-29T21:44:13Z").unwrap();
        assert_eq!(whole.to_string(), "2026-11-29T21:44:13.000Z");
        let offset = Timestamp::parse("2026-11-29T23:44:13.5+02:00").unwrap();
        assert_eq!(offset.to_string(), "2026-11-29T21:44:13.500Z");
        let date = Timestamp::parse("2026-11-29").unwrap();
        assert_eq!(date.to_string(), "2026-11-29T00:00:00.000Z");
        assert!(Timestamp::parse("29/11/2026").is_err());
        assert!(parse_date("2026-2-1").is_err());
        assert_eq!(format_date(parse_date("2026-02-01").unwrap()), "2026-02-01");
    }
}
