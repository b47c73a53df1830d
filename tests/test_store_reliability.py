"""Nothing wrong is ever served from a store: rebuilds under open readers (local and S3),
damaged chunks, metadata that disagrees with the arrays, symbolic links, newer format
versions, names, a full disk, missing buckets, unreachable endpoints, refused permissions,
and worker processes that outlive a killed parent.

Values are compared with numpy on the tracks that were written (``tracks``), never only
messages. The stores here are small (about a dozen chunks) so every test runs in seconds.
"""

from __future__ import annotations

import errno
import gc
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import genozarr.store.write as store_write
from genozarr.config import set_options
from genozarr.errors import (
    ArgumentError,
    GenozarrWarning,
    InputFileError,
    StoreError,
    StoreFormatError,
)
from genozarr.ingest import build_store
from genozarr.regions import GenomicIndexer
from genozarr.sources import ArraySource
from genozarr.store import FORMAT_VERSION, load_store, open_store
from genozarr.store.layout import MARKER_FILE
from genozarr.store.open import read_marker
from genozarr.store.write import remove_store, sweep_stale
from genozarr.testing.servers import free_port

SIZES = {"chr1": 4000, "chr2": 2000}
#: 5 windows of 100 bins x 1 strand x 2 float32 conditions per 4 KiB chunk: 12 chunks
CHUNK_BYTES = 4096
ROWS = np.arange(60)


def tracks(seed: int, n_conditions: int = 2) -> dict[str, np.ndarray]:
    """Base-resolution tracks, never 0 (the fill value), different for every seed."""
    rng = np.random.default_rng(seed)
    return {c: rng.uniform(1, 2, size=(n, 1, n_conditions)).astype("float32")
            for c, n in SIZES.items()}


def gindexer() -> GenomicIndexer:
    roi = pd.DataFrame({"chrom": ["chr1", "chr2"], "start": [0, 0], "end": [4000, 2000],
                        "strand": ["+", "-"]})
    return GenomicIndexer.create_from_file(roi, binsize=100, stepsize=100)


def expected(seed: int, n_conditions: int = 2) -> np.ndarray:
    """The stored rows (genomic orientation) of the store built with ``seed``."""
    t = tracks(seed, n_conditions)
    return np.stack([t[r.chrom][r.start:r.end] for r in gindexer()])


def build(path, seed: int, *, overwrite: bool = True, n_conditions: int = 2,
          storage_options=None, source_cls=ArraySource, options: bool = True,
          keep_same_key: bool = True):
    """Build the partial-layout store of ``seed`` at ``path`` (cache key ``key-<seed>``),
    within ``set_options(chunk_bytes=CHUNK_BYTES, ...)`` unless ``options=False`` (options
    are global: threads building at once set them once, outside)."""
    names = ["a", "b", "c"][:n_conditions]
    if options:
        with set_options(chunk_bytes=CHUNK_BYTES, scheduler="sync", progress=False):
            return build(path, seed, overwrite=overwrite, n_conditions=n_conditions,
                         storage_options=storage_options, source_cls=source_cls,
                         options=False, keep_same_key=keep_same_key)
    return build_store(source_cls("mem", tracks(seed, n_conditions), names, ["."]),
                       gindexer(), name="r", whole_genome=False, resolution=1,
                       chroms=SIZES, storage="zarr", path=str(path),
                       cache_key=f"key-{seed}", overwrite=overwrite,
                       storage_options=storage_options, keep_same_key=keep_same_key)


# ---------------------------------------------------------------------------- racing builds
@pytest.mark.parametrize("other", ["other inputs", "no cache key", "changed copy",
                                   "same inputs", "same inputs, overwrite=True"])
def test_a_build_never_serves_a_store_replaced_right_after_its_publish(tmp_path, monkeypatch,
                                                                       other):
    # another build publishes at the path between this build's publication and its opening
    # of what it published: other values are refused, never served under this build's
    # metadata (another key; no key; a copy whose data were changed outside genozarr.ops,
    # which keeps no key); the same inputs (every rank of a job building one dataset)
    # hold the same values and are served
    path = tmp_path / "s.zarr"
    real, calls = store_write.StoreWriter._publish_local, []

    def then_another(self):
        real(self)
        calls.append(self.final)
        if len(calls) == 1:
            if other == "no cache key":
                with set_options(chunk_bytes=CHUNK_BYTES, scheduler="sync", progress=False):
                    build_store(ArraySource("mem", tracks(1), ["a", "b"], ["."]), gindexer(),
                                name="r", whole_genome=False, resolution=1, chroms=SIZES,
                                storage="zarr", path=str(path), cache_key=None)
            elif other == "changed copy":
                from genozarr.store.builder import write_store

                source = open_store(tmp_path / "src.zarr")
                doubled = source.copy()
                doubled["data"] = source["data"] * 2
                doubled["data"].attrs.update(source["data"].attrs)
                write_store(doubled, path, overwrite=True)
                assert read_marker(path)["cache_key"] is None  # (not the source's key-1)
            elif other == "same inputs":  # as every rank of a job builds (cache=False)
                build(path, 1, options=False, overwrite=False, keep_same_key=False)
            elif other == "same inputs, overwrite=True":  # forced: may differ outside the key
                build(path, 1, options=False)
            else:
                build(path, 2, options=False)

    if other == "changed copy":
        build(tmp_path / "src.zarr", 1)
    monkeypatch.setattr(store_write.StoreWriter, "_publish_local", then_another)
    if other == "same inputs":
        np.testing.assert_array_equal(
            build(path, 1, overwrite=False, keep_same_key=False).read_rows(ROWS), expected(1))
        return
    with pytest.raises(StoreError, match="replaced by another build(?! of the same)"
                       if other != "same inputs, overwrite=True" else
                       "of the same cache key .* asked for with overwrite=True") as info:
        if other == "no cache key":  # (ours has none either: only the build tells them apart)
            with set_options(chunk_bytes=CHUNK_BYTES, scheduler="sync", progress=False):
                build_store(ArraySource("mem", tracks(1), ["a", "b"], ["."]), gindexer(),
                            name="r", whole_genome=False, resolution=1, chroms=SIZES,
                            storage="zarr", path=str(path), cache_key=None)
        else:
            build(path, 1)
    assert str(path) in str(info.value)
    if other == "other inputs":
        assert "'key-2'" in str(info.value) and "'key-1'" in str(info.value)
        np.testing.assert_array_equal(load_store(path, "zarr").read_rows(ROWS), expected(2))


def test_markers_of_one_key_stand_for_the_same_values_whatever_the_chunking():
    """Two unforced builds of one cache key hold the same values, also chunked otherwise
    (chunk_bytes is not in the key): the same content; forced or keyless builds are not."""
    from genozarr.store.builder import _check_same_build
    from genozarr.store.layout import same_content

    one = {"cache_key": "k", "format_version": 3, "build": "a",
           "chunks": {"data": {"grid": 1, "absent": []}}}
    other = dict(one, build="b", chunks={"data": {"grid": 20, "absent": []}})
    assert same_content(one, other)
    _check_same_build("P", one, other)  # served
    for changed in (dict(other, forced=True), dict(other, cache_key="j")):
        assert not same_content(one, changed)
    assert not same_content(dict(one, cache_key=None), dict(other, cache_key=None))
    # one build, forced, and a version of it recording windows (its coordinate arrays'
    # inventory changes): the same values; DataLoader workers refused it at each epoch
    forced = dict(one, forced=True)
    windows = dict(forced, chunks={"data": {"grid": 1, "absent": []},
                                   "genozarr-windows/window_strand": {"grid": 1,
                                                                      "absent": [[0, 1]]}})
    assert same_content(forced, windows)
    with pytest.raises(StoreError, match="asked for with overwrite=True"):
        _check_same_build("P", one, dict(other, forced=True))
    with pytest.raises(StoreError, match=r"replaced by another build \(cache key 'j'\)"):
        _check_same_build("P", one, dict(other, cache_key="j"))


def test_a_cached_store_is_reused_only_with_its_own_key(tmp_path, monkeypatch):
    # the marker says key-1, then another build publishes key-2 at the store path before
    # the store is opened: not reused (the caller builds), never served as key-1
    from genozarr.store import handle
    from genozarr.store.builder import reuse_cached

    path = tmp_path / "s.zarr"
    build(path, 1)
    np.testing.assert_array_equal(reuse_cached(str(path), "key-1", "zarr").read_rows(ROWS),
                                  expected(1))
    real = handle.load_store

    def rebuilt_first(*args, **kwargs):
        build(path, 2)
        return real(*args, **kwargs)

    monkeypatch.setattr(handle, "load_store", rebuilt_first)
    assert reuse_cached(str(path), "key-1", "zarr") is None
    assert read_marker(path)["cache_key"] == "key-2"


def test_a_copy_with_changed_data_keeps_no_key_and_an_http_reader_sees_it(tmp_path):
    # write_store keeps the source's cache key for a copy of its data (or genozarr.ops'
    # derived key), not for data changed by other means (ds["data"] * 2: the same
    # attributes, other values); so a reader of a store without versions (a directory on a
    # web server) refuses chunks of the changed one, never mixes them with the first's
    from genozarr.store.builder import write_store
    from genozarr.testing.servers import serve_directory

    build(tmp_path / "src.zarr", 1)
    src = open_store(tmp_path / "src.zarr")
    doubled = src.copy()
    doubled["data"] = src["data"] * 2
    doubled["data"].attrs.update(src["data"].attrs)
    target = tmp_path / "q.zarr"
    with set_options(chunk_bytes=CHUNK_BYTES, scheduler="sync", progress=False):
        write_store(src, target)
        first = read_marker(target)
        with serve_directory(tmp_path) as base:
            reader = load_store(f"{base}/q.zarr", "zarr")
            np.testing.assert_array_equal(reader.read_rows(ROWS[:5]), expected(1)[:5])
            write_store(doubled, target, overwrite=True)
            second = read_marker(target)
            assert first["cache_key"] == "key-1" and second["cache_key"] is None
            assert first["build"] != second["build"]
            with pytest.raises(StoreError, match="replaced or removed while it was open"):
                reader.read_rows(ROWS[5:])
            np.testing.assert_array_equal(load_store(f"{base}/q.zarr", "zarr").read_rows(ROWS),
                                          2 * expected(1))


def test_a_copied_reader_reads_on_over_the_same_values_only(tmp_path):
    # a pickled reader (a DataLoader worker's) reopens its store by path: a new version
    # that only records coordinates holds the same chunk files and keeps the marker but
    # for the version's id, a
    # rebuild of the same cache key (another rank building the same dataset) holds the
    # same values: read on; a rebuild asked for with overwrite=True (what changed may be
    # outside the key: a global a collapser reads) or with another key is refused
    import pickle

    from genozarr.store.open import read_meta
    from genozarr.store.recipe import update_served

    path = tmp_path / "s.zarr"
    build(path, 1, overwrite=False, keep_same_key=False)
    reader = load_store(path, "zarr")
    np.testing.assert_array_equal(reader.read_rows(ROWS[:5]), expected(1)[:5])
    blob = pickle.dumps(reader)
    before = read_marker(path)
    strand = np.array(["-"] * len(ROWS), dtype=object)
    update_served(str(path), None, read_meta(path), {"note": 1},
                  coords={"region_strand": (("region",), strand)})
    recorded = read_marker(path)  # the same but for the version's own id
    assert recorded.pop("version") != before["version"]
    assert recorded == {k: v for k, v in before.items() if k != "version"}
    assert list(open_store(path)["region_strand"].values) == ["-"] * len(ROWS)
    np.testing.assert_array_equal(pickle.loads(blob).read_rows(ROWS), expected(1))
    build(path, 1, overwrite=False, keep_same_key=False)  # as cache=False rebuilds
    after = read_marker(path)
    assert after["cache_key"] == before["cache_key"] and after["build"] != before["build"]
    np.testing.assert_array_equal(pickle.loads(blob).read_rows(ROWS), expected(1))
    for seed in (1, 2):  # overwrite=True: forced; other inputs
        build(path, seed)
        with pytest.raises(StoreError, match="replaced or removed since it was opened"):
            pickle.loads(blob).read_rows(ROWS)
    # a forced build's readers read on over a version of it recording coordinates
    build(path, 1)
    blob = pickle.dumps(load_store(path, "zarr"))
    update_served(str(path), None, read_meta(path), {"note": 2},
                  coords={"region_strand": (("region",), np.array(["+"] * len(ROWS),
                                                                   dtype=object))})
    np.testing.assert_array_equal(pickle.loads(blob).read_rows(ROWS), expected(1))


def siblings(directory: Path, store: str) -> list[str]:
    """What builds left beside ``store`` (temporary and replaced stores)."""
    return sorted(p.name for p in directory.iterdir() if p.name.startswith(f".{store}."))


# ---------------------------------------------------------------------------- rebuilds
def test_rebuild_keeps_open_readers_on_their_version(tmp_path):
    path = tmp_path / "s.zarr"
    build(path, 1)
    old, new = expected(1), expected(2)
    reader = load_store(path, "zarr")
    np.testing.assert_array_equal(reader.read_rows(ROWS[:5]), old[:5])  # one chunk cached
    ds = open_store(path)
    tree = xr.open_datatree(path, engine="genozarr")
    build(path, 2)  # overwrite=True, other values
    assert read_marker(path)["cache_key"] == "key-2"
    # the open readers keep reading the complete store they opened, every chunk of it
    np.testing.assert_array_equal(reader.read_rows(ROWS), old)
    np.testing.assert_array_equal(ds["data"].values, old)
    np.testing.assert_array_equal(tree["data"].values, old)
    # new readers read the new store
    np.testing.assert_array_equal(load_store(path, "zarr").read_rows(ROWS), new)
    np.testing.assert_array_equal(open_store(path)["data"].values, new)
    # the replaced store waits beside the path for its readers, then goes
    assert [n for n in siblings(tmp_path, "s.zarr") if ".old-" in n]
    del reader, ds, tree
    gc.collect()
    assert sweep_stale(path)
    assert os.listdir(tmp_path) == ["s.zarr"]
    np.testing.assert_array_equal(load_store(path, "ndarray").read_rows(ROWS), new)


def test_a_read_running_when_its_reader_closes_stays_in_its_store(tmp_path):
    """``ZarrBackend.close()`` lets the version go while a read in another thread may still
    hold an array's chunk reader: that read goes on in the store it opened. (The descriptor
    that named the directory was closed with the hold, the next store opened in the process
    got its number, and such a read returned that store's chunks.)"""
    a, b = tmp_path / "a.zarr", tmp_path / "b.zarr"
    build(a, 1)
    build(b, 2)
    reader = load_store(a, "zarr")
    np.testing.assert_array_equal(reader.read_rows(ROWS[:3]), expected(1)[:3])
    backend = reader.backend
    in_flight = backend._direct["data"]  # what a read running in another thread holds
    backend.close()
    other = load_store(b, "zarr")
    np.testing.assert_array_equal(other.read_rows(ROWS[:3]), expected(2)[:3])
    chunk = in_flight.read(0)
    k = min(len(chunk), len(ROWS))
    np.testing.assert_array_equal(chunk[:k], expected(1)[:k])
    # the closed reader opens its store again for the next read
    np.testing.assert_array_equal(reader.read_rows(ROWS), expected(1))
    # decode threads shut down by close() under a read that still gives them work: the
    # work runs in the reading thread (it raised "cannot schedule new futures")
    pool = backend._pool()
    backend.close()
    assert pool.submit(lambda x: x * 2, 21).result() == 42
    assert list(pool.map(len, ["ab", "c"])) == [2, 1]
    with pytest.raises(ZeroDivisionError):
        pool.submit(lambda: 1 / 0).result()


