"""Views, wrappers, channel order and load-time permutation, against numpy, pyBigWig and
pysam on the same data."""

from __future__ import annotations

import importlib.util

import numpy as np
import pandas as pd
import pyBigWig
import pysam
import pytest

from genozarr import (
    Bioseq,
    Cover,
    GenomicIndexer,
    NanToNumConverter,
    RandomOrientation,
    RandomShift,
    RandomSignalScale,
    ReduceDim,
    SqueezeDim,
    Transpose,
    split_train_test,
    view,
)
from genozarr.errors import ArgumentError, ChromosomeNotFoundError, RegionError

BASES = "ACGT"


def onehot_ref(seq: str, order: int = 1) -> np.ndarray:
    """Independent one-hot: k-mer index with the first base most significant, N -> zeros."""
    seq = seq.upper()
    out = np.zeros((len(seq) - order + 1, 4 ** order), dtype=np.float32)
    for p in range(len(seq) - order + 1):
        kmer = seq[p:p + order]
        if all(b in BASES for b in kmer):
            out[p, sum(BASES.index(b) * 4 ** (order - 1 - j) for j, b in enumerate(kmer))] = 1
    return out


def revcomp(seq: str) -> str:
    return seq.upper().translate(str.maketrans("ACGTN", "TGCAN"))[::-1]


@pytest.fixture(scope="module")
def dense() -> tuple[np.ndarray, GenomicIndexer]:
    """A float array with NaNs and its windows (two strands, three conditions)."""
    rng = np.random.default_rng(7)
    n = 12
    arr = rng.normal(size=(n, 8, 2, 3)).astype(np.float32)
    arr[1, 2, 0, 1] = np.nan
    gi = GenomicIndexer(["chr1"] * n, np.arange(n) * 8, np.arange(n) * 8 + 8, ["+"] * n, 8, 8)
    return arr, gi


@pytest.fixture(scope="module")
def cover(dense: tuple[np.ndarray, GenomicIndexer]) -> Cover:
    arr, gi = dense
    return Cover.create_from_array("dense", arr, gi, conditions=["a", "b", "c"])


# ---------------------------------------------------------------------------- views
def _by_window(ds: object) -> dict[str, int]:
    return {w: i for i, w in enumerate(ds.gindexer.tostr())}  # type: ignore[attr-defined]


@pytest.mark.parametrize("whole_genome", [False, True])
@pytest.mark.parametrize("storage", ["ndarray", "zarr"])
def test_view_cover_rows_equal_parent(sample_files: dict[str, str], tmp_path, whole_genome: bool,
                                      storage: str) -> None:
    bw = sample_files["bigwig_a"]
    parent = Cover.create_from_bigwig(
        "cov", bw, roi=sample_files["roi"], binsize=200, resolution=50,
        store_whole_genome=whole_genome, storage=storage, store=tmp_path / "cov.zarr",
        genomesize=sample_files["chrom_sizes"])
    regions = pd.read_csv(sample_files["roi"], sep="\t", header=None).iloc[[3, 7, 11], :3]
    regions.columns = ["chrom", "start", "end"]
    sub = view(parent, regions)
    assert len(sub) == 15 and sub.shape[1:] == parent.shape[1:]
    pos = _by_window(parent)
    rows = [pos[w] for w in sub.gindexer.tostr()]
    np.testing.assert_array_equal(sub[:], parent[rows])
    # view of a view, by index, and integer/slice indexing
    subsub = view(sub, [4, 0, 9])
    np.testing.assert_array_equal(subsub[:], parent[[rows[4], rows[0], rows[9]]])
    np.testing.assert_array_equal(subsub[1], parent[rows[0]])
    np.testing.assert_array_equal(view(sub, slice(2, 5))[:], parent[rows[2:5]])
    # independent: the mean of 50 bp bins of pyBigWig's values
    with pyBigWig.open(bw) as f:
        r = sub.gindexer[2]
        ref = np.nan_to_num(np.asarray(f.values(r.chrom, r.start, r.end))).reshape(4, 50).mean(1)
    np.testing.assert_allclose(sub[2][0][:, 0, 0], ref, rtol=1e-5)


def test_view_whole_genome_new_windows(sample_files: dict[str, str]) -> None:
    """A whole-genome store serves windows outside the parent's ROI."""
    bw = sample_files["bigwig_a"]
    parent = Cover.create_from_bigwig("wg", bw, roi=sample_files["roi_train"], binsize=100,
                                      store_whole_genome=True,
                                      genomesize=sample_files["chrom_sizes"])
    with pyBigWig.open(bw) as f:
        chrom, length = next(iter(f.chroms().items()))
        ref = np.nan_to_num(np.asarray(f.values(chrom, 0, 300)))
    sub = view(parent, pd.DataFrame({"chrom": [chrom], "start": [0], "end": [300]}))
    assert len(sub) == 3
    np.testing.assert_allclose(sub[:][:, :, 0, 0].ravel(), ref, rtol=1e-6)
    with pytest.raises(ChromosomeNotFoundError, match="chrUnknown"):
        view(parent, pd.DataFrame({"chrom": ["chrUnknown"], "start": [0], "end": [100]}))


