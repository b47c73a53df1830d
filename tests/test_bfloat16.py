"""bfloat16 stores: coverage stored as zarr's ``bfloat16`` data type (half the bytes of
float32, float32's range, 8 significant bits) and served as float32.

Expected values are the inputs read with pyBigWig (or the float32 store's collapsed
means) rounded by ml_dtypes' own float32 -> bfloat16 cast, and a few roundings worked by
hand; every reading path (chunk cache, decoded in memory, zarr's own codec pipeline,
HTTP, sharded stores, xarray, the PyTorch loader, BigWig export) must give exactly those.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

from genozarr import Cover, open_dataset, open_store, set_options
from genozarr.errors import ArgumentError, StoreError
from genozarr.store.dtypes import bfloat16, register_zarr, widen
from genozarr.store.layout import array_path

CHROMS = {"chr1": 20_000, "chr2": 12_000}


def _to_bf16(x: np.ndarray) -> np.ndarray:
    """float32 values as ml_dtypes rounds them to bfloat16, back as float32."""
    return np.asarray(x, np.float32).astype(bfloat16()).astype(np.float32)


@pytest.fixture(scope="module")
def track(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A BigWig of values from 1e-3 to 1e7 (past float16's 65504) on random runs, with
    gaps (no data) between them."""
    from genozarr.testing.simulate import write_bigwig

    rng = np.random.default_rng(5)
    tracks = {}
    for chrom, size in CHROMS.items():
        bounds = np.unique(rng.integers(0, size, 700))
        track = np.full(size, np.nan)
        for s, e, v in zip(bounds[:-1:2], bounds[1::2],
                           10.0 ** rng.uniform(-3, 7, len(bounds) // 2)):
            track[s:e] = v
        tracks[chrom] = track
    return write_bigwig(tmp_path_factory.mktemp("bf16") / "wide.bw", tracks)


def _windows(binsize: int = 1000) -> pd.DataFrame:
    rows = [(c, s, s + binsize) for c, n in CHROMS.items() for s in range(0, n, binsize)]
    return pd.DataFrame(rows, columns=["chrom", "start", "end"])


def _pybigwig(path: str, roi: pd.DataFrame, nan_to_num: bool = True) -> np.ndarray:
    import pyBigWig

    with pyBigWig.open(path) as bw:
        x = np.stack([np.asarray(bw.values(c, s, e), dtype=np.float32)
                      for c, s, e in roi.itertuples(index=False)])
    return np.nan_to_num(x, nan=0.0) if nan_to_num else x


@pytest.mark.parametrize("whole", [False, True])
@pytest.mark.parametrize("resolution", [1, 50])
def test_store_holds_the_inputs_rounded_to_bfloat16(track, tmp_path, whole, resolution):
    import zarr

    roi = _windows()
    kw = dict(roi=roi, binsize=1000, resolution=resolution, storage="zarr",
              store_whole_genome=whole)
    full = Cover.create_from_bigwig("f32", track, store=str(tmp_path / "f32"), **kw)
    half = Cover.create_from_bigwig("bf16", track, dtype="bfloat16",
                                    store=str(tmp_path / "bf16"), **kw)
    want = full[:]
    if resolution == 1:  # the float32 store is the input itself (checked against pyBigWig)
        np.testing.assert_array_equal(want[..., 0, 0], _pybigwig(track, roi))
    assert np.abs(want).max() > 1e6  # past float16's range
    got = half[:]
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, _to_bf16(want))
    # 8 significant bits, rounded to nearest: within half a step, 2**-8 of the value
    np.testing.assert_allclose(got, want, rtol=2.0**-8, atol=0)
    # the store records the dtype and zarr's data type, and a reopened store serves the same
    again = open_dataset(half.garray.path)
    assert again.garray.meta.dtype == "bfloat16" and again.garray.meta.recipe["args"][
        "dtype"] == "bfloat16"
    np.testing.assert_array_equal(again[:], got)
    register_zarr()  # (genozarr did, on its first store: plain zarr needs it to open one)
    name = array_path("chr1") if whole else "data"
    arr = zarr.open_group(again.garray.path, mode="r")[name]
    assert arr.metadata.to_dict()["data_type"] == "bfloat16" and arr.dtype.itemsize == 2


def test_hand_worked_roundings_and_no_data(tmp_path):
    import pyBigWig

    path = str(tmp_path / "hand.bw")
    with pyBigWig.open(path, "w") as bw:
        bw.addHeader([("chr1", 100)])
        bw.addEntries(["chr1"] * 5, [0, 10, 20, 30, 40], ends=[10, 20, 30, 40, 50],
                      values=[1.5, 300.5, 70_000.0, 65_504.0, -2.0 ** -20])
    roi = pd.DataFrame({"chrom": ["chr1"], "start": [0], "end": [100]})
    kw = dict(roi=roi, binsize=100, storage="zarr", dtype="bfloat16")
    got = Cover.create_from_bigwig("h", path, store=str(tmp_path / "h"), **kw)[0][0, :, 0, 0]
    # 8 significant bits: from 256 to 512 the values are 2 apart, so 300.5 rounds down to
    # 300; from 2**16 on they are 512 apart, and 70000 = 136.7 x 512 rounds to 137 x 512
    # = 70144; below 2**16 they are 256 apart, and 65504 (float16's largest) = 255.875 x
    # 256 rounds up to 2**16; 1.5 and 2**-20 are exact
    for lo, value in [(0, 1.5), (10, 300.0), (20, 70_144.0), (30, 65_536.0),
                      (40, -2.0 ** -20), (50, 0.0)]:
        np.testing.assert_array_equal(got[lo:lo + 10], np.full(10, value, np.float32))
    # without nan_to_num a position without data stays NaN
    nan = Cover.create_from_bigwig("n", path, store=str(tmp_path / "n"), nan_to_num=False,
                                   **kw)[0][0, :, 0, 0]
    assert np.isnan(nan[50:]).all() and not np.isnan(nan[:50]).any()


@pytest.mark.parametrize("whole", [False, True])
def test_values_past_bfloat16_are_an_error_not_infinity(tmp_path, whole):
    import pyBigWig

    path = str(tmp_path / "huge.bw")
    with pyBigWig.open(path, "w") as bw:
        bw.addHeader([("chr1", 4000)])
        bw.addEntries(["chr1", "chr1"], [0, 1000], ends=[1000, 1010], values=[1.5, 3.4e38])
    roi = pd.DataFrame({"chrom": ["chr1"], "start": [0], "end": [2000]})
    store = tmp_path / "huge.zarr"
    with pytest.raises(ArgumentError, match=r"huge\.bw at chr1:.*holds 3\.4e\+38, past the "
                                            r"largest bfloat16 \(3\.38953e\+38\)"):
        Cover.create_from_bigwig("b", path, roi=roi, binsize=500, storage="zarr",
                                 store=str(store), store_whole_genome=whole, dtype="bfloat16")
    with pytest.raises((StoreError, FileNotFoundError)):  # nothing left to open
        open_dataset(store)


def test_stored_bytes_are_half_of_float32(track, tmp_path):
    kw = dict(roi=_windows(), binsize=1000, storage="zarr")

    def data_bytes(path):
        return sum(os.path.getsize(os.path.join(path, f)) for f in os.listdir(path)
                   if f.startswith("c."))

    with set_options(compressor=None):  # raw chunks: the dtype's size alone
        Cover.create_from_bigwig("f", track, store=str(tmp_path / "f"), **kw)
        Cover.create_from_bigwig("b", track, store=str(tmp_path / "b"), dtype="bfloat16",
                                 **kw)
    f32, bf16 = (data_bytes(os.path.join(tmp_path, p, "data")) for p in ("f", "b"))
    assert f32 == 32 * 1000 * 4 and bf16 == f32 // 2


@pytest.fixture
def bf16_store(track, tmp_path):
    roi = _windows()
    cover = Cover.create_from_bigwig("b", track, roi=roi, binsize=1000, storage="zarr",
                                     store=str(tmp_path / "b.zarr"), dtype="bfloat16")
    return cover, _to_bf16(_pybigwig(track, roi))[..., None, None]


@pytest.mark.parametrize("cache", [None, "memory"])
def test_every_reading_path_serves_float32(bf16_store, cache, monkeypatch):
    cover, want = bf16_store
    np.testing.assert_array_equal(cover[:], want)
    ds = open_dataset(cover.garray.path, cache=cache)
    order = np.random.default_rng(1).permutation(len(want))
    got = ds[order]
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, want[order])
    # zarr's own codec pipeline (the path taken where genozarr's direct reader does not
    # apply) widens too
    from genozarr.store import backend

    monkeypatch.setattr(backend.DirectChunks, "for_array", classmethod(lambda *a: None))
    monkeypatch.setattr(backend.RemoteChunks, "for_array", classmethod(lambda *a, **k: None))
    slow = open_dataset(cover.garray.path, cache=cache)
    np.testing.assert_array_equal(slow[order], want[order])
    assert list(slow.garray.backend._direct.values()) == [None]  # read through zarr
    rows = slow.garray.backend.read_range("data", 3, 5, view=True)  # a cached chunk's rows
    assert rows.dtype == np.float32
    np.testing.assert_array_equal(rows, want[3:5])


