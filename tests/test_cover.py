"""Cover from BigWig, BAM and BED against independent computations (pyBigWig, a plain
pysam loop, hand-worked BED coverage), across layouts, backends and resolutions."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pyBigWig
import pysam
import pytest

from genozarr import Cover
from genozarr.errors import ArgumentError, ChromosomeNamingError, ChromosomeNotFoundError, RegionError
from genozarr.testing.oracles import bigwig_values
from genozarr.testing.simulate import write_bam

STORAGES = ["ndarray", "sparse", "zarr"]


@pytest.fixture(scope="module")
def roi(tmp_path_factory):
    d = tmp_path_factory.mktemp("roi")
    p = d / "roi.bed"
    # windows on both strands, one running past the end of chr2 (length 8000)
    p.write_text("chr1\t1000\t3000\tr1\t0\t+\n"
                 "chr1\t5000\t6000\tr2\t0\t-\n"
                 "chr2\t7000\t8200\tr3\t0\t+\n")
    return str(p)


def windows_of(cover):
    gi = cover.gindexer
    return [gi[i] for i in range(len(gi))]


@pytest.mark.parametrize("storage", STORAGES)
@pytest.mark.parametrize("whole", [False, True])
def test_bigwig_base_resolution(sim_data, roi, storage, whole):
    bws = sim_data["bigwigs"]
    cov = Cover.create_from_bigwig("bw", bws, roi=roi, binsize=200, flank=0, storage=storage,
                                   store_whole_genome=whole, genomesize=sim_data["chrom_sizes"])
    assert cov.shape == (len(cov), 200, 1, 2)
    assert cov.conditions == [p.split("/")[-1].rsplit(".", 1)[0] for p in bws]
    x = cov[:]
    assert x.dtype == np.float32
    for i, w in enumerate(windows_of(cov)):
        for c, path in enumerate(bws):
            truth = bigwig_values(path, w.chrom, w.start, w.end)
            if w.strand == "-":
                truth = truth[::-1]
            np.testing.assert_allclose(x[i, :, 0, c], truth, rtol=1e-6)


@pytest.mark.parametrize("how", ["sum", "mean", "max", np.median])
def test_bigwig_collapsers(sim_data, roi, how):
    path = sim_data["bigwigs"][0]
    kw = dict(roi=roi, binsize=200, flank=50, resolution=50)
    cov = Cover.create_from_bigwig("bw", path, collapser=how, **kw)
    assert cov.shape == (len(cov), 6, 1, 1)
    func = {"sum": np.sum, "mean": np.mean, "max": np.max}.get(how, how)
    for i, w in enumerate(windows_of(cov)):
        truth = bigwig_values(path, w.chrom, w.start, w.end).reshape(6, 50)
        expected = func(truth, axis=1)
        if w.strand == "-":
            expected = expected[::-1]
        np.testing.assert_allclose(cov[i][0][:, 0, 0], expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("read_bytes", [None, 4000])
@pytest.mark.parametrize("how", ["mean", "max", np.median])
def test_bigwig_files_collapsed_one_by_one_in_a_whole_genome_store(sim_data, roi, how,
                                                                   read_bytes, monkeypatch):
    """Several BigWigs at a coarse resolution (each file's bases collapsed on its own, then
    the conditions joined): every condition equals numpy's reduction of that file's
    pyBigWig values, whole chromosomes included (a partial last bin padded with 0). A
    read holds one file's bases at a time (with ``read_bytes``: 1,000 float32 values, so
    that each task reads and fills its block in many pieces)."""
    from genozarr import ingest
    from genozarr.sources import BigWigSource

    paths = sim_data["bigwigs"][:2]
    if read_bytes is not None:
        monkeypatch.setattr(ingest, "_READ_BYTES", read_bytes)
        source = BigWigSource(paths)
        assert source.collapses_per_file
        assert (ingest._read_step(source, 1), ingest._read_step(source, 50)) == (500, 20)
    cov = Cover.create_from_bigwig("bw", paths, roi=roi, binsize=500, resolution=50,
                                   collapser=how, store_whole_genome=True, storage="zarr")
    func = {"mean": np.mean, "max": np.max}.get(how, how)
    store = cov.garray
    for chrom, length in store.meta.chroms.items():
        stored = store.read_bins(chrom, 0, -(-length // 50))
        for c, path in enumerate(paths):
            truth = bigwig_values(path, chrom, 0, -(-length // 50) * 50).reshape(-1, 50)
            np.testing.assert_allclose(stored[:, 0, c], func(truth, axis=1), rtol=1e-6,
                                       atol=1e-6)


def test_bigwig_resolution_none_and_whole_vs_partial(sim_data, roi):
    path = sim_data["bigwigs"][1]
    cov = Cover.create_from_bigwig("bw", path, roi=roi, resolution=None, collapser="sum")
    assert cov.shape == (3, 1, 1, 1)  # one value per (variable-length) region
    regions = pd.read_csv(roi, sep="\t", header=None)
    for i, (chrom, s, e) in enumerate(regions[[0, 1, 2]].values):
        np.testing.assert_allclose(cov[i][0, 0, 0], bigwig_values(path, chrom, s, e).sum(), rtol=1e-5)
    # an interval reads each window's one value at every base of it (as Janggu's), the
    # padding outside the windows (it was an ArgumentError)
    chrom, s, e = regions[[0, 1, 2]].values[0]
    got = cov[chrom, s - 10, s + 20][0, :, 0, 0]
    np.testing.assert_array_equal(got[:10], 0)
    np.testing.assert_array_equal(got[10:], cov[0][0, 0, 0, 0])
    a = Cover.create_from_bigwig("a", path, roi=roi, binsize=500, resolution=50)
    b = Cover.create_from_bigwig("b", path, roi=roi, binsize=500, resolution=50,
                                 store_whole_genome=True, storage="zarr")
    np.testing.assert_allclose(a[:], b[:], rtol=1e-6)


def brute_force_5prime(path, chrom, start, end, min_mapq=None):
    """A plain pysam loop: forward reads at reference_start, reverse at reference_end - 1."""
    counts = np.zeros((end - start, 2), "float32")
    with pysam.AlignmentFile(path) as bam:
        for read in bam.fetch(chrom):
            if read.is_unmapped or read.is_secondary or read.is_supplementary \
                    or read.is_duplicate or read.is_qcfail:
                continue
            if read.is_paired and not (read.is_proper_pair and read.next_reference_name == chrom):
                continue
            if min_mapq is not None and read.mapping_quality < min_mapq:
                continue
            pos = read.reference_end - 1 if read.is_reverse else read.reference_start
            if start <= pos < end:
                counts[pos - start, int(read.is_reverse)] += 1
    return counts


@pytest.mark.parametrize("storage", STORAGES)
def test_bam_5prime_counts(sim_data, roi, storage):
    cov = Cover.create_from_bam("reads", sim_data["bam"], roi=roi, binsize=200,
                                storage=storage, min_mapq=10)
    assert cov.shape == (len(cov), 200, 2, 1)
    x = cov[:]
    total = 0
    for i, w in enumerate(windows_of(cov)):
        truth = brute_force_5prime(sim_data["bam"], w.chrom, w.start, w.end, min_mapq=10)
        if w.strand == "-":
            truth = truth[::-1, ::-1]  # reversed positions, strands swapped
        np.testing.assert_array_equal(x[i, :, :, 0], truth)
        total += truth.sum()
    assert total > 100  # the comparison saw real reads


def test_bam_unstranded_resolution_whole_genome(sim_data, roi):
    bam = sim_data["bam"]
    part = Cover.create_from_bam("r", bam, roi=roi, binsize=1000, resolution=100, stranded=False)
    whole = Cover.create_from_bam("r", bam, roi=roi, binsize=1000, resolution=100,
                                  stranded=False, store_whole_genome=True, storage="zarr")
    assert part.shape == (len(part), 10, 1, 1)
    np.testing.assert_array_equal(part[:], whole[:])
    for i, w in enumerate(windows_of(part)):
        # the tail window of chr2 is partial (8000-8200) and zero-padded to 1000 bases
        truth = brute_force_5prime(bam, w.chrom, w.start, w.start + 1000).sum(1)
        truth = truth.reshape(10, 100).sum(1)
        if w.strand == "-":
            truth = truth[::-1]
        np.testing.assert_array_equal(part[i][0][:, 0, 0], truth)


def test_bam_against_samtools_view(sim_data):
    """Forward-strand 5' counts equal the read starts that ``samtools view`` keeps (the
    samtools bundled in pysam, so this runs where no samtools is installed)."""
    bam = sim_data["bam"]
    cov = Cover.create_from_bam("r", bam, roi=None, binsize=12_000, stranded=True,
                                genomesize={"chr1": 12_000}, include_flagged=False)
    # samtools view -F 0xF04 (unmapped, secondary, qcfail, dup, supplementary), forward reads
    out = pysam.view("-F", "0xF14", bam, "chr1").splitlines()
    starts = np.array([int(line.split("\t")[3]) - 1 for line in out if line])
    assert len(starts) > 100
    expected = np.bincount(starts, minlength=12_000)[:12_000]
    np.testing.assert_array_equal(cov[0][0, :, 0, 0], expected)


def test_bam_against_bedtools_genomecov_when_installed(sim_data, tmp_path):
    """Per-base 5' counts on both strands equal ``bedtools genomecov -5 -strand -d`` on a
    copy of the BAM without the reads genozarr skips (flags 0xF04, improper pairs)."""
    import shutil
    import subprocess

    if shutil.which("bedtools") is None:
        pytest.skip("bedtools not installed: independent pysam loop comparison still ran")
    bam = sim_data["bam"]
    kept = tmp_path / "kept.bam"
    with pysam.AlignmentFile(bam) as src, pysam.AlignmentFile(str(kept), "wb",
                                                              template=src) as dst:
        for read in src.fetch(until_eof=True):
            if read.flag & 0xF04 or (read.is_paired and not read.is_proper_pair):
                continue
            dst.write(read)
    sizes = {"chr1": 12_000, "chr2": 8_000}
    cov = Cover.create_from_bam("r", bam, binsize=4_000, genomesize=sizes,
                                store_whole_genome=True)
    for c, strand in enumerate("+-"):
        out = subprocess.run(["bedtools", "genomecov", "-ibam", str(kept), "-d", "-5",
                              "-strand", strand], capture_output=True, text=True,
                             check=True).stdout.split()
        table = np.array(out, dtype=object).reshape(-1, 3)
        for chrom, length in sizes.items():
            rows = table[table[:, 0] == chrom]
            expected = rows[:, 2].astype(int)
            assert len(expected) == length
            got = cov[chrom, 0, length][0, :, c, 0]
            np.testing.assert_array_equal(got, expected)
            assert expected.sum() > 100


def bed_oracle(features, chrom, start, end, value):
    out = np.zeros(end - start, "float32")
    for c, s, e, v in features:
        if c != chrom:
            continue
        for p in range(max(s, start), min(e, end)):
            out[p - start] = max(out[p - start], value(v))
    return out


@pytest.fixture
def peaks(tmp_path):
    p = tmp_path / "peaks.bed"
    feats = [("chr1", 10, 30, "a", 2.5, "+"), ("chr1", 25, 60, "b", 4.0, "-"),
             ("chr1", 90, 95, "a", 1.0, "+")]
    p.write_text("".join("\t".join(map(str, f)) + "\n" for f in feats))
    return str(p), feats


@pytest.mark.parametrize("storage", STORAGES)
def test_bed_modes(peaks, storage):
    path, feats = peaks
    roi = pd.DataFrame({"chrom": ["chr1"], "start": [0], "end": [100], "strand": ["+"]})
    quads = [(c, s, e, (n, sc)) for c, s, e, n, sc, _ in feats]
    binary = Cover.create_from_bed("b", path, roi=roi, storage=storage)
    np.testing.assert_array_equal(binary[0][0][:, 0, 0], bed_oracle(quads, "chr1", 0, 100, lambda v: 1))
    score = Cover.create_from_bed("s", path, roi=roi, mode="score", storage=storage)
    np.testing.assert_array_equal(score[0][0][:, 0, 0],
                                  bed_oracle(quads, "chr1", 0, 100, lambda v: v[1]))
    cat = Cover.create_from_bed("c", path, roi=roi, mode="name_category", storage=storage)
    assert cat.conditions == ["a", "b"]
    # one category per base, as Janggu: where a (10-30) and b (25-60) overlap, b, the
    # later line, wins (one-hot labels stay one-hot)
    want = np.zeros((100, 2), "float32")
    want[10:25, 0] = want[90:95, 0] = 1
    want[25:60, 1] = 1
    np.testing.assert_array_equal(cat[0][0][:, 0, :], want)
    sc = Cover.create_from_bed("sc", path, roi=roi, mode="categorical", storage=storage)
    assert sc.shape[-1] == 3  # scores 1.0, 2.5, 4.0, in numeric order
    want = np.zeros((100, 3), "float32")
    want[10:25, 1] = want[25:60, 2] = want[90:95, 0] = 1
    np.testing.assert_array_equal(sc[0][0][:, 0, :], want)


def test_bed_resolution_and_minoverlap(peaks):
    path, feats = peaks
    roi = pd.DataFrame({"chrom": ["chr1"], "start": [0], "end": [100]})
    quads = [(c, s, e, 1) for c, s, e, *_ in feats]
    base = bed_oracle(quads, "chr1", 0, 100, lambda v: 1).reshape(10, 10)
    cov = Cover.create_from_bed("b", path, roi=roi, resolution=10)
    np.testing.assert_array_equal(cov[0][0][:, 0, 0], base.max(1))
    half = Cover.create_from_bed("b", path, roi=roi, resolution=10, minoverlap=0.5)
    # Janggu's rule: minoverlap is a fraction of the window (0-100), not of each bin
    want = base.max(1) if base.mean() >= 0.5 else np.zeros(10)
    np.testing.assert_array_equal(half[0][0][:, 0, 0], want.astype("float32"))


def test_bed_minoverlap_is_a_fraction_of_the_window(tmp_path):
    """Hand-worked: a feature covering 40% of window 0-100 does not count for it (the
    per-bin rule would mark bins 0-3); one covering 60% of window 100-200 does."""
    bed = tmp_path / "f.bed"
    bed.write_text("chr1\t0\t40\nchr1\t100\t160\n")
    roi = pd.DataFrame({"chrom": ["chr1", "chr1"], "start": [0, 100], "end": [100, 200]})
    cov = Cover.create_from_bed("b", str(bed), roi=roi, binsize=100, resolution=10,
                                minoverlap=0.5)
    np.testing.assert_array_equal(cov[:][:, :, 0, 0], [[0] * 10, [1] * 6 + [0] * 4])
    every = Cover.create_from_bed("b", str(bed), roi=roi, binsize=100, resolution=1,
                                  minoverlap=0.5)  # resolution 1 too
    np.testing.assert_array_equal(every[:][:, :, 0, 0].sum(1), [0, 60])


def test_bed_score_mode_needs_scores(tmp_path):
    p = tmp_path / "three.bed"
    p.write_text("chr1\t1\t5\n")
    with pytest.raises(ArgumentError, match="three.bed.*score"):
        Cover.create_from_bed("s", str(p), roi=str(p), mode="score")


def test_gff_and_gtf_files_are_bed_features(tmp_path):
    """Janggu read create_from_bed's files through pybedtools, GFF/GTF included; genozarr
    read every file as BED ("start must be a non-negative integer, got 'src'"). Hand-worked:
    the gene 11-20 (1-based, closed) paints bases 10-19 with its score 5; the exon only
    with feature='*'; the names are the categories of name_category."""
    gtf = tmp_path / "genes.gtf"
    gtf.write_text('chr1\tsrc\tgene\t11\t20\t5\t+\t.\tgene_id "a"; gene_name "A";\n'
                   'chr1\tsrc\texon\t25\t27\t2\t+\t.\tgene_id "a";\n')
    sizes = {"chr1": 100}
    genes = Cover.create_from_bed("b", str(gtf), roi="chr1:0-30", mode="score",
                                  genomesize=sizes)
    np.testing.assert_array_equal(genes[0][0, :, 0, 0], [0] * 10 + [5] * 10 + [0] * 10)
    every = Cover.create_from_bed("b", str(gtf), roi="chr1:0-30", mode="score",
                                  genomesize=sizes, feature="*")
    np.testing.assert_array_equal(every[0][0, :, 0, 0],
                                  [0] * 10 + [5] * 10 + [0] * 4 + [2] * 3 + [0] * 3)
    names = Cover.create_from_bed("b", str(gtf), roi="chr1:0-30", mode="name_category",
                                  genomesize=sizes, feature="*")
    assert names.conditions == ["A", "a"]
    np.testing.assert_array_equal(names[0][0, :, 0].sum(0), [10, 3])
    with pytest.raises(ArgumentError, match="genes.gtf: a GFF/GTF file has no bedGraph"):
        Cover.create_from_bed("b", str(gtf), roi="chr1:0-30", mode="bedgraph",
                              genomesize=sizes)
    # feature= is in the cache key (a store cached for the genes was reused for '*')
    for feature, total in ((None, 50), ("*", 56), ("exon", 6)):
        cached = Cover.create_from_bed("b", str(gtf), roi="chr1:0-30", mode="score",
                                       genomesize=sizes, feature=feature, cache=True,
                                       storage="zarr", store=str(tmp_path / "b.zarr"))
        assert cached[:].sum() == total, feature
    # a folder named with '#' is part of a local path, not a URL's fragment
    (tmp_path / "run#1").mkdir()
    moved = tmp_path / "run#1" / "genes.gtf"
    moved.write_text(gtf.read_text())
    np.testing.assert_array_equal(
        Cover.create_from_bed("b", str(moved), roi="chr1:0-30", mode="score",
                              genomesize=sizes)[:], genes[:])


def test_a_file_without_features_has_no_categories_and_says_which(tmp_path):
    """An empty BED file in a category mode said only "mode 'score_category' needs
    categories"."""
    empty = tmp_path / "empty.bed"
    empty.write_text("# only a comment\n")
    for mode in ("score_category", "name_category"):
        with pytest.raises(ArgumentError, match=r"empty\.bed: the file has no features, so "
                                                f"no categories for mode='{mode}'"):
            Cover.create_from_bed("c", str(empty), roi="chr1:0-30", mode=mode)