def test_view_partial_rejects_unstored_windows(cover: Cover) -> None:
    with pytest.raises(ArgumentError, match="not stored"):
        view(cover, pd.DataFrame({"chrom": ["chr1"], "start": [3], "end": [11]}))


@pytest.mark.parametrize("whole_genome", [False, True])
def test_view_bioseq_against_pysam(sample_files: dict[str, str], whole_genome: bool) -> None:
    fa = sample_files["fasta"]
    parent = Bioseq.create_from_refgenome("seq", fa, roi=sample_files["roi"], binsize=150,
                                          stepsize=150, order=2, store_whole_genome=whole_genome)
    sub = view(parent, np.arange(len(parent)) % 5 == 0)
    subsub = view(sub, [2, 1])
    np.testing.assert_array_equal(subsub[:], parent[[10, 5]])
    with pysam.FastaFile(fa) as f:
        r = subsub.gindexer[0]
        seq = f.fetch(r.chrom, r.start, r.end)
    np.testing.assert_array_equal(subsub[0][0][:, 0, :], onehot_ref(seq, 2))


def test_view_of_wrapper_and_list(cover: Cover, dense: tuple[np.ndarray, GenomicIndexer]) -> None:
    arr = np.nan_to_num(dense[0])
    wrapped = view(ReduceDim(NanToNumConverter(cover)), [3, 4])
    np.testing.assert_allclose(wrapped[:], arr[[3, 4]].sum(axis=(1, 2)), rtol=1e-6)
    a, b = view([cover, cover], slice(0, 2))
    assert len(a) == len(b) == 2


# ---------------------------------------------------------------------------- wrappers
@pytest.mark.parametrize("aggregator,axis,ref", [
    (None, None, lambda a: a.sum(axis=(1, 2))),
    ("mean", None, lambda a: a.mean(axis=(1, 2))),
    ("max", (1,), lambda a: a.max(axis=1)),
    (np.min, 3, lambda a: a.min(axis=3)),
])
def test_reduce_dim(cover: Cover, dense: tuple[np.ndarray, GenomicIndexer], aggregator, axis,
                    ref) -> None:
    arr = np.nan_to_num(dense[0])
    w = ReduceDim(NanToNumConverter(cover), aggregator=aggregator, axis=axis)
    expected = ref(arr)
    assert w.shape == expected.shape and len(w) == len(arr)
    np.testing.assert_allclose(w[:], expected, rtol=1e-5)
    np.testing.assert_allclose(w[3][0], expected[3], rtol=1e-5)
    np.testing.assert_allclose(w[[5, 1]], expected[[5, 1]], rtol=1e-5)
    np.testing.assert_allclose(w[-1][0], expected[-1], rtol=1e-5)
    # an index array of two axes: (2, 2, ...) as the dataset gives it (before, the
    # transform reduced the wrong axes of the unflattened batch)
    key = np.array([[0, 4], [7, 2]])
    np.testing.assert_allclose(w[key], expected[key], rtol=1e-5)


@pytest.mark.parametrize("channel_last", [True, False])
def test_reduce_dim_of_squeezed_dataset_keeps_conditions(channel_last: bool) -> None:
    """Over a SqueezeDim that dropped the strand axis, the default reduces the position
    axis alone, in either layout: it fell back to (1, 2), summing the conditions in too
    ((2,) per window instead of (2, 3))."""
    gi = GenomicIndexer(["chr1"] * 2, [0, 10], [10, 20], ["+"] * 2, 10, 10)
    arr = np.arange(60.0).reshape(2, 10, 1, 3)
    cover = Cover.create_from_array("c", arr if channel_last else np.moveaxis(arr, -1, 1), gi,
                                    channel_last=channel_last)
    reduced = ReduceDim(SqueezeDim(cover))
    assert reduced.shape == (2, 3)
    np.testing.assert_array_equal(reduced[:], arr.sum(axis=(1, 2)))
    np.testing.assert_array_equal(ReduceDim(SqueezeDim(cover), axis=(1, 2))[:],
                                  arr.sum(axis=(1, 2, 3)))  # Janggu's axes, when asked


def test_reduce_dim_bad_arguments(cover: Cover) -> None:
    with pytest.raises(ArgumentError, match="aggregator"):
        ReduceDim(cover, aggregator="median")
    with pytest.raises(ArgumentError, match="region axis"):
        ReduceDim(cover, axis=0)


