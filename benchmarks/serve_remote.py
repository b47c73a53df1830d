"""Serving from a remote store: windows/s over HTTP with added latency and from S3 (moto),
against the same stores on local disk, measured in one run.

Run: ``python benchmarks/serve_remote.py [--n 10000] [--repeat 3] [--latency 0 5 20]``.
Builds the stores of ``benchmarks/serve.py`` (``n`` windows of 1 kb: 4 float32 coverage
tracks and one-hot sequence) in a temporary directory, copies them in the layout genozarr
writes to object storage (each store under ``v-<hex>/``, named by the pointer
``genozarr-current``), serves those copies on 127.0.0.1 from a child process (a threaded
``http.server`` with range requests that sleeps ``latency`` ms before answering each
request: a stand-in for object storage) and from a moto S3 server, then times one
block-shuffled epoch of ``genozarr.batches`` over the local stores and over each remote
copy, alternating, and prints the median windows/s and the ratio to local. One more row
serves the local store directories themselves at the largest latency (a web server
exposing a store directory: no versions, so readers read the completion marker again
after chunks come). Every epoch starts with empty decoded-chunk caches (remotely, with no
stored bytes kept either: every chunk is fetched again) and no store kept decoded in
memory, except in the two "kept in memory" rows: the local store and the copy
behind the largest latency opened with ``cache='memory'`` (what ``cache='auto'`` does for
a store that fits in memory), timed after the warm-up epoch that decoded them. The
``server CPU`` column is the stand-in server's CPU time per epoch as a share of one core
over the epoch: work that object storage does on other machines, here on the same cores.

Target: remote over 20 ms latency >= 0.8x of local.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from typing import Any

import psutil

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import serve
from remote_inputs import _wait_for, serve_s3

from genozarr.store.open import POINTER
from genozarr.testing.servers import RangeHandler, Server, free_port


class SlowHandler(RangeHandler):
    """:class:`RangeHandler` that waits ``latency`` seconds before each answer."""

    latency = 0.0

    def send_head(self) -> Any:
        if self.latency:
            time.sleep(self.latency)
        return super().send_head()


def _serve_forever(directory: str, port: int, latency_ms: float) -> None:
    handler = type("Handler", (SlowHandler,), {"latency": latency_ms / 1000})
    server = Server(("127.0.0.1", port), functools.partial(handler, directory=directory))
    server.serve_forever()


def serve_http(directory: str, latency_ms: float) -> tuple[str, subprocess.Popen]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--serve", directory,
                             "--port", str(port), "--latency", str(latency_ms)])
    _wait_for(port, proc)
    return f"http://127.0.0.1:{port}", proc


def versioned_copy(store: str, target: str) -> None:
    """``store`` (a local store directory) copied to ``target`` in the layout of a store
    built on object storage: the store under ``v-<hex>/``, named by the pointer. The
    version name is new for every copy (a published version is never written again:
    readers that resolved it would read two builds' chunks), and the pointer is replaced
    in one rename, after the copy."""
    version = f"v-{uuid.uuid4().hex[:16]}"
    shutil.copytree(store, os.path.join(target, version))
    tmp = os.path.join(target, f".{POINTER}.{uuid.uuid4().hex[:8]}")
    with open(tmp, "w") as f:
        json.dump({"version": version}, f)
    os.replace(tmp, os.path.join(target, POINTER))


def _cpu(proc: Any) -> float:
    """User + system CPU seconds of a process so far (0 for none)."""
    if proc is None:
        return 0.0
    t = proc.cpu_times()
    return t.user + t.system


def epoch(cover: Any, bioseq: Any, seed: int) -> float:
    """Seconds of one block-shuffled epoch, caches emptied first."""
    from genozarr import batches

    serve.clear_caches(cover, bioseq)
    t = time.perf_counter()
    for _ in batches(cover, bioseq, batch_size=serve.BATCH, shuffle=True, seed=seed):
        pass
    return time.perf_counter() - t


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="windows (default 10000)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--latency", type=float, nargs="+", default=[0, 5, 20])
    parser.add_argument("--no-s3", action="store_true", help="skip the moto S3 row")
    parser.add_argument("--inner-chunk-bytes", type=int, default=None,
                        help="build sharded stores with inner chunks of this size")
    parser.add_argument("--fetch-threads", type=int, default=None,
                        help="threads waiting for and decoding a remote store's chunks "
                             "(default: genozarr's)")
    args = parser.parse_args()
    import genozarr
    import genozarr.store.backend as backend

    if args.fetch_threads is not None:
        backend.FETCH_THREADS = args.fetch_threads
    from genozarr import set_options

    procs: list[subprocess.Popen] = []
    stops: list[Any] = []
    # every epoch fetches and decodes its chunks (no store kept decoded in memory)
    with tempfile.TemporaryDirectory() as d, set_options(
            progress=False, chunk_cache_bytes=64 * 2**20, memory_cache_bytes=0,
            inner_chunk_bytes=args.inner_chunk_bytes):
        local_dir, remote_dir = os.path.join(d, "local"), os.path.join(d, "versioned")
        os.makedirs(local_dir)
        cover, bioseq, _ = serve.make_data(local_dir, args.n)
        for name in ("cov.zarr", "seq.zarr"):
            versioned_copy(os.path.join(local_dir, name), os.path.join(remote_dir, name))
        sources: dict[str, tuple[Any, Any]] = {"local disk": (cover, bioseq)}
        try:
            urls = {}
            servers: dict[str, psutil.Process] = {}  # the HTTP rows' server processes
            for ms in args.latency:
                url, proc = serve_http(remote_dir, ms)
                procs.append(proc)
                urls[ms] = url
                servers[f"HTTP, {ms:g} ms latency"] = psutil.Process(proc.pid)
                sources[f"HTTP, {ms:g} ms latency"] = (
                    genozarr.open_dataset(f"{url}/cov.zarr"),
                    genozarr.open_dataset(f"{url}/seq.zarr"))
            if args.latency:  # a web server exposing the local store directories
                ms = max(args.latency)
                url, proc = serve_http(local_dir, ms)
                procs.append(proc)
                label = f"HTTP, {ms:g} ms, store directory (no versions)"
                servers[label] = psutil.Process(proc.pid)
                sources[label] = (genozarr.open_dataset(f"{url}/cov.zarr"),
                                  genozarr.open_dataset(f"{url}/seq.zarr"))
            if urls:  # the default for a store that fits in memory: the epochs after the
                # first read the decoded store from memory, wherever the store lives
                ms = max(urls)
                sources["local disk, kept in memory (2nd epoch on)"] = (
                    genozarr.open_dataset(cover.garray.path, cache="memory"),
                    genozarr.open_dataset(bioseq.garray.path, cache="memory"))
                sources[f"HTTP, {ms:g} ms, kept in memory (2nd epoch on)"] = (
                    genozarr.open_dataset(f"{urls[ms]}/cov.zarr", cache="memory"),
                    genozarr.open_dataset(f"{urls[ms]}/seq.zarr", cache="memory"))
            if not args.no_s3:
                options, stop_s3 = serve_s3(
                    [os.path.join(r, f) for r, _, fs in os.walk(remote_dir) for f in fs],
                    root=remote_dir)
                stops.append(stop_s3)
                sources["S3 (moto), no added latency"] = (
                    genozarr.open_dataset("s3://bench/cov.zarr", storage_options=options),
                    genozarr.open_dataset("s3://bench/seq.zarr", storage_options=options))
            times: dict[str, list[float]] = {k: [] for k in sources}
            # CPU of the stand-in HTTP server per epoch: on object storage that work is
            # done elsewhere, here it takes the client's cores
            server_cpu: dict[str, list[float]] = {k: [] for k in sources}
            for label, (c, s) in sources.items():  # warm-up: connections, metadata
                epoch(c, s, seed=99)
            for r in range(args.repeat):  # alternating, so load changes hit every row alike
                for label, (c, s) in sources.items():
                    cpu0 = _cpu(servers.get(label))
                    times[label].append(epoch(c, s, seed=r))
                    server_cpu[label].append(_cpu(servers.get(label)) - cpu0)
        finally:
            for proc in procs:
                proc.terminate()
                proc.wait()
            for stop in stops:
                stop()
    local = [args.n / t for t in times["local disk"]]
    print(f"\n{args.n} windows of 1 kb (4 float32 tracks + one-hot sequence), block-shuffled,"
          f" batch {serve.BATCH}; inner chunks: {args.inner_chunk_bytes or 'none'}; "
          f"cores {os.cpu_count()}; {args.repeat} runs")
    print(f"{'source':44s} {'windows/s (median)':>19s} {'range':>17s} {'vs local':>9s} "
          f"{'server CPU':>11s}")
    for label, ts in times.items():
        rates = [args.n / t for t in ts]
        ratio = [a / b for a, b in zip(rates, local)]
        share = [c / t for c, t in zip(server_cpu[label], ts)]
        cpu = f"{min(share):.0%}-{max(share):.0%}" if label in servers else ""
        print(f"{label:44s} {statistics.median(rates):19.0f} "
              f"{min(rates):8.0f}-{max(rates):<8.0f} "
              f"{min(ratio):.2f}-{max(ratio):.2f} {cpu:>11s}")
    print("\ntarget: HTTP at 20 ms latency >= 0.8x of local disk")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--serve":
        _serve_forever(sys.argv[2], int(sys.argv[4]), float(sys.argv[6]))
    else:
        main()
