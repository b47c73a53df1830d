"""Genome-track plots: panels, drawn values against pyBigWig / pysam reads of the inputs,
labels in genomic coordinates, and PNG output."""

from __future__ import annotations

import matplotlib.image
import numpy as np
import pysam
import pyBigWig
import pytest

import genozarr
from genozarr import Bioseq, Cover
from genozarr.errors import ArgumentError, RegionError
from genozarr.plot import BASE_COLORS, plot_genome_track, plotGenomeTrack

CHROM, START, END = "chr1", 1200, 1700


@pytest.fixture(scope="module")
def signal(sample_files: dict[str, str]) -> Cover:
    """Two BigWig conditions, whole genome at 1 bp (values equal pyBigWig's, NaN -> 0)."""
    return Cover.create_from_bigwig(
        "signal", [sample_files["bigwig_a"], sample_files["bigwig_b"]], roi=None,
        genomesize=sample_files["chrom_sizes"], binsize=1000, resolution=1,
        store_whole_genome=True)


@pytest.fixture(scope="module")
def reads(sample_files: dict[str, str]) -> Cover:
    return Cover.create_from_bam("reads", sample_files["bam"], roi=sample_files["roi"],
                                 binsize=1000, resolution=50)


@pytest.fixture(scope="module")
def dna(sample_files: dict[str, str]) -> Bioseq:
    return Bioseq.create_from_refgenome("dna", sample_files["fasta"], roi=sample_files["roi"],
                                        binsize=1000)


def _bigwig(path: str, chrom: str, start: int, end: int) -> np.ndarray:
    with pyBigWig.open(path) as bw:
        return np.nan_to_num(np.asarray(bw.values(chrom, start, end), dtype=np.float64))


def _outlines(ax) -> dict[str, object]:  # noqa: ANN001
    """The labelled step outlines of a line panel, by gid."""
    return {p.get_gid(): p for p in ax.patches if p.get_gid()}


def test_line_track_values_are_the_bigwig_values(signal: Cover, sample_files: dict[str, str],
                                                 tmp_path) -> None:  # noqa: ANN001
    fig = plot_genome_track(signal, CHROM, START, END)
    assert len(fig.axes) == 1
    ax = fig.axes[0]
    lines = _outlines(ax)
    assert list(lines) == ["signal|sample_a|.", "signal|sample_b|."]
    for key, f in (("signal|sample_a|.", "bigwig_a"), ("signal|sample_b|.", "bigwig_b")):
        data = lines[key].get_data()
        np.testing.assert_allclose(data.values, _bigwig(sample_files[f], CHROM, START, END),
                                   rtol=1e-6)
        np.testing.assert_array_equal(data.edges, np.arange(START, END + 1))
    # readable: genomic x range and tick labels with thousands separators, legend, title
    assert ax.get_xlim() == (START, END)
    fig.canvas.draw()
    labels = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
    assert "1,500" in labels and all(int(t.replace(",", "")) % 100 == 0 for t in labels)
    assert ax.get_xlabel() == "chr1 position (bp)"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["sample_a", "sample_b"]
    assert ax.get_title(loc="left") == "chr1:1,200-1,700"
    out = tmp_path / "line.png"
    fig.savefig(out, dpi=50)
    img = matplotlib.image.imread(out)
    width, height = fig.get_size_inches() * 50
    assert img.shape[:2] == (round(height), round(width))


def test_stacked_conditions_one_panel_each(signal: Cover, sample_files: dict[str, str]) -> None:
    fig = plot_genome_track(signal, CHROM, START, END, stacked=True)
    assert len(fig.axes) == 2
    for ax, f in zip(fig.axes, ("bigwig_a", "bigwig_b")):
        (line,) = _outlines(ax).values()
        np.testing.assert_allclose(line.get_data().values,
                                   _bigwig(sample_files[f], CHROM, START, END), rtol=1e-6)
    assert fig.axes[1].get_ylabel() == "signal\nsample_b"