def test_reduce_dim_callable_that_ignores_axis_is_refused(
        cover: Cover, dense: tuple[np.ndarray, GenomicIndexer]) -> None:
    """An aggregator that ignores ``axis`` (the whole batch to one number) or keeps the
    axes was served as the dataset's rows: ``r[:]`` one number, a torch batch of 2 windows
    one value (their sum). Refused with the shapes named; a correct one against numpy."""
    arr = dense[0]
    ok = ReduceDim(cover, aggregator=lambda b, axis: np.percentile(b, 90, axis=axis))
    np.testing.assert_allclose(ok[:], np.percentile(arr, 90, axis=(1, 2)), rtol=1e-6)
    whole = ReduceDim(cover, aggregator=lambda b, axis: b.sum())
    assert whole.shape == (arr.shape[0], arr.shape[3])
    with pytest.raises(ArgumentError, match=r"returned an array of shape \(\) for a batch "
                                            rf"of shape .*expected \({arr.shape[0]}, "
                                            rf"{arr.shape[3]}\)"):
        whole[:]
    kept = ReduceDim(cover, aggregator=lambda b, axis: b.sum(axis=axis, keepdims=True))
    with pytest.raises(ArgumentError, match="without keepdims"):
        kept[0]
    one_arg = ReduceDim(cover, aggregator=lambda b: b.sum())
    with pytest.raises(ArgumentError, match="takes no axis= keyword"):
        one_arg[0]


def test_nan_to_num(dense: tuple[np.ndarray, GenomicIndexer]) -> None:
    arr = dense[0].copy()
    arr[5, 0, 1, 2] = np.inf
    cover = Cover.create_from_array("inf", arr, dense[1])
    w = NanToNumConverter(cover)
    assert np.isnan(cover[1]).any()
    np.testing.assert_array_equal(w[:], np.nan_to_num(arr))
    np.testing.assert_array_equal(w[1:3], np.nan_to_num(arr[1:3]))
    assert w.shape == cover.shape and w.name == cover.name


def test_wrappers_take_the_dataset_by_janggus_keyword_array(
        dense: tuple[np.ndarray, GenomicIndexer], cover: Cover) -> None:
    """Janggu names each wrapper's dataset ``array`` (``ReduceDim(array=cover)``); that
    gave a TypeError. Values against numpy; the dataset given twice is refused."""
    arr = dense[0]
    np.testing.assert_array_equal(ReduceDim(array=cover, aggregator="max")[2:5],
                                  arr[2:5].max(axis=(1, 2)))
    np.testing.assert_array_equal(NanToNumConverter(array=cover)[:], np.nan_to_num(arr))
    np.testing.assert_array_equal(Transpose(array=cover, axis=(0, 3, 1, 2))[0],
                                  arr[:1].transpose(0, 3, 1, 2))
    assert SqueezeDim(array=ReduceDim(cover, axis=(1,))).shape == (12, 2, 3)
    flipped = RandomOrientation(array=cover, random_state=3)[:]
    kept = RandomOrientation(cover, random_state=3)[:]
    np.testing.assert_array_equal(flipped, kept)
    assert RandomShift(array=cover, shift=2, random_state=1).shape == cover.shape
    assert RandomSignalScale(array=cover, deviance=0.1, random_state=1).shape == cover.shape
    with pytest.raises(ArgumentError, match="ReduceDim got the dataset twice"):
        ReduceDim(cover, array=cover)


def test_squeeze_over_a_one_dimensional_janggu_array() -> None:
    """A 1-D janggu.Array reports the shape (n, 1), as Janggu's does, and serves 1-D
    batches: SqueezeDim over it raised numpy's AxisError on every read (an audit)."""
    from genozarr.janggu import Array

    labels = np.arange(10.0) * 3
    sq = SqueezeDim(Array("y", labels))
    assert sq.shape == (10,)
    np.testing.assert_array_equal(sq[2:5], labels[2:5])
    np.testing.assert_array_equal(sq[[7, 1]], labels[[7, 1]])
    two = Array("y2", labels.reshape(5, 2))  # a 2-D Array: nothing to squeeze
    np.testing.assert_array_equal(SqueezeDim(two)[1:3], labels.reshape(5, 2)[1:3])


def test_squeeze_and_transpose(dense: tuple[np.ndarray, GenomicIndexer]) -> None:
    arr, gi = dense
    one = arr[:, :, :1, :]
    c = Cover.create_from_array("one", one, gi)
    sq = SqueezeDim(c)
    assert sq.shape == (12, 8, 3)
    np.testing.assert_array_equal(sq[:], one[:, :, 0, :])
    np.testing.assert_array_equal(sq[4][0], one[4, :, 0, :])
    with pytest.raises(ArgumentError, match="length 8"):
        SqueezeDim(c, axis=1)
    single = view(c, [0])
    assert SqueezeDim(single).shape == (1, 8, 3)  # never the region axis
    tr = Transpose(c, (0, 3, 1, 2))
    assert tr.shape == (12, 3, 8, 1)
    np.testing.assert_array_equal(tr[:], one.transpose(0, 3, 1, 2))
    np.testing.assert_array_equal(tr[2][0], one[2].transpose(2, 0, 1))
    key = np.array([[3, 1], [0, 5]])  # an index array of two axes
    np.testing.assert_array_equal(sq[key], one[key][:, :, :, 0, :])
    np.testing.assert_array_equal(tr[key], one[key].transpose(0, 1, 4, 2, 3))
    with pytest.raises(ArgumentError, match="region axis"):
        Transpose(c, (1, 0, 2, 3))


