//! Feature `serde`: every options type reads from and writes to JSON and TOML, with human-readable
//! durations, defaults for the optional fields, unknown fields refused, and the constructors'
//! validation run as the file is read.
#![cfg(feature = "serde")]

use std::time::Duration;

use proptest::prelude::*;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tollgate::{
    ConcurrencyLimiter, ConcurrencyLimiterOptions, FixedWindowRateLimiter, FixedWindowRateLimiterOptions,
    PartitionedRateLimiter, PartitionedRateLimiterOptions, QueueProcessingOrder, RateLimitPartition, RateLimiter,
    SlidingWindowRateLimiter, SlidingWindowRateLimiterOptions, TokenBucketRateLimiter, TokenBucketRateLimiterOptions,
};

// ---------------------------------------------------------------------------------------------
// Helpers

/// Reads `T` from a JSON value; the error's message (a `Value` has no line and column).
fn from_json<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, String> {
    serde_json::from_value(value).map_err(|error| error.to_string())
}

/// Reads `T` from TOML text; the error's message without the source excerpt.
fn from_toml<T: DeserializeOwned>(text: &str) -> Result<T, String> {
    toml::from_str(text).map_err(|error| error.message().to_owned())
}

/// Parses a duration string (through `idle_timeout`, the one duration without other rules).
fn parse(text: &str) -> Result<Duration, String> {
    from_json::<PartitionedRateLimiterOptions>(json!({ "idle_timeout": text })).map(|options| options.idle_timeout)
}

/// The canonical string a duration is written as.
fn write(duration: Duration) -> String {
    let options = PartitionedRateLimiterOptions { idle_timeout: duration, max_partitions: None };
    let value = serde_json::to_value(options).expect("durations up to u64::MAX ns are written");
    value["idle_timeout"].as_str().expect("a string").to_owned()
}

/// JSON and TOML round trips, both through text.
fn assert_round_trips<T>(options: &T)
where
    T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let json = serde_json::to_string(options).unwrap();
    assert_eq!(&serde_json::from_str::<T>(&json).unwrap(), options, "JSON {json}");
    let toml = toml::to_string(options).unwrap();
    assert_eq!(&toml::from_str::<T>(&toml).unwrap(), options, "TOML {toml}");
}

fn token_bucket() -> TokenBucketRateLimiterOptions {
    TokenBucketRateLimiterOptions {
        token_limit: 100,
        tokens_per_period: 10,
        replenishment_period: Duration::from_millis(1500),
        auto_replenishment: false,
        queue_processing_order: QueueProcessingOrder::NewestFirst,
        queue_limit: 50,
    }
}

fn fixed_window() -> FixedWindowRateLimiterOptions {
    FixedWindowRateLimiterOptions {
        permit_limit: 5,
        window: Duration::from_secs(90),
        auto_replenishment: false,
        queue_processing_order: QueueProcessingOrder::NewestFirst,
        queue_limit: 3,
    }
}

fn sliding_window() -> SlidingWindowRateLimiterOptions {
    SlidingWindowRateLimiterOptions {
        permit_limit: 600,
        window: Duration::from_secs(60),
        segments_per_window: 6,
        auto_replenishment: false,
        queue_processing_order: QueueProcessingOrder::NewestFirst,
        queue_limit: 7,
    }
}

fn concurrency() -> ConcurrencyLimiterOptions {
    ConcurrencyLimiterOptions {
        permit_limit: 4,
        queue_processing_order: QueueProcessingOrder::NewestFirst,
        queue_limit: 8,
    }
}

// ---------------------------------------------------------------------------------------------
// Round trips and the written form

#[test]
fn every_options_type_round_trips_through_json_and_toml() {
    assert_round_trips(&concurrency());
    assert_round_trips(&ConcurrencyLimiterOptions { permit_limit: 1, ..Default::default() });
    assert_round_trips(&token_bucket());
    assert_round_trips(&TokenBucketRateLimiterOptions {
        replenishment_period: Duration::from_nanos(u64::MAX),
        ..token_bucket()
    });
    assert_round_trips(&fixed_window());
    assert_round_trips(&FixedWindowRateLimiterOptions { window: Duration::from_nanos(1), ..fixed_window() });
    assert_round_trips(&sliding_window());
    assert_round_trips(&PartitionedRateLimiterOptions::default());
    assert_round_trips(&PartitionedRateLimiterOptions {
        idle_timeout: Duration::new(3723, 4_005_006),
        max_partitions: Some(10_000),
    });
    // A bare enum is not a TOML document: JSON here, TOML inside the options above.
    for order in [QueueProcessingOrder::OldestFirst, QueueProcessingOrder::NewestFirst] {
        assert_eq!(
            serde_json::from_str::<QueueProcessingOrder>(&serde_json::to_string(&order).unwrap()).unwrap(),
            order
        );
    }
}

