"""Stores on object storage: written to and read from s3:// (a moto server the test starts
on 127.0.0.1), read-only over http:// (a local http.server), with caching and the
completion marker working there too."""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import threading

import numpy as np
import pandas as pd
import pytest

from genozarr.errors import StoreError
from genozarr.ingest import build_store
from genozarr.regions import GenomicIndexer
from genozarr.sources import ArraySource
from genozarr.store import FORMAT_VERSION, load_store, open_store
from genozarr.store.layout import MARKER_FILE, ChunkInventory
from genozarr.store.open import open_resolved, read_marker
from genozarr.testing.servers import FaultyHandler, RangeHandler, moto_s3, serve_directory

pytest.importorskip("s3fs")
moto_server = pytest.importorskip("moto.server")

SIZES = {"chr1": 3000, "chr2": 1200}


@pytest.fixture(scope="module")
def s3():
    with moto_s3("genozarr-test") as (options, _):
        yield options


@pytest.fixture(scope="module")
def tracks():
    rng = np.random.default_rng(11)
    return {c: rng.poisson(2.0, size=(n, 2, 2)).astype("float32") for c, n in SIZES.items()}


def source(tracks):
    return ArraySource("mem", tracks, ["x", "y"], ["+", "-"])


def gindexer():
    roi = pd.DataFrame({"chrom": ["chr1", "chr2"], "start": [0, 100], "end": [3000, 1100],
                        "strand": ["+", "-"]})
    return GenomicIndexer.create_from_file(roi, binsize=500, stepsize=250)


