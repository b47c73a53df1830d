"""Crash safety: a build killed (SIGKILL) at any point never leaves a store that opens as valid,
and the next call rebuilds (or reuses a store that was published complete) with the values of a
clean build.

A worker subprocess builds a zarr-backed, cached BigWig ``Cover`` with small chunks (about 20,
written in a few blocks, one per build task) and kills itself at a chosen point: after the
k-th block write, after the
metadata is consolidated, just before the rename that publishes a first store, just before
and just after the exchange that publishes a replacement, half way through deleting a dead
writer's leftover, after the old store was moved aside (where directories cannot be
exchanged), after publishing; or the test kills it after a random delay. ``WORKER`` is
shared with ``test_concurrency.py``.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyBigWig
import pytest

from genozarr.config import set_options
from genozarr.dataset import Cover
from genozarr.errors import StoreError
from genozarr.store.open import open_store, read_marker

WORKER = r'''
import hashlib, json, os, signal, sys, time
cfg = json.loads(sys.argv[1])
os.environ["GENOZARR_OUTPUT"] = cfg["output"]
import zarr
import genozarr.store.builder as builder
from genozarr.config import set_options
from genozarr.dataset import Cover

kill = cfg.get("kill") or {}
at = kill.get("at")
writes = [0]


def die():
    os.kill(os.getpid(), signal.SIGKILL)


real_write = builder.write_block


def write_block(*args, **kwargs):
    if cfg.get("slow"):
        time.sleep(cfg["slow"])
    written = real_write(*args, **kwargs)
    writes[0] += 1
    if at == "write" and writes[0] == kill["k"]:
        die()
    return written


builder.write_block = write_block
real_consolidate = zarr.consolidate_metadata


def consolidate(*args, **kwargs):
    out = real_consolidate(*args, **kwargs)
    if at == "consolidate":
        die()
    return out


zarr.consolidate_metadata = consolidate
real_rename = os.rename


def rename(src, dst):
    if at == "publish" and ".tmp-" in str(src):
        die()  # complete, marker written, not yet published
    out = real_rename(src, dst)
    if at == "aside" and ".old-" in str(dst):
        die()  # the old store moved aside, the new one not yet in place
    return out


os.rename = rename
import genozarr.store.write as store_write
real_exchange = store_write._exchange


def exchange(a, b):
    if cfg.get("no_exchange"):
        return False  # a file system that cannot exchange directories
    if at == "swap":
        die()  # the new store complete, not yet exchanged with the old one
    out = real_exchange(a, b)
    if at == "swapped":
        die()  # published; the replaced store not yet moved aside and removed
    return out


store_write._exchange = exchange
import shutil
real_rmtree = shutil.rmtree


def rmtree(path, *args, **kwargs):
    name = os.path.basename(str(path))
    if at == "sweep" and ".tmp-" in name:
        # an interrupted delete of a dead writer's leftover: part of the tree is gone
        root = os.path.join(str(path), "zarr.json")
        if os.path.exists(root):
            os.remove(root)
            die()
    return real_rmtree(path, *args, **kwargs)


shutil.rmtree = rmtree
if cfg.get("barrier"):
    open(cfg["barrier"] + ".ready-" + str(os.getpid()), "w").close()
    while not os.path.exists(cfg["barrier"] + ".go"):
        time.sleep(0.005)
open(cfg["started"], "w").close()
with set_options(chunk_bytes=4096, scheduler="sync", progress=False):
    cover = Cover.create_from_bigwig("c", cfg["bigwigs"], roi=cfg["roi"], binsize=cfg["binsize"],
                                     storage="zarr", cache=True, store=cfg.get("store"))
if at == "after_publish":
    die()
values = cover[:]
print(json.dumps({"path": cover.garray.path, "key": cover.garray.meta.cache_key,
                  "writes": writes[0], "sha": hashlib.sha256(values.tobytes()).hexdigest()}))
'''


def start_worker(tmp_path: Path, cfg: dict, tag: str) -> tuple[subprocess.Popen, Path]:
    """Start the worker with ``cfg``; returns the process and its 'started' flag path."""
    script = tmp_path / "worker.py"
    if not script.exists():
        script.write_text(WORKER)
    started = tmp_path / f"started-{tag}"
    cfg = dict(cfg, started=str(started))
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, str(script), json.dumps(cfg)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return proc, started


def run_worker(tmp_path: Path, cfg: dict, tag: str, delay: float | None = None,
               timeout: float = 60) -> tuple[int, str, str]:
    """Run the worker to its end (or kill it ``delay`` s after it starts building)."""
    proc, started = start_worker(tmp_path, cfg, tag)
    if delay is not None:
        deadline = time.monotonic() + timeout
        while not started.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        time.sleep(delay)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def oracle(sim_data, binsize: int) -> np.ndarray:
    """Every window of the ROI from pyBigWig directly, in the dataset's (oriented) layout."""
    from genozarr.regions import GenomicIndexer

    gi = GenomicIndexer.create_from_file(sim_data["roi"], binsize=binsize, stepsize=binsize)
    out = []
    handles = [pyBigWig.open(p) for p in sim_data["bigwigs"]]
    try:
        for chrom, start, end, strand in zip(*gi.as_arrays()):
            cols = [np.nan_to_num(np.array(bw.values(chrom, int(start), int(end))))
                    for bw in handles]
            w = np.stack(cols, axis=-1)[:, None, :]
            out.append(w[::-1] if strand == "-" else w)
    finally:
        for bw in handles:
            bw.close()
    return np.stack(out).astype(np.float32)