#[test]
fn written_form_uses_snake_case_names_and_canonical_durations() {
    assert_eq!(
        serde_json::to_value(token_bucket()).unwrap(),
        json!({
            "token_limit": 100,
            "tokens_per_period": 10,
            "replenishment_period": "1s500ms",
            "auto_replenishment": false,
            "queue_processing_order": "newest_first",
            "queue_limit": 50,
        })
    );
    assert_eq!(
        serde_json::to_value(concurrency()).unwrap(),
        json!({ "permit_limit": 4, "queue_processing_order": "newest_first", "queue_limit": 8 })
    );
    assert_eq!(
        serde_json::to_value(fixed_window()).unwrap(),
        json!({
            "permit_limit": 5,
            "window": "1m30s",
            "auto_replenishment": false,
            "queue_processing_order": "newest_first",
            "queue_limit": 3,
        })
    );
    assert_eq!(
        serde_json::to_value(sliding_window()).unwrap(),
        json!({
            "permit_limit": 600,
            "window": "1m",
            "segments_per_window": 6,
            "auto_replenishment": false,
            "queue_processing_order": "newest_first",
            "queue_limit": 7,
        })
    );
    // `max_partitions: None` is left out (TOML has no null); reading it back gives `None` again.
    assert_eq!(
        serde_json::to_value(PartitionedRateLimiterOptions::default()).unwrap(),
        json!({ "idle_timeout": "10s" })
    );
    assert_eq!(
        toml::to_string(&PartitionedRateLimiterOptions { max_partitions: Some(5), ..Default::default() }).unwrap(),
        "idle_timeout = \"10s\"\nmax_partitions = 5\n"
    );
    assert_eq!(serde_json::to_value(QueueProcessingOrder::OldestFirst).unwrap(), json!("oldest_first"));
    assert_eq!(serde_json::to_value(QueueProcessingOrder::NewestFirst).unwrap(), json!("newest_first"));
}

#[test]
fn optional_fields_take_the_default_values() {
    assert_eq!(
        from_json::<ConcurrencyLimiterOptions>(json!({ "permit_limit": 3 })),
        Ok(ConcurrencyLimiterOptions { permit_limit: 3, ..Default::default() })
    );
    assert_eq!(
        from_toml::<TokenBucketRateLimiterOptions>(
            "token_limit = 10\ntokens_per_period = 2\nreplenishment_period = \"1s\""
        ),
        Ok(TokenBucketRateLimiterOptions {
            token_limit: 10,
            tokens_per_period: 2,
            replenishment_period: Duration::from_secs(1),
            ..Default::default()
        })
    );
    let fixed = from_toml::<FixedWindowRateLimiterOptions>("permit_limit = 10\nwindow = \"1s\"").unwrap();
    assert_eq!(
        fixed,
        FixedWindowRateLimiterOptions { permit_limit: 10, window: Duration::from_secs(1), ..Default::default() }
    );
    assert!(fixed.auto_replenishment, "auto_replenishment defaults to true, as in Default");
    assert_eq!(
        from_json::<SlidingWindowRateLimiterOptions>(
            json!({ "permit_limit": 10, "window": "1s", "segments_per_window": 4 })
        ),
        Ok(SlidingWindowRateLimiterOptions {
            permit_limit: 10,
            window: Duration::from_secs(1),
            segments_per_window: 4,
            ..Default::default()
        })
    );
    assert_eq!(from_toml::<PartitionedRateLimiterOptions>(""), Ok(PartitionedRateLimiterOptions::default()));
    assert_eq!(from_json::<PartitionedRateLimiterOptions>(json!({})), Ok(PartitionedRateLimiterOptions::default()));
    assert_eq!(
        from_json::<PartitionedRateLimiterOptions>(json!({ "max_partitions": null })),
        Ok(PartitionedRateLimiterOptions::default())
    );
}

