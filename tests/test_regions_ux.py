"""Regions as users have them: peaks centred and resized (summit / midpoint), region names
into stores and xarray, GTF/GFF without ``feature=``, chromosome-map messages, and 2bit
genomes read like FASTA. Values are checked against pyBigWig, pysam and hand-worked cases.
"""

from __future__ import annotations

import logging
import re
import struct

import numpy as np
import pandas as pd
import pyBigWig
import pysam
import pytest

import genozarr
from genozarr import Bioseq, Cover
from genozarr.errors import (
    ArgumentError,
    ChromosomeNamingError,
    ChromosomeNotFoundError,
    InputFileError,
    MalformedFileError,
    RegionError,
)
from genozarr.genome import MissingChromosomeWarning, chrom_mapping, chrom_sizes
from genozarr.regions import GenomicIndexer, Resize, load_regions, resize_regions
from genozarr.testing.oracles import bigwig_values

SIZES = {"chr1": 6000, "chr2": 3000}


# ---------------------------------------------------------------------------- helpers
def write_bigwig(path, seed=0):
    """Per-base values ``rng.random`` on every chromosome of :data:`SIZES`."""
    rng = np.random.default_rng(seed)
    bw = pyBigWig.open(str(path), "w")
    bw.addHeader(list(SIZES.items()))
    for chrom, length in SIZES.items():
        bw.addEntries(chrom, 0, values=rng.random(length).round(3).tolist(), span=1, step=1)
    bw.close()
    return str(path)


NARROWPEAK = [
    # chrom, start, end, name, summit offset (column 10)
    ("chr1", 1000, 1400, "peak1", 120),   # summit at 1120
    ("chr1", 100, 300, "peak2", 50),      # summit at 150: pushed before 0 for width 500
    ("chr1", 3000, 3601, "peak3", -1),    # no summit: midpoint (3000 + 3601) // 2 = 3300
    ("chr2", 2000, 2200, "peak7", 199),   # summit at 2199, the last base
    ("chr2", 500, 900, "peak8", 0),       # summit at the start
]


def write_narrowpeak(path, rows=NARROWPEAK, gz=False):
    lines = ["track name=peaks\n"]
    for chrom, start, end, name, summit in rows:
        lines.append(f"{chrom}\t{start}\t{end}\t{name}\t100\t.\t5.0\t-1\t-1\t{summit}\n")
    if gz:
        import gzip

        with gzip.open(path, "wt") as fh:
            fh.writelines(lines)
    else:
        with open(path, "w") as fh:
            fh.writelines(lines)
    return str(path)


def write_2bit(path, records, endian="<"):
    """A UCSC 2bit file (version 0, little endian or ``endian``), written by hand from the
    format spec:
    header (magic, version, count, reserved), index (name size, name, offset), then per
    sequence: dnaSize, N blocks, mask blocks, reserved, 4 bases per byte (T=0 C=1 A=2 G=3,
    first base in the high bits). Runs of N make N blocks, lower-case runs mask blocks."""
    code = {"T": 0, "C": 1, "A": 2, "G": 3}
    bodies = []
    for _, seq in records:
        nblocks = [(m.start(), m.end() - m.start()) for m in re.finditer(r"[Nn]+", seq)]
        mblocks = [(m.start(), m.end() - m.start()) for m in re.finditer(r"[a-z]+", seq)]
        upper = seq.upper()
        packed = bytearray()
        for i in range(0, len(upper), 4):
            byte = 0
            for j in range(4):
                byte <<= 2
                if i + j < len(upper):
                    byte |= code.get(upper[i + j], 0)
            packed.append(byte)
        body = struct.pack(endian + "II", len(seq), len(nblocks))
        body += b"".join(struct.pack(endian + "I", s) for s, _ in nblocks)
        body += b"".join(struct.pack(endian + "I", n) for _, n in nblocks)
        body += struct.pack(endian + "I", len(mblocks))
        body += b"".join(struct.pack(endian + "I", s) for s, _ in mblocks)
        body += b"".join(struct.pack(endian + "I", n) for _, n in mblocks)
        bodies.append(body + struct.pack(endian + "I", 0) + bytes(packed))
    out = struct.pack(endian + "IIII", 0x1A412743, 0, len(records), 0)
    offset = 16 + sum(1 + len(name.encode()) + 4 for name, _ in records)
    for (name, _), body in zip(records, bodies):
        out += struct.pack("<B", len(name.encode())) + name.encode() \
            + struct.pack(endian + "I", offset)
        offset += len(body)
    with open(path, "wb") as fh:
        fh.write(out + b"".join(bodies))
    return str(path)


