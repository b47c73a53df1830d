"""Sample sheets: one row per input file with per-sample metadata, accepted by every
coverage constructor and the CLI spec; the metadata become coordinates along
``condition`` and select conditions. Values are checked against pyBigWig."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyBigWig
import pytest

import genozarr
from genozarr import Cover
from genozarr.errors import ArgumentError, MalformedFileError
from genozarr.testing.oracles import bigwig_values

SIZES = {"chr1": 5000, "chr2": 3000}
CELLS = ["K562", "HepG2", "K562", "GM12878"]
ROI = pd.DataFrame({"chrom": ["chr1"], "start": [0], "end": [1000]})


@pytest.fixture(scope="module")
def sheet(tmp_path_factory):
    """Four BigWigs (seeded) under data/ and a TSV sheet naming them relative to it."""
    root = tmp_path_factory.mktemp("sheet")
    (root / "data").mkdir()
    rng = np.random.default_rng(7)
    rows = []
    for i, cell in enumerate(CELLS):
        path = root / "data" / f"s{i}.bw"
        with pyBigWig.open(str(path), "w") as bw:
            bw.addHeader(list(SIZES.items()))
            for chrom, size in SIZES.items():
                values = rng.integers(0, 5, size // 50).astype(float) + i
                bw.addEntries(chrom, 0, values=values.tolist(), span=50, step=50)
        rows.append({"file": f"data/s{i}.bw", "condition": f"{cell}_{i}", "cell_type": cell,
                     "replicate": i % 2 + 1, "note": "deep" if i == 1 else None})
    frame = pd.DataFrame(rows)
    path = root / "samples.tsv"
    frame.to_csv(path, sep="\t", index=False)
    roi = pd.DataFrame({"chrom": ["chr1", "chr1", "chr2"], "start": [0, 1000, 500],
                        "end": [1000, 2000, 1500]})
    return {"path": str(path), "frame": frame, "root": root, "roi": roi}


def _truth(sheet, i: int, chrom: str, start: int, end: int) -> np.ndarray:
    return bigwig_values(sheet["root"] / "data" / f"s{i}.bw", chrom, start, end)


@pytest.mark.parametrize("whole", [False, True])
def test_sheet_builds_conditions_with_metadata(sheet, tmp_path, whole):
    store = str(tmp_path / "c.zarr")
    cover = Cover.create_from_bigwig("c", sheet["path"], roi=sheet["roi"], binsize=1000,
                                     storage="zarr", store=store, store_whole_genome=whole,
                                     genomesize=SIZES if whole else None)
    assert cover.conditions == [f"{c}_{i}" for i, c in enumerate(CELLS)]
    for i in range(len(CELLS)):  # condition i holds file i
        np.testing.assert_array_equal(cover[1][0, :, 0, i], _truth(sheet, i, "chr1", 1000, 2000))
    meta = cover.condition_metadata
    assert meta["cell_type"].tolist() == CELLS
    assert meta["replicate"].tolist() == [1, 2, 1, 2]
    assert meta["note"].tolist() == [None, "deep", None, None]
    opened = genozarr.open_store(store)
    ds = opened["chr1"].to_dataset() if whole else opened
    k562 = ds.sel(condition=ds.cell_type == "K562")
    assert k562["condition"].values.tolist() == ["K562_0", "K562_2"]
    assert list(k562["replicate"].values) == [1.0, 1.0]
    if not whole:
        np.testing.assert_array_equal(k562["data"].values[1, :, 0, 1],
                                      _truth(sheet, 2, "chr1", 1000, 2000))
    else:  # the whole tree, by one node's metadata (as getting-started.md shows)
        tree = opened.sel(condition=opened["chr1"].cell_type.values == "K562")
        for chrom in SIZES:
            assert tree[chrom]["condition"].values.tolist() == ["K562_0", "K562_2"]
        np.testing.assert_array_equal(tree["chr1"]["data"].values[1000:2000, 0, 1],
                                      _truth(sheet, 2, "chr1", 1000, 2000))
    again = genozarr.open_dataset(store)
    assert again.condition_metadata["cell_type"].tolist() == CELLS


def test_dataframe_sheet_and_in_memory_view(sheet):
    frame = sheet["frame"].assign(file=[str(sheet["root"] / f) for f in sheet["frame"]["file"]])
    cover = Cover.create_from_bigwig("c", frame, roi=sheet["roi"], binsize=1000)
    view = cover.to_xarray()
    assert view["cell_type"].values.tolist() == CELLS
    sel = view.sel(condition=view.cell_type == "HepG2")
    np.testing.assert_array_equal(sel["data"].values[0, :, 0, 0],
                                  _truth(sheet, 1, "chr1", 0, 1000))


def test_sheet_errors(sheet, tmp_path):
    with pytest.raises(ArgumentError, match="names the conditions"):
        Cover.create_from_bigwig("c", sheet["path"], roi=sheet["roi"], binsize=1000,
                                 conditions=["a", "b", "c", "d"])
    bad = sheet["frame"].rename(columns={"note": "strand"})
    with pytest.raises(MalformedFileError, match="reserved"):
        Cover.create_from_bigwig("c", bad, roi=sheet["roi"], binsize=1000)
    dup = sheet["frame"].assign(condition=["x", "x", "y", "z"])
    with pytest.raises(MalformedFileError, match="unique"):
        Cover.create_from_bigwig("c", dup, roi=sheet["roi"], binsize=1000)
    nofile = tmp_path / "s.csv"
    nofile.write_text("path,condition\na.bw,a\n")
    with pytest.raises(MalformedFileError, match="no 'file' column"):
        Cover.create_from_bigwig("c", str(nofile), roi=sheet["roi"], binsize=1000)


def test_cli_spec_takes_a_sheet(sheet, tmp_path):
    from typer.testing import CliRunner

    from genozarr.cli import app

    roi = tmp_path / "roi.bed"
    sheet["roi"].to_csv(roi, sep="\t", header=False, index=False)
    spec = tmp_path / "spec.toml"
    spec.write_text(f'name = "s"\nkind = "bigwig"\nfiles = "{sheet["path"]}"\n'
                    f'roi = "{roi}"\nbinsize = 1000\nstore = "{tmp_path / "s.zarr"}"\n')
    result = CliRunner().invoke(app, ["build", str(spec)])
    assert result.exit_code == 0, result.output
    built = genozarr.open_dataset(tmp_path / "s.zarr")
    assert built.condition_metadata["cell_type"].tolist() == CELLS
    np.testing.assert_array_equal(built[0][0, :, 0, 3], _truth(sheet, 3, "chr1", 0, 1000))


def _bigwig(path, value: float) -> str:
    """A BigWig of SIZES holding ``value`` at every base of chr1 (chr2 without data)."""
    with pyBigWig.open(str(path), "w") as bw:
        bw.addHeader(list(SIZES.items()))
        bw.addEntries(["chr1"], [0], ends=[SIZES["chr1"]], values=[float(value)])
    return str(path)


def test_sheet_cells_are_read_as_written(tmp_path):
    """Blanks after the separators are not part of a cell; condition names stay text
    ('01' is not 1); metadata values compare equal to their text; default names keep the
    dots of a file name, as for a list of files."""
    for i, name in enumerate(["K562.rep1", "K562.rep2"]):
        _bigwig(tmp_path / f"{name}.bw", i + 1)
    sheet = tmp_path / "s.csv"
    sheet.write_text("file, condition, cell_type, replicate, depth\n"
                     "K562.rep1.bw, 01, K562 , 1, NA\n"
                     "K562.rep2.bw, 02, HepG2, 2, 3.5\n")
    cover = Cover.create_from_bigwig("c", str(sheet), roi=ROI, binsize=1000)
    assert cover.conditions == ["01", "02"]
    meta = cover.condition_metadata
    assert meta["cell_type"].tolist() == ["K562", "HepG2"]
    assert meta["replicate"].tolist() == [1, 2]
    assert meta["depth"].tolist()[1] == 3.5 and pd.isna(meta["depth"].tolist()[0])
    view = cover.to_xarray()
    np.testing.assert_array_equal(
        view.sel(condition=view.cell_type == "K562")["data"].values[0, :, 0, 0],
        np.ones(1000, np.float32))
    unnamed = tmp_path / "u.tsv"
    unnamed.write_text("file\tcell_type\nK562.rep1.bw\tK562\nK562.rep2.bw\tK562\n")
    by_sheet = Cover.create_from_bigwig("c", str(unnamed), roi=ROI, binsize=1000)
    by_list = Cover.create_from_bigwig(
        "c", [str(tmp_path / "K562.rep1.bw"), str(tmp_path / "K562.rep2.bw")], roi=ROI,
        binsize=1000)
    assert by_sheet.conditions == by_list.conditions == ["K562.rep1", "K562.rep2"]
    # a list that holds one sheet is that sheet
    assert Cover.create_from_bigwig("c", [str(sheet)], roi=ROI,
                                    binsize=1000).conditions == ["01", "02"]


@pytest.mark.parametrize(("text", "message"), [
    ("", "is empty"),
    ("file,condition\na.bw,\nb.bw,b\n", "line 2 has no condition name"),
    ("file,condition\na.bw, \nb.bw,\n", "lines 2, 3 have no condition name"),
    ("file,condition\n,a\n", "line 2 has no input file"),
    ("file,condition,cell type\na.bw,a,K562\n", "'cell type' -> 'cell_type'"),
    # the store's own entries: a metadata array there would replace them
    ("file,condition,genozarr-complete\na.bw,a,K562\n", r"\['genozarr-complete'\] are reserved"),
    ("file,condition,zarr.json\na.bw,a,K562\n", r"\['zarr.json'\] are reserved"),
    ("file,condition,__x,..\na.bw,a,1,2\n", r"\['__x', '..'\] are reserved"),
    ("file,condition,ct,ct\na.bw,a,K562,x\n", r"\['ct'\] occur more than once in the header"),
    ("file,condition,,ct\na.bw,a,K562,x\n", "column 3 has values but no name"),
    # a row with fewer cells than the header (it got missing values without a word), or
    # more
    ("file,condition,ct,rep\na.bw,a,K562\nb.bw,b,HepG2,2\n",
     "line 2 has 3 cells where the header has 4"),
    ("file,condition\na.bw,a\nb.bw,b,x\n", "line 3 has 3 cells where the header has 2"),
    # the file's line numbers, blank lines counted (they were the rows' numbers)
    ("file,condition,age\na.bw,A,1\n\nb.bw,B\n", "line 4 has 2 cells where the header has 3"),
    ("\nfile,condition\n\na.bw,\n", "line 4 has no condition name"),
    ("file,condition\n\na.bw,a\n\nb.bw,b,x\n", "line 5 has 3 cells where the header has 2"),
    # ... and the lines of a quoted cell over several lines (it was counted as one)
    ('file,condition,note\n\na.bw,A,"two\nlines"\n\nb.bw,B,x\nc.bw,C\n',
     "line 7 has 2 cells where the header has 3"),
    ('file,condition,note\na.bw,A,"x\n\ny"\nb.bw,,z\n', "line 5 has no condition name"),
    ('file,condition\na.bw,"x\ny"\nb.bw,B,extra\n', "line 4 has 3 cells where the header has 2"),
    ("file,condition\n\n\na.bw,B,extra\n", "line 4 has 3 cells where the header has 2"),
    # duplicate condition names name their lines (the docs said so; they did not)
    ("file,condition\na.bw,A\nb.bw,B\n\nc.bw,A\nd.bw,B\n",
     r"\['A', 'B'\] occur more than once \('A' on lines 2, 5; 'B' on lines 3, 6\)"),
    # an infinity was written into the store's root zarr.json as a bare Infinity (not
    # JSON: readers other than Python's fail on it)
    ("file,condition,dose\na.bw,a,inf\nb.bw,b,2\nc.bw,c,-inf\n",
     r"metadata column 'dose' holds an infinity \(lines 2, 4\)"),
])
def test_malformed_sheets_name_the_problem(tmp_path, text, message):
    sheet = tmp_path / "s.csv"
    sheet.write_text(text)
    with pytest.raises(MalformedFileError, match=message) as info:
        Cover.create_from_bigwig("c", str(sheet), roi=ROI, binsize=1000)
    assert str(sheet) in str(info.value)


@pytest.mark.parametrize("sep, suffix", [("\t", "tsv"), (",", "csv")])
def test_a_trailing_separator_adds_no_column(tmp_path, sep, suffix):
    """As spreadsheets export them: each line ends with a separator; the empty column
    is ignored, the metadata are those named."""
    for name, value in [("a", 1), ("b", 2)]:
        _bigwig(tmp_path / f"{name}.bw", value)
    sheet = tmp_path / f"s.{suffix}"
    sheet.write_text("".join(sep.join(row) + sep + "\n" for row in
                             [("file", "condition", "ct"), ("a.bw", "A", "K562"),
                              ("b.bw", "B", "HepG2")]))
    cover = Cover.create_from_bigwig("c", str(sheet), roi=ROI, binsize=1000)
    assert cover.conditions == ["A", "B"]
    assert {k: v.tolist() for k, v in cover.condition_metadata.items()} == {
        "ct": ["K562", "HepG2"]}
    np.testing.assert_array_equal(np.asarray(cover[0])[0, 0, 0], [1, 2])
    # the same table read by pandas itself, as a DataFrame ('Unnamed: 3', no values)
    frame = pd.read_csv(sheet, sep=sep)
    assert "Unnamed: 3" in frame.columns
    frame["file"] = [str(tmp_path / f) for f in frame["file"]]
    again = Cover.create_from_bigwig("c", frame, roi=ROI, binsize=1000)
    assert list(again.condition_metadata) == ["ct"]


def test_category_modes_refuse_a_sheet_by_name(tmp_path):
    """The category modes name their conditions after one BED file's categories; a sheet
    names one per file: it failed with '2 categories [1, 2] but 1 conditions', naming
    neither the sheet nor why."""
    bed = tmp_path / "cats.bed"
    bed.write_text("chr1\t0\t100\tx\t1\nchr1\t200\t300\ty\t2\n")
    sheet = tmp_path / "s.tsv"
    sheet.write_text("file\tlab\ncats.bed\tL1\n")
    for mode in ("categorical", "score_category", "name_category"):
        with pytest.raises(ArgumentError, match=rf"mode='{mode}' names its conditions after "
                                                r"the categories .* give the BED file itself"):
            Cover.create_from_bed("c", str(sheet), roi=ROI, binsize=1000, mode=mode,
                                  genomesize={"chr1": 5000})
    plain = Cover.create_from_bed("c", str(bed), roi=ROI, binsize=1000, mode="categorical",
                                  genomesize={"chr1": 5000})
    assert plain.conditions == ["1", "2"]


def test_a_bed_file_named_as_a_sheet_is_read_as_bed(tmp_path):
    """A BED file named ``peaks.tsv`` (or ``.csv.gz``) was read as a sample sheet and
    refused for lacking a 'file' column; its lines read as BED lines, so it is a BED
    file. A sheet keeps being a sheet (its first line is a header)."""
    import gzip

    lines = "track name=x\nchr1\t100\t1500\tp1\t5\t+\nchr1\t2500\t2600\tp2\t3\t-\n"
    tsv = tmp_path / "peaks.tsv"
    tsv.write_text(lines)
    gz = tmp_path / "peaks.csv.gz"
    gz.write_bytes(gzip.compress(lines.encode()))
    for path in (tsv, gz):
        for given in (str(path), [str(path)]):
            c = Cover.create_from_bed("c", given, roi=["chr1:600-3600"], binsize=1000,
                                      resolution=1000, genomesize={"chr1": 5000},
                                      collapser="mean")
            assert c.conditions == [path.name.removesuffix(".gz")]
            # windows 600-1600, 1600-2600, 2600-3600: 900, 100 and 0 bases covered
            np.testing.assert_allclose(np.asarray(c[:]).ravel(), [0.9, 0.1, 0.0], rtol=1e-6)
    cats = Cover.create_from_bed("c", str(tsv), roi=["chr1:0-3000"], binsize=1000,
                                 resolution=1000, mode="score_category",
                                 genomesize={"chr1": 5000})
    assert cats.conditions == ["3", "5"]
    bed = tmp_path / "p.bed"
    bed.write_text(lines)
    sheet = tmp_path / "s.tsv"
    sheet.write_text("file\tlab\np.bed\tL1\n")
    by_sheet = Cover.create_from_bed("c", str(sheet), roi=ROI, binsize=1000,
                                      genomesize={"chr1": 5000})
    assert by_sheet.condition_metadata["lab"].tolist() == ["L1"]
    # a sheet whose first column starts like a UCSC 'track' line stays a sheet (its
    # header was skipped as one, and its first row read as a BED line)
    sheet.write_text("track_id\treplicate\ttimepoint\tfile\tcondition\n"
                     "T1\t1\t0\tp.bed\tctrl\n")
    by_sheet = Cover.create_from_bed("c", str(sheet), roi=ROI, binsize=1000,
                                      genomesize={"chr1": 5000})
    assert by_sheet.conditions == ["ctrl"]
    assert by_sheet.condition_metadata["track_id"].tolist() == ["T1"]


def test_the_cli_reads_a_bed_file_named_as_a_sheet_as_bed(tmp_path):
    """A spec whose BED input is named peaks.tsv was refused as a sheet without a 'file'
    column by build and build --check, where the Python constructor reads it as BED (an
    audit). Hand-worked: windows 0-100 ... 900-1000; the peaks cover 100-250 and
    600-700, so the bins' covered fractions are 0, 1, 0.5, 0, 0, 0, 1, 0, 0, 0."""
    from typer.testing import CliRunner

    from genozarr.cli import app

    (tmp_path / "peaks.tsv").write_text("chr1\t100\t250\tp1\t5\nchr1\t600\t700\tp2\t3\n")
    (tmp_path / "roi.bed").write_text("chr1\t0\t1000\n")
    (tmp_path / "g.sizes").write_text("chr1\t1000\n")
    spec = tmp_path / "spec.toml"
    spec.write_text('name = "pk"\nkind = "bed"\nfiles = "peaks.tsv"\nroi = "roi.bed"\n'
                    'binsize = 100\nresolution = 100\ngenomesize = "g.sizes"\n'
                    'collapser = "mean"\nstore = "pk.zarr"\n')
    for args in (["build", str(spec), "--check"], ["build", str(spec), "--no-progress"]):
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0, result.output
    built = genozarr.open_dataset(tmp_path / "pk.zarr")
    assert built.conditions == ["peaks.tsv"]
    np.testing.assert_allclose(np.asarray(built[:]).ravel(),
                               [0, 1, 0.5, 0, 0, 0, 1, 0, 0, 0], rtol=1e-6)


