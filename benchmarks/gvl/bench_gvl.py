"""Time GenVarLoader (PyPI ``genvarloader``) serving reference sequence + 4 BigWig tracks.

Run with the virtualenv made by ``benchmarks/gvl/setup.sh`` (default ``/tmp/gvl_venv``), not
with genozarr's::

    /tmp/gvl_venv/bin/python benchmarks/gvl/bench_gvl.py [--n 50000] [--epochs 5]

``benchmarks/gvl/bench_genozarr.py`` runs this script first (when the venv exists), then the
same workload through genozarr, and writes ``benchmarks/gvl_results.json``.

Workload (the project's serving target: "serving seq + 4 tracks, 1 kb, batches of 64, 50k regions"):

- inputs: the 50 Mb genome FASTA and the 4 BigWigs of ``benchmarks/_data.py`` (paths from
  genozarr's interpreter, ``$GENOZARR_PYTHON``, default ``/tmp/gzvenv/bin/python``);
- regions: :func:`make_regions`, ``--n`` windows of ``--length`` bp with uniform random
  starts (fixed seed), chromosome drawn in proportion to its length, sorted; written as
  ``regions_<n>_<length>.bed`` in ``--workdir`` (default ``/tmp/gvl_bench``);
- build: ``gvl.write(path, bed, tracks=[gvl.BigWigs('signal<k>', {'s': bw_k}) ...])`` (one
  track per BigWig, one sample ``s``), then ``gvl.Dataset.open(path, reference=fasta)
  .with_len(length)``. GVL needs its ``.gvlfa`` reference cache beside the FASTA, so the
  FASTA is copied into the work directory first (the shared corpus stays untouched);
- serving: ``ds[idx]`` for batches of ``--batch`` indices, after one untimed warm-up epoch,
  median of ``--epochs`` epochs: shuffled (a fresh full permutation per epoch, fancy index)
  and sequential (``ds[a:a + batch]``). This is what ``Dataset.to_dataloader`` does per batch
  (it hands the dataset whole index lists), minus torch's collate; torch is not installed.

What a GVL batch is: ``(seq, tracks)``, ``seq`` ``|S1`` of shape ``(batch, 1, length)``
(upper-cased reference bytes), ``tracks`` float32 ``(batch, 1, 4, length)``. In GVL 0.43.1 the
multi-track array's memory is laid out ``(track, batch, length)`` although its shape says
``(batch, 1, track, length)``: ``tracks[i, 0, k]`` is not region i's track k. The script
verifies this against pyBigWig and serves ``tracks.reshape(4, batch, length)`` (a free view)
so the content checked is right. Two outputs are timed: GVL's native output (bytes + tracks),
and the same content as genozarr's batch: the bytes one-hot encoded to float32
``(batch, length, 4)`` with ``np.take`` on a 256-row lookup table (the method genozarr itself
uses; 10x faster than ``lut[codes]``).

Every batch content checked (a sample of regions) equals pysam's FASTA and pyBigWig's values
(NaN as 0). Prints a JSON line with the figures (``--out`` writes it to a file).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

SEED = 20240611
HERE = Path(__file__).resolve().parent


# ---------------------------------------------------------------- shared with bench_genozarr
def read_fai(fasta: str) -> dict[str, int]:
    """Chromosome sizes from ``fasta + '.fai'``."""
    sizes = {}
    with open(fasta + ".fai") as f:
        for line in f:
            name, length = line.split("\t")[:2]
            sizes[name] = int(length)
    return sizes


def make_regions(sizes: dict[str, int], n: int, length: int, seed: int = SEED):
    """``n`` windows of ``length`` bp, uniform random starts, chromosome drawn in proportion
    to its length, sorted by (chromosome order, start). Returns (chroms, starts, ends)."""
    rng = np.random.default_rng(seed)
    names = list(sizes)
    lens = np.array([sizes[c] for c in names], dtype=np.int64)
    which = rng.choice(len(names), size=n, p=lens / lens.sum())
    starts = (rng.random(n) * (lens[which] - length)).astype(np.int64)
    order = np.lexsort((starts, which))
    which, starts = which[order], starts[order]
    chroms = np.array(names, dtype=object)[which]
    return chroms, starts, starts + length


def write_bed(path: str, chroms, starts, ends) -> str:
    """Write a BED3 file (no header)."""
    with open(path, "w") as f:
        for c, s, e in zip(chroms, starts, ends):
            f.write(f"{c}\t{s}\t{e}\n")
    return path


def corpus_paths() -> dict:
    """Paths of the benchmark corpus, from ``benchmarks/_data.py`` run by genozarr's python."""
    py = os.environ.get("GENOZARR_PYTHON", "/tmp/gzvenv/bin/python")
    code = ("import sys, json; sys.path.insert(0, sys.argv[1]); import _data; "
            "print(json.dumps(_data.corpus(False)))")
    out = subprocess.run([py, "-c", code, str(HERE.parent)], check=True, capture_output=True,
                         text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def machine() -> str:
    """One line naming the CPU, core count and OS."""
    model = platform.processor()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{model}; {os.cpu_count()} cores; {platform.system()} {platform.release()}"


def du(path: str) -> int:
    """Bytes on disk of a file or directory tree (allocated blocks, like ``du``)."""
    p = Path(path)
    if p.is_file():
        return p.stat().st_blocks * 512
    return sum(f.stat().st_blocks * 512 for f in p.rglob("*") if f.is_file())


def onehot_lut() -> np.ndarray:
    """(256, 4) float32 table: A C G T (either case) to one-hot rows, anything else zeros."""
    lut = np.zeros((256, 4), dtype=np.float32)
    for k, b in enumerate("ACGT"):
        lut[ord(b), k] = 1
        lut[ord(b.lower()), k] = 1
    return lut


def run_phase(script: str, args: argparse.Namespace, phase: str) -> dict:
    """Run one phase (build or serve) of ``script`` in a fresh process of this interpreter
    with the same workload options; return the JSON line it prints last."""
    cmd = [sys.executable, script, "--phase", phase, "--n", str(args.n), "--length",
           str(args.length), "--batch", str(args.batch), "--epochs", str(args.epochs),
           "--workdir", args.workdir]
    out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True).stdout
    return json.loads([ln for ln in out.splitlines() if ln.startswith("{")][-1])


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ---------------------------------------------------------------- GenVarLoader
def build(args: argparse.Namespace, paths: dict, bed: str) -> dict:
    import genvarloader as gvl

    work = Path(args.workdir)
    fasta = work / "genome.fa"
    if not fasta.exists() or fasta.stat().st_size != Path(paths["fasta"]).stat().st_size:
        shutil.copyfile(paths["fasta"], fasta)
        shutil.copyfile(paths["fasta"] + ".fai", str(fasta) + ".fai")
    ds_path = work / f"gvl_{args.n}_{args.length}.gvl"
    tracks = [gvl.BigWigs(f"signal{k}", {"s": bw}) for k, bw in enumerate(paths["bigwigs"])]
    t = time.perf_counter()
    gvl.write(ds_path, bed, tracks=tracks, overwrite=True)
    write_s = time.perf_counter() - t
    t = time.perf_counter()
    ds = gvl.Dataset.open(ds_path, reference=fasta)  # builds genome.fa.gvlfa on first use
    open_s = time.perf_counter() - t
    return {"write_s": write_s, "open_s": open_s, "dataset": str(ds_path),
            "fasta": str(fasta), "n_regions": ds.n_regions}