def test_squeeze_interval_keys_keep_their_positions(
        dense: tuple[np.ndarray, GenomicIndexer]) -> None:
    """Windows of one position (resolution=None): an interval key reads one value per
    base, and SqueezeDim keeps that axis (it raised 'cannot select an axis to squeeze out
    which has size not equal to one'; Janggu squeezes the result's length-1 axes)."""
    arr, gi = dense
    one = arr[:, :1, :1, :2]  # (12, 1, 1, 2): a value per 8 bp window
    c = Cover.create_from_array("one", one, gi, resolution=None)
    sq = SqueezeDim(c)
    assert sq.shape == (12, 2)
    got = sq["chr1", 4, 20]
    want = np.repeat(one[:3, 0, 0, :], 8, axis=0)[4:20]
    assert got.shape == (1, 16, 2)
    np.testing.assert_array_equal(got[0], want)
    np.testing.assert_array_equal(sq[[3, 5]], one[[3, 5], 0, 0, :])
    # the same rank for a one-base interval (not squeezed because it has length 1)
    np.testing.assert_array_equal(sq["chr1", 9, 10], one[1:2, 0, :, :])


def test_wrappers_over_a_squeeze_that_kept_positions_act_at_each_base(
        dense: tuple[np.ndarray, GenomicIndexer]) -> None:
    """An interval key through SqueezeDim keeps the position axis of windows of one
    position; wrappers above it used their window axes on that batch: ReduceDim summed
    the bases instead of the conditions, RandomSignalScale drew a factor per base,
    Transpose and a second SqueezeDim failed with numpy's errors (an audit). They now act
    at each base as on a window; the kept axis stays where SqueezeDim left it."""
    arr, gi = dense
    one = np.abs(arr[:, :1, :, :]) + 1  # (12, 1, 2, 3): a value per 8 bp window
    c = Cover.create_from_array("one", one, gi, resolution=None)
    want = np.repeat(one[:3, 0], 8, axis=0)[4:20]  # (16 bases, strand, condition)
    sq = SqueezeDim(c, axis=1)
    assert sq.shape == (12, 2, 3) and sq.interval_roles == ("position", "strand", "condition")
    np.testing.assert_array_equal(sq["chr1", 4, 20], want[None])
    reduced = ReduceDim(sq)  # the strand axis (the position axis was squeezed away)
    assert reduced.axis == (1,) and reduced.shape == (12, 3)
    np.testing.assert_array_equal(reduced[:], one[:, 0].sum(axis=1))
    np.testing.assert_array_equal(reduced["chr1", 4, 20], want.sum(axis=1)[None])
    np.testing.assert_array_equal(ReduceDim(sq, "max", axis=2)["chr1", 4, 20],
                                  want.max(axis=2)[None])
    tr = Transpose(sq, (0, 2, 1))
    assert tr.shape == (12, 3, 2)
    np.testing.assert_array_equal(tr["chr1", 4, 20], want.transpose(0, 2, 1)[None])
    np.testing.assert_array_equal(ReduceDim(tr, axis=2)["chr1", 4, 20],
                                  want.sum(axis=1)[None])
    unstranded = Cover.create_from_array("u", one[:, :, :1], gi, resolution=None)
    twice = SqueezeDim(SqueezeDim(unstranded, axis=1), axis=1)
    assert twice.shape == (12, 3)
    np.testing.assert_array_equal(twice["chr1", 4, 20], want[None, :, 0])
    np.testing.assert_array_equal(twice[[2, 0]], one[[2, 0], 0, 0])
    scaled = RandomSignalScale(sq, 0.5, random_state=0)["chr1", 4, 20][0] / want
    np.testing.assert_allclose(scaled, np.broadcast_to(scaled[0, 0], scaled.shape),
                               rtol=1e-6)  # one factor per condition, at every base
    assert len(np.unique(scaled[0, 0].round(6))) == 3
    with pytest.raises(ArgumentError, match="no position or strand axis to aggregate"):
        ReduceDim(SqueezeDim(unstranded))
    # channel first: the kept axis comes after a condition axis that a ReduceDim drops
    first = Cover.create_from_array("f", np.moveaxis(one, -1, 1), gi, resolution=None,
                                    channel_last=False)  # (12, 3 conditions, 1, 2 strands)
    means = ReduceDim(SqueezeDim(first), "mean", axis=1)  # the conditions: (12, strand)
    assert means.shape == (12, 2) and means.interval_roles == ("position", "strand")
    np.testing.assert_allclose(means["chr1", 4, 20], want.mean(axis=2)[None], rtol=1e-6)
    np.testing.assert_allclose(ReduceDim(means)["chr1", 4, 20],
                               want.mean(axis=2).sum(axis=1)[None], rtol=1e-6)
    # a ReduceDim that dropped the position axis: the default reduces the strand axis left
    np.testing.assert_array_equal(ReduceDim(ReduceDim(c, axis=1))[:], one.sum(axis=(1, 2)))


