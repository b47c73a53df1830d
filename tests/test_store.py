"""The store: round trips for every backend and layout, plain xarray.open_zarr, format
metadata, cache keys, and interrupted writes that are never read as valid."""

from __future__ import annotations

import itertools
import json
import os
import warnings

import numpy as np
import pandas as pd
import pytest
import xarray as xr
import zarr

from genozarr import ingest
from genozarr.errors import StoreError, StoreFormatError
from genozarr.ingest import build_store
from genozarr.regions import GenomicIndexer
from genozarr.sources import ArraySource
from genozarr.store import FORMAT_VERSION, load_store, open_store, read_meta
from genozarr.store.cache import cache_key, file_digest
from genozarr.store.layout import MARKER, MARKER_FILE

SIZES = {"chr1": 1000, "chr2": 430}


@pytest.fixture
def tracks():
    rng = np.random.default_rng(7)
    return {c: rng.integers(0, 5, size=(n, 2, 3)).astype("float32") for c, n in SIZES.items()}


@pytest.fixture
def gindexer():
    roi = pd.DataFrame({"chrom": ["chr1", "chr2"], "start": [100, 0], "end": [400, 430],
                        "strand": ["+", "-"]})
    return GenomicIndexer.create_from_file(roi, binsize=100, stepsize=50, flank=10)