def test_a_sheet_with_old_mac_line_ends_and_bytes_paths(tmp_path):
    """A sheet with CR-only line ends (Excel's "CSV (Macintosh)") failed with pandas'
    "new-line character seen in unquoted field"; a DataFrame's file column holding bytes
    was read as "b'...'" (a file list takes bytes as the local path). Both are read as
    pandas/os read them (an audit)."""
    import os

    from genozarr.samples import read_sample_sheet

    a, b = _bigwig(tmp_path / "a.bw", 1.0), _bigwig(tmp_path / "b.bw", 2.0)
    mac = tmp_path / "samples.csv"
    mac.write_bytes(b"file,condition,cell\ra.bw,x,K562\rb.bw,y,HepG2\r")
    sheet = read_sample_sheet(mac)
    assert sheet.files == [a, b] and sheet.conditions == ["x", "y"]
    assert sheet.metadata == {"cell": ["K562", "HepG2"]}
    frame = pd.DataFrame({"file": [os.fsencode(b), os.fsencode(a)], "condition": ["p", "q"]})
    c = Cover.create_from_bigwig("c", frame, roi=["chr1:0-100"], binsize=100,
                                 resolution=100)
    assert c.conditions == ["p", "q"]
    np.testing.assert_allclose(np.asarray(c[:]).ravel(), [2.0, 1.0])


