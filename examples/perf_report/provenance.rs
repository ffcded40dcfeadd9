//! Where the numbers come from: machine, toolchain, commit, command, crate versions, load.

use std::fmt::Write as _;
use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::{Options, QUICK_ENV};

pub struct Provenance {
    pub cpu: String,
    pub cores: usize,
    pub memory: String,
    pub kernel: String,
    pub rustc: String,
    pub commit: String,
    pub command: String,
    pub bench_commands: Vec<String>,
    pub config: String,
    pub crates: Vec<(String, String)>,
    pub load_before: String,
    pub load_after: String,
}

impl Provenance {
    pub fn gather(
        root: &Path,
        args: &[String],
        bench_commands: Vec<String>,
        options: &Options,
        load_before: String,
    ) -> Self {
        let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find_map(|line| line.strip_prefix("model name").map(|rest| rest.trim_start_matches([' ', '\t', ':'])))
            .unwrap_or("unknown")
            .to_owned();
        let cores = cpuinfo.lines().filter(|line| line.starts_with("processor")).count();
        let memory = fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|info| {
                let kib: f64 =
                    info.lines().find(|l| l.starts_with("MemTotal:"))?.split_whitespace().nth(1)?.parse().ok()?;
                Some(format!("{:.1} GiB", kib / (1024.0 * 1024.0)))
            })
            .unwrap_or_else(|| "unknown".to_owned());
        let rustc = command_output(root, std::env::var("RUSTC").as_deref().unwrap_or("rustc"), &["-V"]);
        let head = command_output(root, "git", &["rev-parse", "--short", "HEAD"]);
        // GIT_OPTIONAL_LOCKS=0: `git status` must not refresh (write) the index.
        let dirty = Command::new("git")
            .current_dir(root)
            .env("GIT_OPTIONAL_LOCKS", "0")
            .args(["status", "--porcelain", "--untracked-files=no"])
            .output()
            .is_ok_and(|out| !out.stdout.is_empty());
        let commit = if dirty { format!("{head} (dirty: uncommitted changes in tracked files)") } else { head };
        let mut command = String::new();
        if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
            write!(command, "CARGO_TARGET_DIR={} ", dir.to_string_lossy()).ok();
        }
        command.push_str("cargo run --release --example perf_report");
        if !args.is_empty() {
            write!(command, " -- {}", args.join(" ")).ok();
        }
        let config = match (options.quick, options.run_benches) {
            (_, false) => "no bench run (--no-bench): existing criterion results".to_owned(),
            (true, true) => format!("quick ({QUICK_ENV}=1): warm-up 0.1 s, 10 samples in 0.3 s per benchmark"),
            (false, true) => "warm-up 0.5 s, 30 samples in 2 s per benchmark".to_owned(),
        };
        Provenance {
            cpu,
            cores,
            memory,
            kernel: read_trimmed("/proc/sys/kernel/osrelease"),
            rustc,
            commit,
            command,
            bench_commands,
            config,
            crates: locked_versions(root),
            load_before,
            load_after: read_trimmed("/proc/loadavg"),
        }
    }

    pub fn json(&self) -> Value {
        json!({
            "cpu": self.cpu, "logical_cores": self.cores, "memory": self.memory, "kernel": self.kernel,
            "rustc": self.rustc, "commit": self.commit, "command": self.command,
            "bench_commands": self.bench_commands, "criterion_config": self.config,
            "crates": self.crates.iter().map(|(name, version)| json!({"name": name, "version": version})).collect::<Vec<_>>(),
            "loadavg_before": self.load_before, "loadavg_after": self.load_after,
        })
    }
}

/// The locked versions of the crates the numbers depend on, from `Cargo.lock`.
fn locked_versions(root: &Path) -> Vec<(String, String)> {
    const CRATES: [&str; 8] =
        ["governor", "tokio", "criterion", "quanta", "papaya", "dashmap", "crossbeam-queue", "iai-callgrind"];
    let Ok(lock) = fs::read_to_string(root.join("Cargo.lock"))
        .map_err(|_| ())
        .and_then(|text| text.parse::<toml::Table>().map_err(|_| ()))
    else {
        return Vec::new();
    };
    let packages = lock.get("package").and_then(|packages| packages.as_array()).cloned().unwrap_or_default();
    let mut versions: Vec<(String, String)> = packages
        .iter()
        .filter_map(|package| {
            let name = package.get("name")?.as_str()?;
            let version = package.get("version")?.as_str()?;
            CRATES.contains(&name).then(|| (name.to_owned(), version.to_owned()))
        })
        .collect();
    versions.sort();
    versions
}

fn command_output(root: &Path, program: &str, args: &[&str]) -> String {
    Command::new(program)
        .current_dir(root)
        .args(args)
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map_or_else(|| "unknown".to_owned(), |out| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

pub fn read_trimmed(path: &str) -> String {
    fs::read_to_string(path).map_or_else(|_| "unknown".to_owned(), |text| text.trim().to_owned())
}

/// `YYYY-MM-DD` in UTC (the civil-from-days algorithm of Howard Hinnant).
pub fn utc_date(time: SystemTime) -> String {
    let days = time.duration_since(UNIX_EPOCH).map_or(0, |since| since.as_secs() / 86_400) as i64;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 { month_index + 3 } else { month_index - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}
