"""The values a build stores, pinned per ``VALUES_REVISION``.

A cached store is reused as long as its cache key is the same, and the key names the
revision of the values a build stores (``genozarr.store.cache.VALUES_REVISION``). A fix
that changes stored values without raising the revision lets a store cached by the
earlier release be reused with the earlier values (an audit found such a change:
pairwise sums of bins of 1 kb or more, made under revision 4). This test keeps a
fingerprint of what a set of builds store over a hand-made corpus, one per revision: a
change of the stored values fails it until the revision is raised and its fingerprint
recorded.

The corpus is made without random numbers (its values follow from arithmetic, so a
numpy release cannot change it) and holds only values that every summation order adds
exactly (small integers, means of them divided once), so the fingerprint does not depend
on the machine. Rounding-level changes of long sums are therefore not seen here; raise
the revision for those by hand. The served values are also checked against numpy on the
raw corpus below, so the fingerprint pins values known to be right.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from genozarr import Bioseq, Cover
from genozarr.store import cache
from genozarr.testing.simulate import write_bam, write_bigwig, write_fasta

#: the fingerprint of the builds of ``_builds`` under each values revision
FINGERPRINTS = {
    5: "d92ca55d8a915028fa2b7cd2531041c9691c676f572256fc06019b50decb8960",
}

SIZES = {"chr1": 6000, "chr2": 4100}


def _track(n: int, k: int) -> np.ndarray:
    """Per-base values 0-22 (stepping every 7 bases), no data (NaN) at 5 of every 97."""
    i = np.arange(n)
    values = ((i // 7) * 7919 + k) % 23
    return np.where(i % 97 < 5, np.nan, values).astype(np.float64)


def _corpus(root: Path) -> dict[str, str]:
    bases = np.frombuffer(b"ACGTNacgt", dtype=np.uint8)
    fasta = write_fasta(root / "g.fa", {
        c: bases[(np.arange(n) * 31 + k * 5 + (np.arange(n) // 11)) % 9]
        for k, (c, n) in enumerate(SIZES.items())})
    bigwigs = [write_bigwig(root / f"s{k}.bw", {c: _track(n, k + j)
                                                for j, (c, n) in enumerate(SIZES.items())})
               for k in range(2)]
    reads = []
    for j, (chrom, n) in enumerate(SIZES.items()):
        for r in range(300):
            start = (r * 613 + j * 101) % (n - 60)
            reads.append({"chrom": chrom, "start": start, "length": 30 + r % 25,
                          "flag": 16 if r % 3 == 0 else 0, "mapq": (r * 7) % 61})
    bam = write_bam(root / "r.bam", SIZES, reads)
    bed = root / "roi.bed"
    bed.write_text("".join(
        f"{c}\t{s}\t{s + 1000}\tw{c}{s}\t0\t{'+-'[(s // 700) % 2]}\n"
        for c, starts in (("chr1", (0, 700, 2300, 5000)), ("chr2", (300, 3100)))
        for s in starts))
    peaks = root / "peaks.bed"
    peaks.write_text("".join(
        f"{c}\t{s}\t{s + w}\tp{s}\t{s % 9}\t{'+-'[s % 2]}\n"
        for c, n in SIZES.items() for s, w in ((s, 40 + s % 300) for s in range(17, n - 400, 331))))
    return {"fasta": fasta, "bw": bigwigs, "bam": bam, "roi": str(bed), "peaks": str(peaks)}


def _builds(files: dict) -> list[tuple[str, object]]:
    roi, bws = files["roi"], files["bw"]
    zarr = {"storage": "zarr"}
    return [
        ("bw 1 bp flank", Cover.create_from_bigwig("a", bws, roi=roi, binsize=200, flank=30,
                                                   **zarr)),
        ("bw 50 bp mean", Cover.create_from_bigwig("b", bws, roi=roi, binsize=1000,
                                                   resolution=50, collapser="mean", **zarr)),
        ("bw 1 kb sum", Cover.create_from_bigwig("c", bws, roi=roi, binsize=1000,
                                                 resolution=1000, collapser="sum", **zarr)),
        ("bw none max", Cover.create_from_bigwig("d", bws, roi=roi, binsize=500,
                                                 resolution=None, collapser="max", **zarr)),
        ("bw genome 100 bp", Cover.create_from_bigwig(
            "e", bws, roi=roi, binsize=1000, resolution=100, collapser="sum",
            store_whole_genome=True, **zarr)),
        ("bw no nan_to_num", Cover.create_from_bigwig("f", bws[:1], roi=roi, binsize=1000,
                                                      nan_to_num=False, **zarr)),
        ("bam 5prime", Cover.create_from_bam("g", files["bam"], roi=roi, binsize=1000,
                                             **zarr)),
        ("bam 50 bp mapq", Cover.create_from_bam("h", files["bam"], roi=roi, binsize=1000,
                                                 resolution=50, min_mapq=30, **zarr)),
        ("bam genome unstranded", Cover.create_from_bam(
            "i", files["bam"], roi=roi, binsize=1000, resolution=100, stranded=False,
            store_whole_genome=True, **zarr)),
        ("bed score", Cover.create_from_bed("j", files["peaks"], roi=roi, binsize=1000,
                                            mode="score", **zarr)),
        ("bed categorical", Cover.create_from_bed("k", files["peaks"], roi=roi, binsize=1000,
                                                  resolution=50, mode="name_category",
                                                  **zarr)),
        ("dna order 1 flank", Bioseq.create_from_refgenome("l", files["fasta"], roi=roi,
                                                           binsize=200, flank=7, **zarr)),
        ("dna order 2", Bioseq.create_from_refgenome("m", files["fasta"], roi=roi,
                                                     binsize=1000, order=2, **zarr)),
        ("dna genome", Bioseq.create_from_refgenome("n", files["fasta"], roi=roi, binsize=1000,
                                                    store_whole_genome=True, **zarr)),
    ]


def _fingerprint(builds: list[tuple[str, object]]) -> str:
    h = hashlib.sha256()
    for label, ds in builds:
        values = np.ascontiguousarray(np.asarray(ds[:], dtype="<f8"))
        h.update(f"{label}{values.shape}".encode())
        h.update(values.tobytes())
    return h.hexdigest()


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, list]:
    files = _corpus(tmp_path_factory.mktemp("revision"))
    return files, _builds(files)


def test_the_fingerprinted_builds_store_what_numpy_computes(built) -> None:
    """A few of the fingerprinted builds against numpy on the corpus's own values, so
    that the fingerprint pins right values."""
    _, builds = built
    got = dict(builds)
    # the first window: chr1:0-200 on '+', a flank of 30 (before the chromosome: 0)
    raw = np.stack([np.nan_to_num(_track(SIZES["chr1"], k)) for k in range(2)], axis=-1)
    np.testing.assert_array_equal(got["bw 1 bp flank"][0][0, 30:, 0], raw[:230])
    np.testing.assert_array_equal(got["bw 1 bp flank"][0][0, :30, 0], 0)
    # 1 kb sums of chr1:2300-3300 (window 2, '+': (2300 // 700) % 2 == 1 is '-': reversed)
    sums = raw[2300:3300].sum(axis=0)
    np.testing.assert_array_equal(got["bw 1 kb sum"][2][0, 0, 0], sums)
    # 50 bp means of chr1:0-1000
    means = raw[:1000].reshape(20, 50, 2).mean(axis=1).astype(np.float32)
    np.testing.assert_allclose(got["bw 50 bp mean"][0][0, :, 0], means, rtol=1e-6)


def test_stored_values_match_the_fingerprint_of_the_values_revision(built) -> None:
    """What the builds store is this revision's: a change of the stored values needs a
    new ``VALUES_REVISION`` (``genozarr/store/cache.py``) and its fingerprint here."""
    _, builds = built
    now = _fingerprint(builds)
    recorded = FINGERPRINTS.get(cache.VALUES_REVISION)
    assert recorded == now, (
        f"stored values of revision {cache.VALUES_REVISION} changed (fingerprint {now}): "
        "raise VALUES_REVISION and record the new fingerprint under it")
