"""Bioseq: hand-worked one-hot encodings (orders 1-3), N handling, reverse complement,
protein, padding at chromosome ends, layouts and backends."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from genozarr import Bioseq
from genozarr.errors import ChromosomeNotFoundError, MalformedFileError

A, C, G, T = np.eye(4, dtype="float32")
N = np.zeros(4, "float32")


@pytest.fixture
def genome(tmp_path):
    fa = tmp_path / "g.fa"
    #            0123456789
    fa.write_text(">c1\nACGTNacgtA\n>c2\nGGGTTT\n")
    return str(fa)


def roi(*rows):
    return pd.DataFrame(rows, columns=["chrom", "start", "end", "strand"])


@pytest.mark.parametrize("storage", ["ndarray", "sparse", "zarr"])
@pytest.mark.parametrize("whole", [False, True])
def test_order1_hand_worked(genome, storage, whole):
    ds = Bioseq.create_from_refgenome("dna", genome, roi=roi(("c1", 0, 10, "+")), binsize=5,
                                      storage=storage, store_whole_genome=whole)
    assert ds.shape == (2, 5, 1, 4)
    np.testing.assert_array_equal(ds[0][0][:, 0], [A, C, G, T, N])      # ACGTN
    np.testing.assert_array_equal(ds[1][0][:, 0], [A, C, G, T, A])      # acgtA: lower == upper


def test_read_sequence_keeps_soft_masking_only_when_asked(genome):
    from genozarr.io.fasta import read_sequence

    assert read_sequence(genome, "c1", 3, 12) == b"TNACGTANN"  # padded past the end
    assert read_sequence(genome, "c1", 3, 12, upper=False) == b"TNacgtANN"
    assert read_sequence(genome, "c1", -2, 2, pad=b"-", upper=False) == b"--AC"


def test_reverse_complement_on_minus_strand(genome):
    ds = Bioseq.create_from_refgenome("dna", genome, roi=roi(("c1", 0, 5, "-"), ("c2", 1, 6, "-")),
                                      binsize=None)
    ds_plus = Bioseq.create_from_refgenome("dna", genome, roi=roi(("c1", 0, 5, "+")), binsize=None)
    np.testing.assert_array_equal(ds_plus[0][0][:, 0], [A, C, G, T, N])
    # reverse complement of ACGTN is NACGT
    np.testing.assert_array_equal(ds[0][0][:, 0], [N, A, C, G, T])
    # c2:1-6 = GGTTT -> AAACC
    assert ds.shape[1] == 5 and ds[1][0].shape == (5, 1, 4)
    np.testing.assert_array_equal(ds[1][0][:, 0], [A, A, A, C, C])


def test_higher_orders(genome):
    ds2 = Bioseq.create_from_refgenome("dna", genome, roi=roi(("c1", 0, 4, "+")), binsize=4,
                                       order=2)
    assert ds2.shape == (1, 3, 1, 16)
    # AC, CG, GT -> 4*0+1, 4*1+2, 4*2+3
    assert np.argmax(ds2[0][0][:, 0], axis=1).tolist() == [1, 6, 11]
    assert ds2[0].sum() == 3
    ds3 = Bioseq.create_from_refgenome("dna", genome, roi=roi(("c1", 2, 7, "+")), binsize=5,
                                       order=3)
    # GTN, TNa, Nac contain N -> zeros; acg... window is GTNac: k-mers GTN, TNA, NAC
    assert ds3.shape == (1, 3, 1, 64)
    assert ds3[0].sum() == 0
    ds3 = Bioseq.create_from_refgenome("dna", genome, roi=roi(("c2", 0, 4, "+")), binsize=4,
                                       order=3)
    # GGG = 4**2*2+4*2+2 = 42, GGT = 43
    assert np.argmax(ds3[0][0][:, 0], axis=1).tolist() == [42, 43]
    assert ds3.conditions[42] == "GGG"


@pytest.mark.parametrize("order", [1, 2, 3])
def test_a_whole_genome_store_without_windows_has_an_empty_shape(genome, order):
    """No roi and no binsize: a store without windows, every axis of its shape >= 0 (at
    order > 1 the position axis was 1 - order)."""
    ds = Bioseq.create_from_refgenome("dna", genome, order=order)
    assert len(ds) == 0 and ds.shape == (0, 0, 1, 4 ** order)
    assert ds[:].shape == ds.shape


def test_padding_at_chromosome_ends(genome):
    ds = Bioseq.create_from_refgenome("dna", genome, roi=roi(("c2", 0, 6, "+")), binsize=4,
                                      stepsize=4, flank=2)
    # window [0,4) with flank -> [-2, 6): two padded positions, GGGTTT
    np.testing.assert_array_equal(ds[0][0][:, 0], [N, N, G, G, G, T, T, T])
    # tail window [4, 6) zero-padded beyond the ROI end: [2, 8) -> GTTT + padding
    np.testing.assert_array_equal(ds[1][0][:, 0], [G, T, T, T, N, N, N, N])
    whole = Bioseq.create_from_refgenome("dna", genome, roi=roi(("c2", 0, 6, "+")), binsize=4,
                                         stepsize=4, flank=2, store_whole_genome=True)
    np.testing.assert_array_equal(whole[:], ds[:])


@pytest.mark.parametrize("storage", ["ndarray", "zarr"])
def test_batches_in_order_encode_the_cached_codes(tmp_path, storage):
    """Plus-strand windows read in order are one-hot encoded straight from the cached
    chunk (a read-only view of it, not a copy): the batches equal numpy's one-hot of the
    FASTA's bytes, the cached codes are left as they were, and a batch is the caller's."""
    from genozarr import open_dataset, set_options

    rng = np.random.default_rng(3)
    seq = "".join(rng.choice(list("ACGTN"), 40_000))
    fa = tmp_path / "g.fa"
    fa.write_text(f">c1\n{seq}\n")
    with set_options(chunk_bytes=4096, progress=False):  # chunks of 4,096 bases
        ds = Bioseq.create_from_refgenome("dna", str(fa), roi=roi(("c1", 0, 40_000, "+")),
                                          binsize=100, stepsize=50, storage=storage,
                                          store=str(tmp_path / "s.zarr"),
                                          store_whole_genome=True)
    if storage == "zarr":
        ds = open_dataset(str(tmp_path / "s.zarr"))
    lut = np.zeros((256, 4), "float32")
    lut[np.frombuffer(b"ACGT", np.uint8), np.arange(4)] = 1
    raw = np.frombuffer(seq.encode(), np.uint8)

    def expected(idx):
        return lut[np.stack([raw[50 * i:50 * i + 100] for i in idx])][:, :, None, :]

    view = ds.read_genomic(np.arange(3, 9), view=True)
    assert not view.flags.writeable  # (an in-memory store's too: no caller writes into it)
    for a, b in [(3, 9), (0, 40), (70, 90), (3, 9)]:  # within a chunk, across chunks
        np.testing.assert_array_equal(ds[a:b], expected(range(a, b)))
        np.testing.assert_array_equal(ds[list(range(a, b))], expected(range(a, b)))
    batch = ds[3:9]
    batch[...] = 7
    np.testing.assert_array_equal(ds[3:9], expected(range(3, 9)))
    np.testing.assert_array_equal(ds.read_genomic(np.arange(3, 9))[:, :, 0, 0], view[:, :, 0, 0])
    assert ds.read_genomic(np.arange(3, 9)).flags.writeable


@pytest.mark.parametrize("storage", ["ndarray", "zarr", "zarr, kept in memory"])
@pytest.mark.parametrize(("stepsize", "flank"), [(100, 0), (60, 3)])  # tiling, overlapping
def test_whole_genome_batches_against_pysam(tmp_path, stepsize, flank, storage):
    """Batches of a whole-genome store equal numpy's one-hot of pysam's sequence for every
    kind of key: windows in order in one chromosome (tiling it, or overlapping), all
    windows across two chromosomes, shuffled ones with a repeat, windows scattered along
    a chromosome (read chunk by chunk; some across a chunk boundary), partial
    (zero-padded) windows, minus-strand ones (read again: orienting a batch must not
    touch the store), and again after the windows change (a new gindexer, a subset)."""
    import pysam

    from genozarr import open_dataset, set_options

    rng = np.random.default_rng(7)
    lengths = {"c1": 150_000, "c2": 100_000}
    fa = tmp_path / "g.fa"
    fa.write_text("".join(f">{c}\n{''.join(rng.choice(list('ACGTN'), n))}\n"
                          for c, n in lengths.items()))
    binsize, end1 = 100, 149_993
    with set_options(chunk_bytes=4096, progress=False):  # chunks of 4,096 bases
        ds = Bioseq.create_from_refgenome(
            "dna", str(fa), roi=roi(("c1", 0, end1, "+"), ("c2", 10, 100_000, "-")),
            binsize=binsize, stepsize=stepsize, flank=flank, storage=storage.split(",")[0],
            store=str(tmp_path / "s.zarr"), store_whole_genome=True)
    if storage.startswith("zarr"):
        ds = open_dataset(str(tmp_path / "s.zarr"),
                          cache="memory" if "memory" in storage else None)
    lut = np.zeros((256, 4), "float32")
    lut[np.frombuffer(b"ACGT", np.uint8), np.arange(4)] = 1

    def expected(dataset, idx):
        gi = dataset.gindexer
        rows = []
        with pysam.FastaFile(str(fa)) as f:
            for i in idx:
                chrom, start = gi.chrs[i], int(gi.starts[i]) - flank
                # data up to the region end + flank (a partial window), N beyond
                stop = min(int(gi.ends[i]) + flank, lengths[chrom])
                text = (b"N" * max(-start, 0) + f.fetch(chrom, max(start, 0), stop).encode())
                text = text.ljust(binsize + 2 * flank, b"N")
                hot = lut[np.frombuffer(text, np.uint8)]
                rows.append(hot[::-1, ::-1] if gi.strand[i] == "-" else hot)  # A<->T, C<->G
        return np.stack(rows)[:, :, None, :]

    n = len(ds)
    last = int(np.flatnonzero(ds.gindexer.chrs == "c1")[-1])
    assert ds.gindexer.ends[last] == end1  # partial, with bases of c1 after it
    across = int(np.flatnonzero(ds.gindexer.starts - flank > 4096 - binsize)[0])  # chunks 0-1
    scattered = [last, 0, across, 700, *rng.choice(last, 30).tolist()]
    regular = [last + 1, last + 401, last + 801]  # minus strand, far apart at one step
    keys = [slice(5, 12), slice(n - 5, n - 1), slice(n - 5, n - 1), slice(None),
            [7, 2, n - 3, 2, last], last, n - 1, scattered, [*scattered, n - 2], regular,
            regular]
    for key in keys:
        idx = np.atleast_1d(np.arange(n)[key])
        np.testing.assert_array_equal(ds[key], expected(ds, idx), err_msg=str(key))
    ds.gindexer = ds.gindexer[[n - 1, 0, last]]  # windows replaced after reads
    np.testing.assert_array_equal(ds[:], expected(ds, [0, 1, 2]))
    sub = ds.subset([2, 1])
    np.testing.assert_array_equal(sub[:], expected(sub, [0, 1]))


def test_protein(tmp_path):
    fa = tmp_path / "p.fa"
    fa.write_text(">p1\nMKWVX\n>p2\nACDEF\n")
    ds = Bioseq.create_from_seq("prot", str(fa), seqtype="protein")
    assert ds.shape == (2, 5, 1, 20)
    alphabet = "ACDEFGHIKLMNPQRSTVWY"
    assert [alphabet[i] for i in np.argmax(ds[0][0][:4, 0], axis=1)] == list("MKWV")
    assert ds[0][0][4].sum() == 0  # X is not an amino acid of the alphabet
    assert [alphabet[i] for i in np.argmax(ds[1][0][:, 0], axis=1)] == list("ACDEF")


def test_seqtype_in_upper_case_is_dna(tmp_path):
    """seqtype='DNA' was accepted and encoded as DNA, but the dataset kept 'DNA' and
    compared it with 'dna' later: 20 protein channel names for 4 channels, and reverse
    complements refused (an audit). The seqtype is now lower case from the start."""
    from genozarr.testing.simulate import write_fasta
    from genozarr.wrappers import RandomOrientation

    fa = write_fasta(tmp_path / "g.fa", {"chr1": "ACGTTGCAAC"})
    lower = Bioseq.create_from_refgenome("g", fa, roi=["chr1:0-10"], binsize=10)
    for ds in (Bioseq.create_from_refgenome("g", fa, roi=["chr1:0-10"], binsize=10,
                                            seqtype="DNA"),
               Bioseq.create_from_seq("s", fa, seqtype="Dna")):
        assert ds.seqtype == "dna" and ds.conditions == ["A", "C", "G", "T"]
        np.testing.assert_array_equal(ds[:], lower[:])
        # reverse complemented by some seeds (it was refused as protein)
        rc = lower[:][:, ::-1, :, ::-1]
        served = [RandomOrientation(ds, random_state=seed)[:] for seed in range(10)]
        assert all(np.array_equal(x, lower[:]) or np.array_equal(x, rc) for x in served)
        assert any(np.array_equal(x, rc) for x in served)


def test_empty_records_are_refused_by_name(tmp_path):
    """An empty FASTA record gave a window of 0 bases (and exports refused its length
    0), or, all records empty, 'binsize must be ... >= 1, got 0' for a binsize nobody
    gave (an audit). Now a MalformedFileError naming the records."""
    fa = tmp_path / "e.fa"
    fa.write_text(">a\nACGT\n>b\n>c\nAC\n")
    with pytest.raises(MalformedFileError, match=r"e\.fa: record\(s\) \['b'\] hold no bases"):
        Bioseq.create_from_seq("s", str(fa), fixedlen=4)
    fa.write_text(">a\n>b\n")
    with pytest.raises(MalformedFileError, match=r"\['a', 'b'\] hold no bases"):
        Bioseq.create_from_seq("s", str(fa))


@pytest.mark.parametrize("suffix", [".fa", ".fa.gz"])
def test_regions_on_an_empty_reference_record_say_it_is_empty(tmp_path, suffix):
    """Regions on a FASTA record without bases (left out of the index) were refused as
    'not found; the source has [...]', the record being in the file; the message says it
    holds no bases. A name the file does not have at all stays 'not found'."""
    import pysam

    text = ">a\n\n>b desc\nACGT\n> c\n>d\nAC\n"
    fa = tmp_path / f"r{suffix}"
    if suffix == ".fa.gz":
        (tmp_path / "r.fa").write_text(text)
        pysam.tabix_compress(str(tmp_path / "r.fa"), str(fa))
    else:
        fa.write_text(text)
    with pytest.raises(ChromosomeNotFoundError,
                       match=rf"r{re.escape(suffix)}: the record\(s\) \['a', 'c'\] of the "
                             r"regions hold no bases"):
        Bioseq.create_from_refgenome("s", str(fa), roi=["c:0-2", "b:0-4", "a:0-2"])
    with pytest.raises(ChromosomeNotFoundError, match=r"\['x'\] not found; the source has"):
        Bioseq.create_from_refgenome("s", str(fa), roi=["x:0-2", "b:0-4"])
    with pytest.raises(ChromosomeNotFoundError, match=r"\['c'\] of the regions hold no bases"
                                                      r".*; and \['x'\] are not in the file"):
        Bioseq.create_from_refgenome("s", str(fa), roi=["x:0-2", "c:0-2"])
    # a name found through chrom_map='auto' is not said to be missing; '> e' is record e
    with pytest.raises(ChromosomeNotFoundError) as e:
        Bioseq.create_from_refgenome("s", str(fa), roi=["chrb:0-4", "c:0-2"], chrom_map="auto")
    assert "['c'] of the regions hold no bases" in str(e.value) and "not in" not in str(e.value)
    fa.with_name("chr.fa").write_text(">chrb\nACGT\n>chrc\n>chrd\nAC\n")
    with pytest.raises(ChromosomeNotFoundError, match=r"\['chrc'\] of the regions hold no "
                                                      r"bases.*; and \['x'\] are not in"):
        Bioseq.create_from_refgenome("s", str(fa.with_name("chr.fa")),
                                     roi=["b:0-4", "c:0-2", "x:0-1"], chrom_map="auto")
    ok = Bioseq.create_from_refgenome("s", str(fa), roi=["b:0-4"])
    assert np.asarray(ok[0])[0, :, 0].argmax(axis=-1).tolist() == [0, 1, 2, 3]


@pytest.mark.parametrize("suffix", [".fa", ".fa.gz"])
def test_an_empty_last_record_is_named_when_htslib_cannot_index_it(tmp_path, suffix):
    """A FASTA ending with a record without bases cannot be indexed by htslib, which
    says 'File truncated at line 4'; the message names the empty record."""
    import pysam

    from genozarr.errors import MissingIndexError

    fa = tmp_path / f"e{suffix}"
    (tmp_path / "e.fa").write_text(">a\nACGT\n>c\n\n")
    if suffix == ".fa.gz":
        pysam.tabix_compress(str(tmp_path / "e.fa"), str(fa))
    with pytest.raises(MissingIndexError, match=r"its last record 'c' holds no bases \(a "
                                                r"header line ends the file\)"):
        Bioseq.create_from_refgenome("s", str(fa), roi=["a:0-4"])


@pytest.mark.parametrize("whole", [False, True])
def test_protein_windows_past_the_sequence_are_padded_not_asparagine(tmp_path, whole):
    """Positions before a protein's start (a flank) and past its end are all-zero rows,
    in both layouts (before: the partial layout encoded its 'N' padding, asparagine)."""
    import pysam

    fa = tmp_path / "p.fa"
    fa.write_text(">p1\nMKVLA\n")
    pysam.faidx(str(fa))
    roi = pd.DataFrame({"chrom": ["p1"], "start": [0], "end": [5]})
    ds = Bioseq.create_from_refgenome("prot", str(fa), roi=roi, binsize=8, flank=2,
                                      seqtype="protein", store_whole_genome=whole,
                                      zero_padding=True)
    x = ds[0][0][:, 0]  # positions -2 .. 10
    alphabet = "ACDEFGHIKLMNPQRSTVWY"
    assert x.shape == (12, 20)
    assert [alphabet[i] for i in np.argmax(x[2:7], axis=1)] == list("MKVLA")
    assert x[2:7].sum() == 5
    assert x[:2].sum() == 0 and x[7:].sum() == 0  # padding: no amino acid


def test_chromosomes_differing_by_case_only(tmp_path):
    """'Chr1' and 'chr1': a whole-genome zarr store is refused before anything is written
    (zarr's consolidated metadata sorts names case-blind and mixes such groups up: the
    store was published, then unreadable as 'damaged'); the partial layout and an
    in-memory store hold both, as numpy says."""
    from genozarr.errors import StoreFormatError

    def whole_genome_zarr(fasta, store):
        return Bioseq.create_from_refgenome("g", str(fasta), roi=None, binsize=10,
                                            store_whole_genome=True, storage="zarr",
                                            store=str(tmp_path / store))

    fa = tmp_path / "case.fa"
    fa.write_text(">Chr1\nAAAAACCCCC\n>chr1\nGGGGGTTTTT\n")
    with pytest.raises(StoreFormatError, match="'Chr1' and 'chr1' differ by case or Unicode"):
        whole_genome_zarr(fa, "s.zarr")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["case.fa", "case.fa.fai"]
    # zarr sorts names by their NFKC form too: a full-width digit, or an accent written
    # as a combining mark, gave a published store read as damaged (an audit)
    for a, b in (("chr1", "chr\uff11"), ("chr\u00e9", "chre\u0301")):
        uni = tmp_path / f"u{len(b)}.fa"
        uni.write_text(f">{a}\nAAAAACCCCC\n>{b}\nGGGGGTTTTT\n", encoding="utf-8")
        with pytest.raises(StoreFormatError, match="differ by case or Unicode form only"):
            whole_genome_zarr(uni, "u.zarr")
        assert not (tmp_path / "u.zarr").exists()
    # a chromosome named like the marker of a retired remote version was left out of
    # a cached store's next version (reserved now)
    retired = tmp_path / "r.fa"
    retired.write_text(">genozarr-retired\nAAAAACCCCC\n")
    with pytest.raises(StoreFormatError, match="'genozarr-retired' cannot name a zarr group"):
        whole_genome_zarr(retired, "r.zarr")
    # a backslash: zarr's local store lists it as '/', so the store read back as nested
    # groups (an audit)
    slash = tmp_path / "b.fa"
    slash.write_text(">chrUn\\alt\nAAAAACCCCC\n")
    with pytest.raises(StoreFormatError, match=r"'chrUn\\\\alt' cannot name a zarr group"):
        whole_genome_zarr(slash, "b.zarr")
    for kw in ({"store_whole_genome": False, "storage": "zarr",
                "store": str(tmp_path / "p.zarr")},
               {"store_whole_genome": True, "storage": "ndarray"}):
        ds = Bioseq.create_from_refgenome("case", str(fa), roi=None, binsize=10, **kw)
        np.testing.assert_array_equal(ds[:][:, :, 0], [[A] * 5 + [C] * 5, [G] * 5 + [T] * 5])


def test_create_from_seq_lengths(tmp_path):
    fa = tmp_path / "s.fa"
    fa.write_text(">a\nACGT\n>b\nAC\n")
    with pytest.raises(MalformedFileError, match="different lengths.*fixedlen"):
        Bioseq.create_from_seq("s", str(fa))
    ds = Bioseq.create_from_seq("s", str(fa), fixedlen=3)
    np.testing.assert_array_equal(ds[0][0][:, 0], [A, C, G])   # truncated
    np.testing.assert_array_equal(ds[1][0][:, 0], [A, C, N])   # padded
    dup = tmp_path / "d.fa"
    dup.write_text(">a\nACGT\n>a\nACGT\n")
    with pytest.raises(MalformedFileError, match="d.fa.*'a'"):
        Bioseq.create_from_seq("s", str(dup))


def test_backends_and_layouts_agree_on_simulated_genome(sim_data):
    results = []
    for storage in ("ndarray", "sparse", "zarr"):
        for whole in (False, True):
            ds = Bioseq.create_from_refgenome("dna", sim_data["fasta"], roi=sim_data["roi"],
                                              binsize=500, flank=100, storage=storage,
                                              store_whole_genome=whole, order=2)
            results.append(ds[:])
    for r in results[1:]:
        np.testing.assert_array_equal(r, results[0])
    # independent check with pysam on one window
    import pysam

    ds = Bioseq.create_from_refgenome("dna", sim_data["fasta"], roi=sim_data["roi"], binsize=500)
    w = ds.gindexer[0]
    seq = pysam.FastaFile(sim_data["fasta"]).fetch(w.chrom, w.start, w.end).upper()
    if w.strand == "-":
        seq = seq[::-1].translate(str.maketrans("ACGT", "TGCA"))
    expected = np.array([[float(b == x) for x in "ACGT"] for b in seq], "float32")
    np.testing.assert_array_equal(ds[0][0][:, 0], expected)


def test_genome_sizes_named_as_the_files_with_chrom_map(tmp_path):
    """Regions say 'chr1', the FASTA and its genome sizes '1': chrom_map='auto' matches the
    sizes' names too (before: an error asking for chrom_map='auto', which was given)."""
    fa = tmp_path / "g.fa"
    fa.write_text(">1\n" + "ACGT" * 50 + "\n>2\n" + "GGGGCCCC" * 10 + "\n")
    sizes = tmp_path / "g.chrom.sizes"
    sizes.write_text("1\t200\n2\t80\n")
    ds = Bioseq.create_from_refgenome("dna", str(fa), roi=["chr1:0-8"], binsize=8,
                                      chrom_map="auto", genomesize=str(sizes))
    assert ds.gindexer.tostr() == ["chr1:0-8"]
    np.testing.assert_array_equal(ds[0][0][:, 0], [A, C, G, T, A, C, G, T])


