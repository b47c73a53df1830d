"""Regions and GenomicIndexer: tiling arithmetic against hand-worked cases and a
brute-force tiler, coordinate conventions, filters and export."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from genozarr.errors import ArgumentError, RegionError
from genozarr.genome import Region
from genozarr.regions import GenomicIndexer, load_regions, trim_regions


def frame(*rows):
    return pd.DataFrame(rows, columns=["chrom", "start", "end", "strand"])


def windows(gi):
    return [(str(c), int(s), int(e)) for c, s, e in zip(gi.chrs, gi.starts, gi.ends)]


def test_tiling_hand_worked_zero_padding():
    gi = GenomicIndexer.create_from_file(frame(("chr1", 0, 250, "+")), binsize=100, stepsize=100)
    # two full windows and the partial tail [200, 250), kept because zero_padding=True
    assert windows(gi) == [("chr1", 0, 100), ("chr1", 100, 200), ("chr1", 200, 250)]
    gi = GenomicIndexer.create_from_file(frame(("chr1", 0, 250, "+")), binsize=100, stepsize=100,
                                         zero_padding=False)
    assert windows(gi) == [("chr1", 0, 100), ("chr1", 100, 200)]


def test_tiling_overlapping_steps_and_flank():
    gi = GenomicIndexer.create_from_file(frame(("chr2", 10, 210, "-")), binsize=100, stepsize=50,
                                         flank=20)
    # starts 10, 60, 110 (110+100 = 210 = region end, so no tail window)
    assert windows(gi) == [("chr2", 10, 110), ("chr2", 60, 160), ("chr2", 110, 210)]
    assert gi[0] == Region("chr2", -10, 130, "-")  # flank widens both ends, may go below 0
    assert gi[np.int64(2)] == Region("chr2", 90, 230, "-")  # numpy integers index too


def test_tail_window_with_steps_smaller_than_binsize():
    gi = GenomicIndexer.create_from_file(frame(("c", 0, 230, ".")), binsize=100, stepsize=50)
    # full windows 0, 50, 100; last full ends at 200 < 230 -> tail [150, 230)
    assert windows(gi) == [("c", 0, 100), ("c", 50, 150), ("c", 100, 200), ("c", 150, 230)]


def test_binsize_none_uses_regions_as_windows():
    gi = GenomicIndexer.create_from_file(frame(("c", 0, 10, "."), ("c", 20, 30, "+")),
                                         binsize=None, stepsize=None)
    assert windows(gi) == [("c", 0, 10), ("c", 20, 30)] and gi.binsize == 10
    # unequal lengths (Janggu): binsize = the longest region, the shorter one a padded window
    gi = GenomicIndexer.create_from_file(frame(("c", 0, 10, "."), ("c", 20, 35, "+")), None, None)
    assert windows(gi) == [("c", 0, 10), ("c", 20, 35)]
    assert (gi.binsize, gi.stepsize) == (15, 15)
    # ... also with a smaller stepsize: one window per region all the same
    gi = GenomicIndexer.create_from_file(frame(("c", 0, 10, "."), ("c", 20, 35, "+")), None, 5)
    assert windows(gi) == [("c", 0, 10), ("c", 20, 35)]
    # zero_padding=False: regions shorter than the longest give no window (as Janggu)
    gi = GenomicIndexer.create_from_file(frame(("c", 0, 10, "."), ("c", 20, 35, "+")), None, None,
                                         zero_padding=False)
    assert windows(gi) == [("c", 20, 35)]
    gi = GenomicIndexer.create_from_file(frame(("c", 0, 10, "."), ("c", 20, 35, "+")), None, None,
                                         collapse=True)
    assert gi.lengths.tolist() == [10, 15] and gi.binsize is None
    with pytest.raises(RegionError, match="length 0"):
        GenomicIndexer.create_from_file(frame(("c", 5, 5, ".")), None, None)


def brute_force(regions, binsize, stepsize, zero_padding):
    out = []
    for chrom, start, end in regions:
        pos, last_end = start, start
        while pos + binsize <= end:
            out.append((chrom, pos, pos + binsize))
            last_end = pos + binsize
            pos += stepsize
        if zero_padding and pos < end and last_end < end:
            out.append((chrom, pos, end))
    return out


@settings(max_examples=150, deadline=None)
@given(
    regions=st.lists(st.tuples(st.sampled_from(["a", "b"]), st.integers(0, 500),
                               st.integers(0, 400)), min_size=1, max_size=6),
    binsize=st.integers(1, 120), stepsize=st.integers(1, 150), zero_padding=st.booleans(),
)
def test_tiling_matches_brute_force(regions, binsize, stepsize, zero_padding):
    regs = [(c, s, s + length) for c, s, length in regions]
    expected = brute_force(regs, binsize, stepsize, zero_padding)
    df = frame(*[(c, s, e, ".") for c, s, e in regs])
    gi = GenomicIndexer.create_from_file(df, binsize, stepsize, zero_padding=zero_padding)
    assert windows(gi) == expected  # no window at all: an empty indexer, not an error
    assert len(gi) == len(expected)


def test_random_state_permutes_reproducibly():
    df = frame(("c", 0, 1000, "."))
    a = GenomicIndexer.create_from_file(df, 100, 100, random_state=3)
    b = GenomicIndexer.create_from_file(df, 100, 100, random_state=3)
    c = GenomicIndexer.create_from_file(df, 100, 100)
    assert a.starts.tolist() == b.starts.tolist()
    assert sorted(a.starts.tolist()) == c.starts.tolist() and a.starts.tolist() != c.starts.tolist()


def test_an_int_random_state_gives_janggus_order():
    """Janggu shuffles with sklearn's check_random_state(seed).permutation, which is
    numpy's RandomState(seed); genozarr used default_rng(seed), another order for the
    same seed (an audit). RandomState and Generator objects are used as given."""
    df = frame(("c", 0, 1000, "."), ("d", 0, 500, "-"))
    plain = GenomicIndexer.create_from_file(df, 100, 100)
    for seed in (0, 43, 2**31 - 1):
        order = np.random.RandomState(seed).permutation(len(plain))
        gi = GenomicIndexer.create_from_file(df, 100, 100, random_state=seed)
        assert gi.tostr() == [plain.tostr()[i] for i in order]
    big = GenomicIndexer.create_from_file(df, 100, 100, random_state=2**40)  # RandomState
    assert sorted(big.tostr()) == sorted(plain.tostr())  # refuses seeds past 2**32 - 1
    gen = GenomicIndexer.create_from_file(df, 100, 100,
                                          random_state=np.random.default_rng(5))
    order = np.random.default_rng(5).permutation(len(plain))
    assert gen.tostr() == [plain.tostr()[i] for i in order]


def test_an_empty_include_is_every_chromosome_and_tostr_parses_back():
    """Janggu: include=[] means all chromosomes; genozarr selected none (an audit). A
    flanked window's string started below 0 ('chr1:-5-15'), which parse_region refuses;
    it is cut at 0, as Janggu's."""
    from genozarr.regions import parse_region

    df = frame(("chr1", 0, 300, "+"), ("chr2", 0, 200, "+"), ("chrX", 0, 100, "+"))
    gi = GenomicIndexer.create_from_file(df, 100, 100)
    assert gi.idx_by_region(include=[]).tolist() == list(range(6))
    assert gi.idx_by_region(include=[], exclude="chrX").tolist() == list(range(5))
    assert gi.idx_by_region(include=iter(["chr2"])).tolist() == [3, 4]  # an iterator
    assert len(gi.filter_by_region(include=[])) == 6
    flanked = GenomicIndexer.create_from_file(["chr1:0-20"], 10, 10, flank=5)
    assert flanked.tostr() == ["chr1:0-15", "chr1:5-25"]
    assert [(r.start, r.end) for r in map(parse_region, flanked.tostr())] == [(0, 15), (5, 25)]


