"""Personal genomes: windows of each sample's haplotypes with its SNVs and indels applied
(genozarr.personal), checked against sequences spliced by hand.

The truth below is built independently of genozarr: for every sample and haplotype the
whole chromosome is spliced with Python strings (variants in position order, overlaps
skipped), each base remembering the reference position it comes from; a window is the
first ``end - start`` bases from its reference start on, then a plain Python one-hot.
"""

from __future__ import annotations

import bisect
import hashlib
import inspect
import os
import pickle
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pysam = pytest.importorskip("pysam")

import genozarr  # noqa: E402
from genozarr import Bioseq, set_options  # noqa: E402
from genozarr._kernels import decode_codes  # noqa: E402
from genozarr.errors import (  # noqa: E402
    ArgumentError,
    InputFileError,
    MalformedFileError,
    SkippedCallsWarning,
    SkippedVariantsWarning,
    StaleIndexError,
    UnphasedGenotypeError,
)
from genozarr.personal import (  # noqa: E402
    REASONS,
    PersonalBioseq,
    PersonalSource,
    condition_names,
    create_personal,
)

SAMPLES = ["S1", "S2", "S3"]
COMP = {"A": "T", "C": "G", "G": "C", "T": "A", "N": "N"}
HOOKED = "variants" in inspect.signature(Bioseq.create_from_refgenome).parameters
NO_HOOK = ("Bioseq.create_from_refgenome has no variants= yet (the hook to "
           "genozarr.personal.create_personal is added in genozarr/dataset.py)")


# ---------------------------------------------------------------------- fixtures
def _oth(base: str, k: int = 1) -> str:
    return "ACGT"[("ACGT".index(base) + k) % 4]


@pytest.fixture(scope="module")
def genome(tmp_path_factory) -> dict:
    rng = np.random.default_rng(11)
    seqs = {"chr1": "".join(rng.choice(list("ACGT"), 400)),
            "chr2": "".join(rng.choice(list("ACGT"), 300))}
    d = tmp_path_factory.mktemp("personal")
    fasta = d / "genome.fa"
    with open(fasta, "w") as fh:
        for name, s in seqs.items():
            fh.write(f">{name}\n")
            for i in range(0, len(s), 60):  # one soft-masked line
                line = s[i:i + 60]
                fh.write((line.lower() if i == 120 else line) + "\n")
    return {"fasta": str(fasta), "seqs": seqs, "dir": d}


def main_records(seqs: dict) -> list[tuple]:
    """``(chrom, pos0, REF, ALTs, ID, {sample: GT})``: SNVs, insertions, deletions, a
    multi-allelic record, MNVs, missing and haploid calls, homozygous unphased calls, a
    symbolic allele, a '*' allele, a reference mismatch, an IUPAC allele, a deletion over a
    window start, an insertion on the base before a window, overlapping records, a
    deletion pulling N past the chromosome end."""
    c1, c2 = seqs["chr1"], seqs["chr2"]
    return [
        ("chr1", 20, c1[20], [_oth(c1[20])], "snv20", {"S1": "1|0", "S2": "0|1", "S3": "1|1"}),
        ("chr1", 30, c1[30], [c1[30] + "ACGTA"], "ins30", {"S1": "0|1", "S2": "1|0"}),
        ("chr1", 45, c1[45:52], [c1[45]], "del45", {"S1": "1|1", "S3": "0|1"}),
        ("chr1", 48, c1[48], [_oth(c1[48])], "snv48", {"S1": "1|0", "S2": "1|0"}),
        ("chr1", 60, c1[60], [_oth(c1[60]), _oth(c1[60], 2) + "GG"], "multi60",
         {"S1": "1|2", "S2": "2|0", "S3": "0|1"}),
        ("chr1", 80, c1[80], [_oth(c1[80])], "missing80", {"S1": ".|.", "S2": ".|1", "S3": "./."}),
        ("chr1", 90, c1[90], ["<DEL>"], "sv90", {"S1": "0|1"}),
        ("chr1", 100, c1[100], ["*", _oth(c1[100])], "star100", {"S1": "1|2"}),
        ("chr1", 110, _oth(c1[110]), [_oth(c1[110], 2)], "mismatch110", {"S3": "1|0"}),
        ("chr1", 120, c1[120], ["R"], "iupac120", {"S2": "0|1"}),
        ("chr1", 145, c1[145:155], [c1[145]], "del145", {"S1": "0|1"}),
        ("chr1", 149, c1[149], [c1[149] + "TTTT"], "ins149", {"S1": "0|1", "S2": "1|1"}),
        ("chr1", 199, c1[199], [c1[199] + "GGGCCC"], "ins199", {"S3": "1|0"}),
        ("chr1", 230, c1[230:240], [c1[230]], "del230", {"S2": "0|1"}),
        ("chr1", 255, c1[255], [_oth(c1[255])], "snv255", {"S1": "1|0", "S2": "0|1"}),
        ("chr1", 290, c1[290:293], [_oth(c1[290]) + _oth(c1[291]) + c1[292]], "mnv290",
         {"S3": "1|1"}),
        ("chr1", 300, c1[300:303], [c1[300] + "A"], "cplx300", {"S1": "1|0"}),
        ("chr1", 390, c1[390:398], [c1[390]], "del390", {"S1": "1|0", "S3": "0|1"}),
        ("chr1", 396, c1[396], [_oth(c1[396])], "snv396", {"S3": "0|1"}),
        ("chr2", 10, c2[10], [_oth(c2[10])], "hom_unphased", {"S1": "1/1", "S2": "0/0", "S3": "1"}),
        ("chr2", 50, c2[50:52], [_oth(c2[50]) + _oth(c2[51])], "mnv50", {"S2": "1|0"}),
        ("chr2", 99, c2[99:104], [c2[99]], "del99", {"S1": "0|1"}),
        ("chr2", 200, c2[200], [c2[200] + "ACGT" * 20], "longins200", {"S2": "1|0"}),
    ]


#: skipped calls of ``main_records`` (record x sample x haplotype), when every record is
#: inside a window: sv90 S1|1; mismatch110 S3|0; iupac120 S2|1; snv48 S1|0 (under del45),
#: ins149 S1|1 (under del145), snv396 S3|1 (under del390)
SKIPPED = {"symbolic ALT": 1, "non-ACGTN allele": 1, "reference mismatch": 1,
           "overlaps an applied variant": 3}


def _gt_value(text: str) -> tuple[tuple, bool]:
    parts = re.split(r"[|/]", text)
    return tuple(None if p == "." else int(p) for p in parts), "/" not in text


def write_vcf(path: Path, records: list[tuple], seqs: dict, samples=SAMPLES,
              extra_format: bool = False) -> str:
    header = pysam.VariantHeader()
    for name, s in seqs.items():
        header.contigs.add(name, length=len(s))
    header.info.add("END", 1, "Integer", "End position")
    header.formats.add("GT", 1, "String", "Genotype")
    if extra_format:
        header.formats.add("DP", 1, "Integer", "Depth")
    for s in samples:
        header.add_sample(s)
    mode = "wb" if str(path).endswith(".bcf") else "wz" if str(path).endswith(".gz") else "w"
    with pysam.VariantFile(str(path), mode, header=header) as out:
        for chrom, pos0, ref, alts, vid, gts in records:
            rec = out.new_record(contig=chrom, start=pos0, stop=pos0 + len(ref),
                                 alleles=(ref, *alts), id=vid)
            for s in samples:
                alleles, phased = _gt_value(gts.get(s, "."))
                rec.samples[s]["GT"] = alleles
                rec.samples[s].phased = phased
                if extra_format:
                    rec.samples[s]["DP"] = 7
            out.write(rec)
    return str(path)


@pytest.fixture(scope="module")
def vcf(genome) -> dict:
    recs = main_records(genome["seqs"])
    return {"path": write_vcf(genome["dir"] / "calls.vcf", recs, genome["seqs"]),
            "records": recs}


@pytest.fixture(scope="module")
def unphased_vcf(genome) -> dict:
    c2 = genome["seqs"]["chr2"]
    recs = main_records(genome["seqs"]) + [
        ("chr2", 150, c2[150], [_oth(c2[150]), _oth(c2[150], 2)], "unph150",
         {"S1": "1|0", "S2": "0/1", "S3": "2/1"})]
    return {"path": write_vcf(genome["dir"] / "unphased.vcf", recs, genome["seqs"]),
            "records": recs}


