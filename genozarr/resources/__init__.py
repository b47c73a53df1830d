"""Small bundled sample data for the README demo, the docs, notebooks and tests.

A simulated genome of two chromosomes, ``chr1`` (30 kb) and ``chr2`` (20 kb), with reads,
signal tracks, regions of interest and genes; regenerate with
``python -m genozarr.resources.make_resources`` (seeded). The data carry a learnable signal:
:data:`MOTIF` (a GATA site) is planted in clusters inside half of the 1 kb regions of
``sample.bed`` (score 1: positive, 0: negative) and in a few places outside them; reads of
``sample.bam`` are enriched around the planted sites (ChIP-seq-like, strand-shifted), and
``peaks.bed`` lists each cluster.

==================  =======================  ====================================================
key                 file                     content
==================  =======================  ====================================================
``fasta``           ``sample.fa``            genome, 60-column FASTA, N runs and soft-masking
``fai``             ``sample.fa.fai``        its samtools index
``bam``             ``sample.bam``           10,000 single-end 50 bp reads, sorted; 5 % flagged
``bai``             ``sample.bam.bai``       its index
``bigwig_a``        ``sample_a.bw``          CPM fragment coverage of ``sample.bam``, 10 bp bins
``bigwig_b``        ``sample_b.bw``          a second, broader signal in 50 bp bins, with gaps
``roi``             ``sample.bed``           40 regions of 1000 bp, both strands, score = label
``roi_train``       ``roi_train.bed``        the ``chr1`` regions of ``sample.bed``
``roi_test``        ``roi_test.bed``         the ``chr2`` regions of ``sample.bed``
``peaks``           ``peaks.bed``            motif clusters: name, fold enrichment as score
``gtf``             ``genes.gtf``            genes, transcripts and exons (1-based)
``chrom_sizes``     ``sample.chrom.sizes``   chromosome sizes
==================  =======================  ====================================================

Examples
--------
>>> from genozarr.resources import resource_path
>>> import pysam
>>> pysam.FastaFile(resource_path("fasta")).get_reference_length("chr1")
30000
"""

from __future__ import annotations

from importlib.resources import files

__all__ = ["CHROM_SIZES", "MOTIF", "SAMPLE_FILES", "resource_path"]

#: Key to file name of every bundled sample file.
SAMPLE_FILES: dict[str, str] = {
    "fasta": "sample.fa",
    "fai": "sample.fa.fai",
    "bam": "sample.bam",
    "bai": "sample.bam.bai",
    "bigwig_a": "sample_a.bw",
    "bigwig_b": "sample_b.bw",
    "roi": "sample.bed",
    "roi_train": "roi_train.bed",
    "roi_test": "roi_test.bed",
    "peaks": "peaks.bed",
    "gtf": "genes.gtf",
    "chrom_sizes": "sample.chrom.sizes",
}

#: Chromosome sizes of the sample genome.
CHROM_SIZES: dict[str, int] = {"chr1": 30_000, "chr2": 20_000}

#: The motif planted (either orientation) in the positive regions.
MOTIF = "AGATAAG"


def resource_path(name: str) -> str:
    """Return the path of a bundled sample file.

    Parameters
    ----------
    name
        A key of :data:`SAMPLE_FILES` (``'bam'``) or a file name (``'sample.bam'``).

    Returns
    -------
    str
        Absolute path of the file.

    Raises
    ------
    FileNotFoundError
        If no such sample file exists; the message lists the valid names.
    """
    filename = SAMPLE_FILES.get(name, name)
    path = files(__name__).joinpath(filename)
    if filename not in SAMPLE_FILES.values() or not path.is_file():
        raise FileNotFoundError(
            f"no bundled sample file {name!r}; expected one of the keys {sorted(SAMPLE_FILES)} "
            f"or file names {sorted(SAMPLE_FILES.values())}. If the name is right, regenerate "
            "the files with `python -m genozarr.resources.make_resources`."
        )
    return str(path)
