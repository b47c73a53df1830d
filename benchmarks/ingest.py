"""Whole-genome ingest: BigWig and BAM -> zarr store, beside raw decoders in the same run.

Rows (the performance targets, see benchmarks/README.md):

- BigWig -> whole-genome store at 1 bp (two bedGraph-style BigWigs) and at 50 bp (two
  fixed-step 50 bp BigWigs, ``collapser='mean'``), in Mb/s (bases x files per second),
  against ``pyBigWig.values(numpy=True)`` decoding the same files in 1 Mb blocks in one
  process. Target >= 0.8x.
- The same on the two *sparse* BigWigs of the corpus (peaks only, ~5 % of the genome
  covered, bedGraph runs of 10 and 50 bp inside the peaks), at 1 bp and at 50 bp, against
  the same ``pyBigWig.values`` decode (the target baseline, >= 0.8x) and, for reference,
  against ``pyBigWig.intervals`` per 1 Mb block (the covered runs as Python tuples, nothing
  painted: what a user reading only the data would do; it follows the number of records,
  not the bases).
- BAM -> stranded 5' count store, in reads/s, against ``mosdepth -x`` writing per-base depth
  (``-t 1``: one extra decompression thread, so both use 2 cores) and against a plain pysam
  loop reading two attributes per read. Target >= 1.0x mosdepth.
- Peak RSS of BigWig 1 bp ingest at 10, 25 and 50 Mb of genome (``genomesize`` restricted to
  the first 1, 2 and 4 chromosomes of the same files): must stay flat.

genozarr runs with ``set_options(scheduler='processes', num_workers=2)``. Every measurement
runs in its own process; peak RSS is that of the largest process (ingest workers included).

Usage: ``python benchmarks/ingest.py [--quick] [--json rows.json]``.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _data

SCRIPT = os.path.abspath(__file__)


# ------------------------------------------------------------------ cases (subprocesses)
def _subset(corpus: dict, genome: str | None) -> dict[str, int]:
    sizes = corpus["chrom_sizes"]
    if genome is None:
        return sizes
    return _data.genome_subsets(sizes)[genome]


def case_raw_bigwig(p: dict) -> dict:
    import pyBigWig

    c = _data.corpus(p["quick"])
    files = c[p["files"]]
    sizes = _subset(c, p.get("genome"))
    block = 1 << 20

    intervals = p.get("method") == "intervals"

    def run() -> None:
        for f in files:
            bw = pyBigWig.open(f)
            for chrom, length in sizes.items():
                for s in range(0, length, block):
                    if intervals:
                        bw.intervals(chrom, s, min(s + block, length))
                    else:
                        bw.values(chrom, s, min(s + block, length), numpy=True)
            bw.close()

    sec = _data.timed(run, p["repeat"])
    return {"seconds": sec, "work": sum(sizes.values()) * len(files)}


def case_genozarr_bigwig(p: dict) -> dict:
    import genozarr
    from genozarr import Cover

    c = _data.corpus(p["quick"])
    files = c[p["files"]]
    sizes = _subset(c, p.get("genome"))
    opts = {"scheduler": "processes", "num_workers": p.get("workers", 2), "progress": False}
    if p.get("compressor"):
        opts["compressor"] = p["compressor"]
    genozarr.set_options(**opts)
    tmp = tempfile.mkdtemp(prefix="gzbench_")

    out = os.path.join(tmp, "bw.zarr")

    def run() -> None:
        Cover.create_from_bigwig("bw", files, binsize=10_000,
                                 resolution=p["resolution"], genomesize=sizes,
                                 store_whole_genome=True, storage="zarr", store=out,
                                 collapser="mean")

    try:
        sec = _data.timed(run, p["repeat"], setup=lambda: shutil.rmtree(out, ignore_errors=True))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return {"seconds": sec, "work": sum(sizes.values()) * len(files)}


def case_pysam_loop(p: dict) -> dict:
    import pysam

    c = _data.corpus(p["quick"])

    def run() -> None:
        with pysam.AlignmentFile(c["bam"]) as bam:
            for read in bam.fetch(until_eof=True):
                read.flag, read.reference_start  # noqa: B018  (two attributes per read)

    return {"seconds": _data.timed(run, p["repeat"]), "work": c["n_reads"]}


def case_mosdepth(p: dict) -> dict:
    import subprocess

    c = _data.corpus(p["quick"])
    exe = shutil.which("mosdepth")
    if exe is None:
        return {"skip": "mosdepth not installed (apt-get install mosdepth libhts-dev)"}
    tmp = tempfile.mkdtemp(prefix="gzbench_")
    cmd = [exe, "-x", "-t", "1", os.path.join(tmp, "out"), c["bam"]]

    def run() -> None:
        subprocess.run(cmd, check=True, capture_output=True)

    try:
        run()  # fails here (with the reason) when libhts.so cannot be loaded
    except subprocess.CalledProcessError as e:
        return {"skip": f"mosdepth failed: {e.stderr.decode()[-150:].strip()}"}
    try:
        sec = _data.timed(run, p["repeat"])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return {"seconds": sec, "work": c["n_reads"]}


def case_genozarr_bam(p: dict) -> dict:
    import genozarr
    from genozarr import Cover

    c = _data.corpus(p["quick"])
    genozarr.set_options(scheduler="processes", num_workers=2, progress=False)
    tmp = tempfile.mkdtemp(prefix="gzbench_")

    out = os.path.join(tmp, "bam.zarr")

    def run() -> None:
        Cover.create_from_bam("bam", [c["bam"]], binsize=1000, genomesize=c["chrom_sizes"],
                              store_whole_genome=True, storage="zarr", store=out)

    try:
        sec = _data.timed(run, p["repeat"], setup=lambda: shutil.rmtree(out, ignore_errors=True))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return {"seconds": sec, "work": c["n_reads"]}


CASES = {
    "raw_bigwig": case_raw_bigwig,
    "genozarr_bigwig": case_genozarr_bigwig,
    "pysam_loop": case_pysam_loop,
    "mosdepth": case_mosdepth,
    "genozarr_bam": case_genozarr_bam,
}


# ------------------------------------------------------------------ orchestration
def _run(case: str, **params: object) -> dict:
    return _data.run_case(SCRIPT, case, "--params", json.dumps(params))


def _rate(r: dict, scale: float = 1e6) -> float | None:
    if "seconds" not in r:
        return None
    return r["work"] / r["seconds"] / scale


def measure(quick: bool) -> list[dict]:
    """Run every ingest measurement; return the table rows."""
    _data.corpus(quick)  # generate before timing anything
    rep = 1 if quick else 3
    rows = []
    for res, files in ((1, "bigwigs_1bp"), (50, "bigwigs_50bp")):
        raw = _run("raw_bigwig", quick=quick, files=files, repeat=rep)
        gz = _run("genozarr_bigwig", quick=quick, files=files, resolution=res, repeat=rep)
        r_raw, r_gz = _rate(raw), _rate(gz)
        rows.append(_data.row(
            f"BigWig -> whole-genome zarr, {res} bp (2 files)", r_gz, "Mb/s",
            "pyBigWig.values decode, 1 process", r_raw,
            r_gz / r_raw if r_gz and r_raw else None, ">= 0.8x",
            gz.get("error", "2 worker processes"), gz.get("peak_rss_mb")))
    gz_lz4 = _run("genozarr_bigwig", quick=quick, files="bigwigs_1bp", resolution=1,
                  repeat=rep, compressor="lz4")
    r = _rate(gz_lz4)
    rows.append(_data.row("  same, 1 bp, compressor='lz4'", r, "Mb/s",
                          "pyBigWig.values decode", rows[0]["baseline_value"],
                          r / rows[0]["baseline_value"] if r and rows[0]["baseline_value"]
                          else None, "(tuning)", gz_lz4.get("error", "default is zstd level 1"),
                          gz_lz4.get("peak_rss_mb")))
    # sparse BigWigs: the same ingest, against values (target) and intervals (reference)
    raw = _run("raw_bigwig", quick=quick, files="bigwigs_sparse", repeat=rep)
    raw_iv = _run("raw_bigwig", quick=quick, files="bigwigs_sparse", repeat=rep,
                  method="intervals")
    r_raw, r_iv = _rate(raw), _rate(raw_iv)
    for res in (1, 50):
        gz = _run("genozarr_bigwig", quick=quick, files="bigwigs_sparse", resolution=res,
                  repeat=rep)
        r_gz = _rate(gz)
        rows.append(_data.row(
            f"BigWig sparse (peaks, 5 %) -> whole-genome zarr, {res} bp (2 files)", r_gz,
            "Mb/s", "pyBigWig.values decode, 1 process (target baseline)", r_raw,
            r_gz / r_raw if r_gz and r_raw else None, ">= 0.8x",
            gz.get("error", "2 worker processes"), gz.get("peak_rss_mb")))
        rows.append(_data.row(
            f"  same, {res} bp, vs pyBigWig.intervals", r_gz, "Mb/s",
            "pyBigWig.intervals per 1 Mb block, 1 process", r_iv,
            r_gz / r_iv if r_gz and r_iv else None, "(reference)",
            raw_iv.get("error", "tuples of the covered runs only, not painted")))
    mos = _run("mosdepth", quick=quick, repeat=rep)
    loop = _run("pysam_loop", quick=quick, repeat=rep)
    gz = _run("genozarr_bam", quick=quick, repeat=rep)
    r_gz, r_loop, r_mos = _rate(gz), _rate(loop), _rate(mos)
    if r_mos is not None:
        rows.append(_data.row("BAM -> stranded 5' store (reads/s)", r_gz, "M reads/s",
                              "mosdepth -x -t 1 per-base", r_mos,
                              r_gz / r_mos if r_gz else None, ">= 1.0x",
                              gz.get("error", "2 worker processes"), gz.get("peak_rss_mb")))
    else:
        rows.append(_data.row("BAM -> stranded 5' store vs mosdepth", r_gz, "M reads/s",
                              "mosdepth", None, None, ">= 1.0x",
                              f"row skipped: {mos.get('skip') or mos.get('error')}",
                              gz.get("peak_rss_mb")))
    rows.append(_data.row("BAM -> stranded 5' store vs pysam loop", r_gz, "M reads/s",
                          "pysam loop, 2 attributes/read, 1 process", r_loop,
                          r_gz / r_loop if r_gz and r_loop else None, "(reference)",
                          "", gz.get("peak_rss_mb")))
    if r_mos is not None:
        rows[-2]["note"] += f"; mosdepth peak RSS {mos.get('peak_rss_mb', 0):.0f} MB"
    # peak memory as the genome grows
    subsets = list(_data.genome_subsets(_data.corpus(quick)["chrom_sizes"]))
    first = None
    for g in subsets:
        r = _run("genozarr_bigwig", quick=quick, files="bigwigs_1bp", resolution=1, repeat=1,
                 genome=g)
        rss = r.get("peak_rss_mb")
        first = first or rss
        rows.append(_data.row(f"peak RSS, BigWig 1 bp ingest, {g} Mb genome", rss, "MB",
                              f"RSS at {subsets[0]} Mb", first,
                              rss / first if rss and first else None, "flat (<= 1.2x)",
                              r.get("error", ""), rss))
    return rows


def main() -> None:
    _data.script_main("whole-genome ingest benchmark", "10 Mb genome, 400k reads, 1 repeat", CASES, measure)


if __name__ == "__main__":
    main()