def expected_rows(tracks, gi, resolution):
    """Independent computation: slice the numpy track, pad, sum per bin."""
    rows = []
    for i in range(len(gi)):
        r = gi[i]
        length = gi.binsize + 2 * gi.flank
        t = tracks[r.chrom]
        window = np.zeros((length, 2, 3), "float32")
        lo, hi = max(r.start, 0), min(r.end, t.shape[0])
        window[lo - r.start:hi - r.start] = t[lo:hi]
        window[r.end - r.start:] = 0  # zero-padded tail of a partial window
        rows.append(window.reshape(length // resolution, resolution, 2, 3).sum(1))
    return np.stack(rows)


def source(tracks):
    return ArraySource("mem", tracks, ["a", "b", "c"], ["+", "-"])


@pytest.mark.parametrize("storage", ["ndarray", "sparse", "zarr"])
@pytest.mark.parametrize("resolution", [1, 10])
def test_partial_round_trip(tmp_path, tracks, gindexer, storage, resolution):
    path = str(tmp_path / "p.zarr") if storage == "zarr" else None
    st = build_store(source(tracks), gindexer, name="t", whole_genome=False,
                     resolution=resolution, chroms=SIZES, storage=storage, path=path)
    got = st.read_rows(np.arange(len(gindexer)))
    np.testing.assert_array_equal(got, expected_rows(tracks, gindexer, resolution))
    # fancy, unsorted row access gives the same rows
    order = np.array([5, 0, 3, 3])
    np.testing.assert_array_equal(st.read_rows(order), got[order])


@pytest.mark.parametrize("storage", ["ndarray", "sparse", "zarr"])
def test_whole_genome_round_trip(tmp_path, tracks, storage):
    path = str(tmp_path / "w.zarr") if storage == "zarr" else None
    st = build_store(source(tracks), None, name="t", whole_genome=True, resolution=10,
                     chroms=SIZES, storage=storage, path=path)
    for chrom, t in tracks.items():
        n = -(-t.shape[0] // 10)
        padded = np.zeros((n * 10, 2, 3), "float32")
        padded[: t.shape[0]] = t
        np.testing.assert_array_equal(st.read_bins(chrom, 0, n), padded.reshape(n, 10, 2, 3).sum(1))
        # reads past both chromosome ends are padded
        np.testing.assert_array_equal(st.read_bins(chrom, -2, 1)[:2], 0)


def test_xarray_open_zarr_and_metadata(tmp_path, tracks, gindexer):
    path = str(tmp_path / "p.zarr")
    build_store(source(tracks), gindexer, name="t", whole_genome=False, resolution=10,
                chroms=SIZES, storage="zarr", path=path, cache_key="abc")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no UnstableSpecificationWarning for the labels
        plain = xr.open_zarr(path, consolidated=False, zarr_format=3)
    assert plain["data"].dims == ("region", "position", "strand", "condition")
    assert list(plain["condition"].values) == ["a", "b", "c"]
    assert list(plain["strand"].values) == ["+", "-"]
    ds = open_store(path)
    assert ds.attrs["resolution"] == 10 and ds.attrs["cache_key"] == "abc"
    assert ds.attrs["format_version"] == FORMAT_VERSION
    assert list(ds["region_chrom"].values[:2]) == ["chr1", "chr1"]
    np.testing.assert_array_equal(ds["region_start"].values, gindexer.starts - gindexer.flank)
    np.testing.assert_array_equal(ds["data"].values, expected_rows(tracks, gindexer, 10))
    assert hasattr(ds["data"].data, "dask")
    # blosc zstd compression, chunked along region
    import zarr

    arr = zarr.open_group(path, mode="r")["data"]
    assert "zstd" in str(arr.compressors[0]).lower()


def test_whole_genome_open_store(tmp_path, tracks):
    path = str(tmp_path / "w.zarr")
    build_store(source(tracks), None, name="t", whole_genome=True, resolution=1, chroms=SIZES,
                storage="zarr", path=path)
    tree = open_store(path)  # format 2: one group per chromosome, the same dim names
    assert {c for c in tree.children if c in SIZES} == {"chr1", "chr2"}
    assert tree["chr2"]["data"].dims == ("position", "strand", "condition")
    np.testing.assert_array_equal(tree["chr2"]["data"].values, tracks["chr2"])
    assert tree.attrs["layout"] == "whole_genome"
    import xarray as xr

    one = xr.open_zarr(path, group="chr1")  # plain zarr: one chromosome, labelled
    np.testing.assert_array_equal(one["data"].values, tracks["chr1"])
    assert list(one["strand"].values) == ["+", "-"]
    same = xr.open_datatree(path, engine="genozarr", chunks={})
    np.testing.assert_array_equal(same["chr1"]["data"].values, tracks["chr1"])
    ds = xr.open_dataset(path, engine="genozarr", group="chr2")
    np.testing.assert_array_equal(ds["data"].values, tracks["chr2"])


def test_incomplete_store_is_not_valid(tmp_path, tracks, gindexer):
    path = tmp_path / "p.zarr"
    build_store(source(tracks), gindexer, name="t", whole_genome=False, resolution=1,
                chroms=SIZES, storage="zarr", path=str(path), cache_key="k")
    os.remove(path / MARKER_FILE)  # as if the writer died before publishing
    with pytest.raises(StoreError, match="not a complete genozarr store"):
        open_store(path)
    with pytest.raises(StoreError):
        load_store(path)


def test_failed_ingest_leaves_nothing(tmp_path, tracks, gindexer):
    class Failing(ArraySource):
        calls = 0

        def read_file(self, i, chrom, start, end):
            if chrom == "chr2":
                raise RuntimeError("disk on fire")
            return super().read_file(i, chrom, start, end)

    src = Failing("mem", tracks, ["a", "b", "c"], ["+", "-"])
    with pytest.raises(RuntimeError, match="disk on fire"):
        build_store(src, gindexer, name="t", whole_genome=False, resolution=1, chroms=SIZES,
                    storage="zarr", path=str(tmp_path / "p.zarr"))
    assert os.listdir(tmp_path) == []  # no partial store, no temporary left behind


def test_not_a_store_and_newer_version(tmp_path, tracks, gindexer):
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / MARKER).mkdir()
    (tmp_path / "junk" / MARKER_FILE).write_text('{"attributes": {}}')
    with pytest.raises(StoreError, match="junk"):
        read_meta(tmp_path / "junk")
    path = tmp_path / "p.zarr"
    build_store(source(tracks), gindexer, name="t", whole_genome=False, resolution=1,
                chroms=SIZES, storage="zarr", path=str(path))
    meta = json.loads((path / "zarr.json").read_text())
    meta["attributes"]["genozarr"]["format_version"] = FORMAT_VERSION + 1
    (path / "zarr.json").write_text(json.dumps(meta))
    (path / "zarr.json").touch()
    import zarr

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zarr notes consolidated metadata is not in the v3 spec
        zarr.consolidate_metadata(str(path))
    with pytest.raises(StoreFormatError, match=f"format version {FORMAT_VERSION + 1}.*Upgrade genozarr"):
        read_meta(path)


def test_cache_key_tracks_file_content(tmp_path):
    f = tmp_path / "in.bin"
    f.write_bytes(b"A" * 3_000_000)
    k1 = cache_key([str(f)], {"start": np.arange(3)}, {"binsize": 10})
    assert k1 == cache_key([str(f)], {"start": np.arange(3)}, {"binsize": 10})
    assert k1 != cache_key([str(f)], {"start": np.arange(3)}, {"binsize": 20})
    assert k1 != cache_key([str(f)], {"start": np.arange(4)}, {"binsize": 10})
    import hashlib

    assert file_digest(f) == hashlib.sha256(b"A" * 3_000_000).hexdigest()
    data = bytearray(f.read_bytes())
    data[1_500_000] = ord("C")  # a one-byte change
    f.write_bytes(bytes(data))
    os.utime(f, ns=(1, 1))
    assert cache_key([str(f)], {"start": np.arange(3)}, {"binsize": 10}) != k1


def test_a_store_cached_by_an_earlier_values_revision_is_rebuilt(tmp_path, monkeypatch):
    """A release that changes the values stored for the same inputs raises
    VALUES_REVISION: a store cached under the earlier revision (here: one whose values
    were changed on disk, standing in for the earlier release's values) is not reused."""
    import zarr

    from genozarr import Cover
    from genozarr.store import cache
    from genozarr.testing.simulate import write_bigwig

    bw = write_bigwig(tmp_path / "v.bw", {"chr1": np.arange(1000, dtype=float)})

    def build() -> Cover:
        return Cover.create_from_bigwig("v", bw, binsize=100, resolution=10, cache=True,
                                        storage="zarr")

    monkeypatch.setattr(cache, "VALUES_REVISION", cache.VALUES_REVISION - 1)
    old = build()
    data = zarr.open_array(f"{old.garray.path}/data", mode="r+")
    data[0] = -1.0  # "the earlier release's values"
    assert build().garray.path == old.garray.path  # the same revision: reused as cached
    monkeypatch.undo()
    new = build()
    assert new.garray.path != old.garray.path
    np.testing.assert_array_equal(new[0][0, :3, 0, 0], [4.5, 14.5, 24.5])


def test_the_values_revision_is_past_every_revision_of_earlier_values(monkeypatch):
    """Revision 2 keys name stores built before fixes that changed stored values (BED lines
    on chromosomes named like 'trackA' dropped, a line lost after a bare CR, ...), and
    revision 3 keys stores whose paired-end '5prime' counts were halved, revision 4 stores
    whose bins of 1 kb or more were summed by einsum (up to 56 ulps off) and whose float16
    sums overflowed: none may key a store again, or such a store cached by an earlier
    release is reused."""
    from genozarr.store import cache

    assert cache.VALUES_REVISION >= 5
    now = cache.cache_key([], {}, {"a": 1})
    for earlier in (2, 3, 4):
        monkeypatch.setattr(cache, "VALUES_REVISION", earlier)
        assert cache.cache_key([], {}, {"a": 1}) != now


@pytest.mark.parametrize("fill", [0, 4, np.nan])
def test_only_fill_chunks_are_found_whatever_the_sample(fill) -> None:
    """A chunk is skipped only if every value is the fill value: one other value anywhere
    (on or off the sampled positions) keeps it."""
    from genozarr.store._direct import _FILL_SAMPLE, _only

    chunk = np.full((3 * _FILL_SAMPLE + 7, 2), fill, dtype=np.float32)
    assert _only(chunk, fill) is (not np.isnan(fill))  # NaN never equals the fill value
    for pos in (0, 1, _FILL_SAMPLE, _FILL_SAMPLE + 1, chunk.size - 1):
        other = chunk.copy().reshape(-1)
        other[pos] = 1.0
        assert not _only(other.reshape(chunk.shape), fill)
    assert _only(np.zeros((0, 2), np.float32), 0)


def _write_both_ways(store, values):
    """Write ``values`` into the arrays ``direct`` (the ingest fast path, two blocks, the
    second ending at the edge) and ``viazarr`` (zarr itself) of ``store``; both read back
    as ``values`` through zarr."""
    import zarr

    from genozarr.store.write import write_block

    write_block(store, "direct", 0, values[:600])
    write_block(store, "direct", 600, values[600:])
    zarr.open_array(store, path="viazarr", mode="r+")[:] = values
    for name in ("direct", "viazarr"):
        back = zarr.open_array(store, path=name, mode="r")[:]
        np.testing.assert_array_equal(back, values)


@pytest.mark.parametrize("dtype, fill", [("float32", 0.0), ("uint8", 4), ("int32", 0)])
@pytest.mark.parametrize("compressor", ["zstd", None])
def test_direct_chunk_writes_read_back_through_zarr(tmp_path, dtype, fill, compressor):
    """The ingest fast path (chunks encoded with numcodecs and written as files) stores what
    zarr itself reads back: edge chunk padded, all-fill chunks left out, both codec chains."""
    import zarr

    from genozarr.config import set_options
    from genozarr.store._direct import write_chunks
    from genozarr.store.write import _compressors

    rng = np.random.default_rng(0)
    values = rng.integers(0, 9, size=(1050, 2, 3)).astype(dtype)
    values[200:400] = fill  # two whole chunks of fill value: not written
    with set_options(compressor=compressor):
        codecs = _compressors(dtype)
    for name in ("direct", "viazarr"):
        zarr.create_array(str(tmp_path / "s.zarr"), name=name, shape=values.shape,
                          chunks=(100, 2, 3), dtype=dtype, fill_value=fill,
                          compressors=codecs, zarr_format=3)
    arr = zarr.open_array(str(tmp_path / "s.zarr"), path="direct", mode="r+")
    assert write_chunks(arr, 0, values[:550]) is False  # not chunk-aligned at 550
    _write_both_ways(str(tmp_path / "s.zarr"), values)
    chunk_dir = tmp_path / "s.zarr" / "direct" / "c"
    written = sorted(int(p.name) for p in chunk_dir.iterdir())
    assert written == [0, 1, 4, 5, 6, 7, 8, 9, 10]  # 10: the padded edge chunk


@pytest.mark.parametrize("compressor", ["zstd", None])
def test_direct_shard_writes_read_back_through_zarr(tmp_path, compressor):
    """Shards written inner chunk by inner chunk as they are encoded are what zarr's
    sharding codec reads back: inner chunks of fill value left out of a shard (its index
    marks them empty), a shard of fill value only not written, the edge shard padded."""
    import zarr

    from genozarr.config import set_options
    from genozarr.store.write import _compressors

    rng = np.random.default_rng(1)
    values = rng.normal(size=(1050, 2, 3)).astype("float32")
    values[200:400] = 0  # inner chunks 2 (shard 0) and 3 (shard 1) hold the fill value
    values[600:900] = 0  # the whole of shard 2
    with set_options(compressor=compressor):
        codecs = _compressors("float32")
    for name in ("direct", "viazarr"):
        zarr.create_array(str(tmp_path / "s.zarr"), name=name, shape=values.shape,
                          chunks=(100, 2, 3), shards=(300, 2, 3), dtype="float32",
                          fill_value=0.0, compressors=codecs, zarr_format=3)
    _write_both_ways(str(tmp_path / "s.zarr"), values)
    shards = tmp_path / "s.zarr" / "direct" / "c"
    assert sorted(int(p.name) for p in shards.iterdir()) == [0, 1, 3]
    for k in (0, 1, 3):  # byte for byte what zarr writes
        key = f"c/{k}/0/0"
        assert (tmp_path / "s.zarr" / "direct" / key).read_bytes() == (
            tmp_path / "s.zarr" / "viazarr" / key).read_bytes()


def test_regular_chunk_shape_is_read_from_the_grids_document(tmp_path) -> None:
    """The direct readers take an array's chunk shape from its grid's JSON form, which
    every zarr 3 release writes alike: zarr 3.2 renamed the grid's class, and a check of
    the class turned every direct reader and string writer off there (29 tests failed).
    Another grid (zarr's rectilinear one) or none is not taken."""
    from types import SimpleNamespace

    import zarr

    from genozarr.store._direct import DirectChunks, regular_chunk_shape

    arr = zarr.create_array(str(tmp_path / "a.zarr"), shape=(100, 4), chunks=(10, 4),
                            dtype="float32", compressors=zarr.codecs.BloscCodec())
    assert regular_chunk_shape(arr.metadata) == (10, 4)
    assert DirectChunks.for_array(arr) is not None

    class Rectilinear:
        def to_dict(self):
            return {"name": "rectilinear", "configuration": {"chunk_shapes": [[10], [4]]}}

    assert regular_chunk_shape(SimpleNamespace(chunk_grid=Rectilinear())) is None
    assert regular_chunk_shape(SimpleNamespace(chunk_grid=None)) is None
    assert regular_chunk_shape(SimpleNamespace()) is None


def test_string_coordinates_are_written_as_python_strings(tmp_path) -> None:
    """write_coord stores string coordinates as zarr strings: an object array of str is
    written as it is, anything else string-like (numpy str, bytes, fixed-width arrays,
    mixed objects) is turned into str first; every kind reads back as the same str."""
    import zarr

    from genozarr.store.write import write_coord

    group = zarr.open_group(str(tmp_path / "g.zarr"), mode="w")
    cases = {
        "plain": np.array(["chr1", "chr10", "chrX"], dtype=object),
        "numpy_str": np.array([np.str_("chr1"), "chr10", np.str_("chrX")], dtype=object),
        "fixed": np.array(["chr1", "chr10", "chrX"]),
        "mixed": np.array(["chr1", 10, "chrX"], dtype=object),
        "empty": np.array([], dtype=object),
    }
    for name, values in cases.items():
        write_coord(group, name, ("window",), values)
    again = zarr.open_group(str(tmp_path / "g.zarr"), mode="r")
    for name, values in cases.items():
        got = np.asarray(again[name][...]).tolist()
        assert got == [str(v) for v in values.tolist()], name
        assert all(type(v) is str for v in got), name


@pytest.mark.parametrize("compressors", ["default", None])
def test_direct_string_writes_equal_zarrs_files(tmp_path, compressors) -> None:
    """write_strings (window names of a tiling dataset) writes the very chunk files zarr
    writes for the same values: full chunks, the edge chunk padded with the fill value, a
    chunk of fill values only left out, non-ASCII text; with zarr's default codecs for
    strings (vlen-utf8 then zstd) and with vlen-utf8 alone. read_strings reads either
    back, and names a damaged chunk."""
    import zarr

    from genozarr.errors import StoreError
    from genozarr.store._direct import read_strings, write_strings

    rng = np.random.default_rng(3)
    names = np.array(["chr1", "chrX", "", "Ünïcødé", "a" * 300], dtype=object)
    values = names[rng.integers(0, len(names), size=1030)]
    values[400:600] = ""  # chunk 2 holds only the fill value
    kw = {} if compressors == "default" else {"compressors": None}
    group = zarr.open_group(str(tmp_path / "g.zarr"), mode="w", zarr_format=3)
    arrays = {name: group.create_array(name, shape=values.shape, chunks=(200,), dtype=str,
                                       fill_value="", **kw) for name in ("direct", "viazarr")}
    assert write_strings(arrays["direct"], values) is True
    arrays["viazarr"][...] = values
    files = {name: {p.name: p.read_bytes() for p in (tmp_path / "g.zarr" / name / "c").iterdir()}
             for name in arrays}
    assert sorted(files["direct"]) == ["0", "1", "3", "4", "5"]
    assert files["direct"] == files["viazarr"]
    back = zarr.open_array(str(tmp_path / "g.zarr"), path="direct", mode="r")[...]
    assert np.asarray(back).tolist() == values.tolist()
    for name in arrays:  # read back straight from the files, the left-out chunk as fill
        got = read_strings(zarr.open_array(str(tmp_path / "g.zarr"), path=name, mode="r"))
        assert got.dtype == object and got.tolist() == values.tolist()
        assert all(type(v) is str for v in got.tolist())
    # where the fast path does not apply, the caller writes (reads) through zarr
    assert write_strings(arrays["direct"], values.astype(str)) is False  # not objects
    assert write_strings(arrays["direct"], values[:10]) is False  # not the whole array
    # a MemoryStore (where a new store's metadata is assembled): the same entries as
    # zarr's own write; read_strings reads local stores only
    entries: dict = {}
    memory = zarr.open_group(zarr.storage.MemoryStore(entries), mode="w", zarr_format=3)
    in_memory = {name: memory.create_array(name, shape=values.shape, chunks=(200,), dtype=str,
                                           fill_value="", **kw) for name in ("direct", "viazarr")}
    assert write_strings(in_memory["direct"], values) is True
    in_memory["viazarr"][...] = values
    chunks = {name: {k.split("/", 1)[1]: v.to_bytes() for k, v in entries.items()
                     if k.startswith(f"{name}/c/")} for name in in_memory}
    assert chunks["direct"] == chunks["viazarr"] == {f"c/{k}": v for k, v in files["direct"].items()}
    assert np.asarray(in_memory["direct"][...]).tolist() == values.tolist()
    assert read_strings(in_memory["direct"]) is None
    (tmp_path / "g.zarr" / "direct" / "c" / "1").write_bytes(b"\x00" * 40)
    with pytest.raises(StoreError, match=r"direct/c/1 is damaged"):
        read_strings(zarr.open_array(str(tmp_path / "g.zarr"), path="direct", mode="r"))


@pytest.mark.parametrize("offsets", [[0, 7, 14, 21], [5], [9, 2], [3, 3, 3], [0, 4, 5, 30],
                                     [12, 1, 30, 7, 0]])
def test_windows_cut_from_a_span_equal_fancy_indexing(offsets):
    """The strided windows of a whole-genome read or a variant block (one view at a regular
    step, else a fancy index over the view of every window) equal rows taken with a (k, nb)
    index."""
    from genozarr._kernels import window_views as _windows

    span = np.random.default_rng(0).random((40, 2, 3)).astype(np.float32)
    offsets = np.asarray(offsets)
    expected = span[offsets[:, None] + np.arange(10)]
    np.testing.assert_array_equal(_windows(span, offsets, 10), expected)
    np.testing.assert_array_equal(_windows(span[::2], offsets // 2, 5),
                                  span[::2][offsets[:, None] // 2 + np.arange(5)])


def test_many_contigs_store_files_equal_the_plain_ones(tmp_path, monkeypatch):
    """A whole-genome store of many contigs is created with each repeated label array
    (every contig's strand and condition) made once and copied, its files written by
    several threads, and its contigs read by a few tasks of several each: every file
    equals those of a store made array by array, one file after the other (consolidated
    by zarr's own MemoryStore), a task per contig; the store reads the FASTA's
    sequence, as the same dataset built in memory."""
    from genozarr import Bioseq, set_options
    from genozarr.store import write as store_write

    rng = np.random.default_rng(5)
    contigs = {f"s{i}": "".join(rng.choice(list("ACGT"), 300 + 7 * i)) for i in range(40)}
    fa = tmp_path / "g.fa"
    fa.write_text("".join(f">{name}\n{seq}\n" for name, seq in contigs.items()))

    def build(path, storage="zarr"):
        with set_options(scheduler="sync", progress=False):
            return Bioseq.create_from_refgenome("dna", str(fa), binsize=100, storage=storage,
                                                store=None if path is None else str(path),
                                                store_whole_genome=True)

    def files(path):
        out = {}
        for root, _, names in os.walk(path):
            for name in names:
                with open(os.path.join(root, name), "rb") as f:
                    out[os.path.relpath(os.path.join(root, name), path)] = f.read()
        return out

    assert len(store_write._repeated_coords(
        {f"s{i}/strand": (("strand",), np.array(["+"])) for i in range(3)})) == 2
    monkeypatch.setattr(store_write, "_MANY_FILES", 1)
    joined = []
    genome_tasks = ingest._genome_tasks
    monkeypatch.setattr(ingest, "_genome_tasks",
                        lambda source, parts, *a: joined.append(len(parts))
                        or genome_tasks(source, parts, *a))
    threaded = build(tmp_path / "a.zarr")
    # the contigs are read by a few tasks of several each (more than four, of up to a
    # quarter of the genome), in memory as on disk
    assert sum(joined) == len(contigs) and 4 <= len(joined) <= 5, joined
    memory = build(None, "ndarray")
    assert sum(joined) == 2 * len(contigs)
    # a store made as before: a task per contig,
    monkeypatch.setattr(ingest, "_group_small", lambda sized, *a: [t for _, t in sized])
    monkeypatch.setattr(store_write, "_MANY_FILES", 10**9)
    monkeypatch.setattr(store_write, "_repeated_coords", lambda coords: {})
    # and its metadata consolidated where zarr's own MemoryStore lists its folders
    monkeypatch.setattr(store_write, "_listed_memory_store", lambda: zarr.storage.MemoryStore)
    build(tmp_path / "b.zarr")
    a, b = files(tmp_path / "a.zarr"), files(tmp_path / "b.zarr")
    assert len(a) > 6 * len(contigs) and a.keys() == b.keys()
    differ = [key for key in a if a[key] != b[key]]
    assert differ == [MARKER_FILE], differ  # the build's and the version's own ids differ
    ma, mb = (json.loads(x[MARKER_FILE])["attributes"] for x in (a, b))
    assert ma.pop("build") != mb.pop("build") and ma.pop("version") != mb.pop("version")
    assert ma == mb
    lut = {c: i for i, c in enumerate("ACGT")}
    for name in ("s0", "s17", "s39"):
        window = threaded[name, 0, 100][0, :, 0, :]
        np.testing.assert_array_equal(window.argmax(axis=1),
                                      [lut[c] for c in contigs[name][:100]])
    np.testing.assert_array_equal(memory[:], threaded[:])


def test_listed_memory_store_lists_as_zarrs_memory_store():
    """The memory store a new store's metadata is assembled in lists a folder from an index
    of its keys (zarr's looks at every key for each folder, which made consolidating the
    metadata of n contigs quadratic): the same names as zarr's MemoryStore for every
    folder, after keys are added, replaced and deleted."""
    from zarr.core.buffer import default_buffer_prototype
    from zarr.core.sync import sync

    from genozarr.store import write as store_write

    rng = np.random.default_rng(3)
    listed = store_write._listed_memory_store()({})
    plain = zarr.storage.MemoryStore({})
    buf = default_buffer_prototype().buffer.from_bytes(b"x")

    async def names(store, prefix):
        return sorted([name async for name in store.list_dir(prefix)])

    def check():
        keys = set(plain._store_dict)
        folders = {""} | {"/".join(k.split("/")[:d]) for k in keys
                          for d in range(1, k.count("/") + 1)}
        for prefix in sorted(folders) + ["nothing", "a/"]:
            assert sync(names(listed, prefix)) == sync(names(plain, prefix)), prefix
        return len(folders)

    paths = ["/".join(rng.choice(list("abc"), rng.integers(1, 5))) + "/zarr.json"
             for _ in range(200)]
    for step, key in enumerate(paths):
        for store in (listed, plain):
            sync(store.set(key, buf))
        if step % 40 == 0:
            assert check() > 1
    for key in paths[::3]:
        for store in (listed, plain):
            if key in store._store_dict:
                sync(store.delete(key))
    check()
    for store in (listed, plain):
        store.set_sync("zz/new/zarr.json", buf)
    assert sync(names(listed, "zz")) == ["new"]
    check()
    # a read-only copy lists the same dict: changes made through either are seen by both,
    # and so are keys added to the dict itself
    copy = listed.with_read_only(True)
    assert sync(names(copy, "")) == sync(names(listed, ""))
    sync(listed.set("yy/zarr.json", buf))
    assert "yy" in sync(names(copy, ""))
    listed._store_dict["xx/a/zarr.json"] = buf
    assert sync(names(listed, "xx")) == ["a"] == sync(names(copy, "xx"))


def test_early_flush_names_files_by_real_path_under_a_linked_folder(tmp_path):
    """An early flush of a build's files (the build's folder reached through a link)
    reports the real paths publication compares with, found from the folder's own."""
    from genozarr.store.write import EarlyFlush

    real = tmp_path / "real"
    (real / "a" / "b").mkdir(parents=True)
    (tmp_path / "link").symlink_to(real)
    files = [str(tmp_path / "link" / "a" / "b" / "c.bin"), str(tmp_path / "link" / "d")]
    for path in files:
        with open(path, "wb") as f:
            f.write(b"1")
    early = EarlyFlush(root=str(tmp_path / "link"))
    early.add(files)
    assert early.finish() == {os.path.realpath(p) for p in files}
    assert os.path.realpath(files[0]) == str(real / "a" / "b" / "c.bin")


def test_a_forked_child_reopens_a_zarr_store(tmp_path):
    """A zarr backend used in a process that forks is reopened in the child on its first
    read there (the fork is noticed without a system call per read): the child reads the
    same values with handles of its own, and the parent's are left as they were."""
    import multiprocessing

    if "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip("no fork")
    from genozarr import Cover

    values = np.arange(40 * 6, dtype="float32").reshape(40, 6, 1, 1)
    gi = GenomicIndexer(np.array(["chr1"] * 40, dtype=object), np.arange(40) * 6,
                        np.arange(40) * 6 + 6, np.array(["+"] * 40, dtype=object), 6, 6)
    cover = Cover.create_from_array("c", values, gi, storage="zarr",
                                    store=str(tmp_path / "c.zarr"))
    backend = cover.garray.backend
    cover[0:3]  # opened in this process
    parent = (backend._pid, dict(backend._arrays))
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()

    def child() -> None:
        got = cover[5:9]
        queue.put((backend._pid == os.getpid(), backend._pid != parent[0], got))

    proc = ctx.Process(target=child)
    proc.start()
    own, changed, got = queue.get(timeout=60)
    proc.join(60)
    assert proc.exitcode == 0 and own and changed
    np.testing.assert_array_equal(got, values[5:9])
    assert backend._pid == parent[0] == os.getpid() and backend._arrays == parent[1]


def test_a_forked_child_adopts_its_parents_parsed_metadata(tmp_path, monkeypatch):
    """A forked reader (a DataLoader worker) opens its own handle on the store version its
    parent reads, and takes the parent's parsed metadata instead of parsing the root's
    consolidated metadata again (0.64 -> 0.05 s for a worker's first batch at 2,000
    contigs): no zarr group is opened in the child, and every contig reads the values
    the parent reads. Another version's metadata, or none parsed, is not adopted."""
    import multiprocessing

    if "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip("no fork")
    from genozarr import Cover, open_dataset
    from genozarr.store import open as store_open

    sizes = {f"c{i}": 60 + 10 * i for i in range(12)}
    values = {c: np.arange(n, dtype="float32") + i * 1000 for i, (c, n) in
              enumerate(sizes.items())}
    from genozarr.testing.simulate import write_bigwig

    bw = write_bigwig(tmp_path / "m.bw", values, sizes)
    path = str(tmp_path / "m.zarr")
    Cover.create_from_bigwig("m", bw, roi=None, binsize=20, store_whole_genome=True,
                             storage="zarr", store=path, genomesize=sizes)
    ds = open_dataset(path, cache=None)  # (each process reads the chunks)
    want = ds[:]
    opened = []
    real = store_open._open_zarr_group
    monkeypatch.setattr(store_open, "_open_zarr_group",
                        lambda *a: opened.append(1) or real(*a))
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()

    def child() -> None:
        got = ds[:]
        backend = ds.garray.backend
        queue.put((len(opened), backend._pid == os.getpid(),
                   backend._opened is not None and backend._opened.hold is not None, got))

    proc = ctx.Process(target=child)
    proc.start()
    n_opened, own, held, got = queue.get(timeout=60)
    proc.join(60)
    assert proc.exitcode == 0 and own and held and n_opened == 0
    np.testing.assert_array_equal(got, want)
    # what is adopted: the same root and marker only
    parent = ds.garray.backend._opened
    other = store_open.OpenedStore(parent.path, parent.root + "x", None, None, True,
                                   parent.marker)
    other.adopt(parent)
    assert other._group is None and other._meta is None
    rebuilt = store_open.OpenedStore(parent.path, parent.root, None, None, True,
                                     {**parent.marker, "build": "another"})
    rebuilt.adopt(parent)
    assert rebuilt._group is None and rebuilt._meta is None
    same = store_open.OpenedStore(parent.path, parent.root, None, None, True, parent.marker)
    same.adopt(parent)
    assert same._group is not None and same._meta is parent._meta
    assert same._group.metadata is parent._group.metadata


# ---- what a store built before must not stand in for ----------------------------------
@pytest.fixture
def two_contigs(tmp_path):
    """A BigWig with contigs 'a' (all 1.0) and 'b' (all 2.0); regions on 'chr1'."""
    from genozarr.testing.simulate import write_bigwig

    bw = write_bigwig(tmp_path / "ab.bw", {"a": np.full(1000, 1.0), "b": np.full(1000, 2.0)})
    roi = pd.DataFrame({"chrom": ["chr1"], "start": [0], "end": [200]})
    return bw, roi


@pytest.mark.parametrize("cache", [True, False])
@pytest.mark.parametrize("whole", [False, True])
def test_chrom_map_is_part_of_the_key(two_contigs, cache, whole):
    """Which contig a region chromosome reads changes the data: another store."""
    from genozarr import Cover

    bw, roi = two_contigs
    kw = dict(roi=roi, binsize=100, storage="zarr", cache=cache, store_whole_genome=whole,
              genomesize={"chr1": 1000})
    a = Cover.create_from_bigwig("cm", bw, chrom_map={"chr1": "a"}, **kw)
    b = Cover.create_from_bigwig("cm", bw, chrom_map={"chr1": "b"}, **kw)
    assert a.garray.path != b.garray.path
    np.testing.assert_array_equal(b[:][..., 0], np.full((2, 100, 1), 2.0, np.float32))
    np.testing.assert_array_equal(a[:][..., 0], np.full((2, 100, 1), 1.0, np.float32))
    # the same mapping again: the same store
    plain = Cover.create_from_bigwig("cm", bw, chrom_map={"chr1": "a"}, **kw)
    assert plain.garray.path == a.garray.path


def test_a_callable_objects_cache_key_is_the_same_in_every_process(tmp_path):
    """A callable object's attributes enter the key; those whose representation holds a
    memory address (a numpy Generator, an object without __repr__) must not make the key
    differ from process to process (the cached store would never be found again)."""
    import subprocess
    import sys

    script = tmp_path / "key.py"
    script.write_text(
        "import numpy as np\n"
        "from genozarr.store.cache import cache_key\n"
        "class Plain:\n"
        "    pass\n"
        "class Q:\n"
        "    def __init__(self, q):\n"
        "        self.q, self.rng, self.other = q, np.random.default_rng(0), Plain()\n"
        "    def __call__(self, x, axis=None):\n"
        "        return np.quantile(x, self.q, axis=axis)\n"
        "print(cache_key([], {}, {'collapser': Q(0.5)}), cache_key([], {}, {'collapser': Q(0.9)}))\n")
    keys = [subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                           check=True).stdout.split() for _ in range(2)]
    assert keys[0] == keys[1]
    assert keys[0][0] != keys[0][1]  # the attribute that differs still makes the key


def test_a_key_of_objects_printing_sets_is_the_same_under_every_hash_seed(tmp_path):
    """A dataclass collapser with a frozenset field, and a closure over a SimpleNamespace
    holding a set, entered the key by their repr too, which prints the set in an order
    that follows PYTHONHASHSEED: another key, and another store, in every process (an
    audit). Their attributes (sets by sorted items) still tell two objects apart."""
    import os
    import subprocess
    import sys

    script = tmp_path / "key.py"
    script.write_text(
        "import dataclasses, sys, types\n"
        "import numpy as np\n"
        "from genozarr.store.cache import cache_key\n"
        "@dataclasses.dataclass\n"
        "class Skip:\n"
        "    skip: frozenset\n"
        "    def __call__(self, x, axis=None):\n"
        "        return np.mean(x, axis=axis)\n"
        "def closure(ns):\n"
        "    return lambda x, axis=None: np.mean(x, axis=axis) * len(ns.names)\n"
        "names = sys.argv[1].split(',')\n"
        "print(cache_key([], {}, {'collapser': Skip(frozenset(names))}),\n"
        "      cache_key([], {}, {'collapser': closure(types.SimpleNamespace(\n"
        "          names=set(names)))}))\n")
    names = ",".join(f"chr{i}" for i in ("M", "Y", "Un", "EBV", "random", "X", "1", "2"))
    keys = [subprocess.run([sys.executable, str(script), spec], capture_output=True,
                           text=True, check=True, env={**os.environ, "PYTHONHASHSEED": seed,
                                                       "PYTHONPATH": os.pathsep.join(sys.path)}
                           ).stdout.split()
            for seed, spec in (("1", names), ("2", names), ("3", names),
                               ("1", names.replace("chrY", "chrW")))]
    assert keys[0] == keys[1] == keys[2]
    assert keys[0][0] != keys[3][0] and keys[0][1] != keys[3][1]  # another set


class _Quantile:
    """A collapser's state on an instance: its bound method, a closure over it, slots."""

    def __init__(self, q):
        self.q = q

    def collapse(self, x, axis=1):
        return np.percentile(x, self.q, axis=axis)


class _SlotQuantile:
    __slots__ = ("q",)

    def __init__(self, q):
        self.q = q

    def __call__(self, x, axis=1):
        return np.percentile(x, self.q, axis=axis)


def _closure_over(obj):
    return lambda x, axis=1: np.percentile(x, obj.q, axis=axis)


class _PrivateSlot:
    __slots__ = ("__q",)

    def __init__(self, q):
        self.__q = q

    def __call__(self, x, axis=1):
        return np.percentile(x, self.__q, axis=axis)


class _Held:
    """A callable holding an object whose representation leaves its content out."""

    def __init__(self, held):
        self.held = held

    def __call__(self, x, axis=1):
        return x.mean(axis=axis)


def _series(q):
    w = pd.Series(np.ones(1000))
    w[500] = q  # a change in the middle, which pandas' representation leaves out
    return _Held(w)


@pytest.mark.parametrize("make", [lambda q: _Quantile(q).collapse, _SlotQuantile,
                                  lambda q: _closure_over(_Quantile(q)), _PrivateSlot,
                                  lambda q: _Held(np.random.default_rng(q)), _series,
                                  lambda q: _Held(pd.DataFrame({"a": [1.0, q]})),
                                  lambda q: _Held(pd.Series([[1], [q]]))],
                         ids=["bound method", "slots", "closure over an object",
                              "private slots", "numpy generator", "pandas series",
                              "pandas frame", "series of lists"])
def test_collapsers_that_differ_by_state_have_different_keys(make):
    """The state a collapser reads from an object (a bound method's instance, a closure
    cell holding an instance, __slots__, a random generator's state, a Series' values)
    enters the key: q=10 and q=90 shared one key, so a cached build of q=90 served q=10's
    store."""
    from genozarr.store.cache import cache_key

    keys = {cache_key([], {}, {"collapser": make(q)}) for q in (10, 90, 10)}
    assert len(keys) == 2


def test_a_key_does_not_change_once_the_collapser_has_been_used():
    """A functools.cached_property fills the instance's __dict__ on first use: it is left
    out of the key, which would otherwise differ before and after the build."""
    import functools

    from genozarr.store.cache import cache_key

    class Model:
        def __init__(self):
            self.factor = 2.0

        @functools.cached_property
        def scale(self):
            return self.factor * 3

        def collapse(self, x, axis=1):
            return x.sum(axis=axis) * self.scale

    model = Model()
    before = cache_key([], {}, {"collapser": model.collapse})
    model.collapse(np.ones((2, 3)))
    assert "scale" in vars(model)
    assert cache_key([], {}, {"collapser": model.collapse}) == before


def test_objects_referring_to_themselves_are_keyed_once():
    """A collapser object whose attributes refer back to it (a model holding its layers,
    each holding the model) was walked once per path, up to 20 levels: ten references
    took minutes. Now each object is described once, and the key still follows its
    state."""
    from genozarr.store.cache import cache_key

    class Layer:
        def __init__(self, owner, k):
            self.owner, self.k = owner, k

    class Model:
        def __init__(self, ks):
            self.layers = [Layer(self, k) for k in ks]
            self.me = self

        def __call__(self, x, axis=1):
            return x.sum(axis=axis)

    key = cache_key([], {}, {"collapser": Model(range(200))})
    assert key == cache_key([], {}, {"collapser": Model(range(200))})
    assert key != cache_key([], {}, {"collapser": Model([*range(199), 7])})
    shared = Model([1])
    twice = cache_key([], {}, {"a": shared, "b": shared})
    assert twice == cache_key([], {}, {"a": Model([1]), "b": Model([1])})

    # an object reached first past the depth limit (described '...' there) and then
    # near the top: its state is in the key (a description by object alone hid it)
    class Node:
        def __init__(self, child):
            self.child = child

    def args(p):
        shared = Layer(None, p)
        deep = [shared]
        for _ in range(9):
            deep = Node(deep)
        return {"a_deep": deep, "b_shared": shared}

    assert cache_key([], {}, args(1)) != cache_key([], {}, args(2))


def test_builtin_methods_are_keyed_by_their_object(tmp_path, monkeypatch):
    """np.maximum.reduce and np.minimum.reduce are both 'ufunc.reduce': the minimum's
    cached build was served the maximum's store."""
    from genozarr import Cover
    from genozarr.testing.simulate import write_bigwig

    monkeypatch.setenv("GENOZARR_OUTPUT", str(tmp_path / "out"))
    track = np.random.default_rng(4).gamma(1.0, 2.0, 1000).astype("float32")
    bw = write_bigwig(tmp_path / "u.bw", {"chr1": track})
    roi = pd.DataFrame({"chrom": ["chr1"], "start": [0], "end": [1000]})
    for reduce, want in ((np.maximum.reduce, track.reshape(-1, 10).max(1)),
                         (np.minimum.reduce, track.reshape(-1, 10).min(1))):
        cover = Cover.create_from_bigwig("u", str(bw), roi=roi, binsize=100, resolution=10,
                                         collapser=reduce, cache=True)
        np.testing.assert_allclose(cover[:][:, :, 0, 0].reshape(-1), want, rtol=1e-6)


def test_keys_with_sets_are_the_same_in_every_process(tmp_path):
    """A set (a function's constant, an attribute) is keyed by its sorted items: its order
    follows string hashing, which differs per process (PYTHONHASHSEED)."""
    import subprocess
    import sys

    script = tmp_path / "key.py"
    script.write_text(
        "from genozarr.store.cache import cache_key\n"
        "def f(x, axis=1):\n"
        "    return x.max(axis=axis) if 'a' in {'a', 'b', 'c', 'd', 'e'} else x\n"
        "class C:\n"
        "    names = None\n"
        "    def __init__(self):\n"
        "        self.names = {'x', 'y', 'z', 'w'}\n"
        "    def __call__(self, x, axis=1):\n"
        "        return x\n"
        "print(cache_key([], {}, {'collapser': f, 'other': C(), 'labels': {'p', 'q', 'r'}}))\n")
    keys = {subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                           check=True, env={**os.environ, "PYTHONHASHSEED": seed}).stdout
            for seed in ("1", "2", "3")}
    assert len(keys) == 1, keys


def test_derived_keys_of_collapse_and_function_normalizers_tell_lambdas_apart():
    """Two lambdas share a name: ops.collapse and a function normalizer derived the same
    cache_key for different results (write_store recorded it for both)."""
    import xarray as xr

    from genozarr import ops
    from genozarr.ops.normalizers import FunctionNormalizer

    x = np.arange(40, dtype="float32").reshape(1, 40, 1, 1)
    ds = xr.Dataset({"data": (("region", "position", "strand", "condition"), x)},
                    attrs={"resolution": 1, "cache_key": "k"})
    a = ops.collapse(ds, resolution=10, collapser=lambda v, axis=1: v.max(axis=axis))
    b = ops.collapse(ds, resolution=10, collapser=lambda v, axis=1: v.min(axis=axis))
    assert a.attrs["cache_key"] != b.attrs["cache_key"]
    assert FunctionNormalizer(lambda v: v * 2).cache_params() != \
        FunctionNormalizer(lambda v: v * 3).cache_params()


#: what :func:`_collapse_by_global` computes: a module-level global, not in the cache key
_HOW = {"collapse": np.max}


def _collapse_by_global(x, axis=1):  # noqa: ANN001, ANN201
    return _HOW["collapse"](x, axis=axis)


def test_a_build_without_cache_replaces_a_store_of_the_same_key(tmp_path, monkeypatch):
    """``storage='zarr'`` without ``cache`` is rebuilt by each call, also where the key is
    the same (a function enters the key by its code, not by the globals it reads, which
    here make it compute something else)."""
    from genozarr import Cover, open_dataset
    from genozarr.testing.simulate import write_bigwig

    bw = write_bigwig(tmp_path / "n.bw", {"chr1": np.arange(1000, dtype=float)})
    covers = []
    for how in (np.max, np.min):
        monkeypatch.setitem(_HOW, "collapse", how)
        covers.append(Cover.create_from_bigwig("nc", bw, binsize=100, resolution=10,
                                               storage="zarr", collapser=_collapse_by_global))
    assert covers[0].garray.path == covers[1].garray.path  # the same key
    np.testing.assert_array_equal(covers[1][0][0, :3, 0, 0], [0, 10, 20])
    np.testing.assert_array_equal(open_dataset(covers[1].garray.path)[0][0, :3, 0, 0],
                                  [0, 10, 20])


@pytest.mark.parametrize("storage", ["zarr", "ndarray"])
def test_a_store_reused_on_the_other_strand_records_it(tmp_path, storage):
    """The partial layout's key leaves strands out (rows are stored in genomic
    orientation); the store reused for minus-strand windows opens as that dataset."""
    from genozarr import Cover, open_dataset, open_store
    from genozarr.testing.simulate import write_bigwig

    bw = write_bigwig(tmp_path / "r.bw", {"chr1": np.arange(1000, dtype=float)})
    plus = pd.DataFrame({"chrom": ["chr1"] * 3, "start": [0, 200, 500],
                         "end": [100, 300, 600], "strand": ["+"] * 3})
    kw = dict(binsize=100, storage=storage, cache=True)
    Cover.create_from_bigwig("s", bw, roi=plus, **kw)
    minus = Cover.create_from_bigwig("s", bw, roi=plus.assign(strand="-"), **kw)
    want = np.stack([np.arange(s, s + 100)[::-1] for s in (0, 200, 500)]).astype(np.float32)
    np.testing.assert_array_equal(minus[:][:, :, 0, 0], want)
    again = open_dataset(minus.garray.path)
    np.testing.assert_array_equal(again[:][:, :, 0, 0], want)
    assert list(again.gindexer.strand) == ["-"] * 3
    assert open_store(minus.garray.path)["region_strand"].values.tolist() == ["-"] * 3


@pytest.mark.parametrize("storage", ["ndarray", "sparse", "zarr"])
def test_in_memory_xarray_views_index_like_numpy(tmp_path, storage):
    """``to_xarray()`` of any dataset: integer, list and stepped selections equal numpy on
    the stored array (in-memory views took contiguous slices only)."""
    from genozarr import Cover

    rng = np.random.default_rng(3)
    values = rng.integers(0, 3, size=(9, 10, 1, 2)).astype(np.float32)
    gi = GenomicIndexer(["chr1"] * 9, np.arange(9) * 10, np.arange(9) * 10 + 10,
                        ["+"] * 9, 10, 10)
    cover = Cover.create_from_array("x", values, gi, storage=storage,
                                    store=str(tmp_path / "x.zarr") if storage == "zarr"
                                    else None)
    data = cover.to_xarray()["data"]
    np.testing.assert_array_equal(data.isel(region=3).values, values[3])
    np.testing.assert_array_equal(data.isel(region=-1).values, values[-1])
    np.testing.assert_array_equal(data.isel(region=[4, 1, 7]).values, values[[4, 1, 7]])
    np.testing.assert_array_equal(data.isel(region=slice(1, 8, 3)).values, values[1:8:3])
    np.testing.assert_array_equal(data.isel(region=2, position=5).values, values[2, 5])


def test_genozarr_engine_datatree_group_and_drop_variables(tmp_path):
    from genozarr import Cover

    values = np.arange(2 * 50, dtype=np.float32).reshape(2, 50, 1, 1)
    gi = GenomicIndexer(["chr1", "chr2"], [0, 0], [50, 50], ["+", "+"], 50, 50)
    Cover.create_from_array("w", values, gi, store_whole_genome=True, storage="zarr",
                            store=str(tmp_path / "w.zarr"),
                            genomesize={"chr1": 50, "chr2": 50})
    node = xr.open_datatree(tmp_path / "w.zarr", engine="genozarr", group="chr1")
    assert list(node.data_vars) == ["data"] and not node.children
    np.testing.assert_array_equal(node["data"].values[:, 0, 0], values[0, :, 0, 0])
    dropped = xr.open_datatree(tmp_path / "w.zarr", engine="genozarr", drop_variables=["data"])
    assert "data" not in dropped["chr1"].data_vars and "chr2" in dropped.children


# ---- the whole-genome tree against xarray's own zarr backend ---------------------------
def _xarray_zarr_tree(path, chunks=None):
    """The version published at ``path`` as xarray's zarr backend reads it: the
    independent reading the genozarr engine's tree must equal."""
    from genozarr.store.dtypes import register_zarr
    from genozarr.store.open import open_resolved

    register_zarr()  # (bfloat16)
    root = open_resolved(str(path), None).root
    return xr.open_datatree(root, engine="zarr", consolidated=True, zarr_format=3,
                            mask_and_scale=False, chunks=chunks)


def _whole_genome_stores(tmp_path, kind):
    import pyBigWig

    from genozarr import Bioseq, Cover, set_options

    sizes = {"chr2": 3000, "chr10": 1000, "chr1": 170}  # (not in alphabetical order)
    path = str(tmp_path / f"{kind}.zarr")
    if kind == "sequence":
        rng = np.random.default_rng(3)
        fasta = tmp_path / "g.fa"
        fasta.write_text("".join(f">{c}\n{''.join(rng.choice(list('ACGTN'), n))}\n"
                                 for c, n in sizes.items()))
        return Bioseq.create_from_refgenome("s", str(fasta), store_whole_genome=True,
                                            storage="zarr", store=path)
    rng = np.random.default_rng(5)
    rows = []
    for i, cell in enumerate(["K562", "HepG2", "K562"]):
        bw = str(tmp_path / f"s{i}.bw")
        with pyBigWig.open(bw, "w") as f:
            f.addHeader(list(sizes.items()))
            for chrom, n in sizes.items():
                f.addEntries(chrom, 0, values=rng.random(n // 10).tolist(), span=10, step=10)
        rows.append({"file": bw, "condition": f"c{i}", "cell_type": cell, "replicate": i})
    roi = pd.DataFrame({"chrom": ["chr2", "chr10"], "start": [100, 0], "end": [900, 400]})
    options = {"inner_chunk_bytes": 480, "chunk_bytes": 4800} if kind == "sharded" else {}
    with set_options(**options):
        return Cover.create_from_bigwig("c", pd.DataFrame(rows), roi=roi, binsize=200,
                                        resolution=10, store_whole_genome=True,
                                        genomesize=sizes, storage="zarr", store=path,
                                        dtype="bfloat16" if kind == "bfloat16" else "float32")


@pytest.mark.parametrize("kind", ["sheet", "bfloat16", "sharded", "sequence"])
def test_whole_genome_tree_is_xarrays_zarr_reading(tmp_path, kind):
    """The genozarr engine builds a whole-genome tree from the consolidated metadata (the
    labels read once): every node equals xarray's zarr backend's reading of the same
    version (values, coordinates with the sample-sheet metadata, attributes, encoding),
    bfloat16 data widened to float32; children in the genome's order, then the windows.
    ``open_store`` has the same, as dask arrays of the stored chunks (or those asked)."""
    dataset = _whole_genome_stores(tmp_path, kind)
    path = dataset.garray.path
    chroms = list(dataset.garray.meta.chroms)
    ours = xr.open_datatree(path, engine="genozarr")
    theirs = _xarray_zarr_tree(path)
    windows = ["genozarr-windows"]
    assert list(ours.children) == chroms + windows
    assert chroms == [c for c in ("chr2", "chr10", "chr1") if c in chroms]
    assert set(theirs.children) == set(ours.children)

    def same(a, b):
        for k in b.variables:
            enc = {e: v for e, v in a[k].encoding.items() if e != "source"}
            assert enc == {e: v for e, v in b[k].encoding.items() if e != "source"}, k
        if kind == "bfloat16" and "data" in b:
            b = b.assign(data=b["data"].astype(np.float32))
        xr.testing.assert_identical(a, b)

    for name in ours.children:
        same(ours[name].to_dataset(), theirs[name].to_dataset())
    if kind == "sheet":
        assert ours["chr10"]["cell_type"].values.tolist() == ["K562", "HepG2", "K562"]
        assert ours["chr2"]["replicate"].values.tolist() == [0, 1, 2]
    # dask: the stored chunks, or those asked for along some dimensions
    for chunks in ({}, {"position": -1}):
        lazy = open_store(path, chunks=chunks)
        again = _xarray_zarr_tree(path, chunks=chunks)
        for name in lazy.children:
            same(lazy[name].to_dataset().compute(), again[name].to_dataset().compute())
            for k in again[name].data_vars:
                assert lazy[name][k].chunks == again[name][k].chunks, (name, k)
            for k in again[name].coords:  # (small: loaded, as the partial layout's are)
                assert lazy[name][k].variable._in_memory, (name, k)
    # one node, and variables left out
    node = xr.open_datatree(path, engine="genozarr", group="chr10")
    same(node.to_dataset().drop_attrs(), theirs["chr10"].to_dataset())
    dropped = xr.open_datatree(path, engine="genozarr", drop_variables=["data"])
    assert "data" not in dropped["chr2"] and list(dropped.children) == chroms + windows
    xr.testing.assert_identical(dropped["chr2"].to_dataset(),
                                theirs["chr2"].to_dataset().drop_vars("data"))


def test_arrays_opened_for_writing_from_their_metadata_files(tmp_path):
    """Build tasks make each array they write from its ``zarr.json``, parsed once per
    document but its shape, where ``zarr.open_array`` read it through zarr's event loop:
    the metadata equal zarr's own opening for arrays of other shapes, chunk shapes,
    shards and dtypes (bfloat16 too), and what is written through them reads back with
    zarr; a document that is not an array's is left to zarr."""
    from genozarr.store.dtypes import bfloat16, register_zarr
    from genozarr.store.write import _local_array

    register_zarr()
    root = zarr.open_group(str(tmp_path / "s.zarr"), mode="w", zarr_format=3)
    specs = {"a/data": ((10, 1, 2), (10, 1, 2), None, "float32"),
             "b/data": ((25, 1, 2), (10, 1, 2), None, "float32"),
             "c/data": ((7, 1, 2), (7, 1, 2), None, "float32"),
             "d/data": ((40, 2, 1), (4, 2, 1), (20, 2, 1), "float32"),
             "e/data": ((30,), (30,), None, "uint8"),
             "f/data": ((12, 1, 1), (12, 1, 1), None, "bfloat16")}
    rng = np.random.default_rng(0)
    for name, (shape, chunks, shards, dtype) in specs.items():
        root.create_array(name, shape=shape, chunks=chunks, shards=shards, dtype=dtype)
    for name, (shape, _, _, dtype) in specs.items():
        ours = _local_array(str(tmp_path / "s.zarr"), name)
        theirs = zarr.open_array(str(tmp_path / "s.zarr"), path=name, mode="r")
        assert ours.metadata == theirs.metadata and ours.shape == shape, name
        values = rng.integers(0, 9, shape).astype(np.float32 if dtype != "uint8" else dtype)
        if dtype == "bfloat16":
            values = values.astype(bfloat16())
        ours[:] = values
        np.testing.assert_array_equal(theirs[:], values)
    assert _local_array(str(tmp_path / "s.zarr"), "a") is None  # a group
    (tmp_path / "s.zarr" / "a" / "data" / "zarr.json").write_text("{not json")
    assert _local_array(str(tmp_path / "s.zarr"), "a/data") is None
    assert _local_array(str(tmp_path / "s.zarr"), "missing/data") is None


@pytest.mark.parametrize("whole", [False, True])
def test_a_store_rebuilt_in_place_gets_other_dask_names(tmp_path, whole):
    """The dask arrays of a store opened before and after a rebuild at the same path had
    the same names (the token named the path only): computed together, both gave the
    first one's values, and their data tokens were equal (audit 191). The same version
    opened twice keeps its names."""
    import dask

    from genozarr import Cover

    gi = GenomicIndexer(["chr1", "chr1"], [0, 100], [100, 200], ["+", "+"], 100, 100)
    path = str(tmp_path / "r.zarr")

    def build(value):
        Cover.create_from_array("r", np.full((2, 1, 1), value, np.float32), gi, storage="zarr",
                                store=path, overwrite=True, store_whole_genome=whole,
                                resolution=100, genomesize={"chr1": 200})
        return open_store(path)

    def data(obj):
        return obj["chr1"]["data"] if whole else obj["data"]

    old, again = build(1.0), open_store(path)
    assert data(old).data.name == data(again).data.name
    new = build(3.0)
    assert data(old).data.name != data(new).data.name
    assert old.attrs["data_token"] != new.attrs["data_token"]
    a, b = dask.compute(data(old).sum(), data(new).sum())
    assert (float(a), float(b)) == (2.0, 6.0)


def test_whole_genome_metadata_coordinates_are_each_nodes_own(tmp_path):
    """The sample-sheet metadata of a whole-genome tree are each node's own: changed in
    place in one node (open_store's, in memory, and the engine's), no other changes, and
    no error (a shared read-only array refused the edit; audit 191)."""
    ours = _whole_genome_stores(tmp_path, "sheet")
    path = ours.garray.path
    for tree in (open_store(path).compute(), xr.open_datatree(path, engine="genozarr")):
        first, second = list(tree.children)[:2]
        ds = tree[first].to_dataset()
        ds["replicate"] *= 10
        assert ds["replicate"].values.tolist() == [0, 10, 20]
        tree[first]["replicate"].values[2] = 99
        assert tree[second]["replicate"].values.tolist() == [0, 1, 2]


@pytest.mark.parametrize("kind", ["sheet", "sharded", "sequence", "bfloat16"])
def test_lazy_reads_of_local_chunks_equal_zarrs(tmp_path, kind):
    """The genozarr engine reads a local store's data chunks straight from their files
    where a selection takes a range of rows: every selection (slices with steps, negative
    steps, single rows, integer arrays, on every axis) equals zarr's own reading of the
    array; a chunk file lost since the store was written is an error naming it."""
    dataset = _whole_genome_stores(tmp_path, kind)
    path = dataset.garray.path
    tree = xr.open_datatree(path, engine="genozarr")
    theirs = _xarray_zarr_tree(path)
    rng = np.random.default_rng(1)
    for chrom in dataset.garray.meta.chroms:
        ours, zarrs = tree[chrom]["data"], theirs[chrom]["data"].astype(np.float32) \
            if kind == "bfloat16" else theirs[chrom]["data"]
        backing = ours.variable._data
        while not hasattr(backing, "direct"):
            backing = backing.array
        assert (backing.direct is None) == (kind == "bfloat16")  # (read straight, or not)
        n, last = ours.shape[0], ours.shape[-1] - 1
        for row in (-1, -n, n - 1):  # (a row counted from the end, given to the backend)
            key = (row, slice(None), slice(None))
            np.testing.assert_array_equal(backing._read(key),
                                          backing.array.get_orthogonal_selection(key))
        keys = [slice(None), slice(3, n - 2), slice(n - 1, 0, -3), slice(1, n, 7),
                slice(5, 5), 0, n - 1, rng.integers(0, n, 9)]
        for key in keys:
            for rest in ({}, {"condition": [last, 0]}, {"condition": last, "strand": 0}):
                want = zarrs.isel(position=key, **rest).values
                got = ours.isel(position=key, **rest).values
                np.testing.assert_array_equal(got, want)
                assert got.dtype == want.dtype
    # pickled (to a dask.distributed worker, say), the reader of the files is made anew
    import pickle

    chrom = next(iter(dataset.garray.meta.chroms))
    lazy = open_store(path)[chrom]["data"]
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(lazy)).values, lazy.values)
    node = tree[chrom]["data"]
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(node)).values, node.values)
    if kind == "sharded":
        from genozarr.store.open import resolve_root

        shard = next(p for p in (tmp_path / "sharded.zarr").rglob("chr2/data/c.1.*"))
        assert resolve_root(path)  # (the store's files are read in place)
        shard.unlink()
        fresh = xr.open_datatree(path, engine="genozarr")
        with pytest.raises(StoreError, match=r"chr2/data/c\.1\."):
            np.asarray(fresh["chr2"]["data"])


@pytest.mark.parametrize("shape", [(10_007, 1, 2), (5, 1, 1), (0, 2, 1), (3, 2000, 1, 3)])
def test_sparse_backend_reads_equal_the_dense_array(shape):
    """A sparse store keeps several first-axis entries per CSR row where an entry holds few
    values (a whole-genome bin): every read of rows and ranges (block edges, negative
    rows, repeats, an empty range, the last partial block) equals the dense array's, NaN
    and values at block edges included, and an index past the end is an IndexError."""
    from genozarr.store.backend import MemoryBackend, SparseBackend, _sparse_group

    rng = np.random.default_rng(7)
    values = np.where(rng.random(shape) < 0.01, rng.normal(size=shape), 0).astype(np.float32)
    if values.size:
        values.reshape(-1)[rng.integers(0, values.size, 5)] = np.nan
        values[-1] = 3.5  # (the last, partial block)
    dense, sparse = MemoryBackend({"a": values}), SparseBackend({"a": values})
    group = _sparse_group(shape)
    assert group == (1 if shape[1:] == (2000, 1, 3) else 4096 // (shape[1] * shape[2]))
    n = shape[0]
    edges = sorted({0, n, group - 1, group, group + 1, 2 * group, n - 1, max(n - group, 0)})
    for start in [e for e in edges if 0 <= e <= n]:
        for stop in [e for e in edges if start <= e <= n]:
            np.testing.assert_array_equal(sparse.read_range("a", start, stop),
                                          dense.read_range("a", start, stop))
    if n:
        rows = np.concatenate([rng.integers(0, n, 50), [0, n - 1, -1, -n, 0]])
        np.testing.assert_array_equal(sparse.read_rows("a", rows), dense.read_rows("a", rows))
        with pytest.raises(IndexError):
            sparse.read_rows("a", np.array([n]))
    assert sparse.read_rows("a", np.array([], dtype=np.int64)).shape == (0,) + shape[1:]
    assert sparse.read_rows("a", []).shape == (0,) + shape[1:]  # (a list: float when empty)


def test_whole_genome_sparse_storage_holds_what_its_values_need(tmp_path):
    """A whole-genome chromosome kept sparse was a CSR matrix of one row per bin: its row
    pointers alone cost 4 bytes a bin (40 MB for one 200 bp peak in 10 Mb, as much as
    the dense float32 array; 4x a uint8 one). Now a few kB; the values equal ndarray's."""
    from genozarr import Cover

    bed = tmp_path / "peak.bed"
    bed.write_text("chr1\t5000000\t5000200\n")
    sizes = {"chr1": 10_000_000}
    kw = {"genomesize": sizes, "store_whole_genome": True, "dtype": "uint8"}
    sparse = Cover.create_from_bed("p", str(bed), storage="sparse", **kw)
    held = sum(m.data.nbytes + m.indices.nbytes + m.indptr.nbytes
               for m in sparse.garray.backend.matrices.values())
    assert held < 20_000, held  # (dense: 10,000,000 bytes)
    dense = Cover.create_from_bed("p", str(bed), storage="ndarray", **kw)
    for key in (("chr1", 0, 300), ("chr1", 4_999_900, 5_000_300),
                ("chr1", 9_999_000, 10_000_000), ("chr1", 5_000_150, 5_004_200, "-")):
        np.testing.assert_array_equal(sparse[key], dense[key])
    assert sparse[("chr1", 4_999_900, 5_000_300)].sum() == 200
    (name,) = sparse.garray.backend.names()
    np.testing.assert_array_equal(sparse.garray.backend.read_range(name, 0, 10_000_000),
                                  dense.garray.backend.read_range(name, 0, 10_000_000))


@pytest.mark.parametrize("seed", range(6))
def test_sparse_rows_built_block_by_block_equal_the_dense_arrays(seed):
    """A sparse build puts its tasks' blocks into :class:`SparseRows` (never a dense
    array): for blocks of random extents put in random order (edges inside and across
    CSR rows, one block, none), blocks of rows in any order, NaN and -0.0 values, and
    every dtype the builds use, the matrix equals the one made from the dense array
    (same stored values, same reads)."""
    from genozarr.store.backend import SparseBackend, SparseRows, _sparse_group

    rng = np.random.default_rng(seed)
    for trial in range(40):
        shape = (int(rng.integers(0, 12_000)),) + \
            [(1, 1), (2, 1), (1, 3), (2, 2), (4, 4), (1, 16), (3, 7)][trial % 7]
        dtype = [np.float32, np.uint8, np.int16, np.float64][trial % 4]
        values = np.zeros(shape, dtype)
        hit = rng.random(shape) < rng.choice([0.0, 0.001, 0.05, 0.5])
        values[hit] = rng.integers(1, 100, int(hit.sum()))
        if dtype == np.float32:
            values[rng.random(shape) < 0.01] = np.nan
            values[rng.random(shape) < 0.01] = -0.0
        n = shape[0]
        cuts = rng.choice(np.arange(1, n), size=min(int(rng.integers(0, 20)), n - 1),
                          replace=False) if n > 1 else []
        bounds = [0, *sorted(int(c) for c in cuts), n]
        blocks = [(a, b) for a, b in itertools.pairwise(bounds) if b > a]
        as_rows = _sparse_group(shape) == 1 and trial % 3 == 0
        built = SparseRows(shape, dtype)
        for k in rng.permutation(len(blocks)):
            a, b = blocks[k]
            if as_rows:
                rows = rng.permutation(np.arange(a, b))
                built.put(rows, values[rows])
            else:
                built.put(a, values[a:b])
        got, want = SparseBackend({"x": built}), SparseBackend({"x": values})
        assert got.matrices["x"].shape == want.matrices["x"].shape
        assert got.matrices["x"].nnz == want.matrices["x"].nnz
        np.testing.assert_array_equal(got.read_range("x", 0, n), want.read_range("x", 0, n))
        np.testing.assert_array_equal(got.read_range("x", 0, n), np.where(values == 0, 0, values))


def test_sparse_rows_fallbacks_and_overlapping_blocks():
    """A fill value other than 0, or rows in any order where a CSR row holds several
    entries, keep the array dense (the values as put); two blocks over one entry (a
    build's tasks never do that) are refused, not summed."""
    from genozarr.store.backend import SparseBackend, SparseRows

    built = SparseRows((100, 1, 1), np.float32, fill=np.nan)
    built.put(10, np.ones((5, 1, 1)))
    got = SparseBackend({"x": built}).read_range("x", 0, 100)[:, 0, 0]
    assert np.isnan(got[:10]).all() and (got[10:15] == 1).all() and np.isnan(got[15:]).all()
    built = SparseRows((100, 1, 1), np.float32)
    built.put(0, np.arange(50, dtype=np.float32).reshape(50, 1, 1))
    built.put(np.array([70, 60]), np.array([7.0, 6.0]).reshape(2, 1, 1))
    want = np.zeros(100, np.float32)
    want[:50], want[70], want[60] = np.arange(50), 7, 6
    np.testing.assert_array_equal(SparseBackend({"x": built}).read_range("x", 0, 100)[:, 0, 0],
                                  want)
    for put in ([(0, 5000), (4000, 10)], [(np.arange(3), 3), (np.array([2]), 1)]):
        built = SparseRows((10_000, 1, 20), np.float32) if isinstance(put[0][0], np.ndarray) \
            else SparseRows((10_000, 1, 1), np.float32)
        for start, n in put:
            built.put(start, np.ones((n,) + built.shape[1:], np.float32))
        with pytest.raises(RuntimeError, match="two blocks put values in one entry"):
            SparseBackend({"x": built})


def test_whole_genome_sparse_build_never_holds_the_dense_array(tmp_path):
    """A whole-genome ``storage='sparse'`` build made the dense array first, and every
    task's block stayed alive until the last task ended: a peak of 1.4x the dense array
    (2.4x loading a cached store), for a 5 % covered BigWig of 48 Mb. Now the build holds the
    non-zero values and the blocks of the tasks running: the peak of numpy's allocations
    (tracemalloc) stays under half the dense array (about a third: two tasks' blocks of 8
    MB and the CSR matrix made twice), building in memory and loading a store; the dense
    build's under 1.3x (it held the blocks too). Values equal."""
    import tracemalloc

    import pyBigWig

    from genozarr import Cover
    from genozarr.config import set_options

    rng = np.random.default_rng(3)
    sizes = {"chr1": 30_000_000, "chr2": 18_000_000}
    path = str(tmp_path / "peaks.bw")
    bw = pyBigWig.open(path, "w")
    bw.addHeader(list(sizes.items()))
    for chrom, size in sizes.items():  # 5 % covered: peaks of 1 kb, 100 bp runs
        starts = np.sort(rng.choice(size // 1000, size // 20_000, replace=False)) * 1000
        runs = (starts[:, None] + np.arange(0, 1000, 100)).ravel()
        bw.addEntries([chrom] * len(runs), runs.tolist(), ends=(runs + 100).tolist(),
                      values=rng.uniform(1, 10, len(runs)).tolist())
    bw.close()
    dense_bytes = sum(sizes.values()) * 4
    kw = {"store_whole_genome": True, "resolution": 1}
    peaks = {}
    with set_options(scheduler="threads", num_workers=2):
        for storage in ("ndarray", "sparse"):
            tracemalloc.start()
            try:
                built = Cover.create_from_bigwig("c", path, storage=storage, **kw)
                peaks[storage] = tracemalloc.get_traced_memory()[1]
            finally:
                tracemalloc.stop()
            if storage == "ndarray":
                dense = built
        cached = Cover.create_from_bigwig("c", path, storage="zarr",
                                          store=tmp_path / "c.zarr", **kw)
        tracemalloc.start()
        try:
            loaded = cached.garray.to_backend("sparse")
            peaks["loaded"] = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert peaks["ndarray"] < 1.3 * dense_bytes, peaks
    assert peaks["sparse"] < dense_bytes / 2 and peaks["loaded"] < dense_bytes / 2, peaks
    bwr = pyBigWig.open(path)
    for chrom, size in sizes.items():
        want = dense.garray.dense(chrom)
        np.testing.assert_array_equal(built.garray.dense(chrom), want)
        np.testing.assert_array_equal(loaded.dense(chrom), want)
        # (the values themselves, against pyBigWig)
        np.testing.assert_allclose(want[:, 0, 0], np.nan_to_num(
            bwr.values(chrom, 0, size, numpy=True)), rtol=1e-6)
    bwr.close()


@pytest.mark.parametrize("whole", [False, True])
@pytest.mark.parametrize("dtype", ["float16", "float32"])
def test_float16_tracks_summed_past_65504(tmp_path, whole, dtype):
    """Float16 input tracks collapsed by ``'sum'`` were added and cast back to float16: a
    bin summing past 65504 became inf in the store, float32 stores too (numpy's overflow
    warning the only sign; an audit). The sums are now float32: 100 x 1000 = 100000 is
    kept exactly in a float32 store, and refused for a float16 one (the documented
    build-time error, not an infinity)."""
    from genozarr import open_dataset
    from genozarr._kernels import collapse
    from genozarr.errors import ArgumentError

    track = np.full((10_000, 1, 1), 1000.0, dtype=np.float16)
    summed = collapse(track, 100, "sum")
    assert summed.dtype == np.float32 and (summed == 100_000).all()
    assert (collapse(track, 100, np.sum) == 100_000).all()  # (a callable too)
    assert (collapse(track, 100, "max") == 1000).all() and collapse(track, 100, "max").dtype \
        == np.float16
    roi = pd.DataFrame({"chrom": ["chr1"], "start": [0], "end": [10_000]})
    gi = GenomicIndexer.create_from_file(roi, binsize=1000, stepsize=1000)
    path = tmp_path / "s.zarr"

    def built():
        return build_store(ArraySource("mem", {"chr1": track}, ["x"], ["."], dtype=dtype), gi,
                           name="s", whole_genome=whole, resolution=100,
                           chroms={"chr1": 10_000}, storage="zarr", path=str(path),
                           cache_key="k")

    if dtype == "float16":
        with pytest.raises(ArgumentError, match=r"holds 100000, past the largest float16"):
            built()
        assert not path.exists()
    else:
        built()
        served = np.asarray(open_dataset(path)[:])
        assert served.dtype == np.float32 and served.size and (served == 100_000).all()


@pytest.mark.parametrize("storage", ["ndarray", "sparse", "zarr"])
def test_region_table_cannot_be_edited_in_place(tmp_path, storage):
    """A store's ``region_table`` arrays were writable: shifting them in place
    (``t["start"] += 50``) or replacing them changed interval reads (built from them once)
    but not index reads, silently (an audit). A read-only mapping of read-only views now,
    as a GenomicIndexer's arrays are; the reads stay those of the windows built."""
    from genozarr import Cover

    roi = pd.DataFrame({"chrom": ["chr1", "chr1"], "start": [0, 1000], "end": [600, 1600]})
    gi = GenomicIndexer.create_from_file(roi, binsize=200, stepsize=200)
    values = np.arange(len(gi) * 200, dtype=np.float32).reshape(len(gi), 200, 1, 1)
    kw = {"store": tmp_path / "c.zarr"} if storage == "zarr" else {}
    cover = Cover.create_from_array("c", values, gi, storage=storage, **kw)
    table = cover.garray.region_table
    for key in ("start", "end"):
        with pytest.raises(ValueError, match="read-only"):
            table[key][:] += 50
        with pytest.raises(TypeError):  # (nor a column replaced: a read-only mapping)
            table[key] = table[key] + 50
    np.testing.assert_array_equal(cover["chr1", 1000, 1200][0, :, 0, 0], values[3, :, 0, 0])
    # still a dict for reading: a DataFrame of the rows, copies to change
    frame = pd.DataFrame(table)
    assert list(frame.columns[:4]) == ["chrom", "start", "end", "strand"]
    assert frame["start"].tolist() == gi.to_dataframe()["start"].tolist()
    mine = table.copy()
    mine["start"] = mine["start"] + 50  # (a plain dict)
    with pytest.raises(TypeError, match=r"to change a copy: \{key: np\.array\(values\)"):
        table["start"] = mine["start"]
    mine = {key: np.array(values) for key, values in table.items()}  # (as the error says)
    mine["start"][:] += 50
    # a table set whole (of the same rows) is kept read-only, its lookups built anew
    cover.garray.region_table = {**table, "chrom": np.asarray(table["chrom"], dtype=str)}
    with pytest.raises(ValueError, match="read-only"):
        cover.garray.region_table["end"][:] = 0
    np.testing.assert_array_equal(cover["chr1", 1000, 1200][0, :, 0, 0], values[3, :, 0, 0])