def test_filter_and_export(tmp_path):
    df = frame(("chr1", 0, 300, "+"), ("chr2", 0, 200, "-"))
    gi = GenomicIndexer.create_from_file(df, 100, 100)
    assert windows(gi.filter_by_region(include="chr1", start=150)) == [("chr1", 100, 200),
                                                                      ("chr1", 200, 300)]
    assert windows(gi.filter_by_region(exclude=["chr1"])) == [("chr2", 0, 100), ("chr2", 100, 200)]
    out = tmp_path / "w.bed"
    gi.export_to_bed(out)
    back = load_regions(out)
    assert back[["chrom", "start", "end", "strand"]].values.tolist() == [
        ["chr1", 0, 100, "+"], ["chr1", 100, 200, "+"], ["chr1", 200, 300, "+"],
        ["chr2", 0, 100, "-"], ["chr2", 100, 200, "-"]]


def test_genome_tiling_without_roi():
    gi = GenomicIndexer.create_from_genome({"c1": 250, "c2": 100}, binsize=100)
    assert windows(gi) == [("c1", 0, 100), ("c1", 100, 200), ("c1", 200, 250), ("c2", 0, 100)]


def test_bad_arguments():
    df = frame(("c", 0, 100, "."))
    with pytest.raises(ArgumentError, match="stepsize must be an integer >= 1"):
        GenomicIndexer.create_from_file(df, 10, 0)
    with pytest.raises(ArgumentError, match="binsize must be an integer"):
        GenomicIndexer.create_from_file(df, 10.5, 10)
    with pytest.raises(RegionError, match="start > end"):
        load_regions(frame(("c", 50, 10, ".")))
    with pytest.raises(RegionError, match="negative start"):
        load_regions(frame(("c", -5, 10, ".")))
    with pytest.raises(RegionError, match="empty"):
        load_regions(frame())


def test_trim_regions():
    out = trim_regions(frame(("c", 3, 120, "+"), ("c", 10, 40, "+"), ("c", 100, 200, "-")), 50)
    assert out[["start", "end"]].values.tolist() == [[50, 100], [100, 200]]


def test_regions_from_pyranges_and_list():
    import pyranges as pr

    gr = pr.PyRanges(pd.DataFrame({"Chromosome": ["chr1"], "Start": [5], "End": [15],
                                   "Strand": ["-"]}))
    df = load_regions(gr)
    assert df[["chrom", "start", "end", "strand"]].values.tolist() == [["chr1", 5, 15, "-"]]
    df = load_regions([Region("chrX", 1, 9, "+")])
    assert df[["chrom", "start", "end", "strand"]].values.tolist() == [["chrX", 1, 9, "+"]]


# ---- inputs read as written ----------------------------------------------------------
def test_gtf_and_gff3_keep_the_file_order(tmp_path):
    """Window i is feature i of the file, as for BED (pyranges groups by chromosome and
    strand; the genes below are not in that order)."""
    rows = [("chr2", 101, 200, "+", "A"), ("chr1", 1, 100, "-", "B"),
            ("chr1", 2951, 3050, "+", "C")]
    gtf = tmp_path / "g.gtf"
    gtf.write_text("".join(f'{c}\tsrc\tgene\t{s}\t{e}\t.\t{st}\t.\tgene_id "{n}"; '
                           f'gene_name "{n}";\n' for c, s, e, st, n in rows))
    gff = tmp_path / "g.gff3"
    gff.write_text("##gff-version 3\n" + "".join(
        f"{c}\tsrc\tgene\t{s}\t{e}\t.\t{st}\t.\tID={n};Name={n}\n" for c, s, e, st, n in rows)
        + "##FASTA\n>chr1\nACGT\n")  # GFF3 may end with the sequences
    want = [[c, s - 1, e, st, n] for c, s, e, st, n in rows]
    for path in (gtf, gff):
        got = load_regions(path)[["chrom", "start", "end", "strand", "name"]].values.tolist()
        assert got == want, path
        assert list(GenomicIndexer.create_from_file(str(path), 100, 100).names) == \
            ["A", "B", "C"]
    empty = tmp_path / "e.gtf"
    empty.write_text("# nothing\n")
    with pytest.raises(Exception, match="no features found"):
        load_regions(empty)


