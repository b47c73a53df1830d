"""The ``genozarr`` command line on the bundled sample data.

Each command's output is checked against an independent reading of the inputs: pyBigWig
and pysam for the demo stores, ``find -printf %s`` for sizes on disk, pyBigWig for
exported files, hand-worked coordinates for ``trim``.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pysam
import pyBigWig
import pytest
from typer.testing import CliRunner

from genozarr import Cover
from genozarr import open_dataset
from genozarr.cli import app
from genozarr.store.handle import load_store
from genozarr.store.layout import FORMAT_VERSION

runner = CliRunner()


def _run(*args: str):  # noqa: ANN202
    return runner.invoke(app, [str(a) for a in args])


def _bigwig(path: str, chrom: str) -> np.ndarray:
    with pyBigWig.open(path) as bw:
        n = bw.chroms(chrom)
        return np.nan_to_num(np.asarray(bw.values(chrom, 0, n), dtype=np.float64))


def _file_bytes(path: Path) -> int:
    """Sum of file sizes under ``path``, from find(1)."""
    out = subprocess.run(["find", str(path), "-type", "f", "-printf", r"%s\n"],
                         capture_output=True, text=True, check=True).stdout
    return sum(int(x) for x in out.split())


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("demo") / "stores"
    result = _run("demo", "--out", out)
    assert result.exit_code == 0, result.output
    return out, result.stdout


# ---------------------------------------------------------------------------- demo
def test_demo_signal_store_equals_pybigwig(demo_dir: tuple[Path, str],
                                           sample_files: dict[str, str]) -> None:
    out, stdout = demo_dir
    store = load_store(out / "signal.zarr", "ndarray")
    assert store.meta.conditions == ["sample_a", "sample_b"]
    assert store.meta.resolution == 10
    values = []
    for chrom in ("chr1", "chr2"):
        stored = store.dense(chrom)  # (bins, strand, condition), 10 bp means
        for ci, key in enumerate(("bigwig_a", "bigwig_b")):
            raw = _bigwig(sample_files[key], chrom)
            np.testing.assert_allclose(stored[:, 0, ci], raw.reshape(-1, 10).mean(axis=1),
                                       rtol=1e-5, atol=1e-5)
            values.append((ci, raw))
    # the printed statistics are the means and maxima of those bins
    mean_a = np.concatenate([r.reshape(-1, 10).mean(1) for ci, r in values if ci == 0]).mean()
    max_b = max(r.reshape(-1, 10).mean(1).max() for ci, r in values if ci == 1)
    assert f"sample_a: mean {mean_a:.4g}" in stdout
    assert f"max {max_b:.4g}" in stdout
    for name in ("dna", "reads", "signal", "peaks"):
        assert f"{name}: {out / name}.zarr" in stdout
    assert (out / "region.png").read_bytes()[:4] == b"\x89PNG"


def test_demo_dna_and_reads_stores(demo_dir: tuple[Path, str],
                                   sample_files: dict[str, str]) -> None:
    out, stdout = demo_dir
    dna = load_store(out / "dna.zarr", "ndarray")
    table = dna.region_table
    codes = dna.dense()[:, :, 0, 0]
    lookup = {"A": 0, "C": 1, "G": 2, "T": 3}
    with pysam.FastaFile(sample_files["fasta"]) as fa:
        for row in (0, 17, 39):
            seq = fa.fetch(table["chrom"][row], int(table["start"][row]), int(table["end"][row]))
            expected = [lookup.get(b, 4) for b in seq.upper()]
            np.testing.assert_array_equal(codes[row], expected)
        gc = sum(fa.fetch(c).upper().count(b) for c in ("chr1", "chr2") for b in "GC")
    reads = open_dataset(out / "reads.zarr")
    assert reads.shape == (40, 20, 2, 1)
    # the reopened store serves the same windows as a Cover built directly
    direct = Cover.create_from_bam("reads", sample_files["bam"], roi=sample_files["roi"],
                                   binsize=1000, resolution=50)
    np.testing.assert_array_equal(reads[:], direct[:])
    assert "GC " in stdout and gc > 0


# ---------------------------------------------------------------------------- info
def test_info_json_sizes_match_the_files(demo_dir: tuple[Path, str]) -> None:
    out, _ = demo_dir
    for name in ("reads", "signal"):
        path = out / f"{name}.zarr"
        result = _run("info", path, "--json", "--stats")
        assert result.exit_code == 0, result.output
        s = json.loads(result.stdout)
        assert s["disk_bytes"] == _file_bytes(path)
        arrays = ["data"] if name == "reads" else ["chr1/data", "chr2/data"]
        stored = sum(_file_bytes(path / a) for a in arrays)
        store = load_store(path, "ndarray")
        decoded = sum(store.dense(a).nbytes for a in arrays)
        assert (s["stored_bytes"], s["decoded_bytes"]) == (stored, decoded)
        assert s["compression_ratio"] == pytest.approx(decoded / stored)
        assert s["cache_key"] == store.meta.cache_key and len(s["cache_key"]) == 64
        assert s["format_version"] == FORMAT_VERSION
        assert s["arrays"][arrays[0]]["codec"].startswith("blosc/zstd")
    reads = load_store(out / "reads.zarr", "ndarray").dense()
    s = json.loads(_run("info", out / "reads.zarr", "--json", "--stats").stdout)
    assert s["dims"] == ["region", "position", "strand", "condition"]
    assert s["arrays"]["data"]["shape"] == list(reads.shape) == [40, 20, 2, 1]
    assert s["stats"]["mean"]["sample"] == pytest.approx(reads.mean())
    assert s["stats"]["max"]["sample"] == reads.max()
    assert s["stats"]["nonzero_fraction"]["sample"] == pytest.approx((reads != 0).mean())


def _times_three(x):
    return x * 3


def test_commands_restore_the_users_normalizer_only_when_trusted(tmp_path: Path) -> None:
    """``info --stats``, ``export`` and ``plot`` open a store as its dataset: a normalizer
    function of the user's module, which its recipe names by import path, is refused
    (a recipe could name any function) unless ``--trust-callables`` is given; then the
    exported values are three times the stored ones (numpy)."""
    from genozarr.testing.simulate import write_bigwig

    x = np.arange(40, dtype=np.float32)
    bw = write_bigwig(str(tmp_path / "a.bw"), {"chr1": x})
    store = tmp_path / "s.zarr"
    Cover.create_from_bigwig("s", bw, roi="chr1:0-40", binsize=10, storage="zarr",
                             store=str(store), normalizer=_times_three)
    for args in (("info", store, "--stats"), ("export", store, tmp_path / "o"),
                 ("plot", store, "chr1", 0, 40, "-o", tmp_path / "p.png")):
        refused = _run(*args)
        assert refused.exit_code == 1 and "--trust-callables" in refused.output
        assert "not trusted to run code" in refused.output, refused.output
        assert _run(*args, "--trust-callables").exit_code == 0
    (path,) = list((tmp_path / "o").iterdir())
    np.testing.assert_array_equal(_bigwig(str(path), "chr1"), 3 * x.ravel())


def test_info_text(demo_dir: tuple[Path, str]) -> None:
    out, _ = demo_dir
    result = _run("info", out / "signal.zarr")
    assert result.exit_code == 0, result.output
    text = result.stdout
    for expected in ("(position, strand, condition)", "sample_a, sample_b", "3000x1x2",
                     "float32", "blosc/zstd", "compression ratio", "format version",
                     f"({_file_bytes(out / 'signal.zarr')} bytes)"):
        assert expected in text, expected


def test_main_in_process_leaves_the_callers_logging_as_it_was(
        demo_dir: tuple[Path, str], capsys: pytest.CaptureFixture[str]) -> None:
    import logging

    from genozarr.cli import main

    logger = logging.getLogger("genozarr")
    mine = logging.StreamHandler()
    level, handlers = logger.level, list(logger.handlers)
    logger.setLevel(logging.INFO)
    logger.addHandler(mine)
    try:
        assert main(["-v", "info", str(demo_dir[0] / "signal.zarr")]) == 0
        # the command's own handler and level are gone, the caller's back
        assert logger.level == logging.INFO
        assert logger.handlers == handlers + [mine]
        assert main(["info", str(demo_dir[0] / "signal.zarr")]) == 0
        assert logger.level == logging.INFO and logger.handlers == handlers + [mine]
    finally:
        logger.setLevel(level)
        logger.handlers[:] = handlers
    capsys.readouterr()


def test_info_prints_brackets_in_names_and_paths_as_they_are(
        tmp_path: Path, sample_files: dict[str, str]) -> None:
    """Condition names and paths were read as rich markup: '[bold]A' was shown as 'A', a
    folder 'm[b]d' as 'md', and a condition '[/x]' made info (and build's summary) fail
    with a traceback (an audit)."""
    store = tmp_path / "m[b]d" / "s.zarr"
    Cover.create_from_bigwig("s", [sample_files["bigwig_a"], sample_files["bigwig_b"]],
                             roi=sample_files["roi"], binsize=1000, resolution=100,
                             conditions=["[bold]A", "[/x]"], storage="zarr", store=store)
    for args in (("info", store), ("info", store, "--stats")):
        result = _run(*args)
        assert result.exit_code == 0, result.output
        assert "[bold]A, [/x]" in result.stdout and "m[b]d" in result.stdout


def test_info_quotes_condition_names_that_would_read_as_several(
        tmp_path: Path, sample_files: dict[str, str]) -> None:
    """Conditions were joined by ', ', so two conditions 'a,b' and ' c' read as three
    names (a carried doubt): where a name holds a comma or spaces at an end, every name
    is shown quoted, as ``--json`` gives them."""
    store = tmp_path / "s.zarr"
    Cover.create_from_bigwig("s", [sample_files["bigwig_a"], sample_files["bigwig_b"]],
                             roi=sample_files["roi"], binsize=1000, resolution=100,
                             conditions=["a,b", " c"], storage="zarr", store=store)
    result = _run("info", store)
    assert result.exit_code == 0, result.output
    assert "'a,b', ' c'" in result.stdout, result.stdout
    listed = json.loads(_run("info", store, "--json").stdout)["conditions"]
    assert listed == ["a,b", " c"]


def test_plot_a_format_matplotlib_cannot_write_is_one_line(
        demo_dir: tuple[Path, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A format listed by matplotlib whose writer fails (pgf without LaTeX) gave a
    124-line traceback; now one error line, and no file left. A plot already at the
    output path is kept when matplotlib fails before writing (an image too large; a
    review: the first fix removed it), and a plot through a link writes the link's
    target, as before (a review: a file written beside it and renamed replaced the
    link)."""
    from matplotlib.figure import Figure

    out, _ = demo_dir
    target = tmp_path / "real" / "t.png"
    target.parent.mkdir()
    target.write_bytes(b"old")
    (tmp_path / "link.png").symlink_to(target)
    result = _run("plot", out / "signal.zarr", "chr1", 1000, 4000, "-o", tmp_path / "link.png")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "link.png").is_symlink() and target.read_bytes()[:4] == b"\x89PNG"
    (tmp_path / "link.png").unlink()
    target.unlink()
    target.parent.rmdir()

    def fail(self, fname, **kwargs):  # noqa: ANN001, ANN003, ANN202
        if Path(fname).suffix == ".png":  # as an image too large: before the file opens
            raise ValueError("Image size of 11000000x264 pixels is too large.")
        Path(fname).write_text("partial")
        raise RuntimeError("'xelatex' not found; did you install\nLaTeX?")

    monkeypatch.setattr(Figure, "savefig", fail)
    result = _run("plot", out / "signal.zarr", "chr1", 1000, 4000, "-o", tmp_path / "x.pgf")
    assert result.exit_code == 1
    assert result.stderr == (f"genozarr: error: {tmp_path / 'x.pgf'}: matplotlib could not "
                             "write the plot: 'xelatex' not found; did you install LaTeX?\n")
    assert not (tmp_path / "x.pgf").exists()
    kept = tmp_path / "kept.png"
    kept.write_bytes(b"an earlier plot")
    result = _run("plot", out / "signal.zarr", "chr1", 1000, 4000, "-o", kept)
    assert result.exit_code == 1 and "matplotlib could not write the plot" in result.stderr
    assert kept.read_bytes() == b"an earlier plot"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept.png"]


