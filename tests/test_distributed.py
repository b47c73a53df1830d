"""Ingest on dask.distributed: a LocalCluster with 2 worker processes builds the same
store as the single-process scheduler, each task writing its own chunks."""

from __future__ import annotations

import os

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


@pytest.fixture
def own_client():
    """A cluster of this test's own: for tests that kill or restart its workers, and for
    those that need its workers alive whatever tests ran before on this process (the
    module's cluster outlives other modules' tests run in between)."""
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=":0", silence_logs=50)
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


def _build_on_cluster(tmp_path, collapser, **options):
    """A whole-genome BigWig build of a few tasks on the active client, with the
    collapser given (this module's functions go to the workers by value)."""
    import sys

    import cloudpickle

    from genozarr.testing.simulate import simulate_bigwig

    sizes = {f"chr{i}": 40_000 for i in range(1, 7)}
    path = simulate_bigwig(tmp_path / "s.bw", sizes, seed=1)
    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # (workers cannot import it)
    try:
        with set_options(scheduler="distributed", **options):
            return Cover.create_from_bigwig("s", str(path), genomesize=sizes, binsize=1000,
                                            resolution=10, collapser=collapser,
                                            store_whole_genome=True, storage="zarr",
                                            store=str(tmp_path / "s.zarr"))
    finally:
        cloudpickle.unregister_pickle_by_value(sys.modules[__name__])


def _kill_worker(x, axis=1):  # a worker killed for memory, or a crash in a native library
    import os
    import signal

    os.kill(os.getpid(), signal.SIGKILL)


def test_workers_dying_on_a_task_are_named(own_client, tmp_path):
    """dask.distributed's KilledWorker named only an internal task key: the error names
    the build and what to do, as the local process pool's does, and nothing is
    published (an audit)."""
    from genozarr.errors import ArgumentError

    with pytest.raises(ArgumentError, match=r"^s: dask\.distributed workers died running a "
                                            r"build task .*scheduler='sync'"):
        _build_on_cluster(tmp_path, _kill_worker)
    assert not (tmp_path / "s.zarr").exists()


def test_a_scheduler_restart_during_a_build_is_named(own_client, tmp_path):
    """``client.restart()`` cancels a running build's tasks: dask's bare
    FutureCancelledError became a StoreError naming the build (an audit)."""
    import threading

    from genozarr.errors import StoreError

    def restart() -> None:
        try:
            own_client.restart()
        except Exception:  # noqa: BLE001 - (its own comms closing with the workers)
            pass

    threading.Timer(1.5, restart).start()
    with pytest.raises(StoreError, match=r"^build s: its tasks were cancelled on the "
                                         r"dask\.distributed cluster .*scheduler-restart.* "
                                         r"Nothing was published$"):
        _build_on_cluster(tmp_path, _slow_sum)
    assert not (tmp_path / "s.zarr").exists()


def _fail_first(flags: str):
    """A collapser whose first call fails while every other waits for the file
    ``flags/go`` (for at most 20 s; one that waited in vain leaves ``flags/late-*``)."""
    def collapser(x, axis=1):
        import os
        import time
        import uuid

        try:
            os.close(os.open(os.path.join(flags, "first"), os.O_CREAT | os.O_EXCL))
        except FileExistsError:
            for _ in range(200):
                if os.path.exists(os.path.join(flags, "go")):
                    return x.sum(axis=axis)
                time.sleep(0.1)
            open(os.path.join(flags, f"late-{uuid.uuid4().hex}"), "w").close()
            return x.sum(axis=axis)
        raise RuntimeError("the first task failed")
    return collapser


