"""Data sources for ingest: thin, picklable adapters from ``genozarr.io`` readers to
:class:`genozarr.ingest.Source` (one condition per file, or per category for BED)."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import numpy as np

from genozarr._validate import name_list, unordered
from genozarr.errors import ArgumentError, ChromosomeNamingError
from genozarr.ingest import Source

__all__ = ["ArraySource", "BigWigSource", "BamSource", "BedSource", "FastaSource", "RecordsSource",
           "as_file_list", "condition_names", "is_remote"]

_COLLAPSERS = ("sum", "mean", "max", "min")


def is_remote(path: Any) -> bool:
    """Whether an input is a URL (``http(s)://``, ``s3://``, ...) rather than a local path;
    see :func:`genozarr.io._remote.is_url`.

    Parameters
    ----------
    path
        A path, URL or anything else (only a ``str`` can be a URL; ``file://`` URLs are
        local paths).

    Returns
    -------
    bool
    """
    from genozarr.io._remote import is_url

    return is_url(path)


def _list_like(value: Any) -> bool:
    """Whether ``value`` is a sequence of items (iterable, not a mapping)."""
    return hasattr(value, "__iter__") and not isinstance(value, Mapping)


def as_file_list(files: str | os.PathLike | Sequence[str | os.PathLike], what: str, *,
                 storage_options: Mapping[str, Any] | None = None) -> list[str]:
    """One path or URL, or a list of them, each checked to be a readable file.

    A local path must be an existing, readable file
    (:func:`genozarr.io._handles.check_input_file`). A URL (``http(s)://``, ``s3://``, any
    fsspec URL) is copied, with the index files read with it, into the input cache (see
    :mod:`genozarr.io._remote`), or an existing copy is revalidated; the sources then read
    the copy, while the URL names the input (conditions, messages, the store's recipe).

    Parameters
    ----------
    files
        A path or URL, or a sequence of them.
    what
        What the files are (``"BigWig"``, ``"BAM"``, ``"FASTA"``, ``"BED"``, ...): named in
        messages, and tells which index files go with a URL.
    storage_options
        fsspec options for the URLs (credentials, endpoint): the keyword arguments of their
        filesystem, or a dict of them by protocol (``{"s3": {...}, "https": {...}}``).

    Returns
    -------
    list of str
        The paths and URLs, as strings.

    Raises
    ------
    InputFileError
        For a missing or unreadable file, or a URL that cannot be read (the message names
        the URL and the cause: ``HTTP 404 Not Found``, connection refused, ...).
    """
    from genozarr.io._handles import check_input_file
    from genozarr.io._remote import fetch, is_url, local_form

    if not isinstance(files, (str, bytes, os.PathLike)) and not _list_like(files):
        raise ArgumentError(f"{what} files must be a path, a URL or a list of them, got "
                            f"{files!r}")
    if unordered(files):
        # (their order is the conditions'; a dict's keys are ordered)
        raise ArgumentError(f"{what} files must be a path, a URL or a list of them in order, "
                            "got a set, which has no order (the conditions would follow "
                            "the files in hash order, another in each process)")
    items = [files] if isinstance(files, (str, bytes, os.PathLike)) else list(files)
    if not items:
        raise ArgumentError(f"no {what} files given")
    out = []
    for f in items:
        if not isinstance(f, (str, bytes, os.PathLike)):
            raise ArgumentError(f"{what} files must be paths, got {f!r}")
        f = local_form(f)  # a file:// URL: its path; ~ expanded
        if is_url(f):
            fetch(f, what, storage_options)
        else:
            check_input_file(f, what)
        out.append(f)
    return out


def _local(files: list[str], what: str) -> list[str]:
    """The local files to read for ``files``: themselves, or the copies of URLs; absolute,
    as the caller's working directory makes them (build tasks run in worker processes
    whose working directory is another: the kept pool's is where it was started, a
    dask.distributed worker's its own, so a relative name read another file there)."""
    from genozarr.io._remote import localize

    return [os.path.abspath(localize(f, what)) for f in files]


def _named(url: str, local: str) -> Any:
    """A context in which errors about the local copy of a URL name the URL (a local
    file, whose path :func:`_local` made absolute, is named as given)."""
    import contextlib

    from genozarr.io._remote import is_url, naming

    return naming(url, local) if is_url(url) else contextlib.nullcontext()


#: extensions a default condition name goes without: a compression's, then a format's,
#: in any case (ENCODE names its files ``.bigWig``; Janggu's ``os.path.splitext`` drops
#: the last extension whatever its case, and keeps a format's before ``.gz``)
_COMPRESSIONS = (".gz", ".bgz")
_FORMATS = (".bigwig", ".bw", ".bam", ".cram", ".bedgraph", ".bdg", ".bed", ".narrowpeak",
            ".broadpeak", ".gappedpeak", ".gff", ".gff3", ".gtf")


def file_condition_names(files: list[str]) -> list[str]:
    """The condition name of each file: its name without its compression and format
    extensions, in any case (``ENCFF001AAA.bigWig`` and ``peaks.narrowPeak.gz`` give
    ``ENCFF001AAA`` and ``peaks``); not checked for repeats: see
    :func:`condition_names`."""
    from genozarr.io._remote import is_url

    names = []
    for f in files:
        base = Path(unquote(urlsplit(f).path) if is_url(f) else f).name
        try:
            base.encode("utf-8")
        except UnicodeEncodeError:  # bytes os.fsdecode escaped (under an ASCII locale, a
            try:                    # UTF-8 name: its text, as a UTF-8 locale reads it)
                base = os.fsencode(base).decode("utf-8")
            except (UnicodeError, ValueError):
                raise ArgumentError(
                    f"the name of the input file {f!r} is not UTF-8 text, so it gives no "
                    "condition name: pass conditions=[...] (or rename the file)") from None
        for extensions in (_COMPRESSIONS, _FORMATS):
            ext = next((e for e in extensions if base.lower().endswith(e)
                        and len(base) > len(e)), None)
            if ext:
                base = base[: -len(ext)]
        names.append(base)
    return names


def condition_names(files: list[str], conditions: Sequence[str] | None) -> list[str]:
    """Condition names: given, or the file names without their extensions.

    Parameters
    ----------
    files
        Input paths or URLs, one condition each.
    conditions
        One name per file; None takes each file's name without its compression and
        format extensions (:func:`file_condition_names`).

    Returns
    -------
    list of str
        One unique name per file, in the order of ``files``.

    Raises
    ------
    ArgumentError
        For another number of names than files, or a name given twice (two files of one
        name in different folders: pass ``conditions=``), which a selection by condition
        or an export could not tell apart.
    """
    if conditions is not None:
        names = name_list("conditions", conditions)
        if len(names) != len(files):
            raise ArgumentError(
                f"conditions has {len(names)} names for {len(files)} files: {names}")
    else:
        names = file_condition_names(files)
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        given = "given" if conditions is not None else "taken from the file names"
        raise ArgumentError(
            f"condition names must be unique; {twice[0]!r} is {given} for "
            f"{names.count(twice[0])} of the files {files}: pass conditions= with a name "
            "per file (or a sample sheet)")
    return names


def _check_collapser(collapser: Any, default: str) -> str | Callable[..., Any]:
    if collapser is None:
        return default
    if callable(collapser) or collapser in _COLLAPSERS:
        return collapser
    raise ArgumentError(f"collapser must be one of {_COLLAPSERS} or a callable, got {collapser!r}")


class _AbsentChromsAsZeros:
    """Mixin of sources whose files may lack a chromosome of the regions (BigWig, BAM).

    As in Janggu, such a file gives zeros on that chromosome; one
    :class:`~genozarr.genome.MissingChromosomeWarning` names the files and chromosomes.
    A naming mismatch (``chr1`` vs ``1``) stays an error
    (:class:`~genozarr.errors.ChromosomeNamingError`).
    """

    files: list[str]
    chrom_names: list[dict[str, str]]
    #: per file: the (file-side) chromosome names it lacks
    absent: list[frozenset[str]]

    def file_chrom_sizes(self, i: int) -> dict[str, int]:  # pragma: no cover - interface
        raise NotImplementedError

    def resolve_chroms(self, chroms: list[str], mapping: Any = None) -> None:
        """Match region chromosome names to every file's names; chromosomes a file lacks
        read as zeros from it, with one warning."""
        from genozarr.errors import warn
        from genozarr.genome import MissingChromosomeWarning, match_chroms

        self.chrom_names, self.absent = [], []
        lines = []
        for i, f in enumerate(self.files):
            names, missing = match_chroms(chroms, self.file_chrom_sizes(i), f, mapping)
            self.chrom_names.append(names)
            self.absent.append(frozenset(names[c] for c in missing))
            if missing:
                # a chrom_map target is named too: 'chr1' (mapped to '1')
                shown = ", ".join(repr(c) if names[c] == c else f"{c!r} (mapped to {names[c]!r})"
                                  for c in missing[:10])
                more = f" and {len(missing) - 10} more" if len(missing) > 10 else ""
                lines.append(f"{f} lacks {shown}{more}")
        if lines:  # (the first 10 files: 100 files lacking one made 5,000 characters)
            more = f"; and {len(lines) - 10} more files" if len(lines) > 10 else ""
            warn("chromosomes of the regions are absent from input files, which give zeros "
                 "there (as in Janggu): " + "; ".join(lines[:10]) + more + ". Check the "
                 "region file and the genome build if this is not expected",
                 MissingChromosomeWarning)

    def _is_absent(self, i: int, chrom: str) -> bool:
        absent = getattr(self, "absent", None)
        return bool(absent) and chrom in absent[i]


class BigWigSource(_AbsentChromsAsZeros, Source):
    """Per-base BigWig values, one condition per file, unstranded; a chromosome a file
    lacks reads as zeros (with a warning).

    Parameters
    ----------
    files
        BigWig paths or URLs (a URL is read through its local copy in the input cache).
    conditions
        One name per file; None: the file names without their extensions
        (:func:`condition_names`).
    nan_to_num
        Bases without data (and values stored as NaN) read as 0; False keeps them NaN.
    collapser
        ``'sum'``, ``'mean'``, ``'max'``, ``'min'`` or a callable (see
        :func:`genozarr._kernels.collapse`) reducing the bases of a bin; None: ``'mean'``.
    dtype
        Dtype of the store built from the source.

    Raises
    ------
    ArgumentError
        For an unknown ``collapser``, or condition names that are not one per file or
        not unique.
    """

    def __init__(self, files: list[str], conditions: Sequence[str] | None = None,
                 nan_to_num: bool = True, collapser: Any = None, dtype: str = "float32") -> None:
        from genozarr.io.bigwig import bigwig_chrom_sizes

        self.files = files
        #: the local files read: the paths themselves, or the copies of URLs
        self.paths = _local(files, "BigWig")
        self.record_inputs(self.paths)
        self.conditions = condition_names(files, conditions)
        self.strands = ["."]
        self.nan_to_num = nan_to_num
        self.collapser = _check_collapser(collapser, "mean")
        self.dtype = dtype
        self._sizes = []
        for f, p in zip(files, self.paths):  # validates every file
            with _named(f, p):
                self._sizes.append(bigwig_chrom_sizes(p))

    def file_chrom_sizes(self, i: int) -> dict[str, int]:
        """Chromosome sizes of BigWig file ``i``, from its header.

        Parameters
        ----------
        i
            Index of the file in ``files``.

        Returns
        -------
        dict[str, int]
            ``{chrom: length in bases}``, in the order of the file.

        See Also
        --------
        genozarr.ingest.Source.file_chrom_sizes
        """
        return self._sizes[i]

    def read_file(self, i: int, chrom: str, start: int, end: int) -> np.ndarray:
        """Per-base values of BigWig file ``i`` on ``[start, end)`` of ``chrom``.

        Parameters
        ----------
        i
            Index of the file in ``files``.
        chrom
            Chromosome as the file names it.
        start, end
            0-based half-open interval, in bases; it may reach outside the chromosome.

        Returns
        -------
        numpy.ndarray
            float32 of shape ``(end - start, 1, 1)``: bases without data are 0 (NaN with
            ``nan_to_num=False``), bases outside the chromosome ``pad_value``; all zeros
            on a chromosome the file lacks.

        See Also
        --------
        genozarr.ingest.Source.read_file
        """
        from genozarr.io.bigwig import read_values

        if self._is_absent(i, chrom):
            return np.zeros((end - start, 1, 1), dtype=np.float32)
        # outside the chromosome the store's pad value, not NaN (nan_to_num=False): a flank
        # before the start, the last bin's bases past the end; a collapsed edge bin keeps
        # the data it has
        values = read_values(self.paths[i], chrom, start, end, nan_to_num=self.nan_to_num,
                             pad=self.pad_value)
        return values.reshape(-1, 1, 1)

    def read_file_binned(self, i: int, chrom: str, start: int, end: int,
                         resolution: int) -> np.ndarray:
        """:meth:`read_file` collapsed to ``resolution``: with ``nan_to_num`` and a named
        collapser, binned by :func:`genozarr.io.bigwig.read_binned_values` (bases without
        data count as 0), else as :meth:`genozarr.ingest.Source.read_file_binned` does.

        Parameters
        ----------
        i
            Index of the file in ``files``.
        chrom
            Chromosome as the file names it.
        start, end
            0-based half-open interval, in bases; ``end - start`` a multiple of
            ``resolution``.
        resolution
            Bases per bin.

        Returns
        -------
        numpy.ndarray
            Shape ``((end - start) // resolution, 1, 1)``.

        See Also
        --------
        genozarr.ingest.Source.read_file_binned
        """
        # a named collapser of values whose gaps read as 0: the gaps are replaced in the
        # bins that hold one only (read_binned_values), not base by base first
        if resolution == 1 or not self.nan_to_num or not isinstance(self.collapser, str) \
                or self._is_absent(i, chrom):
            return super().read_file_binned(i, chrom, start, end, resolution)
        from genozarr.io.bigwig import read_binned_values

        return read_binned_values(self.paths[i], chrom, start, end, resolution,
                                  self.collapser).reshape(-1, 1, 1)


#: BAM reads whose decoding costs about what one more fetch (an index lookup and the
#: decompression of the BGZF block it lands in) does: two windows of a partial-layout task
#: with fewer reads than this between them are read as one span (10,000 sorted windows
#: of the benchmark corpus built fastest at a gap of about this many reads, ``docs/tuning.md``)
READS_PER_FETCH = 320
#: bounds of a BAM source's gap between windows read as one span (bases)
MERGE_GAP_MIN, MERGE_GAP_MAX = 512, 65_536


class BamSource(_AbsentChromsAsZeros, Source):
    """Read 5' ends counted per base and strand (see :func:`genozarr.io.bam.count_5prime`);
    a chromosome a file lacks reads as zeros (with a warning).

    Parameters
    ----------
    files
        Indexed BAM paths or URLs (a URL is read through its local copy in the input
        cache).
    conditions
        One name per file; None: the file names without their extensions
        (:func:`condition_names`).
    stranded
        Count the strands apart (strands ``'+'`` and ``'-'``); False sums them (strand
        ``'.'``).
    min_mapq
        Skip reads of a lower mapping quality; None counts every mapping quality.
    pairedend
        ``'5prime'`` (every read at its 5' end) or ``'midpoint'`` (read 1 of a proper
        pair at its fragment's midpoint); see :func:`genozarr.io.bam.count_5prime`.
    template_extension
        Bases beyond a window's ends within which reads are fetched (so that midpoints
        inside the window of fragments whose read 1 lies outside are found); >= 0.
    include_flagged
        Also count QC-failed (0x200) and duplicate (0x400) reads.
    dtype
        Dtype of the store built from the source.

    Raises
    ------
    ArgumentError
        For an unknown ``pairedend``, a ``min_mapq`` that is not a finite number, a
        negative ``template_extension``, or condition names that are not one per file or
        not unique.
    """

    bins_while_reading = True  # count_5prime counts per bin of the resolution

    def __init__(self, files: list[str], conditions: Sequence[str] | None = None, *,
                 stranded: bool = True, min_mapq: float | None = None, pairedend: str = "5prime",
                 template_extension: int = 0, include_flagged: bool = False,
                 dtype: str = "float32") -> None:
        from genozarr.io._handles import checks_once
        from genozarr.io.bam import PAIREDEND_MODES, bam_chrom_sizes, check_bam

        if pairedend not in PAIREDEND_MODES:
            raise ArgumentError(f"pairedend must be '5prime' or 'midpoint', got {pairedend!r}")
        if min_mapq is not None and (isinstance(min_mapq, (bool, np.bool_)) or
                                     not isinstance(min_mapq, (int, float, np.integer,
                                                               np.floating))
                                     or not np.isfinite(min_mapq)):
            raise ArgumentError(f"min_mapq must be a number (a mapping quality) or None, "
                                f"got {min_mapq!r}")
        self.paths = _local(files, "BAM")
        self.record_inputs(self.paths)
        self.files = files
        self._sizes = []
        with checks_once():  # each file checked once for the three reads below
            for f, p in zip(files, self.paths):
                with _named(f, p):
                    check_bam(p)
                    self._sizes.append(bam_chrom_sizes(p))
            self.merge_gap = self._merge_gap()
        self.conditions = condition_names(files, conditions)
        self.stranded = stranded
        self.strands = ["+", "-"] if stranded else ["."]
        self.min_mapq = min_mapq
        self.pairedend = pairedend
        from genozarr._validate import check_int

        self.template_extension = int(check_int("template_extension", template_extension, 0,
                                                allow_none=False))
        self.include_flagged = include_flagged
        self.collapser = "sum"
        self.dtype = dtype

    def _merge_gap(self) -> int | None:
        """Bases between two windows below which they are read as one span: as many as
        hold :data:`READS_PER_FETCH` reads at the files' mean density (from their
        indexes), within [:data:`MERGE_GAP_MIN`, :data:`MERGE_GAP_MAX`]; None (the
        default gap) where an index keeps no read counts."""
        from genozarr.io.bam import mapped_reads

        reads, bases = 0, 0
        for f, p, sizes in zip(self.files, self.paths, self._sizes):
            with _named(f, p):
                n = mapped_reads(p)
            if n is None:
                return None
            reads, bases = reads + n, bases + sum(sizes.values())
        if reads <= 0 or bases <= 0:
            return MERGE_GAP_MAX
        gap = int(READS_PER_FETCH * bases / reads)
        return min(max(gap, MERGE_GAP_MIN), MERGE_GAP_MAX)

    def file_chrom_sizes(self, i: int) -> dict[str, int]:
        """Chromosome sizes of BAM file ``i``, from its header.

        Parameters
        ----------
        i
            Index of the file in ``files``.

        Returns
        -------
        dict[str, int]
            ``{chrom: length in bases}``.

        See Also
        --------
        genozarr.ingest.Source.file_chrom_sizes
        """
        return self._sizes[i]

    @property
    def merges_windows(self) -> bool:
        """Not with ``pairedend='midpoint'``: how far a window's read reaches for read 1 of
        long fragments depends on the fragments it meets
        (:func:`~genozarr.io.bam.count_5prime`), so a window read within a span could count
        a fragment it misses when read alone."""
        return self.pairedend != "midpoint"

    def _counts(self, i: int, chrom: str, start: int, end: int,
                resolution: int) -> np.ndarray:
        """Counts of file ``i`` on ``[start, end)``. pairedend='midpoint': every fragment
        whose midpoint lies there counts, wherever its read 1 is, in both layouts (as in
        Janggu, which reads whole chromosomes); a fragment across two blocks of the
        whole-genome layout counts once, in the block of its midpoint."""
        from genozarr.io.bam import count_5prime

        if self._is_absent(i, chrom):
            return np.zeros((-(-(end - start) // resolution), len(self.strands), 1),
                            dtype=np.int32)
        counts = count_5prime(self.paths[i], chrom, start, end, min_mapq=self.min_mapq,
                              pairedend=self.pairedend,
                              template_extension=self.template_extension,
                              include_flagged=self.include_flagged, resolution=resolution,
                              all_midpoints=True)
        if not self.stranded:
            counts = counts.sum(axis=1, keepdims=True)
        return counts[:, :, None]

    def read_file(self, i: int, chrom: str, start: int, end: int) -> np.ndarray:
        """Read counts of BAM file ``i`` per base of ``[start, end)`` of ``chrom``.

        Parameters
        ----------
        i
            Index of the file in ``files``.
        chrom
            Chromosome as the file names it.
        start, end
            0-based half-open interval, in bases; bases outside the chromosome count 0.

        Returns
        -------
        numpy.ndarray
            Counts of shape ``(end - start, n_strands, 1)`` (2 strands, ``'+'`` then
            ``'-'``, int32, or 1 unstranded: the two summed, int64); all zeros on a
            chromosome the file lacks.

        See Also
        --------
        genozarr.ingest.Source.read_file
        """
        return self._counts(i, chrom, start, end, 1)

    def read_binned(self, chrom: str, start: int, end: int, resolution: int) -> np.ndarray:
        """Read counts of every file on ``[start, end)`` of region chromosome ``chrom``,
        counted per bin of ``resolution`` as the reads are scanned (no per-base values are
        held).

        Parameters
        ----------
        chrom
            Region chromosome name (mapped to each file's by ``chrom_names``).
        start, end
            0-based half-open interval, in bases.
        resolution
            Bases per bin; a last bin of fewer bases counts those.

        Returns
        -------
        numpy.ndarray
            Counts of shape ``(ceil((end - start) / resolution), n_strands, n_files)``
            (int32 stranded, int64 unstranded): the counts summed per bin, one condition
            per file.

        See Also
        --------
        genozarr.ingest.Source.read_binned
        """
        parts = [self._counts(i, self.chrom_names[i][chrom], start, end, resolution)
                 for i in range(len(self.files))]
        return np.concatenate(parts, axis=-1)


def _paint_dtype(dtype: str) -> Any:
    """What BED features are painted in for a store of ``dtype``: float64 where it holds
    more than float32 does exactly (float64, integers of 4 bytes or more: a score of
    16777217 stays 16777217), else float32."""
    from genozarr.store.dtypes import store_dtype

    dt = np.dtype(store_dtype(dtype))
    wide = dt.itemsize >= 8 or (dt.kind in "iu" and dt.itemsize >= 4)
    return np.float64 if wide else np.float32


class BedSource(Source):
    """BED features as coverage: modes binary, score, bedgraph, categorical
    (= score_category) and name_category.

    ``minoverlap`` (as Janggu's): a fraction of the dataset window, flank included (the
    part of a zero-padded last window past its region end is not part of it); where the
    file's features cover less of it, the window is 0. In the whole-genome layout there
    are no windows at ingest, and the fraction is one of each resolution bin.

    Parameters
    ----------
    files
        BED (bedGraph, narrowPeak, ...) or GFF/GTF paths or URLs (a URL is read through
        its local copy in the input cache).
    conditions
        One name per file; in the category modes (one file), one name per category.
        None: the file names without their extensions, or the categories.
    mode
        One of :attr:`MODES`: ``'binary'`` (1 under a feature), ``'score'`` (the score
        column: BED's 5th, GFF's 6th), ``'bedgraph'`` (the 4th column),
        ``'categorical'`` (= ``'score_category'``) or ``'name_category'`` (one-hot over
        the scores or names, one condition per category).
    minoverlap
        Fraction in ``(0, 1]`` of a window (of a resolution bin in the whole-genome
        layout) the features must cover for it to be non-zero; None: no minimum.
    collapser
        ``'sum'``, ``'mean'``, ``'max'``, ``'min'`` or a callable reducing the bases of a
        bin; None: ``'max'``.
    dtype
        Dtype of the store built from the source (wide dtypes paint the features in
        float64).
    feature
        For GFF/GTF files, the feature type (3rd column) to keep; None keeps all.

    Raises
    ------
    ArgumentError
        For an unknown ``mode``, a bad ``minoverlap`` or ``dtype``, ``mode='bedgraph'``
        with a GFF/GTF file, a score mode on a file without scores (or with a score the
        painting dtype cannot hold), a category mode on other than one file or on a file
        without features, or condition names that do not fit.
    """

    MODES = ("binary", "score", "bedgraph", "categorical", "score_category", "name_category")

    def __init__(self, files: list[str], conditions: Sequence[str] | None = None, *,
                 mode: str = "binary", minoverlap: float | None = None, collapser: Any = None,
                 dtype: str = "float32", feature: str | None = None) -> None:
        from genozarr.io.bed import bed_categories, read_bed
        from genozarr.io.gff import read_gff
        from genozarr.regions import _GFF_SUFFIXES
        from genozarr.store.dtypes import check_store_dtype

        if mode not in self.MODES:
            raise ArgumentError(f"mode must be one of {self.MODES}, got {mode!r}")
        check_store_dtype(dtype)  # (before numpy's own error in the painting below)
        if minoverlap is not None and (
                not isinstance(minoverlap, (int, float, np.integer, np.floating))
                or isinstance(minoverlap, (bool, np.bool_)) or not 0 < minoverlap <= 1):
            # (True passed as 1.0; a string failed in a comparison)
            raise ArgumentError(f"minoverlap must be a fraction in (0, 1], got {minoverlap!r}")
        self.mode = "score_category" if mode == "categorical" else mode
        self.files = files
        self.paths = _local(files, "BED")
        self.record_inputs(self.paths)
        self.frames = []
        gff = [Path(urlsplit(str(f)).path if is_remote(f) else str(f)).name.lower()
               .endswith(_GFF_SUFFIXES) for f in files]
        self.gff = any(gff)
        for f, p, is_gff in zip(files, self.paths, gff):
            if is_gff and mode == "bedgraph":
                raise ArgumentError(f"{f}: a GFF/GTF file has no bedGraph value column; "
                                    "mode='score' paints its score column (the 6th)")
            with _named(f, p):
                # GFF/GTF features as Janggu read them (through pybedtools): the feature
                # lines that regions read (feature=), 0-based, named, scored
                self.frames.append(read_gff(p, feature=feature) if is_gff
                                   else read_bed(p, bedgraph=(mode == "bedgraph")))
        self.minoverlap = minoverlap
        self.collapser = _check_collapser(collapser, "max")
        self.dtype = dtype
        self._paint_dtype = _paint_dtype(dtype)
        self.strands = ["."]
        if self.mode in ("score", "bedgraph"):
            from genozarr.store.dtypes import fit_problem

            for f, df, is_gff in zip(files, self.frames, gff):
                if df["score"].isna().all():
                    column = "4th" if mode == "bedgraph" else "6th" if is_gff else "5th"
                    import pandas as pd

                    names = pd.to_numeric(df["name"], errors="coerce")
                    # (a bedGraph has 4 columns: a BED file of 6 whose names are numbers
                    # is not one, and mode='bedgraph' would paint its names)
                    hint = ("; it has 4 columns, the 4th of numbers: a bedGraph file, read "
                            "it with mode='bedgraph'" if mode == "score" and not is_gff
                            and df.attrs.get("fields") == 4 and len(df)
                            and names.notna().all() else "")
                    raise ArgumentError(
                        f"{f}: mode={mode!r} needs scores (the {column} column), but the file "
                        f"has none: no such column, or every score is '.' or nan{hint}")
                # a score past what the features are painted in (float32 for most
                # stores) would become an infinity there, before the store's own check
                problem = fit_problem(df["score"].to_numpy(dtype=np.float64),
                                      np.dtype(self._paint_dtype).name)
                if problem is not None:
                    raise ArgumentError(
                        f"{f}: a score in the file {problem} (dtype={dtype!r}); choose "
                        "dtype='float64' or scale the scores")
        if self.mode.endswith("category"):
            if len(files) != 1:
                raise ArgumentError(f"mode={mode!r} takes exactly one BED file, got {len(files)}")
            self.categories = bed_categories(self.frames[0], self.mode)
            if not self.categories:
                raise ArgumentError(f"{files[0]}: the file has no features, so no categories "
                                    f"for mode={mode!r} (its conditions)")
            self.conditions = ([str(c) for c in conditions] if conditions is not None
                               else [str(c) for c in self.categories])
            if len(self.conditions) != len(self.categories):
                raise ArgumentError(f"{files[0]}: {len(self.categories)} categories "
                                    f"{self.categories} but {len(self.conditions)} conditions")
        else:
            self.categories = None
            self.conditions = condition_names(files, conditions)

    def file_chrom_sizes(self, i: int) -> dict[str, int]:
        """The chromosomes that hold features in file ``i``, each of length 0 (a BED file
        has no header to give lengths).

        Parameters
        ----------
        i
            Index of the file in ``files``.

        Returns
        -------
        dict[str, int]
            ``{chrom: 0}`` for every chromosome with a feature, in order of appearance.

        See Also
        --------
        genozarr.ingest.Source.file_chrom_sizes
        """
        # a BED file has no header: every chromosome is acceptable (features may be absent)
        df = self.frames[i]
        return dict.fromkeys(df["chrom"].unique().tolist(), 0)

    def resolve_chroms(self, chroms: list[str], mapping: Any = None) -> None:
        """Match region chromosome names to every file's: a chromosome without features in
        a file reads as 0 there (no error); a file with features on none of them warns.

        Parameters
        ----------
        chroms
            Chromosome names of the regions.
        mapping
            None: names as they are; ``'auto'``: a name the file lacks takes its twin
            (``chr1``/``1``, ``chrM``/``MT``) where the file has it; a dict: explicit
            ``{region name: file name}`` renames.

        Raises
        ------
        ChromosomeNamingError
            Where names differ only by a ``chr`` prefix (or ``chrM``/``MT``) and
            ``mapping`` is not ``'auto'``.

        Warns
        -----
        MissingChromosomeWarning
            For a file with features, none of them on the regions' chromosomes.

        See Also
        --------
        genozarr.ingest.Source.resolve_chroms
        """
        from genozarr.genome import twin_of

        self.chrom_names = []
        for f, df in zip(self.files, self.frames):
            present = set(df["chrom"].unique().tolist())
            names = {}
            for c in chroms:
                target = mapping.get(c, c) if isinstance(mapping, Mapping) else c
                if target not in present and mapping == "auto" \
                        and (twin := twin_of(target, present)) is not None:
                    target = twin
                names[c] = target
            twins = [c for c in chroms
                     if names[c] not in present and twin_of(names[c], present) is not None]
            if twins and mapping != "auto":
                raise ChromosomeNamingError(
                    f"{f}: chromosome names differ by a 'chr' prefix (or chrM/MT) between the "
                    f"regions and the BED file ({twins[0]!r} vs "
                    f"{twin_of(names[twins[0]], present)!r}); pass chrom_map='auto' or rename "
                    "one side")
            if present and chroms and not present & set(names.values()):
                # features may be absent from a chromosome, but from every one of them:
                # the names differ ('Chr1', 'NC_000001.11', a trailing blank)
                from genozarr.errors import warn
                from genozarr.genome import MissingChromosomeWarning

                warn(f"{f} has features on none of the regions' chromosomes (it has "
                     f"{sorted(present)[:5]}, the regions {list(chroms)[:5]}): it gives 0 "
                     "everywhere. Check the chromosome names, or map them with chrom_map",
                     MissingChromosomeWarning)
            self.chrom_names.append(names)

    def _paint(self, i: int, chrom: str, start: int, end: int) -> tuple[np.ndarray, np.ndarray]:
        from genozarr.io.bed import bed_paint

        return bed_paint(self.frames[i], chrom, start, end, mode=self.mode,
                         categories=self.categories, dtype=self._paint_dtype)


    def read_file(self, i: int, chrom: str, start: int, end: int,
                  window_end: int | None = None) -> np.ndarray:
        """Per-base values of file ``i`` over one dataset window ``[start, end)`` (flank
        included): with ``minoverlap``, all zero unless the file's features cover at least
        that fraction of the window (Janggu's rule). ``window_end``: where the window
        ends when the read stops before it (at the chromosome end: the bases past it are
        part of the window, uncovered, as those before the chromosome start are).

        Parameters
        ----------
        i
            Index of the file in ``files``.
        chrom
            Chromosome as the file names it.
        start, end
            0-based half-open interval read, in bases (``start`` may be negative).
        window_end
            End of the dataset window when it lies past ``end``; None: ``end``. The
            ``minoverlap`` fraction is of ``max(end, window_end) - start`` bases.

        Returns
        -------
        numpy.ndarray
            Shape ``(end - start, 1, n_channels)`` (one channel, or one per category in
            the category modes), float32 (float64 for wide store dtypes); 0 outside
            features.

        See Also
        --------
        genozarr.ingest.Source.read_file
        """
        values, covered = self._paint(i, chrom, start, end)
        length = (end if window_end is None else max(end, window_end)) - start
        if self.minoverlap is not None and length > 0 and \
                covered.any(axis=1).sum() / length < self.minoverlap:
            values[:] = 0
        return values[:, None, :]

    @property
    def merges_windows(self) -> bool:
        """Nearby windows are read as one span unless ``minoverlap`` makes a window's
        values depend on the window, or a category mode paints a channel per category
        (a span's painting would hold them all: windows are read one by one there)."""
        return self.minoverlap is None and not self.mode.endswith("category")

    def channels_per_file(self) -> int:
        """One channel per category in the category modes (what bounds a read's bases).

        Returns
        -------
        int
            The number of categories in the category modes, else 1.
        """
        return len(self.categories) if self.mode.endswith("category") else 1

    @property
    def read_itemsize(self) -> int:  # type: ignore[override]
        """Bytes per painted value (float64 for wide store dtypes)."""
        return int(np.dtype(self._paint_dtype).itemsize)

    def read_window(self, chrom: str, start: int, end: int, limit: int = 0) -> np.ndarray:
        """One partial-layout window ``[start, end)``, read up to ``limit``, whose
        ``minoverlap`` fraction is of the whole window (see :meth:`read_file`).

        Parameters
        ----------
        chrom
            Region chromosome name.
        start, end
            0-based half-open window, in bases (flank included).
        limit
            The chromosome's length as the dataset has it: the read stops there (not
            before ``start``); 0 or less: no limit.

        Returns
        -------
        numpy.ndarray
            Shape ``(stop - start, 1, n_conditions)``, ``stop = min(end, max(start,
            limit))`` where ``limit > 0``, else ``end``.

        See Also
        --------
        genozarr.ingest.Source.read_window
        """
        stop = min(end, max(start, limit)) if limit > 0 else end
        parts = [self.read_file(i, self.chrom_names[i][chrom], start, stop, end)
                 for i in range(len(self.files))]
        return parts[0] if len(parts) == 1 else np.concatenate(parts, axis=-1)

    def read_binned(self, chrom: str, start: int, end: int, resolution: int) -> np.ndarray:
        """Values over a block of a chromosome (whole-genome layout), collapsed to the
        resolution: there are no windows at ingest, so ``minoverlap`` is a fraction of
        each resolution bin (at resolution 1, of each base).

        Parameters
        ----------
        chrom
            Region chromosome name.
        start, end
            0-based half-open interval, in bases.
        resolution
            Bases per bin, reduced with ``collapser``; a partial last bin is padded with
            uncovered bases.

        Returns
        -------
        numpy.ndarray
            Shape ``(ceil((end - start) / resolution), 1, n_conditions)``.

        See Also
        --------
        genozarr.ingest.Source.read_binned
        """
        from genozarr._kernels import collapse

        parts = []
        for i in range(len(self.files)):
            values, covered = self._paint(i, self.chrom_names[i][chrom], start, end)
            n = end - start
            nbins = -(-n // resolution)
            if nbins * resolution != n:  # pad a partial last bin (not used by the builders)
                values = np.concatenate([values, np.zeros(
                    (nbins * resolution - n, values.shape[1]), values.dtype)])
                covered = np.concatenate([covered, np.zeros(
                    (nbins * resolution - n, covered.shape[1]), bool)])
            binned = values[:, None, :]
            if resolution > 1:
                binned = np.array(collapse(binned, resolution, self.collapser), copy=True)
            if self.minoverlap is not None:
                fraction = covered.any(axis=1).reshape(nbins, resolution).mean(axis=1)
                binned[fraction < self.minoverlap] = 0
            parts.append(binned)
        return parts[0] if len(parts) == 1 else np.concatenate(parts, axis=-1)


class FastaSource(Source):
    """Reference-genome sequence as uint8 codes (1 byte per base), from an indexed FASTA
    file or a UCSC 2bit file.

    A 2bit genome is recognised by its magic number or its ``.2bit`` suffix
    (:func:`genozarr.io.twobit.is_twobit`) and read with :mod:`genozarr.io.twobit`;
    soft-masked (lower-case) bases encode like upper-case ones and N blocks as ``N``, as in
    a FASTA file. 2bit files hold DNA only.

    Parameters
    ----------
    fasta
        FASTA (``.fai`` built if missing) or 2bit path.
    seqtype
        ``'dna'`` or ``'protein'`` (FASTA only).
    """

    kind = "sequence"

    #: bases read and encoded at a time
    PIECE_BASES = 1 << 20

    def __init__(self, fasta: str, seqtype: str = "dna") -> None:
        from genozarr._kernels import invalid_code
        from genozarr.io.fasta import fasta_chrom_sizes
        from genozarr.io.twobit import is_twobit, twobit_chrom_sizes

        self.files = [fasta]
        self.paths = _local(self.files, "FASTA")
        self.record_inputs(self.paths)
        local = self.paths[0]
        self.seqtype = seqtype
        self.conditions = ["seq"]
        self.strands = ["."]
        self.dtype = "uint8"
        self.read_itemsize = 1
        self.pad_value = invalid_code(seqtype)
        self.collapser = "max"
        self.twobit = is_twobit(local)
        if self.twobit and seqtype != "dna":
            raise ArgumentError(
                f"{fasta}: a 2bit file holds DNA only; seqtype must be 'dna', got {seqtype!r}")
        with _named(fasta, local):
            self._sizes = twobit_chrom_sizes(local) if self.twobit else fasta_chrom_sizes(local)

    def file_chrom_sizes(self, i: int) -> dict[str, int]:
        """Sequence lengths of the FASTA (from its ``.fai`` index) or 2bit file.

        Parameters
        ----------
        i
            Index of the file (the source has one; any value gives its sizes).

        Returns
        -------
        dict[str, int]
            ``{record name: length in bases}``.

        See Also
        --------
        genozarr.ingest.Source.file_chrom_sizes
        """
        return self._sizes

    def resolve_chroms(self, chroms: list[str], mapping: Any = None) -> None:
        """As :meth:`genozarr.ingest.Source.resolve_chroms`; a FASTA record of the regions
        that holds no bases is named as such in the error.

        Parameters
        ----------
        chroms
            Chromosome names of the regions.
        mapping
            As in :meth:`genozarr.ingest.Source.resolve_chroms`.

        Raises
        ------
        ChromosomeNotFoundError
            If the file lacks a chromosome of the regions, or its record holds no bases.
        ChromosomeNamingError
            If names differ only by the ``chr`` prefix and no mapping was given.
        """
        from genozarr.errors import ChromosomeNamingError, ChromosomeNotFoundError

        try:
            super().resolve_chroms(chroms, mapping)
        except ChromosomeNotFoundError as e:
            if self.twobit or isinstance(e, ChromosomeNamingError):
                raise
            # a record without bases is not in the index: say so, not 'not found'
            from genozarr.genome import chrom_twins, twin_of
            from genozarr.io.fasta import empty_records

            auto = mapping == "auto"
            named = {c: mapping.get(c, c) if isinstance(mapping, Mapping) else c
                     for c in chroms}
            missing = [c for c in dict.fromkeys(named.values()) if c not in self._sizes
                       and not (auto and twin_of(c, self._sizes) is not None)]

            def forms(c: str) -> tuple[str, ...]:  # with 'auto', an empty twin too ('2')
                return (c, *chrom_twins(c)) if auto else (c,)

            empty = empty_records(self.paths[0], [f for c in missing for f in forms(c)])
            if not empty:
                raise
            absent = [c for c in missing if not any(f in empty for f in forms(c))]
            raise ChromosomeNotFoundError(
                f"{self.files[0]}: the record(s) {empty[:5]} of the regions hold no bases "
                "(a header line with no sequence after it), so no window can be read "
                "there; leave those regions out, or give the sequence"
                + (f"; and {absent[:5]} are not in the file (it has "
                   f"{list(self._sizes)[:10]})" if absent else "")) from e

    def read_file(self, i: int, chrom: str, start: int, end: int) -> np.ndarray:
        """Sequence codes of ``[start, end)`` of record ``chrom``.

        Parameters
        ----------
        i
            Index of the file (the source has one; not used).
        chrom
            Record name as the file has it.
        start, end
            0-based half-open interval, in bases; it may reach outside the record.

        Returns
        -------
        numpy.ndarray
            uint8 codes of shape ``(end - start, 1, 1)`` (lower case encodes as upper
            case); outside the record, the code of an unknown letter (``pad_value``).

        See Also
        --------
        genozarr.ingest.Source.read_file
        """
        from genozarr._kernels import encode_sequence
        from genozarr.genome import check_span

        if self.twobit:
            from genozarr.io.twobit import read_twobit_sequence as read_sequence
        else:
            from genozarr.io.fasta import read_sequence

        # the encoding table reads both cases: no upper-casing pass; outside the sequence,
        # '-', the unknown letter's code in every alphabet ('N' is asparagine in protein)
        if end - start <= self.PIECE_BASES:
            seq = read_sequence(self.paths[0], chrom, start, end, b"-", upper=False)
            return encode_sequence(seq, self.seqtype).reshape(-1, 1, 1)
        # a long interval piece by piece into one array: the text and bytes of a piece stay
        # in the CPU caches (a whole 8 Mb block at once ran 4-5x slower per base)
        if chrom in self._sizes:  # the whole interval, for the message (pieces check again)
            check_span(chrom, start, end, self._sizes[chrom], str(self.files[0]))
        out = np.empty((end - start, 1, 1), dtype=np.uint8)
        for lo in range(start, end, self.PIECE_BASES):
            hi = min(lo + self.PIECE_BASES, end)
            seq = read_sequence(self.paths[0], chrom, lo, hi, b"-", upper=False)
            out[lo - start:hi - start, 0, 0] = encode_sequence(seq, self.seqtype)
        return out


class RecordsSource(Source):
    """Sequences held in memory (``Bioseq.create_from_seq``), keyed by record name.

    Parameters
    ----------
    files
        The files the records came from (they name the source in the cache key and the
        recipe; not read).
    records
        ``{record name: uint8 codes}``, each a 1-D array of one code per base.
    seqtype
        ``'dna'`` or ``'protein'``: sets the padding code (an unknown letter's).
    """

    kind = "sequence"

    def __init__(self, files: list[str], records: dict[str, np.ndarray],
                 seqtype: str = "dna") -> None:
        from genozarr._kernels import invalid_code

        self.files = list(files)  # (the records of all of them: one channel)
        self.records = records
        self.seqtype = seqtype
        self.conditions = ["seq"]
        self.strands = ["."]
        self.dtype = "uint8"
        self.read_itemsize = 1
        self.pad_value = invalid_code(seqtype)
        self.collapser = "max"
        self.chrom_names = [{k: k for k in records}]

    def file_chrom_sizes(self, i: int) -> dict[str, int]:
        """Lengths of the records (of all files: any ``i`` gives them all).

        Parameters
        ----------
        i
            Index of a file (not used).

        Returns
        -------
        dict[str, int]
            ``{record name: length in bases}``.

        See Also
        --------
        genozarr.ingest.Source.file_chrom_sizes
        """
        return {k: len(v) for k, v in self.records.items()}

    def resolve_chroms(self, chroms: list[str], mapping: Any = None) -> None:
        """Nothing to match: the regions name the records themselves (``chrom_names`` is
        set by the constructor); neither argument is used.

        Parameters
        ----------
        chroms
            Chromosome names of the regions (not checked).
        mapping
            Ignored.

        See Also
        --------
        genozarr.ingest.Source.resolve_chroms
        """

    def read_file(self, i: int, chrom: str, start: int, end: int) -> np.ndarray:
        """Codes of record ``chrom`` on ``[start, end)``.

        Parameters
        ----------
        i
            Index of a file (not used: the records of all files are one channel).
        chrom
            Record name.
        start, end
            0-based half-open interval, in bases; it may reach outside the record.

        Returns
        -------
        numpy.ndarray
            uint8 codes of shape ``(end - start, 1, 1)``, ``pad_value`` outside the
            record.

        See Also
        --------
        genozarr.ingest.Source.read_file
        """
        codes = self.records[chrom]
        out = np.full(end - start, self.pad_value, dtype=np.uint8)
        lo, hi = max(start, 0), min(end, len(codes))
        if hi > lo:
            out[lo - start:hi - start] = codes[lo:hi]
        return out.reshape(-1, 1, 1)

    def read(self, chrom: str, start: int, end: int) -> np.ndarray:
        """The record ``chrom`` on ``[start, end)``: one channel, however many files the
        records came from (``files`` names them all, for the cache key and the recipe).

        Parameters
        ----------
        chrom
            Record name.
        start, end
            0-based half-open interval, in bases.

        Returns
        -------
        numpy.ndarray
            uint8 codes of shape ``(end - start, 1, 1)`` (see :meth:`read_file`).
        """
        return self.read_file(0, chrom, start, end)


class ArraySource(Source):
    """Base-resolution tracks held in memory: ``{chrom: array (length, strand, condition)}``.

    Parameters
    ----------
    name
        Name of the data (the source's one "file", for the cache key and the recipe).
    tracks
        ``{chrom: values}``, each of shape ``(chromosome length, n_strands,
        n_conditions)``, one value per base.
    conditions
        Names along the condition axis of the tracks.
    strands
        Names along the strand axis of the tracks.
    dtype
        Dtype of the store built from the source.
    pad_value
        Value of bases outside a chromosome.
    collapser
        How the bases of a bin are reduced (see :func:`genozarr._kernels.collapse`).
    """

    def __init__(self, name: str, tracks: Mapping[str, np.ndarray], conditions: Sequence[str],
                 strands: Sequence[str], dtype: str = "float32", pad_value: float = 0,
                 collapser: Any = "sum") -> None:
        self.files = [name]
        self.tracks = {k: np.asarray(v) for k, v in tracks.items()}
        self.conditions = list(conditions)
        self.strands = list(strands)
        self.dtype = dtype
        self.pad_value = pad_value
        self.collapser = collapser
        self.chrom_names = [{k: k for k in self.tracks}]

    def file_chrom_sizes(self, i: int) -> dict[str, int]:
        """Lengths of the tracks.

        Parameters
        ----------
        i
            Index of the file (the source has one; not used).

        Returns
        -------
        dict[str, int]
            ``{chrom: length in bases}``.

        See Also
        --------
        genozarr.ingest.Source.file_chrom_sizes
        """
        return {k: v.shape[0] for k, v in self.tracks.items()}

    def read_file(self, i: int, chrom: str, start: int, end: int) -> np.ndarray:
        """Values of the track of ``chrom`` on ``[start, end)``.

        Parameters
        ----------
        i
            Index of the file (the source has one; not used).
        chrom
            Chromosome name, a key of ``tracks``.
        start, end
            0-based half-open interval, in bases; it may reach outside the chromosome.

        Returns
        -------
        numpy.ndarray
            Shape ``(end - start, n_strands, n_conditions)``, of the track's dtype,
            ``pad_value`` outside the chromosome.

        See Also
        --------
        genozarr.ingest.Source.read_file
        """
        track = self.tracks[chrom]
        out = np.full((end - start,) + track.shape[1:], self.pad_value, dtype=track.dtype)
        lo, hi = max(start, 0), min(end, track.shape[0])
        if hi > lo:
            out[lo - start:hi - start] = track[lo:hi]
        return out