def test_setting_a_wrappers_gindexer_sets_the_wrapped_datasets(
        dense: tuple[np.ndarray, GenomicIndexer]) -> None:
    """``wrapper.gindexer = gi`` raised AttributeError; Janggu's wrappers pass it to the
    wrapped dataset (an audit)."""
    arr, gi = dense
    c = Cover.create_from_array("g", arr, gi, store_whole_genome=True)
    w = NanToNumConverter(ReduceDim(c))
    other = GenomicIndexer(["chr1"] * 2, [16, 80], [24, 88], ["+"] * 2, 8, 8)
    w.gindexer = other
    assert c.gindexer is other and len(w) == 2
    np.testing.assert_array_equal(w[:], np.nan_to_num(arr[[2, 10]].sum(axis=(1, 2))))


def test_empty_list_view_and_none_in_an_interval_key(
        dense: tuple[np.ndarray, GenomicIndexer]) -> None:
    """``view(ds, [])`` selects no window, as ``ds[[]]``, an empty int array or an all-False
    mask do (it raised 'the regions of interest are empty'); ``None`` as an interval
    key's start or end is refused by name (it raised int()'s TypeError)."""
    arr, gi = dense
    c = Cover.create_from_array("c", arr, gi)
    for key in ([], np.array([], dtype=int), [False] * len(c)):
        v = view(c, key)
        assert v.shape == (0,) + arr.shape[1:] and v[:].shape == (0,) + arr.shape[1:]
    for key in (("chr1", None, 10), ("chr1", 0, None)):
        with pytest.raises(ArgumentError, match=r"(start|end) must be an integer, got None"):
            c[key]


def test_view_takes_window_indices_in_a_series_index_or_tensor(
        dense: tuple[np.ndarray, GenomicIndexer]) -> None:
    """A pandas Series or Index of window indices (or a boolean Series, a torch tensor)
    was read as a list of regions ("region 0 of the list (int) has no 'chrom'"), though
    ``ds[...]`` takes them (an audit). (The tensor only where PyTorch is installed.)"""
    arr, gi = dense
    c = Cover.create_from_array("c", arr, gi)
    want = view(c, [3, 1])[:]
    keys: list = [pd.Series([3, 1]), pd.Index([3, 1])]
    if importlib.util.find_spec("torch") is not None:
        import torch

        keys.append(torch.tensor([3, 1]))
    for key in keys:
        np.testing.assert_array_equal(view(c, key)[:], want)
    mask = pd.Series(np.isin(np.arange(len(c)), [1, 3]))
    np.testing.assert_array_equal(view(c, mask)[:], view(c, [1, 3])[:])


def test_random_signal_scale(cover: Cover, dense: tuple[np.ndarray, GenomicIndexer]) -> None:
    arr = np.nan_to_num(dense[0])
    base = NanToNumConverter(cover)
    w = RandomSignalScale(base, deviance=0.2, random_state=3)
    out = w[:]
    # one factor per item and condition, in [0.8, 1.2]
    per = out[:, 0, 0, :] / arr[:, 0, 0, :]
    np.testing.assert_allclose(out, arr * per[:, None, None, :], rtol=1e-5)
    assert (per >= 0.8).all() and (per <= 1.2).all() and per.std() > 0
    again = RandomSignalScale(base, deviance=0.2, random_state=3)[:]
    np.testing.assert_array_equal(out, again)


@pytest.mark.parametrize("whole_genome", [False, True])
def test_view_and_subset_refuse_a_2d_index(tmp_path, whole_genome: bool) -> None:
    """A 2-D index built a view whose len and shape said (2, ...) but whose reads had an
    extra axis (or failed with numpy's TypeError; an audit); it is refused by name."""
    gi = GenomicIndexer(["chr1"] * 4, [0, 10, 20, 30], [10, 20, 30, 40], ["+"] * 4, 10, 10)
    arr = np.arange(40.0, dtype=np.float32).reshape(4, 10, 1, 1)
    key = np.array([[0, 1], [2, 3]])
    for storage in ("ndarray", "zarr"):
        c = Cover.create_from_array("c", arr, gi, store_whole_genome=whole_genome,
                                    storage=storage, store=tmp_path / f"{storage}.zarr")
        assert c[key].shape == (2, 2, 10, 1, 1)  # plain indexing takes it, as numpy
        with pytest.raises(ArgumentError, match=r"view takes a 1-D sequence of window "
                                                r"indices, got an array of shape \(2, 2\)"):
            view(c, key)
        with pytest.raises(ArgumentError, match=r"subset takes .* got shape \(2, 2\)"):
            c.subset(key)
        v = view(c, key.ravel()[::-1])
        np.testing.assert_array_equal(v[:], arr[::-1])