@pytest.mark.parametrize("storage", ["ndarray", "sparse"])
def test_a_bfloat16_store_opens_into_memory_as_float32(bf16_store, storage):
    # what the zarr store serves (float32) is what the in-memory storages hold
    cover, want = bf16_store
    ds = open_dataset(cover.garray.path, storage=storage)
    got = np.asarray(ds[:])
    assert got.dtype == np.float32 and ds.garray.backend.storage == storage
    np.testing.assert_array_equal(got, want)


def test_sharded_bfloat16_store(track, tmp_path):
    roi = _windows()
    with set_options(inner_chunk_bytes=8000, chunk_bytes=32_000):
        cover = Cover.create_from_bigwig("s", track, roi=roi, binsize=1000, storage="zarr",
                                         store=str(tmp_path / "s.zarr"), dtype="bfloat16")
    arr = cover.garray.backend.array("data")
    # chunks are sized by the bytes served: rows of 4,000 bytes as float32 (2,000 stored)
    assert arr.chunks[0] == 2 and arr.shards[0] == 8
    want = _to_bf16(_pybigwig(track, roi))[..., None, None]
    order = np.random.default_rng(2).permutation(len(want))
    np.testing.assert_array_equal(open_dataset(cover.garray.path, cache=None)[order],
                                  want[order])


