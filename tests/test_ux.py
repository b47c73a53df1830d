"""What a notebook user sees: the dataset's repr and HTML summary, and opened stores whose
region coordinates are loaded, so selections by value work."""

from __future__ import annotations

import logging

import numpy as np
import pytest

import genozarr
from genozarr import Bioseq, Cover


def test_repr_and_html_state_the_facts(sample_files, tmp_path):
    cover = Cover.create_from_bigwig("sig", [sample_files["bigwig_a"], sample_files["bigwig_b"]],
                                     roi=sample_files["roi"], binsize=200, resolution=50,
                                     storage="zarr", normalizer="zscore",
                                     store=str(tmp_path / "s.zarr"))
    text = repr(cover)
    for fact in ("genozarr.Cover 'sig'", "(200, 4, 1, 2)", "partial", f"zarr at {tmp_path}",
                 "sample_a, sample_b", "resolution   50", "ZScore", "size on disk"):
        assert fact in text, fact
    html = cover._repr_html_()
    assert "<table>" in html and "sample_a, sample_b" in html and "ZScore" in html
    dna = Bioseq.create_from_refgenome("dna", sample_files["fasta"], roi=sample_files["roi"],
                                       binsize=200, order=2, channel_last=False)
    text = repr(dna)
    assert "dna, order 2" in text and "(window, condition, position, strand)" in text


def test_region_coordinates_are_loaded_for_selection(sample_files, tmp_path):
    cover = Cover.create_from_bigwig("sig", sample_files["bigwig_a"], roi=sample_files["roi"],
                                     binsize=200, storage="zarr",
                                     store=str(tmp_path / "s.zarr"))
    ds = genozarr.open_store(tmp_path / "s.zarr")
    assert isinstance(ds["region_chrom"].data, np.ndarray)  # loaded, not dask
    sel = ds.where((ds.region_chrom == "chr2") & (ds.region_start >= 1000), drop=True)
    keep = np.flatnonzero((cover.gindexer.chrs == "chr2") & (cover.gindexer.starts >= 1000))
    assert sel.sizes["region"] == len(keep) > 0
    np.testing.assert_array_equal(sel["data"].values, cover.read_genomic(keep))


def test_info_stats_count_nan_as_no_data(tmp_path):
    """A prediction store with NaN bins (no data): mean and non-zero fraction over the
    bins with a value (before: NaN bins counted in the mean's divisor and as non-zero),
    and the NaN share as missing_fraction; against numpy."""
    from genozarr import Cover, GenomicIndexer
    from genozarr.summary import store_summary

    rng = np.random.default_rng(3)
    values = rng.poisson(1.0, size=(6, 10, 1, 2)).astype("float32")
    values[rng.random(values.shape) < 0.3] = np.nan
    values[:, :, :, 1] = np.nan  # a condition without any data
    gi = GenomicIndexer(["chr1"] * 6, np.arange(6) * 10, np.arange(6) * 10 + 10,
                        ["+"] * 6, 10, 10)
    Cover.create_from_array("p", values, gi, storage="zarr", store=str(tmp_path / "p.zarr"))
    st = store_summary(tmp_path / "p.zarr", stats=True)["stats"]
    first = values[..., 0]
    assert st["mean"]["Cond_0"] == pytest.approx(np.nanmean(first))
    assert st["nonzero_fraction"]["Cond_0"] == pytest.approx(
        (first[~np.isnan(first)] != 0).mean())
    assert st["missing_fraction"]["Cond_0"] == pytest.approx(np.isnan(first).mean())
    assert st["mean"]["Cond_1"] is None and st["missing_fraction"]["Cond_1"] == 1.0
    assert st["max"]["Cond_1"] is None and st["nonzero_fraction"]["Cond_1"] is None
    import json

    json.loads(json.dumps(st), parse_constant=lambda c: pytest.fail(f"{c} in the JSON"))
    from genozarr.cli import _stats_lines

    lines = _stats_lines({"conditions": ["Cond_0", "Cond_1"], "stats": st})
    assert lines[1] == "Cond_1: no data"
    assert lines[0].endswith(f", no data {np.isnan(first).mean():.1%}")


