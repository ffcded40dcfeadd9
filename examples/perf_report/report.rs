//! The Markdown summary and its JSON twin.

use std::fmt::Write as _;
use std::time::UNIX_EPOCH;

use serde_json::{Value, json};

use crate::provenance::{Provenance, utc_date};
use crate::results::{Estimate, Instructions, Ratio, contender_rank, find};
use crate::{HEADLINE, IAI_PAIRS, WORKLOADS, Workload};

/// Everything one report shows: the date it is filed under, provenance, criterion results (sorted
/// by workload, thread count and contender) and instruction counts.
pub struct Report<'a> {
    pub date: &'a str,
    pub provenance: &'a Provenance,
    pub results: &'a [Estimate],
    pub instructions: &'a [Instructions],
}

/// A time in ns with three significant digits or so.
pub fn ns(value: f64) -> String {
    match value {
        v if v < 10.0 => format!("{v:.2}"),
        v if v < 100.0 => format!("{v:.1}"),
        v => format!("{v:.0}"),
    }
}

impl Report<'_> {
    pub fn markdown(&self, latency_svg: &str, throughput_svg: &str) -> String {
        let mut md = String::new();
        let p = self.provenance;
        let _ = writeln!(md, "# {}: performance summary (generated)\n", self.date);
        let _ = writeln!(
            md,
            "Written by `examples/perf_report.rs` from criterion's estimates of `benches/vs_governor.rs`, \
             `benches/vs_tokio_semaphore.rs`, `benches/vs_governor_keyed.rs` and `benches/lease_handling.rs` (every contender runs the same \
             workload code, `benches/common/`); raw numbers in [`{date}-summary.json`]({date}-summary.json). \
             Re-run the command below to regenerate; do not edit by hand.\n",
            date = self.date
        );
        let _ = writeln!(
            md,
            "Times are criterion's mean per operation with its 95% confidence interval; with several threads, per \
             operation per thread (each thread runs the whole iteration count on one shared limiter). A ratio is \
             tollgate's time over the rival's in the same run: **below 1 tollgate is faster**; its range combines \
             the two intervals. The machine is shared: compare only ratios within one run.\n"
        );

        let _ = writeln!(md, "## Headline\n");
        let _ = writeln!(md, "| comparison | tollgate ns/op | rival ns/op | tollgate / rival | range |");
        let _ = writeln!(md, "|---|---|---|---|---|");
        for (label, tollgate, rival, ratio) in self.headline() {
            let _ = writeln!(
                md,
                "| {label} (`{}` vs `{}`) | {} | {} | **{:.2}** | {:.2}–{:.2} |",
                tollgate.contender,
                rival.contender,
                ns(tollgate.mean_ns),
                ns(rival.mean_ns),
                ratio.point,
                ratio.lower,
                ratio.upper
            );
        }

        let _ = writeln!(md, "\n## Provenance\n");
        let _ = writeln!(md, "| | |\n|---|---|");
        let _ = writeln!(
            md,
            "| machine | {} ({} logical cores), {} memory, Linux {} |",
            p.cpu, p.cores, p.memory, p.kernel
        );
        let _ = writeln!(md, "| rustc | {} (`[profile.bench]`: release + debug info) |", p.rustc);
        let _ = writeln!(md, "| commit | `{}` |", p.commit);
        let _ = writeln!(md, "| criterion | {} |", p.config);
        let crates: Vec<String> = p.crates.iter().map(|(name, version)| format!("{name} {version}")).collect();
        let _ = writeln!(md, "| crates | {} |", crates.join(", "));
        let _ = writeln!(md, "| load average | before: {}; after: {} |", p.load_before, p.load_after);
        let _ = writeln!(md, "\nCommand:\n\n```sh\n{}\n```\n", p.command);
        if !p.bench_commands.is_empty() {
            let _ = writeln!(md, "which ran:\n\n```sh\n{}\n```\n", p.bench_commands.join("\n"));
        }

        let _ = writeln!(md, "## Charts\n");
        let _ = writeln!(md, "![time per operation, one thread]({latency_svg})\n");
        let _ = writeln!(md, "![operations per second by thread count]({throughput_svg})\n");

        for workload in WORKLOADS {
            self.workload_table(&mut md, workload);
        }
        self.instruction_table(&mut md);
        md
    }

    fn headline(&self) -> Vec<(&'static str, &Estimate, &Estimate, Ratio)> {
        HEADLINE
            .iter()
            .filter_map(|&(label, group, tollgate, rival, parameter)| {
                let tollgate = find(self.results, group, tollgate, parameter)?;
                let rival = find(self.results, group, rival, parameter)?;
                Some((label, tollgate, rival, Ratio::of(tollgate, rival)))
            })
            .collect()
    }

    fn workload_table(&self, md: &mut String, workload: &Workload) {
        let rows: Vec<&Estimate> = self.results.iter().filter(|e| e.group == workload.group).collect();
        if rows.is_empty() {
            return;
        }
        let mut rivals: Vec<&str> = rows.iter().filter(|e| !e.is_tollgate()).map(|e| e.contender.as_str()).collect();
        rivals.sort_by_key(|name| contender_rank(name));
        rivals.dedup();
        let _ = writeln!(md, "## {} (`{}`)\n", workload.title, workload.group);
        let _ = writeln!(md, "One operation: {}.\n", workload.operation);
        let _ = write!(md, "| {} | contender | ns/op | 95% CI | total Mops/s |", workload.parameter);
        for rival in &rivals {
            let _ = write!(md, " / {rival} |");
        }
        let _ = writeln!(md, "\n|---|---|---|---|---|{}", "---|".repeat(rivals.len()));
        for row in &rows {
            let name = if row.is_tollgate() { format!("**{}**", row.contender) } else { row.contender.clone() };
            let _ = write!(
                md,
                "| {} | {name} | {} | {}–{} | {:.1} |",
                row.parameter,
                ns(row.mean_ns),
                ns(row.lower_ns),
                ns(row.upper_ns),
                row.total_ops_per_sec() / 1e6
            );
            for rival in &rivals {
                let cell = match find(self.results, &row.group, rival, &row.parameter) {
                    Some(rival) if row.is_tollgate() => format!("{:.2}", Ratio::of(row, rival).point),
                    _ => "".to_owned(),
                };
                let _ = write!(md, " {cell} |");
            }
            md.push('\n');
        }
        md.push('\n');
    }

    fn instruction_table(&self, md: &mut String) {
        let _ = writeln!(md, "## Instruction counts (iai-callgrind, `benches/instructions.rs`)\n");
        if self.instructions.is_empty() {
            let _ = writeln!(
                md,
                "No iai-callgrind summaries found: run with `--iai` (needs valgrind and iai-callgrind-runner 0.16.1) \
                 to include them.\n"
            );
            return;
        }
        let oldest = self.instructions.iter().map(|i| i.modified).min().unwrap_or(UNIX_EPOCH);
        let _ = writeln!(
            md,
            "Inclusive instructions of one call (deterministic, but not time). Summaries written on {} (UTC){}.\n",
            utc_date(oldest),
            if self.provenance.bench_commands.iter().any(|c| c.starts_with("cargo bench --bench instructions")) {
                ", by this run"
            } else {
                ", by an earlier run (not re-run for this report)"
            }
        );
        let count = |name: &str| self.instructions.iter().find(|i| i.name == name).map(|i| i.count);
        let _ = writeln!(md, "| tollgate | instructions | rival | instructions | tollgate / rival |");
        let _ = writeln!(md, "|---|---|---|---|---|");
        for &(tollgate, rival) in IAI_PAIRS {
            if let (Some(ours), Some(theirs)) = (count(tollgate), count(rival)) {
                let _ = writeln!(
                    md,
                    "| `{tollgate}` | {ours} | `{rival}` | {theirs} | {:.2} |",
                    ours as f64 / theirs as f64
                );
            }
        }
        let _ = writeln!(md, "\nAll:\n\n| group | benchmark | instructions |\n|---|---|---|");
        for entry in self.instructions {
            let _ = writeln!(md, "| {} | `{}` | {} |", entry.group, entry.name, entry.count);
        }
        md.push('\n');
    }

    pub fn json(&self) -> Value {
        let results: Vec<Value> = self
            .results
            .iter()
            .map(|e| {
                json!({
                    "group": e.group, "contender": e.contender, "parameter": e.parameter,
                    "mean_ns_per_op": e.mean_ns, "ci95_lower_ns": e.lower_ns, "ci95_upper_ns": e.upper_ns,
                    "ops_per_iteration": e.elements, "total_ops_per_sec": e.total_ops_per_sec(),
                    "source": e.source,
                })
            })
            .collect();
        let ratios: Vec<Value> = self
            .results
            .iter()
            .filter(|e| e.is_tollgate())
            .flat_map(|ours| {
                self.results
                    .iter()
                    .filter(move |theirs| {
                        !theirs.is_tollgate() && theirs.group == ours.group && theirs.parameter == ours.parameter
                    })
                    .map(move |theirs| {
                        let mut value = Ratio::of(ours, theirs).json();
                        value["group"] = json!(ours.group);
                        value["parameter"] = json!(ours.parameter);
                        value["tollgate"] = json!(ours.contender);
                        value["rival"] = json!(theirs.contender);
                        value
                    })
            })
            .collect();
        let headline: Vec<Value> = self
            .headline()
            .into_iter()
            .map(|(label, ours, theirs, ratio)| {
                let mut value = ratio.json();
                value["comparison"] = json!(label);
                value["group"] = json!(ours.group);
                value["parameter"] = json!(ours.parameter);
                value["tollgate"] = json!(ours.contender);
                value["rival"] = json!(theirs.contender);
                value
            })
            .collect();
        let instructions: Vec<Value> = self
            .instructions
            .iter()
            .map(|i| json!({ "group": i.group, "benchmark": i.name, "instructions": i.count, "source": i.source }))
            .collect();
        json!({
            "date": self.date,
            "generated_by": "examples/perf_report.rs",
            "units": "ns per operation (per operation per thread when threads > 1); ratio = tollgate / rival",
            "provenance": self.provenance.json(),
            "headline": headline,
            "results": results,
            "ratios": ratios,
            "instructions": instructions,
        })
    }
}
