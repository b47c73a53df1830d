"""Windows of a genome tiled in small bins: build, reopen and first read of a whole-genome
store as the number of windows grows, on the same genome.

A genome tiled in 200 bp windows with step 50 has 20 windows per kb: 8 M on the 400 Mb
benchmark genome, 62 M on a human genome. The store records every window (chromosome,
start, end, strand: ``genozarr-windows``), and every dataset over it holds them in memory.
This measures what they cost, beside the same genome tiled in 1 kb windows (400,000):

- ``Bioseq.create_from_refgenome(..., store_whole_genome=True)`` of the uint8 store, with
  2 worker processes;
- ``genozarr.open_dataset`` of the store and the added memory (RSS after - before);
- the first read of one window after opening (what a dataset works out once per window).

Every measurement runs in its own process. Usage: ``python benchmarks/windows.py [--quick]
[--json rows.json]`` (``--quick``: the 50 Mb corpus genome).
"""

from __future__ import annotations

import gc
import json
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _data

SCRIPT = os.path.abspath(__file__)
LARGE_MB = 400
TILINGS = ((1000, 1000), (200, 50))  # (binsize, stepsize)


def _fasta(quick: bool) -> dict:
    return _data.corpus(True) if quick else _data.large_fasta(LARGE_MB)


def case_tiling(p: dict) -> dict:
    import psutil

    import genozarr
    from genozarr import Bioseq

    c = _fasta(p["quick"])
    genozarr.set_options(scheduler="processes", num_workers=2, progress=False)
    tmp = tempfile.mkdtemp(prefix="gzbench_")
    out = os.path.join(tmp, "dna.zarr")

    def create() -> None:
        Bioseq.create_from_refgenome("dna", c["fasta"], binsize=p["binsize"],
                                     stepsize=p["stepsize"], storage="zarr", store=out,
                                     store_whole_genome=True)

    try:
        build = _data.timed(create, p["repeat"],
                            setup=lambda: shutil.rmtree(out, ignore_errors=True))
        proc = psutil.Process()
        opens, reads, added = [], [], []
        for _ in range(p["repeat"]):
            gc.collect()
            rss = proc.memory_info().rss
            t = time.perf_counter()
            ds = genozarr.open_dataset(out)
            t1 = time.perf_counter()
            ds[len(ds) // 2]
            reads.append(time.perf_counter() - t1)
            opens.append(t1 - t)
            added.append((proc.memory_info().rss - rss) / 2**20)
            n = len(ds)
            del ds
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return {"seconds": build, "open_seconds": min(opens), "read_seconds": min(reads),
            "open_mb": max(added), "windows": n}


CASES = {"tiling": case_tiling}


def measure(quick: bool) -> list[dict]:
    """Build, open and read at each tiling; return the table rows."""
    _fasta(quick)  # generate before timing anything
    rep = 1 if quick else 3
    res = {t: _data.run_case(SCRIPT, "tiling", "--params", json.dumps(
        {"quick": quick, "repeat": rep, "binsize": t[0], "stepsize": t[1]})) for t in TILINGS}
    base, fine = res[TILINGS[0]], res[TILINGS[1]]
    rows = []
    if "seconds" not in base or "seconds" not in fine:
        err = base.get("error") or fine.get("error", "")
        return [_data.row("windows benchmark", None, "s", "", None, None, "", err, None)]
    label = f"{fine['windows']:,} windows (bin 200, step 50)"
    ref = f"{base['windows']:,} windows (bin 1000)"
    for what, key, unit, scale in (("build", "seconds", "s", 1),
                                   ("open_dataset", "open_seconds", "s", 1),
                                   ("first read after opening", "read_seconds", "ms", 1e3),
                                   ("memory added by open_dataset", "open_mb", "MB", 1)):
        v, b = fine[key] * scale, base[key] * scale
        rows.append(_data.row(f"{what}, {label}", v, unit, ref, b, v / b if b else None,
                              "(reference)", "", fine.get("peak_rss_mb")))
    return rows


def main() -> None:
    _data.script_main("windows benchmark", "50 Mb genome, 1 repeat", CASES, measure)


if __name__ == "__main__":
    main()
