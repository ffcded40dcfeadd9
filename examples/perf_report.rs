//! The performance report in one command: runs the criterion suite (`benches/vs_governor.rs`,
//! `benches/vs_tokio_semaphore.rs`, `benches/vs_governor_keyed.rs`), reads criterion's estimates,
//! and writes, for today's date (UTC):
//!
//! * `perf-reports/<date>-summary.md`: provenance (machine, rustc, commit, command, crate
//!   versions, load), a headline table of the main ratios, one table per workload (time per
//!   operation per contender with its 95% confidence interval, and the ratio tollgate / rival for
//!   each rival: below 1 tollgate is faster), and instruction counts if iai-callgrind summaries
//!   exist;
//! * `perf-reports/<date>-summary.json`: the same numbers, raw (STYLE habit 12);
//! * `perf-reports/<date>-latency.svg`: time per operation of every contender in the
//!   uncontended (one-thread) workloads;
//! * `perf-reports/<date>-throughput.svg`: operations per second against thread count (1, 2, 4,
//!   8), one line per contender.
//!
//! Re-running the same day overwrites that day's files.
//!
//! ```sh
//! cargo run --release --example perf_report                 # the full suite, about 5 minutes
//! cargo run --release --example perf_report -- --quick      # a smoke run (TOLLGATE_BENCH_QUICK=1)
//! cargo run --release --example perf_report -- --iai        # also the instruction counts first
//! cargo run --release --example perf_report -- rate_allow   # only benchmarks matching a filter
//! cargo run --release --example perf_report -- --no-bench   # report from the existing results
//! ```
//!
//! The filter is criterion's (a regular expression over `<group>/<contender>/<threads>`) and is
//! forwarded to every bench. Criterion's output is found under the cargo target directory
//! (`cargo metadata`, so `CARGO_TARGET_DIR` is honoured): `criterion/<group>/<contender>/
//! <threads>/new/{estimates.json,benchmark.json}`. After a bench run, only estimates written by
//! that run are reported. `--iai` runs `cargo bench --bench instructions -- --save-summary=json`
//! (needs valgrind and `iai-callgrind-runner` 0.16.1) and the report reads `iai/**/summary.json`.
//!
//! This file holds the suite's definition (bench files, workloads, headline comparisons), the
//! command line and the bench runs; `perf_report/results.rs` reads the outputs,
//! `perf_report/provenance.rs` gathers machine and toolchain facts, `perf_report/report.rs`
//! writes the Markdown and JSON, `perf_report/charts.rs` draws the SVGs.

#[path = "perf_report/charts.rs"]
mod charts;
#[path = "perf_report/provenance.rs"]
mod provenance;
#[path = "perf_report/report.rs"]
mod report;
#[path = "perf_report/results.rs"]
mod results;

use std::error::Error;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

use serde_json::Value;

use provenance::{Provenance, read_trimmed, utc_date};
use report::Report;

type Result<T> = std::result::Result<T, Box<dyn Error>>;

/// The criterion bench files of the suite, run in this order.
const BENCH_FILES: [&str; 4] = ["vs_governor", "vs_tokio_semaphore", "vs_governor_keyed", "lease_handling"];

/// The environment variable that shortens every benchmark (`benches/common/harness.rs`).
const QUICK_ENV: &str = "TOLLGATE_BENCH_QUICK";

/// One criterion group of the suite: its id, a title, and what one operation is.
struct Workload {
    group: &'static str,
    title: &'static str,
    operation: &'static str,
    /// What the parameter (the last id segment) counts.
    parameter: &'static str,
}

