"""Feeding a GPU from genozarr's PyTorch loaders, and whether a model's GPU stays busy.

Run: ``python benchmarks/gpu_feed.py [--n 20000] [--epochs 2] [--workers 0 4] [--width 256]``.
Self-contained: generates ``n`` windows of 1 kb (4 Poisson coverage tracks as a zarr
Cover, and a random genome as a zarr Bioseq) in a temporary directory (well under a
minute), then measures windows/s delivered to the device ('cuda' when available, else
'cpu') for:

- the host-to-device copy of ready pinned batches (the transfer limit);
- per worker count (``--workers``): ``genozarr.loaders.torch_loader`` (chunk-aware
  shuffled batches through shared-memory slots), the same without ``pin_memory`` (on a
  GPU: what pinning costs or saves), the same with ``map_style=True``
  (``TorchDataset`` + ``ChunkSampler``), ``TorchIterableDataset`` in a plain
  ``DataLoader``, and ``TorchDataset`` with ``DataLoader(shuffle=True)`` (random rows);

each with ``pin_memory=True`` and ``non_blocking`` copies; the device is synchronised
before the clock stops; one untimed pass first (workers start and persist, pages fault
in). No store is kept decoded in memory (``memory_cache_bytes=0``), so every epoch
decodes its chunks, as for a corpus larger than memory; ``--memory-cache`` keeps
genozarr's default (stores that fit are kept decoded). Prints a table with ratios
against the transfer limit.

Then, unless ``--width 0``, a model trains on the batches: a 1-D CNN of three
convolutions (``width`` channels, kernels 19/11/11) predicting the 4 tracks from the
one-hot sequence (Poisson loss, Adam, bfloat16 autocast on the GPU). Its compute limit
is measured on one batch resident on the device; each ``torch_loader`` worker count then
trains for ``--epochs`` epochs, and ``GPU busy`` is the share of the wall time the
steps would take at the compute limit (1.0: the loader never keeps the GPU waiting).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Iterable, Iterator

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


class Net(torch.nn.Module):
    """Three convolutions from one-hot sequence (B, L, 1, 4) to log-rates (B, L, 1, TRACKS)."""

    def __init__(self, width: int) -> None:
        super().__init__()
        nn = torch.nn
        self.body = nn.Sequential(
            nn.Conv1d(4, width, 19, padding=9), nn.ReLU(),
            nn.Conv1d(width, width, 11, padding=5), nn.ReLU(),
            nn.Conv1d(width, width, 11, padding=5), nn.ReLU(),
            nn.Conv1d(width, TRACKS, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.body(x[:, :, 0, :].transpose(1, 2))
        return out.transpose(1, 2)[:, :, None, :]


class Trainer:
    """One optimiser step per batch on ``device``."""

    def __init__(self, width: int, device: torch.device) -> None:
        torch.manual_seed(0)
        self.device = device
        self.model = Net(width).to(device)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=1e-3)
        self.loss = torch.nn.PoissonNLLLoss(log_input=True)
        self.dtype = torch.bfloat16 if device.type == "cuda" else torch.float32

    def step(self, x: torch.Tensor, y: torch.Tensor) -> None:
        with torch.autocast(self.device.type, dtype=self.dtype,
                            enabled=self.device.type == "cuda"):
            loss = self.loss(self.model(x).float(), y)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()

    def sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize()

    def compute_limit(self, steps: int) -> tuple[float, int]:
        """Steps on one batch already on the device: the model's own windows/s."""
        g = torch.Generator().manual_seed(0)
        codes = torch.randint(0, 4, (BATCH, WINDOW), generator=g)
        x = torch.nn.functional.one_hot(codes, 4).float()[:, :, None, :].to(self.device)
        y = torch.poisson(torch.full((BATCH, WINDOW, 1, TRACKS), 2.0)).to(self.device)
        for _ in range(5):
            self.step(x, y)
        self.sync()
        t = time.perf_counter()
        for _ in range(steps):
            self.step(x, y)
        self.sync()
        return time.perf_counter() - t, steps * BATCH

    def train(self, loader: Iterable, epochs: int) -> tuple[float, int]:
        for x, y in loader:  # warm-up pass: workers start, pages fault in
            self.step(x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True))
        self.sync()
        k = 0
        t = time.perf_counter()
        for _ in range(epochs):
            for x, y in loader:
                self.step(x.to(self.device, non_blocking=True),
                          y.to(self.device, non_blocking=True))
                k += len(x)
        self.sync()
        return time.perf_counter() - t, k