def random_genome(seed=3):
    """Sequences with soft-masked runs, N blocks at the ends and inside, in an order that
    is not sorted (file order must be kept)."""
    rng = np.random.default_rng(seed)
    recs = []
    for name, length in (("chrB", 1237), ("chrA", 990), ("chrM", 17)):
        seq = np.array(list("ACGT"))[rng.integers(0, 4, length)]
        for _ in range(5):  # soft-masked runs
            s, n = int(rng.integers(0, length - 5)), int(rng.integers(1, 30))
            seq[s:s + n] = np.char.lower(seq[s:s + n])
        seq[:7] = "N"
        if length > 433:
            seq[400:433] = "N"
        seq[-3:] = "n"  # a soft-masked N block
        recs.append((name, "".join(seq.tolist())))
    return recs


def write_fasta(path, records, width=60):
    with open(path, "w") as fh:
        for name, seq in records:
            fh.write(f">{name}\n")
            fh.writelines(seq[i:i + width] + "\n" for i in range(0, len(seq), width))
    pysam.faidx(str(path))
    return str(path)


# ---------------------------------------------------------------------------- resizing
def test_midpoint_hand_worked():
    peaks = pd.DataFrame({"chrom": ["c", "c", "c"], "start": [100, 100, 10],
                          "end": [301, 300, 20], "name": ["a", "b", "c"],
                          "strand": ["+", "-", "."]})
    got = resize_regions(peaks, 100)
    # (100 + 301) // 2 = 200 -> [150, 250); (100 + 300) // 2 = 200; (10 + 20) // 2 = 15
    # -> [-35, 65), shifted to [0, 100)
    assert got[["start", "end"]].values.tolist() == [[150, 250], [150, 250], [0, 100]]
    assert got["name"].tolist() == ["a", "b", "c"] and got["strand"].tolist() == ["+", "-", "."]
    # odd width: [c - width // 2, c - width // 2 + width) = [198, 203) around 200
    assert resize_regions(peaks.iloc[:1], 5)[["start", "end"]].values.tolist() == [[198, 203]]
    assert resize_regions(peaks.iloc[:1], 1)[["start", "end"]].values.tolist() == [[200, 201]]


