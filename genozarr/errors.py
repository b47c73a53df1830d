"""Exceptions and warnings raised by genozarr.

Every exception derives from :class:`GenozarrError` and, where one fits, from the
matching builtin too, so ``except KeyError`` and ``except GenozarrError`` both work.
Messages name the file (or store) and the problem, and say what was expected.
"""

from __future__ import annotations

import errno
import logging
import os
import re
import warnings
from typing import Any

__all__ = [
    "GenozarrError",
    "InputFileError",
    "UnreadableFileError",
    "NotAFileError",
    "UnsupportedFormatError",
    "MissingFileError",
    "MissingIndexError",
    "StaleIndexError",
    "MalformedFileError",
    "ChromosomeNotFoundError",
    "ChromosomeNamingError",
    "GenomeMismatchError",
    "RegionError",
    "ArgumentError",
    "StoreError",
    "StoreFormatError",
    "MissingStoreError",
    "GenozarrWarning",
    "JangguDeprecationWarning",
    "MissingChromosomeWarning",
    "MalformedHeaderWarning",
    "SkippedVariantsWarning",
    "UnphasedGenotypeError",
    "SkippedCallsWarning",
    "ConditionNamesWarning",
    "EmptyConditionWarning",
    "NegativeValuesWarning",
    "warn",
    "hide_secrets",
    "get_logger",
]


#: where the part of a URL after its ``://`` ends: a blank, a quote, ``<>`` or ``#`` (a
#: fragment, or the ``##idx##`` before an index's URL)
_URL_END = re.compile(r"[\s'\"<>#]")


def _hide_in_url(rest: str) -> str:
    """What follows a URL's ``://`` (up to :data:`_URL_END`), its password and query
    values replaced by ``***``."""
    cut = min([k for k in (rest.find("/"), rest.find("?")) if k >= 0] or [len(rest)])
    authority, tail = rest[:cut], rest[cut:]
    at = authority.rfind("@")  # (a password may hold '@': the host follows the last)
    if at > 0 and ":" in authority[:at]:
        authority = authority[:authority.index(":")] + ":***" + authority[at:]
    mark = tail.find("?")
    if mark >= 0:
        q, end = tail[mark + 1:], ""
        while q and q[-1] in ".:,;)]}":  # the sentence's punctuation after the URL
            q, end = q[:-1], q[-1] + end
        items = (f"{i.partition('=')[0]}=***" if "=" in i else i for i in q.split("&"))
        tail = tail[:mark + 1] + "&".join(items) + end
    return authority + tail


def hide_secrets(text: str) -> str:
    """``text`` with the passwords and query values of the URLs it holds replaced by
    ``***`` (as :func:`genozarr.io._remote.display_url` shows one URL), so that no message
    or warning shows a signed URL's token, wherever the URL was put into it. Each URL is
    read once from its ``://`` on (linear in the text's length).

    Parameters
    ----------
    text
        Any text: a message, a path, a URL. A URL runs from its ``://`` to the first blank,
        quote, ``<``, ``>`` or ``#``.

    Returns
    -------
    str
        ``text`` unchanged where it holds no ``://``; else each URL's ``user:password@``
        shown as ``user:***@`` and each ``key=value`` of its query string as ``key=***``
        (punctuation closing a sentence after the URL is kept).
    """
    i = text.find("://")
    if i < 0:
        return text
    parts, pos = [], 0
    while i >= 0:
        start = i + 3
        m = _URL_END.search(text, start)
        end = m.start() if m else len(text)
        parts += [text[pos:start], _hide_in_url(text[start:end])]
        pos = end
        i = text.find("://", end)
    parts.append(text[pos:])
    return "".join(parts)


class GenozarrError(Exception):
    """Base class of every error raised by genozarr. Its message (and its ``args``, which
    ``repr`` and pickling show) holds no URL's password or query values
    (:func:`hide_secrets`).

    Parameters
    ----------
    *args
        As for :class:`Exception`, usually the message alone; each string among them is
        passed through :func:`hide_secrets` first, other objects are kept as given.
    """

    def __init__(self, *args: object) -> None:
        super().__init__(*(hide_secrets(a) if isinstance(a, str) else a for a in args))

    def __str__(self) -> str:
        return hide_secrets(super().__str__())


