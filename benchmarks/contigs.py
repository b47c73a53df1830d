"""Genomes of many contigs: build, ``open_dataset``, ``open_store`` and the xarray engine's
tree of a whole-genome store, as the number of contigs grows.

A scaffold-level assembly has thousands to tens of thousands of contigs, and a
whole-genome store has a group (a data array and its labels) per contig: what costs a
few milliseconds a contig costs minutes there. The corpus is one BigWig (seeded) of
``n`` contigs of 1 kb; the store is built at resolution 100 with ``storage='zarr'``,
opened, normalized with ``genozarr.ops.normalize(tree, "tpm")`` (the fit reads every
contig) and the result written with ``genozarr.ops.write_store``.

Every implementation runs in its own process: this checkout, and with ``--baseline
DIR`` another one (a ``git worktree`` or ``git archive`` of an earlier commit, imported
through ``PYTHONPATH``) on the same files, in the same run; the table gives both and
their ratio. ``--http-latency MS`` also opens the store served over HTTP on 127.0.0.1
with that delay before every answer (a stand-in for object storage). Usage: ``python
benchmarks/contigs.py [--contigs 500 2000] [--repeat 3] [--baseline DIR]
[--http-latency 20] [--json rows.json]``.
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

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
STEPS = ("build", "open_dataset", "open_store", "open_datatree", "ops.normalize",
         "ops.write_store")
#: the opens over HTTP (``--http-latency``)
REMOTE_STEPS = ("http open_dataset", "http open_store", "http open_datatree")


def make_bigwig(path: str, n: int) -> None:
    """One BigWig of ``n`` contigs of 1 kb, values seeded."""
    import numpy as np
    import pyBigWig

    rng = np.random.default_rng(n)
    with pyBigWig.open(path, "w") as bw:
        bw.addHeader([(f"ctg{i}", 1000) for i in range(n)])
        for i in range(n):
            bw.addEntries(f"ctg{i}", 0, values=rng.random(100).tolist(), span=10, step=10)


def measure(bigwig: str, workdir: str, repeat: int,
            latency_ms: float = 0.0) -> dict[str, list[float]]:
    """Seconds of each step, ``repeat`` times (in the process that imports the
    implementation measured); with ``latency_ms``, also the opens of the store served
    over HTTP on 127.0.0.1 with that delay before every answer."""
    import warnings

    import xarray as xr

    import genozarr

    genozarr.set_options(progress=False)
    store = os.path.join(workdir, "store.zarr")
    times: dict[str, list[float]] = {s: [] for s in STEPS + (REMOTE_STEPS if latency_ms
                                                            else ())}
    for _ in range(repeat):
        shutil.rmtree(store, ignore_errors=True)
        t = time.perf_counter()
        genozarr.Cover.create_from_bigwig("c", bigwigfiles=[bigwig], resolution=100,
                                          storage="zarr", store=store)
        times["build"].append(time.perf_counter() - t)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = os.path.join(workdir, "tpm.zarr")
            shutil.rmtree(out, ignore_errors=True)
            t = time.perf_counter()
            genozarr.open_dataset(store)
            times["open_dataset"].append(time.perf_counter() - t)
            t = time.perf_counter()
            tree = genozarr.open_store(store)
            times["open_store"].append(time.perf_counter() - t)
            t = time.perf_counter()
            xr.open_datatree(store, engine="genozarr")
            times["open_datatree"].append(time.perf_counter() - t)
            t = time.perf_counter()
            tpm = genozarr.ops.normalize(tree, "tpm")
            times["ops.normalize"].append(time.perf_counter() - t)
            t = time.perf_counter()
            genozarr.ops.write_store(tpm, out)
            times["ops.write_store"].append(time.perf_counter() - t)
            if latency_ms:
                _remote_opens(workdir, latency_ms, times)
    return times


def _remote_opens(workdir: str, latency_ms: float, times: dict[str, list[float]]) -> None:
    import xarray as xr

    import genozarr
    from genozarr.testing.servers import RangeHandler, serve_directory

    class Slow(RangeHandler):
        def send_head(self):  # (http.server's)
            time.sleep(latency_ms / 1000)
            return super().send_head()

    with serve_directory(workdir, handler=Slow) as base:
        url = f"{base}/store.zarr"
        for step, call in (("http open_dataset", lambda: genozarr.open_dataset(url, cache=None)),
                           ("http open_store", lambda: genozarr.open_store(url)),
                           ("http open_datatree",
                            lambda: xr.open_datatree(url, engine="genozarr"))):
            t = time.perf_counter()
            call()
            times[step].append(time.perf_counter() - t)


def _child(source: str, bigwig: str, repeat: int,
           latency_ms: float) -> dict[str, list[float]]:
    env = dict(os.environ, PYTHONPATH=source)
    work = tempfile.mkdtemp(prefix="gzcontigs_")
    try:
        out = subprocess.run([sys.executable, __file__, "--child", bigwig, work,
                              str(repeat), str(latency_ms)], env=env, check=True,
                             capture_output=True, text=True, cwd=work)
        return json.loads(out.stdout.strip().splitlines()[-1])
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--contigs", type=int, nargs="+", default=[500, 2000])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--baseline", help="another checkout to measure beside this one")
    ap.add_argument("--json", help="write the rows here")
    ap.add_argument("--http-latency", type=float, default=0.0, metavar="MS",
                    help="also open the store over HTTP with this delay per request")
    ap.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        bigwig, work, repeat, latency = args.child
        print(json.dumps(measure(bigwig, work, int(repeat), float(latency))))
        return
    impls = {"this": ROOT} | ({"baseline": os.path.abspath(args.baseline)}
                              if args.baseline else {})
    rows = []
    tmp = tempfile.mkdtemp(prefix="gzcontigs_data_")
    try:
        for n in args.contigs:
            bigwig = os.path.join(tmp, f"c{n}.bw")
            make_bigwig(bigwig, n)
            got = {name: _child(src, bigwig, args.repeat, args.http_latency)
                   for name, src in impls.items()}
            for step in STEPS + (REMOTE_STEPS if args.http_latency else ()):
                row = {"contigs": n, "step": step}
                for name, times in got.items():
                    row[name] = [round(t, 3) for t in times[step]]
                rows.append(row)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    head = "| contigs | step | this (s) | ms a contig |" + \
        (" baseline (s) | baseline / this |" if args.baseline else "")
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    for r in rows:
        this = r["this"]
        line = (f"| {r['contigs']} | {r['step']} | {min(this):.2f}-{max(this):.2f} | "
                f"{1000 * min(this) / r['contigs']:.1f} |")
        if args.baseline:
            base = r["baseline"]
            line += (f" {min(base):.2f}-{max(base):.2f} | "
                     f"{min(base) / max(this):.1f}-{max(base) / min(this):.1f}x |")
        print(line)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
