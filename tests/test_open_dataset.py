"""A store is the dataset: ``genozarr.open_dataset`` gives back what the original object
served, for every constructor, both layouts and every normalizer, from a path, from an
``s3://`` URL (moto server on 127.0.0.1) and through ``genozarr build`` + ``info``/``export``."""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np
import pandas as pd
import pyBigWig
import pytest

import genozarr
from genozarr import Bioseq, Cover, GenomicIndexer, open_dataset, view
from genozarr.errors import ArgumentError, RegionError, StoreFormatError

NORMALIZERS = {
    "none": None,
    "zscore": "zscore",
    "zscorelog": "zscorelog",
    "tpm": "tpm",
    "binsizenorm": "binsizenorm",
    "perctrim": "perctrim",
    "class": lambda: genozarr.ZScore(),
    "ufunc": lambda: np.log1p,
    "list": lambda: ["tpm", "zscore"],
}


def _norm(key: str):
    value = NORMALIZERS[key]
    return value() if callable(value) else value


@pytest.fixture(scope="module")
def files(sample_files, tmp_path_factory):
    """The sample files plus a bedGraph of the peaks' scores."""
    import pandas as pd

    peaks = pd.read_csv(sample_files["peaks"], sep="\t", header=None)
    path = tmp_path_factory.mktemp("bedgraph") / "peaks.bedgraph"
    peaks[[0, 1, 2, 4]].to_csv(path, sep="\t", header=False, index=False)
    return dict(sample_files, bedgraph=str(path))


def _covers(files: dict[str, str], whole: bool, normalizer, store: str, **extra):
    roi, sizes = files["roi"], files["chrom_sizes"]
    common = dict(roi=roi, binsize=200, resolution=50, storage="zarr", normalizer=normalizer,
                  store_whole_genome=whole, **extra)
    if whole:
        common["genomesize"] = sizes
    return {
        "bigwig": lambda: Cover.create_from_bigwig(
            "bw", [files["bigwig_a"], files["bigwig_b"]], store=f"{store}/bw.zarr", **common),
        "bam": lambda: Cover.create_from_bam("bam", files["bam"], store=f"{store}/bam.zarr",
                                             **common),
        "bed_binary": lambda: Cover.create_from_bed("bedb", files["peaks"],
                                                    store=f"{store}/bedb.zarr",
                                                    **dict(common, genomesize=sizes)),
        "bed_score": lambda: Cover.create_from_bed("beds", files["peaks"], mode="score",
                                                   store=f"{store}/beds.zarr",
                                                   **dict(common, genomesize=sizes)),
        "bed_bedgraph": lambda: Cover.create_from_bed("bedg", files["bedgraph"], mode="bedgraph",
                                                      store=f"{store}/bedg.zarr",
                                                      **dict(common, genomesize=sizes)),
        "bed_categorical": lambda: Cover.create_from_bed(
            "bedc", files["peaks"], mode="categorical", store=f"{store}/bedc.zarr",
            **dict(common, genomesize=sizes)),
        "bed_name_category": lambda: Cover.create_from_bed(
            "bedn", files["peaks"], mode="name_category", store=f"{store}/bedn.zarr",
            **dict(common, genomesize=sizes)),
    }


BED_MODES = ["bed_binary", "bed_score", "bed_bedgraph", "bed_categorical", "bed_name_category"]


# every normalizer with the BigWig and BAM constructors; the BED modes (the normalizers
# do not depend on the constructor) with none and a list, so the suite stays short
MATRIX = ([(kind, norm) for kind in ("bigwig", "bam") for norm in NORMALIZERS]
          + [(kind, norm) for kind in BED_MODES for norm in ("none", "list")])


@pytest.mark.slow
@pytest.mark.parametrize("whole", [False, True], ids=["partial", "whole_genome"])
@pytest.mark.parametrize("kind, norm", MATRIX)
def test_cover_reopens_as_it_was_built(files, tmp_path, kind, whole, norm):
    original = _covers(files, whole, _norm(norm), str(tmp_path))[kind]()
    again = open_dataset(original.garray.path)
    assert type(again) is Cover and again.shape == original.shape
    assert [type(n).__name__ for n in again.normalizers] == \
        [type(n).__name__ for n in original.normalizers]
    np.testing.assert_array_equal(again[:], original[:])
    np.testing.assert_array_equal(again[[5, 0, 3]], original[[5, 0, 3]])
    if whole:  # the original windows, not a tiling of the genome
        np.testing.assert_array_equal(again.gindexer.starts, original.gindexer.starts)
    # plain xarray opens every store, through the genozarr engine
    import xarray as xr

    tree = xr.open_datatree(original.garray.path, engine="genozarr")
    if whole:
        chrom = str(original.gindexer.chrs[0])
        ds = xr.open_dataset(original.garray.path, engine="genozarr", group=chrom)
        np.testing.assert_array_equal(ds["data"].values, tree[chrom]["data"].values)
        np.testing.assert_array_equal(ds["data"].values, original.garray.dense(chrom))
    else:
        ds = xr.open_dataset(original.garray.path, engine="genozarr")
        np.testing.assert_array_equal(ds["data"].values, tree["data"].values)
        np.testing.assert_array_equal(ds["data"].values, original.garray.dense())


@pytest.mark.parametrize("whole", [False, True], ids=["partial", "whole_genome"])
@pytest.mark.parametrize("order", [1, 2, 3])
def test_bioseq_reopens_at_its_order(sample_files, tmp_path, whole, order):
    original = Bioseq.create_from_refgenome(
        "dna", sample_files["fasta"], roi=sample_files["roi"], binsize=200, order=order,
        storage="zarr", store_whole_genome=whole, store=str(tmp_path / "dna.zarr"),
        channel_last=order != 2)
    again = open_dataset(tmp_path / "dna.zarr")
    assert type(again) is Bioseq and again.order == order
    assert again.channel_last == (order != 2)
    np.testing.assert_array_equal(again[:], original[:])


