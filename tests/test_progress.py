"""Progress bars (tqdm.auto) of ingest and normalizer fitting under
``set_options(progress=...)``: the final count of a bar is the number of tasks (chunks)
it counts; ``progress=False`` writes nothing."""

from __future__ import annotations

import logging
import re

import numpy as np
import pytest

import genozarr
from genozarr import Cover

SIZES = {"chr1": 12_000, "chr2": 8_000}


@pytest.fixture(scope="module")
def bigwig(tmp_path_factory: pytest.TempPathFactory) -> str:
    from genozarr.testing.simulate import simulate_bigwig

    return simulate_bigwig(tmp_path_factory.mktemp("progress") / "signal.bw", SIZES, seed=9)


def _build(bigwig: str, **kw: object) -> Cover:
    return Cover.create_from_bigwig("sig", bigwig, binsize=1000, resolution=10,
                                    genomesize=SIZES, store_whole_genome=True,
                                    storage="zarr", **kw)


def _counts(err: str, desc: str) -> list[tuple[int, int]]:
    """``(n, total)`` of every drawing of the bar named ``desc`` on stderr."""
    return [(int(n), int(t)) for n, t in
            re.findall(re.escape(desc) + r":[^\r\n]*?(\d+)/(\d+)", err)]


@pytest.mark.parametrize("scheduler", ["sync", "threads"])
def test_ingest_bar_counts_every_task(bigwig, tmp_path, monkeypatch, capfd, caplog,
                                      scheduler):
    monkeypatch.setenv("GENOZARR_OUTPUT", str(tmp_path))
    capfd.readouterr()
    with genozarr.set_options(progress=True, scheduler=scheduler, chunk_bytes=4096), \
            caplog.at_level(logging.INFO, logger="genozarr.store._run"):
        cov = _build(bigwig)
    err = capfd.readouterr().err
    (n_tasks,) = [r.args[1] for r in caplog.records if "tasks on" in r.getMessage()]
    assert n_tasks > 1
    counts = _counts(err, "build sig")
    assert counts, err
    assert counts[-1] == (n_tasks, n_tasks)
    assert all(t == n_tasks for _, t in counts)
    assert cov.shape[0] == 20


def test_no_bar_with_progress_false(bigwig, tmp_path, monkeypatch, capfd):
    monkeypatch.setenv("GENOZARR_OUTPUT", str(tmp_path))
    capfd.readouterr()
    with genozarr.set_options(progress=False, scheduler="threads", chunk_bytes=4096):
        cov = _build(bigwig, normalizer="zscore")
        cov[:]
    captured = capfd.readouterr()
    assert captured.err == "" and captured.out == ""


def test_auto_shows_no_bar_outside_a_terminal(bigwig, tmp_path, monkeypatch, capfd):
    """'auto' draws only on a terminal (or in a notebook): not under pytest's capture."""
    monkeypatch.setenv("GENOZARR_OUTPUT", str(tmp_path))
    capfd.readouterr()
    with genozarr.set_options(progress="auto", scheduler="sync", chunk_bytes=4096):
        _build(bigwig)
    assert capfd.readouterr().err == ""


def test_normalizer_fit_bar_counts_every_chunk(bigwig, tmp_path, monkeypatch, capfd):
    """Fitting a ZScore shows a bar over the chunks of the store, labelled with the
    normalizer; its final count is the number of chunks of the data arrays."""
    monkeypatch.setenv("GENOZARR_OUTPUT", str(tmp_path))
    with genozarr.set_options(progress=False, chunk_bytes=4096):
        plain = _build(bigwig)
    capfd.readouterr()
    with genozarr.set_options(progress=True, chunk_bytes=4096):
        cov = _build(bigwig, normalizer="zscore")
        values = np.asarray(cov[:])
    err = capfd.readouterr().err
    counts = _counts(err, "fit ZScore: moments")
    assert counts, err
    n, total = counts[-1]
    assert n == total
    # the chunks reduced: every block (along the leading axes) of each chromosome's array
    from genozarr.ops._layout import data_arrays
    from genozarr.store.view import as_xarray

    arrays = data_arrays(as_xarray(cov.garray))
    assert len(arrays) == len(SIZES)
    assert total == sum(int(np.prod(a.numblocks[:-2])) for a in arrays) > len(SIZES)
    raw = np.asarray(plain[:], dtype=np.float64)
    np.testing.assert_allclose(values, (raw - raw.mean()) / raw.std(ddof=1), rtol=1e-4,
                               atol=1e-4)


@pytest.mark.parametrize("flag", [None, "--no-progress"])
def test_cli_build_shows_ingest_and_fit_bars(bigwig, tmp_path, monkeypatch, flag):
    """``genozarr build`` runs the same ingest and fit: with its default ``--progress``
    ('auto', here as in a notebook) both bars end at their totals; ``--no-progress`` shows
    none. The store holds pyBigWig's 10 bp means."""
    import pyBigWig
    from typer.testing import CliRunner

    import genozarr._progress
    from genozarr.cli import app

    monkeypatch.setattr(genozarr._progress, "in_notebook", lambda: True)
    spec = tmp_path / "spec.yaml"
    spec.write_text(f"name: sig\nkind: bigwig\nfiles: [{bigwig}]\nbinsize: 1000\n"
                    f"resolution: 10\nstore_whole_genome: true\nnormalizer: zscore\n"
                    f"genomesize: {{chr1: 12000, chr2: 8000}}\nstore: sig.zarr\n")
    args = ["build", str(spec)] + ([flag] if flag else [])
    with genozarr.set_options(chunk_bytes=4096):
        result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    if flag:
        assert "build sig" not in result.stderr and "fit ZScore" not in result.stderr
    else:
        for desc in ("build sig", "fit ZScore: moments"):
            counts = _counts(result.stderr, desc)
            assert counts, result.stderr
            n, total = counts[-1]
            assert n == total > 1
    raw = genozarr.open_store(tmp_path / "sig.zarr")
    with pyBigWig.open(bigwig) as bw:
        for chrom, size in SIZES.items():
            expected = np.nan_to_num(bw.values(chrom, 0, size, numpy=True)).reshape(-1, 10)
            np.testing.assert_allclose(raw[chrom]["data"].values[:, 0, 0],
                                       expected.mean(axis=1), rtol=1e-5, atol=1e-4)


def test_export_bar_ends_at_its_total_and_logs_under_it_at_debug(bigwig, tmp_path,
                                                                  monkeypatch, capfd, caplog):
    """The export bar was cleared at its end without its last drawing: a log file kept
    its 0 % only; and each chromosome's INFO line was written under the open bar, glued
    to its remains on a terminal (an audit). The bar's last drawing is its total; with a
    bar the per-chromosome lines are DEBUG (INFO without one)."""
    from genozarr.export import export_to_bigwig

    monkeypatch.setenv("GENOZARR_OUTPUT", str(tmp_path))
    cov = _build(bigwig)
    for progress in (True, False):
        capfd.readouterr()
        caplog.clear()
        with genozarr.set_options(progress=progress), \
                caplog.at_level(logging.DEBUG, logger="genozarr.export"):
            export_to_bigwig(cov, tmp_path / f"out{progress}")
        err = capfd.readouterr().err
        levels = {r.levelno for r in caplog.records if "exported chr" in r.getMessage()}
        if progress:
            assert _counts(err, "export sig")[-1] == (2, 2), err
            assert levels == {logging.DEBUG}
        else:  # (no bar; stderr may hold log lines where a handler was set up before)
            assert _counts(err, "export sig") == [] and levels == {logging.INFO}