#[test]
fn queue_processing_order_reads_snake_case_and_dotnet_spellings() {
    for (text, order) in [
        ("oldest_first", QueueProcessingOrder::OldestFirst),
        ("OldestFirst", QueueProcessingOrder::OldestFirst),
        ("newest_first", QueueProcessingOrder::NewestFirst),
        ("NewestFirst", QueueProcessingOrder::NewestFirst),
    ] {
        assert_eq!(from_json::<QueueProcessingOrder>(json!(text)), Ok(order), "{text}");
        let options =
            from_toml::<ConcurrencyLimiterOptions>(&format!("permit_limit = 1\nqueue_processing_order = \"{text}\""))
                .unwrap();
        assert_eq!(options.queue_processing_order, order, "{text}");
    }
}

// ---------------------------------------------------------------------------------------------
// A configuration file

/// An application's limits, as a service would declare them.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Limits {
    api: TokenBucketRateLimiterOptions,
    uploads: ConcurrencyLimiterOptions,
    login: FixedWindowRateLimiterOptions,
    search: SlidingWindowRateLimiterOptions,
    per_client: TokenBucketRateLimiterOptions,
    per_client_partitions: PartitionedRateLimiterOptions,
}

const LIMITS_TOML: &str = r#"
# The public API: bursts of 100, 50 requests a second sustained.
[api]
token_limit = 100
tokens_per_period = 5
replenishment_period = "100ms"
queue_limit = 20
queue_processing_order = "oldest_first"

# At most 4 uploads at once, 8 more may wait.
[uploads]
permit_limit = 4
queue_limit = 8

# 5 login attempts a minute.
[login]
permit_limit = 5
window = "1m"

# 600 searches in any minute, sliding every 10 s.
[search]
permit_limit = 600
window = "1m"
segments_per_window = 6
queue_processing_order = "NewestFirst"

# And 10 requests per client, one more a second.
[per_client]
token_limit = 10
tokens_per_period = 1
replenishment_period = "1s"

[per_client_partitions]
idle_timeout = "5m"
max_partitions = 10000
"#;

#[test]
fn a_configuration_file_builds_working_limiters() {
    let limits: Limits = toml::from_str(LIMITS_TOML).unwrap();
    assert_eq!(limits.api.replenishment_period, Duration::from_millis(100));
    assert!(limits.api.auto_replenishment);
    assert_eq!(limits.uploads.queue_processing_order, QueueProcessingOrder::OldestFirst);
    assert_eq!(limits.login.window, Duration::from_secs(60));
    assert_eq!(limits.search.queue_processing_order, QueueProcessingOrder::NewestFirst);
    assert_eq!(
        limits.per_client_partitions,
        PartitionedRateLimiterOptions { idle_timeout: Duration::from_secs(300), max_partitions: Some(10_000) }
    );

    // The whole file round-trips too.
    assert_eq!(toml::from_str::<Limits>(&toml::to_string(&limits).unwrap()).unwrap(), limits);

    let api = TokenBucketRateLimiter::new(limits.api).unwrap();
    assert!(api.attempt_acquire(100).unwrap().is_acquired());
    assert!(!api.attempt_acquire(1).unwrap().is_acquired());

    let uploads = ConcurrencyLimiter::new(limits.uploads).unwrap();
    let held = uploads.attempt_acquire(4).unwrap();
    assert!(held.is_acquired());
    assert!(!uploads.attempt_acquire(1).unwrap().is_acquired());
    drop(held);
    assert!(uploads.attempt_acquire(1).unwrap().is_acquired());

    let login = FixedWindowRateLimiter::new(limits.login).unwrap();
    assert!(login.attempt_acquire(5).unwrap().is_acquired());
    assert!(!login.attempt_acquire(1).unwrap().is_acquired());

    let search = SlidingWindowRateLimiter::new(limits.search).unwrap();
    assert!(search.attempt_acquire(600).unwrap().is_acquired());
    assert!(!search.attempt_acquire(1).unwrap().is_acquired());

    let per_client_options = limits.per_client;
    let per_client = PartitionedRateLimiter::with_options(
        move |client: &str| {
            let options = per_client_options.clone();
            RateLimitPartition::get_token_bucket_limiter(client.to_owned(), move |_| options.clone())
        },
        limits.per_client_partitions,
    )
    .unwrap();
    assert!(per_client.attempt_acquire("10.0.0.1", 10).unwrap().is_acquired());
    assert!(!per_client.attempt_acquire("10.0.0.1", 1).unwrap().is_acquired());
    assert!(per_client.attempt_acquire("10.0.0.2", 1).unwrap().is_acquired());
}