def test_dataframe_strands(tmp_path):
    df = pd.DataFrame({"chrom": ["chr1"] * 4, "start": [0, 10, 20, 30],
                       "end": [5, 15, 25, 35], "strand": [1, -1, np.nan, 0]})
    assert load_regions(df)["strand"].tolist() == ["+", "-", ".", "."]
    as_text = df.assign(strand=["+", "-", None, "."])
    assert load_regions(as_text)["strand"].tolist() == ["+", "-", ".", "."]
    # pandas' nullable integers: <NA> is no strand (numpy's select refused the column)
    nullable = df.assign(strand=pd.array([1, -1, None, 0], dtype="Int64"))
    assert load_regions(nullable)["strand"].tolist() == ["+", "-", ".", "."]
    with pytest.raises(RegionError, match="region 0 .*has strand 'plus'"):
        load_regions(df.assign(strand=["plus", "-", "+", "+"]))
    with pytest.raises(RegionError, match="has strand 2"):
        load_regions(df.assign(strand=[1, 2, 1, 1]))
    with pytest.raises(RegionError, match="name the same field twice"):
        load_regions(df.assign(Chromosome="chr2"))


def test_a_fractional_coordinate_names_its_own_row():
    """A fractional start in row 2 was reported as region 0 (the row of a missing value
    was found, a fractional one was not)."""
    df = pd.DataFrame({"chrom": ["chr1"] * 3, "start": [0, 10, 20.5], "end": [5, 15, 25]})
    with pytest.raises(RegionError, match=r"region 2: start must be an integer, got 20\.5"):
        load_regions(df)
    with pytest.raises(RegionError, match=r"region 1: end must be an integer, got nan"):
        load_regions(df.assign(start=[0, 10, 20], end=[5, None, 25]))


def test_summits_only_from_narrowpeak_lines(tmp_path):
    """Column 10 is a summit in narrowPeak (10 columns), a block count in BED12."""
    from genozarr.regions import resize_regions

    bed12 = tmp_path / "b.bed"
    bed12.write_text("chr1\t1000\t2000\tr\t0\t+\t1000\t2000\t0\t2\t10,10\t0,990\n")
    peaks = tmp_path / "p.narrowPeak"
    peaks.write_text("chr1\t1000\t2000\tp\t0\t.\t5\t-1\t-1\t300\n")
    assert resize_regions(bed12, 10, centre="summit")[["start", "end"]].values.tolist() \
        == [[1495, 1505]]
    assert resize_regions(peaks, 10, centre="summit")[["start", "end"]].values.tolist() \
        == [[1295, 1305]]



def test_narrowpeak_summit_with_trailing_tabs(tmp_path):
    """A narrowPeak line ending in a tab (read_bed reads it as an empty 11th column) keeps
    its summit: it was centred on the midpoint (1495) with a 'no column 10' warning. Old
    Mac line ends with a blank line between peaks keep each peak's own summit."""
    from genozarr.regions import resize_regions

    peaks = tmp_path / "p.narrowPeak"
    peaks.write_text("chr1\t1000\t2000\tp\t0\t.\t5\t-1\t-1\t300\t\n"
                     "chr1\t3000\t4000\tq\t0\t.\t5\t-1\t-1\t20\t\t\n")
    assert resize_regions(peaks, 10, centre="summit")[["start", "end"]].values.tolist() \
        == [[1295, 1305], [3015, 3025]]
    mac = tmp_path / "mac.narrowPeak"
    mac.write_bytes(b"track x\r\rchr1\t1000\t2000\tp\t0\t.\t5\t-1\t-1\t300\r\r"
                    b"chr1\t3000\t4000\tq\t0\t.\t5\t-1\t-1\t20\r")
    assert resize_regions(mac, 10, centre="summit")[["start", "end"]].values.tolist() \
        == [[1295, 1305], [3015, 3025]]

def test_bed_regions_at_a_url(tmp_path):
    pytest.importorskip("aiohttp")
    from genozarr.testing.servers import serve_directory

    (tmp_path / "r.bed").write_text("chr1\t100\t300\nchr1\t1000\t1200\n")
    with serve_directory(tmp_path) as base:
        got = load_regions(f"{base}/r.bed")[["chrom", "start", "end"]].values.tolist()
    assert got == [["chr1", 100, 300], ["chr1", 1000, 1200]]


def test_narrowpeak_summits_at_a_url(tmp_path):
    """centre='summit' reads the summits of a URL from its local copy (it opened the URL
    as a file name: FileNotFoundError)."""
    pytest.importorskip("aiohttp")
    from genozarr.regions import resize_regions
    from genozarr.testing.servers import serve_directory

    (tmp_path / "p.narrowPeak").write_text("chr1\t100\t200\tp1\t0\t.\t5\t1\t1\t10\n"
                                           "chr1\t300\t400\tp2\t0\t.\t5\t1\t1\t90\n")
    with serve_directory(tmp_path) as base:
        got = resize_regions(f"{base}/p.narrowPeak", 10, "summit")
    # summits at 100 + 10 and 300 + 90, windows of 10 centred there
    assert got[["start", "end"]].values.tolist() == [[105, 115], [385, 395]]


def test_empty_indexer_says_why(caplog):
    import logging

    zero = pd.DataFrame({"chrom": ["chr1"], "start": [10], "end": [10]})
    with caplog.at_level(logging.WARNING, logger="genozarr"):
        assert len(GenomicIndexer.create_from_file(zero, 10, 10)) == 0
    assert "every region has length 0" in caplog.text and "zero_padding=False" not in \
        caplog.text


@pytest.mark.parametrize("binsize, collapse", [(None, False), (10, False), (None, True)])
def test_regions_of_length_zero_left_out_are_said(caplog, binsize, collapse):
    """An insertion point (start == end) among other regions gives no window: the windows
    no longer line up one to one with the regions, which a warning says (it was silent).
    With collapse=True (resolution=None datasets) it had a window of its own, where
    Janggu, and genozarr without collapse, give none (an audit)."""
    import logging

    regions = pd.DataFrame({"chrom": ["chr1"] * 3, "start": [0, 40, 50], "end": [20, 40, 60],
                            "name": ["a", "ins", "b"]})
    with caplog.at_level(logging.WARNING, logger="genozarr"):
        gi = GenomicIndexer.create_from_file(regions, binsize, binsize, collapse=collapse)
    assert "ins" not in list(gi.names) and len(gi) == (2 if binsize is None else 3)
    if collapse:
        assert gi.tostr() == ["chr1:0-20", "chr1:50-60"] and list(gi.names) == ["a", "b"]
    assert "1 region(s) of length 0 (start == end, such as chr1:40)" in caplog.text


