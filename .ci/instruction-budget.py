#!/usr/bin/env python3
"""Instruction budget gate.

Reads the iai-callgrind summaries of `cargo bench --bench instructions -- --save-summary=json`
(target/iai/**/summary.json) and checks them against benches/instruction-budgets.toml:

* every tollgate benchmark has a budget, and every budget has a measurement (none silently skipped);
* a measured count above its budget fails;
* a budget above its rival's count measured in the same run fails, unless the table gives the
  reason in `over_rival` (printed as a warning every run, so the gap stays visible).

Instruction counts are deterministic for a given binary, so this gate does not flake; they do
change when code (ours or a rival's inlining) changes, which is what it is for.

Usage: python3 .ci/instruction-budget.py [TARGET_DIR]
"""
import glob
import json
import os
import sys
import tomllib

RIVAL_PREFIXES = ("governor_", "tokio_", "mutex_")


def measurements(target_dir):
    counts = {}
    for path in glob.glob(os.path.join(target_dir, "iai", "**", "summary.json"), recursive=True):
        with open(path) as f:
            summary = json.load(f)
        metrics = summary["profiles"][0]["summaries"]["total"]["summary"]["Callgrind"]["Ir"]["metrics"]
        new = metrics["Both"][0] if "Both" in metrics else metrics["Left"]
        group = summary["module_path"].split("::")[1]
        counts[f"{group}::{summary['function_name']}.{summary['id']}"] = new["Int"]
    return counts


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    target_dir = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("CARGO_TARGET_DIR", os.path.join(root, "target"))
    with open(os.path.join(root, "benches", "instruction-budgets.toml"), "rb") as f:
        table = tomllib.load(f)["budget"]
    counts = measurements(target_dir)
    if not counts:
        print(f"no iai-callgrind summaries under {target_dir}/iai: run the instructions bench with --save-summary=json")
        return 1
    failures, warnings = [], []
    print(f"{'benchmark':58} {'count':>6} {'budget':>6} {'rival':>6}")
    for name in sorted(counts):
        bench = name.split("::")[1]
        if bench.startswith(RIVAL_PREFIXES):
            continue
        if name not in table:
            failures.append(f"{name}: measured {counts[name]} but has no budget in benches/instruction-budgets.toml")
            continue
        entry = table[name]
        budget, count = entry["budget"], counts[name]
        rival_name = entry.get("rival")
        rival = counts.get(rival_name) if rival_name else None
        print(f"{name:58} {count:>6} {budget:>6} {rival if rival is not None else '-':>6}")
        if count > budget:
            failures.append(f"{name}: {count} instructions, over its budget of {budget}")
        if rival_name and rival is None:
            failures.append(f"{name}: its rival {rival_name} was not measured")
        elif rival is not None and budget > rival:
            reason = entry.get("over_rival")
            if reason:
                warnings.append(f"{name}: budget {budget} is above {rival_name} ({rival}): {reason}")
            else:
                failures.append(f"{name}: budget {budget} is above its rival {rival_name} ({rival}) with no reason given")
    for name in sorted(set(table) - set(counts)):
        failures.append(f"{name}: has a budget but was not measured (renamed or removed?)")
    for w in warnings:
        print(f"WARNING {w}")
    for f in failures:
        print(f"FAIL {f}")
    print("instruction budgets: " + ("FAILED" if failures else "ok"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
