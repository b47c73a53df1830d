"""Run every genozarr benchmark and print one table (each row a ratio against a baseline
measured in the same run).

Scripts run as subprocesses: ``ingest.py`` (dense and sparse BigWigs, BAM),
``conditions_memory.py`` (10 vs 200 BigWigs), ``onehot.py``, ``distributed.py`` and, if
present, ``serve.py``, ``normalize_memory.py``, ``variants.py`` and ``personal.py``. Each
is called with ``--json FILE`` (and ``--quick``); a script that writes rows there (a list of dicts with the keys of
``_data.row``) joins the table; one that does not gets its printed output appended below the
table verbatim. Janggu 0.10.2 rows come from ``janggu_results.json`` beside this file when it
exists (``{"bigwig_mbps" | "onehot_mbps" | "bam_reads_per_s": {"value": float, "unit": str}}``),
measured by a separate environment.

Usage: ``python benchmarks/run.py [--quick] [--only ingest,onehot] [--markdown FILE]``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import _data

SCRIPTS = ["ingest", "export", "conditions_memory", "onehot", "serve", "normalize_memory",
           "distributed", "variants", "personal"]
JANGGU = {
    "bigwig_mbps": ("Janggu 0.10.2: BigWig -> store", "BigWig -> whole-genome zarr, 1 bp"),
    "onehot_mbps": ("Janggu 0.10.2: one-hot", "one-hot batches"),
    "bam_reads_per_s": ("Janggu 0.10.2: BAM -> coverage", "BAM -> stranded 5' store"),
}


def _machine() -> str:
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        model = next((ln.split(":", 1)[1].strip() for ln in lscpu.splitlines()
                      if ln.startswith("Model name")), platform.processor())
    except OSError:
        model = platform.processor()
    return f"{os.cpu_count()} cores ({model}), Python {platform.python_version()}"


def _janggu_rows(rows: list[dict]) -> list[dict]:
    path = os.path.join(HERE, "janggu_results.json")
    if not os.path.isfile(path):
        return []
    data = json.loads(Path(path).read_text())
    out = []
    for key, (label, match) in JANGGU.items():
        if key not in data:
            continue
        value, unit = float(data[key]["value"]), data[key]["unit"]
        mine = next((r for r in rows if r["workload"].startswith(match)), None)
        ratio = None
        if mine and mine["value"]:
            scale = 1e-6 if unit.replace(" ", "").lower() in ("reads/s", "reads_per_s") else 1
            ratio = mine["value"] / (value * scale)
        out.append(_data.row(label, value, unit, "", None, ratio, "genozarr / Janggu",
                             "ratio: genozarr's row above over Janggu's (measured separately)"))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="10 Mb genome, 400k reads, 1 repeat: a smoke run of a few minutes")
    parser.add_argument("--only", help="comma-separated subset of " + ",".join(SCRIPTS))
    parser.add_argument("--markdown", help="also write the table and machine notes here")
    args = parser.parse_args()
    only = args.only.split(",") if args.only else SCRIPTS
    t0 = time.perf_counter()
    print(f"generating inputs in {_data.cache_root()} ...", file=sys.stderr)
    _data.corpus(args.quick)
    rows: list[dict] = []
    extra: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in only:
            script = os.path.join(HERE, f"{name}.py")
            if not os.path.isfile(script):
                continue
            out = os.path.join(tmp, f"{name}.json")
            # pass only the flags the script knows (scripts by other hands may lack them)
            helptext = subprocess.run([sys.executable, script, "--help"], capture_output=True,
                                      text=True, check=False).stdout
            cmd = [sys.executable, script]
            if "--json" in helptext:
                cmd += ["--json", out]
            if args.quick and "--quick" in helptext:
                cmd.append("--quick")
            t = time.perf_counter()
            print(f"running {name}.py ...", file=sys.stderr, flush=True)
            proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
            took = time.perf_counter() - t
            if os.path.isfile(out):
                rows.extend(json.loads(Path(out).read_text()))
            else:
                text = proc.stdout.strip() or proc.stderr.strip()[-2000:]
                extra.append(f"### {name}.py (exit {proc.returncode}, {took:.0f} s)\n\n{text}")
            print(f"  {name}.py: {took:.0f} s", file=sys.stderr)
    rows.extend(_janggu_rows(rows))
    total = time.perf_counter() - t0
    header = (f"genozarr benchmarks, {datetime.date.today()} on {_machine()}; "
              f"{'quick' if args.quick else 'full'} run, {total / 60:.1f} min")
    table = _data.format_table(rows)
    print(header)
    print(table)
    for block in extra:
        print("\n" + block)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(f"{header}\n\n{table}\n")
            for block in extra:
                f.write(f"\n{block}\n")


if __name__ == "__main__":
    main()