def main() -> None:
    from torch.utils.data import DataLoader

    from genozarr import set_options
    from genozarr.loaders.torch import TorchDataset, TorchIterableDataset, torch_loader

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 4])
    parser.add_argument("--width", type=int, default=256,
                        help="channels of the model's convolutions; 0: no model rows")
    parser.add_argument("--no-plain", action="store_true",
                        help="skip the plain DataLoader rows (random rows are slow)")
    parser.add_argument("--memory-cache", action="store_true",
                        help="keep the stores decoded in memory where they fit (the default "
                             "of genozarr); without it every epoch decodes its chunks, as for "
                             "a corpus larger than memory")
    args = parser.parse_args()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    pin = device.type == "cuda"
    options = {"progress": False} if args.memory_cache else {"progress": False,
                                                             "memory_cache_bytes": 0}
    with tempfile.TemporaryDirectory() as d, set_options(**options):
        t0 = time.perf_counter()
        cover, bioseq = make_data(d, args.n)
        print(f"generated {args.n} windows in {time.perf_counter() - t0:.1f} s; device {device}"
              f"{' (' + torch.cuda.get_device_name() + ')' if pin else ''}; "
              f"cores {os.cpu_count()}; torch {torch.__version__}; stores kept decoded: "
              f"{'where they fit' if args.memory_cache else 'no'}", flush=True)
        rows = [("host->device copy of ready pinned batches", *transfer_limit(device, 200))]

        def loaders(w: int) -> Iterator[tuple[str, Iterable]]:
            kw = dict(num_workers=w, pin_memory=pin, persistent_workers=w > 0)
            yield (f"torch_loader shuffled, workers={w}",
                   torch_loader(bioseq, cover, batch_size=BATCH, shuffle=True, seed=0, **kw))
            if pin:
                yield (f"torch_loader shuffled, pin_memory=False, workers={w}",
                       torch_loader(bioseq, cover, batch_size=BATCH, shuffle=True, seed=0,
                                    **{**kw, "pin_memory": False}))
            yield (f"torch_loader map_style shuffled, workers={w}",
                   torch_loader(bioseq, cover, batch_size=BATCH, shuffle=True, seed=0,
                                map_style=True, **kw))
            if args.no_plain:
                return
            yield (f"TorchIterableDataset in DataLoader, workers={w}",
                   DataLoader(TorchIterableDataset(bioseq, cover, batch_size=BATCH,
                                                   shuffle=True), batch_size=None, **kw))
            yield (f"TorchDataset, DataLoader(shuffle=True), workers={w}",
                   DataLoader(TorchDataset(bioseq, cover), batch_size=BATCH, shuffle=True,
                              **kw))

        for w in args.workers:
            for label, loader in loaders(w):
                feed(loader, device, 1)  # warm-up: workers start (and persist), pages fault in
                rows.append((label, *feed(loader, device, args.epochs)))
                del loader
            print(f"  workers={w} done", flush=True)
        per_window = (4 + TRACKS) * WINDOW * 4
        limit = rows[0][2] / rows[0][1]
        print(f"\n{'workload':55s} {'windows/s':>11s} {'MB/s':>8s} {'vs copy':>8s}")
        for label, t, k in rows:
            print(f"{label:55s} {k / t:11.0f} {k * per_window / t / 1e6:8.0f} "
                  f"{k / t / limit:8.2f}")
        if not args.width:
            return
        trainer = Trainer(args.width, device)
        t, k = trainer.compute_limit(50 if pin else 3)
        compute = k / t
        print(f"\nmodel: 3 convolutions of {args.width} channels, batch {BATCH}; compute "
              f"limit (one resident batch) {compute:.0f} windows/s")
        print(f"{'training with':55s} {'windows/s':>11s} {'GPU busy':>8s}")
        for w in args.workers:
            loader = torch_loader(bioseq, cover, batch_size=BATCH, shuffle=True, seed=0,
                                  num_workers=w, pin_memory=pin, persistent_workers=w > 0)
            t, k = trainer.train(loader, args.epochs)
            print(f"{f'torch_loader shuffled, workers={w}':55s} {k / t:11.0f} "
                  f"{k / t / compute:8.2f}", flush=True)
            del loader


if __name__ == "__main__":
    main()
