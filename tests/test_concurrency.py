"""Concurrent builders: processes building the same cached dataset at once all end with the same
valid store and identical values (first writer wins the publish, the others discard their
copy), and a reader polling the store meanwhile never sees partial data, also while the store
it reads is replaced by another build.

The builder is the worker of ``test_crash.py``; the processes start together behind a file
barrier and write their chunks slowly enough to overlap.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import time
from pathlib import Path

import numpy as np
import pytest

from genozarr.errors import StoreError
from genozarr.store.open import open_store, read_marker
from genozarr.store.write import sweep_stale

_spec = importlib.util.spec_from_file_location("_genozarr_test_crash",
                                               Path(__file__).with_name("test_crash.py"))
crash = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(crash)


def _genomic(ds, expected: np.ndarray) -> np.ndarray:
    minus = np.array(ds["region_strand"].values.tolist(), dtype=object) == "-"
    out = expected.copy()
    out[minus] = out[minus][:, ::-1]
    return out


def run_concurrently(tmp_path: Path, cfg: dict, n: int, tag: str, watch: Path | None,
                     expected: np.ndarray, *also: np.ndarray) -> tuple[list[dict], dict[str, int]]:
    """Start ``n`` builders together; while they run, poll the store directory ``watch``
    (final stores only; or the one store path ``watch`` ending in .zarr) and check every
    read: opening either fails with StoreError or gives a published store holding
    ``expected`` (or one of ``also``, the stores being replaced, told apart by shape).
    Returns the builders' reports and the reader's counts."""
    barrier = tmp_path / f"barrier-{tag}"
    procs = [crash.start_worker(tmp_path, dict(cfg, barrier=str(barrier), slow=0.005),
                                f"{tag}-{i}")[0] for i in range(n)]
    deadline = time.monotonic() + 60
    while len(list(tmp_path.glob(f"barrier-{tag}.ready-*"))) < n:
        assert time.monotonic() < deadline, "builders did not start"
        assert all(p.poll() is None for p in procs), [p.communicate() for p in procs]
        time.sleep(0.005)
    Path(f"{barrier}.go").touch()
    seen = {"refused": 0, "complete": 0}
    candidates = {e.shape[1:]: e for e in (expected, *also)}
    deadline = time.monotonic() + 300
    while any(p.poll() is None for p in procs):
        if time.monotonic() > deadline:  # a hung builder fails the test, never CI's clock
            for p in procs:
                p.kill()
            pytest.fail(f"builders still running after 300 s: {[p.communicate() for p in procs]}")
        if watch is None:
            time.sleep(0.005)
            continue
        if watch.suffix == ".zarr":  # one known store path, absent until published
            stores = [watch]
        else:
            stores = [p for p in watch.iterdir() if not p.name.startswith(".")] \
                if watch.exists() else []
        for store in stores:
            try:
                ds = open_store(store)
            except StoreError:
                seen["refused"] += 1
                continue
            # it opened: it must be published, complete and right (read while the store
            # may be replaced: the reader keeps the version it opened)
            assert read_marker(store) is not None
            values = ds["data"].values
            want = candidates[values.shape[1:]]
            np.testing.assert_array_equal(values, _genomic(ds, want))
            seen["complete"] += 1
    reports = []
    for p in procs:
        out, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
        reports.append(json.loads(out))
    return reports, seen


def check_outcome(reports: list[dict], expected: np.ndarray, directory: Path) -> Path:
    sha = hashlib.sha256(np.ascontiguousarray(expected).tobytes()).hexdigest()
    assert len({r["path"] for r in reports}) == 1
    assert len({r["key"] for r in reports}) == 1
    assert [r["sha"] for r in reports] == [sha] * len(reports)
    final = Path(reports[0]["path"])
    assert read_marker(final)["cache_key"] == reports[0]["key"]
    ds = open_store(final)
    np.testing.assert_array_equal(ds["data"].values, _genomic(ds, expected))
    # one store; every loser removed its temporary copy
    assert crash.leftovers(directory) == []
    return final


@pytest.fixture
def output(tmp_path, monkeypatch):
    out = tmp_path / "output"
    out.mkdir()
    monkeypatch.setenv("GENOZARR_OUTPUT", str(out))
    return out


@pytest.mark.slow
def test_two_builders_same_cached_dataset(sim_data, tmp_path, output):
    expected = crash.oracle(sim_data, 200)
    cfg = {"output": str(output), "bigwigs": sim_data["bigwigs"], "roi": sim_data["roi"],
           "binsize": 200}
    watch = output / "datasets" / "c"
    reports, seen = run_concurrently(tmp_path, cfg, 2, "cache", watch, expected)
    final = check_outcome(reports, expected, watch)
    assert [p.name for p in watch.iterdir()] == [final.name]
    # both built, or one that stalled (a busy machine) found the other's store published
    # first and reused it, as it should: never two partial builds
    writes = sorted(r["writes"] for r in reports)
    assert writes[1] > 0 and writes[0] in (0, writes[1]), writes
    # a later call reuses the published store
    cover = crash.build_here(sim_data, 200)
    assert Path(cover.garray.path) == final
    np.testing.assert_array_equal(cover[:], expected)


@pytest.mark.slow
def test_three_builders_explicit_store(sim_data, tmp_path, output):
    expected = crash.oracle(sim_data, 100)
    store = tmp_path / "stores" / "shared.zarr"
    cfg = {"output": str(output), "bigwigs": sim_data["bigwigs"], "roi": sim_data["roi"],
           "binsize": 100, "store": str(store)}
    reports, seen = run_concurrently(tmp_path, cfg, 3, "explicit", store, expected)
    assert seen["refused"] > 0  # the reader did look before the store was published
    assert check_outcome(reports, expected, store.parent) == store
    assert [p.name for p in store.parent.iterdir()] == ["shared.zarr"]


@pytest.mark.slow
def test_two_builders_replace_a_stale_store(sim_data, tmp_path, output):
    """Both replace an older store (other arguments) at the same path while a reader polls
    it: every read gives the old or the new store complete, both builders end with the same
    new store, and nothing of the old one is left once its readers let it go."""
    store = tmp_path / "stores" / "shared.zarr"
    old = crash.build_here(sim_data, 200, store=store)
    old_key = old.garray.meta.cache_key
    del old
    expected = crash.oracle(sim_data, 100)
    cfg = {"output": str(output), "bigwigs": sim_data["bigwigs"], "roi": sim_data["roi"],
           "binsize": 100, "store": str(store)}
    reports, seen = run_concurrently(tmp_path, cfg, 2, "stale", store, expected,
                                     crash.oracle(sim_data, 200))
    assert seen["complete"] > 0 and seen["refused"] == 0  # the path always held a store
    import gc

    gc.collect()  # the reader's last dataset lets its version go
    sweep_stale(store)  # the old version, if a read held it when it was replaced
    assert check_outcome(reports, expected, store.parent) == store
    assert reports[0]["key"] != old_key
    assert os.listdir(store.parent) == ["shared.zarr"]


def test_one_normalizer_shared_by_builds_in_two_threads_is_fitted_once(tmp_path, output,
                                                                        monkeypatch):
    """Two datasets built at once, in two threads, with one ``ZScore()`` object: both
    threads fitted it at once, each taking the statistics the other had half written for
    given ones, so a dataset could serve one file's mean with the other's standard
    deviation (an audit: about 1 round in 40). Now the object is fitted by one thread;
    the other finds it fitted, and both datasets serve that fit's statistics, a file's
    mean and std as numpy computes them."""
    import threading

    from genozarr import Cover
    from genozarr.ops import _reductions
    from genozarr.ops.normalizers import ZScore
    from genozarr.testing.simulate import write_bigwig

    sizes = {"chr1": 5000}
    values = {"lo": np.arange(5000) % 7 * 1.0, "hi": np.arange(5000) % 13 * 100.0}
    for name, v in values.items():
        write_bigwig(tmp_path / f"{name}.bw", {"chr1": v}, sizes)
    moments, inside, most = _reductions.moments, [], []
    lock, entered = threading.Lock(), threading.Event()

    def slow_moments(*args, **kwargs):  # a fit that lasts until the other thread comes
        with lock:
            inside.append(1)
            most.append(len(inside))
            if len(inside) == 2:
                entered.set()
        entered.wait(2.0)  # (old code: the other thread's fit joined this one here)
        try:
            return moments(*args, **kwargs)
        finally:
            with lock:
                inside.pop()

    monkeypatch.setattr(_reductions, "moments", slow_moments)
    shared, built, errors = ZScore(), {}, []

    def build(name: str) -> None:
        try:
            built[name] = Cover.create_from_bigwig(
                f"fit_{name}", str(tmp_path / f"{name}.bw"), genomesize=sizes, binsize=500,
                normalizer=shared)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=build, args=(name,)) for name in values]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    assert max(most) == 1  # never two fits of the object at once
    fits = {name: (v.mean(), v.std(ddof=1)) for name, v in values.items()}
    served = [(float(ds.normalizers[0].mean.ravel()[0]), float(ds.normalizers[0].std.ravel()[0]))
              for ds in built.values()]
    assert served[0] == served[1]  # the one fit, served by both
    (first,) = [name for name, fit in fits.items() if np.allclose(served[0], fit, rtol=1e-6)]
    for name, ds in built.items():  # each file's values through the first file's statistics
        mean, std = fits[first]
        np.testing.assert_allclose(ds[0][0, :, 0, 0], (values[name][:500] - mean) / std,
                                   rtol=1e-5, atol=1e-6)


def test_a_set_options_block_begun_in_another_thread_mid_build_keeps_key_and_layout(
        tmp_path, output, monkeypatch):
    """A cached build keyed its store by the layout options, then read them again to lay
    it out: a ``set_options(chunk_bytes=..., compressor=...)`` block begun in another
    thread between the two made a store chunked and compressed as that block said, filed
    under the default options' key, and every later default build reused it (an audit).
    A build now keeps to the options as they were when it began: its store is laid out
    as one built with no other thread, and the values are the file's."""
    import json
    import threading

    from genozarr import Cover, set_options
    from genozarr.store import builder
    from genozarr.testing.simulate import write_bigwig

    sizes = {"chr1": 20000}
    values = np.arange(20000, dtype="float32") % 97
    write_bigwig(tmp_path / "a.bw", {"chr1": values}, sizes)
    keyed, begun, done = threading.Event(), threading.Event(), threading.Event()
    real = builder.reuse_cached

    def reuse_cached(*args, **kwargs):  # the key computed: the other block begins now
        found = real(*args, **kwargs)
        if threading.current_thread().name == "builder":
            keyed.set()
            begun.wait(30)
        return found

    monkeypatch.setattr(builder, "reuse_cached", reuse_cached)

    def other() -> None:
        keyed.wait(30)
        with set_options(chunk_bytes=8192, compressor="lz4"):
            begun.set()
            done.wait(60)

    built = {}

    def build() -> None:
        try:
            built["cover"] = Cover.create_from_bigwig(
                "pinned", str(tmp_path / "a.bw"), genomesize=sizes, binsize=2000,
                storage="zarr", cache=True)
        finally:
            done.set()

    threads = [threading.Thread(target=other), threading.Thread(target=build, name="builder")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    path = Path(built["cover"].garray.path)
    doc = json.loads((path / "data" / "zarr.json").read_text())
    codecs = [c.get("configuration", {}).get("cname", c["name"]) for c in doc["codecs"]]
    assert doc["chunk_grid"]["configuration"]["chunk_shape"][0] == 10  # all 10 windows
    assert codecs[-1] == "zstd"
    monkeypatch.setattr(builder, "reuse_cached", real)
    again = Cover.create_from_bigwig("pinned", str(tmp_path / "a.bw"), genomesize=sizes,
                                     binsize=2000, storage="zarr", cache=True)
    assert Path(again.garray.path) == path  # the default build's key: the same store
    np.testing.assert_array_equal(again[:][:, :, 0, 0], values.reshape(10, 2000))


@pytest.mark.skipif(not hasattr(os, "register_at_fork"), reason="needs fork")
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_a_child_forked_while_a_thread_publishes_can_publish_too(tmp_path, monkeypatch):
    """A process forked while another thread held the publish lock of a folder (a flock,
    which belongs to the open file and is shared across fork) kept the lock with the
    parent through its copy of the descriptor: the child waited out PUBLISH_LOCK_TIMEOUT
    for a lock only it held, and the parent's next publish there waited for the child to
    end (an audit). The child now closes its copies: it takes the lock once the parent's
    thread lets it go, and the parent takes it again while the child lives."""
    import multiprocessing
    import threading
    import time

    import genozarr.store.write as store_write

    monkeypatch.setattr(store_write, "PUBLISH_LOCK_TIMEOUT", 10.0)
    holding, forked = threading.Event(), threading.Event()

    def publisher() -> None:
        with store_write._publish_lock(tmp_path):
            holding.set()
            forked.wait(30)
            time.sleep(0.3)  # (the child is waiting for the lock now)

    def child(queue) -> None:
        started = time.monotonic()
        try:
            with store_write._publish_lock(tmp_path):
                queue.put(("locked", time.monotonic() - started))
        except Exception as e:  # noqa: BLE001 - reported to the parent
            queue.put((type(e).__name__, time.monotonic() - started))
        time.sleep(3)  # (a worker process lives on)

    thread = threading.Thread(target=publisher)
    thread.start()
    holding.wait(30)
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    process = ctx.Process(target=child, args=(queue,))
    process.start()
    forked.set()
    thread.join(30)
    what, waited = queue.get(timeout=60)
    assert what == "locked" and waited < 5
    started = time.monotonic()
    with store_write._publish_lock(tmp_path):  # the child still runs
        assert process.is_alive()
        assert time.monotonic() - started < 2
    process.join(30)
