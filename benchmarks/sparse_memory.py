"""Peak memory of a whole-genome ``storage='sparse'`` build against the dense one.

A sparse BigWig (peaks only, about 5 % of the genome covered, as ``_data`` writes the
benchmark corpus's sparse files) over genomes of two sizes is built with
``Cover.create_from_bigwig(..., store_whole_genome=True, resolution=1)`` in a fresh process
per case:

- ``ndarray``: in memory, dense (the baseline measured in the same run);
- ``sparse``: in memory, sparse;
- ``zarr``: written to a zarr store (``store=``), served from it;
- ``sparse, cached``: written to a zarr store, then loaded as sparse.

Each case reports its peak resident memory above the process's peak before the build
(``VmHWM``, after imports: the memory the build itself needs), the dense array's size
(4 bytes a base), the bytes the loaded dataset holds, and the build's wall time. The sparse
builds' peak should follow the data, not the genome (well below the dense array's size).

Usage::

    python benchmarks/sparse_memory.py            # 25 and 100 Mb genomes
    python benchmarks/sparse_memory.py --quick    # 10 and 40 Mb
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

CASES = ("ndarray", "sparse", "zarr", "sparse, cached")


def child(bigwig: str, case: str, store: str) -> None:
    """Run in a fresh process: one build; print its figures as JSON."""
    import genozarr
    from genozarr import Cover

    genozarr.set_options(scheduler="threads", num_workers=2)
    base = _data.status_mb("VmHWM")
    t0 = time.perf_counter()
    cover = Cover.create_from_bigwig(
        "c", bigwig, store_whole_genome=True, resolution=1,
        storage=case.split(",")[0],
        **({"store": store} if case.endswith("cached") or case == "zarr" else {}))
    took = time.perf_counter() - t0
    backend = cover.garray.backend
    held = sum(m.data.nbytes + m.indices.nbytes + m.indptr.nbytes
               for m in getattr(backend, "matrices", {}).values()) \
        or sum(a.nbytes for a in getattr(backend, "arrays", {}).values())
    print(json.dumps({"extra_mb": _data.status_mb("VmHWM") - base, "held_mb": held / 2**20,
                      "seconds": took}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10 and 40 Mb genomes")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    tmp = tempfile.mkdtemp(prefix="gz-sparsebench-")
    try:
        print("| genome | case | build peak above imports | dense array | held | build |")
        print("|---|---|---|---|---|---|")
        for mb in ((10, 40) if args.quick else (25, 100)):
            sizes = _data.chrom_sizes(mb)
            bigwig = os.path.join(tmp, f"sparse{mb}.bw")
            _data.write_sparse_bigwig(bigwig, sizes, seed=_data.SEED + 30)
            dense_mb = sum(sizes.values()) * 4 / 2**20
            for case in CASES:
                store = os.path.join(tmp, f"s{mb}.zarr")
                res = subprocess.run([sys.executable, __file__, "--child", bigwig, case,
                                      store], capture_output=True, text=True, check=False)
                if res.returncode:
                    print(f"| {mb} Mb | {case} | failed: "
                          f"{(res.stderr.strip().splitlines() or ['?'])[-1][:120]} |||")
                    continue
                r = json.loads(res.stdout.strip().splitlines()[-1])
                print(f"| {mb} Mb | {case} | {r['extra_mb']:.0f} MB | {dense_mb:.0f} MB | "
                      f"{r['held_mb']:.1f} MB | {r['seconds']:.1f} s |", flush=True)
                shutil.rmtree(store, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
