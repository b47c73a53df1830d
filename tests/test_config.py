"""Output directory precedence, Janggu's storage='hdf5', and option validation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from genozarr import Cover, output_dir, set_options
from genozarr.config import get_options
from genozarr.errors import ArgumentError, GenozarrWarning


def test_output_dir_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv("GENOZARR_OUTPUT", str(tmp_path / "g"))
    monkeypatch.setenv("JANGGU_OUTPUT", str(tmp_path / "j"))
    assert output_dir() == tmp_path / "g"
    monkeypatch.delenv("GENOZARR_OUTPUT")
    assert output_dir() == tmp_path / "j"
    monkeypatch.delenv("JANGGU_OUTPUT")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert output_dir() == tmp_path / "home" / "genozarr_results"


def test_janggu_output_receives_zarr_stores(monkeypatch, tmp_path, sim_data):
    monkeypatch.delenv("GENOZARR_OUTPUT")
    monkeypatch.setenv("JANGGU_OUTPUT", str(tmp_path / "janggu"))
    roi = pd.DataFrame({"chrom": ["chr1"], "start": [0], "end": [1000]})
    with pytest.warns(GenozarrWarning, match="hdf5"):
        cov = Cover.create_from_bigwig("bw", sim_data["bigwigs"][0], roi=roi, binsize=500,
                                       storage="hdf5")
    assert cov.garray.backend.storage == "zarr"
    assert Path(cov.garray.path).is_relative_to(tmp_path / "janggu" / "datasets" / "bw")
    ref = Cover.create_from_bigwig("bw", sim_data["bigwigs"][0], roi=roi, binsize=500)
    np.testing.assert_array_equal(cov[:], ref[:])


def test_options_are_validated_and_scoped():
    before = get_options()
    with set_options(chunk_bytes=8192, compression_level=5):
        assert get_options()["chunk_bytes"] == 8192
        assert get_options()["compression_level"] == 5
    assert get_options() == before
    with pytest.raises(ArgumentError):
        set_options(scheduler="gpu")
    with pytest.raises(ArgumentError):
        set_options(no_such_option=1)
    for bad in (0, True, 2.0):
        with pytest.raises(ArgumentError):
            set_options(shard_chunks=bad)
    # a bool is no integer for any option (compression_level=True wrote "clevel": true
    # into zarr.json; inner_chunk_bytes=True made inner chunks of one row; an audit)
    for name in ("num_workers", "chunk_bytes", "inner_chunk_bytes", "compression_level",
                 "chunk_cache_bytes", "memory_cache_bytes", "decode_threads",
                 "parallel_threshold_bases"):
        for bad in (True, False):
            with pytest.raises(ArgumentError, match=name):
                set_options(**{name: bad})
    assert get_options() == before


def test_blocks_that_end_out_of_order_restore_the_options_before_them():
    """Two set_options blocks (two threads) ending in another order than they began left
    the first block's value for good: each restored what it found (an audit). The
    options are those before the first block once both have ended, and the block still
    running keeps its value meanwhile."""
    before = get_options()
    first = set_options(compressor="lz4", chunk_bytes=8192)
    first.__enter__()
    second = set_options(compressor=None)
    second.__enter__()
    first.__exit__(None, None, None)
    assert get_options()["compressor"] is None          # the running block's
    assert get_options()["chunk_bytes"] == before["chunk_bytes"]
    second.__exit__(None, None, None)
    assert get_options() == before
    # nested blocks as before; and a num_workers no process pool can have is refused
    with set_options(compressor="lz4"), set_options(compressor="zlib"):
        assert get_options()["compressor"] == "zlib"
    assert get_options() == before
    with pytest.raises(ArgumentError, match="num_workers"):
        set_options(num_workers=2**31)


def test_blocks_made_in_one_order_and_entered_in_another_keep_their_values():
    """A block begins where set_options(...) sets its options: two threads each making a
    block before entering it (made A, made B, entered B, entered A) undid B's value
    while B ran when A ended, and left A's value for good when B ended (an audit). The
    same with four threads of 2,000 blocks each left an option changed."""
    import threading

    before = get_options()
    first = set_options(chunk_bytes=8192)
    second = set_options(chunk_bytes=16384)
    second.__enter__()
    first.__enter__()
    first.__exit__(None, None, None)
    assert get_options()["chunk_bytes"] == 16384  # the running block's own value
    second.__exit__(None, None, None)
    assert get_options() == before
    with set_options(chunk_bytes=8192) as block:  # the same object entered inside itself
        with block:
            pass
        assert get_options()["chunk_bytes"] == 8192
    assert get_options() == before
    set_options(chunk_bytes=4096 * 3)  # options set for good (the object not kept) ...
    assert get_options()["chunk_bytes"] == 4096 * 3
    set_options(chunk_bytes=before["chunk_bytes"])  # ... and back
    wrong: list[int] = []

    def work(t: int) -> None:
        for j in range(2000):
            mine = 4096 * (t * 10_000 + j + 1000)  # never the value before
            with set_options(chunk_bytes=mine):
                sum(range(50))
                if get_options()["chunk_bytes"] == before["chunk_bytes"]:
                    wrong.append(mine)  # a running block's value undone

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert get_options() == before
    assert not wrong


def test_auto_runs_processes_above_the_threshold_only():
    """'auto' ran processes at exactly parallel_threshold_bases; the docs say above."""
    from genozarr.store._run import _scheduler

    with set_options(scheduler="auto", parallel_threshold_bases=1000):
        assert _scheduler(1000, 4)[0] == "sync"
        assert _scheduler(1001, 4)[0] == "processes"
        assert _scheduler(10_000, 1)[0] == "sync"


def test_numpy_integers_are_integer_options(tmp_path):
    """Sizes worked out with numpy (np.int64) were refused ('invalid value np.int64(4096)');
    they are taken, kept as Python ints (they go into zarr.json), and a store built with
    them has the chunks they say. numpy's bools are not integers here, as bools are not."""
    from genozarr import GenomicIndexer

    with set_options(chunk_bytes=np.int64(8192), compression_level=np.int32(3),
                     inner_chunk_bytes=np.uint16(800)):
        options = get_options()
        assert [type(options[k]) for k in ("chunk_bytes", "compression_level",
                                           "inner_chunk_bytes")] == [int, int, int]
        gi = GenomicIndexer.create_from_file(["chr1:0-10000"], binsize=100, stepsize=100)
        x = np.arange(10000, dtype="float32").reshape(100, 100, 1, 1)
        cover = Cover.create_from_array("c", x, gi, storage="zarr", store=str(tmp_path / "c"))
    arr = cover.garray.backend.array("data")
    assert (arr.shards[0], arr.chunks[0]) == (20, 2)  # 8192 // 400 rows, 800 // 400
    np.testing.assert_array_equal(cover[:], x)
    for bad in (np.bool_(True), np.float64(4096.0)):
        with pytest.raises(ArgumentError, match="invalid value"):
            set_options(chunk_bytes=bad)
    for timeout in (np.int64(5), np.float32(2.5)):
        with set_options(remote_timeout=timeout):
            assert get_options()["remote_timeout"] == float(timeout)
            assert type(get_options()["remote_timeout"]) in (int, float)


