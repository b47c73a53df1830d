"""Remote inputs: BigWig, BAM (with its index), BED and FASTA (plain, and bgzip with
``.fai``/``.gzi``) read from http:// (a threaded server with range requests started here)
and s3:// (a moto server), through their copies in the input cache
(:mod:`genozarr.io._remote`): the same values as the local files, cache keys from the
digests recorded at download, revalidation without a second download, and errors that
name the URL and the cause."""

from __future__ import annotations

import hashlib
import inspect
import os
import pickle
import re
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from genozarr.errors import InputFileError, MissingIndexError, StaleIndexError, UnreadableFileError
from genozarr.io import _remote
from genozarr.io._remote import is_url, options_for
from genozarr.regions import load_regions
from genozarr.sources import (
    BamSource,
    BedSource,
    BigWigSource,
    FastaSource,
    as_file_list,
    condition_names,
)
from genozarr.store.cache import cache_key, input_digests
from genozarr.testing.servers import (
    FaultyHandler,
    RangeHandler,
    free_port,
    moto_s3,
    serve_directory,
)

pytest.importorskip("s3fs")
moto_server = pytest.importorskip("moto.server")

# ----------------------------------------------------------------------------- servers


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """``(directory, base URL)`` of a threaded range-capable HTTP server on 127.0.0.1."""
    root = tmp_path_factory.mktemp("served")
    with serve_directory(root) as base:
        yield root, base


@pytest.fixture(scope="module")
def s3():
    with moto_s3("inputs") as (options, client):
        yield options, client


# ------------------------------------------------------------------------------- files

@pytest.fixture(scope="module")
def files(served, sample_files, tmp_path_factory):
    """The sample files, a bgzip copy of the FASTA (with .fai and .gzi) and a FASTA
    without index, served over http under the same names as in ``local``."""
    import pysam

    root, _ = served
    local = tmp_path_factory.mktemp("local")
    for key in ("bam", "bai", "bigwig_a", "bigwig_b", "fasta", "fai", "roi"):
        shutil.copy(sample_files[key], local / Path(sample_files[key]).name)
    pysam.tabix_compress(str(local / "sample.fa"), str(local / "sample.fa.gz"))
    pysam.faidx(str(local / "sample.fa.gz"))  # writes .fai and .gzi
    shutil.copy(local / "sample.fa", local / "noindex.fa")
    for f in local.iterdir():
        shutil.copy2(f, root / f.name)
    return local


@pytest.fixture(autouse=True)
def _fresh_memo():
    """Each test starts without this process's record of fetched URLs."""
    _remote._fetched.clear()
    yield
    _remote._fetched.clear()


def gets(path: str) -> int:
    return RangeHandler.requests[("GET", path)]


# ------------------------------------------------------------------------------- tests

def test_is_url_and_options():
    assert is_url("http://x/a.bw") and is_url("https://x/a.bw") and is_url("s3://b/k.bam")
    assert not is_url("file:///tmp/a.bw") and not is_url("/tmp/a.bw")
    assert not is_url("a.bw") and not is_url(Path("/tmp/a.bw"))
    flat = {"key": "k", "secret": "s"}
    assert options_for("s3://b/k", flat) == flat
    nested = {"s3": flat, "http": {"headers": {"A": "b"}}}
    assert options_for("s3://b/k", nested) == flat
    assert options_for("https://h/x", nested) == {"headers": {"A": "b"}}
    assert options_for("s3://b/k", None) == {}
    assert condition_names(["http://h/d/a.bw?sig=1", "s3://b/k/c.bigwig"], None) == ["a", "c"]


def test_bigwig_over_http(files, served):
    _, base = served
    urls = [f"{base}/sample_a.bw", f"{base}/sample_b.bw"]
    remote = BigWigSource(as_file_list(urls, "BigWig"))
    local = BigWigSource(as_file_list([str(files / "sample_a.bw"), str(files / "sample_b.bw")],
                                      "BigWig"))
    assert remote.files == urls and remote.conditions == ["sample_a", "sample_b"]
    assert remote._sizes == local._sizes
    assert all(p.startswith(str(_remote.input_cache_dir())) for p in remote.paths)
    for i in range(2):
        np.testing.assert_array_equal(remote.read_file(i, "chr1", 100, 5100),
                                      local.read_file(i, "chr1", 100, 5100))


def test_bam_over_http(files, served):
    _, base = served
    remote = BamSource(as_file_list(f"{base}/sample.bam", "BAM"))
    local = BamSource(as_file_list(str(files / "sample.bam"), "BAM"))
    assert remote._sizes == local._sizes
    assert os.path.isfile(remote.paths[0] + ".bai")
    got = remote.read_file(0, "chr1", 0, 30000)
    assert got.sum() > 0
    np.testing.assert_array_equal(got, local.read_file(0, "chr1", 0, 30000))


@pytest.mark.parametrize("name", ["sample.fa.gz", "sample.fa", "noindex.fa"])
def test_fasta_over_http(files, served, name):
    """bgzip with .fai and .gzi, plain with .fai, plain without index (built locally)."""
    _, base = served
    (url,) = as_file_list(f"{base}/{name}", "FASTA")
    remote = FastaSource(url)
    local = FastaSource(str(files / "sample.fa"))
    assert remote._sizes == local._sizes
    np.testing.assert_array_equal(remote.read_file(0, "chr2", 19990, 20010),
                                  local.read_file(0, "chr2", 19990, 20010))
    np.testing.assert_array_equal(remote.read_file(0, "chr1", 500, 9000),
                                  local.read_file(0, "chr1", 500, 9000))
    copy = _remote.fetched(url)
    downloaded = {os.path.basename(p) for p in copy.files}
    if name == "sample.fa.gz":
        assert downloaded == {name, name + ".fai", name + ".gzi"}
    elif name == "sample.fa":
        assert downloaded == {name, name + ".fai"}
    else:
        assert downloaded == {name} and os.path.isfile(copy.path + ".fai")


def test_bed_over_http(files, served):
    _, base = served
    remote = BedSource(as_file_list(f"{base}/sample.bed", "BED"))
    local = BedSource(as_file_list(str(files / "sample.bed"), "BED"))
    pd.testing.assert_frame_equal(remote.frames[0], local.frames[0])


@pytest.mark.parametrize("name", ["genes.gtf", "genes.gff3"])
def test_gff_and_gtf_regions_at_urls(files, served, name):
    """GFF/GTF regions at a URL raised FileNotFoundError (the file was opened by its URL);
    they are read from their copy, as BED regions are."""
    root, base = served
    if name.endswith(".gtf"):
        lines = [f'chr1\tsrc\tgene\t{s + 1}\t{s + 200}\t.\t+\t.\tgene_id "g{k}";'
                 for k, s in enumerate((100, 900))]
    else:
        lines = [f"chr1\tsrc\tgene\t{s + 1}\t{s + 200}\t.\t-\t.\tID=g{k}"
                 for k, s in enumerate((100, 900))]
    (root / name).write_text("\n".join(lines) + "\n")
    remote = load_regions(f"{base}/{name}")
    assert remote[["chrom", "start", "end"]].values.tolist() == [["chr1", 100, 300],
                                                                 ["chr1", 900, 1100]]
    pd.testing.assert_frame_equal(remote, load_regions(str(root / name)))


