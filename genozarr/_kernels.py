"""Numpy-only kernels: sequence encoding, one-hot lookup, binning, collapse, orientation.

Nothing here imports xarray, zarr or pysam; every function takes and returns numpy arrays
and works on whole arrays at once (a Python loop runs at most once per block of
``_BLOCK`` elements, per k-mer offset or per condition, never once per base or per read).

Conventions
-----------
- Sequence codes are ``uint8``: DNA ``A=0 C=1 G=2 T=3`` and ``4`` for anything else
  (``N``, IUPAC ambiguity letters, gaps); protein letters index :data:`PROTEIN_ALPHABET`
  and ``20`` is the unknown code. :func:`invalid_code` gives that code per alphabet.
- A k-mer of ``order`` bases has the index ``sum(codes[i + j] * A ** (order - 1 - j))``
  (the first base is the most significant digit, as in Janggu); a k-mer holding any invalid
  base gets the sentinel ``A ** order``, which one-hot encodes as a row of zeros.
- Tables are built once per ``(order, seqtype, dtype)`` and cached; they are read-only.
"""

from __future__ import annotations

import functools
import numbers
from collections.abc import Callable
from typing import Any, Union

import numpy as np

from genozarr.errors import ArgumentError

__all__ = [
    "DNA_ALPHABET",
    "PROTEIN_ALPHABET",
    "factorize_labels",
    "alphabet_size",
    "invalid_code",
    "encode_sequence",
    "decode_codes",
    "reverse_complement_codes",
    "orient_windows",
    "kmer_codes",
    "kmer_dtype",
    "onehot",
    "collapse",
    "collapse_nan_as_zero",
    "window_views",
    "regular_windows",
    "bin_counts",
    "nan_to_zero",
    "orient",
]

DNA_ALPHABET = "ACGT"
PROTEIN_ALPHABET = "ACDEFGHIKLMNPQRSTVWY"

_ALPHABETS = {"dna": DNA_ALPHABET, "protein": PROTEIN_ALPHABET}
_UNKNOWN_LETTER = {"dna": "N", "protein": "X"}
_COLLAPSE_METHODS = ("sum", "mean", "max", "min")
_MINUS_STRANDS = ("-", -1)
_PLUS_STRANDS = ("+", ".", 1, 0, None)

# Elements per block for the table lookups. numpy converts uint8 indices to intp before a
# take; doing that one cache-sized block at a time is 2-3x faster than on a whole genome.
_BLOCK = 1 << 16
# One-hot tables above this size are not built; the k-mers are scattered into zeros instead.
_MAX_TABLE_BYTES = 8 << 20

Collapser = Union[str, Callable[[np.ndarray], np.ndarray]]


# ----------------------------------------------------------------------------- validation


#: labels whose first this many are looked at to tell long runs from short ones
_RUN_SAMPLE = 4096


def factorize_labels(values: Any) -> tuple[np.ndarray, list[Any]]:
    """Integer codes of a 1-D array of labels and the labels they index, in order of first
    appearance, as ``pandas.factorize`` (missing labels: code -1).

    The chromosomes (and strands) of windows come in long runs: the runs are found first,
    by comparing neighbours, and one label per run is hashed, about 4x faster than
    ``pandas.factorize`` on the 8 M windows of a 400 Mb genome tiled with step 50 (0.09
    against 0.24-0.37 s). Labels in short runs (a shuffled indexer) go to
    ``pandas.factorize`` directly.

    Examples
    --------
    >>> codes, labels = factorize_labels(np.array(["b", "b", "a", "b"], dtype=object))
    >>> codes.tolist(), labels
    ([0, 0, 1, 0], ['b', 'a'])
    """
    import pandas as pd

    values = np.asarray(values).ravel()
    n = len(values)
    head = values[:_RUN_SAMPLE]
    if n < 2 or np.count_nonzero(head[1:] != head[:-1]) > len(head) // 8:
        codes, uniques = pd.factorize(values)
        return np.asarray(codes), list(uniques)
    starts = np.concatenate(([0], np.flatnonzero(values[1:] != values[:-1]) + 1))
    run_codes, uniques = pd.factorize(values[starts])
    run_codes = run_codes.astype(np.int32 if len(uniques) < 2**31 else np.int64)
    return np.repeat(run_codes, np.diff(np.append(starts, n))), list(uniques)


def _seqtype(seqtype: object) -> str:
    """Return the normalised alphabet name or raise ArgumentError."""
    key = seqtype.lower() if isinstance(seqtype, str) else None  # (a list: unhashable)
    if key not in _ALPHABETS:
        raise ArgumentError(
            f"seqtype must be one of {sorted(_ALPHABETS)}, got {seqtype!r}."
        )
    return key  # type: ignore[return-value]


def _positive_int(value: object, name: str) -> int:
    """Return ``value`` as a Python int >= 1 or raise ArgumentError."""
    from genozarr._validate import check_int

    return int(check_int(name, value, 1, allow_none=False))  # type: ignore[arg-type]