def assert_no_partial_store(paths, expected_by_path) -> int:
    """Every final store path either opens complete with the expected values, or refuses
    to open. Returns how many opened."""
    opened = 0
    for path in paths:
        if not Path(path).exists():
            continue
        if read_marker(path) is None:
            with pytest.raises(StoreError):
                open_store(path)
            continue
        ds = open_store(path)
        expected = expected_by_path[str(path)]
        genomic = expected.copy()
        minus = np.array(ds["region_strand"].values.tolist(), dtype=object) == "-"
        genomic[minus] = genomic[minus][:, ::-1]
        np.testing.assert_array_equal(ds["data"].values, genomic)
        opened += 1
    return opened


def leftovers(directory: Path) -> list[str]:
    """Temporary or replaced stores beside the final ones."""
    if not directory.exists():
        return []
    return sorted(p.name for p in directory.iterdir() if ".tmp-" in p.name or ".old-" in p.name)


def build_here(sim_data, binsize: int, store=None) -> Cover:
    with set_options(chunk_bytes=4096, scheduler="sync", progress=False):
        return Cover.create_from_bigwig("c", sim_data["bigwigs"], roi=sim_data["roi"],
                                        binsize=binsize, storage="zarr", cache=True, store=store)


@pytest.fixture
def output(tmp_path, monkeypatch):
    out = tmp_path / "output"
    out.mkdir()
    monkeypatch.setenv("GENOZARR_OUTPUT", str(out))
    return out


@pytest.mark.slow
def test_killed_builds_never_leave_a_valid_partial_store(sim_data, tmp_path, output):
    rng = random.Random(20240609)
    expected = oracle(sim_data, 200)
    clean = Cover.create_from_bigwig("c", sim_data["bigwigs"], roi=sim_data["roi"], binsize=200)
    np.testing.assert_array_equal(clean[:], expected)
    cfg = {"output": str(output), "bigwigs": sim_data["bigwigs"], "roi": sim_data["roi"],
           "binsize": 200}
    # a full build first tells where the store goes and how many block writes it makes
    # (a build task writes a block of one or more chunks)
    from genozarr.store import builder

    counted = [0]
    real_write = builder.write_block

    def count(*args, **kwargs):
        counted[0] += 1
        return real_write(*args, **kwargs)

    builder.write_block = count
    try:
        final = Path(build_here(sim_data, 200).garray.path)
    finally:
        builder.write_block = real_write
    n_writes = counted[0]
    assert n_writes >= 4
    cache_dir = final.parent
    expected_by_path = {str(final): expected}
    shutil.rmtree(final)
    kills = ([{"at": "write", "k": 1}, {"at": "write", "k": n_writes},
              {"at": "write", "k": rng.randrange(2, n_writes)},
              {"at": "consolidate"}, {"at": "publish"}, {"at": "sweep"}]
             + [{"at": "delay", "t": rng.uniform(0.0, 0.3)} for _ in range(3)])
    crashes = 0
    for i, kill in enumerate(kills):
        delay = kill.get("t") if kill["at"] == "delay" else None
        rc, out, err = run_worker(tmp_path, dict(cfg, kill=kill, slow=0.01), f"kill{i}",
                                  delay=delay)
        if rc == 0:  # a random delay may outlast the build: then it must have published
            assert kill["at"] == "delay" and read_marker(final) is not None
            shutil.rmtree(final)
            continue
        assert rc == -signal.SIGKILL, (kill, rc, err)
        crashes += 1
        if kill["at"] != "delay":  # killed before publishing: nothing at the final path
            assert not final.exists()
        if kill["at"] == "write":  # killed mid-write: its temporary store is left
            assert leftovers(cache_dir)
        # the final path and every temporary beside it: complete and right, or refused
        candidates = [final, *cache_dir.iterdir()] if cache_dir.exists() else [final]
        assert_no_partial_store(candidates, {str(p): expected for p in candidates})
        if read_marker(final) is not None:  # a delay that landed after publishing
            shutil.rmtree(final)
    assert crashes >= 7
    if not leftovers(cache_dir):
        # a random delay outlasted its build (or landed after its publish), and that build
        # swept the others' temporaries: leave one more, to see the next build sweep it
        rc, _, err = run_worker(tmp_path, dict(cfg, kill={"at": "write", "k": 1}, slow=0.01),
                                "kill-last")
        assert rc == -signal.SIGKILL, err
    assert leftovers(cache_dir)  # the kills did leave temporary stores behind ...
    cover = build_here(sim_data, 200)
    assert Path(cover.garray.path) == final
    np.testing.assert_array_equal(cover[:], expected)
    assert leftovers(cache_dir) == []  # ... which the next build swept away
    assert assert_no_partial_store([final], expected_by_path) == 1