def test_an_edited_table_of_loaded_regions_is_checked(tmp_path):
    """A table from load_regions widened past the chromosome start keeps pandas' attrs;
    tiling it is refused as a fresh table is (before: tiled unchecked into windows with
    negative coordinates, or an empty indexer for start > end)."""
    bed = tmp_path / "r.bed"
    bed.write_text("chr1\t100\t300\tp\t0\t+\n")
    df = load_regions(str(bed))
    wide = df.assign(start=df.start - 500, end=df.end + 500)
    assert wide.attrs  # what let the table through unchecked
    with pytest.raises(RegionError, match="negative start"):
        GenomicIndexer.create_from_file(wide, 200, None)
    with pytest.raises(RegionError, match="start > end"):
        GenomicIndexer.create_from_file(df.assign(end=df.start - 1), 200, None)
    with pytest.raises(RegionError, match="empty"):
        GenomicIndexer.create_from_file(df[df.start > 10_000], 200, None)
    gi = GenomicIndexer.create_from_file(df.assign(end=df.end + 100), 200, None)
    assert gi.tostr() == ["chr1:100-300", "chr1:300-400"]


def test_missing_region_names_are_dots(tmp_path):
    """No name is '.': a BED line with fewer columns than the others (was ''), a missing
    DataFrame cell (was 'None' / 'nan'); and unnamed windows are not named '/0'."""
    bed = tmp_path / "mixed.bed"
    bed.write_text("chr1\t0\t300\nchr1\t1000\t1100\tpeakA\t0\t+\n")
    assert load_regions(str(bed))["name"].tolist() == [".", "peakA"]
    gi = GenomicIndexer.create_from_file(str(bed), 100, None)
    assert list(gi.names) == [".", ".", ".", "peakA"]
    frame = pd.DataFrame({"chrom": ["chr1"] * 3, "start": [0, 500, 900],
                          "end": [200, 600, 1000], "name": ["peakA", None, np.nan]})
    assert load_regions(frame)["name"].tolist() == ["peakA", ".", "."]


def test_gff3_unknown_strand_and_bed_byte_order_mark(tmp_path):
    """GFF3's strand '?' (relevant but unknown) reads as '.'; a BED file starting with a
    byte-order mark and a track line reads its data (both were errors)."""
    gff = tmp_path / "a.gff3"
    gff.write_text("##gff-version 3\n"
                   "chr1\tsrc\tgene\t101\t200\t.\t+\t.\tID=g1\n"
                   "chr1\tsrc\tgene\t501\t600\t.\t?\t.\tID=g2\n")
    got = load_regions(str(gff))
    assert got[["start", "end", "strand"]].values.tolist() == [[100, 200, "+"],
                                                               [500, 600, "."]]
    bed = tmp_path / "bom.bed"
    bed.write_bytes(b"\xef\xbb\xbftrack name=x\nchr1\t5\t10\n")
    assert load_regions(str(bed))[["chrom", "start", "end"]].values.tolist() == [
        ["chr1", 5, 10]]


def test_gff3_names_are_unescaped(tmp_path):
    """GFF3 escapes ';', '=', ',' and '%' in attribute values as %XX: names read decoded."""
    gff = tmp_path / "e.gff3"
    gff.write_text("##gff-version 3\n"
                   "chr1\tsrc\tgene\t101\t200\t.\t+\t.\tID=g1;Name=Gamma%2Cx\n"
                   "chr1\tsrc\tgene\t301\t400\t.\t+\t.\tID=g2;Name=a%3Bb%25\n")
    assert load_regions(str(gff))["name"].tolist() == ["Gamma,x", "a;b%"]


@pytest.mark.parametrize("gzip_it", [False, True])
def test_gff_lines_pyranges_misreads(tmp_path, gzip_it):
    """Feature lines pyranges 0.1 misreads are read from a cleaned copy: a '#' inside a
    line (pandas' comment='#' cut 'Name=c#d' to 'c', and a PanSN seqid 'HG002#1#chr1'
    failed), GFF3 attributes '.' (failed: 'name it .gtf'), an unescaped '=' in a value
    (failed), a blank after ';' (' Name' read as another key, the name lost), and GTF
    attributes without a blank after ';' (two read as one value), a '; ' inside a quoted
    GTF value (failed) and an escaped quote '\\"' in one (the quote dropped)."""
    import gzip

    gff = ("##gff-version 3\n"
           "chr1\tsrc\tgene\t21\t30\t.\t+\t.\tID=a\n"
           "chr1\tsrc\tgene\t11\t20\t.\t-\t.\t.\n"
           "chr1\tsrc\tgene\t31\t40\t.\t+\t.\tID=x;Name=c#d;Note=e=f\n"
           "HG002#1#chr1\tsrc\tgene\t41\t50\t.\t+\t.\tID=y; Name=sp\n"
           "chr1\tmaker#2\tgene\t51\t60\t.\t-\t.\tID=z;Name=src\n"  # '#' in other columns
           "chr1\tsrc\tgene#x\t61\t70\t.\t-\t.\tID=t;Name=typ\n")
    gtf = ('chr1\tsrc\tgene\t21\t30\t.\t+\t.\tgene_id "G1";gene_name "NoSpace";\n'
           'chr1\tsrc\tgene\t31\t40\t.\t-\t.\tgene_id "G2"; gene_name "Spaced";\n'
           'P#1#chr1\tsrc\tgene\t41\t50\t.\t+\t.\tgene_id "G3"; gene_name "X#1";\n'
           'chr1\tsrc\tgene\t51\t60\t.\t+\t.\tgene_id "G4"; gene_name "a;b";\n'
           'chr1\tsrc\tgene\t52\t60\t.\t+\t.\tgene_id "G7"; gene_name "p; q";\n'
           'chr1\tsrc\tgene\t53\t60\t.\t+\t.\tgene_id "G8"; gene_name "say \\"hi\\"; x";\n'
           'chr1\tsrc#1\tgene\t61\t70\t.\t+\t.\tgene_id "G5"; gene_name "src";\n'
           'chr1\tsrc\tgene#x\t71\t80\t.\t+\t.\tgene_id "G6"; gene_name "typ";\n')
    want_gff = [["chr1", 20, 30, "a", "+"], ["chr1", 10, 20, ".", "-"],
                ["chr1", 30, 40, "c#d", "+"], ["HG002#1#chr1", 40, 50, "sp", "+"],
                ["chr1", 50, 60, "src", "-"]]
    want_gtf = [["chr1", 20, 30, "NoSpace", "+"], ["chr1", 30, 40, "Spaced", "-"],
                ["P#1#chr1", 40, 50, "X#1", "+"], ["chr1", 50, 60, "a;b", "+"],
                ["chr1", 51, 60, "p; q", "+"], ["chr1", 52, 60, 'say "hi"; x', "+"],
                ["chr1", 60, 70, "src", "+"]]
    for name, text, want in (("a.gff3", gff, want_gff), ("a.gtf", gtf, want_gtf)):
        path = tmp_path / (name + (".gz" if gzip_it else ""))
        if gzip_it:
            path.write_bytes(gzip.compress(text.encode()))
        else:
            path.write_text(text)
        got = load_regions(str(path))
        assert got[["chrom", "start", "end", "name", "strand"]].values.tolist() == want
        typ = load_regions(str(path), feature="gene#x")  # the type column unescaped
        assert typ[["start", "name"]].values.tolist() == [[want[-1][2], "typ"]]