// ---------------------------------------------------------------------------------------------
// Errors

#[test]
fn missing_required_fields_are_named() {
    let period = "replenishment_period = \"1s\"";
    for (toml, field) in [
        (format!("tokens_per_period = 1\n{period}"), "token_limit"),
        (format!("token_limit = 1\n{period}"), "tokens_per_period"),
        ("token_limit = 1\ntokens_per_period = 1".to_owned(), "replenishment_period"),
    ] {
        assert_eq!(from_toml::<TokenBucketRateLimiterOptions>(&toml), Err(format!("missing field `{field}`")));
    }
    assert_eq!(
        from_json::<ConcurrencyLimiterOptions>(json!({ "queue_limit": 1 })),
        Err("missing field `permit_limit`".to_owned())
    );
    assert_eq!(
        from_json::<FixedWindowRateLimiterOptions>(json!({ "window": "1s" })),
        Err("missing field `permit_limit`".to_owned())
    );
    assert_eq!(
        from_json::<FixedWindowRateLimiterOptions>(json!({ "permit_limit": 1 })),
        Err("missing field `window`".to_owned())
    );
    assert_eq!(
        from_json::<SlidingWindowRateLimiterOptions>(json!({ "permit_limit": 1, "window": "1s" })),
        Err("missing field `segments_per_window`".to_owned())
    );
    assert_eq!(
        from_json::<SlidingWindowRateLimiterOptions>(json!({ "permit_limit": 1, "segments_per_window": 2 })),
        Err("missing field `window`".to_owned())
    );
}

#[test]
fn unknown_fields_are_refused_with_the_expected_names() {
    let error = from_toml::<TokenBucketRateLimiterOptions>(
        "token_limit = 1\ntokens_per_period = 1\nreplenishment_period = \"1s\"\nqueue_limt = 5",
    )
    .unwrap_err();
    assert_eq!(
        error,
        "unknown field `queue_limt`, expected one of `token_limit`, `tokens_per_period`, `replenishment_period`, \
         `auto_replenishment`, `queue_processing_order`, `queue_limit`"
    );
    let error = from_json::<ConcurrencyLimiterOptions>(json!({ "permit_limit": 1, "permits": 2 })).unwrap_err();
    assert!(error.starts_with("unknown field `permits`, expected one of `permit_limit`"), "{error}");
    let error = from_json::<FixedWindowRateLimiterOptions>(json!({ "permit_limit": 1, "window": "1s", "windw": 1 }))
        .unwrap_err();
    assert!(error.starts_with("unknown field `windw`"), "{error}");
    let error = from_json::<SlidingWindowRateLimiterOptions>(
        json!({ "permit_limit": 1, "window": "1s", "segments_per_window": 1, "segments": 2 }),
    )
    .unwrap_err();
    assert!(error.starts_with("unknown field `segments`"), "{error}");
    assert_eq!(
        from_json::<PartitionedRateLimiterOptions>(json!({ "idle_timout": "1s" })),
        Err("unknown field `idle_timout`, expected `idle_timeout` or `max_partitions`".to_owned())
    );
    // .NET's PascalCase field names are not field names here.
    let error = from_json::<ConcurrencyLimiterOptions>(json!({ "PermitLimit": 1 })).unwrap_err();
    assert!(error.starts_with("unknown field `PermitLimit`"), "{error}");
}

