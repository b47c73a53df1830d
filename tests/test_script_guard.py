"""Scripts without an ``if __name__ == "__main__":`` guard build stores on the process pool.

The pool's workers never re-import the caller's ``__main__`` (``genozarr.store._run``), so a
plain script (as Janggu users write them) or a module run with ``python -m`` runs its body
once and gets the values of the input; a collapser defined in the script reaches the
workers by value (dask's cloudpickle). Values are checked against pyBigWig.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

SIZES = {"chr1": 12_000, "chr2": 8_000}
BINSIZE, RESOLUTION = 1000, 100


@pytest.fixture(scope="module")
def bigwig(tmp_path_factory: pytest.TempPathFactory) -> str:
    from genozarr.testing.simulate import simulate_bigwig

    return simulate_bigwig(tmp_path_factory.mktemp("guard") / "signal.bw", SIZES, seed=5)


def _expected(path: str, how: str) -> np.ndarray:
    """Windows of ``BINSIZE`` tiling each chromosome, bins of ``RESOLUTION`` bp: the mean
    (or twice the max) of the per-base values, missing data as 0, from pyBigWig."""
    import pyBigWig

    rows = []
    with pyBigWig.open(path) as bw:
        for chrom, size in SIZES.items():
            v = np.nan_to_num(np.asarray(bw.values(chrom, 0, size, numpy=True)))
            bins = v.reshape(-1, RESOLUTION)
            rows.append((bins.mean(axis=1) if how == "mean" else 2.0 * bins.max(axis=1))
                        .reshape(-1, BINSIZE // RESOLUTION))
    return np.concatenate(rows)


#: the body of the user's script: no __main__ guard, the 'auto' scheduler forced onto
#: processes (parallel_threshold_bases=0), small chunks for several tasks
_BODY = """
    import json
    import sys

    import numpy as np

    import genozarr
    from genozarr import Cover

    with open({runs!r}, "a") as f:  # one line each time this body runs
        f.write("ran\\n")

    SCALE = 2.0


    def doubled_max(x):
        return np.asarray(x).max(axis=1) * SCALE


    genozarr.set_options(parallel_threshold_bases=0, num_workers=2, chunk_bytes=4096,
                         progress=False)
    kw = dict(binsize={binsize}, resolution={resolution}, genomesize={sizes!r},
              store_whole_genome=True, storage="zarr")
    out = {{}}
    cov = Cover.create_from_bigwig("plain", {bigwig!r}, **kw)
    out["mean"] = np.asarray(cov[:]).reshape(len(cov), -1).tolist()
    if {custom!r}:
        cov = Cover.create_from_bigwig("custom", {bigwig!r}, collapser=doubled_max, **kw)
        out["max"] = np.asarray(cov[:]).reshape(len(cov), -1).tolist()
    from genozarr.store._run import _POOL

    out["pool"] = _POOL["pool"] is not None and len(_POOL["pool"]._processes) > 0
    print(json.dumps(out))
"""


def _script(tmp_path: Path, bigwig: str, custom: bool) -> str:
    return textwrap.dedent(_BODY.format(runs=str(tmp_path / "runs.txt"), binsize=BINSIZE,
                                        resolution=RESOLUTION, sizes=SIZES, bigwig=bigwig,
                                        custom=custom))


def _run(args: list[str], tmp_path: Path) -> dict:
    env = dict(os.environ, GENOZARR_OUTPUT=str(tmp_path / "out"))
    env.pop("JANGGU_OUTPUT", None)
    proc = subprocess.run([sys.executable, *args], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "GenozarrWarning" not in proc.stderr and "leaked" not in proc.stderr, proc.stderr
    runs = (tmp_path / "runs.txt").read_text().splitlines()
    assert runs == ["ran"], "the script body ran more than once (workers re-imported it)"
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_unguarded_script_builds_once_with_a_collapser_from_main(tmp_path, bigwig):
    """A script file: the body runs once, both builds run on the process pool and equal
    pyBigWig's values, the collapser defined in the script included (no warning)."""
    script = tmp_path / "build_script.py"
    script.write_text(_script(tmp_path, bigwig, custom=True))
    out = _run([str(script)], tmp_path)
    assert out["pool"] is True
    np.testing.assert_allclose(out["mean"], _expected(bigwig, "mean"), rtol=1e-5, atol=1e-3)
    np.testing.assert_allclose(out["max"], _expected(bigwig, "max"), rtol=1e-6, atol=1e-6)
    assert np.asarray(out["mean"]).sum() > 100


def test_unguarded_module_run_with_dash_m(tmp_path, bigwig):
    """``python -m pkg.build``: workers do not run the module again either."""
    pkg = tmp_path / "guardpkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "build.py").write_text(_script(tmp_path, bigwig, custom=False))
    out = _run(["-m", "guardpkg.build"], tmp_path)
    assert out["pool"] is True
    np.testing.assert_allclose(out["mean"], _expected(bigwig, "mean"), rtol=1e-5, atol=1e-3)


def test_launch_hides_main_only_in_the_launching_thread():
    """The preparation data a worker gets has no ``init_main_from_*`` keys while the pool
    launches it; other threads (and later launches of the caller's own processes) get the
    data unchanged, and the stdlib function is restored afterwards."""
    import threading
    from multiprocessing import spawn

    from genozarr.store._run import _MAIN_KEYS, _main_not_reimported

    original = spawn.get_preparation_data
    main = sys.modules["__main__"]
    missing = object()
    had = {k: getattr(main, k, missing) for k in ("__file__", "__spec__")}
    fake = Path(__file__)
    main.__file__, main.__spec__ = str(fake), None
    try:
        assert original("x")["init_main_from_path"] == str(fake)
        other: dict = {}
        with _main_not_reimported():
            mine = spawn.get_preparation_data("x")
            t = threading.Thread(target=lambda: other.update(spawn.get_preparation_data("y")))
            t.start()
            t.join()
        assert not set(_MAIN_KEYS) & set(mine)
        assert mine["sys_path"] == original("x")["sys_path"]
        assert other["init_main_from_path"] == str(fake)
        assert spawn.get_preparation_data is original
    finally:
        for k, v in had.items():
            if v is missing:
                delattr(main, k)
            else:
                setattr(main, k, v)
