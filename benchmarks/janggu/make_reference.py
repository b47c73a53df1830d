"""Golden values from Janggu 0.10.2 itself, for ``tests/test_janggu_reference.py``.

Run with the Janggu virtualenv made by ``benchmarks/janggu/setup.sh`` (default
``/tmp/janggu_venv``), not with genozarr's, from the repository root::

    /tmp/janggu_venv/bin/python benchmarks/janggu/make_reference.py

It builds Janggu datasets (``janggu.data.Cover`` and ``Bioseq``, ``storage='ndarray'``,
``cache=False``) on genozarr's bundled sample data (``genozarr/resources/``, read by path:
genozarr is not imported here) and writes

- ``tests/data/janggu_0.10.2_reference.npz``: per case ``<case>`` the values Janggu serves
  for the kept windows (or interval keys) as float32 (``<case>``), and the dataset's shape
  (``<case>__shape``);
- ``tests/data/janggu_0.10.2_reference.json``: per case the Janggu call as a string, its
  positional and keyword arguments (files as ``@key`` placeholders), the kept windows (their
  indices and coordinates) or the interval keys, and the genozarr-side adjustments below.

CI has no Janggu: the test rebuilds each case with genozarr and compares with these files.

Cases avoid the deliberate differences listed in ``docs/coming-from-janggu.md``, or record
the documented transformation for the test to apply:

- BAM: Janggu counts secondary and supplementary reads, genozarr never does. Both sides read
  a copy of ``sample.bam`` without them (``@bam_filtered``, made the same way by the test);
  genozarr then counts duplicates and QC-fail reads as Janggu does with
  ``include_flagged=True`` (``genozarr_kwargs``).
- BAM: Janggu counts a reverse single-end read at ``reference_end``, one past its 5' base.
  For ``@bam`` Janggu reads a copy whose reverse reads have their last aligned base
  soft-clipped (so its ``reference_end`` is genozarr's 5' base ``reference_end - 1`` of the
  original); genozarr reads ``@bam_filtered``. One case (``transform='shift_minus_5p'``)
  reads the unmodified ``@bam_filtered`` on both sides, and the test shifts Janggu's minus
  strand by one base, as the documentation describes.
- Windows whose flank runs past a chromosome start or end are not kept (Janggu clips them).
- Regions and binsizes sit on the resolution grid (no partial last bin, which Janggu fills
  by wrap-around); BED scores are integers and features do not overlap; whole-genome stores
  have windows on every chromosome; no ``'-'`` interval key on a ``Bioseq``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import sys
import tempfile
import types
import warnings
from pathlib import Path

import numpy as np
import pysam

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
RESOURCES = ROOT / "genozarr" / "resources"
OUT_NPZ = ROOT / "tests" / "data" / "janggu_0.10.2_reference.npz"
OUT_JSON = ROOT / "tests" / "data" / "janggu_0.10.2_reference.json"
JANGGU_VERSION = "0.10.2"
N_KEEP = 20

#: ``@key`` placeholders of the cases -> bundled file names (the BAMs are made here).
FILES = {
    "fasta": "sample.fa",
    "bigwig_a": "sample_a.bw",
    "bigwig_b": "sample_b.bw",
    "roi": "sample.bed",
    "peaks": "peaks.bed",
}
BAM_KWARGS = {"include_flagged": True}
COMMON = {"storage": "ndarray", "cache": False}
#: Runs of N in sample.fa (chr1:8001-8110, chr2:14976-15117) and gaps of sample_b.bw
#: (chr1:4650-5150, chr2:12150-12650, and the N runs): windows overlapping them are kept too.
GAPS = [["chr1", 8001, 8110], ["chr2", 14976, 15117], ["chr1", 4650, 5150],
        ["chr2", 12150, 12650]]

# Each case: name, method ("Cover.create_from_bigwig", ...), args (positional, Janggu's
# order), kwargs, select ("spread": N_KEEP windows evenly spaced; "inner": the same among the
# windows whose flank stays on the chromosome; {"base": either, "overlapping": intervals}: and
# every window overlapping them; or a list of interval keys), transform.
CASES: list[dict] = [
    # ---------------------------------------------------------------- BigWig
    dict(name="bigwig_res1_positional", method="Cover.create_from_bigwig",
         args=["bw", "@bigwig_a", "@roi", None, None, 200, None, 1], kwargs={}),
    dict(name="bigwig_res50_mean_two_files", method="Cover.create_from_bigwig",
         args=["bw", ["@bigwig_a", "@bigwig_b"], "@roi"],
         kwargs={"binsize": 200, "resolution": 50, "collapser": "mean"}),
    dict(name="bigwig_res50_max", method="Cover.create_from_bigwig",
         args=["bw", "@bigwig_b", "@roi"],
         kwargs={"binsize": 200, "resolution": 50, "collapser": "max"}),
    dict(name="bigwig_res50_sum", method="Cover.create_from_bigwig",
         args=["bw", "@bigwig_a", "@roi"],
         kwargs={"binsize": 200, "resolution": 50, "collapser": "sum"}),
    dict(name="bigwig_resNone_two_files", method="Cover.create_from_bigwig",
         args=["bw", ["@bigwig_a", "@bigwig_b"], "@roi", None, None, 200, None, None], kwargs={}),
    dict(name="bigwig_flank_positional", method="Cover.create_from_bigwig",
         args=["bw", "@bigwig_a", "@roi", None, None, 200, None, 1, 50], kwargs={},
         select="inner"),
    dict(name="bigwig_flank25_res50_positional", method="Cover.create_from_bigwig",
         args=["bw", "@bigwig_a", "@roi", None, None, 200, None, 50, 25], kwargs={},
         select="inner"),
    dict(name="bigwig_peaks_zero_padding_false", method="Cover.create_from_bigwig",
         args=["bw", "@bigwig_a", "@peaks"],
         kwargs={"binsize": 200, "zero_padding": False}),
    dict(name="bigwig_peaks_zero_padding_true", method="Cover.create_from_bigwig",
         args=["bw", "@bigwig_a", "@peaks"], kwargs={"binsize": 200}),
    dict(name="bigwig_whole_genome_res50_two_files", method="Cover.create_from_bigwig",
         args=["bw", ["@bigwig_a", "@bigwig_b"], "@roi"],
         kwargs={"binsize": 200, "resolution": 50, "store_whole_genome": True}),
    dict(name="bigwig_whole_genome_intervals", method="Cover.create_from_bigwig",
         args=["bw", "@bigwig_a", "@roi"],
         kwargs={"binsize": 200, "store_whole_genome": True},
         select=[["chr1", 1000, 1200], ["chr1", 7000, 8000], ["chr1", 4050, 4150, "-"],
                 ["chr2", 19900, 20000], ["chr2", 10, 110]]),
    dict(name="bigwig_whole_genome_res50_intervals", method="Cover.create_from_bigwig",
         args=["bw", "@bigwig_b", "@roi"],
         kwargs={"binsize": 200, "resolution": 50, "store_whole_genome": True},
         select=[["chr1", 1000, 1200], ["chr1", 1025, 1130], ["chr2", 7010, 7500]]),
    dict(name="bigwig_b_gaps_res1", method="Cover.create_from_bigwig",
         args=["bw", "@bigwig_b", "@roi"], kwargs={"binsize": 200},
         select={"base": "spread", "overlapping": GAPS}),
    dict(name="bigwig_partial_intervals", method="Cover.create_from_bigwig",
         args=["bw", "@bigwig_a", "@roi"], kwargs={"binsize": 200},
         select=[["chr1", 900, 1100], ["chr1", 7000, 7100], ["chr1", 4100, 4300, "-"],
                 ["chr2", 14950, 15150]]),
    dict(name="bigwig_whole_genome_zscore", method="Cover.create_from_bigwig",
         args=["bw", ["@bigwig_a", "@bigwig_b"], "@roi"],
         kwargs={"binsize": 200, "resolution": 50, "store_whole_genome": True,
                 "normalizer": "zscore"}),
    dict(name="bigwig_whole_genome_res50_minus_key", method="Cover.create_from_bigwig",
         args=["bw", "@bigwig_a", "@roi"],
         kwargs={"binsize": 200, "resolution": 50, "store_whole_genome": True},
         select=[["chr1", 4025, 4160, "-"]]),
    dict(name="bigwig_zscore", method="Cover.create_from_bigwig",
         args=["bw", ["@bigwig_a", "@bigwig_b"], "@roi"],
         kwargs={"binsize": 200, "resolution": 50, "normalizer": "zscore"}),
    # ---------------------------------------------------------------- BAM
    dict(name="bam_res1_stranded_positional", method="Cover.create_from_bam",
         args=["reads", "@bam", "@roi", None, None, None, 200], kwargs={}),
    dict(name="bam_res1_stranded_untrimmed_shift", method="Cover.create_from_bam",
         args=["reads", "@bam_filtered", "@roi", None, None, None, 200], kwargs={},
         transform="shift_minus_5p"),
    dict(name="bam_res50_unstranded_mapq", method="Cover.create_from_bam",
         args=["reads", "@bam", "@roi", None, None, 20, 200, None, 0, 50],
         kwargs={"stranded": False}),
    dict(name="bam_resNone_flank", method="Cover.create_from_bam",
         args=["reads", "@bam", "@roi"],
         kwargs={"binsize": 200, "flank": 100, "resolution": None}, select="inner"),
    dict(name="bam_whole_genome_res50", method="Cover.create_from_bam",
         args=["reads", "@bam", "@roi"],
         kwargs={"binsize": 200, "resolution": 50, "store_whole_genome": True}),
    dict(name="bam_whole_genome_intervals", method="Cover.create_from_bam",
         args=["reads", "@bam", "@roi"],
         kwargs={"binsize": 200, "store_whole_genome": True, "min_mapq": 10},
         select=[["chr1", 1300, 1500], ["chr1", 4100, 4300, "-"], ["chr1", 9000, 11000],
                 ["chr2", 7200, 7300]]),
    dict(name="bam_zscore", method="Cover.create_from_bam",
         args=["reads", "@bam", "@roi"],
         kwargs={"binsize": 200, "resolution": 50, "normalizer": "zscore"}),
    dict(name="bam_tpm", method="Cover.create_from_bam",
         args=["reads", "@bam", "@roi"],
         kwargs={"binsize": 200, "resolution": 50, "stranded": False, "normalizer": "tpm"}),
    # ---------------------------------------------------------------- BED
    dict(name="bed_binary_res1_positional", method="Cover.create_from_bed",
         args=["peaks", "@peaks", "@roi", None, None, 200, None, 1], kwargs={}),
    dict(name="bed_binary_res50", method="Cover.create_from_bed",
         args=["peaks", "@peaks", "@roi"], kwargs={"binsize": 200, "resolution": 50}),
    dict(name="bed_binary_resNone", method="Cover.create_from_bed",
         args=["peaks", "@peaks", "@roi"], kwargs={"binsize": 200, "resolution": None}),
    dict(name="bed_score_flank", method="Cover.create_from_bed",
         args=["labels", "@roi", "@roi"],
         kwargs={"binsize": 200, "flank": 100, "mode": "score"}, select="inner"),
    dict(name="bed_name_category_res50", method="Cover.create_from_bed",
         args=["peaks", "@peaks", "@roi"],
         kwargs={"binsize": 1000, "resolution": 50, "mode": "name_category"}),
    # ---------------------------------------------------------------- reference genome
    dict(name="refgenome_order1_positional", method="Bioseq.create_from_refgenome",
         args=["dna", "@fasta", "@roi", 200], kwargs={},
         select={"base": "spread", "overlapping": GAPS}),
    dict(name="refgenome_order2_flank_positional", method="Bioseq.create_from_refgenome",
         args=["dna", "@fasta", "@roi", 200, None, 50, 2], kwargs={},
         select={"base": "inner", "overlapping": GAPS}),
    dict(name="refgenome_order2_whole_genome", method="Bioseq.create_from_refgenome",
         args=["dna", "@fasta", "@roi"],
         kwargs={"binsize": 200, "order": 2, "store_whole_genome": True},
         select={"base": "spread", "overlapping": GAPS}),
    dict(name="refgenome_whole_genome_intervals", method="Bioseq.create_from_refgenome",
         args=["dna", "@fasta", "@roi"],
         kwargs={"binsize": 200, "store_whole_genome": True},
         select=[["chr1", 1000, 1100], ["chr1", 7990, 8120], ["chr1", 9990, 10100],
                 ["chr2", 19950, 20000]]),
]


def import_janggu_data() -> types.ModuleType:
    """``janggu.data`` without running ``janggu/__init__`` (which imports Keras models):
    a stand-in ``keras.utils.Sequence`` and a bare parent package (as ``bench_janggu.py``)."""
    stub = Path(tempfile.mkdtemp(prefix="janggu_stub_"))
    (stub / "keras" / "utils").mkdir(parents=True)
    (stub / "keras" / "__init__.py").write_text("from . import utils\n")
    (stub / "keras" / "utils" / "__init__.py").write_text("class Sequence:\n    pass\n")
    sys.path.insert(0, str(stub))
    spec = importlib.util.find_spec("janggu")
    if spec is None or spec.origin is None:
        raise SystemExit("janggu is not installed: run with /tmp/janggu_venv/bin/python")
    parent = types.ModuleType("janggu")
    parent.__path__ = [os.path.dirname(spec.origin)]
    parent.__file__ = spec.origin
    sys.modules["janggu"] = parent
    import janggu.data as jd  # noqa: PLC0415

    return jd


def filter_bam(src: str, dst: str, trim_reverse: bool) -> None:
    """Copy ``src`` without secondary and supplementary records (0x900); with
    ``trim_reverse``, soft-clip the last aligned base of every mapped reverse read, so that
    its ``reference_end`` moves one base left. Writes ``dst`` and its index."""
    with pysam.AlignmentFile(src, "rb") as inp, \
            pysam.AlignmentFile(dst, "wb", template=inp) as out:
        for read in inp.fetch(until_eof=True):
            if read.flag & 0x900:
                continue
            if trim_reverse and read.is_reverse and not read.is_unmapped:
                cigar = list(read.cigartuples)
                i = len(cigar) - 1
                while cigar[i][0] in (4, 5):  # trailing soft / hard clips
                    i -= 1
                op, length = cigar[i]
                if op != 0 or length < 2:
                    raise ValueError(f"cannot trim {read.query_name}: {read.cigarstring}")
                cigar[i] = (0, length - 1)
                if i + 1 < len(cigar) and cigar[i + 1][0] == 4:
                    cigar[i + 1] = (4, cigar[i + 1][1] + 1)
                else:
                    cigar.insert(i + 1, (4, 1))
                end = read.reference_end
                read.cigartuples = cigar
                assert read.reference_end == end - 1
            out.write(read)
    pysam.index(dst)


def chrom_sizes() -> dict[str, int]:
    """Sizes of the sample genome's chromosomes."""
    lines = (RESOURCES / "sample.chrom.sizes").read_text().split("\n")
    return {c: int(n) for c, n in (line.split("\t") for line in lines if line.strip())}