def test_io_readers_take_urls(files, served):
    """The io functions accept a URL directly (default options), through the copy."""
    from genozarr.io.bam import check_bam, count_5prime
    from genozarr.io.bigwig import bigwig_chrom_sizes, read_values
    from genozarr.io.fasta import read_sequence

    _, base = served
    url = f"{base}/sample_a.bw"
    assert bigwig_chrom_sizes(url) == bigwig_chrom_sizes(files / "sample_a.bw")
    np.testing.assert_array_equal(read_values(url, "chr1", 0, 1000),
                                  read_values(files / "sample_a.bw", "chr1", 0, 1000))
    assert check_bam(f"{base}/sample.bam").startswith(str(_remote.input_cache_dir()))
    np.testing.assert_array_equal(count_5prime(f"{base}/sample.bam", "chr2", 0, 5000),
                                  count_5prime(files / "sample.bam", "chr2", 0, 5000))
    assert read_sequence(f"{base}/sample.fa.gz", "chr1", 10, 30) == \
        read_sequence(files / "sample.fa", "chr1", 10, 30)


def test_cache_key_from_recorded_digests(files, served, monkeypatch):
    """A URL's key equals that of a local file of the same content; a second fetch reuses
    the copy (metadata requests only), and the key reads neither the remote file nor the
    copy."""
    _, base = served
    url = f"{base}/sample.bam"
    (u,) = as_file_list(url, "BAM")
    assert gets("/sample.bam") == 1 and gets("/sample.bam.bai") == 1
    local = str(files / "sample.bam")
    assert input_digests(u) == input_digests(local)
    assert cache_key([u], {}, {"a": 1}) == cache_key([local], {}, {"a": 1})
    first = _remote.fetched(url)
    _remote._fetched.clear()  # a new session: revalidate, reuse
    as_file_list(url, "BAM")
    again = _remote.fetched(url)
    assert again.path == first.path and not again.downloaded
    assert gets("/sample.bam") == 1 and gets("/sample.bam.bai") == 1
    # the digests come from the record: neither the remote file nor the copy is read
    import genozarr.store.cache as cache_module

    def no_reading(path):
        raise AssertionError(f"{path} was read for its digest")

    monkeypatch.setattr(cache_module, "file_digest", no_reading)
    assert input_digests(u)[0] == hashlib.sha256(Path(local).read_bytes()).hexdigest()
    assert gets("/sample.bam") == 1


def test_changed_remote_file_gets_a_new_copy_and_key(files, served):
    root, base = served
    shutil.copy2(files / "sample_a.bw", root / "changing.bw")
    url = f"{base}/changing.bw"
    key1 = cache_key(as_file_list(url, "BigWig"), {}, {})
    path1 = _remote.fetched(url).path
    shutil.copy(files / "sample_b.bw", root / "changing.bw")  # new content, new mtime
    os.utime(root / "changing.bw", ns=(1, 10**18))
    _remote._fetched.clear()
    key2 = cache_key(as_file_list(url, "BigWig"), {}, {})
    path2 = _remote.fetched(url).path
    assert key1 != key2 and path1 != path2
    assert key2 == cache_key([str(files / "sample_b.bw")], {}, {})
    assert os.path.isfile(path1)  # the old copy stays for readers still using it


def test_server_without_validators_downloads_again(files, served):
    """Into a directory of its own each time: a build still reading the first copy keeps
    it (the second download replaced it under its name)."""
    _, base = served
    url = f"{base}/plain/sample_a.bw"
    before = gets("/plain/sample_a.bw")
    as_file_list(url, "BigWig")
    path = _remote.fetched(url).path
    _remote._fetched.clear()
    as_file_list(url, "BigWig")
    assert gets("/plain/sample_a.bw") == before + 2
    assert _remote.fetched(url).path != path and os.path.exists(path)


def test_a_copy_of_unknown_size_is_never_reused(files, served, monkeypatch):
    """A server that gives an ETag but no size (no Content-Length): a download cut short
    cannot be told, so the copy is not reused by the next build (it was, for good)."""
    _, base = served
    real = _remote._info
    monkeypatch.setattr(_remote, "_info", lambda fs, path: {**real(fs, path), "size": None})
    url = f"{base}/sample_b.bw"
    before = gets("/sample_b.bw")
    for _ in range(2):
        _remote._fetched.clear()
        as_file_list(url, "BigWig")
    # each time: the download, then its completeness probe (Range: bytes=<n>-, a 416)
    assert gets("/sample_b.bw") == before + 2 * 2


def test_a_bam_replaced_beside_its_old_index_is_refused(files, served, tmp_path):
    """The server's BAM file is replaced (reads added) and its .bai is not rebuilt: the
    copies show the old index beside other BAM content, a StaleIndexError naming the
    URLs; counted from the old index, the added reads were left out silently."""
    from genozarr.testing.simulate import simulate_bam

    root, base = served
    sizes = {"c1": 5000, "c2": 4000}
    first = simulate_bam(tmp_path / "first.bam", sizes, 200, seed=1)
    second = simulate_bam(tmp_path / "second.bam", sizes, 400, seed=2)
    shutil.copy(first, root / "replaced.bam")
    shutil.copy(first + ".bai", root / "replaced.bam.bai")
    url = f"{base}/replaced.bam"
    (copy,) = as_file_list(url, "BAM")
    assert BamSource([copy]).read_file(0, "c1", 0, 5000).sum() > 0
    shutil.copy(second, root / "replaced.bam")  # the old .bai stays
    # (a minute newer than the index: within REMOTE_INDEX_SLACK, the dates do not tell)
    bai_time = (root / "replaced.bam.bai").stat().st_mtime
    os.utime(root / "replaced.bam", (bai_time + 60, bai_time + 60))
    _remote._fetched.clear()
    with pytest.raises(StaleIndexError, match=r"replaced\.bam\.bai of .*replaced\.bam is the "
                                              r"one an earlier copy"):
        as_file_list(url, "BAM")
    shutil.copy(second + ".bai", root / "replaced.bam.bai")  # rebuilt: accepted
    _remote._fetched.clear()
    (copy,) = as_file_list(url, "BAM")
    np.testing.assert_array_equal(BamSource([copy]).read_file(0, "c1", 0, 5000),
                                  BamSource([second]).read_file(0, "c1", 0, 5000))
    # a BAM file changed only in fields of the same length (base qualities) has an index
    # of the same bytes, rebuilt or not: accepted (indexing the copy gives it again)
    import pysam

    requal = str(tmp_path / "requal.bam")
    with pysam.AlignmentFile(second) as src, \
            pysam.AlignmentFile(requal, "wb", header=src.header) as out:
        for read in src:
            read.query_qualities = pysam.qualitystring_to_array("#" * read.query_length)
            out.write(read)
    pysam.index(requal)
    assert Path(requal + ".bai").read_bytes() == Path(second + ".bai").read_bytes()
    shutil.copy(requal, root / "replaced.bam")
    bai_time = (root / "replaced.bam.bai").stat().st_mtime
    os.utime(root / "replaced.bam", (bai_time + 120, bai_time + 120))
    _remote._fetched.clear()
    (copy,) = as_file_list(url, "BAM")
    np.testing.assert_array_equal(BamSource([copy]).read_file(0, "c1", 0, 5000),
                                  BamSource([second]).read_file(0, "c1", 0, 5000))


