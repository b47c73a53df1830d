"""Normalizers against a direct numpy computation on the dense array: lazy ops over several
chunkings and both layouts, the per-batch serving path on every backend, fitted state
reused on a test set, and cache keys that follow the normalizer."""

from __future__ import annotations

import json
import os
import re
import warnings
from typing import Any

import dask
import numpy as np
import pandas as pd
import pytest
import xarray as xr

import genozarr
import genozarr.ops as ops
from genozarr import Cover, GenomicIndexer
from genozarr.errors import ArgumentError, EmptyConditionWarning, StoreFormatError
from genozarr.ops._reductions import nan_percentile
from genozarr.ops.normalizers import (
    TPM,
    FunctionNormalizer,
    LogTransform,
    Normalizer,
    PercentileTrimming,
    RegionLength,
    RegionLengthNormalization,
    ZScore,
    ZScoreLog,
    normalizer_from_dict,
    resolve_normalizers,
)

NAMES = ["zscore", "zscorelog", "tpm", "binsizenorm", "perctrim"]
STORAGES = ["ndarray", "sparse", "zarr"]
RES = 5


# ----------------------------------------------------------------------------- fixtures
def _values(rng, shape):
    """Non-negative float32 with ties (rounded), zeros and NaNs."""
    x = np.round(rng.gamma(0.7, 4.0, size=shape), 1).astype("float32")
    x[rng.random(shape) < 0.3] = 0
    x[rng.random(shape) < 0.02] = np.nan
    return x


@pytest.fixture(scope="module")
def partial():
    rng = np.random.default_rng(7)
    n, p = 23, 12
    data = _values(rng, (n, p, 2, 3))
    starts = np.arange(n) * 100
    ends = starts + rng.integers(30, 61, n)  # variable lengths
    ds = xr.Dataset(
        {"data": (("region", "position", "strand", "condition"), data)},
        coords={"strand": ["+", "-"], "condition": ["a", "b", "c"],
                "region_chrom": ("region", np.array(["chr1"] * n)),
                "region_start": ("region", starts), "region_end": ("region", ends),
                "region_strand": ("region", np.array(["+"] * n))},
        attrs={"resolution": RES, "layout": "partial", "cache_key": "k0"})
    return ds, {"data": data}, (ends - starts).astype("float64")


@pytest.fixture(scope="module")
def whole():
    rng = np.random.default_rng(8)
    arrays = {"chrA": _values(rng, (57, 2, 3)), "chrB": _values(rng, (31, 2, 3))}
    ds = xr.Dataset({k: ((f"position_{k}", "strand", "condition"), v) for k, v in arrays.items()},
                    coords={"strand": ["+", "-"], "condition": ["a", "b", "c"]},
                    attrs={"resolution": RES, "layout": "whole_genome", "cache_key": "k0"})
    return ds, arrays, None


@pytest.fixture(scope="module")
def tree(whole):
    """The whole-genome fixture in format 2: a DataTree, one node per chromosome."""
    ds, arrays, _ = whole
    t = xr.DataTree.from_dict({
        f"/{k}": xr.Dataset({"data": (("position", "strand", "condition"), v)},
                            coords={"strand": ["+", "-"], "condition": ["a", "b", "c"]})
        for k, v in arrays.items()})
    t.attrs = dict(ds.attrs)
    return t, arrays, None


PARTIAL_CHUNKS = [{"region": 1}, {"region": 5, "position": 5},
                  {"region": -1, "strand": 1, "condition": 2}]
WHOLE_CHUNKS = [{"position_chrA": 7, "position_chrB": 4},
                {"position_chrA": -1, "position_chrB": 10, "condition": 1},
                {"position_chrA": 1, "position_chrB": 31}]


# ----------------------------------------------------------------------------- the oracle
def _per_condition(arrays):
    """All values of each condition (both strands, every array), NaN dropped."""
    n_cond = next(iter(arrays.values())).shape[-1]
    return [np.concatenate([a[..., c].ravel() for a in arrays.values()]).astype("float64")
            for c in range(n_cond)]


def _lengths_like(a, lengths, res=RES):
    """Bases per value, broadcastable against ``a`` (``res`` for the whole-genome layout)."""
    if lengths is None:
        return np.float64(res)
    return lengths.reshape((-1,) + (1,) * (a.ndim - 1))


def expected(name, arrays, lengths):
    """Dense numpy answer of each normalizer (float64)."""
    a64 = {k: v.astype("float64") for k, v in arrays.items()}
    if name in ("zscore", "zscorelog"):
        if name == "zscorelog":
            a64 = {k: np.log1p(v) for k, v in a64.items()}
        vals = _per_condition(a64)
        mean = np.array([np.nanmean(v) for v in vals])
        std = np.array([np.nanstd(v, ddof=1) for v in vals])
        return {k: (v - mean) / std for k, v in a64.items()}
    if name == "binsizenorm":
        return {k: v / _lengths_like(v, lengths) for k, v in a64.items()}
    if name == "tpm":
        y = {k: v / (_lengths_like(v, lengths) / 1000) for k, v in a64.items()}
        scale = np.array([np.nansum(v) for v in _per_condition(y)]) / 1e6
        return {k: v / scale for k, v in y.items()}
    if name == "perctrim":
        thr = np.array([np.nanpercentile(v, 99) for v in _per_condition(a64)])
        return {k: np.where(v > thr, thr, v) for k, v in a64.items()}
    raise AssertionError(name)


def _close(actual, want):
    np.testing.assert_allclose(np.asarray(actual, dtype="float64"), want, rtol=2e-5, atol=2e-5)


# ----------------------------------------------------------------------------- lazy ops
@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("layout,chunk_idx", [("partial", i) for i in range(3)]
                         + [("whole", i) for i in range(3)])
def test_normalize_lazy_matches_numpy(name, layout, chunk_idx, partial, whole):
    ds, arrays, lengths = partial if layout == "partial" else whole
    chunks = (PARTIAL_CHUNKS if layout == "partial" else WHOLE_CHUNKS)[chunk_idx]
    out = ops.normalize(ds.chunk(chunks), name)
    want = expected(name, arrays, lengths)
    for k in arrays:
        assert out[k].dims == ds[k].dims
        assert out[k].dtype == np.float32
        assert isinstance(out[k].data, dask.array.Array)
        _close(out[k].values, want[k])
    assert out.attrs["cache_key"] != ds.attrs["cache_key"]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("chunks", [{"position": 7}, {"position": 1, "strand": 1},
                                    {"position": -1, "condition": 1}])
def test_normalize_datatree_matches_numpy(name, chunks, tree, whole):
    """Format 2: statistics pooled over every chromosome node, the kernel applied to each;
    the same numbers as the format 1 Dataset and as the batch path."""
    t, arrays, lengths = tree
    (norm,) = resolve_normalizers(name)
    out = ops.normalize(t.chunk(chunks), norm)
    assert isinstance(out, xr.DataTree)
    assert out.attrs["cache_key"] != t.attrs["cache_key"]
    assert out.attrs["resolution"] == RES and "operations" not in t.attrs
    want = expected(name, arrays, lengths)
    legacy = ops.normalize(whole[0], name)
    for k, v in arrays.items():
        var = out[k]["data"]
        assert var.dims == ("position", "strand", "condition") and var.dtype == np.float32
        assert isinstance(var.data, dask.array.Array)
        _close(var.values, want[k])
        np.testing.assert_array_equal(var.values, legacy[k].values)
        batch = norm.transform_batch(v[None], np.array([RES]))[0]
        np.testing.assert_array_equal(var.values, batch)


def test_datatree_fit_is_bounded_and_transform_lazy(tree):
    """Fitting a DataTree computes small reductions only; transforming computes nothing."""
    t = tree[0].chunk({"position": 5})
    seen = []

    def guarded(dsk, keys, **kwargs):
        result = dask.get(dsk, keys, **kwargs)
        seen.append(result)
        return result

    norms = [ZScore(), TPM(), PercentileTrimming(90)]
    with dask.config.set(scheduler=guarded):
        for norm in norms:
            norm.fit(t)
    assert seen and all(n.fitted for n in norms)

    def forbidden(*args, **kwargs):
        raise AssertionError("a lazy operation computed")

    with dask.config.set(scheduler=forbidden):
        out = ops.normalize(t, norms, fit=False)
        out = ops.collapse(out, resolution=2 * RES)
        with pytest.raises(AssertionError, match="computed"):
            out["chrA"]["data"].values  # noqa: B018 - proves the guard is active


def test_datatree_skips_nodes_without_data(tree):
    t, arrays, _ = tree
    extra = xr.DataTree.from_dict({"/": xr.Dataset(attrs=t.attrs), "/windows":
                                   xr.Dataset({"start": ("window", np.arange(3))}),
                                   **{f"/{k}": t[k].to_dataset() for k in arrays}})
    out = ops.normalize(extra, ZScore(mean=1.0, std=2.0))
    np.testing.assert_array_equal(out["windows"]["start"].values, np.arange(3))
    _close(out["chrA"]["data"].values, (arrays["chrA"].astype("float64") - 1) / 2)
    with pytest.raises(ArgumentError, match="not a genozarr dataset"):
        ZScore().fit(xr.DataTree.from_dict({"/windows": extra["windows"].to_dataset()}))


@pytest.mark.parametrize("name", NAMES)
def test_fitted_statistics_do_not_depend_on_chunks(name, partial):
    ds = partial[0]
    params = []
    for chunks in PARTIAL_CHUNKS:
        (norm,) = resolve_normalizers(name)
        norm.fit(ds.chunk(chunks))
        params.append(norm.cache_params())
    for p in params[1:]:
        for key, value in p.items():
            if isinstance(value, list):
                np.testing.assert_allclose(value, params[0][key], rtol=1e-12)
            else:
                assert value == params[0][key]


@pytest.mark.parametrize("name", NAMES)
def test_batch_path_equals_lazy_path(name, partial):
    ds, arrays, lengths = partial
    (norm,) = resolve_normalizers(name)
    lazy = ops.normalize(ds.chunk({"region": 4}), norm)["data"].values
    batch = norm.transform_batch(arrays["data"][3:9], lengths[3:9])
    np.testing.assert_array_equal(batch, lazy[3:9])


def test_percentile_exact_on_heavy_ties_and_outliers():
    rng = np.random.default_rng(3)
    x = np.zeros((400, 5, 1, 1), "float32")
    hit = rng.random(x.shape) < 0.05
    x[hit] = rng.integers(1, 4, size=int(hit.sum()))
    x[0, 0, 0, 0] = 1e30  # one outlier stretches the first histogram
    ds = xr.Dataset({"data": (("region", "position", "strand", "condition"), x)},
                    coords={"strand": ["."], "condition": ["a"]}).chunk({"region": 37})
    for p in (0, 50, 95, 97.5, 99.9, 100):
        got = nan_percentile([ds["data"].data], p)[0, 0]
        assert got == np.percentile(x.astype("float64"), p), p


def _percentile_by_sorting(values: np.ndarray, p: float) -> float:
    """The 'linear' percentile from the sorted values (NaN left out), infinities counted:
    an order statistic it falls on, or two equal ones, give that value; an infinity
    interpolated with a finite value gives the infinity."""
    v = np.sort(values[~np.isnan(values)].astype("float64"))
    h = (len(v) - 1) * p / 100
    a, b, f = v[int(np.floor(h))], v[min(int(np.floor(h)) + 1, len(v) - 1)], h - np.floor(h)
    if f == 0 or a == b:
        return a
    if np.isinf(a) or np.isinf(b):
        return b if np.isposinf(b) and not np.isneginf(a) else a
    return a + (b - a) * f if f < 0.5 else b - (b - a) * (1 - f)