/// Every workload of the suite, in report order.
const WORKLOADS: &[Workload] = &[
    Workload {
        group: "rate_allow",
        title: "Rate limiters: allowed attempt",
        operation: "`attempt_acquire(1)` + lease drop (governor: `check()`) on a limiter that never runs dry",
        parameter: "threads",
    },
    Workload {
        group: "rate_deny",
        title: "Rate limiters: refused attempt",
        operation: "an attempt on an exhausted limiter (tollgate computes its retry time, governor does not)",
        parameter: "threads",
    },
    Workload {
        group: "rate_deny_retry_after",
        title: "Rate limiters: refused attempt with retry time",
        operation: "an attempt on an exhausted limiter, every contender computing when a retry could succeed",
        parameter: "threads",
    },
    Workload {
        group: "rate_allow_coarse_clock",
        title: "Rate limiters: allowed attempt on coarse clocks",
        operation: "`rate_allow` on clocks refreshed every 1 ms by a background thread",
        parameter: "threads",
    },
    Workload {
        group: "semaphore_allow",
        title: "Concurrency limiters: acquire + release",
        operation: "non-waiting acquisition of 1 of 1024 permits, then the drop that returns it",
        parameter: "threads",
    },
    Workload {
        group: "semaphore_allow_busy",
        title: "Concurrency limiters: acquire + release, never idle",
        operation: "as `semaphore_allow`, with one permit held throughout",
        parameter: "threads",
    },
    Workload {
        group: "semaphore_allow_move",
        title: "Concurrency limiters: acquire, move the permit out, release",
        operation: "as `semaphore_allow`, the permit moved out through `black_box` before the drop",
        parameter: "threads",
    },
    Workload {
        group: "semaphore_deny",
        title: "Concurrency limiters: refused acquisition",
        operation: "non-waiting acquisition on a limiter whose only permit is held",
        parameter: "threads",
    },
    Workload {
        group: "async_handoff",
        title: "Concurrency limiters: async queued handoff",
        operation: "one `acquire(1).await` of 16 tasks sharing 2 permits, each holding its permit across a yield",
        parameter: "tokio worker threads",
    },
    Workload {
        group: "lease_bucket",
        title: "What the caller does with the lease: token bucket",
        operation: "`attempt_acquire(1)` + drop with the lease moved out of the `Result` (`moved`, `unwrap`) or \
                    dropped in place (`in_place`); governor: `check()` (`benches/lease_handling.rs`)",
        parameter: "threads",
    },
    Workload {
        group: "lease_concurrency_busy",
        title: "What the caller does with the lease: concurrency limiter, never idle",
        operation: "as `lease_bucket`, on a concurrency limiter with one of 1024 permits held; tokio: \
                    `try_acquire()` + drop",
        parameter: "threads",
    },
    Workload {
        group: "keyed_hot",
        title: "Keyed limiters: one hot key",
        operation: "one decision for a key whose state exists, every call on the same key",
        parameter: "threads",
    },
    Workload {
        group: "keyed_zipf",
        title: "Keyed limiters: 10,000 keys, Zipf-distributed",
        operation: "one decision for a key drawn from a Zipf (s = 1) sequence over 10,000 existing keys",
        parameter: "threads",
    },
];

/// The headline comparisons: (what, group, tollgate contender, rival, parameter).
const HEADLINE: &[(&str, &str, &str, &str, &str)] = &[
    ("uncontended allow, token bucket vs governor", "rate_allow", "tollgate_token_bucket", "governor", "1"),
    ("uncontended deny, token bucket vs governor", "rate_deny", "tollgate_token_bucket", "governor", "1"),
    ("hot limiter, 2 threads, token bucket vs governor", "rate_allow", "tollgate_token_bucket", "governor", "2"),
    ("concurrency allow (acquire + drop) vs tokio", "semaphore_allow", "tollgate_concurrency", "tokio_semaphore", "1"),
    ("async queued handoff vs tokio (2 workers)", "async_handoff", "tollgate_concurrency", "tokio_semaphore", "2"),
    ("keyed hot key vs governor keyed (dashmap)", "keyed_hot", "tollgate_partitioned", "governor_keyed_dashmap", "1"),
    ("token bucket allow, lease dropped in place, vs governor", "lease_bucket", "tollgate_in_place", "governor", "1"),
    (
        "concurrency allow (never idle), lease dropped in place, vs tokio",
        "lease_concurrency_busy",
        "tollgate_in_place",
        "tokio_semaphore",
        "1",
    ),
];