def local_rows(tracks, gi, resolution):
    out = []
    for r in gi:
        t = np.zeros((500, 2, 2), "float32")
        lo, hi = max(r.start, 0), min(r.end, SIZES[r.chrom])
        t[lo - r.start:hi - r.start] = tracks[r.chrom][lo:hi]
        out.append(t.reshape(500 // resolution, resolution, 2, 2).sum(1))
    return np.stack(out)


@pytest.mark.slow
@pytest.mark.parametrize("whole", [False, True])
def test_s3_write_read(s3, tracks, whole):
    url = f"s3://genozarr-test/store-{int(whole)}.zarr"
    gi = gindexer()
    st = build_store(source(tracks), gi, name="s3", whole_genome=whole, resolution=10,
                     chroms=SIZES, storage="zarr", path=url, cache_key="key-1",
                     storage_options=s3)
    marker = read_marker(url, s3)
    assert (marker["cache_key"], marker["format_version"]) == ("key-1", FORMAT_VERSION)
    # the chunk inventory: every array cut along its first axis, what was not written
    data = "chr1/data" if whole else "data"
    assert marker["chunks"][data]["absent"] == [] and marker["chunks"][data]["grid"] >= 1
    ds = open_store(url, storage_options=s3)
    if whole:
        for chrom, t in tracks.items():
            n = -(-t.shape[0] // 10)
            pad = np.zeros((n * 10, 2, 2), "float32")
            pad[: t.shape[0]] = t
            np.testing.assert_array_equal(ds[chrom]["data"].values, pad.reshape(n, 10, 2, 2).sum(1))
    else:
        np.testing.assert_array_equal(ds["data"].values, local_rows(tracks, gi, 10))
        # the serving backend reads the same rows straight from object storage
        back = load_store(url, "zarr", storage_options=s3)
        np.testing.assert_array_equal(back.read_rows(np.array([3, 0, 5])),
                                      local_rows(tracks, gi, 10)[[3, 0, 5]])


@pytest.mark.slow
def test_s3_whole_genome_shards(s3, tracks):
    """A whole-genome store whose chromosomes are shards of several chunks, written to and
    served from object storage: windows read chunk by chunk across chunk and shard
    boundaries, and through xarray, are the tracks."""
    from genozarr import set_options

    url = "s3://genozarr-test/shards.zarr"
    with set_options(chunk_bytes=4096):  # 256 bins a chunk: chr1 is 12 chunks in 2 shards
        build_store(source(tracks), gindexer(), name="sh", whole_genome=True, resolution=1,
                    chroms=SIZES, storage="zarr", path=url, cache_key="k",
                    storage_options=s3)
    back = load_store(url, "zarr", storage_options=s3)
    arr = back.backend.array(back.meta.array_path("chr1"))
    assert arr.chunks[0] == 256 and arr.shards[0] == 2048
    starts = np.array([2900, 0, 1990, 1000, 2040])  # 1990 and 2040 cross the shard boundary
    np.testing.assert_array_equal(back.read_windows("chr1", starts, 100),
                                  np.stack([tracks["chr1"][s:s + 100] for s in starts]))
    ds = open_store(url, storage_options=s3)
    for chrom, t in tracks.items():
        np.testing.assert_array_equal(ds[chrom]["data"].values, t)


@pytest.mark.slow
def test_s3_interrupted_write_is_not_valid(s3, tracks):
    url = "s3://genozarr-test/broken.zarr"

    class Failing(ArraySource):
        def read_file(self, i, chrom, start, end):
            if chrom == "chr2":
                raise RuntimeError("connection lost")
            return super().read_file(i, chrom, start, end)

    with pytest.raises(RuntimeError):
        build_store(Failing("mem", tracks, ["x", "y"], ["+", "-"]), gindexer(), name="b",
                    whole_genome=False, resolution=10, chroms=SIZES, storage="zarr", path=url,
                    cache_key="k", storage_options=s3)
    assert read_marker(url, s3) is None
    with pytest.raises(StoreError, match="not a complete genozarr store"):
        open_store(url, storage_options=s3)


@pytest.mark.slow
def test_s3_cache_reuse_through_cover(s3, tracks):
    from genozarr.dataset import Cover

    url = "s3://genozarr-test/cached.zarr"
    roi = pd.DataFrame({"chrom": ["chr1"], "start": [0], "end": [3000], "strand": ["+"]})
    kw = dict(roi=roi, genomesize=SIZES, binsize=1000, stepsize=None, flank=0, resolution=100,
              storage="zarr", cache=True, overwrite=False, channel_last=True, zero_padding=True,
              random_state=None, store_whole_genome=False, store=url, args={"t": 1},
              storage_options=s3)
    first = Cover._create("c", source(tracks), **kw)
    marker = read_marker(url, s3)
    import genozarr.ingest as ingest

    calls = []
    real = ingest.build_store
    ingest.build_store = lambda *a, **k: calls.append(1) or real(*a, **k)
    try:
        again = Cover._create("c", source(tracks), **kw)
    finally:
        ingest.build_store = real
    assert calls == [] and read_marker(url, s3) == marker
    np.testing.assert_array_equal(first[:], again[:])
    expected = tracks["chr1"].reshape(3, 10, 100, 2, 2).sum(2)
    np.testing.assert_array_equal(again[:], expected)


@pytest.fixture
def http_root(tmp_path):
    class Plain(http.server.SimpleHTTPRequestHandler):  # a plain static server: no ranges
        def log_message(self, *args: object) -> None:
            pass

    with serve_directory(tmp_path, handler=Plain) as base:
        yield tmp_path, base


def test_http_read_only(http_root, tracks):
    pytest.importorskip("aiohttp")
    root, base = http_root
    gi = gindexer()
    build_store(source(tracks), gi, name="h", whole_genome=False, resolution=50, chroms=SIZES,
                storage="zarr", path=str(root / "web.zarr"), cache_key="k")
    url = f"{base}/web.zarr"
    marker = read_marker(url)
    assert (marker["cache_key"], marker["format_version"]) == ("k", FORMAT_VERSION)
    ds = open_store(url)
    np.testing.assert_array_equal(ds["data"].values, local_rows(tracks, gi, 50))
    st = load_store(url, "zarr")
    np.testing.assert_array_equal(st.read_rows(np.arange(len(gi))), local_rows(tracks, gi, 50))
    with pytest.raises(StoreError):
        open_store(f"{base}/missing.zarr")


def test_info_of_a_store_on_a_web_server_says_its_size_is_unknown(tmp_path, tracks, capsys):
    """A web server that lists no directories: the size of a store read over HTTP is
    unknown (None, 'unknown'), not 0 bytes as a listing of nothing made it; one that
    lists them gives the size on disk."""
    pytest.importorskip("aiohttp")
    from genozarr.cli import main
    from genozarr.summary import store_summary

    class NoListing(http.server.SimpleHTTPRequestHandler):
        def list_directory(self, path):  # noqa: ANN001, ANN202
            self.send_error(404)

        def log_message(self, *args: object) -> None:
            pass

    build_store(source(tracks), gindexer(), name="i", whole_genome=False, resolution=50,
                chroms=SIZES, storage="zarr", path=str(tmp_path / "info.zarr"), cache_key="k")
    local = store_summary(tmp_path / "info.zarr")
    assert local["disk_bytes"] > 0 and local["compression_ratio"] > 0
    with serve_directory(tmp_path, handler=NoListing) as base:
        remote = store_summary(f"{base}/info.zarr")
        assert main(["info", f"{base}/info.zarr"]) == 0
    assert remote["disk_bytes"] is None and remote["compression_ratio"] is None
    assert remote["arrays"]["data"]["stored_bytes"] is None
    assert remote["decoded_bytes"] == local["decoded_bytes"]
    assert "unknown (the storage lists no files)" in capsys.readouterr().out


def test_a_store_url_shows_no_password_and_refuses_a_query_string(tmp_path, tracks, capsys):
    """A store URL's password showed in the dataset's repr, open_store's 'store'
    attribute, store_summary and `genozarr info` (errors hid it); a store URL with a query
    string (a signed URL) was put before every key, so the store read as incomplete:
    "Rebuild it" (an audit). The password is hidden; the query string is refused by
    name, before any request."""
    pytest.importorskip("aiohttp")
    import genozarr
    from genozarr.cli import main
    from genozarr.summary import store_summary

    build_store(source(tracks), gindexer(), name="p", whole_genome=False, resolution=50,
                chroms=SIZES, storage="zarr", path=str(tmp_path / "p.zarr"), cache_key="k")
    RangeHandler.requests.clear()
    with serve_directory(tmp_path) as base:
        url = base.replace("http://", "http://user:SECRETPW@") + "/p.zarr"
        ds = genozarr.open_dataset(url)
        np.testing.assert_array_equal(ds[:], genozarr.open_dataset(tmp_path / "p.zarr")[:])
        shown = url.replace("SECRETPW", "***")
        assert f"zarr at {shown}" in repr(ds) and "SECRETPW" not in ds._repr_html_()
        assert open_store(url).attrs["store"] == shown
        assert store_summary(url)["store"] == shown
        capsys.readouterr()
        assert main(["info", url]) == 0
        out = capsys.readouterr().out
        assert "user:***@" in out and "SECRETPW" not in out
        asked = len(RangeHandler.requests)
        with pytest.raises(StoreError, match=r"p\.zarr\?token=\*\*\*: a store URL cannot carry "
                                             r"a query string or fragment"):
            genozarr.open_dataset(f"{base}/p.zarr?token=SECRET")
        assert len(RangeHandler.requests) == asked


def test_opening_over_http_reads_the_coordinates_together(tmp_path, tracks):
    """Opening a store over HTTP reads the root metadata once and the region coordinates
    of a partial layout (4 arrays) concurrently: each request for one waits until all 4
    are in flight (a barrier; one after another, the first would wait in vain). The
    table equals the indexer's windows."""
    pytest.importorskip("aiohttp")
    gi = gindexer()
    build_store(source(tracks), gi, name="h", whole_genome=False, resolution=50, chroms=SIZES,
                storage="zarr", path=str(tmp_path / "web.zarr"), cache_key="k")
    together = threading.Barrier(4, timeout=20)

    class Counting(RangeHandler):
        def send_head(self):
            if "/region_" in self.path and self.command == "GET":
                together.wait()
            return super().send_head()

    RangeHandler.requests.clear()
    with serve_directory(tmp_path, handler=Counting) as base:
        st = load_store(f"{base}/web.zarr", "zarr")
    assert RangeHandler.requests[("GET", "/web.zarr/zarr.json")] == 1
    assert sorted(p for (m, p), n in RangeHandler.requests.items() if "/region_" in p) == [
        f"/web.zarr/region_{k}/c/0" for k in ("chrom", "end", "start", "strand")]
    assert st.region_table["chrom"].tolist() == gi.chrs.tolist()
    np.testing.assert_array_equal(st.region_table["start"], gi.starts)
    np.testing.assert_array_equal(st.region_table["end"], gi.ends)
    assert st.region_table["strand"].tolist() == gi.strand.tolist()
    np.testing.assert_array_equal(st.read_rows(np.arange(len(gi))), local_rows(tracks, gi, 50))


def test_a_forked_child_reading_an_http_store_leaves_the_parent_working(tmp_path):
    """A forked child (a DataLoader worker) reads a store the parent reads over HTTP; the
    parent then reads it again. Before, the child closed the inherited connections,
    which took their sockets out of the epoll instance it shares with the parent's
    event loop, and the parent's next read waited forever."""
    import multiprocessing

    from genozarr import set_options

    pytest.importorskip("aiohttp")
    track = np.random.default_rng(5).poisson(2.0, size=(30_000, 1, 1)).astype("float32")
    roi = pd.DataFrame({"chrom": ["chr1"], "start": [0], "end": [30_000], "strand": ["+"]})
    gi = GenomicIndexer.create_from_file(roi, binsize=500, stepsize=100)
    with set_options(chunk_bytes=4096):  # 2 windows a chunk: a read makes many requests
        build_store(ArraySource("m", {"chr1": track}, ["x"], ["+"]), gi, name="f",
                    whole_genome=False, resolution=1, chroms={"chr1": 30_000},
                    storage="zarr", path=str(tmp_path / "web.zarr"), cache_key="k")
    want = np.stack([track[r.start:r.end] for r in gi])
    rows = np.arange(len(gi))
    with serve_directory(tmp_path) as base:
        st = load_store(f"{base}/web.zarr", "zarr")
        st.backend.resident = False  # chunks fetched on each read (not kept decoded)
        np.testing.assert_array_equal(st.read_rows(rows[:5]), want[:5])
        child = multiprocessing.get_context("fork").Process(target=st.read_rows, args=(rows,))
        child.start()
        child.join(60)
        assert child.exitcode == 0
        got: list[np.ndarray] = []
        reader = threading.Thread(target=lambda: got.append(st.read_rows(rows)), daemon=True)
        reader.start()
        reader.join(60)
        assert not reader.is_alive(), "the parent's read after the child's hangs"
        np.testing.assert_array_equal(got[0], want)


# --- misbehaving web servers: errors name the URL and the cause, values are never wrong ---

ROWS, WIDTH, TRACKS = 203, 50, 3


def _windows(n: int = ROWS) -> GenomicIndexer:
    starts = np.arange(n) * WIDTH
    return GenomicIndexer(np.full(n, "chr1", dtype=object), starts, starts + WIDTH,
                          np.full(n, "+", dtype=object), WIDTH, WIDTH)


@pytest.fixture(scope="module")
def rows() -> np.ndarray:
    x = np.random.default_rng(7).poisson(2.0, size=(ROWS, WIDTH, 1, TRACKS))
    return x.astype(np.float32)


def _sharded(rows: np.ndarray, path, **options) -> None:
    """A sharded store of ``rows`` at ``path``: inner chunks of 4 rows (2400 bytes), shards
    of 16 rows (4 inner chunks); ``options`` add to or override these."""
    from genozarr import Cover, set_options

    with set_options(**{"inner_chunk_bytes": 2400, "chunk_bytes": 16 * 600, **options}):
        Cover.create_from_array("c", rows, _windows(), storage="zarr", store=str(path))


def test_a_transient_error_on_a_shard_is_not_replayed(rows, tmp_path):
    """A shard's index answers 500 once, then the server recovers: the read that met the
    error fails, the next read of the shard's other inner chunks asks again and gets the
    values (before, the failed fetch shared by the shard's inner chunks was re-raised for
    each of them, without a request)."""
    pytest.importorskip("aiohttp")
    from genozarr import open_dataset

    class FailsOnce(RangeHandler):
        failed = False

        def send_head(self):
            if self.path.endswith("/data/c.1.0.0.0") and not FailsOnce.failed:
                FailsOnce.failed = True
                self.send_error(500)
                return None
            return super().send_head()

    _sharded(rows, tmp_path / "s.zarr")
    with serve_directory(tmp_path, handler=FailsOnce) as base:
        ds = open_dataset(f"{base}/s.zarr", cache=None)
        with pytest.raises(StoreError, match="500"):
            ds[16:32]
        np.testing.assert_array_equal(ds[16:32], rows[16:32])
        np.testing.assert_array_equal(ds[0:ROWS], rows)


def _reads(url: str, rows_: slice = slice(0, ROWS)):
    """Reads of ``rows_`` of the store at ``url``: through genozarr's own reader
    (open_dataset) and through zarr (open_store)."""
    from genozarr import open_dataset

    return {"open_dataset": lambda: open_dataset(url, cache=None)[rows_],
            "open_store": lambda: open_store(url)["data"][rows_].values}


@pytest.mark.parametrize("compressor", [None, "zstd"])
def test_a_server_answering_another_range_is_refused(rows, tmp_path, compressor):
    """A server (proxy, cache) answers each ranged request with bytes 8 further on, with
    the right length and a Content-Range that says so: a StoreError naming the shard's
    URL, not values (uncompressed, those bytes decoded to wrong values silently); a
    server that answers right serves the written values."""
    pytest.importorskip("aiohttp")

    class Shifted(FaultyHandler):
        faulty, shift = "/shifted/", 8

    _sharded(rows, tmp_path / "s.zarr", compressor=compressor)
    (tmp_path / "shifted").symlink_to(tmp_path)
    with serve_directory(tmp_path, handler=Shifted) as base:
        for how, read in _reads(f"{base}/shifted/s.zarr").items():
            with pytest.raises(StoreError, match="another range") as info:
                read()
            assert f"{base}/shifted/s.zarr/data/c." in str(info.value), how
        for how, read in _reads(f"{base}/s.zarr").items():
            np.testing.assert_array_equal(read(), rows, err_msg=how)


@pytest.mark.parametrize("compressor", [None, "zstd"])
def test_a_server_that_ranges_gzipped_answers_serves_the_values(rows, tmp_path, compressor):
    """Ranged reads ask for the file's own bytes (``Accept-Encoding: identity``): a server
    that gzips what a client accepts and answers a range of the gzipped bytes served every
    read of a sharded store as an error ('Can not decode content-encoding: gzip')."""
    pytest.importorskip("aiohttp")
    from genozarr import open_dataset

    class GzipRanges(FaultyHandler):
        faulty, gzip_ranges = ".", True

    _sharded(rows, tmp_path / "s.zarr", compressor=compressor)
    with serve_directory(tmp_path, handler=GzipRanges) as base:
        url = f"{base}/s.zarr"
        np.testing.assert_array_equal(open_dataset(url, cache=None)[0:ROWS], rows)
        np.testing.assert_array_equal(open_store(url)["data"][5:37].values, rows[5:37])


def test_a_store_url_redirecting_in_a_loop_says_so(rows, tmp_path):
    """A store URL that redirects to itself: a StoreError saying the server redirects in
    a loop (it said '0, message=' and advised checking the credentials)."""
    pytest.importorskip("aiohttp")
    from genozarr import open_dataset

    class Loop(FaultyHandler):
        faulty, redirect_loop = "^/loop/", True

    _sharded(rows, tmp_path / "s.zarr")
    with serve_directory(tmp_path, handler=Loop) as base, pytest.raises(
            StoreError, match="redirects in a loop") as info:
        open_dataset(f"{base}/loop/s.zarr", cache=None)
    assert "credentials" not in str(info.value)


def test_a_damaged_inner_chunk_read_through_zarr_names_the_url(rows, tmp_path):
    """An inner chunk of a shard damaged on the server (its Blosc header overwritten; the
    shard's index intact) read through zarr (open_store): a StoreError naming the URL,
    not zarr's 'error during blosc decompression'."""
    pytest.importorskip("aiohttp")
    _sharded(rows, tmp_path / "s.zarr")
    shard = tmp_path / "s.zarr" / "data" / "c.0.0.0.0"  # rows 0 to 16
    raw = bytearray(shard.read_bytes())
    index = np.frombuffer(bytes(raw[-(4 * 16 + 4):-4]), dtype="<u8").reshape(4, 2)
    offset = int(index[1, 0])
    raw[offset:offset + 16] = bytes(range(16))
    shard.write_bytes(bytes(raw))
    with serve_directory(tmp_path) as base:
        url = f"{base}/s.zarr"
        np.testing.assert_array_equal(open_store(url)["data"][0:4].values, rows[0:4])
        with pytest.raises(StoreError, match="damaged") as info:
            _ = open_store(url)["data"][4:8].values
    assert f"{url}/data/" in str(info.value)


def test_a_short_answer_is_named_as_the_servers(rows, tmp_path):
    """A server answers ranged requests with 7 bytes fewer than asked (a consistent 206):
    the message names the URL and says what the server returned, not that the store is
    to be rebuilt."""
    pytest.importorskip("aiohttp")

    class Short(FaultyHandler):
        faulty, short = "/data/c", 7

    _sharded(rows, tmp_path / "s.zarr")
    with serve_directory(tmp_path, handler=Short) as base:
        for how, read in _reads(f"{base}/s.zarr").items():
            with pytest.raises(StoreError, match="returned only") as info:
                read()
            assert f"{base}/s.zarr/data/c." in str(info.value), how
            assert "Rebuild" not in str(info.value) and "rebuild" not in str(info.value)


@pytest.mark.parametrize("sharded", [False, True])
def test_an_html_page_for_a_chunk_is_named_as_the_servers(rows, tmp_path, sharded):
    """A chunk (shard) file gone from a server that answers missing files with an HTML page
    and status 200: the message names the URL and says the server returned an HTML page
    (before: 'the server ignores range requests', or 'damaged ... rebuild it')."""
    pytest.importorskip("aiohttp")

    class Soft404(FaultyHandler):
        faulty, soft_404 = "/data/c", True

    if sharded:
        _sharded(rows, tmp_path / "s.zarr")
    else:
        _sharded(rows, tmp_path / "s.zarr", inner_chunk_bytes=None)
    (tmp_path / "s.zarr" / "data" / "c.1.0.0.0").unlink()  # rows 16 to 32
    with serve_directory(tmp_path, handler=Soft404) as base:
        for how, read in _reads(f"{base}/s.zarr", slice(16, 32)).items():
            with pytest.raises(StoreError, match="HTML page") as info:
                read()
            assert f"{base}/s.zarr/data/c" in str(info.value), how


@contextlib.contextmanager
def _stalling(rows, tmp_path, faulty: str):
    """A sharded store of ``rows`` at ``tmp_path / 's.zarr'``, served on 127.0.0.1 with
    the requests whose path matches ``faulty`` stalled until the block ends: yields the
    base URL and the handler class (set its ``faulty`` to stall others from then on)."""
    class Stalls(FaultyHandler):
        pass

    Stalls.faulty, Stalls.stall = faulty, threading.Event()
    _sharded(rows, tmp_path / "s.zarr", inner_chunk_bytes=None)
    try:
        with serve_directory(tmp_path, handler=Stalls) as base:
            yield base, Stalls
    finally:
        Stalls.stall.set()


def test_a_stalled_store_read_names_the_timeout_option(rows, tmp_path):
    """A server sends a chunk's headers, then nothing; the client's own read timeout ends
    the wait: the message names the URL, says no answer came in time and names
    set_options(remote_timeout=...), not the credentials."""
    aiohttp = pytest.importorskip("aiohttp")
    from genozarr import open_dataset

    options = {"client_kwargs": {"timeout": aiohttp.ClientTimeout(sock_read=0.5)}}
    with _stalling(rows, tmp_path, r"/data/c\.1\.") as (base, _):  # rows 16 to 32
        with pytest.raises(StoreError, match=r"set_options\(remote_timeout") as info:
            open_dataset(f"{base}/s.zarr", options, cache=None)[16:32]
        assert f"{base}/s.zarr/data/c.1.0.0.0" in str(info.value)
        assert "no answer in time" in str(info.value)
        assert "credentials" not in str(info.value)


def test_opening_a_stalled_store_keeps_to_remote_timeout(rows, tmp_path):
    """remote_timeout bounds every read of a remote store: the check of the first data
    chunk that opening makes waited for the server's own limit (60 s here) instead (an
    audit)."""
    pytest.importorskip("aiohttp")
    import time

    from genozarr import open_dataset, set_options

    # (the first chunk, which opening checks)
    with _stalling(rows, tmp_path, r"/data/c\.0\.") as (base, _), \
            set_options(remote_timeout=1):
        t = time.perf_counter()
        with pytest.raises(StoreError, match=r"no answer within 1 s \(set_options\("
                                             r"remote_timeout"):
            open_dataset(f"{base}/s.zarr", cache=None)
        assert time.perf_counter() - t < 30


def test_remote_timeout_reaches_dask_worker_processes(rows, tmp_path):
    """A store opened by ``open_store`` and read by dask worker processes (the
    ``processes`` scheduler, dask.distributed) waited for the server past
    ``remote_timeout`` set where the graph was computed: the workers read their own,
    default options (an audit: 61 s against the limit of 1 s). A copy carries the limit
    of the process that pickled it, used where the process reading sets none; in the
    process that pickled it the option itself still rules."""
    pytest.importorskip("aiohttp")
    import pickle
    import time

    from genozarr import set_options

    # (nothing stalls while the store is opened)
    with _stalling(rows, tmp_path, r"(?!)") as (base, stalls), set_options(remote_timeout=1):
        ds = open_store(f"{base}/s.zarr")
        checked = open_resolved(f"{base}/s.zarr").zarr_store()
        assert checked._limit() == 1
        copy = pickle.loads(pickle.dumps(checked))
        with set_options(remote_timeout=7):  # (this process: the option rules)
            assert copy._limit() == 7
        copy._carried = ("another process", 1)  # as unpickled elsewhere: the carried
        with set_options(remote_timeout=None):  # limit, unless that process sets one
            assert copy._limit() == 1
        with set_options(remote_timeout=60):
            assert copy._limit() == 60
        stalls.faulty = r"/data/c\."  # every data chunk stalls from now on
        t = time.perf_counter()
        with pytest.raises(StoreError, match=r"no answer within 1 s \(set_options\("
                                             r"remote_timeout"):
            ds["data"].compute(scheduler="processes", num_workers=1)
        assert time.perf_counter() - t < 30


def test_a_stalled_marker_read_after_a_chunk_keeps_to_remote_timeout(rows, tmp_path):
    """The completion marker read again after a chunk's bytes came (a store without
    versions on a web server) waited for the server (20 s in the audit) past
    remote_timeout."""
    pytest.importorskip("aiohttp")
    import time

    from genozarr import open_dataset, set_options

    # (nothing stalls while the store is opened)
    with _stalling(rows, tmp_path, r"(?!)") as (base, stalls), set_options(remote_timeout=1):
        ds = open_dataset(f"{base}/s.zarr", cache=None)
        np.testing.assert_array_equal(ds[0:16], rows[0:16])
        stalls.faulty = r"genozarr-complete/zarr\.json"
        t = time.perf_counter()
        with pytest.raises(StoreError, match=r"genozarr-complete/zarr.json: no answer "
                                             r"within 1 s \(set_options\(remote_timeout"):
            ds[16:32]
        assert time.perf_counter() - t < 15


def test_a_failed_open_whose_marker_read_fails_too_names_the_first_error(rows, tmp_path):
    """The root zarr.json answering 500, then the completion marker 503 when read again to
    tell a replaced store from a failing one: aiohttp's raw ClientResponseError escaped
    (an audit); the StoreError of the first failure is raised."""
    pytest.importorskip("aiohttp")
    from genozarr import open_dataset

    class Fails(RangeHandler):
        marker_reads = 0

        def send_head(self):
            path = self.path.split("?")[0]
            if path.endswith("/s.zarr/zarr.json"):
                self.send_error(500)
                return None
            if path.endswith("/genozarr-complete/zarr.json"):
                type(self).marker_reads += 1
                if type(self).marker_reads > 1:
                    self.send_error(503)
                    return None
            return super().send_head()

    _sharded(rows, tmp_path / "s.zarr", inner_chunk_bytes=None)
    with serve_directory(tmp_path, handler=Fails) as base, \
            pytest.raises(StoreError, match=r"s.zarr/zarr.json: 500"):
        open_dataset(f"{base}/s.zarr", cache=None)
    assert Fails.marker_reads >= 2, Fails.marker_reads


def test_a_coordinate_cut_short_without_a_length_is_a_store_error(rows, tmp_path):
    """A coordinate chunk sent without a Content-Length and cut short reached zstd as a
    whole file: open_store raised its bare RuntimeError, naming no store (an audit)."""
    pytest.importorskip("aiohttp")

    class Cuts(FaultyHandler):
        faulty, unsized = r"/region_end/c", 0.5

    _sharded(rows, tmp_path / "s.zarr", inner_chunk_bytes=None)
    with serve_directory(tmp_path, handler=Cuts) as base:
        with pytest.raises(StoreError, match=r"cannot decode the coordinate 'region_end' of "
                                             r"store http://.*/s.zarr: RuntimeError") as info:
            open_store(f"{base}/s.zarr")
        assert "cut its answer short" in str(info.value)


def test_a_process_reading_over_http_closes_its_sessions(tmp_path):
    """A process that read a store over HTTP ends without aiohttp's "Unclosed client
    session" warning (genozarr's checked HTTP filesystem closes its sessions at exit), and
    read the values written."""
    import subprocess
    import sys

    script = (
        "import sys, numpy as np, genozarr\n"
        "ds = genozarr.open_dataset(sys.argv[1])\n"
        "print(float(np.asarray(ds[0:3]).sum()))\n")
    values = np.arange(10 * 100, dtype="float32").reshape(10, 100, 1, 1)
    from genozarr import Cover

    gi = GenomicIndexer(np.full(10, "chr1", dtype=object), np.arange(10) * 100,
                        np.arange(10) * 100 + 100, np.full(10, "+", dtype=object), 100, 100)
    Cover.create_from_array("c", values, gi, storage="zarr", store=str(tmp_path / "c.zarr"))
    with serve_directory(tmp_path) as base:
        done = subprocess.run([sys.executable, "-c", script, f"{base}/c.zarr"],
                              capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert float(done.stdout.strip()) == float(values[0:3].sum())
    assert "Unclosed" not in done.stderr, done.stderr


@pytest.mark.parametrize("asked,status,content_range,size,refused", [
    ("bytes=0-99", 206, "bytes 0-99/1000", 100, None),
    ("bytes=0-99", 206, "bytes 0-99/*", 100, None),
    ("bytes=900-1099", 206, "bytes 900-999/1000", 100, None),  # to the end of the file
    ("bytes=900-1099", 206, "bytes 900-999/*", 100, None),  # total unknown (RFC 9110)
    ("bytes=900-", 206, "bytes 900-999/*", 100, None),
    ("bytes=-100", 206, "bytes 900-999/1000", 100, None),
    ("bytes=-2000", 206, "bytes 0-999/1000", 1000, None),
    ("bytes=0-99", 200, None, 1000, None),  # ranges ignored: named by the caller
    ("bytes=0-99", 206, "bytes 8-107/1000", 100, "another range"),
    ("bytes=0-99", 206, "bytes 8-107/*", 100, "another range"),
    ("bytes=0-99", 206, "bytes 0-49/1000", 50, "only 50 bytes"),
    ("bytes=0-99", 206, None, 100, "without a valid Content-Range"),
    ("bytes=0-99", 206, "bytes 0-99/1000", 90, "another range"),  # body and header differ
])
def test_range_answers_checked(asked, status, content_range, size, refused):
    """A 206 answer is used only when its Content-Range is the range asked for (or its
    part up to the end of the file, whether or not the total is known)."""
    from genozarr.store.open import check_range_answer

    url = "http://127.0.0.1:1/s.zarr/data/c/0"
    if refused is None:
        check_range_answer(url, asked, status, content_range, "application/octet-stream", size)
    else:
        with pytest.raises(StoreError, match=refused) as info:
            check_range_answer(url, asked, status, content_range, None, size)
        assert url in str(info.value)


@pytest.mark.parametrize("page", ["genozarr-current", "genozarr-complete/zarr.json",
                                  "region_start/c/0"])
def test_an_html_page_for_the_pointer_marker_or_coordinates_says_so(tmp_path, page):
    """A server (or proxy) answering the version pointer, the completion marker or a
    coordinate chunk with an HTML page: 'is not a complete genozarr store ... Rebuild it'
    (pointer, marker) or 'Zstd decompression error ... rebuild it' (coordinates) before;
    now the URL read and the server's HTML page are named."""
    pytest.importorskip("aiohttp")
    import json
    import shutil

    from genozarr import Cover, open_dataset

    class Soft404(FaultyHandler):
        faulty, soft_404 = "/c.zarr/", True

    gi = GenomicIndexer.create_from_file(
        pd.DataFrame({"chrom": ["chr1"], "start": [0], "end": [2000]}), binsize=100,
        stepsize=100)
    Cover.create_from_array("c", np.ones((20, 100, 1, 1), "float32"), gi, storage="zarr",
                            store=str(tmp_path / "local.zarr"))
    version = "v-0123456789abcdef"  # the object-storage layout: a version and its pointer
    shutil.copytree(tmp_path / "local.zarr", tmp_path / "srv" / "c.zarr" / version)
    (tmp_path / "srv" / "c.zarr" / "genozarr-current").write_text(
        json.dumps({"version": version}))
    base = tmp_path / "srv" / "c.zarr"
    (base / page if page == "genozarr-current" else base / version / page).unlink()
    with serve_directory(tmp_path / "srv", handler=Soft404) as url, pytest.raises(
            StoreError, match=r"the server returned an HTML page \(\d+ bytes\) instead of") as info:
        open_dataset(f"{url}/c.zarr", cache=None)[:]
    assert f"{url}/c.zarr/" in str(info.value) and page in str(info.value)
    assert "Rebuild" not in str(info.value)


class _NoListing(RangeHandler):
    """An object store that grants reads but not listing (S3 without ``s3:ListBucket``):
    a missing key answers 403, not 404. With ``everything``, every key answers 403 (no
    read access)."""

    everything = False

    def send_head(self):
        path = self.translate_path(self.path.split("?")[0])
        if type(self).everything or not os.path.isfile(path):
            RangeHandler.requests[(self.command, self.path)] += 1
            self.send_error(403)
            return None
        return super().send_head()


@pytest.mark.parametrize("sharded", [False, True])
@pytest.mark.parametrize("whole", [False, True])
def test_a_store_in_a_bucket_that_answers_403_for_missing_keys(rows, tmp_path, sharded,
                                                                whole):
    """A store directory uploaded as it is to a bucket that may not be listed: the missing
    version pointer and the chunks never written (all fill value) answer 403. Before, the
    store could not be opened ("check ... the credentials"), and with a pointer answering
    404 every read of an unwritten chunk failed so (an audit). The pointer's 403 is read as
    no pointer when the group at the URL is readable; chunks the completion marker's
    inventory records as not written are the fill value, without a request."""
    pytest.importorskip("aiohttp")
    from genozarr import Cover, open_dataset, set_options

    values = rows.copy()
    values[40:150] = 0  # whole chunks of zeros: not written
    options = {"inner_chunk_bytes": 2400, "chunk_bytes": 16 * 600} if sharded \
        else {"chunk_bytes": 8 * 600}
    with set_options(**options):
        Cover.create_from_array("c", values, _windows(), storage="zarr",
                                store=str(tmp_path / "s.zarr"), store_whole_genome=whole)
    inventory = ChunkInventory.from_marker(json.loads(
        (tmp_path / "s.zarr" / MARKER_FILE).read_text())["attributes"])
    data = "chr1/data" if whole else "data"
    grid = inventory._arrays[data][0]
    unwritten = [i for i in range(grid) if inventory.absent(data, i)]
    written = {int(p.name.split(".")[1]) for p in (tmp_path / "s.zarr" / data).glob("c.*")}
    assert unwritten and written and written.isdisjoint(unwritten)
    RangeHandler.requests.clear()
    with serve_directory(tmp_path, handler=_NoListing) as base:
        reads = _reads(f"{base}/s.zarr")
        if whole:  # (open_store gives a tree of chromosomes)
            reads["open_store"] = lambda: open_store(f"{base}/s.zarr")["chr1/data"].values \
                .reshape(values.shape)
        for name, read in reads.items():
            np.testing.assert_array_equal(read(), values, err_msg=name)
        asked = {path for (_, path) in RangeHandler.requests}
        assert not any(f"/{data}/c.{i}." in p for p in asked for i in unwritten)
        _NoListing.everything = True
        try:
            with pytest.raises(StoreError, match="403.*credentials"):
                open_dataset(f"{base}/s.zarr")
        finally:
            _NoListing.everything = False


# ------------------------------------------------------------ what an object store drops
_N, _W = 64, 50


def _faulty_build(s3, url, monkeypatch, fault):
    """Build a 4-chunk partial store at ``url`` with ``fault`` applied to the S3
    filesystem class; return the build's error (None) and what a clean reader gets."""
    import fsspec
    import s3fs

    import genozarr
    from genozarr import Cover, set_options
    from genozarr.store.write import StoreWriter

    options = s3
    starts = np.arange(_N) * _W
    windows = GenomicIndexer(np.full(_N, "chr1", dtype=object), starts, starts + _W,
                             np.full(_N, "+", dtype=object), _W, _W)
    want = np.random.default_rng(7).poisson(2.0, size=(_N, _W, 1, 2)).astype(np.float32)
    fault(monkeypatch, s3fs.S3FileSystem, StoreWriter)
    # (an instance made before has its sync methods bound already: the build makes its own)
    s3fs.S3FileSystem.clear_instance_cache()
    error = None
    try:
        with set_options(chunk_bytes=16 * _W * 2 * 4):  # (16 rows a chunk: 4 chunk files)
            Cover.create_from_array("c", want, windows, storage="zarr", store=url,
                                    storage_options=options)
    except StoreError as e:
        error = e
    monkeypatch.undo()
    s3fs.S3FileSystem.clear_instance_cache()
    fsspec.filesystem("s3", **options).invalidate_cache()
    try:
        got = genozarr.open_dataset(url, storage_options=options, cache=None)[:]
    except StoreError as e:
        got = e
    return error, got, want


def _shard_1(path: str) -> bool:
    return path.rstrip("/").endswith("/data/c.1.0.0.0")


def test_a_listing_that_lags_behind_a_write_is_checked(s3, monkeypatch):
    """The completion marker's inventory of chunk files came from a listing: a listing
    leaving out a written chunk file (one that lags behind the writes) recorded it as
    never written, and every reader served its rows as the fill value, no error (an
    audit of a hostile network). The files the tasks wrote are asked for one by one."""
    def fault(mp, fs_class, _):
        find = fs_class.find

        def stale(self, path, *args, **kwargs):
            found = find(self, path, *args, **kwargs)
            return [k for k in found if not _shard_1(k)] if isinstance(found, list) else \
                {k: v for k, v in found.items() if not _shard_1(k)}
        mp.setattr(fs_class, "find", stale)

    error, got, want = _faulty_build(s3, "s3://genozarr-test/stale.zarr", monkeypatch, fault)
    assert error is None
    np.testing.assert_array_equal(got, want)


def test_a_chunk_write_the_store_did_not_keep_publishes_nothing(s3, monkeypatch):
    """A chunk write acknowledged and not kept read as the fill value after a build that
    reported success; the build now fails, and nothing is published."""
    def fault(mp, _, writer_class):
        commit = writer_class.commit

        def lose_then_commit(self, *args, **kwargs):
            self._rfs.rm(f"{self.tmp_key}/data/c.1.0.0.0")
            return commit(self, *args, **kwargs)
        mp.setattr(writer_class, "commit", lose_then_commit)

    error, got, _ = _faulty_build(s3, "s3://genozarr-test/lost.zarr", monkeypatch, fault)
    assert error is not None and "chunk file data/c.1.0.0.0 was written by the build, but " \
        "the object store does not hold it" in str(error)
    assert isinstance(got, StoreError) and "not a complete genozarr store" in str(got)


def test_lazy_writes_to_object_storage_are_checked_too(s3, monkeypatch, tmp_path):
    """write_store of dask data (a store opened with open_store) wrote its chunks with
    dask.array.store through zarr, which named none of them: a chunk write the object
    store did not keep published a store serving those rows as the fill value. Its
    blocks are now written as the build's tasks write theirs, and checked."""
    import fsspec
    import s3fs

    import genozarr
    from genozarr import Cover, set_options
    from genozarr.store.write import StoreWriter

    starts = np.arange(_N) * _W
    windows = GenomicIndexer(np.full(_N, "chr1", dtype=object), starts, starts + _W,
                             np.full(_N, "+", dtype=object), _W, _W)
    want = np.random.default_rng(8).poisson(2.0, size=(_N, _W, 1, 2)).astype(np.float32)
    with set_options(chunk_bytes=16 * _W * 2 * 4):
        Cover.create_from_array("c", want, windows, storage="zarr",
                                store=str(tmp_path / "local.zarr"))
    lazy = genozarr.open_store(str(tmp_path / "local.zarr"))
    assert hasattr(lazy["data"].data, "dask")
    for name, lose in (("kept", False), ("lost", True)):
        url = f"s3://genozarr-test/lazy-{name}.zarr"
        if lose:
            commit = StoreWriter.commit

            def lose_then_commit(self, *args, _commit=commit, **kwargs):
                self._rfs.rm(f"{self.tmp_key}/data/c.1.0.0.0")
                return _commit(self, *args, **kwargs)
            monkeypatch.setattr(StoreWriter, "commit", lose_then_commit)
        s3fs.S3FileSystem.clear_instance_cache()
        if lose:
            with pytest.raises(StoreError, match="chunk file data/c.1.0.0.0 was written by "
                                                 "the build, but the object store does not "
                                                 "hold it"), \
                    set_options(chunk_bytes=16 * _W * 2 * 4):
                genozarr.ops.write_store(lazy, url, storage_options=s3)
            monkeypatch.undo()
            fsspec.filesystem("s3", **s3).invalidate_cache()
            with pytest.raises(StoreError, match="not a complete genozarr store"):
                genozarr.open_dataset(url, storage_options=s3, cache=None)
        else:
            with set_options(chunk_bytes=16 * _W * 2 * 4):  # (4 chunk files, as stored)
                genozarr.ops.write_store(lazy, url, storage_options=s3)
            got = genozarr.open_store(url, storage_options=s3)["data"].values
            np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("lost", ["genozarr-current", "genozarr-complete/zarr.json"])
def test_a_pointer_or_marker_write_the_store_did_not_keep_is_an_error(s3, monkeypatch, lost):
    """A lost pointer write reported success (and retired the build's own version); a
    lost marker was reported as 'replaced by another build'."""
    def fault(mp, fs_class, _):
        pipe_file = fs_class.pipe_file

        def dropping(self, path, *args, **kwargs):
            if str(path).endswith(lost):
                return None
            return pipe_file(self, path, *args, **kwargs)
        mp.setattr(fs_class, "pipe_file", dropping)

    url = f"s3://genozarr-test/lost-{lost.split('/')[0]}.zarr"
    error, got, _ = _faulty_build(s3, url, monkeypatch, fault)
    message = {"genozarr-current": "does not hold the pointer genozarr-current this build "
                                   "wrote",
               "genozarr-complete/zarr.json": "its completion marker cannot be read now"}
    assert error is not None and message[lost] in str(error)
    assert isinstance(got, StoreError) and "not a complete genozarr store" in str(got)


def test_bfloat16_rows_rounding_to_the_fill_value_are_not_a_lost_write(s3):
    """The check of written chunk files took float32 rows of a bfloat16 store as data
    where zarr, rounding them as it writes, found only the fill value and wrote no file:
    the build failed as if the store had lost a write (a review)."""
    import genozarr
    from genozarr import Cover, set_options

    starts = np.arange(64) * 1000
    windows = GenomicIndexer(np.full(64, "chr1", dtype=object), starts, starts + 1000,
                             np.full(64, "+", dtype=object), 1000, 1000)
    for value, pad in ((1e-42, 0.0), (1.001, 1.0)):
        x = np.full((64, 100, 1, 1), value, dtype=np.float32)  # (10 rows a chunk)
        x[-1] = 5.0  # (the last chunk holds data)
        url = f"s3://genozarr-test/bf16-{pad}.zarr"
        with set_options(chunk_bytes=4096):
            Cover.create_from_array("c", x, windows, resolution=10, dtype="bfloat16",
                                    padding_value=pad, storage="zarr", store=url,
                                    storage_options=s3)
        got = genozarr.open_dataset(url, storage_options=s3, cache=None)[:]
        np.testing.assert_array_equal(got[:-1], pad)  # (rounded to the pad value)
        np.testing.assert_array_equal(got[-1], 5.0)


@pytest.mark.parametrize("name", ["a?.zarr", "run[1].zarr", "st*r.zarr"])
def test_removing_or_sweeping_a_store_whose_key_holds_glob_characters(s3, monkeypatch, name):
    """fsspec's ``rm`` reads ``*``, ``?`` and ``[`` in a path as a glob pattern:
    ``remove_store('s3://b/a?.zarr')`` deleted the store ``ab.zarr`` beside it too, that of
    ``run[1].zarr`` deleted ``run1.zarr``'s pointer and failed, and the replaced versions
    of ``run[1].zarr`` were never deleted while the sweep reported them removed (an
    audit). Keys are now deleted by their exact names: the neighbour keeps every object
    and its values, each rebuild leaves one version, and removal leaves nothing."""
    import s3fs

    import genozarr.store.write as store_write
    from genozarr.store.write import remove_store

    monkeypatch.setattr(store_write, "REMOTE_GRACE_SECONDS", -1.0)
    neighbour = {"a?.zarr": "ab.zarr", "run[1].zarr": "run1.zarr", "st*r.zarr": "star.zarr"}[name]
    fs = s3fs.S3FileSystem(**s3)

    def build(store: str, seed: int) -> np.ndarray:
        values = np.random.default_rng(seed).poisson(2.0, (3000, 1, 1)).astype("float32")
        build_store(ArraySource("mem", {"chr1": values}, ["x"], ["+"]), None, name="s",
                    whole_genome=True, resolution=1, chroms={"chr1": 3000}, storage="zarr",
                    path=f"s3://genozarr-test/glob/{store}", cache_key=f"k{seed}",
                    storage_options=s3, overwrite=True)
        return values

    def objects(store: str) -> list[str]:
        fs.invalidate_cache()
        return sorted(fs.find(f"genozarr-test/glob/{store}"))

    kept = build(neighbour, 0)
    before = objects(neighbour)
    for seed in (1, 2, 3):
        build(name, seed)
    versions = {k.split("/")[3] for k in objects(name) if k.split("/")[3].startswith("v-")}
    assert len(versions) == 1  # (the two replaced ones deleted by the next builds)
    remove_store(f"s3://genozarr-test/glob/{name}", s3)
    assert objects(name) == []
    assert objects(neighbour) == before
    got = load_store(f"s3://genozarr-test/glob/{neighbour}", "zarr", s3).read_bins("chr1", 0, 3000)
    np.testing.assert_array_equal(np.asarray(got), kept)
