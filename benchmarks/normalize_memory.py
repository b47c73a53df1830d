"""Peak memory of lazy normalization vs chunk size and array size.

Generates zarr stores (partial layout, float32, 2 strands x 2 conditions, 1000 positions per
row) of several decoded sizes and chunk sizes, then, in a fresh subprocess per store,
fits ``[PercentileTrimming(99), ZScore()]`` (dask reductions) and writes the normalized
store with ``genozarr.write_store``. Peak RSS (``VmHWM``) is reported against the
process's RSS before the work (imports and an opened store: the baseline measured in the
same run), the chunk size and the array size.

Usage::

    python benchmarks/normalize_memory.py                 # 100 and 400 MB, 1/4/16 MiB chunks
    python benchmarks/normalize_memory.py --sizes 50 --chunks 1 4
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _data

ROW_SHAPE = (1000, 2, 2)  # position, strand, condition
ROW_BYTES = 1000 * 2 * 2 * 4


def generate(path: str, size_mb: int, chunk_mb: float) -> None:
    """A partial-layout store of ``size_mb`` decoded MB written chunk by chunk."""
    import dask.array as da
    import numpy as np
    import xarray as xr

    import genozarr
    from genozarr.store.builder import write_store

    n = int(size_mb * 2**20 // ROW_BYTES)
    rows = max(1, int(chunk_mb * 2**20 // ROW_BYTES))
    rng = da.random.default_rng(0)
    data = rng.gamma(0.5, 10.0, size=(n,) + ROW_SHAPE, chunks=(rows,) + ROW_SHAPE)
    data = data.astype("float32")
    ds = xr.Dataset(
        {"data": (("region", "position", "strand", "condition"), data)},
        coords={"strand": ["+", "-"], "condition": ["a", "b"],
                "region_chrom": ("region", np.full(n, "chr1")),
                "region_start": ("region", np.arange(n) * 1000),
                "region_end": ("region", np.arange(n) * 1000 + 1000),
                "region_strand": ("region", np.full(n, "+"))},
        attrs={"resolution": 1, "binsize": 1000, "flank": 0, "name": "bench"})
    with genozarr.set_options(chunk_bytes=int(chunk_mb * 2**20), compression_level=1):
        write_store(ds, path, overwrite=True)


def child(path: str, out: str, chunk_mb: float) -> None:
    """Run in a fresh process: fit + write, print JSON with RSS figures."""
    import genozarr
    from genozarr import open_store
    from genozarr.ops import normalize, write_store
    from genozarr.ops.normalizers import PercentileTrimming, ZScore

    ds = open_store(path)
    base = _data.status_mb("VmHWM")  # peak so far: imports and the opened store
    t0 = time.perf_counter()
    norms = [PercentileTrimming(99), ZScore()]
    lazy = normalize(ds, norms)
    t_fit = time.perf_counter() - t0
    with genozarr.set_options(chunk_bytes=int(chunk_mb * 2**20), compression_level=1):
        write_store(lazy, out, overwrite=True)
    t_all = time.perf_counter() - t0
    peak = _data.status_mb("VmHWM")
    print(json.dumps({"baseline_mb": base, "peak_mb": peak, "fit_s": t_fit,
                      "total_s": t_all, "nbytes_mb": ds["data"].nbytes / 2**20,
                      "zarr_chunk_mb":
                          ds["data"].encoding.get("chunks", [0])[0] * ROW_BYTES / 2**20}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 400],
                        help="decoded array sizes in MB")
    parser.add_argument("--chunks", type=float, nargs="+", default=[1, 4, 16],
                        help="zarr chunk sizes in MiB")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.child[1], float(args.child[2]))
        return
    tmp = tempfile.mkdtemp(prefix="gz-normbench-")
    try:
        print(f"{'array MB':>9} {'chunk MiB':>9} {'base MB':>8} {'peak MB':>8} "
              f"{'peak-base':>9} {'/chunk':>7} {'/array':>7} {'fit s':>6} {'total s':>7} "
              f"{'MB/s':>6}")
        for size in args.sizes:
            for chunk in args.chunks:
                src = os.path.join(tmp, f"src-{size}-{chunk}.zarr")
                dst = os.path.join(tmp, f"dst-{size}-{chunk}.zarr")
                generate(src, size, chunk)
                res = subprocess.run([sys.executable, __file__, "--child", src, dst, str(chunk)],
                                     capture_output=True, text=True, check=True)
                r = json.loads(res.stdout.strip().splitlines()[-1])
                extra = r["peak_mb"] - r["baseline_mb"]
                print(f"{r['nbytes_mb']:9.0f} {r['zarr_chunk_mb']:9.2f} {r['baseline_mb']:8.0f} "
                      f"{r['peak_mb']:8.0f} {extra:9.0f} {extra / r['zarr_chunk_mb']:7.1f} "
                      f"{extra / r['nbytes_mb']:7.3f} {r['fit_s']:6.1f} {r['total_s']:7.1f} "
                      f"{r['nbytes_mb'] / r['total_s']:6.0f}", flush=True)
                shutil.rmtree(src, ignore_errors=True)
                shutil.rmtree(dst, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