def _integer_array(codes: object, name: str = "codes") -> np.ndarray:
    """Return ``codes`` as an integer ndarray with at least one axis."""
    arr = np.asarray(codes)
    if arr.dtype.kind not in "iu":
        raise ArgumentError(
            f"{name} must be an integer array of sequence codes, got dtype {arr.dtype}."
        )
    if arr.ndim == 0:
        raise ArgumentError(f"{name} must have at least one axis (..., length), got a scalar.")
    return arr


# ----------------------------------------------------------------------------- alphabets


def alphabet_size(seqtype: str) -> int:
    """Number of letters of a sequence alphabet.

    Parameters
    ----------
    seqtype
        ``'dna'`` or ``'protein'`` (case-insensitive).

    Returns
    -------
    int
        4 for DNA, 20 for protein.

    Raises
    ------
    ArgumentError
        If ``seqtype`` names no known alphabet.
    """
    return len(_ALPHABETS[_seqtype(seqtype)])


def invalid_code(seqtype: str) -> int:
    """Code given to letters outside the alphabet (``N`` for DNA, ``X`` for protein).

    Parameters
    ----------
    seqtype
        ``'dna'`` or ``'protein'`` (case-insensitive).

    Returns
    -------
    int
        4 for DNA, 20 for protein; equal to :func:`alphabet_size`.
    """
    return alphabet_size(seqtype)


@functools.lru_cache(maxsize=None)
def _encode_table(seqtype: str) -> np.ndarray:
    """256-entry ``uint8`` table from an ASCII byte to its code."""
    alphabet = _ALPHABETS[seqtype]
    table = np.full(256, len(alphabet), dtype=np.uint8)
    for code, letter in enumerate(alphabet):
        table[ord(letter)] = code
        table[ord(letter.lower())] = code
    if seqtype == "dna":
        table[ord("U")] = table[ord("u")] = alphabet.index("T")
    table.setflags(write=False)
    return table


@functools.lru_cache(maxsize=None)
def _encode_bytes(seqtype: str) -> bytes:
    """:func:`_encode_table` as the 256 bytes ``bytes.translate`` takes."""
    return _encode_table(seqtype).tobytes()


@functools.lru_cache(maxsize=None)
def _decode_table(seqtype: str) -> np.ndarray:
    """``uint8`` ASCII letters indexed by code, the unknown letter last."""
    letters = (_ALPHABETS[seqtype] + _UNKNOWN_LETTER[seqtype]).encode("ascii")
    table = np.frombuffer(letters, dtype=np.uint8).copy()
    table.setflags(write=False)
    return table


@functools.lru_cache(maxsize=None)
def _complement_table() -> np.ndarray:
    """256-entry ``uint8`` table complementing DNA codes; codes >= 4 map to 4."""
    table = np.full(256, 4, dtype=np.uint8)
    table[:4] = [3, 2, 1, 0]
    table.setflags(write=False)
    return table


# ----------------------------------------------------------------------------- lookups


def window_views(span: np.ndarray, offsets: np.ndarray, nb: int) -> np.ndarray:
    """The ``nb``-row windows of ``span`` starting at rows ``offsets``.

    Cut as strided views of the span, not with index arrays (~10x faster than fancy
    indexing with a ``(k, nb)`` index).

    Parameters
    ----------
    span
        Array whose first axis is position.
    offsets
        Integer start rows, each with ``0 <= offset <= len(span) - nb``.
    nb
        Window length in rows.

    Returns
    -------
    numpy.ndarray
        Shape ``(len(offsets), nb) + span.shape[1:]``. Windows at a regular step (a batch
        read in order) are one view of the span (writing to it writes to the span);
        others are a copy (one fancy index over the view of every window).
    """
    span = np.ascontiguousarray(span)
    k = len(offsets)
    step = int(offsets[1] - offsets[0]) if k > 1 else 0
    if step >= 0 and (k < 3 or bool((offsets[1:] - offsets[:-1] == step).all())):
        return regular_windows(span[int(offsets[0]):] if k else span, k, step, nb)
    return regular_windows(span, len(span) - nb + 1, 1, nb)[offsets]


def regular_windows(span: np.ndarray, k: int, step: int, nb: int) -> np.ndarray:
    """The ``k`` windows of ``nb`` rows of ``span`` starting at rows ``0, step, 2 * step,
    ...``: one strided view of the span (writing to it writes to the span).

    Parameters
    ----------
    span
        C-contiguous array whose first axis is position, at least ``(k - 1) * step + nb``
        rows long (any length when ``k`` is 0).
    k, step, nb
        Number of windows, rows from one window's start to the next (>= 0), window rows.

    Returns
    -------
    numpy.ndarray
        Shape ``(k, nb) + span.shape[1:]``.

    Examples
    --------
    >>> regular_windows(np.arange(6), 3, 2, 2)
    array([[0, 1],
           [2, 3],
           [4, 5]])
    """
    if step == nb and span.flags.c_contiguous:  # windows that tile the span: a reshape
        return span[:k * nb].reshape((k, nb) + span.shape[1:])  # (a third of the time)
    return np.ndarray((k, nb) + span.shape[1:], span.dtype, span, 0,
                      (step * span.strides[0],) + span.strides)