@pytest.mark.slow
def test_kill_after_publish_is_reused(sim_data, tmp_path, output):
    expected = oracle(sim_data, 200)
    cfg = {"output": str(output), "bigwigs": sim_data["bigwigs"], "roi": sim_data["roi"],
           "binsize": 200, "kill": {"at": "after_publish"}}
    rc, _, err = run_worker(tmp_path, cfg, "after")
    assert rc == -signal.SIGKILL, err
    (final,) = [p for p in (output / "datasets" / "c").iterdir() if not p.name.startswith(".")]
    marker_time = (final / "genozarr-complete" / "zarr.json").stat().st_mtime_ns
    cover = build_here(sim_data, 200)
    assert Path(cover.garray.path) == final
    # reused, not rebuilt: the marker is the one the killed process wrote
    assert (final / "genozarr-complete" / "zarr.json").stat().st_mtime_ns == marker_time
    np.testing.assert_array_equal(cover[:], expected)


@pytest.mark.slow
def test_kill_while_replacing_an_older_store(sim_data, tmp_path, output):
    """A store at an explicit path is being replaced (other arguments). Killed just before
    the exchange that publishes the new store, the path holds the old store, complete with
    its values; killed just after it, the new one; never half old and half new. Where
    directories cannot be exchanged and the old store was moved aside, the path is empty.
    The next call builds or reuses, and sweeps what was left."""
    store = tmp_path / "explicit.zarr"
    old = build_here(sim_data, 200, store=store)
    old_key = old.garray.meta.cache_key
    old_values = old[:]
    del old  # no reader holds the old store
    cfg = {"output": str(output), "bigwigs": sim_data["bigwigs"], "roi": sim_data["roi"],
           "binsize": 100, "store": str(store)}
    rc, _, err = run_worker(tmp_path, dict(cfg, kill={"at": "swap"}), "swap")
    assert rc == -signal.SIGKILL, err
    assert read_marker(store)["cache_key"] == old_key  # the old store, untouched
    assert leftovers(tmp_path)  # the killed writer's complete, unpublished store
    np.testing.assert_array_equal(build_here(sim_data, 200, store=store)[:], old_values)
    assert leftovers(tmp_path) == []  # swept by the call that reused the old store
    rc, _, err = run_worker(tmp_path, dict(cfg, kill={"at": "swapped"}), "swapped")
    assert rc == -signal.SIGKILL, err
    new_key = read_marker(store)["cache_key"]
    assert new_key not in (None, old_key)
    assert open_store(store).sizes["position"] == 100  # the new store, complete
    assert leftovers(tmp_path)  # the store it replaced, not yet removed
    cover = build_here(sim_data, 100, store=store)  # reused: the marker holds its key
    assert read_marker(store)["cache_key"] == new_key
    np.testing.assert_array_equal(cover[:], oracle(sim_data, 100))
    assert leftovers(tmp_path) == []
    del cover  # (a reader holding a replaced store keeps it until it lets go)
    rc, _, err = run_worker(tmp_path, dict(cfg, binsize=200, kill={"at": "aside"},
                                           no_exchange=True), "aside")
    assert rc == -signal.SIGKILL, err
    assert not store.exists()
    assert leftovers(tmp_path)
    cover = build_here(sim_data, 200, store=store)
    assert read_marker(store)["cache_key"] == old_key
    np.testing.assert_array_equal(cover[:], oracle(sim_data, 200))
    assert leftovers(tmp_path) == []


def test_sweep_keeps_live_and_foreign_writers(tmp_path):
    from genozarr.store.write import sweep_stale

    final = tmp_path / "s.zarr"
    # another live process's (this process's own are kept only while one of its writers
    # writes them: tests/test_store_reliability.py)
    live = tmp_path / f".s.zarr.tmp-{_host()}-{os.getppid()}-abc"
    foreign = tmp_path / ".s.zarr.tmp-otherhost-1-abc"
    dead = tmp_path / f".s.zarr.tmp-{_host()}-{_dead_pid()}-abc"
    aside = tmp_path / ".s.zarr.old-abc"
    unrelated = tmp_path / ".t.zarr.tmp-x"
    for p in (live, foreign, dead, aside, unrelated):
        p.mkdir()
    removed = sweep_stale(final)
    assert sorted(removed) == sorted([str(dead), str(aside)])
    assert live.exists() and foreign.exists() and unrelated.exists()


def _host() -> str:
    import socket

    return socket.gethostname().replace("-", "_")


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid
