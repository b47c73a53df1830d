"""Stale or mismatched indexes are never used: BAM indexes raise, FASTA indexes are rebuilt.

htslib only warns about an index older than its data file and then returns wrong or zero
counts; a ``.fai`` of another FASTA (copied over with ``cp -p``, so its date passes an
mtime check) makes pysam return the wrong bases. Every test compares the values genozarr
reads with pysam on the raw input (or with the FASTA text itself).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pysam
import pytest

from genozarr.dataset import Bioseq, Cover
from genozarr.errors import StaleIndexError
from genozarr.io._handles import close_handles, get_handle
from genozarr.io.bam import check_bam, count_5prime, find_bam_index, index_bam
from genozarr.io.fasta import ensure_fai, fasta_chrom_sizes, read_sequence
from genozarr.store.cache import cache_key, file_digest, input_digests
from genozarr.testing.simulate import write_bam as write_placed_reads

ROI = pd.DataFrame({"chrom": ["chr1", "chr2"], "start": [1000, 2000], "end": [3000, 4000]})


@pytest.fixture
def settled(monkeypatch):
    """Files written by the test count as settled at once (not "changed lately": what is
    learnt of them is remembered), as files older than a few seconds are."""
    from genozarr.io import _handles

    monkeypatch.setattr(_handles, "RACY_SECONDS", 0.0)


def pysam_counts(path, chrom, start, end):
    """5' ends per base and strand with a plain pysam loop (fetch by reference id)."""
    counts = np.zeros((end - start, 2), np.float32)
    with pysam.AlignmentFile(path) as bam:
        tid = list(bam.references).index(chrom)
        for read in bam.fetch(tid=tid, start=max(start - 1000, 0), stop=end + 1000):
            if read.flag & (0x4 | 0x100 | 0x800 | 0x200 | 0x400):
                continue
            pos = read.reference_end - 1 if read.is_reverse else read.reference_start
            if start <= pos < end:
                counts[pos - start, int(read.is_reverse)] += 1
    return counts


def check_bam_values(cover, path):
    """Every window of ``cover`` (unstranded ROI) equals the pysam loop on ``path``."""
    total = 0
    for i, (chrom, start, end) in enumerate(ROI[["chrom", "start", "end"]].values):
        truth = pysam_counts(path, chrom, start, end)
        np.testing.assert_array_equal(cover[i][0][:, :, 0], truth)
        total += truth.sum()
    assert total > 50  # the comparison saw real reads


def expect_both(exc, info, *paths):
    assert isinstance(info.value, exc)
    for p in paths:
        assert str(p) in str(info.value), f"message does not name {p}: {info.value}"


def set_older(path, than, seconds=3600):
    t = os.stat(than).st_mtime - seconds
    os.utime(path, (t, t))


def write_bam(path, header, reads):
    with pysam.AlignmentFile(str(path), "wb", header=header) as out:
        for read in reads:
            out.write(read)


def moved_reads(src, header, tid_map):
    """The reads of ``src`` rewritten onto other reference ids (``{old tid: new tid}``)."""
    out = []
    with pysam.AlignmentFile(src) as bam:
        for read in bam.fetch(until_eof=True):
            if read.reference_id not in tid_map:
                continue
            new = pysam.AlignedSegment.from_dict(read.to_dict(), header)
            new.reference_id = tid_map[read.reference_id]
            new.next_reference_id = -1
            out.append(new)
    out.sort(key=lambda r: (r.reference_id, r.reference_start))
    return out


# ------------------------------------------------------------------------------ BAM
def test_bam_index_older_than_bam(sim_data, tmp_path):
    bam = tmp_path / "reads.bam"
    shutil.copy(sim_data["bam"], bam)
    shutil.copy(sim_data["bam"] + ".bai", str(bam) + ".bai")
    set_older(str(bam) + ".bai", bam)
    with pytest.raises(StaleIndexError) as info:
        Cover.create_from_bam("c", str(bam), roi=ROI, binsize=2000, stranded=True)
    expect_both(StaleIndexError, info, bam, str(bam) + ".bai")
    assert "older" in str(info.value) and "samtools index" in str(info.value)
    index_bam(bam)  # the advice works
    check_bam_values(Cover.create_from_bam("c", str(bam), roi=ROI, binsize=2000), str(bam))


def test_bam_index_written_the_same_second_before_its_bam_is_not_stale(sim_data, tmp_path):
    """An index copied just before its BAM (``cp x.bam.bai x.bam dest/``) is older by a
    fraction of a millisecond: it was refused as stale, its message printing the same time
    to the millisecond for both files (an audit). As htslib tells it, an index is older
    only by whole seconds: the counts equal pysam's; an index of the second before is
    still refused."""
    bam = tmp_path / "reads.bam"
    shutil.copy(sim_data["bam"] + ".bai", str(bam) + ".bai")
    shutil.copy(sim_data["bam"], bam)
    second = int(os.stat(bam).st_mtime)
    os.utime(bam, ns=(second * 10**9 + 500_000_000,) * 2)
    os.utime(str(bam) + ".bai", ns=(second * 10**9 + 499_900_000,) * 2)
    check_bam_values(Cover.create_from_bam("c", str(bam), roi=ROI, binsize=2000), str(bam))
    close_handles()
    os.utime(str(bam) + ".bai", ns=(second * 10**9 - 100_000_000,) * 2)
    with pytest.raises(StaleIndexError, match="is older than its BAM file"):
        Cover.create_from_bam("c", str(bam), roi=ROI, binsize=2000)


