"""Names of Janggu's data layer (``janggu.data``) that genozarr's datasets do not cover.

- :class:`Array`: a named numpy array that batches like a dataset (Janggu's ``Array``);
- :func:`split_train_test`: training and test views by held-out chromosomes, for one
  dataset or for ``(inputs, outputs)`` tuples, lists and dicts of them;
- :func:`subset`: a view of the windows on (or not on) some chromosomes;
- :func:`get_genome_size`: chromosome sizes of a reference FASTA;
- :func:`normalize_garray_tpm`: TPM normalization of a dataset or an opened store;
- :func:`iter_seqrecords`: Biopython ``SeqRecord`` lists as FASTA records (re-exported from
  :mod:`genozarr.io.fasta`).

Janggu's ``GenomicArray``, ``create_genomic_array`` and ``garray.handle`` have no
counterpart: a genozarr dataset reads a zarr store (``dataset.garray`` is a
:class:`~genozarr.store.Store`); see the page *Coming from Janggu*.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from genozarr.errors import ArgumentError, InputFileError, get_logger
from genozarr.io.fasta import iter_seqrecords

__all__ = ["Array", "split_train_test", "subset", "get_genome_size", "normalize_garray_tpm",
           "iter_seqrecords"]

log = get_logger(__name__)


class Array:
    """A numpy array with a name, used like a dataset (Janggu's ``Array``).

    Useful for labels or features that are not genomic tracks: it batches alongside
    :class:`~genozarr.dataset.Cover` and :class:`~genozarr.dataset.Bioseq` in
    :func:`genozarr.batches`, the Keras and PyTorch adapters and
    :func:`split_train_test`.

    Parameters
    ----------
    name
        Name of the dataset (the key of its batches where datasets are named).
    array
        The values; the first axis indexes the examples.
    conditions
        Condition (label) names, optional: one per entry of the last axis of
        :attr:`shape`.

    Examples
    --------
    >>> labels = Array("labels", np.array([0, 1, 1]), conditions=["bound"])
    >>> len(labels), labels.shape, labels[[0, 2]].tolist()
    (3, (3, 1), [0, 1])
    """

    def __init__(self, name: str, array: Any, conditions: Sequence[str] | None = None) -> None:
        if not isinstance(name, str) or not name:
            raise ArgumentError(f"name must be a non-empty string, got {name!r}")
        data = np.asarray(array)
        if data.ndim == 0:
            raise ArgumentError(f"Array {name!r} needs at least one axis (the examples), "
                                "got a scalar")
        self.name = name
        self.data = data
        self.conditions = None if conditions is None else [str(c) for c in (
            [conditions] if isinstance(conditions, str) else conditions)]
        width = self.shape[-1]  # (a 1-d array: one condition, as its shape says)
        if self.conditions is not None and len(self.conditions) != width:
            # (as Janggu asserted: the names label the last axis)
            raise ArgumentError(
                f"Array {name!r}: {len(self.conditions)} condition name(s) "
                f"{self.conditions[:4]} for the last axis of shape {self.shape}, which has "
                f"{width}")

    def __repr__(self) -> str:
        return f"Array('{self.name}', shape={self.shape})"

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, idxs: Any) -> np.ndarray:
        return self.data[idxs]

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of the data; a 1-d array has shape ``(n, 1)`` (as Janggu)."""
        if self.data.ndim == 1:
            return self.data.shape + (1,)
        return tuple(self.data.shape)

    @property
    def ndim(self) -> int:
        """Number of dimensions of :attr:`shape`."""
        return len(self.shape)

    def subset(self, index: Any) -> Array:
        """Some examples as a new Array.

        Parameters
        ----------
        index
            An int (an Array of one example), ints, a slice or a boolean mask.

        Returns
        -------
        Array
            With this one's name and conditions.
        """
        if np.ndim(index) == 0 and np.issubdtype(np.asarray(index).dtype, np.integer):
            index = [int(index)]  # (an example keeps its axis, as a batch)
        return Array(self.name, self.data[index], self.conditions)


# ---------------------------------------------------------------------------- splitting
def _is_genomic(obj: Any) -> bool:
    return hasattr(obj, "gindexer") and not isinstance(obj, (Mapping, list, tuple))


def _leaves(structure: Any) -> list[Any]:
    if isinstance(structure, Mapping):
        return [leaf for v in structure.values() for leaf in _leaves(v)]
    if isinstance(structure, (list, tuple)):
        return [leaf for v in structure for leaf in _leaves(v)]
    return [structure]


def _take(obj: Any, index: np.ndarray) -> Any:
    """The examples ``index`` of one dataset, array or wrapper, sharing storage where it
    can (datasets read the same store)."""
    from genozarr.dataset import Dataset
    from genozarr.wrappers import Wrapper

    if isinstance(obj, (Dataset, Array)):
        return obj.subset(index)
    if isinstance(obj, Wrapper):  # the examples of the dataset it wraps, as for a dataset
        return obj._rewrap(_take(obj.data, index))
    if _is_genomic(obj):
        from genozarr.wrappers import view

        return view(obj, index)
    if isinstance(obj, np.ndarray) or hasattr(obj, "__array__"):
        return np.asarray(obj)[index]
    raise ArgumentError(
        f"cannot split a {type(obj).__name__}: expected a genozarr dataset, wrapper, Array or "
        "numpy array")


def _rebuild(structure: Any, index: np.ndarray) -> Any:
    if isinstance(structure, Mapping):
        return {k: _rebuild(v, index) for k, v in structure.items()}
    if isinstance(structure, (list, tuple)):
        return type(structure)(_rebuild(v, index) for v in structure)
    return _take(structure, index)


def _chrom_list(chroms: str | Sequence[str] | None, what: str) -> list[str] | None:
    if chroms is None:
        return None
    if isinstance(chroms, str):
        return [chroms]
    out = list(chroms)
    if not all(isinstance(c, str) for c in out):
        raise ArgumentError(f"{what} must be chromosome names (str), got {chroms!r}")
    return out


def _index_by_chroms(structure: Any, include: list[str] | None,
                     exclude: list[str] | None) -> np.ndarray:
    """Window indices on ``include`` and not on ``exclude``, the same for every genomic
    dataset of ``structure``."""
    leaves = _leaves(structure)
    genomic = [leaf for leaf in leaves if _is_genomic(leaf)]
    if not genomic:
        raise ArgumentError(
            "no genomic dataset (Cover, Bioseq or a wrapper of one) to take the chromosomes "
            "from: numpy arrays and Arrays are split along the windows of one")
    index = None
    for ds in genomic:
        idx = np.asarray(ds.gindexer.idx_by_region(include=include, exclude=exclude),
                         dtype=np.int64)
        if index is None:
            index = idx
        elif not np.array_equal(idx, index):
            raise ArgumentError(
                f"the datasets do not have the same windows: {getattr(ds, 'name', ds)!r} "
                "selects other windows than the first dataset; build them from the same "
                "regions (and random_state)")
    assert index is not None
    n = len(genomic[0])
    for leaf in leaves:
        if len(leaf) != n:
            raise ArgumentError(
                f"{getattr(leaf, 'name', type(leaf).__name__)!r} has {len(leaf)} examples, "
                f"the genomic datasets {n}")
    from genozarr.dataset import Dataset
    from genozarr.wrappers import Wrapper

    base = genomic[0]
    while isinstance(base, Wrapper):  # the dataset it wraps
        base = base.data
    # the examples of those windows (a personal genome's: its items of each window)
    return base._examples_of(index) if isinstance(base, Dataset) else index


def split_train_test(datasets: Any, holdout_chroms: str | Sequence[str]) -> tuple[Any, Any]:
    """Training and test views of datasets by held-out chromosomes (Janggu's
    ``split_train_test``).

    The training part holds the windows not on ``holdout_chroms``, the test part those on
    them. Datasets are split without copying (:meth:`~genozarr.dataset.Dataset.subset`:
    the views read the same store, with the same fitted normalizers); numpy arrays and
    :class:`Array` objects in the structure are split along the windows of the genomic
    datasets (all of which must have the same windows). A personal genome's examples are
    its items (window x sample x haplotype): each part holds every item of its windows,
    and arrays beside it are split along its items.

    Parameters
    ----------
    datasets
        A :class:`~genozarr.dataset.Cover` or :class:`~genozarr.dataset.Bioseq` (or a
        wrapper of one), or a tuple, list or dict of them, nested as you like, for example
        ``(inputs, outputs)`` or ``{"dna": DNA, "labels": LABELS}``.
    holdout_chroms
        Chromosome name(s) of the test part.

    Returns
    -------
    tuple
        ``(train, test)``, each of the structure of ``datasets``.

    Raises
    ------
    ArgumentError
        Without a genomic dataset, when the datasets' windows differ, or when
        ``holdout_chroms`` is empty.

    Examples
    --------
    >>> from genozarr import Cover, GenomicIndexer
    >>> gi = GenomicIndexer(["chr1", "chr2", "chr1"], [0, 0, 10], [10, 10, 20], ["."] * 3,
    ...                     10, 10)
    >>> cover = Cover.create_from_array("c", np.arange(30.0).reshape(3, 10, 1, 1), gi)
    >>> (x_train, y_train), (x_test, y_test) = split_train_test(
    ...     (cover, np.array([0, 1, 2])), holdout_chroms=["chr2"])
    >>> len(x_train), y_train.tolist(), y_test.tolist()
    (2, [0, 2], [1])
    """
    holdout = _chrom_list(holdout_chroms, "holdout_chroms")
    if not holdout:  # idx_by_region reads include=[] as every chromosome (as Janggu)
        raise ArgumentError(
            "split_train_test: holdout_chroms names no chromosome; the test part would hold "
            "every window (Janggu's include=[] means all chromosomes), the training ones too")
    train = _index_by_chroms(datasets, None, holdout)
    test = _index_by_chroms(datasets, holdout, None)
    return _rebuild(datasets, train), _rebuild(datasets, test)


def subset(dataset: Any, include_regions: str | Sequence[str] | None = None,
           exclude_regions: str | Sequence[str] | None = None) -> Any:
    """A view of the windows on the ``include_regions`` chromosomes and not on the
    ``exclude_regions`` ones (Janggu's ``subset``; the names are chromosome names).

    Parameters
    ----------
    dataset
        A dataset or wrapper, or a tuple, list or dict of them (split alike).
    include_regions
        Chromosome name(s) to keep; None keeps every chromosome.
    exclude_regions
        Chromosome name(s) to drop.

    Returns
    -------
    object
        Of the type (structure) of ``dataset``, reading the same store.

    Examples
    --------
    >>> from genozarr import Cover, GenomicIndexer
    >>> gi = GenomicIndexer(["chr1", "chr2"], [0, 0], [10, 10], ["."] * 2, 10, 10)
    >>> cover = Cover.create_from_array("c", np.ones((2, 10, 1, 1)), gi)
    >>> subset(cover, include_regions="chr2").gindexer.tostr()
    ['chr2:0-10']
    """
    include = _chrom_list(include_regions, "include_regions")
    exclude = _chrom_list(exclude_regions, "exclude_regions")
    return _rebuild(dataset, _index_by_chroms(dataset, include, exclude))


# ---------------------------------------------------------------------------- genome
def get_genome_size(refgenome: str | os.PathLike, outputfile: str | os.PathLike | None = None,
                    skip_random: bool = True) -> dict[str, int]:
    """Chromosome sizes of a reference genome FASTA (Janggu's ``get_genome_size``).

    Parameters
    ----------
    refgenome
        FASTA file (plain or bgzip-compressed; indexed on demand, as
        :func:`genozarr.genome.chrom_sizes` does).
    outputfile
        Also write the sizes there, as a ``.chrom.sizes`` table (name, tab, length); a
        directory (Janggu's ``outputdir``, e.g. ``'./'``) gets
        ``<FASTA name without extensions>.chrom.sizes`` in it.
    skip_random
        Leave out sequences whose name holds ``'_'`` (``chr1_random``,
        ``chrUn_gl000220``, alternative haplotypes), as Janggu.

    Returns
    -------
    dict
        ``{chrom: length}`` in the order of the FASTA file.

    Examples
    --------
    >>> from genozarr.resources import resource_path
    >>> sizes = get_genome_size(resource_path("sample.fa"))
    >>> sorted(sizes)
    ['chr1', 'chr2']
    """
    from genozarr.genome import chrom_sizes

    if not isinstance(refgenome, (str, bytes, os.PathLike)) or (
            outputfile is not None and not isinstance(outputfile, (str, bytes, os.PathLike))):
        # (open() takes an int, or True, as a file descriptor: it closed stdout)
        raise ArgumentError(
            f"get_genome_size: refgenome and outputfile are paths, got {refgenome!r} and "
            f"{outputfile!r}")
    path = os.fsdecode(refgenome)
    if not os.path.isfile(path):
        raise InputFileError(
            f"{path}: no such FASTA file (get_genome_size reads the chromosome sizes of a "
            "reference FASTA; genozarr downloads nothing)")
    sizes = chrom_sizes(path)
    if skip_random:
        sizes = {k: v for k, v in sizes.items() if "_" not in k}
    if outputfile is not None:
        if os.path.isdir(outputfile):
            base = os.path.basename(path)
            for ext in (".gz", ".fa", ".fasta", ".fna", ".2bit"):
                base = base[:-len(ext)] if base.endswith(ext) else base
            outputfile = os.path.join(outputfile, f"{base}.chrom.sizes")
        with open(outputfile, "w", encoding="utf-8") as fh:
            fh.writelines(f"{k}\t{v}\n" for k, v in sizes.items())
        log.info("wrote %d chromosome sizes to %s", len(sizes), outputfile)
    return sizes


# ---------------------------------------------------------------------------- TPM
def normalize_garray_tpm(data: Any) -> Any:
    """TPM normalization (Janggu's ``normalize_garray_tpm``).

    Janggu's function rescaled a ``GenomicArray`` in place. genozarr stores raw values and
    normalizes lazily, so this returns a normalized object instead, with a freshly fitted
    :class:`~genozarr.ops.normalizers.TPM`. Inside a constructor, pass
    ``normalizer='tpm'`` (the same normalization, fitted on the dataset being built).

    Parameters
    ----------
    data
        A :class:`~genozarr.dataset.Cover`: a view of it (same store, no copy) serving
        TPM-normalized values, TPM fitted on its values after its own normalizers. Or an
        opened store (:class:`xarray.Dataset` or :class:`xarray.DataTree`), or a dataset's
        ``garray`` (:class:`~genozarr.store.Store`, as Janggu's calls pass
        ``cover.garray``; opened as :func:`genozarr.open_store` opens it): normalized
        lazily (:func:`genozarr.ops.normalize`).

    Returns
    -------
    object
        A dataset (for a dataset) or an xarray object of the same type.

    Raises
    ------
    ArgumentError
        For a numpy batch (as a ``normalizer=`` callable receives): TPM needs the whole
        dataset, so pass ``normalizer='tpm'``.
    """
    from genozarr.dataset import Dataset
    from genozarr.ops import normalize
    from genozarr.ops.normalizers import TPM

    if isinstance(data, Dataset):
        view = data.subset(slice(None))
        raw = data._fit_view()  # a view's own windows, as normalizer='tpm' fits them
        values = normalize(raw, data.normalizers, fit=False) if data.normalizers else raw
        view.normalizers = list(data.normalizers) + [TPM().fit(values)]
        return view
    if isinstance(data, np.ndarray):
        raise ArgumentError(
            "normalize_garray_tpm needs the whole dataset, not a batch: pass "
            "normalizer='tpm' (or genozarr.TPM()) to the constructor instead")
    from genozarr.store.handle import Store

    if isinstance(data, Store):  # cover.garray, as Janggu's calls pass it
        from genozarr.store.view import as_xarray

        data = as_xarray(data)
    return normalize(data, TPM())


#: the ``normalizer=`` name this function stands for (Janggu's ``get_normalizer('tpm')``
#: returned it), for :func:`genozarr.ops.normalizers.resolve_normalizers`
normalize_garray_tpm.normalizer_name = "tpm"  # type: ignore[attr-defined]
