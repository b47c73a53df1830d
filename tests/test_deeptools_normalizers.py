"""deepTools' normalizations (``bamCoverage --normalizeUsing CPM|RPKM|BPM``) on hand-made
counts: a BAM written with pysam whose reads are placed by hand, so every count and total
is known without running genozarr."""

from __future__ import annotations

import numpy as np
import pytest

import genozarr
from genozarr import Cover
from genozarr.testing.simulate import write_bam

# forward reads of 10 bp: 5' ends at these positions of chr1 (1,000 bp)
STARTS = [5, 15, 25, 120, 130, 450, 460, 470, 480, 990]


@pytest.fixture(scope="module")
def bam(tmp_path_factory):
    return write_bam(tmp_path_factory.mktemp("dt") / "r.bam", {"chr1": 1000},
                     [{"start": start, "length": 10} for start in STARTS])


def _cover(bam: str, normalizer: object) -> Cover:
    return Cover.create_from_bam("r", bam, roi=None, binsize=100, resolution=100,
                                 stranded=False, store_whole_genome=True,
                                 genomesize={"chr1": 1000}, normalizer=normalizer)


def test_counts_by_hand(bam):
    raw = _cover(bam, None)[:][:, 0, 0, 0]
    np.testing.assert_array_equal(raw, [3, 2, 0, 0, 4, 0, 0, 0, 0, 1])


def test_cpm_rpkm_bpm_follow_deeptools_formulas(bam):
    counts = np.array([3, 2, 0, 0, 4, 0, 0, 0, 0, 1], dtype="float64")
    total = len(STARTS)  # every counted read
    bin_kb = 100 / 1000
    cpm = _cover(bam, "cpm")[:][:, 0, 0, 0]
    np.testing.assert_allclose(cpm, counts * 1e6 / total, rtol=1e-6)
    rpkm = _cover(bam, "rpkm")[:][:, 0, 0, 0]
    np.testing.assert_allclose(rpkm, counts * 1e6 / (total * bin_kb), rtol=1e-6)
    bpm = _cover(bam, "bpm")[:][:, 0, 0, 0]
    per_kb = counts / bin_kb
    np.testing.assert_allclose(bpm, per_kb * 1e6 / per_kb.sum(), rtol=1e-6)
    assert bpm.sum() == pytest.approx(1e6, rel=1e-6)


def test_fitted_totals_reused_and_restored(bam, tmp_path):
    cpm = genozarr.CPM()
    first = _cover(bam, cpm)
    np.testing.assert_array_equal(cpm.total, [[len(STARTS)]])
    again = genozarr.ops.normalizers.normalizer_from_dict(cpm.to_dict())
    x = np.arange(6, dtype="float32").reshape(1, 6, 1, 1)
    np.testing.assert_array_equal(again.transform_batch(x, np.ones(1)),
                                  cpm.transform_batch(x, np.ones(1)))
    assert first[:].dtype == np.float32


@pytest.mark.parametrize("norm", [genozarr.ops.normalizers.TPM(scale=np.array(2.0)),
                                  genozarr.ops.normalizers.RPKM(total=np.array(2.0))])
def test_length_normalizers_without_lengths_name_themselves(norm):
    # TPM and RPKM divide by the length through an inner normalizer: the error names
    # the one the user gave, not RegionLengthNormalization
    with pytest.raises(genozarr.errors.ArgumentError,
                       match=rf"^{type(norm).__name__}\(.*needs the length of each row"):
        norm.transform_batch(np.ones((1, 4, 1, 1), np.float32), None)
    x = np.arange(8, dtype=np.float32).reshape(2, 4, 1, 1)
    lengths = np.array([500, 2000])
    expected = x / (lengths / 1000).reshape(-1, 1, 1, 1) / 2.0
    if isinstance(norm, genozarr.ops.normalizers.RPKM):
        expected = expected * 1e6
    np.testing.assert_allclose(norm.transform_batch(x, lengths), expected, rtol=1e-6)
