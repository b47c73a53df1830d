"""Lazy collapse against numpy over several chunkings and both layouts, and write_store
round trips readable by open_store and load_store."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pandas as pd
import pytest
import xarray as xr

import genozarr.ops as ops
from genozarr import Cover, open_store
from genozarr.errors import ArgumentError, StoreError
from genozarr.ops import ZScore
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


@pytest.fixture(scope="module")
def whole_tree(whole):
    """The whole-genome fixture in format 2: a DataTree, one node per chromosome."""
    nodes = {f"/{k}": xr.Dataset({"data": (("position", "strand", "condition"), whole[k].values)},
                                 coords={"strand": ["."], "condition": ["a", "b"]})
             for k in whole.data_vars}
    tree = xr.DataTree.from_dict(nodes)
    tree.attrs = dict(whole.attrs)
    return tree


def _arrays_of(obj):
    """``{name: DataArray}``: ``data`` of a Dataset, or each chromosome's ``data``."""
    if isinstance(obj, xr.DataTree):
        return {n.name: n["data"] for n in obj.subtree if "data" in n.data_vars}
    return {k: obj[k] for k in obj.data_vars}


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


@pytest.mark.parametrize("how", ["sum", "max", np.median])
@pytest.mark.parametrize("chunks", [{"position": 4}, {"position": 1, "condition": 1}])
def test_collapse_datatree(whole, whole_tree, how, chunks):
    """Format 2: every chromosome node is collapsed; the result is a lazy DataTree."""
    out = ops.collapse(whole_tree.chunk(chunks), resolution=4 * RES, collapser=how)
    assert isinstance(out, xr.DataTree)
    assert out.attrs["resolution"] == 4 * RES and out.attrs["name"] == "w"
    assert len(out.attrs["operations"]) == 1
    assert whole_tree.attrs["resolution"] == RES  # the input is untouched
    got = _arrays_of(out)
    assert set(got) == {"chrA", "chrB"}
    for k, var in got.items():
        assert isinstance(var.data, da.Array) and var.dims == ("position", "strand", "condition")
        np.testing.assert_allclose(var.values, numpy_collapse(whole[k].values, 4, how, 0),
                                   rtol=1e-6)
    # same numbers as the format 1 Dataset
    legacy = ops.collapse(whole, resolution=4 * RES, how=how)
    for k in got:
        np.testing.assert_array_equal(got[k].values, legacy[k].values)


def test_collapse_one_chromosome_dataset(whole_tree):
    ds = whole_tree["chrB"].to_dataset()
    ds.attrs = dict(whole_tree.attrs)
    out = ops.collapse(ds.chunk({"position": 5}), resolution=2 * RES, collapser="mean")
    np.testing.assert_allclose(out["data"].values,
                               numpy_collapse(ds["data"].values, 2, "mean", 0), rtol=1e-6)


def test_collapse_errors(partial, whole, whole_tree):
    with pytest.raises(ArgumentError, match="multiple of the store's resolution"):
        ops.collapse(partial, resolution=7)
    with pytest.raises(ArgumentError, match="not a multiple"):
        ops.collapse(partial, resolution=5 * RES)  # 12 bins are not divisible by 5
    for w in (whole, whole_tree):
        with pytest.raises(ArgumentError, match="partial layout"):
            ops.collapse(w, resolution=None)
    with pytest.raises(ArgumentError, match="collapser must be"):
        ops.collapse(partial, resolution=2 * RES, how="median")
    with pytest.raises(ArgumentError, match="not both"):
        ops.collapse(partial, resolution=2 * RES, collapser="sum", how="sum")
    with pytest.raises(ArgumentError, match="not a genozarr dataset"):
        ops.collapse(xr.Dataset({"x": ("a", [1.0])}), resolution=2 * RES)