def test_a_sequence_store_takes_no_normalizer(sample_files, tmp_path):
    """open_dataset fitted a normalizer given for a sequence store on its base codes, and
    every read then failed ('codes must be an integer array'); it is refused at open, as
    Bioseq's constructors take none. None and [] mean none, as before."""
    original = Bioseq.create_from_refgenome(
        "dna", sample_files["fasta"], roi=sample_files["roi"], binsize=200,
        storage="zarr", store=str(tmp_path / "dna.zarr"))
    for norm in ("zscore", ["tpm"], lambda x: x):
        with pytest.raises(ArgumentError, match=r"holds sequences \(a Bioseq\), which are "
                                                r"served one-hot and take no normalizer"):
            open_dataset(tmp_path / "dna.zarr", normalizer=norm)
    for norm in (None, []):
        again = open_dataset(tmp_path / "dna.zarr", normalizer=norm)
        np.testing.assert_array_equal(again[:3], original[:3])
    # channel_last as the constructors check it: a string ("false" from a config file)
    # was true to bool(), and the data came back channel last without a word (an audit)
    with pytest.raises(ArgumentError, match=r"channel_last must be True or False, got "
                                            r"'false'"):
        open_dataset(tmp_path / "dna.zarr", channel_last="false")
    np.testing.assert_array_equal(open_dataset(tmp_path / "dna.zarr", channel_last=False)[:3],
                                  np.moveaxis(original[:3], -1, 1))


@pytest.mark.parametrize("whole", [False, True], ids=["partial", "whole_genome"])
def test_zero_padding_false_reopens_and_views_the_same_windows(sample_files, tmp_path, whole):
    """chr1:0-450 in windows of 200 without zero padding is 2 windows; the reopened
    dataset tiles a view's regions the same way (before: zero_padding=True on reopen, so a
    view gained a padded window chr1:400-450 from a whole-genome store, and was refused by
    a partial one)."""
    roi = pd.DataFrame({"chrom": ["chr1"], "start": [0], "end": [450], "strand": ["+"]})
    original = Cover.create_from_bigwig("zp", sample_files["bigwig_a"], roi=roi, binsize=200,
                                        resolution=50, zero_padding=False,
                                        store_whole_genome=whole, store=str(tmp_path / "z"))
    again = open_dataset(tmp_path / "z")
    assert again.gindexer.zero_padding is False
    for cover in (original, again):
        windows = view(cover, roi)
        assert windows.gindexer.tostr() == ["chr1:0-200", "chr1:200-400"]
        np.testing.assert_array_equal(windows[:], original[:])


def test_seq_and_array_reopen(sample_files, tmp_path):
    seq = Bioseq.create_from_seq("s", sample_files["fasta"], fixedlen=300, order=2,
                                 storage="zarr", store=str(tmp_path / "s.zarr"))
    np.testing.assert_array_equal(open_dataset(tmp_path / "s.zarr")[:], seq[:])
    gi = GenomicIndexer(["chr1"] * 3, [0, 100, 300], [100, 200, 400], ["+", "-", "+"], 100, 100)
    x = np.random.default_rng(0).random((3, 10, 2, 2)).astype("float32")
    for whole in (False, True):
        store = str(tmp_path / f"a{int(whole)}.zarr")
        arr = Cover.create_from_array("pred", x, gi, storage="zarr", store=store,
                                      store_whole_genome=whole, genomesize={"chr1": 1000},
                                      channel_last=False if whole else True)
        again = open_dataset(store)
        assert again.channel_last is arr.channel_last
        np.testing.assert_array_equal(again[:], arr[:])


def test_lambda_normalizer_is_explained_and_can_be_supplied(sample_files, tmp_path):
    cover = Cover.create_from_bigwig("bw", sample_files["bigwig_a"], roi=sample_files["roi"],
                                     binsize=200, storage="zarr", normalizer=lambda x: 2 * x,
                                     store=str(tmp_path / "l.zarr"))
    with pytest.raises(StoreFormatError, match="callable"):
        open_dataset(tmp_path / "l.zarr")
    again = open_dataset(tmp_path / "l.zarr", normalizer=lambda x: 2 * x)
    np.testing.assert_array_equal(again[:], cover[:])