def resolve(value: object, files: dict[str, str]) -> object:
    """Replace ``@key`` placeholders (also inside lists) with file paths."""
    if isinstance(value, str) and value.startswith("@"):
        return files[value[1:]]
    if isinstance(value, list):
        return [resolve(v, files) for v in value]
    return value


def call_string(case: dict) -> str:
    """The Janggu call as written, files as upper-case names."""
    def fmt(value: object) -> str:
        if isinstance(value, str) and value.startswith("@"):
            return value[1:].upper()
        if isinstance(value, list):
            return "[" + ", ".join(fmt(v) for v in value) + "]"
        return repr(value)

    parts = [fmt(a) for a in case["args"]]
    parts += [f"{k}={fmt(v)}" for k, v in {**case["kwargs"], **COMMON}.items()]
    return f"{case['method']}({', '.join(parts)})"


def kept_windows(ds: object, select: str | dict, sizes: dict[str, int]) -> list[int]:
    """``N_KEEP`` windows evenly spread over the dataset ("spread"), or over those whose
    flank stays within the chromosome ("inner"); with a dict, also every such window that
    overlaps one of ``select["overlapping"]``."""
    gi = ds.gindexer
    base = select["base"] if isinstance(select, dict) else select
    candidates = list(range(len(gi)))
    if base == "inner":
        candidates = [i for i in candidates
                      if gi.starts[i] - gi.flank >= 0
                      and gi.ends[i] + gi.flank <= sizes[gi.chrs[i]]]
    kept = candidates
    if len(candidates) > N_KEEP:
        pick = np.unique(np.linspace(0, len(candidates) - 1, N_KEEP).round().astype(int))
        kept = [candidates[i] for i in pick]
    if isinstance(select, dict):
        kept = sorted(set(kept) | {
            i for i in candidates for chrom, start, end in select["overlapping"]
            if gi.chrs[i] == chrom and gi.starts[i] - gi.flank < end
            and gi.ends[i] + gi.flank > start})
    return kept