def _take_rows(table: np.ndarray, index: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``np.take(table, index, axis=0, mode='clip', out=out)``, one cache-sized block at a time.

    ``index`` is flat; ``out`` has shape ``(index.size,) + table.shape[1:]``. Indices past
    the last row are clipped to it (the tables put their "invalid" row last).
    """
    n = index.shape[0]
    # (the method: np.take's dispatch wrapper costs about 2 us a call, a few % of a batch)
    if n <= _BLOCK or not out.flags.c_contiguous:
        table.take(index, axis=0, mode="clip", out=out)
        return out
    for begin in range(0, n, _BLOCK):
        end = min(begin + _BLOCK, n)
        table.take(index[begin:end], axis=0, mode="clip", out=out[begin:end])
    return out


def _lookup(table: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Map every element of an unsigned array through a 1-D table; same shape as ``values``."""
    out = np.empty(values.shape, dtype=table.dtype)
    if values.size:
        _take_rows(table, values.reshape(-1), out.reshape(-1))
    return out


def encode_sequence(seq: bytes | str | np.ndarray, seqtype: str = "dna") -> np.ndarray:
    """Encode letters as integer codes through a 256-entry lookup table.

    Parameters
    ----------
    seq
        The sequence: ``bytes``/``bytearray``/``memoryview`` or ``str`` of ASCII letters, or a
        ``uint8`` (or ``int8``, ``S1``) array of ASCII bytes of any shape.
    seqtype
        ``'dna'``: ``A/a=0 C/c=1 G/g=2 T/t=3`` (``U/u`` read as ``T``), anything else
        (``N``, IUPAC letters, ``-``) is 4. ``'protein'``: the index in
        :data:`PROTEIN_ALPHABET`, upper or lower case; anything else is 20.

    Returns
    -------
    numpy.ndarray
        ``uint8`` codes; 1-D for ``bytes``/``str`` input, the input's shape for arrays.

    Raises
    ------
    ArgumentError
        For an unknown ``seqtype`` or an array that does not hold single bytes.

    Examples
    --------
    >>> encode_sequence("ACgTN")
    array([0, 1, 2, 3, 4], dtype=uint8)
    """
    kind = _seqtype(seqtype)
    table = _encode_table(kind)
    if isinstance(seq, str):
        # non-ASCII characters become '?' (one per character), hence the unknown code
        seq = seq.encode("ascii", errors="replace")
    if isinstance(seq, (bytes, bytearray)):
        # translate maps through the table 2-3x faster than numpy's take, and a bytearray's
        # translate (writable result, no copy after it) about twice as fast as a bytes'
        return np.frombuffer(bytearray(seq).translate(_encode_bytes(kind)), dtype=np.uint8)
    if isinstance(seq, memoryview):
        raw = np.frombuffer(seq, dtype=np.uint8)
    elif isinstance(seq, np.ndarray):
        if seq.dtype.itemsize != 1 or seq.dtype.kind not in "iuS":
            raise ArgumentError(
                "seq must be bytes, str or an array of ASCII bytes (uint8, int8 or S1), "
                f"got an array of dtype {seq.dtype}."
            )
        raw = seq.view(np.uint8) if seq.dtype != np.uint8 else seq
    else:
        raise ArgumentError(
            f"seq must be bytes, str or a uint8 array of ASCII bytes, got {type(seq).__name__}."
        )
    return _lookup(table, raw)


def decode_codes(codes: np.ndarray, seqtype: str = "dna") -> str:
    """Turn integer codes back into letters (the inverse of :func:`encode_sequence`).

    Parameters
    ----------
    codes
        Integer codes of any shape; read in C order.
    seqtype
        ``'dna'`` or ``'protein'``.

    Returns
    -------
    str
        Upper-case letters; codes outside the alphabet (the invalid code, or any other
        out-of-range value) become ``'N'`` for DNA and ``'X'`` for protein.
    """
    key = _seqtype(seqtype)
    arr = np.asarray(codes).reshape(-1)
    if arr.dtype.kind not in "iu":
        raise ArgumentError(f"codes must be an integer array, got dtype {arr.dtype}.")
    size = len(_ALPHABETS[key])
    index = np.where((arr >= 0) & (arr < size), arr, size)
    return _decode_table(key).take(index).tobytes().decode("ascii")


def reverse_complement_codes(codes: np.ndarray, axis: int = -1) -> np.ndarray:
    """Reverse complement DNA codes.

    Parameters
    ----------
    codes
        DNA codes (``A=0 C=1 G=2 T=3``, 4 unknown) of any shape.
    axis
        The sequence axis, reversed.

    Returns
    -------
    numpy.ndarray
        A new array of the input's shape and dtype: reversed along ``axis`` with
        ``0<->3`` and ``1<->2`` swapped; 4 (and any other out-of-range code) becomes 4.

    Examples
    --------
    >>> reverse_complement_codes(encode_sequence("AACGN"))
    array([4, 1, 2, 3, 3], dtype=uint8)
    """
    arr = _integer_array(codes)
    try:
        flipped = np.flip(arr, axis=axis)
    except np.exceptions.AxisError as e:
        raise ArgumentError(
            f"axis must index one of the {arr.ndim} axes of codes, got {axis}."
        ) from e
    if arr.dtype == np.uint8:
        return _lookup(_complement_table(), flipped)
    valid = (flipped >= 0) & (flipped < 4)
    return np.where(valid, 3 - flipped, 4).astype(arr.dtype, copy=False)


# ----------------------------------------------------------------------------- k-mers


#: the unsigned dtypes a k-mer index may take, each with its largest value
_UNSIGNED = tuple((np.dtype(t), int(np.iinfo(t).max)) for t in (np.uint8, np.uint16, np.uint32))


def kmer_dtype(order: int, seqtype: str = "dna") -> np.dtype[Any]:
    """The dtype :func:`kmer_codes` returns: the smallest unsigned one holding ``A ** order``.

    Parameters
    ----------
    order
        k-mer length, >= 1.
    seqtype
        ``'dna'`` or ``'protein'``.

    Returns
    -------
    numpy.dtype
        ``uint8``, ``uint16``, ``uint32`` or ``uint64``.

    Raises
    ------
    ArgumentError
        If ``order`` is not an integer >= 1 or ``A ** order`` does not fit 63 bits.
    """
    order = _positive_int(order, "order")
    sentinel = alphabet_size(seqtype) ** order
    for dtype, top in _UNSIGNED:  # called per served batch: np.iinfo costs microseconds
        if sentinel <= top:
            return dtype
    if sentinel < 2**63:
        return np.dtype(np.uint64)
    raise ArgumentError(
        f"order {order} gives {sentinel} {seqtype} k-mers, more than a 64-bit index holds; "
        "use a smaller order."
    )


def kmer_codes(codes: np.ndarray, order: int, seqtype: str = "dna") -> np.ndarray:
    """Index of the k-mer starting at each position.

    Parameters
    ----------
    codes
        Integer codes, shape ``(..., L)``.
    order
        k-mer length, ``1 <= order <= L``.
    seqtype
        ``'dna'`` (A = 4) or ``'protein'`` (A = 20).

    Returns
    -------
    numpy.ndarray
        Shape ``(..., L - order + 1)``, dtype :func:`kmer_dtype`: the k-mer at ``i`` has
        index ``sum(codes[i + j] * A ** (order - 1 - j))``, or the sentinel ``A ** order``
        where any of its bases is invalid (``< 0`` or ``>= A``).

    Raises
    ------
    ArgumentError
        For a non-integer ``codes``, ``order < 1``, ``L < order`` or an unknown ``seqtype``.

    Examples
    --------
    >>> kmer_codes(encode_sequence("AACN"), 2)
    array([ 0,  1, 16], dtype=uint8)
    """
    arr = _integer_array(codes)
    dtype = kmer_dtype(order, seqtype)
    order = int(order)
    size = alphabet_size(seqtype)
    length = arr.shape[-1]
    if length < order:
        raise ArgumentError(
            f"sequences must be at least order={order} long, got length {length} "
            f"(codes of shape {arr.shape})."
        )
    sentinel = size**order
    invalid = arr >= size
    if arr.dtype.kind == "i":
        invalid |= arr < 0
    if order == 1:
        return np.where(invalid, sentinel, arr).astype(dtype, copy=False)
    digits = np.where(invalid, 0, arr).astype(dtype, copy=False)
    n_out = length - order + 1
    index = digits[..., :n_out].copy()
    bad = invalid[..., :n_out].copy()
    for j in range(1, order):  # one vectorised pass per k-mer offset
        index *= dtype.type(size)
        index += digits[..., j : j + n_out]
        bad |= invalid[..., j : j + n_out]
    index[bad] = sentinel
    return index


@functools.lru_cache(maxsize=64, typed=True)  # typed: True is not taken for 1
def _onehot_setup(order: int, seqtype: str, dtype: Any
                  ) -> tuple[str, int, int, np.dtype[Any], np.ndarray | None]:
    """:func:`onehot`'s arguments checked: ``(seqtype, order, k-mers, dtype, table)``, the
    table None where it would be larger than :data:`_MAX_TABLE_BYTES`."""
    key = _seqtype(seqtype)
    dtype = np.dtype(dtype)
    kmer_dtype(order, key)  # validates order, and that the k-mers have an index
    order = int(order)
    n_kmers = alphabet_size(key) ** order
    small = (n_kmers + 1) * n_kmers * dtype.itemsize <= _MAX_TABLE_BYTES
    return key, order, n_kmers, dtype, _onehot_table(order, key, dtype) if small else None


@functools.lru_cache(maxsize=None)
def _onehot_table(order: int, seqtype: str, dtype: np.dtype[Any]) -> np.ndarray:
    """Identity of size ``A ** order`` with a row of zeros appended (the invalid k-mer)."""
    n = alphabet_size(seqtype) ** order
    table = np.zeros((n + 1, n), dtype=dtype)
    table[np.arange(n), np.arange(n)] = 1
    table.setflags(write=False)
    return table


def onehot(
    codes: np.ndarray,
    order: int = 1,
    seqtype: str = "dna",
    *,
    dtype: Any = "float32",
    out: np.ndarray | None = None,
) -> np.ndarray:
    """One-hot encode the k-mers of code arrays.

    Parameters
    ----------
    codes
        Integer codes, shape ``(..., L)``.
    order
        k-mer length; ``order=1`` is a plain one-hot of the bases.
    seqtype
        ``'dna'`` or ``'protein'``.
    dtype
        dtype of the result.
    out
        Optional buffer of exactly the result's shape and dtype; filled in place and
        returned, so a serving loop can reuse one buffer per batch.

    Returns
    -------
    numpy.ndarray
        Shape ``(..., L - order + 1, A ** order)``; a k-mer with any invalid base (``N``)
        is a row of zeros.

    Raises
    ------
    ArgumentError
        For a bad ``order``/``seqtype``, sequences shorter than ``order`` or an ``out``
        of the wrong shape or dtype.

    Notes
    -----
    The rows are copied out of a cached ``(A ** order + 1, A ** order)`` table with
    ``np.take``. Tables larger than 8 MiB (DNA order >= 6, protein order >= 3) are not
    built; the ones are then scattered into a zeroed buffer.

    Examples
    --------
    >>> onehot(encode_sequence("ACN"), dtype="uint8")
    array([[1, 0, 0, 0],
           [0, 1, 0, 0],
           [0, 0, 0, 0]], dtype=uint8)
    """
    arr = _integer_array(codes)
    try:  # the arguments checked once per combination (a batch is often small)
        key, order, n_kmers, dtype, table = _onehot_setup(order, seqtype, dtype)
    except TypeError:  # an unhashable argument: checked without the cache
        key, order, n_kmers, dtype, table = _onehot_setup.__wrapped__(order, seqtype, dtype)
    if arr.shape[-1] < order:
        raise ArgumentError(
            f"sequences must be at least order={order} long, got length {arr.shape[-1]} "
            f"(codes of shape {arr.shape})."
        )
    shape = arr.shape[:-1] + (arr.shape[-1] - order + 1, n_kmers)
    if out is None:
        out = np.empty(shape, dtype=dtype)
    elif not isinstance(out, np.ndarray) or out.shape != shape or out.dtype != dtype:
        got = (
            f"shape {out.shape} and dtype {out.dtype}"
            if isinstance(out, np.ndarray)
            else type(out).__name__
        )
        raise ArgumentError(
            f"out must be an array of shape {shape} and dtype {dtype} for codes of shape "
            f"{arr.shape} at order {order}, got {got}."
        )
    if out.size == 0:
        return out
    if order == 1 and arr.dtype.kind == "u":
        index = arr  # codes >= A clip onto the zero row
    else:
        index = kmer_codes(arr, order, key)
    index = np.ascontiguousarray(index).reshape(-1)
    if table is not None:
        if out.flags.c_contiguous:
            _take_rows(table, index, out.reshape(-1, n_kmers))
        else:
            np.take(table, index.reshape(out.shape[:-1]), axis=0, mode="clip", out=out)
        return out
    # large tables: zero a buffer and set one element per valid k-mer
    target = out if out.flags.c_contiguous else np.empty(shape, dtype=dtype)
    flat = target.reshape(-1, n_kmers)
    flat[...] = 0
    rows = np.flatnonzero(index < n_kmers)
    flat[rows, index[rows]] = 1
    if target is not out:
        out[...] = target
    return out


# ----------------------------------------------------------------------------- binning


def collapse(values: np.ndarray, resolution: int, how: Collapser = "sum") -> np.ndarray:
    """Aggregate consecutive positions into bins of ``resolution``.

    Parameters
    ----------
    values
        Shape ``(L, S, C)`` (position, strand, condition) or ``(n, L, S, C)`` with a
        leading region axis.
    resolution
        Positions per bin; ``L`` must be a multiple of it.
    how
        ``'sum'``, ``'mean'``, ``'max'``, ``'min'``, or a callable following Janggu's
        collapser contract: it receives an array of shape ``(rows, resolution, S)`` for one
        condition and returns ``(rows, S)``. A numpy reduction such as ``np.sum`` or
        ``np.median`` works too: the callable is first tried as ``how(x, axis=1)``, then
        as ``how(x)`` if it takes no ``axis`` keyword. ``rows`` is ``L // resolution``, or
        ``n * L // resolution`` for a batch (the regions' bins are stacked in one call), so
        the callable must treat the rows of axis 0 independently, as any reduction over
        axis 1 does. It is called once per condition.

    Returns
    -------
    numpy.ndarray
        Shape ``(L // resolution, S, C)`` or ``(n, L // resolution, S, C)``. The dtype
        follows numpy's reduction rules (``sum`` of small integers widens, ``mean`` of
        integers is float64), but float16 values are summed (``'sum'``, a callable) in
        float32 and returned as float32: their sums pass float16's 65504 (an ingest then
        refuses them for a float16 store, and keeps them in a float32 one). With
        ``resolution == 1`` and a named ``how``, ``values`` itself is returned; a callable
        is still applied.

    Raises
    ------
    ArgumentError
        For a bad ``resolution``, ``L`` not divisible by it, a wrong number of axes, an
        unknown ``how`` or a callable returning the wrong shape.

    Examples
    --------
    >>> collapse(np.arange(4).reshape(4, 1, 1), 2)[:, 0, 0]
    array([1, 5])
    """
    resolution = _positive_int(resolution, "resolution")
    arr = np.asarray(values)
    if arr.ndim not in (3, 4):
        raise ArgumentError(
            "values must have shape (position, strand, condition) or "
            f"(region, position, strand, condition), got shape {arr.shape}."
        )
    if not (callable(how) or (isinstance(how, str) and how in _COLLAPSE_METHODS)):
        raise ArgumentError(
            f"how must be one of {list(_COLLAPSE_METHODS)} or a callable, got {how!r}."
        )
    length = arr.shape[-3]
    if length % resolution:
        raise ArgumentError(
            f"the position axis (length {length}) must be a multiple of resolution "
            f"{resolution}; pad or trim values to a multiple of {resolution} first."
        )
    if resolution == 1 and not callable(how):
        return arr
    if arr.dtype == np.float16 and (how == "sum" or callable(how)):
        arr = arr.astype(np.float32)  # (as ops.transform's lazy collapse does)
    lead = arr.shape[:-3]
    n_bins = length // resolution
    n_strands, n_conditions = arr.shape[-2:]
    binned = arr.reshape(lead + (n_bins, resolution, n_strands, n_conditions))
    if isinstance(how, str):
        channels = n_strands * n_conditions
        if arr.dtype in _EINSUM_DTYPES and n_bins and how in ("sum", "mean") and channels == 1:
            # one channel (a per-file collapse): einsum's vectorised sum of each bin's
            # contiguous values, 4-5x faster than reduceat below. It adds in the array's
            # dtype in several partial sums, within 3.3 ulps of the exact sum for bins
            # below 1 kb; its error grows with the bin (8 ulps at 10 kb, 56 at 1 Mb),
            # so bins of 1 kb and more are added pairwise (numpy's add.reduce along a
            # contiguous axis: within 1.6 ulps, for 1.3-1.6x einsum's time there, about
            # 0.08 ms a Mb more). With more channels einsum's sums run one value after
            # the other, and reduceat in float64 stays
            flat = np.ascontiguousarray(arr).reshape(-1, resolution)
            out = np.einsum("ij->i", flat) if resolution < _PAIRWISE_BINS \
                else np.add.reduce(flat, axis=1)
            if how == "mean":
                out /= resolution
                bad = ~np.isfinite(out)
                if bad.any():  # a sum past the dtype's range (values near float32's
                    # largest) whose mean is within it: those bins added in float64
                    out[bad] = (flat[bad].sum(axis=1, dtype=np.float64)
                                / resolution).astype(out.dtype)
            return out.reshape(lead + (n_bins, n_strands, n_conditions))
        if arr.dtype.kind == "f" and n_bins:
            # ufunc.reduceat over the flat (position, channel) view: 5-15x faster than a
            # reduction over the middle axis of (bins, resolution, strand, condition),
            # whose inner loop runs over the few channels
            ufunc = _REDUCEAT[how]
            flat = np.ascontiguousarray(arr).reshape(-1, channels)
            starts = np.arange(0, flat.shape[0], resolution)
            if ufunc is np.add:  # accumulate in float64: sums of float32 stay exact-ish
                out = ufunc.reduceat(flat, starts, axis=0, dtype=np.float64)
                if how == "mean":
                    out /= resolution
                out = out.astype(arr.dtype, copy=False)
            else:
                out = ufunc.reduceat(flat, starts, axis=0)
            return out.reshape(lead + (n_bins, n_strands, n_conditions))
        return getattr(np, how)(binned, axis=-3)  # type: ignore[no-any-return]
    rows = int(np.prod(lead, dtype=np.int64)) * n_bins
    stacked = binned.reshape(rows, resolution, n_strands, n_conditions)
    results = []
    for c in range(n_conditions):
        result = np.asarray(_call_collapser(how, stacked[..., c]))
        if result.shape != (rows, n_strands):
            raise ArgumentError(
                f"the collapse callable must map an array of shape "
                f"{(rows, resolution, n_strands)} to shape {(rows, n_strands)}, "
                f"it returned shape {result.shape}."
            )
        results.append(result)
    return np.stack(results, axis=-1).reshape(lead + (n_bins, n_strands, n_conditions))


_REDUCEAT = {"sum": np.add, "mean": np.add, "max": np.maximum, "min": np.minimum}
#: dtypes whose one-channel sums run through einsum in ``collapse`` (float16 goes through
#: reduceat in float64)
_EINSUM_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
#: bins of at least this many positions are summed pairwise (:func:`collapse`)
_PAIRWISE_BINS = 1000


def _call_collapser(how: Callable[..., Any], x: np.ndarray) -> Any:
    """Call a collapser as a numpy reduction (``axis=1``) or, failing that, with ``x`` only."""
    try:
        return how(x, axis=1)
    except TypeError:
        return how(x)


#: signed integers of each float width: :func:`nan_to_zero` multiplies the bits
_SAME_WIDTH_INT = {2: np.int16, 4: np.int32, 8: np.int64}


def nan_to_zero(values: np.ndarray) -> np.ndarray:
    """Replace every NaN of a float array by ``0.0``, in place; other values keep their
    exact bits (``-0.0``, infinities, subnormals). Returns ``values``.

    The bits of each value are multiplied by 0 (NaN) or 1 (anything else) as integers,
    a vectorised multiply over the whole array: about 1.5x faster than a masked
    ``np.copyto`` where most values are NaN (the gaps of a sparse BigWig), up to 10x where
    NaN and values alternate irregularly (the masked copy mispredicts its branches), and
    as fast where there is no NaN (the array is then left alone). Long double, which no
    integer type matches in width, goes through the masked copy. Arrays of other kinds
    are returned unchanged.

    Examples
    --------
    >>> nan_to_zero(np.array([1.5, np.nan, -np.inf, -0.0], dtype=np.float32))
    array([ 1.5,  0. , -inf, -0. ], dtype=float32)
    """
    if values.dtype.kind != "f" or values.size == 0:
        return values
    keep = np.isnan(values)
    if not keep.any():
        return values
    ints = _SAME_WIDTH_INT.get(values.dtype.itemsize)
    if ints is None:  # long double: no integer of its width
        np.copyto(values, 0, where=keep)
        return values
    np.logical_not(keep, out=keep)
    bits = values.view(ints)
    np.multiply(bits, keep, out=bits, casting="unsafe")
    return values


#: every how many bins :func:`collapse_nan_as_zero` looks at to estimate the share of
#: bins holding a NaN
_NAN_BIN_SAMPLE = 97
#: the share of bins holding a NaN above which :func:`collapse_nan_as_zero` replaces every
#: NaN before collapsing (gathering and collapsing the bins again then costs more)
_NAN_BIN_SHARE_MAX = 0.3


def collapse_nan_as_zero(values: np.ndarray, resolution: int, how: str = "sum") -> np.ndarray:
    """:func:`collapse` of a float array whose NaN count as 0, with the same values as
    ``collapse(nan_to_zero(values), resolution, how)``; ``values`` may be changed in place
    (some or all of its NaN replaced).

    Where most bins hold no NaN (a BigWig's gaps are long, or whole bins), the bins are
    collapsed as they are, and only those that come out NaN (a NaN reaches its bin's sum,
    mean, max or min) are gathered, have their NaN replaced and are collapsed again: that
    spares a NaN pass over every value. Where a sample of the bins says that more than
    :data:`_NAN_BIN_SHARE_MAX` (30 %) hold a NaN, every NaN is replaced first instead.

    Parameters
    ----------
    values
        Float array of shape ``(L, S, C)`` or ``(n, L, S, C)`` (see :func:`collapse`).
    resolution
        Positions per bin.
    how
        ``'sum'``, ``'mean'``, ``'max'`` or ``'min'``.

    Returns
    -------
    numpy.ndarray
        As :func:`collapse`.

    Examples
    --------
    >>> x = np.array([1.0, np.nan, 2.0, 4.0], dtype=np.float32).reshape(4, 1, 1)
    >>> collapse_nan_as_zero(x, 2, "mean")[:, 0, 0]
    array([0.5, 3. ], dtype=float32)
    """
    if not isinstance(how, str) or how not in _COLLAPSE_METHODS:
        raise ArgumentError(f"how must be one of {list(_COLLAPSE_METHODS)}, got {how!r}.")
    resolution = _positive_int(resolution, "resolution")
    arr = np.asarray(values)
    if arr.dtype.kind != "f" or resolution == 1 or arr.ndim not in (3, 4) or \
            arr.shape[-3] % resolution:
        return collapse(nan_to_zero(arr), resolution, how)  # (collapse reports bad shapes)
    lead, length, channels = arr.shape[:-3], arr.shape[-3], arr.shape[-2:]
    bins = arr.reshape((-1, resolution) + channels)  # (bins, resolution, S, C), a view
    sample = bins[::_NAN_BIN_SAMPLE]
    if sample.size and np.isnan(sample).any(axis=(1, 2, 3)).mean() > _NAN_BIN_SHARE_MAX:
        return collapse(nan_to_zero(arr), resolution, how)
    flat = collapse(arr, resolution, how).reshape((-1,) + channels)
    bad = np.flatnonzero(np.isnan(flat).any(axis=(1, 2)))
    if bad.size:
        part = bins[bad]  # a copy of the bins that came out NaN
        nan_to_zero(part)
        flat[bad] = collapse(part.reshape((-1,) + channels), resolution, how)
    return flat.reshape(lead + (length // resolution,) + channels)


def bin_counts(
    positions: np.ndarray,
    start: int,
    length: int,
    resolution: int = 1,
    weights: np.ndarray | None = None,
    dtype: Any = "int32",
) -> np.ndarray:
    """Count (or sum weights of) genomic positions per bin of a window.

    Parameters
    ----------
    positions
        Integer 0-based positions (e.g. the 5' ends of reads), any shape; read flat.
    start
        First position of the window.
    length
        Window length in bases; the window is ``[start, start + length)``.
    resolution
        Bases per bin; position ``p`` falls in bin ``(p - start) // resolution``.
    weights
        Optional weight per position (same shape as ``positions``); summed instead of 1s.
    dtype
        dtype of the result. With float ``weights`` pass a float dtype, else the sums are
        truncated by the cast.

    Returns
    -------
    numpy.ndarray
        Shape ``(ceil(length / resolution),)``; positions outside the window are ignored.

    Raises
    ------
    ArgumentError
        For negative ``length``, bad ``resolution``, non-integer positions or ``weights``
        of another shape.

    Examples
    --------
    >>> bin_counts(np.array([5, 6, 6, 9, 20]), start=5, length=6, resolution=2)
    array([3, 0, 1], dtype=int32)
    """
    resolution = _positive_int(resolution, "resolution")
    if isinstance(length, (bool, np.bool_)) or not isinstance(length, numbers.Integral):
        raise ArgumentError(f"length must be an integer >= 0, got {length!r}.")
    if length < 0:
        raise ArgumentError(f"length must be an integer >= 0, got {length}.")
    if isinstance(start, (bool, np.bool_)) or not isinstance(start, numbers.Integral):
        raise ArgumentError(f"start must be an integer, got {start!r}.")
    pos = np.asarray(positions)
    if pos.size and pos.dtype.kind not in "iu":
        raise ArgumentError(f"positions must be integers, got dtype {pos.dtype}.")
    if weights is not None:
        w = np.asarray(weights)
        if w.shape != pos.shape:
            raise ArgumentError(
                f"weights must have the shape of positions {pos.shape}, got {w.shape}."
            )
        w = w.reshape(-1)
    offset = pos.reshape(-1).astype(np.int64, copy=False) - np.int64(start)
    inside = (offset >= 0) & (offset < length)
    if not inside.all():
        offset = offset[inside]
        if weights is not None:
            w = w[inside]
    n_bins = -(-int(length) // resolution)
    if resolution > 1:
        offset //= resolution
    counts = np.bincount(offset, weights=w if weights is not None else None, minlength=n_bins)
    return counts.astype(dtype, copy=False)


def orient(
    window: np.ndarray,
    strand: Any,
    *,
    position_axis: int = -3,
    strand_axis: int = -2,
) -> np.ndarray:
    """Orient a window to the strand of its region (Janggu's convention).

    Parameters
    ----------
    window
        Array with a position and a strand axis, e.g. ``(L, S, C)`` or ``(n, L, S, C)``.
    strand
        ``'-'`` or ``-1`` for a minus-strand region; ``'+'``, ``'.'``, ``1``, ``0`` or
        ``None`` for the others.
    position_axis, strand_axis
        The axes to reverse.

    Returns
    -------
    numpy.ndarray
        For the minus strand a reversed **view** of ``window`` along both axes (the two
        strand channels swap); otherwise ``window`` itself. Copy before writing to it.

    Raises
    ------
    ArgumentError
        For an unknown strand value or axes ``window`` does not have.
    """
    if isinstance(strand, bytes):
        strand = strand.decode("ascii", errors="replace")
    if isinstance(strand, (bool, np.bool_)):
        valid = False
    elif isinstance(strand, (str, type(None))):
        valid = strand in _MINUS_STRANDS or strand in _PLUS_STRANDS
    elif isinstance(strand, numbers.Integral):
        strand = int(strand)
        valid = strand in (-1, 0, 1)
    else:
        valid = False
    if not valid:
        raise ArgumentError(
            "strand must be '-' or -1 (minus) or one of '+', '.', 1, 0, None, "
            f"got {strand!r}."
        )
    if strand not in _MINUS_STRANDS:
        return window
    arr = np.asarray(window)
    try:
        axes = np.lib.array_utils.normalize_axis_tuple((position_axis, strand_axis), arr.ndim)
    except (np.exceptions.AxisError, ValueError) as e:
        raise ArgumentError(
            f"position_axis={position_axis} and strand_axis={strand_axis} must be two "
            f"different axes of the window, which has shape {arr.shape}."
        ) from e
    return np.flip(arr, axis=axes)


def orient_windows(x: np.ndarray, minus: np.ndarray, *, seqtype: str | None = None) -> np.ndarray:
    """Orient a batch of windows to their strands, in place: the one orientation kernel.

    Coverage ``(n, position, strand, condition)``: the position and strand axes of
    minus-strand windows are reversed (the two strand channels swap, as :func:`orient`
    does for one window). Sequence codes (``seqtype`` given) ``(n, position, ...)``:
    minus-strand DNA windows are reverse-complemented; protein is left as it is. The same
    call maps genomic orientation to strand orientation and back.

    Parameters
    ----------
    x
        Writable batch; its first axis is the window.
    minus
        Boolean per window: True for a minus-strand window.
    seqtype
        None for coverage; 'dna' or 'protein' for sequence codes.

    Returns
    -------
    numpy.ndarray
        ``x``, oriented.
    """
    minus = np.asarray(minus, dtype=bool)
    if not minus.any():
        return x
    if seqtype is None:
        x[minus] = x[minus][:, ::-1, ::-1]
    elif _seqtype(seqtype) == "dna":
        x[minus] = reverse_complement_codes(x[minus], axis=1)
    return x
