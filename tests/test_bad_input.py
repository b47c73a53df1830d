"""Bad input fails clearly; harmless oddities (headers, CRLF, gzip) are accepted with the right values.

Every error case expects a :class:`GenozarrError` subclass whose message names the file and
the problem. The hand-written corpus lives in ``tests/data/bad/``; binary cases (BAM without
index, truncated BAM, gzip/bgzip files) are made here from the simulated dataset. Each file is
copied to a temporary directory first, so no index or store lands in the repository.
"""

from __future__ import annotations

import gzip
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pyBigWig
import pysam
import pytest

from genozarr.dataset import Bioseq, Cover
from genozarr.errors import (
    ArgumentError,
    ChromosomeNamingError,
    ChromosomeNotFoundError,
    GenozarrError,
    InputFileError,
    MalformedFileError,
    MissingIndexError,
    RegionError,
    StoreError,
)
from genozarr.io.bed import read_bed
from genozarr.regions import load_regions

BAD = Path(__file__).parent / "data" / "bad"
ONEHOT = {"A": [1, 0, 0, 0], "C": [0, 1, 0, 0], "G": [0, 0, 1, 0], "T": [0, 0, 0, 1],
          "N": [0, 0, 0, 0]}


@pytest.fixture
def bad(tmp_path):
    """Copy a corpus file into a temporary directory and return its path."""

    def copy(name: str) -> str:
        dest = tmp_path / name
        shutil.copy(BAD / name, dest)
        return str(dest)

    return copy


def expect(exc_type, where, *problems):
    """pytest.raises for ``exc_type`` (a GenozarrError) whose message names ``where`` and
    matches every regex in ``problems``."""
    assert issubclass(exc_type, GenozarrError)

    class _Check:
        def __enter__(self):
            self.ctx = pytest.raises(exc_type)
            self.info = self.ctx.__enter__()
            return self.info

        def __exit__(self, etype, value, tb):
            if etype is None or not issubclass(etype, exc_type):
                return self.ctx.__exit__(etype, value, tb)  # fails, or lets it propagate
            suppressed = self.ctx.__exit__(etype, value, tb)
            msg = str(self.info.value)
            assert str(where) in msg, f"message does not name {where}: {msg}"
            for p in problems:
                assert re.search(p, msg, re.I), f"message lacks {p!r}: {msg}"
            return suppressed

    return _Check()


def onehot(seq: str) -> np.ndarray:
    return np.array([ONEHOT[c] for c in seq.upper()], dtype=np.float32)


def bw_values(path: str, chrom: str, start: int, end: int) -> np.ndarray:
    """Reference values from pyBigWig (NaN -> 0), zero past the chromosome end."""
    with pyBigWig.open(path) as bw:
        length = bw.chroms(chrom)
        vals = np.array(bw.values(chrom, start, min(end, length)), dtype=np.float32)
    out = np.zeros(end - start, np.float32)
    out[: len(vals)] = np.nan_to_num(vals)
    return out


# ------------------------------------------------------------------------------ BAM
def test_bam_without_index(sim_data, tmp_path):
    bam = tmp_path / "reads.bam"
    shutil.copy(sim_data["bam"], bam)
    with expect(MissingIndexError, bam, r"no index", r"samtools index", r"index_bam"):
        Cover.create_from_bam("c", str(bam), roi=sim_data["roi"], binsize=200)
    # the advice works: build the index as the message says, then the same call succeeds
    from genozarr.io.bam import index_bam

    index_bam(bam)
    cover = Cover.create_from_bam("c", str(bam), roi=sim_data["roi"], binsize=200)
    ref = Cover.create_from_bam("c", sim_data["bam"], roi=sim_data["roi"], binsize=200)
    np.testing.assert_array_equal(cover[:], ref[:])
    assert cover[:].sum() > 0


