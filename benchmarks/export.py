"""Export: a whole-genome store -> BigWig, beside the ingest of the same files, same run.

Rows (per input set: the two bedGraph-style 1 bp BigWigs and the two sparse ones of the
corpus, peaks only):

- ingest: ``Cover.create_from_bigwig(..., resolution=1, store_whole_genome=True,
  storage='zarr')`` with 2 worker processes, in Mb/s (bases x files per second);
- export: :func:`genozarr.export.export_to_bigwig` of that store (one BigWig per
  condition), in Mb/s over the same bases. Target: export >= ingest speed;
- size: the exported files' bytes over the source files' bytes (target <= 1.2x);
- each export twice: as is, and with ``skip_zeros=True`` (bins of 0 left out);
- values: every base of every chromosome of each exported file read back with
  ``pyBigWig.values`` and compared with the source's (NaN, no data, read as 0 on both
  sides, since the store holds 0 where the source has no data); the row reports the
  largest absolute difference (target 0) and the bases each file covers.

Every measurement runs in its own process (median of ``repeat`` runs after a warm-up).
An export case builds its store first, then stops the build's worker processes, so its
peak RSS (of the process tree: ``_data.report``) is the larger of the build's and the
export's, the fork server and the writer processes included.

Usage: ``python benchmarks/export.py [--quick] [--json rows.json]``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _data

SCRIPT = os.path.abspath(__file__)
BLOCK = 1 << 20


def _ingest(files: list[str], sizes: dict[str, int], out: str) -> object:
    from genozarr import Cover

    return Cover.create_from_bigwig("bw", files, binsize=10_000, resolution=1,
                                    genomesize=sizes, store_whole_genome=True,
                                    storage="zarr", store=out)


@contextlib.contextmanager
def _case(p: dict) -> Iterator[tuple[list[str], dict[str, int], str]]:
    """The input files and chromosome sizes of a case, with 2 ingest worker processes and
    a temporary directory (removed afterwards)."""
    import genozarr

    c = _data.corpus(p["quick"])
    genozarr.set_options(scheduler="processes", num_workers=2, progress=False)
    tmp = tempfile.mkdtemp(prefix="gzbench_")
    try:
        yield c[p["files"]], c["chrom_sizes"], tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def case_ingest(p: dict) -> dict:
    with _case(p) as (files, sizes, tmp):
        out = os.path.join(tmp, "bw.zarr")
        sec = _data.timed(lambda: _ingest(files, sizes, out), p["repeat"],
                          setup=lambda: shutil.rmtree(out, ignore_errors=True))
    return {"seconds": sec, "work": sum(sizes.values()) * len(files)}


def _compare(source: str, exported: str, sizes: dict[str, int]) -> tuple[float, int, int]:
    """Largest |difference| over every base (NaN read as 0) and the bases each covers."""
    import numpy as np
    import pyBigWig

    worst, covered = 0.0, [0, 0]
    with pyBigWig.open(source) as a, pyBigWig.open(exported) as b:
        for chrom, length in sizes.items():
            for s in range(0, length, BLOCK):
                e = min(s + BLOCK, length)
                va = a.values(chrom, s, e, numpy=True)
                vb = b.values(chrom, s, e, numpy=True)
                covered[0] += int((~np.isnan(va)).sum())
                covered[1] += int((~np.isnan(vb)).sum())
                worst = max(worst, float(np.abs(np.nan_to_num(va) - np.nan_to_num(vb)).max()))
    return worst, covered[0], covered[1]


def case_export(p: dict) -> dict:
    from genozarr.export import export_to_bigwig

    from genozarr.store._run import shutdown_pool

    with _case(p) as (files, sizes, tmp):
        cover = _ingest(files, sizes, os.path.join(tmp, "bw.zarr"))
        # the build's worker processes would idle through the export, counted in its
        # peak memory (the process tree's); the writers fork from the fork server, which
        # stays (and is counted)
        shutdown_pool()
        out = os.path.join(tmp, "out")

        written: list[str] = []

        def run() -> None:  # one file per source, in its order
            written[:] = export_to_bigwig(cover, out, skip_zeros=p.get("skip_zeros", False))

        sec = _data.timed(run, p["repeat"], setup=lambda: shutil.rmtree(out, ignore_errors=True))
        checks = [_compare(src, dst, sizes) for src, dst in zip(files, written)]
        return {"seconds": sec, "work": sum(sizes.values()) * len(files),
                "bytes_out": sum(os.path.getsize(f) for f in written),
                "bytes_in": sum(os.path.getsize(f) for f in files),
                "max_abs_diff": max(w for w, _, _ in checks),
                "covered_in": sum(a for _, a, _ in checks),
                "covered_out": sum(b for _, _, b in checks)}


CASES = {"ingest": case_ingest, "export": case_export}


def _run(case: str, **params: object) -> dict:
    return _data.run_case(SCRIPT, case, "--params", json.dumps(params))


def _rate(r: dict) -> float | None:
    return r["work"] / r["seconds"] / 1e6 if "seconds" in r else None


def measure(quick: bool) -> list[dict]:
    """Ingest and export of each input set; return the table rows."""
    _data.corpus(quick)
    rep = 1 if quick else 3
    rows = []
    for files, label in (("bigwigs_1bp", "1 bp BigWigs (2 files)"),
                         ("bigwigs_sparse", "sparse BigWigs, peaks 5 % (2 files)")):
        ing = _run("ingest", quick=quick, files=files, repeat=rep)
        r_in = _rate(ing)
        for skip in (False, True):
            exp = _run("export", quick=quick, files=files, repeat=rep, skip_zeros=skip)
            r_out = _rate(exp)
            what = f"{label}{', skip_zeros' if skip else ''}"
            rows.append(_data.row(
                f"export store -> BigWig, {what}", r_out, "Mb/s",
                "ingest of the same files (2 worker processes)", r_in,
                r_out / r_in if r_out and r_in else None, ">= 1.0x",
                exp.get("error", "one pyBigWig process per file, reader threads ahead"),
                exp.get("peak_rss_mb")))
            if "bytes_out" in exp:
                rows.append(_data.row(
                    f"  exported size, {what}", exp["bytes_out"] / 1e6, "MB",
                    "source files", exp["bytes_in"] / 1e6, exp["bytes_out"] / exp["bytes_in"],
                    "<= 1.2x",
                    f"max |exported - source| {exp['max_abs_diff']:g} (target 0); bases "
                    f"covered {exp['covered_out']:,} vs source {exp['covered_in']:,}"))
    return rows


def main() -> None:
    _data.script_main("export benchmark", "10 Mb genome, 1 repeat", CASES, measure)


if __name__ == "__main__":
    main()