def test_store_removed_under_reader_raises_never_fill(tmp_path, monkeypatch):
    """Where locks do not protect a reader (a file system without flock), the replaced store
    is deleted at once: the reader gets StoreError naming the store, never fill values."""
    path = tmp_path / "s.zarr"
    build(path, 1)
    old = expected(1)
    reader = load_store(path, "zarr")
    np.testing.assert_array_equal(reader.read_rows(ROWS[:5]), old[:5])
    ds = open_store(path)
    monkeypatch.setattr(store_write, "_lock_dir",
                        lambda p, exclusive, block=False: os.open(p, os.O_RDONLY))
    build(path, 2)
    assert siblings(tmp_path, "s.zarr") == []  # the old store is gone
    with pytest.raises(StoreError, match="replaced or removed.*[Rr]eopen") as info:
        reader.read_rows(ROWS[5:])
    assert str(path) in str(info.value)
    with pytest.raises(StoreError, match="replaced or removed"):
        ds["data"].values
    np.testing.assert_array_equal(reader.read_rows(ROWS[:5]), old[:5])  # decoded before
    np.testing.assert_array_equal(load_store(path, "zarr").read_rows(ROWS), expected(2))


def test_readers_by_path_refuse_a_replaced_store(tmp_path, monkeypatch):
    """Where a reader cannot pin the directory it opened (no /proc) and the file system
    cannot exchange directories, a rebuild puts another store at the path the reader reads
    by: every read after it is a StoreError, never the new store's chunks mixed in."""
    import genozarr.store.open as store_open

    real_init = store_open.ReaderHold.__init__

    def unpinned(self, root, fd, locked):
        real_init(self, root, fd, locked)
        self.io_root = root

    monkeypatch.setattr(store_open.ReaderHold, "__init__", unpinned)
    monkeypatch.setattr(store_write, "_exchange", lambda a, b: False)
    path = tmp_path / "s.zarr"
    build(path, 1)
    reader = load_store(path, "zarr")
    np.testing.assert_array_equal(reader.read_rows(ROWS[:5]), expected(1)[:5])
    ds = open_store(path)
    build(path, 2)
    for read in (lambda: reader.read_rows(ROWS[5:]), lambda: ds["data"].values):
        with pytest.raises(StoreError, match="replaced or removed"):
            read()
    np.testing.assert_array_equal(load_store(path, "zarr").read_rows(ROWS), expected(2))


def test_opened_stores_pickle_as_their_path(tmp_path):
    import pickle

    path = tmp_path / "s.zarr"
    build(path, 1)
    ds = open_store(path)
    st = load_store(path, "zarr")
    again = pickle.loads(pickle.dumps(ds))
    np.testing.assert_array_equal(again["data"].values, expected(1))
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(st)).read_rows(ROWS), expected(1))
    # a bytes path, as every other opener takes one (it was "does not exist": an audit)
    np.testing.assert_array_equal(open_store(os.fsencode(path))["data"].values, expected(1))


def test_a_pickled_open_store_refuses_a_store_rebuilt_since(tmp_path):
    """An open_store object pickled (what dask.distributed and the processes scheduler
    do) reopened the store by its path when unpickled: after a rebuild with other values
    it served the new build's data under the old build's coordinates (an audit). It now
    refuses a version with other content, as a pickled dataset does."""
    import pickle

    path = tmp_path / "s.zarr"
    build(path, 1, overwrite=False)  # (a forced build's content is its own only)
    blob = pickle.dumps(open_store(path))
    np.testing.assert_array_equal(pickle.loads(blob)["data"].values, expected(1))
    build(path, 1, overwrite=False, keep_same_key=False)  # the same content and chunks
    np.testing.assert_array_equal(pickle.loads(blob)["data"].values, expected(1))
    with set_options(chunk_bytes=2 * CHUNK_BYTES, scheduler="sync", progress=False):
        build(path, 1, overwrite=False, keep_same_key=False, options=False)
    with pytest.raises(StoreError, match="replaced since it was opened, with other chunks"):
        pickle.loads(blob)  # (its arrays hold the chunk grid it opened: a reshape error)
    build(path, 2)
    with pytest.raises(StoreError, match="replaced or removed since it was opened"):
        pickle.loads(blob)
    np.testing.assert_array_equal(open_store(path)["data"].values, expected(2))


def test_a_pickled_open_store_reads_on_after_the_store_records_other_windows(tmp_path):
    """A cached whole-genome store reused by a dataset of other windows records them (a new
    version of the same build: the window arrays rewritten, the data as they were); a
    pickled open_store reader of it reads on. The refusal of other chunks, added first,
    compared every array's chunks and refused it (a review)."""
    import pickle

    from genozarr import Cover
    from genozarr.resources import resource_path
    from genozarr.store.layout import MARKER_FILE

    path = tmp_path / "w.zarr"
    named = pd.DataFrame({"chrom": ["chr1"] * 2, "start": [0, 1000], "end": [1000, 2000],
                          "name": ["a", "b"]})
    kw = dict(binsize=1000, resolution=50, store_whole_genome=True, storage="zarr",
              cache=True, store=str(path))
    Cover.create_from_bigwig("w", resource_path("sample_a.bw"), roi=named, **kw)
    ds = open_store(path)
    want = ds["chr1"]["data"].values
    blob = pickle.dumps(ds)
    marker = (path / MARKER_FILE).read_bytes()
    Cover.create_from_bigwig("w", resource_path("sample_a.bw"), roi=named.iloc[:, :3], **kw)
    assert (path / MARKER_FILE).read_bytes() != marker  # (other windows recorded)
    np.testing.assert_array_equal(pickle.loads(blob)["chr1"]["data"].values, want)


POLL_BUILDER = r'''
import importlib.util, json, os, sys
cfg = json.loads(sys.argv[1])
spec = importlib.util.spec_from_file_location("reliability", cfg["tests"])
mod = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mod)
if cfg["nolock"]:  # a file system without flock: replaced stores are deleted at once
    import genozarr.store.write as w
    w._lock_dir = lambda p, exclusive, block=False: os.open(p, os.O_RDONLY)
for i in range(cfg["n"]):
    mod.build(cfg["path"], 1 + i % 2)
'''


def test_first_chunk_gone_while_opening_is_not_reported_as_damage(tmp_path, monkeypatch):
    """Opening checks the stored size and Blosc header of the first chunk. A chunk deleted
    between the two reads (its store replaced meanwhile, where locks cannot protect
    readers) is a store being replaced, not a damaged chunk: the open goes on, and the
    values read are the store's."""
    from zarr.storage import LocalStore

    path = tmp_path / "s.zarr"
    build(path, 1)
    real = LocalStore.get
    probed = []

    async def get(self, key, prototype, byte_range=None):
        if byte_range is not None and key.rsplit("/", 1)[-1].startswith("c"):
            probed.append(key)
            return None  # deleted since its size was read
        return await real(self, key, prototype, byte_range)

    monkeypatch.setattr(LocalStore, "get", get)
    ds = open_store(path)
    assert probed  # the probe ran, and found the chunk gone
    np.testing.assert_array_equal(ds["data"].values, expected(1))


@pytest.mark.parametrize("nolock", [False, True])
def test_reader_polling_a_store_rebuilt_with_overwrite(tmp_path, nolock):
    """A builder process rebuilds the store again and again (overwrite=True, alternating
    values) while this process opens and reads it chunk by chunk: every read is all of one
    build's values, or (only where locks cannot protect readers) a StoreError."""
    path = tmp_path / "s.zarr"
    build(path, 2)
    want = {1: expected(1), 2: expected(2)}
    script = tmp_path / "builder.py"
    script.write_text(POLL_BUILDER)
    cfg = {"tests": __file__, "path": str(path), "n": 6, "nolock": nolock}
    proc = subprocess.Popen([sys.executable, str(script), json.dumps(cfg)],
                            stderr=subprocess.PIPE, text=True)
    reads = errors = 0
    deadline = time.monotonic() + 90
    try:
        while proc.poll() is None and time.monotonic() < deadline:
            try:
                if reads % 3 == 2:
                    ds = open_store(path)
                    key = ds.attrs["cache_key"]
                    got = ds["data"].values
                else:
                    st = load_store(path, "zarr")
                    key = st.meta.cache_key
                    parts = []
                    for lo in range(0, len(ROWS), 5):  # a chunk at a time, slowly
                        parts.append(st.read_rows(ROWS[lo:lo + 5]))
                        time.sleep(0.002)
                    got = np.concatenate(parts)
            except StoreError as e:
                assert nolock, e
                assert "replaced or removed" in str(e) or "not a complete" in str(e), e
                errors += 1
                continue
            np.testing.assert_array_equal(got, want[int(key.split("-")[1])])
            reads += 1
    finally:
        if proc.poll() is None:
            proc.kill()
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert reads > 0
    assert nolock or errors == 0