def test_two_strands_are_mirrored(reads: Cover) -> None:
    fig = plot_genome_track(reads, CHROM, 1000, 2000)
    lines = _outlines(fig.axes[0])
    expected = reads[CHROM, 1000, 2000][0]  # the roi window chr1:1000-2000, 50 bp bins
    np.testing.assert_array_equal(lines["reads|sample|+"].get_data().values, expected[:, 0, 0])
    np.testing.assert_array_equal(lines["reads|sample|-"].get_data().values, -expected[:, 1, 0])
    # counts are constant within each 50 bp bin and equal the window's stored bins
    window = reads[1][0]
    assert reads.gindexer[1].start == 1000
    np.testing.assert_array_equal(expected[::50, :, 0], window[:, :, 0])


def test_bases_outside_stored_windows_are_gaps(reads: Cover) -> None:
    """sample.bed has no region at chr1:7000-8000: drawn as a gap on grey, not as zeros."""
    fig = plot_genome_track(reads, CHROM, 6500, 8500)
    ax = fig.axes[0]
    values = _outlines(ax)["reads|sample|+"].get_data().values
    assert np.isnan(values[500:1500]).all()
    np.testing.assert_array_equal(values[:500], reads[CHROM, 6500, 7000][0][:, 0, 0])
    np.testing.assert_array_equal(values[1500:], reads[CHROM, 8000, 8500][0][:, 0, 0])
    (span,) = [p for p in ax.patches if not p.get_gid() and p.get_facecolor()[:3] ==
               pytest.approx((0.92, 0.92, 0.92))]
    assert (span.get_x(), span.get_x() + span.get_width()) == (7000, 8000)


def test_heatmap_rows_are_conditions(signal: Cover, sample_files: dict[str, str]) -> None:
    fig = plot_genome_track({"tracks": signal}, CHROM, START, END, plottypes="heatmap")
    assert len(fig.axes) == 1
    (image,) = fig.axes[0].get_images()
    matrix = np.asarray(image.get_array())
    assert matrix.shape == (2, END - START)
    np.testing.assert_allclose(matrix[1], _bigwig(sample_files["bigwig_b"], CHROM, START, END),
                               rtol=1e-6)
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["sample_a", "sample_b"]
    assert fig.axes[0].get_ylabel() == "tracks"


def test_sequence_letters_and_onehot(dna: Bioseq, sample_files: dict[str, str]) -> None:
    with pysam.FastaFile(sample_files["fasta"]) as fa:
        short = fa.fetch(CHROM, 1350, 1410).upper()
        long_seq = fa.fetch(CHROM, 1000, 3000).upper()
    fig = plot_genome_track(dna, CHROM, 1350, 1410)
    texts = [t for t in fig.axes[0].texts]
    assert "".join(t.get_text() for t in texts) == short
    assert [t.get_position()[0] for t in texts[:2]] == [1350.5, 1351.5]
    assert texts[0].get_color() == BASE_COLORS[short[0]]
    fig = plot_genome_track(dna, CHROM, 1000, 3000)
    (image,) = fig.axes[0].get_images()
    rgb = np.asarray(image.get_array())
    assert rgb.shape == (4, 2000, 3)
    coloured = (rgb != 1).any(axis=2)  # white where the base is absent
    expected = np.array([[b == letter for b in long_seq] for letter in "ACGT"])
    np.testing.assert_array_equal(coloured, expected)


@pytest.mark.parametrize("whole", [False, True])
def test_letters_of_an_order_2_sequence(sample_files: dict[str, str], whole: bool) -> None:
    """An order-2 Bioseq draws one letter per base: the last base of the region, which no
    k-mer starts, was missing, and a base whose k-mer runs into the padding was 'N'."""
    with pysam.FastaFile(sample_files["fasta"]) as fa:
        want = fa.fetch(CHROM, 1350, 1410).upper()
    roi = None if whole else f"{CHROM}:1340-1410"
    dna2 = Bioseq.create_from_refgenome("dna2", sample_files["fasta"], roi=roi, order=2,
                                        binsize=None if whole else 70,
                                        store_whole_genome=whole)
    fig = plot_genome_track(dna2, CHROM, 1350, 1410)
    texts = fig.axes[0].texts
    assert "".join(t.get_text() for t in texts) == want
    assert texts[-1].get_position()[0] == 1409.5


