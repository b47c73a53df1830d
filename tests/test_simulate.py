"""Tests of genozarr.testing.simulate and the bundled sample data: the files say what they claim."""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pyBigWig
import pysam
import pytest

from genozarr.testing.oracles import bigwig_values
from genozarr.testing.simulate import (
    simulate_bam,
    simulate_bed,
    simulate_bigwig,
    simulate_genome,
    simulate_gtf,
    write_bigwig,
)

SIZES = {"chr1": 12_000, "chr2": 8_000, "chrM": 500}
FLAG_BITS = {
    "dup": 0x400,
    "secondary": 0x100,
    "supplementary": 0x800,
    "qcfail": 0x200,
    "unmapped": 0x4,
}


def _md5(path: str | Path) -> str:
    return hashlib.md5(Path(path).read_bytes()).hexdigest()


def _bam_text(path: str) -> str:
    return pysam.view("--no-PG", path)


def _reads(path: str) -> list[pysam.AlignedSegment]:
    with pysam.AlignmentFile(path) as bam:
        return list(bam.fetch(until_eof=True))


# ---- FASTA -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def genome(tmp_path_factory: pytest.TempPathFactory) -> str:
    return simulate_genome(
        tmp_path_factory.mktemp("g") / "g.fa",
        SIZES,
        seed=3,
        n_fraction=0.02,
        lowercase_fraction=0.1,
    )


def test_genome_roundtrip_with_pysam(genome: str) -> None:
    assert os.path.exists(genome + ".fai")
    lines = Path(genome).read_text().splitlines()
    # 60-column lines, one header per chromosome
    assert [ln[1:] for ln in lines if ln.startswith(">")] == list(SIZES)
    assert max(len(ln) for ln in lines if not ln.startswith(">")) == 60
    parsed: dict[str, str] = {}
    for ln in lines:
        if ln.startswith(">"):
            name = ln[1:]
            parsed[name] = ""
        else:
            parsed[name] += ln
    with pysam.FastaFile(genome) as fa:
        assert dict(zip(fa.references, fa.lengths, strict=True)) == SIZES
        for chrom, seq in parsed.items():
            assert fa.fetch(chrom) == seq
            assert fa.fetch(chrom, 100, 173) == seq[100:173]


def test_genome_composition(genome: str) -> None:
    with pysam.FastaFile(genome) as fa:
        seq = fa.fetch("chr1")
    counts = Counter(seq)
    assert set(counts) <= set("ACGTacgtN")
    n = len(seq)
    assert 0.005 < counts["N"] / n < 0.04  # n_fraction=0.02
    lower = sum(counts[c] for c in "acgt") / n
    assert 0.05 < lower < 0.15  # lowercase_fraction=0.1
    upper = np.array([counts[c] for c in "ACGT"], float)
    assert (np.abs(upper / upper.sum() - 0.25) < 0.03).all()
    # N comes in runs, not scattered
    is_n = np.frombuffer(seq.encode(), np.uint8) == ord("N")
    n_runs = int(np.count_nonzero(np.diff(is_n.astype(np.int8)) == 1)) + int(is_n[0])
    assert 1 <= n_runs <= 10


def test_genome_planted_and_options(tmp_path: Path) -> None:
    path = simulate_genome(
        tmp_path / "p.fa",
        {"c": 1_000},
        seed=0,
        n_fraction=0,
        lowercase_fraction=0,
        plant={"c": [(10, "gataag"), (990, "ACGTACGTAC")]},
    )
    with pysam.FastaFile(path) as fa:
        seq = fa.fetch("c")
    assert seq[10:16] == "GATAAG" and seq[990:] == "ACGTACGTAC"
    assert set(seq) <= set("ACGT")


# ---- BAM -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bam_se(tmp_path_factory: pytest.TempPathFactory, genome: str) -> str:
    return simulate_bam(
        tmp_path_factory.mktemp("b") / "se.bam",
        SIZES,
        5_001,
        seed=4,
        min_mapq_range=(5, 40),
        flagged_fraction=0.1,
        reference=genome,
    )


@pytest.fixture(scope="module")
def bam_pe(tmp_path_factory: pytest.TempPathFactory) -> str:
    return simulate_bam(
        tmp_path_factory.mktemp("b") / "pe.bam",
        SIZES,
        4_001,
        seed=5,
        paired=True,
        fragment_length=150,
    )