#[test]
fn invalid_values_fail_with_the_validation_message() {
    let token_bucket = |limit: u32, per_period: u32, period: &str| {
        from_json::<TokenBucketRateLimiterOptions>(json!({
            "token_limit": limit, "tokens_per_period": per_period, "replenishment_period": period,
        }))
    };
    assert_eq!(token_bucket(0, 1, "1s"), Err("token_limit must be greater than 0".to_owned()));
    assert_eq!(token_bucket(1, 0, "1s"), Err("tokens_per_period must be greater than 0".to_owned()));
    assert_eq!(token_bucket(1, 1, "0s"), Err("replenishment_period must be greater than 0".to_owned()));
    assert_eq!(token_bucket(0, 0, "0ms"), Err("token_limit must be greater than 0".to_owned()), ".NET's order");

    assert_eq!(
        from_json::<ConcurrencyLimiterOptions>(json!({ "permit_limit": 0 })),
        Err("permit_limit must be greater than 0".to_owned())
    );

    let fixed = |limit: u32, window: &str| {
        from_json::<FixedWindowRateLimiterOptions>(json!({ "permit_limit": limit, "window": window }))
    };
    assert_eq!(fixed(0, "1s"), Err("permit_limit must be greater than 0".to_owned()));
    assert_eq!(fixed(1, "0s"), Err("window must be greater than 0".to_owned()));

    let sliding = |limit: u32, window: &str, segments: u32| {
        from_json::<SlidingWindowRateLimiterOptions>(
            json!({ "permit_limit": limit, "window": window, "segments_per_window": segments }),
        )
    };
    assert_eq!(sliding(0, "1s", 1), Err("permit_limit must be greater than 0".to_owned()));
    assert_eq!(sliding(1, "1s", 0), Err("segments_per_window must be greater than 0".to_owned()));
    assert_eq!(sliding(1, "0s", 1), Err("window must be greater than 0".to_owned()));
    assert_eq!(sliding(1, "5ns", 10), Err("window must be at least segments_per_window nanoseconds".to_owned()));

    assert_eq!(
        from_json::<PartitionedRateLimiterOptions>(json!({ "max_partitions": 0 })),
        Err("max_partitions must be greater than 0".to_owned())
    );

    // In TOML too (the message is the OptionsError's; the location is the table's).
    let error = toml::from_str::<Limits>(&LIMITS_TOML.replace("permit_limit = 5", "permit_limit = 0")).unwrap_err();
    assert_eq!(error.message(), "permit_limit must be greater than 0");
    assert!(error.to_string().contains("[login]"), "the excerpt shows the table: {error}");
}

#[test]
fn wrong_value_types_are_explained() {
    assert_eq!(
        from_json::<QueueProcessingOrder>(json!("fifo")),
        Err("unknown variant `fifo`, expected one of `OldestFirst`, `oldest_first`, `NewestFirst`, `newest_first`"
            .to_owned())
    );
    let error = from_toml::<ConcurrencyLimiterOptions>("permit_limit = 1\nqueue_processing_order = \"oldestFirst\"")
        .unwrap_err();
    assert!(
        error.starts_with("unknown variant `oldestFirst`, expected one of `OldestFirst`, `oldest_first`"),
        "{error}"
    );

    // A duration written as a number: seconds or milliseconds? Refused, with both suggestions.
    assert_eq!(
        from_json::<PartitionedRateLimiterOptions>(json!({ "idle_timeout": 10 })),
        Err("invalid type: integer `10`, expected a duration string with a unit, e.g. \"10s\", \"250ms\" or \"1m30s\""
            .to_owned())
    );
    assert_eq!(
        from_toml::<PartitionedRateLimiterOptions>("idle_timeout = 10"),
        Err("invalid duration 10: a bare number is ambiguous; write it as a string with a unit, e.g. \"10s\" or \
             \"10ms\""
            .to_owned())
    );
    assert_eq!(
        from_toml::<PartitionedRateLimiterOptions>("idle_timeout = 1.5"),
        Err("invalid duration 1.5: a bare number is ambiguous; write it as a string with a unit, e.g. \"1.5s\" or \
             \"1.5ms\""
            .to_owned())
    );
    let error = from_json::<TokenBucketRateLimiterOptions>(
        json!({ "token_limit": -1, "tokens_per_period": 1, "replenishment_period": "1s" }),
    )
    .unwrap_err();
    assert!(error.starts_with("invalid value: integer `-1`, expected u32"), "{error}");
    let error = from_json::<FixedWindowRateLimiterOptions>(
        json!({ "permit_limit": 1, "window": "1s", "auto_replenishment": "yes" }),
    )
    .unwrap_err();
    assert!(error.starts_with("invalid type: string \"yes\", expected a boolean"), "{error}");
}

