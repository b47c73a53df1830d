"""Ingest on dask.distributed: a LocalCluster with 2 worker processes builds the same
store as the single-process scheduler, each task writing its own chunks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from genozarr import Cover, set_options
from genozarr.store import open_store

distributed = pytest.importorskip("distributed")

pytestmark = pytest.mark.slow  # a LocalCluster of 2 worker processes


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None, silence_logs=40)
    with distributed.Client(cluster) as c:
        yield c
    cluster.close()


@pytest.mark.parametrize("whole", [True, False])
def test_distributed_bigwig_equals_single_process(client, sim_data, tmp_path, whole):
    bws = sim_data["bigwigs"]
    # small chunks so the build has many tasks spread over both workers
    with set_options(chunk_bytes=4096, scheduler="sync"):
        single = Cover.create_from_bigwig("single", bws, roi=sim_data["roi"], binsize=1000,
                                          resolution=10, storage="zarr",
                                          store=tmp_path / "single.zarr",
                                          store_whole_genome=whole)
    with set_options(chunk_bytes=4096, scheduler="distributed"), \
            distributed.get_task_stream(client) as stream:
        dist = Cover.create_from_bigwig("dist", bws, roi=sim_data["roi"], binsize=1000,
                                        resolution=10, storage="zarr",
                                        store=tmp_path / "dist.zarr", store_whole_genome=whole)
    # every chunk task ran in a worker process of the cluster (which worker takes which
    # task is the scheduler's choice: short tasks may all land on one)
    workers = set(client.scheduler_info()["workers"])
    ran = [task for task in stream.data if "_task" in str(task["key"])]
    assert len(ran) >= 2 and {task["worker"] for task in ran} <= workers
    a, b = open_store(tmp_path / "single.zarr"), open_store(tmp_path / "dist.zarr")
    for var in a.data_vars:
        assert a[var].data.npartitions >= 2
        np.testing.assert_array_equal(a[var].values, b[var].values)
    np.testing.assert_array_equal(single[:], dist[:])


def test_distributed_bam_auto_uses_client(client, sim_data, tmp_path):
    roi = pd.read_csv(sim_data["roi"], sep="\t", header=None).iloc[:6]
    roi = roi.rename(columns={0: "chrom", 1: "start", 2: "end", 5: "strand"})
    with set_options(chunk_bytes=4096):  # scheduler='auto' picks the active client
        dist = Cover.create_from_bam("bam", sim_data["bam"], roi=roi, binsize=1000,
                                     storage="zarr", store=tmp_path / "bam.zarr")
    with set_options(scheduler="sync"):
        ref = Cover.create_from_bam("bam", sim_data["bam"], roi=roi, binsize=1000)
    np.testing.assert_array_equal(dist[:], ref[:])
    assert ref[:].sum() > 0


def test_cli_build_on_a_cluster(client, sim_data, tmp_path):
    """`genozarr build --scheduler ADDRESS` runs the ingest tasks on the cluster's workers."""
    from typer.testing import CliRunner

    from genozarr import open_dataset
    from genozarr.cli import app

    spec = tmp_path / "spec.yaml"
    spec.write_text(f"name: sig\nkind: bigwig\nfiles:\n  - {sim_data['bigwigs'][0]}\n"
                    f"roi: {sim_data['roi']}\nbinsize: 1000\nresolution: 10\n"
                    f"store: {tmp_path / 'sig.zarr'}\n")
    with distributed.get_task_stream(client) as stream, set_options(chunk_bytes=4096):
        result = CliRunner().invoke(app, ["build", str(spec), "--no-progress",
                                          "--scheduler", client.scheduler.address])
    assert result.exit_code == 0, result.output
    assert any("_task" in str(t["key"]) for t in stream.data)
    with set_options(scheduler="sync"):
        ref = Cover.create_from_bigwig("sig", sim_data["bigwigs"][0], roi=sim_data["roi"],
                                       binsize=1000, resolution=10)
    np.testing.assert_array_equal(open_dataset(tmp_path / "sig.zarr")[:], ref[:])
    assert ref[:].sum() > 0


def _slow_sum(x, axis=1):  # a collapser slow enough for the client to close meanwhile
    import time

    time.sleep(0.5)
    return x.sum(axis=axis)


def test_a_client_closed_during_a_build_is_named(client, tmp_path):
    """A second Client of the cluster, closed while a build runs on it: dask's
    'FutureCancelledError ... cancelled for reason: unknown' said nothing of the client;
    a StoreError names the build and the cause, and nothing is published."""
    import sys
    import threading

    import cloudpickle

    from genozarr.errors import StoreError
    from genozarr.testing.simulate import simulate_bigwig

    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # (workers cannot import it)
    sizes = {f"chr{i}": 40_000 for i in range(1, 7)}
    path = simulate_bigwig(tmp_path / "s.bw", sizes, seed=1)
    other = distributed.Client(client.cluster, set_as_default=False)
    try:
        with set_options(scheduler="distributed"), other.as_current():
            assert distributed.default_client() is other
            threading.Timer(1.5, other.close).start()
            with pytest.raises(StoreError, match=r"build s: its dask\.distributed Client was "
                                                 r"closed while the build ran"):
                Cover.create_from_bigwig("s", str(path), genomesize=sizes, binsize=1000,
                                         resolution=10, collapser=_slow_sum,
                                         store_whole_genome=True, storage="zarr",
                                         store=str(tmp_path / "s.zarr"))
    finally:
        other.close()
        cloudpickle.unregister_pickle_by_value(sys.modules[__name__])
    assert not (tmp_path / "s.zarr").exists()
