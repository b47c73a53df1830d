"""Remote inputs: BigWig and BAM ingest from http:// and s3:// on 127.0.0.1 against the
same files on local disk.

genozarr reads a remote input through a local copy (``genozarr.io._remote``): the first
ingest of a URL downloads the file and its index into ``<output root>/inputs`` ("cold"),
later ones revalidate the copy with one metadata request per file and read nothing more
("warm"). Rows, each timed over ``--runs`` runs (min-max, and the ratio of the local
median to the remote median; target >= 0.5x):

- BigWig -> whole-genome zarr store at 50 bp (``Cover.create_from_bigwig``, the corpus's
  first 1 bp bedGraph-style BigWig);
- BAM -> stranded 5' counts, whole-genome zarr store at 50 bp (``Cover.create_from_bam``);

each from a local path, from http (a threaded server with range requests, no added
latency) and from s3 (a moto server), cold and warm; both servers run in child processes.
Decode-only rows compare the BigWig readers on a generated 10 Mb chromosome (a 1 bp
bedGraph-style BigWig, ``values`` over the whole chromosome and in 10 kb windows, missing
values set to 0, float32): pyBigWig (local; its wheels read no URLs), and pybigtools, if
installed, on the local file and streaming over http.

Usage: ``python benchmarks/remote_inputs.py [--full] [--runs 3] [--scheduler sync]``.
The corpus comes from ``_data.py`` (the quick one: a 10 Mb genome and 400k reads, unless
``--full``).
"""

from __future__ import annotations

import argparse
import functools
import logging
import os
import shutil
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _data

from genozarr.testing.servers import RangeHandler, Server, free_port

logger = logging.getLogger("remote_inputs")


def _wait_for(port: int, proc: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server on port {port} exited ({proc.returncode})")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port} after {timeout} s")


def serve_http(directory: str) -> tuple[str, Callable[[], None]]:
    """Serve ``directory`` on 127.0.0.1 from a child process (a server thread in this
    process would compete for the GIL with the ingest, and pybigtools holds the GIL while
    it reads over http, which would stall it); return the base URL and a stop function."""
    import subprocess

    port = free_port()
    proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--serve", directory,
                             "--port", str(port)])
    _wait_for(port, proc)

    def stop() -> None:
        proc.terminate()
        proc.wait()

    return f"http://127.0.0.1:{port}", stop


def _serve_forever(directory: str, port: int) -> None:
    server = Server(("127.0.0.1", port), functools.partial(RangeHandler, directory=directory))
    server.serve_forever()


def serve_s3(files: list[str], root: str | None = None
             ) -> tuple[dict[str, Any], Callable[[], None]]:
    """A moto S3 server on 127.0.0.1 (a child process) holding ``files`` in bucket
    ``bench`` (keyed by their path under ``root``, else by their name); return the storage
    options and a stop function."""
    import subprocess

    import boto3

    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p",
                             str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait_for(port, proc)
    endpoint = f"http://127.0.0.1:{port}"
    client = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id="bench",
                          aws_secret_access_key="bench", region_name="us-east-1")
    client.create_bucket(Bucket="bench")
    for f in files:
        client.upload_file(f, "bench", os.path.relpath(f, root) if root is not None
                           else os.path.basename(f))
    options = {"key": "bench", "secret": "bench",
               "client_kwargs": {"endpoint_url": endpoint, "region_name": "us-east-1"}}

    def stop() -> None:
        proc.terminate()
        proc.wait()

    return options, stop


def ingest(kind: str, source: str, sizes: dict[str, int], out: str,
           options: dict[str, Any] | None) -> None:
    """One ingest to a fresh whole-genome zarr store at 50 bp."""
    from genozarr import Cover
    from genozarr.sources import as_file_list

    if options is not None:  # until dataset.py passes input_storage_options through
        as_file_list(source, "BigWig" if kind == "bigwig" else "BAM", storage_options=options)
    store = os.path.join(out, "store")
    shutil.rmtree(store, ignore_errors=True)
    common = {"genomesize": sizes, "resolution": 50, "store_whole_genome": True,
              "storage": "zarr", "store": store, "overwrite": True}
    if kind == "bigwig":
        Cover.create_from_bigwig("bw", source, **common)
    else:
        Cover.create_from_bam("bam", source, **common)