def test_gtf_attribute_without_value_is_named(tmp_path, capsys):
    """A GTF attribute that is not 'key "value"' fails with the line it is on (pyranges
    said 'not enough values to unpack' and printed the line to stdout)."""
    from genozarr.errors import MalformedFileError

    path = tmp_path / "bad.gtf"
    path.write_text('chr1\tsrc\tgene\t11\t20\t.\t+\t.\tgene_id "g1";\n'
                    'chr1\tsrc\tgene\t31\t40\t.\t-\t.\tgene_id "g2"; novalue; x "y";\n')
    with pytest.raises(MalformedFileError, match=r"bad\.gtf.*line 2 has an attribute "
                       r"without a value \('novalue'"):
        load_regions(str(path))
    assert capsys.readouterr().out == ""


def test_the_users_own_pyranges_calls_still_print(tmp_path, capsys):
    """genozarr sends pyranges' prints to its debug log while it reads a file; the
    user's own pyranges calls afterwards print as pyranges does."""
    import pyranges as pr

    good = tmp_path / "good.gtf"
    good.write_text('chr1\tsrc\tgene\t11\t20\t.\t+\t.\tgene_id "g1";\n')
    assert load_regions(str(good))[["start", "end"]].values.tolist() == [[10, 20]]
    bad = tmp_path / "bad.gtf"
    bad.write_text('chr1\tsrc\tgene\t31\t40\t.\t-\t.\tgene_id "g2"; novalue;\n')
    capsys.readouterr()
    with pytest.raises(ValueError):
        pr.read_gtf(str(bad))
    assert "novalue" in capsys.readouterr().out


@pytest.mark.parametrize("name, line", [
    ("f.gff3", "chr1\tsrc\tgene\t5.9\t20.7\t.\t+\t.\tID=x\n"),
    ("f.gtf", 'chr1\tsrc\tgene\t1e1\t2e1\t.\t+\t.\tgene_id "x";\n'),
    ("f.gff3", "chr1\tsrc\tgene\tten\t20\t.\t+\t.\tID=x\n"),
])
def test_gff_coordinates_that_are_not_whole_numbers(tmp_path, name, line):
    """'5.9'..'20.7' was read as [4, 20) and '1e1'..'2e1' as [9, 20) without a complaint
    (a BED file's '10.5' is refused); a start that is no number failed with pandas'
    "unsupported operand type(s) for -" and a hint at GTF attributes."""
    from genozarr.errors import MalformedFileError

    path = tmp_path / name
    first = "ID=a" if name.endswith(".gff3") else 'gene_id "a";'
    path.write_text(f"chr1\tsrc\tgene\t1\t50\t.\t+\t.\t{first}\n" + line)
    with pytest.raises(MalformedFileError, match=rf"{name}: .*line 2: start and end "
                       r"\('[^']+', '[^']+'\) must be whole numbers"):
        load_regions(str(path))



@pytest.mark.parametrize("name, line, problem", [
    ("f.gff3", "chr1\tsrc\tgene\t0\t20\t.\t+\t.\tID=x\n",
     r"start must be >= 1 \(GFF coordinates are 1-based\), got 0"),
    ("f.gtf", 'chr1\tsrc\tgene\t30\t20\t.\t+\t.\tgene_id "x";\n', r"start 30 > end 20"),
    ("f.gff3", "chr1\tsrc\tgene\t1\t20\t.\tx\t.\tID=x\n",
     r"strand must be '\+', '-', '\.' or '\?', got 'x'"),
    ("f.gff3", "chr1\tsrc\tgene\t1\t20\tabc\t+\t.\tID=x\n",
     r"score \(6th column\) must be a number or '\.', got 'abc'"),
])
def test_gff_line_errors_name_the_line_as_written(tmp_path, name, line, problem):
    """Start 0, start past end, strand 'x' failed as 'region c1:-1-20 has a negative
    start', 'region c1:29-20 has start > end', 'region 1 (c1:0-20) has strand 'x'' (the
    converted coordinates, a 0-based row, no line); a score 'abc' was read as no score.
    Each now names its line of the file and the values the file writes."""
    from genozarr.errors import MalformedFileError

    path = tmp_path / name
    first = "ID=a" if name.endswith(".gff3") else 'gene_id "a";'
    header = "##gff-version 3\n" if name.endswith(".gff3") else "#!genome-build x\n"
    path.write_text(header + f"chr1\tsrc\tgene\t1\t50\t.\t+\t.\t{first}\n" + line)
    with pytest.raises(MalformedFileError, match=rf"{name}: line 3: {problem}$"):
        load_regions(str(path))