def test_split_parts_of_a_random_wrapper_draw_from_their_own_streams() -> None:
    """The parts ``split_train_test`` (and ``view``) make of a random wrapper shared its
    generator: the training part's augmentation depended on how often the test part had
    been read (an audit). Each part now draws from a stream of its own, spawned from the
    wrapper's seed, so a seeded training part gives the same batches whatever else is
    read."""
    arr = np.arange(1, 6 * 4 * 1 * 2 + 1, dtype=np.float32).reshape(6, 4, 1, 2)
    gi = GenomicIndexer(["chr1"] * 3 + ["chr2"] * 3, [0, 4, 8] * 2, [4, 8, 12] * 2,
                        ["+"] * 6, 4, 4)
    cover = Cover.create_from_array("c", arr, gi)

    def train_batches(read_test_first: bool, read_parent_first: bool) -> np.ndarray:
        w = RandomSignalScale(cover, deviance=0.5, random_state=9)
        train, test = split_train_test(w, "chr2")
        if read_parent_first:
            w[:]
        if read_test_first:
            test[:]
            test[:]
        return np.stack([train[:], train[:]])

    ref = train_batches(False, False)
    for flags in ((True, False), (False, True), (True, True)):
        np.testing.assert_array_equal(train_batches(*flags), ref)
    # the values are the rows of the training windows, each scaled per condition
    factors = ref / arr[:3]
    np.testing.assert_allclose(factors, factors[:, :, :1, :1, :].repeat(4, 2), rtol=1e-6)
    assert (np.abs(factors - 1) <= 0.5 + 1e-6).all() and factors.std() > 0
    # the parent's own stream is not moved by its parts' draws
    w = RandomSignalScale(cover, deviance=0.5, random_state=9)
    alone = w[:]
    w = RandomSignalScale(cover, deviance=0.5, random_state=9)
    part = view(w, gi)
    part[:]
    np.testing.assert_array_equal(w[:], alone)


def test_random_orientation_cover(dense: tuple[np.ndarray, GenomicIndexer]) -> None:
    arr, gi = dense
    arr = np.nan_to_num(arr)
    for channel_last in (True, False):
        ref = arr if channel_last else np.moveaxis(arr, -1, 1)
        c = Cover.create_from_array("c", ref, gi, channel_last=channel_last)
        pos, strand = (1, 2) if channel_last else (2, 3)
        w = RandomOrientation(c, random_state=1)
        out = w[:]
        flipped = np.flip(np.flip(ref, pos), strand)
        same = [(out[i] == ref[i]).all() for i in range(len(ref))]
        flip = [(out[i] == flipped[i]).all() for i in range(len(ref))]
        assert all(s or f for s, f in zip(same, flip))
        assert any(same) and any(flip)


@pytest.mark.parametrize("order", [1, 2])
def test_random_orientation_bioseq(sample_files: dict[str, str], order: int) -> None:
    fa = sample_files["fasta"]
    seq = Bioseq.create_from_refgenome("s", fa, roi=sample_files["roi"], binsize=100,
                                       order=order)
    sub = view(seq, slice(0, 16))
    w = RandomOrientation(sub, random_state=5)
    out = w[:]
    flips = 0
    with pysam.FastaFile(fa) as f:
        for i in range(len(sub)):
            r = sub.gindexer[i]
            s = f.fetch(r.chrom, r.start, r.end)
            fwd, rev = onehot_ref(s, order), onehot_ref(revcomp(s), order)
            if np.array_equal(out[i][:, 0, :], rev) and not np.array_equal(fwd, rev):
                flips += 1
            else:
                np.testing.assert_array_equal(out[i][:, 0, :], fwd)
    assert 0 < flips < len(sub)


def test_random_shift(cover: Cover, dense: tuple[np.ndarray, GenomicIndexer]) -> None:
    arr = np.nan_to_num(dense[0])
    w = RandomShift(NanToNumConverter(cover), shift=3, random_state=2)
    out = w[:]
    assert out.shape == arr.shape
    seen = set()
    for i in range(len(arr)):
        matches = []
        for s in range(-3, 4):
            ref = np.zeros_like(arr[i])
            if s >= 0:
                ref[s:] = arr[i, :arr.shape[1] - s]
            else:
                ref[:s] = arr[i, -s:]
            if np.array_equal(out[i], ref):
                matches.append(s)
        assert matches, f"item {i} is no shift of the input"
        seen.update(matches)
    assert len(seen) > 2
    batchwise = RandomShift(NanToNumConverter(cover), shift=2, batchwise=True, random_state=0)
    assert batchwise[0:4].shape == (4,) + arr.shape[1:]


