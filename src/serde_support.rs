//! Reading options from configuration files (feature `serde`): the duration format every options
//! type uses, the serde form of [`PartitionedRateLimiterOptions`], and small shared helpers.
//!
//! # How the options types are (de)serialized
//!
//! Each options type derives `Deserialize` with `#[serde(try_from = "RawOptions")]`: serde reads a
//! private mirror struct (same snake_case field names, `deny_unknown_fields`, defaults only for the
//! fields that have a meaningful one, durations through [`duration`]), and `TryFrom` turns it into
//! the public type and runs the same `validate()` the constructors run. So a config file can never
//! produce options a constructor would refuse, and the error is the [`OptionsError`]'s message,
//! which names the field (`token_limit must be greater than 0`). `Serialize` goes back through the
//! same mirror (`into = "RawOptions"`), so what is written is what is read. The conversions
//! destructure exhaustively: adding a field to an options type without adding it to its mirror
//! does not compile.
//!
//! # The duration format
//!
//! ```text
//! duration  = component { component }      e.g. "250ms", "1m30s", "1.5s", "2h 15m"
//! component = number unit
//! number    = digit { digit } [ "." digit { digit } ]
//! unit      = "d" | "h" | "m" | "s" | "ms" | "us" | "µs" | "μs" | "ns"
//! ```
//!
//! - Whitespace between tokens is ignored (`"10 s"`, `"1m 30s"`).
//! - Units are case-sensitive, come largest first and at most once each (`"30s1m"` and `"1s1s"`
//!   are rejected: they are more likely a typo than intended).
//! - Arithmetic is exact (no floating point): a fraction must come to whole nanoseconds
//!   (`"1.5us"` is 1500 ns; `"1.5ns"` is rejected).
//! - The total must fit in `u64` nanoseconds (about 584 years): every limiter keeps time in `u64`
//!   nanoseconds, and `validate()` rejects longer periods anyway.
//! - A bare number (`"10"`, or the number `10`) is rejected: seconds or milliseconds? The message
//!   suggests both spellings. So are empty strings and signs.
//!
//! Writing uses the canonical form: the nonzero components from days down to nanoseconds, no
//! spaces (`"1m30s"`, `"1s500ms"`, `"213503d23h34m33s709ms551us615ns"` for `u64::MAX` ns), and
//! `"0s"` for zero. Parsing the canonical form gives back the same `Duration`, exactly.

use std::fmt::{self, Write as _};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::{OptionsError, PartitionedRateLimiterOptions};

const NANOS_PER_SEC: u64 = 1_000_000_000;

/// The units, largest first: a component's unit must come after (be smaller than) the previous
/// component's. The canonical form writes them in this order.
const UNITS: [(&str, u64); 7] = [
    ("d", 86_400 * NANOS_PER_SEC),
    ("h", 3_600 * NANOS_PER_SEC),
    ("m", 60 * NANOS_PER_SEC),
    ("s", NANOS_PER_SEC),
    ("ms", 1_000_000),
    ("us", 1_000),
    ("ns", 1),
];

/// The index in [`UNITS`] of a unit's spelling (`µs` with the micro sign or the Greek mu, too).
fn unit_index(unit: &str) -> Option<usize> {
    match unit {
        "µs" | "μs" => Some(5),
        _ => UNITS.iter().position(|&(name, _)| name == unit),
    }
}

