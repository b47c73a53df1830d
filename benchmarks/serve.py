"""Serving benchmark: minibatches of 1 kb windows x 4 coverage tracks + one-hot sequence
from zarr stores on disk, against the Blosc decode limit and numpy in memory.

Run: ``python benchmarks/serve.py [--n 20000] [--repeat 3]``. Generates its data in a
temporary directory: ``n`` windows of 1 kb, a Cover of 4 Poisson tracks (float32, written
with ``Cover.create_from_array(storage='zarr')``) and a Bioseq of a random genome (uint8
codes in zarr, one-hot per batch). Measures, in one run (medians of ``--repeat``):

- the decode limit: every chunk of both stores decoded with numcodecs' Blosc (from bytes
  already in memory, into a reused buffer, in the main thread with Blosc's own threads);
- numpy fancy indexing of the same data held in memory (coverage rows + one-hot of codes);
- ``genozarr.batches`` sequential, block-shuffled and fully random (block_size=1),
  each run starting with an empty decoded-chunk cache (64 MiB), so every chunk a run
  needs is decoded in that run.

Targets (the performance targets): block-shuffled >= 0.7x the decode limit; fully random
reported against numpy in memory.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

import numpy as np

BATCH = 128
WINDOW = 1000
TRACKS = 4


def make_data(directory: str, n: int, seed: int = 0):  # noqa: ANN201
    from genozarr import Bioseq, Cover, GenomicIndexer
    from genozarr.testing.simulate import write_fasta

    rng = np.random.default_rng(seed)
    chrom_len = n * WINDOW
    seq = rng.choice(np.frombuffer(b"ACGT", dtype=np.uint8), size=chrom_len)
    fasta = os.path.join(directory, "genome.fa")
    write_fasta(fasta, {"chr1": seq.tobytes().decode()})
    gi = GenomicIndexer(np.full(n, "chr1", dtype=object), np.arange(n) * WINDOW,
                        np.arange(n) * WINDOW + WINDOW, np.full(n, "+", dtype=object),
                        WINDOW, WINDOW)
    lam = rng.gamma(0.5, 4, size=(n, 1, 1, TRACKS)).astype(np.float32)
    cov = rng.poisson(np.broadcast_to(lam, (n, WINDOW, 1, TRACKS))).astype(np.float32)
    cover = Cover.create_from_array("cov", cov, gi, storage="zarr",
                                    store=os.path.join(directory, "cov.zarr"))
    import pandas as pd

    roi = pd.DataFrame({"chrom": "chr1", "start": gi.starts, "end": gi.ends, "strand": "+"})
    bioseq = Bioseq.create_from_refgenome("seq", fasta, roi=roi, binsize=WINDOW,
                                          storage="zarr", store=os.path.join(directory, "seq.zarr"))
    return cover, bioseq, cov


def chunk_files(store_path: str) -> tuple[list[bytes], tuple[int, ...], np.dtype]:
    import zarr

    arr = zarr.open_group(store_path, mode="r", use_consolidated=False)["data"]
    nchunks = -(-arr.shape[0] // arr.chunks[0])
    blobs = []
    for i in range(nchunks):
        key = arr.metadata.encode_chunk_key((i,) + (0,) * (arr.ndim - 1))
        with open(os.path.join(store_path, "data", key), "rb") as f:
            blobs.append(f.read())
    return blobs, tuple(arr.chunks), np.dtype(arr.dtype)


def decode_all(stores: list[tuple[list[bytes], tuple[int, ...], np.dtype]]) -> float:
    from numcodecs import blosc

    t = time.perf_counter()
    for blobs, chunks, dtype in stores:
        out = np.empty(chunks, dtype)
        for b in blobs:
            blosc.decompress(b, out)
    return time.perf_counter() - t


def clear_caches(*datasets) -> None:  # noqa: ANN002
    """Empty the decoded-chunk caches: every measured read decodes its chunks."""
    from genozarr.store.backend import _ChunkCache

    for d in datasets:
        backend = d.garray.backend
        backend.cache = _ChunkCache(backend.cache.max_bytes)


def epoch(cover, bioseq, **kw) -> tuple[float, int, int]:  # noqa: ANN001
    from genozarr import batches

    clear_caches(cover, bioseq)
    t = time.perf_counter()
    k = nbytes = 0
    for c, s in batches(cover, bioseq, batch_size=BATCH, **kw):
        k += len(c)
        nbytes += c.nbytes + s.nbytes
    return time.perf_counter() - t, k, nbytes


def random_batches(cover, bioseq, n_batches: int, seed: int) -> tuple[float, int, int]:  # noqa: ANN001
    from genozarr.batching import _iterate

    rng = np.random.default_rng(seed)
    plan = [np.sort(rng.choice(len(cover), BATCH, replace=False)) for _ in range(n_batches)]
    clear_caches(cover, bioseq)
    t = time.perf_counter()
    k = nbytes = 0
    for c, s in _iterate([cover, bioseq], plan, prefetch=2):
        k += len(c)
        nbytes += c.nbytes + s.nbytes
    return time.perf_counter() - t, k, nbytes


def numpy_memory(cov: np.ndarray, codes: np.ndarray, n_batches: int, seed: int,
                 random: bool) -> tuple[float, int, int]:
    from genozarr._kernels import onehot

    rng = np.random.default_rng(seed)
    n = len(cov)
    t = time.perf_counter()
    k = nbytes = 0
    for b in range(n_batches):
        if random:
            idx = rng.choice(n, BATCH, replace=False)
            c, s = cov[idx], onehot(codes[idx])
        else:
            a = (b * BATCH) % (n - BATCH)
            c, s = cov[a:a + BATCH].copy(), onehot(codes[a:a + BATCH])
        k += len(c)
        nbytes += c.nbytes + s.nbytes
    return time.perf_counter() - t, k, nbytes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000, help="windows (default 20000)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--random-batches", type=int, default=40)
    args = parser.parse_args()
    from genozarr import set_options

    # a cache smaller than the data, as for a real corpus; caches are emptied before each run
    with tempfile.TemporaryDirectory() as d, set_options(progress=False,
                                                         chunk_cache_bytes=64 * 2**20):
        t0 = time.perf_counter()
        cover, bioseq, cov = make_data(d, args.n)
        print(f"generated {args.n} windows in {time.perf_counter() - t0:.1f} s; "
              f"cover chunks {cover.garray.backend.array('data').chunks}, "
              f"sequence chunks {bioseq.garray.backend.array('data').chunks}")
        stores = [chunk_files(os.path.join(d, "cov.zarr")), chunk_files(os.path.join(d, "seq.zarr"))]
        stored = sum(len(b) for s in stores for b in s[0])
        decoded = args.n * WINDOW * (TRACKS * 4 + 1)
        codes = bioseq.garray.dense()[:, :, 0, 0]
        results: dict[str, list[tuple[float, int, int]]] = {}
        for r in range(args.repeat):  # interleaved, so load changes hit every row alike
            results.setdefault("decode", []).append((decode_all(stores), args.n, decoded))
            nb = args.n // BATCH
            results.setdefault("numpy seq", []).append(numpy_memory(cov, codes, nb, r, False))
            results.setdefault("numpy rand", []).append(numpy_memory(cov, codes, nb, r, True))
            epoch(cover, bioseq, shuffle=True, seed=r)  # warm: the cache's pages, the OS cache
            results.setdefault("seq", []).append(epoch(cover, bioseq, shuffle=False))
            results.setdefault("block", []).append(epoch(cover, bioseq, shuffle=True, seed=r))
            results.setdefault("random", []).append(
                random_batches(cover, bioseq, args.random_batches, r))

        def rate(key: str) -> tuple[float, float]:
            t = statistics.median(x[0] for x in results[key])
            k, nbytes = results[key][0][1], results[key][0][2]
            return k / t, nbytes / t / 1e6

        limit_sps, limit_mbs = rate("decode")
        np_seq, _ = rate("numpy seq")
        np_rand, _ = rate("numpy rand")
        print(f"\nstores: {stored / 1e6:.1f} MB compressed, {decoded / 1e6:.1f} MB decoded "
              f"(ratio {decoded / stored:.1f}); batch {BATCH}; delivered per window "
              f"{(TRACKS * 4 + 4 * 4) * WINDOW / 1e3:.0f} kB (float32 coverage + one-hot); "
              f"cores {os.cpu_count()}")
        print(f"{'workload':44s} {'windows/s':>11s} {'MB/s out':>9s} {'decoded MB/s':>12s} "
              f"{'vs decode':>9s} {'vs numpy':>9s}")
        rows = [
            ("Blosc decode of all chunks (limit)", "decode", None),
            ("numpy in memory, sequential slices", "numpy seq", None),
            ("numpy in memory, random fancy index", "numpy rand", None),
            ("genozarr.batches sequential", "seq", np_seq),
            ("genozarr.batches block-shuffled", "block", np_seq),
            ("genozarr random rows (block_size=1)", "random", np_rand),
        ]
        for label, key, ref in rows:
            sps, mbs = rate(key)
            dec = sps * (TRACKS * 4 + 1) * WINDOW / 1e6
            vs_np = f"{sps / ref:9.2f}" if ref else f"{'':9s}"
            out = mbs if key != "decode" else float("nan")
            print(f"{label:44s} {sps:11.0f} {out:9.0f} {dec:12.0f} {sps / limit_sps:9.2f} {vs_np}")
        print("\nvs decode: windows/s over the windows/s at which Blosc decodes both stores; "
              "target for block-shuffled >= 0.7.")


if __name__ == "__main__":
    main()