# ---------------------------------------------------------------------------- export
def test_export_bigwig_round_trip(demo_dir: tuple[Path, str], tmp_path: Path) -> None:
    out, _ = demo_dir
    result = _run("export", out / "signal.zarr", tmp_path)
    assert result.exit_code == 0, result.output
    files = result.stdout.split()
    assert [Path(f).name for f in files] == ["signal.sample_a.bigwig", "signal.sample_b.bigwig"]
    store = load_store(out / "signal.zarr", "ndarray")
    for ci, f in enumerate(files):
        with pyBigWig.open(f) as bw:
            assert bw.chroms() == {"chr1": 30000, "chr2": 20000}
            for chrom in ("chr1", "chr2"):
                got = np.asarray(bw.values(chrom, 0, bw.chroms(chrom)))
                np.testing.assert_array_equal(got, np.repeat(store.dense(chrom)[:, 0, ci], 10))


def test_export_skip_zeros(demo_dir: tuple[Path, str], tmp_path: Path) -> None:
    out, _ = demo_dir
    result = _run("export", out / "signal.zarr", tmp_path, "--skip-zeros")
    assert result.exit_code == 0, result.output
    store = load_store(out / "signal.zarr", "ndarray")
    for ci, f in enumerate(result.stdout.split()):
        with pyBigWig.open(f) as bw:
            for chrom in ("chr1", "chr2"):
                want = np.repeat(store.dense(chrom)[:, 0, ci], 10).astype(np.float64)
                assert (want == 0).any()  # the demo has bins of 0: left out, read as NaN
                want[want == 0] = np.nan
                got = np.asarray(bw.values(chrom, 0, bw.chroms(chrom)))
                np.testing.assert_array_equal(got, want)


def test_export_bed_two_strands(demo_dir: tuple[Path, str], tmp_path: Path) -> None:
    out, _ = demo_dir
    result = _run("export", out / "reads.zarr", tmp_path, "--format", "bed")
    assert result.exit_code == 0, result.output
    plus, minus = (Path(f) for f in result.stdout.split())
    assert (plus.name, minus.name) == ("reads.sample.plus.bed", "reads.sample.minus.bed")
    store = load_store(out / "reads.zarr", "ndarray")
    rows = [line.split("\t") for line in minus.read_text().splitlines()]
    # the first window of sample.bed is chr1:0-1000: 20 bins of 50 bp
    assert [r[:3] for r in rows[:2]] == [["chr1", "0", "50"], ["chr1", "50", "100"]]
    np.testing.assert_allclose([float(r[3]) for r in rows[:20]], store.dense()[0, :, 1, 0])
    assert len(rows) == 40 * 20