def test_truncated_bam(sim_data, tmp_path):
    bam = tmp_path / "truncated.bam"
    data = Path(sim_data["bam"]).read_bytes()
    bam.write_bytes(data[: len(data) // 2])
    shutil.copy(sim_data["bam"] + ".bai", str(bam) + ".bai")
    with expect(InputFileError, bam, r"truncated|not a BAM"):
        Cover.create_from_bam("c", str(bam), roi=sim_data["roi"], binsize=200)


def test_not_a_bam(bad, sim_data, tmp_path):
    bam = tmp_path / "text.bam"
    shutil.copy(BAD / "header_track.bed", bam)
    Path(str(bam) + ".bai").write_bytes(b"")
    with expect(InputFileError, bam, r"not a BAM"):
        Cover.create_from_bam("c", str(bam), roi=sim_data["roi"], binsize=200)


# ------------------------------------------------------------------------------ BigWig
def test_bigwig_that_is_not_a_bigwig(bad, sim_data):
    path = bad("not_a_bigwig.bw")
    with expect(InputFileError, path, r"not a BigWig"):
        Cover.create_from_bigwig("c", path, roi=sim_data["roi"], binsize=200)


def test_bigwig_with_truncated_header(tmp_path, sim_data):
    from genozarr.io._handles import get_handle

    path = tmp_path / "cut.bw"
    path.write_bytes(Path(sim_data["bigwigs"][0]).read_bytes()[:40])
    with expect(InputFileError, path, r"not a BigWig|cannot be opened"):
        get_handle("bigwig", str(path))


# ------------------------------------------------------------------------------ BED
def test_empty_bed_as_roi(bad, sim_data):
    path = bad("empty.bed")
    with expect(RegionError, path, r"empty"):
        Cover.create_from_bigwig("c", sim_data["bigwigs"][0], roi=path, binsize=200)


def test_empty_bed_as_data_gives_zeros(bad, sim_data):
    """An empty peak file is a valid (if dull) input: every value is 0, the shape is right."""
    cover = Cover.create_from_bed("c", bad("empty.bed"), roi=sim_data["roi"], binsize=200,
                                  genomesize=sim_data["chrom_sizes"])
    roi = read_bed(sim_data["roi"])
    n = int(((roi["end"] - roi["start"]) // 200).sum())
    assert cover.shape == (n, 200, 1, 1)
    assert not cover[:].any()


@pytest.mark.parametrize("name, line, problem", [
    ("start_gt_end.bed", 2, r"start 500 > end 400"),
    ("negative.bed", 1, r"start must be a non-negative integer, got '-50'"),
    ("noninteger.bed", 2, r"start must be a non-negative integer, got '150\.5'"),
    ("too_few_columns.bed", 2, r"at least 3 tab-separated columns"),
])
def test_malformed_bed(bad, sim_data, name, line, problem):
    path = bad(name)
    with expect(MalformedFileError, path, rf"line {line}\b", problem):
        read_bed(path)
    # the same as a ROI and as data, through the public constructors
    with expect(MalformedFileError, path, problem):
        Cover.create_from_bigwig("c", sim_data["bigwigs"][0], roi=path, binsize=50)
    with expect(MalformedFileError, path, problem):
        Cover.create_from_bed("c", path, roi=sim_data["roi"], binsize=200)


def test_bed_more_malformed_values(tmp_path):
    cases = {
        "huge.bed": ("chr1\t1\t99999999999999999999999\n", r"end must be a non-negative"),
        "text.bed": ("chr1\tstart\tend\n", r"line 1: start must be"),
        "strand.bed": ("chr1\t1\t5\tn\t0\tx\n", r"strand must be"),
        "score.bed": ("chr1\t1\t5\tn\thigh\t+\n", r"score .* must be a number"),
        "binary.bed": (os.urandom(64).replace(b"\n", b"") + b"\xff\xfe\n", r"not .*UTF-8"),
        "spaces.bed": ("chr1 1 5\n", r"tab-separated"),
    }
    for name, (content, problem) in cases.items():
        path = tmp_path / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
        with expect(MalformedFileError, path, problem):
            read_bed(path)


def test_truncated_gzip_bed(tmp_path):
    path = tmp_path / "cut.bed.gz"
    data = gzip.compress(b"chr1\t10\t20\n" * 2000)
    path.write_bytes(data[: len(data) // 2])
    with expect(MalformedFileError, path, r"truncated|corrupt"):
        read_bed(path)


@pytest.mark.parametrize("missing", [".", "NA", "nan", "NaN", "-nan"])
def test_bedgraph_values_without_a_number_read_as_missing(tmp_path, missing):
    """Tools write a missing bedGraph value as '.', 'NA' (R) or 'nan'/'NaN' (Python,
    numpy): all read as NaN; 'NaN' was refused as not a number while 'NA' was not."""
    path = tmp_path / "v.bedgraph"
    path.write_text(f"chr1\t0\t10\t1.5\nchr1\t10\t20\t{missing}\nchr1\t20\t30\tinf\n")
    score = read_bed(path, bedgraph=True)["score"].to_numpy()
    assert score[0] == 1.5 and np.isnan(score[1]) and np.isposinf(score[2])


def test_header_and_track_lines_are_accepted(bad, sim_data):
    path = bad("header_track.bed")
    df = read_bed(path)
    assert df[["chrom", "start", "end", "name", "strand"]].values.tolist() == [
        ["chr1", 100, 200, "p1", "+"], ["chr2", 1000, 1050, "p2", "-"]]
    assert df["score"].tolist() == [5.0, 7.5]
    # as data in score mode: the scores land on exactly the features' bases
    cover = Cover.create_from_bed("c", path, roi=pd.DataFrame(
        {"chrom": ["chr1", "chr2"], "start": [0, 900], "end": [300, 1200]}), binsize=300,
        mode="score", genomesize=sim_data["chrom_sizes"])
    expected = np.zeros((2, 300), np.float32)
    expected[0, 100:200] = 5.0
    expected[1, 100:150] = 7.5
    np.testing.assert_array_equal(cover[:][:, :, 0, 0], expected)


def test_windows_line_endings_are_accepted(bad, sim_data):
    path = bad("crlf.bed")
    assert b"\r\n" in Path(path).read_bytes()  # the corpus file really has CRLF endings
    df = read_bed(path)
    assert df[["chrom", "start", "end", "name", "strand"]].values.tolist() == [
        ["chr1", 100, 200, "p1", "+"], ["chr2", 1000, 1050, "p2", "-"]]
    assert df["score"].tolist() == [5.0, 7.5]
    # as a ROI: the minus strand survives the \r (a '-\r' would silently become '.')
    cover = Cover.create_from_bigwig("c", sim_data["bigwigs"][0], roi=path, binsize=50)
    assert cover.gindexer.strand.tolist() == ["+", "+", "-"]
    bw = sim_data["bigwigs"][0]
    np.testing.assert_array_equal(cover[0][0][:, 0, 0], bw_values(bw, "chr1", 100, 150))
    np.testing.assert_array_equal(cover[2][0][:, 0, 0], bw_values(bw, "chr2", 1000, 1050)[::-1])
    # as data in score mode
    cover = Cover.create_from_bed("c", path, roi=sim_data["roi"], binsize=1000, mode="score",
                                  genomesize=sim_data["chrom_sizes"], store_whole_genome=True)
    assert cover["chr2", 0, 8000][0][1000:1050, 0, 0].tolist() == [7.5] * 50
    values = cover["chr1", 0, 12000][0][:, 0, 0]
    assert values[100:200].tolist() == [5.0] * 100 and not np.delete(values, range(100, 200)).any()


def test_crlf_fasta_is_accepted(bad):
    path = bad("crlf.fa")
    # record lengths 9 and 10: the \r is not counted as a base
    with expect(MalformedFileError, path, r"different lengths \(9\.\.10"):
        Bioseq.create_from_seq("s", path)
    seqs = Bioseq.create_from_seq("s", path, fixedlen=10)
    np.testing.assert_array_equal(seqs[0][0][:, 0, :], onehot("ACGTNACGTN"))
    np.testing.assert_array_equal(seqs[1][0][:, 0, :], onehot("GGCCATTAAC"))
    ref = Bioseq.create_from_refgenome("r", path, roi=pd.DataFrame(
        {"chrom": ["seq1", "seq2"], "start": [2, 3], "end": [8, 9]}), binsize=6)
    np.testing.assert_array_equal(ref[0][0][:, 0, :], onehot("GTNACG"))
    np.testing.assert_array_equal(ref[1][0][:, 0, :], onehot("CATTAA"))


# ------------------------------------------------------------------------------ gzip
def test_gzip_bed_is_accepted(bad, sim_data, tmp_path):
    plain = read_bed(bad("header_track.bed"))
    for name in ("peaks.bed.gz", "peaks_without_gz_suffix.bed"):
        path = tmp_path / name
        path.write_bytes(gzip.compress((BAD / "header_track.bed").read_bytes()))
        pd.testing.assert_frame_equal(read_bed(path), plain, check_like=True)
    roi = tmp_path / "roi.bed.gz"
    roi.write_bytes(gzip.compress(Path(sim_data["roi"]).read_bytes()))
    bw = sim_data["bigwigs"][0]
    a = Cover.create_from_bigwig("c", bw, roi=str(roi), binsize=200)
    b = Cover.create_from_bigwig("c", bw, roi=sim_data["roi"], binsize=200)
    np.testing.assert_array_equal(a[:], b[:])
    first = read_bed(sim_data["roi"]).iloc[0]
    expected = bw_values(bw, first.chrom, first.start, first.start + 200)
    np.testing.assert_array_equal(a[0][0][:, 0, 0], expected if first.strand != "-" else expected[::-1])


def test_gzip_fasta_create_from_seq(bad, tmp_path):
    path = tmp_path / "seqs.fa.gz"
    path.write_bytes(gzip.compress(b">a\nACGTN\n>b\nggcca\n"))
    seqs = Bioseq.create_from_seq("s", str(path))
    np.testing.assert_array_equal(seqs[:][:, :, 0, :], np.stack([onehot("ACGTN"), onehot("GGCCA")]))


def test_gzip_fasta_create_from_refgenome(sim_data, tmp_path):
    """Plain gzip cannot be faidx-indexed: a clear error suggesting bgzip. bgzip works."""
    text = Path(sim_data["fasta"]).read_bytes()
    gz = tmp_path / "genome.fa.gz"
    gz.write_bytes(gzip.compress(text))
    roi = pd.DataFrame({"chrom": ["chr1", "chr2"], "start": [100, 7900], "end": [300, 8100]})
    with expect(MissingIndexError, gz, r"not bgzip", r"bgzip"):
        Bioseq.create_from_refgenome("g", str(gz), roi=roi, binsize=200)
    plain = tmp_path / "genome.fa"
    plain.write_bytes(text)
    pysam.tabix_compress(str(plain), str(tmp_path / "genome.bgz.fa.gz"))
    bgz = Bioseq.create_from_refgenome("g", str(tmp_path / "genome.bgz.fa.gz"), roi=roi,
                                       binsize=200)
    with pysam.FastaFile(sim_data["fasta"]) as fa:
        first, tail = fa.fetch("chr1", 100, 300), fa.fetch("chr2", 7900, 8000)
    np.testing.assert_array_equal(bgz[0][0][:, 0, :], onehot(first))
    np.testing.assert_array_equal(bgz[1][0][:, 0, :], onehot(tail + "N" * 100))


# ------------------------------------------------------------------------------ FASTA
def test_duplicate_sequence_names(bad):
    path = bad("duplicate_names.fa")
    with expect(MalformedFileError, path, r"'seq1'", r"(twice|more than once)"):
        Bioseq.create_from_seq("s", path)
    roi = pd.DataFrame({"chrom": ["seq1"], "start": [0], "end": [10]})
    with expect(MalformedFileError, path, r"'seq1'", r"more than once"):
        Bioseq.create_from_refgenome("s", path, roi=roi, binsize=10)
    assert not Path(path + ".fai").exists()  # no index that hides the duplicate next time


def test_duplicate_sequence_names_in_an_existing_fai(tmp_path):
    fa = tmp_path / "dup.fa"
    fa.write_text(">a\nACGT\n>a\nGGGG\n")
    (tmp_path / "dup.fa.fai").write_text("a\t4\t3\t4\t5\na\t4\t11\t4\t5\n")
    roi = pd.DataFrame({"chrom": ["a"], "start": [0], "end": [4]})
    with expect(MalformedFileError, str(fa), r"'a'", r"more than once"):
        Bioseq.create_from_refgenome("s", str(fa), roi=roi, binsize=4)


def test_not_a_fasta(bad):
    path = bad("not_fasta.fa")
    with expect(MalformedFileError, path, r"no sequences"):
        Bioseq.create_from_seq("s", path)
    with expect(MissingIndexError, path, r"not a FASTA"):
        Bioseq.create_from_refgenome("s", path, roi=pd.DataFrame(
            {"chrom": ["x"], "start": [0], "end": [4]}), binsize=4)


def _make_read_only(directory: Path):
    """Make ``directory`` unwritable even for root (chattr +i); returns an undo function."""
    if os.geteuid() != 0:
        directory.chmod(0o555)
        return lambda: directory.chmod(0o755)
    if shutil.which("chattr") is None:
        pytest.skip("running as root without chattr: cannot make a directory read-only")
    done = subprocess.run(["chattr", "+i", str(directory)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"chattr +i not supported here: {done.stderr.decode().strip()}")
    return lambda: subprocess.run(["chattr", "-i", str(directory)], check=True)


def test_fasta_without_fai_in_read_only_directory(sim_data, tmp_path):
    ro = tmp_path / "readonly"
    ro.mkdir()
    fasta = ro / "genome.fa"
    shutil.copy(sim_data["fasta"], fasta)
    undo = _make_read_only(ro)
    try:
        with pytest.raises(OSError):  # the directory really is read-only
            (ro / "probe").touch()
        with expect(MissingIndexError, fasta, r"read-only", r"samtools faidx"):
            Bioseq.create_from_refgenome("s", str(fasta), roi=sim_data["roi"], binsize=200)
    finally:
        undo()
    assert not list(ro.glob("*.fai*"))
    # once writable, the same call indexes the file and reads the right sequence
    seq = Bioseq.create_from_refgenome("s", str(fasta), roi=pd.DataFrame(
        {"chrom": ["chr2"], "start": [10], "end": [60]}), binsize=50)
    with pysam.FastaFile(sim_data["fasta"]) as fa:
        np.testing.assert_array_equal(seq[0][0][:, 0, :], onehot(fa.fetch("chr2", 10, 60)))


def test_fasta_without_fai_on_a_read_only_file_system(sim_data, tmp_path, monkeypatch):
    """On a read-only mount (a shared input cache in a container), removing a temporary
    index that was never made fails with EROFS, not ENOENT: that error, naming the
    temporary file, replaced the MissingIndexError saying the directory is read-only (an
    audit). The read-only mount is simulated: the directory made read-only, and removing
    a file in it failing as the mount's would."""
    import errno
    import pathlib

    ro = tmp_path / "readonly"
    ro.mkdir()
    fasta = ro / "genome.fa"
    shutil.copy(sim_data["fasta"], fasta)
    real_unlink = pathlib.Path.unlink

    def unlink(self, missing_ok=False):
        if self.parent == ro:
            raise OSError(errno.EROFS, "Read-only file system", str(self))
        return real_unlink(self, missing_ok=missing_ok)

    monkeypatch.setattr(pathlib.Path, "unlink", unlink)
    undo = _make_read_only(ro)
    try:
        with expect(MissingIndexError, fasta, r"read-only", r"samtools faidx"):
            Bioseq.create_from_refgenome("s", str(fasta), roi=sim_data["roi"], binsize=200)
    finally:
        undo()


# ------------------------------------------------------------------------------ chromosomes
@pytest.mark.parametrize("kind", ["bigwig", "bam", "fasta"])
def test_roi_on_absent_chromosome(bad, sim_data, kind):
    """As Janggu: a ROI chromosome a coverage file lacks reads as zeros, with one warning
    naming the file and the chromosome; a reference genome lacking it stays an error."""
    from genozarr.genome import MissingChromosomeWarning

    roi = bad("absent_chrom.bed")
    data = {"bigwig": sim_data["bigwigs"][0], "bam": sim_data["bam"], "fasta": sim_data["fasta"]}[kind]
    if kind == "fasta":
        with expect(ChromosomeNotFoundError, data, r"'chr9'", r"not found"):
            Bioseq.create_from_refgenome("c", data, roi=roi, binsize=200)
        return
    make = Cover.create_from_bigwig if kind == "bigwig" else Cover.create_from_bam
    with pytest.warns(MissingChromosomeWarning, match="chr9") as record:
        cover = make("c", data, roi=roi, binsize=200)
    assert len(record) == 1 and os.path.basename(data) in str(record[0].message)
    assert not cover[1].any()  # chr9:0-200, zeros
    if kind == "bigwig":
        with pyBigWig.open(data) as bw:
            truth = np.nan_to_num(np.array(bw.values("chr1", 1000, 1200), dtype="float32"))
        np.testing.assert_array_equal(cover[0][0, :, 0, 0], truth)
    else:
        with pysam.AlignmentFile(data) as bam:
            fwd = sum(1 for r in bam.fetch("chr1", 900, 1300) if not r.is_reverse
                      and not (r.flag & 0xF04) and 1000 <= r.reference_start < 1200)
        assert cover[0][0, :, 0, 0].sum() == fwd


@pytest.mark.parametrize("kind", ["bigwig", "bam"])
def test_roi_on_absent_chromosome_in_a_whole_genome_store(bad, sim_data, kind):
    """The same with store_whole_genome=True raised "needs chromosome lengths for
    ['chr9']" (an audit running Janggu's test_fulltilebigwig2 / test_fulltilebam2); as
    Janggu, the chromosome extends to the largest end of the regions on it, read as zeros,
    and the dataset equals the partial layout's."""
    from genozarr.genome import MissingChromosomeWarning

    roi = bad("absent_chrom.bed")
    data = {"bigwig": sim_data["bigwigs"][0], "bam": sim_data["bam"]}[kind]
    make = Cover.create_from_bigwig if kind == "bigwig" else Cover.create_from_bam
    with pytest.warns(MissingChromosomeWarning, match="chr9"):
        partial = make("c", data, roi=roi, binsize=200)
    with pytest.warns(MissingChromosomeWarning, match="chr9"):
        whole = make("c", data, roi=roi, binsize=200, store_whole_genome=True)
    ends = load_regions(roi).groupby("chrom")["end"].max()
    assert whole.garray.meta.chroms["chr9"] == int(ends["chr9"])
    np.testing.assert_array_equal(whole[:], partial[:])
    assert whole[:].any() and not whole[1].any()


def test_roi_on_absent_chromosome_with_genomesize(bad, sim_data):
    """A BED file has no header; with a genome size the absent chromosome is caught."""
    with expect(ChromosomeNotFoundError, "genomesize", r"'chr9'"):
        Cover.create_from_bed("c", sim_data["peaks"], roi=bad("absent_chrom.bed"), binsize=200,
                              genomesize=sim_data["chrom_sizes"])


@pytest.mark.parametrize("kind", ["bigwig", "bam", "fasta"])
def test_chr_prefix_mismatch(bad, sim_data, kind):
    roi = bad("no_chr_prefix.bed")
    data = {"bigwig": sim_data["bigwigs"][0], "bam": sim_data["bam"], "fasta": sim_data["fasta"]}[kind]
    make = {"bigwig": Cover.create_from_bigwig, "bam": Cover.create_from_bam,
            "fasta": Bioseq.create_from_refgenome}[kind]
    with expect(ChromosomeNamingError, data, r"'1' vs 'chr1'", r"chrom_map='auto'"):
        make("c", data, roi=roi, binsize=200)
    fixed = make("c", data, roi=roi, binsize=200, chrom_map="auto")
    named = pd.DataFrame({"chrom": ["chr1", "chr2"], "start": [1000, 2000], "end": [1200, 2200],
                          "strand": ["+", "-"]})
    ref = make("c", data, roi=named, binsize=200)
    np.testing.assert_array_equal(fixed[:], ref[:])
    assert fixed[:].any()
    if kind == "bigwig":  # and the reference itself is right
        np.testing.assert_array_equal(ref[0][0][:, 0, 0], bw_values(data, "chr1", 1000, 1200))


def test_chr_prefix_mismatch_bed_with_genomesize(bad, sim_data):
    with expect(ChromosomeNamingError, "genomesize", r"'1' vs 'chr1'"):
        Cover.create_from_bed("c", sim_data["peaks"], roi=bad("no_chr_prefix.bed"), binsize=200,
                              genomesize=sim_data["chrom_sizes"])


def test_chr_prefix_mismatch_bed_data_without_genomesize(bad, sim_data):
    with pytest.raises(ChromosomeNamingError):
        Cover.create_from_bed("c", sim_data["peaks"], roi=bad("no_chr_prefix.bed"), binsize=200)


# ------------------------------------------------------------------------------ regions
def test_region_starting_past_chromosome_end(bad, sim_data):
    roi = bad("start_past_end.bed")
    bw = sim_data["bigwigs"][0]
    with expect(RegionError, bw, r"chr2:8000-8200", r"starts past the end", r"8000"):
        Cover.create_from_bigwig("c", bw, roi=roi, binsize=200)
    with expect(RegionError, sim_data["fasta"], r"starts past the end"):
        Bioseq.create_from_refgenome("c", sim_data["fasta"], roi=roi, binsize=200)


def test_region_tail_past_chromosome_end_is_padded(bad, sim_data):
    roi = bad("tail_past_end.bed")  # chr2:7900-8100, chr2 has 8000 bp
    bw = sim_data["bigwigs"][0]
    cover = Cover.create_from_bigwig("c", bw, roi=roi, binsize=200)
    expected = np.zeros(200, np.float32)
    expected[:100] = bw_values(bw, "chr2", 7900, 8000)
    np.testing.assert_array_equal(cover[0][0][:, 0, 0], expected)
    assert expected[:100].any()
    bam = Cover.create_from_bam("c", sim_data["bam"], roi=roi, binsize=200)
    counts = np.zeros((200, 2))
    with pysam.AlignmentFile(sim_data["bam"]) as f:
        for r in f.fetch("chr2", 7900, 8000):
            if r.flag & (0x4 | 0x100 | 0x800 | 0x200 | 0x400):
                continue
            pos = r.reference_end - 1 if r.is_reverse else r.reference_start
            if 7900 <= pos < 8000:
                counts[pos - 7900, int(r.is_reverse)] += 1
    assert counts.sum() > 0
    np.testing.assert_array_equal(bam[0][0][:, :, 0], counts)
    seq = Bioseq.create_from_refgenome("s", sim_data["fasta"], roi=roi, binsize=200)
    with pysam.FastaFile(sim_data["fasta"]) as fa:
        np.testing.assert_array_equal(seq[0][0][:, 0, :], onehot(fa.fetch("chr2", 7900, 8000) + "N" * 100))


def test_binsize_not_divisible_by_resolution(sim_data):
    with pytest.raises(ArgumentError, match=r"binsize 150 is not divisible by resolution 100"):
        Cover.create_from_bigwig("c", sim_data["bigwigs"][0], roi=sim_data["roi"], binsize=150,
                                 resolution=100)


@pytest.mark.parametrize("stepsize", [0, -5])
def test_stepsize_zero(sim_data, stepsize):
    with pytest.raises(ArgumentError, match=rf"stepsize .*got {stepsize}"):
        Cover.create_from_bigwig("c", sim_data["bigwigs"][0], roi=sim_data["roi"], binsize=100,
                                 stepsize=stepsize)
    from genozarr.regions import GenomicIndexer

    with pytest.raises(ArgumentError, match="stepsize"):
        GenomicIndexer.create_from_file(sim_data["roi"], binsize=100, stepsize=stepsize)


@pytest.mark.parametrize("roi", [
    pd.DataFrame({"chrom": [], "start": [], "end": []}), [],
])
def test_empty_roi(sim_data, roi):
    with pytest.raises(RegionError, match="empty"):
        Cover.create_from_bigwig("c", sim_data["bigwigs"][0], roi=roi, binsize=100)


@pytest.mark.parametrize("storage", ["ndarray", "sparse", "zarr"])
def test_no_window_fits_gives_an_empty_dataset(sim_data, storage, tmp_path):
    """As Janggu: a tiling that yields no window is an empty dataset, not an error (with
    storage='sparse' too: it was a ValueError from a reshape of no rows)."""
    roi = pd.DataFrame({"chrom": ["chr1"], "start": [0], "end": [50]})
    cover = Cover.create_from_bigwig("c", sim_data["bigwigs"][0], roi=roi, binsize=100,
                                     zero_padding=False, storage=storage,
                                     store=str(tmp_path / "e.zarr") if storage == "zarr" else None)
    assert len(cover) == 0 and cover.shape == (0, 100, 1, 1)
    assert cover[:].shape == (0, 100, 1, 1)


def test_no_window_fits_a_whole_genome_dataset_with_a_normalizer(tmp_path):
    """A whole-genome build of no window with a normalizer failed: the fit got a tree
    without chromosomes, refused as "not a genozarr dataset" (an audit). It is empty, fitted
    on no values as the partial layout's is."""
    from genozarr.errors import EmptyConditionWarning
    from genozarr.testing.simulate import write_bigwig

    bw = write_bigwig(tmp_path / "a.bw", {"chr1": np.arange(170, dtype=float)})
    roi = pd.DataFrame({"chrom": ["chr1"], "start": [160], "end": [169]})
    for whole in (False, True):
        with pytest.warns(EmptyConditionWarning):
            cover = Cover.create_from_bigwig("t", bw, roi=roi, binsize=16, resolution=4,
                                             zero_padding=False, store_whole_genome=whole,
                                             normalizer="zscore")
        assert cover.shape == (0, 4, 1, 1) and cover[:].shape == (0, 4, 1, 1)
        assert cover.normalizers[0].mean.ravel().tolist() == [0.0]


@pytest.mark.parametrize("kind", ["cover", "bioseq"])
def test_a_whole_genome_store_over_no_roi_holds_every_chromosome(tmp_path, kind):
    """roi=None with store_whole_genome=True left out each chromosome too short for a
    window without zero_padding: it could not be read by interval, and normalizers were
    fitted without it (an audit). As Janggu's store: every chromosome of the genome."""
    from genozarr.testing.simulate import write_bigwig

    if kind == "cover":
        bw = write_bigwig(tmp_path / "a.bw", {"chr1": np.ones(100), "chr2": np.full(30, 5.0)})
        ds = Cover.create_from_bigwig("t", bw, roi=None, binsize=50, store_whole_genome=True,
                                      zero_padding=False, normalizer="zscore")
        values = np.concatenate([np.ones(100), np.full(30, 5.0)])
        np.testing.assert_allclose(ds.normalizers[0].mean.ravel(), [values.mean()])
        np.testing.assert_allclose(ds["chr2", 0, 10].ravel(),
                                   (5.0 - values.mean()) / values.std(ddof=1), rtol=1e-5)
    else:
        fa = tmp_path / "g.fa"
        fa.write_text(">chr1\n" + "A" * 100 + "\n>chr2\n" + "GGCC" * 5 + "\n")
        ds = Bioseq.create_from_refgenome("t", str(fa), roi=None, binsize=50,
                                          store_whole_genome=True, zero_padding=False)
        np.testing.assert_array_equal(ds["chr2", 0, 4][0, :, 0, :],
                                      [ONEHOT[b] for b in "GGCC"])
    assert list(ds.garray.meta.chroms) == ["chr1", "chr2"]
    assert [str(r) for r in ds.gindexer] == ["chr1:0-50(.)", "chr1:50-100(.)"]


def test_flank_off_the_bins_of_resolution_none_is_named(sim_data):
    """With store_whole_genome=True and resolution=None (bins of binsize), a flank that is
    no multiple of binsize was refused as a window "not divisible by resolution", with
    advice to trim the regions (an audit)."""
    roi = pd.DataFrame({"chrom": ["chr1"], "start": [100], "end": [300]})
    with pytest.raises(ArgumentError, match=r"flank 10 is not divisible by resolution 50 "
                                            r"\(resolution=None: bins of binsize\)"):
        Cover.create_from_bigwig("c", sim_data["bigwigs"][0], roi=roi, binsize=50,
                                 resolution=None, flank=10, store_whole_genome=True)


# ------------------------------------------------------------------------------ stores
def test_existing_directory_that_is_not_a_store(sim_data, tmp_path):
    from genozarr.store.open import open_store

    target = tmp_path / "my_results"
    target.mkdir()
    (target / "notes.txt").write_text("precious")
    with expect(StoreError, target, r"not a complete genozarr store"):
        open_store(target)
    with expect(StoreError, target, r"not a genozarr store", r"does not delete"):
        Cover.create_from_bigwig("c", sim_data["bigwigs"][0], roi=sim_data["roi"], binsize=200,
                                 storage="zarr", store=target)
    assert (target / "notes.txt").read_text() == "precious"
    assert [p.name for p in tmp_path.iterdir()] == ["my_results"]  # no temporary left over
    # a plain zarr group written by someone else is not replaced either
    import zarr

    other = tmp_path / "other.zarr"
    zarr.open_group(str(other), mode="w", zarr_format=3).create_array("x", shape=(3,), dtype="i4")
    with expect(StoreError, other, r"not a genozarr store"):
        Cover.create_from_bigwig("c", sim_data["bigwigs"][0], roi=sim_data["roi"], binsize=200,
                                 storage="zarr", store=other, cache=True)
    assert (other / "x" / "zarr.json").exists()


def test_store_path_that_is_a_file(sim_data, tmp_path):
    target = tmp_path / "file.zarr"
    target.write_text("x")
    with expect(StoreError, target, r"is a file"):
        Cover.create_from_bigwig("c", sim_data["bigwigs"][0], roi=sim_data["roi"], binsize=200,
                                 storage="zarr", store=target)


def test_empty_directory_is_used_as_store(sim_data, tmp_path):
    target = tmp_path / "empty.zarr"
    target.mkdir()
    cover = Cover.create_from_bigwig("c", sim_data["bigwigs"][0], roi=sim_data["roi"],
                                     binsize=200, storage="zarr", store=target)
    ref = Cover.create_from_bigwig("c", sim_data["bigwigs"][0], roi=sim_data["roi"], binsize=200)
    np.testing.assert_array_equal(cover[:], ref[:])


def test_bam_corrupted_mid_stream(sim_data, tmp_path):
    bam = tmp_path / "cut.bam"
    data = Path(sim_data["bam"]).read_bytes()
    eof = bytes.fromhex("1f8b08040000000000ff0600424302001b0003000000000000000000")
    bam.write_bytes(data[: len(data) // 2] + eof)
    shutil.copy(sim_data["bam"] + ".bai", str(bam) + ".bai")
    with expect(MalformedFileError, bam, r"truncated|corrupt"):
        Cover.create_from_bam("c", str(bam), roi=sim_data["roi"], binsize=200)


# ------------------------------------------------------------------------------ environment
@pytest.fixture
def shared_dir():
    """A directory every user may enter (``tmp_path`` is private to its owner), so a file
    in it can be made unreadable for an unprivileged reader (see :func:`unprivileged`)."""
    import tempfile

    path = Path(tempfile.mkdtemp(prefix="genozarr-perm-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def unprivileged(fn):
    """Call ``fn()`` as a user to whom ``chmod 000`` files are unreadable.

    A normal user calls it directly. Root reads any file, so as root ``fn`` runs in a
    forked child that drops to uid/gid 65534 (nobody); its result or exception comes back
    pickled and is returned or raised here.
    """
    import pickle

    if os.geteuid() != 0:
        return fn()
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child never returns into pytest
        try:
            os.close(r)
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            try:
                result = ("ok", fn())
            except BaseException as e:  # noqa: BLE001 - handed to the parent
                result = ("err", e)
            try:
                data = pickle.dumps(result)
            except Exception as e:  # noqa: BLE001
                data = pickle.dumps(("err", RuntimeError(f"{result!r} does not pickle: {e}")))
            with os.fdopen(w, "wb") as fh:
                fh.write(data)
        finally:
            os._exit(0)
    os.close(w)
    with os.fdopen(r, "rb") as fh:
        data = fh.read()
    os.waitpid(pid, 0)
    kind, value = pickle.loads(data)
    if kind == "err":
        raise value
    return value


def _copy_sim(sim_data, directory, *keys):
    out = {}
    for key in keys:
        src = sim_data[key] if key != "bigwig" else sim_data["bigwigs"][0]
        dest = directory / Path(src).name
        shutil.copy(src, dest)
        for suffix in (".bai", ".fai"):
            if Path(src + suffix).exists():
                shutil.copy(src + suffix, str(dest) + suffix)
        out[key] = str(dest)
    return out


@pytest.mark.parametrize("what", ["roi", "fasta", "fai", "bam", "bai", "bigwig", "gtf"])
def test_unreadable_file(sim_data, shared_dir, what):
    """Permission denied names the file and the cause (not 'not a BigWig', not a raw
    PermissionError); once readable again, the same call reads the right values."""
    from genozarr.errors import UnreadableFileError
    from genozarr.io.bam import count_5prime
    from genozarr.io.bigwig import read_values
    from genozarr.io.fasta import read_sequence
    from genozarr.regions import load_regions

    files = _copy_sim(sim_data, shared_dir, "roi", "fasta", "bam", "bigwig", "gtf")
    target = {"fai": files["fasta"] + ".fai", "bai": files["bam"] + ".bai"}.get(what) or \
        files[what]
    calls = {
        "roi": lambda: load_regions(files["roi"]),
        "gtf": lambda: load_regions(files["gtf"]),
        "fasta": lambda: read_sequence(files["fasta"], "chr1", 100, 160),
        "fai": lambda: read_sequence(files["fasta"], "chr1", 100, 160),
        "bam": lambda: count_5prime(files["bam"], "chr1", 1000, 1500),
        "bai": lambda: count_5prime(files["bam"], "chr1", 1000, 1500),
        "bigwig": lambda: read_values(files["bigwig"], "chr1", 100, 160),
    }
    key = "roi" if what == "roi" else ("gtf" if what == "gtf" else what.replace("fai", "fasta")
                                       .replace("bai", "bam"))
    os.chmod(target, 0)
    with expect(UnreadableFileError, target, r"permission denied") as info:
        unprivileged(calls[what])
    assert isinstance(info.value, PermissionError)
    assert "not a BigWig" not in str(info.value)
    os.chmod(target, 0o644)
    got = calls[what]()
    if key == "fasta":
        with pysam.FastaFile(sim_data["fasta"]) as fa:
            assert got.decode() == fa.fetch("chr1", 100, 160).upper()
    elif key == "bam":
        with pysam.AlignmentFile(sim_data["bam"]) as bam:
            truth = np.zeros((500, 2), np.int32)
            for r in bam.fetch("chr1", 0, 2000):
                if r.flag & 0xF04:
                    continue
                pos = r.reference_end - 1 if r.is_reverse else r.reference_start
                if 1000 <= pos < 1500:
                    truth[pos - 1000, int(r.is_reverse)] += 1
        assert truth.sum() > 0
        np.testing.assert_array_equal(got, truth)
    elif key == "bigwig":
        np.testing.assert_array_equal(got, bw_values(sim_data["bigwigs"][0], "chr1", 100, 160))
    else:
        assert len(got) == len(load_regions(sim_data[key]))


@pytest.mark.parametrize("kind", ["bam", "bigwig", "fasta", "roi", "bed"])
def test_directory_given_as_file(sim_data, tmp_path, kind):
    from genozarr.errors import NotAFileError

    directory = tmp_path / {"bam": "reads.bam", "bigwig": "x.bw", "fasta": "g.fa",
                            "roi": "roi.bed", "bed": "peaks.bed"}[kind]
    directory.mkdir()
    with expect(NotAFileError, directory, r"is a directory", r"not a file") as info:
        if kind == "bam":
            Cover.create_from_bam("c", str(directory), roi=sim_data["roi"], binsize=200)
        elif kind == "bigwig":
            Cover.create_from_bigwig("c", str(directory), roi=sim_data["roi"], binsize=200)
        elif kind == "fasta":
            Bioseq.create_from_refgenome("c", str(directory), roi=sim_data["roi"], binsize=200)
        elif kind == "roi":
            Cover.create_from_bigwig("c", sim_data["bigwigs"][0], roi=str(directory), binsize=200)
        else:
            Cover.create_from_bed("c", str(directory), roi=sim_data["roi"], binsize=200)
    assert "does not exist" not in str(info.value)
    assert isinstance(info.value, IsADirectoryError)


def test_cram_input(sim_data, tmp_path):
    from genozarr.errors import UnsupportedFormatError

    cram = tmp_path / "reads.cram"
    pysam.view("-C", "-T", sim_data["fasta"], "-o", str(cram), sim_data["bam"],
               catch_stdout=False)
    pysam.index(str(cram))  # a .crai exists: the problem is not a missing index
    with expect(UnsupportedFormatError, cram, r"CRAM", r"BAM files only",
                r"samtools view -b -T") as info:
        Cover.create_from_bam("c", str(cram), roi=sim_data["roi"], binsize=200)
    assert "no index" not in str(info.value)
    # the advice works: converted to BAM, the counts are those of the original BAM
    bam = tmp_path / "reads.bam"
    pysam.view("-b", "-T", sim_data["fasta"], "-o", str(bam), str(cram), catch_stdout=False)
    pysam.index(str(bam))
    a = Cover.create_from_bam("c", str(bam), roi=sim_data["roi"], binsize=200)
    b = Cover.create_from_bam("c", sim_data["bam"], roi=sim_data["roi"], binsize=200)
    np.testing.assert_array_equal(a[:], b[:])
    assert a[:].sum() > 0


@pytest.mark.parametrize("order", ["queryname", "unsorted"])
def test_a_bam_not_sorted_by_position_is_told_to_be_sorted_first(sim_data, tmp_path, order):
    """A BAM whose header says it is not sorted by position has no index, and 'samtools
    index' would fail on it: the error says to sort it first (it said only to index it).
    The advice works: sorted and indexed as told, it counts as the sorted original."""
    bam = tmp_path / "by_name.bam"
    pysam.sort("-n", "-o", str(bam), sim_data["bam"], catch_stdout=False)
    if order == "unsorted":
        header = pysam.view("-H", str(bam)).replace("SO:queryname", "SO:unsorted")
        (tmp_path / "h.sam").write_text(header)
        pysam.reheader(str(tmp_path / "h.sam"), str(bam), save_stdout=str(tmp_path / "u.bam"))
        shutil.move(tmp_path / "u.bam", bam)
    with expect(MissingIndexError, bam, rf"SO:{order}", r"samtools sort") as info:
        Cover.create_from_bam("c", str(bam), roi=sim_data["roi"], binsize=200)
    sort, index = re.search(r"'samtools sort -o (\S+) \S+' then 'samtools index (\S+)'",
                            str(info.value)).groups()
    assert sort == index
    pysam.sort("-o", sort, str(bam), catch_stdout=False)
    pysam.index(index)
    a = Cover.create_from_bam("c", sort, roi=sim_data["roi"], binsize=200)
    b = Cover.create_from_bam("c", sim_data["bam"], roi=sim_data["roi"], binsize=200)
    np.testing.assert_array_equal(a[:], b[:])


def test_text_and_binary_tracks_in_the_wrong_place_are_named(sim_data, tmp_path):
    """A bedGraph or WIG text file given as a BigWig, and a BigWig or bigBed given as a
    BED file, are named as what they are, with the conversion or the reader to use (a
    text file got libBigWig's 'error while reading in the header'); a bedGraph read as
    BED scores is pointed to mode='bedgraph', which reads its values."""
    bedgraph = tmp_path / "s.bedGraph"
    bedgraph.write_text("track type=bedGraph\nchr1\t100\t200\t5\nchr1\t500\t800\t7\n")
    wig = tmp_path / "s.wig"
    wig.write_text("variableStep chrom=chr1 span=100\n101\t5\n")
    gff = tmp_path / "g.gff3"
    gff.write_text("##gff-version 3\nchr1\tsrc\tgene\t1\t100\t.\t+\t.\tID=g\n")
    bed6 = tmp_path / "p.bed"
    bed6.write_text("#chrom\tstart\tend\tname\tscore\tstrand\nchr1\t0\t100\t17\t.\t+\n")
    for text, what, advice in ((bedgraph, "a bedGraph text file", "bedGraphToBigWig"),
                               (wig, "a WIG text file", "wigToBigWig"),
                               (gff, "text, not a BigWig", None),
                               (bed6, "text, not a BigWig", None)):
        with expect(InputFileError, text, what) as info:
            Cover.create_from_bigwig("c", str(text), roi=sim_data["roi"], binsize=200)
        if advice is not None:
            assert advice in str(info.value)
        else:  # (neither is a bedGraph or a WIG file: no conversion to tell)
            assert "ToBigWig" not in str(info.value) and "bedgraph" not in str(info.value)
    bigbed = tmp_path / "p.bb"
    bigbed.write_bytes(b"\xeb\xf2\x89\x87" + bytes(range(128, 256)) * 4)  # its magic
    with expect(MalformedFileError, bigbed, r"not a text BED file",
                r"is a bigBed: convert it with UCSC's bigBedToBed"):
        Cover.create_from_bed("c", str(bigbed), roi=sim_data["roi"], binsize=200)
    with expect(MalformedFileError, sim_data["bigwigs"][0], r"is a BigWig",
                r"create_from_bigwig"):
        Cover.create_from_bed("c", sim_data["bigwigs"][0], roi=sim_data["roi"], binsize=200)
    with expect(ArgumentError, bedgraph, r"needs scores", r"mode='bedgraph'"):
        Cover.create_from_bed("c", str(bedgraph), roi=sim_data["roi"], binsize=200,
                              mode="score")
    # a BED file of 6 columns whose names are numbers is no bedGraph: no such advice
    # (mode='bedgraph' would paint its names)
    with expect(ArgumentError, bed6, r"needs scores") as info:
        Cover.create_from_bed("c", str(bed6), roi=sim_data["roi"], binsize=200, mode="score")
    assert "bedgraph" not in str(info.value)
    got = Cover.create_from_bed("c", str(bedgraph), roi="chr1:0-1000", binsize=1000,
                                mode="bedgraph")
    want = np.zeros(1000, np.float32)
    want[100:200], want[500:800] = 5, 7
    np.testing.assert_array_equal(got[0][0, :, 0, 0], want)


@pytest.mark.parametrize("name", ["reads.sam", "named_like.bam"])
def test_sam_text_input(sim_data, tmp_path, name):
    from genozarr.errors import UnsupportedFormatError

    sam = tmp_path / name
    pysam.view("-h", "--output-fmt", "SAM", "-o", str(sam), sim_data["bam"],
               catch_stdout=False)
    assert sam.read_bytes().startswith(b"@HD")  # really text, whatever its name says
    with expect(UnsupportedFormatError, sam, r"SAM text", r"samtools view -b",
                r"samtools index") as info:
        Cover.create_from_bam("c", str(sam), roi=sim_data["roi"], binsize=200)
    msg = str(info.value)
    assert f"samtools index {sam}'" not in msg  # never told to index the text file itself
    # the advice works (the simulated reads are sorted already)
    out = re.search(r"samtools view -b -o (\S+) ", msg).group(1)
    pysam.view("-b", "-o", out, str(sam), catch_stdout=False)
    pysam.index(out)
    a = Cover.create_from_bam("c", out, roi=sim_data["roi"], binsize=200)
    b = Cover.create_from_bam("c", sim_data["bam"], roi=sim_data["roi"], binsize=200)
    np.testing.assert_array_equal(a[:], b[:])


def test_reverse_read_without_cigar(sim_data, tmp_path):
    from genozarr.io.bam import count_5prime

    bam = tmp_path / "nocigar.bam"
    with pysam.AlignmentFile(sim_data["bam"]) as src, \
            pysam.AlignmentFile(str(bam), "wb", template=src) as out:
        for i, read in enumerate(src.fetch(until_eof=True)):
            if i == 10:
                read.flag, read.cigarstring, name = 16, None, read.query_name
                start = read.reference_start
            out.write(read)
    pysam.index(str(bam))
    with expect(MalformedFileError, bam, re.escape(repr(name)), r"no CIGAR",
                rf"chr1:{start + 1}\b", r"samtools view"):
        count_5prime(bam, "chr1", 0, 12000)
    # the advice works: without that read the counts are pysam's
    fixed = tmp_path / "fixed.bam"
    pysam.view("-b", "-e", "ncigar > 0 || flag.unmap", "-o", str(fixed), str(bam),
               catch_stdout=False)
    pysam.index(str(fixed))
    got = count_5prime(fixed, "chr1", 0, 12000)
    truth = np.zeros((12000, 2), np.int32)
    with pysam.AlignmentFile(sim_data["bam"]) as src:
        for read in src.fetch("chr1"):
            if read.flag & 0xF04 or read.query_name == name:
                continue
            pos = read.reference_end - 1 if read.is_reverse else read.reference_start
            truth[pos, int(read.is_reverse)] += 1
    np.testing.assert_array_equal(got, truth)


@pytest.mark.parametrize("chrom, problem", [
    ("chr1\x00junk", r"NUL byte"),
    ("chr1" + "x" * 300, r"304 bytes long.*at most 255"),
])
def test_bad_chromosome_names(sim_data, chrom, problem):
    from genozarr.genome import Region
    from genozarr.io.bam import count_5prime
    from genozarr.io.bigwig import read_values
    from genozarr.io.fasta import read_sequence

    roi = pd.DataFrame({"chrom": [chrom], "start": [100], "end": [300]})
    for make, data in ((Cover.create_from_bigwig, sim_data["bigwigs"][0]),
                       (Cover.create_from_bam, sim_data["bam"]),
                       (Bioseq.create_from_refgenome, sim_data["fasta"])):
        with expect(RegionError, "regions DataFrame", problem):
            make("c", data, roi=roi, binsize=200)
    with expect(RegionError, "region", problem):
        Region(chrom, 100, 300)
    # the readers themselves: C code would cut 'chr1\x00junk' to 'chr1' and read chr1
    with expect(RegionError, sim_data["bigwigs"][0], problem):
        read_values(sim_data["bigwigs"][0], chrom, 100, 300)
    with expect(RegionError, sim_data["fasta"], problem):
        read_sequence(sim_data["fasta"], chrom, 100, 300)
    with pytest.raises(GenozarrError):
        count_5prime(sim_data["bam"], chrom, 100, 300)


@pytest.mark.parametrize("kind", ["bigwig", "bam", "fasta"])
def test_region_end_near_2_31_is_refused_before_allocating(sim_data, kind):
    """chr1 has 12 kb; a region ending at 2**31 - 10 used to allocate 8 GiB of padding."""
    import tracemalloc

    from genozarr.io.bam import count_5prime
    from genozarr.io.bigwig import read_values
    from genozarr.io.fasta import read_sequence

    data = {"bigwig": sim_data["bigwigs"][0], "bam": sim_data["bam"],
            "fasta": sim_data["fasta"]}[kind]
    make = {"bigwig": Cover.create_from_bigwig, "bam": Cover.create_from_bam,
            "fasta": Bioseq.create_from_refgenome}[kind]
    read = {"bigwig": read_values, "bam": count_5prime, "fasta": read_sequence}[kind]
    end = 2**31 - 10
    roi = pd.DataFrame({"chrom": ["chr1"], "start": [100], "end": [end]})
    tracemalloc.start()
    try:
        with expect(RegionError, data, rf"chr1:100-{end}", r"past the end", r"length 12000"):
            make("c", data, roi=roi, binsize=None)
        with expect(RegionError, data, r"past the end"):
            read(data, "chr1", 100, end)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 256 * 2**20, f"{peak / 2**20:.0f} MiB allocated before the error"
    # coordinates beyond any format's positions are refused even without a known length
    huge = pd.DataFrame({"chrom": ["chr1"], "start": [0], "end": [2**40]})
    with expect(RegionError, "regions DataFrame", r"larger than any position"):
        Cover.create_from_bed("c", sim_data["peaks"], roi=huge, binsize=None)
    # a tail past the end within the limit is still read, padded
    tail = {"bigwig": lambda: read_values(data, "chr1", 11900, 12100),
            "bam": lambda: count_5prime(data, "chr1", 11900, 12100),
            "fasta": lambda: read_sequence(data, "chr1", 11900, 12100)}[kind]()
    assert len(tail) == 200
    if kind == "bigwig":
        np.testing.assert_array_equal(tail, bw_values(data, "chr1", 11900, 12100))
    elif kind == "fasta":
        with pysam.FastaFile(data) as fa:
            assert tail == (fa.fetch("chr1", 11900, 12000).upper() + "N" * 100).encode()


def test_ragged_fasta_gives_htslib_reason(tmp_path):
    fa = tmp_path / "ragged.fa"
    fa.write_text(">a\nACGTACGT\nACG\nACGTACGT\n>b\nAAAA\n")
    roi = pd.DataFrame({"chrom": ["a"], "start": [0], "end": [4]})
    with expect(MissingIndexError, fa, r"Format error", r"line 4", r"same length") as info:
        Bioseq.create_from_refgenome("s", str(fa), roi=roi, binsize=4)
    assert "to see why" not in str(info.value)
    assert not list(tmp_path.glob("*.fai*"))


def _bam_with_header_line(sim_data, path, line):
    with pysam.AlignmentFile(sim_data["bam"]) as src:
        names, lengths = list(src.references), list(src.lengths)
        text = "@HD\tVN:1.6\tSO:coordinate\n" + "".join(
            f"@SQ\tSN:{n}\tLN:{n_}\n" for n, n_ in zip(names, lengths)) + line + "\n"
        header = pysam.AlignmentHeader.from_references(names, lengths, text=text)
        with pysam.AlignmentFile(str(path), "wb", header=header) as out:
            for read in src.fetch(until_eof=True):
                out.write(read)
    pysam.index(str(path))


def test_bam_header_line_htslib_cannot_parse(sim_data, tmp_path):
    """A @PG line whose CL holds an unescaped tab: htslib cannot parse the header text, so
    every lookup by name fails ('chromosome chr1 not in the header; it has [chr1, ...]'),
    but reads are found by reference id. One warning, and the right counts."""
    from genozarr.errors import MalformedHeaderWarning

    bam = tmp_path / "badpg.bam"
    line = "@PG\tID:bwa\tPN:bwa\tCL:bwa mem\tref.fa reads.fq"
    _bam_with_header_line(sim_data, bam, line)
    with pysam.AlignmentFile(str(bam)) as raw:  # the failure this test is about
        with pytest.raises(ValueError, match="could not parse header"):
            raw.fetch("chr1", 0, 100)
    with pytest.warns(MalformedHeaderWarning) as record:
        cover = Cover.create_from_bam("c", str(bam), roi=sim_data["roi"], binsize=200)
        again = Cover.create_from_bam("c", str(bam), roi=sim_data["roi"], binsize=200)
    ours = [w for w in record if issubclass(w.category, MalformedHeaderWarning)]
    assert len(ours) == 1, [str(w.message) for w in ours]
    message = str(ours[0].message)
    assert str(bam) in message and "line 4" in message and "ref.fa reads.fq" in message
    ref = Cover.create_from_bam("c", sim_data["bam"], roi=sim_data["roi"], binsize=200)
    np.testing.assert_array_equal(cover[:], ref[:])
    np.testing.assert_array_equal(again[:], ref[:])
    assert cover[:].sum() > 0
    # an absent chromosome gets a message that does not contradict itself
    from genozarr.io.bam import count_5prime

    with expect(ChromosomeNotFoundError, bam, r"'chrX' not in the BAM header") as info:
        count_5prime(bam, "chrX", 0, 10)
    assert "'chr1'" in str(info.value)
    with pytest.raises(ChromosomeNotFoundError):
        count_5prime(bam, "chr1 ", 0, 10)


def test_bed_scores_all_missing_and_genomesize_file_lacking_a_chromosome(tmp_path, sim_data):
    """A BED file whose 5th column is all '.' is said to have no scores (it was said to
    have no column); a genomesize file without a region's chromosome is named."""
    bed = tmp_path / "n.bed"
    bed.write_text("chr1\t0\t10\tx\t.\t+\nchr1\t20\t30\ty\tnan\t-\n")
    with expect(ArgumentError, bed, r"mode='score' needs scores \(the 5th column\)",
                r"every score is '\.' or nan"):
        Cover.create_from_bed("b", str(bed), roi=str(bed), binsize=10, mode="score")
    sizes = tmp_path / "g.sizes"
    sizes.write_text("chr1\t20000\n")
    roi = pd.DataFrame({"chrom": ["chr2"], "start": [0], "end": [100]})
    with expect(ChromosomeNotFoundError, sizes, r"\['chr2'\] not found"):
        Cover.create_from_bigwig("c", sim_data["bigwigs"][0], roi=roi, binsize=100,
                                 genomesize=str(sizes))


# ------------------------------------------------------------- BED and GFF/GTF (an audit)
def test_bed_on_none_of_the_regions_chromosomes_warns(tmp_path):
    """A BED file whose features lie on none of the regions' chromosomes ('Chr1',
    'NC_000001.11', a trailing blank) gave 0 everywhere without a word, where BigWig and
    BAM files warn; features absent from some chromosomes only are no warning."""
    import warnings

    from genozarr.errors import MissingChromosomeWarning

    roi = pd.DataFrame({"chrom": ["chr1", "chr2"], "start": [0, 0], "end": [20, 20]})
    for chrom in ("Chr1", "NC_000001.11", "chr1 "):
        bed = tmp_path / "x.bed"
        bed.write_text(f"{chrom}\t0\t10\n")
        with pytest.warns(MissingChromosomeWarning,
                          match=r"x\.bed has features on none of the regions' chromosomes"):
            cov = Cover.create_from_bed("x", str(bed), roi=roi, binsize=20)
        assert cov[:].sum() == 0
    bed.write_text("chr1\t0\t10\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error", MissingChromosomeWarning)
        cov = Cover.create_from_bed("x", str(bed), roi=roi, binsize=20)
    assert cov[0].sum() == 10 and cov[1].sum() == 0


def test_bed_scores_past_float32_are_refused_not_infinite(tmp_path):
    """A score of 1e39 became an infinity in a float32 store (painted in float32 before the
    store's own check); float64 keeps it."""
    bed = tmp_path / "s.bed"
    bed.write_text("chr1\t0\t10\tf\t1e39\nchr1\t10\t20\tg\t2\n")
    roi = pd.DataFrame({"chrom": ["chr1"], "start": [0], "end": [20]})
    with pytest.raises(ArgumentError, match=r"s\.bed: a score in the file holds 1e\+39, past "
                                            r"the largest float32"):
        Cover.create_from_bed("s", str(bed), roi=roi, binsize=20, mode="score")
    cov = Cover.create_from_bed("s", str(bed), roi=roi, binsize=20, mode="score",
                                dtype="float64", resolution=1)
    np.testing.assert_array_equal(cov[0][0, :, 0, 0], [1e39] * 10 + [2.0] * 10)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_bed_infinite_scores_stay_infinite_in_every_dtype(tmp_path, dtype):
    """Scores inf and -inf are painted as infinities (a score without value paints 0): in
    a float64 store they became +-1.797e308, the largest finite float64."""
    bed = tmp_path / "s.bed"
    bed.write_text("chr1\t0\t10\tf\tinf\nchr1\t20\t30\tg\t-inf\nchr1\t30\t35\th\t.\n")
    roi = pd.DataFrame({"chrom": ["chr1"], "start": [0], "end": [40]})
    for storage in ("ndarray", "zarr"):
        cov = Cover.create_from_bed("s", str(bed), roi=roi, binsize=40, mode="score",
                                    dtype=dtype, genomesize={"chr1": 100}, storage=storage)
        want = [np.inf] * 10 + [0.0] * 10 + [-np.inf] * 10 + [0.0] * 10
        np.testing.assert_array_equal(cov[0][0, :, 0, 0], want)


def test_a_region_past_its_chromosome_names_where_the_length_comes_from(tmp_path):
    """The chromosome length of a BED coverage comes from genomesize (a BED file has none):
    the error named the BED file."""
    bed = tmp_path / "r.bed"
    bed.write_text("chr1\t0\t10\n")
    roi = pd.DataFrame({"chrom": ["chr1"], "start": [60], "end": [70]})
    with pytest.raises(RegionError, match=r"^genomesize: region chr1:60-70 starts past the end"):
        Cover.create_from_bed("r", str(bed), roi=roi, binsize=10, genomesize={"chr1": 50})


def test_gff_and_gtf_are_read_by_their_content(tmp_path):
    """Compression is found from the content, not the name, and a byte-order mark is left
    out, as for BED files: a plain file named .gtf.gz raised gzip's own error, a gzip file
    without .gz read as garbage columns, and a GFF3 file starting with a byte-order mark
    was refused; a truncated gzip file is a MalformedFileError naming it."""
    from genozarr.regions import load_regions

    gtf = 'chr1\ts\tgene\t5\t20\t.\t+\t.\tgene_id "g1";\n'
    (tmp_path / "plain.gtf.gz").write_text(gtf)
    with gzip.open(tmp_path / "packed.gtf", "wt") as f:
        f.write(gtf)
    (tmp_path / "bom.gff3").write_text("##gff-version 3\nchr1\ts\tgene\t5\t20\t.\t+\t.\tID=g1\n",
                                       encoding="utf-8-sig")
    for name in ("plain.gtf.gz", "packed.gtf", "bom.gff3"):
        got = load_regions(str(tmp_path / name))
        assert got[["chrom", "start", "end", "name", "strand"]].values.tolist() == [
            ["chr1", 4, 20, "g1", "+"]], name
    data = gzip.compress(gtf.encode() * 2000)
    (tmp_path / "cut.gtf.gz").write_bytes(data[:len(data) // 2])
    with pytest.raises(MalformedFileError, match=r"cut\.gtf\.gz: gzip-compressed GFF/GTF file "
                                                 "is truncated or corrupt"):
        load_regions(str(tmp_path / "cut.gtf.gz"))


def _in_subprocess(code: str) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter (a C library's crash ends that process only)."""
    import sys

    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=False)


@pytest.mark.parametrize("damage", ["cut", "bins", "chunks"])
def test_a_damaged_bam_index_is_refused_before_htslib_reads_it(sim_data, tmp_path, damage):
    """htslib read a cut or corrupt .bai into a double free or a segmentation fault,
    ending the process, before genozarr's checks ran (an audit: 3 of 30 damaged indexes).
    The index's counts are now walked against its length first."""
    import struct
    import time

    bam = tmp_path / "x.bam"
    shutil.copy(sim_data["bam"], bam)
    good = Path(sim_data["bam"] + ".bai").read_bytes()
    data = bytearray(good)
    if damage == "cut":
        data = data[:len(data) // 2]
    elif damage == "bins":  # the first reference's number of bins
        data[8:12] = struct.pack("<i", 1 << 28)
    else:  # the first bin's number of chunks
        data[16:20] = struct.pack("<i", -5)
    time.sleep(0.01)
    Path(str(bam) + ".bai").write_bytes(bytes(data))  # (newer than the BAM: not stale)
    done = _in_subprocess(
        "from genozarr.io.bam import check_bam\n"
        f"try:\n    check_bam({str(bam)!r})\n"
        "except Exception as e:\n    print(type(e).__name__, e)\n")
    assert done.returncode == 0, done.stderr[-2000:]
    why = {"cut": "it is cut short", "bins": "it is cut short",
           "chunks": "a negative number of chunks"}[damage]
    assert done.stdout.startswith(f"StaleIndexError the index {bam}.bai of {bam} cannot be "
                                  f"loaded ({why}"), done.stdout
    Path(str(bam) + ".bai").write_bytes(good)  # the genuine index passes the walk
    from genozarr.io.bam import _walk_index

    assert _walk_index(str(bam) + ".bai")[1] is None


def _twobit(path: Path, records: dict[str, bytes]) -> bytes:
    """A little-endian 2bit file of sequences without N or mask blocks."""
    import struct

    codes = {"T": 0, "C": 1, "A": 2, "G": 3}
    bodies = []
    for seq in records.values():
        packed = bytearray()
        for i in range(0, len(seq), 4):
            q = seq[i:i + 4].ljust(4, "T")
            packed.append(sum(codes[b] << (6 - 2 * k) for k, b in enumerate(q)))
        bodies.append(struct.pack("<IIII", len(seq), 0, 0, 0) + bytes(packed))
    offset = 16 + sum(1 + len(c) + 4 for c in records)
    index = b""
    for chrom, body in zip(records, bodies):
        index += bytes([len(chrom)]) + chrom.encode() + struct.pack("<I", offset)
        offset += len(body)
    data = struct.pack("<IIII", 0x1A412743, 0, len(records), 0) + index + b"".join(bodies)
    path.write_bytes(data)
    return data


@pytest.mark.parametrize("damage", ["n_blocks", "name"])
def test_a_damaged_2bit_header_is_refused_before_py2bit_reads_it(tmp_path, damage):
    """A 2bit file whose N-block count was damaged crashed the process in py2bit (2 of 3
    runs); a name in its index that is not text gave py2bit's bare RuntimeError (an
    audit)."""
    rng = np.random.default_rng(3)
    seqs = {c: "".join(rng.choice(list("ACGT"), n)) for c, n in (("chr1", 500), ("chr2", 300))}
    path = tmp_path / "g.2bit"
    data = bytearray(_twobit(path, seqs))
    from genozarr.io.twobit import read_twobit_sequence

    assert read_twobit_sequence(path, "chr2", 0, 300).decode() == seqs["chr2"]
    first = 16 + sum(1 + len(c) + 4 for c in seqs)  # chr1's record
    if damage == "n_blocks":
        data[first + 6] = 0x10  # 0 -> 0x100000 N blocks
        want = "the 1048576 N blocks of 'chr1' end at byte"
    else:
        data[18] = 0xE8  # 'chr1' -> b'c\xe8r1'
        want = "the name of its sequence 1 in its index (b'c\\\\xe8r1') is not text"
    bad = tmp_path / "bad.2bit"
    bad.write_bytes(bytes(data))
    done = _in_subprocess(
        "from genozarr.io.twobit import twobit_chrom_sizes\n"
        f"try:\n    twobit_chrom_sizes({str(bad)!r})\n"
        "except Exception as e:\n    print(type(e).__name__, e)\n")
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith(f"InputFileError {bad}: the 2bit file is damaged"), done.stdout
    assert want.replace("\\\\", "\\") in done.stdout, done.stdout


def test_a_damaged_2bit_copied_over_a_checked_one_with_its_time_is_refused(tmp_path):
    """The check of a 2bit file's layout was remembered by its size and modification
    time: a damaged file of the same size put in its place with the old time (cp -p,
    rsync -t) skipped the check in a process that had read the good one, and py2bit
    crashed the process (an audit of clocks and time stamps). Remembered by the file's
    signature (inode and change time too), the damaged file is refused."""
    rng = np.random.default_rng(3)
    seqs = {c: "".join(rng.choice(list("ACGT"), n)) for c, n in (("chr1", 500), ("chr2", 300))}
    path = tmp_path / "g.2bit"
    data = bytearray(_twobit(path, seqs))
    data[16 + sum(1 + len(c) + 4 for c in seqs) + 6] = 0x10  # chr1: 0x100000 N blocks
    done = _in_subprocess(
        "import os\n"
        "from genozarr.io.twobit import read_twobit_sequence\n"
        f"path = {str(path)!r}\n"
        "print(read_twobit_sequence(path, 'chr1', 0, 10).decode())\n"
        "st = os.stat(path)\n"
        f"open(path + '.new', 'wb').write({bytes(data)!r})\n"
        "os.replace(path + '.new', path)\n"
        "os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))\n"
        "try:\n    read_twobit_sequence(path, 'chr1', 0, 10)\n"
        "except Exception as e:\n    print(type(e).__name__, e)\n")
    assert done.returncode == 0, (done.returncode, done.stderr[-2000:])
    first, second = done.stdout.splitlines()[:2]
    assert first == seqs["chr1"][:10]
    assert second.startswith(f"InputFileError {path}: the 2bit file is damaged"), second


# ----------------------------------------------------------- sequences past 2**31 bases
def test_bigwig_windows_of_a_chromosome_of_2_31_bases_or_more(tmp_path):
    """pybigtools 0.3 read every base of a chromosome of 2**31 bases or more as missing
    data: its short windows (the partial layout, interval keys) were served as zeros
    (an audit). They are read by pyBigWig; the values are pyBigWig's."""
    path = str(tmp_path / "long.bw")
    with pyBigWig.open(path, "w") as bw:
        bw.addHeader([("chr1", 2**31), ("chr2", 10_000)])
        bw.addEntries(["chr1", "chr1"], [100, 1_000_000_000], ends=[150, 1_000_000_100],
                      values=[1.0, 1.0])
        bw.addEntries(["chr2"], [0], ends=[150], values=[1.0])
    roi = pd.DataFrame({"chrom": ["chr1", "chr1", "chr2"],
                        "start": [0, 999_999_950, 0], "end": [200, 1_000_000_150, 200]})
    cover = Cover.create_from_bigwig("long", path, roi=roi, binsize=200)
    with pyBigWig.open(path) as bw:
        want = [np.nan_to_num(np.asarray(bw.values(c, s, e), dtype=np.float32))
                for c, s, e in roi.itertuples(index=False)]
    np.testing.assert_array_equal(cover[:][:, :, 0, 0], np.stack(want))
    assert [w.sum() for w in want] == [50, 100, 150]
    np.testing.assert_array_equal(cover["chr1", 100, 160][0, :, 0, 0], [1] * 50 + [0] * 10)


def test_a_fasta_sequence_longer_than_htslib_reads_is_refused_when_read(tmp_path):
    """pysam gives 2**31 - 1 as the length of any longer sequence and fetches nothing past
    it: the bases there were served as N (an audit). A read of it is refused by name; its
    length is the index's; the other sequences read as before. The file is sparse (a few
    kB on disk)."""
    length = 2**31 + 100
    path = tmp_path / "long.fa"
    first = b">chr1\n"
    second = b">chr2\nACGTAC\n"
    with open(path, "wb") as f:
        f.write(first + b"ACGT")
        f.seek(len(first) + length - 4)
        f.write(b"ACGT\n" + second)
    (tmp_path / "long.fa.fai").write_text(
        f"chr1\t{length}\t{len(first)}\t{length}\t{length + 1}\n"
        f"chr2\t6\t{len(first) + length + 1 + 6}\t6\t7\n")
    from genozarr.io.fasta import fasta_chrom_sizes, read_sequence

    assert fasta_chrom_sizes(str(path)) == {"chr1": length, "chr2": 6}
    assert read_sequence(str(path), "chr2", 0, 6) == b"ACGTAC"
    for read in (lambda: read_sequence(str(path), "chr1", 0, 4),
                 lambda: Bioseq.create_from_refgenome("s", str(path), roi="chr1:0-100")):
        with expect(InputFileError, path, r"sequence 'chr1' has 2147483748 bases; htslib "
                                          r"\(pysam\) reads FASTA sequences of up to 2\*\*31 "
                                          r"- 1"):
            read()
    seq = Bioseq.create_from_refgenome("s", str(path), roi="chr2:0-6")
    np.testing.assert_array_equal(seq[0][0, :, 0].argmax(1), [0, 1, 2, 3, 0, 1])


def test_a_bam_reference_longer_than_the_sam_limit_is_refused(tmp_path):
    """A reference of 3e9 bases (past the SAM specification's 2**31 - 1) failed every read
    as 'the index belongs to another BAM file ... or the BAM file is truncated or
    corrupt' (htslib reads no position past the limit)."""
    def bam(path: str, reads_on: int) -> str:
        header = {"HD": {"VN": "1.6", "SO": "coordinate"},
                  "SQ": [{"SN": "chr1", "LN": 3_000_000_000}, {"SN": "chr2", "LN": 10_000}]}
        with pysam.AlignmentFile(path, "wb", header=header) as f:
            read = pysam.AlignedSegment(f.header)
            read.query_name, read.reference_id, read.reference_start = "r0", reads_on, 100
            read.query_sequence, read.cigarstring, read.mapping_quality = "A" * 50, "50M", 60
            f.write(read)
        pysam.index(path, "-c")
        return path

    long = bam(str(tmp_path / "long.bam"), 0)
    with expect(InputFileError, long, r"reference 'chr1' has 3000000000 bases, more than the "
                                      r"2\*\*31 - 1"):
        Cover.create_from_bam("bam", long, roi="chr1:0-200", binsize=200)
    # a reference of no read (in a header too long for the SAM specification) is read by
    # no one: the other references read as before
    other = bam(str(tmp_path / "other.bam"), 1)
    cover = Cover.create_from_bam("bam", other, roi="chr2:0-200", binsize=200, stranded=False)
    assert cover[:].sum() == 1


def test_indexer_coordinates_past_the_largest_position_are_refused():
    """GenomicIndexer(...) took uint64 starts past int64's range as negative ones (2**64 -
    200 became -200) and starts past 2**32 - 1, which every region reader refuses."""
    from genozarr import GenomicIndexer

    for starts in (np.array([2**64 - 200], dtype=np.uint64), np.array([5_000_000_000]),
                   np.array([-2**63])):
        with pytest.raises(ArgumentError, match=r"starts holds .*past \+-4294967295"):
            GenomicIndexer(["chr1"], starts, starts + np.uint64(100), ["+"], 100, 100)
    gi = GenomicIndexer(["chr1"], np.array([4_000_000_000], dtype=np.uint64),
                        np.array([4_000_000_100], dtype=np.uint64), ["+"], 100, 100)
    assert gi.starts.tolist() == [4_000_000_000]


NO_DESCRIPTORS = r"""
import os, resource, sys
import numpy as np
import pyBigWig
from genozarr.io import bigwig
from genozarr.io.bigwig import bigwig_chrom_sizes

path = sys.argv[1]
with pyBigWig.open(path, "w") as bw:
    bw.addHeader([("chr1", 1000)])
    bw.addEntries("chr1", 0, values=np.ones(100), span=1, step=1)
resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))
for free in range(6):
    bigwig._info_cache.clear()
    held = []
    try:
        while True:
            held.append(os.open(os.devnull, os.O_RDONLY))
    except OSError:
        pass
    for _ in range(free):
        os.close(held.pop())
    try:
        got = bigwig_chrom_sizes(path)
    except Exception as e:
        got = f"{type(e).__name__}: {e}"
    for fd in held:
        os.close(fd)
    print(free, got)
"""


def test_a_bigwig_opened_with_no_descriptor_left_names_the_cause(tmp_path):
    """With no file descriptor left for libBigWig, the error said the file is "not a
    BigWig file or cannot be opened: ... Couldn't open ... for reading". The system's
    reason (too many open files) is named now, for every count of free descriptors
    that fails; with enough of them the same call reads the header."""
    import sys

    script = tmp_path / "nofd.py"
    script.write_text(NO_DESCRIPTORS)
    path = tmp_path / "a.bw"
    run = subprocess.run([sys.executable, str(script), str(path)], capture_output=True,
                         text=True, timeout=120, check=False)
    lines = run.stdout.splitlines()
    assert len(lines) == 6, run.stdout + run.stderr
    failed = [line for line in lines if "Error" in line]
    assert failed and lines[-1] == "5 {'chr1': 1000}", run.stdout
    for line in failed:
        assert str(path) in line and "Too many open files" in line, line


@pytest.mark.parametrize("process", [False, True])
def test_a_bigwig_export_into_a_folder_it_may_not_write_names_the_cause(shared_dir, process):
    """pyBigWig ends the process (a segmentation fault) when it cannot create the file it
    is asked to write; the export into a folder this user may not write did just that
    (its writer process said only "Broken pipe"). The file is made first: an error names
    it and the cause, and nothing is written."""
    from genozarr.io.export import BigWigWriter

    out = shared_dir / "ro"
    out.mkdir()
    out.chmod(0o555)

    def export():
        with BigWigWriter(out / "x.bigwig", {"chr1": 1000}, process=process) as w:
            w.add("chr1", 0, 10, np.ones(4))

    with expect(InputFileError, str(out / "x.bigwig"), r"Permission denied"):
        unprivileged(export)
    assert os.listdir(out) == []


def test_seqrecords_with_an_output_root_that_cannot_be_written_name_it(tmp_path,
                                                                          monkeypatch):
    """SeqRecords are read through a FASTA file under the output root, even for an
    in-memory Bioseq; an output root that is a file (or read-only) raised pathlib's bare
    NotADirectoryError / PermissionError. An InputFileError names the folder and says
    how to choose another; with a writable root the one-hot values are the records'."""
    from types import SimpleNamespace

    records = [SimpleNamespace(id="r1", seq="ACGTN")]
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("x")
    monkeypatch.setenv("GENOZARR_OUTPUT", str(blocker))
    with pytest.raises(InputFileError, match=r"cannot write the SeqRecords as a FASTA file "
                                             r"in .*not_a_folder.*GENOZARR_OUTPUT"):
        Bioseq.create_from_seq("recs", records)
    monkeypatch.setenv("GENOZARR_OUTPUT", str(tmp_path / "root"))
    seq = Bioseq.create_from_seq("recs", records)
    np.testing.assert_array_equal(seq[0][0, :, 0, :],
                                  [ONEHOT.get(b, [0] * 4) for b in "ACGTN"])


def test_a_store_another_user_may_not_read_is_named_with_a_read_hint(shared_dir):
    """A store whose files another user's modes keep out (written under umask 077) was
    refused as 'cannot read store /proc/self/fd/4: ... this process may not write there'
    (the descriptor the reader holds, and a write hint). The store's own path is named,
    with a hint about reading."""
    from genozarr import GenomicIndexer, open_dataset

    gi = GenomicIndexer(["chr1"] * 2, [0, 10], [10, 20], ["+"] * 2, 10, 10)
    store = shared_dir / "s.zarr"
    Cover.create_from_array("s", np.ones((2, 10, 1, 1)), gi, storage="zarr", store=str(store))
    os.chmod(store, 0o711)  # (the folder may be entered; its files not read)
    for dirpath, dirs, files in os.walk(store):
        for name in files:
            os.chmod(os.path.join(dirpath, name), 0o600)
        for name in dirs:
            os.chmod(os.path.join(dirpath, name), 0o700)
    with pytest.raises(StoreError, match="may not read there") as info:
        unprivileged(lambda: open_dataset(str(store)))
    assert str(store) in str(info.value) and "/proc/self/fd" not in str(info.value)


def test_category_modes_without_categories_are_argument_errors():
    """bed_paint and bed_coverage of a category mode without categories (None, the
    default) raised a bare TypeError (len(None)) before their own check (audit 192)."""
    from genozarr.io.bed import bed_coverage, bed_paint

    df = pd.DataFrame({"chrom": ["chr1"], "start": [2], "end": [5], "name": ["a"],
                       "score": [1.0]})
    for call in (lambda c: bed_paint(df, "chr1", 0, 10, mode="name_category", categories=c),
                 lambda c: bed_coverage(df, "chr1", 0, 10, mode="name_category",
                                        categories=c)):
        for categories in (None, []):
            with pytest.raises(ArgumentError, match="'name_category' needs categories"):
                call(categories)
    values, covered = bed_paint(df, "chr1", 0, 10, mode="name_category", categories=["a"])
    np.testing.assert_array_equal(values[:, 0], [0, 0, 1, 1, 1, 0, 0, 0, 0, 0])


# ----------------------------------------------------------- inputs that change mid-build
def _flat_bigwig(path: str, value: float, chroms: list[tuple[str, int]]) -> None:
    with pyBigWig.open(path, "w") as bw:
        bw.addHeader(chroms)
        for chrom, n in chroms:
            bw.addEntries(chrom, 0, values=[float(value)] * (n // 100), span=100, step=100)


@pytest.mark.parametrize("storage", ["zarr", "ndarray"])
def test_an_input_replaced_during_a_build_publishes_nothing(tmp_path, monkeypatch, storage):
    """A BigWig replaced (mv) after the first task of a build: the store was published
    with the first chromosome's values from the old file and the others' from the new,
    under the old file's cache key, and a later cache=True call with the old file
    served it (an audit of inputs changing while read). The build now fails, naming
    the file, and publishes nothing; built again, it holds one file's values."""
    import shutil

    from genozarr import ingest, set_options

    chroms = [(f"chr{i}", 200_000) for i in range(1, 4)]
    a, b, signal = (str(tmp_path / n) for n in ("a.bw", "b.bw", "signal.bw"))
    _flat_bigwig(a, 1.0, chroms)
    _flat_bigwig(b, 2.0, chroms)
    shutil.copyfile(a, signal)
    real, swapped = ingest._genome_task, []

    def task(*args, **kwargs):
        out = real(*args, **kwargs)
        if not swapped:  # another process: mv b.bw signal.bw
            swapped.append(1)
            shutil.copyfile(b, signal + ".new")
            os.replace(signal + ".new", signal)
        return out

    monkeypatch.setattr(ingest, "_genome_task", task)
    store = tmp_path / "s.zarr"
    kw = dict(genomesize=dict(chroms), binsize=2000, store_whole_genome=True, storage=storage,
              **({"store": str(store), "cache": True} if storage == "zarr" else {}))
    with set_options(scheduler="sync", progress=False, chunk_bytes=4096):
        with pytest.raises(InputFileError, match=rf"{signal} changed while genozarr read it"):
            Cover.create_from_bigwig("sig", signal, **kw)
        assert swapped and not store.exists()
        again = Cover.create_from_bigwig("sig", signal, **kw)
    assert {c: np.unique(again[c, 0, 200_000]).tolist() for c, _ in chroms} == \
        {c: [2.0] for c, _ in chroms}


def test_a_bed_file_replaced_before_it_is_hashed_publishes_nothing(tmp_path, monkeypatch):
    """A BED file is read when its source is made and hashed for the cache key after: one
    replaced in between was published with the old file's values under the new file's
    key, which later cache=True calls with the new file served (an audit)."""
    import shutil

    from genozarr.store import cache

    roi = tmp_path / "roi.bed"
    roi.write_text("chr1\t0\t10000\n")
    (tmp_path / "b.bed").write_text("chr1\t5000\t10000\n")
    peaks = tmp_path / "peaks.bed"
    peaks.write_text("chr1\t0\t5000\n")
    real = cache.cache_key

    def replaced_first(*args, **kwargs):  # another process: mv b.bed peaks.bed
        os.replace(shutil.copyfile(tmp_path / "b.bed", tmp_path / "t.bed"), peaks)
        return real(*args, **kwargs)

    monkeypatch.setattr(cache, "cache_key", replaced_first)
    kw = dict(roi=str(roi), binsize=10000, resolution=1000, storage="zarr", cache=True,
              genomesize={"chr1": 10000})
    with pytest.raises(InputFileError, match=rf"{peaks} changed while genozarr read it"):
        Cover.create_from_bed("peaks", str(peaks), **kw)
    monkeypatch.setattr(cache, "cache_key", real)
    later = Cover.create_from_bed("peaks", str(peaks), **kw)
    assert later[0][0, :, 0, 0].tolist() == [0] * 5 + [1] * 5


def test_a_fasta_of_records_replaced_before_it_is_hashed_publishes_nothing(tmp_path,
                                                                         monkeypatch):
    """Bioseq.create_from_seq reads its FASTA's records, then hashes the file for the
    cache key: a file replaced in between was published with the old records under the
    new file's key (a review). The build fails now, naming it."""
    import shutil

    from genozarr.store import cache

    seqs = tmp_path / "seqs.fa"
    seqs.write_text(">r1\nAAAA\n")
    (tmp_path / "b.fa").write_text(">r1\nCCCC\n")
    real = cache.cache_key

    def replaced_first(*args, **kwargs):
        os.replace(shutil.copyfile(tmp_path / "b.fa", tmp_path / "t.fa"), seqs)
        return real(*args, **kwargs)

    monkeypatch.setattr(cache, "cache_key", replaced_first)
    kw = dict(storage="zarr", cache=True)
    with pytest.raises(InputFileError, match=rf"{seqs} changed while genozarr read it"):
        Bioseq.create_from_seq("s", str(seqs), **kw)
    monkeypatch.setattr(cache, "cache_key", real)
    later = Bioseq.create_from_seq("s", str(seqs), **kw)
    assert later[0][0, :, 0, :].argmax(1).tolist() == [1, 1, 1, 1]  # C


def test_missing_files_and_stores_are_file_not_found_errors(tmp_path, sample_files):
    """A missing BAM, BigWig, FASTA, regions file, sample sheet or store raised an
    InputFileError or StoreError that ``except FileNotFoundError`` missed (a missing
    index was caught; pysam, zarr and xarray raise FileNotFoundError), with ``errno``
    and ``filename`` None. They are MissingFileError / MissingStoreError now: still
    InputFileError / StoreError, messages as before, ``errno`` ENOENT and the path."""
    import errno
    import pickle

    import xarray as xr

    from genozarr import Bioseq, Cover, load_regions, open_dataset, open_store
    from genozarr.errors import InputFileError, MissingFileError, MissingStoreError, StoreError

    gone = str(tmp_path / "nope")
    roi = sample_files["roi"]
    inputs = {
        gone + ".bam": lambda p: Cover.create_from_bam("a", p, roi=roi, binsize=100),
        gone + ".bw": lambda p: Cover.create_from_bigwig("a", p, roi=roi, binsize=100),
        gone + ".fa": lambda p: Bioseq.create_from_refgenome("a", p, roi=roi, binsize=100),
        gone + ".bed": load_regions,
        gone + ".tsv": lambda p: Cover.create_from_bigwig("a", p, roi=roi, binsize=100),
    }
    for path, call in inputs.items():
        with pytest.raises(FileNotFoundError) as info:
            call(path)
        e = info.value
        assert isinstance(e, MissingFileError) and isinstance(e, InputFileError), path
        assert (e.errno, e.filename) == (errno.ENOENT, path)
        assert str(e).endswith(f"{path} does not exist"), str(e)
        e.add_note("a note")
        back = pickle.loads(pickle.dumps(e))
        assert (type(back), str(back), back.filename) == (type(e), str(e), path)
        assert back.__notes__ == ["a note"] and back.errno == errno.ENOENT
    assert MissingFileError("m", os.fsencode(gone)).filename == gone  # (bytes paths)
    for call in (open_dataset, open_store, lambda p: xr.open_dataset(p, engine="genozarr")):
        with pytest.raises(FileNotFoundError) as info:
            call(gone + ".zarr")
        e = info.value
        assert isinstance(e, MissingStoreError) and isinstance(e, StoreError)
        assert str(e) == f"store {gone}.zarr does not exist"
        assert (e.errno, e.filename) == (errno.ENOENT, gone + ".zarr")
    # a sample sheet naming a missing file: the file
    sheet = tmp_path / "sheet.tsv"
    sheet.write_text(f"file\tcondition\n{sample_files['bigwig_a']}\ta\n{gone}.bw\tb\n")
    with pytest.raises(FileNotFoundError, match=r"names an input file that does not exist"
                                                r": .*nope\.bw$") as info:
        Cover.create_from_bigwig("s", str(sheet), roi=roi, binsize=100)
    assert info.value.filename == gone + ".bw"