# ---------------------------------------------------------------------- hand-made truth
def hap_alleles(gt: str, unphased: str) -> tuple[int, int]:
    """The allele index on haplotypes 0 and 1 of one call (0: reference)."""
    parts = [None if p == "." else int(p) for p in re.split(r"[|/]", gt)]
    if len(parts) == 1:
        parts = parts * 2
    a, b = parts
    if "/" in gt and a != b and max(a or 0, b or 0) > 0:
        if unphased == "error":
            raise AssertionError("unphased call in the truth")
        if unphased == "ref":
            return 0, 0
        if a and b:
            return a, b
        return (a or b), (a or b)
    return a or 0, b or 0


def applied(seqs: dict, records: list[tuple], chrom: str, sample: str, hap: int,
            unphased: str = "error") -> tuple[list[tuple], list[tuple]]:
    """``(applied (pos0, REF, ALT), skipped (record ID, reason))`` of one haplotype."""
    out, skipped, last_end = [], [], None
    for c, pos0, ref, alts, vid, gts in sorted(records, key=lambda r: r[1]):
        if c != chrom:
            continue
        allele = hap_alleles(gts.get(sample, "."), unphased)[hap]
        if allele == 0:
            continue
        alt = alts[allele - 1]
        if alt in ("*", "."):
            continue
        if alt.startswith("<"):
            skipped.append((vid, "symbolic ALT"))
        elif not re.fullmatch("[ACGTN]+", alt):
            skipped.append((vid, "non-ACGTN allele"))
        elif seqs[chrom][pos0:pos0 + len(ref)] != ref:
            skipped.append((vid, "reference mismatch"))
        elif last_end is not None and pos0 < last_end:
            skipped.append((vid, "overlaps an applied variant"))
        else:
            out.append((pos0, ref, alt))
            last_end = pos0 + len(ref)
    return out, skipped


PAD = 500


def haplotype(seq: str, variants: list[tuple]) -> tuple[str, list[int]]:
    """The spliced chromosome (N-padded by PAD on both sides) and, per base, the reference
    position it stands for (ALT base i of a variant at POS: POS + min(i, len(REF) - 1))."""
    padded = "N" * PAD + seq + "N" * PAD
    bases, origins = [], []
    cursor = -PAD
    for pos0, ref, alt in variants:
        bases.append(padded[cursor + PAD:pos0 + PAD])
        origins += list(range(cursor, pos0))
        bases.append(alt)
        origins += [pos0 + min(i, len(ref) - 1) for i in range(len(alt))]
        cursor = pos0 + len(ref)
    bases.append(padded[cursor + PAD:])
    origins += list(range(cursor, len(seq) + PAD))
    return "".join(bases), origins


def truth_window(seqs: dict, records: list[tuple], chrom: str, start: int, end: int,
                 length: int, sample: str, hap: int, strand: str = "+",
                 unphased: str = "error") -> str:
    """The personal window: ``end - start`` bases from the first base standing for a
    reference position >= start, N-padded to ``length``; reverse complement on '-'."""
    variants, _ = applied(seqs, records, chrom, sample, hap, unphased)
    text, origins = haplotype(seqs[chrom], variants)
    first = bisect.bisect_left(origins, start)
    window = text[first:first + end - start].ljust(length, "N")
    if strand == "-":
        window = "".join(COMP[b] for b in reversed(window))
    return window


def plain_onehot(seq: str, order: int) -> np.ndarray:
    out = np.zeros((len(seq) - order + 1, 1, 4 ** order), dtype="float32")
    for i in range(len(seq) - order + 1):
        kmer = seq[i:i + order]
        if all(b in "ACGT" for b in kmer):
            index = 0
            for b in kmer:
                index = index * 4 + "ACGT".index(b)
            out[i, 0, index] = 1
    return out


def expected_counts(seqs: dict, records: list[tuple], samples=SAMPLES,
                    unphased: str = "error", gindexer=None) -> dict:
    """Skipped calls per reason, of the records overlapping a window (flank included;
    every record without ``gindexer``)."""
    counts: dict = {}
    spans = {r[4]: (r[0], r[1], r[1] + len(r[2])) for r in records}

    def inside(vid: str) -> bool:
        if gindexer is None:
            return True
        chrom, a, b = spans[vid]
        chrs, starts, ends, _ = gindexer.as_arrays()
        return bool(((chrs == chrom) & (starts < b) & (ends > a)).any())

    for chrom in seqs:
        for s in samples:
            for h in (0, 1):
                for vid, why in applied(seqs, records, chrom, s, h, unphased)[1]:
                    if inside(vid):
                        counts[why] = counts.get(why, 0) + 1
    return counts


def check_all(ds: PersonalBioseq, genome: dict, records: list[tuple], order: int,
              unphased: str = "error") -> int:
    """Every item of ``ds`` against the truth; returns the number checked."""
    seqs = genome["seqs"]
    gi = ds.gindexer
    length = gi.binsize + 2 * gi.flank
    got = ds[:]
    assert got.shape == (len(ds), length - order + 1, 1, 4 ** order)
    for i in range(len(ds)):
        w = ds.window_of(i)
        chrom, start, end = str(gi.chrs[w]), int(gi.starts[w]) - gi.flank, \
            int(gi.ends[w]) + gi.flank
        want = truth_window(seqs, records, chrom, start, end, length, ds.sample_of(i),
                            ds.haplotype_of(i), str(gi.strand[w]), unphased)
        np.testing.assert_array_equal(
            got[i], plain_onehot(want, order),
            err_msg=f"item {i}: {chrom}:{start}-{end}{gi.strand[w]} {ds.sample_of(i)}|"
                    f"{ds.haplotype_of(i)} should be {want}")
    return len(ds)


def build(genome, vcf_path, **kw) -> PersonalBioseq:
    """create_personal with the skipped-calls warning expected where it comes."""
    kw.setdefault("samples", SAMPLES)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SkippedCallsWarning)
        return create_personal("personal", genome["fasta"], variants=vcf_path, **kw)


ROI = pd.DataFrame({"chrom": ["chr1", "chr1", "chr2"], "start": [140, 0, 90],
                    "end": [260, 100, 290], "strand": ["+", "-", "-"]})


# ---------------------------------------------------------------------- the windows
@pytest.mark.parametrize("order", [1, 2, 3])
def test_every_window_matches_hand_splicing(genome, vcf, order):
    with pytest.warns(SkippedCallsWarning):
        ds = create_personal("personal", genome["fasta"], binsize=50, order=order,
                             variants=vcf["path"], samples=SAMPLES)
    assert isinstance(ds, PersonalBioseq) and isinstance(ds, Bioseq)
    assert len(ds) == 14 * 3 * 2  # 8 + 6 windows of 50 bp
    assert ds.samples == SAMPLES
    assert check_all(ds, genome, vcf["records"], order) == 84


def test_strands_flank_steps_and_padded_windows(genome, vcf):
    """Overlapping windows (stepsize < binsize), flanks reaching before the chromosome
    start, minus-strand regions (reverse complement) and zero-padded last windows."""
    ds = build(genome, vcf["path"], roi=ROI, binsize=40, stepsize=30, flank=5, order=2)
    gi = ds.gindexer
    assert (gi.strand == "-").any() and (gi.starts - gi.flank < 0).any()
    assert (gi.ends - gi.starts < gi.binsize).any()  # a zero-padded window
    check_all(ds, genome, vcf["records"], 2)


def test_window_rule_at_edges(genome, vcf):
    """The documented rule, spelled out on single windows."""
    c1, c2 = genome["seqs"]["chr1"], genome["seqs"]["chr2"]
    ds = build(genome, vcf["path"], binsize=50)
    gi = ds.gindexer

    def text(chrom: str, start: int, sample: str, hap: int) -> str:
        w = int(np.flatnonzero((gi.chrs == chrom) & (gi.starts == start))[0])
        codes = ds.read_genomic(np.array([ds.index_of(w, sample, hap)]))[0, :, 0, 0]
        return decode_codes(codes)

    # a deletion starting before the window removes the bases it covers inside it: the
    # window keeps its reference start and begins after the deletion
    assert text("chr1", 150, "S1", 1) == c1[155:205]
    assert text("chr2", 100, "S1", 1) == c2[104:154]
    # an insertion on the base before the window lies outside it ...
    assert text("chr1", 200, "S3", 0) == c1[200:250]
    # an insertion pushes sequence out on the right (here the SNV at chr1:49 too)
    assert text("chr1", 0, "S2", 0) == (c1[:31] + "ACGTA" + c1[31:])[:50]
    # a deletion pulls reference (and the haplotype's variants there) in from the right
    s2 = text("chr1", 200, "S2", 1)
    pulled = c1[200:231] + c1[240:255] + _oth(c1[255]) + c1[256:]
    assert s2 == pulled[:50]
    # ... and N past the chromosome end
    assert text("chr1", 350, "S1", 0) == c1[350:391] + c1[398:400] + "N" * 7
    # an ALT longer than the rest of the window is cut at its end
    assert text("chr2", 200, "S2", 0) == (c2[200] + "ACGT" * 20)[:50]
    # skipped, missing and '*' calls keep the reference
    assert text("chr1", 100, "S1", 0)[:25] == c1[100:125]
    assert text("chr1", 50, "S3", 0)[30] == c1[80]