def test_remote_bfloat16_store_over_http(bf16_store):
    pytest.importorskip("aiohttp")
    from genozarr.testing.servers import serve_directory

    cover, want = bf16_store
    root, name = os.path.split(cover.garray.path)
    with serve_directory(root) as base:
        remote = open_dataset(f"{base}/{name}", cache=None)
        got = remote[np.arange(len(want))[::-1]]
        assert got.dtype == np.float32
        np.testing.assert_array_equal(got, want[::-1])


def test_xarray_and_plain_zarr_read_the_store(bf16_store):
    import xarray as xr
    import zarr

    cover, want = bf16_store
    # genozarr's xarray view serves float32, lazily, as the datasets do
    view = open_store(cover.garray.path)
    assert view["data"].dtype == np.float32
    np.testing.assert_array_equal(view["data"].values, want)
    direct = xr.open_dataset(cover.garray.path, engine="genozarr")
    np.testing.assert_array_equal(direct["data"].values, want)
    # plain zarr reads the data type 'bfloat16' once registered: the stored bits
    register_zarr()
    arr = zarr.open_array(cover.garray.path, path="data", mode="r")
    raw = arr[:]
    assert raw.dtype == bfloat16()
    np.testing.assert_array_equal(raw.astype(np.float32), want)


def test_loader_and_export_serve_the_stored_values(bf16_store, tmp_path):
    import pyBigWig

    torch = pytest.importorskip("torch")
    from genozarr.loaders import torch_loader

    cover, want = bf16_store
    got = np.concatenate([b.numpy() for b in torch_loader(cover, batch_size=5)])
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, want)
    assert torch.is_tensor(next(iter(torch_loader(cover, batch_size=5))))
    (path,) = cover.export_to_bigwig(tmp_path / "out", genomesize=CHROMS)
    with pyBigWig.open(path) as bw:
        back = np.stack([np.asarray(bw.values(c, s, e), dtype=np.float32)
                         for c, s, e in _windows().itertuples(index=False)])
    np.testing.assert_array_equal(np.nan_to_num(back), want[..., 0, 0])