def test_collapsing_a_store_keeps_its_windows_openable(tmp_path):
    """A whole-genome store records its windows: collapsed to a resolution that divides
    their starts, the written store opens as the same windows at the new resolution; to
    one that does not (windows at 100, 200, ... and resolution 30) collapse refuses (the
    written store could not be opened: 'not divisible by resolution')."""
    from genozarr import GenomicIndexer, open_dataset, write_store

    gi = GenomicIndexer(["chr1"] * 3, [0, 100, 200], [100, 200, 300], ["+"] * 3, 100, 100)
    x = np.random.default_rng(2).poisson(3, size=(3, 10, 1, 1)).astype("float32")
    Cover.create_from_array("w", x, gi, resolution=10, store_whole_genome=True,
                            storage="zarr", store=str(tmp_path / "w.zarr"),
                            genomesize={"chr1": 300})
    tree = open_store(tmp_path / "w.zarr")
    with pytest.raises(ArgumentError, match=r"do not fit resolution 30 \(one starts at 100\)"):
        ops.collapse(tree, resolution=30)
    with pytest.raises(ArgumentError, match=r"do not fit resolution 300 \(one starts at 100"):
        ops.collapse(tree, resolution=300)
    write_store(ops.collapse(tree, resolution=50, collapser="sum"), tmp_path / "c.zarr")
    got = open_dataset(tmp_path / "c.zarr")[:]
    np.testing.assert_allclose(got, x.reshape(3, 2, 5, 1, 1).sum(axis=2))
    # windows that start on the grid but are shorter than a bin (100 bp at 200): the
    # written store served empty windows, shape (3, 0, 1, 1)
    gaps = GenomicIndexer(["chr1"] * 3, [0, 200, 400], [100, 300, 500], ["+"] * 3, 100, 200)
    Cover.create_from_array("g", x, gaps, resolution=10, store_whole_genome=True,
                            storage="zarr", store=str(tmp_path / "g.zarr"),
                            genomesize={"chr1": 600})
    with pytest.raises(ArgumentError, match=r"do not fit resolution 200 \(one is 100 bases"):
        ops.collapse(open_store(tmp_path / "g.zarr"), resolution=200)


def test_collapsing_a_genome_whose_last_window_is_cut_at_the_chromosome_end(tmp_path):
    """A whole-genome store tiled with binsize 100 over a 1,037 bp chromosome records its
    last window as 1000-1037 (zero padding): collapse refused every resolution but 1
    ('one is 37 bases long') although the constructors build that store at 50 bp. The
    collapsed store serves what a build at 50 bp serves."""
    import pyBigWig

    from genozarr import open_dataset, write_store

    values = np.random.default_rng(5).gamma(2.0, 1.0, 1037).astype("float32")
    path = str(tmp_path / "s.bw")
    with pyBigWig.open(path, "w") as bw:
        bw.addHeader([("chr1", 1037)])
        bw.addEntries("chr1", 0, values=values.tolist(), span=1, step=1)
    kw = {"binsize": 100, "genomesize": {"chr1": 1037}, "store_whole_genome": True,
          "storage": "zarr"}
    Cover.create_from_bigwig("b", path, resolution=1, store=str(tmp_path / "b1.zarr"), **kw)
    direct = Cover.create_from_bigwig("b", path, resolution=50,
                                      store=str(tmp_path / "b50.zarr"), **kw)
    assert (direct.gindexer.starts[-1], direct.gindexer.ends[-1]) == (1000, 1037)
    collapsed = ops.collapse(open_store(tmp_path / "b1.zarr"), resolution=50,
                             collapser="mean")
    write_store(collapsed, tmp_path / "c50.zarr")
    got = open_dataset(tmp_path / "c50.zarr")[:]
    assert got.shape == direct.shape == (11, 2, 1, 1)
    np.testing.assert_allclose(got, direct[:], rtol=1e-6)
    np.testing.assert_allclose(got[:10, :, 0, 0].ravel(),
                               values[:1000].reshape(20, 50).mean(axis=1), rtol=1e-5)


