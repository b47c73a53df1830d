"""Peak memory and wall time of a whole-genome BigWig ingest as the number of conditions grows.

The same small genome (5 Mb by default, chromosomes as in :mod:`_data`), 10 and 200 BigWigs
(one condition each; fixed seeds; 1 bp bedGraph-style runs, ~80 % covered, as
``genozarr.testing.simulate.simulate_bigwig`` writes them; the 10-file set is the first 10
files of the 200). Each case builds ``Cover.create_from_bigwig(..., store_whole_genome=True,
storage='zarr')`` at 1 bp and at 50 bp (``collapser='mean'``) in a fresh process, with
``set_options(scheduler='processes', num_workers=2)`` as in ``ingest.py``, and reports

- the peak of the summed resident memory of that process and all its descendants (ingest
  workers, fork server), sampled every 20 ms with psutil (``_data.start_rss_sampler``), or
  the largest single process's ``ru_maxrss`` if that is higher;
- the wall time of one build (not repeated; after an untimed build of the first file
  alone, which pays the start of the worker processes) and the rate in Mb/s (bases x
  files).

Rows compare 200 files with 10 files at the same resolution: peak RSS must stay flat
(target <= 1.2x); the time per file should stay flat too (ratio of the rates ~1.0x).

Usage: ``python benchmarks/conditions_memory.py [--quick] [--json rows.json]``
(``--quick``: 2 Mb genome). Files are generated once into
``$GENOZARR_BENCH_DATA/conditions_g<size>mb_s<seed>``.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _data

SCRIPT = os.path.abspath(__file__)
COUNTS = (10, 200)
RESOLUTIONS = (1, 50)
GENOME_MB = {False: 5.0, True: 2.0}


def corpus(quick: bool) -> dict:
    """Generate (once) and return ``{"files": [200 paths], "chrom_sizes": {...}}``."""
    from genozarr.testing.simulate import simulate_bigwig

    mb = GENOME_MB[quick]
    sizes = _data.chrom_sizes(mb)
    d = _data.cache_root() / f"conditions_g{mb:g}mb_s{_data.SEED}"
    files = [str(d / f"cond{i:03d}.bw") for i in range(max(COUNTS))]
    done = d / "COMPLETE"
    if not done.is_file():
        d.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        for i, f in enumerate(files):
            simulate_bigwig(f, sizes, seed=_data.SEED + 100 + i, kind="bedgraph")
        done.write_text(json.dumps({"genome_mb": mb, "n_files": len(files)}) + "\n")
        print(f"[data] generated {d} in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    return {"files": files, "chrom_sizes": sizes}


# ------------------------------------------------------------------ case (subprocess)
def case_build(p: dict) -> dict:
    import genozarr
    from genozarr import Cover

    c = corpus(p["quick"])
    files = c["files"][: p["n"]]
    genozarr.set_options(scheduler="processes", num_workers=2, progress=False)
    tmp = tempfile.mkdtemp(prefix="gzbench_cond_")

    def build(paths: list[str], name: str) -> None:
        Cover.create_from_bigwig("bw", paths, binsize=10_000, resolution=p["resolution"],
                                 genomesize=c["chrom_sizes"], store_whole_genome=True,
                                 storage="zarr", store=str(Path(tmp) / name),
                                 collapser="mean")

    try:
        build(files[:1], "warmup.zarr")  # pays the session start (worker processes)
        t = time.perf_counter()
        build(files, "bw.zarr")
        sec = time.perf_counter() - t
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return {"seconds": sec, "work": sum(c["chrom_sizes"].values()) * len(files)}


CASES = {"build": case_build}


# ------------------------------------------------------------------ orchestration
def measure(quick: bool) -> list[dict]:
    """Build every (resolution, number of files) case in its own process; return rows."""
    c = corpus(quick)
    mb = sum(c["chrom_sizes"].values()) / 1e6
    rows = []
    for res in RESOLUTIONS:
        base: dict | None = None
        for n in COUNTS:
            r = _data.run_case(SCRIPT, "build", "--params",
                               json.dumps({"quick": quick, "n": n, "resolution": res}))
            rss = r.get("peak_rss_mb")
            rate = r["work"] / r["seconds"] / 1e6 if "seconds" in r else None
            if base is None:
                base = {"rss": rss, "rate": rate}
            note = r.get("error") or (f"one build {r['seconds']:.1f} s, {rate:.0f} Mb/s; "
                                      f"{mb:g} Mb genome, 2 worker processes")
            rows.append(_data.row(
                f"peak RSS, BigWig -> whole-genome zarr, {res} bp, {n} files", rss, "MB",
                f"{COUNTS[0]} files", base["rss"],
                rss / base["rss"] if rss and base["rss"] else None, "flat (<= 1.2x)", note,
                rss))
            if n != COUNTS[0]:
                rows.append(_data.row(
                    f"  rate, {res} bp, {n} files", rate, "Mb/s", f"{COUNTS[0]} files",
                    base["rate"], rate / base["rate"] if rate and base["rate"] else None,
                    "~1.0x", "bases x files per second"))
    return rows


def main() -> None:
    _data.script_main("conditions memory benchmark", "2 Mb genome", CASES, measure)


if __name__ == "__main__":
    main()
