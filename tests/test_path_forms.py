"""The forms a user gives a path in: bytes, ``file://`` URLs, ``~``, ``.``; for stores,
inputs, sample sheets, exports, the output root and build specs. Each form reads or
writes the same file as the plain absolute path (values compared with the plain build),
and nothing lands under the working directory."""

from __future__ import annotations

import os

import numpy as np
import pyBigWig
import pytest

import genozarr
from genozarr import Cover, GenomicIndexer
from genozarr.errors import ArgumentError
from genozarr.io._remote import local_form


@pytest.fixture
def cwd(tmp_path, monkeypatch):
    """An empty working directory: every test checks it stays empty."""
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    return work


def _gi() -> GenomicIndexer:
    return GenomicIndexer.create_from_file(["chr1:0-100"], binsize=50, stepsize=50)


X = np.arange(100, dtype="float32").reshape(2, 50, 1, 1)


def test_local_form(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert local_form(b"/data/x.bw") == "/data/x.bw"
    assert local_form("file:///data/x.bw") == "/data/x.bw"
    assert local_form("FILE://localhost/data/x.bw") == "/data/x.bw"
    assert local_form("~/x.bw") == str(tmp_path / "x.bw")
    assert local_form("s3://bucket/~/x.bw") == "s3://bucket/~/x.bw"
    assert local_form("rel/x.bw") == "rel/x.bw"
    assert local_form("file:///data/my%20peaks.bed") == "/data/my peaks.bed"  # as_uri()
    for bad in ("file://host/data/x.bw", "file://x.bw"):
        with pytest.raises(ArgumentError, match="absolute local path"):
            local_form(bad)


@pytest.mark.parametrize("form", ["bytes", "home"])
def test_store_given_as_bytes_or_home_path(tmp_path, cwd, monkeypatch, form):
    """store=b'/abs/s.zarr' was written to '<cwd>/b'/abs/s.zarr'', store='~/s.zarr' to a
    literal '<cwd>/~' folder."""
    monkeypatch.setenv("HOME", str(tmp_path))
    store = os.fsencode(tmp_path / "s.zarr") if form == "bytes" else "~/s.zarr"
    built = Cover.create_from_array("s", X, _gi(), storage="zarr", store=store)
    assert built.garray.path == str(tmp_path / "s.zarr")
    np.testing.assert_array_equal(genozarr.open_dataset(str(tmp_path / "s.zarr"))[:], X)
    assert os.listdir(cwd) == []


@pytest.mark.parametrize("store", [".", "", "./"])
def test_the_working_directory_is_no_store_path(cwd, store):
    """store='.' in an empty working directory made the directory itself the store (it was
    replaced, and the process left in a deleted directory)."""
    with pytest.raises(ArgumentError, match="does not name a store directory"):
        Cover.create_from_array("s", X, _gi(), storage="zarr", store=store)
    assert os.getcwd() == str(cwd) and os.listdir(cwd) == []


def test_output_root_given_as_a_url(tmp_path, cwd, monkeypatch):
    """GENOZARR_OUTPUT=file:///abs put cached stores under '<cwd>/file:/abs', and an s3://
    root under '<cwd>/s3:/...'."""
    monkeypatch.setenv("GENOZARR_OUTPUT", f"file://{tmp_path / 'root'}")
    built = Cover.create_from_array("s", X, _gi(), storage="zarr", cache=True)
    assert built.garray.path.startswith(str(tmp_path / "root" / "datasets" / "s") + os.sep)
    np.testing.assert_array_equal(genozarr.open_dataset(built.garray.path)[:], X)
    monkeypatch.setenv("GENOZARR_OUTPUT", "s3://bucket/genozarr")
    with pytest.raises(ArgumentError, match="GENOZARR_OUTPUT=s3://bucket/genozarr: the output "
                                            "root must be a local directory"):
        Cover.create_from_array("t", X, _gi(), storage="zarr", cache=True)
    assert os.listdir(cwd) == []


def test_export_to_a_file_url(tmp_path, cwd):
    """export_to_bigwig / export_to_bed to 'file:///abs/out' wrote '<cwd>/file:/abs/out'."""
    cover = Cover.create_from_array("s", X, _gi(), storage="zarr",
                                    store=str(tmp_path / "s.zarr"))
    out = tmp_path / "out"
    from genozarr.export import export_to_bed, export_to_bigwig

    paths = export_to_bigwig(cover, f"file://{out}", genomesize={"chr1": 100})
    assert [os.path.dirname(p) for p in paths] == [str(out)]
    with pyBigWig.open(paths[0]) as bw:
        np.testing.assert_array_equal(np.asarray(bw.values("chr1", 0, 100)), X.reshape(-1))
    beds = export_to_bed(cover, f"file://{out}")
    assert [os.path.dirname(p) for p in beds] == [str(out)]
    with pytest.raises(ArgumentError, match="exports are written to a local directory"):
        export_to_bigwig(cover, "s3://bucket/out", genomesize={"chr1": 100})
    assert os.listdir(cwd) == []


def test_cli_export_and_plot_to_file_urls(tmp_path, cwd):
    from typer.testing import CliRunner

    from genozarr.cli import app

    store = tmp_path / "s.zarr"
    Cover.create_from_array("s", X, _gi(), storage="zarr", store=str(store))
    runner = CliRunner()
    result = runner.invoke(app, ["export", f"file://{store}", f"file://{tmp_path / 'out'}"])
    assert result.exit_code == 0, result.output
    assert result.stdout.split() == [str(tmp_path / "out" / "s.Cond_0.bigwig")]
    result = runner.invoke(app, ["plot", str(store), "chr1", "0", "100", "-o",
                                 (tmp_path / "p q.png").as_uri()])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "p q.png").stat().st_size > 0
    result = runner.invoke(app, ["plot", str(store), "chr1", "0", "100", "-o",
                                 "s3://bucket/p.png"])
    said = " ".join(result.output.replace("│", " ").split())  # (rich wraps the box)
    assert result.exit_code == 2 and "the plot is written to a local file" in said, said
    assert os.listdir(cwd) == []