@pytest.mark.parametrize("order", [2, 3])
def test_letters_from_kmers_starting_before_the_region(tmp_path, order: int) -> None:
    """A base's letter comes from a k-mer holding it, which may start before the region:
    a region starting where the k-mer runs into an N (or, in a partial store, into the
    window's padding) drew 'N' for a known base, and a region shorter than k drew
    nothing. Against the FASTA text for every region of a small genome."""
    fa = tmp_path / "g.fa"
    genome = "ACGTACGTACNNNNNGATTACAGATTACA"
    fa.write_text(f">chr1\n{genome}\n")
    whole = Bioseq.create_from_refgenome("w", str(fa), order=order)
    part = Bioseq.create_from_refgenome("p", str(fa), roi="chr1:0-10", binsize=10,
                                        order=order)
    for ds, n in ((whole, len(genome)), (part, 10)):
        for start in range(n):
            for end in range(start + 1, min(n, start + 12) + 1):
                texts = plot_genome_track(ds, "chr1", start, end).axes[0].texts
                got = "".join(t.get_text() for t in texts)
                assert got == genome[start:end], (ds.name, start, end)
                assert [t.get_position()[0] for t in texts] == \
                    [x + 0.5 for x in range(start, end)]


def test_a_window_past_the_chromosome_end_is_blank_there(tmp_path) -> None:
    """A partial-layout window whose flank runs past the chromosome end holds padding
    there, drawn blank as in the whole-genome layout (it was drawn as values)."""
    from genozarr import GenomicIndexer

    gi = GenomicIndexer(["chr1"], [960], [1000], ["+"], 40, 40, 20)  # window 940-1020
    x = np.arange(80, dtype="float32").reshape(1, 80, 1, 1) + 1
    cover = Cover.create_from_array("p", x, gi, genomesize={"chr1": 1005})
    values = _outlines(plot_genome_track(cover, CHROM, 940, 1020).axes[0])["p|Cond_0|."]\
        .get_data().values
    np.testing.assert_array_equal(values[:65], x[0, :65, 0, 0])
    assert np.isnan(values[65:]).all()