def serve(args: argparse.Namespace, paths: dict, bed_regions, built: dict) -> dict:
    import genvarloader as gvl
    import pyBigWig
    import pysam

    chroms, starts, ends = bed_regions
    ds = gvl.Dataset.open(built["dataset"], reference=built["fasta"]).with_len(args.length)
    ntr = len(paths["bigwigs"])
    assert ds.active_tracks == [f"signal{k}" for k in range(ntr)], ds.active_tracks
    n, b, L = len(ds), args.batch, args.length
    lut = onehot_lut()

    # GVL 0.43.1 lays a multi-track batch out in memory as (track, batch, length) under the
    # label (batch, 1, track, length); detect which reading matches pyBigWig and use it
    fa = pysam.FastaFile(built["fasta"])
    bws = [pyBigWig.open(p) for p in paths["bigwigs"]]
    rng = np.random.default_rng(1)
    agree = {"as_labelled": True, "track_major": True}
    checks = [np.arange(b), np.sort(rng.choice(n, b, replace=False)),
              rng.choice(n, b, replace=False)]
    for idx in checks:
        seq, trk = ds[idx]
        assert seq.shape == (len(idx), 1, L) and seq.dtype == np.dtype("S1"), seq.shape
        assert trk.shape == (len(idx), 1, ntr, L) and trk.dtype == np.float32, trk.shape
        views = {"as_labelled": trk[:, 0].transpose(1, 0, 2),
                 "track_major": trk.reshape(ntr, len(idx), L)}
        for j in range(0, len(idx), 5):
            i = idx[j]
            c, s, e = chroms[i], int(starts[i]), int(ends[i])
            assert seq[j, 0].tobytes().decode().upper() == fa.fetch(c, s, e).upper(), (c, s)
            for k in range(ntr):
                v = np.nan_to_num(np.asarray(bws[k].values(c, s, e), dtype=np.float32))
                for name, view in views.items():
                    agree[name] = agree[name] and bool(np.allclose(view[k, j], v, rtol=1e-6))
    if agree["as_labelled"]:
        layout = "as_labelled"
    elif agree["track_major"]:
        layout = "track_major"
    else:
        raise AssertionError("GVL tracks match pyBigWig in neither layout")
    layout_bug = layout != "as_labelled"

    def fix(trk: np.ndarray) -> np.ndarray:
        # a (track, batch, length) view either way; no copy
        if layout_bug:
            return trk.reshape(ntr, len(trk), L)
        return trk[:, 0].transpose(1, 0, 2)

    # ---- timing
    shuffle_rng = np.random.default_rng(SEED)

    def epoch(order: str, hot: bool) -> None:
        if order == "shuffled":
            perm = shuffle_rng.permutation(n)
            batches = (perm[a:a + b] for a in range(0, n, b))
        else:
            batches = (slice(a, min(a + b, n)) for a in range(0, n, b))
        for sel in batches:
            seq, trk = ds[sel]
            trk = fix(trk)
            if hot:
                codes = seq.view(np.uint8).reshape(len(seq), L)
                x = np.take(lut, codes, axis=0)  # (batch, L, 4) float32
                del x

    results = {}
    for order in ("shuffled", "sequential"):
        for hot in (False, True):
            epoch(order, hot)  # warm-up epoch
            wall, cpu = [], []
            for _ in range(args.epochs):
                t, c = time.perf_counter(), time.process_time()
                epoch(order, hot)
                wall.append(time.perf_counter() - t)
                cpu.append(time.process_time() - c)
            key = f"{order}_{'onehot' if hot else 'bytes'}"
            results[key] = {"regions_per_s": n / statistics.median(wall),
                            "epoch_s": statistics.median(wall),
                            "cpu_s": statistics.median(cpu)}
            print(f"[gvl] {key:22s} {results[key]['regions_per_s']:>12,.0f} regions/s "
                  f"(epoch {statistics.median(wall):.3f} s, cpu {statistics.median(cpu):.3f} s)",
                  file=sys.stderr, flush=True)
    return {"serve": results, "track_layout_bug": bool(layout_bug),
            "threads": os.environ.get("RAYON_NUM_THREADS")}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=50_000, help="regions")
    p.add_argument("--length", type=int, default=1000, help="region length (bp)")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--epochs", type=int, default=5, help="timed epochs (median)")
    p.add_argument("--workdir", default=os.environ.get("GVL_BENCH_DIR", "/tmp/gvl_bench"))
    p.add_argument("--phase", choices=("all", "build", "serve"), default="all",
                   help="'all' runs build and serve in separate child processes")
    p.add_argument("--out", help="write the JSON result here too")
    args = p.parse_args()
    Path(args.workdir).mkdir(parents=True, exist_ok=True)
    paths = corpus_paths()
    regions = make_regions(read_fai(paths["fasta"]), args.n, args.length)
    bed = str(Path(args.workdir) / f"regions_{args.n}_{args.length}.bed")
    write_bed(bed, *regions)
    built_json = Path(args.workdir) / f"gvl_build_{args.n}_{args.length}.json"

    if args.phase == "build":
        res = build(args, paths, bed)
        res["peak_rss_mb"] = peak_rss_mb()
        built_json.write_text(json.dumps(res))
        print(json.dumps(res), flush=True)
        return
    if args.phase == "serve":
        built = json.loads(built_json.read_text())
        res = serve(args, paths, regions, built)
        res["peak_rss_mb"] = peak_rss_mb()
        print(json.dumps(res), flush=True)
        return

    import genvarloader as gvl

    def child(phase: str) -> dict:
        return run_phase(__file__, args, phase)

    load0 = os.getloadavg()
    t0 = time.perf_counter()
    built = child("build")
    served = child("serve")
    result = {
        "gvl_version": gvl.__version__,
        "machine": machine(),
        "n_regions": args.n, "length": args.length, "batch": args.batch, "epochs": args.epochs,
        "bed": bed,
        "build": {k: built[k] for k in ("write_s", "open_s", "peak_rss_mb")},
        "serve": served["serve"],
        "serve_peak_rss_mb": served["peak_rss_mb"],
        "track_layout_bug": served["track_layout_bug"],
        "threads": served["threads"],
        "store_bytes": {"dataset": du(built["dataset"]),
                        "reference_cache_gvlfa": du(built["fasta"] + ".gvlfa")},
        "loadavg_start_end": [load0, os.getloadavg()],
        "total_s": time.perf_counter() - t0,
    }
    line = json.dumps(result)
    if args.out:
        Path(args.out).write_text(line + "\n")
    print(line, flush=True)


if __name__ == "__main__":
    main()
