"""Arguments of the wrong type are refused by name, where they were taken silently (a value
truncated, a string read as true, a path named after ``str(value)``) or failed deep inside
with another library's error (an audit that called the public API with wrong types)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import genozarr
from genozarr import Cover, GenomicIndexer, Region
from genozarr.errors import ArgumentError, RegionError
from genozarr.janggu import get_genome_size
from genozarr.ops.normalizers import CPM, TPM, ZScore
from genozarr.resources import resource_path
from genozarr.wrappers import RandomShift


@pytest.fixture(scope="module")
def cover() -> Cover:
    gi = GenomicIndexer(["chr1"] * 6, np.arange(6) * 10, np.arange(6) * 10 + 10,
                        ["+"] * 6, 10, 10)
    return Cover.create_from_array("c", np.arange(60.0).reshape(6, 10, 1, 1), gi)


def test_indexers_and_regions_refuse_what_they_truncated():
    for kw, name in ((dict(flank=True), "flank"), (dict(flank=2.5), "flank"),
                     (dict(binsize="x"), "binsize"), (dict(stepsize=-5), "stepsize"),
                     (dict(zero_padding="false"), "zero_padding")):
        args = {"binsize": 200, "stepsize": 200, **kw}
        with pytest.raises(ArgumentError, match=name):
            GenomicIndexer(["chr1"], [0], [200], ["+"], **args)
    with pytest.raises(ArgumentError, match="starts must hold integer coordinates"):
        GenomicIndexer(["chr1"], [0.5], [200], ["+"], 200, 200)
    with pytest.raises(ArgumentError, match="2, 1, 1 and 1 entries"):
        GenomicIndexer(["chr1", "chr2"], [0], [200], ["+"], 200, 200)
    # integers held in floats or a nullable integer column are coordinates
    gi = GenomicIndexer(["chr1"], pd.array([5], dtype="Int64"), np.array([205.0]), ["+"],
                        200, 200, flank=np.int64(3))
    assert gi.starts.tolist() == [5] and gi.ends.tolist() == [205] and gi.flank == 3
    for start in (2.5, True, "100"):
        with pytest.raises(RegionError, match="start must be an integer"):
            Region("chr1", start, 100)
    assert Region("chr1", np.int64(2), 100).start == 2
    # integer-valued numbers and 0-d arrays are integers (a review: refused by the first fix)
    assert (Region("chr1", 5.0, np.array(9)).start, Region("chr1", 5.0, np.array(9)).end) \
        == (5, 9)


def test_a_store_path_must_be_a_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    gi = GenomicIndexer(["chr1"], [0], [10], ["+"], 10, 10)
    for store in (False, 0, 2.5, [], {}):
        with pytest.raises(ArgumentError, match="store must be a path or URL"):
            Cover.create_from_array("s", np.ones((1, 10, 1, 1)), gi, storage="zarr",
                                    store=store)
    assert os.listdir(tmp_path) == []  # (a store named 'False' was written here)


def test_get_genome_size_takes_paths_only(tmp_path):
    """outputfile=True was taken as file descriptor 1: the sizes went to stdout and it was
    closed (the next print failed)."""
    code = ("from genozarr.janggu import get_genome_size\n"
            "from genozarr.resources import resource_path\n"
            "try:\n"
            "    get_genome_size(resource_path('sample.fa'), outputfile=True)\n"
            "except Exception as e:\n"
            "    print(type(e).__name__)\n"
            "print('still open')\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, "GENOZARR_OUTPUT": str(tmp_path)}, timeout=120)
    assert done.stdout.split() == ["ArgumentError", "still", "open"], done
    sizes = get_genome_size(resource_path("sample.fa"), outputfile=tmp_path / "s.sizes")
    assert get_genome_size(os.fsencode(resource_path("sample.fa"))) == sizes  # bytes paths
    assert (tmp_path / "s.sizes").read_text().split("\n")[0] == \
        f"{next(iter(sizes))}\t{next(iter(sizes.values()))}"


def test_divisors_and_numbers_of_normalizers():
    """CPM(total=0) served inf, ZScore(std=0) inf and NaN; mean=True and total='100' were
    numbers. A negative total stays (a fit after a z-score records one, with a warning,
    and its store must open again); NaN statistics given as None stay missing."""
    for make, name in ((lambda: CPM(total=0), "total"), (lambda: CPM(total=[1e6, 0]), "total"),
                       (lambda: ZScore(std=0.0), "std"), (lambda: TPM(scale=0), "scale")):
        with pytest.raises(ArgumentError, match=f"{name} divides the values"):
            make()
    assert float(CPM(total=-2.0).total) == -2.0
    assert np.isnan(ZScore(mean=[None, 1.0]).mean).tolist() == [[True, False]]
    for make, name in ((lambda: ZScore(mean=True), "mean"), (lambda: CPM(total="100"), "total")):
        with pytest.raises(ArgumentError, match=f"{name} must be a number"):
            make()
    assert float(ZScore(mean=-2.0, std=0.5).std) == 0.5


@pytest.mark.parametrize("flag", ["shuffle", "drop_last"])
def test_flags_are_booleans(cover, flag):
    """drop_last='false' dropped the last batch (a non-empty string is true)."""
    with pytest.raises(ArgumentError, match=flag):
        list(genozarr.batches(cover, batch_size=4, **{flag: "false"}))
    assert len(list(genozarr.batches(cover, batch_size=4, drop_last=False))) == 2
    with pytest.raises(ArgumentError, match="per_strand"):
        ZScore(per_strand="no")
    with pytest.raises(ArgumentError, match="batchwise"):
        RandomShift(cover, 2, batchwise="false")


def test_seeds_chrom_maps_and_other_values_are_named(cover, tmp_path):
    with pytest.raises(ArgumentError, match="seed must be an integer >= 0"):
        list(genozarr.batches(cover, batch_size=4, shuffle=True, seed=-1))
    # what numpy takes as a seed is taken (a review), and an unshuffled plan has no seed
    from genozarr.batching import batch_plan

    for seed in (np.random.SeedSequence(3), [1, 42], np.uint32(7)):
        plan = batch_plan(10, 3, shuffle=True, seed=seed)
        assert sorted(np.concatenate(plan).tolist()) == list(range(10))
    assert len(batch_plan(10, 3, seed=-1)) == 4
    with pytest.raises(ArgumentError, match="random_state must be an int >= 0"):
        RandomShift(cover, 2, random_state=-1)
    with pytest.raises(ArgumentError, match="seqtype must be one of"):
        genozarr.Bioseq.create_from_refgenome("d", resource_path("sample.fa"),
                                              roi=resource_path("sample.bed"), binsize=200,
                                              seqtype=["dna"])
    with pytest.raises(ArgumentError, match="width must be an integer"):
        genozarr.resize_regions(resource_path("sample.bed"), None)
    bed = dict(roi=resource_path("sample.bed"), binsize=200,
               genomesize=resource_path("sample.chrom.sizes"))
    with pytest.raises(ArgumentError, match="chrom_map must be None, 'auto' or a mapping"):
        Cover.create_from_bed("b", resource_path("peaks.bed"), chrom_map="Auto", **bed)
    for bad in (True, "0.5", [0.5]):
        with pytest.raises(ArgumentError, match="minoverlap must be a fraction"):
            Cover.create_from_bed("b", resource_path("peaks.bed"), resolution=50,
                                  minoverlap=bad, **bed)


def test_input_files_and_condition_names_are_named():
    """None or a number as the input files, or as the condition names, gave
    "'NoneType' object is not iterable" from deep inside."""
    roi = dict(roi=resource_path("sample.bed"), binsize=200)
    for files in (None, 3, {"a": resource_path("sample_a.bw")}):
        with pytest.raises(ArgumentError, match="BigWig files must be a path, a URL or a list"):
            Cover.create_from_bigwig("x", files, **roi)
    with pytest.raises(ArgumentError, match="conditions must be a name or a list of names"):
        Cover.create_from_bigwig("x", resource_path("sample_a.bw"), conditions=5, **roi)
    named = Cover.create_from_bigwig("x", [resource_path("sample_a.bw")],
                                     conditions=pd.Index(["a"]), **roi)
    assert named.conditions == ["a"]


def test_default_condition_names_drop_extensions_in_any_case(tmp_path):
    """Condition names are the file names without their extensions, as Janggu's
    ``os.path.splitext``: ``ENCFF001AAA.bigWig`` (ENCODE's spelling), ``s2.BW``,
    ``p.broadPeak`` and ``q.bedGraph`` kept theirs (only lower-case ones of a short list
    were dropped). Values from numpy (each file holds its own constant)."""
    from genozarr.testing.simulate import write_bigwig

    names = ["ENCFF001AAA.bigWig", "s2.BW", "s3.bw", "s4.bigwig.gz"]
    files = [write_bigwig(str(tmp_path / n), {"chr1": np.full(200, k + 1.0)})
             for k, n in enumerate(names[:3])]
    cover = Cover.create_from_bigwig("e", files, roi="chr1:0-200", binsize=100)
    assert cover.conditions == ["ENCFF001AAA", "s2", "s3"]
    np.testing.assert_array_equal(cover[0][0, :, 0, :], np.tile([1.0, 2.0, 3.0], (100, 1)))
    for name in ("p.broadPeak", "q.bedGraph", "r.narrowPeak.gz", "t.BED"):
        text = "chr1\t10\t50\tx\t1\t.\n"
        path = tmp_path / name
        if name.endswith(".gz"):
            import gzip

            path.write_bytes(gzip.compress(text.encode()))
        else:
            path.write_text(text)
    beds = [str(tmp_path / n) for n in ("p.broadPeak", "q.bedGraph", "r.narrowPeak.gz",
                                        "t.BED")]
    peaks = Cover.create_from_bed("b", beds, roi="chr1:0-200", binsize=100,
                                  genomesize={"chr1": 200})
    assert peaks.conditions == ["p", "q", "r", "t"]
    want = np.zeros(100)
    want[10:50] = 1
    for k in range(4):
        np.testing.assert_array_equal(peaks[0][0, :, 0, k], want)
    from genozarr.sources import file_condition_names

    assert file_condition_names([".bw", "a.bed.bw", "x.sorted.BAM", "y.txt"]) == \
        [".bw", "a.bed", "x.sorted", "y.txt"]


def test_wrapper_axes_are_named(cover):
    """ReduceDim(axis=2.5) gave "'float' object is not iterable", Transpose(axis=None)
    "'NoneType' object is not iterable"."""
    from genozarr import ReduceDim, SqueezeDim, Transpose

    with pytest.raises(ArgumentError, match="ReduceDim: axis must be an integer"):
        ReduceDim(cover, axis=2.5)
    with pytest.raises(ArgumentError, match="SqueezeDim: axis must be an integer"):
        SqueezeDim(cover, axis=True)
    with pytest.raises(ArgumentError, match=r"Transpose: axis must be a permutation"):
        Transpose(cover, None)
    assert ReduceDim(cover, axis=np.array([1, 2])).shape == (6, 1)
    assert Transpose(cover, np.array([0, 3, 1, 2])).shape == (6, 1, 10, 1)


def test_more_values_named():
    """create_from_bed(dtype=2.5) gave numpy's "Cannot interpret '2.5' as a data type",
    RandomSignalScale(deviance=None) a float() error, FunctionNormalizer(None) failed when
    first applied."""
    from genozarr import RandomSignalScale
    from genozarr.ops.normalizers import FunctionNormalizer

    with pytest.raises(ArgumentError, match="dtype"):
        Cover.create_from_bed("b", resource_path("peaks.bed"), roi=resource_path("sample.bed"),
                              binsize=200, genomesize=resource_path("sample.chrom.sizes"),
                              dtype=2.5)
    gi = GenomicIndexer(["chr1"], [0], [10], ["+"], 10, 10)
    cov = Cover.create_from_array("c", np.ones((1, 10, 1, 1)), gi)
    for bad in (None, True, "0.1"):
        with pytest.raises(ArgumentError, match="deviance must be in"):
            RandomSignalScale(cov, bad)
    with pytest.raises(ArgumentError, match="needs a callable"):
        FunctionNormalizer(None)


def test_probabilities_units_and_dtype_values_named():
    """Augment(reverse_complement=None) and RegionLength(unit=None) failed inside float();
    a numpy scalar given as dtype (np.int64(7)) was read as its type by numpy."""
    from genozarr.loaders.augment import Augment
    from genozarr.ops.normalizers import RegionLength

    for bad in (None, "0.5", True, float("nan")):
        with pytest.raises(ArgumentError, match="reverse_complement must be a finite number"):
            Augment(reverse_complement=bad)
        with pytest.raises(ArgumentError, match="unit must be a finite number"):
            RegionLength(unit=bad)
    assert Augment(reverse_complement=np.float32(0.25)).reverse_complement == 0.25
    assert RegionLength(unit=np.int64(1000)).unit == 1000.0
    from decimal import Decimal
    from fractions import Fraction

    numbers: list = [Fraction(1, 4), Decimal("0.25")]  # (float takes them)
    bad_ones: list = [np.complex128(0.25), np.array(True), np.array("0.25")]
    if importlib.util.find_spec("torch") is not None:
        import torch

        numbers.append(torch.tensor(0.25))
        bad_ones += [torch.tensor(0.25 + 0j), torch.tensor(True)]
    for number in numbers:
        assert Augment(reverse_complement=number).reverse_complement == 0.25
    for bad in bad_ones:
        with pytest.raises(ArgumentError, match="reverse_complement must be a finite number"):
            Augment(reverse_complement=bad)
    gi = GenomicIndexer(["chr1"], [0], [10], ["+"], 10, 10)
    for bad in (np.int64(7), np.float32(1.0)):
        with pytest.raises(ArgumentError, match="dtype must be a numeric dtype"):
            Cover.create_from_array("c", np.ones((1, 10, 1, 1)), gi, dtype=bad)
    assert Cover.create_from_array("c", np.ones((1, 10, 1, 1)), gi,
                                   dtype=np.dtype("int64"))[0].dtype == np.int64


class _PathLike:
    """An ``os.PathLike`` that is not a ``pathlib.Path`` (its ``str`` is its repr)."""

    def __init__(self, path):
        self.path = str(path)

    def __fspath__(self):
        return self.path


def test_path_like_objects_and_file_urls_name_the_same_place(tmp_path, monkeypatch):
    """write_store, open_store and store_summary took ``str()`` of a path: an os.PathLike
    other than pathlib.Path wrote a store into the working directory under
    ``<__main__.PL object at 0x...>`` and could not be opened; score_variants wrote a
    ``file://`` URL under ``./file:/...`` and VariantStreamer did not find a ``file://``
    VCF. Each names the same place as the plain path now; values against numpy."""
    import pysam

    import genozarr
    from genozarr import VariantStreamer, score_variants

    monkeypatch.chdir(tmp_path)
    gi = GenomicIndexer(["chr1"] * 3, [0, 10, 20], [10, 20, 30], ["+"] * 3, 10, 10)
    x = np.arange(30, dtype=np.float32).reshape(3, 10, 1, 1)
    src = tmp_path / "src.zarr"
    Cover.create_from_array("s", x, gi, storage="zarr", store=str(src))
    copy = _PathLike(tmp_path / "copy.zarr")
    genozarr.write_store(genozarr.open_store(_PathLike(src)), copy)
    assert sorted(os.listdir(tmp_path)) == ["copy.zarr", "src.zarr"]
    np.testing.assert_array_equal(genozarr.open_store(copy)["data"].values, x)
    from genozarr.summary import store_summary

    assert store_summary(_PathLike(src))["arrays"]
    fasta = resource_path("sample.fa")
    base = pysam.FastaFile(fasta).fetch("chr1", 499, 500)
    vcf = tmp_path / "v.vcf"
    vcf.write_text("##fileformat=VCFv4.2\n##contig=<ID=chr1,length=30000>\n#CHROM\tPOS\tID\t"
                   f"REF\tALT\tQUAL\tFILTER\tINFO\nchr1\t500\tv0\t{base}\t"
                   f"{'A' if base != 'A' else 'C'}\t.\t.\t.\n")
    streamer = VariantStreamer(fasta, f"file://{vcf}", 100, 8)
    out = tmp_path / "effects.zarr"
    score_variants(lambda b: np.asarray(b).reshape(len(b), -1)[:, :400].sum(1), streamer,
                   f"file://{out}")
    assert out.is_dir() and not (tmp_path / "file:").exists()
    with pytest.raises(ArgumentError, match="snv_only must be True or False"):
        VariantStreamer(fasta, str(vcf), 100, 8, snv_only="False")


def test_unordered_or_bytes_names_are_refused_or_decoded(tmp_path):
    """Condition names given as a set were matched to the files in hash order (another in
    each process); bytes names became ``"b'x'"``; a genome size mapping with bytes keys
    made a chromosome ``b'chr1'`` that reads as zeros; ``idx_by_region(include=b'chr1')``
    matched nothing; ``subset`` of a tuple and a bytes interval key failed inside numpy;
    a z-score mean labelled by condition (pandas) was applied by place; a masked array's
    masked entries were served. Values against the str / list forms."""
    from genozarr import ZScore, chrom_sizes
    from genozarr.sources import condition_names

    bw = [resource_path("sample_a.bw"), resource_path("sample_b.bw")]
    roi = dict(roi=resource_path("sample.bed"), binsize=200, resolution=50)
    for files, conditions in ((bw, {"a", "b"}), (set(bw), None)):
        with pytest.raises(ArgumentError, match="in order, got a set, which has no order"):
            Cover.create_from_bigwig("s", files, conditions=conditions, **roi)
    assert condition_names(bw, [b"x", np.str_("y")]) == ["x", "y"]
    named = {"u": 1, "v": 2}  # (a dict's keys are ordered: accepted; its items are pairs)
    assert condition_names(bw, named.keys()) == ["u", "v"]
    with pytest.raises(ArgumentError, match="got a set"):
        condition_names(bw, named.items())
    assert Cover.create_from_bigwig("k", dict.fromkeys(bw).keys(), **roi).conditions == \
        ["sample_a", "sample_b"]
    assert chrom_sizes({b"chr1": 30000}) == {"chr1": 30000}
    cover = Cover.create_from_bigwig("s", bw, **roi)
    gi = cover.gindexer
    assert list(gi.idx_by_region(include=b"chr1")) == list(gi.idx_by_region(include="chr1"))
    assert list(gi.idx_by_region(exclude=b"chr1")) == list(gi.idx_by_region(exclude="chr1"))
    # (membership only: a set of chromosomes is fine here, as in Janggu)
    assert list(gi.idx_by_region(include={"chr1", "chr2"})) == \
        list(gi.idx_by_region(include=["chr1", "chr2"]))
    with pytest.raises(ArgumentError, match="a name or a collection of names, got 1"):
        gi.idx_by_region(include=1)
    np.testing.assert_array_equal(cover.subset((7, 2, 7))[:], cover[[7, 2, 7]])
    np.testing.assert_array_equal(cover[b"chr1", 1000, 1100], cover["chr1", 1000, 1100])
    with pytest.raises(ArgumentError, match="labelled \\['b', 'a'\\] would be applied by "
                                            "place"):
        ZScore(mean=pd.Series({"b": 2.0, "a": 1.0}), std=[1.0, 1.0])
    assert ZScore(mean=pd.Series([1.0, 2.0]), std=[1.0, 1.0]).mean.tolist() == [[1.0, 2.0]]
    numbered = pd.Series([1.0, 2.0], index=pd.Index([0, 1]))  # (positions, not labels)
    assert ZScore(mean=numbered, std=[1.0, 1.0]).mean.tolist() == [[1.0, 2.0]]
    # an xarray DataArray labelled by condition likewise (passed unseen; an audit)
    import xarray as xr

    with pytest.raises(ArgumentError, match=r"labelled along \['condition'\] would be "
                                            "applied by place"):
        ZScore(mean=xr.DataArray([2.0, 1.0], dims="condition",
                                 coords={"condition": ["b", "a"]}), std=[1.0, 1.0])
    unlabelled = xr.DataArray([1.0, 2.0], dims="condition")
    assert ZScore(mean=unlabelled, std=[1.0, 1.0]).mean.tolist() == [[1.0, 2.0]]
    masked = np.ma.masked_array(np.ones((len(gi), 4, 1, 1)))
    masked[0, 0, 0, 0] = np.ma.masked
    with pytest.raises(ArgumentError, match="masked array with masked entries"):
        Cover.create_from_array("p", masked, gi)
    with pytest.raises(ArgumentError, match="got a set"):
        Cover.create_from_array("p", np.ones((len(gi), 4, 1, 2)), gi, conditions={"u", "v"})


def test_read_interval_takes_whole_numbers(cover):
    """``read_interval('chr1', 0.5, 100)`` read bases 0-100 (``int()`` of the start) and
    ``read_interval('chr1', 'a', 100)`` raised a bare ValueError of int(), where the
    interval key ``cover['chr1', 0.5, 100]`` is refused; both are ArgumentErrors naming
    the argument now. Integers of numpy and torch (0-d ones too) still read, and so does
    a start before the chromosome start (a flanked window's region key, as padding). The
    torch cases run where PyTorch is installed."""
    try:
        import torch
    except ImportError:  # (an optional extra)
        torch = None
    refused = [(0.5, 100, "start"), ("a", 100, "start"), (0, 100.0, "end"),
               (True, 100, "start")]
    taken = [(np.int64(0), np.int32(100)), (np.array(0), np.array(100))]
    if torch is not None:
        refused.append((torch.tensor(True), 100, "start"))
        taken.append((np.array(0), torch.tensor(100)))
    for start, end, name in refused:
        with pytest.raises(ArgumentError, match=f"{name} must be an integer, got"):
            cover.read_interval("chr1", start, end)
        if not hasattr(start, "dtype"):
            with pytest.raises(ArgumentError, match=f"{name} must be an integer, got"):
                cover["chr1", start, end]
    want = cover["chr1", 0, 100][0]
    for start, end in taken:
        np.testing.assert_array_equal(cover.read_interval("chr1", start, end), want)
    padded = cover.read_interval("chr1", -5, 10)  # 5 bases of padding, then bases 0-10
    np.testing.assert_array_equal(padded[:5], 0)
    np.testing.assert_array_equal(padded[5:], want[:10])
    flanked = GenomicIndexer.create_from_file(["chr1:0-60"], binsize=10, stepsize=10,
                                              flank=5)
    assert (flanked[0].start, flanked[0].end) == (-5, 15)
    np.testing.assert_array_equal(cover[flanked[0]][0], cover.read_interval("chr1", -5, 15))


def _admits(hint, value) -> bool:
    """Whether ``value`` is of the type ``hint`` (unions, ``Sequence[...]`` by item)."""
    import types
    import typing

    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_admits(h, value) for h in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if hint is typing.Any:
        return True
    if hint is float:  # (an int is a float to type checkers)
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if origin is not None:  # Sequence[X]
        return isinstance(value, origin) and not isinstance(value, (str, bytes)) and all(
            _admits(typing.get_args(hint)[0], v) for v in value)
    return isinstance(value, hint)


def test_type_hints_admit_the_documented_argument_forms(tmp_path):
    """The hints of the public API were narrower than its docs (a runtime type check of
    the test suite, an audit): sample sheets given as DataFrames, bytes paths, SeqRecord
    lists, fractional ``min_mapq`` and numpy seeds all work and are documented, but a
    type checker refused them. Each documented form is admitted by its hint now."""
    import typing
    from pathlib import Path
    from types import SimpleNamespace

    from genozarr import Bioseq, batches, open_dataset, open_store
    from genozarr.batching import batch_plan

    sheet = pd.DataFrame({"file": ["a.bw"], "condition": ["a"]})
    records = [SimpleNamespace(id="r1", seq="ACGT")]  # (Biopython-like SeqRecords)
    forms = {
        (Cover.create_from_bigwig, "bigwigfiles"): ["a.bw", b"a.bw", Path("a.bw"),
                                                     ["a.bw", Path("b.bw")], sheet],
        (Cover.create_from_bam, "bamfiles"): [b"a.bam", [Path("a.bam")], sheet],
        (Cover.create_from_bed, "bedfiles"): [sheet, "a.bed"],
        (Cover.create_from_bam, "min_mapq"): [20, 20.5, None],
        (Cover.create_from_bigwig, "store"): [b"s.zarr", tmp_path, None],
        (Bioseq.create_from_refgenome, "refgenome"): ["g.fa", records, records[0]],
        (Bioseq.create_from_seq, "fastafile"): ["s.fa", [Path("s.fa")], records],
        (open_dataset, "path"): [b"s.zarr", Path("s.zarr")],
        (open_store, "path"): [b"s.zarr"],
        (Cover.export_to_bigwig, "output_dir"): [b"out"],
        (batches, "seed"): [3, np.int64(3), (3, 1), np.random.SeedSequence(3),
                            np.random.PCG64(3), np.random.default_rng(3), None],
        (batch_plan, "seed"): [np.array([3, 1])],
    }
    for (function, name), values in forms.items():
        hint = typing.get_type_hints(function)[name]
        for value in values:
            assert _admits(hint, value), (function.__qualname__, name, value, hint)
    for value in (3, object()):  # (and they still say something)
        assert not _admits(typing.get_type_hints(Cover.create_from_bigwig)["bigwigfiles"],
                           value)


def test_documented_raises_of_write_store_and_unfitted_kernels(cover, tmp_path):
    """Raises sections that did not hold (an audit of the API reference): ``write_store``
    of a Cover or an array (not its ``to_xarray()``) raised AttributeError where it says
    ArgumentError; an unfitted TPM or BPM's kernel an AssertionError (nothing under
    ``python -O``), as did ZScore's, PercentileTrimming's and CPM's. Each is an
    ArgumentError saying what to pass or do."""
    import genozarr
    from genozarr.ops.normalizers import BPM, CPM, TPM, PercentileTrimming, ZScore, ZScoreLog

    for obj, hint in ((cover, r"Cover: pass its \.to_xarray\(\)"),
                      (np.zeros((2, 3, 1, 1)), "ndarray$"), (pd.DataFrame({"a": [1]}),
                                                             "DataFrame$")):
        with pytest.raises(ArgumentError, match=rf"expected an xarray Dataset .*{hint}"):
            genozarr.write_store(obj, tmp_path / "w.zarr")
    assert not (tmp_path / "w.zarr").exists()
    x = np.ones((2, 3, 1, 1), np.float32)
    lengths = np.array([3, 3])
    with pytest.raises(ArgumentError, match="needs the length of each row"):
        TPM().kernel(x, None)
    for norm, args in ((TPM(), (x, lengths)), (BPM(), (x, lengths)), (ZScore(), (x,)),
                       (PercentileTrimming(), (x,)), (CPM(), (x,)), (ZScoreLog(), (x,))):
        with pytest.raises(ArgumentError, match=rf"^{type(norm).__name__}\(.* is not fitted: "
                                                "fit it on the data first"):
            norm.kernel(*args)