def _times(fn: Callable[[], Any], runs: int, before: Callable[[], None] | None = None
           ) -> list[float]:
    out = []
    for _ in range(runs):
        if before is not None:
            before()
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def decode_rows(path: str, url: str, runs: int) -> list[tuple[str, list[float]]]:
    """pyBigWig vs pybigtools ``values`` on the first chromosome of ``path``."""
    import numpy as np
    import pyBigWig

    bw = pyBigWig.open(path)
    chrom, length = next(iter(bw.chroms().items()))
    window = 10_000

    def whole_pbw() -> None:
        out = bw.values(chrom, 0, length, numpy=True)
        out[np.isnan(out)] = 0

    def windows_pbw() -> None:
        for s in range(0, length - window + 1, window):
            out = bw.values(chrom, s, s + window, numpy=True)
            out[np.isnan(out)] = 0

    size = os.path.getsize(path) / 1e6
    rows = [(f"decode {chrom} ({length / 1e6:g} Mb, {size:.1f} MB) whole, pyBigWig local",
             _times(whole_pbw, runs)),
            (f"decode {chrom} in 10 kb windows, pyBigWig local", _times(windows_pbw, runs))]
    try:
        import pybigtools
    except ImportError:
        logger.info("pybigtools is not installed: its rows are left out")
        return rows
    for where, target in (("local", path), ("http stream", url)):
        try:
            reader = pybigtools.open(target)
        except Exception as e:
            logger.warning("pybigtools cannot open %s: %s", target, e)
            continue

        def whole(reader: Any = reader) -> None:
            reader.values(chrom, 0, length, fillna=0).astype(np.float32)

        def windows(reader: Any = reader) -> None:
            for s in range(0, length - window + 1, window):
                reader.values(chrom, s, s + window, fillna=0).astype(np.float32)

        rows.append((f"decode {chrom} whole, pybigtools {where}", _times(whole, runs)))
        rows.append((f"decode {chrom} in 10 kb windows, pybigtools {where}",
                     _times(windows, runs)))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="the 50 Mb corpus")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--scheduler", default="sync",
                        help="genozarr scheduler for the ingests (default: sync)")
    parser.add_argument("--serve", help=argparse.SUPPRESS)  # internal: the http server
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        _serve_forever(args.serve, args.port)
        return
    logging.basicConfig(level=logging.WARNING)

    corpus = _data.corpus(quick=not args.full)
    bigwig, bam = corpus["bigwigs_1bp"][0], corpus["bam"]
    sizes = corpus["chrom_sizes"]
    work = tempfile.mkdtemp(prefix="genozarr_remote_bench_")
    os.environ["GENOZARR_OUTPUT"] = os.path.join(work, "output")
    served = os.path.join(work, "served")
    os.makedirs(served)
    for f in (bigwig, bam, bam + ".bai"):
        shutil.copy2(f, served)
    from genozarr.testing.simulate import simulate_bigwig

    decode_bw = simulate_bigwig(os.path.join(served, "chrom10mb.bw"), {"chr1": 10_000_000},
                                seed=7, kind="bedgraph")

    import genozarr
    from genozarr.io import _remote

    base, stop_http = serve_http(served)
    options, stop_s3 = serve_s3([os.path.join(served, os.path.basename(f))
                                 for f in (bigwig, bam, bam + ".bai")])

    def cold() -> None:
        shutil.rmtree(_remote.input_cache_dir(), ignore_errors=True)
        _remote._fetched.clear()

    def warm() -> None:
        _remote._fetched.clear()  # a new session: revalidate the copy, download nothing

    # (workload, seconds of each run, local times for the ratios or None)
    table: list[tuple[str, list[float], list[float] | None]] = []
    try:
        with genozarr.set_options(scheduler=args.scheduler, progress=False):
            for kind, path in (("bigwig", bigwig), ("bam", bam)):
                name = os.path.basename(path)
                sources = [("local", path, None, None),
                           ("http cold", f"{base}/{name}", None, cold),
                           ("http warm", f"{base}/{name}", None, warm),
                           ("s3 cold", f"s3://bench/{name}", options, cold),
                           ("s3 warm", f"s3://bench/{name}", options, warm)]
                ingest(kind, path, sizes, work, None)  # warm-up: imports, page cache
                # round robin: run i of every variant before run i + 1 of any, so that load
                # from other processes falls on all of them alike
                times: dict[str, list[float]] = {label: [] for label, *_ in sources}
                for _ in range(args.runs):
                    for label, source, opts, before in sources:
                        times[label] += _times(functools.partial(
                            ingest, kind, source, sizes, work, opts), 1, before)
                what = f"{kind} ingest ({name}, {os.path.getsize(path) / 1e6:.1f} MB)"
                for label, *_ in sources:
                    table.append((f"{what}, {label}", times[label],
                                  None if label == "local" else times["local"]))
            for label, decode_times in decode_rows(decode_bw, f"{base}/chrom10mb.bw",
                                                   args.runs):
                table.append((label, decode_times, None))
    finally:
        stop_http()
        stop_s3()
        shutil.rmtree(work, ignore_errors=True)

    width = max(len(r[0]) for r in table)
    print(f"{'workload':<{width}}  {f'seconds (min-max of {args.runs})':>24}  "
          f"{'x local (median)':>16}  {'x local (best)':>14}")
    for label, times, local in table:
        span = f"{min(times):.3f}-{max(times):.3f}"
        med = best = ""
        if local:  # local time / remote time: 1.0 is as fast as local
            med = f"{statistics.median(local) / statistics.median(times):.2f}"
            best = f"{min(local) / min(times):.2f}"
        print(f"{label:<{width}}  {span:>24}  {med:>16}  {best:>14}")
    print(f"\ngenome {sum(sizes.values()) / 1e6:g} Mb, {corpus['n_reads']} reads; "
          f"scheduler {args.scheduler}; target: remote >= 0.5x local")


if __name__ == "__main__":
    main()
