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

SIZES = {"chr1": 5000, "chr2": 3000}
CELLS = ["K562", "HepG2", "K562", "GM12878"]


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
    with pyBigWig.open(str(sheet["root"] / "data" / f"s{i}.bw")) as bw:
        return np.nan_to_num(np.array(bw.values(chrom, start, end), dtype="float32"))


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