def test_available_cpus_follow_the_affinity_and_the_cgroup_quota(monkeypatch, tmp_path):
    """A container limited by a CPU quota (``docker --cpus=2``, a Kubernetes limit) sees
    every core of its host in its affinity: pools sized by it ran 64 threads on 2 CPUs'
    worth of time. The quota caps the count, rounded up: cgroup v2's ``cpu.max`` (the
    process's cgroup first, then the root), v1's CFS quota and period; no quota (``max``,
    -1) or no cgroup files: the affinity alone."""
    from genozarr import config

    monkeypatch.setattr("os.sched_getaffinity", lambda pid: set(range(64)), raising=False)
    monkeypatch.setattr(config, "CGROUP_ROOT", str(tmp_path))
    assert config.available_cpus() == 64  # (no files: no quota)
    (tmp_path / "cpu").mkdir()
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("-1\n")
    (tmp_path / "cpu" / "cpu.cfs_period_us").write_text("100000\n")
    assert config.available_cpus() == 64
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("250000\n")  # v1: 2.5 CPUs
    assert config.available_cpus() == 3
    (tmp_path / "cpu.max").write_text("150000 100000\n")  # v2 at the root: 1.5 CPUs
    assert config.available_cpus() == 2
    (tmp_path / "cpu.max").write_text("max 100000\n")  # v2: no quota (v1 not read)
    assert config.available_cpus() == 64
    own = Path("/proc/self/cgroup").read_text() if Path("/proc/self/cgroup").exists() else ""
    path = next((line[3:].strip() for line in own.splitlines() if line.startswith("0::")),
                "/")
    if path.strip("/"):  # (a process in a cgroup of its own, as in most containers)
        (tmp_path / path.strip("/")).mkdir(parents=True)
        (tmp_path / path.strip("/") / "cpu.max").write_text("400000 100000\n")
        assert config.available_cpus() == 4
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0}, raising=False)
    (tmp_path / "cpu.max").write_text("800000 100000\n")
    assert config.available_cpus() == 1  # (the affinity, when smaller)