def test_calls_phasing_missing_haploid(genome, vcf):
    c1, c2 = genome["seqs"]["chr1"], genome["seqs"]["chr2"]
    ds = build(genome, vcf["path"], binsize=50, samples=["S3", "S1"])
    assert ds.samples == ["S3", "S1"]
    assert list(ds.garray.meta.conditions) == ["S3|0", "S3|1", "S1|0", "S1|1"]
    gi = ds.gindexer
    w0 = int(np.flatnonzero((gi.chrs == "chr2") & (gi.starts == 0))[0])
    raw = ds.read_genomic(np.arange(w0 * 4, w0 * 4 + 4))[:, 10, 0, 0]
    # chr2:11 is 1/1 for S1 (homozygous unphased: no ambiguity) and haploid 1 for S3
    assert (raw == "ACGT".index(_oth(c2[10]))).all()
    w1 = int(np.flatnonzero((gi.chrs == "chr1") & (gi.starts == 50))[0])
    # './.' keeps the reference (S3|0 has no other variant before chr1:81 in the window)
    assert ds.read_genomic(np.array([w1 * 4]))[0, 30, 0, 0] == "ACGT".index(c1[80])


def test_skipped_calls_warning_counts(genome, vcf):
    with pytest.warns(SkippedCallsWarning) as caught:
        ds = create_personal("personal", genome["fasta"], binsize=50, variants=vcf["path"],
                             samples=SAMPLES)
    assert issubclass(SkippedCallsWarning, SkippedVariantsWarning)
    assert len([w for w in caught if w.category is SkippedCallsWarning]) == 1
    assert dict(ds.skipped) == SKIPPED == expected_counts(genome["seqs"], vcf["records"])
    message = str(caught[0].message)
    assert message.startswith(vcf["path"])
    assert "6 ALT call(s)" in message and "of 6 record(s)" in message
    for reason, n in SKIPPED.items():
        assert f"{n} {reason}" in message
    assert set(SKIPPED) | {"no GT field"} == set(REASONS)
    # only the records overlapping the windows count; none here: no warning
    roi = pd.DataFrame({"chrom": ["chr2"], "start": [0], "end": [100]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        quiet = create_personal("quiet", genome["fasta"], roi=roi, binsize=50,
                                variants=vcf["path"], samples=SAMPLES)
    assert not quiet.skipped


def test_unphased_error_names_sample_and_record(genome, unphased_vcf):
    with pytest.raises(UnphasedGenotypeError, match=r"'S2'.*0/1.*chr2:151 unph150") as e:
        build(genome, unphased_vcf["path"], binsize=50)
    assert "unphased='ref'" in str(e.value)
    assert isinstance(e.value, ArgumentError)
    # windows away from the record build
    roi = pd.DataFrame({"chrom": ["chr1"], "start": [0], "end": [100]})
    assert len(build(genome, unphased_vcf["path"], roi=roi, binsize=50)) == 12
    with pytest.raises(ArgumentError, match="unphased must be one of"):
        build(genome, unphased_vcf["path"], binsize=50, unphased="first")


@pytest.mark.parametrize("rule", ["ref", "alt"])
def test_unphased_rules(genome, unphased_vcf, rule):
    ds = build(genome, unphased_vcf["path"], binsize=50, unphased=rule)
    check_all(ds, genome, unphased_vcf["records"], 1, unphased=rule)
    c2 = genome["seqs"]["chr2"]
    gi = ds.gindexer
    w = int(np.flatnonzero((gi.chrs == "chr2") & (gi.starts == 150))[0])
    at = ds.read_genomic(np.arange(w * 6, w * 6 + 6))[:, 0, 0, 0]
    ref, alt1, alt2 = ("ACGT".index(b) for b in (c2[150], _oth(c2[150]), _oth(c2[150], 2)))
    # S1 1|0 phased; S2 0/1; S3 2/1
    want = [alt1, ref] + ([ref, ref, ref, ref] if rule == "ref" else [alt1, alt1, alt2, alt1])
    assert at.tolist() == want
    assert ds.garray.meta.recipe["args"]["unphased"] == rule


# ---------------------------------------------------------------------- file kinds
def test_indexed_bgzip_bcf_and_extra_format_fields_agree(genome, vcf):
    recs = vcf["records"]
    d = genome["dir"]
    gz = write_vcf(d / "calls.vcf.gz", recs, genome["seqs"], extra_format=True)
    pysam.tabix_index(gz, preset="vcf", force=True)
    bcf = write_vcf(d / "calls.bcf", recs, genome["seqs"])
    plain = build(genome, vcf["path"], roi=ROI, binsize=40, stepsize=30, flank=5)
    modes = {"scan": plain}
    tabix = build(genome, gz, roi=ROI, binsize=40, stepsize=30, flank=5)
    modes["tabix"] = tabix
    modes["bcf unindexed"] = build(genome, bcf, roi=ROI, binsize=40, stepsize=30, flank=5)
    try:
        pysam.bcftools.index(bcf)
    except Exception:  # noqa: BLE001 - a pysam without bcftools: no indexed BCF
        pass
    else:
        modes["bcf indexed"] = build(genome, bcf, roi=ROI, binsize=40, stepsize=30, flank=5)
    assert PersonalSource(genome["fasta"], gz).mode == "tabix"
    assert PersonalSource(genome["fasta"], vcf["path"]).mode == "scan"
    for name, ds in modes.items():
        np.testing.assert_array_equal(ds[:], plain[:], err_msg=name)


def test_a_vcf_without_contig_lines(genome, vcf):
    """##contig lines are optional: an unindexed VCF (plain or bgzip) without them gives
    its variants, not the reference; indexing it later in the same process reads it
    again (by the index), with the same result."""
    text = Path(vcf["path"]).read_text()
    bare = "".join(line for line in text.splitlines(keepends=True)
                   if not line.startswith("##contig"))
    assert bare != text
    d = genome["dir"]
    (d / "bare.vcf").write_text(bare)
    pysam.tabix_compress(str(d / "bare.vcf"), str(d / "bare.vcf.gz"), force=True)
    want = build(genome, vcf["path"], roi=ROI, binsize=40, stepsize=30, flank=5)
    check_all(want, genome, vcf["records"], 1)
    for path in (d / "bare.vcf", d / "bare.vcf.gz"):
        got = build(genome, str(path), roi=ROI, binsize=40, stepsize=30, flank=5)
        np.testing.assert_array_equal(got[:], want[:], err_msg=str(path))
    pysam.tabix_index(str(d / "bare.vcf.gz"), preset="vcf", force=True)
    assert PersonalSource(genome["fasta"], str(d / "bare.vcf.gz")).mode == "tabix"
    got = build(genome, str(d / "bare.vcf.gz"), roi=ROI, binsize=40, stepsize=30, flank=5)
    np.testing.assert_array_equal(got[:], want[:])
    check_all(got, genome, vcf["records"], 1)


def test_a_vcf_naming_none_of_the_chromosomes_warns(genome, vcf):
    """A VCF whose contigs are 'Chr1', 'Chr2' against a genome's 'chr1', 'chr2': every
    window is the reference, and a warning says so (once; before, only a log record)."""
    from genozarr.errors import MissingChromosomeWarning

    renamed = genome["dir"] / "renamed.vcf"
    renamed.write_text("".join(
        line.replace("ID=chr", "ID=Chr") if line.startswith("##contig")
        else line if line.startswith("#") else "C" + line[1:]
        for line in Path(vcf["path"]).read_text().splitlines(keepends=True)))
    with pytest.warns(MissingChromosomeWarning, match=r"no contig of .*'chr1', 'chr2'") as seen:
        plain = build(genome, str(renamed), roi=ROI, binsize=40)
    assert len([w for w in seen if w.category is MissingChromosomeWarning]) == 1
    reference = Bioseq.create_from_refgenome("ref", genome["fasta"], roi=ROI, binsize=40)
    per_window = len(plain) // len(reference)  # samples x haplotypes, window-major
    # every haplotype is the reference
    np.testing.assert_array_equal(plain[:], np.repeat(reference[:], per_window, axis=0))
    assert not np.array_equal(build(genome, vcf["path"], roi=ROI, binsize=40)[:], plain[:])


def test_a_chrom_map_dict_renames_in_the_file_that_needs_it(genome, vcf):
    """FASTA 'chr1'/'chr2', VCF '1'/'2': chrom_map={'chr1': '1', 'chr2': '2'} renames for
    the VCF only, and the haplotypes equal those of the VCF named like the FASTA (before:
    the dict applied to the FASTA too, which has no '1': an error)."""
    renamed = genome["dir"] / "numbered.vcf"
    renamed.write_text("".join(
        line.replace("ID=chr", "ID=") if line.startswith("##contig")
        else line if line.startswith("#") else line[3:]
        for line in Path(vcf["path"]).read_text().splitlines(keepends=True)))
    want = build(genome, vcf["path"], roi=ROI, binsize=40)
    got = build(genome, str(renamed), roi=ROI, binsize=40,
                chrom_map={"chr1": "1", "chr2": "2"})
    np.testing.assert_array_equal(got[:], want[:])
    from genozarr.errors import ChromosomeNamingError

    with pytest.raises(ChromosomeNamingError, match="'chr2' vs '2'"):  # chr2 not mapped
        build(genome, str(renamed), roi=ROI, binsize=40, chrom_map={"chr1": "1"})
    # the other way round (VariantStreamer's direction): the message says which it takes
    # (it asked for "an explicit dict" of one who had given one)
    with pytest.raises(ChromosomeNamingError,
                       match=r"The chrom_map given, \{'1': 'chr1', '2': 'chr2'\}, maps none "
                             r"of these: here it maps the regions' \(genome's\) chromosome "
                             r"names to a file's, e.g. \{'chr1': '1'\}"):
        build(genome, str(renamed), roi=ROI, binsize=40, chrom_map={"1": "chr1", "2": "chr2"})


def test_all_samples_by_default_and_bad_samples(genome, vcf):
    source = PersonalSource(genome["fasta"], vcf["path"])
    assert source.samples == SAMPLES
    assert source.conditions == condition_names(SAMPLES)
    with pytest.raises(ArgumentError, match=r"\['NA1'\] are not in the file"):
        PersonalSource(genome["fasta"], vcf["path"], ["S1", "NA1"])
    with pytest.raises(ArgumentError, match="more than once"):
        PersonalSource(genome["fasta"], vcf["path"], ["S1", "S1"])
    with pytest.raises(ArgumentError, match="store_whole_genome"):
        create_personal("x", genome["fasta"], binsize=50, variants=vcf["path"],
                        store_whole_genome=True)
    with pytest.raises(ArgumentError, match="need windows"):
        create_personal("x", genome["fasta"], variants=vcf["path"])
    # the source pickles as paths and options
    again = pickle.loads(pickle.dumps(source))
    assert again.samples == SAMPLES and len(pickle.dumps(source)) < 4000


# ---------------------------------------------------------------------- serving
def test_index_helpers_subset_and_repr(genome, vcf):
    ds = build(genome, vcf["path"], binsize=50)
    n = ds.items_per_window
    assert n == 6
    assert ds.window_of(13) == 2 and ds.sample_of(13) == "S1" and ds.haplotype_of(13) == 1
    assert ds.index_of(2, "S1", 1) == 13 and ds.index_of(2, 0, 1) == 13
    n_windows = len(ds) // n
    assert ds.index_of(-1, "S3", 1) == len(ds) - 1  # negative windows from the end
    assert ds.index_of(-n_windows, "S1", 0) == 0
    # an unknown sample or a window out of range: named, not a bare ValueError or an
    # item past the end
    with pytest.raises(ArgumentError, match=r"no sample 'S9' .*'S1', 'S2', 'S3'"):
        ds.index_of(0, "S9", 0)
    for window in (n_windows, -n_windows - 1):
        with pytest.raises(ArgumentError, match=rf"window {window} out of range.* "
                                                rf"{n_windows} windows"):
            ds.index_of(window, "S1", 0)
    np.testing.assert_array_equal(ds.window_of(np.arange(12)), np.repeat([0, 1], 6))
    assert list(ds.sample_of(np.arange(6))) == ["S1", "S1", "S2", "S2", "S3", "S3"]
    assert ds[5].shape == (1, 50, 1, 4)
    np.testing.assert_array_equal(ds[-1], ds[len(ds) - 1])
    with pytest.raises(IndexError):
        ds[len(ds)]
    sub = ds.subset([13, 2, 40])
    assert len(sub) == 3 and sub.window_of(0) == 2 and sub.sample_of(2) == ds.sample_of(40)
    np.testing.assert_array_equal(sub[:], ds[[13, 2, 40]])
    with pytest.raises(ArgumentError, match="genomic-interval"):
        ds["chr1", 0, 10]
    assert "window x sample x haplotype" in repr(ds) and "S1, S2, S3" in repr(ds)
    assert ds.chunk_rows == 1  # in memory


def test_channel_first_and_batches_cover_every_item_once(genome, vcf, tmp_path):
    ds = build(genome, vcf["path"], roi=ROI, binsize=40, stepsize=30, flank=5,
               storage="zarr", store=tmp_path / "p.zarr", order=2)
    ids = np.arange(len(ds))
    with set_options(chunk_bytes=4096):
        small = build(genome, vcf["path"], roi=ROI, binsize=40, stepsize=30, flank=5,
                      storage="zarr", store=tmp_path / "small.zarr", order=2)
    assert small.chunk_rows > small.items_per_window  # several windows per chunk
    for dataset in (ds, small):
        seen = []
        for x, i in genozarr.batches(dataset, ids, batch_size=7, shuffle=True, seed=3):
            np.testing.assert_array_equal(x, ds[i])
            seen.append(i)
        seen = np.concatenate(seen)
        assert len(seen) == len(ds) and len(np.unique(seen)) == len(ds)
    np.testing.assert_array_equal(small[:], ds[:])
    first = build(genome, vcf["path"], roi=ROI, binsize=40, stepsize=30, flank=5, order=2,
                  channel_last=False)
    np.testing.assert_array_equal(first[:4], np.moveaxis(ds[:4], -1, 1))


@pytest.mark.parametrize("pin", [False, True])
def test_torch_adapters(genome, vcf, pin, monkeypatch):
    torch = pytest.importorskip("torch")
    from torch.utils.data import DataLoader

    from genozarr.loaders.torch import TorchDataset, torch_loader

    ds = build(genome, vcf["path"], binsize=50)
    x = next(iter(DataLoader(TorchDataset(ds), batch_size=5)))
    assert isinstance(x, torch.Tensor) and tuple(x.shape) == (5, 50, 1, 4)
    np.testing.assert_array_equal(x.numpy(), ds[:5])
    total = sum(len(b) for b in torch_loader(ds, batch_size=16, shuffle=True, seed=0))
    assert total == len(ds)
    # with workers: sequence codes through slots, one-hot encoded in this process (into
    # reused memory; with pin_memory where CUDA is there, into page-locked memory: here a
    # stand-in allocator); every item once, as the dataset reads it
    if pin:
        import genozarr.loaders.torch as gt

        monkeypatch.setattr(gt, "_pinned_empty",
                            lambda shape, dtype: torch.empty(shape, dtype=dtype))
        monkeypatch.setattr(gt, "_can_pin", lambda: True)
    seen = []
    with warnings.catch_warnings():  # pin_memory without an accelerator: PyTorch warns
        warnings.filterwarnings("ignore", "'pin_memory' argument is set as true")
        for x, i in torch_loader(ds, np.arange(len(ds)), batch_size=16, shuffle=True, seed=0,
                                 num_workers=2, pin_memory=pin):
            np.testing.assert_array_equal(x.numpy(), ds[i.numpy()])
            seen.append(i.numpy())
    assert sorted(np.concatenate(seen).tolist()) == list(range(len(ds)))


def test_store_recipe_and_reopen(genome, vcf, tmp_path):
    from genozarr.store.cache import file_digest

    path = tmp_path / "personal.zarr"
    ds = build(genome, vcf["path"], roi=ROI, binsize=40, stepsize=30, flank=5, order=3,
               storage="zarr", store=path)
    meta = ds.garray.meta
    assert meta.kind == "sequence" and meta.layout == "partial" and meta.dtype == "uint8"
    assert meta.conditions == condition_names(SAMPLES)
    recipe = meta.recipe
    assert recipe["dataset"] == "PersonalBioseq"
    assert recipe["constructor"] == "create_from_refgenome"
    args = recipe["args"]
    assert args["variants"] == vcf["path"] and args["samples"] == SAMPLES
    assert args["haplotypes"] == 2
    inputs = {i["path"]: i.get("sha256") for i in recipe["inputs"]}
    assert inputs[vcf["path"]] == file_digest(vcf["path"])
    # plain xarray sees the usual store
    view = ds.to_xarray()
    assert list(view["data"].dims) == ["region", "position", "strand", "condition"]
    assert view.sizes["condition"] == 6
    # reopened: through open_dataset once it builds PersonalBioseq, else by hand
    opened = genozarr.open_dataset(path)
    if not isinstance(opened, PersonalBioseq):
        opened = PersonalBioseq(opened.name, opened.gindexer, opened.garray,
                                order=opened.order, channel_last=opened.channel_last)
    assert opened.order == 3 and opened.samples == SAMPLES
    np.testing.assert_array_equal(opened[:], ds[:])
    # a changed VCF is another store
    again = build(genome, vcf["path"], roi=ROI, binsize=40, stepsize=30, flank=5, order=3,
                  storage="zarr", cache=True)
    other = build(genome, vcf["path"], roi=ROI, binsize=40, stepsize=30, flank=5, order=3,
                  storage="zarr", cache=True, samples=["S2"])
    assert again.garray.meta.cache_key != other.garray.meta.cache_key
    assert len(other) == len(again) // 3


def test_the_cache_key_holds_the_vcf_content_and_index_not_its_path(genome, vcf, tmp_path,
                                                                      monkeypatch):
    """The VCF's path was in the cache key of a personal genome (renaming or moving it, or
    spelling its path another way, built the store again) and its index was not, though
    the docs promise keys by content, the VCF's index included (an audit)."""
    monkeypatch.setenv("GENOZARR_OUTPUT", str(tmp_path / "out"))
    kw = dict(roi=ROI, binsize=40, storage="zarr", cache=True)
    gz = str(tmp_path / "a" / "calls.vcf.gz")
    os.makedirs(os.path.dirname(gz))
    pysam.tabix_compress(vcf["path"], gz)
    pysam.tabix_index(gz, preset="vcf")
    first = build(genome, gz, **kw)
    moved = str(tmp_path / "b" / "renamed.vcf.gz")
    os.makedirs(os.path.dirname(moved))
    os.rename(gz, moved)
    os.rename(gz + ".tbi", moved + ".tbi")
    again = build(genome, os.path.relpath(moved), **kw)
    assert again.garray.path == first.garray.path
    np.testing.assert_array_equal(again[:], first[:])
    # the index is read, so it is keyed: the digests of the VCF and of its index
    from genozarr.store.cache import input_digests

    def sha(path: str) -> str:
        with open(path, "rb") as f:
            return hashlib.sha256(f.read()).hexdigest()

    assert input_digests(moved) == [sha(moved), f".tbi:{sha(moved + '.tbi')}"]
    os.remove(moved + ".tbi")
    pysam.tabix_index(moved, preset="vcf", csi=True)
    assert input_digests(moved) == [sha(moved), f".csi:{sha(moved + '.csi')}"]
    other = build(genome, moved, **kw)
    assert other.garray.meta.cache_key != first.garray.meta.cache_key
    np.testing.assert_array_equal(other[:], first[:])


def test_open_dataset_gives_personal_bioseq(genome, vcf, tmp_path):
    path = tmp_path / "p.zarr"
    ds = build(genome, vcf["path"], binsize=50, storage="zarr", store=path)
    opened = genozarr.open_dataset(path)
    if not isinstance(opened, PersonalBioseq):
        pytest.skip("genozarr.open_dataset does not build PersonalBioseq yet (the three lines "
                    "in genozarr/dataset.py)")
    np.testing.assert_array_equal(opened[:], ds[:])


def test_processes_scheduler(genome, vcf):
    ref = build(genome, vcf["path"], roi=ROI, binsize=40, stepsize=30, flank=5)
    with set_options(scheduler="processes", num_workers=2, chunk_bytes=4096, progress=False):
        par = build(genome, vcf["path"], roi=ROI, binsize=40, stepsize=30, flank=5)
    np.testing.assert_array_equal(par[:], ref[:])


def test_block_boundaries_do_not_change_windows(genome, vcf, monkeypatch):
    """Tiny blocks: overlap decisions and pulled-in bases cross block boundaries."""
    import genozarr.personal as personal

    ref = build(genome, vcf["path"], binsize=50)
    monkeypatch.setattr(personal, "_BLOCK_BASES", 7)
    monkeypatch.setattr(personal, "_BLOCK_WINDOWS", 1)
    personal._blocks.clear()
    small = build(genome, vcf["path"], binsize=50)
    np.testing.assert_array_equal(small[:], ref[:])
    random = build(genome, vcf["path"], binsize=50, random_state=4)
    check_all(random, genome, vcf["records"], 1)


# ---------------------------------------------------------------------- Bioseq hook
@pytest.mark.skipif(not HOOKED, reason=NO_HOOK)
def test_create_from_refgenome_hook(genome, vcf):
    with pytest.warns(SkippedCallsWarning):
        ds = Bioseq.create_from_refgenome("personal", genome["fasta"], binsize=50, order=2,
                                          variants=vcf["path"], samples=SAMPLES)
    assert isinstance(ds, PersonalBioseq)
    check_all(ds, genome, vcf["records"], 2)


@pytest.mark.skipif(not HOOKED, reason=NO_HOOK)
def test_create_from_refgenome_hook_unphased(genome, unphased_vcf):
    with pytest.raises(UnphasedGenotypeError, match="'S2'"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SkippedCallsWarning)
            Bioseq.create_from_refgenome("personal", genome["fasta"], binsize=50,
                                         variants=unphased_vcf["path"], samples=SAMPLES)
    if "unphased" not in inspect.signature(Bioseq.create_from_refgenome).parameters:
        pytest.skip("Bioseq.create_from_refgenome has no unphased= (create_personal has)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SkippedCallsWarning)
        ds = Bioseq.create_from_refgenome("personal", genome["fasta"], binsize=50,
                                          variants=unphased_vcf["path"], samples=SAMPLES,
                                          unphased="alt")
    check_all(ds, genome, unphased_vcf["records"], 1, unphased="alt")


def test_personal_bioseq_create_from_refgenome(genome, vcf):
    """The class's own constructor works without the hook."""
    with pytest.warns(SkippedCallsWarning):
        ds = PersonalBioseq.create_from_refgenome("personal", genome["fasta"], binsize=50,
                                                  variants=vcf["path"], samples=["S2"])
    assert ds.samples == ["S2"] and len(ds) == 14 * 2
    with pytest.raises(ArgumentError, match="needs variants"):
        PersonalBioseq.create_from_refgenome("personal", genome["fasta"], binsize=50)


def test_personal_constructors_take_bioseqs_positional_arguments(genome, vcf):
    """create_personal and PersonalBioseq.create_from_refgenome take the positional
    arguments of Bioseq.create_from_refgenome (Janggu's order: binsize, then stepsize), and
    the same call through each gives the same windows and values (binsize and stepsize
    were swapped: 100-base windows every 200 bases for 200-base windows every 100)."""
    import inspect

    from genozarr import Bioseq

    def positional(func: object) -> list[str]:
        return [p.name for p in inspect.signature(func).parameters.values()
                if p.kind is p.POSITIONAL_OR_KEYWORD]

    assert positional(create_personal) == positional(Bioseq.create_from_refgenome)
    roi = pd.DataFrame({"chrom": ["chr1"], "start": [0], "end": [400]})
    makers = (Bioseq.create_from_refgenome, PersonalBioseq.create_from_refgenome,
              create_personal)
    with pytest.warns(SkippedCallsWarning):
        built = [make("p", genome["fasta"], roi, 200, 100, variants=vcf["path"])
                 for make in makers]
    for ds in built:
        assert ds.gindexer.starts.tolist() == [0, 100, 200]
        assert ds.gindexer.ends.tolist() == [200, 300, 400]
        np.testing.assert_array_equal(ds[:], built[0][:])


# ---------------------------------------------------------------------- random calls
def random_records(rng: np.random.Generator, seqs: dict, n: int) -> list[tuple]:
    """Random SNVs, MNVs, insertions, deletions and multi-allelic records (overlapping
    each other often), random phased calls with missing alleles; sorted by position."""
    recs = []
    for k in range(n):
        chrom = str(rng.choice(list(seqs)))
        seq = seqs[chrom]
        pos0 = int(rng.integers(0, len(seq) - 1))
        span = int(min(rng.choice([1, 1, 1, 2, 3, 6, 12]), len(seq) - pos0))
        ref = seq[pos0:pos0 + span]
        alts = []
        for _ in range(int(rng.choice([1, 1, 2, 3]))):
            kind = rng.choice(["snv", "ins", "del", "sub"])
            if kind == "snv" or span == 1 and kind == "del":
                alt = _oth(ref[0], int(rng.integers(1, 4))) + ref[1:]
            elif kind == "ins":
                alt = ref + "".join(rng.choice(list("ACGT"), int(rng.integers(1, 9))))
            elif kind == "del":
                alt = ref[:int(rng.integers(1, span))]
            else:
                alt = ref[0] + "".join(rng.choice(list("ACGT"), int(rng.integers(0, 5))))
            if alt != ref and alt not in alts:
                alts.append(alt)
        if not alts:
            continue
        gts = {}
        for s in SAMPLES:
            a = [str(int(rng.integers(0, len(alts) + 1))) if rng.random() < 0.9 else "."
                 for _ in range(2)]
            gts[s] = "|".join(a)
        recs.append((chrom, pos0, ref, alts, f"r{k}", gts))
    return sorted(recs, key=lambda r: (list(seqs).index(r[0]), r[1]))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_calls_match_hand_splicing(genome, monkeypatch, seed):
    import genozarr.personal as personal

    rng = np.random.default_rng(seed)
    recs = random_records(rng, genome["seqs"], 80)
    path = genome["dir"] / f"random{seed}.vcf" if seed != 1 else \
        genome["dir"] / f"random{seed}.vcf.gz"
    write_vcf(path, recs, genome["seqs"])
    if seed == 1:
        pysam.tabix_index(str(path), preset="vcf", force=True)
    monkeypatch.setattr(personal, "_BLOCK_BASES", 29)
    monkeypatch.setattr(personal, "_BLOCK_WINDOWS", 1 + seed)
    roi = pd.DataFrame({"chrom": ["chr1", "chr2", "chr1"], "start": [0, 17, 205],
                        "end": [230, 300, 400], "strand": ["+", "-", "-"]})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ds = create_personal(f"random{seed}", genome["fasta"], variants=str(path), roi=roi,
                             binsize=37, stepsize=23, flank=3, samples=SAMPLES[::-1],
                             random_state=seed, order=1 + seed % 3)
    check_all(ds, genome, recs, 1 + seed % 3)
    n_skipped = sum(expected_counts(genome["seqs"], recs, gindexer=ds.gindexer).values())
    assert sum(ds.skipped.values()) == n_skipped
    assert len([w for w in caught if w.category is SkippedCallsWarning]) == (n_skipped > 0)


def test_genotype_parsing_fast_and_slow_paths():
    """Lines of fixed-width GT calls are decoded with numpy; other lines (other FORMAT
    fields, multi-digit alleles, haploid calls, a width that only looks fixed, missing
    columns) one call at a time, with the same result."""
    from genozarr.personal import _parse_lines

    head = "chr1\t{pos}\t.\tA\tC,G,T,AC,AG,AT,CC,CG,CT,GG,GA\t.\t.\t."
    lines = [
        head.format(pos=1) + "\tGT\t0/1\t1/0\t.|2",         # fast
        head.format(pos=2) + "\tGT\t10\t0|10\t0|1",          # width 11, but not calls
        head.format(pos=3) + "\tGT:DP\t1|0:5\t./.:3\t0|1",    # another FORMAT field
        head.format(pos=4) + "\tGT\t1\t0|11\t.",             # haploid, two digits
        head.format(pos=5) + "\tDP\t3\t4\t5",                # no GT: missing
        head.format(pos=6),                                  # no calls at all
    ]
    recs = _parse_lines(lines, [2, 0], "test", 3)
    assert recs.pos0.tolist() == [0, 1, 2, 3, 4, 5]
    assert recs.gt[:, 0].tolist() == [[-1, 2], [0, 1], [0, 1], [-1, -1], [-1, -1], [-1, -1]]
    assert recs.gt[:, 1].tolist() == [[0, 1], [10, 10], [1, 0], [1, 1], [-1, -1], [-1, -1]]
    assert recs.phased[:, 1].tolist() == [False, True, True, True, True, True]
    assert recs.phased[0].tolist() == [True, False]
    assert recs.alts[0][:3] == ["C", "G", "T"] and recs.span.tolist() == [1] * 6


# ---------------------------------------------------------------------- other inputs
def _write_2bit(path: Path, seqs: dict) -> str:
    """A minimal UCSC 2bit file (no N or mask blocks): magic, version, count, reserved;
    index (name size, name, offset); per sequence dnaSize, 0 N blocks, 0 mask blocks,
    reserved, 4 bases per byte (T=0 C=1 A=2 G=3, first base in the high bits)."""
    import struct

    code = {"T": 0, "C": 1, "A": 2, "G": 3}
    bodies = []
    for seq in seqs.values():
        packed = bytearray()
        for i in range(0, len(seq), 4):
            byte = 0
            for j in range(4):
                byte = (byte << 2) | (code[seq[i + j]] if i + j < len(seq) else 0)
            packed.append(byte)
        bodies.append(struct.pack("<IIII", len(seq), 0, 0, 0) + bytes(packed))
    out = struct.pack("<IIII", 0x1A412743, 0, len(seqs), 0)
    offset = 16 + sum(1 + len(name) + 4 for name in seqs)
    for name, body in zip(seqs, bodies):
        out += struct.pack("<B", len(name)) + name.encode() + struct.pack("<I", offset)
        offset += len(body)
    path.write_bytes(out + b"".join(bodies))
    return str(path)


def test_twobit_reference(genome, vcf):
    twobit = _write_2bit(genome["dir"] / "genome.2bit", genome["seqs"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SkippedCallsWarning)
        ds = create_personal("personal2bit", twobit, binsize=50, variants=vcf["path"],
                             samples=SAMPLES)
    check_all(ds, genome, vcf["records"], 1)


@pytest.fixture(scope="module")
def served(genome):
    """``(directory, base URL)`` of a range-capable HTTP server on 127.0.0.1."""
    from genozarr.testing.servers import serve_directory

    root = genome["dir"] / "served"
    root.mkdir(exist_ok=True)
    with serve_directory(root) as base:
        yield root, base


def test_fasta_and_vcf_over_http(genome, vcf, served):
    pytest.importorskip("aiohttp")
    import shutil

    root, base = served
    shutil.copy(genome["fasta"], root / "genome.fa")
    gz = write_vcf(root / "calls.vcf.gz", vcf["records"], genome["seqs"])
    pysam.tabix_index(gz, preset="vcf", force=True)
    local = build(genome, gz, roi=ROI, binsize=40, stepsize=30, flank=5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SkippedCallsWarning)
        remote = create_personal("remote", f"{base}/genome.fa", roi=ROI, binsize=40,
                                 stepsize=30, flank=5, variants=f"{base}/calls.vcf.gz",
                                 samples=SAMPLES)
    np.testing.assert_array_equal(remote[:], local[:])
    inputs = [i["path"] for i in remote.garray.meta.recipe["inputs"]]
    assert f"{base}/calls.vcf.gz" in inputs and f"{base}/genome.fa" in inputs
    assert remote.garray.meta.recipe["args"]["variants"] == f"{base}/calls.vcf.gz"
    source = PersonalSource(f"{base}/genome.fa", f"{base}/calls.vcf.gz", SAMPLES)
    assert source.mode == "tabix" and not source.vcf_path.startswith("http")
    again = pickle.loads(pickle.dumps(source))
    assert again.vcf_path == source.vcf_path


# ---------------------------------------------------------------------- malformed input
SMALL_HEADER = ("##fileformat=VCFv4.2\n##contig=<ID=chr1,length=400>\n"
                '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n'
                '##FORMAT=<ID=GQ,Number=1,Type=Integer,Description="Quality">\n'
                "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t")


def text_vcf(genome, name: str, body: str, samples=("S1", "S2", "S3"),
             tabix: bool = False) -> str:
    """A VCF written as text (plain, or bgzip + tabix)."""
    path = genome["dir"] / f"{name}.vcf"
    path.write_text(SMALL_HEADER + "\t".join(samples) + "\n" + body)
    if tabix:
        return pysam.tabix_index(str(path), preset="vcf", force=True)
    return str(path)


def rec_line(seqs, pos0: int, fmt: str, *calls: str) -> str:
    c1 = seqs["chr1"]
    return "\t".join(["chr1", str(pos0 + 1), ".", c1[pos0], _oth(c1[pos0]), ".", ".", ".",
                      fmt, *calls]) + "\n"


@pytest.mark.parametrize("tabix", [False, True])
def test_gt_anywhere_in_format_and_records_without_gt(genome, tabix):
    """GT read wherever it is in FORMAT ('GQ:GT', invalid but unambiguous; a sample that
    drops it: missing); a record whose FORMAT has no GT keeps the reference and counts
    2 x samples calls 'no GT field' (was: every call silently missing)."""
    seqs = genome["seqs"]
    body = (rec_line(seqs, 20, "GQ:GT", "30:1|0", "20:0|1", "5")        # S3 drops GT
            + rec_line(seqs, 40, "GQ", "30", "20", "10")                 # no GT at all
            + rec_line(seqs, 60, "GT:GQ", "1|1:3", "0|0:4", ".:5"))
    path = text_vcf(genome, f"gq_gt_{tabix}", body, tabix=tabix)
    records = [  # the same calls, as the truth reads them
        ("chr1", 20, seqs["chr1"][20], [_oth(seqs["chr1"][20])], "a", {"S1": "1|0", "S2": "0|1"}),
        ("chr1", 60, seqs["chr1"][60], [_oth(seqs["chr1"][60])], "c", {"S1": "1|1"})]
    with pytest.warns(SkippedCallsWarning, match=r"6 no GT field") as seen:
        ds = create_personal("gq", genome["fasta"], roi="chr1:0-100", binsize=100,
                             variants=path, samples=SAMPLES)
    assert len([w for w in seen if w.category is SkippedCallsWarning]) == 1
    assert dict(ds.skipped) == {"no GT field": 6}
    check_all(ds, genome, records, 1)
    for sample, hap, base in (("S1", 0, 1), ("S1", 1, 0), ("S2", 1, 1), ("S3", 0, 0)):
        got = ds[ds.index_of(0, sample, hap)][0][20].argmax()
        assert "ACGT"[got] == (_oth(seqs["chr1"][20]) if base else seqs["chr1"][20])


@pytest.mark.parametrize("tabix", [False, True])
def test_fewer_sample_columns_than_the_header_is_an_error(genome, tabix):
    """A record with 2 sample columns under a header of 3: an error naming the file, the
    record and the counts, whichever samples are listed (was: bgzip + tabix read every
    call as missing, silently; a plain VCF gave a bare OSError or, for a listed sample
    whose column is there, read it)."""
    seqs = genome["seqs"]
    body = rec_line(seqs, 10, "GT", "1|0", "1|1", "0|0") + rec_line(seqs, 30, "GT", "1|1", "1|1")
    path = text_vcf(genome, f"fewer_{tabix}", body, tabix=tabix)
    for samples in (["S1"], SAMPLES):
        with pytest.raises(MalformedFileError) as e:
            create_personal("f", genome["fasta"], roi="chr1:0-100", binsize=50,
                            variants=path, samples=samples)
        message = str(e.value)
        assert message.startswith(path) and "chr1:31" in message
        assert re.search(r"\b2\b.*\b3\b", message), message


@pytest.mark.parametrize("tabix", [False, True])
@pytest.mark.parametrize("call", ["-3|1", "0|-1", "a|b"])
def test_bad_allele_index_is_an_error(genome, tabix, call):
    """A negative allele index was read as a missing allele with bgzip + tabix (the
    reference, silently); now a MalformedFileError naming the file and the record in every
    mode."""
    seqs = genome["seqs"]
    body = rec_line(seqs, 10, "GT", "0|0", "0|0", "0|0") + rec_line(seqs, 30, "GT", call, "1|1", "0|0")
    path = text_vcf(genome, f"neg_{tabix}_{call.replace('|', '_')}", body, tabix=tabix)
    with pytest.raises(MalformedFileError, match=re.escape(path)) as e:
        create_personal("n", genome["fasta"], roi="chr1:0-100", binsize=50, variants=path,
                        samples=["S1"])
    assert "chr1:31" in str(e.value) or "chr1:11" in str(e.value)


BAD_RECORDS = {
    "7 columns": "chr1\t60\t.\tA\tC\t.\t.\n",
    "4 columns": "chr1\t60\t.\tA\n",
    "POS 6x0": "chr1\t6x0\t.\tA\tC\t.\t.\t.\tGT\t1|0\t0|0\t0|0\n",
    "POS -5": "chr1\t-5\t.\tA\tC\t.\t.\t.\tGT\t1|0\t0|0\t0|0\n",
    "spaces": "chr1 60 . A C . . . GT 1|0 0|0 0|0\n",
    "ends after FORMAT": "chr1\t60\t.\tA\tC\t.\t.\t.\tGT\n",
}


@pytest.mark.parametrize(("bad", "tabix"), [(bad, tabix) for bad in BAD_RECORDS
                                             for tabix in (False, True)
                                             # (tabix refuses to index that file)
                                             if not (bad == "spaces" and tabix)])
def test_malformed_records_name_the_file(genome, tabix, bad):
    """Malformed records: a MalformedFileError naming the file and where (was a bare
    OSError 'truncated file' / ValueError naming nothing, or with bgzip + tabix a ValueError
    or the reference)."""
    seqs = genome["seqs"]
    body = BAD_RECORDS[bad] + rec_line(seqs, 69, "GT", "1|0", "0|0", "0|0")
    path = text_vcf(genome, f"bad_{tabix}_{bad.replace(' ', '_')}", body, tabix=tabix)
    with pytest.raises(MalformedFileError, match=re.escape(path)) as e:
        create_personal("m", genome["fasta"], roi="chr1:0-100", binsize=50, variants=path,
                        samples=["S1"])
    message = str(e.value)
    # where: the record (read by genozarr) or htslib's reason after 'its first record'
    assert re.search(r"record chr1:(60|6x0|-5) |its first record", message), message


def test_record_checks_of_the_line_parser():
    """genozarr's own parser of tabix lines: POS and columns checked, record named."""
    from genozarr.personal import _parse_lines

    good = "chr1\t5\t.\tA\tC\t.\t.\t.\tGT\t0|1\t1|1"
    for line, what in (("chr1\t6x0\t.\tA\tC\t.\t.\t.\tGT\t0|1\t1|1", "POS '6x0'"),
                       ("chr1\t-5\t.\tA\tC\t.\t.\t.\tGT\t0|1\t1|1", "POS '-5'"),
                       ("chr1\t0\t.\tA\tC\t.\t.\t.\tGT\t0|1\t1|1", "POS '0'"),
                       ("chr1\t7\t.\tA\tC\t.\t.\t.\tGT\t0|1", "chr1:7 has 1 sample"),
                       ("chr1\t7\t.\tA\tC\t.\t.\t.\tGQ:GT\t3:-1|1\t4:1|1", "chr1:7: cannot"),
                       ("chr1\t7\t.\tA\tC\t.\t.", "chr1:7 has 7")):
        with pytest.raises(MalformedFileError, match=re.escape("the.vcf: the record ")) as e:
            _parse_lines([good, line], [0, 1], "the.vcf", 2)
        assert what in str(e.value), str(e.value)
    # POS 0 is VCF 4.3's telomere, for breakends and symbolic alleles only
    for alt in ("N[chr2:10[", "<DEL>", "<INS>,]chr2:5]N"):
        telomere = _parse_lines([f"chr1\t0\t.\tN\t{alt}\t.\t.\t.\tGT\t0|1\t1|1", good],
                                [0, 1], "the.vcf", 2)
        assert telomere.pos0.tolist() == [-1, 4]
    with pytest.raises(MalformedFileError, match=r"POS '0', not a positive integer \(POS 0 is "
                                                 r"a telomere's"):
        _parse_lines([good, "chr1\t0\t.\tN\t<DEL>,C\t.\t.\t.\tGT\t0|1\t1|1"], [0, 1],
                     "the.vcf", 2)
    recs = _parse_lines([good, "chr1\t9\t.\tA\tC\t.\t.\t.\tGQ:DP:GT\t3:4:1|0\t2\t"], [0, 1],
                        "the.vcf", 2)
    assert recs.gt.tolist() == [[[0, 1], [1, 1]], [[1, 0], [-1, -1]]]
    assert recs.no_gt.tolist() == [False, False] and recs.pos0.tolist() == [4, 8]


def test_plain_gzip_and_empty_samples(genome, vcf):
    import gzip

    path = str(genome["dir"] / "plain_gzip.vcf.gz")
    with gzip.open(path, "wt") as fh:
        fh.write(Path(vcf["path"]).read_text())
    with pytest.raises(InputFileError, match=r"plain gzip.*bgzip") as e:
        create_personal("g", genome["fasta"], binsize=50, variants=path)
    assert path in str(e.value) and f"'gunzip {path} && bgzip" in str(e.value)
    with pytest.raises(ArgumentError, match=r"samples=\[\] lists no sample") as e:
        create_personal("s", genome["fasta"], binsize=50, variants=vcf["path"], samples=[])
    assert "has none" not in str(e.value) and "S1" in str(e.value)


@pytest.mark.parametrize("csi", [False, True])
def test_stale_index_is_an_error(genome, vcf, tmp_path, csi):
    """An index older than its VCF (the file rewritten after indexing): StaleIndexError
    naming both and the fix (was: records missed, the reference served silently, or a bare
    OSError 'truncated file')."""
    import os

    path = tmp_path / "calls.vcf"
    path.write_text(Path(vcf["path"]).read_text())
    gz = pysam.tabix_index(str(path), preset="vcf", force=True, csi=csi)
    index = gz + (".csi" if csi else ".tbi")
    fresh = build(genome, gz, roi=ROI, binsize=40)
    check_all(fresh, genome, vcf["records"], 1)
    st = os.stat(gz)
    second = st.st_mtime_ns // 10**9 * 10**9  # older within the file's second: as old (as
    os.utime(gz, ns=(st.st_atime_ns, second + 10**6))  # htslib tells it; copied first)
    os.utime(index, ns=(st.st_atime_ns, second))
    check_all(build(genome, gz, roi=ROI, binsize=40), genome, vcf["records"], 1)
    os.utime(index, ns=(st.st_atime_ns, second - 10**6))   # index older than file
    with pytest.raises(StaleIndexError) as e:
        build(genome, gz, roi=ROI, binsize=40)
    message = str(e.value)
    assert index in message and gz in message and "tabix -p vcf" in message
    # an old index of another kind beside a fresh one that the reads go through (tabix
    # reads the .tbi): not an error
    if csi:
        pysam.tabix_index(gz, preset="vcf", force=True)  # a fresh .tbi; the .csi stays old
        check_all(build(genome, gz, roi=ROI, binsize=40), genome, vcf["records"], 1)


def test_vcf_handles_stay_bounded_across_rewritten_and_new_files(genome, vcf):
    """Every indexed VCF a build read kept an open handle for the life of the process,
    and a VCF rewritten in place one more: a notebook regenerating its calls, or a build
    per sample's VCF, ran out of file descriptors (an audit: +1 open file per build; an
    unrelated BigWig then 'could not be opened'). Handles of a rewritten file are closed,
    and at most max_open_handles stay open."""
    import os

    import genozarr.personal as gp
    from genozarr.io._handles import max_open_handles

    def open_fds() -> int:
        return len(os.listdir("/proc/self/fd"))

    d = genome["dir"] / "handles"
    d.mkdir()
    recs = main_records(genome["seqs"])
    roi = ROI.iloc[:1]
    old = max_open_handles(3)
    try:
        same = d / "same.vcf.gz"
        before = None
        for i in range(8):  # the same file rewritten, then 8 new files
            write_vcf(same, recs[: len(recs) - i % 3], genome["seqs"])
            pysam.tabix_index(str(same), preset="vcf", force=True)
            os.utime(same, ns=(10**18 + i, 10**18 + i))  # another signature each time
            build(genome, str(same), roi=roi, binsize=120)[:]
            before = open_fds() if before is None else before
        assert open_fds() <= before
        assert sum(1 for k in gp._handles if str(same) in k[2]) == 1
        for i in range(8):
            path = write_vcf(d / f"v{i}.vcf.gz", recs, genome["seqs"])
            pysam.tabix_index(path, preset="vcf", force=True)
            ds = build(genome, path, roi=roi, binsize=120)
            assert check_all(ds, genome, recs, 1) == len(ds)  # values still right
        mine = [k for k in gp._handles if k[0] == os.getpid()]
        assert len(mine) <= 3
        assert open_fds() <= before + 3
    finally:
        max_open_handles(old)


@pytest.mark.parametrize("tabix", [False, True])
def test_a_telomere_breakend_at_pos_0_is_not_applied(genome, tabix):
    """POS 0 is VCF 4.3's telomere, for breakends and symbolic alleles: such a record
    was refused as a POS that is not a positive integer; it is not applied, and the
    other records are, as without it."""
    seqs = genome["seqs"]
    calls = rec_line(seqs, 3, "GT", "1|0", "0|1", "1|1") + \
        rec_line(seqs, 69, "GT", "0|1", "0|0", "1|0")
    telomere = "chr1\t0\t.\tN\tN[chr2:10[\t.\t.\t.\tGT\t0|1\t1|1\t0|0\n"
    plain = build(genome, text_vcf(genome, f"plain_{tabix}", calls, tabix=tabix),
                  roi="chr1:0-100", binsize=50)
    got = build(genome, text_vcf(genome, f"telomere_{tabix}", telomere + calls, tabix=tabix),
                roi="chr1:0-100", binsize=50)
    np.testing.assert_array_equal(got[:], plain[:])
    assert not np.array_equal(plain[:], build(genome, text_vcf(genome, f"none_{tabix}", "",
                                                               tabix=tabix),
                                              roi="chr1:0-100", binsize=50)[:])


def test_a_view_by_window_indices_takes_every_item_of_those_windows(genome, vcf):
    """view() checked window indices against the windows but handed them to subset(),
    which counts items (window x sample x haplotype): view(ds, slice(None)) kept the
    first n_windows items, view(ds, [1]) the item 1 (window 0). A view by window indices
    now holds every item of those windows, in their order, as a view by their regions."""
    from genozarr import view

    ds = build(genome, vcf["path"], roi=ROI, binsize=40)
    per = 2 * len(SAMPLES)
    n = len(ds.gindexer)
    assert len(view(ds, slice(None))) == len(ds) == n * per
    np.testing.assert_array_equal(view(ds, slice(None))[:], ds[:])
    picked = [2, 0]
    want = [ds.index_of(w, s, h) for w in picked for s in SAMPLES for h in (0, 1)]
    got = view(ds, picked)
    assert len(got) == len(picked) * per
    assert got.window_of(np.arange(len(got))).tolist() == [2] * per + [0] * per
    np.testing.assert_array_equal(got[:], ds[want])
    mask = np.zeros(n, dtype=bool)
    mask[n - 1] = True
    np.testing.assert_array_equal(view(ds, mask)[:], ds[[ds.index_of(n - 1, s, h)
                                                         for s in SAMPLES for h in (0, 1)]])
    # of a subset: its items of those windows
    sub = ds.subset(np.arange(0, len(ds), 2))
    assert view(sub, [0]).window_of(np.arange(per // 2)).tolist() == [0] * (per // 2)


def test_split_train_test_of_a_personal_genome_splits_its_items_by_window(genome, vcf):
    """A wrapper around a personal genome was split through view() (window indices since
    view() takes every item of a window) while the dataset itself and the labels were
    split by subset(): the parts differed in length. A wrapper is split as the dataset
    it wraps; and the window indices of the held-out chromosomes were taken as item
    indices (the first items, of other windows): the parts now hold every item of their
    windows."""
    from genozarr.janggu import split_train_test
    from genozarr.wrappers import ReduceDim

    ds = build(genome, vcf["path"], roi=ROI, binsize=40)
    labels = np.arange(len(ds))
    (bare, bare_y), _ = split_train_test((ds, labels), holdout_chroms="chr2")
    (wrapped, wrapped_y), _ = split_train_test((ReduceDim(ds), labels), holdout_chroms="chr2")
    assert len(wrapped) == len(wrapped_y) == len(bare) == len(bare_y)
    np.testing.assert_array_equal(wrapped[:], ReduceDim(bare)[:])
    # the parts hold every item of the windows off and on chr2, with their labels (the
    # window indices were taken as item indices: the first items, of other windows)
    chr2 = ds.gindexer.chrs.astype(str) == "chr2"
    on = np.isin(ds.window_of(np.arange(len(ds))), np.flatnonzero(chr2))
    (train, train_y), (test, test_y) = split_train_test((ds, labels), holdout_chroms="chr2")
    assert train_y.tolist() == np.flatnonzero(~on).tolist()
    assert test_y.tolist() == np.flatnonzero(on).tolist()
    np.testing.assert_array_equal(train[:], ds[train_y])
    np.testing.assert_array_equal(test[:], ds[test_y])
    half = ds.subset(np.arange(len(ds))[::-1])  # a subset in its own order
    (_, half_y), _ = split_train_test((half, labels[::-1]), holdout_chroms="chr2")
    assert sorted(half_y.tolist()) == np.flatnonzero(~on).tolist()