def test_random_wrappers_keep_indexing(cover: Cover) -> None:
    w = RandomOrientation(RandomSignalScale(NanToNumConverter(cover), 0.1), random_state=0)
    assert len(w) == len(cover) and w.shape == cover.shape
    assert w[0][0].shape == cover.shape[1:] and w[2:5].shape == (3,) + cover.shape[1:]
    assert w[[1, 1, 0]].shape == (3,) + cover.shape[1:]
    with pytest.raises(IndexError):
        w[len(cover)]


# ---------------------------------------------------------------------------- channel order
def test_channel_last_false_transposes(sample_files: dict[str, str]) -> None:
    kw = dict(roi=sample_files["roi"], binsize=200)
    for ctor, args, extra in [
        (Cover.create_from_bigwig, [sample_files["bigwig_a"], sample_files["bigwig_b"]],
         dict(resolution=20)),
        (Cover.create_from_bam, sample_files["bam"], dict(resolution=10)),
        (Bioseq.create_from_refgenome, sample_files["fasta"], dict(order=2)),
    ]:
        last = ctor("x", args, **kw, **extra)
        first = ctor("x", args, **kw, **extra, channel_last=False)
        assert first.shape == (last.shape[0], last.shape[-1]) + last.shape[1:-1]
        np.testing.assert_array_equal(first[:], np.moveaxis(last[:], -1, 1))
        np.testing.assert_array_equal(first[3][0], np.moveaxis(last[3][0], -1, 0))
        # wrappers find the channel axis wherever it is
        assert ReduceDim(first, axis=(2, 3)).shape == (len(last), last.shape[-1])
        np.testing.assert_allclose(ReduceDim(first, axis=(2, 3))[:], ReduceDim(last)[:])
        # the default sums position and strand in either layout (a fixed (1, 2) summed
        # the conditions of a channel-first dataset)
        assert ReduceDim(first).axis == (2, 3) and ReduceDim(last).axis == (1, 2)
        np.testing.assert_allclose(ReduceDim(first)[:], last[:].sum(axis=(1, 2)), rtol=1e-6)


# ---------------------------------------------------------------------------- random_state
def test_random_state_same_order_for_cover_and_bioseq(sample_files: dict[str, str],
                                                      tmp_path) -> None:
    kw = dict(roi=sample_files["roi"], binsize=200)
    plain_c = Cover.create_from_bigwig("c", sample_files["bigwig_a"], **kw)
    plain_s = Bioseq.create_from_refgenome("s", sample_files["fasta"], **kw)
    perm_c = Cover.create_from_bigwig("c", sample_files["bigwig_a"], **kw, random_state=11,
                                      storage="zarr", store=tmp_path / "c.zarr")
    perm_s = Bioseq.create_from_refgenome("s", sample_files["fasta"], **kw, random_state=11)
    assert perm_c.gindexer.tostr() == perm_s.gindexer.tostr()
    assert perm_c.gindexer.tostr() != plain_c.gindexer.tostr()
    expected = np.random.RandomState(11).permutation(len(plain_c))  # as Janggu
    np.testing.assert_array_equal(perm_c[:], plain_c[expected])
    np.testing.assert_array_equal(perm_s[:], plain_s[expected])
    other = Cover.create_from_bigwig("c", sample_files["bigwig_a"], **kw, random_state=12)
    assert other.gindexer.tostr() != perm_c.gindexer.tostr()


def _signal(tmp_path, sizes: dict[str, int]) -> tuple[str, dict[str, np.ndarray]]:
    """A 1 bp BigWig of random values and its values (numpy)."""
    rng = np.random.default_rng(21)
    values = {c: rng.random(n).astype(np.float32) for c, n in sizes.items()}
    path = str(tmp_path / "signal.bw")
    with pyBigWig.open(path, "w") as bw:
        bw.addHeader(list(sizes.items()))
        for c, v in values.items():
            bw.addEntries(c, 0, values=v.astype(float).tolist(), span=1, step=1)
    return path, values


def test_a_whole_genome_dataset_is_viewed_over_its_own_tail_windows(tmp_path):
    """A region running past its chromosome's end tiles into a window past the end, which
    the constructor serves as padding; a view over the same regions, or over the
    dataset's own windows, refused that window as 'starting past the end' (an audit).
    A window past the end on its own is still refused."""
    path, values = _signal(tmp_path, {"chr1": 2000, "chr2": 3000})
    bed = tmp_path / "past.bed"
    bed.write_text("chr2\t2500\t3300\n")
    ds = Cover.create_from_bigwig("d", path, roi=str(bed), binsize=500, resolution=100,
                                  store_whole_genome=True)
    expected = np.zeros((2, 5), np.float32)
    expected[0] = values["chr2"][2500:3000].reshape(5, 100).mean(axis=1)
    np.testing.assert_allclose(ds[:][:, :, 0, 0], expected, rtol=1e-6)
    for other in (view(ds, str(bed)), view(ds, ds.gindexer), ds.with_windows(ds.gindexer)):
        assert other.gindexer.tostr() == ["chr2:2500-3000", "chr2:3000-3300"]
        np.testing.assert_array_equal(other[:], ds[:])
    alone = GenomicIndexer(["chr2"], [3000], [3500], ["."], 500, 500)
    with pytest.raises(RegionError, match="starts past the end of chr2"):
        ds.with_windows(alone)