def test_write_store_keeps_the_key_only_for_data_it_describes(tmp_path):
    """A copy of a store's data keeps its cache key, a result of genozarr.ops its derived
    key; data changed by other means (the same attributes, other values) get none, so
    the store written is never taken for the source's build (a cached build, a reader
    comparing markers)."""
    from genozarr import GenomicIndexer, write_store
    from genozarr.store.open import read_marker

    long = "chrUn_KI270742v1"  # past 15 characters: numpy's StringDType keeps it outside
    gi = GenomicIndexer([long] * 2, [0, 100], [100, 200], ["+"] * 2, 100, 100)
    x = np.arange(200, dtype="float32").reshape(2, 100, 1, 1)
    src = Cover.create_from_array("k", x, gi, storage="zarr",
                                  store=str(tmp_path / "src.zarr")).garray.meta.cache_key
    ds = open_store(tmp_path / "src.zarr")
    changed = ds.copy()
    changed["data"] = ds["data"] * 2
    derived = ops.collapse(ds, resolution=10)
    moved = ds.assign_coords(region_start=ds["region_start"] + 1000)
    renamed = ds.assign_coords(region_chrom=ds["region_chrom"].str.replace("742", "743"))
    loaded = ops.normalize(open_store(tmp_path / "src.zarr").load(), "zscore")
    loaded["data"] = loaded["data"] * 100  # numpy data: not told apart, so no key
    for name, obj, want in (("copy", ds.copy(), src), ("changed", changed, None),
                            ("ops", derived, derived.attrs["cache_key"]),
                            ("moved", moved, None), ("renamed", renamed, None),
                            ("loaded", loaded, None)):
        write_store(obj, tmp_path / f"{name}.zarr")
        assert read_marker(tmp_path / f"{name}.zarr")["cache_key"] == want, name
    assert src is not None and derived.attrs["cache_key"] not in (None, src)
    np.testing.assert_array_equal(open_store(tmp_path / "changed.zarr")["data"].values,
                                  2 * ds["data"].values)


def test_condition_sources_follow_the_conditions(tmp_path):
    """write_store of ds.isel(condition=...) records the input file of each condition:
    reordered, the sources stayed in the build's order (to_anndata paired condition 'c'
    with the first file); subset, three sources for two conditions."""
    import pyBigWig

    from genozarr import open_dataset, to_anndata, write_store

    files = []
    for j in range(3):
        files.append(str(tmp_path / f"f{j}.bw"))
        with pyBigWig.open(files[-1], "w") as bw:
            bw.addHeader([("chr1", 1000)])
            bw.addEntries(["chr1"], [0], ends=[1000], values=[float(j + 1)])
    roi = pd.DataFrame({"chrom": ["chr1"], "start": [100], "end": [300]})
    Cover.create_from_bigwig("m", files, roi=roi, binsize=200, resolution=None,
                             conditions=["a", "b", "c"], storage="zarr",
                             store=str(tmp_path / "m.zarr"))
    ds = open_store(tmp_path / "m.zarr")
    for order in ([2, 0, 1], [2, 0]):
        out = tmp_path / f"m{len(order)}.zarr"
        write_store(ds.isel(condition=order), out)
        adata = to_anndata(open_dataset(out))
        assert list(adata.var_names) == [["a", "b", "c"][k] for k in order]
        assert list(adata.var["source"]) == [files[k] for k in order]
        np.testing.assert_array_equal(adata.X, [[k + 1.0 for k in order]])


def test_collapse_how_is_an_alias(partial):
    a = ops.collapse(partial, resolution=2 * RES, how="max")
    b = ops.collapse(partial, resolution=2 * RES, collapser="max")
    np.testing.assert_array_equal(a["data"].values, b["data"].values)
    assert a.attrs["cache_key"] == b.attrs["cache_key"]
    c = ops.collapse(partial, resolution=2 * RES)  # default: sum
    np.testing.assert_allclose(c["data"].values, numpy_collapse(partial["data"].values, 2,
                                                                "sum", 1), rtol=1e-6)