def test_export_bed_merge(demo_dir: tuple[Path, str], tmp_path: Path) -> None:
    """``--merge`` writes one BED line per run of equal values (a bedGraph as browsers
    read it), covering the bins' values base for base; without it one line per bin."""
    out, _ = demo_dir
    result = _run("export", out / "signal.zarr", tmp_path / "m", "--format", "bed", "--merge")
    assert result.exit_code == 0, result.output
    store = load_store(out / "signal.zarr", "ndarray")
    for ci, f in enumerate(result.stdout.split()):
        rows = [line.split("\t") for line in Path(f).read_text().splitlines()]
        for chrom in ("chr1", "chr2"):
            want = np.repeat(store.dense(chrom)[:, 0, ci], 10)
            mine = [(int(s), int(e), float(v)) for c, s, e, v in rows if c == chrom]
            got = np.full(len(want), np.nan)
            for s, e, v in mine:
                got[s:e] = v
            np.testing.assert_allclose(got, want, rtol=1e-6)
            runs = 1 + np.count_nonzero(want[1:] != want[:-1])
            assert len(mine) == runs  # one line a run
            assert all(a[1] == b[0] for a, b in itertools.pairwise(mine))
    plain = _run("export", out / "signal.zarr", tmp_path / "p", "--format", "bed")
    lines = Path(plain.stdout.split()[0]).read_text().splitlines()
    assert len(lines) == (30000 + 20000) // 10  # one line a bin


def test_export_rejects_sequence_store(demo_dir: tuple[Path, str], tmp_path: Path) -> None:
    out, _ = demo_dir
    result = _run("export", out / "dna.zarr", tmp_path)
    assert result.exit_code == 1
    assert result.stderr.strip() == (f"genozarr: error: {out / 'dna.zarr'} is a sequence "
                                     "store; only coverage stores export to bigwig")


# ---------------------------------------------------------------------------- plot
def test_plot_writes_png(demo_dir: tuple[Path, str], tmp_path: Path) -> None:
    import matplotlib.image

    out, _ = demo_dir
    png = tmp_path / "region.png"
    result = _run("plot", out / "signal.zarr", "chr1", 1000, 4000, "-o", png,
                  "-t", out / "reads.zarr", "-t", out / "dna.zarr", "--width", 8, "--dpi", 50)
    assert result.exit_code == 0, result.output
    img = matplotlib.image.imread(png)
    assert img.shape[1] == 8 * 50 and img.shape[0] > 150
    bad = _run("plot", out / "signal.zarr", "chr9", 0, 100, "-o", png)
    assert bad.exit_code == 1
    assert bad.stderr.startswith("genozarr: error: chromosome 'chr9' is not in store")
    # a partial store: the same (it drew an empty panel and exited 0), and past the end
    bad = _run("plot", out / "reads.zarr", "chr9", 0, 100, "-o", png)
    assert bad.exit_code == 1, bad.output
    assert bad.stderr.startswith("genozarr: error: chromosome 'chr9' is not in store")
    length = open_dataset(out / "reads.zarr").garray.meta.chroms["chr1"]
    bad = _run("plot", out / "reads.zarr", "chr1", length + 10, length + 100, "-o", png)
    assert bad.exit_code == 1
    assert f"starts past the end of chr1 as the store(s) record it ({length} bases" in bad.stderr
    # option values matplotlib cannot use: usage errors, or one line (was a traceback)
    for option in (("--width", 0), ("--dpi", 0), ("--width", -3)):
        assert _run("plot", out / "signal.zarr", "chr1", 1000, 4000, "-o", png,
                    *option).exit_code == 2
    odd = _run("plot", out / "signal.zarr", "chr1", 1000, 4000, "-o", tmp_path / "x.unknown")
    text = " ".join(re.sub("[\u2500-\u257f]", " ", odd.output).split())  # no box lines
    assert odd.exit_code == 2 and "Invalid value for --output" in text
    assert "matplotlib writes no 'unknown' files" in text
    assert not (tmp_path / "x.unknown").exists()
    # a bad value of a choice option is a usage error too (exit 2; these exited 1)
    for args in (("plot", out / "signal.zarr", "chr1", 1000, 4000, "--plottype", "bar"),
                 ("export", out / "signal.zarr", tmp_path, "--format", "wig"),
                 ("export", out / "signal.zarr", tmp_path, "--overlap", "sum")):
        result = _run(*args)
        assert result.exit_code == 2 and "Invalid value for" in result.output, args


def test_plot_draws_a_panel_for_every_store_given(demo_dir: tuple[Path, str],
                                                  tmp_path: Path, monkeypatch) -> None:
    """The same store given three times drew two panels (the third took the second's
    label), exiting 0 (an audit): one panel per store given, as documented."""
    import genozarr.plot

    out, _ = demo_dir
    drawn: list[list[str]] = []
    real = genozarr.plot.plot_genome_track

    def spy(tracks, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        drawn.append(list(tracks))
        return real(tracks, *args, **kwargs)

    monkeypatch.setattr(genozarr.plot, "plot_genome_track", spy)
    store = out / "signal.zarr"
    result = _run("plot", store, "chr1", 1000, 1200, "-t", store, "-t", store, "-t",
                  out / "reads.zarr", "-o", tmp_path / "x.png", "--dpi", 20)
    assert result.exit_code == 0, result.output
    name = open_dataset(store).name
    assert drawn == [[name, f"{name} ({store})", f"{name} ({store}, 2)",
                      open_dataset(out / "reads.zarr").name]]


# ---------------------------------------------------------------------------- trim
def test_trim_hand_checked(tmp_path: Path) -> None:
    bed = tmp_path / "in.bed"
    bed.write_text("chr1\t3\t120\tr1\t5\t+\n"      # -> 50-100
                   "chr1\t10\t40\tr2\t1\t-\n"      # vanishes (no multiple of 50 inside)
                   "chr2\t100\t250\tr3\t2\t-\n"    # already aligned
                   "chr2\t149\t301\tr4\t0\t.\n")   # -> 150-300
    out = tmp_path / "sub" / "out.bed"
    result = _run("trim", bed, out, "--resolution", 50)
    assert result.exit_code == 0, result.output
    assert out.read_text().splitlines() == ["chr1\t50\t100\tr1\t5\t+",
                                            "chr2\t100\t250\tr3\t2\t-",
                                            "chr2\t150\t300\tr4\t0\t."]
    assert "3 regions (1 dropped)" in result.stdout


def test_trim_stopped_while_writing_keeps_the_complete_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``genozarr trim`` wrote its BED straight to OUT: stopped half way (SIGTERM from a
    workflow manager), it left the lines written so far under the name of the complete
    file it replaced, newer than its input, so a rerun took it as up to date (an audit).
    It now writes beside OUT and renames: stopped, OUT stays as it was and nothing else
    is left; finished, OUT holds the new lines (gzip-compressed for a ``.gz`` name)."""
    import gzip

    import pandas as pd

    bed = tmp_path / "in.bed"
    bed.write_text("".join(f"chr1\t{i * 100 + 3}\t{i * 100 + 97}\tr{i}\t0\t+\n"
                           for i in range(1000)))
    out = tmp_path / "out.bed"
    out.write_text("complete\n")
    real = pd.DataFrame.to_csv

    def stopped(self, path, **kwargs):  # half the lines written, then SIGTERM's exit
        real(self.iloc[:500], path, **kwargs)
        raise SystemExit(143)

    monkeypatch.setattr(pd.DataFrame, "to_csv", stopped)
    result = _run("trim", bed, out, "--resolution", 10)
    assert result.exit_code == 143
    assert out.read_text() == "complete\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.bed", "out.bed"]
    monkeypatch.setattr(pd.DataFrame, "to_csv", real)
    for name, read in (("out.bed", Path.read_text),
                       ("out.bed.gz", lambda p: gzip.decompress(p.read_bytes()).decode())):
        result = _run("trim", bed, tmp_path / name, "--resolution", 10)
        assert result.exit_code == 0, result.output
        lines = read(tmp_path / name).splitlines()
        assert len(lines) == 1000 and lines[0] == "chr1\t10\t90\tr0\t0\t+"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.bed", "out.bed", "out.bed.gz"]


def test_region_exports_write_long_home_and_url_names_as_before(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The BED written beside its file and renamed (the test above) failed for names the
    direct write took (a review): a name of 250 bytes (its temporary name passed 255), a
    path from '~' (pandas expanded it, the rename did not, and left the temporary file in
    the home folder) and an fsspec URL (made a local path). Each is written, and nothing
    else is left."""
    import fsspec

    from genozarr.regions import GenomicIndexer

    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    gi = GenomicIndexer(["chr1"] * 2, [0, 10], [10, 20], ["+"] * 2, 10, 10)
    expected = "chr1\t0\t10\t.\t0\t+\nchr1\t10\t20\t.\t0\t+\n"  # (by hand)
    long = tmp_path / ("w" * 246 + ".bed")
    gi.export_to_bed(long)
    assert long.read_text() == expected
    gi.export_to_bed("~/x.bed")
    assert (home / "x.bed").read_text() == expected
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["home", long.name])
    assert [p.name for p in home.iterdir()] == ["x.bed"]
    gi.export_to_bed("memory://genozarr-test/y.bed")
    assert fsspec.filesystem("memory").cat("/genozarr-test/y.bed").decode() == expected


