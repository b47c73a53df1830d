"""BigWig reader vs raw decoders: ``genozarr.io.bigwig.read_values`` on whole-genome blocks.

One process, the 1 Mb blocks of a whole chromosome walk (what a whole-genome ingest task
reads per file), on the files of the :mod:`_data` corpus: dense bedGraph-style (1 bp runs,
~80 % covered), dense fixed-step 50 bp, and the two sparse ones (peaks only, ~5 %
covered; runs of 10 and 50 bp). Columns, in Mb/s (bases per second, best of N):

- ``pyBigWig.values``: ``bw.values(chrom, s, e, numpy=True)`` per block, NaN left as is
  (what a user's loop does; the baseline of ``ingest.py``);
- ``pyBigWig.intervals``: ``bw.intervals(chrom, s, e)`` per block (the covered runs as
  Python tuples, nothing painted);
- ``read_values``: genozarr's reader as configured (``nan_to_num=True``: NaN -> 0 done);
- ``read_values, values path`` / ``records path``: the reader forced to one decoder
  (``RECORD_SPAN_MIN = 0`` / ``1``).

Also prints the records per Mb of each file (the reader takes the records path below
``1e6 / RECORD_SPAN_MIN``). Usage: ``python benchmarks/bigwig_reader.py [--full]
[--repeat N]`` (default: the ``--quick`` corpus, 10 Mb genome).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _data

BLOCK = 1 << 20


def _best(fn, repeat: int) -> float:
    fn()  # warm-up: opens handles, fills the page cache
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def _measure_file(f: str, repeat: int, gbw: Any) -> tuple[float, float, dict[str, float]]:
    """``(Mb, records per Mb, {column: seconds})`` of one file."""
    import pyBigWig

    bw = pyBigWig.open(f)
    blocks = [(ch, s, min(s + BLOCK, n)) for ch, n in bw.chroms().items()
              for s in range(0, n, BLOCK)]
    mb = sum(e - s for _, s, e in blocks) / 1e6
    n_records = sum(len(bw.intervals(ch) or ()) for ch in bw.chroms())
    cols = {
        "pyBigWig.values": _best(lambda: [bw.values(*b, numpy=True) for b in blocks], repeat),
        "pyBigWig.intervals": _best(lambda: [bw.intervals(*b) for b in blocks], repeat),
    }
    default = gbw.RECORD_SPAN_MIN
    for name, span in (("read_values", default), ("values path", 0), ("records path", 1)):
        gbw.RECORD_SPAN_MIN = span
        try:
            cols[name] = _best(lambda: [gbw.read_values(f, *b) for b in blocks], repeat)
        finally:
            gbw.RECORD_SPAN_MIN = default
    bw.close()
    return mb, n_records / mb, cols


def measure(c: dict, repeat: int) -> list[tuple[str, float, dict[str, float]]]:
    """``[(file label, records per Mb, {column: Mb/s})]``."""
    import genozarr.io.bigwig as gbw

    files = [("dense 1 bp runs", c["bigwigs_1bp"][0]), ("dense fixed 50 bp", c["bigwigs_50bp"][0])]
    files += [(f"sparse, {run:g} bp runs", f)
              for run, f in zip(_data.SPARSE_RUNS, c["bigwigs_sparse"])]
    out = []
    for label, f in files:
        mb, density, rates = _measure_file(f, repeat, gbw)
        out.append((label, density, {k: mb / v for k, v in rates.items()}))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--full", action="store_true", help="50 Mb corpus (default: 10 Mb)")
    ap.add_argument("--repeat", type=int, default=5, help="best of N")
    args = ap.parse_args()
    c = _data.corpus(not args.full)
    rows = measure(c, args.repeat)
    import genozarr.io.bigwig as gbw

    cols = list(rows[0][2])
    print(f"Mb/s, 1 Mb blocks, one process, best of {args.repeat}; genome "
          f"{c['genome_bases'] / 1e6:g} Mb; records path below {1e6 / gbw.RECORD_SPAN_MIN:,.0f}"
          " records/Mb")
    print("| file | records/Mb | " + " | ".join(cols) + " | read_values / values |")
    print("|---" * (len(cols) + 3) + "|")
    for label, density, r in rows:
        cells = " | ".join(f"{r[k]:,.0f}" for k in cols)
        print(f"| {label} | {density:,.0f} | {cells} | "
              f"{r['read_values'] / r['pyBigWig.values']:.2f}x |")


if __name__ == "__main__":
    main()