@pytest.mark.parametrize("whole", [False, True])
def test_info_stats_max_over_chromosomes_without_data(tmp_path, whole):
    """A condition without any value on one chromosome (NaN there) has the maximum of
    the others: whole-genome stores take it per chromosome, and a NaN one did not hide
    the rest (it gave NaN)."""
    from genozarr import Cover, GenomicIndexer
    from genozarr.summary import store_summary

    values = np.random.default_rng(4).uniform(0, 9, size=(2, 100, 1, 2)).astype("float32")
    values[1, :, :, 0] = np.nan  # condition 0: no data on chr2
    gi = GenomicIndexer(["chr1", "chr2"], [0, 0], [100, 100], ["+", "+"], 100, 100)
    Cover.create_from_array("p", values, gi, storage="zarr", store=str(tmp_path / "p.zarr"),
                            store_whole_genome=whole, genomesize={"chr1": 100, "chr2": 100})
    st = store_summary(tmp_path / "p.zarr", stats=True)["stats"]
    for k, cond in enumerate(["Cond_0", "Cond_1"]):
        assert st["max"][cond] == pytest.approx(float(np.nanmax(values[..., k])))
        assert st["mean"][cond] == pytest.approx(float(np.nanmean(values[..., k])))


def test_info_stats_on_a_multi_chunk_sequence_store(sample_files, tmp_path):
    """Base counts over a sequence store with several chunks per chromosome equal the
    FASTA's letters counted with pysam."""
    import pysam

    from genozarr.config import set_options
    from genozarr.summary import store_summary

    with set_options(chunk_bytes=4096):
        Bioseq.create_from_refgenome("dna", sample_files["fasta"], roi=None, binsize=1000,
                                     store_whole_genome=True, storage="zarr",
                                     store=str(tmp_path / "dna.zarr"))
    s = store_summary(tmp_path / "dna.zarr", stats=True)
    assert s["arrays"]["chr1/data"]["chunks"][0] < s["arrays"]["chr1/data"]["shape"][0]
    with pysam.FastaFile(sample_files["fasta"]) as fa:
        seq = "".join(fa.fetch(c).upper() for c in fa.references)
    total = len(seq)
    for base in "ACGT":
        assert s["stats"]["base_fraction"][base] == pytest.approx(seq.count(base) / total)