def test_trim_and_region_exports_keep_names_with_quotes(tmp_path: Path) -> None:
    """BED writers quoted names as CSV: a name in double quotes came back in three pairs
    of them (genozarr's reader, as BED's, takes quotes as text). Names are written as
    they are; a name with a tab is refused by name."""
    from genozarr.errors import ArgumentError
    from genozarr.io.bed import read_bed
    from genozarr.regions import GenomicIndexer

    bed = tmp_path / "in.bed"
    bed.write_text('chr1\t3\t107\t"peak1"\t5\t+\nchr1\t200\t300\tsay "hi"\t0\t-\n')
    out = tmp_path / "out.bed"
    result = _run("trim", bed, out, "--resolution", 10)
    assert result.exit_code == 0, result.output
    assert out.read_text().splitlines() == ['chr1\t10\t100\t"peak1"\t5\t+',
                                            'chr1\t200\t300\tsay "hi"\t0\t-']
    gi = GenomicIndexer.create_from_file(str(out), binsize=None, stepsize=None)
    gi.export_to_bed(tmp_path / "gi.bed")
    assert list(read_bed(tmp_path / "gi.bed")["name"]) == ['"peak1"', 'say "hi"']
    tabbed = GenomicIndexer(["chr1"], [0], [10], ["+"], 10, 10, names=["a\tb"])
    with pytest.raises(ArgumentError, match=r"t.bed: the 'name' of row 0 .* holds a tab"):
        tabbed.export_to_bed(tmp_path / "t.bed")
    assert not (tmp_path / "t.bed").exists()


# ---------------------------------------------------------------------------- build
TOML_SPEC = """\
roi = "{roi}"
binsize = 1000

[[datasets]]
name = "sig"
kind = "bigwig"
files = ["{a}", "{b}"]
resolution = 50
conditions = ["A", "B"]

[[datasets]]
name = "seq"
kind = "refgenome"
files = "{fasta}"
store = "elsewhere/seq.zarr"
"""

YAML_SPEC = """\
name: sig
kind: bigwig
files: [{a}, {b}]
roi: {roi}
binsize: 1000
resolution: 50
conditions: [A, B]
store: sig_yaml.zarr
"""


def test_build_toml_and_yaml(tmp_path: Path, sample_files: dict[str, str]) -> None:
    # relative paths in a spec are relative to the spec file
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    for key in ("roi", "bigwig_a", "bigwig_b", "fasta", "fai"):
        os.symlink(sample_files[key], inputs / Path(sample_files[key]).name)
    names = {k: f"inputs/{Path(sample_files[v]).name}" for k, v in
             (("roi", "roi"), ("a", "bigwig_a"), ("b", "bigwig_b"), ("fasta", "fasta"))}
    toml = tmp_path / "spec.toml"
    toml.write_text(TOML_SPEC.format(**names))
    result = _run("build", toml, "--out", tmp_path / "out", "--no-progress")
    assert result.exit_code == 0, result.output
    sig = open_dataset(tmp_path / "out" / "sig.zarr")
    assert sig.conditions == ["A", "B"] and sig.shape == (40, 20, 1, 2)
    seq = open_dataset(tmp_path / "elsewhere" / "seq.zarr")
    assert seq.shape == (40, 1000, 1, 4)
    # window i of the BigWig store = 50 bp means of the pyBigWig values
    gi = sig.gindexer
    for i in (0, 25):
        for ci, key in enumerate(("bigwig_a", "bigwig_b")):
            raw = _bigwig(sample_files[key], gi.chrs[i])[gi.starts[i]:gi.ends[i]]
            expected = raw.reshape(-1, 50).mean(axis=1)
            if gi.strand[i] == "-":
                expected = expected[::-1]
            np.testing.assert_allclose(sig[i][0][:, 0, ci], expected, rtol=1e-5, atol=1e-5)
    yaml = tmp_path / "spec.yaml"
    yaml.write_text(YAML_SPEC.format(**names))
    result = _run("build", yaml, "--no-progress")
    assert result.exit_code == 0, result.output
    np.testing.assert_array_equal(open_dataset(tmp_path / "sig_yaml.zarr")[:], sig[:])


