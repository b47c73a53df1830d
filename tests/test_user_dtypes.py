"""Arrays and tables as users hand them in: big-endian arrays, bfloat16 targets, region
columns of other dtypes. Each case against the plain (native) equivalent."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from genozarr import Cover, GenomicIndexer, open_dataset
from genozarr.errors import ArgumentError


@pytest.fixture()
def windows() -> GenomicIndexer:
    roi = pd.DataFrame({"chrom": ["chr1", "chr2"], "start": [0, 200], "end": [400, 600]})
    return GenomicIndexer.create_from_file(roi, binsize=200, stepsize=200)


@pytest.mark.parametrize("order", [">f4", ">f8", ">i8"])
@pytest.mark.parametrize("storage", ["ndarray", "sparse", "zarr"])
def test_a_big_endian_array_is_stored_and_served_as_its_native_twin(windows, tmp_path,
                                                                   order, storage):
    """A '>f4' array was stored as '>f4': a zarr store open_dataset then refused as
    damaged (its metadata said '>f4', its arrays float32), ndarray batches the torch
    loader refused, and scipy.sparse a raw ValueError (an audit)."""
    values = np.random.default_rng(0).integers(0, 50, (len(windows), 4, 1, 2))
    native = values.astype(np.dtype(order).newbyteorder("="))
    big = native.astype(order)
    store = str(tmp_path / "c.zarr") if storage == "zarr" else None
    cover = Cover.create_from_array("c", big, windows, storage=storage, store=store)
    plain = Cover.create_from_array("c", native, windows, storage="ndarray")
    assert big.dtype.str[0] == ">"  # (the user's array is left as it was)
    got = cover[:]
    assert got.dtype == plain[:].dtype and got.dtype.isnative
    np.testing.assert_array_equal(got, values)
    if storage == "zarr":
        again = open_dataset(store)
        assert again[:].dtype == got.dtype
        np.testing.assert_array_equal(again[:], values)


@pytest.mark.parametrize("storage", ["ndarray", "zarr"])
def test_a_bfloat16_array_is_taken(windows, tmp_path, storage):
    """A bfloat16 array was refused ('must hold numbers'), though bfloat16 is a store
    dtype: zarr stores it as bfloat16, memory as float32 (exact); served as float32."""
    ml_dtypes = pytest.importorskip("ml_dtypes")

    values = np.random.default_rng(1).random((len(windows), 4, 1, 2))
    given = values.astype(ml_dtypes.bfloat16)
    store = str(tmp_path / "b.zarr") if storage == "zarr" else None
    cover = Cover.create_from_array("b", given, windows, storage=storage, store=store)
    assert cover.garray.meta.dtype == ("bfloat16" if storage == "zarr" else "float32")
    assert cover[:].dtype == np.float32
    np.testing.assert_array_equal(cover[:], given.astype(np.float32))
    if storage == "zarr":
        np.testing.assert_array_equal(open_dataset(store)[:], given.astype(np.float32))


def test_big_endian_and_bfloat16_targets_reach_torch(windows):
    """Targets as a big-endian array were a raw torch ValueError ('byte order different
    from the native'), bfloat16 ones a raw TypeError (an audit)."""
    torch = pytest.importorskip("torch")
    ml_dtypes = pytest.importorskip("ml_dtypes")

    x = Cover.create_from_array("x", np.ones((len(windows), 4, 1, 1), "float32"), windows)
    labels = np.arange(len(windows)) * 1.5
    for y, want in ((labels.astype(">i8"), torch.int64), (labels.astype(">f4"), torch.float32),
                    (labels.astype(ml_dtypes.bfloat16), torch.bfloat16)):
        got = torch.cat([b[1] for b in x.to_torch(targets=y, batch_size=2)])
        assert got.dtype == want
        np.testing.assert_array_equal(got.float().numpy(), y.astype(np.float32))


@pytest.mark.parametrize("starts", [[0.7, 200.2, 100.9], [True, 200, 100],
                                    pd.array([0, None, 100], dtype="Int64")],
                         ids=["fractions", "bool", "missing"])
def test_anndata_obs_coordinates_are_checked_as_region_tables(starts):
    """create_from_anndata cast obs start/end to int64: 0.7 became 0, True became 1,
    silently, and a missing value was a raw pandas ValueError (an audit)."""
    ad = pytest.importorskip("anndata")

    obs = pd.DataFrame({"chrom": ["chr1", "chr1", "chr2"], "start": starts,
                        "end": [200, 400, 300]}, index=["r0", "r1", "r2"])
    adata = ad.AnnData(X=np.arange(6, dtype="float32").reshape(3, 2), obs=obs,
                       var=pd.DataFrame(index=["c1", "c2"]))
    with pytest.raises(ArgumentError, match=r"obs column 'start' must hold integer "
                                            r"coordinates"):
        Cover.create_from_anndata(adata)
    obs["start"] = [0, 200, 100]  # whole numbers (as floats too) are taken
    for column in (obs["start"], obs["start"].astype(float)):
        obs["start"] = column
        adata = ad.AnnData(X=np.arange(6, dtype="float32").reshape(3, 2), obs=obs,
                           var=pd.DataFrame(index=["c1", "c2"]))
        assert Cover.create_from_anndata(adata).gindexer.starts.tolist() == [0, 200, 100]


def test_a_bool_among_integer_coordinates_is_refused():
    """An object array of numbers holding True was read as 1."""
    with pytest.raises(ArgumentError, match="starts must hold integer coordinates"):
        GenomicIndexer(np.array(["chr1", "chr1"], dtype=object),
                       np.array([True, 5], dtype=object), np.array([10, 20]),
                       np.array(["+", "+"], dtype=object), None, None, 0)
    gi = GenomicIndexer(np.array(["chr1", "chr1"], dtype=object),
                        np.array([1, 5], dtype=object), np.array([10, 20]),
                        np.array(["+", "+"], dtype=object), None, None, 0)
    assert gi.starts.tolist() == [1, 5]