def test_dataframe_cells_keep_their_types(tmp_path):
    """A DataFrame is taken as it holds its values: numbers stay numbers, text stays
    text ('1' is not 1, 'NA' is a word), NaN and None are missing."""
    frame = pd.DataFrame({"file": [_bigwig(tmp_path / "a.bw", 1), _bigwig(tmp_path / "b.bw", 2)],
                          "condition": ["a", "b"], "rep": [1, 2], "code": ["1", "2"],
                          "note": ["NA", None], "depth": [np.nan, 2.5]})
    meta = Cover.create_from_bigwig("c", frame, roi=ROI, binsize=1000).condition_metadata
    assert meta["rep"].tolist() == [1, 2]
    assert meta["code"].tolist() == ["1", "2"]
    assert meta["note"].tolist() == ["NA", None]
    assert pd.isna(meta["depth"].tolist()[0]) and meta["depth"].tolist()[1] == 2.5


def test_whole_number_metadata_stay_exact_integers(tmp_path):
    """A column of whole numbers (none missing) is an int64 coordinate, so an ID past
    2**53 stays itself (as float64, 2**53 + 1 became 2**53 and selected both
    conditions); with a missing value it stays float64 with NaN."""
    big = 2**53
    frame = pd.DataFrame({"file": [_bigwig(tmp_path / "a.bw", 1), _bigwig(tmp_path / "b.bw", 2)],
                          "condition": ["a", "b"], "donor": [big, big + 1],
                          "rep": [1.0, None]})
    view = Cover.create_from_bigwig("c", frame, roi=ROI, binsize=1000, storage="zarr",
                                    store=str(tmp_path / "c.zarr")).to_xarray()
    assert view["donor"].dtype == np.int64 and view["donor"].values.tolist() == [big, big + 1]
    assert view.sel(condition=view.donor == big + 1)["condition"].values.tolist() == ["b"]
    assert view["rep"].dtype == np.float64 and np.isnan(view["rep"].values[1])
    import genozarr

    opened = genozarr.open_store(tmp_path / "c.zarr")
    assert opened["donor"].values.tolist() == [big, big + 1]