def test_build_spec_defaults_hdf5_and_variants(tmp_path: Path,
                                               sample_files: dict[str, str]) -> None:
    """A top-level key applies to the entries whose kind takes it (resolution: not to a
    refgenome entry, which was refused); storage='hdf5' (Janggu's name for zarr) goes to
    --out as 'zarr' does; a relative variants path is relative to the spec file, as the
    other paths (it was relative to the working directory, after --check passed)."""
    import pysam

    inputs = tmp_path / "inputs"
    inputs.mkdir()
    for key in ("roi", "bigwig_a", "fasta", "fai"):
        os.symlink(sample_files[key], inputs / Path(sample_files[key]).name)
    with pysam.FastaFile(sample_files["fasta"]) as fa:
        ref = fa.fetch("chr1", 99, 100)
    alt = "A" if ref != "A" else "C"
    (inputs / "v.vcf").write_text(
        "##fileformat=VCFv4.2\n##contig=<ID=chr1>\n##FORMAT=<ID=GT,Number=1,Type=String,"
        "Description=\"Genotype\">\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\n"
        f"chr1\t100\t.\t{ref}\t{alt}\t.\tPASS\t.\tGT\t1|1\n")
    spec = tmp_path / "spec.toml"
    spec.write_text(
        'binsize = 200\nresolution = 50\nroi = "inputs/sample.bed"\n\n'
        '[[datasets]]\nname = "sig"\nkind = "bigwig"\nfiles = "inputs/sample_a.bw"\n'
        'storage = "hdf5"\n\n'
        '[[datasets]]\nname = "dna"\nkind = "refgenome"\nfiles = "inputs/sample.fa"\n\n'
        '[[datasets]]\nname = "me"\nkind = "refgenome"\nfiles = "inputs/sample.fa"\n'
        'variants = "inputs/v.vcf"\n')
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    cwd = os.getcwd()
    os.chdir(elsewhere)
    try:
        with warnings.catch_warnings():  # (the suite turns genozarr's warnings to errors)
            warnings.simplefilter("default")
            result = _run("build", spec, "--out", tmp_path / "out", "--no-progress")
    finally:
        os.chdir(cwd)
    assert result.exit_code == 0, result.output
    # a warning is one line on stderr (without Python's source line of the caller)
    warned = [line for line in result.stderr.splitlines() if "hdf5" in line]
    assert len(warned) == 1 and warned[0].startswith("genozarr: warning: ")
    sig = open_dataset(tmp_path / "out" / "sig.zarr")
    assert sig.shape[1] == 4  # 200 bp at 50 bp
    dna = open_dataset(tmp_path / "out" / "dna.zarr")
    assert dna.shape[1:] == (200, 1, 4)  # one base per position: no resolution
    personal = open_dataset(tmp_path / "out" / "me.zarr")
    assert personal.samples == ["S1"]


def test_build_spec_store_null_goes_to_out_and_sample_names_must_be_text(
        tmp_path: Path, sample_files: dict[str, str]) -> None:
    """``store: null`` (YAML's None, the default) built under the output root where the
    docs and the check of shared stores say ``--out/<name>.zarr``; ``samples: [010]`` (a
    VCF's sample names, which YAML reads as the number 8) selected the sample '8' (an
    audit). The store goes to --out, and sample names that are numbers are refused as
    condition names are."""
    spec = tmp_path / "spec.yaml"
    spec.write_text(f"name: x\nkind: bigwig\nfiles: {sample_files['bigwig_a']}\n"
                    f"roi: {sample_files['roi']}\nbinsize: 200\nresolution: 50\n"
                    "store: null\n")
    result = _run("build", spec, "--out", tmp_path / "out", "--no-progress")
    assert result.exit_code == 0, result.output
    got = open_dataset(tmp_path / "out" / "x.zarr")
    assert got.shape[1:] == (4, 1, 1)
    spec.write_text(f"name: me\nkind: refgenome\nfiles: {sample_files['fasta']}\n"
                    f"roi: {sample_files['roi']}\nbinsize: 200\nvariants: v.vcf\n"
                    "samples: [010]\n")
    result = _run("build", spec, "--check")
    assert result.exit_code == 1
    assert "samples must be strings, got [8]; quote names" in result.stderr


@pytest.mark.parametrize("spec, message", [
    ("name: x\nkind: bigwig\nfiles: a.bw\nbinsiz: 100\n",
     "unknown key(s) 'binsiz' (did you mean 'binsize'?) for kind 'bigwig'; valid keys:"),
    ("name: x\nkind: bigwigs\nfiles: a.bw\n", "unknown kind 'bigwigs'; valid kinds: bigwig,"),
    ("kind: bam\nfiles: a.bam\n", "missing key 'name'"),
    ("name: x\nkind: bigwig\nfiles: missing.bw\n", "input file"),
    ("name: [x\n", "cannot parse the spec"),
    ("name: [a, b]\nkind: bigwig\nfiles: a.bw\n", "name must be a string, got ['a', 'b']"),
    (b"name: x\nkind: bigwig\xff\n", "a spec is a TOML or YAML text file in UTF-8"),
])
def test_build_spec_errors(tmp_path: Path, spec: str | bytes, message: str) -> None:
    path = tmp_path / "spec.yaml"
    if isinstance(spec, bytes):
        path.write_bytes(spec)
    else:
        path.write_text(spec)
    result = _run("build", path)
    assert result.exit_code == 1
    assert result.stderr.startswith("genozarr: error: ")
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("extra, message", [
    ("genomesize: 5\nstore_whole_genome: true\n", "a genome size source is a dict"),
    ("conditions: 5\n", "dataset 'x': conditions must be strings, got 5"),
    # YAML reads unquoted 010 as 8 (octal), 2.10 as 2.1: names other than the ones written
    ("conditions: [010]\n", "conditions must be strings, got [8]; quote names"),
    ("store_whole_genome: 'false'\n", "store_whole_genome must be True or False, got 'false'"),
    # found by the build: the error names the spec and the dataset (it named neither)
    ("nan_to_num: 'false'\n",
     "spec.yaml: dataset 'x': nan_to_num must be True or False, got 'false'"),
    ("normalizer: zscor\n", "spec.yaml: dataset 'x': unknown normalizer 'zscor'"),
    ("binsize: abc\n", "spec.yaml: dataset 'x': binsize must be an integer"),
])
def test_build_spec_values_of_the_wrong_type(tmp_path: Path, sample_files: dict[str, str],
                                             extra: str, message: str) -> None:
    """Values of the wrong type in a spec: one error line, no traceback, no store."""
    path = tmp_path / "spec.yaml"
    binsize = "" if extra.startswith("binsize:") else "binsize: 1000\n"  # (a key once)
    path.write_text(f"name: x\nkind: bigwig\nfiles: {sample_files['bigwig_a']}\n"
                    f"roi: {sample_files['roi']}\n{binsize}store: x.zarr\n" + extra)
    result = _run("build", path, "--no-progress")
    assert result.exit_code == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("genozarr: error: ") and message in last
    assert last.count("dataset 'x'") <= 1
    assert "Traceback" not in result.stderr and result.stderr.count("error:") == 1
    assert not (tmp_path / "x.zarr").exists()


def test_build_spec_bam_flags_of_the_wrong_type(tmp_path: Path,
                                                sample_files: dict[str, str]) -> None:
    """stranded and include_flagged written "false" in a spec are errors naming the spec
    and the dataset (they were taken as true: a two-strand store), found before anything
    is built (the first dataset was built before)."""
    path = tmp_path / "spec.yaml"
    first = (f"- name: a\n  kind: bigwig\n  files: {sample_files['bigwig_a']}\n"
             f"  roi: {sample_files['roi']}\n  binsize: 1000\n  store: a.zarr\n")
    for key in ("stranded", "include_flagged"):
        path.write_text("datasets:\n" + first.replace("\n-", "\n -") +
                        f"- name: r\n  kind: bam\n  files: {sample_files['bam']}\n"
                        f"  roi: {sample_files['roi']}\n  binsize: 1000\n  store: r.zarr\n"
                        f"  {key}: 'false'\n")
        result = _run("build", path, "--no-progress")
        assert result.exit_code == 1
        last = result.stderr.strip().splitlines()[-1]
        assert last == (f"genozarr: error: {path}: dataset 'r': {key} must be True or False, "
                        "got 'false'")
        assert not (tmp_path / "a.zarr").exists() and not (tmp_path / "r.zarr").exists()


