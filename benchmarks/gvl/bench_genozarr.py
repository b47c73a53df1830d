"""genozarr against GenVarLoader: serving reference sequence + 4 BigWig tracks, 1 kb regions,
batches of 64 (the peer row of the performance targets).

Run with genozarr's interpreter::

    /tmp/gzvenv/bin/python benchmarks/gvl/bench_genozarr.py [--n 50000] [--epochs 5]

It first runs ``benchmarks/gvl/bench_gvl.py`` with GenVarLoader's virtualenv (``$GVL_PYTHON``,
default ``/tmp/gvl_venv/bin/python``, made by ``benchmarks/gvl/setup.sh``) unless
``--gvl-json`` names a result of that script or ``--no-gvl`` is given; then it times the same
workload through genozarr and writes ``benchmarks/gvl_results.json`` (``--out``) and a table.

Same regions as the GVL script (:func:`bench_gvl.make_regions`, fixed seed, the BED it
writes). Build: ``Bioseq.create_from_refgenome`` and ``Cover.create_from_bigwig`` (4 files)
over those regions with ``binsize=length``, ``storage='zarr'`` (Blosc/Zstd, the default
codec) in ``--workdir``. Serving, each after one untimed warm-up epoch, median of
``--epochs`` epochs, in a fresh process (so its peak RSS is its own):

- ``genozarr.batches(dna, cov, batch_size=64, shuffle=True, seed=epoch)``: chunk-aware
  block shuffle (permuted zarr chunks, windows mixed across 4 chunks), the default;
- the same with ``block_size=1``: a full random permutation, what GVL's shuffled order is;
- ``shuffle=False``: sequential;
- block-shuffled, fully random and sequential with ``prefetch=0`` (batches assembled in the caller's
  thread, chunks decoded ahead in the decode threads), as GenVarLoader serves;
- ``(dna[a:a + 64], cov[a:a + 64])`` slices in the caller's thread, no read-ahead.

The datasets are served as built, with genozarr's defaults: a store whose decoded arrays
fit in a quarter of the machine's memory (this corpus: about 0.85 GB) is kept decoded in
memory as it is read (``cache='auto'``), so the warm-up epoch decodes every chunk once and
the timed epochs read decoded chunks from memory (what GenVarLoader does with its
in-memory arrays). ``--cache chunks`` reopens the stores with ``open_dataset(store,
cache=None)`` (a cache of recently decoded chunks only: every epoch decodes the chunks
again, as for a corpus larger than memory); ``--cache memory`` with ``cache='memory'``
(resident whatever the size); ``--storage`` picks another codec or layout for the build.

A genozarr batch is ``(onehot, coverage)``: one-hot float32 ``(64, length, 1, 4)`` and
coverage float32 ``(64, length, 1, 4)`` (position, strand, condition). A GVL batch is
``|S1`` bytes ``(64, 1, length)`` and float32 tracks ``(64, 1, 4, length)``; the GVL script
times it both as it comes and one-hot encoded to float32 ``(64, length, 4)``, the same
content as genozarr's. The figures compared are the latter (``*_onehot`` keys). Every
library's batches are checked on a sample of regions against pysam / pyBigWig.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import bench_gvl as common  # noqa: E402  (numpy-only helpers shared with the GVL script)

RESULTS = HERE.parent / "gvl_results.json"

#: genozarr storage choices (``--storage``): options of ``genozarr.set_options`` for the build
STORAGE = {
    "zstd-1": {},
    "lz4": {"compressor": "lz4"},
    "none": {"compressor": None},
    "sharded": {"inner_chunk_bytes": 65536},
    "sharded-lz4-row": {"inner_chunk_bytes": 1, "compressor": "lz4"},
    "sharded-none-row": {"inner_chunk_bytes": 1, "compressor": None},
}


def storage_choice() -> str:
    """The storage choice of this run (passed to the build and serve child processes
    through the environment)."""
    return os.environ.get("GENOZARR_BENCH_STORAGE", "zstd-1")


def build(args: argparse.Namespace, paths: dict, bed: str) -> dict:
    from genozarr import set_options

    with set_options(**STORAGE[storage_choice()]):
        return _build(args, paths, bed)


def _build(args: argparse.Namespace, paths: dict, bed: str) -> dict:
    from genozarr import Bioseq, Cover

    work = Path(args.workdir)
    tag = "" if storage_choice() == "zstd-1" else f"_{storage_choice()}"
    seq_store = str(work / f"gz_seq_{args.n}_{args.length}{tag}.zarr")
    cov_store = str(work / f"gz_cov_{args.n}_{args.length}{tag}.zarr")
    t = time.perf_counter()
    Bioseq.create_from_refgenome("seq", paths["fasta"], roi=bed, binsize=args.length,
                                 storage="zarr", store=seq_store, cache=True, overwrite=True)
    seq_s = time.perf_counter() - t
    t = time.perf_counter()
    Cover.create_from_bigwig("cov", paths["bigwigs"], roi=bed, binsize=args.length,
                             storage="zarr", store=cov_store, cache=True, overwrite=True)
    cov_s = time.perf_counter() - t
    return {"seq_store": seq_store, "cov_store": cov_store, "bioseq_s": seq_s,
            "cover_s": cov_s}


def cache_choice() -> str | None:
    """``--cache`` of this run (passed to the serve child process in the environment)."""
    return os.environ.get("GENOZARR_BENCH_CACHE") or None


def open_datasets(args: argparse.Namespace, paths: dict, bed: str, built: dict):
    import genozarr
    from genozarr import set_options

    # the storage choice is part of the stores' cache keys: the same options find them
    with set_options(**STORAGE[storage_choice()]):
        dna, cov = _open_datasets(args, paths, bed, built)
    if cache_choice() in (None, "auto"):
        return dna, cov
    # the same stores, reopened from their recipes with another cache: 'memory' keeps them
    # decoded whatever their size, 'chunks' (None) keeps recently decoded chunks only
    cache = None if cache_choice() == "chunks" else cache_choice()
    return (genozarr.open_dataset(built["seq_store"], cache=cache),
            genozarr.open_dataset(built["cov_store"], cache=cache))


def _open_datasets(args: argparse.Namespace, paths: dict, bed: str, built: dict):
    """Reopen the stores written by :func:`build` (``cache=True``: the cache key matches, so
    nothing is rebuilt; checked through genozarr's log)."""
    import logging

    from genozarr import Bioseq, Cover

    seen: list[str] = []

    class Grab(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record.getMessage())

    logger = logging.getLogger("genozarr")
    handler, level = Grab(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        dna = Bioseq.create_from_refgenome("seq", paths["fasta"], roi=bed,
                                           binsize=args.length, storage="zarr",
                                           store=built["seq_store"], cache=True)
        cov = Cover.create_from_bigwig("cov", paths["bigwigs"], roi=bed, binsize=args.length,
                                       storage="zarr", store=built["cov_store"], cache=True)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    reused = [m for m in seen if "reusing cached store" in m]
    assert len(reused) == 2, f"stores were rebuilt instead of reopened: {seen}"
    return dna, cov


def serve(args: argparse.Namespace, paths: dict, regions, dna, cov) -> dict:
    import pyBigWig
    import pysam

    import genozarr

    chroms, starts, ends = regions
    n, b, L = len(dna), args.batch, args.length
    assert len(cov) == n == args.n, (len(cov), n)
    # ---- content check against pysam / pyBigWig (sample of regions, both orders)
    fa = pysam.FastaFile(paths["fasta"])
    bws = [pyBigWig.open(p) for p in paths["bigwigs"]]
    lut = common.onehot_lut()
    rng = np.random.default_rng(1)
    for idx in (np.arange(b), rng.choice(n, b, replace=False)):
        x, y = dna[idx], cov[idx]
        assert x.shape == (len(idx), L, 1, 4) and x.dtype == np.float32, (x.shape, x.dtype)
        assert y.shape == (len(idx), L, 1, 4) and y.dtype == np.float32, (y.shape, y.dtype)
        for j in range(0, len(idx), 5):
            i = idx[j]
            c, s, e = chroms[i], int(starts[i]), int(ends[i])
            ref = np.frombuffer(fa.fetch(c, s, e).encode(), dtype=np.uint8)
            np.testing.assert_array_equal(x[j, :, 0], lut[ref])
            for k in range(len(bws)):
                v = np.nan_to_num(np.asarray(bws[k].values(c, s, e), dtype=np.float32))
                np.testing.assert_allclose(y[j, :, 0, k], v, rtol=1e-6)
    first = next(genozarr.batches(dna, cov, batch_size=b, shuffle=True, seed=0))
    assert first[0].shape == (b, L, 1, 4) and first[1].shape == (b, L, 1, 4)

    def run_batches(**kw):
        def go(epoch: int) -> None:
            for x, y in genozarr.batches(dna, cov, batch_size=b, seed=epoch, **kw):
                pass
        return go

    def run_slices(epoch: int) -> None:
        for a in range(0, n, b):
            x, y = dna[a:a + b], cov[a:a + b]

    cases = {
        "shuffled_block": run_batches(shuffle=True),
        "shuffled_full": run_batches(shuffle=True, block_size=1),
        "sequential": run_batches(shuffle=False),
        "shuffled_block_p0": run_batches(shuffle=True, prefetch=0),
        "shuffled_full_p0": run_batches(shuffle=True, block_size=1, prefetch=0),
        "sequential_p0": run_batches(shuffle=False, prefetch=0),
        "slices": run_slices,
    }
    results = {}
    for name, fn in cases.items():
        fn(10_000)  # warm-up epoch
        wall, cpu = [], []
        for e in range(args.epochs):
            t, c = time.perf_counter(), time.process_time()
            fn(e)
            wall.append(time.perf_counter() - t)
            cpu.append(time.process_time() - c)
        results[name] = {"regions_per_s": n / statistics.median(wall),
                         "epoch_s": statistics.median(wall), "cpu_s": statistics.median(cpu)}
        print(f"[genozarr] {name:16s} {results[name]['regions_per_s']:>12,.0f} regions/s "
              f"(epoch {statistics.median(wall):.3f} s, cpu {statistics.median(cpu):.3f} s)",
              file=sys.stderr, flush=True)
    return results


def chunk_info(store: str) -> dict:
    import zarr

    g = zarr.open_group(store, mode="r")
    arr = g["data"] if "data" in g else next(iter(g.arrays()))[1]
    return {"shape": list(arr.shape), "chunks": list(arr.chunks), "dtype": str(arr.dtype),
            "compressors": [type(c).__name__ + (f"({getattr(c, 'cname', '')})"
                                                if hasattr(c, "cname") else "")
                            for c in (arr.compressors or ())]}


def run_gvl(args: argparse.Namespace) -> dict | None:
    if args.gvl_json:
        return json.loads(Path(args.gvl_json).read_text())
    py = os.environ.get("GVL_PYTHON", "/tmp/gvl_venv/bin/python")
    if args.no_gvl or not Path(py).exists():
        print(f"[gvl] skipped ({py} missing or --no-gvl)", file=sys.stderr)
        return None
    out = Path(args.workdir) / f"gvl_result_{args.n}_{args.length}.json"
    cmd = [py, str(HERE / "bench_gvl.py"), "--n", str(args.n), "--length", str(args.length),
           "--batch", str(args.batch), "--epochs", str(args.epochs), "--workdir",
           args.workdir, "--out", str(out)]
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for line in proc.stderr.splitlines():
        if line.startswith("[gvl]"):
            print(line, file=sys.stderr)
    if proc.returncode != 0:
        return {"error": (proc.stderr.strip().splitlines() or ["failed"])[-1][:300]}
    return json.loads(out.read_text())


def table(rows: list[dict]) -> str:
    lines = ["| workload | genozarr | GenVarLoader | genozarr/GVL |", "|---|---|---|---|"]
    for r in rows:
        g, v = r["genozarr"], r["gvl"]
        ratio = f"{g / v:.2f}x" if g and v else "-"
        lines.append(f"| {r['workload']} | {g:,.0f} | "
                     f"{'-' if v is None else format(v, ',.0f')} | {ratio} |")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=50_000)
    p.add_argument("--length", type=int, default=1000)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--workdir", default=os.environ.get("GVL_BENCH_DIR", "/tmp/gvl_bench"))
    p.add_argument("--phase", choices=("all", "build", "serve"), default="all")
    p.add_argument("--gvl-json", help="reuse a result of bench_gvl.py instead of running it")
    p.add_argument("--no-gvl", action="store_true", help="time genozarr only")
    p.add_argument("--out", default=str(RESULTS))
    p.add_argument("--storage", choices=list(STORAGE), default=None,
                   help="genozarr storage choice (default zstd-1: Blosc zstd level 1)")
    p.add_argument("--cache", choices=("auto", "memory", "chunks"), default=None,
                   help="auto (default): the stores as built; memory: reopened with "
                        "open_dataset(..., cache='memory'); chunks: reopened with cache=None "
                        "(recently decoded chunks only, decoded again every epoch)")
    args = p.parse_args()
    if args.storage is not None:
        os.environ["GENOZARR_BENCH_STORAGE"] = args.storage
    if args.cache is not None:
        os.environ["GENOZARR_BENCH_CACHE"] = args.cache
    Path(args.workdir).mkdir(parents=True, exist_ok=True)
    paths = common.corpus_paths()
    regions = common.make_regions(common.read_fai(paths["fasta"]), args.n, args.length)
    bed = str(Path(args.workdir) / f"regions_{args.n}_{args.length}.bed")
    common.write_bed(bed, *regions)
    built_json = Path(args.workdir) / f"gz_build_{args.n}_{args.length}_{storage_choice()}.json"

    if args.phase == "build":
        res = build(args, paths, bed)
        res["peak_rss_mb"] = common.peak_rss_mb()
        built_json.write_text(json.dumps(res))
        print(json.dumps(res), flush=True)
        return
    if args.phase == "serve":
        built = json.loads(built_json.read_text())
        dna, cov = open_datasets(args, paths, bed, built)
        res = {"serve": serve(args, paths, regions, dna, cov),
               "peak_rss_mb": common.peak_rss_mb()}
        print(json.dumps(res), flush=True)
        return

    def child(phase: str) -> dict:
        return common.run_phase(__file__, args, phase)

    load0 = os.getloadavg()
    t0 = time.perf_counter()
    gvl = run_gvl(args)
    built = child("build")
    served = child("serve")
    s = served["serve"]
    gs = (gvl or {}).get("serve", {})

    def gv(key: str) -> float | None:
        return gs.get(key, {}).get("regions_per_s")

    rows = [
        {"workload": "shuffled, one-hot float32 + 4 tracks (genozarr block shuffle; GVL full "
                     "permutation)", "genozarr": s["shuffled_block"]["regions_per_s"],
         "gvl": gv("shuffled_onehot"), "unit": "regions/s"},
        {"workload": "shuffled, full random permutation both, one-hot + 4 tracks",
         "genozarr": s["shuffled_full"]["regions_per_s"], "gvl": gv("shuffled_onehot"),
         "unit": "regions/s"},
        {"workload": "sequential, one-hot + 4 tracks (genozarr.batches; GVL ds[a:a+64])",
         "genozarr": s["sequential"]["regions_per_s"], "gvl": gv("sequential_onehot"),
         "unit": "regions/s"},
        {"workload": "shuffled (block), prefetch=0: batches assembled in the caller's thread "
                     "as GVL's", "genozarr": s["shuffled_block_p0"]["regions_per_s"],
         "gvl": gv("shuffled_onehot"), "unit": "regions/s"},
        {"workload": "full random permutation both, prefetch=0",
         "genozarr": s["shuffled_full_p0"]["regions_per_s"], "gvl": gv("shuffled_onehot"),
         "unit": "regions/s"},
        {"workload": "sequential, prefetch=0", "genozarr": s["sequential_p0"]["regions_per_s"],
         "gvl": gv("sequential_onehot"), "unit": "regions/s"},
        {"workload": "sequential slices ds[a:a+64], one-hot + 4 tracks, no read-ahead",
         "genozarr": s["slices"]["regions_per_s"], "gvl": gv("sequential_onehot"),
         "unit": "regions/s"},
        {"workload": "shuffled, GVL native output (S1 bytes + tracks) vs genozarr block "
                     "shuffle (one-hot)", "genozarr": s["shuffled_block"]["regions_per_s"],
         "gvl": gv("shuffled_bytes"), "unit": "regions/s"},
        {"workload": "sequential, GVL native output (S1 bytes + tracks) vs genozarr "
                     "(one-hot)", "genozarr": s["sequential"]["regions_per_s"],
         "gvl": gv("sequential_bytes"), "unit": "regions/s"},
    ]
    for r in rows:
        r["ratio"] = (r["genozarr"] / r["gvl"]) if r["gvl"] else None
    gz_bytes = {"seq_store": common.du(built["seq_store"]),
                "cov_store": common.du(built["cov_store"])}
    result = {
        "gvl_version": (gvl or {}).get("gvl_version"),
        "genozarr_version": __import__("genozarr").__version__
        if hasattr(__import__("genozarr"), "__version__") else None,
        "rows": rows,
        "genozarr_storage": {"choice": storage_choice(), "options": STORAGE[storage_choice()],
                             "cache": cache_choice()},
        "machine": common.machine(),
        "workload": {"n_regions": args.n, "length": args.length, "batch": args.batch,
                     "epochs": args.epochs, "regions": "uniform random starts, seed "
                     f"{common.SEED}, sorted; BED {bed}", "genome": paths["fasta"],
                     "bigwigs": paths["bigwigs"]},
        "genozarr": {"build": built, "serve": s, "serve_peak_rss_mb": served["peak_rss_mb"],
                     "store_bytes": gz_bytes,
                     "chunks": {"seq": chunk_info(built["seq_store"]),
                                "cov": chunk_info(built["cov_store"])}},
        "gvl": gvl,
        "loadavg_start_end": [load0, os.getloadavg()],
        "total_s": time.perf_counter() - t0,
        "notes": (
            "Regions/s = regions served per second of wall time, median of the timed epochs "
            "after one warm-up epoch; both libraries on the same 2 cores (GVL's rayon pool "
            "has 2 threads; genozarr.batches assembles batches one ahead in a thread, "
            "prefetch=0 rows in the caller's). genozarr batch: "
            "one-hot float32 (64, 1000, 1, 4) + coverage float32 (64, 1000, 1, 4), read from "
            "Blosc/Zstd zarr stores on disk holding the sequence as uint8 codes (kept decoded "
            "in memory from the warm-up epoch on where they fit, the default, unless the "
            "cache choice says otherwise). GVL batch: "
            "|S1 (64, 1, 1000) reference bytes rebuilt from its in-memory reference "
            "(uncompressed .gvlfa cache, 1 byte/bp of the whole genome) + float32 tracks "
            "(64, 1, 4, 1000) rebuilt from its uncompressed interval (run-length) arrays; the "
            "'one-hot' GVL figures add np.take on a 256x4 float32 table, the same content as "
            "genozarr's. genozarr 'shuffled' is a chunk-aware block shuffle; GVL's is a full "
            "permutation; the 'full random' row compares both at a full permutation. Both "
            "outputs were checked against pysam/pyBigWig. GVL 0.43.1 multi-track batches are "
            "laid out (track, batch, length) in memory under the shape (batch, 1, track, "
            "length); the GVL timings serve the correct (free) reshape."),
    }
    if gvl and "error" in gvl:
        result["notes"] += f" GVL failed: {gvl['error']}"
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print(table(rows))
    print(f"\npeak RSS serving: genozarr {served['peak_rss_mb']:.0f} MB, GVL "
          f"{(gvl or {}).get('serve_peak_rss_mb', float('nan')):.0f} MB; build: genozarr "
          f"{built['peak_rss_mb']:.0f} MB, GVL "
          f"{(gvl or {}).get('build', {}).get('peak_rss_mb', float('nan')):.0f} MB")
    print(f"on disk: genozarr {sum(gz_bytes.values()) / 2**20:.1f} MiB {gz_bytes}; GVL "
          f"{(gvl or {}).get('store_bytes')}")
    print(f"wrote {args.out} ({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