#[test]
fn duration_errors_name_the_offending_text() {
    let bare = |number: &str| {
        format!(
            "invalid duration {number:?}: `{number}` has no unit, and a bare number is ambiguous; write e.g. \
             \"{number}s\" or \"{number}ms\""
        )
    };
    let cases: &[(&str, String)] = &[
        ("", "invalid duration \"\": empty; write e.g. \"10s\" or \"250ms\"".to_owned()),
        ("   ", "invalid duration \"   \": empty; write e.g. \"10s\" or \"250ms\"".to_owned()),
        (
            "10 parsecs",
            "invalid duration \"10 parsecs\": unknown unit `parsecs`; expected ns, us, ms, s, m, h or d".to_owned(),
        ),
        ("10", bare("10")),
        ("1.5", bare("1.5")),
        (
            "1m30",
            "invalid duration \"1m30\": `30` has no unit, and a bare number is ambiguous; write e.g. \"30s\" or \
             \"30ms\""
                .to_owned(),
        ),
        ("-1s", "invalid duration \"-1s\": durations cannot be negative".to_owned()),
        ("+1s", "invalid duration \"+1s\": expected a number, found `+1s`".to_owned()),
        ("s", "invalid duration \"s\": expected a number, found `s`".to_owned()),
        (".5s", "invalid duration \".5s\": expected a number, found `.5s`".to_owned()),
        ("1d ago", "invalid duration \"1d ago\": expected a number, found `ago`".to_owned()),
        (
            "1.s",
            "invalid duration \"1.s\": `1.` is not a number (write digits on both sides of the point, e.g. `0.5`)"
                .to_owned(),
        ),
        ("1,5s", "invalid duration \"1,5s\": unexpected `,` after `1`".to_owned()),
        ("1S", "invalid duration \"1S\": unknown unit `S`; expected ns, us, ms, s, m, h or d".to_owned()),
        ("1sec", "invalid duration \"1sec\": unknown unit `sec`; expected ns, us, ms, s, m, h or d".to_owned()),
        ("2 hours", "invalid duration \"2 hours\": unknown unit `hours`; expected ns, us, ms, s, m, h or d".to_owned()),
        (
            "30s1m",
            "invalid duration \"30s1m\": unit `m` after `s`; write each unit at most once, largest first (e.g. \
             \"1m30s\")"
                .to_owned(),
        ),
        (
            "1s1s",
            "invalid duration \"1s1s\": unit `s` after `s`; write each unit at most once, largest first (e.g. \
             \"1m30s\")"
                .to_owned(),
        ),
        (
            "1ms1µs1us",
            "invalid duration \"1ms1µs1us\": unit `us` after `us`; write each unit at most once, largest first \
             (e.g. \"1m30s\")"
                .to_owned(),
        ),
        ("1.5ns", "invalid duration \"1.5ns\": `1.5ns` is not a whole number of nanoseconds".to_owned()),
        (
            "1s 0.0000000001s",
            "invalid duration \"1s 0.0000000001s\": unit `s` after `s`; write each unit at most once, largest first \
             (e.g. \"1m30s\")"
                .to_owned(),
        ),
        (
            "0.0000000001s",
            "invalid duration \"0.0000000001s\": `0.0000000001s` is not a whole number of nanoseconds".to_owned(),
        ),
        (
            "0.12345678901234567891d",
            "invalid duration \"0.12345678901234567891d\": `0.12345678901234567891d` is not a whole number of \
             nanoseconds"
                .to_owned(),
        ),
        (
            "18446744073709551616ns",
            "invalid duration \"18446744073709551616ns\": longer than u64::MAX nanoseconds (about 584 years)"
                .to_owned(),
        ),
        ("213504d", "invalid duration \"213504d\": longer than u64::MAX nanoseconds (about 584 years)".to_owned()),
        (
            "213503d23h34m33s709ms551us616ns",
            "invalid duration \"213503d23h34m33s709ms551us616ns\": longer than u64::MAX nanoseconds (about 584 \
             years)"
                .to_owned(),
        ),
        (
            "99999999999999999999999999999999999999999s",
            "invalid duration \"99999999999999999999999999999999999999999s\": longer than u64::MAX nanoseconds \
             (about 584 years)"
                .to_owned(),
        ),
    ];
    for (text, message) in cases {
        assert_eq!(parse(text).as_ref(), Err(message), "{text:?}");
    }

    // Through a limiter's options and TOML the message is the same.
    assert_eq!(
        from_toml::<FixedWindowRateLimiterOptions>("permit_limit = 1\nwindow = \"10 parsecs\""),
        Err("invalid duration \"10 parsecs\": unknown unit `parsecs`; expected ns, us, ms, s, m, h or d".to_owned())
    );
}