def test_every_new_store_warns_of_a_chromosome_without_windows(sim_data):
    """The warning was remembered by id(store): a later store given a collected one's
    id never warned, and the record grew by a store per dataset."""
    import gc
    import warnings

    from genozarr import dataset as dataset_module

    roi = pd.DataFrame({"chrom": ["chr1"], "start": [0], "end": [2000]})
    before = len(dataset_module._TOLD_NO_WINDOWS)
    for _ in range(12):
        cov = Cover.create_from_bigwig("bw", sim_data["bigwigs"][0], roi=roi, binsize=1000)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            cov["1", 0, 100]
            cov["1", 0, 100]  # once per store and chromosome
        assert sum("'1' has no windows in store" in str(w.message) for w in caught) == 1
        del cov
        gc.collect()
    assert len(dataset_module._TOLD_NO_WINDOWS) <= before


def test_interval_access(sim_data):
    path = sim_data["bigwigs"][0]
    roi = pd.DataFrame({"chrom": ["chr1"], "start": [0], "end": [4000], "strand": ["+"]})
    for whole in (False, True):
        cov = Cover.create_from_bigwig("bw", path, roi=roi, binsize=1000,
                                       store_whole_genome=whole)
        truth = bigwig_values(path, "chr1", 900, 1300)
        np.testing.assert_allclose(cov["chr1", 900, 1300][0][:, 0, 0], truth)
        np.testing.assert_allclose(cov["chr1", 900, 1300, "-"][0][:, 0, 0], truth[::-1])
    # outside stored data (partial layout): padded with zeros
    cov = Cover.create_from_bigwig("bw", path, roi=roi, binsize=1000)
    np.testing.assert_array_equal(cov["chr1", 5000, 5100], 0)
    with pytest.warns(UserWarning, match="'chr9' has no windows in store"):
        np.testing.assert_array_equal(cov["chr9", 0, 100], 0)  # as Janggu: no error
    # a whole-genome store knows its chromosomes
    whole = Cover.create_from_bigwig("bw", path, roi=roi, binsize=1000,
                                     store_whole_genome=True)
    with pytest.raises(ChromosomeNotFoundError, match="'chr9' is not in store"):
        whole["chr9", 0, 100]
    # past a whole-genome store's chromosome end (chr1: 12,000 bp): refused, as such a
    # region is; an interval running past it is padded. The partial layout pads outside
    # its windows, also there (its lengths may be the windows' reach, 0 for BED inputs)
    with pytest.raises(RegionError, match=r"chr1:12000-12100 starts past the end of "
                                          r"chr1 \(length 12000\)"):
        whole["chr1", 12000, 12100]
    np.testing.assert_array_equal(cov["chr1", 12000, 12100], 0)
    bed = Cover.create_from_bed("b", sim_data["roi"], roi=roi, binsize=1000, mode="score")
    assert bed.garray.meta.chroms == {"chr1": 0}  # a BED file has no lengths
    assert bed["chr1", 300, 500].shape == (1, 200, 1, 1)
    edge = whole["chr1", 11950, 12050][0][:, 0, 0]
    np.testing.assert_allclose(edge, np.r_[bigwig_values(path, "chr1", 11950, 12000),
                                           np.zeros(50)])


def test_interval_keys_of_views_read_their_own_windows(sim_data):
    """A view of a partial store (split_train_test, subset, with_windows) reads only its
    own windows by interval, padding elsewhere, as Janggu's subsets: the chr2 test split
    served the chr1 training windows' values. A whole-genome store's views read it all."""
    from genozarr.janggu import split_train_test, subset

    path = sim_data["bigwigs"][0]
    roi = pd.DataFrame({"chrom": ["chr1", "chr2"], "start": [0, 0], "end": [3000, 2000]})
    cov = Cover.create_from_bigwig("bw", path, roi=roi, binsize=1000, stepsize=500)
    train, test = split_train_test(cov, ["chr2"])
    truth1 = bigwig_values(path, "chr1", 900, 1300)
    truth2 = bigwig_values(path, "chr2", 400, 900)
    assert truth1.any() and truth2.any()
    np.testing.assert_allclose(cov["chr1", 900, 1300][0][:, 0, 0], truth1)
    np.testing.assert_array_equal(test["chr1", 900, 1300], 0)
    np.testing.assert_allclose(test["chr2", 400, 900][0][:, 0, 0], truth2)
    np.testing.assert_allclose(train["chr1", 900, 1300][0][:, 0, 0], truth1)
    np.testing.assert_array_equal(train["chr2", 400, 900], 0)
    np.testing.assert_array_equal(subset(cov, include_regions="chr2")["chr1", 900, 1300], 0)
    # one window of chr1, [1000, 2000): the interval's bases before it are padding
    one = cov.with_windows(cov.gindexer[[2]])
    assert (one.gindexer.starts[0], one.gindexer.ends[0]) == (1000, 2000)
    np.testing.assert_allclose(one["chr1", 900, 1300][0][:, 0, 0],
                               np.r_[np.zeros(100), truth1[100:]])
    whole = Cover.create_from_bigwig("bw", path, roi=roi, binsize=1000, stepsize=500,
                                     store_whole_genome=True)
    np.testing.assert_allclose(split_train_test(whole, ["chr2"])[1]["chr1", 900, 1300][0][:, 0, 0],
                               truth1)


@pytest.mark.parametrize("whole", [False, True])
def test_index_arrays_of_several_axes(sim_data, whole):
    """An integer array key of any shape selects as numpy does on the whole batch."""
    roi = pd.DataFrame({"chrom": ["chr1"], "start": [0], "end": [4000], "strand": ["+"]})
    cov = Cover.create_from_bigwig("bw", sim_data["bigwigs"][0], roi=roi, binsize=500,
                                   store_whole_genome=whole)
    full = cov[:]
    for key in (np.array([[0, 1], [7, 3]]), np.array([[[2]], [[5]]]), True):
        np.testing.assert_array_equal(cov[key], full[key])


def test_mitochondrial_names_are_matched_as_the_chr_prefix(tmp_path):
    """UCSC 'chrM' regions over Ensembl 'MT' data: chrom_map='auto' reads MT, as it reads
    '1' for 'chr1'; without it the mismatch is an error naming both. The mitochondrial
    coverage was served as zeros with a warning that the file lacks 'chrM'."""
    bw_path = str(tmp_path / "mt.bw")
    bw = pyBigWig.open(bw_path, "w")
    bw.addHeader([("1", 1000), ("MT", 500)])
    bw.addEntries(["1", "MT"], [0, 0], ends=[100, 100], values=[1.0, 2.0])
    bw.close()
    bed = tmp_path / "mt.bed"
    bed.write_text("1\t0\t20\n" "MT\t10\t30\n")
    roi = pd.DataFrame({"chrom": ["chr1", "chrM"], "start": [0, 0], "end": [50, 50]})
    want = np.array([bigwig_values(bw_path, "1", 0, 50), bigwig_values(bw_path, "MT", 0, 50)])
    got = Cover.create_from_bigwig("mt", bw_path, roi=roi, chrom_map="auto")[:]
    np.testing.assert_allclose(got[:, :, 0, 0], want)
    painted = Cover.create_from_bed("b", str(bed), roi=roi, chrom_map="auto")[:][:, :, 0, 0]
    np.testing.assert_array_equal(painted.nonzero()[1][painted.nonzero()[0] == 1],
                                  np.arange(10, 30))
    mito = roi.iloc[[1]]
    for build in (lambda: Cover.create_from_bigwig("mt", bw_path, roi=mito),
                  lambda: Cover.create_from_bed("b", str(bed), roi=mito)):
        with pytest.raises(ChromosomeNamingError, match="'chrM' vs 'MT'"):
            build()


