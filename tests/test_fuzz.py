"""Property tests (hypothesis, derandomized, small example counts): the indexer against a
brute-force tiler, and the readers on random small files against plain computations. Readers
never raise anything but :class:`GenozarrError` on corrupted input."""

from __future__ import annotations

import atexit
import gzip
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyBigWig
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from genozarr.errors import GenozarrError
from genozarr.io.bed import bed_coverage, read_bed
from genozarr.io.bigwig import read_values
from genozarr.regions import GenomicIndexer

FUZZ = settings(derandomize=True, max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])
_TMP = Path(tempfile.mkdtemp(prefix="genozarr-fuzz-"))
atexit.register(shutil.rmtree, _TMP, True)
_counter = iter(range(10**9))


def _tmpfile(suffix: str) -> Path:
    return _TMP / f"f{next(_counter)}{suffix}"


# ------------------------------------------------------------------------------ indexer
regions_st = st.lists(
    st.tuples(st.sampled_from(["chr1", "chr2"]), st.integers(0, 300), st.integers(0, 120),
              st.sampled_from(["+", "-", "."])),
    min_size=1, max_size=6)


def brute_tiles(regions, binsize, stepsize, zero_padding):
    """Windows of each region: starts at start + k * stepsize while the window fits; with
    zero_padding, one more (truncated at the region end) if it starts inside the region and
    the last full window does not already reach the end."""
    out = []
    for chrom, start, end, strand in regions:
        pos, last_end = start, None
        while pos + binsize <= end:
            out.append((chrom, pos, pos + binsize, strand))
            last_end = pos + binsize
            pos += stepsize
        if zero_padding and pos < end and (last_end is None or last_end < end):
            out.append((chrom, pos, end, strand))
    return out


@FUZZ
@given(regions=regions_st, binsize=st.integers(1, 50), step=st.integers(1, 60),
       flank=st.integers(0, 10), zero_padding=st.booleans(), seed=st.none() | st.integers(0, 9))
def test_indexer_tiling_matches_brute_force(regions, binsize, step, flank, zero_padding, seed):
    regions = [(c, s, s + n, strand) for c, s, n, strand in regions]
    roi = pd.DataFrame(regions, columns=["chrom", "start", "end", "strand"])
    expected = brute_tiles(regions, binsize, step, zero_padding)
    if not expected:  # as Janggu: no window is an empty indexer, not an error
        gi = GenomicIndexer.create_from_file(roi, binsize, step, flank, zero_padding,
                                             random_state=seed)
        assert len(gi) == 0
        return
    gi = GenomicIndexer.create_from_file(roi, binsize, step, flank, zero_padding,
                                         random_state=seed)
    got = [(r.chrom, r.start + flank, r.end - flank, r.strand) for r in gi]
    if seed is None:
        assert got == expected
    else:  # a permutation of the same windows, the same for the same seed
        assert sorted(got) == sorted(expected)
        again = GenomicIndexer.create_from_file(roi, binsize, step, flank, zero_padding,
                                                random_state=seed)
        assert [(r.chrom, r.start) for r in again] == [(r.chrom, r.start) for r in gi]
    assert all(r.end - r.start == binsize + 2 * flank or zero_padding for r in gi)
    assert len(gi) == len(expected)


# ------------------------------------------------------------------------------ BED files
good_line = st.tuples(st.sampled_from(["chr1", "chr2", "chrX", "1"]), st.integers(0, 500),
                      st.integers(0, 200), st.sampled_from(["a", "b", "."]),
                      st.one_of(st.integers(-5, 1000).map(str), st.sampled_from([".", "2.5"])),
                      st.sampled_from(["+", "-", "."]), st.integers(3, 6))
junk = st.sampled_from([
    "", "#comment", "track name=x", "browser position chr1:1-2", "chr1\t5", "chr1\t10\t5",
    "chr1\t-1\t5", "chr1\t1.5\t5", "chr1\tx\ty", "chr1 1 5", "chr1\t1\t5\tn\tscore\t+",
    "chr1\t1\t5\tn\t1\t?", "\t\t", "chr1\t1\t5\t\t\t", "chr1\t99999999999999999999\t1",
    "\x00\x01binary", "chr1\t1\t5\tn\t1\t+\textra\tcols\tmore", "chr1\t0x10\t20",
    "chr1\t1_000\t2000", "chr1\t  3\t5", "chr1\tinf\tnan", "ÿþ\tlatin",
])


def _format(line) -> str:
    chrom, start, length, name, score, strand, ncol = line
    fields = [chrom, str(start), str(start + length), name, score, strand][:ncol]
    return "\t".join(fields)


@FUZZ
@given(lines=st.lists(good_line, min_size=0, max_size=8), crlf=st.booleans(),
       gz=st.booleans(), header=st.booleans())
