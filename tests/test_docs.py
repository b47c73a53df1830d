"""The documentation: the Sphinx build (warnings are errors) and the code on its pages.

The Python examples of the guide pages run here in order, on the bundled sample data;
a line ``expr  # (a, b, ...)`` documents a shape, and the test checks it.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"

_BLOCK = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", re.S | re.M)
_SHAPE_LINE = re.compile(r"^(?P<expr>[^#\s][^#]*?)\s+#\s*(?P<shape>\(\d+(?:,\s*\d+)*,?\))")


def python_blocks(page: str) -> list[str]:
    """The ```python fenced blocks of a docs page, in order."""
    return _BLOCK.findall((DOCS / page).read_text())


def documented_shapes(block: str) -> list[tuple[str, tuple[int, ...]]]:
    """``(expression, shape)`` for every line ``expression  # (a, b, ...)`` of a block."""
    out = []
    for line in block.splitlines():
        m = _SHAPE_LINE.match(line)
        if m:
            out.append((m["expr"].strip(), ast.literal_eval(m["shape"])))
    return out


def run_page(page: str, namespace: dict) -> int:
    """Run every Python block of ``page`` in ``namespace``; check documented shapes.

    Returns the number of shapes checked.
    """
    checked = 0
    for block in python_blocks(page):
        exec(compile(block, f"{page}", "exec"), namespace)  # noqa: S102
        for expr, shape in documented_shapes(block):
            if "=" in expr.split("(")[0]:  # an assignment: check the assigned name
                expr = expr.split("=")[0].strip()
            value = eval(expr, namespace)  # noqa: S307
            got = value.shape if hasattr(value, "shape") and not isinstance(value, tuple) \
                else value
            assert tuple(got) == shape, f"{page}: `{expr}` is {tuple(got)}, the page says {shape}"
            checked += 1
    return checked


def test_shape_comment_parser():
    block = "x = dna[0]                 # (200, 1, 4)\nsignal.shape   # (200, 4, 1, 2): bins\n" \
            "# (1, 2) a comment only\ny = f(a, b)  # not a shape"
    assert documented_shapes(block) == [("x = dna[0]", (200, 1, 4)),
                                        ("signal.shape", (200, 4, 1, 2))]


@pytest.mark.slow
def test_getting_started_examples(tmp_path, monkeypatch):
    pytest.importorskip("torch")  # (the page trains a small PyTorch model)
    monkeypatch.chdir(tmp_path)
    ns: dict = {}
    checked = run_page("getting-started.md", ns)
    assert checked >= 10
    # the documented values, against the inputs themselves
    signal, predictions, predicted = ns["signal"], ns["predictions"], ns["predicted"]
    assert str(signal.gindexer[10]) == "chr1:2000-2200(+)"  # 5 windows per 1 kb region
    np.testing.assert_array_equal(predicted[5][0], predictions[5])
    paths = predicted.export_to_bigwig(tmp_path / "bw")
    assert sorted(Path(p).name for p in paths) == ["predicted.pred_a.bigwig",
                                                   "predicted.pred_b.bigwig"]
    import pyBigWig
    import pysam

    with pyBigWig.open(ns["bigwigs"][1]) as bw:
        region = signal.gindexer[10]
        raw = np.asarray(bw.values(region.chrom, region.start, region.end), dtype="float32")
    np.testing.assert_allclose(signal[10][0, :, 0, 1], np.nan_to_num(raw).reshape(4, 50).mean(1),
                               rtol=1e-6)
    window = predicted.gindexer[5]                           # a '+' window: bins in order
    assert window.strand == "+"
    with pyBigWig.open(str(tmp_path / "bw" / "predicted.pred_b.bigwig")) as bw:
        back = np.asarray(bw.values(window.chrom, window.start, window.end))
    np.testing.assert_allclose(back, np.repeat(predictions[5, :, 0, 1], 50), rtol=1e-6)
    # the shuffled loader's outputs, put back by index: the model run in the store's order
    import torch

    with torch.no_grad():
        in_order = ns["model"](torch.from_numpy(ns["dna_cf"][:][..., 0])).numpy()
    np.testing.assert_allclose(ns["outputs"][:, :, 0, :], in_order.transpose(0, 2, 1),
                               rtol=1e-5, atol=1e-6)
    served = np.concatenate([i.numpy() for _, i in ns["loader"]])
    assert not np.array_equal(served, np.arange(len(served)))  # the example is shuffled
    # test-time reverse complement: the reverse complement of each window's sequence (read
    # with pysam), and the outputs' bins put back in the windows' order
    x_rc, y_rc, y_back = ns["x_rc"], ns["y_rc"], ns["y_back"]
    with pysam.FastaFile(ns["fasta"]) as fa:
        strands = set()
        for i in range(32):
            w = ns["dna_cf"].gindexer[i]
            strands.add(w.strand)
            seq = fa.fetch(w.chrom, w.start, w.end).upper()
            rc = seq[::-1].translate(str.maketrans("ACGT", "TGCA"))
            # (a '-' window is served reverse-complemented: flipped, it is the '+' strand)
            want = rc if w.strand != "-" else seq
            assert "".join("ACGT"[c] for c in x_rc[i, :, :, 0].argmax(0)) == want
        assert strands == {"+", "-"}
    np.testing.assert_array_equal(y_back, y_rc[:, ::-1, ::-1, :])


@pytest.mark.slow
def test_coming_from_janggu_examples(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ns: dict = {}
    assert run_page("coming-from-janggu.md", ns) >= 6
    # the ZScore fitted on the training regions is reused unchanged for the test regions
    zscore, train, test = ns["zscore"], ns["track_train"], ns["track_test"]
    for ds in (train, test):  # (each dataset serves with its own copy of the statistics)
        (used,) = ds.normalizers
        assert isinstance(used, type(zscore))
        np.testing.assert_array_equal(used.mean, zscore.mean)
        np.testing.assert_array_equal(used.std, zscore.std)
    raw = train.garray.dense().astype(np.float64)            # (n, position, strand, 1)
    np.testing.assert_allclose(np.ravel(zscore.mean), [raw.mean()], rtol=1e-6)
    np.testing.assert_allclose(np.ravel(zscore.std), [raw.std(ddof=1)], rtol=1e-5)
    raw_test = test.garray.dense().copy()                    # genomic orientation
    minus = test.gindexer.strand == "-"
    raw_test[minus] = raw_test[minus][:, ::-1, ::-1]         # as served: 5'->3', strands swapped
    np.testing.assert_allclose(test[:], (raw_test - raw.mean()) / raw.std(ddof=1),
                               rtol=1e-5, atol=1e-6)


def _fenced(page: str, lang: str) -> list[str]:
    pattern = re.compile(rf"^```{lang}[ \t]*\n(.*?)^```[ \t]*$", re.S | re.M)
    return pattern.findall((DOCS / page).read_text())


def test_cli_spec_example(tmp_path):
    import shutil

    from genozarr.spec import build_from_spec, load_spec
    from genozarr.resources import resource_path

    for name in ("sample.bed", "sample_a.bw", "sample_b.bw", "sample.fa", "sample.fa.fai"):
        shutil.copy(resource_path(name), tmp_path / name)
    (toml,), (yaml,) = _fenced("cli.md", "toml"), _fenced("cli.md", "yaml")
    (tmp_path / "spec.toml").write_text(toml)
    (tmp_path / "spec.yaml").write_text(yaml)
    entries = load_spec(tmp_path / "spec.toml")
    assert entries == load_spec(tmp_path / "spec.yaml")
    built = {e["name"]: build_from_spec(e) for e in entries}
    assert built["signal"].shape == (40, 20, 1, 2)   # 1 kb / 50 bp bins, two BigWigs
    assert built["dna"].shape == (40, 1000, 1, 4)
    assert (tmp_path / "stores" / "signal.zarr" / "genozarr-complete").is_dir()


@pytest.mark.slow
def test_docs_build(tmp_path):
    out = tmp_path / "html"
    proc = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
         str(DOCS), str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, f"sphinx failed:\n{proc.stdout}\n{proc.stderr}"
    api = (out / "api.html").read_text()
    for name in ("create_from_bam", "create_from_refgenome", "GenomicIndexer", "open_store",
                 "StoreMeta", "export_to_bigwig"):
        assert name in api, f"{name} missing from the API page"
    assert "genozarr-complete" in (out / "format.html").read_text()
    assert "JANGGU_OUTPUT" in (out / "coming-from-janggu.html").read_text()


def test_documented_names_exist(monkeypatch):
    """Every ``genozarr.<module>.<name>`` the pages name in code spans resolves (the tuning
    page named ``genozarr.ingest.shutdown_pool()``, which did not exist)."""
    import importlib
    import importlib.util

    monkeypatch.setenv("KERAS_BACKEND", "torch")
    names = sorted({m.group(1) for page in DOCS.glob("*.md")
                    for m in re.finditer(r"`(genozarr(?:\.\w+)+)(?:\([^`]*\))?`",
                                         page.read_text())})
    assert "genozarr.ingest.shutdown_pool" in names and len(names) > 20
    # the loaders of a framework that is not installed raise ImportError (naming the
    # extra to install): their names are checked where the framework is
    absent = [f"genozarr.loaders.{m}." for m in ("torch", "keras")
              if importlib.util.find_spec(m) is None]
    missing = []
    for name in names:
        if name.startswith(tuple(absent)):
            continue
        parts = name.split(".")
        for k in range(len(parts), 0, -1):  # the longest importable module, then attributes
            try:
                obj = importlib.import_module(".".join(parts[:k]))
            except ImportError:
                continue
            try:
                for attr in parts[k:]:
                    obj = getattr(obj, attr)
            except AttributeError:
                missing.append(name)
            break
    assert missing == []