/// What is wrong with a duration string; shown after `invalid duration "<text>": `.
#[derive(Debug)]
enum Problem<'a> {
    Empty,
    Negative,
    ExpectedNumber(&'a str),
    MalformedNumber(&'a str),
    MissingUnit(&'a str),
    Unexpected(char, &'a str),
    UnknownUnit(&'a str),
    OutOfOrder { unit: &'a str, previous: &'a str },
    NotWholeNanos(&'a str),
    TooLong,
}

impl fmt::Display for Problem<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("empty; write e.g. \"10s\" or \"250ms\""),
            Self::Negative => f.write_str("durations cannot be negative"),
            Self::ExpectedNumber(found) => write!(f, "expected a number, found `{found}`"),
            Self::MalformedNumber(number) => {
                write!(f, "`{number}` is not a number (write digits on both sides of the point, e.g. `0.5`)")
            }
            Self::MissingUnit(number) => write!(
                f,
                "`{number}` has no unit, and a bare number is ambiguous; write e.g. \"{number}s\" or \"{number}ms\""
            ),
            Self::Unexpected(found, after) => write!(f, "unexpected `{found}` after `{after}`"),
            Self::UnknownUnit(unit) => write!(f, "unknown unit `{unit}`; expected ns, us, ms, s, m, h or d"),
            Self::OutOfOrder { unit, previous } => write!(
                f,
                "unit `{unit}` after `{previous}`; write each unit at most once, largest first (e.g. \"1m30s\")"
            ),
            Self::NotWholeNanos(component) => write!(f, "`{component}` is not a whole number of nanoseconds"),
            Self::TooLong => f.write_str("longer than u64::MAX nanoseconds (about 584 years)"),
        }
    }
}

/// Parses a duration written in the format of the [module docs](self).
///
/// # Errors
///
/// A message of the form `invalid duration "<text>": <what is wrong>`.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    parse_nanos(text).map(Duration::from_nanos).map_err(|problem| format!("invalid duration {text:?}: {problem}"))
}

fn parse_nanos(text: &str) -> Result<u64, Problem<'_>> {
    let mut rest = text.trim_start();
    if rest.is_empty() {
        return Err(Problem::Empty);
    }
    if rest.starts_with('-') {
        return Err(Problem::Negative);
    }
    let mut total: u64 = 0;
    let mut previous: Option<usize> = None;
    while !rest.is_empty() {
        let start = rest;
        let int_len = rest.bytes().take_while(u8::is_ascii_digit).count();
        if int_len == 0 {
            let found = rest.split_whitespace().next().unwrap_or(rest);
            return Err(Problem::ExpectedNumber(found));
        }
        let (int_digits, after) = rest.split_at(int_len);
        let (frac_digits, after) = match after.strip_prefix('.') {
            Some(after_point) => {
                let frac_len = after_point.bytes().take_while(u8::is_ascii_digit).count();
                if frac_len == 0 {
                    return Err(Problem::MalformedNumber(&start[..=int_len]));
                }
                after_point.split_at(frac_len)
            }
            None => ("", after),
        };
        let number = &start[..start.len() - after.len()];

        let after = after.trim_start();
        let unit_len: usize = after.chars().take_while(|c| c.is_alphabetic()).map(char::len_utf8).sum();
        if unit_len == 0 {
            return Err(match after.chars().next() {
                None => Problem::MissingUnit(number),
                Some(found) => Problem::Unexpected(found, number),
            });
        }
        let (unit_text, after) = after.split_at(unit_len);
        let unit = unit_index(unit_text).ok_or(Problem::UnknownUnit(unit_text))?;
        if let Some(previous) = previous
            && unit <= previous
        {
            return Err(Problem::OutOfOrder { unit: unit_text, previous: UNITS[previous].0 });
        }
        previous = Some(unit);

        let component = &start[..start.len() - after.len()];
        let nanos = component_nanos(int_digits, frac_digits, UNITS[unit].1, component)?;
        total = total.checked_add(nanos).ok_or(Problem::TooLong)?;
        rest = after.trim_start();
    }
    Ok(total)
}

/// `int_digits.frac_digits` units in nanoseconds, exactly.
fn component_nanos<'a>(int_digits: &str, frac_digits: &str, unit: u64, component: &'a str) -> Result<u64, Problem<'a>> {
    let too_long = || Problem::TooLong;
    // Capped at u64::MAX as it grows, so `whole` below cannot overflow u128.
    let mut int: u128 = 0;
    for digit in int_digits.bytes() {
        int = int * 10 + u128::from(digit - b'0');
        if int > u128::from(u64::MAX) {
            return Err(too_long());
        }
    }
    let whole = int * u128::from(unit);
    // The fraction f (its last digit nonzero, so 10 does not divide it) is whole nanoseconds iff
    // 10^len divides f·unit. Then 2^len or 5^len divides the unit, at most 8.64e13 = 2^16·3^3·5^11
    // (a day): so len ≤ 16, and f·unit < 10^16·8.64e13 fits in u128.
    let frac = frac_digits.trim_end_matches('0');
    let fraction = if frac.is_empty() {
        0
    } else {
        let not_whole = || Problem::NotWholeNanos(component);
        if frac.len() > 16 {
            return Err(not_whole());
        }
        let numerator = frac.parse::<u128>().map_err(|_| not_whole())? * u128::from(unit);
        let denominator = 10u128.pow(frac.len() as u32);
        if numerator % denominator != 0 {
            return Err(not_whole());
        }
        numerator / denominator
    };
    u64::try_from(whole + fraction).map_err(|_| too_long())
}

