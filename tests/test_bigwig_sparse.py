"""Sparse BigWigs (peaks only, large gaps): every decoder of ``genozarr.io.bigwig`` gives
exactly pyBigWig's ``values``.

Long reads (past ``WINDOW_MAX_BASES``) of a file with at most one record per
``RECORD_SPAN_MIN`` bases are painted from its records; denser ones are decoded by
pyBigWig's ``values``. Both paths are forced in turn (``RECORD_SPAN_MIN = 1``: records
whenever possible; ``0``: never) and compared with pyBigWig on single reads, and through
whole-genome and partial Covers at 1 bp and at 50 bp (against numpy's mean over pyBigWig's
values, NaN -> 0, as genozarr's ``nan_to_num`` contract says).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd
import pyBigWig
import pytest

import genozarr
import genozarr.io.bigwig as gbw
from genozarr import Cover
from genozarr.testing.oracles import bigwig_values

pytest.importorskip("pybigtools")

#: several chromosomes longer than WINDOW_MAX_BASES (one not a multiple of 50, one without
#: data) and a short one
SIZES = {"chr1": 180_000, "chr2": 120_025, "chr3": 70_000, "chrM": 5_000}
RES = 50


def _write_sparse(path: str, seed: int, fixed: bool = False) -> str:
    """A few peaks per chromosome (bedGraph runs, or fixed 25 bp steps), gaps elsewhere;
    chr3 has no data, a peak touches the end of chr2, one value is stored as NaN."""
    rng = np.random.default_rng(seed)
    with pyBigWig.open(path, "w") as bw:
        bw.addHeader(list(SIZES.items()))
        for chrom, size in SIZES.items():
            if chrom == "chr3":
                continue
            n_peaks = 2 if chrom == "chrM" else 6
            starts = np.sort(rng.choice(np.arange(0, size - 2_000, 2_000), n_peaks,
                                        replace=False)) + rng.integers(0, 500, n_peaks)
            if chrom == "chr2":
                starts[-1] = size - 300  # a peak running to the chromosome end
            for k, s in enumerate(starts.tolist()):
                width = min(int(rng.integers(100, 1_200)), size - s)
                if fixed:
                    n = width // 25
                    vals = np.round(rng.gamma(2.0, 3.0, n), 3)
                    if n:
                        bw.addEntries(chrom, s, values=vals.tolist(), span=25, step=25)
                    continue
                cuts = np.unique(np.concatenate([[0, width], rng.integers(1, width, 8)]))
                run_s, run_e = s + cuts[:-1], s + cuts[1:]
                vals = np.round(rng.gamma(2.0, 3.0, run_s.size) - 1.0, 3)  # some < 0
                if chrom == "chr1" and k == 0:
                    vals[0] = np.nan
                bw.addEntries([chrom] * run_s.size, run_s.tolist(), ends=run_e.tolist(),
                              values=vals.tolist())
    return path


@pytest.fixture(scope="module")
def sparse_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("sparse_bw")
    return [_write_sparse(str(d / "runs.bw"), 11),
            _write_sparse(str(d / "fixed.bw"), 12, fixed=True)]


@pytest.fixture(params=["records", "values"])
def path_forced(request, monkeypatch):
    """Force one decoder for long reads (bins are not summed from the records: every
    base is decoded); yields the calls of each decoder."""
    monkeypatch.setattr(gbw, "RECORD_SPAN_MIN", 1 if request.param == "records" else 0)
    monkeypatch.setattr(gbw, "BINNED_SUMS", False)
    calls = {"records": 0, "values": 0}
    real_records, real_values = gbw._records_values, gbw._pybigwig_values

    def records(*a):
        out = real_records(*a)
        calls["records"] += out is not None
        return out

    def values(*a):
        calls["values"] += 1
        return real_values(*a)

    monkeypatch.setattr(gbw, "_records_values", records)
    monkeypatch.setattr(gbw, "_pybigwig_values", values)
    return request.param, calls


def test_the_files_are_sparse(sparse_files):
    with pyBigWig.open(sparse_files[0]) as bw:
        covered = sum(int(np.isfinite(bw.values(c, 0, n, numpy=True)).sum())
                      for c, n in SIZES.items())
        assert np.isnan(bw.values("chr1", 0, SIZES["chr1"], numpy=True)).sum() > 0
    assert 0 < covered < 0.1 * sum(SIZES.values())


@pytest.mark.parametrize("nan_to_num", [True, False])
def test_read_values_equals_pybigwig(sparse_files, path_forced, nan_to_num):
    which, calls = path_forced
    for path in sparse_files:
        for chrom, size in SIZES.items():
            spans = [(0, size), (-300, size + 700), (size // 3, size // 3 + 40_000),
                     (size - 40_000, size + 10), (1_000, 1_100)]
            for start, end in spans:
                got = gbw.read_values(path, chrom, start, end, nan_to_num=nan_to_num)
                assert got.dtype == np.float32 and got.shape == (end - start,)
                np.testing.assert_array_equal(got, bigwig_values(path, chrom, start, end, nan_to_num=nan_to_num))
    # the long reads went through the forced decoder only
    assert calls[which] > 0 and calls["values" if which == "records" else "records"] == 0


def test_stored_nan_reads_as_zero(sparse_files, path_forced):
    with pyBigWig.open(sparse_files[0]) as bw:
        raw = bw.values("chr1", 0, SIZES["chr1"], numpy=True)
        first = int(np.flatnonzero(np.isfinite(raw))[0]) - 1  # the run stored as NaN
    got = gbw.read_values(sparse_files[0], "chr1", 0, SIZES["chr1"], nan_to_num=False)
    assert np.isnan(got[first])
    assert gbw.read_values(sparse_files[0], "chr1", 0, SIZES["chr1"])[first] == 0.0


def test_density_decides_the_decoder(tmp_path, sparse_files, monkeypatch):
    """With the default threshold the sparse file is painted from records; a dense file
    is probed once per chromosome, then read with pyBigWig's values."""
    calls = []
    real = gbw._pybigwig_values
    monkeypatch.setattr(gbw, "_pybigwig_values", lambda *a: calls.append(a) or real(*a))
    gbw.read_values(sparse_files[0], "chr1", 0, SIZES["chr1"])
    assert not calls
    dense = str(tmp_path / "dense.bw")
    with pyBigWig.open(dense, "w") as bw:
        bw.addHeader([("chr1", 100_000)])
        bw.addEntries("chr1", 0, values=[float(v % 7) for v in range(20_000)], span=5, step=5)
    for start in (0, 50_000):
        got = gbw.read_values(dense, "chr1", start, start + 50_000)
        np.testing.assert_array_equal(got, bigwig_values(dense, "chr1", start, start + 50_000))
    assert len(calls) == 2
    assert any(k[0] == dense for k in gbw._dense)