def test_a_failed_task_stops_a_build_with_a_progress_bar_at_once(own_client, tmp_path):
    """With the progress bar on, the bar's loop ran over every task before the first
    failed task's error was raised: the others had to finish first (here they wait
    until the error is seen, so a build that waited for them finds them late)."""
    flags = tmp_path / "flags"
    flags.mkdir()
    try:
        with pytest.raises(RuntimeError, match="the first task failed"):
            _build_on_cluster(tmp_path, _fail_first(str(flags)), progress=True,
                              chunk_bytes=4096)
        assert not [f for f in os.listdir(flags) if f.startswith("late-")]
    finally:
        (flags / "go").touch()
    assert not (tmp_path / "s.zarr").exists()


_RAN_HERE: list[int] = []


def _record_here(block):
    _RAN_HERE.append(os.getpid())
    return block


@pytest.mark.parametrize("scheduler", ["sync", "threads"])
def test_a_dask_array_is_computed_on_the_scheduler_the_options_name(client, tmp_path,
                                                                    scheduler):
    """``create_from_array`` of a dask array with an active client took dask's default
    scheduler (the cluster) whatever ``set_options(scheduler=...)`` said (an audit)."""
    import dask.array as da

    from genozarr import GenomicIndexer

    gi = GenomicIndexer(["chr1"] * 40, np.arange(40) * 100, np.arange(40) * 100 + 100,
                        ["+"] * 40, 100, 100)
    x = np.random.default_rng(0).normal(size=(40, 10, 1, 2)).astype("float32")
    lazy = da.from_array(x, chunks=(10, 10, 1, 2)).map_blocks(_record_here)
    _RAN_HERE.clear()
    with set_options(scheduler=scheduler):
        cover = Cover.create_from_array("p", lazy, gi, resolution=10, storage="zarr",
                                        store=tmp_path / "p.zarr")
    assert _RAN_HERE == [os.getpid()] * 4  # every block, in this process
    np.testing.assert_array_equal(cover[:], x)


def test_write_store_computes_on_the_scheduler_the_options_name(client, tmp_path):
    """``write_store`` of lazy data writes its chunks with ``dask.array.store``: with an
    active client it took the cluster whatever ``set_options(scheduler=...)`` said."""
    import xarray as xr

    from genozarr import GenomicIndexer
    from genozarr import write_store

    gi = GenomicIndexer(["chr1"] * 40, np.arange(40) * 100, np.arange(40) * 100 + 100,
                        ["+"] * 40, 100, 100)
    x = np.random.default_rng(1).normal(size=(40, 10, 1, 2)).astype("float32")
    with set_options(scheduler="sync"):
        Cover.create_from_array("p", x, gi, resolution=10, storage="zarr",
                                store=tmp_path / "p.zarr")
        ds = open_store(tmp_path / "p.zarr")
        ds["data"] = xr.apply_ufunc(
            lambda v: v.map_blocks(_record_here), ds["data"] * 2, dask="allowed")
        _RAN_HERE.clear()
        write_store(ds, tmp_path / "q.zarr")
    assert _RAN_HERE and set(_RAN_HERE) == {os.getpid()}
    np.testing.assert_array_equal(open_store(tmp_path / "q.zarr")["data"].values,
                                  open_store(tmp_path / "p.zarr")["data"].values * 2)


def test_a_dask_array_persisted_on_the_client_is_computed_there(client, tmp_path):
    """A collection persisted on the client holds its futures: only that client can
    compute it, whatever ``set_options(scheduler=...)`` says (a review: 'Missing
    dependency' under 'sync' and 'threads')."""
    import dask.array as da

    from genozarr import GenomicIndexer

    gi = GenomicIndexer(["chr1"] * 4, np.arange(4) * 100, np.arange(4) * 100 + 100,
                        ["+"] * 4, 100, 100)
    x = np.arange(4 * 10 * 2, dtype="float32").reshape(4, 10, 1, 2)
    persisted = client.persist(da.from_array(x, chunks=(2, 10, 1, 2)))
    for scheduler in ("sync", "threads"):
        with set_options(scheduler=scheduler):
            cover = Cover.create_from_array("p", persisted, gi, resolution=10)
        np.testing.assert_array_equal(cover[:], x)