def test_condition_names_must_be_unique(tmp_path):
    """Two files of one name in different folders (or a name given twice) would give two
    conditions of one name, which a selection or an export cannot tell apart: refused
    when the dataset is built, naming the files."""
    (tmp_path / "r1").mkdir()
    (tmp_path / "r2").mkdir()
    files = [_bigwig(tmp_path / "r1" / "signal.bw", 1), _bigwig(tmp_path / "r2" / "signal.bw", 2)]
    with pytest.raises(ArgumentError, match="'signal' is taken from the file names for 2"):
        Cover.create_from_bigwig("c", files, roi=ROI, binsize=1000)
    with pytest.raises(ArgumentError, match="'x' is given for 2"):
        Cover.create_from_bigwig("c", files, roi=ROI, binsize=1000, conditions=["x", "x"])
    cover = Cover.create_from_bigwig("c", files, roi=ROI, binsize=1000, conditions=["a", "b"])
    np.testing.assert_array_equal(cover[0][0, 0, 0], [1, 2])
    # a sample sheet without a condition column says so about the sheet
    sheet = tmp_path / "s.tsv"
    sheet.write_text("file\tcell\nr1/signal.bw\tA\nr2/signal.bw\tB\n")
    with pytest.raises(MalformedFileError, match=r"sample sheet .*s\.tsv: condition names "
                                                 r"must be unique, \['signal'\]"):
        Cover.create_from_bigwig("c", str(sheet), roi=ROI, binsize=1000)


def test_dataframe_sheet_rows_without_a_value(tmp_path):
    frame = pd.DataFrame({"file": [_bigwig(tmp_path / "a.bw", 1), None],
                          "condition": ["a", "b"]})
    with pytest.raises(MalformedFileError, match="the row at index 1 has no input file"):
        Cover.create_from_bigwig("c", frame, roi=ROI, binsize=1000)
    frame = pd.DataFrame({"file": [str(tmp_path / "a.bw")], "condition": [np.nan]})
    with pytest.raises(MalformedFileError, match="no condition name"):
        Cover.create_from_bigwig("c", frame, roi=ROI, binsize=1000)


def test_sheet_at_a_url_resolves_its_paths_against_the_url(tmp_path):
    from genozarr.errors import InputFileError
    from genozarr.testing.servers import serve_directory

    (tmp_path / "data").mkdir()
    _bigwig(tmp_path / "data" / "my file.bw", 3)
    (tmp_path / "sheets").mkdir()
    (tmp_path / "sheets" / "s.tsv").write_text(
        "file\tassay\n../data/my%20file.bw\tATAC\n")
    with serve_directory(tmp_path) as base:
        from genozarr.samples import read_sample_sheet

        sheet = read_sample_sheet(f"{base}/sheets/s.tsv?sig=abc")
        assert sheet.files == [f"{base}/data/my%20file.bw"]
        assert sheet.conditions == ["my file"]  # the decoded name, as for a local file
        cover = Cover.create_from_bigwig("c", f"{base}/sheets/s.tsv", roi=ROI, binsize=1000)
        assert cover.conditions == ["my file"]
        assert cover.condition_metadata["assay"].tolist() == ["ATAC"]
        np.testing.assert_array_equal(cover[0][0, :, 0, 0], np.full(1000, 3, np.float32))
        with pytest.raises(InputFileError, match=f"sample sheet file {base}/sheets/none.csv: "
                                                 "HTTP 404 Not Found"):
            read_sample_sheet(f"{base}/sheets/none.csv")