def _bins(values: np.ndarray, res: int) -> np.ndarray:
    """Means of ``res`` consecutive values (in float64), the last bin padded with zeros."""
    pad = (-len(values)) % res
    full = np.concatenate([values.astype(np.float64), np.zeros(pad)])
    return full.reshape(-1, res).mean(axis=1)


def _whole_genome_bins(files: list[str], resolution: int,
                       tmp_path) -> Iterator[tuple[str, int, np.ndarray]]:
    """A whole-genome Cover of ``files`` (mean collapser, synchronous build): each
    chromosome, its size and its bins (one column per file)."""
    with genozarr.set_options(scheduler="sync", progress=False):
        cover = Cover.create_from_bigwig(
            "sparse", files, binsize=20_000, resolution=resolution, genomesize=SIZES,
            store_whole_genome=True, storage="zarr", store=str(tmp_path / "wg.zarr"),
            collapser="mean")
    for chrom, size in SIZES.items():
        yield chrom, size, cover[chrom, 0, size][0, ::resolution, 0, :]


@pytest.mark.parametrize("resolution", [1, RES])
def test_whole_genome_cover_equals_pybigwig(sparse_files, path_forced, resolution, tmp_path):
    for chrom, size, got in _whole_genome_bins(sparse_files, resolution, tmp_path):
        for k, path in enumerate(sparse_files):
            expected = _bins(bigwig_values(path, chrom, 0, size), resolution)
            np.testing.assert_allclose(got[:, k], expected, rtol=1e-6, atol=1e-6)
            if resolution == 1:
                np.testing.assert_array_equal(got[:, k], expected)
    which, calls = path_forced
    assert calls[which] > 0 and calls["values" if which == "records" else "records"] == 0


def test_whole_genome_cover_sums_sparse_bins_from_records(sparse_files, tmp_path,
                                                          bigwig_base_reads):
    """At 50 bp the bins of these sparse files are summed from their records (the file
    with a value stored as NaN too: it reads as 0, as base by base); only the last bin
    of chr2, past its end, is decoded base by base."""
    for chrom, size, got in _whole_genome_bins(sparse_files, RES, tmp_path):
        for k, path in enumerate(sparse_files):
            expected = _bins(bigwig_values(path, chrom, 0, size), RES).astype(np.float32)
            np.testing.assert_array_max_ulp(got[:, k], expected, maxulp=1)
    decoded = {(c, lo, hi) for _, c, lo, hi, *_ in bigwig_base_reads}
    assert decoded == {("chr2", 120_000, 120_025)}, decoded


@pytest.mark.parametrize("resolution", [1, RES])
def test_partial_cover_equals_pybigwig(sparse_files, path_forced, resolution):
    # windows around peaks, in gaps, over the chromosome ends, and long ones
    roi = pd.DataFrame({
        "chrom": ["chr1", "chr1", "chr2", "chr2", "chr3", "chrM"],
        "start": [0, 60_000, 80_000, SIZES["chr2"] - 40_000, 10_000, 0],
        "end": [40_000, 100_000, 120_000, SIZES["chr2"], 50_000, 40_000]})
    with genozarr.set_options(scheduler="sync", progress=False):
        cover = Cover.create_from_bigwig("sparse", sparse_files, roi=roi, binsize=40_000,
                                         resolution=resolution, collapser="mean",
                                         storage="ndarray")
    got = cover[:]
    for i, (chrom, start, end) in enumerate(roi.itertuples(index=False)):
        for k, path in enumerate(sparse_files):
            expected = _bins(bigwig_values(path, chrom, start, end), resolution)
            np.testing.assert_allclose(got[i, :, 0, k], expected, rtol=1e-6, atol=1e-6)
    which, calls = path_forced
    assert calls[which] > 0 and calls["values" if which == "records" else "records"] == 0
