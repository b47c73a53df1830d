"""Ingest profile per stage: where the time of a whole-genome ingest goes.

Each stage of the ingest of one input is timed in isolation, in one process, on the same
generated data (the ``--quick`` corpus of :mod:`_data` by default: 10 Mb genome), then the
whole ``Cover.create_from_*(..., store_whole_genome=True, storage='zarr')`` is timed with
the synchronous scheduler and with the processes scheduler (2 workers):

- decode: ``pyBigWig.values(numpy=True)`` (BigWig) / ``genozarr.io.bam.count_5prime`` (BAM)
  in blocks of 1 Mb;
- NaN handling: the boolean-mask assignment ``read_values`` does (``np.nan_to_num`` beside
  it for reference);
- collapse: ``genozarr._kernels.collapse`` to the resolution (50 bp only);
- dtype: ``astype`` to the store's dtype (float32) with a copy, the worst case (the ingest
  path uses ``copy=False``: free when the dtype already matches);
- compression: numcodecs Blosc with the store's settings
  (``genozarr.store.write._compressors()``: no shuffle at 1 bp), on chunks of
  ``chunk_bytes``;
- file write: the compressed chunks written to files, one per chunk;
- transfer: ``pickle.dumps`` + ``loads`` of the decoded blocks (what a worker process sends
  back to the writer with the processes scheduler);
- ingest, sync / processes: the full ingest; "task overhead" is ingest sync minus the
  sum of the isolated stages.

A second table compares the BigWig decoders on the two read patterns, in the same run:
the partial layout's windows (20,000 windows of 1 kb, ``read_values`` and a full
partial-layout ingest, sync) with pybigtools for short windows (the default) and with
pyBigWig only (``genozarr.io.bigwig.WINDOW_MAX_BASES = 0``, as before), and the 1 Mb
chromosome blocks of the whole-genome ingest, ``pyBigWig.values`` vs ``pybigtools.values``.

Figures are seconds per Mb of input (bases x files). Usage:
``python benchmarks/ingest_profile.py [--full] [--repeat N]``.
"""

from __future__ import annotations

import argparse
import os
import pickle
import shutil
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _data

BLOCK = 1 << 20


