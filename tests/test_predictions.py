"""Predictions back onto the genome: ``Cover.create_from_array``, BigWig and BED export.

Expected values are computed here from the input array with plain numpy (flip a
minus-strand window, repeat each bin ``resolution`` times) and compared with what the Cover
returns and with what pyBigWig / pandas read from the exported files.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from genozarr import Cover, GenomicIndexer
from genozarr.errors import ArgumentError, ChromosomeNotFoundError, RegionError

SIZES = {"chr1": 3000, "chr2": 1500}
BINSIZE = 200


def _indexer(flank: int = 0, stepsize: int = BINSIZE) -> GenomicIndexer:
    """Windows on both strands, a partial last window (chr1:400-450) and two chromosomes."""
    roi = pd.DataFrame({
        "chrom": ["chr1", "chr1", "chr2"],
        "start": [0, 1000, 200],
        "end": [450, 1400, 600],
        "strand": ["+", "-", "."],
    })
    return GenomicIndexer.create_from_file(roi, binsize=BINSIZE, stepsize=stepsize, flank=flank)


def _predictions(gi: GenomicIndexer, resolution: int, strands: int = 2, conditions: int = 2,
                 seed: int = 0) -> np.ndarray:
    length = (BINSIZE + 2 * gi.flank) // resolution
    rng = np.random.default_rng(seed)
    return rng.normal(size=(len(gi), length, strands, conditions)).astype("float32")


def _genomic(window: np.ndarray, strand: str, resolution: int) -> np.ndarray:
    """A window's ``(position, strand, condition)`` values at base resolution, in genomic
    orientation."""
    if strand == "-":
        window = window[::-1, ::-1]
    return np.repeat(window, resolution, axis=0)


def _data_extent(gi: GenomicIndexer, i: int) -> tuple[int, int]:
    """Bases of window ``i`` that hold data: flank included, clipped to the chromosome
    start, a partial last window cut at its region end + flank."""
    return max(0, int(gi.starts[i]) - gi.flank), int(gi.ends[i]) + gi.flank


# ------------------------------------------------------------------ array -> Cover
@pytest.mark.parametrize("storage", ["ndarray", "sparse", "zarr"])
@pytest.mark.parametrize("resolution", [1, 50])
@pytest.mark.parametrize("channel_last", [True, False])
def test_partial_layout_reads_back_the_array(tmp_path, storage, resolution, channel_last):
    gi = _indexer(flank=50)
    x = _predictions(gi, resolution)
    given = x if channel_last else np.moveaxis(x, -1, 1)
    cover = Cover.create_from_array("pred", given, gi, conditions=["a", "b"], storage=storage,
                                    channel_last=channel_last,
                                    store=tmp_path / "p.zarr" if storage == "zarr" else None)
    assert cover.garray.meta.resolution == resolution
    assert cover.shape == given.shape
    np.testing.assert_array_equal(cover[:], given)
    np.testing.assert_array_equal(cover[1], given[1])  # a minus-strand window
    np.testing.assert_array_equal(cover[[4, 1]], given[[4, 1]])
    assert cover.conditions == ["a", "b"]
    assert list(cover.garray.meta.strands) == ["+", "-"]


@pytest.mark.parametrize("storage", ["ndarray", "sparse", "zarr"])
@pytest.mark.parametrize("resolution", [1, 50])
def test_whole_genome_layout_reads_back_the_array(tmp_path, storage, resolution):
    gi = _indexer()
    x = _predictions(gi, resolution)
    x[2, 50 // resolution:] = 0.0  # the partial window chr1:400-450 holds data on 50 bases
    cover = Cover.create_from_array("pred", x, gi, genomesize=SIZES, storage=storage,
                                    resolution=resolution, store_whole_genome=True,
                                    store=tmp_path / "w.zarr" if storage == "zarr" else None)
    assert cover.garray.whole_genome
    assert cover.garray.meta.chroms == SIZES
    np.testing.assert_array_equal(cover[:], x)
    # positions without a window hold the padding value
    np.testing.assert_array_equal(cover["chr1", 2000, 2100], np.zeros((100, 2, 2), "float32"))


@pytest.mark.parametrize("store_whole_genome", [False, True])
@pytest.mark.parametrize("resolution", [1, 50])
def test_interval_view_is_in_genomic_orientation(store_whole_genome, resolution):
    gi = _indexer()
    x = _predictions(gi, resolution)
    cover = Cover.create_from_array("pred", x, gi, genomesize=SIZES,
                                    store_whole_genome=store_whole_genome)
    for i in (0, 3, 5):  # '+', '-' and '.' windows
        region = gi[i]
        got = cover[region.chrom, region.start, region.end]
        np.testing.assert_array_equal(got, _genomic(x[i], region.strand, resolution))
    # asking for the minus strand flips the view back to the window's own orientation
    region = gi[3]
    got = cover[region.chrom, region.start, region.end, "-"]
    np.testing.assert_array_equal(got, np.repeat(x[3], resolution, axis=0))


def test_two_dimensional_predictions_give_one_value_per_window():
    gi = _indexer(flank=50)
    x = np.arange(len(gi) * 3, dtype="float32").reshape(len(gi), 3)
    cover = Cover.create_from_array("pred", x, gi)
    assert cover.garray.meta.resolution == BINSIZE + 100
    assert cover.shape == (len(gi), 1, 1, 3)
    assert cover.conditions == ["Cond_0", "Cond_1", "Cond_2"]  # Janggu's default names
    np.testing.assert_array_equal(cover[:][:, 0, 0, :], x)
    # chr1:0-150 lies in window 0 only (window 1 starts at 200 - flank)
    np.testing.assert_array_equal(cover["chr1", 0, 150][:, 0, :], np.repeat(x[:1], 150, axis=0))
    # channel_last=False: (n, condition) is the same array
    other = Cover.create_from_array("pred", x, gi, channel_last=False)
    np.testing.assert_array_equal(other[:][:, :, 0, 0], x)


def test_three_dimensional_predictions_have_one_strand():
    gi = _indexer()
    x = np.random.default_rng(1).random((len(gi), 4, 2)).astype("float32")
    cover = Cover.create_from_array("pred", x, gi)
    assert cover.garray.meta.resolution == 50
    assert cover.shape == (len(gi), 4, 1, 2)
    assert cover.garray.meta.strands == ["."]
    np.testing.assert_array_equal(cover[:][:, :, 0, :], x)
    # minus-strand window: position axis reversed on the genome
    np.testing.assert_array_equal(cover["chr1", 1200, 1400][::50, 0, :], x[4][::-1])


def test_length_one_axis_is_repeated_over_the_bins_of_a_given_resolution():
    gi = _indexer()
    x = np.random.default_rng(2).random((len(gi), 2)).astype("float32")
    cover = Cover.create_from_array("pred", x, gi, resolution=50, store_whole_genome=True,
                                    genomesize=SIZES)
    assert cover.shape == (len(gi), 4, 1, 2)
    np.testing.assert_array_equal(cover[0], np.broadcast_to(x[0], (4, 1, 2)))


def test_whole_genome_padding_value_and_inferred_genome_size():
    gi = _indexer()
    x = _predictions(gi, 50, strands=1, conditions=1)
    cover = Cover.create_from_array("pred", x, gi, store_whole_genome=True, padding_value=-1.0)
    # without genomesize the chromosomes end at the last window end
    assert cover.garray.meta.chroms == {"chr1": 1400, "chr2": 600}
    np.testing.assert_array_equal(cover["chr1", 600, 1000], np.full((400, 1, 1), -1.0))
    # the partial window chr1:400-450: its padded tail reads back as padding
    np.testing.assert_array_equal(cover[2][1:], np.full((3, 1, 1), -1.0))


def test_integer_predictions_keep_their_dtype():
    gi = _indexer()
    x = np.arange(len(gi) * 4).reshape(len(gi), 4, 1).astype(np.int32)
    cover = Cover.create_from_array("pred", x, gi)
    assert cover[:].dtype == np.int32
    np.testing.assert_array_equal(cover[:][..., 0, :], x)
    # a non-integer padding value needs a float dtype
    cover = Cover.create_from_array("pred", x, gi, padding_value=np.nan,
                                    store_whole_genome=True, genomesize=SIZES)
    assert cover[:].dtype == np.float64


def test_overlapping_windows_in_the_whole_genome_layout():
    gi = _indexer(stepsize=100)
    track = np.random.default_rng(3).random(3000).astype("float32")
    chrs, starts, _, _ = gi.as_arrays()
    consistent = np.stack([track[s:s + BINSIZE] for s in starts])[:, :, None, None]
    # windows cut from one track agree where they overlap (chr2 uses the same track)
    consistent = consistent.copy()
    minus = gi.strand == "-"
    consistent[minus] = consistent[minus][:, ::-1]
    cover = Cover.create_from_array("pred", consistent, gi, store_whole_genome=True,
                                    genomesize=SIZES)
    np.testing.assert_array_equal(cover["chr1", 1000, 1400][:, 0, 0], track[1000:1400])
    clash = consistent.copy()
    clash[0] += 1.0
    with pytest.raises(ArgumentError, match="overlap with different values"):
        Cover.create_from_array("pred", clash, gi, store_whole_genome=True, genomesize=SIZES)


@pytest.mark.parametrize(
    ("shape", "kwargs", "error", "message"),
    [
        ((3, 200, 1, 1), {}, ArgumentError, "holds 3 windows but the indexer has 7"),
        ((7, 3, 1, 1), {}, ArgumentError, "not divisible by the array's position axis"),
        ((7, 4, 1, 1), {"resolution": 20}, ArgumentError, "has 10 bins"),
        ((7, 4, 3, 1), {}, ArgumentError, "strand axis must have length 1 or 2"),
        ((7,), {}, ArgumentError, "must have 2, 3 or 4 dimensions"),
        ((7, 4, 1, 2), {"conditions": ["a"]}, ArgumentError, "1 names for 2 conditions"),
        ((7, 4, 1, 2), {"conditions": ["a", "a"]}, ArgumentError, "unique"),
        ((7, 4, 1, 1), {"genomesize": {"chr1": 5000}}, ChromosomeNotFoundError, "chr2"),
    ],
)
def test_invalid_arrays_are_rejected(shape, kwargs, error, message):
    gi = _indexer()
    with pytest.raises(error, match=message):
        Cover.create_from_array("pred", np.zeros(shape, "float32"), gi, **kwargs)


def test_whole_genome_needs_window_starts_on_the_resolution_grid():
    roi = pd.DataFrame({"chrom": ["chr1"], "start": [30], "end": [430]})
    gi = GenomicIndexer.create_from_file(roi, binsize=200, stepsize=200)
    with pytest.raises(RegionError, match="not divisible by resolution 50"):
        Cover.create_from_array("pred", np.zeros((2, 4, 1), "float32"), gi,
                                store_whole_genome=True)
    # a resolution dividing the starts works; the length-1 axis is repeated
    cover = Cover.create_from_array("pred", np.ones((2, 1, 1), "float32"), gi, resolution=10,
                                    store_whole_genome=True)
    assert cover.shape == (2, 20, 1, 1)


def test_variable_length_windows_take_one_value_each():
    roi = pd.DataFrame({"chrom": ["chr1", "chr1"], "start": [0, 500], "end": [100, 800]})
    gi = GenomicIndexer.create_from_file(roi, binsize=None, stepsize=None, collapse=True)
    cover = Cover.create_from_array("pred", np.array([[1.0], [2.0]]), gi)
    assert cover.garray.meta.resolution is None
    np.testing.assert_array_equal(cover[:][:, 0, 0, 0], [1.0, 2.0])


def test_cached_store_is_reused(tmp_path):
    gi = _indexer()
    x = _predictions(gi, 50)
    first = Cover.create_from_array("pred", x, gi, cache=True)
    again = Cover.create_from_array("pred", x, gi, cache=True, storage="zarr")
    assert again.garray.path == first.garray.path
    np.testing.assert_array_equal(again[:], x)
    other = Cover.create_from_array("pred", x + 1, gi, cache=True)
    assert other.garray.path != first.garray.path


# ------------------------------------------------------------------ Cover -> BigWig
def _expected_base_values(gi: GenomicIndexer, x: np.ndarray, resolution: int) -> dict:
    """``{(chrom, start, end): (position, strand, condition)}`` base values of each window's
    data extent, in genomic orientation."""
    out = {}
    for i in range(len(gi)):
        region = gi[i]
        values = _genomic(x[i], region.strand, resolution)
        lo, hi = _data_extent(gi, i)
        out[(region.chrom, lo, hi)] = values[lo - region.start:hi - region.start]
    return out


@pytest.mark.parametrize("store_whole_genome", [False, True])
@pytest.mark.parametrize("resolution", [1, 50])
@pytest.mark.parametrize("strands", [1, 2])
def test_bigwig_round_trip(tmp_path, store_whole_genome, resolution, strands):
    import pyBigWig

    gi = _indexer()
    x = _predictions(gi, resolution, strands=strands)
    cover = Cover.create_from_array("pred", x, gi, conditions=["a", "b"], genomesize=SIZES,
                                    store_whole_genome=store_whole_genome)
    paths = cover.export_to_bigwig(tmp_path / "bw")
    labels = ["plus", "minus"] if strands == 2 else [None]
    expected_names = [f"pred.{c}.{s}.bigwig" if s else f"pred.{c}.bigwig"
                      for c in ("a", "b") for s in labels]
    assert [p.split("/")[-1] for p in paths] == expected_names
    expected = _expected_base_values(gi, x, resolution)
    for k, path in enumerate(paths):
        ci, si = divmod(k, strands)
        bw = pyBigWig.open(path)
        assert bw.chroms() == SIZES
        covered = {c: np.zeros(n, bool) for c, n in SIZES.items()}
        for (chrom, lo, hi), values in expected.items():
            got = np.array(bw.values(chrom, lo, hi))
            np.testing.assert_array_equal(got, values[:, si, ci].astype(np.float64))
            covered[chrom][lo:hi] = True
        # one entry per bin, span = resolution (the partial window's last bin included)
        iv = np.array(bw.intervals("chr2"))
        np.testing.assert_array_equal(iv[:, 0], np.arange(200, 600, resolution))
        assert set(iv[:, 1] - iv[:, 0]) == {resolution}
        # nothing is written outside the windows
        for chrom, mask in covered.items():
            assert np.isnan(np.array(bw.values(chrom, 0, SIZES[chrom])))[~mask].all()
        bw.close()


def test_bigwig_chromosome_sizes_from_genomesize_and_windows(tmp_path):
    import pyBigWig

    gi = _indexer()
    x = _predictions(gi, 50, strands=1, conditions=1)
    cover = Cover.create_from_array("pred", x, gi)  # sizes inferred: the last window ends
    (path,) = cover.export_to_bigwig(tmp_path)
    assert pyBigWig.open(path).chroms() == {"chr1": 1400, "chr2": 600}
    (path,) = cover.export_to_bigwig(tmp_path, genomesize={"chr1": 5000, "chr2": 4000})
    assert pyBigWig.open(path).chroms() == {"chr1": 5000, "chr2": 4000}
    with pytest.raises(ChromosomeNotFoundError, match="chr2"):
        cover.export_to_bigwig(tmp_path, genomesize={"chr1": 5000})


def test_bigwig_flank_past_the_chromosome_start_is_cut(tmp_path):
    import pyBigWig

    roi = pd.DataFrame({"chrom": ["chr1"], "start": [0], "end": [200], "strand": ["-"]})
    gi = GenomicIndexer.create_from_file(roi, binsize=200, stepsize=200, flank=50)
    x = np.arange(6, dtype="float32").reshape(1, 6, 1, 1)  # resolution 50: 6 bins
    cover = Cover.create_from_array("pred", x, gi, genomesize={"chr1": 230})
    (path,) = cover.export_to_bigwig(tmp_path)
    # genomic orientation: bins 5..0 from -50; the bin before 0 and the end past 230 are cut
    assert pyBigWig.open(path).intervals("chr1") == (
        (0, 50, 4.0), (50, 100, 3.0), (100, 150, 2.0), (150, 200, 1.0), (200, 230, 0.0))


def test_overlapping_windows_error_or_mean(tmp_path):
    import pyBigWig

    gi = _indexer(flank=50)  # flanks of neighbouring windows overlap
    x = _predictions(gi, 50, strands=1, conditions=1)
    cover = Cover.create_from_array("pred", x, gi, genomesize=SIZES)
    with pytest.raises(ArgumentError, match="windows overlap on chr1"):
        cover.export_to_bigwig(tmp_path)
    from genozarr.io.export import export_to_bigwig

    (path,) = export_to_bigwig(cover, tmp_path, overlap="mean")
    # chr1:150-250: the last bin of window 0 and the first bin of window 1
    got = pyBigWig.open(path).values("chr1", 150, 250)
    np.testing.assert_allclose(got[:50], [(x[0, 4, 0, 0] + x[1, 0, 0, 0]) / 2] * 50, rtol=1e-6)
    np.testing.assert_allclose(got[50:], [(x[0, 5, 0, 0] + x[1, 1, 0, 0]) / 2] * 50, rtol=1e-6)


def test_nan_values_are_not_written(tmp_path):
    import pyBigWig

    gi = _indexer()
    x = _predictions(gi, 50, strands=1, conditions=1)
    x[0, 1] = np.nan
    cover = Cover.create_from_array("pred", x, gi, genomesize=SIZES)
    (path,) = cover.export_to_bigwig(tmp_path)
    starts = [iv[0] for iv in pyBigWig.open(path).intervals("chr1", 0, 200)]
    assert starts == [0, 100, 150]


@pytest.mark.parametrize("bad", ["../x", "/tmp/x", "a/b", "..", "", "a\\b", "x\ny"])
def test_condition_names_cannot_leave_the_output_directory(tmp_path, bad):
    gi = _indexer()
    x = _predictions(gi, 50, strands=1, conditions=1)
    cover = Cover.create_from_array("pred", x, gi, conditions=[bad])
    out = tmp_path / "out"
    with pytest.raises(ArgumentError, match="cannot be used in an output file name"):
        cover.export_to_bigwig(out)
    with pytest.raises(ArgumentError, match="cannot be used in an output file name"):
        cover.export_to_bed(out)
    assert not any(p.is_file() for p in tmp_path.rglob("*"))


def test_dataset_name_is_checked_too(tmp_path):
    from genozarr.io.export import export_to_bigwig

    gi = _indexer()
    cover = Cover.create_from_array("pred", _predictions(gi, 50), gi)
    cover.name = "../evil"
    with pytest.raises(ArgumentError, match="dataset name"):
        export_to_bigwig(cover, tmp_path)


# ------------------------------------------------------------------ Cover -> BED
@pytest.mark.parametrize("store_whole_genome", [False, True])
@pytest.mark.parametrize("resolution", [1, 50])
def test_bed_export_parsed_back_with_pandas(tmp_path, store_whole_genome, resolution):
    gi = _indexer()
    x = _predictions(gi, resolution, strands=2, conditions=1)
    cover = Cover.create_from_array("pred", x, gi, conditions=["score"], genomesize=SIZES,
                                    store_whole_genome=store_whole_genome)
    paths = cover.export_to_bed(tmp_path)
    assert [p.split("/")[-1] for p in paths] == ["pred.score.plus.bed", "pred.score.minus.bed"]
    # expected rows: one per bin, sorted by chromosome and start
    rows = []
    for i in range(len(gi)):
        region = gi[i]
        window = x[i][::-1, ::-1] if region.strand == "-" else x[i]
        lo, hi = _data_extent(gi, i)
        for b in range(-(-(hi - lo) // resolution)):
            start = region.start + b * resolution
            rows.append((region.chrom, start, min(start + resolution, hi), window[b]))
    rows.sort(key=lambda r: (list(SIZES).index(r[0]), r[1]))
    for si, path in enumerate(paths):
        got = pd.read_csv(path, sep="\t", header=None, names=["chrom", "start", "end", "value"])
        want = pd.DataFrame({"chrom": [r[0] for r in rows], "start": [r[1] for r in rows],
                             "end": [r[2] for r in rows],
                             "value": [float(r[3][si, 0]) for r in rows]})
        pd.testing.assert_frame_equal(got[["chrom", "start", "end"]],
                                      want[["chrom", "start", "end"]])
        np.testing.assert_array_equal(got["value"].to_numpy().astype("float32"),
                                      want["value"].to_numpy().astype("float32"))