def test_percentile_of_data_with_infinities():
    """Infinities are values (numpy's order); the histogram narrows over the finite ones.
    A single inf made every finite value fall in one bin of an infinite interval: the
    90th percentile of 0..99 with one inf came out 0 (PercentileTrimming then clipped
    every value to 0), and any percentile of data holding a -inf came out NaN."""
    rng = np.random.default_rng(5)
    for trial in range(60):
        x = rng.normal(size=(int(rng.integers(1, 40)), 7, 1, 1)).astype("float32")
        m = rng.random(x.shape)
        x[m < 0.08] = np.inf
        x[(m >= 0.08) & (m < 0.15)] = -np.inf
        x[(m >= 0.15) & (m < 0.2)] = np.nan
        chunks = {"region": int(rng.integers(1, 9))}
        ds = xr.Dataset({"data": (("region", "position", "strand", "condition"), x)}).chunk(chunks)
        for p in (0, 3, 50, 90, 99, 100):
            got = nan_percentile([ds["data"].data], p)[0, 0]
            want = _percentile_by_sorting(x.ravel(), p)
            assert got == pytest.approx(want, rel=1e-12, nan_ok=True), (trial, p)
    x = np.arange(100, dtype="float32").reshape(100, 1, 1, 1)
    x[50] = np.inf
    ds = xr.Dataset({"data": (("region", "position", "strand", "condition"), x)})
    norm = PercentileTrimming(90)
    out = ops.normalize(ds.chunk({"region": 30}), norm)["data"].values
    assert norm.threshold.ravel().tolist() == [pytest.approx(90.1)]  # numpy: 90.1
    np.testing.assert_allclose(out, np.minimum(x, np.float32(90.1)))


def test_per_strand_statistics(partial):
    ds, arrays, _ = partial
    data = arrays["data"].astype("float64")
    z = ZScore(per_strand=True).fit(ds.chunk({"region": 6}))
    np.testing.assert_allclose(z.mean, np.nanmean(data, axis=(0, 1)), rtol=1e-10)
    np.testing.assert_allclose(z.std, np.nanstd(data, axis=(0, 1), ddof=1), rtol=1e-10)
    t = PercentileTrimming(80, per_strand=True).fit(ds.chunk({"region": 6}))
    flat = data.reshape(-1, 2, 3)
    np.testing.assert_allclose(t.threshold, np.nanpercentile(flat, 80, axis=0), rtol=1e-12)


def test_reset_keeps_a_given_scalar_mean_for_data_of_other_conditions(tmp_path):
    """ZScore(mean=0) fitted on 3 conditions kept the mean spread to (1, 3) after reset(),
    so a refit on 2 conditions failed with numpy's broadcast error. The given scalar is
    kept; the refit takes each condition's deviation around it (as numpy computes it)."""
    rng = np.random.default_rng(0)
    gi = GenomicIndexer.create_from_file(["chr1:0-1000"], binsize=100, stepsize=100)
    raw = {}
    for name, c in (("three", 3), ("two", 2)):
        raw[name] = rng.exponential(2, (len(gi), 100, 1, c)).astype(np.float32)
        Cover.create_from_array(name, raw[name], gi, resolution=1, storage="zarr",
                                store=str(tmp_path / name))
    for z in (ZScore(mean=0.0), ZScoreLog(mean=0.0)):
        genozarr.open_dataset(str(tmp_path / "three"), normalizer=z)
        z.reset()
        assert np.shape(z.mean) == () and z.mean == 0.0
        two = genozarr.open_dataset(str(tmp_path / "two"), normalizer=z)
        x = raw["two"].astype(np.float64)
        if isinstance(z, ZScoreLog):
            x = np.log(x + 1.0)
        std = np.sqrt((x ** 2).sum(axis=(0, 1, 2)) / (x[..., 0].size - 1))
        np.testing.assert_allclose(two[:], x / std, rtol=1e-5)


def test_a_given_statistic_for_another_number_of_conditions_is_refused_by_name():
    """ZScore(mean=[3 values]) fitted on 2 conditions failed with numpy's broadcast error,
    and ZScore(std=[3 values]) kept a fitted mean before the dataset refused it (an
    audit); both are refused by name before the fit, and the object stays unfitted. A
    given value per condition, or one for all, is fitted around as before (numpy)."""
    rng = np.random.default_rng(4)
    gi = GenomicIndexer.create_from_file(["chr1:0-400"], binsize=100, stepsize=100)
    raw = rng.exponential(2, (len(gi), 100, 1, 2)).astype(np.float32)
    cover = Cover.create_from_array("two", raw, gi)
    for z, key in ((ZScore(mean=[1.0, 2.0, 3.0]), "mean"), (ZScore(std=[1.0, 2.0, 3.0]), "std"),
                   (ZScoreLog(mean=[[1.0, 2.0, 3.0]]), "mean"),
                   (ZScore(mean=[[0.0, 0.0], [1.0, 1.0]]), "mean")):
        shape = (2, 2) if key == "mean" and np.shape(z.mean) == (2, 2) else (1, 3)
        with pytest.raises(ArgumentError, match=rf"normalizer '{z.name}' holds {key} of shape "
                           rf"\({shape[0]}, {shape[1]}\) \(strand, condition\), given for "
                           r"data of another shape: the data have 1 strand\(s\) and 2 "
                           r"condition\(s\)"):
            ops.normalize(cover.to_xarray(), z)
        assert not z.fitted
    x = raw.astype(np.float64)
    for given in ([1.0, 2.0], 1.5):
        out = ops.normalize(cover.to_xarray(), ZScore(mean=given))
        mean = np.broadcast_to(np.asarray(given), (2,))
        std = np.sqrt(((x - mean) ** 2).sum(axis=(0, 1, 2)) / (x[..., 0].size - 1))
        np.testing.assert_allclose(np.asarray(out["data"]), (x - mean) / std, rtol=1e-5)


def test_reset_of_a_restored_normalizer_keeps_the_given_scalar_mean(tmp_path):
    """A ZScore(mean=0) recorded in a store fitted on 3 conditions came back with the mean
    spread to (1, 3) as the given value, so after reset() a fit on 2 conditions failed
    with numpy's broadcast error. The given scalar is recorded and restored."""
    from genozarr.testing.simulate import simulate_bigwig

    files = [simulate_bigwig(str(tmp_path / f"b{i}.bw"), {"chr1": 5000}, seed=i)
             for i in range(3)]
    opts = {"roi": ["chr1:0-4000"], "binsize": 200, "resolution": 1}
    raw = Cover.create_from_bigwig("raw", bigwigfiles=files[:2], **opts)[:]
    for z in (ZScore(mean=0.0), ZScoreLog(mean=0.0)):
        store = str(tmp_path / z.name)
        Cover.create_from_bigwig("c", bigwigfiles=files, storage="zarr", store=store,
                                 normalizer=z, **opts)
        restored = genozarr.open_dataset(store).normalizers[0]
        assert np.shape(restored.mean) == (1, 3) and restored._given == (True, False)
        restored.reset()
        assert np.shape(restored.mean) == () and restored.mean == 0.0
        two = Cover.create_from_bigwig("c", bigwigfiles=files[:2], normalizer=restored,
                                       **opts)
        x = raw.astype(np.float64)
        if isinstance(z, ZScoreLog):
            x = np.log(x + 1.0)
        std = np.sqrt((x ** 2).sum(axis=(0, 1, 2)) / (x[..., 0].size - 1))
        np.testing.assert_allclose(two[:], x / std, rtol=1e-5)


def test_given_statistics_and_lists(partial):
    ds, arrays, _ = partial
    data = arrays["data"].astype("float64")
    # ZScore with a fixed mean: the std is taken around that mean (as Janggu)
    z = ZScore(mean=1.0).fit(ds)
    vals = _per_condition({"d": data})
    want = [np.sqrt(np.nansum((v - 1.0) ** 2) / (np.count_nonzero(~np.isnan(v)) - 1)) for v in vals]
    np.testing.assert_allclose(z.std[0], want, rtol=1e-10)
    # a list applies in order; the second is fitted on the output of the first
    trim, zs = PercentileTrimming(95), ZScore()
    out = ops.normalize(ds, [trim, zs])["data"].values
    thr = np.array([np.nanpercentile(v, 95) for v in vals])
    clipped = np.where(data > thr, thr, data)
    cv = _per_condition({"d": clipped})
    want = (clipped - [np.nanmean(v) for v in cv]) / [np.nanstd(v, ddof=1) for v in cv]
    _close(out, want)
    # a callable over numpy data
    _close(ops.normalize(ds.chunk({"region": 3}), lambda x: 2 * x)["data"].values, 2 * data)
    assert RegionLength is RegionLengthNormalization
    assert isinstance(resolve_normalizers("TPM")[0], TPM)
    with pytest.raises(ArgumentError, match="unknown normalizer 'zcore'"):
        resolve_normalizers("zcore")
    with pytest.raises(ArgumentError, match="percentile"):
        PercentileTrimming(101)
    with pytest.raises(ArgumentError, match="not fitted"):
        ZScore().transform(ds)


def test_transform_never_computes_and_fit_only_reduces(partial):
    """Fitted transforms and collapse build graphs only; fitting computes small
    reductions, never the array itself."""
    small = partial[0]
    rng = np.random.default_rng(5)
    n = 400  # a 2 MB array in 100 chunks: the fit results must stay far below it
    ds = xr.Dataset({"data": (small["data"].dims, _values(rng, (n, 200, 2, 3)))},
                    coords={"strand": ["+", "-"], "condition": ["a", "b", "c"],
                            "region_start": ("region", np.zeros(n, int)),
                            "region_end": ("region", np.full(n, 1000))},
                    attrs=dict(small.attrs)).chunk({"region": 4})
    norms = [ZScore(), ZScoreLog(), TPM(), PercentileTrimming(90), RegionLengthNormalization()]
    big = ds["data"].nbytes
    seen = []

    def guarded(dsk, keys, **kwargs):
        result = dask.get(dsk, keys, **kwargs)

        def nbytes(obj):
            if isinstance(obj, np.ndarray):
                return obj.nbytes
            if isinstance(obj, (list, tuple)):
                return sum(nbytes(o) for o in obj)
            return 0
        seen.append(nbytes(result))
        return result

    with dask.config.set(scheduler=guarded):
        for norm in norms:
            norm.fit(ds)
    assert len(seen) >= 5 and max(seen) < big / 4  # fixed-size histograms at most

    def forbidden(*args, **kwargs):
        raise AssertionError("a lazy operation computed")

    with dask.config.set(scheduler=forbidden):
        out = ops.normalize(ds, norms)
        out = ops.normalize(out, lambda x: x + 1)
        out = ops.collapse(out, resolution=2 * RES, how="mean")
        with pytest.raises(AssertionError, match="computed"):
            out["data"].values  # noqa: B018 - proves the guard is active
    assert out["data"].shape == (n, 100, 2, 3)


# ----------------------------------------------------------------------------- serialization
def _double(x):
    """A module-level function: stored by reference."""
    return 2 * x


def _roundtrip(norm):
    d = norm.to_dict()
    text = json.dumps(d, allow_nan=False)  # strict JSON: no NaN literals
    back = normalizer_from_dict(json.loads(text), trust_callables=True)
    assert type(back) is type(norm)
    assert back.to_dict() == d
    return d, back


ROUND_TRIP = [
    ("log", LogTransform()),
    ("zscore", ZScore()),
    ("zscore-strand", ZScore(per_strand=True)),
    ("zscore-fixed-mean", ZScore(mean=1.0)),
    ("zscorelog", ZScoreLog()),
    ("perctrim", PercentileTrimming(95)),
    ("perctrim-strand", PercentileTrimming(80, per_strand=True)),
    ("binsizenorm", RegionLengthNormalization(unit=1000)),
    ("alias", RegionLength()),
    ("tpm", TPM()),
    ("ufunc", FunctionNormalizer(np.log1p)),
    ("function", FunctionNormalizer(_double)),
]