# ---------------------------------------------------------------------------- durability
def test_damaged_chunks_raise_naming_the_chunk(tmp_path, capsys):
    path = tmp_path / "s.zarr"
    build(path, 1)
    old = expected(1)
    chunk1, chunk2 = (path / "data" / f"c.{i}.0.0.0" for i in (1, 2))
    assert read_marker(path) is not None
    chunk1.write_bytes(chunk1.read_bytes()[:len(chunk1.read_bytes()) // 2])
    chunk2.write_bytes(b"")
    st = load_store(path, "zarr")
    np.testing.assert_array_equal(st.read_rows(ROWS[:5]), old[:5])  # undamaged chunk
    for rows, chunk in ((ROWS[5:10], chunk1), (ROWS[10:15], chunk2)):
        with pytest.raises(StoreError, match="is damaged") as info:
            st.read_rows(rows)
        assert str(chunk) in str(info.value)
    with pytest.raises(StoreError, match="is damaged") as info:  # through zarr and dask
        open_store(path)["data"].values
    assert "data/c.1.0.0.0" in str(info.value) or "data/c.2.0.0.0" in str(info.value)
    from genozarr.cli import main

    assert main(["info", str(path), "--stats"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("genozarr: error:") and "damaged" in err
    assert "Traceback" not in err


def test_a_lost_chunk_file_is_an_error_not_the_fill_value(tmp_path, capsys):
    """The marker records which chunk files were written: one missing later (a store
    copied in part) raises naming it, on genozarr's direct path and through zarr; the
    fill-value chunks that were never written still read as the fill value."""
    path = tmp_path / "s.zarr"
    values = tracks(1)
    values["chr1"][1500:2000] = 0  # windows 15-19: chunk 3 holds only the fill value
    with set_options(chunk_bytes=CHUNK_BYTES, scheduler="sync", progress=False):
        build_store(ArraySource("mem", values, ["a", "b"], ["."]), gindexer(), name="r",
                    whole_genome=False, resolution=1, chroms=SIZES, storage="zarr",
                    path=str(path), cache_key="key-lost")
    want = np.stack([values[r.chrom][r.start:r.end] for r in gindexer()])
    assert not (path / "data" / "c.3.0.0.0").exists()
    assert read_marker(path)["chunks"]["data"] == {"grid": 12, "absent": [[3, 4]]}
    np.testing.assert_array_equal(load_store(path, "zarr").read_rows(ROWS), want)
    lost = path / "data" / "c.7.0.0.0"
    lost.unlink()
    st = load_store(path, "zarr")
    np.testing.assert_array_equal(st.read_rows(ROWS[:35]), want[:35])
    with pytest.raises(StoreError, match="is missing: the store's completion marker") as info:
        st.read_rows(ROWS[35:40])
    assert str(lost) in str(info.value)
    with pytest.raises(StoreError, match="is missing") as info:  # through zarr and dask
        np.asarray(open_store(path)["data"])
    assert "data/c.7.0.0.0" in str(info.value)
    from genozarr.cli import main

    assert main(["info", str(path), "--stats"]) == 1
    assert "is missing" in capsys.readouterr().err


def test_a_lost_shard_or_coordinate_file_is_an_error(tmp_path):
    """Whole-genome stores keep their chunks in shard files; a lost shard, or a lost
    chunk of a window coordinate, is an error naming it."""
    from genozarr import Cover, open_dataset

    gi = GenomicIndexer(["chr1", "chr1", "chr2"], [0, 1000, 500], [1000, 2000, 1500],
                        ["+", "+", "-"], 1000, 1000)
    values = np.random.default_rng(5).uniform(1, 2, (3, 1000, 1, 1)).astype("float32")
    for lost in ("chr2/data/c.0.0.0", "genozarr-windows/window_start/c/0"):
        store = tmp_path / f"w{len(lost)}.zarr"
        Cover.create_from_array("c", values, gi, storage="zarr", store=str(store),
                                store_whole_genome=True, genomesize={"chr1": 2000,
                                                                     "chr2": 1500})
        np.testing.assert_array_equal(open_dataset(store)[:], values[:, :, :, :])
        (store / lost).unlink()
        with pytest.raises(StoreError, match="is missing") as info:
            open_dataset(store)[:]
        assert f"{store}/{lost}" in str(info.value)


def test_a_store_without_a_chunk_inventory_still_reads(tmp_path):
    """A store published before markers held the inventory reads as before: a chunk
    file that is not there is the fill value."""
    path = tmp_path / "s.zarr"
    build(path, 1)
    marker = path / MARKER_FILE
    doc = json.loads(marker.read_text())
    del doc["attributes"]["chunks"]
    marker.write_text(json.dumps(doc))
    (path / "data" / "c.2.0.0.0").unlink()
    want = expected(1)
    want[10:15] = 0
    np.testing.assert_array_equal(load_store(path, "zarr").read_rows(ROWS), want)
    np.testing.assert_array_equal(open_store(path)["data"].values, want)


def test_a_block_being_encoded_when_its_build_stops_is_not_written(tmp_path, monkeypatch):
    """A task's first write into an array checks that the temporary store is there, then
    encodes its block: a build stopped meanwhile (its temporary store removed, as a failed
    build on dask.distributed does while other tasks run) made the folders again and wrote
    the chunk (an audit: a temporary directory of chunk files left). The write now fails
    and leaves nothing."""
    import shutil

    import genozarr.store._direct as direct

    build(tmp_path / "s.zarr", 1)
    work = tmp_path / ".s.zarr.tmp-work"
    shutil.copytree(tmp_path / "s.zarr", work)
    store_write._WRITING.clear()  # (this process has not opened the array yet)
    real_only = direct._only

    def stopped_meanwhile(values, fill):
        shutil.rmtree(work, ignore_errors=True)
        return real_only(values, fill)

    monkeypatch.setattr(direct, "_only", stopped_meanwhile)
    with pytest.raises(StoreError, match="The build stopped"):
        store_write.write_block(str(work), "data", 0, np.full((5, 100, 1, 2), 7, "float32"))
    assert not work.exists()


def test_files_written_while_a_failed_build_is_removed_are_removed(tmp_path, monkeypatch):
    """Tasks of a failed build that still run (dask.distributed does not wait for them)
    wrote into its temporary store while it was being removed: the directories holding
    their files stayed (an audit: chunk files left beside the store). The removal is done
    again until the directory is gone."""
    calls = []
    real = store_write._rmtree_store

    def with_a_late_write(path):
        real(path)
        calls.append(path)
        if len(calls) == 1:  # a task's file that came in while it was removed
            os.makedirs(os.path.join(path, "data"), exist_ok=True)
            with open(os.path.join(path, "data", "c.3.0.0.0"), "wb") as f:
                f.write(b"late")

    class Failing(ArraySource):
        def read_file(self, i, chrom, start, end):
            raise RuntimeError("boom")

    monkeypatch.setattr(store_write, "_rmtree_store", with_a_late_write)
    with pytest.raises(RuntimeError, match="boom"):
        build(tmp_path / "s.zarr", 1, source_cls=Failing)
    assert len(calls) == 2 and siblings(tmp_path, "s.zarr") == []


def test_temporary_copies_this_process_left_are_swept(tmp_path):
    """A failed parallel build's tasks that still run can make its temporary directory
    again after the build removed it (zarr's LocalStore makes its root): the next build
    of the store removes a temporary directory of this process that none of its writers
    is writing (it was kept while this process lived), and keeps the one a writer is
    writing; a write into a removed temporary copy is refused, not made again."""
    path = tmp_path / "s.zarr"
    leftover = tmp_path / f".s.zarr.tmp-{store_write._owner_tag()}-{'a' * 12}"
    leftover.mkdir()
    (leftover / "data").mkdir()
    seen = []

    class Sweeping(ArraySource):  # a sweep while the build writes
        def read_file(self, i, chrom, start, end):  # noqa: ANN001, ANN201
            if not seen:
                seen.append(sweep_stale(path))
                seen.append(siblings(tmp_path, "s.zarr"))
            return super().read_file(i, chrom, start, end)

    build(path, 1, source_cls=Sweeping)  # (its start sweeps the leftover)
    removed, during = seen
    assert not leftover.exists()
    assert removed == [] and len(during) == 1 and ".tmp-" in during[0]  # its own, kept
    assert siblings(tmp_path, "s.zarr") == []
    np.testing.assert_array_equal(load_store(path, "zarr").read_rows(ROWS), expected(1))
    gone = tmp_path / f".x.zarr.tmp-{store_write._owner_tag()}-{'b' * 12}"
    with pytest.raises(StoreError, match="was stopped: its temporary copy .* is gone"):
        store_write.write_block(str(gone), "data", 0, np.zeros((5, 100, 1, 2), "float32"))
    assert not gone.exists()


def test_commit_fsyncs_every_file_before_the_marker(tmp_path, monkeypatch):
    """Every file of a new store is flushed once before its completion marker is written,
    in the early-flush threads while the build runs: the metadata and coordinate files
    written when the version was created, and the chunk files of each build task as the
    task finishes. Publication flushes the folders and the marker."""
    import threading

    flushed: list[tuple[str, str]] = []  # (path in the store, flushing thread)
    real_flush = store_write._flush_file

    def flush_file(p):
        parts = Path(p).parts
        top = next(i for i, part in enumerate(parts) if part.startswith(".s.zarr.tmp-"))
        assert not Path(*parts[:top + 1], MARKER_FILE).exists()  # before the marker
        flushed.append(("/".join(parts[top + 1:]), threading.current_thread().name))
        return real_flush(p)

    monkeypatch.setattr(store_write, "_flush_file", flush_file)
    path = tmp_path / "s.zarr"
    build(path, 1)
    files = {str(p.relative_to(path)) for p in path.rglob("*") if p.is_file()}
    names = [f for f, _ in flushed]
    assert files - set(names) == {MARKER_FILE}
    chunks = {f for f in files if f.startswith("data/c.")}
    early = {f for f, thread in flushed if thread.startswith("genozarr-flush")}
    assert len(chunks) > 1 and early == files - {MARKER_FILE}
    assert {"zarr.json", "data/zarr.json"} < early
    assert all(names.count(f) == 1 for f in files - {MARKER_FILE})  # none flushed twice


def test_early_flush_leaves_failed_files_to_publication(tmp_path):
    good = tmp_path / "good"
    good.write_bytes(b"x")
    early = store_write.EarlyFlush()
    early.add([str(good), str(tmp_path / "gone")])
    early.add(None)  # what a task that wrote through zarr, or kept a block, returns
    assert early.finish() == {os.path.realpath(good)}


# ---------------------------------------------------------------------------- metadata
def _edit_json(path: Path, edit) -> None:
    doc = json.loads(path.read_text())
    edit(doc)
    path.write_text(json.dumps(doc))


def _edit_array(store: Path, name: str, edit) -> None:
    """Edit an array's metadata in its zarr.json and in the consolidated metadata."""
    _edit_json(store / name / "zarr.json", edit)
    _edit_json(store / "zarr.json",
               lambda doc: edit(doc["consolidated_metadata"]["metadata"][name]))


def _edit_meta(store: Path, edit) -> None:
    _edit_json(store / "zarr.json", lambda doc: edit(doc["attributes"]["genozarr"]))


def _chunk_shape(doc: dict, first: float = 1, bins: int | None = None) -> None:
    """Scale the first-axis chunk length by ``first``; set the chunk's bins to ``bins``."""
    shape = doc["chunk_grid"]["configuration"]["chunk_shape"]
    shape[0] = int(shape[0] * first)
    if bins is not None:
        shape[1] = bins


EDITS = {
    "dtype": lambda s: _edit_array(s, "data", lambda d: d.update(data_type="float64")),
    "meta dtype": lambda s: _edit_meta(s, lambda m: m.update(dtype="int32")),
    "number of regions": lambda s: _edit_array(s, "data",
                                               lambda d: d.update(shape=[55, 100, 1, 1])),
    "bins per window": lambda s: _edit_array(s, "data", lambda d: (
        d.update(shape=[60, 50, 1, 1]), _chunk_shape(d, bins=50))),
    "chunk shape": lambda s: _edit_array(s, "data", lambda d: _chunk_shape(d, first=2)),
    "chunk shape (inner)": lambda s: _edit_array(s, "data", lambda d: _chunk_shape(d, bins=50)),
    "conditions": lambda s: _edit_meta(s, lambda m: m.update(conditions=["a", "b"])),
    "condition names": lambda s: _edit_meta(s, lambda m: m.update(conditions=["z"])),
    "strands": lambda s: _edit_meta(s, lambda m: m.update(strands=["+", "-"])),
    # (an audit: served 7 for the positions without data, a TypeError, an AttributeError,
    # channel_last "no" read as true)
    "pad_value": lambda s: _edit_array(s, "data", lambda d: d.update(fill_value=7.0)),
    "unknown dtype": lambda s: _edit_meta(s, lambda m: m.update(dtype="garbage")),
    "recipe": lambda s: _edit_meta(s, lambda m: m.update(recipe="garbage")),
    "recipe 'args'": lambda s: _edit_meta(s, lambda m: m["recipe"].update(args=[1])),
    "recipe 'channel_last'": lambda s: _edit_meta(
        s, lambda m: m["recipe"].update(channel_last="no")),
    "sequence kind": lambda s: _edit_meta(s, lambda m: m.update(kind="sequence")),
}


@pytest.mark.parametrize("edit", sorted(EDITS))
def test_metadata_disagreeing_with_the_arrays_is_refused(tmp_path, edit):
    path = tmp_path / "one.zarr"
    build(path, 1, n_conditions=1)
    np.testing.assert_array_equal(load_store(path, "zarr").read_rows(ROWS), expected(1, 1))
    EDITS[edit](path)
    field = {"meta dtype": "dtype", "chunk shape (inner)": "chunk shape",
             "condition names": "conditions", "unknown dtype": "dtype",
             "sequence kind": "dtype"}.get(edit, edit)
    for opener in (lambda: load_store(path, "zarr"), lambda: open_store(path),
                   lambda: xr.open_dataset(path, engine="genozarr")):
        with pytest.raises(StoreFormatError) as info:
            opener()
        msg = str(info.value)
        assert str(path) in msg
        assert field in msg or (field == "chunk shape" and "chunk" in msg), msg


@pytest.mark.parametrize("sharded", [False, True])
def test_a_chunk_or_shard_longer_than_its_array_is_refused(tmp_path, sharded):
    """A data array of 60 rows whose metadata declared chunks of 60 million rows (chunk 0
    recorded as never written, so no stored size to compare) opened, and a read of one
    window allocated and filled the whole declared chunk: 1.6 GB for 200 windows (an
    audit). No build writes a chunk longer than its array, or a shard reaching past the
    chunk that holds the array's end."""
    import tracemalloc

    path = tmp_path / "one.zarr"
    with set_options(inner_chunk_bytes=1 if sharded else None):
        build(path, 1)
    doc = json.loads((path / "data" / "zarr.json").read_text())
    if sharded:
        assert doc["codecs"][0]["name"] == "sharding_indexed"
    # (the outer grid: the shard's length where sharded)
    _edit_array(path, "data", lambda d: _chunk_shape(d, first=1000 if sharded else 10**6))
    for chunk in (path / "data").glob("c.*"):
        chunk.unlink()
    _edit_json(path / MARKER_FILE, lambda doc: doc["attributes"]["chunks"][
        "data"].update(absent=[[0, doc["attributes"]["chunks"]["data"]["grid"]]]))
    tracemalloc.start()
    try:
        with pytest.raises(StoreFormatError, match="longer than any build writes") as info:
            load_store(path, "zarr")
        assert tracemalloc.get_traced_memory()[1] < 50_000_000
    finally:
        tracemalloc.stop()
    assert str(path) in str(info.value) and "'data' of 60 entries" in str(info.value)


@pytest.mark.parametrize("what", ["no chromosome", "no strand", "end before start"])
def test_region_coordinates_no_build_writes_are_refused(tmp_path, what):
    """A partial store whose region coordinate chunks were deleted (and recorded as never
    written) opened with every window ``:0-0`` and served them (an audit: 2 M such rows
    from a 10 kB store). A window of no chromosome or strand, or not ending after its
    start, is now refused when the store opens, naming the row."""
    import zarr

    path = tmp_path / "one.zarr"
    build(path, 1)
    if what == "end before start":
        arr = zarr.open_array(path / "region_end", mode="r+")
        ends = arr[:]
        ends[7] = zarr.open_array(path / "region_start", mode="r")[7]
        arr[:] = ends
        message = "do not end after their start, as row 7"
    else:
        name = "region_chrom" if what == "no chromosome" else "region_strand"
        shutil.rmtree(path / name / "c")
        _edit_json(path / MARKER_FILE, lambda doc: doc["attributes"]["chunks"][
            name].update(absent=[[0, doc["attributes"]["chunks"][name]["grid"]]]))
        message = f"60 stored window\\(s\\) have {what}, as row 0"
    with pytest.raises(StoreFormatError, match=message) as info:
        load_store(path, "zarr")
    assert str(path) in str(info.value)
    from genozarr import open_dataset

    with pytest.raises(StoreFormatError, match=message):
        open_dataset(path)


@pytest.mark.parametrize("value", ["200", 200.0, -5, float("inf")])
def test_a_whole_genome_data_array_whose_shape_is_no_count_is_refused(tmp_path, value):
    """genozarr's own parse of the root metadata (arrays equal but for their shape parsed
    once) took a shape written as '200' or 200.0 without zarr's check and served the
    store (a review); such a store is refused, as zarr refuses it. (Chromosomes longer
    than a chunk: their data arrays differ in their shape only.)"""
    path = tmp_path / "w.zarr"
    sizes = {"chr1": 20000, "chr2": 10000}
    values = {c: np.ones((n, 1, 2), np.float32) for c, n in sizes.items()}
    with set_options(chunk_bytes=CHUNK_BYTES, scheduler="sync", progress=False):
        build_store(ArraySource("mem", values, ["a", "b"], ["."]), None, name="w",
                    whole_genome=True, resolution=1, chroms=sizes, storage="zarr",
                    path=str(path))
    load_store(path)
    doc = json.loads((path / "zarr.json").read_text())
    node = doc["consolidated_metadata"]["metadata"]["chr2/data"]
    node["shape"][0] = value
    (path / "zarr.json").write_text(json.dumps(doc))
    with pytest.raises(StoreError, match=r"is not a genozarr store \(no readable zarr v3 "
                                         r"group\): Expected .*(integers|non-negative)"):
        load_store(path)


@pytest.mark.filterwarnings("ignore:Consolidated metadata")
def test_an_array_rechunked_after_the_build_is_refused_not_read_as_fill(tmp_path):
    """An array rewritten by zarr with other chunks kept the marker's inventory of the old
    chunk grid: chunks it recorded as never written (all fill) were served as fill although
    they now hold data (an audit)."""
    import zarr

    path = tmp_path / "w.zarr"
    values = {"chr1": np.zeros((5000, 1, 1), np.float32)}
    values["chr1"][4000:] = np.arange(1, 1001, dtype=np.float32)[:, None, None]
    with set_options(chunk_bytes=4096, shard_chunks=1, scheduler="sync", progress=False):
        build_store(ArraySource("mem", values, ["a"], ["."]), None, name="w",
                    whole_genome=True, resolution=1, chroms={"chr1": 5000}, storage="zarr",
                    path=str(path))
    marker = json.loads((path / MARKER_FILE).read_text())["attributes"]["chunks"]["chr1/data"]
    assert marker["grid"] == 5 and marker["absent"] == [[0, 3]]
    np.testing.assert_array_equal(open_store(path)["chr1"]["data"].values, values["chr1"])
    group = zarr.open_group(path, mode="r", use_consolidated=False)
    old = group["chr1/data"]
    attrs, dims = dict(old.attrs), old.metadata.dimension_names
    shutil.rmtree(path / "chr1" / "data")
    group = zarr.open_group(path, mode="r+", use_consolidated=False)
    new = group.create_array("chr1/data", shape=(5000, 1, 1), dtype="float32",
                             chunks=(2048, 1, 1), fill_value=0.0, dimension_names=dims,
                             attributes=attrs,
                             chunk_key_encoding={"name": "default", "separator": "."})
    new[...] = values["chr1"]
    zarr.consolidate_metadata(str(path))
    np.testing.assert_array_equal(zarr.open_group(path, mode="r")["chr1/data"][...],
                                  values["chr1"])  # (zarr itself reads the data)
    for opener in (lambda: load_store(path), lambda: open_store(path)):
        with pytest.raises(StoreFormatError, match="has 3 chunk files along its first axis.*"
                                                   "marker records 5") as info:
            opener()
        assert str(path) in str(info.value)


def test_a_root_without_consolidated_metadata_is_named_as_such(tmp_path):
    """The message said "not a genozarr store (no readable zarr v3 group)" (an audit)."""
    path = tmp_path / "one.zarr"
    build(path, 1, n_conditions=1)
    _edit_json(path / "zarr.json", lambda doc: doc.pop("consolidated_metadata"))
    with pytest.raises(StoreError, match="holds no consolidated metadata.*"
                                         "zarr.consolidate_metadata") as info:
        load_store(path)
    assert str(path) in str(info.value)


def test_recorded_windows_that_do_not_fit_the_metadata_are_refused(tmp_path):
    """A whole-genome store's binsize edited from 200 to 100 served each recorded window of
    200 bases cut to its first 100; a window start edited below 0 served padding (an
    audit)."""
    import zarr

    from genozarr import Cover, GenomicIndexer, open_dataset

    gi = GenomicIndexer(["chr1"] * 4, [0, 200, 400, 600], [200, 400, 600, 800], ["+"] * 4,
                        200, 200)
    for damage in ("binsize", "start"):
        path = tmp_path / f"{damage}.zarr"
        cover = Cover.create_from_array("c", np.arange(800.0).reshape(4, 200, 1, 1), gi,
                                        storage="zarr", store=path, store_whole_genome=True)
        np.testing.assert_array_equal(open_dataset(path)[:], cover[:])
        if damage == "binsize":
            _edit_meta(path, lambda m: m.update(binsize=100))
        else:
            zarr.open_array(path / "genozarr-windows" / "window_start", mode="r+")[0] = -400
        with pytest.raises(StoreFormatError, match="recorded window 0 .* does not fit") as info:
            open_dataset(path)
        assert str(path) in str(info.value)


def test_whole_genome_bins_per_chromosome_disagreeing_is_refused(tmp_path):
    path = tmp_path / "w.zarr"
    with set_options(chunk_bytes=CHUNK_BYTES, scheduler="sync", progress=False):
        build_store(ArraySource("mem", tracks(1), ["a", "b"], ["."]), None, name="w",
                    whole_genome=True, resolution=10, chroms=SIZES, storage="zarr",
                    path=str(path))
    tree = open_store(path)
    np.testing.assert_allclose(tree["chr2"]["data"].values,
                               tracks(1)["chr2"].reshape(200, 10, 1, 2).sum(1), rtol=1e-6)
    _edit_meta(path, lambda m: m["chroms"].update(chr2=2500))
    for opener in (lambda: load_store(path), lambda: open_store(path),
                   lambda: xr.open_dataset(path, engine="genozarr", group="chr2")):
        with pytest.raises(StoreFormatError, match="bins per chromosome") as info:
            opener()
        assert str(path) in str(info.value) and "chr2/data" in str(info.value)


# ---------------------------------------------------------------------------- paths
def test_remove_store_and_sweep_stale_take_file_urls(tmp_path, monkeypatch):
    """A ``file://`` URL names its path, as for writing and opening (an audit: both
    took it as a relative path, and ``remove_store`` left the store in place)."""
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "s.zarr"
    build(path, 1)
    reader = load_store(path, "zarr")
    build(path, 2)  # the first version waits beside the path for its reader
    del reader
    gc.collect()
    assert sweep_stale(path.as_uri())
    assert os.listdir(tmp_path) == ["s.zarr"]
    remove_store(path.as_uri())
    assert os.listdir(tmp_path) == []


def test_symbolic_link_store_path_is_resolved_never_deleted_through(tmp_path):
    real = tmp_path / "real.zarr"
    build(real, 1)
    alias = tmp_path / "alias.zarr"
    alias.symlink_to(real)
    reader = load_store(real, "zarr")
    build(alias, 2)  # through the link: the target is replaced as a store
    assert alias.is_symlink() and os.readlink(alias) == str(real)
    assert read_marker(real)["cache_key"] == "key-2"
    np.testing.assert_array_equal(load_store(alias, "zarr").read_rows(ROWS), expected(2))
    np.testing.assert_array_equal(reader.read_rows(ROWS), expected(1))
    remove_store(alias)  # removes the link, never its target
    assert not alias.exists() and not alias.is_symlink()
    np.testing.assert_array_equal(load_store(real, "zarr").read_rows(ROWS), expected(2))
    # a link to a directory that is not a store: refused, nothing in it deleted
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep me")
    link = tmp_path / "link.zarr"
    link.symlink_to(precious)
    with pytest.raises(StoreError, match="not a genozarr store"):
        build(link, 1)
    assert (precious / "notes.txt").read_text() == "keep me"
    assert sorted(p.name for p in precious.iterdir()) == ["notes.txt"]


def _set_version(store: Path, version: int) -> None:
    _edit_meta(store, lambda m: m.update(format_version=version))
    _edit_json(store / MARKER_FILE, lambda m: m["attributes"].update(format_version=version))


def test_newer_format_store_is_replaced_only_with_overwrite(tmp_path):
    path = tmp_path / "s.zarr"
    build(path, 1)
    _set_version(path, FORMAT_VERSION + 1)
    with pytest.raises(StoreFormatError, match=f"format version {FORMAT_VERSION + 1}") as info:
        build(path, 2, overwrite=False)
    assert "overwrite=True" in str(info.value) and str(path) in str(info.value)
    assert read_marker(path)["format_version"] == FORMAT_VERSION + 1  # untouched
    assert siblings(tmp_path, "s.zarr") == []
    with pytest.warns(GenozarrWarning, match=f"format version {FORMAT_VERSION + 1}"):
        build(path, 2, overwrite=True)
    assert read_marker(path)["format_version"] == FORMAT_VERSION
    np.testing.assert_array_equal(load_store(path, "zarr").read_rows(ROWS), expected(2))


@pytest.mark.parametrize("name", ["a\x00b", "a:b", "a\nb", "x" * 201, "..", 'q"uote'])
def test_bad_dataset_names_are_refused(sim_data, tmp_path, monkeypatch, name):
    from genozarr.dataset import Cover

    monkeypatch.setenv("GENOZARR_OUTPUT", str(tmp_path))
    with pytest.raises(ArgumentError) as info:
        Cover.create_from_bigwig(name, sim_data["bigwigs"], roi=sim_data["roi"], binsize=200,
                                 storage="zarr", cache=True)
    assert repr(name)[:40] in str(info.value) or "name" in str(info.value)
    assert not (tmp_path / "datasets").exists() or not any((tmp_path / "datasets").iterdir())


@pytest.mark.parametrize("name, match", [
    ("x" * 256, "256 bytes"),
    ("y" * 230 + ".zarr", "too long"),
    ("a\x00b.zarr", "control characters"),
    (".s.zarr.old-0123abc", "temporary or version"),
    (".s.zarr.tmp-host-1-0123abc", "temporary or version"),
])
def test_bad_store_paths_are_refused(tmp_path, name, match):
    with pytest.raises(ArgumentError, match=match):
        build(str(tmp_path) + "/" + name, 1)
    assert os.listdir(tmp_path) == []


# ---------------------------------------------------------------------------- environment
@pytest.fixture
def small_fs(tmp_path):
    """A 2 MiB tmpfs (root only; skipped where it cannot be mounted)."""
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)],
                          capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def _build_big(path) -> None:
    """A store of about 3 MiB of incompressible values."""
    rng = np.random.default_rng(0)
    big = {"chr1": rng.standard_normal((400_000, 1, 2)).astype("float32")}
    with set_options(scheduler="sync", progress=False):
        build_store(ArraySource("mem", big, ["a", "b"], ["."]), None, name="big",
                    whole_genome=True, resolution=1, chroms={"chr1": 400_000},
                    storage="zarr", path=str(path))


def test_disk_full_on_a_small_tmpfs(small_fs):
    path = small_fs / "big.zarr"
    with pytest.raises(StoreError, match="No space left") as info:
        _build_big(path)
    assert str(path) in str(info.value) and "nothing was published" in str(info.value).lower()
    assert os.listdir(small_fs) == []  # nothing published, the temporary removed


@pytest.mark.parametrize("where", ["chunk", "commit", "create", "coords"])
def test_disk_full_is_a_store_error(tmp_path, monkeypatch, where):
    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    if where == "chunk":
        import genozarr.store._direct as direct

        monkeypatch.setattr(direct, "write_chunks", full)
    elif where == "commit":
        monkeypatch.setattr(store_write, "_fsync_tree", full)
    elif where == "coords":  # assembled with the metadata, inside zarr's event loop
        async def full_async(*args, **kwargs):
            full()

        monkeypatch.setattr(store_write, "_write_coord_async", full_async)
    else:
        monkeypatch.setattr(store_write.os, "mkdir", full)
    path = tmp_path / "s.zarr"
    with pytest.raises(StoreError, match="No space left on device") as info:
        build(path, 1)
    assert str(path) in str(info.value) and "file system is full" in str(info.value)
    # (a failure as it was published said its removed copy could not be removed)
    assert "could not be removed" not in str(info.value)
    assert "the temporary copy was removed" in str(info.value)
    monkeypatch.undo()
    assert os.listdir(tmp_path) == []
    build(path, 1)  # nothing left behind blocks the next build
    np.testing.assert_array_equal(load_store(path, "zarr").read_rows(ROWS), expected(1))


def test_a_temporary_copy_that_cannot_be_removed_is_said_so(tmp_path, monkeypatch):
    """A task's storage error said "its temporary copy is removed" where the removal had
    failed (too many open files: shutil.rmtree fails silently; an audit); the message
    says where the copy stays, and the next build of the store removes it."""
    import genozarr.store._direct as direct

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(direct, "write_chunks", full)
    monkeypatch.setattr(store_write, "_rmtree_store", lambda path: None)
    path = tmp_path / "s.zarr"
    with pytest.raises(StoreError, match=r"nothing was published.*the temporary copy "
                                         r".*\.s\.zarr\.tmp-.* could not be removed; the "
                                         r"next build of this store removes it"):
        build(path, 1)
    assert [n for n in os.listdir(tmp_path) if ".tmp-" in n]
    monkeypatch.undo()
    build(path, 1)
    assert os.listdir(tmp_path) == ["s.zarr"]
    np.testing.assert_array_equal(load_store(path, "zarr").read_rows(ROWS), expected(1))


def test_an_error_as_the_build_starts_flushing_removes_its_temporary_copy(tmp_path,
                                                                        monkeypatch):
    """The first flush of a build (a thread that cannot start, under a memory limit; an
    interrupt) ran before the part of the build that removes its temporary copy on an
    error: the copy stayed (an audit)."""
    def no_thread(self, paths):
        raise RuntimeError("can't start new thread")

    monkeypatch.setattr(store_write.EarlyFlush, "add", no_thread)
    path = tmp_path / "s.zarr"
    with pytest.raises(RuntimeError, match="can't start new thread"):
        build(path, 1)
    assert os.listdir(tmp_path) == []


def test_permission_denied_on_the_output_root(tmp_path, monkeypatch):
    root = tmp_path / "root"
    root.mkdir()
    real_mkdir = os.mkdir

    def denied(path, *args, **kwargs):
        if str(path).startswith(str(root)):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_mkdir(path, *args, **kwargs)

    monkeypatch.setattr(os, "mkdir", denied)
    path = root / "datasets" / "r" / "s.zarr"
    with pytest.raises(StoreError, match="Permission denied") as info:
        build(path, 1)
    assert str(path) in str(info.value) and "writable" in str(info.value)
    monkeypatch.undo()
    if os.geteuid() != 0:  # a real refusal (root is never refused)
        root.chmod(0o500)
        try:
            with pytest.raises(StoreError, match="Permission denied"):
                build(path, 1)
        finally:
            root.chmod(0o700)


# ---------------------------------------------------------------------------- S3
@pytest.fixture(scope="module")
def s3():
    pytest.importorskip("s3fs")
    pytest.importorskip("moto.server")
    from genozarr.testing.servers import moto_s3

    with moto_s3("reliability", "my-bucket") as (options, _):
        yield options


def _versions(url: str, options: dict) -> list[str]:
    import fsspec

    fs, root = fsspec.core.url_to_fs(url, **options)
    fs.invalidate_cache()
    return sorted(n.rsplit("/", 1)[-1] for n in fs.ls(root, detail=False)
                  if n.rsplit("/", 1)[-1].startswith("v-"))


def test_s3_rebuild_keeps_open_readers_then_refuses_after_removal(s3, monkeypatch):
    url = "s3://reliability/rebuild.zarr"
    build(url, 1, storage_options=s3)
    old, new = expected(1), expected(2)
    reader = load_store(url, "zarr", s3)
    np.testing.assert_array_equal(reader.read_rows(ROWS[:5]), old[:5])
    ds = open_store(url, storage_options=s3)
    build(url, 2, storage_options=s3)  # overwrite=True, other values
    assert read_marker(url, s3)["cache_key"] == "key-2"
    np.testing.assert_array_equal(reader.read_rows(ROWS), old)  # the version it opened
    np.testing.assert_array_equal(ds["data"].values, old)
    np.testing.assert_array_equal(load_store(url, "zarr", s3).read_rows(ROWS), new)
    assert len(_versions(url, s3)) == 2  # the replaced one waits for the grace period
    # after the grace period a later build deletes the replaced versions; a reader still
    # on one gets StoreError, never fill values
    second = load_store(url, "zarr", s3)
    # (no grace: a mark of this very second too, the object store's times being seconds)
    monkeypatch.setattr(store_write, "REMOTE_GRACE_SECONDS", -2.0)
    build(url, 1, storage_options=s3)
    assert len(_versions(url, s3)) == 1
    with pytest.raises(StoreError, match="replaced or removed") as info:
        second.read_rows(ROWS)
    assert url in str(info.value)
    np.testing.assert_array_equal(load_store(url, "zarr", s3).read_rows(ROWS), old)


@pytest.mark.filterwarnings("ignore:Consolidated metadata")  # (catch_warnings vs threads)
def test_s3_two_builders_of_one_key_end_with_one_valid_store(s3):
    url = "s3://reliability/twice.zarr"
    barrier = threading.Barrier(2, timeout=60)

    class Together(ArraySource):
        first = True

        def read_file(self, i, chrom, start, end):
            if self.first:  # both builders have started their version
                self.first = False
                barrier.wait()
            return super().read_file(i, chrom, start, end)

    results, errors = [], []

    def run():
        try:
            results.append(build(url, 1, overwrite=False, storage_options=s3,
                                 source_cls=Together, options=False))
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    with set_options(chunk_bytes=CHUNK_BYTES, scheduler="sync", progress=False):
        threads = [threading.Thread(target=run) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
    assert errors == [] and len(results) == 2
    for st in results:
        np.testing.assert_array_equal(st.read_rows(ROWS), expected(1))
    assert read_marker(url, s3)["cache_key"] == "key-1"
    np.testing.assert_array_equal(open_store(url, storage_options=s3)["data"].values,
                                  expected(1))
    import fsspec

    fs, root = fsspec.core.url_to_fs(url, **s3)
    current = json.loads(fs.cat_file(f"{root}/genozarr-current"))["version"]
    for version in _versions(url, s3):  # the loser's copy is gone, or retired
        assert version == current or fs.exists(f"{root}/{version}/genozarr-retired")


def test_s3_a_publisher_never_unmarks_its_version_retired_by_a_later_one(s3, monkeypatch):
    # two builds publish at once: ours reads the pointer back as naming our version just
    # before the other build overwrites it and marks ours replaced; ours must not take
    # that mark away (it would stay, unmarked and never deleted, beside the current one)
    import fsspec

    url = "s3://reliability/race.zarr"
    build(url, 1, storage_options=s3)
    (other,) = _versions(url, s3)
    fs, root = fsspec.core.url_to_fs(url, **s3)
    real = store_write.read_pointer
    raced = []

    def stale_read(*args, **kwargs):
        name = real(*args, **kwargs)
        if name != other and name is not None and not raced:  # ours was just published
            raced.append(name)
            fs.pipe_file(f"{root}/genozarr-current", json.dumps({"version": other}).encode())
            store_write._retire(fs, f"{root}/{name}")  # what the other build's loop does
        return name

    monkeypatch.setattr(store_write, "read_pointer", stale_read)
    build(url, 2, storage_options=s3)
    monkeypatch.undo()
    assert len(raced) == 1
    fs.invalidate_cache()
    assert json.loads(fs.cat_file(f"{root}/genozarr-current"))["version"] == other
    assert fs.exists(f"{root}/{raced[0]}/genozarr-retired")
    # the current version is never deleted, even marked replaced: a sweep after the grace
    # period removes ours only
    monkeypatch.setattr(store_write, "REMOTE_GRACE_SECONDS", 0.0)
    assert store_write._sweep_remote(fs, root, url, s3) == [f"{url}/{raced[0]}"]
    assert _versions(url, s3) == [other]
    np.testing.assert_array_equal(load_store(url, "zarr", s3).read_rows(ROWS), expected(1))


class _Clock:
    """``time`` as genozarr.store.write sees it on a host whose clock is ``offset``
    seconds off."""

    def __init__(self, offset: float) -> None:
        self.offset = offset

    def time(self) -> float:
        return time.time() + self.offset

    def __getattr__(self, name):  # monotonic, sleep, ...
        return getattr(time, name)


def test_s3_the_grace_of_a_replaced_version_is_counted_on_the_object_stores_clock(
        s3, monkeypatch):
    """The build that replaced a version stamped it with its own clock and a later build
    compared the stamp with its own: a replacing host 70 minutes behind made the next
    build delete the version at once, and a reader that had opened it seconds before got
    StoreError instead of the documented hour (an audit of clocks and time stamps)."""
    url = "s3://reliability/skew-grace.zarr"
    build(url, 1, storage_options=s3)
    reader = load_store(url, "zarr", s3)
    monkeypatch.setattr(store_write, "time", _Clock(-70 * 60))  # the replacing host
    build(url, 2, storage_options=s3)
    monkeypatch.setattr(store_write, "time", time)  # another host, on time
    build(url, 1, storage_options=s3)
    np.testing.assert_array_equal(reader.read_rows(ROWS), expected(1))
    assert len(_versions(url, s3)) == 3  # two replaced versions within their grace


def test_s3_a_live_build_is_not_taken_for_abandoned_by_a_host_clock_ahead(s3, monkeypatch):
    """A build judged another build's unpublished version abandoned by the version's first
    objects' times (the object store's clock) against its own clock: a host more than two
    days ahead deleted a live build's version, which then failed (an audit of clocks and
    time stamps)."""
    url = "s3://reliability/skew-abandon.zarr"
    paused, go = threading.Event(), threading.Event()

    class Paused(ArraySource):
        def read_file(self, i, chrom, start, end):
            if not paused.is_set():
                paused.set()
                assert go.wait(60)
            return super().read_file(i, chrom, start, end)

    out: list = []

    def first():
        try:
            out.append(build(url, 1, storage_options=s3, source_cls=Paused, options=False))
        except BaseException as e:  # noqa: BLE001 - reported below
            out.append(e)

    with set_options(chunk_bytes=CHUNK_BYTES, scheduler="sync", progress=False):
        t = threading.Thread(target=first)
        t.start()
        assert paused.wait(60)
        try:
            monkeypatch.setattr(store_write, "time", _Clock(2 * 86400 + 3600))
            build(url, 2, storage_options=s3, options=False)
        finally:
            monkeypatch.setattr(store_write, "time", time)
            go.set()
            t.join(120)
    assert not isinstance(out[0], BaseException), out[0]
    np.testing.assert_array_equal(out[0].read_rows(ROWS), expected(1))


def test_remote_sweep_ages_by_the_stores_times_and_a_versions_newest_object(monkeypatch):
    """The sweep's decisions on an object store's modification times alone: a retired
    version goes after the grace counted from its mark's time (whatever time the mark
    holds), an unpublished one only when none of its objects was written for the
    abandon period (a build running longer than that writes chunks all along)."""
    now = 10_000_000.0
    day = 86400.0
    times = {  # key -> LastModified
        "b/s/v-1/zarr.json": now - 3 * day, "b/s/v-1/data/c/0": now - 60,  # live, long
        "b/s/v-2/zarr.json": now - 3 * day, "b/s/v-2/data/c/0": now - 3 * day,  # abandoned
        "b/s/v-3/zarr.json": now - 3 * day, "b/s/v-3/genozarr-retired": now - 7200,
        "b/s/v-4/zarr.json": now - 3 * day, "b/s/v-4/genozarr-retired": now - 600,
    }
    marks = {"b/s/v-3/genozarr-retired": now, "b/s/v-4/genozarr-retired": now - 9 * day}

    class FakeStore:
        def invalidate_cache(self, path=None):
            pass

        def ls(self, root, detail=False):
            return sorted({k.split("/")[2] for k in times})

        def info(self, key):
            if key not in times:
                raise FileNotFoundError(key)
            return {"name": key, "LastModified": times[key]}

        def find(self, prefix, detail=False):
            return {k: self.info(k) for k in times if k.startswith(prefix + "/")}

        def cat_file(self, key):
            if key not in marks:
                raise FileNotFoundError(key)
            return json.dumps({"retired_at": marks[key]}).encode()

        def exists(self, key):
            return key in times

        def rm(self, path, recursive=False):  # (a key, or a list of keys, as fsspec's)
            for key in [path] if isinstance(path, str) else path:
                for k in [k for k in times if k == key or k.startswith(key + "/")]:
                    del times[k]

    monkeypatch.setattr(store_write, "read_pointer", lambda *a, **k: None)
    removed = store_write._sweep_remote(FakeStore(), "b/s", "s3://b/s", None, now=now)
    assert removed == ["s3://b/s/v-2", "s3://b/s/v-3"]


def test_s3_a_kept_version_is_the_one_whose_marker_was_read(s3, monkeypatch):
    # a build finds the same cache key published and keeps it; another build (another
    # key) publishes just then: the kept version is served, not the newer other one
    url = "s3://reliability/kept.zarr"
    build(url, 1, storage_options=s3)
    real = store_write.StoreWriter._keep_existing

    def then_another(self, marker):
        keep = real(self, marker)
        if keep and self.meta.cache_key == "key-1":
            build(url, 2, storage_options=s3, options=False)
        return keep

    monkeypatch.setattr(store_write.StoreWriter, "_keep_existing", then_another)
    st = build(url, 1, overwrite=False, storage_options=s3)
    monkeypatch.undo()
    assert st.kept_existing and st.meta.cache_key == "key-1"
    np.testing.assert_array_equal(st.read_rows(ROWS), expected(1))
    assert read_marker(url, s3)["cache_key"] == "key-2"  # the path serves the newer one


def test_s3_recording_coordinates_never_undoes_a_rebuild_published_meanwhile(s3,
                                                                            monkeypatch):
    # a new version that records coordinates of the key-1 store (update_served) is
    # published only over the version it was made from: a rebuild (key-2) published while
    # it was being made stays the store
    from genozarr.store.open import read_meta
    from genozarr.store.recipe import update_served

    url = "s3://reliability/recorded.zarr"
    build(url, 1, storage_options=s3)
    real = store_write.StoreWriter._keep_existing

    def rebuilt_meanwhile(self, marker):
        keep = real(self, marker)
        if self.expect_key == "key-1":
            build(url, 2, storage_options=s3, options=False)
        return keep

    monkeypatch.setattr(store_write.StoreWriter, "_keep_existing", rebuilt_meanwhile)
    strand = np.array(["-"] * len(ROWS), dtype=object)
    update_served(url, s3, read_meta(url, s3), {"note": 1},
                  coords={"region_strand": (("region",), strand)})
    monkeypatch.undo()
    assert read_marker(url, s3)["cache_key"] == "key-2"
    np.testing.assert_array_equal(load_store(url, "zarr", s3).read_rows(ROWS), expected(2))
    assert len(_versions(url, s3)) == 2  # the key-1 version (retired) and the rebuild


def test_s3_damaged_chunks_raise_naming_the_chunk(s3):
    import fsspec

    url = "s3://reliability/damaged.zarr"
    build(url, 1, storage_options=s3)
    fs, root = fsspec.core.url_to_fs(url, **s3)
    (version,) = _versions(url, s3)
    key1, key2, key3 = (f"{root}/{version}/data/c.{i}.0.0.0" for i in (1, 2, 3))
    fs.pipe_file(key1, fs.cat_file(key1)[:20])
    fs.pipe_file(key2, b"")
    with pytest.raises(StoreError, match="is damaged") as info:  # through zarr and dask
        open_store(url, storage_options=s3)["data"].values
    assert url in str(info.value)
    raw = bytearray(fs.cat_file(key3))  # right sizes, scrambled content
    raw[40:-4] = bytes(b ^ 0x5A for b in raw[40:-4])
    fs.pipe_file(key3, bytes(raw))
    st = load_store(url, "zarr", s3)
    np.testing.assert_array_equal(st.read_rows(ROWS[:5]), expected(1)[:5])
    for rows, chunk in ((ROWS[5:10], "data/c.1.0.0.0"), (ROWS[10:15], "data/c.2.0.0.0")):
        with pytest.raises(StoreError, match="is damaged") as info:
            st.read_rows(rows)
        assert url in str(info.value) and chunk in str(info.value)
    with pytest.raises(StoreError, match="is damaged: error during blosc") as info:
        st.read_rows(ROWS[15:20])  # scrambled: Blosc's own error, the chunk named
    assert url in str(info.value) and "data/c.3.0.0.0" in str(info.value)


def test_s3_a_lost_chunk_object_is_an_error(s3):
    import fsspec

    url = "s3://reliability/lost.zarr"
    build(url, 1, storage_options=s3)
    fs, root = fsspec.core.url_to_fs(url, **s3)
    (version,) = _versions(url, s3)
    assert read_marker(url, s3)["chunks"]["data"] == {"grid": 12, "absent": []}
    fs.rm(f"{root}/{version}/data/c.4.0.0.0")
    st = load_store(url, "zarr", s3)
    np.testing.assert_array_equal(st.read_rows(ROWS[:20]), expected(1)[:20])
    for read in (lambda: st.read_rows(ROWS[20:25]),
                 lambda: open_store(url, storage_options=s3)["data"].values):
        with pytest.raises(StoreError, match="is missing") as info:
            read()
        assert url in str(info.value) and "data/c.4.0.0.0" in str(info.value)


def test_s3_size_on_disk_is_the_current_version(s3):
    """A rebuild leaves the replaced version under the URL for its readers: the size on
    disk of the store counts the version its path names (it counted both)."""
    import fsspec

    from genozarr.store.open import read_pointer
    from genozarr.summary import store_summary

    url = "s3://reliability/sized.zarr"
    build(url, 1, storage_options=s3)
    build(url, 2, storage_options=s3)
    assert len(_versions(url, s3)) == 2
    fs, root = fsspec.core.url_to_fs(url, **s3)
    current = read_pointer(url, s3)
    assert store_summary(url, storage_options=s3)["disk_bytes"] == \
        fs.du(f"{root}/{current}", total=True)


def test_s3_missing_bucket_names_the_url(s3):
    url = "s3://no-such-bucket/x.zarr"
    said = "bucket does not exist|bucket 'no-such-bucket' does not exist"
    with pytest.raises(StoreError, match=said) as info:
        build(url, 1, storage_options=s3)
    assert url in str(info.value)
    for call in (lambda: open_store(url, storage_options=s3),
                 lambda: load_store(url, "zarr", s3), lambda: read_marker(url, s3)):
        with pytest.raises(StoreError, match=said) as info:
            call()
        assert url in str(info.value)


def test_a_bucket_named_bucket_is_a_bucket(s3):
    """A missing object under a URL that contains the word "bucket" (the version pointer,
    read first) is not a missing bucket."""
    url = "s3://my-bucket/stores/x.zarr"
    build(url, 3, storage_options=s3)
    np.testing.assert_array_equal(load_store(url, "zarr", s3).read_rows(ROWS),
                                  expected(3)[ROWS])
    assert read_marker("s3://my-bucket/stores/absent.zarr", s3) is None


def test_s3_unreachable_endpoint_names_the_url():
    pytest.importorskip("s3fs")
    options = {"key": "testing", "secret": "testing",
               "client_kwargs": {"endpoint_url": f"http://127.0.0.1:{free_port()}",
                                 "region_name": "us-east-1"},
               "config_kwargs": {"connect_timeout": 1, "read_timeout": 1,
                                 "retries": {"max_attempts": 1}}}
    url = "s3://bucket/x.zarr"
    start = time.monotonic()
    for call in (lambda: open_store(url, storage_options=options),
                 lambda: read_marker(url, options),
                 lambda: build(url, 1, storage_options=options)):
        with pytest.raises(StoreError, match="connect") as info:
            call()
        assert url in str(info.value)
    assert time.monotonic() - start < 30


def test_s3_served_windows_update_publishes_a_new_version(s3):
    """A whole-genome store reused over other windows records them in a new version; a
    dataset opened before keeps its windows and values."""
    import genozarr
    from genozarr.dataset import Cover

    url = "s3://reliability/windows.zarr"
    t = tracks(3)

    def create(roi):
        return Cover._create(
            "w", ArraySource("mem", t, ["a", "b"], ["."]), roi=roi, genomesize=SIZES,
            binsize=200, stepsize=None, flank=0, resolution=100, storage="zarr",
            cache=True, overwrite=False, channel_last=True, zero_padding=True,
            random_state=None, store_whole_genome=True, store=url, args={"t": 3},
            storage_options=s3)

    roi_a = pd.DataFrame({"chrom": ["chr1"], "start": [0], "end": [1000], "strand": ["+"]})
    roi_b = pd.DataFrame({"chrom": ["chr2"], "start": [400], "end": [1600], "strand": ["+"]})
    first = create(roi_a)
    before = first[:]
    np.testing.assert_allclose(before, t["chr1"][:1000].reshape(5, 2, 100, 1, 2).sum(2),
                               rtol=1e-6)
    second = create(roi_b)
    np.testing.assert_allclose(second[:], t["chr2"][400:1600].reshape(6, 2, 100, 1, 2).sum(2),
                               rtol=1e-6)
    np.testing.assert_array_equal(first[:], before)
    again = genozarr.open_dataset(url, storage_options=s3)
    assert list(again.gindexer.chrs) == ["chr2"] * 6
    np.testing.assert_array_equal(again[:], second[:])


# ---------------------------------------------------------------------------- windows
def _windows_store(path: Path, roi):
    """A whole-genome Cover of ``tracks(4)`` at ``path`` over the windows of ``roi`` (the
    store is reused for other windows, which are recorded in it)."""
    from genozarr.dataset import Cover

    return Cover._create(
        "w", ArraySource("mem", tracks(4), ["a", "b"], ["."]), roi=roi, genomesize=SIZES,
        binsize=200, stepsize=None, flank=0, resolution=100, storage="zarr",
        cache=True, overwrite=False, channel_last=True, zero_padding=True,
        random_state=None, store_whole_genome=True, store=str(path), args={"t": 4})


def test_served_windows_update_under_an_open_dataset(tmp_path, monkeypatch):
    import genozarr

    path = tmp_path / "w.zarr"
    t = tracks(4)

    def create(roi):
        return _windows_store(path, roi)

    roi_a = pd.DataFrame({"chrom": ["chr1"], "start": [0], "end": [1000], "strand": ["+"]})
    roi_b = pd.DataFrame({"chrom": ["chr2"], "start": [400], "end": [1600], "strand": ["+"]})
    first = create(roi_a)
    before = first[:]
    np.testing.assert_allclose(before, t["chr1"][:1000].reshape(5, 2, 100, 1, 2).sum(2),
                               rtol=1e-6)
    second = create(roi_b)  # reuses the store, records the new windows in a new version
    np.testing.assert_allclose(second[:], t["chr2"][400:1600].reshape(6, 2, 100, 1, 2).sum(2),
                               rtol=1e-6)
    np.testing.assert_array_equal(first[:], before)  # the dataset opened before
    again = genozarr.open_dataset(path)
    assert list(again.gindexer.chrs) == ["chr2"] * 6
    np.testing.assert_array_equal(again[:], second[:])
    del first, second, again
    gc.collect()
    sweep_stale(path)
    assert os.listdir(tmp_path) == ["w.zarr"]


def test_new_windows_are_not_recorded_over_a_store_with_lost_chunks(tmp_path):
    """Recording new windows starts a new version from the store's files: a store that
    lost a chunk file is refused then, not republished with the file as fill values."""
    path = tmp_path / "w.zarr"
    _windows_store(path, pd.DataFrame({"chrom": ["chr1"], "start": [0], "end": [1000],
                                       "strand": ["+"]}))
    marker = read_marker(path)
    (path / "chr1" / "data" / "c.0.0.0").unlink()
    with pytest.raises(StoreError, match="is incomplete: 1 chunk file") as info:
        _windows_store(path, pd.DataFrame({"chrom": ["chr1"], "start": [400], "end": [1600],
                             "strand": ["+"]}))
    assert str(path) in str(info.value) and "chr1/data/c.0" in str(info.value)
    assert read_marker(path) == marker  # nothing published
    assert siblings(tmp_path, "w.zarr") == []


# ---------------------------------------------------------------------------- workers
KILLED_PARENT = r'''
import sys, time
if __name__ == "__main__":
    from genozarr.config import set_options
    from genozarr.store._run import run_tasks
    with set_options(scheduler="processes", num_workers=2, progress=False):
        run_tasks([(time.sleep, (60,)) for _ in range(2)], 0, "sleepers")
'''


STOPPED_BUILD = r'''
import os, sys, time
if __name__ == "__main__":
    from genozarr.config import set_options
    from genozarr.store._run import run_tasks

    def fails():
        time.sleep(0.1)
        raise RuntimeError("boom")

    def writes(path):  # as a build task writes into the temporary store
        time.sleep(0.6)
        open(path, "w").close()

    out = sys.argv[1]
    tasks = [(fails, ()), (writes, (os.path.join(out, "running"),))]
    tasks += [(writes, (os.path.join(out, f"queued{k}"),)) for k in range(4)]
    with set_options(scheduler="processes", num_workers=2, progress=False):
        try:
            run_tasks(tasks, 0, "stopped")
        except RuntimeError as e:
            print(e, sorted(os.listdir(out)))
'''


def test_a_stopped_build_leaves_no_task_running(tmp_path):
    """A build stopped by a failed task (or Ctrl-C) removes its temporary store once the
    error reaches it: the tasks the kept pool was still running went on writing into it
    (an interrupted build left a temporary directory of chunk files). The error now comes
    once the running tasks have ended, and the queued ones never run."""
    script, out = tmp_path / "stopped.py", tmp_path / "out"
    script.write_text(STOPPED_BUILD)
    out.mkdir()
    result = subprocess.run([sys.executable, str(script), str(out)], capture_output=True,
                            text=True, timeout=120, check=False)
    assert result.stdout.strip() == "boom ['running']", result.stdout + result.stderr


SHARED_POOL = r'''
import sys, threading, time
if __name__ == "__main__":
    from genozarr.config import set_options
    from genozarr.store._run import run_tasks

    def fails():
        raise RuntimeError("boom")

    def slow(k):
        time.sleep(0.2)
        return k

    got = []
    with set_options(scheduler="processes", num_workers=2, progress=False):
        run_tasks([(slow, (0,))], 0, "warm-up")
        other = threading.Thread(target=lambda: got.append(
            run_tasks([(slow, (k,)) for k in range(8)], 0, "other")))
        other.start()
        time.sleep(0.1)
        try:
            run_tasks([(fails, ())], 0, "failing")
        except RuntimeError as e:
            print(e)
        other.join()
    print(got)
'''


def test_a_stopped_build_leaves_the_builds_of_other_threads_running(tmp_path):
    """Stopping a failed build's tasks does not touch those of a build in another thread,
    which shares the kept process pool: that build completes."""
    script = tmp_path / "shared.py"
    script.write_text(SHARED_POOL)
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                            timeout=120, check=False)
    assert result.stdout.split("\n")[:2] == ["boom", "[[0, 1, 2, 3, 4, 5, 6, 7]]"], \
        result.stdout + result.stderr


def _descendants(pid: int) -> set[int]:
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as f:
                    parents[int(entry)] = int(f.read().rsplit(b")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    found, todo = set(), [pid]
    while todo:
        p = todo.pop()
        for child, parent in parents.items():
            if parent == p and child not in found:
                found.add(child)
                todo.append(child)
    return found


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except OSError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_killing_the_parent_ends_the_workers(tmp_path):
    script = tmp_path / "parent.py"
    script.write_text(KILLED_PARENT)
    proc = subprocess.Popen([sys.executable, str(script)], stderr=subprocess.DEVNULL)
    kids: set[int] = set()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # the fork server and two busy workers
            kids = _descendants(proc.pid)
            workers = [k for k in kids if _descendants(k)]
            if workers and sum(len(_descendants(k)) for k in workers) >= 2:
                break
            assert proc.poll() is None
            time.sleep(0.05)
        else:
            pytest.fail("the workers did not start")
        kids = _descendants(proc.pid)
        time.sleep(0.3)  # the workers are in their tasks
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(_running(k) for k in kids):
            time.sleep(0.05)
        assert [k for k in kids if _running(k)] == []
    finally:
        for k in kids:
            if _running(k):
                os.kill(k, signal.SIGKILL)
        if proc.poll() is None:
            proc.kill()



def _scaled_max(k: float):  # noqa: ANN202 - a closure factory: one qualified name for all k
    def collapse(x: np.ndarray, axis: int = 1) -> np.ndarray:
        return np.max(x, axis=axis) * k
    return collapse


class _QuantileNoParams:
    """A collapser object without cache_params(), whose repr leaves its parameter out."""

    def __init__(self, q: float) -> None:
        self.q = q

    def __call__(self, x: np.ndarray, axis: int = 1) -> np.ndarray:
        return np.quantile(x, self.q, axis=axis).astype(np.float32)

    def __repr__(self) -> str:
        return "Quantile()"


class _QuantileHolder:
    """Not a collapser itself (not callable): its method is; its repr leaves q out."""

    def __init__(self, q: float) -> None:
        self.q = q

    def collapse(self, x: np.ndarray, axis: int = 1) -> np.ndarray:
        return np.quantile(x, self.q, axis=axis).astype(np.float32)

    def __repr__(self) -> str:
        return "QuantileHolder()"


class _Quantile(_QuantileNoParams):
    """A collapser object whose cache_params() says what it computes."""

    def cache_params(self) -> dict[str, float]:
        return {"quantile": self.q}


def test_collapsers_of_one_name_do_not_share_a_cached_store(sample_files):
    """A closure's values, a lambda's code and a collapser object's cache_params() (or,
    without it, its attributes) enter the cache key: a cached store built with one is
    not served for another."""
    import pyBigWig

    from genozarr.dataset import Cover

    bw, roi = sample_files["bigwig_a"], "chr1:0-2000"
    with pyBigWig.open(bw) as f:
        raw = np.nan_to_num(np.asarray(f.values("chr1", 0, 2000), dtype=np.float32))
    bins = raw.reshape(-1, 50)

    def build(collapser):  # noqa: ANN001, ANN202
        return Cover.create_from_bigwig("c", bw, roi=roi, binsize=1000, resolution=50,
                                        collapser=collapser, cache=True)[:][..., 0, 0]

    for k in (2.0, 3.0, 2.0):
        np.testing.assert_allclose(build(_scaled_max(k)).ravel(), bins.max(axis=1) * k,
                                   rtol=1e-6)
    for func, want in ((lambda x, axis=1: x.min(axis=axis), bins.min(axis=1)),
                       (lambda x, axis=1: x.sum(axis=axis), bins.sum(axis=1))):
        np.testing.assert_allclose(build(func).ravel(), want, rtol=1e-5)
    for q in (0.25, 0.75):
        np.testing.assert_allclose(build(_Quantile(q)).ravel(),
                                   np.quantile(bins, q, axis=1), rtol=1e-6)
    # without cache_params(), an object's attributes enter the key (not only its repr)
    for q in (0.25, 0.75):
        np.testing.assert_allclose(build(_QuantileNoParams(q)).ravel(),
                                   np.quantile(bins, q, axis=1), rtol=1e-6)
    # so do those of an object that is not callable, reached through a bound method, a
    # partial's argument or a closure (it entered by its repr alone, which leaves q out)
    import functools

    def by_partial(x: np.ndarray, axis: int = 1, *, how: _QuantileHolder) -> np.ndarray:
        return how.collapse(x, axis=axis)

    def by_closure(how: _QuantileHolder):  # noqa: ANN202
        return lambda x, axis=1: how.collapse(x, axis=axis)

    for make in (lambda q: _QuantileHolder(q).collapse,
                 lambda q: functools.partial(by_partial, how=_QuantileHolder(q)),
                 lambda q: by_closure(_QuantileHolder(q))):
        for q in (0.25, 0.75):
            np.testing.assert_allclose(build(make(q)).ravel(),
                                       np.quantile(bins, q, axis=1), rtol=1e-6)


SPECIAL_CHUNK = r"""
import os, sys, glob
import numpy as np
import genozarr
from genozarr.errors import StoreError
from genozarr.testing.simulate import write_bigwig

d, kind, sharded = sys.argv[1], sys.argv[2], sys.argv[3] == "sharded"
rng = np.random.default_rng(0)
bw = write_bigwig(f"{d}/a.bw", {"chr1": rng.random(2000), "chr2": rng.random(20000)})
store = f"{d}/s.zarr"
options = dict(inner_chunk_bytes=4096) if sharded else dict(shard_chunks=1)
with genozarr.set_options(chunk_bytes=16384, **options):
    ds = genozarr.Cover.create_from_bigwig("s", bw, roi="chr2:0-20000", binsize=200,
                                           storage="zarr", store=store,
                                           store_whole_genome=True)
want = ds[:]
files = sorted(f for f in glob.glob(f"{store}/chr2/data/c/**", recursive=True)
               if os.path.isfile(f)) or sorted(glob.glob(f"{store}/chr2/data/c.*"))
last = files[-1]
os.remove(last)
if kind == "fifo":
    os.mkfifo(last)
else:
    os.symlink("/dev/zero", last)
again = genozarr.open_dataset(store)
try:
    again[:]
except StoreError as e:
    print("refused:", e)
else:
    print("served", bool(np.array_equal(again[:], want)))
"""


@pytest.mark.parametrize("sharded", ["sharded", "plain"])
@pytest.mark.parametrize("kind", ["fifo", "zero"])
def test_a_chunk_that_is_not_a_regular_file_is_refused(tmp_path, kind, sharded):
    """An edited store whose chunk file is a FIFO hung the read for ever; one whose chunk is
    a link to /dev/zero read until memory ran out. The chunk is refused by name, with
    its kind (the read runs in another process, so a regression cannot hang the suite)."""
    script = tmp_path / "special.py"
    script.write_text(SPECIAL_CHUNK)
    run = subprocess.run([sys.executable, str(script), str(tmp_path), kind, sharded],
                         capture_output=True, text=True, timeout=120, check=False,
                         env=dict(os.environ, GENOZARR_OUTPUT=str(tmp_path / "out")))
    # (a link is refused as a link now, whatever it names)
    what = "a FIFO, not a regular file" if kind == "fifo" else \
        "a symbolic link, not a file of the store"
    assert run.stdout.startswith("refused: cannot read chunk"), run.stdout + run.stderr
    assert "chr2/data/c" in run.stdout and f"it is {what}" in run.stdout


@pytest.mark.parametrize("array", ["region_start", "region_chrom", "strand"])
def test_a_damaged_coordinate_chunk_is_named(tmp_path, array):
    """A coordinate array's chunk cut short (zarr's zstd codec, not checked by size) is a
    StoreError naming the store and the array when the store is opened, not the codec's
    own error."""
    from genozarr import Cover, open_dataset

    n = 12
    gi = GenomicIndexer(["chr1"] * n, np.arange(n) * 100, np.arange(n) * 100 + 100,
                        ["+"] * n, 100, 100)
    values = np.arange(n * 100, dtype="float32").reshape(n, 100, 1, 1)
    Cover.create_from_array("c", values, gi, storage="zarr", store=str(tmp_path / "c.zarr"))
    chunks = [p for p in (tmp_path / "c.zarr" / array).rglob("*")
              if p.is_file() and p.name != "zarr.json"]
    assert chunks
    for chunk in chunks:
        chunk.write_bytes(chunk.read_bytes()[:-7])
    with pytest.raises(StoreError, match=rf"c\.zarr/{array}"):
        open_dataset(tmp_path / "c.zarr")[:]


def test_os_errors_opening_a_store_are_named_not_taken_for_an_incomplete_store(
        tmp_path, monkeypatch):
    """Too many open files, or a marker this process may not read, made a complete store
    'not a complete genozarr store ... Rebuild it' (and cache=True took it as absent); a
    directory it may not open was 'replaced again and again' after 50 retries (an audit).
    The OS error is named now."""
    import errno

    import genozarr
    import genozarr.store.open as open_mod
    from genozarr import GenomicIndexer
    from genozarr.errors import StoreError
    from genozarr.store.layout import MARKER_FILE

    gi = GenomicIndexer.create_from_file(["chr1:0-100"], binsize=50, stepsize=50)
    path = str(tmp_path / "s.zarr")
    x = np.arange(2 * 50, dtype="float32").reshape(2, 50, 1, 1)
    genozarr.Cover.create_from_array("s", x, gi, storage="zarr", store=path)
    real_open = os.open

    def no_files(file, *args, **kwargs):
        if str(file).endswith(MARKER_FILE):
            raise OSError(errno.EMFILE, "Too many open files", str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(os, "open", no_files)
    with pytest.raises(StoreError, match="too many open files.*ulimit -n"):
        genozarr.open_dataset(path)
    with pytest.raises(StoreError, match="too many open files"):
        open_mod.read_marker(path)
    monkeypatch.setattr(os, "open", real_open)

    def refused(cls, root):
        raise PermissionError(errno.EACCES, "Permission denied", root)

    monkeypatch.setattr(open_mod.ReaderHold, "acquire", classmethod(refused))
    with pytest.raises(StoreError, match="Permission denied.*may not"):
        genozarr.open_dataset(path)
    monkeypatch.undo()
    np.testing.assert_array_equal(genozarr.open_dataset(path)[:], x)


def test_a_store_opened_by_a_relative_path_is_the_same_store_after_chdir(tmp_path,
                                                                          monkeypatch):
    """A dataset opened as 'x.zarr' kept that relative path: a pickled copy (what a
    spawn or forkserver worker gets) made after os.chdir opened another directory's
    x.zarr ('replaced or removed') or none (an audit). Local store paths are absolute."""
    import pickle

    import genozarr
    from genozarr import GenomicIndexer

    gi = GenomicIndexer.create_from_file(["chr1:0-100"], binsize=50, stepsize=50)
    values = {}
    for d, offset in (("a", 0.0), ("b", 1000.0)):
        (tmp_path / d).mkdir()
        values[d] = np.arange(100, dtype="float32").reshape(2, 50, 1, 1) + offset
        monkeypatch.chdir(tmp_path / d)
        built = genozarr.Cover.create_from_array("x", values[d], gi, storage="zarr",
                                                 store="x.zarr")
        assert built.garray.path == str(tmp_path / d / "x.zarr")
    monkeypatch.chdir(tmp_path / "a")
    ds = genozarr.open_dataset("x.zarr")
    assert ds.garray.path == str(tmp_path / "a" / "x.zarr")
    monkeypatch.chdir(tmp_path / "b")
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(ds))[:], values["a"])


def test_file_urls_and_overlong_names_after_paths_are_made_absolute(tmp_path):
    """Local store paths are made absolute; a file:// URL was made '<cwd>/file:/...'
    (open_dataset: 'does not exist'), and a path component over 255 bytes gave 'cannot
    read store: File name too long' instead of the ArgumentError naming the component
    (a review of this session's change)."""
    import genozarr
    from genozarr import GenomicIndexer

    gi = GenomicIndexer.create_from_file(["chr1:0-100"], binsize=50, stepsize=50)
    x = np.arange(100, dtype="float32").reshape(2, 50, 1, 1)
    path = tmp_path / "s.zarr"
    genozarr.Cover.create_from_array("s", x, gi, storage="zarr", store=str(path))
    np.testing.assert_array_equal(genozarr.open_dataset(f"file://{path}")[:], x)
    long = tmp_path / ("x" * 300) / "s.zarr"
    with pytest.raises(ArgumentError, match="has a component of 300 bytes"):
        genozarr.Cover.create_from_array("s", x, gi, storage="zarr", store=str(long),
                                         cache=True)


def test_a_store_built_at_a_file_url_is_written_at_its_path(tmp_path, monkeypatch):
    """store='file:///abs/s.zarr' was written under '<cwd>/file:/abs/s.zarr' and then
    not found; it is written at /abs/s.zarr, read back by its path and by the URL, and
    built again there as at the plain path."""
    import genozarr
    from genozarr import GenomicIndexer

    gi = GenomicIndexer.create_from_file(["chr1:0-100"], binsize=50, stepsize=50)
    x = np.arange(100, dtype="float32").reshape(2, 50, 1, 1)
    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")
    path = tmp_path / "s.zarr"
    built = genozarr.Cover.create_from_array("s", x, gi, storage="zarr",
                                             store=f"file://{path}")
    assert os.listdir(tmp_path / "cwd") == []
    assert (path / "zarr.json").is_file()
    np.testing.assert_array_equal(built[:], x)
    np.testing.assert_array_equal(genozarr.open_dataset(str(path))[:], x)
    np.testing.assert_array_equal(genozarr.open_dataset(f"file://{path}")[:], x)
    genozarr.Cover.create_from_array("s", x + 1, gi, storage="zarr", store=f"file://{path}")
    np.testing.assert_array_equal(genozarr.open_dataset(str(path))[:], x + 1)  # rebuilt there
    assert os.listdir(tmp_path / "cwd") == []


@pytest.mark.parametrize("text", ['{"zarr_format": 3, "node_type": "gro', "", "\x00" * 16])
def test_a_damaged_root_metadata_file_is_named_as_such(tmp_path, text):
    """A store whose zarr.json was cut or overwritten was 'not a genozarr store (no
    readable zarr v3 group): Expecting value: line 2 column 1'; the message names the
    damaged file and says to rebuild the store."""
    path = tmp_path / "s.zarr"
    build(path, 1)
    np.testing.assert_array_equal(load_store(str(path), "zarr").read_rows(ROWS), expected(1))
    (path / "zarr.json").write_text(text)
    with pytest.raises(StoreError, match=r"s\.zarr: its zarr\.json \(the group's metadata\) "
                                         r"is damaged, not JSON .*rebuild it"):
        open_store(str(path))


def test_a_writer_stopped_early_in_its_making_closes_quietly():
    """An interrupt early in StoreWriter.__init__ left an object without its lock
    descriptor, whose __del__ printed "Exception ignored ... no attribute '_fd'"."""
    writer = store_write.StoreWriter.__new__(store_write.StoreWriter)
    writer.close()
    writer.close()


#: edits of a store's genozarr metadata: (field, value, what the refusal names)
EDITED_FIELDS = [
    ("resolution", 0, "resolution is 0"),
    ("resolution", "10", "resolution is '10'"),
    ("binsize", 10**15, "binsize is 1000000000000000"),
    ("binsize", "200", "binsize is '200'"),
    ("stepsize", 0, "stepsize is 0"),
    ("flank", None, "flank is None"),
    ("flank", 10**15, "flank is 1000000000000000"),
    ("conditions", None, "conditions is None"),
    ("strands", "+", "strands is '+'"),
    ("pad_value", "x", "pad_value is 'x'"),
    ("chroms", [["chr1", 400]], "chroms is [['chr1', 400]]"),
    ("chroms", {"chr1": None}, "chroms is {'chr1': None}"),
    ("name", 3, "name is 3"),
]


@pytest.mark.parametrize("whole_genome", [False, True])
def test_edited_metadata_fields_are_refused_naming_the_field(tmp_path, whole_genome):
    """A store whose genozarr metadata was edited failed with an unrelated error deep
    inside (ZeroDivisionError for resolution 0, TypeError for '10', AttributeError for
    chroms as a list), or opened and then asked for petabytes at the first read (a
    binsize or flank of 10**15). Each edit is refused at open with a StoreFormatError
    naming the store and the field; the metadata itself replaced by null too."""
    import genozarr

    gi = GenomicIndexer(["chr1"] * 4, np.arange(4) * 100, np.arange(4) * 100 + 100,
                        ["+"] * 4, 100, 100)
    x = np.arange(40, dtype=np.float32).reshape(4, 10, 1, 1)
    src = tmp_path / "src.zarr"
    genozarr.Cover.create_from_array("s", x, gi, storage="zarr", store=str(src),
                                     resolution=10, store_whole_genome=whole_genome,
                                     genomesize={"chr1": 400})
    edits = EDITED_FIELDS + [(None, None, "the genozarr metadata is None, not a mapping")]
    for k, (field, value, named) in enumerate(edits):
        path = tmp_path / f"e{k}.zarr"
        shutil.copytree(src, path)
        doc = json.loads((path / "zarr.json").read_text())
        if field is None:
            doc["attributes"]["genozarr"] = None
        else:
            doc["attributes"]["genozarr"][field] = value
        (path / "zarr.json").write_text(json.dumps(doc))
        with pytest.raises(StoreFormatError) as info:
            genozarr.open_dataset(str(path))[:]
        assert str(path) in str(info.value) and named in str(info.value), (field, info.value)
    np.testing.assert_array_equal(genozarr.open_dataset(str(src))[:], x)


def test_edited_normalizer_records_and_array_metadata_are_refused_by_name(tmp_path):
    """A recorded z-score with a parameter its class does not take, or with an empty list
    of 'given' flags, failed with a TypeError or an IndexError; an array's
    ``dimension_names`` removed from the consolidated metadata, with xarray's KeyError.
    Each is a StoreFormatError naming the store now."""
    import genozarr
    from genozarr.testing.simulate import write_bigwig

    rng = np.random.default_rng(2)
    bw = write_bigwig(str(tmp_path / "a.bw"), {"chr1": rng.random(1000)})
    src = tmp_path / "src.zarr"
    genozarr.Cover.create_from_bigwig("z", bw, roi="chr1:0-1000", binsize=100,
                                      normalizer="zscore", storage="zarr", store=str(src))

    def edited(k: int, edit) -> Path:
        path = tmp_path / f"n{k}.zarr"
        shutil.copytree(src, path)
        doc = json.loads((path / "zarr.json").read_text())
        edit(doc)
        (path / "zarr.json").write_text(json.dumps(doc))
        return path

    def norm(doc):
        return doc["attributes"]["genozarr"]["recipe"]["normalizers"][0]

    for k, (edit, named) in enumerate([
            (lambda d: norm(d)["params"].update(evil=1), "unexpected keyword argument"),
            (lambda d: norm(d).update(given=[]), "cannot be restored")]):
        path = edited(k, edit)
        with pytest.raises(StoreFormatError, match=named) as info:
            genozarr.open_dataset(str(path))
        assert str(path) in str(info.value) and "'zscore'" in str(info.value)
    path = edited(9, lambda d: d["consolidated_metadata"]["metadata"]["condition"].update(
        dimension_names=None))
    with pytest.raises(StoreFormatError, match="dimension_names") as info:
        open_store(str(path))
    assert str(path) in str(info.value)
    # through the xarray engine too (it raised xarray's bare KeyError; an audit)
    import xarray as xr

    with pytest.raises(StoreFormatError, match="dimension_names") as info:
        xr.open_dataset(str(path), engine="genozarr")
    assert str(path) in str(info.value)
    assert genozarr.open_dataset(str(src)).normalizers[0].fitted


@pytest.mark.parametrize("layout", ["partial", "whole-genome"])
def test_a_rebuilt_store_copied_over_an_older_copy_is_refused(tmp_path, layout):
    """A store rebuilt so that some chunk files hold only the fill value (not written),
    then copied over an older copy without deleting files (rsync -a, cp -r src/. dst/):
    the older copy's chunk files stayed and were served as the new version's rows, with
    no error (an audit of stores moved by ordinary tools). Every opener now refuses them,
    naming the file; the same copy made into an empty directory reads right."""
    import genozarr

    gi = GenomicIndexer(["chr1"] * 8 + ["chr2"] * 8, np.tile(np.arange(8) * 200, 2),
                        np.tile(np.arange(8) * 200 + 200, 2), ["+"] * 16, 200, 200)
    src, dst, fresh = tmp_path / "src.zarr", tmp_path / "dst.zarr", tmp_path / "new.zarr"
    kw = dict(storage="zarr", store=str(src), overwrite=True,
              genomesize={"chr1": 1600, "chr2": 1600},
              store_whole_genome=layout == "whole-genome")
    old = np.full((16, 200, 1, 1), 1.0, "float32")
    new = np.full((16, 200, 1, 1), 2.0, "float32")
    new[:8] = 0  # chr1: the fill value
    with set_options(chunk_bytes=4096, shard_chunks=1, progress=False):
        genozarr.Cover.create_from_array("x", old, gi, **kw)
        shutil.copytree(src, dst)
        genozarr.Cover.create_from_array("x", new, gi, **kw)
    shutil.copytree(src, dst, dirs_exist_ok=True)  # the new files over the old copy
    shutil.copytree(src, fresh)
    np.testing.assert_array_equal(genozarr.open_dataset(fresh)[:], new)
    stale = sorted(p.relative_to(dst).as_posix() for p in dst.rglob("c*")
                   if p.is_file() and not (src / p.relative_to(dst)).exists())
    assert stale, "the rebuild left chunks unwritten"
    message = r"chunk .*/dst\.zarr/.* should not exist: .* never written .* rsync"
    with pytest.raises(StoreError, match=message):
        genozarr.open_dataset(dst)[:]
    with pytest.raises(StoreError, match=message):
        genozarr.open_store(dst).compute()
    with pytest.raises(StoreError, match=message):
        tree = xr.open_datatree(dst, engine="genozarr") if layout == "whole-genome" else None
        (tree["chr1"].to_dataset() if tree is not None
         else xr.open_dataset(dst, engine="genozarr")).compute()


def test_a_recorded_recipe_update_does_not_take_in_another_builds_chunk(tmp_path):
    """A new version started from a store's files (windows recorded when a cached
    whole-genome store is reused with another binsize) hard-linked every file, one that
    the store's marker records as never written too (left by a copy over an older copy),
    and recorded it as written: its old values were then served (a review). Such a file
    is left out of the new version."""
    import genozarr

    bed = tmp_path / "peaks.bed"
    sizes = {"chr1": 4000, "chr2": 4000}
    src, dst = tmp_path / "src.zarr", tmp_path / "dst.zarr"

    def build_bed(store, binsize, overwrite):
        return genozarr.Cover.create_from_bed(
            "peaks", str(bed), genomesize=sizes, binsize=binsize, resolution=1,
            storage="zarr", store=str(store), store_whole_genome=True, cache=True,
            overwrite=overwrite)

    with set_options(chunk_bytes=4096, shard_chunks=1, progress=False):
        bed.write_text("chr1\t0\t4000\nchr2\t0\t4000\n")
        build_bed(src, 200, True)
        shutil.copytree(src, dst)
        bed.write_text("chr2\t0\t4000\n")  # chr1 holds nothing now: not written
        build_bed(src, 200, True)
        shutil.copytree(src, dst, dirs_exist_ok=True)
        with pytest.raises(StoreError, match="should not exist"):
            _ = open_store(dst)["chr1"]["data"].values
        build_bed(dst, 400, False)  # the windows of binsize 400 recorded: a new version
    assert np.unique(open_store(dst)["chr1"]["data"].values).tolist() == [0]
    assert np.unique(genozarr.open_dataset(dst)["chr1", 0, 4000]).tolist() == [0]


def test_a_by_path_reader_of_a_store_rebuilt_in_place_is_told_so(tmp_path, monkeypatch):
    """Where a reader reads a local store by its path (no /proc to pin its directory),
    a rebuild in place that writes a chunk the opened version did not write was reported
    as a file of another build ("rsync without --delete"), not as the store replaced
    while open (a review)."""
    import genozarr
    import genozarr.store.open as store_open

    class NoProc:
        def __init__(self, fd):
            raise OSError("no /proc")

    monkeypatch.setattr(store_open, "_Pin", NoProc)
    gi = GenomicIndexer(["chr1"] * 8 + ["chr2"] * 8, np.tile(np.arange(8) * 200, 2),
                        np.tile(np.arange(8) * 200 + 200, 2), ["+"] * 16, 200, 200)
    path = tmp_path / "s.zarr"
    kw = dict(storage="zarr", store=str(path), overwrite=True,
              genomesize={"chr1": 1600, "chr2": 1600})
    old = np.full((16, 200, 1, 1), 2.0, "float32")
    old[:8] = 0  # rows of chr1: not written
    with set_options(chunk_bytes=4096, shard_chunks=1, progress=False):
        genozarr.Cover.create_from_array("x", old, gi, **kw)
        reader = genozarr.open_dataset(path)
        np.testing.assert_array_equal(reader[8:16], old[8:16])
        genozarr.Cover.create_from_array("x", old + 3, gi, **kw)
    with pytest.raises(StoreError, match="replaced or removed while it was open"):
        reader[0:8]


def test_a_local_copy_lacking_the_version_its_pointer_names_says_so(tmp_path):
    """A local copy of a store in the object-storage layout (a version directory and the
    pointer naming it) whose version directory was renamed or not copied: refused as
    "is a file, not a genozarr store (a directory)" of a directory (an audit of stores
    moved by ordinary tools); now the pointer and the version it names are said."""
    import genozarr

    gi = GenomicIndexer(["chr1"] * 4, np.arange(4) * 100, np.arange(4) * 100 + 100,
                        ["+"] * 4, 100, 100)
    x = np.arange(400, dtype=np.float32).reshape(4, 100, 1, 1)
    genozarr.Cover.create_from_array("x", x, gi, storage="zarr", store=str(tmp_path / "l.zarr"),
                                     genomesize={"chr1": 1000})
    version = "v-0123456789abcdef"
    copy = tmp_path / "copy.zarr"
    shutil.copytree(tmp_path / "l.zarr", copy / version)
    (copy / "genozarr-current").write_text(json.dumps({"version": version}))
    np.testing.assert_array_equal(genozarr.open_dataset(copy)[:], x)
    (copy / version).rename(copy / "renamed")
    with pytest.raises(StoreError, match=rf"store {copy}: its version pointer "
                       rf"\(genozarr-current\) names {version}, which the directory does not "
                       "hold"):
        genozarr.open_dataset(copy)


def test_a_marker_calling_a_written_chunk_absent_is_refused_by_both_openers(tmp_path):
    """An edited completion marker whose inventory calls an existing chunk file never
    written: open_store served that chunk's fill value (0) while open_dataset read the
    file, and coordinate arrays so marked gave windows on chromosome '' at 0. Later both
    read the file; now both refuse it, naming it (a file the version did not write is
    another build's). Runs outside the grid make the inventory unusable, not a reason to
    serve the fill value."""
    import genozarr
    from genozarr.store.layout import ChunkInventory

    gi = GenomicIndexer(["chr1"] * 4, np.arange(4) * 100, np.arange(4) * 100 + 100,
                        ["+"] * 4, 100, 100)
    x = np.arange(400, dtype=np.float32).reshape(4, 100, 1, 1) + 1
    path = tmp_path / "s.zarr"
    genozarr.Cover.create_from_array("x", x, gi, storage="zarr", store=str(path),
                                     genomesize={"chr1": 1000})
    marker = path / "genozarr-complete" / "zarr.json"
    doc = json.loads(marker.read_text())
    doc["attributes"]["chunks"]["data"]["absent"] = [[0, 1]]
    marker.write_text(json.dumps(doc))
    message = rf"chunk {path}/data/c\.0\.0\.0\.0 should not exist: .* never written"
    with pytest.raises(StoreError, match=message):
        genozarr.open_dataset(str(path))[:]
    with pytest.raises(StoreError, match=message):
        _ = open_store(str(path))["data"].values
    doc["attributes"]["chunks"]["data"]["absent"] = []
    for array in ("region_chrom", "region_start"):
        doc["attributes"]["chunks"][array]["absent"] = [[0, 1]]
        marker.write_text(json.dumps(doc))
        for opener in (genozarr.open_dataset, open_store):
            with pytest.raises(StoreError, match=rf"chunk {path}/{array}/c/0 should not"):
                opener(str(path))
        doc["attributes"]["chunks"][array]["absent"] = []
    marker.write_text(json.dumps(doc))
    np.testing.assert_array_equal(genozarr.open_dataset(str(path))[:], x)
    # whole-genome: the windows' names (strings read from their files) and a shard file
    named = GenomicIndexer(["chr1"] * 4, np.arange(4) * 100, np.arange(4) * 100 + 100,
                           ["+"] * 4, 100, 100, names=["a", "b", "c", "d"])
    whole = tmp_path / "w.zarr"
    with set_options(inner_chunk_bytes=4096):
        genozarr.Cover.create_from_array("x", x, named, storage="zarr", store=str(whole),
                                         genomesize={"chr1": 100_000}, store_whole_genome=True)
    marker = whole / "genozarr-complete" / "zarr.json"
    doc = json.loads(marker.read_text())
    for array, key in (("genozarr-windows/window_name", "genozarr-windows/window_name/c/0"),
                       ("chr1/data", "chr1/data/c.0.0.0")):
        assert (whole / key).is_file()
        saved = doc["attributes"]["chunks"][array]["absent"]
        doc["attributes"]["chunks"][array]["absent"] = [[0, 1]]
        marker.write_text(json.dumps(doc))
        with pytest.raises(StoreError, match=rf"chunk {whole}/{key} should not exist"):
            genozarr.open_dataset(str(whole))[:]
        doc["attributes"]["chunks"][array]["absent"] = saved
    marker.write_text(json.dumps(doc))
    np.testing.assert_array_equal(genozarr.open_dataset(str(whole))[:], x)
    for runs in ([[-5, 1]], [[0, 10**15]], [[1, 1]]):
        assert ChunkInventory.from_marker({"chunks": {"data": {"grid": 1, "absent": runs}}}) \
            is None
    kept = ChunkInventory.from_marker({"chunks": {"data": {"grid": 3, "absent": [[1, 3]]}}})
    assert kept is not None and [kept.absent("data", i) for i in range(3)] == \
        [False, True, True]


def test_a_metadata_document_failing_zarrs_parse_is_named(tmp_path, monkeypatch):
    """A root metadata document read once as JSON by genozarr's checks and damaged when
    zarr reads it again (a server answering zeroes) raised json's bare JSONDecodeError
    from open_store and the xarray engine, naming no store (an audit of a hostile
    network)."""
    import json

    import xarray as xr

    path = tmp_path / "s.zarr"
    build(path, 1)

    real = xr.open_dataset

    def damaged(*args, **kwargs):  # (zarr's own read of the store, under genozarr's engine)
        if kwargs.get("engine") == "zarr":
            raise json.JSONDecodeError("Expecting value", "\0\0", 0)
        return real(*args, **kwargs)

    monkeypatch.setattr(xr, "open_dataset", damaged)
    with pytest.raises(StoreError, match=rf"cannot open store {path}: a metadata document "
                                         r"of it is not JSON \(Expecting value"):
        open_store(path)


# ---------------------------------------------------------------------------- untrusted stores
def _small_store(path: Path) -> np.ndarray:
    import genozarr

    gi = GenomicIndexer(["chr1"] * 4, np.arange(4) * 100, np.arange(4) * 100 + 100,
                        ["+"] * 4, 100, 100)
    x = np.arange(400, dtype=np.float32).reshape(4, 100, 1, 1) + 1
    genozarr.Cover.create_from_array("x", x, gi, storage="zarr", store=str(path),
                                     genomesize={"chr1": 1000})
    return x


@pytest.mark.parametrize("what", ["chunk file", "array folder"])
def test_a_link_inside_a_store_is_refused(tmp_path, what):
    """A chunk file (or an array's folder) of a store replaced by a symbolic link to a
    file outside it: that file's bytes were served as the store's values, by open_dataset
    and open_store (an audit of untrusted stores: a secret read as data)."""
    import genozarr

    src, path = tmp_path / "src.zarr", tmp_path / "s.zarr"
    x = _small_store(src)
    shutil.copytree(src, path)
    if what == "chunk file":
        outside = tmp_path / "secret.bin"
        outside.write_bytes((path / "data" / "c.0.0.0.0").read_bytes())  # a valid chunk
        (path / "data" / "c.0.0.0.0").unlink()
        (path / "data" / "c.0.0.0.0").symlink_to(outside)
        message = "c.0.0.0.0: it is a symbolic link|c.0.0.0.0 is a symbolic link"
    else:
        shutil.rmtree(path / "data")
        (path / "data").symlink_to(src / "data")
        message = "s.zarr/data( is a symbolic link|/c.0.0.0.0 is reached through a symbolic link)"
    with pytest.raises(StoreError, match=message):
        genozarr.open_dataset(path)[:]
    with pytest.raises(StoreError, match=message):
        _ = open_store(path)["data"].values
    np.testing.assert_array_equal(genozarr.open_dataset(src)[:], x)


@pytest.mark.parametrize("where", ["genozarr-current", "zarr.json",
                                   "genozarr-complete/zarr.json", "region_chrom/c/0"])
def test_a_fifo_in_a_store_is_refused_not_waited_on(tmp_path, where):
    """A FIFO in place of the version pointer, a metadata document, the completion marker
    or a coordinate chunk (a tar can carry one): opening the store blocked for ever (an
    audit of untrusted stores). Now a StoreError naming it."""
    import genozarr

    path = tmp_path / "s.zarr"
    _small_store(path)
    target = path / where
    if target.exists():
        target.unlink()
    os.mkfifo(target)
    outcome: list = []

    def run():
        try:
            genozarr.open_dataset(path)[:]
            outcome.append(None)
        except BaseException as e:  # noqa: BLE001 - inspected below
            outcome.append(e)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(60)
    assert outcome, "opening the store blocked on the FIFO"
    assert isinstance(outcome[0], StoreError), outcome[0]
    assert "FIFO" in str(outcome[0]) and str(path) in str(outcome[0])


def test_an_array_named_dot_dot_in_the_metadata_is_a_store_error(tmp_path):
    """An edited store's consolidated metadata with a node named '..': open_store and the
    xarray engine raised zarr's bare ValueError, naming no store (an audit)."""
    path = tmp_path / "s.zarr"
    _small_store(path)
    doc = json.loads((path / "zarr.json").read_text())
    nodes = doc["consolidated_metadata"]["metadata"]
    nodes[".."] = nodes["region_start"]
    (path / "zarr.json").write_text(json.dumps(doc))
    with pytest.raises(StoreError, match=rf"cannot open store {path}: .*'\.\.'"):
        open_store(path)
    with pytest.raises(StoreError, match=rf"cannot open store {path}"):
        xr.open_dataset(path, engine="genozarr")


def test_no_headers_follow_a_redirect_to_another_host(tmp_path):
    """A store's server redirecting to another host: the caller's storage_options headers
    (an API key) went there with every request (an audit of untrusted stores). With
    headers given, such a redirect is refused; without, it is followed."""
    pytest.importorskip("aiohttp")
    import pyBigWig

    import genozarr
    from genozarr.testing.servers import RangeHandler, serve_directory

    x = _small_store(tmp_path / "srv" / "s.zarr")
    with pyBigWig.open(str(tmp_path / "srv" / "a.bw"), "w") as bw:
        bw.addHeader([("chr1", 1000)])
        bw.addEntries("chr1", 0, values=[1.0] * 10, span=100, step=100)
    seen: list = []

    class Recording(RangeHandler):
        def do_GET(self):
            seen.append(self.headers.get("X-Api-Key"))
            return super().do_GET()

        def do_HEAD(self):
            seen.append(self.headers.get("X-Api-Key"))
            return super().do_HEAD()

    with serve_directory(tmp_path / "srv", handler=Recording) as other:
        class Redirecting(RangeHandler):
            def _moved(self):
                self.send_response(302)
                self.send_header("Location", other.replace("127.0.0.1", "localhost")
                                 + self.path)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_HEAD = _moved

        with serve_directory(tmp_path / "srv", handler=Redirecting) as url:
            with pytest.raises(StoreError, match="redirects to another host"):
                genozarr.open_dataset(f"{url}/s.zarr", cache=None,
                                      storage_options={"headers": {"X-Api-Key": "KEY"}})
            assert "KEY" not in seen
            np.testing.assert_array_equal(
                genozarr.open_dataset(f"{url}/s.zarr", cache=None)[:], x)
            # an input file on the web server too (its copy fetched for the build)
            with pytest.raises(InputFileError, match="redirects to another host"):
                genozarr.Cover.create_from_bigwig(
                    "b", f"{url}/a.bw", genomesize={"chr1": 1000}, binsize=100,
                    input_storage_options={"headers": {"X-Api-Key": "KEY"}})
            assert "KEY" not in seen


def test_a_redirect_from_http_to_https_of_the_same_host_is_followed():
    """The same host's upgrade to https (port 80 to 443), as web servers force it, is
    followed with the caller's headers; another host, or another port, is not."""
    import asyncio
    from types import SimpleNamespace

    from yarl import URL

    from genozarr.store.open import _same_origin

    def hop(src, location):
        params = SimpleNamespace(url=URL(src), response=SimpleNamespace(
            headers={"Location": location}))
        return asyncio.run(_same_origin(None, None, params))

    assert hop("http://data.example.org/s.zarr/zarr.json",
               "https://data.example.org/s.zarr/zarr.json") is None
    assert hop("https://data.example.org/a", "/b") is None  # (relative: the same origin)
    for location in ("https://cdn.example.org/a", "http://data.example.org:8080/a",
                     "https://data.example.org:8443/a"):
        with pytest.raises(StoreError, match="redirects to another host"):
            hop("http://data.example.org/a", location)


def test_coordinates_past_the_memory_limit_are_a_store_error(tmp_path, monkeypatch):
    """An edited store whose label chunk decompresses to a gigabyte string: open_store's
    hash of the coordinates ended in a bare MemoryError under a memory limit (an audit of
    untrusted stores, 4 GB RLIMIT_AS). Now a StoreError naming the store (the memory
    error itself emulated here)."""
    import genozarr.ops._layout as layout

    path = tmp_path / "s.zarr"
    _small_store(path)

    def no_memory(obj):
        raise MemoryError

    monkeypatch.setattr(layout, "with_data_token", no_memory)
    with pytest.raises(StoreError, match=rf"cannot open store {path}: its coordinates take "
                                         "more memory"):
        open_store(path)
