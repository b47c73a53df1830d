"""Serving choices: sharded stores (small inner chunks), storage choices that trade bytes
for speed (float16, lz4, no compression), the in-memory decoded-chunk cache, and remote
stores read with many requests in flight. Values are compared with numpy on the arrays
written, and with plain zarr reading the same store."""

from __future__ import annotations

import errno
import os
import threading

import numpy as np
import pandas as pd
import pytest
import zarr

from genozarr import Cover, GenomicIndexer, batches, open_dataset, set_options
from genozarr.batching import batch_plan
from genozarr.errors import ArgumentError, StoreError
from genozarr.store._direct import DirectChunks

N, L, C = 203, 50, 3  # windows (not a multiple of any chunk), bins, conditions


def _gi(n: int = N) -> GenomicIndexer:
    return GenomicIndexer(np.full(n, "chr1", dtype=object), np.arange(n) * L,
                          np.arange(n) * L + L, np.full(n, "+", dtype=object), L, L)


@pytest.fixture(scope="module")
def values() -> np.ndarray:
    rng = np.random.default_rng(7)
    x = rng.poisson(2.0, size=(N, L, 1, C)).astype(np.float32)
    x[40:90] = 0  # whole inner chunks of zeros: not stored
    return x


def _cover(values, path, **options) -> Cover:
    with set_options(**options):
        return Cover.create_from_array("c", values, _gi(), storage="zarr", store=str(path))