@pytest.mark.parametrize("cleaned", [False, True])
def test_gff_errors_name_the_offending_line_not_its_twin(tmp_path, cleaned):
    """A bad line was named by the first line of the same start and end (a valid one
    before it), and a negative start by no line (an audit); now by its own line, also
    through the cleaned copy genozarr parses for lines pyranges misreads (a '#' in a
    value), with comment and blank lines counted."""
    from genozarr.errors import MalformedFileError
    from genozarr.io.gff import read_gff

    odd = "#x" if cleaned else "x"
    cases = [
        ("a.gff3", ("##gff-version 3\n"
                    f"chr1\tsrc\tgene\t10\t20\t.\t+\t.\tID=g0;Note={odd}\n"
                    "# a comment\n\n"
                    "chr1\tsrc\tgene\t10\t20\t.\tx\t.\tID=g1\n"),
         None, r"line 5: strand must be '\+', '-', '\.' or '\?', got 'x'"),
        ("b.gtf", (f'chr1\tsrc\tgene\t10\t20\t.\t+\t.\tgene_id "g0"; note "{odd}";\n'
                   'chr1\tsrc\texon\t10\t20\tbad\t+\t.\tgene_id "g0";\n'),
         "*", r"line 2: score \(6th column\) must be a number or '\.', got 'bad'"),
        ("c.gff3", ("##gff-version 3\n"
                    f"chr1\tsrc\tgene\t10\t20\t.\t+\t.\tID=g0;Note={odd}\n"
                    "chr1\tsrc\tgene\t-5\t20\t.\t+\t.\tID=g1\n"),
         # (the cleaned copy is checked for whole numbers first: '-5' is refused there)
         None, (r"cannot be parsed as GFF3: line 3: start and end \('-5', '20'\) must be "
                r"whole numbers >= 1 \(GFF coordinates are 1-based\): .*") if cleaned
         else r"line 3: start must be >= 1 \(GFF coordinates are 1-based\), got -5"),
    ]
    for name, text, feature, problem in cases:
        path = tmp_path / name
        path.write_text(text)
        with pytest.raises(MalformedFileError, match=rf"{name}: {problem}$"):
            read_gff(str(path), feature=feature)


@pytest.mark.parametrize("where", ["middle", "end"])
def test_a_gtf_comment_after_a_feature_line_is_read(tmp_path, where):
    """A GTF with a '#' comment line after a feature line failed ("cannot be parsed as
    GTF: 'float' object has no attribute 'rstrip'": pyranges' reader fails on it, and
    the cleaned copy kept the comment). Hand-worked: 1-based closed 10-20 and 30-40 are
    0-based 9-20 and 29-40."""
    from genozarr.io.gff import read_gff

    lines = ['chr1\tsrc\tgene\t10\t20\t.\t+\t.\tgene_id "g0";\n',
             'chr1\tsrc\tgene\t30\t40\t.\t-\t.\tgene_id "g1";\n']
    lines.insert(1 if where == "middle" else 2, "# a comment\n")
    path = tmp_path / "c.gtf"
    path.write_text("".join(lines))
    got = read_gff(str(path))
    assert got[["chrom", "start", "end", "name", "strand"]].values.tolist() == [
        ["chr1", 9, 20, "g0", "+"], ["chr1", 29, 40, "g1", "-"]]
    assert load_regions(str(path))[["start", "end"]].values.tolist() == [[9, 20], [29, 40]]


def test_gff_scores_are_checked_on_the_rows_kept(tmp_path):
    """With a feature type selected (the default 'gene'), the score check compared the
    kept rows with the file's rows by label: a valid file failed ("got '.'") and a bad
    score after the selection was read as none."""
    from genozarr.errors import MalformedFileError
    from genozarr.io.gff import read_gff

    path = tmp_path / "mixed.gff3"
    path.write_text("chr1\tsrc\tmRNA\t1\t100\t.\t+\t.\tID=m1\n"
                    "chr1\tsrc\tgene\t10\t100\t7\t+\t.\tID=g1\n"
                    "chr1\tsrc\tgene\t200\t300\t.\t-\t.\tID=g2\n")
    got = read_gff(str(path))
    assert got["name"].tolist() == ["g1", "g2"]
    np.testing.assert_array_equal(got["score"].to_numpy(), [7.0, np.nan])
    bad = tmp_path / "bad.gff3"
    bad.write_text("chr1\tsrc\tmRNA\t1\t100\t5\t+\t.\tID=m1\n"
                   "chr1\tsrc\tgene\t10\t100\tabc\t+\t.\tID=g1\n")
    with pytest.raises(MalformedFileError, match=r"bad\.gff3: line 2: score \(6th column\) "
                                                 r"must be a number or '\.', got 'abc'"):
        read_gff(str(bad))


def test_gff_zero_length_feature_and_empty_names(tmp_path):
    """A zero-length feature (GFF3: start = end + 1) is an empty region. An empty name
    value (GTF 'gene_name ""', which pyranges reads as the text 'NA'; a blank one, which
    it failed on; GFF3 'Name=') is no name: the next attribute names the row."""
    from genozarr.io.gff import read_gff

    gff = tmp_path / "z.gff3"
    gff.write_text("##gff-version 3\nchr1\tsrc\tgene\t21\t20\t.\t+\t.\tID=a;Name=\n")
    got = read_gff(str(gff))
    assert got[["start", "end", "name"]].values.tolist() == [[20, 20, "a"]]
    gtf = tmp_path / "n.gtf"
    gtf.write_text('chr1\tsrc\tgene\t1\t10\t.\t+\t.\tgene_id "g1"; gene_name "";\n'
                   'chr1\tsrc\tgene\t11\t20\t.\t+\t.\tgene_id "g2"; gene_name " ";\n'
                   'chr1\tsrc\tgene\t21\t30\t.\t+\t.\tgene_id "g3"; gene_name "NA";\n')
    assert read_gff(str(gtf))["name"].tolist() == ["g1", "g2", "NA"]

@pytest.mark.parametrize("kind", ["gtf", "gff3"])
def test_bgzip_gff_files_are_read_as_gff(tmp_path, kind):
    """A bgzipped GFF/GTF named '.gtf.bgz' / '.gff3.bgz' (as '.vcf.bgz') was read as a BED
    file: 'start must be a non-negative integer, got 's''."""
    import pysam

    attrs = 'gene_id "a";' if kind == "gtf" else "ID=a"
    src = tmp_path / f"a.{kind}"
    src.write_text(f"chr1\ts\tgene\t10\t20\t.\t-\t.\t{attrs}\n")
    pysam.tabix_compress(str(src), f"{src}.bgz", force=True)
    got = load_regions(f"{src}.bgz")
    assert got[["chrom", "start", "end", "name", "strand"]].values.tolist() == [
        ["chr1", 9, 20, "a", "-"]]


