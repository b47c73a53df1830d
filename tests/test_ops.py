"""Lazy collapse against numpy over several chunkings and both layouts, and write_store
round trips readable by open_store and load_store."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest
import xarray as xr

import genozarr.ops as ops
from genozarr import Cover, open_store
from genozarr.errors import ArgumentError, StoreError
from genozarr.ops.normalize import ZScore
from genozarr.store import load_store

RES = 5


@pytest.fixture(scope="module")
def partial():
    rng = np.random.default_rng(11)
    data = rng.normal(size=(9, 12, 2, 2)).astype("float32")
    n = data.shape[0]
    return xr.Dataset(
        {"data": (("region", "position", "strand", "condition"), data)},
        coords={"strand": ["+", "-"], "condition": ["a", "b"],
                "region_chrom": ("region", np.array(["chr1"] * n)),
                "region_start": ("region", np.arange(n) * 60),
                "region_end": ("region", np.arange(n) * 60 + 60),
                "region_strand": ("region", np.array(["+"] * n))},
        attrs={"resolution": RES, "binsize": 60, "flank": 0, "name": "p", "cache_key": "k",
               "kind": "coverage", "layout": "partial"})


@pytest.fixture(scope="module")
def whole():
    rng = np.random.default_rng(12)
    arrays = {"chrA": rng.normal(size=(23, 1, 2)).astype("float32"),
              "chrB": rng.normal(size=(16, 1, 2)).astype("float32")}
    ds = xr.Dataset({k: ((f"position_{k}", "strand", "condition"), v) for k, v in arrays.items()},
                    coords={"strand": ["."], "condition": ["a", "b"]},
                    attrs={"resolution": RES, "name": "w", "layout": "whole_genome",
                           "chroms": {"chrA": 23 * RES, "chrB": 16 * RES - 3}})
    return ds


def numpy_collapse(x, factor, how, axis):
    """Plain numpy: pad the position axis with zeros to a multiple of factor, reduce."""
    rest = (-x.shape[axis]) % factor
    if rest:
        pad = [(0, 0)] * x.ndim
        pad[axis] = (0, rest)
        x = np.pad(x, pad)
    shape = list(x.shape)
    shape[axis:axis + 1] = [x.shape[axis] // factor, factor]
    func = {"sum": np.sum, "mean": np.mean, "max": np.max, "min": np.min}.get(how, how)
    return func(x.reshape(shape), axis=axis + 1)


@pytest.mark.parametrize("how", ["sum", "mean", "max", np.median])
@pytest.mark.parametrize("chunks", [{"region": 1}, {"region": 4, "position": 5},
                                    {"position": 3, "condition": 1}])
def test_collapse_partial(partial, how, chunks):
    out = ops.collapse(partial.chunk(chunks), resolution=3 * RES, how=how)
    assert isinstance(out["data"].data, da.Array)
    assert out.attrs["resolution"] == 3 * RES and out.attrs["cache_key"] != "k"
    want = numpy_collapse(partial["data"].values, 3, how, 1)
    np.testing.assert_allclose(out["data"].values, want, rtol=1e-6)
    assert list(out["region_start"].values) == list(partial["region_start"].values)


def test_collapse_partial_to_one_value(partial):
    out = ops.collapse(partial.chunk({"region": 2}), resolution=None, how="max")
    np.testing.assert_array_equal(out["data"].values, partial["data"].values.max(axis=1,
                                                                                 keepdims=True))
    assert "resolution" not in out.attrs


@pytest.mark.parametrize("how", ["sum", "mean", "max"])
@pytest.mark.parametrize("chunks", [{"position_chrA": 4, "position_chrB": 7},
                                    {"position_chrA": 1, "position_chrB": -1}])
def test_collapse_whole_genome_pads_last_bin(whole, how, chunks):
    out = ops.collapse(whole.chunk(chunks), resolution=4 * RES, how=how)
    for k in ("chrA", "chrB"):
        want = numpy_collapse(whole[k].values, 4, how, 0)
        assert out[k].shape == want.shape == (-(-whole[k].shape[0] // 4), 1, 2)
        np.testing.assert_allclose(out[k].values, want, rtol=1e-6)


def test_collapse_errors(partial, whole):
    with pytest.raises(ArgumentError, match="multiple of the store's resolution"):
        ops.collapse(partial, resolution=7)
    with pytest.raises(ArgumentError, match="not a multiple"):
        ops.collapse(partial, resolution=5 * RES)  # 12 bins are not divisible by 5
    with pytest.raises(ArgumentError, match="partial layout"):
        ops.collapse(whole, resolution=None)
    with pytest.raises(ArgumentError, match="how must be"):
        ops.collapse(partial, resolution=2 * RES, how="median")


@pytest.mark.parametrize("layout", ["partial", "whole"])
def test_write_store_round_trip(partial, whole, layout, tmp_path):
    src = partial if layout == "partial" else whole
    z = ZScore()
    chunks = {d: 4 for d in src.dims if str(d).startswith(("region", "pos"))}
    lazy = ops.normalize(src.chunk(chunks), z)
    lazy = ops.collapse(lazy, resolution=2 * RES, how="mean") if layout == "partial" else lazy
    path = ops.write_store(lazy, tmp_path / "out.zarr")
    back = open_store(path)
    for k in lazy.data_vars:
        np.testing.assert_allclose(back[k].values, lazy[k].values, rtol=1e-6)
        assert back[k].dims == lazy[k].dims
    assert back.attrs["resolution"] == lazy.attrs["resolution"]
    assert back.attrs.get("cache_key") == lazy.attrs.get("cache_key")
    store = load_store(path, "ndarray")
    assert store.meta.layout == ("partial" if layout == "partial" else "whole_genome")
    for k in lazy.data_vars:
        np.testing.assert_allclose(store.dense(k), lazy[k].values, rtol=1e-6)
    if layout == "partial":
        np.testing.assert_array_equal(store.region_table["start"], src["region_start"].values)
    with pytest.raises(StoreError, match="already exists"):
        ops.write_store(lazy, path)
    ops.write_store(lazy, path, overwrite=True)


def test_normalized_cover_store_round_trip(sim_data, tmp_path):
    """A zarr Cover normalized lazily and written back equals the Cover's batches."""
    kw = dict(roi=sim_data["roi"], binsize=200, resolution=10, storage="zarr",
              genomesize=sim_data["chrom_sizes"])
    raw = Cover.create_from_bigwig("raw", sim_data["bigwigs"], **kw)
    z = ZScore()
    cov = Cover.create_from_bigwig("z", sim_data["bigwigs"], normalizer=z, **kw)
    ds = ops.normalize(open_store(raw.garray.path), z)
    path = ops.write_store(ds, tmp_path / "z.zarr")
    written = Cover.create_from_bigwig("raw", sim_data["bigwigs"], **kw)
    written.garray = load_store(path, "zarr")
    np.testing.assert_allclose(written[:], cov[:], rtol=1e-6, atol=1e-6)


def test_modules_are_callable(partial):
    import genozarr

    assert ops.normalize.ZScore is genozarr.ZScore
    out = ops.normalize(partial, ZScore(mean=1.0, std=2.0), fit=False)
    np.testing.assert_allclose(out["data"].values, (partial["data"].values - 1) / 2, rtol=1e-6)
    with pytest.raises(ArgumentError, match="not fitted"):
        ops.normalize(partial, ZScore(), fit=False)