@pytest.mark.parametrize("whole", [False, True])
@pytest.mark.parametrize("channel_last", [True, False])
def test_interval_keys_shorter_than_the_order_hold_no_kmer(genome, whole, channel_last):
    """An interval key of L bases holds L - order + 1 k-mers, none where L < order (it
    was a whole window of zeros: the dataset's window length, not the key's)."""
    for order, channels in ((1, 4), (2, 16)):
        ds = Bioseq.create_from_refgenome("dna", genome, roi=roi(("c1", 0, 10, "+")),
                                          binsize=5, order=order, store_whole_genome=whole,
                                          channel_last=channel_last)
        for start, end in ((2, 6), (2, 3), (2, 2)):
            got = ds["c1", start, end]
            length = max(end - start - order + 1, 0)
            shape = (1, length, 1, channels) if channel_last else (1, channels, length, 1)
            assert got.shape == shape
        hand = ds["c1", 1, 4]  # CGT
        kmers = [C, G, T] if order == 1 else [np.eye(16, dtype="float32")[i]
                                              for i in (1 * 4 + 2, 2 * 4 + 3)]  # CG, GT
        np.testing.assert_array_equal(hand[0][:, 0] if channel_last else
                                      np.moveaxis(hand[0], 0, -1)[:, 0], kmers)
