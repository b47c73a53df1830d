"""zarrs (a Rust codec pipeline for zarr-python) beside zarr's own pipeline and genozarr's
direct chunk path, on the arrays genozarr writes.

The arrays are those of a whole-genome store: per-base coverage of the two dense 1 bp
BigWigs of the corpus on its second chromosome (15 Mb x 2 conditions, float32, 2 MiB inner
chunks, 8 per shard, Blosc zstd level 1 without shuffle, 256 KiB blocks) and the sequence
codes of the same chromosome (uint8, bit shuffle). Every row runs in its own process:

- ``write``: the whole array written once (zarr: ``arr[:] = values``; genozarr:
  :func:`genozarr.store._direct.write_chunks`, one thread, as in an ingest worker);
- ``read all``: the whole array read back (genozarr: every inner chunk through
  :class:`genozarr.store._direct.DirectChunks`, one thread);
- ``read chunks``: 300 inner chunks in random order, one read each (what a shuffled epoch
  asks: zarr ``arr[a:b]`` of one inner chunk; genozarr ``DirectChunks.read``).

Wall time and CPU time (all threads of the process) are given: zarrs encodes and decodes
with a pool of threads, genozarr in the calling thread (its ingest runs one worker process
per core, and its serving path decodes in a pool of its own). zarrs is not a dependency:
the zarrs rows run where ``import zarrs`` works and are skipped otherwise.

Run: ``python benchmarks/zarrs_pipeline.py [--repeat 3] [--json rows.json]`` (with zarrs
installed: ``pip install zarrs``).
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

SCRIPT = os.path.abspath(__file__)
CHROM = "chr2"
N_CHUNK_READS = 300


def _values(kind: str):
    import numpy as np

    from genozarr._kernels import encode_sequence, nan_to_zero

    c = _data.corpus(False)
    if kind == "coverage":
        import pyBigWig

        cols = []
        for f in c["bigwigs_1bp"]:
            with pyBigWig.open(f) as bw:
                cols.append(nan_to_zero(bw.values(CHROM, 0, bw.chroms(CHROM), numpy=True)))
        return np.stack(cols, axis=-1)[:, None, :].astype(np.float32)
    import pysam

    with pysam.FastaFile(c["fasta"]) as fa:
        return encode_sequence(fa.fetch(CHROM)).reshape(-1, 1)


def _create(path: str, values):
    import numpy as np
    import zarr

    from genozarr.store.write import _compressors

    itemsize = values.dtype.itemsize * int(np.prod(values.shape[1:]))
    inner = (2 * 2**20) // itemsize
    shape_tail = values.shape[1:]
    return zarr.create_array(
        zarr.storage.LocalStore(path), name="data", shape=values.shape, dtype=values.dtype,
        chunks=(inner,) + shape_tail, shards=(inner * 8,) + shape_tail,
        compressors=_compressors(values.dtype, runs=values.dtype.itemsize > 1),
        fill_value=0, zarr_format=3)


def case(p: dict) -> dict:
    """One row, in this process."""
    import numpy as np
    import zarr

    if p["engine"] == "zarrs":
        import zarrs  # noqa: F401

        zarr.config.set({"codec_pipeline.path": "zarrs.ZarrsCodecPipeline"})
    from genozarr.store._direct import DirectChunks, write_chunks

    if p["engine"] == "genozarr":
        import numcodecs.blosc

        # one thread, as in an ingest worker and in the serving path's decode threads
        # (Blosc would use its own threads when called from the main thread)
        numcodecs.blosc.use_threads = False

    values = _values(p["kind"])
    tmp = tempfile.mkdtemp(prefix="gzzarrs_")
    path = os.path.join(tmp, "a.zarr")
    walls, cpus = [], []
    try:
        arr = _create(path, values)
        if p["op"] != "write":
            arr[:] = values
        inner = arr.chunks[0]
        n_chunks = -(-len(values) // inner)
        rng = np.random.default_rng(0)
        picks = rng.integers(0, n_chunks, N_CHUNK_READS)
        for r in range(p["repeat"] + 1):  # the first is a warm-up
            if p["op"] == "write":
                shutil.rmtree(path)
                arr = _create(path, values)
            else:
                arr = zarr.open_array(path, path="data", mode="r")
            direct = DirectChunks.for_array(arr) if p["engine"] == "genozarr" else None
            t, c = time.perf_counter(), time.process_time()
            if p["op"] == "write":
                if direct is not None:
                    assert write_chunks(arr, 0, values, direct=direct)
                else:
                    arr[:] = values
            elif p["op"] == "read all":
                if direct is not None:
                    out = np.empty((n_chunks * inner,) + values.shape[1:], values.dtype)
                    for i in range(n_chunks):
                        out[i * inner:(i + 1) * inner] = direct.read(i)
                    out = out[:len(values)]
                else:
                    out = arr[:]
            else:
                for i in picks:
                    got = direct.read(int(i)) if direct is not None else \
                        arr[int(i) * inner:(int(i) + 1) * inner]
            wall, cpu = time.perf_counter() - t, time.process_time() - c
            if r:
                walls.append(wall)
                cpus.append(cpu)
        # every engine must give back the values written
        check = zarr.open_array(path, path="data", mode="r")
        stored = sum(os.path.getsize(os.path.join(d, f))
                     for d, _, fs in os.walk(path) for f in fs if f != "zarr.json")
        if p["op"] == "read all":
            assert np.array_equal(out, values)
        elif p["op"] == "read chunks":
            i = int(picks[-1])
            assert np.array_equal(got[:len(values[i * inner:(i + 1) * inner])],
                                  values[i * inner:(i + 1) * inner])
        else:
            assert np.array_equal(check[:], values)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    n = N_CHUNK_READS * arr.chunks[0] if p["op"] == "read chunks" else len(values)
    return {"wall": walls, "cpu": cpus, "bytes": n * values.nbytes // len(values),
            "stored": stored}


def _run(**p) -> dict | None:
    p.setdefault("repeat", 3)
    out = subprocess.run([sys.executable, SCRIPT, "--case", json.dumps(p)], check=False,
                         capture_output=True, text=True)
    if out.returncode:
        if "No module named 'zarrs'" in out.stderr:
            return None
        raise RuntimeError(out.stderr[-2000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--case")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json")
    a = ap.parse_args()
    if a.case:
        print(json.dumps(case(json.loads(a.case))))
        return
    rows = []
    print(f"{'array':<9} {'op':<12} {'engine':<9} {'wall GB/s (range)':>20} "
          f"{'CPU s per GB':>14} {'ratio':>6}")
    for kind in ("coverage", "sequence"):
        for op in ("write", "read all", "read chunks"):
            for engine in ("zarr", "zarrs", "genozarr"):
                r = _run(kind=kind, op=op, engine=engine, repeat=a.repeat)
                if r is None:
                    print(f"{kind:<9} {op:<12} {engine:<9} {'(zarrs not installed)':>20}")
                    continue
                gb = r["bytes"] / 1e9
                speeds = sorted(gb / w for w in r["wall"])
                cpu = sorted(c / gb for c in r["cpu"])
                # decoded bytes / stored bytes of the array as this engine wrote it
                ratio = r["bytes"] / r["stored"] if op == "write" else None
                rows.append({"array": kind, "op": op, "engine": engine,
                             "wall_gbps": speeds, "cpu_s_per_gb": cpu, "ratio": ratio})
                print(f"{kind:<9} {op:<12} {engine:<9} "
                      f"{speeds[0]:>8.2f}-{speeds[-1]:<8.2f}   "
                      f"{cpu[0]:>6.2f}-{cpu[-1]:<6.2f} "
                      f"{'' if ratio is None else f'{ratio:6.1f}'}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