@pytest.mark.parametrize("layout", ["partial", "whole"])
def test_write_store_round_trip(partial, whole_tree, layout, tmp_path):
    src = partial if layout == "partial" else whole_tree
    z = ZScore()
    lazy = ops.normalize(src.chunk({"region": 4, "position": 4} if layout == "partial"
                                   else {"position": 4}), z)
    lazy = ops.collapse(lazy, resolution=2 * RES, how="mean") if layout == "partial" else lazy
    path = ops.write_store(lazy, tmp_path / "out.zarr")
    back = open_store(path)
    want, got = _arrays_of(lazy), _arrays_of(back)
    assert set(got) == set(want)
    for k in want:
        np.testing.assert_allclose(got[k].values, want[k].values, rtol=1e-6)
        assert got[k].dims == want[k].dims
    assert back.attrs["resolution"] == lazy.attrs["resolution"]
    assert back.attrs.get("cache_key") == lazy.attrs.get("cache_key")
    store = load_store(path, "ndarray")
    assert store.meta.layout == ("partial" if layout == "partial" else "whole_genome")
    for k in want:
        path_k = store.meta.array_path(None if layout == "partial" else k)
        np.testing.assert_allclose(store.dense(path_k), want[k].values, rtol=1e-6)
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


def test_ops_are_plain_functions(partial):
    import importlib
    import inspect

    import genozarr

    assert inspect.isfunction(ops.normalize) and inspect.isfunction(ops.collapse)
    for gone in ("genozarr.ops.normalize", "genozarr.ops.collapse"):
        with pytest.raises(ModuleNotFoundError):
            importlib.import_module(gone)
    assert ops.ZScore is genozarr.ZScore
    out = ops.normalize(partial, ZScore(mean=1.0, std=2.0), fit=False)
    np.testing.assert_allclose(out["data"].values, (partial["data"].values - 1) / 2, rtol=1e-6)
    with pytest.raises(ArgumentError, match="not fitted"):
        ops.normalize(partial, ZScore(), fit=False)


def test_a_key_the_data_no_longer_hold_is_neither_written_nor_chained(tmp_path):
    """Data opened with xarray's genozarr engine carry the store's attributes but no token
    of what they held: changed (data * 2) and written over the store path, a later
    cached build served the doubled values as its own. genozarr.ops chained the key of
    changed data into a derived one (two stores of other values under one key). Both
    now get no key (an audit)."""
    from genozarr import GenomicIndexer, write_store
    from genozarr.store.open import read_marker

    gi = GenomicIndexer(["chr1"] * 2, [0, 100], [100, 200], ["+"] * 2, 100, 100)
    x = np.arange(200, dtype="float32").reshape(2, 100, 1, 1)
    Cover.create_from_array("k", x, gi, storage="zarr", store=str(tmp_path / "src.zarr"))
    engine = xr.open_dataset(tmp_path / "src.zarr", engine="genozarr")
    doubled = engine.assign(data=engine["data"] * 2)
    ds = open_store(tmp_path / "src.zarr")
    changed = ds.assign(data=ds["data"] * 2)
    for name, obj in (("engine", doubled), ("chained", ops.collapse(changed, resolution=10)),
                      ("normalized", ops.normalize(changed, "binsizenorm"))):
        assert obj.attrs.get("cache_key") is None or name == "engine", name
        write_store(obj, tmp_path / f"{name}.zarr")
        assert read_marker(tmp_path / f"{name}.zarr")["cache_key"] is None, name
    ok = ops.collapse(ds, resolution=10)  # unchanged data: a derived key, as before
    assert ok.attrs["cache_key"] not in (None, ds.attrs["cache_key"])