def test_naming_and_bounds_errors(sim_data, tmp_path):
    path = sim_data["bigwigs"][0]
    renamed = pd.DataFrame({"chrom": ["1"], "start": [0], "end": [100]})
    with pytest.raises(ChromosomeNamingError, match=r"'1' vs 'chr1'"):
        Cover.create_from_bigwig("bw", path, roi=renamed)
    ok = Cover.create_from_bigwig("bw", path, roi=renamed, chrom_map="auto")
    np.testing.assert_allclose(ok[0][0][:, 0, 0], bigwig_values(path, "chr1", 0, 100))
    from genozarr.genome import MissingChromosomeWarning

    with pytest.warns(MissingChromosomeWarning, match="chrZ"):  # zeros, as Janggu
        absent = Cover.create_from_bigwig("bw", path, roi=pd.DataFrame(
            {"chrom": ["chrZ"], "start": [0], "end": [10]}))
    assert absent[:].shape == (1, 10, 1, 1) and not absent[:].any()
    with pytest.raises(RegionError, match="starts past the end"):
        Cover.create_from_bigwig("bw", path, roi=pd.DataFrame(
            {"chrom": ["chr2"], "start": [9000], "end": [9100]}))
    with pytest.raises(ArgumentError, match="not divisible by resolution"):
        Cover.create_from_bigwig("bw", path, roi=renamed, chrom_map="auto", binsize=100,
                                 resolution=30)


def test_cache_hit_miss_and_crash(sim_data, tmp_path, monkeypatch):
    import shutil

    import genozarr.ingest as ingest

    src = tmp_path / "sig.bw"
    shutil.copy(sim_data["bigwigs"][0], src)
    roi = pd.DataFrame({"chrom": ["chr1"], "start": [0], "end": [2000]})
    store = tmp_path / "cached.zarr"
    kw = dict(roi=roi, binsize=500, cache=True, store=store, storage="zarr")
    first = Cover.create_from_bigwig("bw", str(src), **kw)
    calls = []
    real = ingest.build_store
    monkeypatch.setattr(ingest, "build_store", lambda *a, **k: calls.append(1) or real(*a, **k))
    again = Cover.create_from_bigwig("bw", str(src), **kw)
    np.testing.assert_array_equal(first[:], again[:])
    assert calls == []  # cache hit: nothing rebuilt
    # one changed value in the input -> different content hash -> rebuilt with new values
    with pyBigWig.open(str(src)) as bw:
        entries = bw.intervals("chr1")
        chroms = bw.chroms()
    changed = tmp_path / "changed.bw"
    with pyBigWig.open(str(changed), "w") as out:
        out.addHeader(list(chroms.items()))
        for chrom in chroms:
            ivs = (pyBigWig.open(str(src)).intervals(chrom)) or []
            if chrom == "chr1":
                ivs = [(s, e, v + 100.0 if i == 0 else v) for i, (s, e, v) in enumerate(ivs)]
            if ivs:
                out.addEntries([chrom] * len(ivs), [s for s, _, _ in ivs],
                               ends=[e for _, e, _ in ivs], values=[v for *_, v in ivs])
    shutil.copy(changed, src)
    rebuilt = Cover.create_from_bigwig("bw", str(src), **kw)
    assert calls == [1]
    s0, e0, _ = entries[0]
    assert rebuilt[0][s0, 0, 0] == pytest.approx(first[0][s0, 0, 0] + 100.0)


def test_overwrite_rebuilds_a_cached_store(sim_data, tmp_path):
    """``overwrite=True`` builds and publishes a new store even when one with the same cache
    key exists (issue: overwrite rebuilds); without it the cached store is reused."""
    import os

    roi = pd.DataFrame({"chrom": ["chr1"], "start": [0], "end": [2000]})
    store = tmp_path / "cached.zarr"
    kw = dict(roi=roi, binsize=500, cache=True, store=store, storage="zarr")
    first = Cover.create_from_bigwig("bw", sim_data["bigwigs"][0], **kw)
    inode = os.stat(store).st_ino
    Cover.create_from_bigwig("bw", sim_data["bigwigs"][0], **kw)
    assert os.stat(store).st_ino == inode  # reused
    again = Cover.create_from_bigwig("bw", sim_data["bigwigs"][0], overwrite=True, **kw)
    assert os.stat(store).st_ino != inode  # a new directory was published
    np.testing.assert_array_equal(again[:], first[:])
    # the replaced version stays while `first` reads it, and goes once nobody does
    import gc

    from genozarr.store.write import sweep_stale

    expected_first = first[:]
    del first
    gc.collect()
    sweep_stale(store)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    np.testing.assert_array_equal(again[:], expected_first)


@pytest.mark.parametrize("nan_to_num", [True, False])
@pytest.mark.parametrize("whole", [False, True])
def test_flank_past_the_chromosome_start_is_padded_on_the_left(sim_data, whole, nan_to_num):
    """Janggu clipped such a window and left-aligned it; genozarr pads, positions aligned.
    The padding is the store's pad value (0) with ``nan_to_num=False`` too: NaN marks a
    gap in the data, not bases outside the chromosome."""
    path = sim_data["bigwigs"][0]
    roi = pd.DataFrame({"chrom": ["chr1", "chr2"], "start": [0, 7800], "end": [200, 8000],
                        "strand": ["+", "-"]})
    cov = Cover.create_from_bigwig("bw", path, roi=roi, binsize=200, flank=50,
                                   store_whole_genome=whole, nan_to_num=nan_to_num,
                                   genomesize=sim_data["chrom_sizes"])
    assert cov.shape == (2, 300, 1, 1)
    first = cov[0][0][:, 0, 0]
    np.testing.assert_array_equal(first[:50], 0)
    np.testing.assert_allclose(first[50:], bigwig_values(path, "chr1", 0, 250,
                                                         nan_to_num=nan_to_num), rtol=1e-6)
    # chr2 (8000 bp) minus strand: window [7750, 8050) reversed; the 50 bases past the end are 0
    last = cov[1][0][:, 0, 0][::-1]
    np.testing.assert_allclose(last[:250], bigwig_values(path, "chr2", 7750, 8000,
                                                         nan_to_num=nan_to_num), rtol=1e-6)
    np.testing.assert_array_equal(last[250:], 0)


@pytest.mark.parametrize("nan_to_num", [True, False])
@pytest.mark.parametrize("whole", [False, True])
def test_last_bin_of_a_chromosome_keeps_its_data(tmp_path, whole, nan_to_num):
    """A 5,003 bp chromosome covered by 2.0 (and a gap), at 10 bp: the last bin holds 3
    bases of data and 7 of padding, mean 3 * 2.0 / 10 = 0.6 in both layouts, also where
    gaps stay NaN (before, a whole-genome store made the bin NaN, and an export left the
    chromosome's last 3 bases out)."""
    bw_path = tmp_path / "a.bw"
    with pyBigWig.open(str(bw_path), "w") as bw:
        bw.addHeader([("chr1", 5003)])
        bw.addEntries(["chr1", "chr1"], [0, 4100], ends=[4000, 5003], values=[2.0, 2.0])
    roi = pd.DataFrame({"chrom": ["chr1"], "start": [3900], "end": [5003]})
    cov = Cover.create_from_bigwig("m", str(bw_path), roi=roi, binsize=100, resolution=10,
                                   store_whole_genome=whole, nan_to_num=nan_to_num,
                                   zero_padding=True)
    assert cov.shape == (12, 10, 1, 1)
    values = np.concatenate([cov[i][0][:, 0, 0] for i in range(len(cov))])
    gap = 0.0 if nan_to_num else np.nan
    want = np.r_[np.full(10, 2.0), np.full(10, gap), np.full(90, 2.0), 0.6,
                 np.zeros(9)]  # the last window: one bin of data, then the window's padding
    np.testing.assert_allclose(values, want, rtol=1e-6)


def test_short_window_reads_through_pybigtools_equal_pybigwig(sim_data, roi, monkeypatch):
    """Windows up to ``WINDOW_MAX_BASES`` are decoded by pybigtools (partial layout),
    longer reads by pyBigWig: values, NaN included, are exactly those of pyBigWig."""
    pytest.importorskip("pybigtools")
    import genozarr.io.bigwig as gbw

    rng = np.random.default_rng(5)
    with pyBigWig.open(sim_data["bigwigs"][0]) as bw:
        sizes = bw.chroms()
    chroms = sorted(sizes)
    calls = []
    real = gbw._window_values
    monkeypatch.setattr(gbw, "_window_values",
                        lambda *a: calls.append(a) or real(*a))
    for path in sim_data["bigwigs"]:
        with pyBigWig.open(path) as bw:
            for _ in range(200):
                chrom = str(rng.choice(chroms))
                length = int(rng.integers(1, 3000))
                start = int(rng.integers(0, sizes[chrom] - length))
                truth = bw.values(chrom, start, start + length, numpy=True)
                got = gbw.read_values(path, chrom, start, start + length, nan_to_num=False)
                assert got.dtype == np.float32
                np.testing.assert_array_equal(got, truth.astype(np.float32))
    assert len(calls) == 400  # every read above went through pybigtools
    kw = {"roi": roi, "binsize": 200, "genomesize": sim_data["chrom_sizes"]}
    fast = Cover.create_from_bigwig("bw", sim_data["bigwigs"], **kw)[:]
    monkeypatch.setattr(gbw, "WINDOW_MAX_BASES", 0)  # pyBigWig only
    np.testing.assert_array_equal(fast, Cover.create_from_bigwig("bw", sim_data["bigwigs"],
                                                                 **kw)[:])