#[test]
fn durations_longer_than_u64_nanoseconds_cannot_be_written() {
    let options = PartitionedRateLimiterOptions { idle_timeout: Duration::MAX, max_partitions: None };
    let error = serde_json::to_string(&options).unwrap_err().to_string();
    assert_eq!(
        error,
        "cannot write the duration 18446744073709551615.999999999s: longer than u64::MAX nanoseconds (about 584 years)"
    );
    let just_over = PartitionedRateLimiterOptions {
        idle_timeout: Duration::from_nanos(u64::MAX) + Duration::from_nanos(1),
        ..options
    };
    assert!(toml::to_string(&just_over).is_err());
}

// ---------------------------------------------------------------------------------------------
// The duration format

const MS: Duration = Duration::from_millis(1);
const S: Duration = Duration::from_secs(1);
const MIN: Duration = Duration::from_secs(60);
const HOUR: Duration = Duration::from_secs(3600);
const DAY: Duration = Duration::from_secs(86_400);

#[test]
fn durations_parse_in_every_unit_and_form() {
    let cases: &[(&str, Duration)] = &[
        ("1s", S),
        ("250ms", MS * 250),
        ("1m", MIN),
        ("1h", HOUR),
        ("1d", DAY),
        ("1m30s", MIN + S * 30),
        ("1.5s", MS * 1500),
        ("100us", Duration::from_micros(100)),
        ("100µs", Duration::from_micros(100)), // U+00B5 MICRO SIGN
        ("100μs", Duration::from_micros(100)), // U+03BC GREEK SMALL LETTER MU
        ("10ns", Duration::from_nanos(10)),
        ("0s", Duration::ZERO),
        ("0ns", Duration::ZERO),
        ("0.0s", Duration::ZERO),
        ("007s", S * 7),
        ("1.25m", S * 75),
        ("0.5d", HOUR * 12),
        ("1.5us", Duration::from_nanos(1500)),
        ("0.000001ms", Duration::from_nanos(1)),
        ("1.000000001s", Duration::new(1, 1)),
        ("1.50000000000000000000000000s", MS * 1500),
        ("0.00000000001d", Duration::from_nanos(864)),
        ("2h15m30s250ms", HOUR * 2 + MIN * 15 + S * 30 + MS * 250),
        ("1d2h3m4s5ms6us7ns", DAY + HOUR * 2 + MIN * 3 + S * 4 + Duration::from_nanos(5_006_007)),
        ("1h 30m", HOUR + MIN * 30),
        ("10 s", S * 10),
        (" 1s ", S),
        ("\t1m\n30s", MIN + S * 30),
        ("90s", S * 90),
        ("1500ms", MS * 1500),
        ("25h", HOUR * 25),
        ("18446744073709551615ns", Duration::from_nanos(u64::MAX)),
        ("213503d23h34m33s709ms551us615ns", Duration::from_nanos(u64::MAX)),
        ("18446744073.709551615s", Duration::from_nanos(u64::MAX)),
    ];
    for &(text, expected) in cases {
        assert_eq!(parse(text), Ok(expected), "{text:?}");
    }
}

#[test]
fn durations_are_written_in_canonical_form() {
    let cases: &[(Duration, &str)] = &[
        (Duration::ZERO, "0s"),
        (Duration::from_nanos(1), "1ns"),
        (Duration::from_micros(100), "100us"),
        (MS * 250, "250ms"),
        (S, "1s"),
        (MS * 1500, "1s500ms"),
        (S * 90, "1m30s"),
        (MIN, "1m"),
        (HOUR, "1h"),
        (HOUR + Duration::from_nanos(1), "1h1ns"),
        (DAY, "1d"),
        (HOUR * 25, "1d1h"),
        (Duration::new(3723, 4_005_006), "1h2m3s4ms5us6ns"),
        (Duration::from_nanos(u64::MAX), "213503d23h34m33s709ms551us615ns"),
    ];
    for &(duration, expected) in cases {
        assert_eq!(write(duration), expected, "{duration:?}");
        assert_eq!(parse(expected), Ok(duration), "{expected:?}");
    }
}