def test_read_bed_valid_files(lines, crlf, gz, header):
    ncol = max((ln[-1] for ln in lines), default=3)
    lines = [ln[:-1] + (ncol,) for ln in lines]  # one column count per file
    text = ("track name=t\n# c\n" if header else "") + "".join(_format(ln) + "\n" for ln in lines)
    if crlf:
        text = text.replace("\n", "\r\n")
    path = _tmpfile(".bed.gz" if gz else ".bed")
    data = text.encode()
    path.write_bytes(gzip.compress(data) if gz else data)
    df = read_bed(path)
    assert df["chrom"].tolist() == [ln[0] for ln in lines]
    assert df["start"].tolist() == [ln[1] for ln in lines]
    assert df["end"].tolist() == [ln[1] + ln[2] for ln in lines]
    if ncol >= 4:
        assert df["name"].tolist() == [ln[3] for ln in lines]
    if ncol >= 5:
        expected = [np.nan if ln[4] == "." else float(ln[4]) for ln in lines]
        np.testing.assert_array_equal(df["score"].to_numpy(), np.array(expected, dtype=float))
    assert df["strand"].tolist() == [ln[5] if ncol >= 6 else "." for ln in lines]


@FUZZ
@given(lines=st.lists(st.one_of(good_line.map(_format), junk), min_size=0, max_size=8),
       crlf=st.booleans(), gz=st.booleans(), cut=st.none() | st.integers(0, 200))
def test_read_bed_corrupted_files_raise_only_genozarr_errors(lines, crlf, gz, cut):
    text = "\n".join(lines) + ("\n" if lines else "")
    if crlf:
        text = text.replace("\n", "\r\n")
    data = text.encode("latin-1", "replace") if "ÿ" in text else text.encode()
    if gz:
        data = gzip.compress(data)
    if cut is not None:
        data = data[:cut]
    path = _tmpfile(".bed")
    path.write_bytes(data)
    try:
        df = read_bed(path)
    except GenozarrError as e:
        assert str(path) in str(e)
        return
    assert (df["start"] >= 0).all() and (df["start"] <= df["end"]).all()
    assert df["strand"].isin(["+", "-", "."]).all()
    assert df["start"].dtype == np.int64 and df["end"].dtype == np.int64


# ------------------------------------------------------------------------------ bed_coverage
features_st = st.lists(st.tuples(st.integers(0, 80), st.integers(0, 30),
                                 st.integers(-3, 5).map(float)), min_size=0, max_size=8)


@FUZZ
@given(features=features_st, window=st.tuples(st.integers(-10, 90), st.integers(0, 60)),
       mode=st.sampled_from(["binary", "score"]), resolution=st.integers(1, 7),
       minoverlap=st.none() | st.floats(0.1, 1.0))
def test_bed_coverage_matches_per_base_brute_force(features, window, mode, resolution,
                                                   minoverlap):
    start, n = window
    start = max(start, 0)
    n = n - n % resolution  # windows are whole bins, as the builders use them
    end = start + n
    df = pd.DataFrame({"chrom": "chr1", "start": [s for s, _, _ in features],
                       "end": [s + w for s, w, _ in features], "name": ".",
                       "score": [v for _, _, v in features], "strand": "."})
    got = bed_coverage(df, "chr1", start, end, mode=mode, resolution=resolution,
                       minoverlap=minoverlap)[:, 0]
    # per base: the largest value of the features covering it, 0 where none does
    base = np.zeros(n, np.float64)
    covered = np.zeros(n, bool)
    for i, pos in enumerate(range(start, end)):
        vals = [(1.0 if mode == "binary" else v) for s, w, v in features if s <= pos < s + w]
        if vals:
            base[i], covered[i] = max(vals), True
    if resolution == 1:
        np.testing.assert_array_equal(got, base.astype(np.float32))
        return
    bins = base.reshape(-1, resolution).max(axis=1)
    if minoverlap is not None:
        bins[covered.reshape(-1, resolution).mean(axis=1) < minoverlap] = 0
    np.testing.assert_array_equal(got, bins.astype(np.float32))


def test_a_windows_features_are_those_of_a_scan_of_every_feature():
    """The binary searches that find a window's features (the running maximum of the ends
    before it, the starts after it) pick the features, in the same order, that comparing
    every feature of the chromosome picks: features nested in long ones, ties, empty
    features, windows before, across and past every feature; and the window paints the
    same values and categories."""
    from genozarr.io.bed import _grouped, _overlapping

    rng = np.random.default_rng(21)
    n = 2000
    starts = rng.integers(0, 50_000, n)
    widths = np.where(rng.random(n) < 0.02, rng.integers(5_000, 20_000, n),
                      rng.integers(0, 300, n))  # a few long features hold many short ones
    df = pd.DataFrame({"chrom": "chr1", "start": starts, "end": starts + widths,
                       "name": rng.choice(["a", "b", "c"], n),
                       "score": rng.integers(1, 9, n).astype(float), "strand": "."})
    s_sorted, e_sorted, *_, reach = _grouped(df)["chr1"]
    windows = [(-50, 0), (0, 1), (70_000, 70_100), (0, 80_000)] + [
        (int(a), int(a + w)) for a, w in zip(rng.integers(-100, 70_000, 300),
                                             rng.integers(0, 3_000, 300))]
    categories = ["a", "b", "c"]
    for start, end in windows:
        want = np.nonzero((s_sorted < end) & (e_sorted > start))[0]
        np.testing.assert_array_equal(_overlapping(s_sorted, e_sorted, reach, start, end),
                                      want)
    for start, end in windows[:60]:
        start = max(start, 0)
        got = bed_coverage(df, "chr1", start, end, mode="name_category",
                           categories=categories)
        onehot = np.zeros((end - start, 3), np.float32)
        for s, e, name in zip(df["start"], df["end"], df["name"]):  # later lines win
            lo, hi = max(s, start) - start, min(e, end) - start
            if hi > lo:
                onehot[lo:hi] = 0
                onehot[lo:hi, categories.index(name)] = 1
        np.testing.assert_array_equal(got, onehot)