def test_normalizer_change_reuses_the_stored_data(sample_files, tmp_path):
    kw = dict(roi=sample_files["roi"], binsize=200, resolution=50, storage="zarr", cache=True)
    raw = Cover.create_from_bigwig("bw", sample_files["bigwig_a"], **kw)
    chunk = os.path.join(raw.garray.path, "data", "c.0.0.0.0")
    stamp = os.stat(chunk).st_mtime_ns
    z = Cover.create_from_bigwig("bw", sample_files["bigwig_a"], normalizer="zscore", **kw)
    assert z.garray.path == raw.garray.path  # the same store: normalizers are not in the key
    assert os.stat(chunk).st_mtime_ns == stamp  # its data were not rewritten
    values = raw[:].astype("float64")
    expected = (values - values.mean()) / values.std(ddof=1)  # ZScore: sample std
    np.testing.assert_allclose(z[:], expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(open_dataset(z.garray.path)[:], z[:])  # the recipe follows


@pytest.mark.parametrize("kind", ["cover", "bioseq"])
def test_a_whole_genome_store_is_reused_for_another_tiling(sample_files, kind):
    """A whole-genome store holds every base whatever the windows: another binsize,
    stepsize, flank or zero_padding over it rebuilt the whole genome (they were in its
    cache key). It is now reused; the last tiling is recorded, and open_dataset gives it
    with the values of a store built afresh for it."""
    def make(**kw: Any) -> Any:
        common = dict(roi=sample_files["roi"], store_whole_genome=True,
                      genomesize=sample_files["chrom_sizes"], **kw)
        if kind == "cover":
            return Cover.create_from_bigwig("wg", sample_files["bigwig_a"], resolution=50,
                                            **common)
        return Bioseq.create_from_refgenome("wgs", sample_files["fasta"], order=2, **common)

    tilings = [{"binsize": 200}, {"binsize": 400}, {"binsize": 200, "flank": 50},
               {"binsize": 200, "stepsize": 100}, {"binsize": 250, "zero_padding": False}]
    paths = set()
    stamps = None
    for tiling in tilings:
        cached = make(cache=True, **tiling)
        paths.add(cached.garray.path)
        chunks = sorted(
            os.path.join(root, f) for root, _, files in os.walk(cached.garray.path)
            for f in files if f.startswith("c."))
        now = [os.stat(c).st_mtime_ns for c in chunks]
        assert stamps is None or now == stamps  # the data were not written again
        stamps = now
        fresh = make(**tiling)  # in memory, built for this tiling
        np.testing.assert_array_equal(cached[:], fresh[:])
        again = open_dataset(cached.garray.path)
        gi, want = again.gindexer, fresh.gindexer
        assert (gi.binsize, gi.stepsize, gi.flank, gi.zero_padding) == \
            (want.binsize, want.stepsize, want.flank, want.zero_padding), tiling
        np.testing.assert_array_equal(again[:], fresh[:])
    assert len(paths) == 1


def test_a_whole_genome_store_reused_over_other_regions_names_them_in_its_recipe(tmp_path):
    """A whole-genome store reused over another region file recorded the new windows and
    binsize, but its recipe still named the first region file (args['roi'] and its digest
    among the inputs); regions given as a frame name none."""
    from genozarr.store.cache import file_digest
    from genozarr.store.open import read_meta
    from genozarr.testing.simulate import write_bigwig

    bw = write_bigwig(tmp_path / "a.bw", {"chr1": np.arange(2000, dtype=float)})
    first, second = tmp_path / "a.bed", tmp_path / "b.bed"
    first.write_text("chr1\t0\t1000\n")
    second.write_text("chr1\t1000\t1800\n")

    def build(roi: Any, binsize: int) -> Cover:
        return Cover.create_from_bigwig("t", bw, roi=roi, binsize=binsize, resolution=10,
                                        store_whole_genome=True, cache=True, storage="zarr",
                                        store=str(tmp_path / "t.zarr"))

    a = build(str(first), 200)
    b = build(str(second), 100)
    assert a.garray.meta.cache_key == b.garray.meta.cache_key  # reused
    recipe = read_meta(b.garray.path).recipe
    assert recipe["args"]["roi"] == str(second) and recipe["args"]["binsize"] == 100
    assert recipe["inputs"] == [{"path": str(bw), "sha256": file_digest(bw)},
                                {"path": str(second), "sha256": file_digest(second)}]
    assert open_dataset(b.garray.path).gindexer.starts[0] == 1000
    frame = pd.DataFrame({"chrom": ["chr1"], "start": [0], "end": [400]})
    build(frame, 200)
    recipe = read_meta(b.garray.path).recipe
    assert "roi" not in recipe["args"]
    assert recipe["inputs"] == [{"path": str(bw), "sha256": file_digest(bw)}]


def test_the_same_whole_genome_call_writes_nothing_and_a_read_only_store_serves(
        sample_files, monkeypatch):
    """The first reuse of every whole-genome store (cache=True, the same arguments)
    rewrote its metadata: the recipe holds the stepsize as given (None), compared with
    the resolved one. On a read-only cache (or a full disk) that reuse failed with a
    StoreError (an audit). Now the same call writes nothing, and a store that cannot
    record another dataset's settings serves them with a warning."""
    import errno

    import genozarr.store.recipe as recipe_mod
    from genozarr.errors import GenozarrWarning, StoreError

    kw = dict(roi=sample_files["roi"], binsize=200, resolution=50, store_whole_genome=True,
              genomesize=sample_files["chrom_sizes"], cache=True)
    first = Cover.create_from_bigwig("ro", sample_files["bigwig_a"], **kw)
    root = os.path.join(first.garray.path, "zarr.json")
    stamp = os.stat(root).st_mtime_ns, os.stat(root).st_ino
    again = Cover.create_from_bigwig("ro", sample_files["bigwig_a"], **kw)
    assert again.garray.path == first.garray.path
    assert (os.stat(root).st_mtime_ns, os.stat(root).st_ino) == stamp  # not rewritten
    np.testing.assert_array_equal(again[:], first[:])

    def refused(*args, **kwargs):
        raise StoreError("cannot update store: Permission denied") from PermissionError(
            errno.EACCES, "Permission denied")

    monkeypatch.setattr(recipe_mod, "update_served", refused)
    with pytest.warns(GenozarrWarning, match="served but not recorded"):
        flanked = Cover.create_from_bigwig("ro", sample_files["bigwig_a"], flank=50, **kw)
    fresh = Cover.create_from_bigwig("ro", sample_files["bigwig_a"], flank=50,
                                     **{**kw, "cache": False})
    np.testing.assert_array_equal(flanked[:], fresh[:])
    assert (os.stat(root).st_mtime_ns, os.stat(root).st_ino) == stamp


@pytest.mark.parametrize("storage", ["ndarray", "sparse", "zarr", "ndarray-with-store",
                                     "ndarray-reopened"])
def test_an_in_memory_whole_genome_cover_round_trips_its_windows(tmp_path, storage):
    """to_xarray() of a whole-genome Cover held in memory had no genozarr-windows group
    (a zarr store's has), so write_store + open_dataset gave one window per chromosome
    instead of the dataset's windows (an audit); also when the data held in memory have
    a store path (storage='ndarray' with store=, or open_dataset(storage='ndarray'))."""
    gi = GenomicIndexer.create_from_file(
        pd.DataFrame({"chrom": ["chr1"], "start": [100], "end": [500], "strand": ["+"]}),
        binsize=100, stepsize=100)
    x = np.arange(40, dtype="float32").reshape(4, 10, 1, 1)
    reopen = storage == "ndarray-reopened"
    kw = {"store": str(tmp_path / "in.zarr")} if storage != "ndarray" and storage != "sparse" \
        else {}
    storage = {"ndarray-with-store": "ndarray", "ndarray-reopened": "zarr"}.get(storage, storage)
    cover = Cover.create_from_array("p", x, gi, genomesize={"chr1": 1000}, resolution=10,
                                    storage=storage, store_whole_genome=True, **kw)
    if reopen:
        cover = open_dataset(cover.garray.path, storage="ndarray")
        assert cover.gindexer.tostr() == gi.tostr()
    genozarr.write_store(cover.to_xarray(), tmp_path / "out.zarr")
    back = open_dataset(tmp_path / "out.zarr")
    assert back.gindexer.tostr() == gi.tostr()
    np.testing.assert_array_equal(back[:], x)


def test_a_store_is_published_with_its_fitted_normalizers(sample_files, tmp_path,
                                                        monkeypatch):
    """The normalizers are fitted on the new version before it is published: the recipe it
    is published with holds them, fitted (so no reader opens it raw), and a build stopped
    during the fit publishes nothing."""
    import genozarr.ops.normalizers as norm_mod
    from genozarr.errors import StoreError
    from genozarr.store.write import StoreWriter

    kw = dict(roi=sample_files["roi"], binsize=200, resolution=50, storage="zarr",
              store=str(tmp_path / "z.zarr"))
    raw = Cover.create_from_bigwig("raw", sample_files["bigwig_a"], roi=kw["roi"],
                                   binsize=200, resolution=50)[:].astype("float64")

    def stopped(self, data):
        raise KeyboardInterrupt("stopped during the fit")

    with monkeypatch.context() as m:
        m.setattr(norm_mod.ZScore, "_fit", stopped)
        with pytest.raises(KeyboardInterrupt):
            Cover.create_from_bigwig("z", sample_files["bigwig_a"], normalizer="zscore", **kw)
    assert not os.path.exists(kw["store"])
    with pytest.raises(StoreError, match="does not exist"):
        open_dataset(kw["store"])

    published: list[dict] = []
    commit = StoreWriter.commit

    def recording(self, *args, **kwargs):
        with open(os.path.join(self.tmp, "zarr.json")) as f:
            published.append(json.load(f)["attributes"]["genozarr"]["recipe"])
        return commit(self, *args, **kwargs)

    monkeypatch.setattr(StoreWriter, "commit", recording)
    z = Cover.create_from_bigwig("z", sample_files["bigwig_a"], normalizer="zscore", **kw)
    (zscore,) = published[0]["normalizers"]
    assert zscore["type"] == "zscore"
    mean, std = raw.mean(), raw.std(ddof=1)
    np.testing.assert_allclose(np.ravel(zscore["params"]["mean"]), [mean], rtol=1e-6)
    np.testing.assert_allclose(np.ravel(zscore["params"]["std"]), [std], rtol=1e-6)
    np.testing.assert_allclose(open_dataset(kw["store"])[:], (raw - mean) / std,
                               rtol=1e-4, atol=1e-5)
    assert len(published) == 1  # recorded before publishing: no second version after
    np.testing.assert_array_equal(open_dataset(kw["store"])[:], z[:])


class Log2(genozarr.LogTransform):
    """A subclass keeping its parent's name: log2(x + 1)."""

    def kernel(self, x, lengths=None):
        return np.log2(x.astype(np.float32) + 1)


def test_a_normalizer_subclass_reopens_as_itself_not_as_its_parent(sample_files, tmp_path):
    kw = dict(roi=sample_files["roi"], binsize=200, resolution=50, storage="zarr")
    raw = Cover.create_from_bigwig("raw", sample_files["bigwig_a"], **kw)[:]
    log2 = Cover.create_from_bigwig("l", sample_files["bigwig_a"], normalizer=Log2(),
                                    store=str(tmp_path / "l.zarr"), **kw)
    with pytest.raises(StoreFormatError, match=r"class test_open_dataset.Log2 .* not trusted"):
        open_dataset(tmp_path / "l.zarr")
    again = open_dataset(tmp_path / "l.zarr", trust_callables=True)
    assert type(again.normalizers[0]) is Log2
    np.testing.assert_allclose(again[:], np.log2(raw + 1), rtol=1e-6)
    np.testing.assert_array_equal(again[:], log2[:])

    class Local(genozarr.LogTransform):  # not importable again: explained, and supplied
        def kernel(self, x, lengths=None):
            return 3 * x

    Cover.create_from_bigwig("m", sample_files["bigwig_a"], normalizer=Local(),
                             store=str(tmp_path / "m.zarr"), **kw)
    with pytest.raises(StoreFormatError, match="Local that cannot be restored"):
        open_dataset(tmp_path / "m.zarr", trust_callables=True)
    np.testing.assert_allclose(open_dataset(tmp_path / "m.zarr", normalizer=Local())[:],
                               3 * raw, rtol=1e-6)


@pytest.mark.parametrize("mean", [[[2.0, 3.0], [4.0, 5.0]], [[2.0]], [[1.0, 2.0, 3.0]]])
def test_recorded_statistics_of_another_shape_are_refused_at_open(sample_files, tmp_path,
                                                                  mean):
    """An edited recipe whose fitted z-score mean has another shape than the store's
    (strand, condition) was served: a (2, 2) mean on a 1-strand store gave batches of 2
    strands, a (1, 1) mean applied one condition's statistic to both, a (1, 3) mean failed
    at the first read with numpy's broadcast error. Refused at open, naming the store; the
    recorded statistics as built still serve (x - mean) / std against numpy."""
    from genozarr.store.handle import load_store
    from genozarr.store.recipe import update_served

    kw = dict(roi=sample_files["roi"], binsize=200, resolution=50)
    files = [sample_files["bigwig_a"], sample_files["bigwig_b"]]
    raw = Cover.create_from_bigwig("raw", files, **kw)[:].astype(np.float64)
    path = str(tmp_path / "z.zarr")
    Cover.create_from_bigwig("z", files, normalizer="zscore", storage="zarr", store=path, **kw)
    again = open_dataset(path)
    z = again.normalizers[0]
    np.testing.assert_allclose(again[:], (raw - z.mean[0]) / z.std[0], rtol=1e-5, atol=1e-6)
    opened = load_store(path)
    recorded = json.loads(json.dumps(opened.meta.recipe["normalizers"]))
    recorded[0]["params"]["mean"] = mean
    update_served(path, None, opened.meta, {"normalizers": recorded})
    with pytest.raises(StoreFormatError, match=r"z.zarr records normalizer statistics that "
                                               r"do not fit its data: .* holds mean of shape"):
        open_dataset(path)


def test_statistics_reused_under_other_condition_names_warn_at_the_build_only(
        sample_files, tmp_path):
    """The shape check of recorded statistics at open warned again, at every open, that
    they were fitted on other condition names (as the build had), so an open failed under
    ``-W error``. It warns at the build only; the values opened are the values built."""
    import warnings

    from genozarr.errors import ConditionNamesWarning

    kw = dict(roi=sample_files["roi"], binsize=200, resolution=50)
    files = [sample_files["bigwig_a"], sample_files["bigwig_b"]]
    a = Cover.create_from_bigwig("A", files, conditions=["a", "b"], normalizer="zscore", **kw)
    path = str(tmp_path / "b.zarr")
    with pytest.warns(ConditionNamesWarning):
        b = Cover.create_from_bigwig("B", files, conditions=["c", "d"], storage="zarr",
                                     store=path, normalizer=a.normalizers[0], **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again = open_dataset(path)
        np.testing.assert_array_equal(again[:], b[:])


def test_a_fitted_normalizer_given_at_open_must_fit_the_store(sample_files, tmp_path):
    kw = dict(roi=sample_files["roi"], binsize=200, resolution=50, storage="zarr")
    two = Cover.create_from_bigwig("two", [sample_files["bigwig_a"], sample_files["bigwig_b"]],
                                   normalizer="zscore", **kw)
    Cover.create_from_bigwig("one", sample_files["bigwig_a"], store=str(tmp_path / "o.zarr"),
                             **kw)
    with pytest.raises(ArgumentError, match="1 condition"):
        open_dataset(tmp_path / "o.zarr", normalizer=two.normalizers[0])


def test_partial_layout_keys_the_chromosome_lengths_it_is_given(sample_files, tmp_path,
                                                                monkeypatch):
    """A cached partial-layout store built with other chromosome lengths (genomesize) is
    another store: its lengths (an export's BigWig header) are the ones given."""
    from genozarr.genome import chrom_sizes

    monkeypatch.setenv("GENOZARR_OUTPUT", str(tmp_path))
    kw = dict(roi=sample_files["roi"], binsize=200, resolution=50, storage="zarr", cache=True)
    sizes = {c: int(n) for c, n in chrom_sizes(sample_files["chrom_sizes"]).items()}
    first = Cover.create_from_bigwig("g", sample_files["bigwig_a"], genomesize=sizes, **kw)
    shorter = {c: int(n) - 10 for c, n in sizes.items()}
    second = Cover.create_from_bigwig("g", sample_files["bigwig_a"], genomesize=shorter, **kw)
    assert first.garray.path != second.garray.path
    assert second.chrom_sizes == shorter
    assert open_dataset(second.garray.path).chrom_sizes == shorter
    gi = second.gindexer
    inside = np.array([e <= shorter[c] for c, e in zip(gi.chrs, gi.ends)])
    assert 0 < inside.sum() < len(gi)  # windows at the chromosome ends read padding now
    np.testing.assert_array_equal(second[inside], first[inside])
    assert not np.array_equal(second[~inside], first[~inside])


@pytest.mark.parametrize("kind", ["bigwig", "predictions"])
def test_whole_genome_store_keeps_window_names(sample_files, tmp_path, kind):
    """A whole-genome store records its windows' names (the BED name column) beside the
    windows, as the partial layout does: open_dataset gives them back. Reused (cache) for
    the same windows without names, it records that they have none (no stale names);
    reused with names again, it gives them back."""
    import pandas as pd

    bed = pd.read_csv(sample_files["roi"], sep="\t", header=None)
    names = bed[3].astype(str).tolist()
    unnamed = bed.iloc[:, :3].set_axis(["chrom", "start", "end"], axis=1)
    store = tmp_path / "wg.zarr"

    def build(roi: Any) -> Cover:
        if kind == "predictions":
            gi = GenomicIndexer.create_from_file(roi, 1000, 1000)
            return Cover.create_from_array("p", np.ones((len(gi), 20, 1, 1), "float32"), gi,
                                           resolution=50, store_whole_genome=True,
                                           storage="zarr", store=store, overwrite=True)
        return Cover.create_from_bigwig("bw", sample_files["bigwig_a"], roi=roi, binsize=1000,
                                        resolution=50, store_whole_genome=True,
                                        storage="zarr", store=store, cache=True)

    built = build(sample_files["roi"])
    assert list(built.gindexer.names) == names
    again = open_dataset(store)
    assert again.gindexer.names is not None and list(again.gindexer.names) == names
    np.testing.assert_array_equal(again.gindexer.starts, bed[1].to_numpy())
    build(unnamed)
    assert open_dataset(store).gindexer.names is None
    build(sample_files["roi"])
    assert list(open_dataset(store).gindexer.names) == names
    genozarr.write_store(genozarr.open_store(store), tmp_path / "copy.zarr")  # via xarray
    assert list(open_dataset(tmp_path / "copy.zarr").gindexer.names) == names


def test_setting_gindexer_serves_the_new_windows(sample_files):
    cover = Cover.create_from_bigwig("bw", sample_files["bigwig_a"], roi=sample_files["roi"],
                                     binsize=200, resolution=50)
    expected = cover[[4, 0]]
    cover.gindexer = cover.gindexer[[4, 0]]
    assert len(cover) == 2
    np.testing.assert_array_equal(cover[:], expected)
    other = GenomicIndexer(["chr1"], [5], [205], ["+"], 200, 200)
    with pytest.raises(ArgumentError, match="not stored"):
        cover.gindexer = other
    whole = Cover.create_from_bigwig("bw", sample_files["bigwig_a"], roi=sample_files["roi"],
                                     binsize=200, resolution=50, store_whole_genome=True,
                                     genomesize=sample_files["chrom_sizes"])
    whole.gindexer = GenomicIndexer(["chr1"], [100], [300], ["+"], 200, 200)
    bw = pyBigWig.open(sample_files["bigwig_a"])
    values = np.nan_to_num(np.array(bw.values("chr1", 100, 300)))
    np.testing.assert_allclose(whole[:][0, :, 0, 0], values.reshape(4, 50).mean(1), rtol=1e-5)
    # a window running past chr2's end (length 20,000) is padded, as a constructor's is;
    # one starting past it is refused, as a constructor refuses such a region, whether
    # assigned or given to with_windows
    whole.gindexer = GenomicIndexer(["chr2"], [19900], [20100], ["+"], 200, 200)
    values = np.nan_to_num(np.array(bw.values("chr2", 19900, 20000)))
    np.testing.assert_allclose(whole[:][0, :, 0, 0], np.r_[values.reshape(2, 50).mean(1), 0, 0],
                               rtol=1e-5)
    past = GenomicIndexer(["chr1", "chr2"], [100, 20000], [300, 20200], ["+", "+"], 200, 200)
    as_bytes = GenomicIndexer(np.array([b"chr2"]), [20000], [20200], ["+"], 200, 200)
    for chrs in (["chr1", None], [None, None]):  # (served as another chromosome's before)
        with pytest.raises(ArgumentError, match="window .* has no chromosome"):
            whole.gindexer = GenomicIndexer(chrs, [100, 5000], [300, 5200], ["+"] * 2, 200,
                                            200)
    for assign in (lambda: setattr(whole, "gindexer", past), lambda: whole.with_windows(past),
                   lambda: whole.with_windows(as_bytes)):
        with pytest.raises(RegionError, match="chr2:20000-20200 starts past the end of chr2"):
            assign()
    assert whole.gindexer.starts.tolist() == [19900]  # unchanged
    # the tail of a tiling running past the end (a whole number of steps after a window
    # starting on chr2) is padding; the same window off the steps is refused; a window
    # ending past the padding limit (the chromosome's length or 1 Mb) is refused by its
    # span, tail or not
    tiled = GenomicIndexer(["chr2"] * 3 + ["chr1"], [19900, 20000, 20100, 0],
                           [20100, 20200, 20300, 200], ["+"] * 4, 200, 100)
    whole.gindexer = tiled
    np.testing.assert_array_equal(whole[2:3], 0)
    off = GenomicIndexer(["chr2"] * 2, [19900, 20050], [20100, 20250], ["+"] * 2, 200, 100)
    with pytest.raises(RegionError, match="chr2:20050-20250 starts past the end of chr2 "
                                          r"\(length 20000\)"):
        whole.gindexer = off
    far = GenomicIndexer(["chr2"] * 2, [19900, 19900 + 100 * 12000],
                         [20100, 20100 + 100 * 12000], ["+"] * 2, 200, 100)
    with pytest.raises(RegionError, match="chr2"):
        whole.with_windows(far)
    assert whole.gindexer.starts.tolist() == [19900, 20000, 20100, 0]  # unchanged


def test_a_partial_store_opens_with_one_label_object_per_chromosome(tmp_path):
    """Opening a partial store made a str per window for its chromosome and strand labels,
    twice (about 350 bytes of memory a window); the windows now share one str per label.
    The windows and values opened equal those built (random chromosomes and strands)."""
    rng = np.random.default_rng(4)
    n = 3000
    chrs = rng.choice(["chr1", "chr2", "chrX"], n)
    starts = rng.integers(0, 10**6, n)
    gi = GenomicIndexer(chrs, starts, starts + 10, rng.choice(["+", "-"], n), 10, 10)
    x = rng.random((n, 1)).astype(np.float32)
    path = str(tmp_path / "p.zarr")
    built = Cover.create_from_array("p", x, gi, storage="zarr", store=path)
    again = open_dataset(path)
    assert again.gindexer.tostr() == built.gindexer.tostr()
    np.testing.assert_array_equal(again[:], built[:])
    labels = again.gindexer.chrs
    assert len({id(c) for c in labels}) == 3 and sorted(set(labels)) == ["chr1", "chr2", "chrX"]
    assert len({id(s) for s in again.gindexer.strand}) == 2


# ---------------------------------------------------------------------------- s3
moto_server = pytest.importorskip("moto.server")


@pytest.fixture(scope="module")
def s3():
    from genozarr.testing.servers import moto_s3

    with moto_s3("reopen") as (options, _):
        yield options


# every constructor and normalizer reopens locally (above); on S3 (a moto server, several
# seconds per store) one constructor of each kind of input, and the normalizers that are
# not a plain name (an instance, a list), so the suite stays under its time budget
@pytest.mark.slow
@pytest.mark.parametrize("whole", [False, True], ids=["partial", "whole_genome"])
@pytest.mark.parametrize("kind", ["bigwig", "bam", "bed_name_category"])
def test_cover_reopens_from_s3(files, s3, kind, whole):
    url = f"s3://reopen/{kind}-{int(whole)}"
    original = _covers(files, whole, ["tpm", "zscore"], url,
                       storage_options=s3)[kind]()
    again = open_dataset(original.garray.path, storage_options=s3)
    np.testing.assert_array_equal(again[:], original[:])
    assert len(again.normalizers) == 2 and again.normalizers[1].fitted


@pytest.mark.slow
@pytest.mark.parametrize("norm", ["class", "ufunc"])
@pytest.mark.parametrize("whole", [False, True], ids=["partial", "whole_genome"])
def test_every_normalizer_reopens_from_s3(files, s3, norm, whole):
    url = f"s3://reopen/norm-{norm}-{int(whole)}"
    original = _covers(files, whole, _norm(norm), url, storage_options=s3)["bigwig"]()
    again = open_dataset(original.garray.path, storage_options=s3)
    assert [type(n).__name__ for n in again.normalizers] == \
        [type(n).__name__ for n in original.normalizers]
    np.testing.assert_array_equal(again[:], original[:])


def test_bioseq_reopens_from_s3(sample_files, s3):
    url = "s3://reopen/dna.zarr"
    original = Bioseq.create_from_refgenome("dna", sample_files["fasta"],
                                            roi=sample_files["roi"], binsize=200, order=2,
                                            storage="zarr", store=url, storage_options=s3)
    again = open_dataset(url, storage_options=s3)
    assert again.order == 2
    np.testing.assert_array_equal(again[:], original[:])


# ---------------------------------------------------------------------------- CLI
def test_cli_build_info_export_show_the_normalized_dataset(sample_files, tmp_path):
    from typer.testing import CliRunner

    from genozarr.cli import app

    spec = tmp_path / "spec.toml"
    spec.write_text(
        f'name = "sig"\nkind = "bigwig"\nfiles = ["{sample_files["bigwig_a"]}"]\n'
        f'roi = "{sample_files["roi"]}"\nbinsize = 200\nresolution = 50\n'
        f'normalizer = "zscore"\nstore = "{tmp_path / "sig.zarr"}"\n')
    runner = CliRunner()
    result = runner.invoke(app, ["build", str(spec)])
    assert result.exit_code == 0, result.output
    built = open_dataset(tmp_path / "sig.zarr")
    served = built[:].astype("float64")
    raw = Cover.create_from_bigwig("sig", sample_files["bigwig_a"], roi=sample_files["roi"],
                                   binsize=200, resolution=50)[:].astype("float64")
    np.testing.assert_allclose(served, (raw - raw.mean()) / raw.std(ddof=1), rtol=1e-4,
                               atol=1e-5)
    info = runner.invoke(app, ["info", str(tmp_path / "sig.zarr"), "--json", "--stats"])
    assert info.exit_code == 0, info.output
    s = json.loads(info.output)
    assert s["normalizers"] == ["zscore"]
    assert abs(s["stats"]["mean"]["sample_a"]) < 1e-4  # z-scored: mean 0, not the raw mean
    assert raw.mean() > 0.1
    out = tmp_path / "exported"
    result = runner.invoke(app, ["export", str(tmp_path / "sig.zarr"), str(out)])
    assert result.exit_code == 0, result.output
    (bw_path,) = [p for p in out.iterdir() if p.suffix in (".bigwig", ".bw")]
    bw = pyBigWig.open(str(bw_path))
    region = built.gindexer[0]
    got = np.array(bw.values(region.chrom, region.start, region.start + 50))
    np.testing.assert_allclose(got, served[0, 0, 0, 0], rtol=1e-5)


@pytest.mark.parametrize("whole", [False, True], ids=["partial", "whole_genome"])
def test_a_build_that_loses_the_publish_race_records_its_own_settings(sample_files, tmp_path,
                                                                      monkeypatch, whole):
    """Two cached builds of one store: a raw one publishes while a zscore one (other
    windows, in the whole-genome layout) is about to. The zscore build keeps the version
    published first and records its own served settings on it, so the store opens as the
    dataset built last."""
    from genozarr.genome import chrom_sizes
    from genozarr.store.write import StoreWriter

    monkeypatch.setenv("GENOZARR_OUTPUT", str(tmp_path))
    sizes = {c: int(n) for c, n in chrom_sizes(sample_files["chrom_sizes"]).items()}
    kw = dict(binsize=200, resolution=50, storage="zarr", cache=True,
              store_whole_genome=whole, genomesize=sizes)
    roi = pd.read_csv(sample_files["roi"], sep="\t", header=None).iloc[:, :3]
    roi.columns = ["chrom", "start", "end"]
    commit = StoreWriter.commit
    raced: list[Any] = []

    def another_first(self, *args, **kwargs):
        if not raced and self.expect_key is None:
            raced.append(None)  # (the other build commits through here too)
            raced[0] = Cover.create_from_bigwig(  # the same store, raw: published first
                "bw", sample_files["bigwig_a"], roi=roi.groupby("chrom").head(1) if whole else roi, **kw)
        return commit(self, *args, **kwargs)

    monkeypatch.setattr(StoreWriter, "commit", another_first)
    z = Cover.create_from_bigwig("bw", sample_files["bigwig_a"], roi=roi, normalizer="zscore",
                                 **kw)
    monkeypatch.setattr(StoreWriter, "commit", commit)
    assert raced and raced[0].garray.path == z.garray.path
    again = open_dataset(z.garray.path)
    assert [type(n).__name__ for n in again.normalizers] == ["ZScore"]
    assert len(again) == len(z) and len(raced[0]) < len(z) if whole else len(again) == len(z)
    np.testing.assert_array_equal(again.gindexer.starts, z.gindexer.starts)
    np.testing.assert_array_equal(again[:], z[:])


# ---------------------------------------------------------------------------- many contigs
def _contigs_store(tmp_path, n: int, **options: Any) -> tuple[str, dict[str, np.ndarray]]:
    """A whole-genome Cover store of a BigWig of ``n`` contigs of different lengths, and
    the BigWig's values."""
    from genozarr.testing.simulate import write_bigwig

    rng = np.random.default_rng(3)
    values = {f"ctg{i}": rng.random(int(k)).astype(np.float32)
              for i, k in enumerate(rng.integers(20, 90, n))}
    bw = write_bigwig(tmp_path / "many.bw", values, {c: len(v) for c, v in values.items()})
    path = str(tmp_path / f"contigs{n}.zarr")
    with genozarr.set_options(**options):
        Cover.create_from_bigwig("c", bw, roi=[f"{c}:0-10" for c in values], binsize=10,
                                 store_whole_genome=True, storage="zarr", store=path)
    return path, values


@pytest.mark.parametrize("options", [{}, {"inner_chunk_bytes": 64}, {"compressor": "lz4"}])
def test_root_metadata_parsed_as_zarr_parses_it(tmp_path, options):
    """genozarr parses a store's consolidated metadata itself (arrays that differ only in
    shape parsed once: thousands of contigs took seconds in zarr's parse); the result
    equals zarr's own, node for node, and a root without consolidated metadata is left to
    zarr."""
    import zarr

    from genozarr.store.open import _consolidated_group, array_metadata, open_resolved

    path, _ = _contigs_store(tmp_path, 30, **options)
    store = open_resolved(path).zarr_store()
    ours = _consolidated_group(store)
    theirs = zarr.open_group(store, mode="r", zarr_format=3, use_consolidated=True)
    assert ours.metadata == theirs.metadata
    flat = {k: v for k, v in theirs.metadata.consolidated_metadata.flattened_metadata.items()
            if v.node_type == "array"}
    assert array_metadata(ours) == flat and len(flat) >= 90
    plain = tmp_path / "plain.zarr"
    zarr.open_group(str(plain), mode="w", zarr_format=3).create_array("x", shape=(3,),
                                                                      dtype="i4")
    assert _consolidated_group(zarr.storage.LocalStore(str(plain), read_only=True)) is None


def test_opening_a_store_of_many_contigs_opens_only_the_arrays_it_reads(tmp_path,
                                                                         monkeypatch):
    """Opening a whole-genome store checked each contig's arrays, and its first read
    summed their sizes, through one zarr call per array (seconds for thousands of
    contigs): the shapes and dtypes now come from the parsed metadata. The values read
    are the array's."""
    import zarr

    path, values = _contigs_store(tmp_path, 60)
    opened: list[str] = []
    getitem = zarr.Group.__getitem__

    def counting(self, key):
        opened.append(key)
        return getitem(self, key)

    monkeypatch.setattr(zarr.Group, "__getitem__", counting)
    ds = open_dataset(path)
    got = ds["ctg41", 0, len(values["ctg41"])]
    np.testing.assert_array_equal(got[0, :, 0, 0], values["ctg41"])
    data = [k for k in opened if k.endswith("/data")]
    assert len(data) <= 2 and "ctg41/data" in data, opened
    assert len(opened) <= 12, opened  # and the windows and labels: 9


# ---------------------------------------------------------------------------- xarray side
@pytest.mark.parametrize("whole_genome", [False, True])
def test_write_store_puts_transposed_data_in_the_stored_order(tmp_path, whole_genome):
    """write_store took a transposed 'data' as it was: with as many strands as conditions,
    the copy served strands as conditions (an audit). Its axes are now put in the stored
    order; other dimensions are refused by name."""
    import xarray as xr

    gi = GenomicIndexer(["chr1", "chr1"], [0, 100], [100, 200], ["+", "+"], 100, 100)
    x = np.arange(32, dtype=np.float32).reshape(2, 4, 2, 2)  # window, bin, strand, cond
    path = str(tmp_path / "src.zarr")
    Cover.create_from_array("t", x, gi, resolution=25, storage="zarr", store=path,
                            conditions=["a", "b"], store_whole_genome=whole_genome,
                            genomesize={"chr1": 200})
    src = genozarr.open_store(path)
    if whole_genome:
        flipped = src.map_over_datasets(
            lambda d: d.transpose("position", "condition", "strand") if "data" in d else d)
    else:
        flipped = src.transpose("region", "position", "condition", "strand")
    out = str(tmp_path / "out.zarr")
    genozarr.write_store(flipped, out)
    np.testing.assert_array_equal(genozarr.open_dataset(out)[:], genozarr.open_dataset(path)[:])
    np.testing.assert_array_equal(genozarr.open_dataset(out)[:][0, :, 1, 0], x[0, :, 1, 0])
    if not whole_genome:
        odd = src.rename({"strand": "orientation"})
        with pytest.raises(ArgumentError, match=r"'data' has the dimensions \('region', "
                                                 r"'position', 'orientation', 'condition'\)"):
            genozarr.write_store(odd, str(tmp_path / "odd.zarr"))
    assert isinstance(flipped, xr.DataTree) == whole_genome


def test_a_group_the_store_does_not_have_is_a_chromosome_error(tmp_path):
    """group= of a partial-layout store, and of open_datatree, gave xarray's bare
    KeyError without the store's path; the docs promise ChromosomeNotFoundError."""
    import xarray as xr

    from genozarr.errors import ChromosomeNotFoundError

    gi = GenomicIndexer(["chr1"], [0], [100], ["+"], 100, 100)
    x = np.ones((1, 4, 1, 1), dtype=np.float32)
    part, whole = str(tmp_path / "p.zarr"), str(tmp_path / "w.zarr")
    Cover.create_from_array("t", x, gi, resolution=25, storage="zarr", store=part)
    Cover.create_from_array("t", x, gi, resolution=25, storage="zarr", store=whole,
                            store_whole_genome=True, genomesize={"chr1": 100})
    with pytest.raises(ChromosomeNotFoundError, match=r"p\.zarr is in the partial layout, "
                                                      r"which has no groups \(no 'chr1'\)"):
        xr.open_dataset(part, engine="genozarr", group="chr1")
    for opener in (xr.open_dataset, xr.open_datatree):
        with pytest.raises(ChromosomeNotFoundError, match=r"chromosome 'chrX' is not in store "
                                                          r".*w\.zarr \(it has \['chr1'\]\)"):
            opener(whole, engine="genozarr", group="chrX")
    assert xr.open_datatree(whole, engine="genozarr", group="chr1")["data"].shape == (4, 1, 1)


def test_object_store_keys_may_hold_question_marks_and_hashes():
    """'?' and '#' are characters of an object store's keys: such stores opened before
    the refusal of HTTP store URLs with a query string, and open again (a review).
    Dataset.subset(...) (Ellipsis) takes every window, as before."""
    gi = GenomicIndexer(["chr1"] * 2, [0, 10], [10, 20], ["+"] * 2, 10, 10)
    x = np.arange(20, dtype=np.float32).reshape(2, 10, 1, 1)
    for url in ("memory://bkt/run#3/x.zarr", "memory://bkt/q?v=1/x.zarr"):
        Cover.create_from_array("c", x, gi, storage="zarr", store=url)
        ds = open_dataset(url)
        np.testing.assert_array_equal(ds[:], x)
        np.testing.assert_array_equal(ds.subset(...)[:], x)


def test_group_names_with_slashes_and_chained_urls_with_a_query(tmp_path):
    """group='/chr1' of a format-1 store gave a bare KeyError, and group=None (or '/') a
    ValueError; a chained URL (simplecache::https://...?token=) with a query string
    escaped the refusal and read as an incomplete store (a review)."""
    import shutil

    import xarray as xr

    from genozarr.errors import StoreError

    src = os.path.join(os.path.dirname(__file__), "data", "archives", "format1",
                       "cover_whole_genome.zarr")
    path = str(tmp_path / "f1.zarr")
    shutil.copytree(src, path)
    chr1 = xr.open_dataset(path, engine="genozarr", group="chr1")
    for group in ("/chr1", "chr1/"):
        xr.testing.assert_identical(xr.open_dataset(path, engine="genozarr", group=group), chr1)
    for group in (None, "/", ""):
        root = xr.open_dataset(path, engine="genozarr", group=group)
        assert list(root.data_vars) == [] and set(root.sizes) == {"strand", "condition"}
    for url in ("simplecache::https://example.invalid/x.zarr?token=1",
                "filecache::http://example.invalid/x.zarr#frag"):
        with pytest.raises(StoreError, match="a store URL cannot carry a query string"):
            open_dataset(url)


def test_a_reuse_with_the_same_function_normalizer_rewrites_nothing(sample_files, tmp_path):
    """The recipe recorded a function normalizer (and a partial collapser) by repr, with
    its memory address: every reuse in another process (here: the same function made
    anew) rewrote the store's metadata, and two builds of one call wrote other bytes (an
    audit)."""
    import functools

    def make():
        def double(x):
            return x * 2
        return double

    def build(norm: Any) -> Cover:
        return Cover.create_from_bigwig(
            "f", sample_files["bigwig_a"], roi=sample_files["roi"], binsize=200,
            resolution=50, collapser=functools.partial(np.mean, axis=1), normalizer=norm,
            storage="zarr", cache=True, store=str(tmp_path / "f.zarr"))

    first = build(make())
    root = os.path.join(first.garray.path, "zarr.json")
    before = (open(root, "rb").read(), os.stat(root).st_mtime_ns)
    assert b" at 0x" not in before[0]
    again = build(make())  # another function object, the same code: reused
    assert again.garray.meta.cache_key == first.garray.meta.cache_key
    assert (open(root, "rb").read(), os.stat(root).st_mtime_ns) == before


def test_the_order_of_genomesize_keys_its_store(tmp_path):
    """genomesize orders a store's chromosomes (and its exports' headers), but the cache
    key sorted it: the same call gave the header of whichever order was cached first (an
    audit)."""
    gi = GenomicIndexer(["chr1", "chr2"], [0, 0], [100, 100], ["+", "+"], 100, 100)
    pred = np.ones((2, 100, 1, 1), dtype=np.float32)
    headers = []
    for order in (["chr1", "chr2"], ["chr2", "chr1"]):
        sizes = {c: {"chr1": 4000, "chr2": 3000}[c] for c in order}
        cover = Cover.create_from_array("p", pred, gi, genomesize=sizes, cache=True,
                                        storage="zarr")
        out = tmp_path / "_".join(order)
        [path] = cover.export_to_bigwig(str(out))
        with pyBigWig.open(path) as bw:
            headers.append(list(bw.chroms()))
        assert list(cover.garray.meta.chroms) == order
    assert headers == [["chr1", "chr2"], ["chr2", "chr1"]]
    from genozarr.testing.simulate import write_bigwig

    bw = write_bigwig(tmp_path / "s.bw", {"chr1": np.ones(400), "chr2": np.ones(300)})
    stores = []
    for order in (["chr1", "chr2"], ["chr2", "chr1"]):  # a whole-genome store alike
        sizes = {c: {"chr1": 400, "chr2": 300}[c] for c in order}
        whole = Cover.create_from_bigwig("w", bw, genomesize=sizes, store_whole_genome=True,
                                         binsize=100, cache=True, storage="zarr")
        assert list(whole.garray.meta.chroms) == order
        stores.append(whole.garray.path)
    assert stores[0] != stores[1]