def test_bool_and_mixed_metadata_are_the_same_in_the_store(tmp_path):
    """A DataFrame's True/False column is a bool coordinate (it was the strings
    'True'/'False': selecting by it selected nothing); True/False with a missing value,
    and a column mixing kinds, are text, in condition_metadata as in the store."""
    frame = pd.DataFrame({"file": [_bigwig(tmp_path / f"{c}.bw", v) for c, v in
                                   (("a", 1), ("b", 2), ("c", 3))],
                          "condition": ["a", "b", "c"], "treated": [True, False, True],
                          "flag": [True, None, False], "m": [1, "x", 2.5]})
    store = tmp_path / "c.zarr"
    cover = Cover.create_from_bigwig("c", frame, roi=ROI, binsize=1000, storage="zarr",
                                     store=str(store))
    meta = cover.condition_metadata
    assert meta["treated"].tolist() == [True, False, True]
    assert meta["flag"].tolist() == ["True", None, "False"]
    assert meta["m"].tolist() == ["1", "x", "2.5"]
    for ds in (genozarr.open_store(store), cover.to_xarray(),
               Cover.create_from_bigwig("c", frame, roi=ROI, binsize=1000).to_xarray()):
        assert ds["treated"].dtype == np.bool_
        treated = ds.sel(condition=ds.treated == True)
        assert treated["condition"].values.tolist() == ["a", "c"]
        assert ds.sel(condition=ds.treated)["condition"].values.tolist() == ["a", "c"]
        # the values of files a and c (1 and 3 at every base)
        np.testing.assert_array_equal(treated["data"].values[0, :, 0, :],
                                      np.tile([1, 3], (1000, 1)))
        assert ds["flag"].values.tolist() == ["True", "", "False"]
        assert ds["m"].values.tolist() == ["1", "x", "2.5"]
    assert genozarr.open_dataset(store).condition_metadata["treated"].tolist() == [
        True, False, True]


def test_whole_numbers_past_int64_stay_exact_as_text(tmp_path):
    """20-digit IDs (past int64) were a float64 coordinate: both became
    1.2345678901234567e19 and one selection took both. They are text now, the same in
    condition_metadata; so is a column where a float64 would round a whole number."""
    _bigwig(tmp_path / "a.bw", 1)
    _bigwig(tmp_path / "b.bw", 2)
    sheet = tmp_path / "s.csv"
    sheet.write_text("file,condition,sample_id,mixed\n"
                     "a.bw,a,12345678901234567891,9007199254740993\n"
                     "b.bw,b,12345678901234567892,1.5\n")
    store = tmp_path / "c.zarr"
    cover = Cover.create_from_bigwig("c", str(sheet), roi=ROI, binsize=1000, storage="zarr",
                                     store=str(store))
    ids = ["12345678901234567891", "12345678901234567892"]
    assert cover.condition_metadata["sample_id"].tolist() == ids
    assert cover.condition_metadata["mixed"].tolist() == ["9007199254740993", "1.5"]
    ds = genozarr.open_store(store)
    assert ds["sample_id"].values.tolist() == ids
    assert ds["mixed"].values.tolist() == ["9007199254740993", "1.5"]
    sel = ds.sel(condition=ds.sample_id == ids[1])
    assert sel["condition"].values.tolist() == ["b"]
    np.testing.assert_array_equal(sel["data"].values[0, :, 0, 0], np.full(1000, 2.0))
    # a DataFrame's Python ints past int64
    frame = pd.DataFrame({"file": [str(tmp_path / "a.bw"), str(tmp_path / "b.bw")],
                          "condition": ["a", "b"], "sample_id": [2**64 + 1, 2**64 + 2]})
    view = Cover.create_from_bigwig("c", frame, roi=ROI, binsize=1000).to_xarray()
    assert view["sample_id"].values.tolist() == [str(2**64 + 1), str(2**64 + 2)]


def test_missing_input_file_names_the_sheet_and_line(tmp_path):
    from genozarr.errors import InputFileError

    _bigwig(tmp_path / "a.bw", 1)
    sheet = tmp_path / "s.csv"
    sheet.write_text("file,condition\na.bw,a\nmissing.bw,b\n")
    with pytest.raises(InputFileError, match=rf"sample sheet {sheet}: line 3 names an input "
                                             rf"file that does not exist: .*missing\.bw$"):
        Cover.create_from_bigwig("c", str(sheet), roi=ROI, binsize=1000)
    frame = pd.DataFrame({"file": [str(tmp_path / "a.bw"), str(tmp_path / "x.bw")]})
    with pytest.raises(InputFileError, match=r"sample sheet DataFrame: the row at index 1 "
                                             r"names an input file that does not exist"):
        Cover.create_from_bigwig("c", frame, roi=ROI, binsize=1000)


def test_a_linked_sheet_reads_the_files_beside_the_link(tmp_path):
    """Relative paths of a sheet given as a link are relative to the link's folder (they
    were relative to the target's: B/x.bw was read for A/s.csv)."""
    import os

    for sub, value in (("A", 1), ("B", 50)):
        (tmp_path / sub).mkdir()
        _bigwig(tmp_path / sub / "x.bw", value)
    (tmp_path / "B" / "s.csv").write_text("file,condition\nx.bw,x\n")
    os.symlink(tmp_path / "B" / "s.csv", tmp_path / "A" / "s.csv")
    cover = Cover.create_from_bigwig("c", str(tmp_path / "A" / "s.csv"), roi=ROI, binsize=1000)
    assert cover.garray.meta.sources == [str(tmp_path / "A" / "x.bw")]
    np.testing.assert_array_equal(cover[0][0, :, 0, 0], np.ones(1000, np.float32))


