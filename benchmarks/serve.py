"""Serving benchmark: minibatches of 1 kb windows x 4 coverage tracks + one-hot sequence
from zarr stores on disk, against the Blosc decode limit and numpy in memory, for every
storage choice, and with 1 and N DataLoader worker processes.

Run: ``python benchmarks/serve.py [--n 20000] [--repeat 3] [--real]``. Generates its data
in a temporary directory: ``n`` windows of 1 kb, a Cover of 4 Poisson tracks (float32;
with ``--real`` each window's track scaled by a log-normal factor, so not integers,
written with ``Cover.create_from_array(storage='zarr')``) and a Bioseq of a random genome
(uint8 codes in zarr, one-hot per batch), once per storage choice:

- ``zstd-1`` (the default: Blosc zstd level 1, 2 MiB chunks), ``lz4``, ``none``
  (uncompressed), ``float16`` and ``bfloat16`` coverage (zstd-1; bfloat16 is served as
  float32), ``sharded`` (zstd-1, 2 MiB shards of 64 KiB inner chunks:
  ``set_options(inner_chunk_bytes=65536)``), ``sharded-lz4`` / ``sharded-lz4-16k``
  (Blosc lz4, inner chunks of 64 / 16 KiB), and ``sharded-lz4-row`` / ``sharded-none-row``
  (inner chunks of one window, ``inner_chunk_bytes=1``: Blosc lz4 / uncompressed).

Measures, in one run (medians of ``--repeat``, runs interleaved):

- the decode limit: every chunk of the default stores decoded with numcodecs' Blosc (from
  bytes already in memory, into a reused buffer, in the main thread with Blosc's own
  threads);
- numpy fancy indexing of the same data held in memory (coverage rows + one-hot of codes);
- per storage choice, ``genozarr.batches`` sequential, block-shuffled and fully random
  (a fresh random sample of windows per batch), each run starting with an empty
  decoded-chunk cache (the default 256 MiB) and no store kept decoded in memory
  (``memory_cache_bytes=0``), so every chunk a run needs is decoded in that run; and
  the second epoch of ``open_dataset(..., cache='memory')`` (every chunk decoded once);
- block-shuffled with ``prefetch=0`` (batches assembled in the caller's thread, chunks
  decoded ahead in the decode threads), for the default storage choice;
- block-shuffled ``genozarr.batches`` over stores reopened with 1 decode thread and with
  the default (the cores, at most 4): thread scaling inside one process;
- ``genozarr.loaders.torch_loader`` (block-shuffled) with 1 and with N worker processes
  (N = the core count, at most 4; ``--workers`` lists others), each worker with its default share of the cores
  (``cores // N`` decode threads) and with 1 decode thread, when PyTorch is installed;
  beside a plain DataLoader handing over ready-made batches of the same tensors through 1
  and N workers, nothing read (``plain DataLoader transport``: PyTorch's own way of
  moving a worker's tensors, one new shared-memory segment per tensor, which
  ``torch_loader`` replaces with a ring of shared-memory slots per worker).

Targets: block-shuffled >= 0.9x the decode limit; N threads or workers >= 0.7 x N x one.
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


def make_data(directory: str, n: int, seed: int = 0, dtype: str = "float32",  # noqa: ANN201
              real: bool = False):
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
    if real:  # counts scaled per window and track (a normalized signal): not integers
        cov *= rng.lognormal(0.0, 0.5, size=(n, 1, 1, TRACKS)).astype(np.float32)
    cover = Cover.create_from_array("cov", cov, gi, storage="zarr", dtype=dtype,
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
    """Empty the decoded-chunk caches: every measured read decodes its chunks (and, from a
    remote store, fetches them again)."""
    from genozarr.store._direct import RemoteChunks
    from genozarr.store.backend import _ChunkCache

    for d in datasets:
        backend = d.garray.backend
        backend.cache = _ChunkCache(backend.cache.max_bytes)
        for reader in getattr(backend, "_direct", {}).values():
            if isinstance(reader, RemoteChunks):
                reader.clear()


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


CHOICES = {
    "zstd-1": {},
    "lz4": {"compressor": "lz4"},
    "none": {"compressor": None},
    "float16": {"dtype": "float16"},
    "bfloat16": {"dtype": "bfloat16"},
    "sharded": {"inner_chunk_bytes": 65536},
    "sharded-lz4": {"inner_chunk_bytes": 65536, "compressor": "lz4"},
    "sharded-lz4-16k": {"inner_chunk_bytes": 16384, "compressor": "lz4"},
    "sharded-lz4-row": {"inner_chunk_bytes": 1, "compressor": "lz4"},
    "sharded-none-row": {"inner_chunk_bytes": 1, "compressor": None},
}


def build(directory: str, n: int, choice: str, real: bool = False):  # noqa: ANN201
    from genozarr import set_options

    options = dict(CHOICES[choice])
    dtype = options.pop("dtype", "float32")
    path = os.path.join(directory, choice)
    os.makedirs(path, exist_ok=True)
    with set_options(**options):
        cover, bioseq, cov = make_data(path, n, dtype=dtype, real=real)
    return cover, bioseq, cov


def memory_epoch(cover, bioseq) -> tuple[float, int, int]:  # noqa: ANN001
    """The second block-shuffled epoch over stores opened with ``cache='memory'``."""
    import genozarr

    c = genozarr.open_dataset(cover.garray.path, cache="memory")
    s = genozarr.open_dataset(bioseq.garray.path, cache="memory")
    for _ in genozarr.batches(c, s, batch_size=BATCH, shuffle=True, seed=0):
        pass
    t = time.perf_counter()
    k = nbytes = 0
    for a, b in genozarr.batches(c, s, batch_size=BATCH, shuffle=True, seed=1):
        k += len(a)
        nbytes += a.nbytes + b.nbytes
    return time.perf_counter() - t, k, nbytes


def thread_epoch(cover, bioseq, threads: int | None, seed: int) -> tuple[float, int, int]:  # noqa: ANN001
    """A block-shuffled epoch of ``genozarr.batches`` over the stores reopened with
    ``decode_threads=threads`` (None: the default), with an empty cache."""
    import genozarr

    with genozarr.set_options(decode_threads=threads):
        c = genozarr.open_dataset(cover.garray.path)
        s = genozarr.open_dataset(bioseq.garray.path)
        return epoch(c, s, shuffle=True, seed=seed)


def torch_epoch(cover, bioseq, workers: int,  # noqa: ANN001
                threads: int | None = None) -> tuple[float, int, int]:
    """One block-shuffled epoch of ``torch_loader`` with ``workers`` processes, each
    decoding with ``threads`` threads (None: its share of the cores), worker start-up
    excluded (the first batch is taken before the clock starts)."""
    from genozarr import set_options
    from genozarr.loaders.torch import torch_loader

    with set_options(decode_threads=threads):  # workers start (and copy it) below
        loader = torch_loader(bioseq, cover, batch_size=BATCH, shuffle=True, seed=0,
                              num_workers=workers, persistent_workers=workers > 0)
        return _loader_epoch(loader)


def _loader_epoch(loader) -> tuple[float, int, int]:
    """Time a pass of ``loader`` after a warm-up pass (workers started, files in the page
    cache), from its first batch on."""
    for _ in loader:
        pass
    it = iter(loader)
    first = next(it)
    t = time.perf_counter()
    k = nbytes = 0
    for x, y in it:
        k += len(x)
        nbytes += x.nbytes + y.nbytes
    del first
    return time.perf_counter() - t, k, nbytes


def transport_epoch(workers: int, n_batches: int,
                    shapes: tuple[tuple[int, ...], tuple[int, ...]]) -> tuple[float, int, int]:
    """A plain DataLoader's transport: ``n_batches`` ready-made batches of the arrays that
    ``torch_loader``'s workers send (float32 coverage and uint8 sequence codes, fresh
    arrays each batch, as a reader makes them) yielded as tensors by ``workers`` worker
    processes, nothing read or decoded; timed as :func:`torch_epoch`."""
    import torch
    from torch.utils.data import DataLoader, IterableDataset, get_worker_info

    class Ready(IterableDataset):
        def __iter__(self):
            info = get_worker_info()
            k, m = (info.id, info.num_workers) if info is not None else (0, 1)
            cov, codes = np.ones(shapes[0], np.float32), np.ones(shapes[1], np.uint8)
            for _ in range(k, n_batches, m):
                yield torch.from_numpy(cov.copy()), torch.from_numpy(codes.copy())

    return _loader_epoch(DataLoader(Ready(), batch_size=None, num_workers=workers,
                                    persistent_workers=workers > 0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000, help="windows (default 20000)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--random-batches", type=int, default=40)
    parser.add_argument("--choices", nargs="+", default=list(CHOICES), choices=list(CHOICES))
    parser.add_argument("--no-torch", action="store_true", help="skip the DataLoader rows")
    parser.add_argument("--real", action="store_true",
                        help="coverage scaled per window and track (not integer counts)")
    parser.add_argument("--workers", type=int, nargs="+",
                        help="DataLoader worker counts of the torch_loader rows (default: 1 "
                             "and the core count, at most 4)")
    args = parser.parse_args()
    from genozarr import set_options

    try:
        import torch  # noqa: F401
        workers = [] if args.no_torch else (
            args.workers or [1, max(2, min(4, os.cpu_count() or 1))])
    except ImportError:
        workers = []
    # a cache smaller than the data, as for a real corpus (and no store kept decoded in
    # memory but where asked for); caches are emptied before each run
    with tempfile.TemporaryDirectory() as d, set_options(progress=False,
                                                         chunk_cache_bytes=64 * 2**20,
                                                         memory_cache_bytes=0):
        t0 = time.perf_counter()
        built = {c: build(d, args.n, c, args.real) for c in args.choices}
        cover, bioseq, cov = built[args.choices[0]]
        print(f"generated {args.n} windows x {len(built)} storage choices in "
              f"{time.perf_counter() - t0:.1f} s; {args.choices[0]}: cover chunks "
              f"{cover.garray.backend.array('data').chunks}, sequence chunks "
              f"{bioseq.garray.backend.array('data').chunks}")
        first = os.path.join(d, args.choices[0])
        stores = [chunk_files(os.path.join(first, "cov.zarr")),
                  chunk_files(os.path.join(first, "seq.zarr"))]
        decoded = args.n * WINDOW * (TRACKS * 4 + 1)
        codes = bioseq.garray.dense()[:, :, 0, 0]
        results: dict[str, list[tuple[float, int, int]]] = {}
        sizes = {c: sum(_disk(os.path.join(d, c, f)) for f in ("cov.zarr", "seq.zarr"))
                 for c in built}
        nb = args.n // BATCH
        for r in range(args.repeat):  # interleaved, so load changes hit every row alike
            results.setdefault("decode", []).append((decode_all(stores), args.n, decoded))
            results.setdefault("numpy seq", []).append(numpy_memory(cov, codes, nb, r, False))
            results.setdefault("numpy rand", []).append(numpy_memory(cov, codes, nb, r, True))
            for choice, (c, s, _) in built.items():
                epoch(c, s, shuffle=True, seed=r)  # warm: the cache's pages, the OS cache
                results.setdefault(f"{choice} seq", []).append(epoch(c, s, shuffle=False))
                results.setdefault(f"{choice} block", []).append(
                    epoch(c, s, shuffle=True, seed=r))
                results.setdefault(f"{choice} random", []).append(
                    random_batches(c, s, args.random_batches, r))
            c, s, _ = built[args.choices[0]]
            epoch(c, s, shuffle=True, seed=r, prefetch=0)  # warm
            results.setdefault("block p0", []).append(epoch(c, s, shuffle=True, seed=r,
                                                            prefetch=0))
            results.setdefault("memory", []).append(memory_epoch(c, s))
            for threads in (1, None):
                results.setdefault(f"threads {threads}", []).append(
                    thread_epoch(c, s, threads, r))
            for w in workers:
                results.setdefault(f"torch {w}", []).append(torch_epoch(c, s, w))
                results.setdefault(f"torch {w} t1", []).append(torch_epoch(c, s, w, 1))
                results.setdefault(f"transport {w}", []).append(transport_epoch(
                    w, nb, ((BATCH, WINDOW, 1, TRACKS), (BATCH, WINDOW))))

        def rate(key: str) -> tuple[float, float, float, float]:
            ts = [x[0] for x in results[key]]
            k, nbytes = results[key][0][1], results[key][0][2]
            return k / statistics.median(ts), nbytes / statistics.median(ts) / 1e6, \
                k / max(ts), k / min(ts)

        limit, _, _, _ = rate("decode")
        np_seq = rate("numpy seq")[0]
        np_rand = rate("numpy rand")[0]
        print(f"\ncores {os.cpu_count()}; batch {BATCH}; delivered per window "
              f"{(TRACKS * 4 + 4 * 4) * WINDOW / 1e3:.0f} kB (float32 coverage + one-hot); "
              f"{args.repeat} runs (median, range)")
        print(f"{'workload':46s} {'windows/s':>10s} {'range':>15s} {'vs decode':>9s} "
              f"{'vs numpy':>8s} {'store MB':>8s}")

        def line(label: str, key: str, ref: float | None, size: float | None = None) -> None:
            sps, _, lo, hi = rate(key)
            vs_np = f"{sps / ref:8.2f}" if ref else f"{'':8s}"
            mb = f"{size / 1e6:8.1f}" if size else f"{'':8s}"
            print(f"{label:46s} {sps:10.0f} {lo:7.0f}-{hi:<7.0f} {sps / limit:9.2f} {vs_np} {mb}")

        line("Blosc decode of all chunks (limit, zstd-1)", "decode", None)
        line("numpy in memory, sequential slices", "numpy seq", None)
        line("numpy in memory, random fancy index", "numpy rand", None)
        for choice in built:
            line(f"{choice}: sequential", f"{choice} seq", np_seq, sizes[choice])
            line(f"{choice}: block-shuffled", f"{choice} block", np_seq)
            line(f"{choice}: fully random", f"{choice} random", np_rand)
        line(f"{args.choices[0]}: block-shuffled, prefetch=0", "block p0", np_seq)
        line(f"{args.choices[0]}: cache='memory', 2nd epoch (block)", "memory", np_seq)
        from genozarr.store.backend import decode_threads

        line(f"{args.choices[0]}: block, 1 decode thread", "threads 1", np_seq)
        line(f"{args.choices[0]}: block, {decode_threads()} decode threads (default)",
             "threads None", np_seq)
        for w in workers:
            line(f"{args.choices[0]}: torch_loader, {w} worker(s), block", f"torch {w}", None)
            line(f"{args.choices[0]}: torch_loader, {w} worker(s), 1 thread each",
                 f"torch {w} t1", None)
            line(f"plain DataLoader transport, {w} worker(s)", f"transport {w}", None)
        one_t, many_t = rate("threads 1")[0], rate("threads None")[0]
        print(f"\nthread scaling: {decode_threads()} decode threads / 1 = "
              f"{many_t / one_t:.2f}x (target >= {0.7 * decode_threads():.1f}x)")
        for w in workers[1:]:
            for tag, what in (("", "default threads"), (" t1", "1 decode thread each")):
                one = rate(f"torch {workers[0]}{tag}")[0]
                many = rate(f"torch {w}{tag}")[0]
                print(f"worker scaling ({what}): {w} workers / {workers[0]} = "
                      f"{many / one:.2f}x (target >= {0.7 * w / workers[0]:.1f}x)")
        for w in workers:
            print(f"torch_loader / plain DataLoader transport, {w} worker(s): "
                  f"{rate(f'torch {w}')[0] / rate(f'transport {w}')[0]:.2f}x")
        for w in workers[1:]:
            print(f"plain DataLoader transport scaling: {w} workers / {workers[0]} = "
                  f"{rate(f'transport {w}')[0] / rate(f'transport {workers[0]}')[0]:.2f}x")
        print("\nvs decode: windows/s over the windows/s at which Blosc decodes the default "
              "stores; target for block-shuffled >= 0.9.")


def _disk(path: str) -> int:
    return sum(os.path.getsize(os.path.join(root, f))
               for root, _, files in os.walk(path) for f in files)


if __name__ == "__main__":
    main()