def test_bam_counts_index_header(bam_se: str) -> None:
    assert int(pysam.view("-c", bam_se)) == 5_001
    assert os.path.exists(bam_se + ".bai")
    with pysam.AlignmentFile(bam_se) as bam:
        assert bam.has_index()
        assert bam.mapped + bam.unmapped == 5_001
        assert dict(zip(bam.references, bam.lengths, strict=True)) == SIZES
        assert "PG" not in bam.header.to_dict()
        assert bam.header.to_dict()["HD"]["SO"] == "coordinate"
        # an indexed region query works
        assert bam.count("chr2", 0, 8_000) > 0


def test_bam_records(bam_se: str, genome: str) -> None:
    reads = _reads(bam_se)
    flags = np.array([r.flag for r in reads])
    n = len(reads)
    for name, bit in FLAG_BITS.items():
        assert (flags & bit).any(), name
    flagged = (flags & sum(FLAG_BITS.values())) > 0
    assert 0.07 < flagged.mean() < 0.13  # flagged_fraction=0.1
    assert 0.4 < ((flags & 0x10) > 0).mean() < 0.6  # both strands
    mapped = [r for r in reads if not r.is_unmapped]
    assert all(5 <= r.mapping_quality <= 40 for r in mapped)
    assert all(r.mapping_quality == 0 for r in reads if r.is_unmapped)
    assert all(r.query_length == 50 for r in reads)
    assert all(0 <= r.reference_start < r.reference_end <= SIZES[r.reference_name] for r in mapped)
    spans = Counter(r.reference_end - r.reference_start for r in mapped)
    assert spans[50] / len(mapped) > 0.75
    assert any(s > 50 for s in spans) and any(s < 50 for s in spans)  # deletions; clips/insertions
    ops = {op for r in mapped for op, _ in r.cigartuples}
    assert ops == {0, 1, 2, 4}  # M I D S
    # coordinate-sorted, unplaced unmapped reads last
    keys = [(r.reference_id if r.reference_id >= 0 else 99, r.reference_start) for r in reads]
    assert keys == sorted(keys)
    assert all(r.reference_id == -1 for r in reads if r.is_unmapped)
    # bases match the reference for all-M reads, reverse ones included
    with pysam.FastaFile(genome) as fa:
        for r in mapped[:500]:
            if r.cigarstring == "50M":
                ref = fa.fetch(r.reference_name, r.reference_start, r.reference_end).upper()
                assert r.query_sequence == ref
    assert len({r.query_name for r in reads}) == n
    # chromosomes are sampled in proportion to their length
    per_chrom = Counter(r.reference_name for r in mapped)
    assert 1.2 < per_chrom["chr1"] / per_chrom["chr2"] < 1.8


def test_bam_paired(bam_pe: str) -> None:
    reads = _reads(bam_pe)
    assert len(reads) == 4_001
    by_name: dict[str, list[pysam.AlignedSegment]] = {}
    for r in reads:
        by_name.setdefault(r.query_name, []).append(r)
    assert len(by_name) == 2_001
    assert sorted(Counter(len(v) for v in by_name.values()).items()) == [(1, 1), (2, 2_000)]
    proper = [v for v in by_name.values() if len(v) == 2 and all(r.is_proper_pair for r in v)]
    improper = [v for v in by_name.values() if len(v) == 2 and not any(r.is_proper_pair for r in v)]
    assert len(proper) > 1_700 and len(improper) > 0
    for a, b in proper:
        assert a.is_paired and {a.is_read1, b.is_read1} == {True, False}
        assert a.is_reverse != b.is_reverse
        assert (
            a.next_reference_start == b.reference_start
            and b.next_reference_start == a.reference_start
        )
        assert a.mate_is_reverse == b.is_reverse
        assert a.template_length == -b.template_length != 0
        left, right = sorted((a, b), key=lambda r: (r.reference_start, not r.is_read1))
        assert left.template_length > 0 and not left.is_reverse
        assert left.template_length == right.reference_end - left.reference_start
    tlen = np.array([abs(a.template_length) for a, _ in proper])
    assert 140 < np.median(tlen) < 160  # fragment_length=150
    unmapped = [r for r in reads if r.is_unmapped]
    assert unmapped and all(r.reference_id >= 0 for r in unmapped)  # placed at the mate
    for r in unmapped:
        mate = next(m for m in by_name[r.query_name] if m is not r)
        assert mate.mate_is_unmapped and r.reference_start == mate.reference_start
        assert r.template_length == 0 == mate.template_length