class InputFileError(GenozarrError, OSError):
    """An input file is missing, unreadable or not of the expected format."""


class UnreadableFileError(InputFileError, PermissionError):
    """An input file (or its index) exists but this process may not read it."""


class NotAFileError(InputFileError, IsADirectoryError):
    """A directory (or another non-regular file) was given where a file is expected."""


class UnsupportedFormatError(InputFileError):
    """An input file is in a format genozarr does not read (CRAM, SAM text for BAM)."""


class _NotFound:
    """Of an error for a path where nothing is: ``errno`` is ``ENOENT``, ``strerror`` its
    text and ``filename`` the path (URL passwords hidden), as on the FileNotFoundError
    Python raises; ``str()`` is the message alone."""

    def __init__(self, message: object = "", filename: str | os.PathLike | None = None
                 ) -> None:
        super().__init__(message)  # type: ignore[call-arg]
        self.errno = errno.ENOENT
        self.strerror = os.strerror(errno.ENOENT)
        self.filename = None if filename is None else hide_secrets(
            os.fsdecode(filename))

    def __str__(self) -> str:  # (OSError's would show "[Errno 2] ...: 'filename'")
        return hide_secrets(BaseException.__str__(self))  # type: ignore[arg-type]

    def __reduce__(self) -> tuple[Any, ...]:  # (with its notes and other attributes)
        return (type(self), (*self.args[:1], self.filename),  # type: ignore[attr-defined]
                self.__dict__ or None)


class MissingFileError(_NotFound, InputFileError, FileNotFoundError):
    """An input file does not exist (``except FileNotFoundError`` catches it too; its
    ``filename`` is the path)."""


class MissingIndexError(MissingFileError):
    """An indexed file (BAM, FASTA) has no index next to it."""


class StaleIndexError(InputFileError):
    """An index (``.bai``, ``.csi``, ``.fai``, ``.gzi``) is older than its data file or does
    not match it, and cannot be (or, for BAM, is not) rebuilt automatically."""


class MalformedFileError(GenozarrError, ValueError):
    """A line or record of an input file cannot be parsed."""


class ChromosomeNotFoundError(GenozarrError, KeyError):
    """A region names a chromosome the data or genome does not have."""

    def __str__(self) -> str:  # KeyError quotes its message; show it plainly
        return hide_secrets(str(self.args[0])) if self.args else ""


class ChromosomeNamingError(ChromosomeNotFoundError):
    """Chromosome names differ only by a ``chr`` prefix (``chr1`` vs ``1``)."""


class GenomeMismatchError(GenozarrError, ValueError):
    """Input files disagree on a chromosome's length: they come from different genome
    builds (hg19 and hg38 name their chromosomes alike), so their positions differ."""


class RegionError(GenozarrError, ValueError):
    """A region is invalid: start > end, negative, past the chromosome end, empty ROI."""


class ArgumentError(GenozarrError, ValueError):
    """An argument has an invalid value or combination with other arguments."""


class StoreError(GenozarrError, OSError):
    """A store is missing, incomplete, or not a genozarr store."""


class StoreFormatError(StoreError):
    """A store was written in a format version this genozarr cannot read."""


class MissingStoreError(_NotFound, StoreError, FileNotFoundError):
    """No store exists at a path (``except FileNotFoundError`` catches it too; its
    ``filename`` is the path)."""


class GenozarrWarning(UserWarning):
    """Base class of warnings issued by genozarr."""


class JangguDeprecationWarning(GenozarrWarning, FutureWarning):
    """A Janggu argument genozarr accepts but ignores (``datatags``)."""


class MissingChromosomeWarning(GenozarrWarning):
    """A chromosome of the regions is absent from an input file (BigWig, BAM): the file
    gives zeros there, as in Janggu."""


class MalformedHeaderWarning(GenozarrWarning):
    """A file's header holds a line htslib cannot parse; the file is read without it."""


class SkippedVariantsWarning(GenozarrWarning):
    """Variants of a VCF/BCF file were skipped (symbolic or missing ALT alleles, contigs
    absent from the genome, reference mismatches, ...); issued once per pass over the file
    with the count per reason."""