def test_tiling_all_regions_at_once_matches_a_loop_per_region():
    """Windows of many regions are tiled with numpy at once (a Python loop per region took
    3.5 s for 1,000,000 regions): the same windows as a plain loop, region by region,
    with and without the last, shorter window of zero padding."""
    from genozarr.regions import _tile

    def loop(start, end, binsize, step, zero_padding):
        out, s = [], start
        while s + binsize <= end:
            out.append((s, s + binsize))
            s += step
        if zero_padding and s < end and (not out or out[-1][1] < end):
            out.append((s, end))
        return out

    rng = np.random.default_rng(8)
    for _ in range(500):
        n = int(rng.integers(0, 12))
        starts = rng.integers(0, 1000, n)
        ends = starts + rng.integers(0, 600, n)
        binsize, step = int(rng.integers(1, 250)), int(rng.integers(1, 300))
        zero_padding = bool(rng.integers(0, 2))
        want = [loop(int(s), int(e), binsize, step, zero_padding) for s, e in zip(starts, ends)]
        got_starts, got_ends, counts = _tile(starts, ends, binsize, step, zero_padding)
        assert counts.tolist() == [len(w) for w in want]
        assert list(zip(got_starts.tolist(), got_ends.tolist())) == [x for w in want for x in w]


def _python_bed(text):
    """(data line numbers, skipped line indices, most fields, rows) of BED text, by plain
    Python: lines split as Python's reader splits them, blank and header lines skipped."""
    data, skipped, fields, rows = [], [], 0, []
    for i, line in enumerate(text.splitlines(keepends=True)):
        if not line.strip() or line.startswith("#") \
                or re.match(r"(track|browser)(\s|$)", line):  # (not a chromosome 'trackA')
            skipped.append(i)
            continue
        data.append(i + 1)
        parts = line.rstrip("\r\n").split("\t")
        fields = max(fields, len(parts))
        rows.append(parts)
    return data, skipped, fields, rows


@pytest.mark.parametrize("seed", range(12))
def test_bed_scan_and_parse_match_a_python_reading(tmp_path, seed):
    """read_bed scans line ends and tabs with numpy and parses coordinates as integers in
    pandas' reader: on random BED text (headers, blank and whitespace-only lines, CRLF, a
    byte-order mark, non-ASCII names, chromosomes named trackA or browser_1, which were
    skipped as headers, ragged columns, gzip, several scan blocks) the
    lines, fields and values equal a plain Python reading of the text; coordinates that
    are not plain integers (5.0, +7, 1e2) read as before. Bare CR line ends with blank
    lines between them (``\\r\\r``): pandas' reader counts no line there, so the skipped
    lines' indices must be taken against text with ``\\n`` line ends."""
    import gzip

    from genozarr.io import bed

    rng = np.random.default_rng(seed)
    out = []
    for i in range(int(rng.integers(1, 400))):
        kind = rng.integers(0, 14)
        if kind == 0:
            out.append(str(rng.choice(["# comment", "track name=x", "browser position",
                                       "", "   ", "\t", "\u00a0", "\u3000"])))
            continue
        start = int(rng.integers(0, 10**6))
        cols = [str(rng.choice(["chr1", "chr2", "tig\u00e9", "2", "trackA", "browser_1"])),
                str(start),
                str(start + int(rng.integers(0, 500)))]
        if seed % 3 == 1 and kind == 1:  # coordinates pandas' integer parser refuses
            cols[1] = str(rng.choice([f"{start}.0", f"+{start}", f"{start / 100:g}e2"]))
        more = int(rng.integers(0, 4))
        cols += [f"n{i}", f"{rng.random():.3f}", str(rng.choice(["+", "-", "."]))][:more]
        out.append("\t".join(cols))
    end = {2: "\r\n", 3: "\r"}.get(seed % 4, "\n")  # "\r": old Mac line ends
    text = ("\ufeff" if seed % 5 == 3 else "") + end.join(out) + ("" if seed % 2 else end)
    path = tmp_path / ("r.bed.gz" if seed % 3 == 0 else "r.bed")
    raw = text.encode("utf-8")
    path.write_bytes(gzip.compress(raw) if seed % 3 == 0 else raw)
    data, skipped, fields, rows = _python_bed(text.removeprefix("\ufeff"))
    old_block = bed._SCAN_BYTES
    try:
        bed._SCAN_BYTES = int(rng.integers(16, 4096))  # lines across block ends
        assert bed._data_lines(str(path))[:3] == (data, skipped, fields)
        if not rows:
            return
        got = bed.read_bed(str(path))
    finally:
        bed._SCAN_BYTES = old_block
    assert got["chrom"].tolist() == [r[0] for r in rows]
    assert got["start"].tolist() == [int(float(r[1])) for r in rows]
    assert got["end"].tolist() == [int(r[2]) for r in rows]
    assert got["name"].tolist() == [r[3] if len(r) > 3 and r[3] else "." for r in rows]
    want = [float(r[4]) if len(r) > 4 and r[4] else np.nan for r in rows]
    np.testing.assert_array_equal(got["score"].to_numpy(), np.array(want))
    assert got["strand"].tolist() == [r[5] if len(r) > 5 and r[5] else "." for r in rows]


def test_bed_with_bare_carriage_returns_reads_its_lines(tmp_path):
    """A BED file with old Mac line ends (a bare CR) is split there, as Python's reader
    splits it."""
    from genozarr.io.bed import read_bed

    path = tmp_path / "mac.bed"
    path.write_bytes(b"track x\rchr1\t5\t9\rchr2\t1\t3\r")
    got = read_bed(str(path))
    assert got[["chrom", "start", "end"]].values.tolist() == [["chr1", 5, 9], ["chr2", 1, 3]]


def test_a_flank_reaching_past_the_largest_position_is_refused_when_tiling():
    """A window whose flank ran past 2**32 - 1 was built, and indexing it then failed
    (its Region refuses such coordinates); the tiling refuses it, naming the window. A
    flank that stays within the limit still indexes."""
    last = 2**32 - 1
    roi = pd.DataFrame({"chrom": ["chrA"], "start": [last - 100], "end": [last]})
    with pytest.raises(RegionError, match=rf"the window chrA:{last - 10}-{last} with its "
                                          rf"flank of 20 ends at {last + 20}, past"):
        GenomicIndexer.create_from_file(roi, binsize=10, stepsize=10, flank=20)
    gi = GenomicIndexer.create_from_file(roi.assign(end=last - 20), binsize=10, stepsize=10,
                                         flank=20)
    assert gi[len(gi) - 1].end == last and gi[0].start == last - 120


