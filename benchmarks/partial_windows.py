"""Partial-layout builds over many windows: BAM, BigWig and FASTA datasets of ``n`` tiled
100 bp windows, and interval keys on the store built.

A partial-layout build (``store_whole_genome=False``, the default) stores one row per
window. Nearby windows of one build task are read as one span and cut per window
(``genozarr.ingest._window_spans``); the baseline, measured in the same run, is the same
build with every window read by itself (``genozarr.ingest._MERGE_GAP`` set so that no two
windows merge: what every build did before). Rows:

- ``Cover.create_from_bam`` (stranded 5' counts, resolution 50), ``Cover.create_from_bigwig``
  (resolution 50) and ``Bioseq.create_from_refgenome`` over ``n`` windows of 100 bp tiling
  the benchmark corpus's chromosomes from their starts;
- the same three builds over ``--scattered`` windows of 200 bp at random places, sorted
  (20,000 by default: a BED file of peaks, say; 2.5 kb apart on average on the 50 Mb
  corpus), no resolution, where
  a BAM source merges windows across gaps of fewer than ``READS_PER_FETCH`` reads
  (``genozarr.sources``) and the others across gaps under ``_MERGE_GAP`` bases;
- the same windows in random order (a shuffled ROI: a build kept in memory reads them in
  genomic order and puts the rows back in the ROI's order);
- 100 interval keys ``ds[chrom, a, a + 1000]`` at random places of the BigWig store
  reopened with ``genozarr.open_dataset`` (the baseline: the same keys finding their rows
  with a scan of every row, as before).

Each build is timed as the median of ``repeat`` runs after one warm-up run, in this one
process (in-memory storage, genozarr's default scheduler). The values of the two builds
are checked to be equal.

Usage: ``python benchmarks/partial_windows.py [--n 100000 ...] [--scattered 20000 ...]
[--repeat 3] [--quick]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _data

import genozarr
from genozarr import Bioseq, Cover, ingest


def tiled(sizes: dict[str, int], n: int, binsize: int = 100) -> pd.DataFrame:
    """``n`` windows of ``binsize`` tiling the chromosomes from their starts (as evenly
    as their lengths allow), with random strands."""
    chroms = list(sizes)
    per = -(-n // len(chroms))
    rows = []
    for c in chroms:
        k = min(per, sizes[c] // binsize, n - sum(len(r[1]) for r in rows))
        rows.append((c, np.arange(k) * binsize))
    chrom = np.concatenate([[c] * len(s) for c, s in rows])
    start = np.concatenate([s for _, s in rows])
    rng = np.random.default_rng(0)
    return pd.DataFrame({"chrom": chrom, "start": start, "end": start + binsize,
                         "strand": rng.choice(["+", "-"], len(start))})


def scattered(sizes: dict[str, int], n: int, binsize: int = 200) -> pd.DataFrame:
    """``n`` windows of ``binsize`` at random places of the chromosomes (peaks, say), in
    the order of a sorted BED file: on the 50 Mb corpus, 20,000 windows lie 2.5 kb apart
    on average."""
    rng = np.random.default_rng(1)
    chroms = np.array(list(sizes))
    lengths = np.array([sizes[c] for c in chroms])
    which = rng.choice(len(chroms), n, p=lengths / lengths.sum())
    start = (rng.random(n) * (lengths[which] - binsize)).astype(np.int64)
    roi = pd.DataFrame({"chrom": chroms[which], "start": start, "end": start + binsize})
    return roi.sort_values(["chrom", "start"], ignore_index=True)


def timed(build: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    build()  # warm-up: handles, indexes, imports
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = build()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def per_window(build: Callable[[], Any]) -> Callable[[], Any]:
    """``build`` with every window read by itself (no span merges)."""

    def run() -> Any:
        saved = ingest._MERGE_GAP
        ingest._MERGE_GAP = -(10**12)
        try:
            return build()
        finally:
            ingest._MERGE_GAP = saved

    return run


def scan_rows(store: Any) -> Callable[[], None]:
    """Make ``store`` find an interval's rows by a scan of every row (as before)."""
    t = store.region_table

    def rows_overlapping(chrom: str, start: int, end: int) -> np.ndarray:
        return np.flatnonzero((t["chrom"] == chrom) & (t["start"] < end) & (t["end"] > start))

    store.rows_overlapping = rows_overlapping
    return lambda: store.__dict__.pop("rows_overlapping", None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="*", default=[100_000],
                        help="tiled windows (none: skip these rows)")
    parser.add_argument("--scattered", type=int, nargs="*", default=[20_000],
                        help="windows at random places (none: skip these rows)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="the small corpus")
    args = parser.parse_args()
    corpus = _data.corpus(args.quick)
    sizes = corpus["chrom_sizes"]
    bigwig = corpus["bigwigs_1bp"][0]
    print(f"partial-layout builds of n tiled 100 bp windows (and of scattered 200 bp "
          f"windows); corpus {corpus['dir']}; "
          f"cores {os.cpu_count()}; median of {args.repeat} runs")
    print(f"{'workload':52} {'n':>9} {'genozarr s':>11} {'per window s':>13} {'speed-up':>9}")
    def compare(builds: dict[str, Callable[[], Any]], n: int) -> None:
        for name, build in builds.items():
            fast, a = timed(build, args.repeat)
            slow, b = timed(per_window(build), args.repeat)
            if not np.array_equal(a[:], b[:]):
                raise SystemExit(f"{name}: the values differ from the per-window build")
            print(f"{name:52} {n:>9,} {fast:>11.2f} {slow:>13.2f} {slow / fast:>8.1f}x")

    for n, shuffled in ((n, s) for n in args.scattered for s in (False, True)):
        roi = scattered(sizes, n)
        kind = "scattered 200 bp"
        if shuffled:
            roi = roi.sample(frac=1, random_state=0, ignore_index=True)
            kind = "the same, random order"
        compare({
            f"{kind}: Cover.create_from_bam (5')": lambda roi=roi:
                Cover.create_from_bam("b", corpus["bam"], roi=roi, binsize=200),
            f"{kind}: Cover.create_from_bigwig": lambda roi=roi:
                Cover.create_from_bigwig("w", bigwig, roi=roi, binsize=200),
            f"{kind}: Bioseq.create_from_refgenome": lambda roi=roi:
                Bioseq.create_from_refgenome("s", corpus["fasta"], roi=roi, binsize=200),
        }, len(roi))
    for n in args.n:
        roi = tiled(sizes, n)
        builds = {
            "Cover.create_from_bam (5', resolution 50)": lambda roi=roi: Cover.create_from_bam(
                "b", corpus["bam"], roi=roi, binsize=100, resolution=50),
            "Cover.create_from_bigwig (resolution 50)": lambda roi=roi: Cover.create_from_bigwig(
                "w", bigwig, roi=roi, binsize=100, resolution=50),
            "Bioseq.create_from_refgenome": lambda roi=roi: Bioseq.create_from_refgenome(
                "s", corpus["fasta"], roi=roi, binsize=100),
        }
        compare(builds, len(roi))
        with tempfile.TemporaryDirectory() as tmp:
            Cover.create_from_bigwig("w", bigwig, roi=roi, binsize=100, resolution=50,
                                     storage="zarr", store=os.path.join(tmp, "w.zarr"))
            ds = genozarr.open_dataset(os.path.join(tmp, "w.zarr"))
            rng = np.random.default_rng(1)
            chrom = str(roi["chrom"].iloc[0])
            reach = int(roi.loc[roi["chrom"] == chrom, "end"].max()) - 1000
            keys = rng.integers(0, reach, 100)

            def keys_read(ds: Any = ds, chrom: str = chrom, keys: Any = keys) -> float:
                return float(sum(ds[chrom, int(a), int(a) + 1000].sum() for a in keys))

            fast, total = timed(keys_read, args.repeat)
            restore = scan_rows(ds.garray)
            try:
                slow, again = timed(keys_read, args.repeat)
            finally:
                restore()
            if total != again:
                raise SystemExit("interval keys: the values differ from the row scan")
            print(f"{'100 interval keys, 1 kb, reopened BigWig store':52} {len(roi):>9,} "
                  f"{fast:>11.3f} {slow:>13.3f} {slow / fast:>8.1f}x")
    print("per window: every window read by itself (interval keys: a scan of every row), "
          "as before; same values checked")


if __name__ == "__main__":
    main()