@pytest.mark.parametrize("csi", [False, True])
def test_a_vcf_replaced_beside_its_old_index_is_refused(served, tmp_path, csi):
    """As for a BAM file: the server's bgzip VCF is replaced (variants added on a second
    chromosome) and its index is not rebuilt. Only BAM copies were checked against the
    earlier copy's index, so the old .tbi served the new VCF with chr2's variants left out,
    silently (an audit). Now a StaleIndexError naming the URLs; the rebuilt index is
    accepted, with every variant pysam reads."""
    import pysam

    root, base = served
    header = "##fileformat=VCFv4.2\n##contig=<ID=chr1,length=3000>\n" \
             "##contig=<ID=chr2,length=3000>\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"

    def vcf(path: Path, chroms: list[str]) -> str:
        rows = [f"{c}\t{p}\t.\tA\tC\t.\tPASS\t.\n" for c in chroms
                for p in range(101, 2900, 200)]
        path.write_text(header + "".join(rows))
        return pysam.tabix_index(str(path), preset="vcf", force=True, csi=csi)

    suffix = ".csi" if csi else ".tbi"
    first, second = vcf(tmp_path / "a.vcf", ["chr1"]), vcf(tmp_path / "b.vcf", ["chr1", "chr2"])
    name = f"calls{int(csi)}.vcf.gz"
    shutil.copy(first, root / name)
    shutil.copy(first + suffix, root / (name + suffix))
    url = f"{base}/{name}"
    copy = _remote.fetch(url, "VCF", None).path  # (the local copy genozarr reads)
    with pysam.VariantFile(copy) as f:
        assert len(list(f.fetch("chr1"))) == 14
    shutil.copy(second, root / name)  # the old index stays, a minute older
    index_time = (root / (name + suffix)).stat().st_mtime
    os.utime(root / name, (index_time + 60, index_time + 60))
    _remote._fetched.clear()
    with pytest.raises(StaleIndexError, match=rf"{name}{suffix} of .*{name} is the one an "
                                              r"earlier copy of the VCF file had"):
        _remote.fetch(url, "VCF", None)
    shutil.copy(second + suffix, root / (name + suffix))  # rebuilt: accepted
    _remote._fetched.clear()
    copy = _remote.fetch(url, "VCF", None).path
    with pysam.VariantFile(copy) as f:
        assert len(list(f.fetch("chr2"))) == 14


def test_an_index_the_server_dates_hours_before_its_bam_is_refused(files, served, tmp_path):
    """A first copy of a BAM file whose .bai the server dates two hours before it (the
    BAM replaced, reads added, the index not rebuilt): counted from the copies, which get
    one time, the added reads were left out (29 of 200 counted; an audit). The server's
    dates now refuse it, beyond REMOTE_INDEX_SLACK (an hour: upload order)."""
    from genozarr.testing.simulate import simulate_bam

    root, base = served
    sizes = {"c1": 5000, "c2": 4000}
    first = simulate_bam(tmp_path / "old.bam", sizes, 200, seed=3)
    second = simulate_bam(tmp_path / "new.bam", sizes, 400, seed=4)
    shutil.copy(second, root / "dated.bam")
    shutil.copy(first + ".bai", root / "dated.bam.bai")
    now = time.time()
    os.utime(root / "dated.bam.bai", (now - 7200, now - 7200))
    os.utime(root / "dated.bam", (now, now))
    with pytest.raises(StaleIndexError, match=r"dated\.bam\.bai \(.*\) is older than its BAM "
                                              r"file .*dated\.bam \(.*\) on the server, by "
                                              r"2\.0 h"):
        as_file_list(f"{base}/dated.bam", "BAM")
    shutil.copy(second + ".bai", root / "dated.bam.bai")  # rebuilt, uploaded first
    os.utime(root / "dated.bam.bai", (now - 600, now - 600))
    _remote._fetched.clear()
    (copy,) = as_file_list(f"{base}/dated.bam", "BAM")
    np.testing.assert_array_equal(BamSource([copy]).read_file(0, "c1", 0, 5000),
                                  BamSource([second]).read_file(0, "c1", 0, 5000))


def test_a_file_changed_during_its_copy_is_copied_again(files, tmp_path):
    """A file rewritten on the server (same size) while it was downloaded was recorded
    under its old validators: a build read bytes of both versions (an audit). Its
    validators are asked again after the copy; changed, it is copied once more."""
    path = tmp_path / "peaks.bed"
    v1 = "".join(f"chr1\t{k:05d}\t{k + 200:05d}\n" for k in range(0, 20000, 1000))
    v2 = "".join(f"chr1\t{k:05d}\t{k + 200:05d}\n" for k in range(500, 20500, 1000))
    assert len(v1) == len(v2)
    path.write_text(v1)
    changed = []

    class Rewriting(RangeHandler):
        def send_head(self):
            if self.command == "GET" and not changed:
                changed.append(True)
                path.write_text(v2)  # after the validators were read, before the body
                os.utime(path, (time.time() + 5, time.time() + 5))
            return super().send_head()

    with serve_directory(tmp_path, handler=Rewriting) as base:
        copy = _remote.fetch(f"{base}/peaks.bed", "BED")
        assert Path(copy.path).read_text() == v2 and changed
        # recorded under the validators of what was copied: the next fetch reuses it
        _remote._fetched.clear()
        again = _remote.fetch(f"{base}/peaks.bed", "BED")
        assert not again.downloaded and again.path == copy.path


def test_one_download_of_a_version_at_a_time(files, tmp_path):
    """Two processes copying the same URL into one input cache: the second replaced the
    files under the first's finished copy (a new BAM beside the old index's time, a false
    StaleIndexError; an audit). A version is now downloaded under an exclusive lock of its
    directory; the second waits, then reuses the copy (each file is fetched once). Two
    threads calling _fetch, which takes no in-process lock, stand in for the processes."""
    import threading

    for name in ("sample.bam", "sample.bam.bai"):
        shutil.copy2(files / name, tmp_path / name)
    gets: list[str] = []

    class Slow(RangeHandler):
        def send_head(self):
            if self.command == "GET" and "Range" not in self.headers:
                gets.append(self.path)
                if self.path.endswith(".bam"):
                    time.sleep(0.5)  # the second caller arrives while this one copies
            return super().send_head()

    with serve_directory(tmp_path, handler=Slow) as base:
        url = f"{base}/sample.bam"
        copies: list[Any] = []
        errors: list[BaseException] = []

        def copy() -> None:
            try:
                copies.append(_remote._fetch(url, "BAM", "bam", None))
            except BaseException as e:  # noqa: BLE001 - reported below
                errors.append(e)

        threads = [threading.Thread(target=copy) for _ in range(2)]
        for t in threads:
            t.start()
            time.sleep(0.1)
        for t in threads:
            t.join(60)
    assert not errors and len(copies) == 2
    # one download of each file (the .csi candidates are asked for by each caller)
    assert gets.count("/sample.bam") == 1 and gets.count("/sample.bam.bai") == 1
    assert copies[0].path == copies[1].path
    assert [c.downloaded for c in copies].count(True) == 1
    np.testing.assert_array_equal(BamSource([copies[0].path]).read_file(0, "chr1", 0, 1000),
                                  BamSource([str(files / "sample.bam")]).read_file(
                                      0, "chr1", 0, 1000))