@pytest.mark.parametrize("resolution", [1, 3, 50])
def test_count_5prime_strands_and_bins_against_a_pysam_loop(sim_data, resolution):
    """count_5prime on windows that start inside a chromosome, run past its end or hold
    no read: forward and reverse 5' ends per bin equal a pysam loop summed per bin."""
    import pysam

    from genozarr.io.bam import count_5prime

    bam = sim_data["bam"]
    with pysam.AlignmentFile(bam) as f:
        sizes = dict(zip(f.references, f.lengths))
    total = 0
    for chrom, size in sizes.items():
        for start, end in ((0, size), (size // 3 + 1, size + 37), (size - 5, size)):
            got = count_5prime(bam, chrom, start, end, resolution=resolution)
            nbins = -(-(end - start) // resolution)
            truth = np.zeros((nbins * resolution, 2), dtype=np.int64)
            truth[:min(end, size) - start] = brute_force_5prime(bam, chrom, start, min(end, size))
            truth = truth.reshape(nbins, resolution, 2).sum(1)
            assert got.shape == (nbins, 2) and got.dtype == np.int32
            np.testing.assert_array_equal(got, truth)
            total += int(truth.sum())
    assert total > 100


def test_count_5prime_on_a_genome_of_many_contigs_looks_names_up_once(tmp_path):
    """Each window's contig was looked up in pysam's tuple of names, which pysam builds at
    each access (a pass over every contig per window: hours for 1e5 windows over 100,000
    contigs), and the first check of a BAM read the tuples once per contig with reads
    (quadratic). The table of names is now made once per handle. Counts of 3,000 contigs'
    windows against a pysam loop; an unknown name is refused by name."""
    from genozarr.io import bam as bam_io

    rng = np.random.default_rng(11)
    sizes = {f"ctg{i}": 300 for i in range(3000)}
    reads = [{"chrom": f"ctg{c}", "start": int(s), "length": 20, "flag": int(f)}
             for c, s, f in zip(rng.integers(0, 3000, 4000), rng.integers(0, 280, 4000),
                                rng.choice([0, 16], 4000))]
    path = write_bam(tmp_path / "many.bam", sizes, reads)
    for chrom in ("ctg0", "ctg1499", "ctg2999"):
        got = bam_io.count_5prime(path, chrom, 0, 300)
        np.testing.assert_array_equal(got, brute_force_5prime(path, chrom, 0, 300))
    from genozarr.io._handles import get_handle

    handle = get_handle("bam", path)
    tids, lengths = bam_io._references(handle)
    assert bam_io._references(handle)[0] is tids  # (made once for the handle)
    assert tids["ctg2999"] == 2999 and lengths[2999] == 300 and len(tids) == 3000
    with pytest.raises(ChromosomeNotFoundError, match=r"many.bam: chromosome 'ctgX' not in"):
        bam_io.count_5prime(path, "ctgX", 0, 10)


@pytest.mark.parametrize("resolution", [1, 10, None])
@pytest.mark.parametrize("collapser", ["sum", "max", np.median])
def test_windows_of_a_span_collapsed_together_equal_one_by_one(sim_data, resolution,
                                                                 collapser, monkeypatch):
    """The windows of one read span are gathered and collapsed in one call (a call per
    window cost as much as a 1 kb window's collapse). Overlapping, strided and
    zero-padded windows of two BigWigs give bit for bit what the window-by-window path
    gives, and the sum at 10 bp equals numpy over pyBigWig's values."""
    from genozarr import ingest

    kw = dict(roi=sim_data["roi"], binsize=200, stepsize=70, flank=10, resolution=resolution,
              collapser=collapser)
    files = list(sim_data["bigwigs"])
    together = Cover.create_from_bigwig("t", files, conditions=["a", "b"], **kw)
    monkeypatch.setattr(ingest, "_finish_windows", lambda *args: list(args[3]))
    alone = Cover.create_from_bigwig("o", files, conditions=["a", "b"], **kw)
    np.testing.assert_array_equal(together[:], alone[:])
    assert together[:].dtype == alone[:].dtype
    if resolution == 10 and collapser == "sum":
        gi = together.gindexer
        with pyBigWig.open(files[1]) as bw:
            sizes = bw.chroms()
        full = np.flatnonzero(gi.ends - gi.starts == 200)  # (not padded at a region end)
        assert len(full) > 20
        for i in full[::5]:
            chrom, lo, hi = gi.chrs[i], int(gi.starts[i]) - 10, int(gi.ends[i]) + 10
            want = np.zeros(hi - lo)
            a, b = max(lo, 0), min(hi, sizes[chrom])
            want[a - lo:b - lo] = bigwig_values(files[1], chrom, a, b)
            got = together[i][0, :, 0, 1]
            if gi.strand[i] == "-":
                got = got[::-1]
            np.testing.assert_allclose(got, want.reshape(-1, 10).sum(axis=1), rtol=1e-5)


FORK_WHILE_LOOKING_UP = r"""
import multiprocessing as mp, sys, threading
from genozarr.io import bam

path = sys.argv[1]
print("parent", int(bam.count_5prime(path, "chr1", 0, 1000).sum()), flush=True)
held, release = threading.Event(), threading.Event()

def holder():
    with bam._reference_lock:  # another thread inside a lookup when the process forks
        held.set()
        release.wait()

threading.Thread(target=holder, daemon=True).start()
held.wait()

def child(q):
    q.put(int(bam.count_5prime(path, "chr1", 0, 1000).sum()))

ctx = mp.get_context("fork")
q = ctx.Queue()
p = ctx.Process(target=child, args=(q,))
p.start()
release.set()
p.join(30)
print("hung" if p.is_alive() else f"child {q.get()}")
if p.is_alive():
    p.kill()
"""


def test_a_process_forked_during_a_contig_lookup_reads_its_bam(sim_data, tmp_path):
    """The table of a BAM's contig names has a lock of its own: a process forked while
    another thread held it waited for ever at its first read (the parent's lock came
    held into the child). The child starts with a fresh lock and table, and counts what
    the parent counts."""
    import subprocess
    import sys

    script = tmp_path / "fork.py"
    script.write_text(FORK_WHILE_LOOKING_UP)
    run = subprocess.run([sys.executable, str(script), sim_data["bam"]], capture_output=True,
                         text=True, timeout=120, check=False)
    lines = run.stdout.split()
    assert lines[:1] == ["parent"] and len(lines) == 4, run.stdout + run.stderr
    assert lines[2:] == ["child", lines[1]] and int(lines[1]) > 0, run.stdout


@pytest.fixture(scope="module")
def long_bigwig(tmp_path_factory):
    """A BigWig with a chromosome longer than a whole-genome read's largest range (64 Ki
    bins), so that shuffled windows are read chunk by chunk: runs of random values with
    gaps (no data) between them."""
    rng = np.random.default_rng(11)
    lengths = {"a": 800_000, "b": 30_000}
    path = str(tmp_path_factory.mktemp("long") / "long.bw")
    with pyBigWig.open(path, "w") as bw:
        bw.addHeader(list(lengths.items()))
        for chrom, n in lengths.items():
            bounds = np.unique(rng.integers(0, n, 2_000))
            starts, ends = bounds[:-1:2], bounds[1::2]
            bw.addEntries([chrom] * len(starts), starts.tolist(), ends=ends.tolist(),
                          values=rng.random(len(starts)).round(3).tolist())
    return path, lengths


@pytest.mark.parametrize("storage", ["ndarray", "zarr", "zarr, kept in memory"])
@pytest.mark.parametrize("trial", range(4))
def test_whole_genome_windows_against_pybigwig(long_bigwig, tmp_path, storage, trial):
    """Whole-genome reads of random windows (binsize, step, flank, resolution, strands and
    zero-padded region ends drawn with a seed) for every kind of key, including windows
    scattered along a long chromosome and read chunk by chunk, against pyBigWig's values
    binned with numpy."""
    from genozarr import open_dataset, set_options

    path, lengths = long_bigwig
    rng = np.random.default_rng(trial)
    res = int(rng.choice([1, 5]))
    binsize, flank = res * int(rng.integers(20, 200)), res * int(rng.integers(0, 8))
    step = int(rng.choice([binsize, binsize // 2 or res, binsize * 3]))
    step -= step % res
    rows = []
    for chrom, n in lengths.items():  # bounds on bin boundaries; the last window partial
        start = res * int(rng.integers(0, n // 40 // res))
        last = (n - n // 32 - start - binsize) // step * step + start
        end = last + res * int(rng.integers(1, binsize // res))
        rows.append((chrom, start, end, str(rng.choice(["+", "-"]))))
    regions = pd.DataFrame(rows, columns=["chrom", "start", "end", "strand"])
    with set_options(chunk_bytes=4096, progress=False):  # chunks of 1,024 float32 bins
        cover = Cover.create_from_bigwig(
            "c", [path], roi=regions, binsize=binsize, stepsize=step, flank=flank,
            resolution=res, collapser="mean", storage=storage.split(",")[0],
            store=str(tmp_path / "c.zarr"), store_whole_genome=True)
    if storage.startswith("zarr"):
        cover = open_dataset(str(tmp_path / "c.zarr"),
                             cache="memory" if "memory" in storage else None)
    gi, n = cover.gindexer, len(cover)
    truth = {c: bigwig_values(path, c, 0, length) for c, length in lengths.items()}

    def expected(idx):
        out = []
        for i in idx:
            lo = int(gi.starts[i]) - flank
            values = np.zeros(binsize + 2 * flank, "float32")
            # data up to the region end + flank (a partial window), zero outside
            a, b = max(lo, 0), min(int(gi.ends[i]) + flank, lengths[gi.chrs[i]])
            values[a - lo:b - lo] = truth[gi.chrs[i]][a:b]
            binned = values.reshape(-1, res).mean(axis=1)
            out.append(binned[::-1] if gi.strand[i] == "-" else binned)
        return np.stack(out)[:, :, None, None]

    on_a = np.flatnonzero(gi.chrs == "a")
    assert gi.ends[on_a[-1]] < gi.starts[on_a[-1]] + binsize  # a partial window
    assert (gi.starts[on_a[-1]] - gi.starts[on_a[0]]) // res > 1 << 16  # a long range of a
    scattered = rng.choice(on_a, 40).tolist()
    for key in [slice(0, 9), slice(None), scattered, [*scattered, n - 1], n // 2,
                [on_a[-1], on_a[0], on_a[-1]]]:
        idx = np.atleast_1d(np.arange(n)[key])
        np.testing.assert_allclose(cover[key], expected(idx), rtol=1e-6, atol=1e-6,
                                   err_msg=str(key))
    batch = cover[0:9]  # the caller's own array: changing it changes no later read
    batch[...] = -1
    np.testing.assert_allclose(cover[0:9], expected(range(9)), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("storage", ["ndarray", "zarr"])
def test_slices_of_windows_in_any_order_equal_pybigwig(sample_files, tmp_path, storage):
    """A whole-genome dataset reads a slice of consecutive windows at one step on one
    chromosome as one range of bins, and others window by window: every slice of windows
    in an order with runs of every kind (a tiling, overlapping windows, a changing step,
    a repeated window, steps back, chromosome changes, minus strands, a window past the
    chromosome end) equals pyBigWig's values of its windows. (Each of the plan's checks
    taken out makes this fail.)"""
    from genozarr import GenomicIndexer

    path = sample_files["bigwig_a"]
    cov = Cover.create_from_bigwig("c", path, binsize=100, resolution=1,
                                   store_whole_genome=True, storage=storage,
                                   store=str(tmp_path / "c.zarr") if storage == "zarr" else None)
    starts = ([0, 100, 200, 300]  # a tiling
              + [1000, 1050, 1100, 1150]  # overlapping windows
              + [2000, 2100, 2300, 2400]  # the step changes
              + [500, 500, 500]  # one window again and again
              + [900, 800, 700])  # steps back
    chroms = ["chr1"] * len(starts) + ["chr2"] * 3 + ["chr1"] * 2 + ["chr2"] + ["chr1"] * 3
    starts += ([100, 200, 300] + [5000, 5100] + [19950]  # the last runs past chr2's end
               + [3000, 2900, 2800])  # a run of steps back alone
    strands = ["+"] * len(starts)
    strands[5] = strands[18] = "-"
    gi = GenomicIndexer(np.array(chroms, dtype=object), np.array(starts),
                        np.array(starts) + 100, np.array(strands, dtype=object), 100, 100)
    cov.gindexer = gi
    truth = np.stack([bigwig_values(path, c, s, s + 100) for c, s in zip(chroms, starts)])
    minus = np.array(strands) == "-"
    truth[minus] = truth[minus][:, ::-1]  # minus-strand windows are served reversed
    n = len(starts)
    for a in range(n):
        for b in range(a + 1, n + 1):
            np.testing.assert_array_equal(cov[a:b][:, :, 0, 0], truth[a:b], err_msg=f"{a}:{b}")
    # the in-memory store's batch is a copy: writing to it leaves the store as it was
    batch = cov[0:4]
    batch[...] = -1
    np.testing.assert_array_equal(cov[0:4][:, :, 0, 0], truth[0:4])


@pytest.mark.parametrize("storage", ["ndarray", "zarr"])
def test_index_lists_spanning_a_run_but_out_of_order_equal_pybigwig(sample_files, tmp_path,
                                                                    storage):
    """A list of windows whose last is ``k - 1`` after its first, as in a batch read in
    order, but that is not that run (swapped, repeated or skipped windows) is read window
    by window: each row equals pyBigWig's values of its own window."""
    path = sample_files["bigwig_a"]
    cov = Cover.create_from_bigwig("c", path, binsize=100, resolution=1,
                                   store_whole_genome=True, storage=storage,
                                   store=str(tmp_path / "c.zarr") if storage == "zarr" else None)
    starts = cov.gindexer.starts
    chrom = cov.gindexer.chrs
    assert (chrom[:12] == chrom[0]).all()
    for idx in ([0, 2, 1, 3], [4, 4, 6, 7], [3, 5, 4, 6, 7], [8, 10, 9, 11, 10, 11],
                [0, 1, 2, 3]):
        truth = np.stack([bigwig_values(path, chrom[i], starts[i], starts[i] + 100) for i in idx])
        np.testing.assert_array_equal(cov[idx][:, :, 0, 0], truth, err_msg=str(idx))
        np.testing.assert_array_equal(cov[np.array(idx)][:, :, 0, 0], truth, err_msg=str(idx))


@pytest.mark.parametrize("block", [2, 3, 1 << 20])
def test_genome_plan_runs_against_a_window_by_window_walk(monkeypatch, block):
    """The runs and steps of a whole-genome read plan, for random windows, against a
    plain loop over the windows; with the steps compared in blocks of 2 and 3 windows
    too (the block edges inside runs)."""
    from genozarr import dataset
    from genozarr.dataset import _GenomePlan

    monkeypatch.setattr(dataset, "_STEP_BLOCK", block)
    rng = np.random.default_rng(3)
    for trial in range(200):
        n = int(rng.integers(1, 40))
        chrom = rng.integers(0, 3, size=n)
        if trial % 2:  # long runs on one chromosome, mostly at one step
            chrom = np.sort(chrom)
        steps = rng.choice([0, 5, 5, 5, 5, -5], size=n) if trial % 3 else np.full(n, 5)
        first = np.cumsum(steps)
        plan = _GenomePlan.make(first, chrom, ["a", "b", "c"], None)
        runs = [0] + [i for i in range(1, n) if chrom[i] != chrom[i - 1]] + [n]
        np.testing.assert_array_equal(plan.run_starts, runs)
        for r, (s, e) in enumerate(itertools.pairwise(runs)):
            diffs = {int(first[i + 1] - first[i]) for i in range(s, e - 1)}
            if len(diffs) > 1 or (diffs and min(diffs) < 0):
                assert plan.run_step(r) == -1
            else:
                assert plan.run_step(r) == (diffs.pop() if diffs else 0)
            for a in range(s, e):  # ranges within the run, and one past its end
                for b in range(a + 1, min(e, a + 4) + 1 + (e < n)):
                    got = plan.run_range(a, b)
                    if b > e or (b - a > 1 and plan.run_step(r) < 0):
                        assert got is None
                    else:
                        step = plan.run_step(r) if b - a > 1 else 0
                        assert got == ("abc"[chrom[a]], int(first[a]), step)


@pytest.mark.parametrize("whole", [False, True])
def test_paired_5prime_counts_both_mates_as_janggu(tmp_path, whole):
    """pairedend='5prime' (the default) counts both reads of each proper pair, as Janggu
    0.10.2's BamLoader does (it skips read 2 only for 'midpoint'): there each read counts
    at its fragment's 5' end on its strand, min(start, mate start) forward and
    max(end, mate start + read length) reverse, one past the base (genozarr: the base,
    reference_end - 1, a documented difference); for pairs whose mates do not overhang
    each other, as these, that is each read's own 5' base. Against that loop over the
    file, in both layouts."""
    from genozarr.testing.simulate import simulate_bam

    sizes = {"chr1": 20_000, "chr2": 9_000}
    bam = simulate_bam(tmp_path / "pe.bam", sizes, 3_001, seed=4, paired=True,
                       fragment_length=300)
    janggu = {c: np.zeros((n, 2)) for c, n in sizes.items()}
    read2 = 0
    with pysam.AlignmentFile(bam) as f:
        for r in f:
            if r.flag & (0x4 | 0x100 | 0x800 | 0x200 | 0x400):
                continue
            if r.is_paired:
                if not (r.is_proper_pair and r.next_reference_id == r.reference_id):
                    continue
                read2 += r.is_read2
                pos = max(r.reference_end, r.next_reference_start + r.query_length) - 1 \
                    if r.is_reverse else min(r.reference_start, r.next_reference_start)
            else:
                pos = r.reference_end - 1 if r.is_reverse else r.reference_start
            if 0 <= pos < sizes[r.reference_name]:
                janggu[r.reference_name][pos, int(r.is_reverse)] += 1
    assert sum(w.sum() for w in janggu.values()) > 1_000 and read2 > 500
    kw = ({"roi": None, "genomesize": sizes, "store_whole_genome": True, "storage": "zarr",
           "store": str(tmp_path / "s.zarr")} if whole else
          {"roi": pd.DataFrame({"chrom": ["chr1", "chr2"], "start": [0, 0],
                                "end": [20_000, 9_000]})})
    cov = Cover.create_from_bam("pe", bam, binsize=1000, **kw)
    for chrom, n in sizes.items():
        np.testing.assert_array_equal(cov[chrom, 0, n][0, :, :, 0], janggu[chrom],
                                      err_msg=chrom)


@pytest.mark.parametrize("fragment", [400, 3000])
def test_midpoints_across_whole_genome_blocks_count_once(tmp_path, monkeypatch, fragment):
    """pairedend='midpoint' in the whole-genome layout, read in blocks of 1,024 bases: every
    proper pair counts once at its fragment midpoint on read 1's strand, against a pysam
    loop over the file, also where read 1 lies in the block before its midpoint's or the
    fragment is longer than the first reach (3,000 > 2 x 1,024 bases: a second fetch).
    Before, a fragment whose read 1 was in another block than its midpoint was dropped."""
    import genozarr.ingest
    from genozarr.testing.simulate import simulate_bam

    sizes = {"chr1": 20_000, "chr2": 9_000}
    bam = simulate_bam(tmp_path / "pe.bam", sizes, 3_001, seed=9, paired=True,
                       fragment_length=fragment)
    want = {c: np.zeros((n, 2)) for c, n in sizes.items()}
    with pysam.AlignmentFile(bam) as f:
        for r in f:
            if r.flag & (0x4 | 0x100 | 0x800 | 0x200 | 0x400):
                continue
            if r.is_paired:
                if not r.is_proper_pair or r.next_reference_id != r.reference_id or \
                        not r.is_read1:
                    continue
                pos = min(r.reference_start, r.next_reference_start) + \
                    abs(r.template_length) // 2
            else:
                pos = r.reference_end - 1 if r.is_reverse else r.reference_start
            if 0 <= pos < sizes[r.reference_name]:
                want[r.reference_name][pos, int(r.is_reverse)] += 1
    assert sum(w.sum() for w in want.values()) > 1_000
    monkeypatch.setattr(genozarr.ingest, "_TASK_BYTES", 8192)  # tasks of 1,024 bases
    from genozarr import set_options

    with set_options(chunk_bytes=4096, scheduler="sync"):
        cov = Cover.create_from_bam("mid", bam, roi=None, genomesize=sizes, binsize=1000,
                                    store_whole_genome=True, storage="zarr",
                                    pairedend="midpoint", store=str(tmp_path / "m.zarr"))
    for chrom, n in sizes.items():
        np.testing.assert_array_equal(cov.garray.read_bins(chrom, 0, n)[:, :, 0], want[chrom],
                                      err_msg=chrom)
    # the partial layout counts every fragment of a window too (as Janggu, which reads
    # whole chromosomes): windows of 500 bases, shorter than the fragments, and
    # overlapping ones (each counts the fragments of its midpoints); before, a window
    # counted only the fragments whose read 1 it held (without template_extension)
    roi = pd.DataFrame({"chrom": ["chr1", "chr1", "chr2"], "start": [2_000, 2_250, 0],
                        "end": [12_000, 7_250, 9_000]})
    part = Cover.create_from_bam("midp", bam, roi=roi, binsize=500, stepsize=500,
                                 pairedend="midpoint")
    for i in range(len(part)):
        w = part.gindexer[i]
        np.testing.assert_array_equal(part[i][0, :, :, 0], want[w.chrom][w.start:w.end],
                                      err_msg=str(w))


def _ones_and_reads(directory: Path, starts: range) -> None:
    """``one.bw`` (1.0 at every base of a 1,000-base chr1) and ``one.bam`` (indexed: a
    forward 10-base read starting at each of ``starts``) in ``directory``."""
    with pyBigWig.open(str(directory / "one.bw"), "w") as bw:
        bw.addHeader([("chr1", 1000)])
        bw.addEntries(["chr1"], [0], ends=[1000], values=[1.0])
    write_bam(directory / "one.bam", {"chr1": 1000}, [{"start": p, "length": 10} for p in starts])


@pytest.mark.parametrize("whole", [False, True], ids=["partial", "whole_genome"])
def test_a_window_past_the_given_chromosome_length_is_padding(tmp_path, whole):
    """genomesize shorter than the files: a window running past it is padding there in
    both layouts (the files hold data past it: 1.0 per base, a read at every base, A)."""
    from genozarr import Bioseq

    _ones_and_reads(tmp_path, range(990))
    (tmp_path / "one.fa").write_text(">chr1\n" + "A" * 1000 + "\n")
    kw = dict(roi=["chr1:700-900"], genomesize={"chr1": 800}, store_whole_genome=whole)
    signal = Cover.create_from_bigwig("w", str(tmp_path / "one.bw"), resolution=1,
                                      **kw)[:][0, :, 0, 0]
    reads = Cover.create_from_bam("b", str(tmp_path / "one.bam"), resolution=1,
                                  **kw)[:][0, :, 0, 0]
    seq = Bioseq.create_from_refgenome("s", str(tmp_path / "one.fa"), **kw)[:][0, :, 0, :]
    np.testing.assert_array_equal(signal, np.r_[np.ones(100), np.zeros(100)])
    np.testing.assert_array_equal(reads, np.r_[np.ones(100), np.zeros(100)])
    np.testing.assert_array_equal(seq[:100, 0], np.ones(100))  # A
    np.testing.assert_array_equal(seq[100:], np.zeros((100, 4)))  # padding: no base


def test_improper_pairs_do_not_widen_the_midpoint_fetch(tmp_path, monkeypatch):
    """pairedend='midpoint' fetches farther around a window only for fragments that count
    there (read 1 of a proper pair): an improper pair whose TLEN spans the chromosome made
    every window of a partial build fetch nearly the whole chromosome again (2 % of such
    pairs: 660 s instead of 1 s for 1,000 windows). Counts against a hand-worked case."""
    import genozarr.io.bam as bam_io

    path = str(tmp_path / "pe.bam")
    # (start, flag, mate start, tlen): a proper pair, fragment 1000-1300 (midpoint 1150);
    # an improper pair of TLEN 90,000 (not counted) whose read 1 is near the window
    reads = [(1000, 0x1 | 0x2 | 0x20 | 0x40, 1250, 300), (1100, 0x1 | 0x20 | 0x40, 90_000,
                                                          90_050),
             (1250, 0x1 | 0x2 | 0x10 | 0x80, 1000, -300)]
    write_bam(path, {"chr1": 100_000},
              [{"start": start, "length": 50, "flag": flag, "mate_start": mate, "tlen": tlen}
               for start, flag, mate, tlen in reads])
    fetched = []
    scan = bam_io._scan

    def recording(bam: object, p: str, chrom: str, tid: int, lo: int, hi: int,
                  **kw: object) -> tuple:
        fetched.append((lo, hi))
        return scan(bam, p, chrom, tid, lo, hi, **kw)

    monkeypatch.setattr(bam_io, "_scan", recording)
    counts = bam_io.count_5prime(path, "chr1", 1100, 1200, pairedend="midpoint",
                                 all_midpoints=True)
    assert counts.sum() == 1 and counts[50, 0] == 1  # the proper pair, at 1150, forward
    assert fetched == [(1100 - bam_io.MIDPOINT_REACH, 1200 + bam_io.MIDPOINT_REACH)]


@pytest.mark.parametrize("resolution", [1, 50, None])
def test_a_read_past_the_chromosome_end_counts_nothing_there(tmp_path, resolution):
    """Aligners place reads past the end of a circular chrM. A reverse read whose 5' end
    (reference_end - 1 = 1009) lies past the chromosome's 1,000 bases was counted there by
    a partial-layout window running past the end (and in its bin sums); the whole-genome
    layout and the window's zero padding count nothing past the end."""
    path = write_bam(tmp_path / "m.bam", {"chrM": 1000},
                     [{"name": name, "start": start, "length": length, "flag": 0x10}
                      for name, start, length in (("inside", 950, 10), ("overhang", 980, 30))])
    # expected, from pysam: reverse 5' ends inside the chromosome and the window 900-1100
    expected = np.zeros((200, 2), np.float32)
    with pysam.AlignmentFile(path) as f:
        for read in f:
            end5 = read.reference_end - 1
            if end5 < 1000:
                expected[end5 - 900, 1] += 1
    assert expected.sum() == 1
    if resolution is None:
        expected = expected.sum(axis=0, keepdims=True)
    elif resolution > 1:
        expected = expected.reshape(-1, resolution, 2).sum(axis=1)
    # (a whole-genome store of one bin per window needs windows on its bin grid)
    for whole in (False,) if resolution is None else (False, True):
        cover = Cover.create_from_bam("m", path, roi=["chrM:900-1100"], binsize=200,
                                      resolution=resolution, store_whole_genome=whole)
        np.testing.assert_array_equal(np.asarray(cover[0])[0, :, :, 0], expected)


def test_reads_starting_past_the_chromosome_end_are_not_a_stale_index(tmp_path):
    """Reads placed past a chromosome's end (a BAM reheadered to shorter contigs, a
    circular chrM) made a freshly built, valid index fail as stale ("it ends the reads of
    chr1 before the BAM does"; on a last reference with only such reads, "the BAM has a
    read on chrM at 120"), and rebuilding it, as the message said, changed nothing. They
    count nothing; the reads inside count as pysam finds them."""
    path = write_bam(tmp_path / "p.bam", {"chr1": 1000, "chrM": 100},
                     [{"start": s, "length": 20} for s in (100, 500, 1200, 1300)]
                     + [{"chrom": "chrM", "start": s, "length": 20} for s in (120, 130)])
    for whole in (False, True):
        cov = Cover.create_from_bam("p", path, roi=["chr1:0-1000", "chrM:0-100"],
                                    binsize=100, resolution=100, store_whole_genome=whole)
        got = np.asarray(cov[:])[:, 0, 0, 0]
        want = np.zeros(11)
        want[[1, 5]] = 1  # the forward 5' ends at 100 and 500; none on chrM
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("whole", [False, True], ids=["partial", "whole_genome"])
def test_the_last_bin_of_a_chromosome_ends_with_it(tmp_path, whole):
    """Resolution 100 over a chromosome of 150 bases: the last bin holds 50 bases of the
    chromosome and 50 of padding, in both layouts, whatever the files hold past the end (a
    BED feature running past it; a BigWig and a BAM whose chromosome is longer than
    genomesize). In the whole-genome layout the bin took the BED feature's bases past the
    end (sum 100, not 50; minoverlap 0.6 kept it) and the files' data past genomesize."""
    (tmp_path / "f.bed").write_text("chr1\t100\t200\tx\t1\t+\n")
    _ones_and_reads(tmp_path, range(0, 300, 2))  # a read starting at every other base
    # two windows of one bin each, the second zero-padded past the chromosome end
    kw = dict(roi=["chr1:0-150"], genomesize={"chr1": 150}, binsize=100, resolution=100,
              store_whole_genome=whole, collapser="sum")
    bed = Cover.create_from_bed("b", str(tmp_path / "f.bed"), **kw)[:]
    np.testing.assert_array_equal(bed[:, 0, 0, 0], [0, 50])
    covered = Cover.create_from_bed("b", str(tmp_path / "f.bed"), minoverlap=0.6,
                                    **{**kw, "collapser": "max"})[:]
    # minoverlap, a fraction of the window less its padding past the region's end (50 of
    # 50 bases covered), or in the whole-genome layout of each bin (50 of 100: the bases
    # past the chromosome's end are uncovered)
    np.testing.assert_array_equal(covered[:, 0, 0, 0], [0, 0] if whole else [0, 1])
    signal = Cover.create_from_bigwig("w", str(tmp_path / "one.bw"), **kw)[:]
    np.testing.assert_array_equal(signal[:, 0, 0, 0], [100, 50])
    kw.pop("collapser")  # (BAM counts are summed)
    reads = Cover.create_from_bam("r", str(tmp_path / "one.bam"), **kw)[:]
    np.testing.assert_array_equal(reads[:, 0, 0, 0], [50, 25])  # 5' ends at even bases


@pytest.mark.parametrize("whole", [False, True], ids=["partial", "whole_genome"])
@pytest.mark.parametrize("nan_to_num", [True, False])
def test_a_bigwig_without_data_reads_as_missing_values(tmp_path, whole, nan_to_num):
    """A BigWig whose header names chromosomes but holds no entry (an empty track): every
    base is missing, 0 (or NaN with nan_to_num=False), beside a file with data (pyBigWig
    reads no value at all from it: a 0-length array, which failed to join the other
    file's, or a dataset of zeros where NaN was asked for)."""
    from genozarr.io.bigwig import read_values

    for name, entries in (("empty", False), ("full", True)):
        bw = pyBigWig.open(str(tmp_path / f"{name}.bw"), "w")
        bw.addHeader([("chr1", 1000)])
        if entries:
            bw.addEntries(["chr1"], [10], ends=[150], values=[2.0])
        bw.close()
    missing = 0.0 if nan_to_num else np.nan
    np.testing.assert_array_equal(
        read_values(tmp_path / "empty.bw", "chr1", 0, 100, nan_to_num=nan_to_num),
        np.full(100, missing, np.float32))
    cover = Cover.create_from_bigwig("e", [str(tmp_path / "empty.bw"), str(tmp_path / "full.bw")],
                                     roi=["chr1:0-200"], binsize=100, nan_to_num=nan_to_num,
                                     store_whole_genome=whole)
    got = cover[:].reshape(200, 2)
    np.testing.assert_array_equal(got[:, 0], np.full(200, missing))
    full = np.full(200, missing)
    full[10:150] = 2.0
    np.testing.assert_array_equal(got[:, 1], full)


@pytest.mark.parametrize("dtype", ["float64", "int32"])
def test_bed_scores_keep_the_precision_of_the_dtype(tmp_path, dtype):
    """BED scores are painted in float64 for a float64 or 4-byte integer dataset: 16777217
    (not a float32) stays 16777217, 3.7 stays 3.7 in float64 (3 in int32)."""
    bed = tmp_path / "scores.bed"
    bed.write_text("chr1\t0\t10\ta\t16777217\t+\nchr1\t10\t20\tb\t3.7\t+\n")
    roi = tmp_path / "roi.bed"
    roi.write_text("chr1\t0\t20\n")
    for storage in ("ndarray", "sparse", "zarr"):
        cover = Cover.create_from_bed("s", str(bed), roi=str(roi), mode="score", resolution=10,
                                      binsize=20, collapser="max", dtype=dtype,
                                      genomesize={"chr1": 100}, storage=storage)
        got = cover[:][0, :, 0, 0]
        want = [16777217, 3.7] if dtype == "float64" else [16777217, 3]
        assert got.tolist() == want, storage


def test_nearby_windows_read_as_one_span_hold_each_windows_values(sim_data, monkeypatch):
    """A partial-layout task reads windows closer than ingest._MERGE_GAP as one span and
    cuts it (a read per window cost a fetch each: 12x slower for 100,000 tiled BAM
    windows). Overlapping, flanked, minus-strand windows, gaps and a window past the
    chromosome end each hold the values a plain pysam loop / pyBigWig give for them, and
    the same values as read one by one; BED with minoverlap keeps per-window reads."""
    from genozarr import ingest

    rng = np.random.default_rng(11)
    starts = np.r_[rng.integers(0, 3000, 25), rng.integers(6000, 11800, 15), [11_900]]
    roi = pd.DataFrame({"chrom": "chr1", "start": starts,
                        "end": np.minimum(starts + 450, 12_000),
                        "strand": rng.choice(["+", "-"], len(starts))})
    kw = {"roi": roi, "binsize": 200, "stepsize": 70, "flank": 30}
    bam = Cover.create_from_bam("b", sim_data["bam"], **kw)
    bw = Cover.create_from_bigwig("w", sim_data["bigwigs"][0], resolution=10,
                                  collapser="mean", **kw)
    assert len(bam) > 60
    reads = 0
    t = bam.garray.region_table  # each row's bases, flank included; padding after them
    for i, w in enumerate(windows_of(bam)):
        lo, hi = int(t["start"][i]), int(t["end"][i])
        truth = np.zeros((260, 2), "float32")
        truth[:hi - lo] = brute_force_5prime(sim_data["bam"], "chr1", lo, hi)
        values = np.zeros(260, "float32")
        values[:hi - lo] = bigwig_values(sim_data["bigwigs"][0], "chr1", lo, hi)
        if w.strand == "-":
            truth, values = truth[::-1, ::-1], values[::-1]
        np.testing.assert_array_equal(bam[i][0, :, :, 0], truth)
        np.testing.assert_allclose(bw[i][0, :, 0, 0], values.reshape(-1, 10).mean(axis=1),
                                   rtol=1e-5)
        reads += truth.sum()
    assert reads > 50
    minover = Cover.create_from_bed("m", sim_data["peaks"], minoverlap=0.5, **kw)
    monkeypatch.setattr(ingest, "_MERGE_GAP", -(10**9))  # every window read by itself
    np.testing.assert_array_equal(Cover.create_from_bam("b", sim_data["bam"], **kw)[:],
                                  bam[:])
    np.testing.assert_array_equal(Cover.create_from_bed("m", sim_data["peaks"],
                                                        minoverlap=0.5, **kw)[:], minover[:])


def test_shuffled_windows_are_read_in_genomic_order(sim_data, tmp_path, monkeypatch):
    """Windows in no genomic order (a shuffled ROI): a task of consecutive rows has its
    windows all over the chromosome and the spans it reads hold the other tasks' windows
    too, so each of the (at least four) tasks read most of every file (80 BAMs: 1.7x
    over). A build kept in memory, or a store of up to ingest._GATHER_BYTES, now gives
    each task windows in genomic order (and puts the rows back in the ROI's order; the
    store is written once they are all read); a larger store, whose tasks write whole
    chunks of consecutive rows, plans as many tasks as run at once (one on the
    synchronous scheduler, two on two worker processes). Either way a file's bases are
    scanned about once; rows equal the sorted build's, permuted, and a plain pysam
    loop."""
    from genozarr import ingest, open_dataset, set_options
    from genozarr.io import bam as bam_io
    from genozarr.store import _run

    assert ingest._genomic_order(np.array(["b", "b", "a"]), np.array([0, 5, 1])) is None
    np.testing.assert_array_equal(
        ingest._genomic_order(np.array(["a", "b", "a"]), np.array([0, 5, 9])), [0, 2, 1])
    np.testing.assert_array_equal(
        ingest._genomic_order(np.array(["a", "a"]), np.array([5, 0])), [1, 0])
    starts = np.arange(0, 11_800, 100)
    order = np.random.default_rng(3).permutation(len(starts))
    roi = pd.DataFrame({"chrom": "chr1", "start": starts[order], "end": starts[order] + 200})
    scanned, tasks = [], []
    real_count, real_run = bam_io.count_5prime, _run.run_tasks
    monkeypatch.setattr(bam_io, "count_5prime",
                        lambda path, chrom, s, e, **k: scanned.append(e - s)
                        or real_count(path, chrom, s, e, **k))
    schedulers = []
    monkeypatch.setattr(_run, "run_tasks",
                        lambda t, *a, **k: tasks.append(len(t))
                        or schedulers.append(k.get("in_process")) or real_run(t, *a, **k))
    kw = {"binsize": 200, "stepsize": 200, "genomesize": sim_data["chrom_sizes"]}

    def build(roi, **more):
        scanned.clear()
        tasks.clear()
        schedulers.clear()
        return Cover.create_from_bam("b", sim_data["bam"], roi=roi, **kw, **more)

    with set_options(chunk_bytes=16_000, scheduler="sync"):  # 10 windows a chunk
        ordered = build(roi.sort_values("start"))
        assert tasks[0] >= 3 and sum(scanned) <= 12_000 + 200 * tasks[0]
        memory = build(roi)
        assert tasks[0] >= 3 and sum(scanned) <= 12_000 + 200 * tasks[0]
        gathered = build(roi, storage="zarr", store=str(tmp_path / "g.zarr"))
        # the reads, then the writes of the gathered rows (8 chunks a task, in this
        # process)
        assert tasks[0] >= 3 and tasks[1] == 2 and sum(scanned) <= 12_000 + 200 * tasks[0]
        assert schedulers == [None, True]
        monkeypatch.setattr(ingest, "_GATHER_BYTES", 0)  # a store too large to gather
        store = build(roi, storage="zarr", store=str(tmp_path / "s.zarr"))
        assert tasks == [1] and sum(scanned) <= 12_000  # each base of chr1 once
    with set_options(chunk_bytes=16_000, scheduler="processes", num_workers=2):
        parallel = build(roi, storage="zarr", store=str(tmp_path / "p.zarr"))
        assert tasks == [2]
    assert len(memory) == len(starts)
    np.testing.assert_array_equal(memory[:], ordered[:][order])
    np.testing.assert_array_equal(store[:], memory[:])
    np.testing.assert_array_equal(gathered[:], memory[:])
    np.testing.assert_array_equal(open_dataset(tmp_path / "g.zarr")[:], memory[:])
    np.testing.assert_array_equal(parallel[:], memory[:])
    for i in range(0, len(starts), 17):
        s = int(starts[order][i])
        np.testing.assert_array_equal(memory[i][0, :, :, 0],
                                      brute_force_5prime(sim_data["bam"], "chr1", s, s + 200))


@pytest.mark.parametrize("storage", ["ndarray", "sparse", "zarr"])
@pytest.mark.parametrize("kind", ["bigwig", "bam", "bed", "bed_minoverlap", "fasta"])
def test_a_shuffled_roi_holds_the_rows_of_the_sorted_one(sim_data, tmp_path, kind, storage):
    """Rows of a shuffled ROI (read in genomic order, into memory or gathered in memory
    before a store is written) are the sorted ROI's rows in the shuffled order, for every
    source, with flanks, both strands, a flank past the chromosome end and two
    chromosomes."""
    from genozarr import Bioseq, set_options

    rng = np.random.default_rng(8)
    starts = np.r_[rng.integers(0, 11_700, 60), rng.integers(0, 7_700, 40), [11_900]]
    roi = pd.DataFrame({"chrom": ["chr1"] * 60 + ["chr2"] * 40 + ["chr1"],
                        "start": starts, "end": starts + 100,  # one window each
                        "strand": rng.choice(["+", "-"], len(starts))})
    ordered = roi.sort_values(["chrom", "start"], kind="stable").reset_index(drop=True)
    perm = rng.permutation(len(roi))
    shuffled = ordered.iloc[perm].reset_index(drop=True)
    kw = {"binsize": 100, "stepsize": 100, "flank": 20, "storage": storage}
    make = {
        "bigwig": lambda r, **k: Cover.create_from_bigwig("c", sim_data["bigwigs"], roi=r,
                                                          resolution=10, **k),
        "bam": lambda r, **k: Cover.create_from_bam("c", sim_data["bam"], roi=r, **k),
        "bed": lambda r, **k: Cover.create_from_bed("c", sim_data["peaks"], roi=r, **k),
        "bed_minoverlap": lambda r, **k: Cover.create_from_bed(
            "c", sim_data["peaks"], roi=r, minoverlap=0.3, **k),
        "fasta": lambda r, **k: Bioseq.create_from_refgenome("c", sim_data["fasta"], roi=r,
                                                             **k),
    }[kind]
    more = {"store": str(tmp_path / "s.zarr")} if storage == "zarr" else {}
    with set_options(chunk_bytes=4096, scheduler="sync"):  # several chunks, tasks
        a = make(ordered, **kw, **({"store": str(tmp_path / "o.zarr")} if more else {}))
        b = make(shuffled, **kw, **more)
    assert len(a) == len(b) > 100
    got, want = np.asarray(b[:]), np.asarray(a[:])[perm]
    assert got.any()
    np.testing.assert_array_equal(got, want)


def test_a_gathered_build_refuses_a_bad_store_path_before_reading(sim_data, tmp_path,
                                                                    monkeypatch):
    """A shuffled ROI gathered in memory before its store is written checks the store path
    first: a directory that is not a genozarr store is refused before any input is read
    (it was refused after every window had been read), and is left as it was. Unsigned
    window starts are ordered as numbers (np.diff of [5, 0] wraps around in uint32)."""
    from genozarr import ingest, set_options
    from genozarr.errors import StoreError
    from genozarr.io import bam as bam_io

    np.testing.assert_array_equal(
        ingest._genomic_order(np.array(["a", "a"]), np.array([5, 0], dtype=np.uint32)),
        [1, 0])
    starts = np.arange(0, 11_800, 100)
    order = np.random.default_rng(4).permutation(len(starts))
    roi = pd.DataFrame({"chrom": "chr1", "start": starts[order], "end": starts[order] + 200})
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    scanned = []
    real = bam_io.count_5prime
    monkeypatch.setattr(bam_io, "count_5prime",
                        lambda *a, **k: scanned.append(1) or real(*a, **k))
    with set_options(chunk_bytes=16_000, scheduler="sync"), \
            pytest.raises(StoreError, match="is not a genozarr store"):
        Cover.create_from_bam("b", sim_data["bam"], roi=roi, binsize=200, stepsize=200,
                              storage="zarr", store=str(other))
    assert scanned == [] and sorted(p.name for p in other.iterdir()) == ["notes.txt"]


def test_bam_files_of_a_whole_genome_build_read_in_steps_of_binned_bytes(sim_data, tmp_path,
                                                                         monkeypatch):
    """BAM reads are counted per bin as they are read: a whole-genome read of many files
    at a coarse resolution holds one value per bin, and its steps are bounded by those
    values (and by one file's bases), not by every file's per-base values (80 BAMs at 50 bp
    were read in steps 80 times shorter, every file reopened at each past 32 files). With
    the read size cut to 32,000 bytes, 2 files at 50 bp: 80-bin steps, not 40-bin ones;
    the stored counts equal a plain pysam loop's."""
    import os

    from genozarr import ingest
    from genozarr.io import bam as bam_io

    files = []
    for name in ("a", "b"):
        os.symlink(sim_data["bam"], tmp_path / f"{name}.bam")
        os.symlink(sim_data["bam"] + ".bai", tmp_path / f"{name}.bam.bai")
        files.append(str(tmp_path / f"{name}.bam"))
    monkeypatch.setattr(ingest, "_READ_BYTES", 32_000)
    calls: dict[str, list[int]] = {}
    real = bam_io.count_5prime
    monkeypatch.setattr(bam_io, "count_5prime",
                        lambda path, chrom, s, e, **k: calls.setdefault(str(path), []).append(
                            e - s) or real(path, chrom, s, e, **k))
    cov = Cover.create_from_bam("g", files, roi=None, resolution=50, store_whole_genome=True,
                                storage="zarr", genomesize={"chr1": 12_000})
    # 240 bins of chr1: three reads per file of at most 80 bins (4,000 bases)
    assert {p: len(c) for p, c in calls.items()} == {f: 3 for f in files}
    assert max(max(c) for c in calls.values()) == 4_000
    truth = brute_force_5prime(sim_data["bam"], "chr1", 0, 12_000).reshape(240, 50, 2).sum(1)
    stored = cov.garray.read_bins("chr1", 0, 240)
    for c in range(2):
        np.testing.assert_array_equal(stored[:, :, c], truth)


def _sparse_bam(path, length, positions, rng):
    """A BAM of one chromosome with 50 bp forward/reverse reads at ``positions`` and, in
    the file but not mapped, as many unplaced reads; indexed."""
    header = {"HD": {"VN": "1.6", "SO": "coordinate"}, "SQ": [{"SN": "chr1", "LN": length}]}
    with pysam.AlignmentFile(str(path), "wb", header=header) as out:
        for i, pos in enumerate(np.sort(positions).tolist()):
            read = pysam.AlignedSegment(out.header)
            read.query_name, read.reference_id, read.reference_start = f"r{i}", 0, pos
            read.flag, read.mapping_quality = int(rng.choice([0, 16])), 60
            read.cigarstring, read.query_sequence = "50M", "A" * 50
            out.write(read)
        for i in range(len(positions)):
            read = pysam.AlignedSegment(out.header)
            read.query_name, read.flag, read.query_sequence = f"u{i}", 4, "C" * 50
            read.reference_id = read.next_reference_id = -1
            out.write(read)
    pysam.index(str(path))
    return str(path)


def test_bam_windows_merge_across_gaps_of_few_reads(tmp_path):
    """A BAM source reads windows with fewer than READS_PER_FETCH reads between them (at
    the files' mean density, counted by their indexes) as one span: a fetch costs what
    decoding that many reads does. Scattered windows so read hold each window's counts."""
    from genozarr.sources import MERGE_GAP_MAX, MERGE_GAP_MIN, READS_PER_FETCH, BamSource

    rng = np.random.default_rng(5)
    a = _sparse_bam(tmp_path / "a.bam", 200_000, rng.integers(0, 199_900, 2_000), rng)
    b = _sparse_bam(tmp_path / "b.bam", 200_000, rng.integers(0, 199_900, 6_000), rng)
    with pysam.AlignmentFile(a) as f:  # mapped reads, counted by reading them
        mapped = sum(not r.is_unmapped for r in f.fetch(until_eof=True))
    assert mapped == 2_000
    assert BamSource([a]).merge_gap == READS_PER_FETCH * 200_000 // 2_000 == 32_000
    # two files: their mean density (8,000 reads over 2 x 200 kb)
    assert BamSource([a, b]).merge_gap == READS_PER_FETCH * 400_000 // 8_000 == 16_000
    dense = _sparse_bam(tmp_path / "d.bam", 20_000, rng.integers(0, 19_900, 30_000), rng)
    assert BamSource([dense]).merge_gap == MERGE_GAP_MIN
    empty = _sparse_bam(tmp_path / "e.bam", 200_000, np.array([], int), rng)
    assert BamSource([empty]).merge_gap == MERGE_GAP_MAX
    starts = np.sort(rng.choice(np.arange(0, 199_000, 1000), 80, replace=False))
    roi = pd.DataFrame({"chrom": "chr1", "start": starts, "end": starts + 300})
    cover = Cover.create_from_bam("c", [a, b], roi=roi, binsize=300, stranded=True)
    for i, s in enumerate(starts.tolist()):
        for k, path in enumerate((a, b)):
            np.testing.assert_array_equal(cover[i][0, :, :, k],
                                          brute_force_5prime(path, "chr1", s, s + 300))
    assert cover[:].sum() > 100


def test_rows_overlapping_an_interval(sim_data):
    """The partial store's interval lookup (a binary search by start) finds what a scan
    of every row finds."""
    rng = np.random.default_rng(3)
    starts = rng.integers(0, 7000, 300)
    roi = pd.DataFrame({"chrom": rng.choice(["chr1", "chr2"], 300), "start": starts,
                        "end": starts + rng.integers(1, 900, 300)})
    store = Cover.create_from_bigwig("w", sim_data["bigwigs"][0], roi=roi,
                                     resolution=None).garray
    t = store.region_table
    queries = [(str(rng.choice(["chr1", "chr2", "chr9"])), int(a), int(a + d))
               for a, d in zip(rng.integers(-100, 8000, 200), rng.integers(0, 1500, 200))]
    for chrom, a, b in queries:
        want = np.flatnonzero((t["chrom"] == chrom) & (t["start"] < b) & (t["end"] > a))
        np.testing.assert_array_equal(store.rows_overlapping(chrom, a, b), want)
    # chromosome names held as numpy's StringDType (it does not cast to '<U' directly)
    from numpy.dtypes import StringDType

    store.region_table = {**t, "chrom": np.asarray(t["chrom"], dtype=StringDType())}
    store._by_start = None
    for chrom, a, b in queries[:50]:
        want = np.flatnonzero((t["chrom"] == chrom) & (t["start"] < b) & (t["end"] > a))
        np.testing.assert_array_equal(store.rows_overlapping(chrom, a, b), want)


def _write_pair(path: str, length: int, mates: tuple, read_length: int = 50,
                **kw: object) -> None:
    """A BAM of one chromosome holding one read pair: ``mates`` are two
    ``(start, flag, mate_start, tlen)``."""
    write_bam(path, {"chr1": length},
              [{"name": "frag", "start": start, "length": read_length, "flag": flag,
                "mate_start": mate, "tlen": tlen} for start, flag, mate, tlen in mates], **kw)


def test_midpoint_counts_do_not_depend_on_neighbouring_windows(tmp_path):
    """pairedend='midpoint' reads each window by itself: how far a read reaches for read 1
    of a long fragment depends on the fragments it meets, so a window read within a span
    of neighbours counted a 5,000 bp fragment it misses alone (1 vs 0). With
    template_extension half the fragment, every window counts it."""
    path = str(tmp_path / "long.bam")
    _write_pair(path, 20000, ((1000, 0x1 | 0x2 | 0x20 | 0x40, 5950, 5000),
                              (5950, 0x1 | 0x2 | 0x10 | 0x80, 1000, -5000)))

    def counts(starts, **kw):
        roi = pd.DataFrame({"chrom": "chr1", "start": starts, "end": [s + 100 for s in starts]})
        cov = Cover.create_from_bam("m", path, roi=roi, binsize=100, pairedend="midpoint",
                                    stranded=False, **kw)
        return cov[:].sum(axis=(1, 2, 3)).tolist()

    assert counts([3450]) == [0] and counts([1000, 3450]) == [0, 0]
    assert counts([3450], template_extension=2600) == [1]
    assert counts([1000, 3450], template_extension=2600) == [0, 1]


@pytest.mark.parametrize("whole_genome", [False, True])
def test_a_read_1_placed_past_the_chromosome_end_counts_at_its_midpoint(tmp_path,
                                                                        whole_genome):
    """A proper pair whose read 1 starts past the chromosome's end (an aligner places some
    so on a circular chrM) has its midpoint inside: it was not fetched, so not counted
    (an audit). Hand-worked: mates at 900 and 1005 of a 1,000 bp chromosome, fragment
    150 bp, midpoint min(900, 1005) + 150 // 2 = 975, on read 1's (reverse) strand."""
    path = str(tmp_path / "past.bam")
    _write_pair(path, 1000, ((900, 0x1 | 0x2 | 0x20 | 0x80, 1005, 150),
                             (1005, 0x1 | 0x2 | 0x10 | 0x40, 900, -150)), read_length=45)
    cov = Cover.create_from_bam("m", path, roi=["chr1:900-1000"], binsize=100,
                                pairedend="midpoint", store_whole_genome=whole_genome)
    expected = np.zeros((1, 100, 2, 1), np.float32)
    expected[0, 75, 1, 0] = 1
    np.testing.assert_array_equal(cov[:], expected)


def test_a_midpoint_window_at_the_end_of_a_2_gb_chromosome(tmp_path):
    """The midpoint fetch reaching past the chromosome end asked htslib for a stop past
    2**31 - 1 near the end of a 2 Gb chromosome, which it refuses ('stop out of range',
    reported as an unusable index; a review). Hand-worked: the one pair's midpoint, 1000
    + 145 // 2 = 1072, counts on read 1's (forward) strand; the window at the end holds
    nothing."""
    from genozarr.io.bam import count_5prime

    length = 2**31 - 100
    path = str(tmp_path / "big.bam")
    _write_pair(path, length, ((1000, 0x1 | 0x2 | 0x20 | 0x40, 1100, 145),
                               (1100, 0x1 | 0x2 | 0x10 | 0x80, 1000, -145)), read_length=45,
                index=False)
    pysam.index(path, "-c")  # (a .bai holds chromosomes of up to 2**29 bases)
    for kw in ({}, {"all_midpoints": True}, {"template_extension": 500}):
        end = count_5prime(path, "chr1", length - 1000, length, pairedend="midpoint", **kw)
        assert end.shape == (1000, 2) and end.sum() == 0, kw
        near = count_5prime(path, "chr1", 1000, 1200, pairedend="midpoint", **kw)
        assert near.sum() == 1 and near[72, 0] == 1, kw


def test_which_sources_read_nearby_windows_as_one_span(sim_data):
    """Where a window's values depend on the window (BED minoverlap, paired-end midpoints)
    or a span would hold a channel per category, windows are read one by one."""
    from genozarr.sources import BamSource, BedSource, BigWigSource

    assert BigWigSource(sim_data["bigwigs"][:1]).merges_windows
    assert BamSource([sim_data["bam"]]).merges_windows
    assert not BamSource([sim_data["bam_pe"]], pairedend="midpoint").merges_windows
    assert BedSource([sim_data["peaks"]]).merges_windows
    assert not BedSource([sim_data["peaks"]], minoverlap=0.5).merges_windows
    assert not BedSource([sim_data["peaks"]], mode="name_category").merges_windows


def test_missing_values_in_bins_with_nan_to_num_false(tmp_path):
    """With nan_to_num=False a named collapser gives NaN for a bin with a missing base (as
    numpy's mean, and Janggu), and np.nanmean as the collapser leaves them out; both as
    numpy computes them on the BigWig's values."""
    from genozarr.testing.simulate import write_bigwig

    v = np.arange(100, dtype=float)
    v[3], v[25:35] = np.nan, np.nan
    bw = write_bigwig(tmp_path / "a.bw", {"chr1": v}, {"chr1": 100})
    bins = v.reshape(10, 10)
    for collapser, want in [("mean", bins.mean(axis=1)),
                            (np.nanmean, np.nanmean(bins, axis=1))]:
        cover = Cover.create_from_bigwig("c", [bw], roi=["chr1:0-100"], binsize=100,
                                         resolution=10, nan_to_num=False,
                                         collapser=collapser)
        np.testing.assert_allclose(cover[0].ravel(), want, rtol=1e-6)


@pytest.mark.parametrize("kind", ["bigwig", "bam"])
@pytest.mark.parametrize("opts", [
    {"binsize": 200, "stepsize": 70, "flank": 30},
    {"binsize": 200, "resolution": 10, "collapser": "max"},
    {"binsize": 200, "resolution": 50, "collapser": np.median},
    {"binsize": None, "resolution": None},
])
def test_several_files_read_file_by_file_hold_the_values_read_together(sim_data, monkeypatch,
                                                                       kind, opts):
    """A partial-layout task of several input files reads them file after file (each
    file's spans as long as one file's bases allow, one file read through before the
    next): the rows equal those read span by span for all files together (a mean within
    a few ulps), with
    overlapping, flanked and minus-strand windows, a window past the chromosome end (cut
    by genomesize), collapsers, and windows of different lengths."""
    from genozarr import ingest

    rng = np.random.default_rng(5)
    starts = np.r_[rng.integers(0, 3000, 20), rng.integers(6000, 11500, 10), [11_900]]
    roi = pd.DataFrame({"chrom": "chr1", "start": starts,
                        "end": np.minimum(starts + rng.integers(150, 600, len(starts)),
                                          12_000),
                        "strand": rng.choice(["+", "-"], len(starts))})
    from genozarr.genome import chrom_sizes

    sizes = dict(chrom_sizes(sim_data["chrom_sizes"]), chr1=11_950)
    files = (list(sim_data["bigwigs"]) if kind == "bigwig"
             else [sim_data["bam"], sim_data["bam"]])
    make = Cover.create_from_bigwig if kind == "bigwig" else Cover.create_from_bam
    kw = dict(opts, roi=roi, genomesize=sizes, conditions=["a", "b"])
    if kind == "bam" and opts.get("collapser") is not None:
        kw.pop("collapser")
    calls = []
    real = ingest._read_file_window
    monkeypatch.setattr(ingest, "_read_file_window",
                        lambda *a, **k: calls.append(1) or real(*a, **k))
    by_file = make("f", files, **kw)
    assert calls
    monkeypatch.setattr(ingest, "_FILE_BY_FILE", False)
    together = make("t", files, **kw)
    assert len(by_file) > 30
    if opts.get("collapser") is None and opts.get("resolution", 1) != 1:
        # a mean of one file's values is summed in float32 partial sums, of several
        # files' columns together in float64: within a few ulps
        np.testing.assert_allclose(by_file[:], together[:], rtol=1e-6)
    else:
        np.testing.assert_array_equal(by_file[:], together[:])


@pytest.mark.parametrize("whole", [False, True], ids=["partial", "whole_genome"])
def test_an_interval_key_past_the_chromosome_end_is_padding_there(tmp_path, whole):
    """At resolution > 1 the last bin of a chromosome ending inside it holds the mean of
    its bases (with the padding, as documented); an interval key repeated that value over
    the bases past the end, where resolution 1 gives the padding (an audit). The bases
    past the end are padding. chr2 has 311 bases of 5.0 (pyBigWig writes them)."""
    path = str(tmp_path / "e.bw")
    with pyBigWig.open(path, "w") as bw:
        bw.addHeader([("chr1", 400), ("chr2", 311)])
        bw.addEntries("chr2", 0, values=[5.0] * 311, span=1, step=1)
    assert bigwig_values(path, "chr2", 300, 311).tolist() == [5.0] * 11
    cover = Cover.create_from_bigwig("e", path, roi=["chr2:250-320"], binsize=70,
                                     resolution=10, store_whole_genome=whole,
                                     genomesize={"chr1": 400, "chr2": 311})
    want = np.array([5.0] * 10 + [0.5] + [0.0] * 9, np.float32)  # bin 310-320: 5 / 10
    np.testing.assert_array_equal(cover["chr2", 300, 320][0, :, 0, 0], want)
    np.testing.assert_array_equal(cover["chr2", 300, 320, "-"][0, :, 0, 0], want[::-1])


@pytest.mark.parametrize("whole", [False, True], ids=["partial", "whole_genome"])
def test_a_tuple_key_before_the_chromosome_start_is_padding_as_its_region(tmp_path, whole):
    """A flanked window at a chromosome's start is ``chr2:-20-120``: ``ds[ds.gindexer[0]]``
    served it (padding before the start), the same interval as a tuple key was refused
    ('start must be an integer >= 0'; an audit). Both now serve the window's values."""
    path = str(tmp_path / "s.bw")
    values = np.arange(1, 301, dtype=np.float32)
    with pyBigWig.open(path, "w") as bw:
        bw.addHeader([("chr2", 300)])
        bw.addEntries("chr2", 0, values=values.tolist(), span=1, step=1)
    cover = Cover.create_from_bigwig("s", path, roi=["chr2:0-100"], binsize=100, flank=20,
                                     store_whole_genome=whole)
    window = cover.gindexer[0]
    assert (window.start, window.end) == (-20, 120)
    want = np.concatenate([np.zeros(20, np.float32), values[:120]])
    for key in (window, ("chr2", -20, 120), ("chr2", np.int64(-20), 120, "+")):
        np.testing.assert_array_equal(cover[key][0, :, 0, 0], want)
    np.testing.assert_array_equal(cover[0][0, :, 0, 0], want)
    np.testing.assert_array_equal(cover["chr2", -20, 120, "-"][0, :, 0, 0], want[::-1])


def test_a_fractional_min_mapq_rounds_up_and_template_extension_is_checked(tmp_path):
    """min_mapq=20.5 was read as 20, so a read of MAPQ 20 ('a lower mapping quality')
    was counted; template_extension='x' raised int()'s ValueError (an audit). Counts
    against a pysam loop keeping reads of MAPQ >= 20.5."""
    path = write_bam(tmp_path / "q.bam", {"chr1": 100},
                     [{"start": 10, "length": 10, "mapq": 20},
                      {"start": 30, "length": 10, "mapq": 21}])
    want = np.zeros(100, np.float32)
    with pysam.AlignmentFile(path) as f:
        for read in f:
            if read.mapping_quality >= 20.5:
                want[read.reference_start] += 1
    assert want.sum() == 1
    cover = Cover.create_from_bam("q", path, roi=["chr1:0-100"], binsize=100,
                                  stranded=False, min_mapq=20.5)
    np.testing.assert_array_equal(cover[0][0, :, 0, 0], want)
    with pytest.raises(ArgumentError, match="template_extension must be an integer >= 0"):
        Cover.create_from_bam("q", path, roi=["chr1:0-100"], binsize=100,
                              template_extension="x")
    # (a text min_mapq raised float()'s "could not convert string to float: 'x'")
    for bad in ("x", True, float("nan")):
        with pytest.raises(ArgumentError, match=r"min_mapq must be a number \(a mapping "
                                                r"quality\) or None, got"):
            Cover.create_from_bam("q", path, roi=["chr1:0-100"], binsize=100, min_mapq=bad)
    with pytest.raises(ArgumentError, match="pairedend must be '5prime' or 'midpoint', "
                                            "got 'ends'"):
        Cover.create_from_bam("q", path, roi=["chr1:0-100"], binsize=100, pairedend="ends")
    # (a text aggregate said "unknown normalizer 'false'"; a chrom_map of another type
    # passed unseen where the names matched)
    with pytest.raises(ArgumentError, match="aggregate must be a callable applied to each "
                                            "window's counts"):
        Cover.create_from_bam("q", path, roi=["chr1:0-100"], binsize=100, aggregate="false")
    for bad in (50.0, [1, 2], True):
        with pytest.raises(ArgumentError, match=r"chrom_map must be None, 'auto' or a mapping"):
            Cover.create_from_bam("q", path, roi=["chr1:0-100"], binsize=100, chrom_map=bad)


def test_interval_key_with_binsizenorm_equals_the_window_read(tmp_path):
    """An interval key of a partial-layout Cover with the 'binsizenorm' normalizer divides
    each stored window by its own length, as ``cover[i]`` does: a score of 5 over 100 bp
    windows reads 5 / 100 both ways; no test compared the two reads (a mutation audit)."""
    roi = tmp_path / "roi.bed"
    roi.write_text("chr1\t0\t400\n")
    feat = tmp_path / "f.bed"
    feat.write_text("chr1\t0\t400\tx\t5\t+\n")
    cover = Cover.create_from_bed("b", bedfiles=[str(feat)], roi=str(roi), binsize=100,
                                  stepsize=100, resolution=1, mode="score",
                                  normalizer="binsizenorm", genomesize={"chr1": 1000})
    window = np.asarray(cover[0])
    assert window.shape == (1, 100, 1, 1)
    np.testing.assert_allclose(window, 5 / 100, rtol=1e-6)
    interval = np.asarray(cover["chr1", 0, 100])
    np.testing.assert_array_equal(interval.reshape(-1), window.reshape(-1))
    np.testing.assert_allclose(np.asarray(cover["chr1", 100, 300]).reshape(-1),
                               np.full(200, 5 / 100), rtol=1e-6)