def test_indexer_items_of_a_0d_array_a_bool_and_a_negative_seed():
    """gi[np.array(1)] built an indexer of 0-d columns (len failed); gi[True] one of 2-D
    columns; random_state=-1 gave numpy's raw error (an audit). A 0-d integer array is an
    integer, a bool is refused, and so is a negative seed, by name."""
    gi = GenomicIndexer(["chr1"] * 3, [0, 10, 20], [10, 20, 30], ["+"] * 3, 10, 10)
    assert gi[np.array(1)] == gi[1] == Region("chr1", 10, 20, "+")
    for flag in (True, False, np.bool_(True)):
        with pytest.raises(IndexError, match="a window index must be an integer"):
            gi[flag]
    assert gi[np.array([True, False, True])].tostr() == ["chr1:0-10", "chr1:20-30"]
    with pytest.raises(ArgumentError, match=r"random_state must be a non-negative int or a "
                                            r"numpy random generator, got -1"):
        GenomicIndexer.create_from_file(["chr1:0-30"], binsize=10, stepsize=10,
                                        random_state=-1)


def test_create_from_region_tiles_one_region_as_janggu():
    """Janggu's GenomicIndexer.create_from_region was missing (AttributeError on ported
    code, an audit); it tiles one region as create_from_file does."""
    gi = GenomicIndexer.create_from_region("chr1", 0, 250, "+", 100, 100)
    assert gi.tostr() == ["chr1:0-100", "chr1:100-200", "chr1:200-250"]  # Janggu 0.10.2's
    minus = GenomicIndexer.create_from_region("chr2", 10, 60, "-", 20, 10, flank=5,
                                              zero_padding=False)
    assert minus.starts.tolist() == [10, 20, 30, 40] and minus.ends.tolist() == [30, 40, 50, 60]
    first = minus[0]  # (with its flank)
    assert (first.chrom, first.start, first.end, first.strand) == ("chr2", 5, 35, "-")
    assert (minus.binsize, minus.stepsize, minus.flank) == (20, 10, 5)


def test_indexer_strands_are_read_as_the_regions_readers_read_them():
    """GenomicIndexer kept strands as given: -1, b'-', '*' and None were served as '+'
    (an audit); they are read as load_regions reads them, and others are refused."""
    from genozarr import Cover

    pred = np.arange(4.0, dtype="float32").reshape(1, 4, 1)
    for strand, want in (("-", "-"), (-1, "-"), (b"-", "-"), (1, "+"), ("*", "."),
                         (None, "."), (0, ".")):
        gi = GenomicIndexer(["chr1"], [0], [4], [strand], 4, 4)
        assert gi.strand.tolist() == [want]
        cover = Cover.create_from_array("p", pred, gi)
        flipped = [3.0, 2.0, 1.0, 0.0] if want == "-" else [0.0, 1.0, 2.0, 3.0]
        assert np.asarray(cover["chr1", 0, 4])[0, :, 0, 0].tolist() == flipped
    with pytest.raises(ArgumentError, match=r"window 1 has strand 'x'"):
        GenomicIndexer(["chr1"] * 2, [0, 4], [4, 8], ["+", "x"], 4, 4)
    for strands in ([1, -1, None], [1.0, -1.0, None], np.array([1.0, -1.0, np.nan]),
                    pd.array([1, -1, None], dtype="Int64")):  # (a review: '1.0' refused)
        gi = GenomicIndexer(["chr1"] * 3, [0, 4, 8], [4, 8, 12], strands, 4, 4)
        assert gi.strand.tolist() == ["+", "-", "."]


def test_regions_given_as_bytes_columns_or_an_iterator_and_missing_chromosomes(tmp_path):
    """A bytes path was iterated byte by byte, a dict of columns read as region strings;
    create_from_bed(store_whole_genome=True) read an iterator of regions twice (empty
    the second time); a missing chromosome became one named 'None' or 'nan' and a start
    of True one of 1 (an audit)."""
    from genozarr import Cover

    bed = tmp_path / "r.bed"
    bed.write_text("chr1\t0\t100\t.\t0\t-\n")
    want = load_regions(str(bed))[["chrom", "start", "end", "strand"]]
    for roi in (str(bed).encode(), {"chrom": ["chr1"], "start": [0], "end": [100],
                                    "strand": ["-"]}):
        got = load_regions(roi)[["chrom", "start", "end", "strand"]]
        pd.testing.assert_frame_equal(got.reset_index(drop=True), want.reset_index(drop=True))
    peaks = tmp_path / "p.bed"
    peaks.write_text("chr1\t10\t20\n")
    kw = {"binsize": 100, "store_whole_genome": True}
    listed = Cover.create_from_bed("c", str(peaks), roi=[Region("chr1", 0, 100, "+")], **kw)
    once = Cover.create_from_bed("c", str(peaks), roi=iter([Region("chr1", 0, 100, "+")]),
                                 **kw)
    np.testing.assert_array_equal(once[:], listed[:])
    assert listed[:].sum() == 10
    for chrom in (None, np.nan):
        with pytest.raises(RegionError, match="region 0 has no chromosome"):
            load_regions(pd.DataFrame({"chrom": [chrom, "chr1"], "start": [0, 0],
                                       "end": [100, 100]}))
    with pytest.raises(RegionError, match="region 1: start must be an integer, got True"):
        load_regions(pd.DataFrame({"chrom": ["chr1", "chr1"], "start": [0, True],
                                   "end": [100, 100]}))


def test_to_dataframe_with_flank_widens_both_ends():
    """``to_dataframe(flank=True)`` widens each window's start and end by the flank, as
    indexing the windows does (no clipping is documented, so a flank before a chromosome
    start stays negative); no test checked the end (a mutation audit)."""
    gi = GenomicIndexer.create_from_file(frame(("chr1", 0, 250, "+"), ("chr2", 100, 300, "-")),
                                         binsize=100, stepsize=100, flank=10)
    df = gi.to_dataframe(flank=True)
    assert list(zip(df["start"], df["end"])) == [(r.start, r.end) for r in gi]
    assert list(zip(df["start"], df["end"])) == \
        [(-10, 110), (90, 210), (190, 260), (90, 210), (190, 310)]
    assert list(df["chrom"]) == ["chr1"] * 3 + ["chr2"] * 2
    plain = gi.to_dataframe()
    assert list(zip(plain["start"], plain["end"])) == \
        [(0, 100), (100, 200), (200, 250), (100, 200), (200, 300)]
