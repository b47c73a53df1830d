"""DataLoader workers over stores kept decoded in memory: one shared copy against one copy
per worker, in one run.

Builds the stores of ``benchmarks/serve.py`` (``n`` windows of 1 kb: 4 float32 coverage
tracks and one-hot sequence; decoded, 340 MB at the default 20,000 windows), opens them
with the defaults (``cache='auto'``: kept decoded in memory, as they fit) and runs three
block-shuffled epochs of ``genozarr.loaders.torch_loader`` with ``--workers`` persistent
worker processes, twice: as genozarr does it (the decoded arrays are made in memory the
workers share, each chunk decoded once by whichever worker needs it first) and with that
sharing turned off (each worker decodes and keeps its own copy, as before). Prints windows/s
per epoch and the proportional set size (PSS: shared pages counted once) of the main
process and its workers after each epoch.

Run: ``python benchmarks/workers_shared.py [--n 20000] [--workers 2] [--repeat 3]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import serve


def _pss_mb() -> float:
    """PSS of this process and its children, MB."""
    import psutil

    me = psutil.Process()
    total = 0
    for proc in [me, *me.children(recursive=True)]:
        try:
            total += proc.memory_full_info().pss
        except psutil.Error:
            pass
    return total / 2**20


def run(cover_path: str, seq_path: str, workers: int, shared: bool) -> list[tuple[float, float]]:
    """Windows/s and PSS (MB) after each of three epochs, in a fresh loader."""
    import genozarr
    from genozarr.loaders import torch_loader
    from genozarr.store.backend import ZarrBackend

    original = ZarrBackend.share_with_workers
    if not shared:  # each worker decodes and keeps its own copy (the previous behaviour)
        ZarrBackend.share_with_workers = lambda self: None
    try:
        cov, seq = genozarr.open_dataset(cover_path), genozarr.open_dataset(seq_path)
        loader = torch_loader(seq, cov, batch_size=serve.BATCH, shuffle=True,
                              num_workers=workers, persistent_workers=True)
    finally:
        ZarrBackend.share_with_workers = original
    out = []
    for _ in range(3):
        t = time.perf_counter()
        n = sum(len(x) for x, _ in loader)
        out.append((n / (time.perf_counter() - t), _pss_mb()))
    del loader
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000, help="windows (default 20000)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    from genozarr import set_options

    results: dict[bool, list[list[tuple[float, float]]]] = {True: [], False: []}
    with tempfile.TemporaryDirectory() as d, set_options(progress=False):
        cover, bioseq, _ = serve.make_data(d, args.n)
        paths = (cover.garray.path, bioseq.garray.path)
        for _ in range(args.repeat):  # alternating, so load changes hit both alike
            for shared in (True, False):
                results[shared].append(run(*paths, args.workers, shared))
    print(f"\n{args.n} windows of 1 kb (4 float32 tracks + sequence codes), block-shuffled, "
          f"batch {serve.BATCH}; {args.workers} persistent workers; cores {os.cpu_count()}; "
          f"{args.repeat} runs (median, range)")
    print(f"{'decoded arrays':28s} {'epoch':>5s} {'windows/s':>10s} {'range':>15s} "
          f"{'PSS MB':>7s} {'range':>11s}")
    for shared, label in ((True, "one shared copy (genozarr)"), (False, "one copy per worker")):
        for e in range(3):
            rates = [r[e][0] for r in results[shared]]
            pss = [r[e][1] for r in results[shared]]
            print(f"{label:28s} {e + 1:5d} {statistics.median(rates):10.0f} "
                  f"{min(rates):7.0f}-{max(rates):<7.0f} {statistics.median(pss):7.0f} "
                  f"{min(pss):5.0f}-{max(pss):<5.0f}")


if __name__ == "__main__":
    main()