/// Contenders in display order; unknown names follow, alphabetically.
const CONTENDER_ORDER: &[&str] = &[
    "tollgate_token_bucket",
    "tollgate_token_bucket_tick_1ns",
    "tollgate_fixed_window",
    "tollgate_sliding_window",
    "tollgate_noop",
    "tollgate_chain_bucket_concurrency",
    "tollgate_concurrency",
    "tollgate_partitioned",
    "tollgate_moved",
    "tollgate_unwrap",
    "tollgate_in_place",
    "governor",
    "governor_keyed_dashmap",
    "governor_keyed_hashmap",
    "tokio_semaphore",
    "mutex_token_bucket",
    "mutex_vecdeque",
];

/// The uncontended workloads of the latency chart.
const LATENCY_GROUPS: [&str; 6] =
    ["rate_allow", "rate_deny", "semaphore_allow", "semaphore_deny", "keyed_hot", "keyed_zipf"];

/// The workloads of the throughput chart, one panel each.
const THROUGHPUT_GROUPS: [&str; 4] = ["rate_allow", "semaphore_allow", "keyed_hot", "keyed_zipf"];

/// Instruction-count pairs (tollgate benchmark, rival benchmark), as `function.id` of
/// `benches/instructions.rs`.
const IAI_PAIRS: &[(&str, &str)] = &[
    ("tollgate_acquire_drop.permits_1024", "tokio_acquire_drop.permits_1024"),
    ("tollgate_acquire_drop_busy.one_of_1024_held", "tokio_acquire_drop_busy.one_of_1024_held"),
    ("tollgate_deny.only_permit_held", "tokio_deny.only_permit_held"),
    ("bucket_allow.tick_1s", "governor_allow.cell_1ns"),
    ("bucket_allow.tick_1ns", "governor_allow.cell_1ns"),
    ("bucket_deny.permit_taken", "governor_deny.permit_taken"),
    ("bucket_deny_retry_after.permit_taken", "governor_deny_retry_after.permit_taken"),
    ("keyed_allow.hot_key", "governor_keyed_allow.hot_key"),
];

// ---------------------------------------------------------------------------------------------
// Command line
// ---------------------------------------------------------------------------------------------

struct Options {
    quick: bool,
    iai: bool,
    run_benches: bool,
    filter: Option<String>,
}

