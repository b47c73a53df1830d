"""Feeding a GPU from genozarr's PyTorch DataLoader adapters.

Run: ``python benchmarks/gpu_feed.py [--n 20000] [--epochs 2]``. Self-contained: generates
``n`` windows of 1 kb (4 Poisson coverage tracks as a zarr Cover, and a random genome as
a zarr Bioseq) in a temporary directory (well under a minute), then measures windows/s
delivered to the device ('cuda' when available, else 'cpu') for:

- the host-to-device copy of ready pinned batches (the transfer limit);
- ``TorchIterableDataset`` (chunk-aware shuffled batches) with ``num_workers`` 0 and 4;
- ``TorchDataset`` (map-style, ``DataLoader(shuffle=True)``) with ``num_workers`` 0 and 4;

each with ``pin_memory=True`` and ``non_blocking`` copies; the device is synchronised
before the clock stops. Prints a table with ratios against the transfer limit.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np
import torch

BATCH = 128
WINDOW = 1000
TRACKS = 4


def make_data(directory: str, n: int, seed: int = 0):  # noqa: ANN201
    import pandas as pd

    from genozarr import Bioseq, Cover, GenomicIndexer
    from genozarr.testing.simulate import write_fasta

    rng = np.random.default_rng(seed)
    seq = rng.choice(np.frombuffer(b"ACGT", dtype=np.uint8), size=n * WINDOW)
    fasta = os.path.join(directory, "genome.fa")
    write_fasta(fasta, {"chr1": seq.tobytes().decode()})
    starts = np.arange(n) * WINDOW
    gi = GenomicIndexer(np.full(n, "chr1", dtype=object), starts, starts + WINDOW,
                        np.full(n, "+", dtype=object), WINDOW, WINDOW)
    lam = rng.gamma(0.5, 4, size=(n, 1, 1, TRACKS)).astype(np.float32)
    cov = rng.poisson(np.broadcast_to(lam, (n, WINDOW, 1, TRACKS))).astype(np.float32)
    cover = Cover.create_from_array("cov", cov, gi, storage="zarr",
                                    store=os.path.join(directory, "cov.zarr"))
    roi = pd.DataFrame({"chrom": "chr1", "start": starts, "end": starts + WINDOW, "strand": "+"})
    bioseq = Bioseq.create_from_refgenome("seq", fasta, roi=roi, binsize=WINDOW, storage="zarr",
                                          store=os.path.join(directory, "seq.zarr"))
    return cover, bioseq


def feed(loader, device: torch.device, epochs: int) -> tuple[float, int]:  # noqa: ANN001
    k = 0
    t = time.perf_counter()
    for _ in range(epochs):
        for x, y in loader:
            x = x.to(device, non_blocking=True)
            y = y.to(device, non_blocking=True)
            k += len(x)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - t, k


def transfer_limit(device: torch.device, n_batches: int) -> tuple[float, int]:
    x = torch.zeros((BATCH, WINDOW, 1, 4), dtype=torch.float32)
    y = torch.zeros((BATCH, WINDOW, 1, TRACKS), dtype=torch.float32)
    if device.type == "cuda":
        x, y = x.pin_memory(), y.pin_memory()
    t = time.perf_counter()
    for _ in range(n_batches):
        x.to(device, non_blocking=True)
        y.to(device, non_blocking=True)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - t, n_batches * BATCH


def main() -> None:
    from torch.utils.data import DataLoader

    from genozarr import set_options
    from genozarr.loaders.torch import TorchDataset, TorchIterableDataset

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 4])
    args = parser.parse_args()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    pin = device.type == "cuda"
    with tempfile.TemporaryDirectory() as d, set_options(progress=False):
        t0 = time.perf_counter()
        cover, bioseq = make_data(d, args.n)
        print(f"generated {args.n} windows in {time.perf_counter() - t0:.1f} s; device {device}"
              f"{' (' + torch.cuda.get_device_name() + ')' if pin else ''}; "
              f"cores {os.cpu_count()}")
        rows = [("host->device copy of ready pinned batches", *transfer_limit(device, 200))]
        for w in args.workers:
            kw = dict(num_workers=w, pin_memory=pin, persistent_workers=w > 0)
            it = TorchIterableDataset(bioseq, cover, batch_size=BATCH, shuffle=True)
            loader = DataLoader(it, batch_size=None, **kw)
            feed(loader, device, 1)  # warm-up: workers start (and persist), pages fault in
            rows.append((f"TorchIterableDataset shuffled, workers={w}",
                         *feed(loader, device, args.epochs)))
            mp = TorchDataset(bioseq, cover)
            loader = DataLoader(mp, batch_size=BATCH, shuffle=True, **kw)
            feed(loader, device, 1)
            rows.append((f"TorchDataset map-style shuffle=True, workers={w}",
                         *feed(loader, device, args.epochs)))
        per_window = (4 + TRACKS) * WINDOW * 4
        limit = rows[0][2] / rows[0][1]
        print(f"\n{'workload':50s} {'windows/s':>11s} {'MB/s':>8s} {'vs copy':>8s}")
        for label, t, k in rows:
            print(f"{label:50s} {k / t:11.0f} {k * per_window / t / 1e6:8.0f} "
                  f"{k / t / limit:8.2f}")


if __name__ == "__main__":
    main()