@pytest.mark.parametrize("inner", [600, 2400, 10_000])
def test_sharded_store_serves_the_written_values(values, tmp_path, inner):
    # rows of 600 bytes: inner chunks of 1, 4 and 16 rows in shards of 48 rows
    cover = _cover(values, tmp_path / "s.zarr", inner_chunk_bytes=inner, chunk_bytes=48 * 600)
    arr = cover.garray.backend.array("data")
    assert arr.chunks[0] == max(1, inner // 600) and arr.shards[0] == 48
    assert cover.chunk_rows == arr.chunks[0]
    rng = np.random.default_rng(0)
    order = rng.permutation(N)
    np.testing.assert_array_equal(cover[order[:64]], values[order[:64]])
    np.testing.assert_array_equal(cover[:], values)
    # zarr's own sharding codec reads what the direct writer wrote
    np.testing.assert_array_equal(zarr.open_array(str(tmp_path / "s.zarr"), path="data",
                                                  mode="r")[:], values)
    # an epoch of fully random batches visits every window once, with the right values
    seen = []
    for (b,) in batches(cover, batch_size=17, shuffle=True, seed=3, block_size=1):
        seen.append(b)
    got = np.concatenate(seen)
    assert got.shape == values.shape
    key = lambda a: a.reshape(len(a), -1).tobytes()  # noqa: E731
    assert sorted(key(r[None]) for r in got) == sorted(key(r[None]) for r in values)
    again = open_dataset(tmp_path / "s.zarr")
    np.testing.assert_array_equal(again[order[:10]], values[order[:10]])


def test_direct_reader_reads_shards_written_by_zarr(values, tmp_path):
    from zarr.codecs import BloscCodec

    arr = zarr.create_array(str(tmp_path / "z.zarr"), shape=values.shape,
                            chunks=(4,) + values.shape[1:], shards=(16,) + values.shape[1:],
                            dtype="float32", fill_value=0,
                            compressors=[BloscCodec(cname="zstd", clevel=1, shuffle="shuffle")])
    arr[:] = values
    direct = DirectChunks.for_array(arr)
    assert direct is not None and direct.per_shard == 4
    for index in range(-(-N // 4)):
        block = direct.read(index)
        want = values[index * 4:index * 4 + 4]
        np.testing.assert_array_equal(block[:len(want)], want)


def test_whole_genome_sharded_store(tmp_path, sample_files):
    import pyBigWig

    # windows of 10 bins across inner chunks of 16 (at least a window's bins: 10)
    kw = dict(roi=sample_files["roi"], binsize=100, resolution=10, storage="zarr",
              store_whole_genome=True, genomesize=sample_files["chrom_sizes"])
    with set_options(inner_chunk_bytes=64, chunk_bytes=4096):  # 16 bins per inner chunk
        cover = Cover.create_from_bigwig("wg", sample_files["bigwig_a"], **kw)
    chrom = str(cover.gindexer.chrs[0])
    arr = cover.garray.backend.array(cover.garray.meta.array_path(chrom))
    assert arr.chunks[0] == 16 and arr.shards[0] == 1024
    bw = pyBigWig.open(sample_files["bigwig_a"])
    gi = cover.gindexer
    order = np.random.default_rng(2).permutation(len(gi))[:20]
    for i, row in zip(order, cover.read_genomic(order)):  # plus-strand orientation
        raw = np.nan_to_num(np.asarray(bw.values(gi.chrs[i], int(gi.starts[i]),
                                                 int(gi.ends[i])), dtype=np.float32))
        np.testing.assert_allclose(row[:, 0, 0], raw.reshape(-1, 10).mean(1), rtol=1e-6)


@pytest.mark.parametrize("inner", [1, 64, 400])
def test_whole_genome_inner_chunks_hold_at_least_a_window(tmp_path, sample_files, inner):
    """inner_chunk_bytes=1 made a whole-genome store of one bin per inner chunk (millions
    per shard, built and read at about 20 us per base); an inner chunk holds at least one
    window's bins (here 200 bp at resolution 10: 20 bins), more where the bytes say so.
    The values are pyBigWig's, as from the default layout."""
    import pyBigWig

    kw = {"roi": sample_files["roi"], "binsize": 200, "resolution": 10, "storage": "zarr",
          "store_whole_genome": True, "genomesize": sample_files["chrom_sizes"]}
    with set_options(inner_chunk_bytes=inner, chunk_bytes=4096):
        cover = Cover.create_from_bigwig("wg", sample_files["bigwig_a"],
                                         store=str(tmp_path / "s.zarr"), **kw)
    default = Cover.create_from_bigwig("wg", sample_files["bigwig_a"], **kw,
                                       store=str(tmp_path / "d.zarr"))
    for chrom in cover.garray.meta.chroms:
        arr = cover.garray.backend.array(cover.garray.meta.array_path(chrom))
        assert arr.chunks[0] == max(20, inner // 4)
    np.testing.assert_array_equal(cover[:], default[:])
    gi = cover.gindexer
    order = np.random.default_rng(1).permutation(len(gi))[:10]
    with pyBigWig.open(sample_files["bigwig_a"]) as bw:
        for i, row in zip(order, cover.read_genomic(order)):  # plus-strand orientation
            raw = np.nan_to_num(np.asarray(bw.values(gi.chrs[i], int(gi.starts[i]),
                                                     int(gi.ends[i])), dtype=np.float32))
            np.testing.assert_allclose(row[:, 0, 0], raw.reshape(-1, 10).mean(1), rtol=1e-6)


@pytest.mark.parametrize("shard_chunks", [8, 3, 1])
def test_whole_genome_chromosomes_are_shards_of_chunks(tmp_path, sample_files, shard_chunks):
    """By default a whole-genome chromosome keeps up to 8 chunks per file (a zarr v3 shard
    of them; a one-chunk chromosome is not sharded, shard_chunks=1 never shards); the files
    are one per shard, and the values are pyBigWig's, read by genozarr and by plain zarr."""
    import glob

    import pyBigWig

    from genozarr.config import layout_choices

    sizes = {"chr1": 30_000, "chr2": 20_000}  # the sample files' chromosomes
    kw = dict(roi=sample_files["roi"], binsize=200, resolution=1, storage="zarr",
              store_whole_genome=True, genomesize=sizes)
    with set_options(chunk_bytes=8000, shard_chunks=shard_chunks):  # 2,000 bins per chunk
        cover = Cover.create_from_bigwig("wg", sample_files["bigwig_a"], **kw)
        assert ("shard_chunks" in layout_choices()) == (shard_chunks != 8)  # in the cache key
    files = 0
    for chrom, length in sizes.items():
        arr = cover.garray.backend.array(cover.garray.meta.array_path(chrom))
        per = min(shard_chunks, -(-length // 2000))
        assert arr.chunks[0] == 2000
        assert arr.shards == (None if per == 1 else (2000 * per, 1, 1))
        n_files = len(glob.glob(f"{cover.garray.path}/{chrom}/data/c.*"))
        assert n_files == -(-length // (2000 * per))  # the sample BigWig covers every chunk
        files += n_files
        want = np.nan_to_num(np.asarray(pyBigWig.open(sample_files["bigwig_a"]).values(
            chrom, 0, length), dtype=np.float32))
        np.testing.assert_array_equal(arr[:, 0, 0], want)
        np.testing.assert_array_equal(cover.garray.read_bins(chrom, 0, length)[:, 0, 0], want)
    assert files == {8: 2 + 2, 3: 5 + 4, 1: 15 + 10}[shard_chunks]  # chr1: 15 chunks, chr2: 10


@pytest.mark.parametrize("damage", ["truncate", "index"])
def test_damaged_shard_is_named(values, tmp_path, damage):
    cover = _cover(values, tmp_path / "d.zarr", inner_chunk_bytes=2400, chunk_bytes=48 * 600)
    shard = tmp_path / "d.zarr" / "data" / "c.0.0.0.0"
    raw = shard.read_bytes()
    if damage == "truncate":
        shard.write_bytes(raw[:10])
    else:  # flip a byte of the index: its checksum no longer matches
        raw = bytearray(raw)
        raw[-10] ^= 0xFF
        shard.write_bytes(bytes(raw))
    again = open_dataset(tmp_path / "d.zarr")
    with pytest.raises(StoreError, match=r"c\.0\.0\.0\.0.*damaged"):
        again[:4]
    del cover


@pytest.mark.parametrize("choice", [dict(compressor="lz4"), dict(compressor=None),
                                    dict(compressor="zstd", compression_level=5)])
def test_codec_choices_round_trip_exactly(values, tmp_path, choice):
    cover = _cover(values, tmp_path / "c.zarr", **choice)
    codecs = zarr.open_array(str(tmp_path / "c.zarr"), path="data", mode="r").metadata.codecs
    names = [type(c).__name__ for c in codecs]
    assert names == (["BytesCodec"] if choice["compressor"] is None
                     else ["BytesCodec", "BloscCodec"])
    np.testing.assert_array_equal(open_dataset(tmp_path / "c.zarr")[:], values)
    del cover


def test_sequence_codes_are_bit_shuffled_coverage_byte_shuffled(tmp_path, sample_files):
    """1-byte sequence codes: Blosc's bit shuffle; float32 coverage: its byte shuffle. Each
    stored chunk is exactly what numcodecs' Blosc writes for those values with that
    shuffle."""
    from numcodecs import Blosc

    from genozarr import Bioseq

    seq = Bioseq.create_from_refgenome("s", sample_files["fasta"], roi=sample_files["roi"],
                                       binsize=200, storage="zarr", store=tmp_path / "s.zarr")
    cover = _cover(np.ascontiguousarray(np.random.default_rng(1).poisson(
        3.0, size=(N, L, 1, C)).astype(np.float32)), tmp_path / "c.zarr")
    for ds, path, shuffle in ((seq, "s.zarr", Blosc.BITSHUFFLE), (cover, "c.zarr", Blosc.SHUFFLE)):
        arr = zarr.open_array(str(tmp_path / path), path="data", mode="r")
        codec = arr.metadata.codecs[1]
        assert str(getattr(codec.shuffle, "value", codec.shuffle)) == (
            "bitshuffle" if shuffle == Blosc.BITSHUFFLE else "shuffle")
        rows = arr.chunks[0]
        first = np.ascontiguousarray(arr[:rows])
        assert first.any()
        want = Blosc(cname="zstd", clevel=1, shuffle=shuffle,
                     blocksize=codec.blocksize).encode(first)
        got = (tmp_path / path / "data" / ("c" + ".0" * arr.ndim)).read_bytes()
        assert got == want
        np.testing.assert_array_equal(open_dataset(tmp_path / path).garray.dense(), arr[:])


@pytest.mark.parametrize("resolution, shuffle", [(1, "noshuffle"), (10, "shuffle")])
def test_per_base_coverage_is_stored_unshuffled(tmp_path, sample_files, resolution, shuffle):
    """Per-base coverage read from files (runs of equal values) is compressed without
    Blosc's byte shuffle, collapsed coverage with it. Each stored chunk is exactly what
    numcodecs' Blosc writes for those values with that shuffle, and the store serves
    pyBigWig's values (means over the bins at 10 bp)."""
    import pyBigWig
    from numcodecs import Blosc

    path = tmp_path / "w.zarr"
    cover = Cover.create_from_bigwig("w", sample_files["bigwig_a"], resolution=resolution,
                                     store_whole_genome=True, storage="zarr", store=path)
    with pyBigWig.open(str(sample_files["bigwig_a"])) as bw:
        sizes = bw.chroms()
        for chrom, length in sizes.items():
            arr = zarr.open_array(str(path), path=f"{chrom}/data", mode="r")
            codec = arr.metadata.codecs[1]
            assert str(getattr(codec.shuffle, "value", codec.shuffle)) == shuffle
            raw = np.nan_to_num(bw.values(chrom, 0, length, numpy=True)).astype(np.float32)
            nbins = -(-length // resolution)
            padded = np.zeros(nbins * resolution, np.float32)
            padded[:length] = raw
            want = padded.reshape(nbins, resolution).mean(1)
            np.testing.assert_allclose(arr[:, 0, 0], want, rtol=1e-6)
            rows = arr.chunks[0]
            first = np.ascontiguousarray(arr[:rows])
            if not first.any():
                continue
            encoded = Blosc(cname="zstd", clevel=1, shuffle=getattr(Blosc, shuffle.upper()),
                            blocksize=codec.blocksize).encode(first)
            assert (path / chrom / "data" / "c.0.0.0").read_bytes() == encoded
    np.testing.assert_allclose(cover.garray.read_bins(chrom, 0, nbins)[:, 0, 0], want,
                               rtol=1e-6)


def test_float16_round_trips_within_its_precision(tmp_path, sample_files):
    import pyBigWig

    kw = dict(roi=sample_files["roi"], binsize=200, resolution=1, storage="zarr")
    full = Cover.create_from_bigwig("f32", sample_files["bigwig_a"], **kw)
    half = Cover.create_from_bigwig("f16", sample_files["bigwig_a"], dtype="float16", **kw)
    assert half.garray.backend.array("data").dtype == np.float16
    # independent values: pyBigWig over the windows
    bw = pyBigWig.open(sample_files["bigwig_a"])
    gi = full.gindexer
    want = np.stack([np.nan_to_num(np.asarray(bw.values(c, s, e), dtype=np.float32))
                     for c, s, e in zip(gi.chrs, gi.starts, gi.ends)])
    idx = np.arange(len(gi))
    np.testing.assert_array_equal(full.read_genomic(idx)[:, :, 0, 0], want)
    got = open_dataset(half.garray.path).read_genomic(idx)[:, :, 0, 0]
    np.testing.assert_allclose(got, want, rtol=2**-11, atol=2**-24)
    assert np.array_equal(got, want.astype(np.float16).astype(got.dtype))


def _bigwig_with(path, value: float) -> str:
    import pyBigWig

    with pyBigWig.open(str(path), "w") as bw:
        bw.addHeader([("chr1", 4000)])
        bw.addEntries(["chr1", "chr1"], [0, 1000], ends=[1000, 1010], values=[1.5, value])
    return str(path)


@pytest.mark.parametrize(("storage", "whole"), [("ndarray", False), ("zarr", False),
                                                ("zarr", True)])
def test_values_past_float16_are_an_error_not_infinity(tmp_path, storage, whole):
    roi = pd.DataFrame({"chrom": ["chr1"], "start": [0], "end": [2000]})
    kw = dict(roi=roi, binsize=500, storage=storage, store_whole_genome=whole,
              genomesize={"chr1": 4000}, dtype="float16")
    store = tmp_path / "big.zarr"
    path = _bigwig_with(tmp_path / "big.bw", 70_000.0)
    with pytest.raises(ArgumentError, match=r"big\.bw at chr1:.*holds 70000, past the "
                                            r"largest float16 \(65504\)"):
        Cover.create_from_bigwig("f16", path, store=str(store), **kw)
    if storage == "zarr":  # nothing a later open would take for a store
        with pytest.raises((StoreError, FileNotFoundError)):
            open_dataset(store)
    # the largest float16 (65504) and values rounded to float16 are fine
    ok = Cover.create_from_bigwig("f16", _bigwig_with(tmp_path / "ok.bw", 65_504.0),
                                  store=str(tmp_path / "ok.zarr"), **kw)
    got = ok[2][0, :, 0, 0]
    np.testing.assert_array_equal(got[:10], np.full(10, 65_504, np.float16))
    np.testing.assert_array_equal(ok[1][0, 490:500, 0, 0], np.full(10, 1.5, np.float16))


def test_sparse_storage_refuses_float16(sample_files):
    with pytest.raises(ArgumentError, match="storage='sparse' cannot hold float16"):
        Cover.create_from_bigwig("s", sample_files["bigwig_a"], roi="chr1:0-1000",
                                 binsize=100, storage="sparse", dtype="float16")


def test_cast_to_a_narrower_dtype():
    from genozarr.ingest import _cast

    class Src:
        files = ("in.bw",)

    # 65519 rounds to 65504; infinities of the input stay infinities
    x = np.array([0.5, -3.0, 65_519.0, -65_504.0, np.inf, -np.inf, np.nan], np.float32)
    np.testing.assert_array_equal(_cast(x, "float16", Src(), "chr1:0-6"), x.astype(np.float16))
    assert _cast(x, "float16", Src(), "x")[2] == 65_504
    for values, dtype, says in [
        (np.array([1.0, 70_000.0, np.inf], np.float32), "float16", "holds 70000"),
        (np.array([1.0, -65_520.0], np.float32), "float16", "holds -65520"),
        (np.array([1.0, 1e300], np.float64), "float32", "holds 1e\\+300"),
        (np.array([1, 70_000], np.int32), "float16", "holds 70000"),
        (np.array([1.0, np.nan], np.float32), "int16", "holds NaN"),
        (np.array([3, -1], np.int32), "uint8", "holds -1"),
        (np.array([3, 256], np.int32), "uint8", "holds 256"),
        (np.array([40_000.0], np.float32), "int16", "holds 40000"),
    ]:
        with pytest.raises(ArgumentError, match=f"{dtype}.*in.bw at chr1:0-6 {says}"):
            _cast(values, dtype, Src(), "chr1:0-6")
    counts = np.array([0, 255, 7], np.int32)
    assert _cast(counts, "uint8", Src(), "x").tolist() == [0, 255, 7]
    same = np.zeros(3, np.float32)
    assert _cast(same, "float32", Src(), "x") is same


@pytest.mark.parametrize("shuffled", [False, True])
@pytest.mark.parametrize("storage", ["ndarray", "zarr"])
def test_a_value_past_the_dtype_names_its_window(tmp_path, shuffled, storage):
    """A value the store's dtype cannot hold names the window it lies in and that window's
    row, in sorted and shuffled ROIs (a shuffled ROI's task, read in genomic order, named
    three windows that were not it), whatever the task's windows."""
    from genozarr import set_options
    from genozarr.testing.simulate import write_bigwig

    sizes = {"chr1": 20_000, "chr2": 10_000}
    v1 = np.ones(20_000)
    v1[15_050] = 1000.0
    bw = write_bigwig(tmp_path / "big.bw", {"chr1": v1, "chr2": np.ones(10_000)}, sizes)
    roi = pd.DataFrame({"chrom": ["chr1"] * 199 + ["chr2"] * 99,
                        "start": np.r_[np.arange(0, 19_900, 100), np.arange(0, 9_900, 100)]})
    roi["end"] = roi["start"] + 100
    if shuffled:
        roi = roi.sample(frac=1, random_state=2, ignore_index=True)
    row = int(np.flatnonzero((roi["chrom"] == "chr1") & (roi["start"] == 15_000))[0])
    more = {"store": str(tmp_path / "s.zarr")} if storage == "zarr" else {}
    with set_options(chunk_bytes=4096, scheduler="sync"), pytest.raises(
            ArgumentError, match=rf"dtype='uint8': the data of .*big.bw at "
                                 rf"chr1:15000-15100 \(window {row}\) holds 1000"):
        Cover.create_from_bigwig("x", bw, roi=roi, binsize=100, dtype="uint8",
                                 storage=storage, **more)
    if more:  # nothing a later open could take for a store
        with pytest.raises(StoreError):
            open_dataset(more["store"])


def test_memory_cache_decodes_each_chunk_once(values, tmp_path):
    _cover(values, tmp_path / "m.zarr", chunk_bytes=16 * 600)
    cover = open_dataset(tmp_path / "m.zarr", cache="memory")
    cache = cover.garray.backend.cache
    first = np.concatenate([b for (b,) in batches(cover, batch_size=32, shuffle=True, seed=0)])
    misses = cache.misses
    assert misses == -(-N // 16)  # every chunk decoded once, none twice
    second = np.concatenate([b for (b,) in batches(cover, batch_size=32, shuffle=True, seed=1)])
    assert cache.misses == misses  # the second epoch decodes nothing
    assert first.shape == second.shape == values.shape
    # every chunk decoded into one array: any order is one numpy indexing of it
    rng = np.random.default_rng(5)
    for idx in (rng.permutation(N)[:40], np.arange(N)[::-1], np.array([N - 1, 0, 0, 7])):
        np.testing.assert_array_equal(cover[idx], values[idx])
    np.testing.assert_array_equal(cover[3:N - 2], values[3:N - 2])
    assert cache.misses == misses
    import pickle

    clone = pickle.loads(pickle.dumps(cover))  # as a DataLoader worker gets it
    assert clone.garray.backend.resident
    np.testing.assert_array_equal(clone[idx], values[idx])
    # a small cache evicts: the same epoch decodes again
    small = open_dataset(tmp_path / "m.zarr", cache=16 * 600)
    for _ in batches(small, batch_size=32):
        pass
    before = small.garray.backend.cache.misses
    for _ in batches(small, batch_size=32):
        pass
    assert small.garray.backend.cache.misses > before
    with pytest.raises(ArgumentError, match="cache must be"):
        open_dataset(tmp_path / "m.zarr", cache="disk")


def _decoded_bytes(path) -> int:
    """Decoded size of the data arrays of a store (``data``, or each chromosome's), from
    zarr's own metadata: what a store kept decoded in memory holds."""
    group = zarr.open_group(str(path), mode="r")
    return sum(int(np.prod(a.shape, dtype=np.int64)) * a.dtype.itemsize
               for key, a in group.members(max_depth=None)
               if isinstance(a, zarr.Array) and key.rpartition("/")[2] == "data")


def test_auto_keeps_a_whole_genome_store_in_memory(tmp_path):
    """cache='auto' sizes a whole-genome store by its chromosomes' data arrays (it counted
    the root group's arrays: none, so such a store was never kept decoded in memory): one
    that fits is kept, each chunk decoded once; one byte short, the chunk cache serves."""
    import gc

    from genozarr.store.backend import memory_in_use
    from genozarr.testing.simulate import write_bigwig

    rng = np.random.default_rng(4)
    sizes = {"chr1": 3000, "chr2": 1700}
    tracks = [{c: rng.random(n).astype("float32") for c, n in sizes.items()} for _ in "ab"]
    files = [write_bigwig(tmp_path / f"{k}.bw", t, sizes) for k, t in enumerate(tracks)]
    values = {c: np.stack([t[c] for t in tracks], axis=-1)[:, None, :] for c in sizes}
    with set_options(chunk_bytes=4096, progress=False):
        Cover.create_from_bigwig("wg", files, conditions=["a", "b"], binsize=100,
                                 resolution=1, store_whole_genome=True, storage="zarr",
                                 store=str(tmp_path / "wg.zarr"))
    size = _decoded_bytes(tmp_path / "wg.zarr")
    assert size == sum(v.nbytes for v in values.values())
    gc.collect()
    used = memory_in_use()
    with set_options(memory_cache_bytes=used + size):
        cover = open_dataset(tmp_path / "wg.zarr")
        backend = cover.garray.backend
        assert backend.resident and backend.cache.max_bytes == 0
        for chrom, v in values.items():
            np.testing.assert_array_equal(backend.read_range(f"{chrom}/data", 0, len(v)), v)
        misses = backend.cache.misses
        np.testing.assert_array_equal(cover["chr2", 100, 600][0], values["chr2"][100:600])
        assert backend.cache.misses == misses  # nothing decoded again
        backend.release_memory()
    with set_options(memory_cache_bytes=used + size - 1):
        assert not open_dataset(tmp_path / "wg.zarr").garray.backend.resident


def test_memory_budget_follows_a_cgroup_limit(tmp_path, monkeypatch):
    """A container's memory limit (cgroup v2 or v1, set on the process's group or on one of
    its parents) caps the default budget: a quarter of the lowest limit, not of the
    machine's physical memory."""
    from genozarr.store import backend

    physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    v2, v1 = tmp_path / "v2", tmp_path / "v1"
    (v2 / "a" / "b").mkdir(parents=True)
    (v1 / "x" / "y").mkdir(parents=True)
    (v2 / "memory.max").write_text("max\n")  # the root: no limit
    (v2 / "a" / "memory.max").write_text(f"{physical // 3}\n")  # a parent's limit
    (v2 / "a" / "b" / "memory.max").write_text("max\n")
    (v1 / "x" / "y" / "memory.limit_in_bytes").write_text("9223372036854771712\n")
    table = tmp_path / "cgroup"
    table.write_text("4:memory:/x/y\n1:cpu:/\n0::/a/b\n")
    monkeypatch.setattr(backend, "_PROC_CGROUP", str(table))
    monkeypatch.setattr(backend, "_CGROUP_LIMITS", ((str(v2), "memory.max"),
                                                    (str(v1), "memory.limit_in_bytes")))
    with set_options(memory_cache_bytes=None):
        assert backend.usable_memory() <= physical // 3
        assert backend.memory_budget() == backend.usable_memory() // 4
        (v1 / "x" / "y" / "memory.limit_in_bytes").write_text(f"{physical // 5}\n")
        assert backend.usable_memory() <= physical // 5
        (v1 / "x" / "y" / "memory.limit_in_bytes").write_text("9223372036854771712\n")
        (v2 / "a" / "memory.max").write_text("max\n")
        assert backend.usable_memory() <= physical  # no limit left: physical memory (or
        assert backend.usable_memory() > physical // 5  # a ulimit, not set here)


def test_memory_budget_follows_ulimit_v(tmp_path):
    """Under ``ulimit -v`` the default budget is a quarter of the room left beside what the
    process already maps, so a store decoded in memory cannot fail its allocation."""
    import subprocess
    import sys

    code = ("import resource, sys\n"
            "from genozarr.store.backend import memory_budget, _vm_bytes\n"
            "resource.setrlimit(resource.RLIMIT_AS, (3 << 30, resource.RLIM_INFINITY))\n"
            "room = (3 << 30) - _vm_bytes('VmSize')\n"
            "b = memory_budget()\n"
            "assert 0 < b <= room // 4, (b, room)\n"
            "print(b)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
                         check=False)
    assert out.returncode == 0, out.stderr
    assert int(out.stdout) < (3 << 30) // 4


def test_auto_keeps_a_store_that_fits_decoded_in_memory(values, tmp_path):
    import gc

    from genozarr.store.backend import memory_budget, memory_in_use, share_cores

    _cover(values, tmp_path / "a.zarr", chunk_bytes=16 * 600)
    size = _decoded_bytes(tmp_path / "a.zarr")
    assert size >= values.nbytes
    chunks = -(-N // 16)
    gc.collect()  # what is left is claimed by stores other tests still hold open
    used = memory_in_use()
    with set_options(memory_cache_bytes=used + size):
        assert memory_budget() == used + size
        cover = open_dataset(tmp_path / "a.zarr")  # cache='auto'
        backend = cover.garray.backend
        assert backend.resident and backend.cache.max_bytes == 0
        first = np.concatenate([b for (b,) in batches(cover, batch_size=32, shuffle=True,
                                                      block_size=1, seed=0)])
        assert backend.cache.misses == chunks  # each chunk decoded once, in random order
        rng = np.random.default_rng(2)
        for idx in (rng.permutation(N), np.arange(N)[::-1]):
            np.testing.assert_array_equal(cover[idx], values[idx])
        assert backend.cache.misses == chunks  # nothing decoded again
        assert sorted(r.tobytes() for r in first) == sorted(r.tobytes() for r in values)
        # None keeps the chunk cache only, whatever the budget
        lru = open_dataset(tmp_path / "a.zarr", cache=None).garray.backend
        assert not lru.resident and lru.cache.max_bytes == 256 * 2**20
        # N processes serving side by side share the budget: size > size // 2
        share_cores(2)
        try:
            assert memory_budget() == (used + size) // 2
            assert not open_dataset(tmp_path / "a.zarr").garray.backend.resident
        finally:
            share_cores(1)
    with set_options(memory_cache_bytes=used + size - 1):  # one byte short: the chunk cache
        cover.garray.backend.release_memory()  # (the first store's claim given back)
        assert memory_in_use() == used
        cover = open_dataset(tmp_path / "a.zarr")
        assert not cover.garray.backend.resident
        idx = rng.permutation(N)[:50]
        np.testing.assert_array_equal(cover[idx], values[idx])
    import pickle

    with set_options(memory_cache_bytes=0):  # a clone decides again in its own process
        clone = pickle.loads(pickle.dumps(open_dataset(tmp_path / "a.zarr")))
        assert clone.garray.backend.resident_mode == "auto"
        assert not clone.garray.backend.resident


def test_stores_kept_in_memory_share_one_budget(values, tmp_path):
    """Automatic residency claims bytes of one per-process budget: a second store that
    does not fit beside the first uses the chunk cache; the first one's release (or its
    collection) gives the bytes back."""
    import gc

    from genozarr.store.backend import memory_in_use

    for name in ("a", "b", "c"):
        _cover(values, tmp_path / f"{name}.zarr", chunk_bytes=16 * 600)
    size = _decoded_bytes(tmp_path / "a.zarr")
    gc.collect()  # what is left is claimed by stores other tests still hold open
    used = memory_in_use()
    with set_options(memory_cache_bytes=used + size * 3 // 2):
        a, b = open_dataset(tmp_path / "a.zarr"), open_dataset(tmp_path / "b.zarr")
        assert a.garray.backend.resident and not b.garray.backend.resident
        np.testing.assert_array_equal(b[:], values)  # served through the chunk cache
        a.garray.backend.release_memory()  # its bytes go back to the budget
        c = open_dataset(tmp_path / "c.zarr")
        assert c.garray.backend.resident
        np.testing.assert_array_equal(a[:], values)  # a decides again: c holds the budget
        assert not a.garray.backend.resident
        assert a.garray.backend.cache.max_bytes == 256 * 2**20  # its chunk cache is back
        del c
        gc.collect()  # a collected store gives its bytes back too
        assert open_dataset(tmp_path / "b.zarr").garray.backend.resident


@pytest.mark.parametrize("threads", [1, 2])
def test_a_random_read_holds_no_more_decoded_chunks_than_the_cache(tmp_path, threads):
    """A read touching many chunks decodes them a window at a time, and a window holds no
    more than the chunk cache does (``chunk_cache_bytes``): a random batch of 64 rows from
    64 chunks held all 64 decoded (8 MiB of 128 KiB chunks against a cache of 512 KiB;
    of 2 MiB chunks, 128 MiB whatever the cache). Values as stored."""
    import tracemalloc

    rows, width = 64 * 32, 1024  # chunks of 32 rows of 4 KiB: 128 KiB each
    data = np.random.default_rng(3).integers(0, 4, (rows, width, 1, 1)).astype(np.float32)
    starts = np.arange(rows) * width
    gi = GenomicIndexer(np.full(rows, "chr1", dtype=object), starts, starts + width,
                        np.full(rows, "+", dtype=object), width, width)
    with set_options(chunk_bytes=32 * width * 4):
        Cover.create_from_array("c", data, gi, storage="zarr", store=str(tmp_path / "c.zarr"))
    chunk = 32 * width * 4
    pick = np.sort(np.random.default_rng(4).permutation(rows).reshape(64, 32)[:, 0])
    with set_options(chunk_cache_bytes=4 * chunk, decode_threads=threads):
        ds = open_dataset(tmp_path / "c.zarr", cache=None)
        assert ds.garray.backend.chunk_len("data") == 32
        ds[:1]  # (the store opened, its first chunk cached)
        tracemalloc.start()
        got = ds[pick]
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    np.testing.assert_array_equal(got, data[pick])
    # the batch, the cache's chunks and one window of as many (the compressed bytes of a
    # window read before it is decoded add less than a window)
    assert peak < got.nbytes + 3 * 4 * chunk, (peak / chunk, got.nbytes / chunk)


def test_a_seed_serves_one_order_resident_or_not(values, tmp_path):
    """The shuffled order depends on the configured chunk cache, never on whether the store
    was kept in memory (which depends on the machine's memory)."""
    _cover(values, tmp_path / "o.zarr", chunk_bytes=16 * 600)
    orders = []
    for cache in ("memory", None):
        with set_options(chunk_cache_bytes=16 * 600 * 4):  # a cache of 4 chunks: 2 per buffer
            cover = open_dataset(tmp_path / "o.zarr", cache=cache)
            orders.append([idx for _, idx in batches(cover, np.arange(N), batch_size=16,
                                                     shuffle=True, seed=9)])
    assert len(orders[0]) == len(orders[1])
    assert all(np.array_equal(a, b) for a, b in zip(*orders))


@pytest.fixture
def http_dir(tmp_path):
    from genozarr.testing.servers import serve_directory  # range requests, as object stores

    with serve_directory(tmp_path) as base:
        yield tmp_path, base


@pytest.mark.parametrize("inner", [None, 2400])
def test_remote_store_serves_batches_with_requests_in_flight(values, http_dir, inner):
    pytest.importorskip("aiohttp")
    from genozarr.store.backend import FETCH_THREADS

    root, base = http_dir
    _cover(values, root / "r.zarr", inner_chunk_bytes=inner, chunk_bytes=16 * 600)
    remote = open_dataset(f"{base}/r.zarr")
    backend = remote.garray.backend
    assert backend.remote and backend.threads == FETCH_THREADS
    # a remote sharded store is read inner chunk by inner chunk (ranged requests)
    from genozarr.store._direct import RemoteChunks

    rows = 16 if inner is None else 4
    assert remote.chunk_rows == rows
    assert isinstance(backend._direct["data"], RemoteChunks)
    assert backend._direct["data"].sharded == (inner is not None)
    got = [b for (b,) in batches(remote, batch_size=10, shuffle=True, seed=5)]
    order = np.concatenate([np.sort(i) for i in batch_plan(
        N, 10, shuffle=True, seed=5, block_size=rows, buffer_blocks=4)])
    np.testing.assert_array_equal(np.concatenate(got), values[order])


def _counting_handler() -> type:
    """A :class:`RangeHandler` that waits a little before answering and records, in its
    ``state``, the most requests it held at once."""
    import threading
    import time

    from genozarr.testing.servers import RangeHandler

    state = {"now": 0, "most": 0, "lock": threading.Lock()}

    class Handler(RangeHandler):
        def send_head(self):
            with state["lock"]:
                state["now"] += 1
                state["most"] = max(state["most"], state["now"])
            try:
                time.sleep(0.05)
                return super().send_head()
            finally:
                with state["lock"]:
                    state["now"] -= 1

    Handler.state = state
    return Handler


@pytest.mark.parametrize("inner", [None, 2400])
def test_remote_chunks_are_fetched_together_once_and_kept(values, tmp_path, inner):
    pytest.importorskip("aiohttp")
    from genozarr.store._direct import RemoteChunks
    from genozarr.testing.servers import RangeHandler, serve_directory

    _cover(values, tmp_path / "r.zarr", inner_chunk_bytes=inner, chunk_bytes=16 * 600)
    handler = _counting_handler()
    with serve_directory(tmp_path, handler=handler) as base:
        remote = open_dataset(f"{base}/r.zarr", cache=None)
        backend = remote.garray.backend
        backend.array("data")
        reader = backend._direct["data"]
        assert isinstance(reader, RemoteChunks)
        RangeHandler.requests.clear()
        handler.state["most"] = 0
        ids = list(range(8)) if inner is None else [0, 1, 2, 3, 24, 25, 26, 27]
        reader.start(ids)  # all in flight at once, nothing waited for
        rows = remote.chunk_rows
        for cid in ids:
            np.testing.assert_array_equal(reader.read(cid),
                                          values[cid * rows:(cid + 1) * rows])
        assert handler.state["most"] >= (4 if inner is None else 2)
        gets = {p: n for (m, p), n in RangeHandler.requests.items()
                if m == "GET" and "/c." in p}
        # unsharded: one request per chunk written (chunks 3 and 4 hold only zeros: not
        # written, and the marker's inventory says so); sharded: each shard's index, then
        # one ranged request for its run of neighbouring inner chunks (shards 0 and 2)
        written = sorted(int(f.name.split(".")[1])
                         for f in (tmp_path / "r.zarr" / "data").glob("c.*"))
        assert inner is not None or (3 not in written and 4 not in written)
        assert sum(gets.values()) == (6 if inner is None else 4)
        assert all(n == (1 if inner is None else 2) for n in gets.values())
        # a chunk decoded again (its decoded copy dropped) is not fetched again
        for cid in ids:
            reader.read(cid)
        assert sum(n for (m, p), n in RangeHandler.requests.items()
                   if m == "GET" and "/c." in p) == sum(gets.values())
        # a whole shuffled epoch fetches each stored chunk once
        reader.clear()
        RangeHandler.requests.clear()
        got = [b for (b,) in batches(remote, batch_size=10, shuffle=True, seed=2)]
        order = np.concatenate([np.sort(i) for i in batch_plan(
            N, 10, shuffle=True, seed=2, block_size=rows, buffer_blocks=4)])
        np.testing.assert_array_equal(np.concatenate(got), values[order])
        gets = [n for (m, p), n in RangeHandler.requests.items() if m == "GET" and "/c." in p]
        if inner is None:
            assert gets == [1] * len(written)
        assert backend.latency is not None and backend.latency >= 0.05


def test_remote_fetch_ahead_covers_two_round_trips():
    from types import SimpleNamespace

    from genozarr.batching import MAX_FETCH_AHEAD, _Ahead
    from genozarr.dataset import Dataset

    class Root(Dataset):
        def __init__(self, backend):
            self.garray = SimpleNamespace(backend=backend)

    remote = SimpleNamespace(remote=True, latency=None)
    ahead = _Ahead([Root(SimpleNamespace()), Root(remote)])
    assert ahead.decode == 2 and ahead.fetch == 2 + 8  # latency unknown yet
    ahead._intervals = [0.010, 0.004, 0.030]
    remote.latency = 0.020
    assert ahead.fetch == 2 + 10  # 2 x 20 ms at the fastest batch, 4 ms
    remote.latency = 5.0
    assert ahead.fetch == MAX_FETCH_AHEAD
    local = _Ahead([Root(SimpleNamespace())])
    assert not local.remote and local.fetch == 2


def test_a_layout_choice_builds_its_own_store(sample_files):
    kw = dict(roi=sample_files["roi"], binsize=200, resolution=10, storage="zarr", cache=True)
    plain = Cover.create_from_bigwig("lay", sample_files["bigwig_a"], **kw)
    with set_options(inner_chunk_bytes=2000):
        sharded = Cover.create_from_bigwig("lay", sample_files["bigwig_a"], **kw)
    assert sharded.garray.path != plain.garray.path  # not the cached unsharded store
    assert sharded.garray.backend.array("data").shards is not None
    assert plain.garray.backend.array("data").shards is None
    np.testing.assert_array_equal(sharded[:], plain[:])
    again = Cover.create_from_bigwig("lay", sample_files["bigwig_a"], **kw)
    assert again.garray.path == plain.garray.path  # default options: the same key as before


def test_concurrent_reads_of_many_shards_keep_their_files_apart(values, tmp_path, monkeypatch):
    """Decode threads read inner chunks of more shards than descriptors are kept open:
    a descriptor closed under one thread must never serve another shard's bytes."""
    import genozarr.store._direct as direct_mod
    import genozarr.store.backend as backend_module
    from genozarr.store.backend import _ChunkCache

    monkeypatch.setattr(direct_mod, "_fd_cap", lambda: 2)
    monkeypatch.setattr(backend_module, "_GATHER_THREAD_BYTES", 0)  # threads share a batch
    # 600-byte rows: shards of 8 rows (26 shards), inner chunks of 1 row
    _cover(values, tmp_path / "f.zarr", inner_chunk_bytes=600, chunk_bytes=8 * 600)
    cover = open_dataset(tmp_path / "f.zarr")
    backend = cover.garray.backend
    assert backend.array("data").shards[0] == 8
    backend.threads = 4
    rng = np.random.default_rng(11)
    for _ in range(20):
        backend.cache = _ChunkCache(0)  # every read decodes
        idx = np.sort(rng.choice(N, 60, replace=False))
        np.testing.assert_array_equal(cover[idx], values[idx])


def test_readers_of_many_sharded_stores_share_the_open_file_budget(values, tmp_path,
                                                                   monkeypatch):
    """Each reader kept up to 256 shard files open (a sixteenth of the open-file limit):
    17 sharded stores read in a random order ran out of files ('Too many open files') at
    a limit of 4096. Now the readers holding files share a quarter of the limit, and a
    reader whose open fails for the process's limit closes its own files first."""
    import genozarr.store._direct as direct_mod

    monkeypatch.setattr(direct_mod, "_FD_BUDGET", 64)
    covers = []
    for k in range(17):  # shards of 6 rows: 34 shard files each
        _cover(values, tmp_path / f"s{k}.zarr", inner_chunk_bytes=600, chunk_bytes=4096)
        covers.append(open_dataset(tmp_path / f"s{k}.zarr", cache=None))
    before = len(os.listdir("/proc/self/fd"))
    rng = np.random.default_rng(3)
    for _ in range(3):
        for cover in covers:
            idx = rng.permutation(N)[:60]
            np.testing.assert_array_equal(cover[idx], values[idx])
    held = len(os.listdir("/proc/self/fd")) - before
    assert held <= 17 * 8  # at least 8 each, the 64 shared out beyond that
    reader = covers[0].garray.backend._direct["data"]
    real_open = os.open
    calls = []

    def full(path, flags, *args):  # the process's limit reached on the first try
        calls.append(path)
        if len(calls) == 1:
            raise OSError(errno.EMFILE, "Too many open files")
        return real_open(path, flags, *args)

    assert reader._fds  # files of its own to close
    monkeypatch.setattr(direct_mod.os, "open", full)
    reader._index.clear()
    with reader._fd_lock:
        reader._close_fds()
    reader._fds[-1] = real_open(os.devnull, os.O_RDONLY)  # one held, to be closed
    np.testing.assert_array_equal(covers[0][[5]], values[[5]])
    assert len(calls) >= 2 and -1 not in reader._fds


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("inner", [600, 1200])
def test_a_batch_gathers_its_inner_chunks_once_each(values, tmp_path, monkeypatch, threads,
                                                    inner):
    """Rows of a local sharded store's small inner chunks are gathered straight from them:
    each inner chunk a read needs is read once, shared out among the decode threads, the
    inner chunks of zeros (not stored) read as zeros; the rows are numpy's for sorted,
    unsorted and repeated rows, and nothing is decoded ahead. Inner chunks of one row
    never enter the chunk cache; of several rows, those decoded for some of their rows
    are cached (a second read decodes only the chunks it takes whole)."""
    import genozarr.store.backend as backend_module
    from genozarr.store.backend import _ChunkCache

    per = inner // 600  # rows per inner chunk: 1 (decoded straight into the batch) or 2
    _cover(values, tmp_path / "g.zarr", inner_chunk_bytes=inner, chunk_bytes=16 * 600)
    cover = open_dataset(tmp_path / "g.zarr", cache=None)
    backend = cover.garray.backend
    assert backend.array("data").chunks[0] == per and backend.array("data").shards[0] == 16
    backend.threads = threads
    monkeypatch.setattr(backend_module, "_GATHER_THREAD_BYTES", 0)  # threads for any size
    reads: list[int] = []
    calls: list[str] = []
    raw, gather = DirectChunks._raw, DirectChunks.gather

    def counting_raw(self, index):
        reads.append(index)
        return raw(self, index)

    def counting_gather(self, jobs, out, keep=None):
        calls.append(threading.current_thread().name)
        return gather(self, jobs, out, keep)

    monkeypatch.setattr(DirectChunks, "_raw", counting_raw)
    monkeypatch.setattr(DirectChunks, "gather", counting_gather)
    rng = np.random.default_rng(5)
    for case in range(6):
        backend.cache = _ChunkCache(10 * 2**20)
        reads.clear()
        calls.clear()
        rows = rng.choice(N, 70, replace=case == 5)
        if case % 2 == 0:
            rows = np.sort(rows)
        np.testing.assert_array_equal(cover[rows], values[rows])
        assert sorted(reads) == np.unique(rows // per).tolist()  # each once
        assert len(calls) == threads
        assert any(name.startswith("genozarr-decode") for name in calls) == (threads > 1)
        assert cover.prefetch(rows) == 0  # nothing decoded ahead
        reads.clear()
        np.testing.assert_array_equal(cover[rows], values[rows])
        chunks = np.unique(rows // per)
        whole = set(chunks[np.bincount(np.unique(rows) // per, minlength=chunks.max() + 1)
                           [chunks] == per].tolist())
        if per == 1:
            assert sorted(reads) == chunks.tolist() and backend.cache.nbytes == 0
        else:
            zeros = set(range(40 // per, 90 // per))  # not stored: never decoded nor cached
            assert set(reads) - zeros <= whole  # partly used chunks came from the cache
            assert backend.cache.nbytes > 0
    np.testing.assert_array_equal(cover[40:90], 0)  # not stored: zeros
    np.testing.assert_array_equal(cover[np.arange(N)], values)


@pytest.mark.parametrize("first", [True, False], ids=["decoded", "to_decode"])
def test_a_read_serves_the_array_it_checked_when_memory_is_released_meanwhile(
        values, tmp_path, monkeypatch, first):
    """release_memory() from another thread between a read's check of the decoded chunks
    and its copy (here: forced in between) makes a new, empty array: the read still decodes
    into and serves the one it checked, never the new one's uninitialised rows."""
    _cover(values, tmp_path / "m.zarr", chunk_bytes=16 * 600)
    cover = open_dataset(tmp_path / "m.zarr", cache="memory")
    backend = cover.garray.backend
    backend.share_with_workers()  # arrays in fresh shared memory: a new one reads as zeros
    if first:
        np.testing.assert_array_equal(cover[:], values)  # every chunk decoded
    undecoded = type(backend)._undecoded
    released = []

    def release_after(self, *args, **kwargs):
        missing = undecoded(self, *args, **kwargs)
        if not released:
            released.append(True)
            self.release_memory()
        return missing

    monkeypatch.setattr(type(backend), "_undecoded", release_after)
    rows = np.array([3, 17, 18, 150, 202])
    np.testing.assert_array_equal(cover[rows], values[rows])
    assert released
    np.testing.assert_array_equal(cover[rows], values[rows])  # the new array, decoded
    np.testing.assert_array_equal(cover[:], values)


def test_a_read_decoding_a_chunk_when_the_backend_is_closed_serves_it(values, tmp_path,
                                                                     monkeypatch):
    """close() from another thread while a read decoded a chunk into a store kept in
    memory (here: forced in between) replaced the table of chunks being decoded: the read
    failed with KeyError, and threads waiting for that chunk waited forever."""
    import threading

    _cover(values, tmp_path / "m.zarr", chunk_bytes=16 * 600)
    cover = open_dataset(tmp_path / "m.zarr", cache="memory")
    backend = cover.garray.backend
    load = type(backend)._load_chunk
    closed, waiting = threading.Event(), []

    def close_meanwhile(self, *args, **kwargs):
        if not closed.is_set():
            closed.set()
            # another reader now waits for this chunk, and another thread closes
            waiter = threading.Thread(target=lambda: waiting.append(cover[[4]]), daemon=True)
            waiter.start()
            closer = threading.Thread(target=self.close, daemon=True)
            closer.start()
            closer.join(10)
            waiting.append(waiter)
        return load(self, *args, **kwargs)

    monkeypatch.setattr(type(backend), "_load_chunk", close_meanwhile)
    rows = np.array([3])  # one chunk: decoded in this thread
    np.testing.assert_array_equal(cover[rows], values[rows])
    assert closed.is_set()
    waiting[0].join(10)
    assert not waiting[0].is_alive()
    np.testing.assert_array_equal(waiting[1], values[[4]])
    np.testing.assert_array_equal(cover[:], values)  # reopened after close()


def test_chunks_asked_for_by_two_threads_at_once_are_loaded_once():
    """get_or_load_many: the keys cached are hits, the others are loaded together, once
    even when another thread asks for some of them meanwhile (it waits for them); a
    failed load leaves nothing behind, so the next call loads again."""
    import threading
    import time

    from genozarr.store._lru import _ChunkCache

    cache = _ChunkCache(10_000, size=len)
    cache.put(0, b"a0")
    loads: list[list[int]] = []
    started = threading.Event()

    def load_many(keys):
        loads.append(list(keys))
        started.set()
        time.sleep(0.05)
        return [b"v%d" % k for k in keys]

    got: dict[str, list] = {}
    first = threading.Thread(target=lambda: got.__setitem__(
        "first", cache.get_or_load_many([0, 1, 2, 3], load_many)))
    first.start()
    assert started.wait(5)
    got["second"] = cache.get_or_load_many([3, 2, 4], load_many)  # 2 and 3 being loaded
    first.join()
    assert got["first"] == [b"a0", b"v1", b"v2", b"v3"]
    assert got["second"] == [b"v3", b"v2", b"v4"]
    assert sorted(loads) == [[1, 2, 3], [4]]  # each key loaded once

    def failing(keys):
        raise OSError("disk gone")

    with pytest.raises(OSError, match="disk gone"):
        cache.get_or_load_many([5, 1], failing)
    assert cache.get_or_load_many([5], load_many) == [b"v5"]
    assert cache.get_cached([1]) == [b"v1"]


def test_remote_damaged_shard_index_is_named(values, http_dir):
    pytest.importorskip("aiohttp")
    root, base = http_dir
    _cover(values, root / "bad.zarr", inner_chunk_bytes=2400, chunk_bytes=16 * 600)
    shard = root / "bad.zarr" / "data" / "c.1.0.0.0"
    raw = bytearray(shard.read_bytes())
    raw[-10] ^= 0xFF
    shard.write_bytes(bytes(raw))
    remote = open_dataset(f"{base}/bad.zarr")
    np.testing.assert_array_equal(remote[:16], values[:16])  # shard 0 is intact
    with pytest.raises(StoreError, match=r"bad.zarr/data/c\.1\.0\.0\.0 is damaged"):
        remote[16:20]


def test_a_flags_lock_left_taken_by_a_dead_process_is_given_up(values, tmp_path, monkeypatch,
                                                                caplog):
    """A process killed while holding the lock shared over decoded arrays leaves it taken:
    the others wait FLAGS_LOCK_TIMEOUT seconds, warn, and go on with a lock of their own."""
    import logging

    import genozarr.store.backend as backend_mod

    _cover(values, tmp_path / "r.zarr", chunk_bytes=16 * 600)
    ds = open_dataset(tmp_path / "r.zarr", cache="memory")
    backend = ds.garray.backend
    backend.share_with_workers()
    sem = backend._flags_lock._sem
    if sem is None:
        pytest.skip("no fork here: nothing is shared between processes")
    assert sem.acquire(timeout=1)  # as a process that died holding it would leave it
    monkeypatch.setattr(backend_mod, "FLAGS_LOCK_TIMEOUT", 0.05)
    with caplog.at_level(logging.WARNING, logger="genozarr.store.backend"):
        np.testing.assert_array_equal(backend.read_rows("data", np.arange(40)), values[:40])
    assert "goes on without it" in caplog.text
    assert backend._flags_lock._sem is None
    np.testing.assert_array_equal(backend.read_rows("data", np.arange(N)), values)  # and on


def test_stored_bytes_of_a_remote_store_share_one_budget(sample_files, http_dir):
    pytest.importorskip("aiohttp")
    from genozarr.store._direct import _FILL, _stored_size
    from genozarr.store._lru import _ChunkCache

    kept = _ChunkCache(10, size=_stored_size)
    kept.put(("a", 0), b"12345")
    kept.put(("b", 0), _FILL)  # a chunk of fill values: kept, costs nothing
    kept.put(("b", 1), b"123")
    assert kept.get(("a", 0)) == b"12345"  # now the most recently read
    kept.put(("b", 2), b"1234")  # 12 bytes: the least recently read go first
    assert kept.get(("b", 0)) is None and kept.wanted(("b", 1))
    assert kept.get(("a", 0)) == b"12345" and kept.get(("b", 2)) == b"1234"
    # a whole-genome store's arrays (one per chromosome) keep their bytes in one budget
    root, base = http_dir
    cover = Cover.create_from_bigwig("wg", sample_files["bigwig_a"], resolution=10, binsize=200,
                                     store_whole_genome=True, storage="zarr",
                                     store=str(root / "wg.zarr"))
    remote = open_dataset(f"{base}/wg.zarr", cache=None)
    np.testing.assert_array_equal(remote[:], cover[:])
    backend = remote.garray.backend
    readers = [d for d in backend._direct.values() if d is not None]
    assert len(readers) >= 2 and all(d.kept is backend._stored for d in readers)


def test_cached_chunks_of_a_batch_are_looked_up_together():
    """get_cached returns the cached values of many keys under one lock (None for the
    others), counts each as a hit and makes it the most recent, so it outlives the chunks
    not read since; read_rows over cached chunks takes that path and gives zarr's rows."""
    from genozarr.store._lru import _ChunkCache

    cache = _ChunkCache(30, size=len)
    for k in range(3):
        cache.put(k, b"x" * 10)
    hits = cache.hits
    assert cache.get_cached([2, 5, 0]) == [b"x" * 10, None, b"x" * 10]
    assert cache.hits == hits + 2
    cache.put(3, b"y" * 10)  # over budget: 1, the least recently read, goes
    assert cache.get_cached([0, 1, 2, 3]) == [b"x" * 10, None, b"x" * 10, b"y" * 10]


def test_block_shuffled_rows_from_cached_chunks_equal_zarr(tmp_path):
    import zarr

    from genozarr.store.backend import ZarrBackend

    rng = np.random.default_rng(3)
    data = rng.random((300, 5, 1, 2)).astype(np.float32)
    group = zarr.open_group(str(tmp_path / "s.zarr"), mode="w", zarr_format=3)
    group.create_array("data", data=data, chunks=(16, 5, 1, 2))
    with pytest.warns(UserWarning, match="[Cc]onsolidated"):
        zarr.consolidate_metadata(str(tmp_path / "s.zarr"))
    backend = ZarrBackend(str(tmp_path / "s.zarr"), resident=False)
    rows = np.sort(rng.choice(300, 90, replace=False))
    rows[:10] = np.arange(40, 50)  # a run of consecutive rows inside chunks 2 and 3
    rows.sort()
    first = backend.read_rows("data", rows)  # decodes the chunks
    hits = backend.cache.hits
    again = backend.read_rows("data", rows)  # every chunk cached: one lookup for all
    np.testing.assert_array_equal(first, data[rows])
    np.testing.assert_array_equal(again, data[rows])
    assert backend.cache.hits - hits == len(np.unique(rows // 16))


def test_read_ahead_starts_the_chunks_that_fit_a_quarter_of_the_cache(tmp_path):
    """A batch whose missing chunks exceed a quarter of the chunk cache (the first batch of
    a block-shuffled buffer) gets that quarter of them decoded ahead, the first ones, and
    the next call the next ones; the rows read afterwards are zarr's."""
    import zarr

    from genozarr.store.backend import ZarrBackend

    data = np.random.default_rng(4).random((160, 5, 1, 2)).astype(np.float32)
    group = zarr.open_group(str(tmp_path / "s.zarr"), mode="w", zarr_format=3)
    group.create_array("data", data=data, chunks=(16, 5, 1, 2))  # 10 chunks of 640 bytes
    with pytest.warns(UserWarning, match="[Cc]onsolidated"):
        zarr.consolidate_metadata(str(tmp_path / "s.zarr"))
    backend = ZarrBackend(str(tmp_path / "s.zarr"), cache_bytes=12 * 640, resident=False)
    rows = np.arange(0, 160, 5)  # every chunk

    def cached(expected: int) -> list[int]:
        """The chunks cached once ``expected`` are (the decode tasks run in the pool)."""
        import time

        deadline = time.monotonic() + 30
        while len(backend.cache._data) < expected and time.monotonic() < deadline:
            time.sleep(0.01)
        return sorted(cid for _, cid in backend.cache._data)

    assert backend.prefetch_rows("data", rows) == 3 * 640  # 12 // 4 chunks
    assert cached(3) == [0, 1, 2]
    assert backend.prefetch_rows("data", rows) == 3 * 640
    assert cached(6) == [0, 1, 2, 3, 4, 5]
    assert backend.prefetch_rows("data", rows[:8]) == 0  # chunks 0-2: cached already
    np.testing.assert_array_equal(backend.read_rows("data", rows), data[rows])


@pytest.mark.parametrize("binsize,step,flank", [(5_000, 3_000, 192), (1_000, 700, 0)])
def test_whole_genome_read_ahead_starts_exactly_the_chunks_of_the_windows(tmp_path, binsize,
                                                                          step, flank):
    """Dataset.prefetch of a whole-genome store starts the chunks each window's bins lie in,
    counted by hand: with windows longer than a chunk, a window ending on a chunk's last
    bin, one over three chunks, ones running past their chromosome's end, and windows of
    two chromosomes together; with windows shorter than a chunk, the same ones (within
    one chunk, or two)."""
    import time

    from genozarr import Bioseq
    from genozarr.store.backend import _ChunkCache

    lengths = {"c1": 20_000, "c2": 9_000}
    fa = tmp_path / "g.fa"
    fa.write_text("".join(f">{c}\n{'ACGT' * (n // 4)}\n" for c, n in lengths.items()))
    # 4 KiB chunks of 1-byte codes; 5 kb windows: window 1 holds bins 2808-8191, window 4
    # 11808-17191
    size = 4_096
    with set_options(chunk_bytes=size, memory_cache_bytes=0, progress=False):
        Bioseq.create_from_refgenome("dna", str(fa), binsize=binsize, stepsize=step,
                                     flank=flank, storage="zarr", store=str(tmp_path / "s.zarr"),
                                     store_whole_genome=True)
        ds = open_dataset(str(tmp_path / "s.zarr"), cache=None)  # the chunk cache counts
    backend, gi = ds.garray.backend, ds.gindexer
    assert backend.chunk_len(ds.garray.meta.array_path("c1")) == size
    paths = {ds.garray.meta.array_path(c): c for c in lengths}
    last_c1 = int(np.flatnonzero(gi.chrs == "c1")[-1])
    for idx in ([1], [4], [last_c1], [len(ds) - 1], [0, 2, 4, len(ds) - 1, last_c1]):
        expected = set()
        for i in idx:
            first = int(gi.starts[i]) - flank
            last = min(first + binsize + 2 * flank, lengths[gi.chrs[i]]) - 1
            expected |= {(gi.chrs[i], c) for c in range(max(first, 0) // size, last // size + 1)}
        backend.cache = _ChunkCache(backend.cache.max_bytes)
        assert ds.prefetch(np.array(idx)) == len(expected) * size, idx
        deadline = time.monotonic() + 30
        while len(backend.cache._data) < len(expected) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert {(paths[name], cid) for name, cid in backend.cache._data} == expected, idx


@pytest.mark.parametrize("resident", [False, True])
def test_rows_out_of_range_raise_rather_than_clip(tmp_path, resident):
    """Rows are gathered with ``np.take(mode='clip')`` (unbuffered); a row outside the array
    must still raise, never be clipped to the last or first row. In range, the rows of a
    sorted batch and of an unsorted one are zarr's."""
    import zarr

    from genozarr.store.backend import ZarrBackend

    data = np.random.default_rng(5).random((50, 3, 1, 2)).astype(np.float32)
    group = zarr.open_group(str(tmp_path / "s.zarr"), mode="w", zarr_format=3)
    group.create_array("data", data=data, chunks=(16, 3, 1, 2))
    with pytest.warns(UserWarning, match="[Cc]onsolidated"):
        zarr.consolidate_metadata(str(tmp_path / "s.zarr"))
    backend = ZarrBackend(str(tmp_path / "s.zarr"), resident=resident)
    # sorted, unsorted, and sorted with repeats (an oversampling view; before, the
    # repeats of a chunk's rows looked consecutive and a slice served the next rows)
    for rows in ([3, 7, 49], [49, 3, 20, 4], [0, 2, 17, 19, 33], [0, 0, 2], [1, 1, 3, 3, 5],
                 [15, 15, 16, 16, 17, 40]):
        np.testing.assert_array_equal(backend.read_rows("data", np.array(rows)),
                                      data[rows])
    for rows in ([3, 50], [-1, 4], [60]):
        with pytest.raises(IndexError, match="out of range"):
            backend.read_rows("data", np.array(rows))


@pytest.mark.parametrize("resident", [False, True])
@pytest.mark.parametrize("length", [5, 16, 40])
def test_windows_gathered_chunk_by_chunk_equal_numpy(tmp_path, length, resident):
    """ZarrBackend.read_windows (block-shuffled whole-genome batches) against numpy slices
    of the array written: windows in order and not, repeated, across chunk boundaries,
    in the last (partial) chunk, shorter and longer than a chunk; as a new array, and
    written into given rows of a larger batch (the rows of one chromosome's windows)."""
    from genozarr.store.backend import ZarrBackend

    rng = np.random.default_rng(5)
    data = rng.random((300, 1, 2)).astype(np.float32)
    group = zarr.open_group(str(tmp_path / "s.zarr"), mode="w", zarr_format=3)
    group.create_array("data", data=data, chunks=(16, 1, 2))
    with pytest.warns(UserWarning, match="[Cc]onsolidated"):
        zarr.consolidate_metadata(str(tmp_path / "s.zarr"))
    backend = ZarrBackend(str(tmp_path / "s.zarr"), resident=resident)
    top = 300 - length
    for starts in (np.sort(rng.choice(top + 1, 30, replace=False)),  # in order
                   rng.choice(top + 1, 30),  # any order, repeats
                   np.array([0, 14, 15, 16, 31, 32, top, top, 3, top - 2]),
                   np.array([15, 3, 12, 0]),  # across a boundary before inside, one chunk
                   np.array([top])):
        want = np.stack([data[s:s + length] for s in starts])
        got = backend.read_windows("data", starts, length)
        np.testing.assert_array_equal(got, want)
        rows = rng.permutation(len(starts) + 7)[:len(starts)]
        out = np.full((len(starts) + 7, length, 1, 2), -1, np.float32)
        assert backend.read_windows("data", starts, length, out, rows) is out
        np.testing.assert_array_equal(out[rows], want)
        untouched = np.setdiff1d(np.arange(len(out)), rows)
        assert (out[untouched] == -1).all()


# ---- damaged, rebuilt and badly served stores, through every read path -----------------
def _index_past_the_end(shard) -> None:
    """Point inner chunk 1 of ``shard`` (4 inner chunks) past its end, CRC made valid."""
    import google_crc32c

    raw = bytearray(shard.read_bytes())
    index = np.frombuffer(bytes(raw[-68:-4]), "<u8").reshape(4, 2).copy()
    index[1, 0] += 100_000
    table = index.tobytes()
    shard.write_bytes(bytes(raw[:-68]) + table
                      + int(google_crc32c.value(table)).to_bytes(4, "little"))


@pytest.mark.parametrize("damage", ["past the end", "truncated", "empty"])
def test_damaged_shards_through_zarr_are_named(values, tmp_path, damage):
    """``open_store`` reads shards with zarr's ranged reads: a shard index pointing past
    the end, a truncated or an empty shard is a StoreError naming it, not the fill value
    or a bare ValueError."""
    from genozarr import open_store

    _cover(values, tmp_path / "d.zarr", inner_chunk_bytes=2400, chunk_bytes=16 * 600)
    shard = tmp_path / "d.zarr" / "data" / "c.1.0.0.0"
    raw = shard.read_bytes()
    if damage == "past the end":
        _index_past_the_end(shard)
    else:
        shard.write_bytes(raw[:20] + raw[-68:] if damage == "truncated" else b"")
    ds = open_store(tmp_path / "d.zarr")
    np.testing.assert_array_equal(ds["data"][:16].values, values[:16])  # shard 0 is intact
    with pytest.raises(StoreError, match=r"d\.zarr/data/c\.1\.0\.0\.0 is damaged"):
        ds["data"][16:32].values


def test_checked_store_reads_many_ranges_through_its_checks(values, tmp_path):
    """zarr 3.2 and later read a shard's inner chunks with ``get_ranges`` and, where the
    store has them, synchronous reads, both of which zarr's WrapperStore hands straight
    to the wrapped store: the damaged shards above gave zarr's bare 'error during blosc
    decompression' there. The checked store reads neither past its checks: its
    ``get_ranges`` reads each range through ``get`` (the bytes of the file; a damaged
    range a StoreError, not inside an exception group; an absent key zarr's
    FileNotFoundError in a group), and it offers no synchronous reads."""
    import asyncio

    from zarr.abc.store import RangeByteRequest
    from zarr.core.buffer import default_buffer_prototype

    from genozarr.store.open import open_resolved

    _cover(values, tmp_path / "d.zarr", inner_chunk_bytes=2400, chunk_bytes=16 * 600)
    store = open_resolved(tmp_path / "d.zarr").zarr_store()
    assert store._supports_sync_io is False
    shard = tmp_path / "d.zarr" / "data" / "c.1.0.0.0"
    raw = shard.read_bytes()
    index = np.frombuffer(raw[-68:-4], "<u8").reshape(4, 2)
    ranges = [RangeByteRequest(int(o), int(o + n)) for o, n in index[[2, 0, 3]]]

    async def read(key, byte_ranges):
        return [item async for group in store.get_ranges(
            key, byte_ranges, prototype=default_buffer_prototype()) for item in group]

    got = dict(asyncio.run(read("data/c.1.0.0.0", ranges)))
    assert sorted(got) == [0, 1, 2]
    for i, r in enumerate(ranges):
        assert got[i].to_bytes() == raw[r.start:r.end]
    with pytest.raises(BaseExceptionGroup) as info:
        asyncio.run(read("data/nothing", ranges[:1]))
    assert info.group_contains(FileNotFoundError)
    _index_past_the_end(shard)
    with pytest.raises(StoreError, match=r"d\.zarr/data/c\.1\.0\.0\.0 is damaged"):
        asyncio.run(read("data/c.1.0.0.0", [RangeByteRequest(int(index[1, 0]) + 100_000,
                                                             int(sum(index[1])) + 100_000)]))


def test_a_server_that_ignores_ranges_is_named(values, tmp_path):
    pytest.importorskip("aiohttp")
    from genozarr import open_store
    from genozarr.testing.servers import RangeHandler, serve_directory

    class NoRanges(RangeHandler):
        def send_head(self):
            if "Range" in self.headers:
                del self.headers["Range"]
            return super().send_head()

    _cover(values, tmp_path / "s.zarr", inner_chunk_bytes=2400, chunk_bytes=16 * 600)
    with serve_directory(tmp_path, handler=NoRanges) as base:
        for read in (lambda: open_dataset(f"{base}/s.zarr")[:4],
                     lambda: open_store(f"{base}/s.zarr")["data"].values):
            with pytest.raises(StoreError, match="ignores range requests"):
                read()


def test_a_failing_marker_read_is_not_called_a_replacement(values, tmp_path):
    """The marker read that checks a store without versions after a chunk's bytes came
    fails with a server error: reported as such, not as a replacement. (A chunk never
    written, which made the reader check the marker, is now the fill value without a
    request: the marker's inventory records it.)"""
    pytest.importorskip("aiohttp")
    from genozarr.testing.servers import RangeHandler, serve_directory

    class Unavailable(RangeHandler):
        down = False

        def send_head(self):
            if Unavailable.down and "genozarr-complete" in self.path:
                self.send_error(503)
                return None
            return super().send_head()

    _cover(values, tmp_path / "m.zarr", chunk_bytes=16 * 600)  # rows 40-89 not stored
    with serve_directory(tmp_path, handler=Unavailable) as base:
        remote = open_dataset(f"{base}/m.zarr", cache=None)
        Unavailable.down = True
        np.testing.assert_array_equal(remote[48:52], values[48:52])  # never written
        with pytest.raises(StoreError, match="503") as info:
            remote[0:4]
        assert "replaced" not in str(info.value)


@pytest.mark.parametrize("inner", [None, 2400])
def test_a_store_rebuilt_under_a_web_server_is_not_served_mixed(values, tmp_path, inner):
    """A local store served over HTTP rebuilt in place with other values of the same
    shape: chunks read after the rebuild are the new build's, so a reader of the old one
    is told to reopen instead of being served both builds' rows. The marker is read again
    after chunks arrive: one read serves every chunk that came before it began."""
    pytest.importorskip("aiohttp")
    from genozarr import open_store
    from genozarr.testing.servers import RangeHandler, serve_directory

    options = {"chunk_bytes": 16 * 600} if inner is None else {
        "chunk_bytes": 16 * 600, "inner_chunk_bytes": inner}
    _cover(values, tmp_path / "x.zarr", **options)
    with serve_directory(tmp_path) as base:
        whole = open_dataset(f"{base}/x.zarr", cache=None)
        RangeHandler.requests.clear()
        np.testing.assert_array_equal(whole[:], values)  # every chunk, in one piece
        chunk_gets = sum(n for (m, p), n in RangeHandler.requests.items()
                         if m == "GET" and "/data/c." in p)
        marker_gets = sum(n for (m, p), n in RangeHandler.requests.items()
                          if m == "GET" and "genozarr-complete" in p)
        written = len(list((tmp_path / "x.zarr" / "data").glob("c.*")))
        assert chunk_gets >= written >= 11 and 1 <= marker_gets < chunk_gets
        remote = open_dataset(f"{base}/x.zarr", cache=None)
        lazy = open_store(f"{base}/x.zarr")
        np.testing.assert_array_equal(remote[:96], values[:96])
        np.testing.assert_array_equal(lazy["data"][:8].values, values[:8])
        with set_options(**options):
            Cover.create_from_array("c", values + 1, _gi(), storage="zarr",
                                    store=str(tmp_path / "x.zarr"), overwrite=True)
        fresh = open_dataset(f"{base}/x.zarr", cache=None)
        for read in (lambda: remote[190:200], lambda: lazy["data"][190:200].values):
            with pytest.raises(StoreError, match="replaced or removed while it was open"):
                read()
        np.testing.assert_array_equal(fresh[190:200], values[190:200] + 1)


@pytest.mark.parametrize("where", ["local", "http"])
def test_a_copy_of_a_dataset_refuses_a_store_rebuilt_since(values, tmp_path, where):
    """A pickled copy of a dataset (what spawned DataLoader workers and dask get) made
    before its store was rebuilt with other values is refused when it reads, as the
    original is over HTTP; before, the copy opened the new build and served its values
    under the old dataset's windows."""
    import contextlib
    import pickle

    from genozarr.testing.servers import serve_directory

    options = {"chunk_bytes": 16 * 600}
    _cover(values, tmp_path / "x.zarr", **options)
    served = serve_directory(tmp_path) if where == "http" else \
        contextlib.nullcontext(str(tmp_path))
    with served as base:
        ds = open_dataset(f"{base}/x.zarr", cache=None)
        np.testing.assert_array_equal(ds[:8], values[:8])
        blob = pickle.dumps(ds)
        np.testing.assert_array_equal(pickle.loads(blob)[8:16], values[8:16])  # unchanged
        with set_options(**options):
            Cover.create_from_array("c", values + 1, _gi(), storage="zarr",
                                    store=str(tmp_path / "x.zarr"), overwrite=True)
        with pytest.raises(StoreError, match="replaced or removed since it was opened"):
            pickle.loads(blob)[:]
        np.testing.assert_array_equal(open_dataset(f"{base}/x.zarr")[190:200],
                                      values[190:200] + 1)


def test_a_store_rebuilt_smaller_under_a_web_server_is_not_read_as_zeros(values, tmp_path):
    """A local store served over HTTP has no versions: rebuilt in place with fewer
    windows, the rows past its new end are missing chunks of another build (its marker
    differs from the one seen at open), not the fill value."""
    pytest.importorskip("aiohttp")
    from genozarr import open_store
    from genozarr.testing.servers import serve_directory

    _cover(values, tmp_path / "r.zarr", chunk_bytes=16 * 600)
    with serve_directory(tmp_path) as base:
        remote = open_dataset(f"{base}/r.zarr", cache=None)
        lazy = open_store(f"{base}/r.zarr")
        np.testing.assert_array_equal(remote[:8], values[:8])
        with set_options(chunk_bytes=16 * 600):
            Cover.create_from_array("c", values[:100] + 1, _gi(100), storage="zarr",
                                    store=str(tmp_path / "r.zarr"), overwrite=True)
        for read in (lambda: remote[190:200], lambda: lazy["data"][190:200].values):
            with pytest.raises(StoreError, match="replaced or removed while it was open"):
                read()


def test_windows_recorded_anew_under_a_web_server_are_not_opened_mixed(sim_data, tmp_path):
    """A whole-genome store served over HTTP whose windows are recorded anew while a reader
    opens it (another region list of as many windows over the same cached store: a new
    version with the build's id and values, other windows) gives the reader the old
    windows, the new ones or a StoreError; it gave the chromosomes of one version with the
    starts of the other, without an error. The server here serves the old version's files
    for the first k requests, then the new one's, as when a publish exchanges the
    directory under it."""
    pytest.importorskip("aiohttp")
    import shutil

    from genozarr.testing.servers import RangeHandler, serve_directory

    work = tmp_path / "work" / "w.zarr"
    rois = {"v1": pd.DataFrame({"chrom": ["chr1", "chr2"], "start": [0, 0],
                                "end": [4000, 3000]}),
            "v2": pd.DataFrame({"chrom": ["chr1", "chr2"], "start": [0, 0],
                                "end": [3000, 4000]})}
    want = {}
    for v, roi in rois.items():
        ds = Cover.create_from_bigwig("c", sim_data["bigwigs"][0], roi=roi, binsize=200,
                                      resolution=10, storage="zarr", store=str(work),
                                      cache=True, store_whole_genome=True)
        want[v] = ([(str(c), int(a)) for c, a in zip(ds.gindexer.chrs, ds.gindexer.starts)],
                   ds[:])
        shutil.copytree(work, tmp_path / v / "w.zarr")
    assert len(want["v1"][0]) == len(want["v2"][0]) and want["v1"][0] != want["v2"][0]
    old, new = str(tmp_path / "v1"), str(tmp_path / "v2")

    class Swapping(RangeHandler):
        after = 0
        count = 0

        def send_head(self):
            Swapping.count += 1
            return super().send_head()

        def translate_path(self, path):
            local = super().translate_path(path)
            return new + local[len(old):] if Swapping.count > Swapping.after else local

    outcomes = set()
    with serve_directory(old, handler=Swapping) as base:
        for k in range(30):
            Swapping.count, Swapping.after = 0, k
            try:
                ds = open_dataset(f"{base}/w.zarr", cache=None)
                got = [(str(c), int(a)) for c, a in zip(ds.gindexer.chrs, ds.gindexer.starts)]
                x = ds[:]
            except StoreError as e:
                assert "replaced or removed" in str(e)
                outcomes.add("error")
                continue
            same = [v for v, (w, y) in want.items() if got == w and np.array_equal(x, y)]
            assert same, f"after {k} requests: windows and values of neither version"
            outcomes.add(same[0])
    assert {"v1", "v2"} <= outcomes


def test_remote_timeout_names_the_read_that_did_not_answer(values, tmp_path):
    """With ``remote_timeout``, a read of a remote store that gets no answer in time is a
    StoreError naming it and the option (not a wait for the client's own limits); the
    same store reads as before once the server answers."""
    pytest.importorskip("aiohttp")
    import threading
    import time

    from genozarr.testing.servers import RangeHandler, serve_directory

    stall = threading.Event()
    stall_all = threading.Event()

    class Stalling(RangeHandler):
        def send_head(self):
            if (stall.is_set() and "/data/c." in self.path) or stall_all.is_set():
                time.sleep(3)
            return super().send_head()

    _cover(values, tmp_path / "t.zarr", chunk_bytes=16 * 600)
    with serve_directory(tmp_path, handler=Stalling) as base:
        remote = open_dataset(f"{base}/t.zarr", cache=None)
        np.testing.assert_array_equal(remote[:8], values[:8])
        stall.set()
        with set_options(remote_timeout=0.5), pytest.raises(
                StoreError, match=r"t\.zarr/data/c\.[0-9.]+: no answer within 0\.5 s "
                                  r"\(set_options\(remote_timeout=\.\.\.\)\)"):
            remote[100:110]
        stall.clear()
        np.testing.assert_array_equal(remote[100:110], values[100:110])
        # opening: the first reads (version pointer, completion marker) are bounded too
        stall_all.set()
        started = time.monotonic()
        with set_options(remote_timeout=0.5), pytest.raises(
                StoreError, match=r"t\.zarr/genozarr-current: no answer within 0\.5 s"):
            open_dataset(f"{base}/t.zarr", cache=None)
        assert time.monotonic() - started < 2.5  # one limit, not the server's 3 s stall
        stall_all.clear()
    for bad in (0, -1, True, "10"):
        with pytest.raises(ArgumentError, match="remote_timeout"):
            set_options(remote_timeout=bad)


@pytest.mark.parametrize("prepared", [False, True])
def test_a_forked_child_not_prepared_reads_through_the_chunk_cache(values, tmp_path,
                                                                    prepared):
    """cache='auto' in a forked child: where the parent prepared the store for its workers
    (share_with_workers, as the PyTorch datasets do) the child fills the one shared
    decoded copy; where it did not (a plain DataLoader over a dataset), the child reads
    through the bounded chunk cache instead of keeping a private decoded copy against the
    whole memory budget (N workers: N copies). The values are the same either way."""
    import multiprocessing
    import os

    if "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip("no fork")
    _cover(values, tmp_path / "a.zarr", chunk_bytes=16 * 600)
    with set_options(memory_cache_bytes=2**30):
        cover = open_dataset(tmp_path / "a.zarr")
        backend = cover.garray.backend
        if prepared:
            backend.share_with_workers()
            assert backend.resident
        ctx = multiprocessing.get_context("fork")
        queue = ctx.Queue()

        def child() -> None:
            got = cover[10:40]
            queue.put((os.getpid() != os.getppid(), backend.resident,
                       backend.cache.max_bytes, got))

        proc = ctx.Process(target=child)
        proc.start()
        forked, resident, cache_bytes, got = queue.get(timeout=60)
        proc.join(60)
    assert proc.exitcode == 0 and forked
    np.testing.assert_array_equal(got, values[10:40])
    assert resident is prepared
    assert cache_bytes == (0 if prepared else 256 * 2**20)


@pytest.mark.parametrize("keep", [0, 100])
def test_a_shard_shorter_than_its_index_is_named_once(values, tmp_path, keep):
    """A shard file cut below the size of its index gave 'cannot read chunk <shard>: shard
    <shard> is damaged ...' (the StoreError, an OSError, wrapped again)."""
    _cover(values, tmp_path / "s.zarr", inner_chunk_bytes=2400, chunk_bytes=48 * 600)
    shard = tmp_path / "s.zarr" / "data" / "c.0.0.0.0"
    shard.write_bytes(shard.read_bytes()[:keep])
    with pytest.raises(StoreError) as err:
        open_dataset(tmp_path / "s.zarr", cache=None)[[0]]
    assert str(err.value).startswith(f"shard {shard} is damaged: {keep} bytes, less than its "
                                     "index")
    assert str(err.value).count(str(shard)) == 1


@pytest.mark.parametrize("cache", [None, "memory"])
def test_batches_kept_by_the_caller_are_never_overwritten(tmp_path, cache):
    """Batches are read into memory reused from earlier batches once nothing refers to
    them (fresh arrays cost 480-540 page faults a batch: a store kept in memory served
    50-60k windows/s in a fresh process, 260-300k with the memory kept). A batch the
    caller keeps, a slice of one, or a tensor made from one keeps its values while later
    batches are read; the memory of dropped batches is reused."""
    n, length = 300, 1000
    gi = GenomicIndexer(["chr1"] * n, np.arange(n) * length, np.arange(n) * length + length,
                        ["+"] * n, length, length)
    values = np.random.default_rng(5).random((n, length, 1, 4)).astype("float32")
    Cover.create_from_array("c", values, gi, storage="zarr", store=str(tmp_path / "c"))
    ds = open_dataset(str(tmp_path / "c"), cache=cache)
    kept, parts, tensors = [], [], []
    torch = pytest.importorskip("torch") if cache == "memory" else None
    for epoch in range(3):
        plan = batch_plan(n, 64, shuffle=True, seed=(7, epoch), block_size=16)
        for i, (batch,) in enumerate(batches(ds, batch_size=64, shuffle=True,
                                             seed=(7, epoch), block_size=16)):
            np.testing.assert_array_equal(batch, values[plan[i]])
            if i % 3 == 0:
                kept.append((plan[i], batch))
            elif i % 3 == 1:
                parts.append((plan[i][1:3], batch[1:3, 10:20]))  # (the batch itself dropped)
            elif torch is not None:
                tensors.append((plan[i], torch.from_numpy(batch)))
    for rows, batch in kept:
        np.testing.assert_array_equal(batch, values[rows])
    for rows, part in parts:
        np.testing.assert_array_equal(part, values[rows][:, 10:20])
    for rows, tensor in tensors:
        np.testing.assert_array_equal(tensor.numpy(), values[rows])
    # the memory of a batch is reused once it is dropped, not while it is held
    first = ds[0:64]
    held = first.__array_interface__["data"][0]
    assert ds[64:128].__array_interface__["data"][0] != held
    from genozarr.store.backend import _BATCHES

    kept_bytes = _BATCHES._bytes  # (the blocks of the pool: in use or free)
    for start in range(0, 40 * 64, 64):  # 40 batches of 1 MB, each dropped: one block
        np.testing.assert_array_equal(ds[np.arange(start, start + 64) % n],
                                      values[np.arange(start, start + 64) % n])
    assert _BATCHES._bytes - kept_bytes <= 64 * length * 4 * 4
    assert first.base is not None and first.base.nbytes == first.nbytes  # (a pool block)


@pytest.mark.parametrize("cache", [None, "memory"])
def test_whole_genome_batches_kept_by_the_caller_are_never_overwritten(tmp_path, cache):
    """Windows of a whole-genome store are cut into reused memory too (as the rows of a
    partial store): batches and slices the caller keeps hold their values while later
    batches are read, in order and shuffled."""
    from genozarr.store.backend import _BATCHES

    n, length, step = 2000, 100, 50  # (overlapping windows)
    gi = GenomicIndexer(["chr1"] * n, np.arange(n) * step, np.arange(n) * step + length,
                        ["+"] * n, length, step)
    track = np.random.default_rng(9).random((n * step + length, 1, 4)).astype("float32")
    values = np.stack([track[r * step:r * step + length] for r in range(n)])
    Cover.create_from_array("w", values, gi, storage="zarr", store=str(tmp_path / "w"),
                            store_whole_genome=True, genomesize={"chr1": len(track)})
    ds = open_dataset(str(tmp_path / "w"), cache=cache)
    kept = []
    for shuffle in (False, True, True):
        plan = batch_plan(n, 128, shuffle=shuffle, seed=3, block_size=8)
        for i, (batch,) in enumerate(batches(ds, batch_size=128, shuffle=shuffle, seed=3,
                                             block_size=8)):
            np.testing.assert_array_equal(batch, values[plan[i]])
            if i % 2:
                kept.append((plan[i], batch if i % 4 == 1 else batch[2:5, 7:9]))
    for rows, part in kept:
        want = values[rows]
        np.testing.assert_array_equal(part, want if part.shape == want.shape
                                      else want[2:5, 7:9])
    grown = _BATCHES._bytes
    for start in range(0, n - 128, 128):  # dropped batches: their memory is reused
        np.testing.assert_array_equal(ds[start:start + 128], values[start:start + 128])
    assert _BATCHES._bytes - grown <= 128 * length * 4 * 4
    # windows out of order are gathered without the strided view of every window made
    # contiguous (np.take does that: 150 MB here, 298 GiB for a 20 Mb chromosome)
    import tracemalloc

    tracemalloc.start()
    for (batch,) in batches(ds, batch_size=128, shuffle=True, seed=4, block_size=8):
        pass
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 16 * 2**20, peak