def test_cached_store_keeps_the_sheets_column_order(tmp_path, monkeypatch):
    """The same sheet with its metadata columns in another order is another store: the
    key sorted the columns, so cache=True served the first order."""
    monkeypatch.setenv("GENOZARR_OUTPUT", str(tmp_path / "out"))
    frame = pd.DataFrame({"file": [_bigwig(tmp_path / f"{c}.bw", v) for c, v in
                                   (("a", 1), ("b", 2))],
                          "condition": ["a", "b"], "z_col": [1, 2], "a_col": ["x", "y"]})
    first = Cover.create_from_bigwig("x", frame, roi=ROI, binsize=1000, cache=True)
    again = Cover.create_from_bigwig("x", frame, roi=ROI, binsize=1000, cache=True)
    other = Cover.create_from_bigwig("x", frame[["file", "condition", "a_col", "z_col"]],
                                     roi=ROI, binsize=1000, cache=True)
    assert again.garray.path == first.garray.path != other.garray.path
    assert list(first.condition_metadata.columns) == ["z_col", "a_col"]
    assert list(other.condition_metadata.columns) == ["a_col", "z_col"]
    assert list(genozarr.open_dataset(other.garray.path).condition_metadata.columns) == [
        "a_col", "z_col"]


def test_a_sheet_url_that_fails_says_why_without_its_secret(tmp_path):
    """A sample sheet at a URL answering HTTP 500 read as 'FileNotFoundError' with
    fsspec's hint about glob characters, naming the URL with its token (an audit); it
    now says what the server answered, and hides query values, as for other inputs."""
    from http import HTTPStatus

    from genozarr.errors import InputFileError, MalformedFileError
    from genozarr.samples import read_sample_sheet
    from genozarr.testing.servers import RangeHandler, serve_directory

    class Failing(RangeHandler):
        def send_head(self):
            if "err500" in self.path:
                self.send_error(HTTPStatus.INTERNAL_SERVER_ERROR)
                return None
            return super().send_head()

    (tmp_path / "empty.csv").write_text("")
    with serve_directory(tmp_path, handler=Failing) as base:
        with pytest.raises(InputFileError) as info:
            read_sample_sheet(f"{base}/err500/s.csv?token=SECRET123")
        text = str(info.value)
        assert "HTTP 500" in text and "SECRET123" not in text and "token=***" in text
        assert "glob" not in text and text.count("sample sheet") == 1
        with pytest.raises(MalformedFileError, match=r"empty\.csv\?token=\*\*\* is empty") \
                as info:
            read_sample_sheet(f"{base}/empty.csv?token=SECRET123")
        assert "SECRET123" not in str(info.value)


def test_missing_text_metadata_and_column_order_survive_write_store(sheet, tmp_path):
    """A missing text value (None in condition_metadata, '' in the stored coordinate)
    came back as '' after open_store / xarray's engine -> write_store -> open_dataset
    (missing numbers came back as None), and the columns in xarray's order, not the
    sheet's (an audit)."""
    import xarray as xr

    frame = sheet["frame"].assign(file=[str(sheet["root"] / f) for f in sheet["frame"].file])
    frame = frame[["file", "condition", "replicate", "note", "cell_type"]]  # not sorted
    store = tmp_path / "c.zarr"
    cover = Cover.create_from_bigwig("c", frame, roi=ROI, binsize=1000, storage="zarr",
                                     store=str(store))
    want = {"replicate": [1, 2, 1, 2], "note": [None, "deep", None, None],
            "cell_type": CELLS}
    assert {k: v.tolist() for k, v in cover.condition_metadata.items()} == want
    for i, obj in enumerate((genozarr.open_store(store), cover.to_xarray(),
                             xr.open_dataset(store, engine="genozarr"))):
        back = genozarr.open_dataset(genozarr.write_store(obj, tmp_path / f"w{i}.zarr"))
        meta = back.condition_metadata
        assert list(meta) == list(want)
        assert {k: v.tolist() for k, v in meta.items()} == want
        np.testing.assert_array_equal(back[:], cover[:])


# ------------------------------------------------------------------ an audit of sheets
def _frame(sheet, **columns):
    """The module's four files as a DataFrame sheet with the metadata columns given."""
    files = [str(sheet["root"] / "data" / f"s{i}.bw") for i in range(len(CELLS))]
    return pd.DataFrame({"file": files, "condition": [f"c{i}" for i in range(len(CELLS))],
                         **columns})


def test_missing_dates_and_numbers_past_int64_are_kept_as_documented(sheet, tmp_path):
    """A missing date (NaT) became the text 'NaT'; a whole number past int64 that a
    float64 holds (2**63) became a float64 coordinate, and an unsigned column in
    condition_metadata: text in both, as the docs say."""
    frame = _frame(sheet, date=pd.to_datetime(["2024-01-01", None, "2024-02-01", None]),
                   id=np.array([1, 2**63, 3, 4], dtype=np.uint64))
    cover = Cover.create_from_bigwig("c", frame, roi=ROI, binsize=1000, storage="zarr",
                                     store=str(tmp_path / "c.zarr"))
    meta = cover.condition_metadata
    assert meta["date"].tolist() == ["2024-01-01 00:00:00", None, "2024-02-01 00:00:00", None]
    assert meta["id"].tolist() == ["1", "9223372036854775808", "3", "4"]
    ds = genozarr.open_store(tmp_path / "c.zarr")
    assert ds["date"].values.tolist() == ["2024-01-01 00:00:00", "", "2024-02-01 00:00:00", ""]
    assert ds.sel(condition=ds["date"] == "")["condition"].values.tolist() == ["c1", "c3"]
    assert ds["id"].values.tolist() == ["1", "9223372036854775808", "3", "4"]
    # within int64: an int64 coordinate, as before
    small = Cover.create_from_bigwig("s", _frame(sheet, id=[1, 2, 3, 2**62]), roi=ROI,
                                     binsize=1000)
    assert small.condition_metadata["id"].dtype == np.int64


def test_a_condition_column_in_another_case_is_an_error(sheet):
    """'Condition' was kept as metadata and the conditions named after the files."""
    frame = _frame(sheet).rename(columns={"condition": "Condition"})
    with pytest.raises(MalformedFileError, match=r"has a column 'Condition' but no "
                                                 r"'condition' column: column names are "
                                                 r"case-sensitive"):
        Cover.create_from_bigwig("c", frame, roi=ROI, binsize=1000)


def test_condition_names_with_nul_are_refused(sheet):
    """numpy's strings drop a trailing NUL: xarray selected 'A\\x00' as 'A', the values
    of another condition."""
    frame = _frame(sheet)
    frame.loc[0, "condition"], frame.loc[1, "condition"] = "A\x00", "A"
    with pytest.raises(ArgumentError, match="holds a NUL character"):
        Cover.create_from_bigwig("c", frame, roi=ROI, binsize=1000)
    files = frame["file"].tolist()[:2]
    with pytest.raises(ArgumentError, match="holds a NUL character"):
        Cover.create_from_bigwig("c", files, roi=ROI, binsize=1000, conditions=["A\x00", "A"])


