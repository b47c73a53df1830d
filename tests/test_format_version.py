"""Stores carry a format version: newer versions are refused with both versions named, unknown
ones explained, and a store without its completion marker is never opened as valid."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pyBigWig
import pytest

from genozarr.dataset import Cover
from genozarr.errors import StoreError, StoreFormatError
from genozarr.store.handle import load_store
from genozarr.store.layout import FORMAT_VERSION, MARKER, MARKER_FILE
from genozarr.store.open import open_store, read_marker


def _build(sim_data, store, **kw):
    return Cover.create_from_bigwig("c", sim_data["bigwigs"], roi=sim_data["roi"], binsize=200,
                                    storage="zarr", store=store, **kw)


def _expected(sim_data, cover):
    """Values of every window from pyBigWig directly (plus-strand order, both files)."""
    out = []
    for chrom, start, end, strand in zip(*cover.gindexer.as_arrays()):
        cols = []
        for path in sim_data["bigwigs"]:
            with pyBigWig.open(path) as bw:
                cols.append(np.nan_to_num(np.array(bw.values(chrom, int(start), int(end)))))
        window = np.stack(cols, axis=-1)[:, None, :]
        out.append(window[::-1] if strand == "-" else window)
    return np.stack(out).astype(np.float32)


def _set_version(store: Path, version, marker: bool = True) -> None:
    root = store / "zarr.json"
    meta = json.loads(root.read_text())
    meta["attributes"]["genozarr"]["format_version"] = version
    root.write_text(json.dumps(meta))
    if marker:
        m = json.loads((store / MARKER_FILE).read_text())
        m["attributes"]["format_version"] = version
        (store / MARKER_FILE).write_text(json.dumps(m))


@pytest.fixture
def built(sim_data, tmp_path):
    store = tmp_path / "cover.zarr"
    cover = _build(sim_data, store, cache=True)
    return store, cover


def test_store_carries_format_version(built):
    store, cover = built
    meta = json.loads((store / "zarr.json").read_text())["attributes"]["genozarr"]
    assert meta["format_version"] == FORMAT_VERSION
    assert meta["encoding_type"] == "genozarr"
    assert read_marker(store)["format_version"] == FORMAT_VERSION
    assert read_marker(store)["cache_key"] == cover.garray.meta.cache_key
    assert open_store(store).attrs["format_version"] == FORMAT_VERSION


def test_newer_format_version_is_refused(built, sim_data):
    store, _ = built
    newer = FORMAT_VERSION + 1
    _set_version(store, newer)
    for opener in (open_store, load_store):
        with pytest.raises(StoreFormatError) as info:
            opener(store)
        msg = str(info.value)
        assert str(store) in msg
        assert f"version {newer}" in msg and f"up to {FORMAT_VERSION}" in msg
        assert "Upgrade genozarr" in msg
    # the cached dataset whose key matches is not silently rebuilt over the newer store
    with pytest.raises(StoreFormatError, match=f"version {newer}"):
        _build(sim_data, store, cache=True)
    assert read_marker(store)["format_version"] == newer


@pytest.mark.parametrize("version", [0, -1, "1", "two", 1.5, None, True])
def test_unknown_format_version_is_explained(built, version):
    store, _ = built
    _set_version(store, version)
    with pytest.raises(StoreFormatError) as info:
        open_store(store)
    msg = str(info.value)
    assert str(store) in msg
    if version is None:
        assert "not a genozarr store" in msg
    else:
        assert "unknown genozarr format version" in msg and repr(version) in msg


def test_current_version_reopens_with_values(built, sim_data):
    store, cover = built
    expected = _expected(sim_data, cover)
    minus = cover.gindexer.strand == "-"
    assert minus.any()
    genomic = expected.copy()
    genomic[minus] = genomic[minus][:, ::-1]  # stored rows are in genomic orientation
    again = load_store(store, "ndarray")
    np.testing.assert_array_equal(again.read_rows(np.arange(len(cover))), genomic)
    np.testing.assert_array_equal(cover[:], expected)
    assert expected.any()


def test_metadata_missing_fields(built):
    store, _ = built
    root = store / "zarr.json"
    meta = json.loads(root.read_text())
    del meta["attributes"]["genozarr"]["kind"]
    root.write_text(json.dumps(meta))
    with pytest.raises(StoreFormatError, match="incomplete genozarr metadata"):
        open_store(store)


def test_missing_marker_means_incomplete(built, sim_data):
    store, cover = built
    shutil.rmtree(store / MARKER)
    with pytest.raises(StoreError, match="not a complete genozarr store") as info:
        open_store(store)
    assert str(store) in str(info.value)
    with pytest.raises(StoreError, match="interrupted"):
        load_store(store)
    # the next cached call rebuilds instead of trusting the unmarked store
    rebuilt = _build(sim_data, store, cache=True)
    assert read_marker(store)["cache_key"] == cover.garray.meta.cache_key
    np.testing.assert_array_equal(rebuilt[:], _expected(sim_data, rebuilt))


def test_marker_with_other_key_is_rebuilt(built, sim_data):
    store, cover = built
    m = json.loads((store / MARKER_FILE).read_text())
    m["attributes"]["cache_key"] = "0" * 64
    (store / MARKER_FILE).write_text(json.dumps(m))
    rebuilt = _build(sim_data, store, cache=True)
    assert read_marker(store)["cache_key"] == cover.garray.meta.cache_key
    np.testing.assert_array_equal(rebuilt[:], _expected(sim_data, rebuilt))


# ---------------------------------------------------------------------------- format 1
ARCHIVE = Path(__file__).parent / "data" / "archives" / "format1"


def test_format1_partial_stores_open_with_their_values(tmp_path):
    """Stores written by genozarr 0.1.0 (format 1) open read-only and serve what that
    release served (its batches are saved beside them)."""
    import shutil

    import xarray as xr

    import genozarr

    cover = genozarr.open_dataset(ARCHIVE / "cover_partial.zarr")
    assert cover.garray.meta.format_version == 1
    np.testing.assert_array_equal(cover[:], np.load(ARCHIVE / "cover_partial.npy"))
    seq = genozarr.open_dataset(ARCHIVE / "bioseq_partial.zarr")
    expected = np.unpackbits(np.load(ARCHIVE / "bioseq_partial.npy"), axis=-1)[..., :4]
    np.testing.assert_array_equal(seq[:], expected.astype(seq[:].dtype))
    ds = xr.open_dataset(ARCHIVE / "cover_partial.zarr", engine="genozarr")
    assert ds["data"].dims == ("region", "position", "strand", "condition")
    # a copy can be opened but is never rewritten in the old format
    copy = tmp_path / "old.zarr"
    shutil.copytree(ARCHIVE / "cover_partial.zarr", copy)
    assert genozarr.open_dataset(copy).garray.meta.format_version == 1


def test_format1_whole_genome_store_maps_to_format2_structure():
    import xarray as xr

    import genozarr

    path = ARCHIVE / "cover_whole_genome.zarr"
    bins = np.load(ARCHIVE / "cover_whole_genome_bins.npy")
    tree = genozarr.open_store(path)  # one group per chromosome, plain dimension names
    assert tree["chr1"]["data"].dims == ("position", "strand", "condition")
    np.testing.assert_array_equal(
        np.concatenate([tree["chr1"]["data"].values, tree["chr2"]["data"].values]), bins)
    one = xr.open_dataset(path, engine="genozarr", group="chr2")
    np.testing.assert_array_equal(one["data"].values, bins[300:])
    same = xr.open_datatree(path, engine="genozarr")
    np.testing.assert_array_equal(same["chr1"]["data"].values, bins[:300])
    cover = genozarr.open_dataset(path)  # no recorded windows: chromosomes are tiled
    np.testing.assert_array_equal(cover["chr1", 0, 30000][0][::100], bins[:300])


# ---------------------------------------------------------------------------- format 2 and 3
ARCHIVE2 = Path(__file__).parent / "data" / "archives" / "format2"


def _windows_group(path) -> dict:
    import zarr

    g = zarr.open_group(str(path), mode="r")["genozarr-windows"]
    return {k: g[k] for k in ("window_chrom", "window_start", "window_end", "window_strand")}


def test_format3_stores_window_chromosomes_and_strands_as_codes(tmp_path):
    """The windows group holds chromosomes and strands as small integer codes into the
    array's ``labels`` attribute; reopened, the windows are the dataset's."""
    import genozarr
    from genozarr.resources import resource_path

    path = tmp_path / "w.zarr"
    cover = Cover.create_from_bigwig("c", resource_path("sample_a.bw"),
                                     roi=resource_path("sample.bed"), binsize=1000,
                                     resolution=50, store_whole_genome=True, storage="zarr",
                                     store=path)
    gi = cover.gindexer
    assert set(gi.strand) == {"+", "-"} and len(set(gi.chrs)) == 2
    w = _windows_group(path)
    for key, values in (("window_chrom", gi.chrs), ("window_strand", gi.strand)):
        arr = w[key]
        assert arr.dtype == np.int8
        labels = arr.attrs["labels"]
        assert labels == list(dict.fromkeys(values.tolist()))  # order of first appearance
        np.testing.assert_array_equal(np.array(labels, dtype=object)[arr[...]], values)
    np.testing.assert_array_equal(w["window_start"][...], gi.starts)
    np.testing.assert_array_equal(w["window_end"][...], gi.ends)
    again = genozarr.open_dataset(path)
    for a, b in zip(again.gindexer.as_arrays(), gi.as_arrays()):
        np.testing.assert_array_equal(a, b)
    assert all(type(c) is str for c in again.gindexer.chrs)
    np.testing.assert_array_equal(again[:], cover[:])
    # the xarray view and a store written from it keep the windows
    out = genozarr.write_store(genozarr.open_store(path), tmp_path / "copy.zarr")
    copy = genozarr.open_dataset(out)
    for a, b in zip(copy.gindexer.as_arrays(), gi.as_arrays()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(copy[:], cover[:])


@pytest.mark.parametrize("damage", ["short labels", "not strings"])
def test_damaged_window_labels_are_reported(tmp_path, damage):
    import genozarr
    from genozarr.resources import resource_path

    path = tmp_path / "w.zarr"
    Cover.create_from_bigwig("c", resource_path("sample_a.bw"), roi=resource_path("sample.bed"),
                             binsize=1000, store_whole_genome=True, storage="zarr", store=path)
    root = json.loads((path / "zarr.json").read_text())
    meta_file = path / "genozarr-windows" / "window_chrom" / "zarr.json"
    array = json.loads(meta_file.read_text())
    for meta in (array, root["consolidated_metadata"]["metadata"]["genozarr-windows/window_chrom"]):
        labels = meta["attributes"]["labels"]  # the array's and the consolidated copy
        assert len(labels) == 2
        meta["attributes"]["labels"] = labels[:1] if damage == "short labels" else [1, 2]
    meta_file.write_text(json.dumps(array))
    (path / "zarr.json").write_text(json.dumps(root))
    with pytest.raises(StoreFormatError, match="genozarr-windows/window_chrom"):
        genozarr.open_dataset(path)


def test_format2_whole_genome_stores_open_with_their_values(tmp_path):
    """Whole-genome stores of format 2 (window chromosomes and strands as strings) open and
    serve what that version served; windows recorded into one keep its encoding."""
    import genozarr
    from genozarr.store.layout import WINDOWS
    from genozarr.store.recipe import update_served

    cover = genozarr.open_dataset(ARCHIVE2 / "cover_whole_genome.zarr")
    assert cover.garray.meta.format_version == 2
    assert set(cover.gindexer.strand) == {"+", "-"}
    np.testing.assert_array_equal(cover[:], np.load(ARCHIVE2 / "cover_whole_genome.npy"))
    seq = genozarr.open_dataset(ARCHIVE2 / "bioseq_whole_genome.zarr")
    expected = np.unpackbits(np.load(ARCHIVE2 / "bioseq_whole_genome.npy"), axis=-1)
    np.testing.assert_array_equal(seq[:], expected[..., :seq[:].shape[-1]].astype(seq[:].dtype))
    tree = genozarr.open_store(ARCHIVE2 / "cover_whole_genome.zarr")
    assert tree[WINDOWS]["window_chrom"].values[0] == cover.gindexer.chrs[0]

    copy = tmp_path / "old.zarr"
    shutil.copytree(ARCHIVE2 / "cover_whole_genome.zarr", copy)
    old = genozarr.open_dataset(copy)
    gi = old.gindexer[::2]
    update_served(str(copy), None, old.garray.meta, {}, windows=gi.as_arrays())
    w = _windows_group(copy)
    assert w["window_chrom"].dtype.kind not in "iu" and "labels" not in w["window_chrom"].attrs
    assert json.loads((copy / MARKER_FILE).read_text())["attributes"]["format_version"] == 2
    again = genozarr.open_dataset(copy)
    assert again.garray.meta.format_version == 2
    for a, b in zip(again.gindexer.as_arrays(), gi.as_arrays()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(again[:], cover[:][::2])
