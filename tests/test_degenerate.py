"""Degenerate data: datasets of no window, whole-genome stores of no chromosome, builds
that must fail before anything is published (an audit of degenerate inputs)."""

from __future__ import annotations

import numpy as np
import pyBigWig
import pytest

import genozarr
from genozarr import Cover
from genozarr.errors import ArgumentError, RegionError


@pytest.fixture
def bigwig(tmp_path):
    """chr1 (1,000 bp) at 1.0 and chr2 (500 bp) at 2.0."""
    path = tmp_path / "a.bw"
    bw = pyBigWig.open(str(path), "w")
    bw.addHeader([("chr1", 1000), ("chr2", 500)])
    bw.addEntries(["chr1", "chr2"], [0, 0], ends=[1000, 500], values=[1.0, 2.0])
    bw.close()
    return str(path)


def _no_window_cover(tmp_path, bigwig, **kwargs):
    roi = tmp_path / "zero.bed"
    roi.write_text("chr1\t100\t100\n")  # one region of length 0: no window
    return Cover.create_from_bigwig("z", bigwigfiles=bigwig, roi=str(roi), binsize=100,
                                    store_whole_genome=True, **kwargs)


def test_loaders_over_a_whole_genome_store_of_no_window(tmp_path, bigwig):
    """The block size of a store with no chromosome asked for its first chromosome: the
    loaders failed with 'generator raised StopIteration'."""
    cover = _no_window_cover(tmp_path, bigwig, storage="zarr")
    assert len(cover) == 0 and not cover.chrom_sizes
    assert cover.chunk_rows == 1
    assert list(genozarr.batches(cover, batch_size=4)) == []
    assert list(genozarr.batches(cover, batch_size=4, shuffle=True, seed=0)) == []
    torch = pytest.importorskip("torch")  # noqa: F841
    assert list(cover.to_torch(batch_size=4)) == []


@pytest.mark.parametrize("normalizer", ["tpm", "bpm", "rpkm", "zscore"])
def test_region_length_normalizers_over_no_window(tmp_path, bigwig, normalizer):
    """TPM and BPM fitted on a whole-genome store of no window asked for the partial
    layout's region coordinates; there is nothing to fit, as for the other normalizers."""
    with pytest.warns(genozarr.errors.GenozarrWarning):
        cover = _no_window_cover(tmp_path, bigwig, normalizer=normalizer)
    assert cover[:].shape == (0, 100, 1, 1)


def test_exporting_a_view_of_no_window_writes_no_value(tmp_path, bigwig):
    """A whole-genome Cover's view (or split) of no window exported every stored
    chromosome whole, as a Cover built without windows (roi=None, no binsize) does."""
    roi = tmp_path / "roi.bed"
    roi.write_text("chr1\t0\t400\nchr2\t100\t300\n")
    cover = Cover.create_from_bigwig("c", bigwigfiles=bigwig, roi=str(roi), binsize=100,
                                     store_whole_genome=True)
    for part in (genozarr.view(cover, np.array([], dtype=int)),
                 genozarr.split_train_test(cover, "chr3")[1]):  # (no window on chr3)
        assert len(part) == 0
        [path] = part.export_to_bigwig(tmp_path / "empty")
        with pyBigWig.open(path) as bw:
            assert bw.chroms() == {"chr1": 1000, "chr2": 500}
            assert bw.intervals("chr1") is None and bw.intervals("chr2") is None
    [path] = genozarr.view(cover, np.array([5])).export_to_bigwig(tmp_path / "one")
    with pyBigWig.open(path) as bw:  # (window 5: chr2:200-300)
        assert bw.intervals("chr2") == ((200, 300, 2.0),) and bw.intervals("chr1") is None
    # a Cover built without windows exports every stored chromosome, as documented
    whole = Cover.create_from_bigwig("w", bigwigfiles=bigwig, roi=None,
                                     store_whole_genome=True)
    [path] = whole.export_to_bigwig(tmp_path / "whole")
    with pyBigWig.open(path) as bw:
        assert bw.intervals("chr1") == ((0, 1000, 1.0),)
        assert bw.intervals("chr2") == ((0, 500, 2.0),)


def test_exporting_a_cover_of_no_window_and_no_chromosome_says_so(tmp_path, bigwig):
    cover = _no_window_cover(tmp_path, bigwig)
    with pytest.raises(ArgumentError, match=r"cannot export z to .*: it has no windows and "
                                            r"its store records no chromosome length"):
        cover.export_to_bigwig(tmp_path / "out")
    [path] = cover.export_to_bigwig(tmp_path / "out", genomesize={"chr1": 1000})
    with pyBigWig.open(path) as bw:
        assert bw.chroms() == {"chr1": 1000} and bw.intervals("chr1") is None


def test_misaligned_window_starts_publish_no_store(tmp_path, bigwig):
    """Whole-genome windows not starting on the store's bins were refused only when the
    dataset was made over the store, after it was published (a build that fails must
    publish nothing)."""
    roi = tmp_path / "roi.bed"
    roi.write_text("chr1\t0\t210\nchr2\t3\t213\n")
    store = tmp_path / "x.zarr"
    with pytest.raises(RegionError, match=r"window chr2:3-213.* not divisible by resolution 7"):
        Cover.create_from_bigwig("x", bigwigfiles=bigwig, roi=str(roi), binsize=210,
                                 resolution=7, storage="zarr", store_whole_genome=True,
                                 store=str(store))
    assert not store.exists()
