"""Shared fixtures: a simulated dataset, the bundled sample files and a private output root."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from collections.abc import Iterator

#: Genome of the session's simulated dataset (``sim_data``).
SIM_CHROM_SIZES: dict[str, int] = {"chr1": 12_000, "chr2": 8_000}
SIM_SEED = 1
SIM_N_READS = 20_000


@pytest.fixture(autouse=True, scope="session")
def _genozarr_output(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Point ``$GENOZARR_OUTPUT`` at a temporary directory so no test writes to ``~``."""
    old = {k: os.environ.get(k) for k in ("GENOZARR_OUTPUT", "JANGGU_OUTPUT")}
    out = str(tmp_path_factory.mktemp("genozarr_output"))
    os.environ["GENOZARR_OUTPUT"] = out
    os.environ.pop("JANGGU_OUTPUT", None)
    yield out
    for key, value in old.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="session")
def sim_data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str | list[str]]:
    """Paths of a simulated dataset (``simulate_dataset``) on :data:`SIM_CHROM_SIZES`.

    Keys: ``fasta``, ``bam``, ``bam_pe``, ``bigwigs`` (list of 2), ``peaks``, ``roi``,
    ``gtf``, ``chrom_sizes``. Shared by the whole session: treat the files as read-only.
    """
    from genozarr.testing.simulate import simulate_dataset

    directory = tmp_path_factory.mktemp("sim_data")
    return simulate_dataset(
        directory,
        dict(SIM_CHROM_SIZES),
        seed=SIM_SEED,
        n_reads=SIM_N_READS,
        n_bigwigs=2,
        n_peaks=200,
    )


@pytest.fixture(scope="session")
def sample_files() -> dict[str, str]:
    """Paths of the bundled sample files, by the keys of ``genozarr.resources.SAMPLE_FILES``."""
    from genozarr.resources import SAMPLE_FILES, resource_path

    return {key: resource_path(key) for key in SAMPLE_FILES}


@pytest.fixture
def bigwig_base_reads(monkeypatch: pytest.MonkeyPatch) -> list[tuple]:
    """The reads of :mod:`genozarr.io.bigwig` that decode bases (its three per-base
    decoders), as the arguments of each call (path, chromosome, start, end, ...), made
    from this fixture's set-up on."""
    import genozarr.io.bigwig as gbw

    calls: list[tuple] = []
    for name in ("_pybigwig_values", "_window_values", "_records_values"):
        real = getattr(gbw, name)
        monkeypatch.setattr(gbw, name, lambda *a, _r=real: calls.append(a) or _r(*a))
    return calls