def test_bam_chr_prefix_and_hotspots(tmp_path: Path) -> None:
    path = simulate_bam(
        tmp_path / "h.bam",
        {"1": 20_000},
        2_000,
        seed=1,
        chr_prefix="chr",
        flagged_fraction=0,
        hotspots={"1": [10_000]},
        hotspot_fraction=0.5,
        hotspot_sd=20,
        fragment_length=100,
    )
    with pysam.AlignmentFile(path) as bam:
        assert bam.references == ("chr1",)
        near = bam.count("chr1", 9_850, 10_150)
    assert near > 900  # half the reads within ~150 bp of the hotspot, background ~ 30
    path = simulate_bam(tmp_path / "n.bam", {"chr1": 5_000}, 10, seed=1, chr_prefix="")
    with pysam.AlignmentFile(path) as bam:
        assert bam.references == ("1",)


# ---- BigWig ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("kind", "step"), [("bedgraph", None), ("bedgraph", 25), ("fixed", 10)])
def test_bigwig_values_and_gaps(tmp_path: Path, kind: str, step: int | None) -> None:
    sizes = {"chr1": 120_000, "chr2": 8_000}
    path = simulate_bigwig(
        tmp_path / "s.bw", sizes, seed=2, step=step, coverage_fraction=0.7, kind=kind
    )
    with pyBigWig.open(path) as bw:
        assert bw.chroms() == sizes
        v = np.array(bw.values("chr1", 0, sizes["chr1"]))
        nan = np.isnan(v)
        assert 0.2 < nan.mean() < 0.4  # coverage_fraction=0.7
        assert (v[~nan] >= 0).all() and (v[~nan] <= 100).all() and v[~nan].std() > 0.5
        ivs = bw.intervals("chr1")
    starts = np.array([s for s, _, _ in ivs])
    ends = np.array([e for _, e, _ in ivs])
    covered = np.zeros(sizes["chr1"], bool)
    for s, e in zip(starts, ends, strict=True):
        covered[s:e] = True
    assert np.array_equal(covered, ~nan)  # NaN exactly where no interval lies
    grid = step or 1
    assert (starts % grid == 0).all()
    if kind == "fixed":
        assert ((ends - starts) == grid).all()


def test_bigwig_full_coverage(tmp_path: Path) -> None:
    path = simulate_bigwig(tmp_path / "f.bw", {"c": 3_001}, seed=0, coverage_fraction=1.0)
    with pyBigWig.open(path) as bw:
        assert not np.isnan(bw.values("c", 0, 3_001)).any()


def test_write_bigwig_roundtrip(tmp_path: Path) -> None:
    v = np.array([1, 1, 2, np.nan, np.nan, 0, 0, 3.5, np.nan, 4], dtype=float)
    path = write_bigwig(tmp_path / "w.bw", {"a": v}, {"a": 12, "b": 5})
    with pyBigWig.open(path) as bw:
        assert bw.chroms() == {"a": 12, "b": 5}
        got = np.array(bw.values("a", 0, 12))
        assert bw.intervals("a") == (
            (0, 2, 1.0),
            (2, 3, 2.0),
            (5, 7, 0.0),
            (7, 8, 3.5),
            (9, 10, 4.0),
        )
    np.testing.assert_array_equal(got, np.append(v, [np.nan, np.nan]))


def test_bigwig_values_oracle(tmp_path: Path) -> None:
    """The tests' BigWig oracle on a file written entry by entry with pyBigWig."""
    path = str(tmp_path / "o.bw")
    with pyBigWig.open(path, "w") as bw:
        bw.addHeader([("a", 10), ("b", 4)], maxZooms=0)
        bw.addEntries(["a", "a"], [1, 6], ends=[3, 7], values=[2.5, -1.0])
    nan = np.nan
    np.testing.assert_array_equal(bigwig_values(path, "a", -2, 12),
                                  [0, 0, 0, 2.5, 2.5, 0, 0, 0, -1, 0, 0, 0, 0, 0])
    np.testing.assert_array_equal(bigwig_values(path, "a", 2, 8, nan_to_num=False),
                                  [2.5, nan, nan, nan, -1, nan])
    assert bigwig_values(path, "b", 0, 4).tolist() == [0.0] * 4
    assert bigwig_values(path, "a", 0, 3).dtype == np.float32
    with pytest.raises(KeyError, match="'c'"):
        bigwig_values(path, "c", 0, 1)