class ConditionNamesWarning(GenozarrWarning):
    """A fitted normalizer is applied to a dataset whose condition names are not those it
    was fitted on (another set of names, as when statistics fitted on one cell line's
    tracks are reused on another's): its per-condition statistics are applied by
    position, as Janggu does."""


class EmptyConditionWarning(GenozarrWarning):
    """A normalizer was fitted on data where a condition holds no value but NaN (a BigWig
    without data over the regions read with ``nan_to_num=False``, an all-NaN array), so
    its statistic is undefined: a z-score fit (``'zscore'``, ``'zscorelog'``) records
    mean 0 and standard deviation 1 for it (unless given), so its values are served
    unchanged; TPM/CPM/RPKM/BPM a divisor of 1 (its values are not scaled, though TPM,
    RPKM and BPM still divide them by the length); ``'perctrim'`` a NaN threshold (also
    where the percentile falls between -inf and inf), which leaves them unclipped. Issued
    once per fit, naming the dataset and the conditions, never when fitted statistics are
    restored from a store."""


class NegativeValuesWarning(GenozarrWarning):
    """A TPM, CPM, RPKM or BPM normalizer was fitted on data with negative values (the
    output of ``'zscore'``, say): the condition's total it divides by sums positive and
    negative values, may cancel to near 0 and make the normalized values arbitrarily
    large; issued once per fit, naming the dataset and the conditions, with how far the
    total cancels."""


class UnphasedGenotypeError(ArgumentError):
    """A listed sample has an unphased heterozygous genotype (``0/1``) where personal
    sequences need to know which haplotype carries the ALT allele; the message names the
    sample and the record (see ``unphased=`` of :func:`genozarr.personal.create_personal`)."""


class SkippedCallsWarning(SkippedVariantsWarning):
    """Genotype calls of a VCF/BCF file were not applied to personal sequences (symbolic
    or non-ACGTN ALT alleles, reference mismatches, records overlapping a variant already
    applied to the haplotype); issued once per build with the count per reason."""


def warn(message: str, category: type[Warning] = GenozarrWarning, stacklevel: int = 2) -> None:
    """Issue a warning that points at the caller's code, not at genozarr internals.

    Parameters
    ----------
    message
        The warning text.
    category
        Warning class, a subclass of :class:`GenozarrWarning` by default.
    stacklevel
        Kept for compatibility: every frame inside genozarr is skipped, so the warning
        always names the first line of user code.
    """
    import sys

    frame = sys._getframe(1)  # the caller of warn: stacklevel 2 for warnings.warn
    level = 2
    # walk out of genozarr's own frames, so the warning names the user's line
    while frame is not None and _ours(frame.f_globals.get("__name__", "")):
        frame = frame.f_back
        level += 1
    warnings.warn(hide_secrets(message), category, stacklevel=level)


def _ours(module: str) -> bool:
    """Whether ``module`` is genozarr or one of its modules (a user's ``genozarr_pipeline``
    is not)."""
    return module == "genozarr" or module.startswith("genozarr.")


class _HideSecrets(logging.Filter):
    """Shows a record's message and traceback with :func:`hide_secrets` applied (a store
    URL's password or a signed URL's token, at any level)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            text = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed call: logging's own handler says so
            return True
        if "://" in text:
            record.msg, record.args = hide_secrets(text), None
        if record.exc_info and not record.exc_text:  # a traceback, shown as a formatter
            # would show it (a cause's message may hold the URL)
            text = logging.Formatter().formatException(record.exc_info)
            if "://" in text:
                record.exc_text = hide_secrets(text)
                record.exc_info = None  # (handlers that render it themselves: the text)
        return True


_HIDE_SECRETS = _HideSecrets()


def get_logger(name: str) -> logging.Logger:
    """The logger ``name`` (a genozarr module's ``__name__``), its messages passed through
    :func:`hide_secrets`: a filter on each module's logger, as a logger's filters do not
    apply to its children's records.

    Parameters
    ----------
    name
        Logger name.

    Returns
    -------
    logging.Logger
    """
    logger = logging.getLogger(name)
    if _HIDE_SECRETS not in logger.filters:
        logger.addFilter(_HIDE_SECRETS)
    return logger
