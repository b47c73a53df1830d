"""BigWig values collapsed to bins with gaps read as 0 (``read_binned_values``, what a
whole-genome Cover at a resolution above 1 bp reads): every bin equals the collapse of
pyBigWig's values with NaN -> 0, whether the gaps fill whole bins, parts of bins or
nearly every bin, and on either path of ``collapse_nan_as_zero``."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd
import pyBigWig
import pytest

import genozarr
import genozarr._kernels as K
import genozarr.io.bigwig as gbw
from genozarr import Cover
from genozarr.testing.oracles import bigwig_values

SIZES = {"chr1": 200_000, "chr2": 60_010}
RES = 50


def _write(path: str, seed: int) -> str:
    """50 bp runs with gaps of whole bins (one in five), a stretch of 10 bp runs with
    single missing runs (gaps in parts of bins), negative values and one value stored as
    NaN; chr2 ends on a partial bin."""
    rng = np.random.default_rng(seed)
    with pyBigWig.open(path, "w") as bw:
        bw.addHeader(list(SIZES.items()))
        for chrom, size in SIZES.items():
            starts = np.arange(0, size - 10, RES)
            starts = starts[(rng.random(starts.size) > 0.2)
                            & ((starts < 100_000) | (starts >= 120_000))]
            ends = np.minimum(starts + RES, size)
            if chrom == "chr1":  # 10 bp runs, one in twenty missing
                fine = np.arange(100_000, 120_000, 10)
                fine = fine[rng.random(fine.size) > 1 / 20]
                starts, ends = np.concatenate([starts, fine]), np.concatenate([ends, fine + 10])
                order = np.argsort(starts)
                starts, ends = starts[order], ends[order]
            vals = np.round(rng.gamma(2.0, 3.0, starts.size) - 2.0, 3)
            if chrom == "chr1":
                vals[3] = np.nan
            bw.addEntries([chrom] * starts.size, starts.tolist(), ends=ends.tolist(),
                          values=vals.tolist())
    return path


@pytest.fixture(scope="module")
def gapped(tmp_path_factory):
    d = tmp_path_factory.mktemp("gapped_bw")
    return [_write(str(d / "a.bw"), 3), _write(str(d / "b.bw"), 4)]


@pytest.mark.parametrize("share_max", [-1.0, 0.3, 1.0])
@pytest.mark.parametrize("how", ["sum", "mean", "max", "min"])
def test_read_binned_values_equals_collapse_of_pybigwig(gapped, monkeypatch, share_max, how):
    monkeypatch.setattr(K, "_NAN_BIN_SHARE_MAX", share_max)
    for path in gapped:
        for chrom, start, end in [("chr1", 0, 200_000), ("chr1", 99_000, 121_000),
                                  ("chr2", 50_000, 60_050), ("chr2", -500, 1_000)]:
            got = gbw.read_binned_values(path, chrom, start, end, RES, how)
            expected = K.collapse(bigwig_values(path, chrom, start, end).reshape(-1, 1, 1), RES,
                                  how)[:, 0, 0]
            assert got.dtype == np.float32 and got.shape == ((end - start) // RES,)
            np.testing.assert_array_equal(got, expected, err_msg=f"{chrom}:{start}-{end}")
            # and what read_values gives, collapsed
            again = K.collapse(gbw.read_values(path, chrom, start, end).reshape(-1, 1, 1),
                               RES, how)[:, 0, 0]
            np.testing.assert_array_equal(got, again)


def _whole_genome_means(files: list[str], tmp_path) -> Iterator[tuple[str, int, np.ndarray]]:
    """A whole-genome Cover of ``files`` at 50 bp (mean collapser, synchronous build): each
    chromosome's end rounded up to the bins, and its bins (one column per file)."""
    with genozarr.set_options(scheduler="sync", progress=False):
        cover = Cover.create_from_bigwig(
            "wg", files, binsize=20_000, resolution=RES, genomesize=SIZES,
            store_whole_genome=True, storage="zarr", store=str(tmp_path / "wg.zarr"),
            collapser="mean")
    for chrom, size in SIZES.items():
        end = -(-size // RES) * RES
        yield chrom, end, cover[chrom, 0, end][0, ::RES, 0, :]


def test_whole_genome_cover_at_50_bp_equals_pybigwig(gapped, tmp_path):
    for chrom, end, got in _whole_genome_means(gapped, tmp_path):
        for k, path in enumerate(gapped):
            expected = bigwig_values(path, chrom, 0, end).astype(np.float64).reshape(-1, RES)
            np.testing.assert_allclose(got[:, k], expected.mean(axis=1), rtol=1e-6, atol=1e-6)


# ------------------------------------------------------- bin sums from the records
def _reference_bins(path: str, chrom: str, start: int, end: int, how: str) -> np.ndarray:
    """numpy's float64 sum (or mean) of pyBigWig's values per bin, gaps and positions
    outside the chromosome as 0, rounded once to float32."""
    x = bigwig_values(path, chrom, start, end).astype(np.float64).reshape(-1, RES)
    return (x.sum(axis=1) if how == "sum" else x.mean(axis=1)).astype(np.float32)


@pytest.fixture(scope="module")
def no_nan(tmp_path_factory):
    """The files of ``gapped`` without the value stored as NaN."""
    d = tmp_path_factory.mktemp("no_nan_bw")
    paths = []
    for seed in (3, 4):
        src = _write(str(d / f"src{seed}.bw"), seed)
        path = str(d / f"n{seed}.bw")
        with pyBigWig.open(src) as bw, pyBigWig.open(path, "w") as out:
            out.addHeader(list(SIZES.items()))
            for chrom in SIZES:
                iv = [t for t in bw.intervals(chrom) if not np.isnan(t[2])]
                out.addEntries([chrom] * len(iv), [t[0] for t in iv], ends=[t[1] for t in iv],
                               values=[t[2] for t in iv])
        paths.append(path)
    return paths


@pytest.fixture
def any_density(monkeypatch):
    """Bin sums for files of any density (the files here are dense: they would be
    decoded base by base, which is faster there)."""
    monkeypatch.setattr(gbw, "SUMS_BYTES_PER_BASE", float("inf"))


@pytest.mark.parametrize("how", ["sum", "mean"])
def test_bin_sums_from_records_equal_numpy(no_nan, any_density, bigwig_base_reads, how):
    """A sum or a mean is the float64 sum of the bin's values rounded once (within 1 ulp
    of numpy's), over bins inside the chromosome and over bins past either end (those
    collapsed from their bases); the long inside parts decode no base."""
    calls = bigwig_base_reads
    for path in no_nan:
        for chrom, start, end in [("chr1", 0, 200_000), ("chr1", 99_000, 121_000),
                                  ("chr2", 50_000, 60_050), ("chr2", -500, 60_050),
                                  ("chr2", 0, 100)]:
            got = gbw.read_binned_values(path, chrom, start, end, RES, how)
            assert got.dtype == np.float32 and got.shape == ((end - start) // RES,)
            np.testing.assert_array_max_ulp(got, _reference_bins(path, chrom, start, end, how),
                                            maxulp=1)
    # only the last bin of chr2 (60,000-60,050, past its end at 60,010) was decoded base
    # by base, in the two reads that hold it, of each file; the bins before 0 hold no base
    assert [(c, lo, hi) for _, c, lo, hi, *_ in calls] == [("chr2", 60_000, 60_010)] * 4


def test_a_value_stored_as_nan_reads_as_0_in_its_bin(tmp_path, any_density,
                                                       bigwig_base_reads):
    """A value stored as NaN adds 0 to its bin, whose other values stay (as base by base;
    pybigtools' own bin sums gave such a bin 0 as a whole)."""
    starts = np.arange(0, 20_000, 10)
    values = np.arange(starts.size, dtype=np.float64) % 7 + 1.0
    values[101] = np.nan  # 1,010-1,020: in the bin 1,000-1,050 with four other runs
    path = str(tmp_path / "nan.bw")
    with pyBigWig.open(path, "w") as bw:
        bw.addHeader([("chr1", 20_000)])
        bw.addEntries(["chr1"] * starts.size, starts.tolist(), ends=(starts + 10).tolist(),
                      values=values.tolist())
    calls = bigwig_base_reads
    got = gbw.read_binned_values(path, "chr1", 0, 20_000, RES, "sum")
    np.testing.assert_array_max_ulp(got, _reference_bins(path, "chr1", 0, 20_000, "sum"),
                                    maxulp=1)
    assert got[20] == 10 * (values[100] + values[102] + values[103] + values[104])
    assert not calls  # summed from the records


@pytest.mark.parametrize("batch", [1 << 16, 1, 2])
def test_overlapping_records_are_read_as_pybigwig_reads_them(tmp_path, monkeypatch, batch,
                                                             bigwig_base_reads):
    """A fixed-step file whose span is longer than its step holds overlapping records:
    such a read is decoded base by base, where pyBigWig's values decide (each base once),
    not summed record by record (each overlap twice); also where the overlap is between
    two batches of records."""
    monkeypatch.setattr(gbw, "_RECORDS_BATCH", batch)
    path = str(tmp_path / "windows.bw")
    with pyBigWig.open(path, "w") as bw:
        bw.addHeader([("chr1", 100_000)])
        bw.addEntries("chr1", 0, values=[1.0] * 199, span=1_000, step=500)
    calls = bigwig_base_reads
    got = gbw.read_binned_values(path, "chr1", 0, 100_000, 1_000, "mean")
    x = bigwig_values(path, "chr1", 0, 100_000).astype(np.float64).reshape(-1, 1_000)
    np.testing.assert_array_equal(got, x.mean(axis=1).astype(np.float32))
    assert got[0] == 1.0 and calls  # the file is sparse, the read went base by base


@pytest.mark.parametrize("whole", [False, True], ids=["partial", "whole_genome"])
def test_overlapping_records_in_short_windows_read_as_pybigwig_reads_them(tmp_path, whole):
    """Short windows (the partial layout, and chromosomes of at most WINDOW_MAX_BASES in
    the whole-genome one) were read by pybigtools' values, which adds up records that
    overlap a base (span 10, step 5: 1 + 2 = 3 where pyBigWig reads 2); an audit."""
    path = str(tmp_path / "sliding.bw")
    with pyBigWig.open(path, "w") as bw:
        bw.addHeader([("chr1", 40_000), ("chr2", 3_000)])
        bw.addEntries("chr1", 0, values=[float(i + 1) for i in range(7_990)], span=10,
                      step=5)
        bw.addEntries("chr2", 0, values=[float(i + 1) for i in range(590)], span=10, step=5)
    roi = pd.DataFrame({"chrom": ["chr1", "chr1", "chr2"], "start": [0, 39_000, 0],
                        "end": [200, 39_200, 200]})
    cover = Cover.create_from_bigwig("s", path, roi=roi, binsize=200, store_whole_genome=whole,
                                     genomesize={"chr1": 40_000, "chr2": 3_000})
    got = np.asarray(cover[:])[:, :, 0, 0]
    with pyBigWig.open(path) as bw:
        for row, (chrom, start, end) in enumerate(roi.itertuples(index=False)):
            np.testing.assert_array_equal(got[row], bw.values(chrom, start, end, numpy=True))
    assert got[0, 5] == 2.0  # record 2 (5-15), the last over base 5


def test_overlap_checks_count_windows_with_data_and_values_that_cancel(tmp_path):
    """Two holes in the check of short windows for overlapping records (an audit):
    windows without data counted among the OVERLAP_CHECKS windows, so a sliding-window
    track starting after 32 empty windows was served sums (1 + 1 = 2 where pyBigWig reads
    1); and records of values that cancel (1 then -1) have equal per-base sum and mean
    (0), so 0 was served where pyBigWig reads -1 or 1. Every window against pyBigWig."""
    from genozarr.io.bigwig import read_values

    slide = str(tmp_path / "slide.bw")
    with pyBigWig.open(slide, "w") as bw:
        bw.addHeader([("chr1", 400_000)])
        bw.addEntries("chr1", 200_000, values=[1.0] * 7000, span=50, step=25)
    starts = np.arange(0, 399_000, 5000)  # 40 windows before the data, 40 over it
    roi = pd.DataFrame({"chrom": "chr1", "start": starts, "end": starts + 200})
    got = np.asarray(Cover.create_from_bigwig("s", slide, roi=roi, binsize=200)[:])
    for row, start in enumerate(starts):
        want = bigwig_values(slide, "chr1", int(start), int(start) + 200)
        np.testing.assert_array_equal(got[row, :, 0, 0], np.nan_to_num(want), err_msg=start)
    assert got[:, :, 0, 0].max() == 1.0
    cancel = str(tmp_path / "cancel.bw")
    with pyBigWig.open(cancel, "w") as bw:
        bw.addHeader([("chr1", 1000)])
        bw.addEntries("chr1", 100, values=[1.0, -1.0] * 5, span=20, step=10)
    np.testing.assert_array_equal(read_values(cancel, "chr1", 100, 140),
                                  bigwig_values(cancel, "chr1", 100, 140))


@pytest.mark.parametrize("batch", [1 << 16, 3])
def test_whole_genome_cover_sums_bins_from_records(no_nan, any_density, monkeypatch,
                                                   tmp_path, batch, bigwig_base_reads):
    """A whole-genome Cover at 50 bp summed from the records (taken 65,536 or 3 at a
    time) equals numpy's means of pyBigWig's values within 1 ulp."""
    monkeypatch.setattr(gbw, "_RECORDS_BATCH", batch)
    calls = bigwig_base_reads
    for chrom, end, got in _whole_genome_means(no_nan, tmp_path):
        for k, path in enumerate(no_nan):
            np.testing.assert_array_max_ulp(got[:, k], _reference_bins(path, chrom, 0, end,
                                                                        "mean"), maxulp=1)
    # the last bin of chr2 (60,000-60,050) runs past its end: collapsed from its bases
    assert all(hi - lo <= RES for _, c, lo, hi, *_ in calls), calls


def test_bin_sums_can_be_turned_off(no_nan, any_density, monkeypatch, bigwig_base_reads):
    monkeypatch.setattr(gbw, "BINNED_SUMS", False)
    calls = bigwig_base_reads
    got = gbw.read_binned_values(no_nan[0], "chr1", 0, 200_000, RES, "mean")
    np.testing.assert_array_max_ulp(got, _reference_bins(no_nan[0], "chr1", 0, 200_000,
                                                         "mean"), maxulp=4)
    assert calls


def test_only_sparse_files_are_summed_from_records(no_nan, tmp_path, bigwig_base_reads):
    """A file of many records per base (a record every 50 bases or so here) is decoded
    base by base; one with a few peaks is summed from its records. Both give numpy's
    sums."""
    sparse = str(tmp_path / "peaks.bw")
    with pyBigWig.open(sparse, "w") as bw:
        bw.addHeader(list(SIZES.items()))
        bw.addEntries(["chr1"] * 3, [1_000, 50_020, 150_000], ends=[1_400, 50_300, 150_010],
                      values=[2.5, -1.0, 7.0])
    calls = bigwig_base_reads
    got = gbw.read_binned_values(sparse, "chr1", 0, 200_000, RES, "mean")
    np.testing.assert_array_max_ulp(got, _reference_bins(sparse, "chr1", 0, 200_000, "mean"),
                                    maxulp=1)
    assert not calls
    got = gbw.read_binned_values(no_nan[0], "chr1", 0, 200_000, RES, "mean")
    np.testing.assert_array_max_ulp(got, _reference_bins(no_nan[0], "chr1", 0, 200_000,
                                                         "mean"), maxulp=4)
    assert calls