def test_a_relative_bam_with_a_stale_picard_index_is_named_right(sim_data, tmp_path,
                                                                 monkeypatch):
    """A BAM given by a relative name, its index named x.bai beside it and older: the
    message named the index '/x.bai' and ended '(local copy: <the BAM>)', as for a URL
    (input paths are made absolute for the build's workers)."""
    shutil.copy(sim_data["bam"], tmp_path / "x.bam")
    shutil.copy(sim_data["bam"] + ".bai", tmp_path / "x.bai")
    set_older(str(tmp_path / "x.bai"), tmp_path / "x.bam")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(StaleIndexError) as info:
        Cover.create_from_bam("c", "x.bam", roi=ROI, binsize=2000)
    message = str(info.value)
    assert f"the index {tmp_path / 'x.bai'} is older than its BAM file" in message
    assert "local copy" not in message and "/x.bai is" not in message.replace(
        str(tmp_path / "x.bai"), "")


def test_bam_index_with_other_reference_count(sim_data, tmp_path):
    """An index of a BAM with three reference sequences, next to one with two: htslib
    reads chr1 through the index's first (empty) reference and returns zero counts."""
    with pysam.AlignmentFile(sim_data["bam"]) as src:
        names, lengths = list(src.references), list(src.lengths)
    header = pysam.AlignmentHeader.from_references(["chr0"] + names, [5000] + lengths)
    other = tmp_path / "other.bam"
    write_bam(other, header, moved_reads(sim_data["bam"], header, {0: 1, 1: 2}))
    pysam.index(str(other))
    bam = tmp_path / "reads.bam"
    shutil.copy(sim_data["bam"], bam)
    shutil.copy(str(other) + ".bai", str(bam) + ".bai")
    with pytest.raises(StaleIndexError) as info:
        Cover.create_from_bam("c", str(bam), roi=ROI, binsize=2000)
    expect_both(StaleIndexError, info, bam, str(bam) + ".bai")
    assert "3 reference sequences" in str(info.value) and "header 2" in str(info.value)
    index_bam(bam)
    check_bam_values(Cover.create_from_bam("c", str(bam), roi=ROI, binsize=2000), str(bam))


def test_bam_index_of_another_bam_with_the_same_header(sim_data, tmp_path):
    """Same reference names and lengths, other reads: the index sends chr2 to chr1's reads."""
    with pysam.AlignmentFile(sim_data["bam"]) as src:
        header = src.header
    other = tmp_path / "other.bam"
    write_bam(other, header, moved_reads(sim_data["bam"], header, {0: 1}))  # all on chr2
    pysam.index(str(other))
    bam = tmp_path / "reads.bam"
    shutil.copy(sim_data["bam"], bam)
    shutil.copy(str(other) + ".bai", str(bam) + ".bai")
    with pysam.AlignmentFile(str(bam), index_filename=str(bam) + ".bai") as raw:
        assert sum(1 for _ in raw.fetch("chr2")) == 0  # what htslib alone would count
    with pytest.raises(StaleIndexError) as info:
        Cover.create_from_bam("c", str(bam), roi=ROI, binsize=2000)
    expect_both(StaleIndexError, info, bam, str(bam) + ".bai")
    assert "does not match" in str(info.value) and "chr2" in str(info.value)
    index_bam(bam)
    check_bam_values(Cover.create_from_bam("c", str(bam), roi=ROI, binsize=2000), str(bam))


def test_empty_bam_index(sim_data, tmp_path):
    """An empty .bai used to give pysam's 'fetch called on bamfile without index'."""
    bam = tmp_path / "reads.bam"
    shutil.copy(sim_data["bam"], bam)
    Path(str(bam) + ".bai").write_bytes(b"")
    with pytest.raises(StaleIndexError) as info:
        count_5prime(bam, "chr1", 0, 100)
    expect_both(StaleIndexError, info, bam, str(bam) + ".bai")
    assert "cannot be loaded" in str(info.value) and "empty" in str(info.value)


def test_bam_handle_reopened_when_the_index_changes(sim_data, tmp_path, settled):
    bam = tmp_path / "reads.bam"
    shutil.copy(sim_data["bam"], bam)
    index_bam(bam)
    first = get_handle("bam", str(bam))
    assert get_handle("bam", str(bam)) is first
    pysam.index("-c", str(bam))  # a .csi, which htslib prefers to the .bai
    assert find_bam_index(bam) == str(bam) + ".csi"
    second = get_handle("bam", str(bam))
    assert second is not first
    np.testing.assert_array_equal(count_5prime(bam, "chr1", 1000, 3000),
                                  pysam_counts(str(bam), "chr1", 1000, 3000))


def test_a_handle_another_thread_reads_through_is_not_closed(sim_data, tmp_path):
    """Handles are per thread, and the least recently used ones are closed over the limit,
    but never another running thread's: a thread's BAM iterator goes on while another
    thread opens more files than the limit (it failed as a truncated file when its handle
    was closed under it); the handles of a thread that ended are closed."""
    import threading

    from genozarr.io import _handles

    bams = []
    for k in range(4):
        path = tmp_path / f"r{k}.bam"
        shutil.copy(sim_data["bam"], path)
        index_bam(path)
        bams.append(str(path))
    with pysam.AlignmentFile(bams[0]) as f:
        want = sum(1 for _ in f.fetch())
    assert want > 20
    reading, opened = threading.Event(), threading.Event()
    counted: list[int] = []

    def reader() -> None:
        n = 0
        for n, _ in enumerate(get_handle("bam", bams[0]).fetch(), start=1):
            if n == 10:  # the other thread opens its files now
                reading.set()
                opened.wait(30)
        counted.append(n)

    old = _handles.max_open_handles(1)
    try:
        get_handle("bam", bams[3])  # this thread's: the reader's own open is over the limit
        thread = threading.Thread(target=reader)
        thread.start()
        assert reading.wait(30)
        for path in bams[1:]:  # each over the limit of 1
            get_handle("bam", path)
        opened.set()
        thread.join(30)
        assert counted == [want]
        ident = thread.ident
        assert any(key[1] == ident for key in _handles._cache)
        get_handle("bam", bams[1])  # over the limit: the ended thread's handle goes
        assert not any(key[1] == ident for key in _handles._cache)
    finally:
        opened.set()
        _handles.max_open_handles(old)