def test_source_pickles_with_local_paths(files, served):
    """Workers get the copies' paths: reading needs neither the server nor the options."""
    _, base = served
    source = BigWigSource(as_file_list(f"{base}/sample_b.bw", "BigWig"))
    before = sum(RangeHandler.requests.values())
    _remote._fetched.clear()
    clone = pickle.loads(pickle.dumps(source))
    assert clone.files == source.files and clone.paths == source.paths
    np.testing.assert_array_equal(clone.read_file(0, "chr2", 0, 3000),
                                  source.read_file(0, "chr2", 0, 3000))
    assert sum(RangeHandler.requests.values()) == before


def test_no_partial_files_left(files, served):
    _, base = served
    url = f"{base}/truncated/sample_b.bw"
    with pytest.raises(InputFileError, match=r"cannot read BigWig file http://127\.0\.0\.1:\d+/"
                                             r"truncated/sample_b\.bw"):
        as_file_list(url, "BigWig")
    leftovers = [p for p in _remote.input_cache_dir().rglob("*")
                 if p.is_file() and "truncated" in str(p.parent.parent.name)]
    assert leftovers == []


def test_a_killed_download_leaves_no_partial_file_behind(files, tmp_path):
    """A process killed while it copied a file left its ``.part`` file in the input cache
    for good (found in a review). The next process to copy that version removes it, under
    the version's lock, and its copy serves the file's values."""
    import signal
    import subprocess
    import sys
    import threading

    shutil.copy2(files / "sample_b.bw", tmp_path / "sample_b.bw")
    stall = threading.Event()

    class Stalled(FaultyHandler):
        faulty = r"sample_b\.bw$"

    Stalled.stall = stall
    with serve_directory(tmp_path, handler=Stalled) as base:
        url = f"{base}/sample_b.bw"
        child = subprocess.Popen(
            [sys.executable, "-c", ("import sys; from genozarr.io import _remote; "
                                    "_remote._fetch(sys.argv[1], 'BigWig', 'bigwig', None)"),
             url],
            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
        try:
            deadline = time.monotonic() + 60
            parts: list[Path] = []
            while not parts and time.monotonic() < deadline and child.poll() is None:
                time.sleep(0.05)
                parts = [p for p in _remote.input_cache_dir().rglob("*.part")
                         if "sample_b.bw" in p.name]
            assert parts, "the child never began its download"
            child.send_signal(signal.SIGKILL)
            child.wait(30)
        finally:
            if child.poll() is None:
                child.kill()
        assert all(p.exists() for p in parts)  # what the killed process left
        stall.set()
        copy = _remote._fetch(url, "BigWig", "bigwig", None)
    assert not any(p.exists() for p in parts)
    assert [p.name for p in Path(copy.path).parent.iterdir() if p.name.endswith(".part")] == []
    np.testing.assert_array_equal(BigWigSource([copy.path]).read_file(0, "chr2", 0, 3000),
                                  BigWigSource([str(files / "sample_b.bw")]).read_file(
                                      0, "chr2", 0, 3000))


def test_a_file_replaced_during_its_download_is_named_so(files, tmp_path):
    """The server's file is replaced by a shorter one between the size read and the
    download: the error says the file changed (not only 'the download ended after N of M
    bytes'), and no copy is left to be read as valid."""
    path = tmp_path / "replaced.bw"
    shutil.copy2(files / "sample_a.bw", path)

    class Replacing(RangeHandler):
        def send_head(self):
            if self.command == "GET" and path.stat().st_size > 1000:
                path.write_bytes(path.read_bytes()[:1000])  # a new, shorter version
            return super().send_head()

    with serve_directory(tmp_path, handler=Replacing) as base, pytest.raises(
            InputFileError, match=r"replaced\.bw: the download ended after 1000 of \d+ "
                                  r"bytes; the file changed on the server while it was "
                                  r"downloaded \(it is 1000 bytes now\)"):
        as_file_list(f"{base}/replaced.bw", "BigWig")
    assert not [p for p in _remote.input_cache_dir().rglob("*-replaced.bw/*/*")
                if p.is_file()]


# ------------------------------------------------------------------------------ errors

def test_http_404_says_cannot_read(served):
    _, base = served
    with pytest.raises(InputFileError, match=r"cannot read BigWig file http://127\.0\.0\.1:"
                                             r"\d+/missing\.bw: HTTP 404") as info:
        as_file_list(f"{base}/missing.bw", "BigWig")
    assert "does not exist" not in str(info.value)


def test_urls_redirecting_in_a_loop_say_so(files, tmp_path):
    """A file URL, or only its index's, that redirects to itself: an InputFileError saying
    the server redirects in a loop. The file's said only FileNotFoundError; the index's
    was taken for a missing index ('no index next to it')."""
    class Loop(FaultyHandler):
        faulty, redirect_loop = r"(\.bai|/loop\.bw)$", True

    shutil.copy2(files / "sample.bam", tmp_path / "sample.bam")
    with serve_directory(tmp_path, handler=Loop) as base:
        with pytest.raises(InputFileError, match=r"loop\.bw: the server redirects in a "
                                                 r"loop \(too many redirects, the last to "
                                                 r"/loop\.bw\)"):
            as_file_list(f"{base}/loop.bw", "BigWig")
        with pytest.raises(InputFileError, match="redirects in a loop") as info:
            as_file_list(f"{base}/sample.bam", "BAM")
        assert "sample.bam.bai" in str(info.value) and "no index" not in str(info.value)


def test_http_403_is_unreadable(served):
    _, base = served
    with pytest.raises(UnreadableFileError, match=r"cannot read BAM file .*: HTTP 403"):
        as_file_list(f"{base}/forbidden/sample.bam", "BAM")


def test_connection_refused():
    port = free_port()  # nothing listens there
    with pytest.raises(InputFileError, match=rf"cannot read BigWig file http://127\.0\.0\.1:"
                                             rf"{port}/a\.bw: connection refused"):
        as_file_list(f"http://127.0.0.1:{port}/a.bw", "BigWig")


def test_check_input_file_on_a_url(served, files):  # (files: what is served)
    from genozarr.io._handles import check_input_file

    _, base = served
    with pytest.raises(InputFileError, match="cannot read BED file .*HTTP 404"):
        check_input_file(f"{base}/nothing.bed", "BED")
    assert check_input_file(f"{base}/sample.bed", "BED") == f"{base}/sample.bed"


def test_unwritable_input_cache(served, files, tmp_path, monkeypatch):
    _, base = served
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    monkeypatch.setenv("GENOZARR_OUTPUT", str(blocker))
    with pytest.raises(InputFileError, match=r"cannot copy http://.*/sample_a\.bw into the "
                                             r"input cache"):
        as_file_list(f"{base}/sample_a.bw", "BigWig")


def test_signed_bam_urls_and_their_index(files, tmp_path):
    """A server that wants a signature per file (as presigned object-store URLs): the BAM
    file's URL and its index's are given together, ``<bam>##idx##<bai>`` (htslib's
    form), and read as the local file. Given alone, the missing index is explained (the
    index URLs tried answer 403, and the separator is named), without the signature."""
    def sig(path: str) -> str:
        return hashlib.sha256(b"secret" + path.encode()).hexdigest()[:16]

    class Signed(RangeHandler):
        def send_head(self):
            path, _, query = self.path.partition("?")
            if query != f"X-Amz-Signature={sig(path)}":
                self.send_error(403)
                return None
            return super().send_head()

    for name in ("sample.bam", "sample.bam.bai"):
        shutil.copy2(files / name, tmp_path / name)
    with serve_directory(tmp_path, handler=Signed) as base:
        bam = f"{base}/sample.bam?X-Amz-Signature={sig('/sample.bam')}"
        bai = f"{base}/sample.bam.bai?X-Amz-Signature={sig('/sample.bam.bai')}"
        with pytest.raises(MissingIndexError) as info:
            as_file_list(bam, "BAM")
        message = str(info.value)
        assert "(HTTP 403)" in message and "<BAM URL>##idx##<index URL>" in message
        assert sig("/sample.bam") not in message and "X-Amz-Signature=***" in message
        remote = BamSource(as_file_list(f"{bam}##idx##{bai}", "BAM"))
        local = BamSource(as_file_list(str(files / "sample.bam"), "BAM"))
        assert os.path.isfile(remote.paths[0] + ".bai")
        got = remote.read_file(0, "chr1", 0, 30000)
        assert got.sum() > 0
        np.testing.assert_array_equal(got, local.read_file(0, "chr1", 0, 30000))
        with pytest.raises(UnreadableFileError, match=r"index of .*HTTP 403"):
            as_file_list(f"{bam}##idx##{base}/sample.bam.bai?X-Amz-Signature=wrong", "BAM")


def test_http_inputs_have_no_limit_on_a_whole_download(served):
    """aiohttp's default limit of 5 minutes per request would fail the download of a
    large input; inputs read over HTTP have none (only on connecting and between bytes),
    unless the options give their own."""
    _, base = served
    fs, _ = _remote._filesystem(f"{base}/sample_a.bw", None)
    limits = fs.client_kwargs["timeout"]
    assert (limits.total, limits.sock_connect, limits.sock_read) == (None, 30, 300)
    import aiohttp

    own = aiohttp.ClientTimeout(total=12)
    fs, _ = _remote._filesystem(f"{base}/sample_a.bw", {"client_kwargs": {"timeout": own}})
    assert fs.client_kwargs["timeout"] is own


def test_bam_url_without_index(files, served):
    root, base = served
    shutil.copy2(files / "sample.bam", root / "unindexed.bam")
    with pytest.raises(MissingIndexError, match=r"unindexed\.bam has no index next to it"):
        as_file_list(f"{base}/unindexed.bam", "BAM")


def test_stale_remote_index_names_the_url(files, served, tmp_path):
    """The index checks run on the copies; their errors name the URL."""
    from genozarr.testing.simulate import simulate_bam

    root, base = served
    other = simulate_bam(tmp_path / "other.bam", {"c1": 5000, "c2": 4000, "c3": 3000}, 200)
    shutil.copy2(files / "sample.bam", root / "mixed.bam")
    shutil.copy2(other + ".bai", root / "mixed.bam.bai")
    (url,) = as_file_list(f"{base}/mixed.bam", "BAM")
    with pytest.raises(StaleIndexError, match=rf"{re.escape(base)}/mixed\.bam\.bai does not "
                                              rf"match {re.escape(base)}/mixed\.bam"):
        BamSource([url])


# ---------------------------------------------------------------------------------- s3

@pytest.fixture(scope="module")
def s3_files(s3, files):
    options, client = s3
    for name in ("sample.bam", "sample.bam.bai", "sample_a.bw", "sample.fa.gz",
                 "sample.fa.gz.fai", "sample.fa.gz.gzi"):
        client.upload_file(str(files / name), "inputs", f"data/{name}")
    return options


def test_s3_inputs(files, s3_files):
    options = s3_files
    bw = BigWigSource(as_file_list("s3://inputs/data/sample_a.bw", "BigWig",
                                   storage_options=options))
    local_bw = BigWigSource([str(files / "sample_a.bw")])
    np.testing.assert_array_equal(bw.read_file(0, "chr1", 0, 30000),
                                  local_bw.read_file(0, "chr1", 0, 30000))
    # options by protocol, as when inputs come from several places
    bam = BamSource(as_file_list(["s3://inputs/data/sample.bam"], "BAM",
                                 storage_options={"s3": options}))
    local_bam = BamSource([str(files / "sample.bam")])
    np.testing.assert_array_equal(bam.read_file(0, "chr2", 0, 20000),
                                  local_bam.read_file(0, "chr2", 0, 20000))
    assert input_digests("s3://inputs/data/sample.bam") == input_digests(str(files / "sample.bam"))
    fa = FastaSource(as_file_list("s3://inputs/data/sample.fa.gz", "FASTA",
                                  storage_options=options)[0])
    np.testing.assert_array_equal(fa.read_file(0, "chr1", 29990, 30010),
                                  FastaSource(str(files / "sample.fa")).read_file(
                                      0, "chr1", 29990, 30010))


@pytest.mark.parametrize("name", ["s#1", "s?1", "q?versionId"])
def test_s3_bam_whose_key_holds_a_hash_or_question_mark_finds_its_index(files, s3, name):
    """In an object key ``?`` and ``#`` are characters like any other, but the key was
    parsed as a web URL: ``s3://inputs/d/s#1.bam`` had the file name ``s`` and its index
    was looked for as ``s.bai#1.bam``, so the BAM failed with MissingIndexError, with the
    index beside it or named after ``##idx##`` (an audit). Its reads equal the local
    file's."""
    from genozarr.io._remote import INDEX_SEPARATOR

    options, client = s3
    for suffix in (".bam", ".bam.bai"):
        client.upload_file(str(files / f"sample{suffix}"), "inputs", f"keys/{name}{suffix}")
    url = f"s3://inputs/keys/{name}.bam"
    local = BamSource([str(files / "sample.bam")]).read_file(0, "chr2", 0, 20000)
    # an object's version id is its own, not its index's; a web URL's query (a signature)
    # is kept, its fragment dropped from the name
    assert _remote._with_name("s3://b/d/x#1.bam?versionId=v7", "x#1.bam.bai") == \
        "s3://b/d/x#1.bam.bai"
    assert _remote._split("gs://b/d/s?1.bam") == ("gs://b/d/", "s?1.bam")
    assert _remote._with_name("https://h/d/x.bam?sig=1", "x.bam.bai") == \
        "https://h/d/x.bam.bai?sig=1"
    assert _remote._split("https://h/d/x.bam?sig=1#frag") == ("https://h/d/", "x.bam")
    for given in (url, f"{url}{INDEX_SEPARATOR}{url}.bai"):
        _remote._fetched.clear()
        bam = BamSource(as_file_list([given], "BAM", storage_options=options))
        np.testing.assert_array_equal(bam.read_file(0, "chr2", 0, 20000), local)


def test_s3_missing_key(s3_files):
    with pytest.raises(InputFileError, match=r"cannot read BAM file s3://inputs/data/none\.bam"):
        as_file_list("s3://inputs/data/none.bam", "BAM", storage_options=s3_files)


def test_s3_second_fetch_reuses_the_copy(s3_files):
    first = _remote.fetch("s3://inputs/data/sample_a.bw", "BigWig", s3_files)
    _remote._fetched.clear()
    again = _remote.fetch("s3://inputs/data/sample_a.bw", "BigWig", s3_files)
    assert again.path == first.path and not again.downloaded


# ----------------------------------------------------------------------------- ingest

def _roi(files):
    return pd.read_csv(files / "sample.bed", sep="\t", header=None,
                       names=["chrom", "start", "end"], usecols=[0, 1, 2])


@pytest.mark.parametrize("scheduler", ["sync", pytest.param("processes", marks=pytest.mark.slow)])
def test_build_store_from_remote_sources(files, served, s3_files, scheduler):
    """A store built from an http BigWig and an s3 BAM equals one built from the local
    files, also when worker processes read (they get the copies' paths)."""
    import genozarr
    from genozarr.ingest import build_store
    from genozarr.regions import GenomicIndexer

    _, base = served
    gi = GenomicIndexer.create_from_file(_roi(files), binsize=200, stepsize=200)
    sizes = {"chr1": 30000, "chr2": 20000}
    pairs = [(BigWigSource(as_file_list(f"{base}/sample_a.bw", "BigWig")),
              BigWigSource([str(files / "sample_a.bw")])),
             (BamSource(as_file_list("s3://inputs/data/sample.bam", "BAM",
                                     storage_options=s3_files)),
              BamSource([str(files / "sample.bam")]))]
    with genozarr.set_options(scheduler=scheduler, num_workers=2, progress=False):
        for remote, local in pairs:
            for source in (remote, local):
                source.resolve_chroms(["chr1", "chr2"])
            got = build_store(remote, gi, name="r", whole_genome=False, resolution=50,
                              chroms=sizes, storage="ndarray", path=None)
            want = build_store(local, gi, name="l", whole_genome=False, resolution=50,
                               chroms=sizes, storage="ndarray", path=None)
            rows = np.arange(len(gi))
            np.testing.assert_array_equal(got.read_rows(rows), want.read_rows(rows))
            assert got.meta.sources == remote.files


def _takes_input_options() -> bool:
    from genozarr.dataset import Cover

    return "input_storage_options" in inspect.signature(Cover.create_from_bigwig).parameters


@pytest.mark.skipif(not _takes_input_options(),
                    reason="dataset.py does not pass input_storage_options yet")
def test_dataset_constructors_read_urls(files, served, s3_files, tmp_path):
    from genozarr.dataset import Bioseq, Cover

    _, base = served
    roi = _roi(files)
    kw = {"roi": roi, "binsize": 200, "resolution": 50, "cache": True, "storage": "zarr"}
    bw = Cover.create_from_bigwig("rbw", f"{base}/sample_a.bw", store=tmp_path / "a", **kw)
    bw_local = Cover.create_from_bigwig("lbw", str(files / "sample_a.bw"),
                                        store=tmp_path / "b", **kw)
    np.testing.assert_array_equal(bw[:], bw_local[:])
    assert bw.garray.meta.cache_key == bw_local.garray.meta.cache_key
    bam = Cover.create_from_bam("rbam", "s3://inputs/data/sample.bam",
                                input_storage_options=s3_files, store=tmp_path / "c", **kw)
    bam_local = Cover.create_from_bam("lbam", str(files / "sample.bam"),
                                      store=tmp_path / "d", **kw)
    np.testing.assert_array_equal(bam[:], bam_local[:])
    seq = Bioseq.create_from_refgenome("rfa", "s3://inputs/data/sample.fa.gz", roi=roi,
                                       binsize=200, input_storage_options=s3_files)
    seq_local = Bioseq.create_from_refgenome("lfa", str(files / "sample.fa"), roi=roi,
                                             binsize=200)
    np.testing.assert_array_equal(seq[:], seq_local[:])


def test_a_store_records_urls_without_their_secrets(files, served, tmp_path):
    """A store built from signed URLs recorded them whole (sources, the recipe's inputs
    and regions: the token 4 times in zarr.json), so sharing the store shared the token
    (an audit). URLs are recorded as messages show them; the values and the cache key
    (content digests) are those of the local files."""
    from genozarr import open_dataset
    from genozarr.dataset import Cover

    root, base = served
    shutil.copy(files / "sample.bed", root / "regions.bed")
    kw = {"binsize": 200, "resolution": 50, "storage": "zarr"}
    signed = Cover.create_from_bigwig("sbw", f"{base}/sample_a.bw?token=SECRET123",
                                      roi=f"{base}/regions.bed?token=SECRET123",
                                      store=tmp_path / "s.zarr", **kw)
    local = Cover.create_from_bigwig("lbw", str(files / "sample_a.bw"),
                                     roi=str(files / "sample.bed"), **kw)
    np.testing.assert_array_equal(signed[:], local[:])
    text = "".join(p.read_text(errors="replace") for p in (tmp_path / "s.zarr").rglob("*.json"))
    assert "SECRET123" not in text and "token=***" in text
    again = open_dataset(tmp_path / "s.zarr")
    np.testing.assert_array_equal(again[:], local[:])


def test_genome_sizes_at_urls(files, served):
    """genomesize given as a URL (a .chrom.sizes file, a BigWig) is read from its local
    copy, as regions are: it was taken as a local path, the '//' of the URL collapsed,
    and the error said the file did not exist."""
    from genozarr import chrom_sizes
    from genozarr.dataset import Cover

    root, base = served
    want = chrom_sizes(str(files / "sample_a.bw"))
    (root / "genome.chrom.sizes").write_text("".join(f"{c}\t{n}\n" for c, n in want.items()))
    assert chrom_sizes(f"{base}/genome.chrom.sizes") == want
    assert chrom_sizes(f"{base}/sample_a.bw") == want
    kw = {"roi": _roi(files), "binsize": 200, "resolution": 50}
    remote = Cover.create_from_bigwig("gs", str(files / "sample_a.bw"),
                                      genomesize=f"{base}/genome.chrom.sizes", **kw)
    local = Cover.create_from_bigwig("gs", str(files / "sample_a.bw"), genomesize=want, **kw)
    np.testing.assert_array_equal(remote[:], local[:])


def test_regions_at_urls_use_the_input_options_and_are_revalidated(files, served, s3,
                                                                   tmp_path):
    """Regions of interest in a bucket are read with ``input_storage_options`` (before:
    without them, NoCredentialsError), and regions on a web server changed between two
    builds of one process are read anew (before: the first build's copy was reused)."""
    from genozarr.dataset import Cover

    options, client = s3
    client.upload_file(str(files / "sample.bed"), "inputs", "roi/sample.bed")
    client.upload_file(str(files / "sample_a.bw"), "inputs", "roi/sample_a.bw")
    kw = {"binsize": 200, "resolution": 50}
    local = Cover.create_from_bigwig("l", str(files / "sample_a.bw"),
                                     roi=str(files / "sample.bed"), **kw)
    remote = Cover.create_from_bigwig("r", "s3://inputs/roi/sample_a.bw",
                                      roi="s3://inputs/roi/sample.bed",
                                      input_storage_options=options, **kw)
    np.testing.assert_array_equal(remote[:], local[:])
    served_root, base = served
    lines = (files / "sample.bed").read_text().splitlines(keepends=True)
    (served_root / "changing.bed").write_text("".join(lines))
    first = Cover.create_from_bigwig("c", str(files / "sample_a.bw"),
                                     roi=f"{base}/changing.bed", **kw)
    assert len(first) == len(local)
    (served_root / "changing.bed").write_text("".join(lines[:1]))
    os.utime(served_root / "changing.bed", (1e9, 1e9))  # another modification time
    again = Cover.create_from_bigwig("c", str(files / "sample_a.bw"),
                                     roi=f"{base}/changing.bed", **kw)
    _, start, end = lines[0].split("\t")[:3]
    assert len(again) == -(-(int(end) - int(start)) // 200) < len(first)


def test_remote_timeout_bounds_input_reads(files, tmp_path):
    """set_options(remote_timeout=...) bounds a remote input's requests too: a server that
    answers after 3 s fails a read limited to 0.5 s at once, naming the URL (before: the
    read waited for the server, whatever the option)."""
    import threading
    import time

    from genozarr import set_options

    stall = threading.Event()

    class Slow(RangeHandler):
        def send_head(self):
            if stall.is_set():
                time.sleep(3)
            return super().send_head()

    shutil.copy2(files / "sample_a.bw", tmp_path / "slow.bw")
    with serve_directory(tmp_path, handler=Slow) as base:
        stall.set()
        started = time.monotonic()
        with set_options(remote_timeout=0.5), pytest.raises(
                InputFileError, match=r"cannot read BigWig file http://.*/slow\.bw: no answer "
                                      r"in time \(.*Timeout.*; set_options\(remote_timeout"
                                      r"=0\.5\)\)"):
            as_file_list(f"{base}/slow.bw", "BigWig")
        assert time.monotonic() - started < 2.5
        stall.clear()
        assert len(as_file_list(f"{base}/slow.bw", "BigWig")) == 1


# ------------------------------------------------------------------- misbehaving servers

def _copies_of(url: str, name: str) -> list[Path]:
    """The copies of ``url`` (file ``name``) in the input cache."""
    key = hashlib.sha256(url.encode()).hexdigest()[:16]
    return list(_remote.input_cache_dir().glob(f"{key}-*/*/{name}"))


def _read(kind: str, path: str) -> np.ndarray:
    if kind == "BigWig":
        return BigWigSource(as_file_list(path, "BigWig")).read_file(0, "chr1", 100, 5100)
    bed = BedSource(as_file_list(path, "BED"))
    return bed.read_file(0, "chr1", 0, 30000)


@pytest.mark.parametrize(("name", "kind"), [("sample_a.bw", "BigWig"), ("sample.bed", "BED")])
def test_an_input_cut_short_without_a_size_is_refused(tmp_path, name, kind):
    """A server that sends no Content-Length (the body ends when the connection closes)
    drops the connection after 60% of the file: an InputFileError naming the URL and the
    cut, and no copy kept (the cut copy was read as the whole file: a BED with fewer rows,
    the last one cut mid-line). Sent whole, such a file is read as the local one."""
    from genozarr.resources import resource_path

    original = resource_path(name)
    shutil.copy(original, tmp_path / name)

    class Cut(FaultyHandler):
        faulty, unsized = "", 0.6

    class Whole(FaultyHandler):
        faulty, unsized = "", 1.0

    with serve_directory(tmp_path, handler=Cut) as base:
        url = f"{base}/{name}"
        with pytest.raises(InputFileError, match="cut short after") as info:
            _read(kind, url)
        assert url in str(info.value)
        assert _copies_of(url, name) == []
    with serve_directory(tmp_path, handler=Whole) as base:
        np.testing.assert_array_equal(_read(kind, f"{base}/{name}"),
                                      _read(kind, original))


def test_an_html_page_for_a_missing_bam_index_is_not_the_index(files, tmp_path):
    """A server answers the missing ``.csi`` with an HTML page and status 200 (a soft
    404): it is taken as absent and the ``.bai`` beside it is used (before: a
    StaleIndexError blaming the HTML page as a stale index)."""
    for name in ("sample.bam", "sample.bam.bai"):
        shutil.copy(files / name, tmp_path / name)

    class Soft404(FaultyHandler):
        faulty, soft_404 = "", True

    local = BamSource(as_file_list(str(files / "sample.bam"), "BAM"))
    with serve_directory(tmp_path, handler=Soft404) as base:
        remote = BamSource(as_file_list(f"{base}/sample.bam", "BAM"))
        got = remote.read_file(0, "chr1", 0, 30000)
    assert os.path.isfile(remote.paths[0] + ".bai") and got.sum() > 0
    np.testing.assert_array_equal(got, local.read_file(0, "chr1", 0, 30000))


def test_a_lost_connection_and_a_server_error_are_named_as_such():
    """fsspec wraps a connection reset in a FileNotFoundError: a remote input's reason read
    "FileNotFoundError: <url>", like a missing file, and a store read advised checking the
    credentials; an HTTP 5xx answer on a store chunk advised that too."""
    from genozarr.io._remote import _reason
    from genozarr.store.open import storage_error

    url = "http://127.0.0.1:9/s.zarr/data/c.0.0.0.0"
    try:
        try:
            raise ConnectionResetError(104, "Connection reset by peer")
        except ConnectionResetError as e:
            raise FileNotFoundError(url) from e
    except FileNotFoundError as e:
        lost = e
    assert _reason(lost) == ("connection lost (reset by the server or the network): "
                             "[Errno 104] Connection reset by peer")
    message = str(storage_error("read store", url, lost))
    assert "the connection was lost" in message and "check the URL" not in message

    class ServerError(Exception):  # as aiohttp.ClientResponseError carries it
        status, message = 503, "Service Unavailable"

    message = str(storage_error("read store", url, ServerError("503, Service Unavailable")))
    assert "the server answered HTTP 503" in message and "check the URL" not in message
    missing = str(storage_error("read store", url, FileNotFoundError(url)))
    assert "check the URL" in missing  # (a missing object: the URL may be wrong)


def test_messages_and_warnings_show_no_url_secret(files, served):
    """A signed URL's token was shown by messages that put the input's name into their
    text themselves (a FASTA record named twice, condition names taken twice from file
    names) and by warnings; every genozarr message and warning hides it."""
    from genozarr import Bioseq, Cover
    from genozarr.errors import (
        ArgumentError,
        GenozarrWarning,
        MalformedFileError,
        hide_secrets,
        warn,
    )

    root, base = served
    secret = "SECRET8f3a"
    (root / "dup.fa").write_text(">a\nACGT\n>a\nACGT\n")
    with pytest.raises(MalformedFileError) as e:
        Bioseq.create_from_seq("s", f"{base}/dup.fa?X-Amz-Signature={secret}")
    assert f"{base}/dup.fa?X-Amz-Signature=***: sequence name 'a' occurs twice" in str(e.value)
    assert secret not in repr(e.value) and secret not in repr(e.value.args)  # (tracebacks)
    for d in ("d1", "d2"):
        (root / d).mkdir(exist_ok=True)
        shutil.copy2(files / "sample_a.bw", root / d / "s.bw")
    urls = [f"{base}/{d}/s.bw?sig={secret}&Expires=1" for d in ("d1", "d2")]
    with pytest.raises(ArgumentError, match="condition names must be unique") as e:
        Cover.create_from_bigwig("c", urls, roi=_roi(files), binsize=200)
    assert secret not in str(e.value) and f"{base}/d1/s.bw?sig=***&Expires=***" in str(e.value)
    with pytest.warns(GenozarrWarning) as caught:
        warn(f"{urls[0]} lacks 'chrZ'")
    assert str(caught[0].message) == f"{base}/d1/s.bw?sig=***&Expires=*** lacks 'chrZ'"
    # passwords too; the sentence's punctuation stays; a text without URL is unchanged
    assert hide_secrets("s3://user:pw@host/k.bam: at http://h/x?t=abc.") == \
        "s3://user:***@host/k.bam: at http://h/x?t=***."
    assert hide_secrets("chr1:0-100 (a=b?c)") == "chr1:0-100 (a=b?c)"
    # a query value holding ',' or ';' (X-Amz-SignedHeaders=host;range) is hidden whole,
    # and so is every item after it; a password holding '@'
    assert hide_secrets("(https://h/x.bw?fields=a,b&X-Amz-SignedHeaders=host;range&"
                        "X-Amz-Signature=S3CR3T), next") == \
        "(https://h/x.bw?fields=***&X-Amz-SignedHeaders=***&X-Amz-Signature=***), next"
    assert hide_secrets("s3://user:p@ss@host/k") == "s3://user:***@host/k"
    # whatever comes before '://' (a scheme of 80 letters); each URL read once
    assert hide_secrets("x" * 80 + "://u:pw@h/x") == "x" * 80 + "://u:***@h/x"
    assert hide_secrets("a://" * 3 + "h?t=1 b") == "a://" * 3 + "h?t=*** b"


def test_a_malformed_regions_file_at_a_url_is_named_by_its_url(files, served):
    """A regions file at a URL was named by its copy in the input cache alone."""
    from genozarr.errors import MalformedFileError

    root, base = served
    (root / "bad_regions.bed").write_text("chr1\tx\t10\n")
    with pytest.raises(MalformedFileError,
                       match=rf"^{re.escape(base)}/bad_regions\.bed: line 1: start must be"):
        load_regions(f"{base}/bad_regions.bed")


def test_a_signed_bam_index_is_named_by_its_own_url(files, served, tmp_path):
    """The copy of x.bam is a prefix of its index's copy x.bam.bai; renaming the first in
    a message turned the index into 'x.bam?sig=***.bai'."""
    from genozarr.testing.simulate import simulate_bam

    root, base = served
    other = simulate_bam(tmp_path / "other.bam", {"c1": 5000, "c2": 4000, "c3": 3000}, 200)
    shutil.copy2(files / "sample.bam", root / "signed.bam")
    shutil.copy2(other + ".bai", root / "signed.bam.bai")
    (url,) = as_file_list(f"{base}/signed.bam?sig=1", "BAM")
    with pytest.raises(StaleIndexError) as e:
        BamSource([url])
    message = str(e.value)
    assert f"{base}/signed.bam.bai does not match {base}/signed.bam?sig=***" in message
    assert "?sig=***.bai" not in message
    # the copy's own name at the end of a sentence is still the URL's, query included
    from genozarr.errors import MalformedFileError

    with pytest.raises(MalformedFileError) as e, _remote.naming(f"{base}/x.bed?sig=1",
                                                                "/cache/ab12/x.bed"):
        raise MalformedFileError("cannot read /cache/ab12/x.bed.")
    assert str(e.value).startswith(f"cannot read {base}/x.bed?sig=***.")


def test_variant_streamer_shows_no_url_secret(files, served):
    """``VariantStreamer``'s repr and ``genome``, and the attributes of
    ``score_variants``'s results (which may be saved), showed a genome or VCF URL's
    password and signature as given; the streamer still reads through the full URL."""
    from genozarr.variants import VariantStreamer, score_variants

    root, base = served
    secret = "SECRETv4r1"
    host = base.split("://", 1)[1]
    seq = (files / "sample.fa").read_text().split("\n", 1)[1].replace("\n", "")[:200]
    (root / "v.vcf").write_text(
        "##fileformat=VCFv4.2\n##contig=<ID=chr1,length=30000>\n"
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
        f"chr1\t101\tv1\t{seq[100]}\t{'A' if seq[100] != 'A' else 'C'}\t.\t.\t.\n")
    genome_url = f"http://bob:{secret}@{host}/sample.fa?X-Amz-Signature={secret}"
    vcf_url = f"http://bob:{secret}@{host}/v.vcf"
    streamer = VariantStreamer(genome_url, vcf_url, binsize=11, batch_size=4)
    batches = list(streamer)  # read through the URLs as given
    assert len(batches) == 1 and batches[0].positions.tolist() == [100]
    assert "".join("ACGT"[i] for i in batches[0].ref[0, :, 0].argmax(-1)) == seq[95:106]
    assert secret not in repr(streamer) and secret not in streamer.genome
    assert f"http://bob:***@{host}/sample.fa?X-Amz-Signature=***" in repr(streamer)
    assert f"http://bob:***@{host}/v.vcf" in repr(streamer)
    effects = score_variants(lambda x: x.sum(axis=(1, 2)), streamer)
    assert secret not in str(effects.attrs)
    assert effects.attrs["variants"] == f"http://bob:***@{host}/v.vcf"