@pytest.mark.parametrize("storage", ["ndarray", "sparse"])
def test_bfloat16_needs_a_zarr_store(track, storage):
    with pytest.raises(ArgumentError, match=r"dtype='bfloat16' is a storage type of zarr "
                                            r"stores.*storage='zarr'"):
        Cover.create_from_bigwig("b", track, roi=_windows(), binsize=1000, storage=storage,
                                 dtype="bfloat16")


@pytest.mark.parametrize("dtype", ["complex64", "foo", "U4", object])
def test_store_dtype_must_be_numeric(track, dtype):
    with pytest.raises(ArgumentError, match="dtype must be a numeric dtype"):
        Cover.create_from_bigwig("b", track, roi=_windows(), binsize=1000, dtype=dtype)


def test_widen_is_ml_dtypes_cast_for_every_bit_pattern():
    bits = np.arange(1 << 16, dtype=np.uint32).astype(np.uint16)
    values = bits.view(bfloat16())
    got = widen(values)
    want = values.astype(np.float32)
    assert got.dtype == np.float32
    finite = ~np.isnan(want)
    np.testing.assert_array_equal(got.view(np.uint32)[finite], want.view(np.uint32)[finite])
    assert np.isnan(got[~finite]).all()
    # the upper half of each float32 is the stored value's bits, the lower half zero
    np.testing.assert_array_equal(got.view(np.uint32) >> 16, bits)
    assert not (got.view(np.uint32) & 0xFFFF).any()
    other = np.arange(4, dtype=np.float16)
    assert widen(other) is other


@pytest.mark.parametrize("whole", [False, True])
def test_predictions_store_in_bfloat16(tmp_path, whole):
    from genozarr import GenomicIndexer

    rng = np.random.default_rng(3)
    n, length = 40, 100
    gi = GenomicIndexer(np.full(n, "chr1", dtype=object), np.arange(n) * length,
                        np.arange(n) * length + length,
                        np.where(np.arange(n) % 3, "+", "-").astype(object), length, length)
    x = (10.0 ** rng.uniform(-4, 8, (n, length, 1, 2))).astype(np.float32)
    x[8:16] = 0  # a chunk of zeros: not written, read back as the fill value
    with set_options(chunk_bytes=8 * length * 2 * 4):  # 8 windows (800 bins) per chunk
        cover = Cover.create_from_array("p", x, gi, storage="zarr",
                                        store=str(tmp_path / "p"), dtype="bfloat16",
                                        store_whole_genome=whole,
                                        genomesize={"chr1": n * length})
    data = os.path.join(cover.garray.path, array_path("chr1") if whole else "data")
    assert "c.0.0.0" in " ".join(os.listdir(data)) and not any(
        f.startswith("c.1.") for f in os.listdir(data))
    again = open_dataset(cover.garray.path)
    assert again.garray.meta.dtype == "bfloat16"
    got = again[:]
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, _to_bf16(x))
    with pytest.raises(ArgumentError, match="dtype='bfloat16' is a storage type of zarr"):
        Cover.create_from_array("p", x, gi, dtype="bfloat16")