def test_inputs_given_as_file_urls_and_bytes(tmp_path, cwd, sample_files):
    """A file:// BigWig, roi and genome-size file gave '... does not exist'; a bytes path
    'BigWig files must be paths, got 47'. Both read the files the plain paths name."""
    kw = {"binsize": 200, "resolution": 10}
    plain = Cover.create_from_bigwig("p", [sample_files["bigwig_a"]], roi=sample_files["roi"],
                                     genomesize=sample_files["chrom_sizes"], **kw)
    url = Cover.create_from_bigwig("p", [f"file://{sample_files['bigwig_a']}"],
                                   roi=f"file://{sample_files['roi']}",
                                   genomesize=f"file://{sample_files['chrom_sizes']}", **kw)
    raw = Cover.create_from_bigwig("p", os.fsencode(sample_files["bigwig_a"]),
                                   roi=sample_files["roi"], **kw)
    np.testing.assert_array_equal(url[:], plain[:])
    np.testing.assert_array_equal(raw[:], plain[:])
    assert list(url.conditions) == list(plain.conditions) == ["sample_a"]
    assert os.listdir(cwd) == []


def test_sample_sheet_under_home_with_file_url_cells(tmp_path, cwd, monkeypatch, sample_files):
    """A sheet given as '~/sheet.tsv' gave 'does not exist' (its folder was expanded, the
    sheet was not); a file:// cell was joined to the sheet's folder."""
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "sheet.tsv").write_text(
        "file\tcondition\n"
        f"file://{sample_files['bigwig_a']}\ta\n{sample_files['bigwig_b']}\tb\n")
    cover = Cover.create_from_bigwig("s", "~/sheet.tsv", roi=sample_files["roi"], binsize=200,
                                     resolution=10)
    ref = Cover.create_from_bigwig("s", [sample_files["bigwig_a"], sample_files["bigwig_b"]],
                                   roi=sample_files["roi"], binsize=200, resolution=10)
    assert list(cover.conditions) == ["a", "b"]
    np.testing.assert_array_equal(cover[:], ref[:])
    assert os.listdir(cwd) == []


def test_spec_datasets_sharing_a_store_through_a_file_url(tmp_path, cwd):
    """Two datasets of a spec naming one store, one as file:///abs/same.zarr and one by its
    relative path: the second silently replaced the first."""
    from genozarr.spec import check_stores

    entries = [{"name": "a", "store": f"file://{cwd / 'same.zarr'}"},
               {"name": "b", "store": "same.zarr"}]
    with pytest.raises(ArgumentError, match=r"datasets \['a', 'b'\] would share the store"):
        check_stores(entries, None)
