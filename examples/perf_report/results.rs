//! Reading the benchmarks' outputs: criterion's estimates and iai-callgrind's summaries.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::{CONTENDER_ORDER, Result, WORKLOADS};

/// One benchmark's result, normalized to one operation.
#[derive(Clone, Debug)]
pub struct Estimate {
    pub group: String,
    pub contender: String,
    /// The parameter: threads (or tokio worker threads for `async_handoff`).
    pub parameter: String,
    /// Criterion's mean time per operation, and its 95% confidence interval, in ns. With several
    /// threads this is per operation per thread; for a throughput group, per element.
    pub mean_ns: f64,
    pub lower_ns: f64,
    pub upper_ns: f64,
    /// Operations per criterion iteration (criterion's `Throughput::Elements`, else 1).
    pub elements: u64,
    pub source: PathBuf,
}

impl Estimate {
    pub fn threads(&self) -> Option<u32> {
        self.parameter.parse().ok()
    }

    /// Operations per second across all threads (one thread for the non-threaded parameters).
    pub fn total_ops_per_sec(&self) -> f64 {
        let threads = if self.group == "async_handoff" { 1 } else { self.threads().unwrap_or(1) };
        f64::from(threads) * 1e9 / self.mean_ns
    }

    pub fn is_tollgate(&self) -> bool {
        self.contender.starts_with("tollgate_")
    }
}

/// Reads `<group>/<contender>/<parameter>/new/{benchmark,estimates}.json` for every group of the
/// suite; with `fresh_since`, only estimates written since then.
pub fn collect_estimates(criterion: &Path, fresh_since: Option<SystemTime>) -> Result<Vec<Estimate>> {
    let mut estimates = Vec::new();
    for workload in WORKLOADS {
        let group_dir = criterion.join(workload.group);
        for contender_dir in subdirs(&group_dir) {
            for parameter_dir in subdirs(&contender_dir) {
                let new = parameter_dir.join("new");
                let estimates_path = new.join("estimates.json");
                let Ok(modified) = fs::metadata(&estimates_path).and_then(|meta| meta.modified()) else {
                    continue;
                };
                if fresh_since.is_some_and(|since| modified < since) {
                    continue;
                }
                let benchmark: Value = serde_json::from_str(&fs::read_to_string(new.join("benchmark.json"))?)?;
                let values: Value = serde_json::from_str(&fs::read_to_string(&estimates_path)?)?;
                let elements = benchmark["throughput"]["Elements"].as_u64().unwrap_or(1);
                let per_op = |value: &Value| value.as_f64().map(|ns| ns / elements as f64);
                let mean = &values["mean"];
                let missing = || format!("malformed {}", estimates_path.display());
                estimates.push(Estimate {
                    group: benchmark["group_id"].as_str().ok_or_else(missing)?.to_owned(),
                    contender: benchmark["function_id"].as_str().ok_or_else(missing)?.to_owned(),
                    parameter: benchmark["value_str"].as_str().unwrap_or("").to_owned(),
                    mean_ns: per_op(&mean["point_estimate"]).ok_or_else(missing)?,
                    lower_ns: per_op(&mean["confidence_interval"]["lower_bound"]).ok_or_else(missing)?,
                    upper_ns: per_op(&mean["confidence_interval"]["upper_bound"]).ok_or_else(missing)?,
                    elements,
                    source: estimates_path,
                });
            }
        }
    }
    estimates.sort_by_key(|e| (group_rank(&e.group), e.threads(), contender_rank(&e.contender)));
    Ok(estimates)
}

fn subdirs(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else { return Vec::new() };
    let mut dirs: Vec<PathBuf> =
        entries.filter_map(|entry| entry.ok().map(|entry| entry.path())).filter(|path| path.is_dir()).collect();
    dirs.sort();
    dirs
}

fn group_rank(group: &str) -> usize {
    WORKLOADS.iter().position(|workload| workload.group == group).unwrap_or(usize::MAX)
}

pub fn contender_rank(contender: &str) -> (usize, String) {
    let rank = CONTENDER_ORDER.iter().position(|&name| name == contender).unwrap_or(usize::MAX);
    (rank, contender.to_owned())
}

pub fn find<'a>(results: &'a [Estimate], group: &str, contender: &str, parameter: &str) -> Option<&'a Estimate> {
    results.iter().find(|e| e.group == group && e.contender == contender && e.parameter == parameter)
}

/// tollgate's time over the rival's (below 1: tollgate is faster), with the range the two
/// confidence intervals allow.
#[derive(Clone, Copy)]
pub struct Ratio {
    pub point: f64,
    pub lower: f64,
    pub upper: f64,
}

impl Ratio {
    pub fn of(tollgate: &Estimate, rival: &Estimate) -> Self {
        Ratio {
            point: tollgate.mean_ns / rival.mean_ns,
            lower: tollgate.lower_ns / rival.upper_ns,
            upper: tollgate.upper_ns / rival.lower_ns,
        }
    }

    pub fn json(self) -> Value {
        json!({ "ratio": self.point, "range_lower": self.lower, "range_upper": self.upper })
    }
}

// ---------------------------------------------------------------------------------------------
// Instruction counts (iai-callgrind summaries)
// ---------------------------------------------------------------------------------------------

/// One iai-callgrind benchmark's instruction count.
pub struct Instructions {
    /// `group::function` from the module path.
    pub group: String,
    /// `function.id`.
    pub name: String,
    pub count: u64,
    pub source: PathBuf,
    pub modified: SystemTime,
}

/// Reads every `summary.json` under `iai_dir` (schema 6 of iai-callgrind 0.16): the callgrind
/// total's `Ir` (instructions), new value.
pub fn collect_instructions(iai_dir: &Path) -> Vec<Instructions> {
    let mut found = Vec::new();
    let mut pending = vec![iai_dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        pending.extend(subdirs(&dir));
        let path = dir.join("summary.json");
        let Ok(text) = fs::read_to_string(&path) else { continue };
        let Ok(summary) = serde_json::from_str::<Value>(&text) else { continue };
        let Some(count) = callgrind_instructions(&summary) else { continue };
        let function = summary["function_name"].as_str().unwrap_or("?");
        let name = match summary["id"].as_str() {
            Some(id) => format!("{function}.{id}"),
            None => function.to_owned(),
        };
        let module: Vec<&str> = summary["module_path"].as_str().unwrap_or("").split("::").collect();
        let group = module.get(1).copied().unwrap_or("").to_owned();
        let modified = fs::metadata(&path).and_then(|meta| meta.modified()).unwrap_or(UNIX_EPOCH);
        found.push(Instructions { group, name, count, source: path, modified });
    }
    found.sort_by(|a, b| (&a.group, &a.name).cmp(&(&b.group, &b.name)));
    found
}

fn callgrind_instructions(summary: &Value) -> Option<u64> {
    let profiles = summary["profiles"].as_array()?;
    let callgrind = profiles.iter().find(|profile| profile["tool"] == "Callgrind")?;
    let metrics = &callgrind["summaries"]["total"]["summary"]["Callgrind"]["Ir"]["metrics"];
    // `EitherOrBoth<Metric>`: `{"Left": new}`, `{"Both": [new, old]}` or `{"Right": old}`.
    let new = metrics.get("Left").or_else(|| metrics.get("Both").and_then(|both| both.get(0)))?;
    new["Int"].as_u64()
}