@pytest.mark.parametrize("label,norm", ROUND_TRIP, ids=[r[0] for r in ROUND_TRIP])
def test_to_dict_round_trip_is_bit_identical(label, norm, partial):
    ds = partial[0]
    norm.reset().fit(ds.chunk({"region": 5}))
    d, back = _roundtrip(norm)
    assert back.fitted
    rng = np.random.default_rng(21)
    x = _values(rng, (6, 12, 2, 3))
    lengths = rng.integers(30, 61, 6).astype("float64")
    want = norm.transform_batch(x, lengths)
    np.testing.assert_array_equal(back.transform_batch(x, lengths), want)
    assert back.transform_batch(x, lengths).dtype == want.dtype
    if label.startswith(("ufunc", "function")):
        assert d["ref"] in ("numpy:log1p", f"{_double.__module__}:_double")
        assert back.func is norm.func
    else:
        assert set(d) <= {"type", "params", "given", "given_mean", "conditions", "strands"}
        assert d["type"] == norm.name and ("given_mean" in d) == (label == "zscore-fixed-mean")
        if hasattr(norm, "_given"):  # fitted statistics restore as fitted, with the names
            assert back._given == norm._given
            assert back.conditions == norm.conditions == ["a", "b", "c"]
            assert back.strands == norm.strands is not None
        if "given_mean" in d:  # the mean as given, before the fit spread it
            assert np.shape(back._given_mean) == () and back._given_mean == 1.0
            d["given_mean"] = None  # a NaN scalar, as _encode records it
            again = normalizer_from_dict(d)
            assert np.shape(again._given_mean) == () and np.isnan(again._given_mean)
    # the lazy path of the rebuilt instance (fitted: fit=False) gives the same numbers
    np.testing.assert_array_equal(ops.normalize(ds, back, fit=False)["data"].values,
                                  norm.transform(ds)["data"].values)


def test_to_dict_shapes_and_non_finite_statistics():
    z = ZScore(mean=[[0.5, 1.5, 2.5]], std=[[1.0, 2.0, 4.0]], per_strand=False)
    assert z.to_dict() == {"type": "zscore", "given": [True, True], "params": {
        "per_strand": False, "mean": [[0.5, 1.5, 2.5]], "std": [[1.0, 2.0, 4.0]]}}
    t = PercentileTrimming(99, threshold=[1.0, np.nan, np.inf])
    d, back = _roundtrip(t)
    assert d == {"type": "perctrim", "given": True,
                 "params": {"percentile": 99.0, "per_strand": False,
                            "threshold": [[1.0, None, "inf"]]}}
    np.testing.assert_array_equal(back.threshold, [[1.0, np.nan, np.inf]])
    assert TPM(scale=[2.0, 3.0]).to_dict() == {"type": "tpm", "given": True,
                                               "params": {"scale": [[2.0, 3.0]]}}
    assert RegionLength(1000).to_dict() == {"type": "binsizenorm", "params": {"unit": 1000.0}}
    assert LogTransform().to_dict() == {"type": "log", "params": {}}
    # an unfitted normalizer round trips unfitted
    d, back = _roundtrip(ZScoreLog(per_strand=True))
    assert d["params"] == {"per_strand": True, "mean": None, "std": None} and not back.fitted


def test_callables_that_cannot_be_imported():
    def closure(x):
        return x + 1

    for func in (lambda x: x * 3, closure):
        d = FunctionNormalizer(func).to_dict()
        # (no memory address: the same recipe in every process; an audit found every
        # cache reuse rewriting the store's metadata for the address alone)
        assert d["type"] == "callable" and d["ref"] is None and d["repr"] == \
            re.sub(r" at 0x[0-9a-f]+", "", repr(func)) and "0x" not in d["repr"]
        with pytest.raises(StoreFormatError, match=r"callable .* cannot be restored.*"
                                                   r"open_dataset\(\.\.\., normalizer=\.\.\.\)"):
            normalizer_from_dict(json.loads(json.dumps(d)))
    with pytest.raises(StoreFormatError, match="importing 'no_such_module:f' failed"):
        normalizer_from_dict({"type": "callable", "ref": "no_such_module:f", "repr": "f"},
                             trust_callables=True)
    with pytest.raises(StoreFormatError, match="unknown normalizer"):
        normalizer_from_dict({"type": "quantile", "params": {}})
    for kind in ({"a": 1}, ["zscore"]):  # (an audit: a bare TypeError, unhashable type)
        with pytest.raises(StoreFormatError, match="unknown normalizer"):
            normalizer_from_dict({"type": kind, "params": {}})