def test_build_spec_roi_as_region_strings(tmp_path: Path, sample_files: dict[str, str]) -> None:
    """``roi`` takes region strings as the constructors do (not paths beside the spec)."""
    bw = sample_files["bigwig_a"]
    for roi in ('"chr1:0-1000"', '["chr1:0-1000", "chr2:0-400"]'):
        path = tmp_path / "spec.toml"
        path.write_text(f'name = "s"\nkind = "bigwig"\nfiles = "{bw}"\nroi = {roi}\n'
                        f'binsize = 200\nstore = "s.zarr"\n')
        assert _run("build", path, "--check").exit_code == 0
        result = _run("build", path, "--no-progress")
        assert result.exit_code == 0, result.output
        built = open_dataset(tmp_path / "s.zarr")
        assert str(built.gindexer[0]).startswith("chr1:0-200")
        np.testing.assert_allclose(built[:5][:, :, 0, 0].ravel(), _bigwig(bw, "chr1")[:1000],
                                   rtol=1e-6)


# ---------------------------------------------------------------------------- errors, help
@pytest.mark.parametrize("args, message", [
    (["info", "missing.zarr"], "store missing.zarr does not exist"),
    (["export", "missing.zarr", "outdir"], "store missing.zarr does not exist"),
    (["plot", "missing.zarr", "chr1", "0", "100"], "store missing.zarr does not exist"),
    (["trim", "missing.bed", "out.bed", "-r", "10"], "regions file missing.bed does not exist"),
    (["build", "missing.toml"], "spec missing.toml does not exist"),
])
def test_missing_file_is_one_clear_line(args: list[str], message: str, tmp_path: Path) -> None:
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        result = _run(*args)
    finally:
        os.chdir(cwd)
    assert result.exit_code == 1
    assert result.stderr == f"genozarr: error: {message}\n"
    assert result.stdout == ""


def test_demo_into_a_file_fails_cleanly(tmp_path: Path) -> None:
    target = tmp_path / "a_file"
    target.write_text("")
    result = _run("demo", "--out", target)
    assert result.exit_code == 1
    assert result.stderr.startswith("genozarr: error: ")
    assert "Traceback" not in result.output


@pytest.mark.parametrize("command", ["demo", "build", "info", "export", "plot", "trim"])
def test_help(command: str) -> None:
    result = _run(command, "--help")
    assert result.exit_code == 0
    assert f"genozarr {command}" in result.stdout


def test_entry_point_subprocess(tmp_path: Path) -> None:
    """``main()`` as the console script runs it: exit status and one-line errors."""
    code = "import sys; from genozarr.cli import main; sys.exit(main(sys.argv[1:]))"
    missing = subprocess.run([sys.executable, "-c", code, "info", str(tmp_path / "nope")],
                             capture_output=True, text=True)
    assert missing.returncode == 1
    assert missing.stderr == f"genozarr: error: store {tmp_path / 'nope'} does not exist\n"
    usage = subprocess.run([sys.executable, "-c", code, "trim", "a.bed"],
                           capture_output=True, text=True)
    assert usage.returncode == 2 and "Missing argument" in usage.stderr
    version = subprocess.run([sys.executable, "-c", code, "--version"],
                             capture_output=True, text=True)
    assert version.returncode == 0 and version.stdout.startswith("genozarr ")


def test_python_dash_m(tmp_path: Path) -> None:
    """``python -m genozarr`` is the same command line, with the same exit statuses."""
    missing = subprocess.run([sys.executable, "-m", "genozarr", "info", str(tmp_path / "nope")],
                             capture_output=True, text=True, check=False)
    assert missing.returncode == 1
    assert missing.stderr == f"genozarr: error: store {tmp_path / 'nope'} does not exist\n"
    version = subprocess.run([sys.executable, "-m", "genozarr", "--version"],
                             capture_output=True, text=True, check=False)
    assert version.returncode == 0 and version.stdout.startswith("genozarr ")


def test_submodules_reachable_after_import_genozarr() -> None:
    """The docs write ``genozarr.export.export_to_bigwig`` and the like: after a plain
    ``import genozarr`` (a fresh interpreter, where nothing imported them yet) every
    public submodule is reachable as an attribute, and an unknown name still fails."""
    code = ("import genozarr, sys; "
            "assert 'genozarr.export' not in sys.modules; "
            "print(genozarr.export.export_to_bigwig.__module__, "
            "genozarr.predictions.__name__, genozarr.loaders.__name__); "
            "getattr(genozarr, 'no_such_module')")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=False)
    assert done.stdout.split() == ["genozarr.export", "genozarr.predictions",
                                   "genozarr.loaders"]
    assert "module 'genozarr' has no attribute 'no_such_module'" in done.stderr


def test_build_spec_refuses_datasets_sharing_a_store(tmp_path: Path) -> None:
    """A top-level 'store' is a default for every dataset: two datasets would be built
    into one store, the second over the first; refused before anything is built."""
    for name in ("a.bw", "b.bw"):
        (tmp_path / name).write_bytes(b"")
    path = tmp_path / "spec.toml"
    path.write_text('store = "s.zarr"\n[[datasets]]\nname = "one"\nkind = "bigwig"\n'
                    'files = "a.bw"\n[[datasets]]\nname = "two"\nkind = "bigwig"\n'
                    'files = "b.bw"\n')
    result = _run("build", path)
    assert result.exit_code == 1
    assert "datasets ['one', 'two'] would share the store" in result.stderr
    assert not (tmp_path / "s.zarr").exists()


@pytest.mark.parametrize("sheet, message", [
    ("path,condition\nsample_a.bw,a\n", "has no 'file' column (it has ['path', 'condition'])"),
    ("file,condition\nsample_a.bw,a\nnope.bw,b\n",
     "line 3 names an input file that does not exist: {dir}/nope.bw"),
    ("file,condition,ct\nsample_a.bw,a\n", "line 2 has 2 cells where the header has 3"),
    (None, "the sample sheet {dir}/s.csv names the conditions; remove the key 'conditions'"),
])
def test_build_check_reads_the_sample_sheet(tmp_path: Path, sample_files: dict[str, str],
                                            sheet: str | None, message: str) -> None:
    """--check reads a spec's sheet as the build does (it said 'spec is valid' for a sheet
    without a file column or listing a missing file, and the build failed): one error line
    naming the spec, the dataset, the sheet and the line."""
    os.symlink(sample_files["bigwig_a"], tmp_path / "sample_a.bw")
    (tmp_path / "s.csv").write_text(sheet or "file,condition\nsample_a.bw,a\n")
    spec = tmp_path / "spec.toml"
    spec.write_text('name = "s"\nkind = "bigwig"\nfiles = "s.csv"\nroi = "chr1:0-1000"\n'
                    'binsize = 200\nstore = "s.zarr"\n'
                    + ('conditions = ["x"]\n' if sheet is None else ""))
    result = _run("build", spec, "--check")
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith(f"genozarr: error: {spec}: dataset 's': ")
    assert message.format(dir=tmp_path) in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("spec, message", [
    # the build's name rule (--check said "spec is valid", the build refused the name)
    ("name: a/b\nkind: bigwig\nfiles: a.bw\n",
     "dataset 'a/b': name must be a non-empty string without '/'"),
    ("name: ../up\nkind: bigwig\nfiles: a.bw\n", "that does not start with '.'"),
    # a YAML key given twice (PyYAML kept the last: b.bw alone, binsize 500), as TOML
    ("name: x\nkind: bigwig\nfiles: a.bw\nfiles: b.bw\n", "found the key 'files' twice"),
    ("name: x\ndatasets:\n  - kind: bigwig\n    binsize: 10\n    binsize: 20\n",
     "found the key 'binsize' twice"),
    # (an audit: --check passed fixedlen '8', the build refused it)
    ("name: s\nkind: seq\nfiles: a.fa\nfixedlen: '8'\n",
     "dataset 's': fixedlen must be an integer, got '8'"),
])
def test_build_check_refuses_what_the_build_refuses(tmp_path: Path, spec: str,
                                                    message: str) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text(spec)
    for extra in (["--check"], []):
        result = _run("build", path, *extra)
        assert result.exit_code == 1, result.output
        assert result.stderr.startswith("genozarr: error: ")
        assert message in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1