def test_bed_coverage_of_features_on_many_chromosomes_in_file_order():
    """Features of 400 chromosomes in shuffled file order (each chromosome's lines apart,
    equal starts): the grouping by chromosome (one sort for all now, a groupby and a sort
    per chromosome before) gives each chromosome its own features. Per-base maximum and
    the last-drawn category against a plain loop over the lines."""
    rng = np.random.default_rng(8)
    n = 3000
    df = pd.DataFrame({"chrom": [f"c{i}" for i in rng.integers(0, 400, n)],
                       "start": rng.integers(0, 40, n)})
    df["end"] = df["start"] + rng.integers(1, 20, n)
    df["score"] = rng.integers(1, 9, n).astype(float)
    df["name"] = "."
    df["strand"] = "."
    for chrom in ("c0", "c17", "c399"):
        got = bed_coverage(df, chrom, 0, 60, mode="score")[:, 0]
        want = np.zeros(60)
        for c, s, e, v in zip(df["chrom"], df["start"], df["end"], df["score"]):
            if c == chrom:
                want[s:e] = np.maximum(want[s:e], v)
        np.testing.assert_array_equal(got, want.astype(np.float32))
        categories = sorted(df["score"].unique())
        cats = bed_coverage(df, chrom, 0, 60, mode="score_category", categories=categories)
        onehot = np.zeros((60, len(categories)), np.float32)
        for c, s, e, v in zip(df["chrom"], df["start"], df["end"], df["score"]):
            if c == chrom:  # the feature later in the file wins
                onehot[s:e] = 0
                onehot[s:e, categories.index(v)] = 1
        np.testing.assert_array_equal(cats, onehot)


# ------------------------------------------------------------------------------ BigWig
@FUZZ
@given(runs=st.lists(st.tuples(st.integers(0, 20), st.integers(1, 15),
                               st.floats(-100, 100, width=32)), min_size=1, max_size=10),
       length=st.integers(50, 300), window=st.tuples(st.integers(-30, 320), st.integers(0, 80)),
       nan_to_num=st.booleans())
def test_read_values_matches_pybigwig(runs, length, window, nan_to_num):
    # non-overlapping sorted intervals from (gap, width, value) runs, clipped to the chromosome
    starts, ends, values, pos = [], [], [], 0
    for gap, width, value in runs:
        s, e = pos + gap, min(pos + gap + width, length)
        if s >= length:
            break
        starts.append(s)
        ends.append(e)
        values.append(value)
        pos = e
    path = _tmpfile(".bw")
    with pyBigWig.open(str(path), "w") as bw:
        bw.addHeader([("chr1", length), ("chr2", 10)])
        if starts:
            bw.addEntries(["chr1"] * len(starts), starts, ends=ends, values=values)
    start, n = window
    end = start + n
    got = read_values(path, "chr1", start, end, nan_to_num=nan_to_num)
    expected = np.full(n, np.nan, np.float32)
    lo, hi = max(start, 0), min(end, length)
    if hi > lo:
        with pyBigWig.open(str(path)) as bw:
            expected[lo - start:hi - start] = np.array(bw.values("chr1", lo, hi), np.float32)
    if nan_to_num:
        expected = np.nan_to_num(expected)
    assert got.dtype == np.float32 and got.shape == (n,)
    np.testing.assert_array_equal(got, expected)


@FUZZ
@given(cut=st.integers(0, 4000), flip=st.none() | st.tuples(st.integers(0, 4000),
                                                           st.integers(1, 255)))
def test_corrupted_bigwig_raises_only_genozarr_errors(cut, flip):
    path = _tmpfile(".bw")
    with pyBigWig.open(str(path), "w") as bw:
        bw.addHeader([("chr1", 5000)])
        bw.addEntries("chr1", 0, values=[float(v) for v in range(500)], span=10, step=10)
    data = bytearray(path.read_bytes())
    if flip is not None and flip[0] < len(data):
        data[flip[0]] ^= flip[1]
    path.write_bytes(bytes(data[:cut]) if cut < len(data) else bytes(data))
    try:
        read_values(path, "chr1", 0, 5000)
    except GenozarrError as e:
        assert str(path) in str(e)