# ------------------------------------------------------------- checks once per task
def test_checks_once_computes_once_per_block():
    from genozarr.io._handles import checks_once, once

    calls = []

    def compute():
        calls.append(1)
        return len(calls)

    assert [once("k", compute) for _ in range(3)] == [1, 2, 3]  # outside: every time
    with checks_once():
        assert [once("k", compute) for _ in range(3)] == [4, 4, 4]
        with checks_once():  # nested: the outer block's values
            assert once("k", compute) == 4
        assert once("other", compute) == 5

        def fails():
            calls.append(1)
            raise OSError("gone")

        for _ in range(2):  # an error is not remembered: computed again
            with pytest.raises(OSError):
                once("bad", fails)
        assert len(calls) == 7
    assert once("k", compute) == 8  # after the block: computed again


def test_scattered_windows_check_each_input_once_per_task(sim_data, monkeypatch, settled):
    """A partial-layout build over windows read one by one checks its BAM (index present,
    not stale) and signs its FASTA handle once per build task, not once per window; the
    values stay those of a plain pysam loop."""
    import genozarr
    import genozarr.io._handles as handles
    import genozarr.io.bam as bam_module
    from genozarr import ingest

    monkeypatch.setattr(ingest, "_MERGE_GAP", -10**9)  # every window read by itself
    starts = np.arange(200, 11_000, 400)
    roi = pd.DataFrame({"chrom": "chr1", "start": starts, "end": starts + 100})
    checks, signs = [], []
    real_check, real_sign = bam_module._check_bam, handles._signature
    monkeypatch.setattr(bam_module, "_check_bam",
                        lambda path: checks.append(path) or real_check(path))
    monkeypatch.setattr(handles, "_signature",
                        lambda kind, path: signs.append(kind) or real_sign(kind, path))
    with genozarr.set_options(scheduler="sync", progress=False):
        cover = Cover.create_from_bam("c", [sim_data["bam"]], roi=roi, binsize=100,
                                      stranded=False)
        seq = Bioseq.create_from_refgenome("s", sim_data["fasta"], roi=roi, binsize=100)
    assert len(starts) == 27
    # once when the source is made (outside any task), once in the build's one task
    assert len(checks) == 2, checks
    assert signs.count("fasta") <= 3, signs
    for i, s in enumerate(starts):
        truth = pysam_counts(sim_data["bam"], "chr1", int(s), int(s) + 100).sum(axis=1)
        np.testing.assert_array_equal(cover[i][0][:, 0, 0], truth)
    with pysam.FastaFile(sim_data["fasta"]) as fa:
        text = fa.fetch("chr1", int(starts[-1]), int(starts[-1]) + 100).upper()
    onehot = np.array([[float(c == b) for b in "ACGT"] for c in text], np.float32)
    np.testing.assert_array_equal(seq[len(starts) - 1][0][:, 0, :], onehot)


# ------------------------------------------------------------------------------ FASTA
A = ">a first record\n" + "ACGTACGTAC\n" * 3 + "AC\n>b\n" + "GGGGCCCCTT\n" * 2
B = ">b\n" + "TTTTAAAA\n" * 2 + ">a\n" + "CCCCGGGGAA\n" * 4 + ">c\nNNNN\n"


def text_sequences(text):
    """{name: sequence} straight from FASTA text."""
    out, name = {}, None
    for line in text.splitlines():
        if line.startswith(">"):
            name = line[1:].split()[0]
            out[name] = ""
        elif name is not None:
            out[name] += line.strip().upper()
    return out


def test_fai_older_than_fasta_is_rebuilt(tmp_path):
    fa = tmp_path / "g.fa"
    fa.write_text(A)
    pysam.faidx(str(fa))
    fa.write_text(B)  # rewritten after indexing; the old index points into the old layout
    set_older(str(fa) + ".fai", fa)
    seqs = text_sequences(B)
    assert fasta_chrom_sizes(fa) == {k: len(v) for k, v in seqs.items()}
    for name, seq in seqs.items():
        assert read_sequence(fa, name, 0, len(seq)).decode() == seq
    assert os.stat(str(fa) + ".fai").st_mtime_ns >= os.stat(fa).st_mtime_ns
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.fa", "g.fa.fai"]  # no temporaries


def test_a_record_appended_after_indexing_is_found(tmp_path):
    """A record appended to an indexed FASTA, the .fai kept with a newer date (a copy,
    a server's upload order): every record the .fai lists still matches, but the file
    holds more after its last one; the index is rebuilt (the record was missing)."""
    fa = tmp_path / "g.fa"
    fa.write_text(A)
    pysam.faidx(str(fa))
    fa.write_text(A + ">extra\nACGTTGCA\n")
    set_older(fa, str(fa) + ".fai")
    seqs = text_sequences(A + ">extra\nACGTTGCA\n")
    assert fasta_chrom_sizes(fa) == {k: len(v) for k, v in seqs.items()}
    assert read_sequence(fa, "extra", 0, 8) == b"ACGTTGCA"
    # a valid .fai in another order than the file's (sorted by name, last record first)
    # is kept as it is
    fai = Path(str(fa) + ".fai")
    reordered = b"".join(sorted(fai.read_bytes().splitlines(keepends=True), reverse=True))
    fai.write_bytes(reordered)
    assert reordered.startswith(b"extra")
    assert fasta_chrom_sizes(tmp_path / ".." / tmp_path.name / "g.fa") == \
        {k: len(v) for k, v in seqs.items()}
    assert fai.read_bytes() == reordered


