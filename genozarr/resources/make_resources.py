"""Regenerate the bundled sample data of :mod:`genozarr.resources`.

Run ``python -m genozarr.resources.make_resources [OUTDIR]`` (default: this directory).
Everything is seeded, so a rerun writes the same bytes.

The data are built so that a small model can learn something:

1. 40 regions of interest (ROI) of 1 kb on a 1 kb grid (24 on ``chr1``, 16 on ``chr2``),
   about a third on the minus strand; half of them are positive (``score`` 1).
2. A cluster of 2-4 copies of :data:`~genozarr.resources.MOTIF` (random orientation) is
   planted near the middle of each positive ROI and in 5 places outside the ROI.
3. 40 % of the 10,000 reads of ``sample.bam`` come from fragments centred on the planted
   sites (5' ends shifted by half a fragment, as in ChIP-seq); the rest are uniform.
4. ``sample_a.bw`` is the CPM-normalised fragment coverage of those reads (10 bp bins, no
   data over ``N``); ``sample_b.bw`` is a broad noisy signal (50 bp bins) with bumps at half
   of the clusters and a stretch without data on each chromosome.
5. ``peaks.bed`` lists every cluster with its fold enrichment (reads in the peak over the
   uniform expectation) as score; ``roi_train.bed`` / ``roi_test.bed`` split ``sample.bed``
   by chromosome (``chr1`` / ``chr2``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from genozarr.resources import CHROM_SIZES, MOTIF, SAMPLE_FILES
from genozarr.testing.simulate import (
    simulate_bam,
    simulate_genome,
    simulate_gtf,
    write_bigwig,
    write_chrom_sizes,
)

SEED = 2024
ROI_WIDTH = 1000
ROI_PER_CHROM = {"chr1": 24, "chr2": 16}
N_OUTSIDE_CLUSTERS = 5
N_READS = 10_000
FRAGMENT = 150
_COMPLEMENT = str.maketrans("ACGT", "TGCA")


def _clusters(rng: np.random.Generator, start: int, width: int) -> list[int]:
    """Start positions of 2-4 non-overlapping motif copies near the middle of a window."""
    n = int(rng.integers(2, 5))
    centre = start + width // 2
    slots = rng.choice(np.arange(-250, 250, 20), size=n, replace=False)
    return sorted(int(centre + s) for s in slots)


def _write_bed(path: Path, rows: list[tuple[str, int, int, str, str, str]]) -> None:
    path.write_text("".join("\t".join(str(x) for x in r) + "\n" for r in rows))


def make_resources(outdir: str | Path | None = None) -> dict[str, str]:
    """Write every file of :data:`~genozarr.resources.SAMPLE_FILES` into ``outdir``.

    Parameters
    ----------
    outdir
        Output directory; default: the directory of this module.

    Returns
    -------
    dict
        Key of ``SAMPLE_FILES`` to the written path.
    """
    import pysam

    out = Path(outdir) if outdir is not None else Path(__file__).parent
    out.mkdir(parents=True, exist_ok=True)
    p = {key: out / name for key, name in SAMPLE_FILES.items()}
    rng = np.random.default_rng(SEED)
    chroms = list(CHROM_SIZES)

    # ---- regions of interest, labels and planted motif clusters ---------------------
    roi: list[tuple[str, int, int, str, str, str]] = []
    sites: dict[str, list[int]] = {c: [] for c in chroms}
    clusters: list[tuple[str, list[int]]] = []
    for chrom in chroms:
        n_tiles = CHROM_SIZES[chrom] // ROI_WIDTH
        tiles = np.sort(rng.choice(n_tiles, size=ROI_PER_CHROM[chrom], replace=False))
        positive = np.zeros(tiles.size, dtype=bool)
        positive[rng.choice(tiles.size, size=tiles.size // 2, replace=False)] = True
        minus = rng.random(tiles.size) < 1 / 3
        for t, pos, neg_strand in zip(
            tiles.tolist(), positive.tolist(), minus.tolist(), strict=True
        ):
            start = t * ROI_WIDTH
            roi.append(
                (
                    chrom,
                    start,
                    start + ROI_WIDTH,
                    "",
                    "1" if pos else "0",
                    "-" if neg_strand else "+",
                )
            )
            if pos:
                clusters.append((chrom, _clusters(rng, start, ROI_WIDTH)))
        free = np.setdiff1d(np.arange(n_tiles), tiles)
        clusters_outside = N_OUTSIDE_CLUSTERS * CHROM_SIZES[chrom] // sum(CHROM_SIZES.values())
        for t in rng.choice(
            free, size=min(free.size, max(1, clusters_outside)), replace=False
        ).tolist():
            clusters.append((chrom, _clusters(rng, t * ROI_WIDTH, ROI_WIDTH)))
    roi = [(c, s, e, f"roi{i:02d}", sc, st) for i, (c, s, e, _, sc, st) in enumerate(roi)]
    clusters.sort(key=lambda x: (chroms.index(x[0]), x[1][0]))
    plant: dict[str, list[tuple[int, str]]] = {c: [] for c in chroms}
    for chrom, starts in clusters:
        for s in starts:
            seq = MOTIF if rng.random() < 0.5 else MOTIF.translate(_COMPLEMENT)[::-1]
            plant[chrom].append((s, seq))
            sites[chrom].append(s + len(MOTIF) // 2)

    # ---- genome, reads, genes ------------------------------------------------------------
    write_chrom_sizes(p["chrom_sizes"], CHROM_SIZES)
    simulate_genome(
        p["fasta"],
        CHROM_SIZES,
        seed=SEED + 1,
        n_fraction=0.005,
        lowercase_fraction=0.1,
        plant=plant,
    )
    simulate_bam(
        p["bam"],
        CHROM_SIZES,
        N_READS,
        seed=SEED + 2,
        read_length=50,
        fragment_length=FRAGMENT,
        flagged_fraction=0.05,
        reference=p["fasta"],
        hotspots=sites,
        hotspot_fraction=0.4,
        hotspot_sd=30.0,
        threads=1,
    )
    simulate_gtf(p["gtf"], CHROM_SIZES, n_genes=10, seed=SEED + 3)

    # ---- coverage of usable reads, extended to the fragment ----------------------------
    skip = 0x4 | 0x100 | 0x200 | 0x400 | 0x800
    cov = {c: np.zeros(s + 1, dtype=np.int64) for c, s in CHROM_SIZES.items()}
    n_used = 0
    with pysam.AlignmentFile(str(p["bam"])) as bam:
        for read in bam.fetch(until_eof=True):
            if read.flag & skip:
                continue
            n_used += 1
            size = CHROM_SIZES[read.reference_name]
            if read.is_reverse:
                s, e = max(0, read.reference_end - FRAGMENT), read.reference_end
            else:
                s, e = read.reference_start, min(size, read.reference_start + FRAGMENT)
            cov[read.reference_name][s] += 1
            cov[read.reference_name][e] -= 1
    with pysam.FastaFile(str(p["fasta"])) as fa:
        is_n = {c: np.frombuffer(fa.fetch(c).encode(), np.uint8) == ord("N") for c in chroms}
    track_a: dict[str, np.ndarray] = {}
    for chrom, size in CHROM_SIZES.items():
        depth = np.cumsum(cov[chrom])[:size].astype(np.float64)
        binned = depth.reshape(-1, 10).mean(axis=1) * 1e6 / n_used / FRAGMENT
        v = np.round(np.repeat(binned, 10), 3)
        v[is_n[chrom] | (v == 0)] = np.nan
        track_a[chrom] = v
    write_bigwig(p["bigwig_a"], track_a, CHROM_SIZES)

    # ---- a second, broader signal ------------------------------------------------------
    track_b: dict[str, np.ndarray] = {}
    for chrom, size in CHROM_SIZES.items():
        x = np.arange(0, size, 50) + 25
        v = rng.gamma(4.0, 0.5, x.size)
        for _, starts in (cl for cl in clusters if cl[0] == chrom):
            if rng.random() < 0.5:
                v += 8.0 * np.exp(-0.5 * ((x - starts[0]) / 300.0) ** 2)
        v = np.round(np.repeat(v, 50)[:size], 3)
        v[is_n[chrom]] = np.nan
        gap = int(rng.integers(0, size - 500)) // 50 * 50
        v[gap : gap + 500] = np.nan
        track_b[chrom] = v
    write_bigwig(p["bigwig_b"], track_b, CHROM_SIZES)

    # ---- peaks with fold enrichment, ROI and its split ------------------------------
    total = sum(CHROM_SIZES.values())
    peaks = []
    with pysam.AlignmentFile(str(p["bam"])) as bam:
        for i, (chrom, starts) in enumerate(clusters):
            s, e = starts[0] - 100, starts[-1] + len(MOTIF) + 100
            n = sum(1 for r in bam.fetch(chrom, s, e) if not r.flag & skip)
            expected = n_used * 0.6 * (e - s + 50) / total
            peaks.append((chrom, s, e, f"peak{i:02d}", f"{n / expected:.2f}", "."))
    _write_bed(p["peaks"], peaks)
    _write_bed(p["roi"], roi)
    _write_bed(p["roi_train"], [r for r in roi if r[0] == "chr1"])
    _write_bed(p["roi_test"], [r for r in roi if r[0] == "chr2"])
    return {k: str(v) for k, v in p.items()}


if __name__ == "__main__":
    written = make_resources(sys.argv[1] if len(sys.argv) > 1 else None)
    for key, path in written.items():
        print(f"{key:12s} {path}  {Path(path).stat().st_size:>8d} bytes")
