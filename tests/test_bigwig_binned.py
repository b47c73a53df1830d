"""BigWig values collapsed to bins with gaps read as 0 (``read_binned_values``, what a
whole-genome Cover at a resolution above 1 bp reads): every bin equals the collapse of
pyBigWig's values with NaN -> 0, whether the gaps fill whole bins, parts of bins or
nearly every bin, and on either path of ``collapse_nan_as_zero``."""

from __future__ import annotations

import numpy as np
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


def test_whole_genome_cover_at_50_bp_equals_pybigwig(gapped, tmp_path):
    with genozarr.set_options(scheduler="sync", progress=False):
        cover = Cover.create_from_bigwig(
            "gapped", gapped, binsize=20_000, resolution=RES, genomesize=SIZES,
            store_whole_genome=True, storage="zarr", store=str(tmp_path / "wg.zarr"),
            collapser="mean")
    for chrom, size in SIZES.items():
        end = -(-size // RES) * RES
        got = cover[chrom, 0, end][0, ::RES, 0, :]
        for k, path in enumerate(gapped):
            expected = bigwig_values(path, chrom, 0, end).astype(np.float64).reshape(-1, RES)
            np.testing.assert_allclose(got[:, k], expected.mean(axis=1), rtol=1e-6, atol=1e-6)
