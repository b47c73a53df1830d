"""Type aliases of the public API's arguments (what the docstrings promise)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import pandas as pd

__all__ = ["FilesLike", "PathLike", "SeqRecordLike", "SequencesLike"]

#: a local path or URL: text, bytes (decoded as the file system does) or a path object
PathLike = str | bytes | os.PathLike


@runtime_checkable
class SeqRecordLike(Protocol):
    """A Biopython ``SeqRecord`` or any object with an ``id`` and a ``seq``."""

    id: str
    seq: object


#: input files: one path, several, or a sample sheet (a CSV/TSV path or a DataFrame)
FilesLike = PathLike | Sequence[PathLike] | pd.DataFrame

#: sequences: FASTA/2bit paths, or SeqRecord-like objects (one or a list), as Janggu takes
SequencesLike = PathLike | Sequence[PathLike] | SeqRecordLike | Sequence[SeqRecordLike]
