"""genozarr: genomics files to chunked, compressed, labeled arrays for deep learning.

A successor to the data layer of Janggu (Kopp et al. 2020) with Janggu-compatible names:
:class:`Cover` (coverage from BAM, BigWig, BED, arrays) and :class:`Bioseq` (one-hot
sequence), stored in memory, sparse or in zarr v3 stores, served as numpy batches.

Importing genozarr is cheap: torch, keras and matplotlib are imported only when used.
"""

from __future__ import annotations

import os as _os
from importlib import import_module
from typing import Any

#: the process that imported genozarr: a process forked from it has another id (and the
#: numpy global random state of its siblings; see :mod:`genozarr.wrappers`)
_MAIN_PID = _os.getpid()

from genozarr.config import output_dir, set_options
from genozarr.dataset import Bioseq, Cover, Dataset, open_dataset
from genozarr.errors import GenozarrError
from genozarr.genome import Region, chrom_sizes
from genozarr.regions import GenomicIndexer, load_regions, trim_regions
from genozarr.store import open_store

__version__ = "0.1.0"

# names resolved on first use (they import heavier modules)
_LAZY = {
    "resize_regions": "genozarr.regions",
    "Resize": "genozarr.regions",
    "view": "genozarr.wrappers",
    "ReduceDim": "genozarr.wrappers",
    "SqueezeDim": "genozarr.wrappers",
    "Transpose": "genozarr.wrappers",
    "RandomOrientation": "genozarr.wrappers",
    "RandomShift": "genozarr.wrappers",
    "RandomSignalScale": "genozarr.wrappers",
    "NanToNumConverter": "genozarr.wrappers",
    "batches": "genozarr.batching",
    "write_store": "genozarr.store.builder",
    "plot_genome_track": "genozarr.plot",
    "plotGenomeTrack": "genozarr.plot",
    "Track": "genozarr.plot",
    "LineTrack": "genozarr.plot",
    "HeatTrack": "genozarr.plot",
    "SeqTrack": "genozarr.plot",
    "Array": "genozarr.janggu",
    "split_train_test": "genozarr.janggu",
    "subset": "genozarr.janggu",
    "get_genome_size": "genozarr.janggu",
    "normalize_garray_tpm": "genozarr.janggu",
    "parse_region": "genozarr.regions",
    "check_gindexer_compatibility": "genozarr.regions",
    "ZScore": "genozarr.ops.normalizers",
    "ZScoreLog": "genozarr.ops.normalizers",
    "PercentileTrimming": "genozarr.ops.normalizers",
    "RegionLengthNormalization": "genozarr.ops.normalizers",
    "LogTransform": "genozarr.ops.normalizers",
    "RegionLength": "genozarr.ops.normalizers",
    "TPM": "genozarr.ops.normalizers",
    "CPM": "genozarr.ops.normalizers",
    "RPKM": "genozarr.ops.normalizers",
    "BPM": "genozarr.ops.normalizers",
    "VariantStreamer": "genozarr.variants",
    "score_variants": "genozarr.variants",
    "PersonalBioseq": "genozarr.personal",
    "create_personal": "genozarr.personal",
    "to_anndata": "genozarr.scverse",
    "create_from_anndata": "genozarr.scverse",
}

# submodules reachable as attributes after ``import genozarr`` (``genozarr.export.<name>``,
# as the docs write them), imported on first use
_SUBMODULES = frozenset({
    "batching", "cli", "config", "dataset", "errors", "export", "genome", "ingest", "io",
    "janggu", "loaders", "ops", "personal", "plot", "predictions", "regions", "samples",
    "scverse", "sources", "spec", "store", "summary", "testing", "variants", "wrappers",
})

__all__ = [
    "Bioseq",
    "Cover",
    "Dataset",
    "GenomicIndexer",
    "GenozarrError",
    "Region",
    "chrom_sizes",
    "load_regions",
    "open_dataset",
    "open_store",
    "output_dir",
    "set_options",
    "trim_regions",
    *_LAZY,
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    if name in _SUBMODULES:  # (import_module sets the attribute on this module too)
        return import_module(f"genozarr.{name}")
    raise AttributeError(f"module 'genozarr' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY) | _SUBMODULES)
