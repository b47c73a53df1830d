"""Exceptions and warnings raised by genozarr.

Every exception derives from :class:`GenozarrError` and, where one fits, from the
matching builtin too, so ``except KeyError`` and ``except GenozarrError`` both work.
Messages name the file (or store) and the problem, and say what was expected.
"""

from __future__ import annotations

import re
import warnings

__all__ = [
    "GenozarrError",
    "InputFileError",
    "UnreadableFileError",
    "NotAFileError",
    "UnsupportedFormatError",
    "MissingIndexError",
    "StaleIndexError",
    "MalformedFileError",
    "ChromosomeNotFoundError",
    "ChromosomeNamingError",
    "RegionError",
    "ArgumentError",
    "StoreError",
    "StoreFormatError",
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
]


#: a URL's password (``scheme://user:secret@``) and its query (``?X-Amz-Signature=...``)
#: (a scheme of at most 64 characters: a long dotted word before '://' is not scanned
#: again from each of its letters)
_URL_PASSWORD = re.compile(
    r"([A-Za-z][A-Za-z0-9+.-]{0,63}://[^\s/:@'\"<>]*:)([^\s/'\"<>]+)(@)")
_URL_QUERY = re.compile(r"([A-Za-z][A-Za-z0-9+.-]{0,63}://[^\s?#'\"<>]*\?)([^\s#'\"<>]*)")


def hide_secrets(text: str) -> str:
    """``text`` with the passwords and query values of the URLs it holds replaced by
    ``***`` (as :func:`genozarr.io._remote.display_url` shows one URL), so that no message
    or warning shows a signed URL's token, wherever the URL was put into it."""
    def query(m: re.Match[str]) -> str:
        q, tail = m.group(2), ""
        while q and q[-1] in ".:,;)]}":  # the sentence's punctuation after the URL
            q, tail = q[:-1], q[-1] + tail
        items = (f"{i.partition('=')[0]}=***" if "=" in i else i for i in q.split("&"))
        return m.group(1) + "&".join(items) + tail

    if "://" not in text:
        return text
    return _URL_QUERY.sub(query, _URL_PASSWORD.sub(r"\1***\3", text))


class GenozarrError(Exception):
    """Base class of every error raised by genozarr. Its message (and its ``args``, which
    ``repr`` and pickling show) holds no URL's password or query values
    (:func:`hide_secrets`)."""

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


class MissingIndexError(InputFileError, FileNotFoundError):
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


class RegionError(GenozarrError, ValueError):
    """A region is invalid: start > end, negative, past the chromosome end, empty ROI."""


class ArgumentError(GenozarrError, ValueError):
    """An argument has an invalid value or combination with other arguments."""


class StoreError(GenozarrError, OSError):
    """A store is missing, incomplete, or not a genozarr store."""


class StoreFormatError(StoreError):
    """A store was written in a format version this genozarr cannot read."""


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
    while frame is not None and frame.f_globals.get("__name__", "").startswith("genozarr"):
        frame = frame.f_back
        level += 1
    warnings.warn(hide_secrets(message), category, stacklevel=level)