def test_fai_listing_a_record_shorter_than_the_file(tmp_path):
    """A .fai newer than its FASTA whose length for a record ends on a line end, short of
    the record's real end: its last bases were served as padding. It is rebuilt."""
    fa = tmp_path / "g.fa"
    rng = np.random.default_rng(3)
    seq = "".join(rng.choice(list("ACGT"), 100))
    fa.write_text(">a\n" + "".join(seq[i:i + 10] + "\n" for i in range(0, 100, 10))
                  + ">b\nACGT\n")
    pysam.faidx(str(fa))
    fai = Path(str(fa) + ".fai")
    lines = fai.read_text().splitlines()
    lines[0] = "\t".join(["a", "90", *lines[0].split("\t")[2:]])
    fai.write_text("\n".join(lines) + "\n")
    set_older(fa, str(fai))
    assert fasta_chrom_sizes(fa) == {"a": 100, "b": 4}
    assert read_sequence(fa, "a", 80, 100).decode() == seq[80:]


@pytest.mark.parametrize("text", [">a\nAC GT\nACGT\n", ">a\nACGT\nACGT\nA C\n",
                                  ">a\nACGTT\nAC GT\nA\n",
                                  ">a\nACGTACGT\nACGTACGT\n>b\nACGTACGT\nACG\tA\n",
                                  # a middle line, every line of one byte width: htslib's
                                  # index fits the first and last lines (served ACGTANCTG..)
                                  ">a\nACGT \nA CTG\nGGGG \nAC\n",
                                  ">a desc x\nACGT\n ACG\nACGT\n"])
def test_blanks_inside_reference_sequence_lines(tmp_path, text):
    """htslib counts only printable characters as bases but reads by byte offset: with a
    blank inside sequence lines every window was shifted (served 'ACNGT' for 'ACGT'), or
    pysam failed with 'No such file or directory'. Now the file is refused by name."""
    from genozarr.errors import MalformedFileError

    fa = tmp_path / "g.fa"
    fa.write_text(text)
    roi = pd.DataFrame({"chrom": ["a"], "start": [0], "end": [8]})
    with pytest.raises(MalformedFileError, match=r"g\.fa: cannot be read by position.*no "
                       r"blanks") as info:
        Bioseq.create_from_refgenome("s", str(fa), roi=roi, binsize=8)
    assert not Path(str(fa) + ".fai").exists()
    # the index was just built: neither its temporary name nor "added since" in the message
    assert ".tmp" not in str(info.value) and "since" not in str(info.value)


def test_blanks_at_line_ends_of_a_reference_are_read(tmp_path):
    """Blanks after the bases of every line (the same number on each) leave the layout
    htslib reads by: the file is read, and its index is not taken for stale."""
    fa = tmp_path / "g.fa"
    fa.write_text(">a\nACGT \nTTGA \nCC \n>b\nGGAT\t\nA\t\n")
    assert fasta_chrom_sizes(fa) == {"a": 10, "b": 5}
    assert read_sequence(fa, "a", 0, 10) == b"ACGTTTGACC"
    assert read_sequence(fa, "b", 2, 5) == b"ATA"
    fai = Path(str(fa) + ".fai")
    built = fai.stat().st_mtime_ns
    from genozarr.io import fasta

    fasta._checked.clear()  # checked again, as in a new process
    ensure_fai(fa)
    assert fai.stat().st_mtime_ns == built


def test_blanks_inside_sequence_lines_are_dropped_by_create_from_seq(tmp_path):
    """As Biopython (which Janggu read with) does: 'AC GT' is the record ACGT (it was
    encoded as five bases, the blank an N, every later base shifted)."""
    fa = tmp_path / "s.fa"
    fa.write_text(">a\nAC GT\nT\tA\n>b\nTTTTTA\n")
    seqs = Bioseq.create_from_seq("s", str(fa))
    want = np.eye(4, dtype=np.float32)[["ACGT".index(c) for c in "ACGTTA"]]
    np.testing.assert_array_equal(seqs[0][0][:, 0, :], want)
    assert seqs.shape[1] == 6


def test_fai_of_another_fasta_copied_with_its_date(tmp_path):
    """``cp -p`` of another FASTA over an indexed one: the .fai is newer, but wrong."""
    fa, other = tmp_path / "g.fa", tmp_path / "other.fa"
    fa.write_text(A)
    other.write_text(B)
    set_older(other, fa, seconds=86400)
    roi = pd.DataFrame({"chrom": ["a"], "start": [0], "end": [30]})
    before = Bioseq.create_from_refgenome("s", str(fa), roi=roi, binsize=30)
    assert Path(str(fa) + ".fai").exists()
    shutil.copy2(other, fa)  # keeps the old date: an mtime check alone passes
    assert os.stat(fa).st_mtime < os.stat(str(fa) + ".fai").st_mtime
    with pysam.FastaFile(str(fa)) as stale:  # what the stale index makes pysam read
        wrong = stale.fetch("a", 0, 30)
    truth = text_sequences(B)["a"][:30]
    assert wrong != truth
    after = Bioseq.create_from_refgenome("s", str(fa), roi=roi, binsize=30)
    onehot = np.eye(4, dtype=np.float32)[["ACGT".index(c) for c in truth]]
    np.testing.assert_array_equal(after[0][0][:, 0, :], onehot)
    assert not np.array_equal(after[0], before[0])
    assert read_sequence(fa, "c", 0, 6) == b"NNNNNN"  # 4 bases + 2 of padding
    with pysam.FastaFile(str(fa)) as rebuilt:  # the index on disk was replaced too
        assert rebuilt.fetch("a", 0, 30) == truth


