"""dask.distributed ingest: 2 worker processes vs 1, the same whole-genome BigWig ingest.

A ``LocalCluster`` (processes, one thread per worker) is started before timing; with its
``Client`` active, ``Cover.create_from_bigwig`` sends its (file, chromosome block) tasks to
the workers. Target: 2 workers >= 1.7x the speed of 1 worker (the performance target).

Usage: ``python benchmarks/distributed.py [--quick] [--json rows.json]``.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, _HERE)
import _data  # noqa: E402

# this file's name would shadow the dask.distributed package: take its folder off the path
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE]

SCRIPT = os.path.abspath(__file__)


def case_cluster(p: dict) -> dict:
    from distributed import Client, LocalCluster

    import genozarr
    from genozarr import Cover

    c = _data.corpus(p["quick"])
    genozarr.set_options(progress=False)
    tmp = tempfile.mkdtemp(prefix="gzbench_")
    with LocalCluster(n_workers=p["workers"], threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster):
        out = os.path.join(tmp, "bw.zarr")

        def run() -> None:
            Cover.create_from_bigwig("bw", c["bigwigs"], binsize=1000,
                                     genomesize=c["chrom_sizes"], store_whole_genome=True,
                                     storage="zarr", store=out)

        try:
            sec = _data.timed(run, p["repeat"],
                              setup=lambda: shutil.rmtree(out, ignore_errors=True))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return {"seconds": sec, "work": c["genome_bases"] * len(c["bigwigs"])}


CASES = {"cluster": case_cluster}


def measure(quick: bool) -> list[dict]:
    """1- and 2-worker ingest; return the table row."""
    _data.corpus(quick)
    rep = 1 if quick else 3
    res = {w: _data.run_case(SCRIPT, "cluster", "--params",
                             json.dumps({"quick": quick, "workers": w, "repeat": rep}))
           for w in (1, 2)}
    rate = {w: r["work"] / r["seconds"] / 1e6 if "seconds" in r else None
            for w, r in res.items()}
    note = res[2].get("error") or res[1].get("error") or "BigWig 1 bp, 4 files, LocalCluster"
    return [_data.row("dask.distributed ingest, 2 workers", rate[2], "Mb/s",
                      "same ingest, 1 worker", rate[1],
                      rate[2] / rate[1] if rate[1] and rate[2] else None, ">= 1.7x", note,
                      res[2].get("peak_rss_mb"))]


def main() -> None:
    _data.script_main("distributed ingest benchmark", "10 Mb genome, 1 repeat", CASES, measure)


if __name__ == "__main__":
    main()