fn parse_args(args: &[String]) -> Result<Options> {
    let mut options = Options { quick: false, iai: false, run_benches: true, filter: None };
    for arg in args {
        match arg.as_str() {
            "--quick" => options.quick = true,
            "--iai" => options.iai = true,
            "--no-bench" => options.run_benches = false,
            "-h" | "--help" => {
                println!("usage: cargo run --release --example perf_report -- [--quick] [--iai] [--no-bench] [FILTER]");
                std::process::exit(0);
            }
            flag if flag.starts_with('-') => return Err(format!("unknown option {flag}").into()),
            filter if options.filter.is_none() => options.filter = Some(filter.to_owned()),
            extra => return Err(format!("a second filter {extra}").into()),
        }
    }
    Ok(options)
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let options = parse_args(&args)?;
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let target = target_dir(root)?;
    let date = utc_date(SystemTime::now());
    let started = SystemTime::now();
    let load_before = read_trimmed("/proc/loadavg");

    let mut bench_commands = Vec::new();
    if options.iai {
        bench_commands.push(run_iai(root)?);
    }
    if options.run_benches {
        for bench in BENCH_FILES {
            bench_commands.push(run_bench(root, bench, &options)?);
        }
    }

    let fresh_since = options.run_benches.then_some(started);
    let results = results::collect_estimates(&target.join("criterion"), fresh_since)?;
    if results.is_empty() {
        return Err(format!("no criterion results under {}", target.join("criterion").display()).into());
    }
    let instructions = results::collect_instructions(&target.join("iai"));

    let provenance = Provenance::gather(root, &args, bench_commands, &options, load_before);
    let report = Report { date: &date, provenance: &provenance, results: &results, instructions: &instructions };

    let out_dir = root.join("perf-reports");
    fs::create_dir_all(&out_dir)?;
    let latency_svg = format!("{date}-latency.svg");
    let throughput_svg = format!("{date}-throughput.svg");
    charts::draw_latency(&out_dir.join(&latency_svg), &results)?;
    charts::draw_throughput(&out_dir.join(&throughput_svg), &results)?;
    let markdown = report.markdown(&latency_svg, &throughput_svg);
    fs::write(out_dir.join(format!("{date}-summary.md")), markdown)?;
    fs::write(out_dir.join(format!("{date}-summary.json")), serde_json::to_string_pretty(&report.json())?)?;
    println!("wrote {}/{date}-summary.{{md,json}}, {latency_svg}, {throughput_svg}", out_dir.display());
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Running the benches
// ---------------------------------------------------------------------------------------------

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned())
}

/// Runs one criterion bench file; returns the command line it ran.
fn run_bench(root: &Path, bench: &str, options: &Options) -> Result<String> {
    let mut command = Command::new(cargo());
    command.current_dir(root).args(["bench", "--bench", bench]);
    let mut shown = format!("cargo bench --bench {bench}");
    if let Some(filter) = &options.filter {
        command.args(["--", filter]);
        write!(shown, " -- '{filter}'")?;
    }
    if options.quick {
        command.env(QUICK_ENV, "1");
        shown = format!("{QUICK_ENV}=1 {shown}");
    }
    eprintln!("perf_report: running {shown}");
    let status = command.status()?;
    if !status.success() {
        return Err(format!("`{shown}` failed: {status}").into());
    }
    Ok(shown)
}

/// Runs the instruction-count bench with JSON summaries, if valgrind and the runner are there.
fn run_iai(root: &Path) -> Result<String> {
    let shown = "cargo bench --bench instructions -- --save-summary=json".to_owned();
    // The runner refuses `--version` without a benchmark's version handshake: look it up on PATH.
    let runner =
        std::env::var_os("IAI_CALLGRIND_RUNNER").map(PathBuf::from).or_else(|| on_path("iai-callgrind-runner"));
    if on_path("valgrind").is_none() || runner.is_none_or(|runner| !runner.is_file()) {
        eprintln!("perf_report: valgrind or iai-callgrind-runner missing, skipping the instruction counts");
        return Ok(format!("(skipped: valgrind or iai-callgrind-runner missing) {shown}"));
    }
    eprintln!("perf_report: running {shown}");
    let status = Command::new(cargo())
        .current_dir(root)
        .args(["bench", "--bench", "instructions", "--", "--save-summary=json"])
        .status()?;
    if !status.success() {
        return Err(format!("`{shown}` failed: {status}").into());
    }
    Ok(shown)
}

/// The first `program` file in a directory of `PATH`.
fn on_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(program)).find(|candidate| candidate.is_file())
}

/// The cargo target directory, as cargo resolves it (`CARGO_TARGET_DIR`, config, default).
fn target_dir(root: &Path) -> Result<PathBuf> {
    let output =
        Command::new(cargo()).current_dir(root).args(["metadata", "--format-version", "1", "--no-deps"]).output()?;
    if output.status.success() {
        let metadata: Value = serde_json::from_slice(&output.stdout)?;
        if let Some(dir) = metadata["target_directory"].as_str() {
            return Ok(PathBuf::from(dir));
        }
    }
    Ok(std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from))
}