@pytest.mark.parametrize("records, bgzip", [(1, False), (5000, False), (1, True),
                                            (600, True)])
def test_fai_of_a_same_size_file_whose_middle_line_moved(tmp_path, records, bgzip):
    """A FASTA replaced by one of the same size, older than its .fai (as `cp -p` leaves
    it), whose middle lines are of other lengths: the index passed every check, and the
    bases after the changed line were read at the old offsets (a line end served as N;
    an audit). Now line ends inside each record are checked (the middle line's where a
    file has thousands of records), and the index is refused."""
    from genozarr.errors import MissingIndexError
    from genozarr.io.fasta import ensure_fai

    plain = tmp_path / "g.fa"
    fa = tmp_path / "g.fa.gz" if bgzip else plain
    others = "".join(f">x{i}\nACGTACGTAC\nACGTACGTAC\nAC\n" for i in range(records - 1))
    plain.write_text(f"{others}>chr1\nAAAAAAAAAA\nCCCCCCCCCC\nGGGGGGGGGG\nTT\n")
    if bgzip:  # (a review: bgzip files of many records were left unchecked)
        pysam.tabix_compress(str(plain), str(fa), force=True)
    ensure_fai(str(fa))
    fai = str(fa) + ".fai"
    plain.write_text(f"{others}>chr1\nAAAAAAAAAA\nCCCCCCCCC\nGGGGGGGGGGG\nTT\n")
    if bgzip:
        pysam.tabix_compress(str(plain), str(fa), force=True)
    set_older(fa, fai)
    with pytest.raises(MissingIndexError, match=r"record 'chr1': its sequence line \d does "
                       r"not end after 10 bases, as the index records"):
        ensure_fai(str(fa))


def test_bgzip_fasta_with_stale_gzi(tmp_path):
    """A bgzip FASTA replaced by another one with an older date: .fai and .gzi rebuilt."""
    plain_a, plain_b = tmp_path / "a.fa", tmp_path / "b.fa"
    plain_a.write_text(A)
    plain_b.write_text(B)
    gz = tmp_path / "g.fa.gz"
    pysam.tabix_compress(str(plain_a), str(gz))
    assert read_sequence(gz, "b", 0, 20) == text_sequences(A)["b"].encode()
    assert Path(str(gz) + ".gzi").exists()
    pysam.tabix_compress(str(plain_b), str(gz), force=True)
    set_older(gz, str(gz) + ".fai")
    seqs = text_sequences(B)
    assert fasta_chrom_sizes(gz) == {k: len(v) for k, v in seqs.items()}
    for name, seq in seqs.items():
        assert read_sequence(gz, name, 0, len(seq)).decode() == seq
    with pysam.FastaFile(str(gz)) as fa:
        assert fa.fetch("a") == seqs["a"]


def test_bgzip_fasta_with_a_record_appended_after_indexing(tmp_path):
    """A bgzip FASTA replaced (``cp -p``) by a version with one more record: its first
    blocks are the same, so the old .fai and .gzi fit every record they list, and the new
    record was left out silently (a plain FASTA was already checked for this)."""
    gz = tmp_path / "g.fa.gz"
    plain, more = tmp_path / "a.fa", tmp_path / "b.fa"
    plain.write_text(A)
    more.write_text(A + ">extra\nACGTTGCA\n")
    pysam.tabix_compress(str(plain), str(gz))
    assert "extra" not in fasta_chrom_sizes(gz)
    pysam.tabix_compress(str(more), str(tmp_path / "b.fa.gz"))
    set_older(tmp_path / "b.fa.gz", str(gz) + ".fai")
    shutil.copy2(tmp_path / "b.fa.gz", gz)
    from genozarr.io import fasta

    fasta._checked.clear()  # as in a new process
    seqs = text_sequences(A + ">extra\nACGTTGCA\n")
    assert fasta_chrom_sizes(gz) == {k: len(v) for k, v in seqs.items()}
    assert read_sequence(gz, "extra", 0, 8) == b"ACGTTGCA"


@pytest.mark.parametrize("text", [b">chr1 first\nACGTACGTAA\n>chr2\nGGGCCCATAT",
                                  b">c\nACGT\nACGT", b">c\nACGT\nAC", b">c\nACGT\nACGT\n"])
def test_bgzip_fasta_without_a_final_line_end(tmp_path, text):
    """A bgzip FASTA whose last line is full and has no line end: the check for records
    appended after indexing read one byte past the data, where BGZF refuses to seek, and
    the file (read before) was refused as one the index does not fit. Read as the plain
    file is, also with indexes built before (by pysam)."""
    plain = tmp_path / "g.fa"
    plain.write_bytes(text)
    seqs = text_sequences(text.decode())
    gz = tmp_path / "g.fa.gz"
    pysam.tabix_compress(str(plain), str(gz))
    for indexed_before in (False, True):
        from genozarr.io import fasta

        fasta._checked.clear()
        if indexed_before:
            for p in (str(gz) + ".fai", str(gz) + ".gzi"):
                os.remove(p)
            pysam.faidx(str(gz))
        for path in (plain, gz):
            assert fasta_chrom_sizes(path) == {k: len(v) for k, v in seqs.items()}
            for name, seq in seqs.items():
                assert read_sequence(path, name, 0, len(seq)).decode() == seq


