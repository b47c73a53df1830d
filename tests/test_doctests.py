"""The examples in the docstrings run, and give what they show."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import genozarr

#: modules whose import needs what the test extras do not give (Keras without a backend)
#: or that write files for the package itself
SKIP = {"genozarr.loaders.keras", "genozarr.resources.make_resources"}

MODULES = sorted(m.name for m in pkgutil.walk_packages(genozarr.__path__, "genozarr.")
                 if m.name not in SKIP and not m.name.endswith("__main__"))


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name, tmp_path, monkeypatch):
    if name == "genozarr.loaders.torch":  # (which needs PyTorch, the torch extra)
        pytest.importorskip("torch")
    monkeypatch.chdir(tmp_path)  # examples that write files write them here
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
                             report=True, verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples of {name} fail"