def test_yaml_merge_keys_are_not_keys_given_twice(tmp_path: Path,
                                                  sample_files: dict[str, str]) -> None:
    """'<<: *anchor' brings in an anchored mapping's keys, which the mapping's own
    override (YAML's merge): the duplicate-key check refused every merge ('could not
    determine a constructor for the tag ...merge')."""
    from genozarr.spec import load_spec

    spec = tmp_path / "spec.yaml"
    spec.write_text(f"datasets:\n  - &d {{name: a, kind: bigwig, files: "
                    f"{sample_files['bigwig_a']}, roi: {sample_files['roi']}, binsize: 100}}\n"
                    "  - {<<: *d, name: b, binsize: 200}\n")
    assert [(e["name"], e["binsize"]) for e in load_spec(spec)] == [("a", 100), ("b", 200)]


def test_no_progress_hides_the_bars_a_spec_asks_for(tmp_path: Path,
                                                   sample_files: dict[str, str]) -> None:
    """--no-progress hides the bars (docs/cli.md) also where the spec says verbose: true
    (Janggu's flag: a progress bar for the build), which showed three."""
    spec = tmp_path / "spec.toml"
    spec.write_text(f'name = "v"\nkind = "bigwig"\nfiles = "{sample_files["bigwig_a"]}"\n'
                    f'roi = "{sample_files["roi"]}"\nbinsize = 1000\nverbose = true\n'
                    'store = "v.zarr"\n')
    shown = _run("build", spec)
    assert shown.exit_code == 0, shown.output
    assert "%|" in shown.stderr  # the spec's bars, without --no-progress
    hidden = _run("build", spec, "--no-progress")
    assert hidden.exit_code == 0, hidden.output
    assert "%|" not in hidden.stderr


def test_build_check_passes_a_good_sheet_and_keeps_a_linked_sheet_folder(
        tmp_path: Path, sample_files: dict[str, str]) -> None:
    """A sheet given in a spec as a link keeps the link's folder (the spec resolved the
    link, and the sheet's paths were read beside its target: a file there of the same
    name was built)."""
    (tmp_path / "A").mkdir()
    (tmp_path / "B").mkdir()
    os.symlink(sample_files["bigwig_a"], tmp_path / "A" / "x.bw")
    os.symlink(sample_files["bigwig_b"], tmp_path / "B" / "x.bw")
    (tmp_path / "B" / "s.csv").write_text("file,condition\nx.bw,x\n")
    os.symlink(tmp_path / "B" / "s.csv", tmp_path / "A" / "s.csv")
    spec = tmp_path / "spec.toml"
    spec.write_text('name = "s"\nkind = "bigwig"\nfiles = "A/s.csv"\nroi = "chr1:0-1000"\n'
                    'binsize = 1000\nstore = "s.zarr"\n')
    result = _run("build", spec, "--check")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().endswith("1 dataset(s), spec is valid")
    result = _run("build", spec, "--no-progress")
    assert result.exit_code == 0, result.output
    built = open_dataset(tmp_path / "s.zarr")
    np.testing.assert_allclose(built[0][0, :, 0, 0], _bigwig(sample_files["bigwig_a"],
                                                             "chr1")[:1000], rtol=1e-6)


def test_export_ended_by_sigterm_leaves_no_partial_file(tmp_path):
    """SIGTERM (a job scheduler's time limit) ends ``genozarr export`` as Ctrl-C does: its
    partial BigWig is removed on the way out (exit status 143); it was left behind, named
    after the dead process, where no later export removes it."""
    import signal
    import time

    from genozarr import GenomicIndexer

    n, width = 200, 10_000
    starts = np.arange(n) * width
    gi = GenomicIndexer(np.full(n, "chr1", dtype=object), starts, starts + width,
                        np.full(n, "+", dtype=object), width, width)
    values = np.random.default_rng(0).random((n, width, 1, 1)).astype("float32")
    Cover.create_from_array("c", values, gi, storage="zarr", store=str(tmp_path / "c.zarr"))
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "genozarr.cli", "export",
                             str(tmp_path / "c.zarr"), str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while not (out.is_dir() and any(p.suffix == ".part" for p in out.iterdir())):
            assert proc.poll() is None and time.monotonic() < deadline, "no export began"
            time.sleep(0.01)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 128 + signal.SIGTERM
    finally:
        if proc.poll() is None:
            proc.kill()
    assert list(out.iterdir()) == []


def test_a_spec_names_conditions_after_its_links_and_checks_default_stores(
        tmp_path: Path, sample_files: dict[str, str]) -> None:
    """Input files that are links keep their own names, which name the conditions, as in
    the Python call (a spec resolved them: conditions named after the link targets, and
    another cache key); a store that another dataset's default store (OUT/NAME.zarr) is
    refused before anything is built (the second overwrote the first); a --scheduler
    value that is no address is one line (a traceback)."""
    for name, key in (("k562.bw", "bigwig_a"), ("hepg2.bw", "bigwig_b")):
        os.symlink(sample_files[key], tmp_path / name)
    spec = tmp_path / "spec.toml"
    spec.write_text(f'roi = "{sample_files["roi"]}"\nbinsize = 200\n[[datasets]]\nname = "x"\n'
                    'kind = "bigwig"\nfiles = ["k562.bw", "hepg2.bw"]\n')
    assert _run("build", spec, "--out", tmp_path / "out", "--no-progress").exit_code == 0
    built = open_dataset(tmp_path / "out" / "x.zarr")
    called = Cover.create_from_bigwig("x", [str(tmp_path / "k562.bw"),
                                            str(tmp_path / "hepg2.bw")],
                                      roi=sample_files["roi"], binsize=200)
    assert built.conditions == called.conditions == ["k562", "hepg2"]
    np.testing.assert_array_equal(built[:], called[:])
    spec.write_text(f'roi = "{sample_files["roi"]}"\nbinsize = 200\n[[datasets]]\nname = "a"\n'
                    'kind = "bigwig"\nfiles = "k562.bw"\n[[datasets]]\nname = "b"\n'
                    'kind = "bigwig"\nfiles = "hepg2.bw"\nstore = "out2/a.zarr"\n')
    for extra in (["--check"], ["--no-progress"]):
        result = _run("build", spec, "--out", tmp_path / "out2", *extra)
        assert result.exit_code == 1 and "datasets ['a', 'b'] would share the store" in \
            result.output, result.output
    assert not (tmp_path / "out2").exists()
    result = _run("build", spec, "--out", tmp_path / "out3", "--scheduler", "notanaddress")
    assert result.exit_code == 1 and result.output.count("\n") == 1 and \
        "is not a scheduler address" in result.output, result.output