def test_bgzip_fasta_recompressed_in_other_blocks(tmp_path, capfd):
    """The same text compressed in other BGZF blocks (an older date, the old .fai and .gzi
    kept): checking the old .gzi failed with htslib's bare 'OSError: Error closing BGZFile
    object' (its close raised over the reason found) and htslib's messages on stderr. The
    index is rebuilt and the sequences read right."""
    rng = np.random.default_rng(6)
    text = "".join(f">c{i}\n" + "\n".join("".join(rng.choice(list("ACGT"), 60))
                                        for _ in range(2500)) + "\n" for i in range(3))
    fa = tmp_path / "g.fa"
    fa.write_text(text)
    gz = tmp_path / "g.fa.gz"
    pysam.tabix_compress(str(fa), str(gz))
    assert fasta_chrom_sizes(gz) == {f"c{i}": 150_000 for i in range(3)}
    raw = text.encode()
    for k, part in enumerate((raw[:100_003], raw[100_003:])):
        (tmp_path / f"p{k}").write_bytes(part)
        pysam.tabix_compress(str(tmp_path / f"p{k}"), str(tmp_path / f"p{k}.gz"))
    gz.write_bytes((tmp_path / "p0.gz").read_bytes() + (tmp_path / "p1.gz").read_bytes())
    set_older(gz, str(gz) + ".fai")
    from genozarr.io import fasta

    fasta._checked.clear()
    capfd.readouterr()
    seqs = text_sequences(text)
    for name, seq in seqs.items():
        assert read_sequence(gz, name, 0, len(seq)).decode() == seq
    assert "bgzf" not in capfd.readouterr().err


def test_fasta_handle_reopened_when_the_index_is_rebuilt(tmp_path, settled):
    fa = tmp_path / "g.fa"
    fa.write_text(A)
    first = get_handle("fasta", str(fa))
    assert get_handle("fasta", str(fa)) is first
    os.remove(str(fa) + ".fai")
    ensure_fai(fa)
    assert get_handle("fasta", str(fa)) is not first