def test_a_sheet_among_other_inputs_is_an_error(sheet, tmp_path):
    """A list of several inputs holding a sheet failed later as 'not a BigWig file' (and
    passed `genozarr build --check`)."""
    bw = str(sheet["root"] / "data" / "s0.bw")
    for files in ([sheet["path"], bw], [sheet["path"], sheet["path"]], [_frame(sheet), bw]):
        with pytest.raises(ArgumentError, match=r"is one of 2 inputs: a sample sheet lists "
                                                r"every input of a dataset"):
            Cover.create_from_bigwig("c", files, roi=ROI, binsize=1000)
    from genozarr.spec import load_spec

    spec = tmp_path / "spec.toml"
    spec.write_text(f'[[datasets]]\nname = "x"\nkind = "bigwig"\nfiles = ["{sheet["path"]}", '
                    f'"{bw}"]\nroi = "{tmp_path / "roi.bed"}"\nbinsize = 1000\n')
    (tmp_path / "roi.bed").write_text("chr1\t0\t1000\n")
    with pytest.raises(ArgumentError, match=r"dataset 'x': the sample sheet .* is one of 2"):
        load_spec(spec)


def test_to_anndata_keeps_the_sheets_metadata(sheet):
    pytest.importorskip("anndata")
    cover = Cover.create_from_bigwig("c", sheet["path"], roi=sheet["roi"], binsize=1000,
                                     resolution=None)
    adata = cover.to_anndata()
    assert adata.var["cell_type"].tolist() == CELLS
    assert adata.var["replicate"].tolist() == [1, 2, 1, 2]
    assert adata.var["note"].tolist() == [None, "deep", None, None]
    np.testing.assert_array_equal(adata.X[:, 2], cover[:][:, 0, 0, 2])
    split = Cover.create_from_bigwig("c", _frame(sheet, source=["x", "y", "z", "w"]),
                                     roi=ROI, binsize=1000, resolution=None).to_anndata(
                                         strand="split")
    assert split.var["sheet_source"].tolist() == ["x", "y", "z", "w"]  # (source: the file)
    assert split.var["source"].tolist()[0].endswith("s0.bw")


def test_bed_files_named_as_sheets_in_a_list_stay_bed_files(tmp_path):
    """BED files named .tsv, given several at once (also as file:// URLs, one of them
    empty), were refused as 'a sample sheet among other inputs' (a review)."""
    (tmp_path / "a.tsv").write_text("chr1\t0\t100\nchr1\t300\t400\n")
    (tmp_path / "empty.tsv").write_text("# no features\n")
    roi = pd.DataFrame({"chrom": ["chr1"], "start": [0], "end": [500]})
    for files in ([tmp_path / "a.tsv", tmp_path / "empty.tsv"],
                  [(tmp_path / "a.tsv").as_uri(), (tmp_path / "empty.tsv").as_uri()]):
        cover = Cover.create_from_bed("b", [str(f) for f in files], roi=roi, binsize=500,
                                      resolution=100, genomesize={"chr1": 1000})
        assert cover.conditions == ["a.tsv", "empty.tsv"]
        np.testing.assert_array_equal(cover[0][0, :, 0, 0], [1, 0, 0, 1, 0])
        np.testing.assert_array_equal(cover[0][0, :, 0, 1], [0, 0, 0, 0, 0])


def test_to_anndata_never_drops_a_sheet_column_on_renaming(sheet):
    """A sheet column renamed for a clash (source -> sheet_source) overwrote a sheet
    column of that name (a review)."""
    pytest.importorskip("anndata")
    frame = _frame(sheet, sheet_source=["l1", "l2", "l3", "l4"], source=["x", "y", "z", "w"])
    var = Cover.create_from_bigwig("c", frame, roi=ROI, binsize=1000,
                                   resolution=None).to_anndata().var
    assert var["sheet_source"].tolist() == ["l1", "l2", "l3", "l4"]
    assert var["sheet_sheet_source"].tolist() == ["x", "y", "z", "w"]
    assert var["source"].tolist()[0].endswith("s0.bw")


def test_a_sheet_among_bed_inputs_is_an_error(sheet, tmp_path):
    """Among BED files (often named .tsv), a file whose header names a 'file' column, or
    a DataFrame, is a sample sheet: an error saying so, not a BED parsing error."""
    bed = tmp_path / "a.tsv"
    bed.write_text("chr1\t0\t100\n")
    for item in (sheet["path"], pd.read_csv(sheet["path"], sep="\t")):
        with pytest.raises(ArgumentError, match=r"is one of 2 inputs: a sample sheet"):
            Cover.create_from_bed("b", [item, str(bed)], roi=ROI, binsize=1000,
                                  genomesize={"chr1": 3000})


@pytest.mark.parametrize("strand", ["sum", "split"])
def test_create_from_anndata_restores_the_sheets_metadata(sheet, tmp_path, strand):
    """The sample sheet's metadata written into ``var`` by to_anndata (a column renamed
    for a clash included) come back as the Cover's condition metadata, typed as the
    sheet's store keeps them, through an h5ad file too; a subclass is built as itself."""
    anndata = pytest.importorskip("anndata")
    frame = _frame(sheet, cell_type=CELLS, note=[None, "deep", None, None],
                   source=["x", "y", "z", "w"])
    cover = Cover.create_from_bigwig("c", frame, roi=sheet["roi"], binsize=1000,
                                     resolution=None)
    adata = cover.to_anndata(strand=strand)
    adata.write_h5ad(tmp_path / "a.h5ad")

    class Mine(Cover):
        pass

    added = adata.copy()  # a column added after to_anndata is metadata too (a review)
    added.var["tissue"] = ["liver"] * (len(added.var) - 1) + [None]
    tissue = Cover.create_from_anndata(added).condition_metadata  # (unstranded: a var
    assert tissue["tissue"].tolist() == ["liver", "liver", "liver", None]  # per condition)
    assert tissue["cell_type"].tolist() == CELLS
    for ad in (adata, anndata.read_h5ad(tmp_path / "a.h5ad")):
        back = Mine.create_from_anndata(ad, storage="zarr", store=str(tmp_path / "b.zarr"),
                                        overwrite=True)
        assert type(back) is Mine
        pd.testing.assert_frame_equal(back.condition_metadata, cover.condition_metadata)
        assert back.condition_metadata["source"].tolist() == ["x", "y", "z", "w"]
        assert back.condition_metadata["note"].tolist() == [None, "deep", None, None]
        np.testing.assert_array_equal(back[:].sum(axis=(1, 2)), cover[:].sum(axis=(1, 2)))
        again = genozarr.open_dataset(str(tmp_path / "b.zarr"))
        pd.testing.assert_frame_equal(again.condition_metadata, cover.condition_metadata)
        assert again.to_xarray().sel(
            condition=again.to_xarray().cell_type == "K562").condition.values.tolist() \
            == ["c0", "c2"]