/// The canonical form of a duration (see the [module docs](self)), or `None` when it is longer
/// than `u64::MAX` nanoseconds and could not be read back.
pub(crate) fn format_duration(duration: Duration) -> Option<String> {
    let mut nanos = u64::try_from(duration.as_nanos()).ok()?;
    if nanos == 0 {
        return Some("0s".to_owned());
    }
    let mut text = String::new();
    for (name, unit) in UNITS {
        let count = nanos / unit;
        if count > 0 {
            write!(text, "{count}{name}").expect("writing to a String cannot fail");
            nanos %= unit;
        }
    }
    Some(text)
}

/// `#[serde(with = "crate::serde_support::duration")]` for a `Duration` field: the format of the
/// [module docs](self).
pub(crate) mod duration {
    use std::fmt;
    use std::time::Duration;

    use serde::de::{self, Deserializer, Visitor};
    use serde::ser::{self, Serializer};

    use super::{format_duration, parse_duration};

    pub(crate) fn serialize<S: Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        match format_duration(*duration) {
            Some(text) => serializer.serialize_str(&text),
            None => Err(<S::Error as ser::Error>::custom(format_args!(
                "cannot write the duration {duration:?}: longer than u64::MAX nanoseconds (about 584 years)"
            ))),
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        // `deserialize_str`, not `deserialize_any`: formats that are not self-describing work too.
        deserializer.deserialize_str(DurationVisitor)
    }

    struct DurationVisitor;

    impl DurationVisitor {
        fn bare_number<E: de::Error>(number: impl fmt::Display) -> E {
            E::custom(format_args!(
                "invalid duration {number}: a bare number is ambiguous; write it as a string with a unit, \
                 e.g. \"{number}s\" or \"{number}ms\""
            ))
        }
    }

    impl Visitor<'_> for DurationVisitor {
        type Value = Duration;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a duration string with a unit, e.g. \"10s\", \"250ms\" or \"1m30s\"")
        }

        fn visit_str<E: de::Error>(self, text: &str) -> Result<Duration, E> {
            parse_duration(text).map_err(E::custom)
        }

        // Formats that hand numbers to `deserialize_str`'s visitor anyway (TOML does) get the
        // hint instead of a bare "invalid type".
        fn visit_u64<E: de::Error>(self, number: u64) -> Result<Duration, E> {
            Err(Self::bare_number(number))
        }

        fn visit_i64<E: de::Error>(self, number: i64) -> Result<Duration, E> {
            Err(Self::bare_number(number))
        }

        fn visit_f64<E: de::Error>(self, number: f64) -> Result<Duration, E> {
            Err(Self::bare_number(number))
        }
    }
}

/// The default of every options type's `auto_replenishment` (as in their `Default` impls).
pub(crate) const fn default_auto_replenishment() -> bool {
    true
}

/// The serde form of [`PartitionedRateLimiterOptions`] (both fields optional; see the
/// [module docs](self)).
#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename = "PartitionedRateLimiterOptions")]
pub(crate) struct RawPartitionedRateLimiterOptions {
    #[serde(with = "duration", default = "default_idle_timeout")]
    idle_timeout: Duration,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    max_partitions: Option<usize>,
}

fn default_idle_timeout() -> Duration {
    PartitionedRateLimiterOptions::default().idle_timeout
}

impl TryFrom<RawPartitionedRateLimiterOptions> for PartitionedRateLimiterOptions {
    type Error = OptionsError;

    fn try_from(raw: RawPartitionedRateLimiterOptions) -> Result<Self, OptionsError> {
        let RawPartitionedRateLimiterOptions { idle_timeout, max_partitions } = raw;
        let options = Self { idle_timeout, max_partitions };
        options.validate()?;
        Ok(options)
    }
}

impl From<PartitionedRateLimiterOptions> for RawPartitionedRateLimiterOptions {
    fn from(options: PartitionedRateLimiterOptions) -> Self {
        let PartitionedRateLimiterOptions { idle_timeout, max_partitions } = options;
        Self { idle_timeout, max_partitions }
    }
}