def test_a_missing_optional_package_names_the_extra_that_installs_it(tmp_path):
    """Without torch or keras, genozarr's loaders failed with a bare ModuleNotFoundError
    from their module imports; without aiohttp (or gcsfs) a remote input was told to
    install s3fs for s3://, and a store URL to check its credentials. Each now names the
    package and the extra (run in a fresh interpreter with the package hidden)."""
    import subprocess
    import sys
    import textwrap

    script = textwrap.dedent("""
        import sys
        for name in ("torch", "keras", "aiohttp"):
            sys.modules[name] = None
        import genozarr
        from genozarr.io._remote import _filesystem
        for module in ("genozarr.loaders.torch", "genozarr.loaders.keras"):
            try:
                __import__(module)
            except ImportError as e:
                print(module, "|", e)
        for url in ("https://example.invalid/a.bw", "gs://bucket/a.bw"):
            try:
                _filesystem(url, None)
            except genozarr.errors.InputFileError as e:
                print(url, "|", e)
        try:
            genozarr.open_store("https://example.invalid/s.zarr")
        except genozarr.errors.StoreError as e:
            print("store |", e)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=120, cwd=tmp_path, check=False).stdout
    lines = dict(line.split(" | ", 1) for line in out.splitlines() if " | " in line)
    assert "pip install genozarr[torch]" in lines["genozarr.loaders.torch"]
    assert "pip install genozarr[keras]" in lines["genozarr.loaders.keras"]
    assert "install aiohttp (pip install 'genozarr[http]')" in \
        lines["https://example.invalid/a.bw"]
    assert "s3fs" not in lines["https://example.invalid/a.bw"]
    assert "install gcsfs (pip install 'genozarr[gcs]')" in lines["gs://bucket/a.bw"]
    assert "not installed: for https:// install aiohttp (pip install 'genozarr[http]')" \
        in lines["store"], lines["store"]
    assert "credentials" not in lines["store"]


def test_log_messages_hide_the_secrets_of_urls(caplog):
    """A DEBUG line named a store by its URL with the password in it (an audit): every
    genozarr module logger's messages and tracebacks go through hide_secrets, at every
    level."""
    from genozarr.errors import get_logger

    for name in ("genozarr.store.backend", "genozarr.io.bam", "genozarr.new_module"):
        log = get_logger(name)
        with caplog.at_level(logging.DEBUG, logger=name):
            caplog.clear()
            log.debug("store %s: %d bytes", "http://alice:SECRETPW@host/s.zarr?token=T0K", 7)
            log.info("plain %s", "text")
        got = [r.getMessage() for r in caplog.records]
        assert got == ["store http://alice:***@host/s.zarr?token=***: 7 bytes", "plain text"]
    import importlib
    import pkgutil

    for module in pkgutil.walk_packages(genozarr.__path__, "genozarr."):
        if module.name.endswith(("__main__", "make_resources", "loaders.keras")):
            continue
        try:
            imported = importlib.import_module(module.name)
        except ImportError as e:  # (a module of an optional extra that is not installed)
            if e.name in ("torch", "keras"):
                continue
            raise
        logger = getattr(imported, "log", None) or getattr(imported, "logger", None)
        if isinstance(logger, logging.Logger):  # (every module logger filters)
            assert any(type(f).__name__ == "_HideSecrets" for f in logger.filters), \
                module.name
    # a traceback's text too (a cause's message holding the URL), and a malformed call
    # is logging's to report, as before, not an error raised at the call
    log = get_logger("genozarr.store.backend")
    with caplog.at_level(logging.DEBUG, logger="genozarr.store.backend"):
        caplog.clear()
        try:
            raise OSError("cannot read http://alice:SECRETPW@host/s.zarr")
        except OSError:
            log.debug("failed", exc_info=True)
    assert "SECRETPW" not in caplog.text and "alice:***@host" in caplog.text
    record = logging.LogRecord("genozarr.x", logging.DEBUG, __file__, 1, "%d items", (None,),
                               None)
    assert next(f for f in log.filters if type(f).__name__ == "_HideSecrets").filter(record)


def test_warnings_name_the_users_line_in_a_module_named_like_genozarr(tmp_path,
                                                                       monkeypatch):
    """Frames of any module whose name began with 'genozarr' were skipped as genozarr's:
    a warning from a user's ``genozarr_pipeline`` named its caller's line, and a filter
    on that module did not match (an audit). Only genozarr and its modules are skipped."""
    import sys
    import warnings

    from genozarr.errors import JangguDeprecationWarning

    (tmp_path / "genozarr_pipeline.py").write_text(
        "from genozarr.errors import JangguDeprecationWarning, warn\n\n\n"
        "def run():\n"
        "    warn('old', JangguDeprecationWarning)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("genozarr_pipeline", None)
    import genozarr_pipeline

    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        genozarr_pipeline.run()
    assert [(w.category, w.filename.rsplit("/", 1)[-1], w.lineno) for w in seen] == \
        [(JangguDeprecationWarning, "genozarr_pipeline.py", 5)]
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        warnings.filterwarnings("ignore", module="genozarr_pipeline")
        genozarr_pipeline.run()
    assert seen == []


def test_settings_served_but_not_recorded_warn_at_the_users_line(tmp_path, monkeypatch):
    """The 'served but not recorded' warning (a store this process may not write) pointed
    into genozarr's code (a fixed stacklevel; an audit): it names the caller's line."""
    import errno
    import warnings

    import pyBigWig

    from genozarr.errors import GenozarrWarning, StoreError
    from genozarr.store import recipe

    path = str(tmp_path / "s.bw")
    with pyBigWig.open(path, "w") as bw:
        bw.addHeader([("chr1", 1000)])
        bw.addEntries(["chr1"], [0], ends=[1000], values=[2.0])
    kw = {"roi": str(tmp_path / "roi.bed"), "binsize": 200, "storage": "zarr",
          "store": tmp_path / "c.zarr", "cache": True}
    (tmp_path / "roi.bed").write_text("chr1\t0\t1000\n")
    Cover.create_from_bigwig("c", path, **kw)

    def unwritable(*args, **kwargs):  # (a shared cache this process may not write)
        raise StoreError("read-only file system") from OSError(errno.EROFS, "read-only")

    monkeypatch.setattr(recipe, "update_served", unwritable)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        Cover.create_from_bigwig("c", path, normalizer="zscore", **kw)
        line = __import__("inspect").currentframe().f_lineno - 1
    ours = [w for w in seen if issubclass(w.category, GenozarrWarning)]
    assert [(w.filename, w.lineno) for w in ours] == [(__file__, line)], \
        [(w.filename, w.lineno, str(w.message)[:80]) for w in seen]
    assert "served but not recorded" in str(ours[0].message)


def test_log_of_values_below_minus_one_gives_nan_without_numpy_warnings():
    """numpy's bare 'invalid value encountered in log1p' RuntimeWarning came out of
    ZScoreLog and LogTransform for values below -1 (documented NaN), once per batch
    holding one, naming no dataset (an audit): the documented NaN and -inf only."""
    import warnings

    from genozarr.ops.normalizers import LogTransform, ZScoreLog

    x = np.array([-2.0, -1.0, 0.0, np.e - 1], dtype=np.float32).reshape(1, 4, 1, 1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = LogTransform().kernel(x)[0, :, 0, 0]
        z = ZScoreLog(mean=0.0, std=1.0).kernel(x)[0, :, 0, 0]
    assert np.isnan(got[0]) and got[1] == -np.inf and got[2] == 0
    np.testing.assert_allclose(got[3], 1.0, rtol=1e-6)
    np.testing.assert_array_equal(np.isnan(z), [True, False, False, False])


def test_missing_chromosome_warning_names_ten_files_at_most(tmp_path):
    """One warning listed every file lacking a chromosome: 100 files made 5,151 characters
    (an audit). It names the first 10 and counts the rest."""
    import pyBigWig

    from genozarr.errors import MissingChromosomeWarning

    files = []
    for i in range(12):
        path = str(tmp_path / f"t{i:02d}.bw")
        with pyBigWig.open(path, "w") as bw:
            bw.addHeader([("chr1", 1000)])
            bw.addEntries(["chr1"], [0], ends=[1000], values=[float(i)])
        files.append(path)
    roi = tmp_path / "roi.bed"
    roi.write_text("chr1\t0\t200\nchr2\t0\t200\n")
    with pytest.warns(MissingChromosomeWarning) as seen:
        cover = Cover.create_from_bigwig("c", files, roi=str(roi), binsize=200,
                                         genomesize={"chr1": 1000, "chr2": 1000})
    (message,) = [str(w.message) for w in seen if w.category is MissingChromosomeWarning]
    assert all(f"{f} lacks 'chr2'" in message for f in files[:10])
    assert files[10] not in message and "; and 2 more files." in message
    np.testing.assert_array_equal(cover[0][0, 0, 0, :], np.arange(12))
    assert (cover[1] == 0).all()