def test_a_fitted_normalizer_matches_conditions_by_name(tmp_path):
    """genozarr.ops applied fitted per-condition statistics by position: conditions
    reordered took each other's, a selected condition gave values of two conditions
    under a shape of one (an audit). They are matched by name now."""
    from genozarr import GenomicIndexer, write_store

    rng = np.random.default_rng(5)
    gi = GenomicIndexer(["chr1"] * 4, np.arange(4) * 50, np.arange(4) * 50 + 50, ["+"] * 4,
                        50, 50)
    x = np.stack([rng.normal(1, 1, (4, 50)), rng.normal(10, 3, (4, 50))], -1)[:, :, None, :]
    Cover.create_from_array("z", x.astype("float32"), gi, conditions=["A", "B"],
                            storage="zarr", store=str(tmp_path / "z.zarr"))
    ds = open_store(tmp_path / "z.zarr")
    z = ZScore().fit(ds)
    raw = ds["data"].values.astype(np.float64)
    mean, std = raw.mean(axis=(0, 1, 2)), raw.std(axis=(0, 1, 2), ddof=1)
    want = (raw - mean) / std
    reordered = ops.normalize(ds.sel(condition=["B", "A"]), z)
    np.testing.assert_allclose(reordered["data"].values, want[..., ::-1], rtol=1e-5, atol=1e-6)
    only_b = ops.normalize(ds.sel(condition=["B"]), z)
    assert only_b["data"].values.shape == (4, 50, 1, 1)
    np.testing.assert_allclose(only_b["data"].values, want[..., 1:], rtol=1e-5, atol=1e-6)
    write_store(only_b, tmp_path / "b.zarr")
    np.testing.assert_allclose(open_store(tmp_path / "b.zarr")["data"].values, want[..., 1:],
                               rtol=1e-5, atol=1e-6)
    from genozarr.ops import ZScoreLog

    zl = ZScoreLog().fit(ds.assign(data=abs(ds["data"])))
    logged = np.log(np.abs(raw) + 1)
    want_log = (logged - logged.mean(axis=(0, 1, 2))) / logged.std(axis=(0, 1, 2), ddof=1)
    got = ops.normalize(abs(ds["data"]).to_dataset().assign_attrs(ds.attrs)
                        .sel(condition=["B"]), zl)["data"].values
    np.testing.assert_allclose(got, want_log[..., 1:], rtol=1e-5, atol=1e-5)
    other = ds.assign_coords(condition=["C", "D"])
    with pytest.warns(Warning, match="apply by position"):
        ops.normalize(other, z)
    with pytest.raises(ArgumentError, match="fitted on 2 conditions"):
        ops.normalize(other.sel(condition=["C"]), z)


def test_write_store_refuses_data_its_attributes_do_not_describe(tmp_path):
    """A crop of the positions was written shifted to the window's start and padded with
    zeros; an edited resolution attribute cut every row, keeping the cache key (an
    audit). The shapes are compared first."""
    from genozarr import GenomicIndexer, write_store

    gi = GenomicIndexer(["chr1"] * 2, [0, 100], [100, 200], ["+"] * 2, 100, 100)
    x = np.arange(200, dtype="float32").reshape(2, 100, 1, 1)
    Cover.create_from_array("k", x, gi, storage="zarr", store=str(tmp_path / "src.zarr"))
    ds = open_store(tmp_path / "src.zarr")
    for name, obj in (("crop", ds.isel(position=slice(25, 75))),
                      ("resolution", ds.assign_attrs(resolution=20))):
        with pytest.raises(ArgumentError, match=r"have the shape \(2, (50|100), 1, 1\), the "
                                                r"attributes describe"):
            write_store(obj, tmp_path / f"{name}.zarr")
        assert not (tmp_path / f"{name}.zarr").exists()