def test_several_tracks_dict_and_plottypes(signal: Cover, reads: Cover, dna: Bioseq,
                                           tmp_path) -> None:  # noqa: ANN001
    fig = plot_genome_track({"DNA": dna, "BigWig": signal, "BAM": reads}, CHROM, 1000, 2000,
                            plottypes={"BAM": "heatmap"}, title="three tracks")
    assert [ax.get_ylabel() for ax in fig.axes] == ["DNA", "BigWig", "BAM"]
    assert len(fig.axes[0].get_images()) == 1 and len(fig.axes[2].get_images()) == 1
    assert fig.axes[0].get_title(loc="left") == "three tracks"
    # only the bottom panel labels the x axis
    assert [ax.get_xlabel() for ax in fig.axes] == ["", "", "chr1 position (bp)"]
    fig.savefig(tmp_path / "three.png")
    assert (tmp_path / "three.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_views_bases_outside_its_windows_are_gaps(reads: Cover) -> None:
    """A view (a split, a subset) holds its own windows only: the other windows' bases
    were drawn as zeros (the view reads padding there), not as gaps."""
    from genozarr import view

    k = int(np.flatnonzero((reads.gindexer.chrs == CHROM)
                           & (reads.gindexer.starts == 6000))[0])
    (other,) = [i for i in range(len(reads)) if i != k][:1]
    part = view(reads, [other])
    assert (reads.gindexer.starts[k], reads.gindexer.ends[k]) == (6000, 7000)
    values = _outlines(plot_genome_track(part, CHROM, 6500, 7000).axes[0])[
        "reads|sample|+"].get_data().values
    assert reads[CHROM, 6500, 7000].any() and np.isnan(values).all()
    whole = _outlines(plot_genome_track(reads, CHROM, 6500, 7000).axes[0])[
        "reads|sample|+"].get_data().values
    np.testing.assert_array_equal(whole, reads[CHROM, 6500, 7000][0][:, 0, 0])


def test_draws_into_given_axes(signal: Cover) -> None:
    from matplotlib.figure import Figure

    fig = Figure()
    axes = fig.subplots(2, 1)
    out = plot_genome_track([signal, signal], CHROM, START, END, ax=list(axes))
    assert out is fig
    assert axes[1].get_ylabel() == "signal (2)"
    # the array of Axes subplots returns (it was taken for one Axes)
    assert plot_genome_track([signal, signal], CHROM, START, END, ax=axes) is fig
    with pytest.raises(ArgumentError, match="1 Axes for 2 panels"):
        plot_genome_track([signal, signal], CHROM, START, END, ax=axes[0])


def test_bad_arguments(signal: Cover) -> None:
    with pytest.raises(RegionError, match="start < end"):
        plot_genome_track(signal, CHROM, 500, 500)
    with pytest.raises(ArgumentError, match="needs a Bioseq"):
        plot_genome_track(signal, CHROM, 0, 100, plottypes="seqplot")
    with pytest.raises(ArgumentError, match="not one of"):
        plot_genome_track(signal, CHROM, 0, 100, plottypes="bars")
    with pytest.raises(ArgumentError, match="not a Cover or Bioseq"):
        plot_genome_track([np.zeros(3)], CHROM, 0, 100)
    with pytest.raises(genozarr.errors.ChromosomeNotFoundError, match="chrX"):
        plot_genome_track(signal, "chrX", 0, 100)


def test_janggu_alias_and_lazy_name(signal: Cover) -> None:
    assert plotGenomeTrack is plot_genome_track
    # Janggu's positional order: tracks, chrom, start, end, figsize, plottypes (a
    # figsize by position raised TypeError)
    fig = plotGenomeTrack([signal], "chr1", 1000, 3000, (6, 4), "heatmap")
    assert tuple(fig.get_size_inches()) == (6.0, 4.0) and fig.axes[0].images
    assert genozarr.plotGenomeTrack is plot_genome_track
    assert genozarr.plot_genome_track is plot_genome_track


def test_repeated_track_names_keep_every_track(sample_files: dict[str, str]) -> None:
    """A list of datasets named x, x and 'x (2)': three panels, each of its own data."""
    kw = dict(roi=None, genomesize=sample_files["chrom_sizes"], binsize=1000,
              resolution=1, store_whole_genome=True)
    files = [sample_files["bigwig_a"], sample_files["bigwig_b"], sample_files["bigwig_a"]]
    tracks = [Cover.create_from_bigwig(name, f, **kw)
              for name, f in zip(["x", "x", "x (2)"], files)]
    fig = plot_genome_track(tracks, CHROM, START, END)
    assert [ax.get_ylabel().split("\n")[0] for ax in fig.axes] == ["x", "x (3)", "x (2)"]
    for ax, f in zip(fig.axes, files):
        (outline,) = _outlines(ax).values()
        np.testing.assert_allclose(outline.get_data().values, _bigwig(f, CHROM, START, END),
                                   rtol=1e-6)


@pytest.mark.parametrize("n", [3, 11, 25])
def test_every_overlaid_condition_has_its_own_colour(n: int) -> None:
    """The colour cycle of 10 drew condition k and k + 10 alike (same colour and line
    style) in one overlaid panel (an audit)."""
    import matplotlib.colors as mc
    import pandas as pd

    from genozarr import GenomicIndexer

    gi = GenomicIndexer.create_from_file(
        pd.DataFrame({"chrom": ["chr1"], "start": [0], "end": [100]}), binsize=100,
        stepsize=100)
    cover = Cover.create_from_array("pred", np.arange(n, dtype="float32").reshape(1, n), gi,
                                    conditions=[f"c{i}" for i in range(n)])
    fig = plot_genome_track(cover, "chr1", 0, 100)
    lines = _outlines(fig.axes[0])
    colours = {mc.to_hex(lines[f"pred|c{i}|."].get_edgecolor()) for i in range(n)}
    assert len(colours) == n
    for i in range(min(n, 10)):  # the first ten: matplotlib's own cycle, as before
        assert mc.to_hex(lines[f"pred|c{i}|."].get_edgecolor()) == mc.to_hex(f"C{i}")