@pytest.mark.parametrize("whole", [False, True])
def test_float64_predictions_round_to_bfloat16_once(tmp_path, whole):
    """float64 values are rounded to bfloat16 as ml_dtypes rounds them, to nearest even,
    once: through float32 first, 1 + 2**-8 + 2**-40 became 1.0 (not 1.0078125), and
    3.3961775292304597e38, which rounds to bfloat16's largest, became an infinity."""
    from genozarr import GenomicIndexer

    values = np.array([1 + 2**-8 + 2**-40, 3.3961775292304597e38, -(1 + 3 * 2**-9 - 2**-40),
                       0.1, 7.0])
    x = values.reshape(1, 5, 1, 1)
    gi = GenomicIndexer(["chr1"], [0], [5], ["+"], 5, 5)
    cover = Cover.create_from_array("f", x, gi, storage="zarr", dtype="bfloat16",
                                    store=str(tmp_path / "f"), store_whole_genome=whole,
                                    genomesize={"chr1": 5})
    want = values.astype(bfloat16()).astype(np.float32)  # ml_dtypes, from float64 directly
    assert want[0] == np.float32(1.0078125) and np.isfinite(want[1])
    np.testing.assert_array_equal(open_dataset(cover.garray.path)[:].ravel(), want)


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_padding_outside_the_windows_is_the_value_the_store_holds(tmp_path, dtype):
    """A padding value the store's dtype cannot hold (0.1) is served as the store holds it
    everywhere: an interval outside the windows of a partial bfloat16 store served
    float32(0.1), a value the store never held, beside bfloat16(0.1) inside the rows."""
    from genozarr import GenomicIndexer

    gi = GenomicIndexer(["chr1"], [0], [50], ["+"], 50, 50)
    held = np.float32(np.array(0.1).astype(bfloat16() if dtype == "bfloat16" else dtype))
    for whole in (False, True):
        cover = Cover.create_from_array("p", np.ones((1, 50, 1, 1), np.float32), gi,
                                        storage="zarr", dtype=dtype, padding_value=0.1,
                                        store=str(tmp_path / f"p{whole}"),
                                        store_whole_genome=whole, genomesize={"chr1": 100})
        for got in (cover["chr1", 60, 62], cover["chr1", 95, 105]):
            np.testing.assert_array_equal(np.float32(got[0, -2:, 0, 0]), [held, held])


def test_chunks_and_shuffle_buffer_are_sized_by_the_float32_served(track, tmp_path):
    from genozarr.batching import _cache_rows

    kw = dict(roi=_windows(), binsize=1000, storage="zarr")
    with set_options(chunk_bytes=40_000, chunk_cache_bytes=400_000):
        full = Cover.create_from_bigwig("f", track, store=str(tmp_path / "f"), **kw)
        half = Cover.create_from_bigwig("b", track, store=str(tmp_path / "b"),
                                        dtype="bfloat16", **kw)
        # 10 rows of 4,000 decoded bytes per chunk, either way; half the cache (200 kB)
        # holds 50 decoded rows: a bfloat16 chunk is cached as float32
        assert half.chunk_rows == full.chunk_rows == 10
        assert _cache_rows([half]) == _cache_rows([full]) == 50


def test_cli_builds_a_bfloat16_store_and_names_a_bad_dtype(track, tmp_path):
    from typer.testing import CliRunner

    from genozarr.cli import app

    runner = CliRunner()
    spec = tmp_path / "spec.yaml"
    for dtype, store in (("bfloat16", "b.zarr"), ("complex64", "c.zarr")):
        spec.write_text(f"name: b\nkind: bigwig\nfiles: {track}\nroi: chr1:0-4000\n"
                        f"binsize: 1000\nstore: {store}\ndtype: {dtype}\n")
        result = runner.invoke(app, ["build", str(spec), "--no-progress"])
        if dtype == "bfloat16":
            assert result.exit_code == 0, result.output
            built = open_dataset(tmp_path / store)
            assert built.garray.meta.dtype == "bfloat16"
            want = _to_bf16(_pybigwig(track, pd.DataFrame(
                {"chrom": ["chr1"] * 4, "start": np.arange(4) * 1000,
                 "end": np.arange(1, 5) * 1000})))
            np.testing.assert_array_equal(built[:][..., 0, 0], want)
            info = runner.invoke(app, ["info", str(tmp_path / store)])
            assert info.exit_code == 0 and "bfloat16 (served as float32)" in info.output
        else:
            assert result.exit_code == 1
            assert "dtype must be a numeric dtype" in result.stderr.strip().splitlines()[-1]
            assert "Traceback" not in result.stderr and not (tmp_path / store).exists()


def test_memory_budget_is_asked_for_the_float32_served(bf16_store, monkeypatch):
    """A store kept decoded in memory holds float32: the claim on the memory budget is
    for those bytes (32 windows x 1,000 bases x 4 bytes, besides the small coordinate
    arrays), not for the 2 bytes a value stored."""
    from genozarr.store import backend

    cover, want = bf16_store
    asked = []
    monkeypatch.setattr(backend, "_claim", lambda size: asked.append(size) or False)
    ds = open_dataset(cover.garray.path)  # cache='auto': decided on the first read
    np.testing.assert_array_equal(ds[:], want)
    assert not ds.garray.backend.resident
    assert len(asked) == 1 and 128_000 <= asked[0] < 128_000 + 4_000