def test_ops_on_a_store_opened_by_the_xarray_engine_stay_lazy(tmp_path, monkeypatch):
    """A store opened with xarray's genozarr engine holds lazily indexed arrays, not dask:
    collapse read every chromosome at the call (np.asarray), normalize computed at once
    and returned numpy. Both now read no chunk until computed, and give the values they
    give for genozarr.open_store."""
    import zarr.storage

    from genozarr.ops import LogTransform
    from genozarr.testing.simulate import write_bigwig

    write_bigwig(tmp_path / "a.bw", {"chr1": np.arange(1000, dtype=float),
                                     "chr2": np.arange(600, dtype=float)[::-1].copy()})
    Cover.create_from_bigwig("a", str(tmp_path / "a.bw"), roi=None, binsize=100,
                             storage="zarr", store=str(tmp_path / "a.zarr"),
                             store_whole_genome=True)
    reads = []
    real = zarr.storage.LocalStore.get

    async def get(self, key, *args, **kwargs):
        if "/data/c" in key:
            reads.append(key)
        return await real(self, key, *args, **kwargs)

    monkeypatch.setattr(zarr.storage.LocalStore, "get", get)
    for op in (lambda t: ops.collapse(t, resolution=10),
               lambda t: ops.normalize(t, LogTransform())):
        tree = xr.open_datatree(tmp_path / "a.zarr", engine="genozarr")
        reads.clear()
        out = op(tree)
        assert reads == []
        want = op(open_store(tmp_path / "a.zarr"))
        for chrom in ("chr1", "chr2"):
            assert isinstance(out[chrom]["data"].data, da.Array)
            np.testing.assert_array_equal(out[chrom]["data"].values, want[chrom]["data"].values)
        assert reads


def test_write_store_refuses_windows_on_a_dropped_chromosome(tmp_path):
    """A tree with a chromosome dropped but its windows kept was written, and
    open_dataset then refused the store ('chromosomes ['chr2'] are not in its store'):
    write_store refuses it, and writes it without the windows group, which opens."""
    import genozarr
    from genozarr.testing.simulate import write_bigwig

    write_bigwig(tmp_path / "b.bw", {"chr1": np.arange(1000, dtype=float),
                                     "chr2": np.ones(500)})
    Cover.create_from_bigwig("b", str(tmp_path / "b.bw"), roi=None, binsize=100,
                             storage="zarr", store=str(tmp_path / "b.zarr"),
                             store_whole_genome=True)
    tree = open_store(tmp_path / "b.zarr")
    with pytest.raises(ArgumentError, match=r"the windows \(genozarr-windows\) lie on "
                                            r"chromosomes \['chr2'\]"):
        genozarr.write_store(tree.drop_nodes("chr2"), str(tmp_path / "c.zarr"))
    assert not (tmp_path / "c.zarr").exists()
    genozarr.write_store(tree.drop_nodes(["chr2", "genozarr-windows"]),
                         str(tmp_path / "d.zarr"))
    got = genozarr.open_dataset(str(tmp_path / "d.zarr"))
    np.testing.assert_array_equal(got["chr1", 0, 1000][0, :, 0, 0], np.arange(1000))


def test_open_store_loads_coordinates_here_not_on_a_cluster(tmp_path):
    """open_store loads a partial store's coordinates through the default dask scheduler:
    with a dask.distributed client active, on its workers (which may not reach a local
    store; in the suite, a cluster whose workers had died hung it). They are read here."""
    import dask

    from genozarr.testing.simulate import write_bigwig

    write_bigwig(tmp_path / "a.bw", {"chr1": np.arange(1000, dtype=float)})
    Cover.create_from_bigwig("a", str(tmp_path / "a.bw"), roi=pd.DataFrame(
        {"chrom": ["chr1"] * 3, "start": [0, 300, 600], "end": [100, 400, 700]}),
        binsize=100, storage="zarr", store=str(tmp_path / "a.zarr"))

    def elsewhere(*args, **kwargs):
        raise AssertionError("computed through the configured scheduler")

    with dask.config.set(scheduler=elsewhere):
        ds = open_store(tmp_path / "a.zarr")
    np.testing.assert_array_equal(ds["region_start"].values, [0, 300, 600])