# ---- BED and GTF --------------------------------------------------------------------------


def test_bed_bounds_and_columns(tmp_path: Path) -> None:
    path = simulate_bed(tmp_path / "a.bed", SIZES, 500, seed=1, width=(50, 800), n_categories=4)
    df = pd.read_csv(
        path, sep="\t", header=None, names=["chrom", "start", "end", "name", "score", "strand"]
    )
    assert len(df) == 500
    size = df["chrom"].map(SIZES)
    assert (df["start"] >= 0).all() and (df["end"] <= size).all()
    width = df["end"] - df["start"]
    assert (width >= 50).all() and (width <= 800).all()
    assert set(df["name"]) == {"cat0", "cat1", "cat2", "cat3"}
    assert set(df["strand"]) == {"+", "-"}
    assert df["score"].dtype == float and (df["score"] % 1 != 0).any()
    order = df["chrom"].map({c: i for i, c in enumerate(SIZES)})
    assert df.assign(o=order).sort_values(["o", "start", "end"]).index.equals(df.index)
    path3 = simulate_bed(
        tmp_path / "b.bed", SIZES, 20, seed=1, width=100, ncols=3, sorted=False, score="category"
    )
    rows = [ln.split("\t") for ln in Path(path3).read_text().splitlines()]
    assert {len(r) for r in rows} == {3} and {int(r[2]) - int(r[1]) for r in rows} == {100}
    path5 = simulate_bed(tmp_path / "c.bed", SIZES, 50, seed=1, ncols=5, score="category")
    cats = pd.read_csv(path5, sep="\t", header=None)
    assert (cats[3].str[3:].astype(int) == cats[4]).all()


def test_gtf_parses(tmp_path: Path) -> None:
    path = simulate_gtf(tmp_path / "g.gtf", SIZES, 30, seed=2)
    cols = ["chrom", "source", "feature", "start", "end", "score", "strand", "frame", "attr"]
    df = pd.read_csv(path, sep="\t", header=None, names=cols)
    assert Counter(df["feature"])["gene"] == 30
    assert set(df["feature"]) == {"gene", "transcript", "exon"}
    assert (df["start"] >= 1).all() and (df["start"] <= df["end"]).all()
    assert (df["end"] <= df["chrom"].map(SIZES)).all()
    df["gene_id"] = df["attr"].str.extract(r'gene_id "([^"]+)"')[0]
    df["transcript_id"] = df["attr"].str.extract(r'transcript_id "([^"]+)"')[0]
    assert df["gene_id"].notna().all() and df["attr"].str.contains("gene_name").all()
    genes = df[df.feature == "gene"].set_index("gene_id")
    assert genes.index.is_unique
    tx = df[df.feature == "transcript"].set_index("transcript_id")
    for _, ex in df[df.feature == "exon"].iterrows():
        t = tx.loc[ex["transcript_id"]]
        assert t["start"] <= ex["start"] and ex["end"] <= t["end"]
    for tid, t in tx.iterrows():
        g = genes.loc[t["gene_id"]]
        assert g["start"] <= t["start"] and t["end"] <= g["end"] and g["strand"] == t["strand"], tid


# ---- determinism --------------------------------------------------------------------------


def test_same_seed_same_content(tmp_path: Path) -> None:
    def make(d: str, seed: int) -> list[str]:
        out = tmp_path / d
        return [
            simulate_genome(out / "g.fa", SIZES, seed=seed),
            simulate_bam(out / "r.bam", SIZES, 500, seed=seed, paired=True),
            simulate_bigwig(out / "s.bw", SIZES, seed=seed),
            simulate_bigwig(out / "f.bw", SIZES, seed=seed, kind="fixed"),
            simulate_bed(out / "p.bed", SIZES, 50, seed=seed),
            simulate_gtf(out / "g.gtf", SIZES, 5, seed=seed),
        ]

    a, b, c = make("a", 7), make("b", 7), make("c", 8)
    for pa, pb, pc in zip(a, b, c, strict=True):
        if pa.endswith(".bam"):
            assert _bam_text(pa) == _bam_text(pb) != _bam_text(pc)
        else:
            assert _md5(pa) == _md5(pb) != _md5(pc), pa