def test_spec_stores_through_links_or_inside_each_other_are_refused(
        tmp_path: Path, sample_files: dict[str, str]) -> None:
    """Two stores that are one folder through a link ('alias' -> 'real'), or a store
    inside another's, were built one over the other: the build exited 0 and the first
    store was gone (or, the outer one listed first, it waited 120 s on its own publish
    lock). Both are refused before anything is built, also by --check. --check refuses
    what the build refuses by the spec's own rules (two FASTA files for refgenome, a
    quoted number, a quoted boolean); a scheduler address dask cannot use is one line."""
    (tmp_path / "real").mkdir()
    os.symlink("real", tmp_path / "alias")
    head = (f'roi = "{sample_files["roi"]}"\nbinsize = 200\n[[datasets]]\nname = "a"\n'
            f'kind = "bigwig"\nfiles = "{sample_files["bigwig_a"]}"\n')
    spec = tmp_path / "spec.toml"
    cases = [('store = "real/x.zarr"', 'store = "alias/x.zarr"',
              r"datasets \['a', 'b'\] would share the store .*real/x\.zarr"),
             ('store = "outer.zarr"', 'store = "outer.zarr/inner.zarr"',
              (r"the store .*outer\.zarr/inner\.zarr of dataset 'b' lies inside the store "
               r".*outer\.zarr of dataset 'a'")),
             ('store = "outer.zarr/inner.zarr"', 'store = "outer.zarr"',
              (r"the store .*outer\.zarr/inner\.zarr of dataset 'a' lies inside the store "
               r".*outer\.zarr of dataset 'b'"))]
    for a_store, b_store, message in cases:
        spec.write_text(head + a_store + '\n[[datasets]]\nname = "b"\nkind = "bigwig"\n'
                        f'files = "{sample_files["bigwig_b"]}"\n' + b_store + "\n")
        for extra in (["--check"], ["--no-progress"]):
            result = _run("build", spec, *extra)
            assert result.exit_code == 1 and re.search(message, result.output), result.output
        assert list((tmp_path / "real").iterdir()) == [] and not (tmp_path / "outer.zarr").exists()
    fasta = sample_files["fasta"]
    for entry, message in (
            (f'name = "d"\nkind = "refgenome"\nfiles = ["{fasta}", "{fasta}"]\n',
             "kind refgenome takes one FASTA file, got 2"),
            (f'name = "d"\nkind = "refgenome"\nfiles = "{fasta}"\nbinsize = "200"\n',
             "binsize must be an integer, got '200'"),
            ((f'name = "d"\nkind = "refgenome"\nfiles = "{fasta}"\nbinsize = 200\n'
              'zero_padding = "false"\n'), "zero_padding must be True or False, got 'false'")):
        spec.write_text(f'roi = "{sample_files["roi"]}"\n[[datasets]]\n' + entry)
        result = _run("build", spec, "--check")
        assert result.exit_code == 1 and message in result.output, result.output
    spec.write_text(head)
    for address in ("inproc://x", "ucx://host:1"):
        result = _run("build", spec, "--out", tmp_path / "o", "--scheduler", address)
        assert result.exit_code == 1, result.output
        assert "cannot reach a scheduler from this command" in result.output, result.output
        assert "Traceback" not in result.output and result.output.count("\n") == 1
        # and it left no default client behind (the Client that failed to start was made
        # the default: every later dask compute of the process waited on it)
        import distributed

        with pytest.raises(ValueError, match="No clients found"):
            distributed.default_client()


def _store_in_a_non_ascii_folder(tmp_path: Path) -> Path:
    """A store of ones (chr1, 100 bases) built under ``tmp_path/données``."""
    from genozarr.testing.simulate import write_bigwig

    folder = tmp_path / "données"
    folder.mkdir()
    bw = write_bigwig(str(folder / "a.bw"), {"chr1": np.ones(100)})
    store = folder / "s.zarr"
    Cover.create_from_bigwig("s", bw, roi="chr1:0-100", binsize=50, storage="zarr",
                             store=str(store))
    return store


def test_the_command_line_prints_what_the_terminal_cannot_show_and_runs_without_stdout(
        tmp_path: Path) -> None:
    """``genozarr info`` of a store under a non-ASCII folder, on a stdout that encodes
    ASCII only (LANG=C, PYTHONIOENCODING=ascii), ended in a UnicodeEncodeError traceback
    (after the work, for build and demo); with stdout closed (a cron job's '>&-') every
    command failed at once on ``sys.stdout.isatty()``. The name is printed escaped, and a
    closed stdout drops the output."""
    store = _store_in_a_non_ascii_folder(tmp_path)
    env = dict(os.environ, PYTHONIOENCODING="ascii")
    run = subprocess.run([sys.executable, "-m", "genozarr", "info", str(store)], env=env,
                         capture_output=True, timeout=120, check=False)
    assert run.returncode == 0, run.stderr.decode()
    assert b"donn\\xe9es" in run.stdout
    closed = subprocess.run([sys.executable, "-m", "genozarr", "export", str(store),
                             str(tmp_path / "out")], preexec_fn=lambda: os.close(1),
                            capture_output=False, stderr=subprocess.PIPE, timeout=120,
                            check=False)
    assert closed.returncode == 0, closed.stderr.decode()
    info = subprocess.run([sys.executable, "-m", "genozarr", "info", str(store)],
                          preexec_fn=lambda: os.close(1), stderr=subprocess.PIPE,
                          timeout=120, check=False)
    assert info.returncode == 0, info.stderr.decode()
    (path,) = list((tmp_path / "out").iterdir())
    np.testing.assert_array_equal(_bigwig(str(path), "chr1"), np.ones(100))


def test_main_escapes_only_a_strict_stream_and_only_while_it_runs(tmp_path: Path,
                                                                 monkeypatch) -> None:
    """main() made stdout escape what it cannot encode for good, and replaced the
    surrogateescape of Python's C-locale streams (file names' bytes printed as
    '\\udcff'). Only a strict stream is changed, and back when the command ends."""
    import io

    from genozarr.cli import main

    store = _store_in_a_non_ascii_folder(tmp_path)
    for encoding, errors, shown in (("ascii", "strict", b"donn\\xe9es"),
                                    ("ascii", "surrogateescape", b"donn\\xe9es"),
                                    ("utf-8", "surrogateescape", "données".encode())):
        raw = io.BytesIO()
        out = io.TextIOWrapper(raw, encoding=encoding, errors=errors, write_through=True)
        monkeypatch.setattr(sys, "stdout", out)
        code = main(["info", str(store)])
        monkeypatch.undo()
        assert code == 0 and out.errors == errors
        assert shown in raw.getvalue(), raw.getvalue()[:300]