def test_ops_normalize_and_collapse_keep_values_of_narrow_stores(tmp_path):
    """Found by an audit, each against numpy on the stored values:
    - a callable normalizer ran on int8 counts as they were (100 * 2 overflowed to -56);
      a dataset serves them in float32 at least, and so does ops.normalize now;
    - a sum collapse of a float16 store turned sums past 65504 into inf; it is float32;
    - length normalizers took the first axis for the regions: data with the position
      axis first got other windows' lengths (or numpy's broadcast error);
    - given statistics of another (strand, condition) shape were applied (a total per
      condition of 3 to a selection of 1: the first condition's), or failed in numpy;
    - a mean per strand with per_strand=False fitted the deviations of both strands'
      values around each strand's mean;
    - the dtype attribute kept the source's dtype."""
    from genozarr import GenomicIndexer

    gi = GenomicIndexer(["chr1"] * 3, [0, 100, 200], [100, 200, 250], ["+"] * 3, 100, 100)
    counts = np.zeros((3, 100, 1, 3), dtype="int8")
    counts[:, :50] = 100
    counts[2, 50:] = 0
    Cover.create_from_array("c", counts, gi, storage="zarr", store=str(tmp_path / "c.zarr"),
                            conditions=["s0", "s1", "s2"])
    ds = open_store(tmp_path / "c.zarr")
    doubled = ops.normalize(ds, lambda x: x * 2)
    assert doubled["data"].dtype == np.float32 and doubled.attrs["dtype"] == "float32"
    np.testing.assert_array_equal(doubled["data"].values, counts.astype(np.float32) * 2)
    assert ops.collapse(ds, resolution=10, collapser="mean").attrs["dtype"] == "float64"

    half = np.full((3, 100, 1, 1), 1000.0, dtype="float16")
    Cover.create_from_array("h", half, gi, storage="zarr", store=str(tmp_path / "h.zarr"))
    summed = ops.collapse(open_store(tmp_path / "h.zarr"), resolution=100, collapser="sum")
    assert summed["data"].dtype == np.float32
    np.testing.assert_array_equal(summed["data"].values[:2, 0, 0, 0], [100_000.0] * 2)

    lengths = np.array([100, 100, 50.0])
    by_length = counts.astype(np.float64) / lengths[:, None, None, None]
    for data in (ds, ds.transpose("position", "region", "strand", "condition")):
        got = ops.normalize(data, "binsizenorm")["data"].transpose(
            "region", "position", "strand", "condition").values
        np.testing.assert_allclose(got, by_length, rtol=1e-6)

    with pytest.raises(ArgumentError, match=r"'cpm' holds total of shape \(1, 3\).*1 "
                                            r"condition\(s\)"):
        ops.normalize(ds.sel(condition=["s1"]), ops.CPM(total=[1e6, 2e6, 4e6]))
    with pytest.raises(ArgumentError, match=r"holds total of shape \(1, 2\)"):
        ops.normalize(ds, ops.CPM(total=[1e6, 2e6]))
    stranded = xr.Dataset(
        {"data": (("region", "position", "strand", "condition"),
                  np.arange(24.0).reshape(2, 6, 2, 1))},
        coords={"strand": ["+", "-"], "condition": ["a"],
                "region_chrom": ("region", ["chr1"] * 2), "region_start": ("region", [0, 6]),
                "region_end": ("region", [6, 12]), "region_strand": ("region", ["+"] * 2)},
        attrs={"resolution": 1, "layout": "partial"})
    with pytest.raises(ArgumentError, match=r"means that differ by strand .*per_strand=True"):
        ops.normalize(stranded, ZScore(mean=[[0.0], [10.0]]))
    fitted = ops.normalize(stranded, ZScore(mean=[[0.0], [10.0]], per_strand=True))
    x = np.arange(24.0).reshape(2, 6, 2, 1)
    sd = [np.sqrt(((x[:, :, s] - m) ** 2).sum() / (x[:, :, s].size - 1)) for s, m in
          ((0, 0.0), (1, 10.0))]
    np.testing.assert_allclose(fitted["data"].values[:, :, 1, 0], (x[:, :, 1, 0] - 10) / sd[1])