def main() -> None:
    """Build every case with Janggu and write the npz and JSON files."""
    warnings.filterwarnings("ignore")
    jd = import_janggu_data()
    sizes = chrom_sizes()
    tmp = Path(tempfile.mkdtemp(prefix="janggu_reference_"))
    os.environ["JANGGU_OUTPUT"] = str(tmp / "janggu_output")
    files = {key: str(RESOURCES / name) for key, name in FILES.items()}
    files["bam_filtered"] = str(tmp / "filtered.bam")
    files["bam"] = str(tmp / "filtered_reverse_trimmed.bam")
    filter_bam(str(RESOURCES / "sample.bam"), files["bam_filtered"], trim_reverse=False)
    filter_bam(str(RESOURCES / "sample.bam"), files["bam"], trim_reverse=True)

    arrays: dict[str, np.ndarray] = {}
    described: list[dict] = []
    for case in CASES:
        cls_name, method = case["method"].split(".")
        func = getattr(getattr(jd, cls_name), method)
        args = resolve(case["args"], files)
        kwargs = {k: resolve(v, files) for k, v in case["kwargs"].items()}
        ds = func(*args, **kwargs, **COMMON)
        select = case.get("select", "spread")
        entry = {
            "name": case["name"],
            "call": call_string(case),
            "method": case["method"],
            "args": case["args"],
            "kwargs": {**case["kwargs"], **COMMON},
            "genozarr_kwargs": BAM_KWARGS if "create_from_bam" in method else {},
            # BigWig means and normalized values compare with rtol=1e-5, counts exactly
            "exact": "bigwig" not in method and "normalizer" not in case["kwargs"],
            "transform": case.get("transform"),
            "shape": list(ds.shape),
        }
        if isinstance(select, list):
            parts = [np.asarray(ds[tuple(key)]) for key in select]
            entry["keys"] = select
            for j, part in enumerate(parts):
                arrays[f"{case['name']}__key{j}"] = part.astype("float32")
        else:
            kept = kept_windows(ds, select, sizes)
            gi = ds.gindexer
            entry["windows"] = kept
            entry["window_coords"] = [
                [str(gi.chrs[i]), int(gi.starts[i]), int(gi.ends[i]), str(gi.strand[i])]
                for i in kept]
            values = np.asarray(ds[kept])
            arrays[case["name"]] = values.astype("float32")
        arrays[f"{case['name']}__shape"] = np.asarray(ds.shape, dtype="int64")
        described.append(entry)
        print(f"{case['name']:40s} shape={tuple(ds.shape)}")

    OUT_NPZ.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(OUT_NPZ, **arrays)
    text = json.dumps({
        "janggu_version": JANGGU_VERSION,
        "generator": "benchmarks/janggu/make_reference.py",
        "files": {**{k: f"genozarr/resources/{v}" for k, v in FILES.items()},
                  "bam_filtered": "genozarr/resources/sample.bam without 0x900 records",
                  "bam": "bam_filtered, reverse reads' last aligned base soft-clipped "
                         "(Janggu side only; genozarr reads bam_filtered)"},
        "cases": described,
    }, indent=1)
    # innermost lists (arguments, windows, coordinates) on one line each
    text = re.sub(r"\[\s+([^\[\]{}]*?)\s+\]", lambda m: "[" + " ".join(m.group(1).split()) + "]",
                  text)
    OUT_JSON.write_text(text + "\n")
    print(f"{OUT_NPZ}: {OUT_NPZ.stat().st_size} bytes, {len(described)} cases")


if __name__ == "__main__":
    main()