def test_a_windowless_whole_genome_dataset_views_regions_of_any_length(tmp_path):
    """A whole-genome dataset built without windows (roi=None, no binsize), viewed over
    regions of unequal lengths, served windows of 0 bins (shape (2, 0, 1, 1)); they are
    served in bins of the store's resolution, padded to the longest region, as
    with_windows(GenomicIndexer.create_from_file(bed, None, None)) serves them."""
    path, values = _signal(tmp_path, {"chr1": 2000, "chr2": 3000})
    ds = Cover.create_from_bigwig("w", path, resolution=100, store_whole_genome=True)
    bed = tmp_path / "roi.bed"
    bed.write_text("chr1\t0\t2000\nchr2\t0\t1500\n")
    v = view(ds, str(bed))
    got = v[:]
    assert got.shape == (2, 20, 1, 1)
    np.testing.assert_allclose(got[0, :, 0, 0], values["chr1"].reshape(20, 100).mean(axis=1),
                               rtol=1e-6)
    np.testing.assert_allclose(got[1, :15, 0, 0],
                               values["chr2"][:1500].reshape(15, 100).mean(axis=1), rtol=1e-6)
    assert (got[1, 15:] == 0).all()  # padded to the longest region


@pytest.mark.parametrize("aggregator", ["sum", "mean"])
def test_reducedim_of_a_plain_array_aggregates_axes_one_and_two(aggregator):
    """A plain numpy array has no known axis roles, and ReduceDim then aggregates axes
    (1, 2), Janggu's default (its docstring); no test covered that default (a mutation
    audit)."""
    x = np.arange(2 * 3 * 4 * 5, dtype=np.float32).reshape(2, 3, 4, 5)
    w = ReduceDim(x, aggregator=aggregator)
    want = getattr(x.astype(np.float64), aggregator)(axis=(1, 2))
    assert w.shape == (2, 5)
    got = np.asarray(w[:])
    assert got.shape == (2, 5)
    np.testing.assert_allclose(got, want, rtol=1e-6)


def test_random_shift_reaches_every_shift_from_minus_to_plus_shift():
    """RandomShift(shift=k) draws shifts in [-k, k], both ends included (its docstring):
    a single 1 in the middle of 2k + 1 bins reaches every bin, about equally often; no
    test checked the largest shift was drawn (a mutation audit)."""
    k, n = 3, 700
    length = 2 * k + 1
    gi = GenomicIndexer.create_from_region("chr1", 0, length * n, "+", binsize=length,
                                           stepsize=length)
    x = np.zeros((n, length, 1, 1), np.float32)
    x[:, k] = 1  # a one in the middle: shift s moves it to bin k + s
    cover = Cover.create_from_array("c", x, gi, resolution=1)
    got = np.asarray(RandomShift(cover, shift=k, random_state=0)[:])[:, :, 0, 0]
    np.testing.assert_array_equal(got.sum(axis=1), 1)  # never shifted out of the window
    counts = np.bincount(got.argmax(axis=1), minlength=length)
    assert counts.shape == (length,) and (counts > 0).all(), counts
    expected = n / length
    chi2 = ((counts - expected) ** 2 / expected).sum()
    assert chi2 < 40, counts  # 6 degrees of freedom: p ~ 1e-6 at 40


def test_random_signal_scale_factors_span_one_minus_to_one_plus_deviance():
    """RandomSignalScale(deviance=d) multiplies by a factor uniform in [1 - d, 1 + d) (its
    docstring): over 4,000 items of ones the factors reach both ends and average 1; no
    test checked the upper half of the range (a mutation audit)."""
    d = 0.5
    x = np.ones((4000, 1, 1, 1), np.float32)
    f = np.asarray(RandomSignalScale(x, deviance=d, random_state=0)[:]).ravel()
    assert f.shape == (4000,)
    assert (f >= 1 - d).all() and (f <= 1 + d).all()
    assert f.min() < 1 - d + 0.01 and f.max() > 1 + d - 0.01, (f.min(), f.max())
    assert abs(f.mean() - 1) < 0.02, f.mean()  # standard error 0.289 / sqrt(4000) = 0.005
    assert abs((f > 1).mean() - 0.5) < 0.05