@pytest.mark.parametrize("gz", [False, True])
def test_summit_from_narrowpeak_column_10(tmp_path, gz):
    path = write_narrowpeak(tmp_path / ("p.narrowPeak" + (".gz" if gz else "")), gz=gz)
    got = resize_regions(path, 500, centre="summit")
    expected = []
    for _, start, end, _, summit in NARROWPEAK:
        c = start + summit if summit >= 0 else (start + end) // 2
        s = max(c - 250, 0)  # shifted, not clipped, at the chromosome start
        expected.append([s, s + 500])
    assert got[["start", "end"]].values.tolist() == expected
    assert expected[:3] == [[870, 1370], [0, 500], [3050, 3550]]  # hand-worked
    assert got["name"].tolist() == [r[3] for r in NARROWPEAK]
    assert (got["end"] - got["start"] == 500).all()
    # midpoint ignores column 10
    mid = resize_regions(path, 500, centre="midpoint")
    assert mid["start"].tolist() == [max((s + e) // 2 - 250, 0) for _, s, e, _, _ in NARROWPEAK]


def test_summit_from_dataframe_column_and_missing_summits(tmp_path, caplog):
    df = pd.DataFrame({"chrom": ["chr1", "chr1"], "start": [1000, 2000], "end": [1100, 2100],
                       "summit": [10, np.nan]})
    got = resize_regions(df, 20, centre="summit")
    assert got[["start", "end"]].values.tolist() == [[1000, 1020], [2040, 2060]]
    # a BED6 file has no column 10: every region on its midpoint, and the log says so
    bed = tmp_path / "six.bed"
    bed.write_text("chr1\t1000\t1100\tx\t0\t+\n")
    with caplog.at_level(logging.INFO, logger="genozarr.regions"):
        got = resize_regions(str(bed), 20, centre="summit")
    assert got[["start", "end"]].values.tolist() == [[1040, 1060]]
    assert any("1 of 1 regions have no summit" in r.getMessage() and
               r.levelno == logging.WARNING for r in caplog.records)


def test_bad_summits_and_arguments(tmp_path):
    bad = write_narrowpeak(tmp_path / "bad.narrowPeak", [("chr1", 100, 200, "p", 100)])
    with pytest.raises(RegionError, match=r"chr1:100-200.*summit offset 100"):
        resize_regions(bad, 50, centre="summit")
    text = tmp_path / "text.narrowPeak"
    text.write_text("chr1\t100\t200\tp\t0\t.\t1\t1\t1\tabc\n")
    with pytest.raises(MalformedFileError, match=r"line 1.*column 10"):
        resize_regions(str(text), 50, centre="summit")
    df = pd.DataFrame({"chrom": ["c"], "start": [0], "end": [10]})
    with pytest.raises(ArgumentError, match="centre"):
        resize_regions(df, 10, centre="center")
    with pytest.raises(ArgumentError, match="width"):
        resize_regions(df, 0)
    with pytest.raises(ArgumentError, match="needs a width"):
        load_regions(df, centre="summit")
    with pytest.raises(ArgumentError, match="already has a width"):
        load_regions(Resize(df, 4), width=4)
    with pytest.raises(ArgumentError, match="centre"):
        Resize(df, 4, "top")


def test_shift_at_chromosome_end_with_genomesize():
    df = pd.DataFrame({"chrom": ["chr2", "chr2", "chrX"], "start": [2950, 10, 5],
                       "end": [2990, 30, 15]})
    got = resize_regions(df, 100, genomesize=SIZES)
    # 2970 - 50 = 2920 -> [2920, 3020) runs past 3000: shifted back to [2900, 3000);
    # [-30, 70) shifted to [0, 100); chrX is not in the sizes: left as it is
    assert got[["start", "end"]].values.tolist() == [[2900, 3000], [0, 100], [0, 100]]
    tiny = resize_regions(df.iloc[:1], 5000, genomesize={"chr2": 3000})
    assert tiny[["start", "end"]].values.tolist() == [[0, 5000]]  # wider than the chromosome
    # without sizes the region keeps its centre past the end (read as padding)
    assert resize_regions(df.iloc[:1], 100)[["start", "end"]].values.tolist() == [[2920, 3020]]


def test_load_regions_indexer_and_resize_object_agree(tmp_path):
    path = write_narrowpeak(tmp_path / "p.narrowPeak")
    ref = resize_regions(path, 300, centre="summit")
    cols = ["chrom", "start", "end", "name", "strand"]
    for got in (load_regions(path, centre="summit", width=300),
                load_regions(Resize(path, 300, centre="summit")),
                Resize(path, 300, "summit").load()):
        pd.testing.assert_frame_equal(got[cols], ref[cols])
    gi = GenomicIndexer.create_from_file(path, binsize=300, stepsize=300, centre="summit",
                                         width=300)
    assert list(zip(gi.chrs, gi.starts, gi.ends)) == \
        list(zip(ref["chrom"], ref["start"], ref["end"]))
    assert gi.names.tolist() == ref["name"].tolist()
    gi = GenomicIndexer.create_from_file(Resize(path, 300), binsize=300, stepsize=300)
    assert gi.starts.tolist() == resize_regions(path, 300)["start"].tolist()
    # width alone centres on the midpoint
    assert load_regions(path, width=300)["start"].tolist() == gi.starts.tolist()


@pytest.mark.parametrize("how", ["function", "object"])
def test_cover_over_resized_peaks_matches_pybigwig(tmp_path, how):
    bw = write_bigwig(tmp_path / "s.bw")
    peaks = write_narrowpeak(tmp_path / "p.narrowPeak")
    roi = resize_regions(peaks, 500, centre="summit") if how == "function" \
        else Resize(peaks, 500, centre="summit")
    cover = Cover.create_from_bigwig("c", bw, roi=roi, binsize=500)
    assert cover.shape == (len(NARROWPEAK), 500, 1, 1)
    assert cover.gindexer.names.tolist() == [r[3] for r in NARROWPEAK]
    for i, (chrom, start, end, _, summit) in enumerate(NARROWPEAK):
        c = start + summit if summit >= 0 else (start + end) // 2
        s = max(c - 250, 0)
        np.testing.assert_allclose(cover[i][0, :, 0, 0], bigwig_values(bw, chrom, s, s + 500),
                                   rtol=1e-6)


# ---------------------------------------------------------------------------- names
def test_indexer_names_single_and_tiled_windows(tmp_path):
    bed = tmp_path / "r.bed"
    bed.write_text("chr1\t0\t100\tone\t0\t+\n"
                   "chr1\t200\t450\tgeneA\t0\t-\n"
                   "chr2\t0\t200\t.\t0\t+\n")
    gi = GenomicIndexer.create_from_file(str(bed), binsize=100, stepsize=100)
    # one window keeps its region's name; a tiled region names its windows name/0, ...;
    # an unnamed region stays '.'
    assert gi.names.tolist() == ["one", "geneA/0", "geneA/1", "geneA/2", ".", "."]
    assert gi[1:3].names.tolist() == ["geneA/0", "geneA/1"]
    perm = GenomicIndexer.create_from_file(str(bed), binsize=100, stepsize=100, random_state=4)
    by_window = dict(zip(zip(gi.chrs, gi.starts), gi.names))
    assert [by_window[k] for k in zip(perm.chrs, perm.starts)] == perm.names.tolist()
    out = tmp_path / "out.bed"
    gi.export_to_bed(out)
    assert pd.read_csv(out, sep="\t", header=None)[3].tolist() == gi.names.tolist()
    # one window per region, summarised by one value (collapse): names as given
    one = GenomicIndexer.create_from_file(str(bed), binsize=None, stepsize=None, collapse=True)
    assert one.names.tolist() == ["one", "geneA", "."]
    # no names at all: None
    plain = pd.DataFrame({"chrom": ["c"], "start": [0], "end": [10]})
    assert GenomicIndexer.create_from_file(plain, 5, 5).names is None
    with pytest.raises(ArgumentError, match="names has 1 entries for 2 windows"):
        GenomicIndexer(["c", "c"], [0, 5], [5, 10], ["."] * 2, 5, 5, names=["x"])


def test_region_name_coordinate_and_xarray_selection(tmp_path):
    bw = write_bigwig(tmp_path / "s.bw")
    peaks = write_narrowpeak(tmp_path / "p.narrowPeak")
    store = tmp_path / "named.zarr"
    cover = Cover.create_from_bigwig("c", bw, roi=Resize(peaks, 500, "summit"), binsize=500,
                                     resolution=10, storage="zarr", store=store)
    ds = genozarr.open_store(store)
    assert ds["region_name"].dims == ("region",)
    assert ds["region_name"].values.tolist() == [r[3] for r in NARROWPEAK]
    # selection by name (xarray 2026.9): an index on the coordinate, then .sel
    one = ds.set_xindex("region_name").sel(region_name="peak7")
    assert int(one["region_start"]) == 2199 - 250
    truth = bigwig_values(bw, "chr2", 1949, 2449).reshape(50, 10).mean(axis=1)
    np.testing.assert_allclose(one["data"].values[:, 0, 0], truth, rtol=1e-5)
    # ... or a mask with drop=True, no index needed
    masked = ds.where(ds.region_name == "peak7", drop=True)
    assert masked.sizes["region"] == 1
    np.testing.assert_allclose(masked["data"].values[0, :, 0, 0], truth, rtol=1e-5)
    np.testing.assert_allclose(cover[3][0, :, 0, 0], truth, rtol=1e-5)
    several = ds.set_xindex("region_name").sel(region_name=["peak1", "peak8"])
    assert several["region_start"].values.tolist() == [870, 250]


def test_stores_without_names_still_open(tmp_path):
    from genozarr.store.handle import load_store
    from genozarr.store.layout import REGION_COORDS, StoreMeta, plan_layout

    bw = write_bigwig(tmp_path / "s.bw")
    roi = pd.DataFrame({"chrom": ["chr1", "chr2"], "start": [0, 100], "end": [200, 300]})
    store = tmp_path / "plain.zarr"
    cover = Cover.create_from_bigwig("c", bw, roi=roi, binsize=200, storage="zarr", store=store)
    assert cover.gindexer.names is None
    ds = genozarr.open_store(store)
    assert "region_name" not in ds.coords
    assert set(REGION_COORDS) <= set(ds.coords)
    assert len(load_store(str(store)).region_table["chrom"]) == 2
    again = genozarr.open_dataset(store)
    np.testing.assert_array_equal(again[:], cover[:])
    # plan_layout: the coordinate and the data array's coordinates attribute follow the table
    meta = StoreMeta(name="m", kind="coverage", layout="partial", resolution=1, binsize=2,
                     stepsize=2, flank=0, dtype="float32", conditions=["a"], strands=["."],
                     chroms={"c": 10}, sources=[])
    table = {"chrom": np.array(["c", "c"], dtype=object), "start": np.array([0, 2]),
             "end": np.array([2, 4]), "strand": np.array([".", "."], dtype=object)}
    specs, coords = plan_layout(meta, n_regions=2, region_table=table)
    assert "region_name" not in coords and "region_name" not in specs["data"].coordinates
    specs, coords = plan_layout(meta, n_regions=2,
                                region_table=dict(table, name=np.array(["x", "y"])))
    assert coords["region_name"][1].tolist() == ["x", "y"]
    assert specs["data"].coordinates.split() == list(REGION_COORDS) + ["region_name"]


def test_create_from_array_keeps_names(tmp_path):
    roi = pd.DataFrame({"chrom": ["chr1"] * 2, "start": [0, 400], "end": [200, 600],
                        "name": ["enhA", "enhB"], "strand": ["+", "-"]})
    gi = GenomicIndexer.create_from_file(roi, binsize=200, stepsize=200)
    pred = np.arange(8, dtype="float32").reshape(2, 4, 1)
    Cover.create_from_array("pred", pred, gi, conditions=["score"], resolution=50,
                            storage="zarr", store=tmp_path / "pred.zarr")
    ds = genozarr.open_store(tmp_path / "pred.zarr")
    assert ds["region_name"].values.tolist() == ["enhA", "enhB"]
    sel = ds.set_xindex("region_name").sel(region_name="enhA")
    np.testing.assert_array_equal(sel["data"].values[:, 0, 0], [0, 1, 2, 3])


# ---------------------------------------------------------------------------- GTF / GFF
GTF = ('chr1\tsim\tgene\t101\t500\t.\t+\t.\tgene_id "g1"; gene_name "G1";\n'
       'chr1\tsim\ttranscript\t101\t500\t.\t+\t.\tgene_id "g1"; transcript_id "t1";\n'
       'chr1\tsim\texon\t101\t200\t.\t+\t.\tgene_id "g1"; transcript_id "t1";\n'
       'chr1\tsim\texon\t301\t500\t.\t+\t.\tgene_id "g1"; transcript_id "t1";\n'
       'chr2\tsim\tgene\t11\t60\t.\t-\t.\tgene_id "g2"; gene_name "G2";\n')


def test_gtf_without_feature_reads_genes_and_says_so_once(tmp_path, caplog):
    gtf = tmp_path / "a.gtf"
    gtf.write_text(GTF)
    with caplog.at_level(logging.INFO, logger="genozarr.io.gff"):
        genes = load_regions(str(gtf))
        again = load_regions(str(gtf))
    told = [r.getMessage() for r in caplog.records if "no feature type given" in r.getMessage()]
    assert len(told) == 1 and "2 'gene' lines of 5" in told[0] and "feature='*'" in told[0]
    # 1-based closed GTF -> 0-based half-open
    assert genes[["chrom", "start", "end", "name", "strand"]].values.tolist() == \
        [["chr1", 100, 500, "G1", "+"], ["chr2", 10, 60, "G2", "-"]]
    pd.testing.assert_frame_equal(genes, again)
    exons = load_regions(str(gtf), feature="exon")
    assert exons[["start", "end"]].values.tolist() == [[100, 200], [300, 500]]
    assert len(load_regions(str(gtf), feature="*")) == 5
    gi = GenomicIndexer.create_from_file(str(gtf), binsize=None, stepsize=None, collapse=True)
    assert gi.names.tolist() == ["G1", "G2"]


def test_gff_without_gene_lines_says_what_to_pass(tmp_path):
    gff = tmp_path / "b.gff3"
    gff.write_text("##gff-version 3\n"
                   "chr1\tsim\tmRNA\t101\t500\t.\t+\t.\tID=m1\n"
                   "chr1\tsim\tCDS\t151\t300\t.\t+\t0\tID=c1;Parent=m1\n")
    with pytest.raises(MalformedFileError, match=r"no 'gene' lines.*\['mRNA', 'CDS'\].*"
                       r"feature='mRNA'.*feature='\*'"):
        load_regions(str(gff))
    cds = load_regions(str(gff), feature="CDS")
    assert cds[["start", "end", "name"]].values.tolist() == [[150, 300, "c1"]]
    with pytest.raises(MalformedFileError, match=r"no rows with feature type 'exon'.*mRNA"):
        load_regions(str(gff), feature="exon")


# ---------------------------------------------------------------------------- chrom_map
def test_chrom_map_errors_name_the_mapped_names(tmp_path):
    # a wrong dict: chr1 mapped to '1', the file has 'chr1' (was "'chr1' vs 'chr1'")
    with pytest.raises(ChromosomeNamingError) as info:
        chrom_mapping(["chr1", "chr2"], ["chr1", "chr2"], "x.bw", {"chr1": "1"})
    msg = str(info.value)
    assert "'chr1' -> '1', but the file has 'chr1'" in msg
    assert "['chr1', 'chr2']" in msg and "'chr1' vs 'chr1'" not in msg
    # a mapped name the file lacks altogether
    with pytest.raises(ChromosomeNotFoundError,
                       match=r"\['chr1' \(chrom_map: 'chrI'\)\] not found.*\['chrA'\]"):
        chrom_mapping(["chr1"], ["chrA"], "x.bw", {"chr1": "chrI"})
    # the unmapped message is unchanged
    with pytest.raises(ChromosomeNamingError, match=r"'chr1' vs '1'.*chrom_map='auto'"):
        chrom_mapping(["chr1"], ["1"], "x.bw")
    # through a dataset: an absent mapped chromosome reads as zeros, the warning names both
    bw = write_bigwig(tmp_path / "s.bw")
    roi = pd.DataFrame({"chrom": ["chr1"], "start": [0], "end": [100]})
    with pytest.warns(MissingChromosomeWarning, match=r"lacks 'chr1' \(mapped to 'chrI'\)"):
        cov = Cover.create_from_bigwig("c", bw, roi=roi, binsize=100,
                                       chrom_map={"chr1": "chrI"})
    assert not cov[0].any()
    with pytest.raises(ChromosomeNamingError, match=r"'chr1' -> '1', but the file has 'chr1'"):
        Cover.create_from_bigwig("c", bw, roi=roi, binsize=100, chrom_map={"chr1": "1"})


# ---------------------------------------------------------------------------- 2bit
@pytest.fixture()
def genome(tmp_path):
    recs = random_genome()
    return {"records": recs, "fasta": write_fasta(tmp_path / "g.fa", recs),
            "twobit": write_2bit(tmp_path / "g.2bit", recs)}


def test_twobit_reads_like_the_fasta(genome, tmp_path):
    from genozarr.io.fasta import read_sequence
    from genozarr.io.twobit import is_twobit, read_twobit_sequence, twobit_chrom_sizes

    fa, tb = genome["fasta"], genome["twobit"]
    assert twobit_chrom_sizes(tb) == chrom_sizes(tb) == chrom_sizes(fa) == \
        {"chrB": 1237, "chrA": 990, "chrM": 17}
    assert list(chrom_sizes(tb)) == ["chrB", "chrA", "chrM"]  # file order
    rng = np.random.default_rng(0)
    with pysam.FastaFile(fa) as ref:
        for name, seq in genome["records"]:
            length = len(seq)
            whole = read_twobit_sequence(tb, name, 0, length)
            assert whole == ref.fetch(name).upper().encode() == seq.upper().encode()
            for _ in range(40):
                s = int(rng.integers(-20, length + 5))
                e = s + int(rng.integers(0, 60))
                assert read_twobit_sequence(tb, name, s, e) == read_sequence(fa, name, s, e)
    # masked bases read upper case, N blocks as N (hand-worked); upper=False too (the
    # docstring said masked bases stay lower case: the file is read without its mask)
    assert genome["records"][0][1][:7] == "N" * 7
    masked = [(name, m.start(), m.end()) for name, seq in genome["records"]
              for m in re.finditer(r"[a-z]+", seq)]
    assert masked
    for name, s, e in masked:
        assert read_twobit_sequence(tb, name, s, e, upper=False) == \
            read_sequence(fa, name, s, e) == read_sequence(fa, name, s, e, upper=False).upper()
    assert read_twobit_sequence(tb, "chrB", 5, 9)[:2] == b"NN"
    assert read_twobit_sequence(tb, "chrM", 14, 17) == b"NNN"
    assert read_twobit_sequence(tb, "chrM", 3, 3) == b""  # py2bit reads end=0 as "all"
    # by magic number, without the suffix
    plain = tmp_path / "genome.bin"
    plain.write_bytes(open(tb, "rb").read())
    assert is_twobit(plain) and not is_twobit(fa)
    assert chrom_sizes(plain) == chrom_sizes(fa)
    with pytest.raises(ChromosomeNotFoundError, match="chrZ"):
        read_twobit_sequence(tb, "chrZ", 0, 1)
    broken = tmp_path / "broken.2bit"
    broken.write_bytes(b"not a 2bit file at all")
    with pytest.raises(InputFileError, match="broken.2bit"):
        chrom_sizes(broken)
    # a truncated file (the last record's bases cut off): py2bit read the missing bases as
    # T without an error ('NNNNNNNATTTTTTNNN' for chrM)
    cut = tmp_path / "cut.2bit"
    with open(tb, "rb") as fh:
        cut.write_bytes(fh.read()[:-3])
    with pytest.raises(InputFileError, match=r"cut\.2bit: the 2bit file is truncated: the "
                       r"bases of 'chrM' \(17\) end at byte \d+, past its end"):
        read_twobit_sequence(cut, "chrM", 0, 17)


@pytest.mark.parametrize("kind", ["fasta", "twobit"])
def test_long_sequence_reads_in_pieces_equal_one_read(genome, kind, monkeypatch):
    """FASTA and 2bit sources read a long interval in pieces into one array (and a
    whole-genome task joins several reads): with pieces of 7 bases and reads
    of 50, the codes equal the numpy encoding of the whole interval read at once, padding
    before and after the chromosome included; a window far past the end still names it."""
    from genozarr import ingest
    from genozarr._kernels import encode_sequence
    from genozarr.io.fasta import read_sequence
    from genozarr.io.twobit import read_twobit_sequence
    from genozarr.sources import FastaSource

    path = genome[kind]
    read = read_twobit_sequence if kind == "twobit" else read_sequence
    src = FastaSource(path)
    src.resolve_chroms(["chrB", "chrA", "chrM"])
    monkeypatch.setattr(FastaSource, "PIECE_BASES", 7)
    rng = np.random.default_rng(1)
    for name, seq in genome["records"]:
        for s, e in [(0, len(seq)), (-9, len(seq) + 12), (5, 6), (3, 3)] + [
                tuple(sorted(rng.integers(-20, len(seq) + 20, 2))) for _ in range(20)]:
            want = encode_sequence(read(path, name, int(s), int(e), upper=False))
            got = src.read_file(0, name, int(s), int(e))
            assert got.shape == (e - s, 1, 1)
            np.testing.assert_array_equal(got[:, 0, 0], want)
    with pytest.raises(RegionError, match=r"chrM:0-3000000 ends"):
        src.read_file(0, "chrM", 0, 3_000_000)
    monkeypatch.setattr(ingest, "_READ_BYTES", 50)  # a task of several reads
    # a read holds at most 50 bytes of per-base values: 50 one-byte codes (10 bins of 5),
    # against 6 bases of two float32 files
    assert (ingest._read_step(src, 1), ingest._read_step(src, 5)) == (50, 10)
    two_floats = type("S", (), {"files": ["a", "b"], "strands": ["."],
                                "channels_per_file": lambda self: 1})()
    assert ingest._read_step(two_floats, 1) == 6
    whole = Bioseq.create_from_refgenome(f"pieces{kind}", path, binsize=100,
                                         store_whole_genome=True)
    onehot = np.vstack([np.eye(4, dtype="float32"), np.zeros((1, 4), "float32")])
    for name, seq in genome["records"]:
        np.testing.assert_array_equal(whole.read_interval(name, 0, len(seq))[:, 0],
                                      onehot[encode_sequence(seq)])


def test_a_big_endian_twobit_is_refused_as_such(genome, tmp_path):
    """py2bit reads little-endian 2bit files only: a big-endian one (valid by the spec)
    was recognised, then refused as 'not a 2bit file'; now the message says what it is.
    The little-endian file of the same records reads."""
    from genozarr.errors import InputFileError

    big = write_2bit(tmp_path / "big.2bit", genome["records"], endian=">")
    with pytest.raises(InputFileError, match=r"big\.2bit is a big-endian 2bit file.*FASTA"):
        chrom_sizes(big)
    assert chrom_sizes(genome["twobit"]) == {"chrB": 1237, "chrA": 990, "chrM": 17}


def test_bioseq_from_twobit_equals_bioseq_from_fasta(genome):
    from genozarr.janggu import get_genome_size

    roi = pd.DataFrame({"chrom": ["chrB", "chrA", "chrB", "chrM"],
                        "start": [0, 380, 1200, 0], "end": [300, 480, 1237, 17],
                        "strand": ["+", "-", "+", "."]})
    kw = dict(roi=roi, binsize=50, stepsize=25, flank=5)
    a = Bioseq.create_from_refgenome("fa", genome["fasta"], **kw)
    b = Bioseq.create_from_refgenome("tb", genome["twobit"], **kw)
    assert a.shape == b.shape == (16, 60, 1, 4)
    np.testing.assert_array_equal(a[:], b[:])
    whole = Bioseq.create_from_refgenome("tbw", genome["twobit"], binsize=100,
                                         store_whole_genome=True)
    ref = Bioseq.create_from_refgenome("faw", genome["fasta"], binsize=100,
                                       store_whole_genome=True)
    np.testing.assert_array_equal(whole[:], ref[:])
    assert get_genome_size(genome["twobit"]) == get_genome_size(genome["fasta"])
    with pytest.raises(ArgumentError, match="DNA only"):
        Bioseq.create_from_refgenome("p", genome["twobit"], roi=roi, binsize=50,
                                     seqtype="protein")


def test_region_names_survive_reopening(tmp_path):
    """Names from the BED name column are stored, reopened with the dataset and kept by
    in-memory views and write_store."""
    import genozarr
    from genozarr import Cover
    from genozarr.resources import resource_path

    store = str(tmp_path / "named.zarr")
    cover = Cover.create_from_bigwig("bw", resource_path("sample_a.bw"),
                                     roi=resource_path("sample.bed"), binsize=1000,
                                     storage="zarr", store=store)
    assert cover.gindexer.names is not None and cover.gindexer.names[1] == "roi01"
    again = genozarr.open_dataset(store)
    np.testing.assert_array_equal(again.gindexer.names, cover.gindexer.names)
    mem = Cover.create_from_bigwig("bw", resource_path("sample_a.bw"),
                                   roi=resource_path("sample.bed"), binsize=1000)
    view = mem.to_xarray()
    assert view["region_name"].values[1] == "roi01"
    out = genozarr.write_store(view, tmp_path / "copy.zarr")
    np.testing.assert_array_equal(genozarr.open_dataset(out).gindexer.names,
                                  cover.gindexer.names)


def test_categorical_name_and_strand_columns_with_missing_values():
    """A DataFrame's categorical name or strand column with a missing value reads it as
    '.', as an object column does (pandas refused the '.': a TypeError)."""
    frame = pd.DataFrame({"chrom": ["chr1", "chr1"], "start": [0, 10], "end": [10, 20],
                          "name": ["a", None], "strand": ["+", None]})
    want = load_regions(frame)[["name", "strand"]].values.tolist()
    assert want == [["a", "+"], [".", "."]]
    for column in ("name", "strand"):
        cat = frame.astype({column: "category"})
        assert load_regions(cat)[["name", "strand"]].values.tolist() == want