/// A duration string built from components, largest unit first, with its value in nanoseconds.
fn components() -> impl Strategy<Value = (String, u128)> {
    const UNITS: [(&str, u128); 9] = [
        ("d", 86_400_000_000_000),
        ("h", 3_600_000_000_000),
        ("m", 60_000_000_000),
        ("s", 1_000_000_000),
        ("ms", 1_000_000),
        ("us", 1_000),
        ("µs", 1_000),
        ("μs", 1_000),
        ("ns", 1),
    ];
    // One spelling of the micro unit at most: pick which, then which units appear.
    (0..3usize, proptest::collection::vec((any::<bool>(), 0..10_000u32, 0..4usize, 0..1000u32, any::<bool>()), 7))
        .prop_map(|(micro, parts)| {
            let units: Vec<(&str, u128)> = UNITS
                .iter()
                .enumerate()
                .filter(|&(i, _)| !(5..=7).contains(&i) || i == 5 + micro)
                .map(|(_, &unit)| unit)
                .collect();
            let mut text = String::new();
            let mut nanos = 0u128;
            for ((name, unit), (present, int, frac_len, frac, space)) in units.into_iter().zip(parts) {
                if !present {
                    continue;
                }
                text.push_str(&int.to_string());
                nanos += u128::from(int) * unit;
                // Up to 3 fraction digits are whole nanoseconds for every unit but ns.
                if unit >= 1_000 && frac_len > 0 {
                    let frac = frac % 10u32.pow(frac_len as u32);
                    text.push_str(&format!(".{frac:0width$}", width = frac_len));
                    nanos += u128::from(frac) * unit / 10u128.pow(frac_len as u32);
                }
                if space {
                    text.push(' ');
                }
                text.push_str(name);
            }
            if text.is_empty() { ("0s".to_owned(), 0) } else { (text, nanos) }
        })
}

proptest! {
    #[test]
    fn every_whole_nanosecond_duration_round_trips(nanos in any::<u64>()) {
        let duration = Duration::from_nanos(nanos);
        prop_assert_eq!(parse(&write(duration)), Ok(duration));
    }

    #[test]
    fn small_durations_round_trip(nanos in 0..10_000_000_000u64) {
        let duration = Duration::from_nanos(nanos);
        prop_assert_eq!(parse(&write(duration)), Ok(duration));
    }

    #[test]
    fn components_add_up_exactly((text, nanos) in components()) {
        let expected = Duration::from_nanos(u64::try_from(nanos).unwrap());
        prop_assert_eq!(parse(&text), Ok(expected), "{}", text);
    }

    #[test]
    fn any_text_is_parsed_or_refused_without_panicking(text in "\\PC{0,12}|[0-9. a-zµμ-]{0,16}") {
        if let Ok(duration) = parse(&text) {
            prop_assert_eq!(parse(&write(duration)), Ok(duration));
        } else {
            let error = parse(&text).unwrap_err();
            prop_assert!(error.starts_with(&format!("invalid duration {text:?}: ")), "{}", error);
        }
    }

    #[test]
    fn token_bucket_options_round_trip(
        token_limit in 1..=u32::MAX,
        tokens_per_period in 1..=u32::MAX,
        period in 1..=u64::MAX,
        auto_replenishment in any::<bool>(),
        newest_first in any::<bool>(),
        queue_limit in any::<u32>(),
    ) {
        let options = TokenBucketRateLimiterOptions {
            token_limit,
            tokens_per_period,
            replenishment_period: Duration::from_nanos(period),
            auto_replenishment,
            queue_processing_order: if newest_first {
                QueueProcessingOrder::NewestFirst
            } else {
                QueueProcessingOrder::OldestFirst
            },
            queue_limit,
        };
        let json = serde_json::to_string(&options).unwrap();
        prop_assert_eq!(serde_json::from_str::<TokenBucketRateLimiterOptions>(&json).unwrap(), options.clone());
        let toml = toml::to_string(&options).unwrap();
        prop_assert_eq!(toml::from_str::<TokenBucketRateLimiterOptions>(&toml).unwrap(), options);
    }
}