@pytest.mark.parametrize("how", ["replace", "in place"])
def test_input_replaced_with_the_same_size_and_time(tmp_path, how):
    """A FASTA replaced by another of the same size whose modification time is set back
    (``cp -p``, ``rsync -t``): the open handle and the content digest are not reused."""
    fa, other = tmp_path / "g.fa", tmp_path / "other.fa"
    first = ">a\n" + "ACGTACGTAC" * 4 + "\n"
    second = ">a\n" + "TTGCATTGCA" * 4 + "\n"
    fa.write_text(first)
    roi = pd.DataFrame({"chrom": ["a"], "start": [0], "end": [40]})
    before = Bioseq.create_from_refgenome("s", str(fa), roi=roi, binsize=40)
    digest = file_digest(fa)
    st = os.stat(fa)
    if how == "replace":
        other.write_text(second)
        os.utime(other, ns=(st.st_atime_ns, st.st_mtime_ns))
        os.replace(other, fa)
    else:
        with open(fa, "r+") as f:
            f.write(second)
        os.utime(fa, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert (os.stat(fa).st_size, os.stat(fa).st_mtime_ns) == (st.st_size, st.st_mtime_ns)
    after = Bioseq.create_from_refgenome("s", str(fa), roi=roi, binsize=40)
    onehot = np.eye(4, dtype=np.float32)[["ACGT".index(c) for c in "TTGCATTGCA" * 4]]
    np.testing.assert_array_equal(after[0][0][:, 0, :], onehot)
    assert not np.array_equal(after[0], before[0])
    assert file_digest(fa) != digest


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


def test_stale_fai_in_read_only_directory(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    fa = ro / "g.fa"
    fa.write_text(A)
    pysam.faidx(str(fa))
    other = tmp_path / "other.fa"
    other.write_text(B)
    set_older(other, fa, seconds=86400)
    shutil.copy2(other, fa)
    undo = _make_read_only(ro)
    try:
        with pytest.raises(StaleIndexError) as info:
            read_sequence(fa, "a", 0, 10)
        expect_both(StaleIndexError, info, fa, str(fa) + ".fai")
        assert "read-only" in str(info.value) and "does not match" in str(info.value)
    finally:
        undo()
    assert read_sequence(fa, "a", 0, 40).decode() == text_sequences(B)["a"]


# ------------------------------------------------------------------------------ cache keys
def test_cache_key_covers_indexes(sim_data, tmp_path):
    bam = tmp_path / "reads.bam"
    shutil.copy(sim_data["bam"], bam)
    index_bam(bam)
    digests = input_digests(bam)
    assert digests == [file_digest(bam), ".bai:" + file_digest(str(bam) + ".bai")]
    key = cache_key([str(bam)], {}, {})
    pysam.index("-c", str(bam))  # htslib now reads the .csi: another index, another key
    assert input_digests(bam)[1] == ".csi:" + file_digest(str(bam) + ".csi")
    assert cache_key([str(bam)], {}, {}) != key
    fa = tmp_path / "g.fa"
    fa.write_text(A)
    ensure_fai(fa)
    assert input_digests(fa) == [file_digest(fa), ".fai:" + file_digest(str(fa) + ".fai")]
    bed = tmp_path / "x.bed"
    bed.write_text("chr1\t1\t5\n")
    assert input_digests(bed) == [file_digest(bed)]  # files without index: as before


def test_an_index_of_a_bam_sharing_the_first_reads_is_refused(tmp_path):
    """A BAM file with reads added near the end of its last reference, beside the index
    of the file before (copied after it: the dates pass; the same references and first
    reads: the other checks pass), lost the reads past the old index's last chunk
    silently (93 counted of 133 in a window; an audit). The reads at the end of the last
    reference are read through the index, then the record where its reach ends: a read
    of that reference there is past the index's reach."""
    from genozarr.testing.simulate import simulate_dataset

    src = simulate_dataset(tmp_path / "d", {"chr1": 20000, "chr2": 12000}, n_reads=3000,
                           seed=1)["bam"]
    with pysam.AlignmentFile(src) as f:
        header = f.header
        reads = list(f.fetch(until_eof=True))

    def write(path: Path, extra: int) -> None:
        added = []
        for k in range(extra):
            a = pysam.AlignedSegment(header)
            a.query_name, a.query_sequence, a.flag = f"extra{k}", "A" * 50, 0
            a.reference_id, a.reference_start, a.mapping_quality = 1, 11500 + k, 60
            a.cigartuples = [(0, 50)]
            a.query_qualities = pysam.qualitystring_to_array("I" * 50)
            added.append(a)
        ordered = sorted(reads + added, key=lambda r: (
            r.reference_id if r.reference_id >= 0 else 1 << 30, r.reference_start))
        with pysam.AlignmentFile(str(path), "wb", header=header) as out:
            for r in ordered:
                out.write(r)
        pysam.index(str(path))

    old, new = tmp_path / "old.bam", tmp_path / "new.bam"
    write(old, 0)
    write(new, 40)
    roi = pd.DataFrame({"chrom": ["chr2"], "start": [11000], "end": [12000]})
    good = Cover.create_from_bam("c", str(new), roi=roi, binsize=1000, include_flagged=True)
    assert good[:].sum() > 40
    shutil.copy(str(old) + ".bai", str(new) + ".bai")  # newer than the BAM
    with pytest.raises(StaleIndexError, match=r"new\.bam\.bai does not match .*new\.bam: it "
                                              r"ends the reads of chr2 before the BAM does"):
        Cover.create_from_bam("c", str(new), roi=roi, binsize=1000)
    Cover.create_from_bam("c", str(old), roi=roi, binsize=1000)  # its own index: accepted


def test_short_reads_after_a_long_one_at_the_end_are_a_valid_index(tmp_path):
    """The probe of the last reference's end refused a valid BAM (a review): one long read
    reaching into the last kilobase, then 30,000 short reads ending before it, which lie
    in bins the window's query does not visit. Reads past the index's reach that end
    before the window are skipped; counts equal pysam's, with a BAI and with a CSI."""
    rng = np.random.default_rng(0)
    length = 100_000
    path = tmp_path / "long.bam"
    # one read crossing 98,304 and ending past 98,976, then short ones ending before it
    write_placed_reads(path, {"chr1": length},
              [{"name": "long", "start": 97_000, "length": 2_100}]
              + [{"name": f"r{i}", "start": int(p), "length": 100}
                 for i, p in enumerate(np.sort(rng.integers(97_001, 98_200, 30_000)))],
              index=False)
    for csi in (False, True):
        for old in (str(path) + ".bai", str(path) + ".csi"):
            Path(old).unlink(missing_ok=True)
        pysam.index(*(["-c"] if csi else []), str(path))
        close_handles()
        assert check_bam(str(path)) == str(path)
        counts = count_5prime(str(path), "chr1", 96_000, 100_000)
        want = pysam_counts(str(path), "chr1", 96_000, 100_000)[:, 0]
        np.testing.assert_array_equal(counts[:, 0], want)


def test_files_rewritten_over_and_over_are_remembered_once(tmp_path, settled):
    """The per-process record of checked FASTA and BAM files kept an entry per version of
    a file: a session rewriting its input each iteration grew it by one every time. One
    entry per path now (the version checked last), at most a fixed number of paths; each
    version is still checked, and read with its own values."""
    from genozarr.io import bam, fasta

    fa, reads = tmp_path / "g.fa", tmp_path / "r.bam"
    n_fasta, n_bam = len(fasta._checked), len(bam._checked)
    for k in range(6):
        seq = "ACGT"[k % 4] * 50 + "T" * 50
        fa.write_text(f">c\n{seq}\n")
        os.utime(fa, ns=(10**18 + k, 10**18 + k))  # a new version, whatever the clock
        assert read_sequence(fa, "c", 48, 52).decode() == seq[48:52]
        write_placed_reads(reads, {"c": 100}, [{"start": 10 * k, "length": 5}])
        cov = Cover.create_from_bam("b", str(reads), roi=["c:0-100"], binsize=100,
                                    resolution=1)
        assert np.flatnonzero(np.asarray(cov[0])[0, :, 0, 0]).tolist() == [10 * k]
    assert len(fasta._checked) == n_fasta + 1 and len(bam._checked) == n_bam + 1
    small = type(fasta._checked)(limit=3)
    for k in range(5):
        small.add(f"/f{k}", (k,))
    assert len(small) == 3 and ("/f4", (4,)) in small and ("/f0", (0,)) not in small
    assert ("/f4", (3,)) not in small  # another version of the path: not checked


def test_close_handles_leaves_other_running_threads_handles_open(tmp_path):
    """``close_handles`` closed every thread's handles, also under a read of another
    running thread (htslib crashes the process when a file is closed under a read;
    ``genozarr.io.bam`` calls it for a path whose read failed, while other threads may
    read the same file). Another running thread's handle is taken out of the cache and
    stays usable; its next ``get_handle`` opens a new one."""
    import threading

    path = tmp_path / "r.bam"
    write_placed_reads(path, {"chr1": 10_000},
                       [{"name": f"r{i}", "start": 100 * i, "length": 50} for i in range(50)])
    opened, closed, done = threading.Event(), threading.Event(), threading.Event()
    seen: dict[str, object] = {}

    def reader() -> None:
        try:
            bam = get_handle("bam", str(path))
            opened.set()
            closed.wait(30)
            seen["count"] = sum(1 for _ in bam.fetch("chr1", 0, 10_000))  # the same handle
            seen["reopened"] = get_handle("bam", str(path)) is not bam
        except Exception as e:  # noqa: BLE001 - reported below
            seen["error"] = e
        finally:
            done.set()

    mine = get_handle("bam", str(path))
    thread = threading.Thread(target=reader)
    thread.start()
    assert opened.wait(30)
    assert close_handles(str(path)) == 2  # both threads' handles left the cache
    closed.set()
    thread.join(30)
    assert done.is_set() and "error" not in seen, seen.get("error")
    assert seen == {"count": 50, "reopened": True}
    assert mine.is_closed  # the calling thread's own: closed at once


@pytest.mark.parametrize("kind", ["bed", "fasta", "bigwig"])
def test_an_input_rewritten_within_one_time_stamp_step_is_read_again(tmp_path, monkeypatch,
                                                                      kind):
    """On a file system with 1-second time stamps (ext2/ext3, HFS+; FAT: 2 s), an input
    rewritten in place with the same size within one second keeps its size, times and
    inode: the content hash (cache=True) and the checked index and open handle were
    remembered by them, and the old content was served (an audit of clocks and time
    stamps, on a loop-mounted ext2). Emulated here: the file's times frozen at one
    whole second of now, as such a file system reports both writes."""
    from genozarr.io import _handles

    path = tmp_path / {"bed": "feat.bed", "fasta": "g.fa", "bigwig": "s.bw"}[kind]
    frozen = (int(time.time()) - 1) * 10**9  # the second both writes fall in
    real_stat = os.stat

    def coarse_stat(p, *args, **kwargs):
        st = real_stat(p, *args, **kwargs)
        return _frozen(st, frozen) if os.fspath(p) == str(path) else st

    monkeypatch.setattr(os, "stat", coarse_stat)
    roi = pd.DataFrame({"chrom": ["chr1"], "start": [0], "end": [100]})
    if kind == "bed":
        path.write_text("chr1\t10\t20\n")
        build = lambda: Cover.create_from_bed("cov", str(path), roi=roi,
                                              genomesize={"chr1": 1000}, binsize=100,
                                              storage="zarr", cache=True)[0].ravel()
        first = build()
        assert np.flatnonzero(first).tolist() == list(range(10, 20))
        with open(path, "r+") as f:  # in place, the same size
            f.write("chr1\t50\t60\n")
        assert np.flatnonzero(build()).tolist() == list(range(50, 60))
    elif kind == "bigwig":  # (pybigtools' and pyBigWig's readers, sizes, checks)
        import pyBigWig

        def bigwig(target, value):
            with pyBigWig.open(str(target), "w") as bw:
                bw.addHeader([("chr1", 1000)])
                bw.addEntries("chr1", 0, values=[value] * 10, span=10, step=10)

        bigwig(path, 1.0)
        bigwig(tmp_path / "other.bw", 7.0)
        build = lambda: Cover.create_from_bigwig(
            "s", str(path), roi=roi, binsize=100, storage="zarr", cache=True)[0].ravel()
        assert np.unique(build()).tolist() == [1.0]
        data = (tmp_path / "other.bw").read_bytes()
        assert len(data) == path.stat().st_size
        with open(path, "r+b") as f:
            f.write(data)
        assert np.unique(build()).tolist() == [7.0]
    else:
        path.write_text(">chr1\n" + "A" * 100 + "\n")
        build = lambda: Bioseq.create_from_refgenome(
            "dna", str(path), roi=roi, binsize=100)[0][0, :, 0, :]
        assert build().argmax(1).tolist() == [0] * 100
        with open(path, "r+") as f:
            f.write(">chr1\n" + "T" * 100 + "\n")
        assert build().argmax(1).tolist() == [3] * 100
    assert _handles.changed_lately(os.stat(path))


def _frozen(st: os.stat_result, ns: int) -> os.stat_result:
    """``st`` with its access, modification and change times at ``ns``."""
    fields = list(st[:10])
    fields[7] = fields[8] = fields[9] = ns // 10**9
    extra = {name: getattr(st, name) for name in dir(st)
             if name.startswith("st_") and name not in os.stat_result.__match_args__}
    extra.update(st_atime=float(ns // 10**9), st_mtime=float(ns // 10**9),
                 st_ctime=float(ns // 10**9), st_atime_ns=ns, st_mtime_ns=ns, st_ctime_ns=ns)
    return os.stat_result(fields, extra)


def test_a_file_dated_in_the_future_is_remembered():
    """A time stamp far ahead of this host's clock (an archive's, a clock set wrong) is
    no step a write of now would share: the file's checks are remembered (a review found
    every read of such a file checking it again, 100x slower, until the clock caught
    up); within the few seconds around now, not."""
    from genozarr.io._handles import RACY_SECONDS, _signs_lately

    now = time.time_ns()
    day = 86400 * 10**9
    assert not _signs_lately((10, now + day, 1, now + day))
    assert not _signs_lately((10, now - day, 1, now - day))
    assert _signs_lately((10, now - day, 1, now + int(RACY_SECONDS * 1e9) // 2))
    assert _signs_lately(((10, now - day, 1, now), "x", None))