def test_a_recipe_imports_and_runs_nothing_untrusted(tmp_path):
    """A crafted recipe naming ``pickle:loads`` as a normalizer function made
    ``open_dataset`` call it on the stored values (float32 values spelling a pickle ran a
    command at the first read), and a class record imported any module before its
    ``Normalizer`` check. Untrusted records are refused before anything is imported or
    called; numpy's ufuncs and genozarr's classes restore as before, and
    ``trust_callables=True`` restores the user's own."""
    import pickle
    import subprocess
    import sys

    import genozarr
    from genozarr import Cover, GenomicIndexer
    from genozarr.store.handle import load_store
    from genozarr.store.recipe import update_served

    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (subprocess.call, (["touch", str(marker)],))

    raw = np.frombuffer(pickle.dumps(Payload()).ljust(400, b"."), dtype=np.uint8)
    values = raw[: raw.size // 4 * 4].view(np.float32)
    n = values.size // 4
    gi = GenomicIndexer(["chr1"] * n, np.arange(n) * 4, np.arange(n) * 4 + 4, ["+"] * n, 4, 4)
    store = str(tmp_path / "p.zarr")
    Cover.create_from_array("p", values[: n * 4].reshape(n, 4, 1, 1), gi, storage="zarr",
                            store=store)
    opened = load_store(store)
    update_served(store, None, opened.meta, {"normalizers": [
        {"type": "callable", "ref": "pickle:loads", "repr": "loads"}]})
    with pytest.raises(StoreFormatError, match=r"\(pickle:loads\), which restoring would "
                                               "import and run on the values served"):
        genozarr.open_dataset(store)[:]
    assert not marker.exists()
    for ref, trusted in (("numpy:log1p", True), ("numpy:nan_to_num", True),
                         ("numpy:load", False), ("os:system", False),
                         ("numpy:core.umath.log1p", False), (" numpy:log1p", False)):
        record = {"type": "callable", "ref": ref, "repr": ref}
        if trusted:
            assert normalizer_from_dict(record).func is getattr(np, ref.split(":")[1])
        else:
            with pytest.raises(StoreFormatError, match="not trusted to run code"):
                normalizer_from_dict(record)
    sys.modules.pop("antigravity", None)
    with pytest.raises(StoreFormatError, match="not trusted to run code"):
        normalizer_from_dict({"class": "antigravity:geohash", "repr": "x", "params": {}})
    assert "antigravity" not in sys.modules  # (its import opens a web browser)
    own = {"class": "genozarr.ops.normalizers:LogTransform", "repr": "LogTransform()",
           "params": {}}
    assert type(normalizer_from_dict(own)) is LogTransform


def test_normalizer_is_abstract():
    with pytest.raises(TypeError):
        Normalizer()

    class NoKernel(Normalizer):
        def params(self):
            return {}

    with pytest.raises(TypeError):
        NoKernel()


# ----------------------------------------------------------------------------- Cover
@pytest.fixture(scope="module")
def raw_covers(sim_data):
    """Raw stranded BAM covers (binsize 200, resolution 10) per (storage, whole)."""
    out = {}
    for storage in STORAGES:
        for wg in (False, True):
            out[storage, wg] = Cover.create_from_bam(
                f"raw{storage}{wg}", sim_data["bam"], roi=sim_data["roi"], binsize=200,
                resolution=10, storage=storage, store_whole_genome=wg,
                genomesize=sim_data["chrom_sizes"])
    return out


def _store_arrays(cover):
    return {n: cover.garray.dense(n).astype("float64") for n in cover.garray.array_names()}


@pytest.mark.parametrize("storage", STORAGES)
@pytest.mark.parametrize("wg", [False, True])
@pytest.mark.parametrize("name", NAMES)
def test_cover_normalizer_all_backends(sim_data, raw_covers, storage, wg, name):
    raw = raw_covers[storage, wg]
    cov = Cover.create_from_bam(f"n{name}", sim_data["bam"], roi=sim_data["roi"], binsize=200,
                                resolution=10, storage=storage, store_whole_genome=wg,
                                genomesize=sim_data["chrom_sizes"], normalizer=name)
    assert cov.garray.backend.storage == storage
    arrays = _store_arrays(raw)
    assert any(a.any() for a in arrays.values())
    gi = raw.gindexer
    store_lengths = batch_lengths = None
    if not wg:
        t = raw.garray.region_table
        store_lengths = (t["end"] - t["start"]).astype("float64")
        batch_lengths = (gi.ends - gi.starts + 2 * gi.flank).astype("float64")
    # statistics from the dense store (numpy), applied elementwise to the raw batches
    x = raw[:].astype("float64")
    vals = _per_condition(arrays)
    if name == "perctrim":
        thr = np.array([np.nanpercentile(v, 99) for v in vals])
        want = np.where(x > thr, thr, x)
    elif name == "binsizenorm":
        want = x / _lengths_like(x, batch_lengths, 10)
    elif name == "tpm":
        y = {k: v / (_lengths_like(v, store_lengths, 10) / 1000) for k, v in arrays.items()}
        scale = np.array([np.nansum(v) for v in _per_condition(y)]) / 1e6
        want = x / (_lengths_like(x, batch_lengths, 10) / 1000) / scale
    else:
        f = np.log1p if name == "zscorelog" else (lambda v: v)
        vals = _per_condition({k: f(v) for k, v in arrays.items()})
        mean = np.array([np.nanmean(v) for v in vals])
        std = np.array([np.nanstd(v, ddof=1) for v in vals])
        want = (f(x) - mean) / std
    _close(cov[:], want)


def test_zscore_fitted_on_train_reused_on_test(sample_files):
    kw = dict(binsize=200, resolution=10, genomesize=sample_files["chrom_sizes"])
    bws = [sample_files["bigwig_a"], sample_files["bigwig_b"]]
    raw_train = Cover.create_from_bigwig("rtrain", bws, roi=sample_files["roi_train"], **kw)
    raw_test = Cover.create_from_bigwig("rtest", bws, roi=sample_files["roi_test"], **kw)
    zscore = ZScore()
    train = Cover.create_from_bigwig("train", bws, roi=sample_files["roi_train"],
                                     normalizer=[zscore], **kw)
    vals = _per_condition(_store_arrays(raw_train))
    mean = np.array([np.mean(v) for v in vals])
    std = np.array([np.std(v, ddof=1) for v in vals])
    np.testing.assert_allclose(zscore.mean[0], mean, rtol=1e-10)
    np.testing.assert_allclose(zscore.std[0], std, rtol=1e-10)
    before = zscore.cache_params()
    test = Cover.create_from_bigwig("test", bws, roi=sample_files["roi_test"], storage="sparse",
                                    normalizer=[zscore], **kw)
    assert zscore.cache_params() == before  # not refitted
    _close(test[:], (raw_test[:].astype("float64") - mean) / std)
    _close(train[:], (raw_train[:].astype("float64") - mean) / std)
    # the test set's own statistics differ, so reuse is observable
    own = ZScore()
    Cover.create_from_bigwig("test2", bws, roi=sample_files["roi_test"], normalizer=own, **kw)
    assert not np.allclose(own.mean, zscore.mean)


def test_store_key_is_raw_and_lazy_ops_chain_normalizers(sim_data, tmp_path):
    """The store holds raw values, so its cache key does not depend on the normalizer
    (one store serves them all); a lazy op chains the normalizer's parameters, fitted
    statistics included, into the key of the Dataset it returns."""
    kw = dict(roi=sim_data["roi"], binsize=200, resolution=10, cache=True)

    def key(normalizer, name="c"):
        cov = Cover.create_from_bigwig(name, sim_data["bigwigs"][0], normalizer=normalizer, **kw)
        return cov.garray.meta.cache_key

    assert len({key(None), key("zscore"), key(ZScore(mean=1.0, std=2.0)), key("tpm")}) == 1
    ds = Cover.create_from_bigwig("e", sim_data["bigwigs"][0], **kw).to_xarray()
    a = ops.normalize(ds, ZScore(mean=1.0, std=2.0)).attrs["cache_key"]
    b = ops.normalize(ds, ZScore(mean=1.0, std=3.0)).attrs["cache_key"]
    assert len({a, b, ds.attrs["cache_key"]}) == 3
    assert ops.normalize(ds, ZScore(mean=1.0, std=2.0)).attrs["cache_key"] == a


def test_bam_aggregate_is_applied_before_fitting(sim_data):
    """``aggregate`` (Janggu) runs before the normalizers, which are fitted on its output."""
    import numpy as np

    from genozarr import Cover
    from genozarr.ops.normalizers import ZScore

    kw = dict(roi=sim_data["roi"], binsize=1000, resolution=100)
    raw = Cover.create_from_bam("r", sim_data["bam"], **kw)[:].astype("float64")
    z = ZScore()
    cov = Cover.create_from_bam("r", sim_data["bam"], aggregate=np.log1p, normalizer=z, **kw)
    logged = np.log1p(raw)
    expected = (logged - logged.mean()) / logged.std(ddof=1)
    np.testing.assert_allclose(cov[:], expected, rtol=1e-4, atol=1e-4)


def test_fitted_statistics_of_another_shape_are_refused(sample_files):
    """Janggu's train/test pattern with another number of conditions or strands: an
    error, not a batch broadcast to the training set's conditions."""
    kw = dict(binsize=200, resolution=10, roi=sample_files["roi_train"])
    bws = [sample_files["bigwig_a"], sample_files["bigwig_b"]]
    two = ZScore()
    Cover.create_from_bigwig("train", bws, normalizer=two, **kw)
    assert two.mean.shape == (1, 2)
    with pytest.raises(ArgumentError, match=r"mean of shape \(1, 2\).*1 strand\(s\) and 1 "
                                            r"condition"):
        Cover.create_from_bigwig("test", bws[0], normalizer=two, **kw)
    for one in (ZScore(), ZScoreLog()):  # (ZScoreLog's statistics were taken as given)
        Cover.create_from_bigwig("train1", bws[0], normalizer=one, **kw)
        with pytest.raises(ArgumentError, match="2 condition"):
            Cover.create_from_bigwig("test2", bws, normalizer=one, **kw)
    stranded = ZScore(per_strand=True)
    Cover.create_from_bam("b", sample_files["bam"], normalizer=stranded, **kw)
    assert stranded.mean.shape == (2, 1)
    with pytest.raises(ArgumentError, match=r"fitted on data of 2 strand\(s\); dataset 'u' "
                                            r"has 1 strand\(s\)"):
        Cover.create_from_bam("u", sample_files["bam"], stranded=False, normalizer=stranded,
                              **kw)
    # given statistics broadcast as given: one value for every condition
    raw = Cover.create_from_bigwig("raw", bws, **kw)[:].astype(np.float64)
    given = Cover.create_from_bigwig("g", bws, normalizer=ZScore(mean=[1.0], std=[2.0]), **kw)
    _close(given[:], (raw - 1.0) / 2.0)


@pytest.mark.filterwarnings("ignore:divide by zero encountered in log1p:RuntimeWarning")
@pytest.mark.filterwarnings("ignore:invalid value encountered in subtract:RuntimeWarning")
def test_zscores_of_infinite_values_are_refused(tmp_path):
    """A value of -1 has log(x + 1) = -inf: its mean is -inf and the standard deviation
    NaN, which served every other value as +inf; an infinity in the data does the same
    to ZScore. Both are refused when fitted; NaN stays missing (left out)."""
    gi = GenomicIndexer(["chr1"] * 2, [0, 10], [10, 20], ["+"] * 2, 10, 10)
    x = np.arange(20, dtype="float32").reshape(2, 10, 1, 1)
    def opened(values, normalizer):  # noqa: ANN001, ANN202
        store = str(tmp_path / "z.zarr")
        Cover.create_from_array("z", values, gi, storage="zarr", store=store, overwrite=True)
        return genozarr.open_dataset(store, normalizer=normalizer)

    x[1, 3] = -1.0
    with pytest.raises(ArgumentError, match="'zscorelog': log\\(x \\+ 1\\) of the data is "
                                            "infinite: -inf where a value is -1"):
        opened(x, "zscorelog")
    x[1, 3] = np.inf
    with pytest.raises(ArgumentError, match="'zscore': the data hold infinite values"):
        opened(x, "zscore")
    with pytest.raises(ArgumentError, match="\\+inf where a value is \\+inf"):
        opened(x, "zscorelog")
    x[1, 3] = np.nan
    got = opened(x, "zscorelog")[:]
    logs = np.log1p(x.astype(np.float64))
    _close(got, (logs - np.nanmean(logs)) / np.nanstd(logs, ddof=1))


def _empty_and_full_bigwigs(tmp_path):
    """Two BigWigs on chr1 (1,000 bp) and chr2: ``empty`` holds data on chr2 only (NaN on
    chr1 with nan_to_num=False), ``full`` runs of 1, 3 and 6 over chr1:10-200 (NaN
    elsewhere); returns their paths and ``full``'s values on chr1."""
    from genozarr.testing.simulate import write_bigwig

    sizes = {"chr1": 1000, "chr2": 500}
    full = np.full(1000, np.nan)
    full[10:50], full[50:120], full[130:200] = 1.0, 3.0, 6.0
    return [write_bigwig(tmp_path / "empty.bw", {"chr2": np.ones(500)}, sizes),
            write_bigwig(tmp_path / "full.bw", {"chr1": full}, sizes)], full


def _empty_and_full_cover(bws: list[str], name: str, store: str) -> Cover:
    """A Cover of the two BigWigs of :func:`_empty_and_full_bigwigs` (conditions 'empty'
    and 'full', two windows of 100 bp, NaN kept) with the normalizer ``name``, built into
    the zarr store ``store``."""
    return Cover.create_from_bigwig("ds", bws, conditions=["empty", "full"],
                                    roi=["chr1:0-200"], binsize=100, nan_to_num=False,
                                    normalizer=name, storage="zarr", store=store)


@pytest.mark.parametrize("name", ["zscore", "zscorelog"])
def test_zscore_of_a_condition_without_values_warns(tmp_path, name):
    """A condition with no value but NaN (a BigWig without data on the ROI's chromosome,
    read with nan_to_num=False) has no mean nor deviation (Janggu's are NaN): the fit
    records mean 0 and standard deviation 1 for it, with an EmptyConditionWarning naming
    the dataset and the condition (it was silent), so its values are served unchanged;
    the other condition is z-scored as numpy computes it (NaN left out, ddof=1). Fitted
    statistics restored on reopening the store do not warn again."""
    import warnings

    bws, full = _empty_and_full_bigwigs(tmp_path)
    store = str(tmp_path / "s.zarr")
    with pytest.warns(EmptyConditionWarning,
                      match=rf"normalizer '{name}' fitted on dataset 'ds': condition 'empty' "
                            r"holds only NaN values.*records mean 0 and standard deviation 1"):
        cover = _empty_and_full_cover(bws, name, store)
    raw = full[:200] if name == "zscore" else np.log1p(full[:200])
    mean, std = np.nanmean(raw), np.nanstd(raw, ddof=1)
    norm = cover.normalizers[0]
    np.testing.assert_allclose(norm.mean, [[0.0, mean]])
    np.testing.assert_allclose(norm.std, [[1.0, std]])
    got = cover[:].reshape(200, 2)
    assert np.isnan(got[:, 0]).all()
    _close(got[:, 1], (raw - mean) / std)
    # the statistics reused on data where the condition has values: served unchanged
    x = np.array([0.0, 2.0, 5.0]).reshape(1, 3, 1, 1).repeat(2, axis=3)
    want = x if name == "zscore" else np.log1p(x)
    _close(norm.transform_batch(x, None)[..., 0], want[..., 0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again = genozarr.open_dataset(store)
        np.testing.assert_array_equal(again[:], cover[:])


@pytest.mark.parametrize("dtype", ["int32", "uint8"])
def test_percentile_trimming_of_an_integer_store(sim_data, dtype):
    kw = dict(roi=sim_data["roi"], binsize=200, resolution=10)
    raw = Cover.create_from_bam("r", sim_data["bam"], dtype=dtype, **kw)
    norm = PercentileTrimming(90)
    trimmed = Cover.create_from_bam("t", sim_data["bam"], dtype=dtype, normalizer=norm, **kw)
    values = raw[:].astype(np.float64)
    threshold = np.percentile(values, 90)
    np.testing.assert_allclose(np.ravel(norm.threshold), [threshold])
    _close(trimmed[:], np.minimum(values, threshold))


def test_interval_reads_normalize_each_window_with_its_length(sim_data):
    """Length-based normalizers of an interval read use the lengths of the windows that
    hold its bases, as ``ds[i]`` does (a zero-padded last window is shorter)."""
    import pandas as pd

    roi = pd.DataFrame({"chrom": ["chr1", "chr1"], "start": [0, 1000], "end": [400, 1250]})
    kw = dict(roi=roi, binsize=200, resolution=1)
    cover = Cover.create_from_bigwig("b", sim_data["bigwigs"][0], normalizer="binsizenorm",
                                     **kw)
    raw = Cover.create_from_bigwig("r", sim_data["bigwigs"][0], **kw)
    gi = cover.gindexer
    assert (gi.ends - gi.starts).tolist() == [200, 200, 200, 50]
    for i in range(len(gi)):
        length = int(gi.ends[i] - gi.starts[i])
        _close(cover[i], raw[i].astype(np.float64) / length)
        np.testing.assert_array_equal(cover[gi[i]][:, :length], cover[i][:, :length])
    both = cover["chr1", 1100, 1250]  # window 2 (200 bp) and the 50-bp window 3
    _close(both[0, :100], raw[2][0, 100:].astype(np.float64) / 200)
    _close(both[0, 100:], raw[3][0, :50].astype(np.float64) / 50)


def _train_stats(raw):
    """Mean and standard deviation (ddof=1) of each condition of a raw Cover."""
    vals = _per_condition(_store_arrays(raw))
    return (np.array([np.mean(v) for v in vals]), np.array([np.std(v, ddof=1) for v in vals]))


def test_ops_refuse_statistics_fitted_on_one_condition_for_several(sample_files):
    """ops.normalize and Normalizer.transform applied statistics fitted on one condition
    to every condition of a two-condition store (the second served with the first's mean
    and deviation), where a Cover refuses them (an audit); one value given is still for
    every condition."""
    kw = dict(binsize=200, resolution=10, roi=sample_files["roi_train"])
    bws = [sample_files["bigwig_a"], sample_files["bigwig_b"]]
    one = Cover.create_from_bigwig("one", bws[0], **kw)
    two = Cover.create_from_bigwig("two", bws, **kw)
    for norm in (ZScore(), genozarr.ZScoreLog(), genozarr.PercentileTrimming(90)):
        norm.fit(one.to_xarray())
        for apply in (lambda n: ops.normalize(two.to_xarray(), n),
                      lambda n: n.transform(two.to_xarray())):
            with pytest.raises(ArgumentError, match=r"of shape \(1, 1\) \(strand, condition\), "
                                                    r"fitted on data of another shape.*2 "
                                                    r"condition\(s\)"):
                apply(norm)
    given = ZScore(mean=1.0, std=2.0)
    stored = two.to_xarray()["data"].values.astype(np.float64)
    _close(ops.normalize(two.to_xarray(), given)["data"].values, (stored - 1.0) / 2.0)


@pytest.mark.parametrize("cls", [ZScore, genozarr.ZScoreLog])
def test_a_statistic_fitted_beside_a_given_one_is_checked_against_the_shape(sample_files, cls):
    """A z-score with its mean given and its deviation fitted on one condition is refused
    on two conditions, as a wholly fitted one is: the fitted deviation of condition a was
    applied to condition b without an error. The given mean alone still broadcasts."""
    kw = {"binsize": 200, "resolution": 10, "genomesize": sample_files["chrom_sizes"],
          "roi": sample_files["roi_test"]}
    bws = [sample_files["bigwig_a"], sample_files["bigwig_b"]]
    z = cls(mean=0.0)
    Cover.create_from_bigwig("one", bws[0], normalizer=z, **kw)
    assert z.std.shape == (1, 1) and z._given == (True, False)
    with pytest.raises(ArgumentError, match=r"std of shape \(1, 1\) \(strand, condition\), "
                                            r"fitted on data of another shape.*1 strand\(s\) "
                                            r"and 2 condition\(s\)"):
        Cover.create_from_bigwig("two", bws, normalizer=z, **kw)
    both = cls(mean=0.0, std=2.0)  # given, both: one value for every condition
    raw = Cover.create_from_bigwig("raw", bws, **kw)[:].astype("float64")
    x = np.log1p(raw) if cls is genozarr.ZScoreLog else raw
    _close(Cover.create_from_bigwig("g", bws, normalizer=both, **kw)[:], x / 2.0)


def test_restored_fitted_statistics_are_checked_against_the_shape(sample_files, tmp_path):
    """Statistics restored from a store's recipe keep whether they were fitted: fitted on
    one condition, they are refused on two (not broadcast), and reused on one condition
    they apply the training statistics. A recipe of an older genozarr (no ``given``)
    counts as fitted; given statistics still broadcast."""
    kw = {"binsize": 200, "resolution": 10, "genomesize": sample_files["chrom_sizes"]}
    bws = [sample_files["bigwig_a"], sample_files["bigwig_b"]]
    store = str(tmp_path / "train.zarr")
    Cover.create_from_bigwig("train", bws[0], roi=sample_files["roi_train"], normalizer="zscore",
                             storage="zarr", store=store, **kw)
    restored = genozarr.open_dataset(store).normalizers[0]
    assert restored.mean.shape == (1, 1) and restored._given == (False, False)
    with pytest.raises(ArgumentError, match=r"mean of shape \(1, 1\) \(strand, condition\), "
                                            r"fitted on data of another shape.*1 strand\(s\) "
                                            r"and 2 condition\(s\)"):
        Cover.create_from_bigwig("test", bws, roi=sample_files["roi_test"], normalizer=restored,
                                 **kw)
    old = {"type": "zscore", "params": restored.to_dict()["params"]}  # older recipe
    with pytest.raises(ArgumentError, match=r"mean of shape \(1, 1\).*2 condition\(s\)"):
        Cover.create_from_bigwig("test", bws, roi=sample_files["roi_test"],
                                 normalizer=normalizer_from_dict(old), **kw)
    # the matching reuse applies the training statistics (numpy on the raw training store)
    mean, std = _train_stats(Cover.create_from_bigwig("rtrain", bws[0],
                                                      roi=sample_files["roi_train"], **kw))
    raw_test = Cover.create_from_bigwig("rtest", bws[0], roi=sample_files["roi_test"], **kw)
    test = Cover.create_from_bigwig("test", bws[0], roi=sample_files["roi_test"],
                                    normalizer=genozarr.open_dataset(store).normalizers, **kw)
    _close(test[:], (raw_test[:].astype("float64") - mean) / std)
    # given statistics restore as given and still broadcast to every condition
    given = normalizer_from_dict(json.loads(json.dumps(ZScore(mean=[1.0], std=[2.0]).to_dict())))
    raw = Cover.create_from_bigwig("raw", bws, roi=sample_files["roi_test"], **kw)
    got = Cover.create_from_bigwig("g", bws, roi=sample_files["roi_test"], normalizer=given, **kw)
    _close(got[:], (raw[:].astype("float64") - 1.0) / 2.0)


def test_reused_statistics_follow_condition_names(sample_files, tmp_path):
    """A normalizer fitted on conditions ``['a', 'b']`` and reused on the same files given
    as ``['b', 'a']`` applies each condition's own training statistics, also after the
    test store is reopened; other names apply by position with a ConditionNamesWarning;
    statistics without names (set to None) apply by position."""
    kw = {"binsize": 200, "resolution": 10, "genomesize": sample_files["chrom_sizes"]}
    bws = [sample_files["bigwig_a"], sample_files["bigwig_b"]]
    z = ZScore()
    Cover.create_from_bigwig("train", bws, roi=sample_files["roi_train"], conditions=["a", "b"],
                             normalizer=[z], **kw)
    mean, std = _train_stats(Cover.create_from_bigwig("rtrain", bws, conditions=["a", "b"],
                                                      roi=sample_files["roi_train"], **kw))
    assert not np.allclose(mean[0], mean[1])
    swapped = {"roi": sample_files["roi_test"], "conditions": ["b", "a"], **kw}
    raw = Cover.create_from_bigwig("rtest", bws[::-1], **swapped)[:].astype("float64")
    want = (raw - mean[::-1]) / std[::-1]  # test condition 0 is 'b': b's statistics
    store = str(tmp_path / "test.zarr")
    test = Cover.create_from_bigwig("test", bws[::-1], normalizer=[z], storage="zarr",
                                    store=store, **swapped)
    _close(test[:], want)
    _close(genozarr.open_dataset(store)[:], want)
    assert z.conditions == ["a", "b"]
    assert normalizer_from_dict(z.to_dict()).conditions == ["a", "b"]
    # a chain fitted after a reordered normalizer sees each condition's own z-scores
    chained = Cover.create_from_bigwig("test", bws[::-1], normalizer=[z, "perctrim"], **swapped)
    thr = np.array([np.percentile(want[..., c], 99) for c in range(2)])
    _close(chained[:], np.minimum(want, thr))
    # other names (another cell line's tracks): by position, as Janggu, with a warning
    from genozarr.errors import ConditionNamesWarning

    raw_xy = Cover.create_from_bigwig("rtest", bws, roi=sample_files["roi_test"],
                                      conditions=["x", "y"], **kw)[:].astype("float64")
    with pytest.warns(ConditionNamesWarning, match=r"fitted on the conditions \['a', 'b'\], "
                                                   r"dataset 'test' has the conditions "
                                                   r"\['x', 'y'\]"):
        other = Cover.create_from_bigwig("test", bws, roi=sample_files["roi_test"],
                                         conditions=["x", "y"], normalizer=[z], **kw)
    _close(other[:], (raw_xy - mean) / std)
    z.conditions = None  # unnamed (user-given, older recipes): by position
    test = Cover.create_from_bigwig("test", bws[::-1], normalizer=[z], **swapped)
    _close(test[:], (raw - mean) / std)


def test_callable_of_another_shape_is_refused(sim_data):
    """A callable normalizer or ``aggregate`` must keep the shape: a strand sum (Janggu
    style) is an ArgumentError naming the callable and both shapes, when read and when a
    normalizer is fitted on its output."""
    kw = {"roi": sim_data["roi"], "binsize": 200, "resolution": 10}

    def strand_sum(x):
        return x.sum(axis=2, keepdims=True)

    cov = Cover.create_from_bam("c", sim_data["bam"], aggregate=strand_sum, **kw)
    n, p, s, c = len(cov), 20, 2, 1
    assert cov.garray.n_strands == s and cov.garray.n_conditions == c
    with pytest.raises(ArgumentError, match=rf"callable <function .*strand_sum.*returned an "
                                            rf"array of shape \({n}, {p}, 1, {c}\) for values "
                                            rf"of shape \({n}, {p}, {s}, {c}\).*input's shape"):
        cov[:]
    with pytest.raises(ArgumentError, match=r"strand_sum.*returned an array of shape"):
        Cover.create_from_bam("c", sim_data["bam"], aggregate=strand_sum, normalizer="zscore",
                              **kw)
    with pytest.raises(ArgumentError, match=r"shape \(\) for values of shape \(2, 3\)"):
        FunctionNormalizer(np.sum).transform_batch(np.ones((2, 3)), None)
    # a scalar before a fitted normalizer: dask probed the callable itself and wrapped the
    # ArgumentError in its own ValueError ("dtype inference failed"; an audit)
    for extra in ({"aggregate": np.sum, "normalizer": "zscore"},
                  {"normalizer": [np.sum, "tpm"]}):
        with pytest.raises(ArgumentError, match=r"sum.*returned an array of shape \(\)"):
            Cover.create_from_bam("c", sim_data["bam"], **extra, **kw)


def test_edited_function_warns_on_reopen(sample_files, tmp_path, monkeypatch):
    """A store records a hash of a module function's code: reopened after the function
    was edited, it warns that the store was built with another version of it."""
    import importlib
    import sys

    from genozarr.errors import GenozarrWarning

    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    module = tmp_path / "genozarr_test_edited_norm.py"
    module.write_text("def f(x):\n    return x * 2\n")
    importlib.invalidate_caches()
    try:
        mod = importlib.import_module("genozarr_test_edited_norm")
        kw = {"roi": sample_files["roi_test"], "binsize": 200, "resolution": 10}
        x = Cover.create_from_bigwig("r", sample_files["bigwig_a"], **kw)[:].astype("float64")
        store = str(tmp_path / "f.zarr")
        built = Cover.create_from_bigwig("f", sample_files["bigwig_a"], storage="zarr",
                                         store=store, normalizer=mod.f, **kw)
        assert x.any()
        _close(built[:], x * 2.0)
        del sys.modules["genozarr_test_edited_norm"]
        with pytest.raises(StoreFormatError, match=r"genozarr_test_edited_norm:f\), which "
                                                    "restoring would import and run"):
            genozarr.open_dataset(store)  # (a recipe is not trusted to import code)
        assert "genozarr_test_edited_norm" not in sys.modules  # nothing imported
        # unchanged: no warning (an error)
        _close(genozarr.open_dataset(store, trust_callables=True)[:], x * 2.0)
        module.write_text("def f(x):\n    return x * 5.0  # edited\n")
        del sys.modules["genozarr_test_edited_norm"]
        importlib.invalidate_caches()
        with pytest.warns(GenozarrWarning, match=r"another version of the function "
                                                 r"'genozarr_test_edited_norm:f'"):
            again = genozarr.open_dataset(store, trust_callables=True)
        _close(again[:], x * 5.0)
    finally:
        sys.modules.pop("genozarr_test_edited_norm", None)


def test_edited_normalizer_subclass_warns_on_reopen(sample_files, tmp_path, monkeypatch):
    """A store records a hash of a Normalizer subclass's code too: reopened with
    ``trust_callables=True`` after its ``kernel`` was edited, it warns (it served the
    edited class's values, 50x the built ones, without a word); the hash also enters
    the class's cache parameters (an edited class is another cache key)."""
    import importlib
    import sys

    from genozarr.errors import GenozarrWarning

    name = "genozarr_test_edited_class"
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    module = tmp_path / f"{name}.py"
    text = ("from genozarr.ops.normalizers import Normalizer\n"
            "class Scale(Normalizer):\n    name = 'scale'\n"
            "    def params(self):\n        return {}\n"
            "    def kernel(self, x, lengths=None):\n        return x * FACTOR\n")
    module.write_text(text.replace("FACTOR", "2"))
    importlib.invalidate_caches()
    try:
        mod = importlib.import_module(name)
        kw = {"roi": sample_files["roi_test"], "binsize": 200, "resolution": 10}
        x = Cover.create_from_bigwig("r", sample_files["bigwig_a"], **kw)[:].astype("float64")
        store = str(tmp_path / "c.zarr")
        built = Cover.create_from_bigwig("c", sample_files["bigwig_a"], storage="zarr",
                                         store=store, normalizer=mod.Scale(), **kw)
        assert x.any()
        _close(built[:], x * 2.0)
        before = mod.Scale().cache_params()
        del sys.modules[name]
        with warnings.catch_warnings():
            warnings.simplefilter("error", GenozarrWarning)  # unchanged: no warning
            _close(genozarr.open_dataset(store, trust_callables=True)[:], x * 2.0)
        assert importlib.import_module(name).Scale().cache_params() == before
        module.write_text(text.replace("FACTOR", "100.0"))
        del sys.modules[name]
        importlib.invalidate_caches()
        with pytest.warns(GenozarrWarning, match=r"another version of the normalizer class "
                                                 rf"'{name}:Scale'"):
            again = genozarr.open_dataset(store, trust_callables=True)
        _close(again[:], x * 100.0)
        after = sys.modules[name].Scale().cache_params()
        assert after["class_token"] != before["class_token"]
        assert {k: v for k, v in after.items() if k != "class_token"} == {
            k: v for k, v in before.items() if k != "class_token"}
    finally:
        sys.modules.pop(name, None)


def test_class_token_follows_code_and_constants_not_addresses(tmp_path):
    """A subclass's token is the same in two processes for unchanged code, a default
    ``object()`` (a memory address in its repr) included; it changes with a public array
    constant; a record made under another Python version is not compared (the hash of
    unchanged bytecode differs between versions: it warned on every such reopen)."""
    import subprocess
    import sys
    import warnings as w

    from genozarr.errors import GenozarrWarning
    from genozarr.ops.normalizers import normalizer_from_dict

    module = tmp_path / "genozarr_test_token_mod.py"
    text = ("import numpy as np\nfrom genozarr.ops.normalizers import Normalizer\n"
            "class W(Normalizer):\n    name = 'w'\n    WEIGHTS = np.array([1.0, VALUE])\n"
            "    def params(self):\n        return {}\n"
            "    def kernel(self, x, lengths=None, _missing=object()):\n"
            "        return x * self.WEIGHTS[1]\n")
    probe = ("import json, genozarr_test_token_mod as m; "
             "print(json.dumps(m.W().to_dict()))")

    def record(value):
        module.write_text(text.replace("VALUE", value))
        out = subprocess.run([sys.executable, "-B", "-c", probe], capture_output=True,
                             text=True, timeout=120, check=True, cwd=tmp_path,
                             env={**os.environ, "PYTHONPATH": os.pathsep.join(
                                 [str(tmp_path), *sys.path])})
        return json.loads(out.stdout)

    first, again, edited = record("2.0"), record("2.0"), record("50.0")
    assert first["token"] == again["token"]
    assert edited["token"] != first["token"]
    assert first["python"] == f"{sys.version_info[0]}.{sys.version_info[1]}"
    sys.path.insert(0, str(tmp_path))
    try:
        with w.catch_warnings():
            w.simplefilter("error", GenozarrWarning)  # the module now holds the 50.0 code
            normalizer_from_dict({**first, "python": "2.7"}, trust_callables=True)
            normalizer_from_dict(edited, trust_callables=True)
        with pytest.warns(GenozarrWarning, match="another version of the normalizer class"):
            normalizer_from_dict(first, trust_callables=True)
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("genozarr_test_token_mod", None)


def test_normalizer_subclass_that_changes_the_shape_is_refused(sample_files):
    """A subclass whose ``kernel`` sums the conditions (the same kernel as a function is
    refused) was served as batches of another shape than the dataset's, through ``[]``
    and the lazy transform alike; both now raise naming the normalizer."""
    import xarray as xr

    from genozarr.ops.normalizers import Normalizer

    class SumConditions(Normalizer):
        name = "sumcond"

        def params(self):
            return {}

        def kernel(self, x, lengths=None):
            return x.sum(axis=-1)

    gi = GenomicIndexer(["chr1"] * 3, [0, 10, 20], [10, 20, 30], ["+"] * 3, 10, 10)
    cover = Cover.create_from_array("c", np.ones((3, 10, 1, 2), dtype="float32"), gi)
    cover.normalizers = [SumConditions()]
    with pytest.raises(ArgumentError, match=r"SumConditions.*returned an array of shape "
                                            r"\(3, 10, 1\) for values of shape \(3, 10, 1, 2\)"):
        cover[:]
    data = xr.Dataset({"data": (("region", "position", "strand", "condition"),
                                np.ones((3, 10, 1, 2), dtype="float32"))})
    with pytest.raises(ArgumentError, match="SumConditions.*must act on each value"):
        _ = SumConditions().transform(data)["data"].values


def test_unrestorable_callable_passed_back_with_the_others_restored(sample_files, tmp_path):
    """A store normalized with ``[lambda, fitted ZScore]``: opening it names the lambda's
    place and how to pass it; ``normalizer=[f, None]`` restores the ZScore with its
    recorded (training) statistics, where ``'zscore'`` would fit it on this store."""
    from genozarr.errors import StoreFormatError

    kw = {"binsize": 200, "resolution": 10, "genomesize": sample_files["chrom_sizes"]}
    bw = sample_files["bigwig_a"]
    z = ZScore()
    Cover.create_from_bigwig("train", bw, roi=sample_files["roi_train"], normalizer=[z], **kw)
    store = str(tmp_path / "test.zarr")
    test = Cover.create_from_bigwig("test", bw, roi=sample_files["roi_test"],
                                    normalizer=[lambda x: x * 2, z], storage="zarr",
                                    store=store, **kw)
    raw = Cover.create_from_bigwig("raw", bw, roi=sample_files["roi_test"], **kw)
    want = (2 * raw[:].astype("float64") - float(z.mean.ravel()[0])) / float(z.std.ravel()[0])
    _close(test[:], want)
    with pytest.raises(StoreFormatError, match=r"normalizer 0 of the 2.*normalizer=\[f, None\]"):
        genozarr.open_dataset(store)
    again = genozarr.open_dataset(store, normalizer=[lambda x: x * 2, None])
    _close(again[:], want)
    refit = genozarr.open_dataset(store, normalizer=[lambda x: x * 2, "zscore"])
    assert not np.allclose(refit[:], want, atol=1e-3)  # fitted on the test windows instead
    with pytest.raises(ArgumentError, match=r"3 entries with None.*records 2"):
        genozarr.open_dataset(store, normalizer=[None, None, None])


@pytest.mark.parametrize("layout", [{"chunk_bytes": 4096},
                                    {"chunk_bytes": 8192, "inner_chunk_bytes": 1000}])
@pytest.mark.parametrize("wg", [False, True])
def test_zscore_fit_on_a_zarr_store_reads_through_its_backend(sim_data, raw_covers, layout,
                                                              wg, tmp_path):
    """Normalizers fit on a zarr store's values read through its own backend (not xarray's
    opening of every chromosome's group, 6 ms a chromosome), in dask chunks of whole
    stored chunks, sharded stores included: the statistics of numpy on every stored
    value (NaN left out, ddof=1)."""
    from genozarr.store.view import as_xarray

    with genozarr.set_options(progress=False, **layout):
        cover = Cover.create_from_bam("z", sim_data["bam"], roi=sim_data["roi"], binsize=200,
                                      resolution=10, storage="zarr", store_whole_genome=wg,
                                      genomesize=sim_data["chrom_sizes"],
                                      store=str(tmp_path / "z.zarr"))
    backend, meta = cover.garray.backend, cover.garray.meta
    names = [meta.array_path(c) for c in meta.chroms] if wg else ["data"]
    assert any(backend.shape(n)[0] > backend.chunk_len(n) for n in names)
    view = as_xarray(cover.garray, through_backend=True)
    nodes = ops._layout.data_datasets(view)
    assert len(nodes) == len(names)
    for name, node in zip(names, nodes):
        chunks, clen = node["data"].data.chunks[0], backend.chunk_len(name)
        assert all(c % clen == 0 for c in chunks[:-1]), (chunks, clen)
        np.testing.assert_array_equal(node["data"].values, cover.garray.dense(name))
    values = np.concatenate([np.asarray(a, dtype="float64").reshape(-1, a.shape[-2],
                                                                   a.shape[-1])
                             for a in _store_arrays(cover).values()])
    opened = genozarr.open_dataset(str(tmp_path / "z.zarr"), normalizer="zscore")
    norm = opened.normalizers[0]
    np.testing.assert_allclose(norm.mean.ravel(), np.nanmean(values, axis=(0, 1)),
                               rtol=1e-10)
    np.testing.assert_allclose(norm.std.ravel(),
                               np.nanstd(values.reshape(-1, values.shape[-1]), axis=0,
                                         ddof=1), rtol=1e-10)


def test_empty_condition_warning_with_statistics_given_per_strand():
    """Statistics given per (strand, condition) for a fit grouped by condition: a condition
    of NaN only is named once in the warning (the fit crashed on broadcasting the given
    (2, 2) statistics to the (1, 2) groups), and the other is fitted around the given
    mean as numpy computes it."""
    import pandas as pd

    from genozarr.store.view import as_xarray

    roi = pd.DataFrame({"chrom": ["chr1"] * 4, "start": [0, 100, 200, 300],
                        "end": [100, 200, 300, 400]})
    gi = GenomicIndexer.create_from_file(roi, binsize=100, stepsize=100)
    arr = np.random.default_rng(0).normal(size=(4, 10, 2, 2)).astype("float32")
    arr[..., 1] = np.nan
    cov = Cover.create_from_array("x", arr, gi, conditions=["a", "b"], resolution=10)
    z = ZScore(mean=np.zeros((2, 2)))
    with pytest.warns(EmptyConditionWarning,
                      match=r"condition 'b' holds only NaN.*records mean 0 and standard "
                            r"deviation 1 for it"):
        z.fit(as_xarray(cov.garray))
    a = arr[..., 0].astype("float64")
    want = np.sqrt((a ** 2).sum() / (a.size - 1))
    np.testing.assert_allclose(np.asarray(z.std), [[want, 1.0], [want, 1.0]], rtol=1e-6)


@pytest.mark.parametrize("norm", [ZScore, ZScoreLog])
def test_zscore_fit_of_a_batch_says_what_it_needs(norm):
    """A fit given a numpy batch says it needs a dataset; ZScoreLog said its log values
    were infinite (it took every ArgumentError of the fit for that)."""
    with pytest.raises(ArgumentError, match="not a genozarr dataset"):
        norm().fit(np.ones((4, 10, 1, 2)))


@pytest.mark.parametrize("name", ["tpm", "cpm", "rpkm", "bpm", "perctrim"])
def test_fit_of_a_condition_without_values_warns(tmp_path, name):
    """A condition with no value but NaN gives TPM/CPM a total of 0 and PercentileTrimming
    no percentile; the fits recorded divisor 1 or threshold NaN silently. They now warn
    (EmptyConditionWarning, naming the dataset and the condition), still serve its
    values unscaled or unclipped, and fit the other condition as numpy computes it;
    statistics restored from the store do not warn again."""
    import warnings

    bws, full = _empty_and_full_bigwigs(tmp_path)
    store = str(tmp_path / "s.zarr")
    what = "has no 99th percentile \\(only NaN values" if name == "perctrim" \
        else "holds only NaN values.*" + ("total" if name in ("cpm", "rpkm") else "scale")
    with pytest.warns(EmptyConditionWarning,
                      match=rf"normalizer '{name}' fitted on dataset 'ds': condition 'empty' "
                            rf"{what}"):
        cover = _empty_and_full_cover(bws, name, store)
    got = cover[:].reshape(200, 2)
    assert np.isnan(got[:, 0]).all()
    raw = full[:200]
    if name == "perctrim":
        thr = np.nanpercentile(raw, 99)
        np.testing.assert_allclose(np.ravel(cover.normalizers[0].threshold)[1], thr)
        want = np.minimum(raw, thr)
    elif name == "cpm":
        want = raw / (np.nansum(raw) / 1e6)
    elif name == "rpkm":
        want = raw / (np.nansum(raw) / 1e6) / (100 / 1000)
    else:  # tpm, bpm: per kilobase first, then scaled to a million
        per_kb = raw / (100 / 1000)
        want = per_kb / (np.nansum(per_kb) / 1e6)
    _close(got[:, 1], want)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again = genozarr.open_dataset(store)
        np.testing.assert_array_equal(again[:], cover[:])


@pytest.mark.parametrize("name", ["tpm", "cpm", "rpkm", "bpm"])
def test_per_million_normalizers_of_negative_values_warn(name):
    """TPM/CPM after z-scores divide by a total of positive and negative values that
    cancels to near 0 (the chain ['zscore', 'tpm'] served values of about 1e12 silently):
    the fit warns, naming the condition and how far its total cancels (checked by hand
    here); the other order, and counts, fit silently."""
    import warnings

    import pandas as pd

    from genozarr.errors import NegativeValuesWarning
    from genozarr.ops.normalizers import resolve_normalizers
    from genozarr.store.view import as_xarray

    roi = pd.DataFrame({"chrom": ["chr1"] * 4, "start": [0, 100, 200, 300],
                        "end": [100, 200, 300, 400]})
    gi = GenomicIndexer.create_from_file(roi, binsize=100, stepsize=100)
    arr = np.zeros((4, 10, 1, 2), dtype="float32")
    arr[..., 0] = 1.0
    arr[0, :5, 0, 0] = -3.0  # condition 'a': total 35 - 15 = 20 of an absolute 50
    arr[..., 1] = np.arange(40, dtype="float32").reshape(4, 10, 1)
    data = as_xarray(Cover.create_from_array("x", arr, gi, conditions=["a", "b"],
                                             resolution=10).garray)
    with pytest.warns(NegativeValuesWarning,
                      match=rf"normalizer '{name}' fitted on dataset 'x': condition 'a' "
                            r"holds negative values .* cancels to 0\.4 of the sum"):
        resolve_normalizers(name)[0].fit(data)
    positive = arr.copy()
    positive[0, :5, 0, 0] = 3.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        counts = as_xarray(Cover.create_from_array("y", positive, gi, conditions=["a", "b"],
                                                   resolution=10).garray)
        resolve_normalizers(name)[0].fit(counts)
        ops.normalize(counts, [name, "zscore"])
    # an integer store whose only negative value is its dtype's minimum (abs(-128) is
    # -128 in int8): total -103 of an absolute 153, every value's sign flipped
    small = np.array([-128, 10, 10, 5], dtype="int8").reshape(1, 4, 1, 1).repeat(4, 0)
    ints = as_xarray(Cover.create_from_array("i", small, gi, resolution=25).garray)
    with pytest.warns(NegativeValuesWarning, match=r"cancels to 0\.673 of the sum"):
        resolve_normalizers(name)[0].fit(ints)
    with pytest.warns(NegativeValuesWarning, match="not \\['zscore', 'tpm'\\]"):
        ops.normalize(as_xarray(Cover.create_from_array(
            "z", positive + 1, gi, conditions=["a", "b"], resolution=10).garray),
            ["zscore", name])


@pytest.mark.parametrize("dtype", ["int16", "float16"])
def test_a_callable_is_fitted_in_the_dtype_it_is_served_in(tmp_path, dtype):
    """Batches are normalized in float32 at least, but normalizers were fitted on the
    store's own dtype: np.square of an int16 count of 310 wrapped (96,100 -> 30,564) while
    fitting, so the following CPM divided by a wrong total (values 3x too large); on a
    float16 store np.log1p was fitted in float16. Both now fit on float32 values, as
    served. Expected values: numpy on the counts pysam reads."""
    import pysam

    from genozarr.testing.simulate import write_bam

    path = write_bam(tmp_path / "r.bam", {"chr1": 2000},
                     [{"start": start, "length": 20}
                      for start in [120] * 310 + [530] * 40 + [1711] * 3])
    counts = np.zeros(2000)
    with pysam.AlignmentFile(path) as f:
        for read in f:
            counts[read.reference_start] += 1
    bins = counts.reshape(-1, 50).sum(axis=1)  # 5' ends per 50 bp bin
    func, then = (np.square, "cpm") if dtype == "int16" else (np.log1p, "zscore")
    cover = Cover.create_from_bam("r", path, roi=["chr1:0-2000"], binsize=2000,
                                  resolution=50, stranded=False, dtype=dtype,
                                  normalizer=[func, then])
    x = func(bins)
    expected = x / x.sum() * 1e6 if then == "cpm" else (x - x.mean()) / x.std(ddof=1)
    got = cover[:][0, :, 0, 0].astype(np.float64)
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6)


def test_a_normalizer_fitted_on_two_strands_is_refused_on_one(tmp_path):
    """Statistics pooled over strands have the shape (1, C) whatever the strands: a
    normalizer fitted on stranded data was reused on unstranded data (each value the sum of
    both strands) without a word, serving z-scores of mean 1.4 instead of 0 (an audit; the
    Janggu page says other strands are refused). The strands of the fit are recorded, kept
    through the store's recipe, and checked; reset() fits anew. A refusal names the fitted
    statistic first (it named a mean given as one number)."""
    gi = GenomicIndexer(["chr1"] * 4, np.arange(4) * 10, np.arange(4) * 10 + 10,
                        ["+"] * 4, 10, 10)
    rng = np.random.default_rng(3)
    two = rng.poisson(2.0, (4, 10, 2, 1)).astype("float32")
    one = two.sum(axis=2, keepdims=True)
    stores = {}
    for name, arr in (("two", two), ("one", one), ("c3", rng.random((4, 10, 1, 3))),
                      ("c2", rng.random((4, 10, 1, 2)))):
        Cover.create_from_array(name, arr, gi, storage="zarr", store=str(tmp_path / name))
        stores[name] = tmp_path / name
    z = ops.ZScore()
    genozarr.open_dataset(stores["two"], normalizer=z)
    assert z.strands == 2 and z.to_dict()["strands"] == 2
    for reused in (z, normalizer_from_dict(json.loads(json.dumps(z.to_dict())))):
        with pytest.raises(ArgumentError, match=r"'zscore' was fitted on data of 2 strand\(s\);"
                                                r" dataset 'one' has 1 strand\(s\)"):
            genozarr.open_dataset(stores["one"], normalizer=reused)
    with pytest.raises(ArgumentError, match=r"fitted on data of 2 strand\(s\); the data have 1"):
        ops.normalize(genozarr.open_store(stores["one"]), z, fit=False)
    served = genozarr.open_dataset(stores["one"], normalizer=z.reset())[:]
    np.testing.assert_allclose(served.mean(), 0, atol=1e-6)
    assert z.strands == 1
    given = ops.ZScore(mean=1.0)
    genozarr.open_dataset(stores["c3"], normalizer=given)
    with pytest.raises(ArgumentError, match=r"holds std of shape \(1, 3\) .*fitted on .*"
                                            r"reset\(\)"):
        genozarr.open_dataset(stores["c2"], normalizer=given)


def test_a_negative_total_fitted_after_a_zscore_restores(tmp_path):
    """A CPM fitted after a z-score records a negative total (a NegativeValuesWarning says
    so); the refusal of divisors <= 0 given to a constructor, added first, refused it when
    a store's recipe was restored, so such a store could not be opened (a review)."""
    gi = GenomicIndexer(["chr1"] * 4, np.arange(4) * 10, np.arange(4) * 10 + 10,
                        ["+"] * 4, 10, 10)
    x = np.random.default_rng(5).poisson(1.0, (4, 10, 1, 1)).astype("float32")
    Cover.create_from_array("n", x, gi, storage="zarr", store=str(tmp_path / "n.zarr"))
    with pytest.warns(genozarr.errors.NegativeValuesWarning):
        ds = genozarr.open_dataset(tmp_path / "n.zarr", normalizer=["zscore", "cpm"])
    cpm = ds.normalizers[1]  # z-scores sum to about 0: a total of either sign, not 0
    assert float(np.asarray(cpm.total).ravel()[0]) != 0
    for total in (cpm.total, -abs(cpm.total)):
        cpm.total = total
        back = normalizer_from_dict(json.loads(json.dumps(cpm.to_dict())))
        np.testing.assert_array_equal(back.total, total)


@pytest.mark.parametrize("whole", [False, True])
def test_a_normalizer_function_working_in_place_leaves_an_in_memory_store(tmp_path, whole):
    """A Janggu-style normalizer function that writes into its input (np.log1p(x, out=x))
    was fitted through (the later z-score's fit ran it over) views of a storage='ndarray'
    store: the store then held log1p of the data, and batches got log1p twice (an audit;
    zarr stores were right)."""
    import pyBigWig

    rng = np.random.default_rng(0)
    path = str(tmp_path / "s.bw")
    with pyBigWig.open(path, "w") as bw:
        bw.addHeader([("chr1", 2000)])
        bw.addEntries("chr1", 0, values=(rng.random(2000) * 10).tolist(), span=1, step=1)

    def inplace_log1p(x: np.ndarray) -> np.ndarray:
        np.log1p(x, out=x)
        return x

    roi = tmp_path / "roi.bed"
    roi.write_text("chr1\t0\t1000\n")
    kw = dict(roi=str(roi), binsize=200, store_whole_genome=whole)
    raw = Cover.create_from_bigwig("raw", path, **kw)
    stored = np.array(raw.garray.dense(raw.garray.meta.array_paths()[0]), copy=True)
    for storage in ("ndarray", "zarr"):
        cover = Cover.create_from_bigwig(
            "c", path, normalizer=[inplace_log1p, "zscore"], storage=storage,
            store=str(tmp_path / f"{storage}{whole}.zarr") if storage == "zarr" else None, **kw)
        fit = np.log1p(stored.astype(np.float64))  # (a whole-genome store: fitted whole)
        x = np.log1p(raw[:].astype(np.float64))
        np.testing.assert_allclose(cover[:], (x - fit.mean()) / fit.std(ddof=1), atol=1e-5)
        np.testing.assert_array_equal(
            cover.garray.dense(cover.garray.meta.array_paths()[0]), stored)  # the raw values


def test_a_shared_normalizer_refitted_elsewhere_leaves_earlier_datasets(tmp_path):
    """A ZScore fitted by dataset A, then reset and refitted by dataset C (or edited in
    place), changed the values A served, which then disagreed with A's store (an audit).
    As Janggu, which normalized at build time, A and B (which reused the fitted object)
    keep serving the statistics they were built with, as A's store does; the object given
    is fitted by A and reused by B; a view's list of normalizers is its own (clearing it
    emptied its parent's); a normalizer the user puts in the list is served as it is."""
    import pyBigWig

    raw_a = np.arange(40.0).reshape(4, 10, 1, 1)

    def cover(name: str, scale: float, normalizer: Any, **kw: Any) -> Cover:
        path = str(tmp_path / f"{name}.bw")
        with pyBigWig.open(path, "w") as bw:
            bw.addHeader([("chr1", 40)])
            bw.addEntries("chr1", 0, values=(raw_a.ravel() * scale).tolist(), span=1, step=1)
        return Cover.create_from_bigwig(name, path, roi=pd.DataFrame(
            {"chrom": ["chr1"], "start": [0], "end": [40]}), binsize=10,
            normalizer=normalizer, **kw)

    z = ZScore()
    a = cover("A", 1, [z], storage="zarr", store=str(tmp_path / "a.zarr"))
    assert z.fitted  # (fitted by its first use, to be reused)
    want = (raw_a - raw_a.mean()) / raw_a.std(ddof=1)
    np.testing.assert_allclose(a[:], want, rtol=1e-5)
    b = cover("B", 3, [z])  # reused as fitted
    want_b = (raw_a * 3 - raw_a.mean()) / raw_a.std(ddof=1)
    np.testing.assert_allclose(b[:], want_b, rtol=1e-5)
    view = a.subset([0, 1])
    view.normalizers.clear()
    assert len(a.normalizers) == 1 and view.normalizers == []
    z.reset()
    c = cover("C", 10, [z])
    np.testing.assert_allclose(c[:], (raw_a - raw_a.mean()) / raw_a.std(ddof=1), rtol=1e-5)
    z.mean[...] = 100  # (edited in place)
    np.testing.assert_allclose(a[:], want, rtol=1e-5)
    np.testing.assert_allclose(a.subset([2])[:], want[[2]], rtol=1e-5)
    np.testing.assert_allclose(b[:], want_b, rtol=1e-5)
    np.testing.assert_allclose(genozarr.open_dataset(tmp_path / "a.zarr")[:], want, rtol=1e-5)
    late = PercentileTrimming(99)  # put in the list unfitted, fitted by the user
    a.normalizers = [late]
    with pytest.raises(ArgumentError, match="not fitted"):
        a[:]
    late.fit(a.to_xarray())
    np.testing.assert_allclose(a[:], np.minimum(raw_a, np.percentile(raw_a, 99)), rtol=1e-5)


def test_a_function_normalizer_that_cannot_be_copied_is_kept_as_given(tmp_path):
    """The datasets' own copies of fitted normalizers took functions too: a callable
    holding a lock (or an open file) failed the build with deepcopy's TypeError, and a
    bound method copied its object (a review). Functions are kept as given."""
    import threading

    class Scaled:
        def __init__(self) -> None:
            self.lock, self.k = threading.Lock(), 2.0

        def __call__(self, x: np.ndarray) -> np.ndarray:
            with self.lock:
                return x * self.k

    scaled = Scaled()
    gi = GenomicIndexer(["chr1"] * 2, [0, 10], [10, 20], ["+"] * 2, 10, 10)
    raw = np.arange(20.0).reshape(2, 10, 1, 1)
    path = tmp_path / "s.zarr"
    Cover.create_from_array("c", raw, gi, storage="zarr", store=str(path))
    cover = genozarr.open_dataset(path, normalizer=[scaled, "zscore"])
    assert cover.normalizers[0].func is scaled
    x = raw * 2.0
    np.testing.assert_allclose(cover[:], (x - x.mean()) / x.std(ddof=1), rtol=1e-5)


def test_indexer_windows_are_read_only():
    """A GenomicIndexer shared by two datasets and edited in place (gi.starts += 100) was
    served by one dataset and not the other (each derives its reads once; an audit).
    Its arrays are read-only views; the caller's arrays stay writable."""
    starts = np.arange(4) * 10
    chrs = np.array(["chr1"] * 4, dtype=object)
    gi = GenomicIndexer(chrs, starts, starts + 10, ["+"] * 4, 10, 10, names=list("abcd"))
    for values in (gi.chrs, gi.starts, gi.ends, gi.strand, gi.names, gi[1:].starts):
        with pytest.raises(ValueError, match="read-only"):
            values[0] = values[1]
    starts[0] = 5  # (the caller's own arrays)
    chrs[0] = "chr2"
    assert gi.starts[0] == 0 and gi.chrs[0] == "chr1"
    # read-only arrays (nobody may change them) are taken as they are: opening a store of
    # 8 M windows copied its 4 arrays (0.16 s of object increfs and 128 MB of int64)
    fixed = [np.arange(4) * 10, np.arange(4) * 10 + 10, np.array(["chr1"] * 4, dtype=object)]
    for values in fixed:
        values.flags.writeable = False
    kept = GenomicIndexer(fixed[2], fixed[0], fixed[1], ["+"] * 4, 10, 10)
    assert np.shares_memory(kept.starts, fixed[0]) and np.shares_memory(kept.ends, fixed[1])
    assert np.shares_memory(kept.chrs, fixed[2])
    # its strands' and chromosomes' codes are found once, and read-only
    codes, labels = kept.label_codes("strand")
    assert kept.label_codes("strand")[0] is codes and labels == ["+"]
    assert kept.label_codes("chrs")[1] == ["chr1"] and not codes.flags.writeable
    with pytest.raises(ArgumentError, match="'chrs' or 'strand'"):
        kept.label_codes("starts")
    # a pickled copy (dask, DataLoader workers) carries no codes, and is read-only too
    import pickle

    copy = pickle.loads(pickle.dumps(kept))
    assert "_codes" not in copy.__dict__ or not copy.__dict__["_codes"]
    for values in (copy.chrs, copy.starts, copy.ends, copy.strand):
        with pytest.raises(ValueError, match="read-only"):
            values[0] = values[1]
    assert copy.label_codes("strand")[1] == ["+"]


@pytest.mark.parametrize("center,spread", [(1e6 + 0.03, 0.5), (3e4 + 0.001, 0.05),
                                           (100.0002, 0.001), (5.0, 2.0)])
def test_zscore_of_values_far_from_zero_within_float32_rounding(center, spread, tmp_path):
    """``ZScore`` subtracted its mean cast to float32: every value of data at 1e6 +- 0.5
    was served 0.057 z-units off (the mean's float32 rounding divided by a small
    deviation; an audit). The served z-scores are now within 1e-6 of float64's on the
    stored values, the fit in float64 as before."""
    from genozarr.ops.normalizers import ZScore

    rng = np.random.default_rng(11)
    values = (center + rng.normal(0, spread, (2000, 10, 1, 1))).astype(np.float32)
    roi = pd.DataFrame({"chrom": ["chr1"], "start": [0], "end": [2000 * 100]})
    gi = GenomicIndexer.create_from_file(roi, binsize=100, stepsize=100)
    Cover.create_from_array("z", values, gi, resolution=10, storage="zarr",
                            store=tmp_path / "z.zarr")
    cover = genozarr.open_dataset(tmp_path / "z.zarr", normalizer="zscore")
    x = values.astype(np.float64)
    want = (x - x.mean()) / x.std(ddof=1)
    served = np.asarray(cover[:])
    assert served.dtype == np.float32
    np.testing.assert_allclose(served, want, rtol=0, atol=1e-6)
    z = ZScore(mean=x.mean(), std=x.std(ddof=1))  # the kernel alone, given statistics
    np.testing.assert_allclose(z.kernel(values), want, rtol=0, atol=1e-6)
    for dtype in (np.float64, np.int32):  # (wider inputs: served as float64)
        assert z.kernel(values.astype(dtype)).dtype == np.float64


def test_a_copy_of_a_fitted_zscorelog_has_its_own_statistics(tmp_path):
    """``copy.copy`` of a fitted ZScoreLog shared the z-score inside it: resetting or
    refitting the copy changed the statistics of the original, and the values its
    dataset served (an audit: off by up to 5.1); ZScore's copies were independent."""
    import copy

    gi = GenomicIndexer(["chr1"] * 3, [0, 10, 20], [10, 20, 30], ["+"] * 3, 10, 10)
    rng = np.random.default_rng(3)
    x = (rng.random((3, 10, 1, 1)) * 10).astype("float32")
    other = (rng.random((3, 10, 1, 1)) * 1000).astype("float32")
    logs = np.log1p(x.astype(np.float64))
    want = (logs - logs.mean()) / logs.std(ddof=1)
    for name in ("zscorelog", "zscore"):
        Cover.create_from_array(name, x, gi, storage="zarr", store=str(tmp_path / name))
        ds = genozarr.open_dataset(str(tmp_path / name), normalizer=[name])
        fitted = ds.normalizers[0]
        before = (np.array(fitted.mean), np.array(fitted.std))
        twin = copy.copy(fitted)
        twin.reset()
        assert fitted.fitted and not twin.fitted
        twin.fit(Cover.create_from_array("o", other, gi).to_xarray())
        np.testing.assert_array_equal(fitted.mean, before[0])
        np.testing.assert_array_equal(fitted.std, before[1])
        assert not np.allclose(twin.mean, before[0])
        if name == "zscorelog":
            _close(ds[:], want)


def test_a_normalizer_repr_is_bounded():
    """The repr of a normalizer fitted on 10,000 conditions was 400 kB (every statistic
    listed); statistics of more than 12 values are summarised with their shape, smaller
    ones listed as before."""
    big = ZScore(mean=np.arange(10_000.0)[None], std=np.full((1, 10_000), 2.0))
    text = repr(big)
    assert len(text) < 300, len(text)
    assert "mean=<1x10000 values: [[0.000e+00, 1.000e+00, ..., 9.998e+03, 9.999e+03]]>" \
        in text and "std=<1x10000 values: [[2., 2., ..., 2., 2.]]>" in text
    assert "\n" not in repr(ZScore(mean=np.ones((4, 100)), std=np.ones((4, 100))))
    assert repr(ZScore(mean=[[0.0, 1.5]], std=[[1.0, 2.0]])) == \
        "ZScore(per_strand=False, mean=[[0.0, 1.5]], std=[[1.0, 2.0]])"
    assert repr(PercentileTrimming(99)) == \
        "PercentileTrimming(percentile=99.0, per_strand=False, threshold=None)"


@pytest.mark.parametrize("name", ["cpm", "tpm", "bpm"])
def test_a_condition_summing_to_zero_is_scaled_by_one(name):
    """A condition whose values sum to 0 (+1 and -1) records the total/scale 1, as CPM's and
    TPM's docstrings say, beside the other condition's own statistic; no test pinned the
    value recorded for a zero sum (a mutation audit)."""
    from genozarr.errors import NegativeValuesWarning
    from genozarr.ops.normalizers import resolve_normalizers
    from genozarr.store.view import as_xarray

    roi = pd.DataFrame({"chrom": ["chr1"] * 4, "start": [0, 100, 200, 300],
                        "end": [100, 200, 300, 400]})
    gi = GenomicIndexer.create_from_file(roi, binsize=100, stepsize=100)
    arr = np.zeros((4, 10, 1, 2), dtype="float32")
    arr[0, :5, 0, 0] = 1.0
    arr[0, 5:, 0, 0] = -1.0  # condition 'a': sums to 0
    arr[..., 1] = 2.0  # condition 'b': total 80
    data = as_xarray(Cover.create_from_array("x", arr, gi, conditions=["a", "b"],
                                             resolution=10).garray)
    norm = resolve_normalizers(name)[0]
    with pytest.warns(NegativeValuesWarning, match="condition 'a'"):
        norm.fit(data)
    lengths = np.full(4, 100.0)
    if name == "cpm":
        np.testing.assert_allclose(np.ravel(norm.total), [1.0, 80.0])
        want = arr.astype("float64") * 1e6 / np.array([1.0, 80.0])
    else:  # per kilobase (100 bp windows: x / 0.1), then the total / 1e6 of 'b' only
        scale_b = (arr[..., 1].astype("float64") / 0.1).sum() / 1e6
        np.testing.assert_allclose(np.ravel(norm.scale), [1.0, scale_b])
        want = arr.astype("float64") / 0.1 / np.array([1.0, scale_b])
    _close(norm.kernel(arr, lengths), want)