def test_create_from_anndata_takes_other_var_columns_as_metadata(caplog):
    """An AnnData made elsewhere: var columns with one value per condition become
    condition metadata under their own names; one whose name a metadata column cannot
    take is left out (logged); condition_metadata= given replaces them."""
    anndata = pytest.importorskip("anndata")
    obs = pd.DataFrame({"chrom": ["chr1", "chr1"], "start": [0, 100], "end": [100, 200]},
                       index=["r0", "r1"])
    var = pd.DataFrame({"cell_type": pd.Categorical(["B", "T", "B"]), "depth": [1.5, None, 3.0],
                        "bad name": [1, 2, 3]}, index=["c0", "c1", "c2"])
    adata = anndata.AnnData(X=np.arange(6, dtype=np.float32).reshape(2, 3), obs=obs, var=var)
    with caplog.at_level("INFO", logger="genozarr.scverse"):
        cover = Cover.create_from_anndata(adata)
    meta = cover.condition_metadata
    assert list(meta.columns) == ["cell_type", "depth"] and cover.conditions == ["c0", "c1",
                                                                                  "c2"]
    assert meta["cell_type"].tolist() == ["B", "T", "B"]
    np.testing.assert_array_equal(meta["depth"].to_numpy(), [1.5, np.nan, 3.0])
    assert "bad name" in caplog.text
    np.testing.assert_array_equal(cover[:][:, 0, 0, :], adata.X)
    given = Cover.create_from_anndata(adata, condition_metadata={"assay": ["a", "b", "c"]})
    assert list(given.condition_metadata.columns) == ["assay"]


def test_create_from_array_takes_condition_metadata(tmp_path):
    """Predictions with metadata per condition: stored as a sample sheet's (the store's
    coordinates along ``condition``, reopened), a DataFrame indexed by the conditions
    aligned by name; wrong lengths, names and infinities refused; the metadata are part
    of the cache key."""
    from genozarr import GenomicIndexer

    gi = GenomicIndexer(["chr1", "chr1"], [0, 100], [100, 200], ["+", "+"], 100, 100)
    x = np.arange(2 * 3, dtype=np.float32).reshape(2, 1, 3)
    frame = pd.DataFrame({"cell_type": ["T", "B", "NK"], "rep": [2, 1, 1]},
                         index=["b", "a", "c"])
    cover = Cover.create_from_array("p", x, gi, conditions=["a", "b", "c"], storage="zarr",
                                    store=str(tmp_path / "p.zarr"), condition_metadata=frame)
    assert cover.condition_metadata["cell_type"].tolist() == ["B", "T", "NK"]
    assert cover.condition_metadata["rep"].tolist() == [1, 2, 1]
    ds = genozarr.open_store(str(tmp_path / "p.zarr"))
    assert ds["cell_type"].values.tolist() == ["B", "T", "NK"]
    assert ds["rep"].dtype == np.int64
    for index in (["b", "a", "x"], ["a", "a", "c"]):  # labels, not each condition once
        with pytest.raises(ArgumentError, match=r"does not name each condition"):
            Cover.create_from_array("p", x, gi, conditions=["a", "b", "c"],
                                    condition_metadata=frame.set_axis(index))
    positional = Cover.create_from_array("p", x, gi, conditions=["a", "b", "c"],
                                         condition_metadata=frame.reset_index(drop=True))
    assert positional.condition_metadata["cell_type"].tolist() == ["T", "B", "NK"]
    with pytest.raises(ArgumentError, match=r"column 'rep' has 2 values for 3 conditions"):
        Cover.create_from_array("p", x, gi, condition_metadata={"rep": [1, 2]})
    with pytest.raises(ArgumentError, match=r"\['condition'\] are reserved"):
        Cover.create_from_array("p", x, gi, condition_metadata={"condition": [1, 2, 3]})
    with pytest.raises(ArgumentError, match=r"'w' holds an infinity"):
        Cover.create_from_array("p", x, gi, condition_metadata={"w": [1, float("inf"), 2]})
    keyed = [Cover.create_from_array("p", x, gi, cache=True,
                                     condition_metadata={"k": [v, 2, 3]}).garray.meta.cache_key
             for v in (1, 1, 9)]
    assert keyed[0] == keyed[1] != keyed[2]


def test_create_from_anndata_of_split_strands_keeps_one_value_per_condition(caplog):
    """Stranded data as ``condition/strand`` variables: metadata come back once per
    condition; a var column whose two strands of a condition differ is not condition
    metadata (left out, logged)."""
    pytest.importorskip("anndata")
    from genozarr import GenomicIndexer

    gi = GenomicIndexer(["chr1", "chr1"], [0, 100], [100, 200], ["+", "+"], 100, 100)
    x = np.arange(2 * 2 * 3, dtype=np.float32).reshape(2, 1, 2, 3)
    cover = Cover.create_from_array("s", x, gi, conditions=["a", "b", "c"],
                                    condition_metadata={"cell": ["T", "B", "T"]})
    adata = cover.to_anndata(strand="split")
    assert adata.var["cell"].tolist() == ["T", "T", "B", "B", "T", "T"]
    adata.var["per_var"] = [1, 2, 3, 4, 5, 6]  # (differs between a condition's strands)
    with caplog.at_level("INFO", logger="genozarr.scverse"):
        back = Cover.create_from_anndata(adata)
    assert back.strands == ["+", "-"]
    assert list(back.condition_metadata.columns) == ["cell"]
    assert back.condition_metadata["cell"].tolist() == ["T", "B", "T"]
    assert "per_var" in caplog.text
    np.testing.assert_array_equal(back[:][:, 0], cover[:][:, 0])