# ---- the session dataset and the bundled sample -------------------------------------------


def test_sim_data(sim_data: dict[str, str | list[str]]) -> None:
    assert set(sim_data) == {
        "fasta",
        "bam",
        "bam_pe",
        "bigwigs",
        "peaks",
        "roi",
        "gtf",
        "chrom_sizes",
    }
    assert len(sim_data["bigwigs"]) == 2
    for key, value in sim_data.items():
        for p in value if isinstance(value, list) else [value]:
            assert os.path.getsize(p) > 0, key
    sizes = dict(
        ln.split("\t") for ln in Path(str(sim_data["chrom_sizes"])).read_text().splitlines()
    )
    assert {k: int(v) for k, v in sizes.items()} == {"chr1": 12_000, "chr2": 8_000}
    assert int(pysam.view("-c", str(sim_data["bam"]))) == 20_000
    assert int(pysam.view("-c", str(sim_data["bam_pe"]))) == 20_000
    roi = pd.read_csv(str(sim_data["roi"]), sep="\t", header=None)
    assert set(roi[2] - roi[1]) == {1000} and set(roi[5]) == {"+", "-"}
    for _, g in roi.groupby(0):
        assert (g[1].to_numpy()[1:] >= g[2].to_numpy()[:-1]).all()  # sorted, non-overlapping


def test_sample_files(sample_files: dict[str, str]) -> None:
    from genozarr.resources import CHROM_SIZES, MOTIF, SAMPLE_FILES, resource_path

    assert sum(os.path.getsize(p) for p in sample_files.values()) < 1_000_000
    assert resource_path("bam") == resource_path("sample.bam") == sample_files["bam"]
    with pytest.raises(FileNotFoundError, match="expected one of"):
        resource_path("nope.bam")
    assert set(sample_files) == set(SAMPLE_FILES)
    with pysam.FastaFile(sample_files["fasta"]) as fa:
        assert dict(zip(fa.references, fa.lengths, strict=True)) == CHROM_SIZES
        seqs = {c: fa.fetch(c).upper() for c in fa.references}
    roi = pd.read_csv(sample_files["roi"], sep="\t", header=None)
    assert len(roi) == 40 and set(roi[2] - roi[1]) == {1000} and set(roi[5]) == {"+", "-"}
    train = pd.read_csv(sample_files["roi_train"], sep="\t", header=None)
    test = pd.read_csv(sample_files["roi_test"], sep="\t", header=None)
    assert len(train) + len(test) == 40 and set(train[0]) == {"chr1"} and set(test[0]) == {"chr2"}
    rc = MOTIF[::-1].translate(str.maketrans("ACGT", "TGCA"))
    with pysam.AlignmentFile(sample_files["bam"]) as bam:
        assert bam.mapped + bam.unmapped == 10_000
        stats = {0: [], 1: []}
        for chrom, s, e, _, label, _ in roi.itertuples(index=False):
            seq = seqs[chrom][s:e]
            stats[label].append((seq.count(MOTIF) + seq.count(rc), bam.count(chrom, s, e)))
    pos, neg = np.array(stats[1]), np.array(stats[0])
    assert len(pos) == len(neg) == 20
    assert (pos[:, 0] >= 2).all() and neg[:, 0].mean() < 1  # motif planted in positives
    assert pos[:, 1].mean() > 1.8 * neg[:, 1].mean()  # reads enriched there
    with pyBigWig.open(sample_files["bigwig_a"]) as bw:
        a_pos = np.mean(
            [bw.stats(c, s, e)[0] for c, s, e, _, lab, _ in roi.itertuples(index=False) if lab]
        )
        a_neg = np.mean(
            [bw.stats(c, s, e)[0] for c, s, e, _, lab, _ in roi.itertuples(index=False) if not lab]
        )
    assert a_pos > 1.8 * a_neg
    peaks = pd.read_csv(sample_files["peaks"], sep="\t", header=None)
    assert peaks[3].is_unique and (peaks[4] > 1).mean() > 0.8