def _best(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def _blosc(runs: bool):
    """The numcodecs Blosc of a new float32 array (``runs``: per-base coverage)."""
    from genozarr.store._direct import blosc_for
    from genozarr.store.write import _compressors

    (codec,) = _compressors(np.float32, runs)  # zarr BloscCodec: same settings in numcodecs
    return blosc_for(codec), codec


def _encode_write_stages(blocks: list[np.ndarray], repeat: int, tmp: str,
                         runs: bool) -> dict[str, float]:
    from genozarr.config import OPTIONS

    blosc, _ = _blosc(runs)
    flat = np.concatenate([b.reshape(-1) for b in blocks])
    per_chunk = max(1, OPTIONS["chunk_bytes"] // flat.itemsize)
    chunks = [flat[i:i + per_chunk] for i in range(0, len(flat), per_chunk)]
    encoded: list[bytes] = []

    def enc() -> None:
        encoded[:] = [blosc.encode(c) for c in chunks]

    def write() -> None:
        d = os.path.join(tmp, "chunks")
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        for k, e in enumerate(encoded):
            with open(os.path.join(d, str(k)), "wb") as fh:
                fh.write(e)

    out = {"compression": _best(enc, repeat)}
    out["file write"] = _best(write, repeat)
    out["(compression ratio)"] = flat.nbytes / max(1, sum(len(e) for e in encoded))
    return out


def profile_bigwig(c: dict, kind: str, res: int, repeat: int, tmp: str) -> dict[str, float]:
    import pyBigWig

    import genozarr
    from genozarr import Cover
    from genozarr._kernels import collapse

    files = c[kind]
    sizes = c["chrom_sizes"]
    work = sum(sizes.values()) * len(files) / 1e6
    spans = [(ch, s, min(s + BLOCK, n)) for ch, n in sizes.items() for s in range(0, n, BLOCK)]
    raw: list[np.ndarray] = []

    def decode() -> None:
        raw.clear()
        for f in files:
            bw = pyBigWig.open(f)
            raw.extend(bw.values(ch, s, e, numpy=True) for ch, s, e in spans)
            bw.close()

    st = {"decode (pyBigWig.values)": _best(decode, repeat)}
    copies = [[r.copy() for r in raw] for _ in range(repeat)]

    def mask() -> None:
        for r in copies.pop():
            r[np.isnan(r)] = 0.0

    st["NaN -> 0 (mask)"] = _best(mask, repeat)
    st["  (np.nan_to_num, ref.)"] = _best(lambda: [np.nan_to_num(r) for r in raw], repeat)
    vals = [np.where(np.isnan(r), np.float32(0), r).reshape(-1, 1, 1) for r in raw]
    if res > 1:
        st["collapse (mean)"] = _best(
            lambda: [collapse(v[: len(v) // res * res], res, "mean") for v in vals], repeat)
        vals = [collapse(v[: len(v) // res * res], res, "mean") for v in vals]
    st["astype float32 (copy)"] = _best(lambda: [v.astype(np.float32) for v in vals], repeat)
    st.update(_encode_write_stages(vals, repeat, tmp, runs=res == 1))
    st["transfer (pickle round trip)"] = _best(
        lambda: [pickle.loads(pickle.dumps(v, protocol=5)) for v in vals], repeat)
    st.update(_full(lambda out: Cover.create_from_bigwig(
        "bw", files, binsize=10_000, resolution=res, genomesize=sizes,
        store_whole_genome=True, storage="zarr", store=out), genozarr, repeat, tmp))
    return {k: (v if k.startswith("(") else v / work) for k, v in st.items()}


def profile_bam(c: dict, repeat: int, tmp: str) -> dict[str, float]:
    import genozarr
    from genozarr import Cover
    from genozarr.io.bam import count_5prime

    sizes = c["chrom_sizes"]
    work = sum(sizes.values()) / 1e6
    spans = [(ch, s, min(s + BLOCK, n)) for ch, n in sizes.items() for s in range(0, n, BLOCK)]
    raw: list[np.ndarray] = []

    def decode() -> None:
        raw[:] = [count_5prime(c["bam"], ch, s, e) for ch, s, e in spans]

    st = {"decode (count_5prime)": _best(decode, repeat)}
    vals = [r[:, :, None] for r in raw]
    st["astype float32 (copy)"] = _best(lambda: [v.astype(np.float32) for v in vals], repeat)
    vals = [v.astype(np.float32) for v in vals]
    st.update(_encode_write_stages(vals, repeat, tmp, runs=True))
    st["transfer (pickle round trip)"] = _best(
        lambda: [pickle.loads(pickle.dumps(v, protocol=5)) for v in vals], repeat)
    st.update(_full(lambda out: Cover.create_from_bam(
        "bam", c["bam"], binsize=10_000, resolution=1, genomesize=sizes,
        store_whole_genome=True, storage="zarr", store=out), genozarr, repeat, tmp))
    return {k: (v if k.startswith("(") else v / work) for k, v in st.items()}


def _full(build, genozarr, repeat: int, tmp: str) -> dict[str, float]:
    out = os.path.join(tmp, "store.zarr")
    res = {}
    for label, opts in (("ingest, sync", {"scheduler": "sync"}),
                        ("ingest, processes (2)", {"scheduler": "processes",
                                                   "num_workers": 2})):
        def run() -> None:
            shutil.rmtree(out, ignore_errors=True)
            with genozarr.set_options(progress=False, **opts):
                build(out)
        res[label] = _best(run, repeat)
    return res


def compare_decoders(c: dict, repeat: int, tmp: str) -> list[tuple[str, float, float]]:
    """``[(row, ms per Mb with pybigtools, ms per Mb with pyBigWig)]``."""
    import warnings

    import pybigtools
    import pyBigWig

    import genozarr
    import genozarr.io.bigwig as gbw
    from genozarr import Cover
    from genozarr.io.bigwig import read_values

    warnings.simplefilter("ignore", DeprecationWarning)
    sizes = c["chrom_sizes"]
    rng = np.random.default_rng(7)
    n, length = 20_000, 1000
    chroms = rng.choice(list(sizes), n)
    starts = np.array([rng.integers(0, sizes[ch] - length) for ch in chroms])
    roi = os.path.join(tmp, "roi.bed")
    with open(roi, "w") as fh:
        order = np.lexsort((starts, chroms))
        fh.writelines(f"{chroms[k]}\t{starts[k]}\t{starts[k] + length}\n" for k in order[:5000])
    blocks = [(ch, s, min(s + BLOCK, m)) for ch, m in sizes.items() for s in range(0, m, BLOCK)]
    rows = []
    default = gbw.WINDOW_MAX_BASES
    for kind in ("bigwigs_1bp", "bigwigs_50bp"):
        f = c[kind][0]
        tag = "1 bp" if kind == "bigwigs_1bp" else "50 bp"
        per = n * length / 1e6
        times = []
        for limit in (default, 0):
            gbw.WINDOW_MAX_BASES = limit
            times.append(_best(lambda: [read_values(f, str(ch), int(s), int(s) + length)
                                        for ch, s in zip(chroms, starts)], repeat) / per)
        rows.append((f"{tag}: read_values, 1 kb windows", *times))
        times = []
        for limit in (default, 0):
            gbw.WINDOW_MAX_BASES = limit
            out = os.path.join(tmp, "partial.zarr")

            def run() -> None:
                shutil.rmtree(out, ignore_errors=True)
                with genozarr.set_options(progress=False, scheduler="sync"):
                    Cover.create_from_bigwig("bw", c[kind], roi=roi, binsize=length,
                                             genomesize=sizes, storage="zarr", store=out)
            times.append(_best(run, repeat) / (5000 * length * len(c[kind]) / 1e6))
        gbw.WINDOW_MAX_BASES = default
        rows.append((f"{tag}: partial ingest, 1 kb x 5000", *times))
        a, b = pyBigWig.open(f), pybigtools.open(f)
        whole = sum(sizes.values()) / 1e6
        rows.append((f"{tag}: 1 Mb blocks, .values",
                     _best(lambda: [b.values(*blk, fillna=None) for blk in blocks],
                           repeat) / whole,
                     _best(lambda: [a.values(*blk, numpy=True) for blk in blocks],
                           repeat) / whole))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--full", action="store_true", help="50 Mb corpus (default: 10 Mb)")
    ap.add_argument("--repeat", type=int, default=2, help="best of N per stage")
    args = ap.parse_args()
    c = _data.corpus(not args.full)
    tmp = tempfile.mkdtemp(prefix="gzprofile_")
    try:
        cols = {"BigWig 1 bp": profile_bigwig(c, "bigwigs_1bp", 1, args.repeat, tmp),
                "BigWig 50 bp": profile_bigwig(c, "bigwigs_50bp", 50, args.repeat, tmp),
                "BAM 5' counts": profile_bam(c, args.repeat, tmp)}
        decoders = compare_decoders(c, args.repeat, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    first = ["decode (pyBigWig.values)", "decode (count_5prime)", "NaN -> 0 (mask)",
             "  (np.nan_to_num, ref.)", "collapse (mean)"]
    keys = list(dict.fromkeys(first + [k for col in cols.values() for k in col]))
    # per column: the sum of the isolated stages, and sync ingest minus it
    for col in cols.values():
        stages = [v for k, v in col.items() if not k.startswith(("(", " ", "ingest"))]
        col["sum of stages"] = sum(stages)
        col["task overhead (sync - sum)"] = col["ingest, sync"] - col["sum of stages"]
    keys += ["sum of stages", "task overhead (sync - sum)"]
    print(f"s/Mb of input (best of {args.repeat}); genome {c['genome_bases'] / 1e6:g} Mb")
    print(f"{'stage':32}" + "".join(f"{n:>15}" for n in cols))
    for k in keys:
        cells = "".join(f"{col[k]:15.4f}" if k in col else f"{'-':>15}" for col in cols.values())
        print(f"{k:32}{cells}")
    print(f"\nBigWig decoders, s/Mb (best of {args.repeat})")
    print(f"{'read':40}{'pybigtools':>12}{'pyBigWig':>12}{'ratio':>8}")
    for name, fast, slow in decoders:
        print(f"{name:40}{fast:12.4f}{slow:12.4f}{slow / fast:8.2f}")


if __name__ == "__main__":
    main()