def test_statistics_per_strand_refuse_strands_in_another_order(tmp_path):
    """Statistics per strand were matched to the data's strands by place: data with the
    strands reordered (``isel(strand=[1, 0])``) had their '+' values z-scored with the '-'
    statistics. Fitting on, or applying to, such data is refused; in the store's order
    the values are (x - mean) / std per strand against numpy."""
    from genozarr import GenomicIndexer

    rng = np.random.default_rng(6)
    gi = GenomicIndexer(["chr1"] * 20, np.arange(20) * 10, np.arange(20) * 10 + 10,
                        ["+"] * 20, 10, 10)
    x = rng.normal([[1.0], [5.0]], [[1.0], [3.0]], size=(20, 10, 2, 1)).astype(np.float32)
    path = str(tmp_path / "s.zarr")
    Cover.create_from_array("s", x, gi, storage="zarr", store=path)
    obj = open_store(path)
    z = ZScore(per_strand=True).fit(obj)
    got = ops.normalize(obj, z, fit=False)["data"].values
    flat = x.astype(np.float64).transpose(2, 0, 1, 3).reshape(2, -1)
    want = (x - flat.mean(1)[:, None]) / flat.std(1, ddof=1)[:, None]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    swapped = obj.isel(strand=[1, 0])
    with pytest.raises(ArgumentError, match=r"the data have \['-', '\+'\]"):
        ops.normalize(swapped, z, fit=False)
    for unfitted in (ZScore(per_strand=True), ops.ZScoreLog(per_strand=True)):
        with pytest.raises(ArgumentError, match="statistics per strand"):
            unfitted.fit(swapped)
    pooled = ZScore().fit(obj)  # (one value per condition: any strand order)
    np.testing.assert_array_equal(ops.normalize(swapped, pooled, fit=False)["data"].values,
                                  ops.normalize(obj, pooled, fit=False)["data"].values[:, :,
                                                                                       ::-1])


def test_a_fit_on_a_tree_opened_by_the_xarray_engine_reads_chunk_by_chunk(tmp_path):
    """A store opened with xarray's genozarr engine holds lazily indexed arrays: a fit took
    their ``.data``, reading each chromosome's whole array as one block where the docs
    promise one chunk at a time. The arrays reduced are dask arrays in the stored chunks,
    and the statistics equal those fitted through open_store."""
    from genozarr.config import set_options
    from genozarr.ops._layout import data_arrays
    from genozarr.testing.simulate import write_bigwig

    rng = np.random.default_rng(1)
    bw = write_bigwig(str(tmp_path / "a.bw"), {"chr1": rng.random(30000),
                                               "chr2": rng.random(9000)})
    path = str(tmp_path / "w.zarr")
    with set_options(chunk_bytes=16384):
        Cover.create_from_bigwig("w", bw, roi=None, binsize=1000, store_whole_genome=True,
                                 storage="zarr", store=path)
    tree = xr.open_datatree(path, engine="genozarr")
    arrays = data_arrays(tree)
    assert all(isinstance(a, da.Array) for a in arrays)
    assert max(max(a.chunks[0]) for a in arrays) == 4096  # (16 KiB of float32)
    via_engine = ZScore().fit(tree)
    via_store = ZScore().fit(open_store(path))
    np.testing.assert_allclose(via_engine.mean, via_store.mean, rtol=1e-12)
    np.testing.assert_allclose(via_engine.std, via_store.std, rtol=1e-12)
