"""Ingest as the number of worker processes grows: BigWig and FASTA -> whole-genome store.

The ingest rows of ``ingest.py`` and ``onehot.py`` run with 2 worker processes, the cores
of the development machine. This script runs the same cases (each in a fresh process,
median of ``--repeat`` builds after a warm-up) with 1, 2, 4, ... worker processes up to
the core count, beside the same one-process baselines:

- BigWig -> whole-genome zarr at 1 bp and at 50 bp (the corpus's two dense files each),
  against ``pyBigWig.values(numpy=True)`` in 1 Mb blocks in one process (``ingest.py``'s
  target baseline: >= 0.8x);
- FASTA -> whole-genome uint8 store (the corpus's 50 Mb genome), against pysam fetch +
  numpy table encode in 1 Mb blocks in one process (``onehot.py``'s baseline: >= 1.0x).

Each row gives the rate, its ratio to the baseline, and the speed-up over 1 worker
(``vs 1 worker``; ideal: the number of workers).

Usage: ``python benchmarks/cores.py [--quick] [--workers 1 2 4 8] [--repeat 3]``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _data

HERE = os.path.dirname(os.path.abspath(__file__))


def _run(script: str, case: str, **params: object) -> dict:
    return _data.run_case(os.path.join(HERE, script), case, "--params", json.dumps(params))


def _rate(r: dict) -> float | None:
    return r["work"] / r["seconds"] / 1e6 if "seconds" in r else None


def default_workers(cores: int) -> list[int]:
    """1, 2, 4, ... up to ``cores``, and ``cores`` itself."""
    out = [1]
    while out[-1] * 2 <= cores:
        out.append(out[-1] * 2)
    if out[-1] != cores:
        out.append(cores)
    return out


def measure(quick: bool, workers: list[int], repeat: int) -> list[dict]:
    """Run every case; return the table rows."""
    _data.corpus(quick)  # generate before timing anything
    rows = []
    cases = [(f"BigWig -> whole-genome zarr, {res} bp (2 files)", "ingest.py", "raw_bigwig",
              {"files": files}, "genozarr_bigwig", {"files": files, "resolution": res},
              "pyBigWig.values decode, 1 process", ">= 0.8x")
             for res, files in ((1, "bigwigs_1bp"), (50, "bigwigs_50bp"))]
    cases.append(("FASTA -> whole-genome uint8 zarr store", "onehot.py", "fasta_raw", {},
                  "fasta_store", {}, "pysam fetch + numpy table encode, 1 process", ">= 1.0x"))
    for label, script, base_case, base_p, case, p, base_label, target in cases:
        base = _rate(_run(script, base_case, quick=quick, repeat=repeat, **base_p))
        one = None
        for w in workers:
            r = _run(script, case, quick=quick, repeat=repeat, workers=w, **p)
            rate = _rate(r)
            one = one or (rate if w == workers[0] else None)
            note = r.get("error", f"{w} worker process{'es' if w > 1 else ''}")
            if rate and one:
                note += f"; {rate / one:.2f}x of {workers[0]} worker(s)"
            rows.append(_data.row(f"{label}, {w} workers", rate, "Mb/s", base_label, base,
                                  rate / base if rate and base else None, target, note,
                                  r.get("peak_rss_mb")))
    return rows


def main() -> None:
    cores = os.cpu_count() or 1
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small corpus (10 Mb)")
    parser.add_argument("--workers", type=int, nargs="+", default=default_workers(cores))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", help="also write the rows to this JSON file")
    args = parser.parse_args()
    t = time.perf_counter()
    print(f"cores {cores}")
    _data.emit(measure(args.quick, args.workers, args.repeat), args.json)
    print(f"(ingest scaling: {time.perf_counter() - t:.0f} s)", file=sys.stderr)


if __name__ == "__main__":
    main()
