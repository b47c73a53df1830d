"""Sphinx configuration for the genozarr documentation.

Build with ``python -m sphinx -W --keep-going -b html docs docs/_build/html`` from the
repository root; the repository root is put on ``sys.path`` so the docs build from a
clean checkout without installing genozarr.
"""

from __future__ import annotations

import os
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, ROOT)

project = "genozarr"
author = "genozarr developers"
copyright = "genozarr developers"

try:
    from genozarr import __version__ as release
except Exception:  # pragma: no cover - the API pages then fail loudly on their own
    release = "unknown"
version = release

extensions = [
    "myst_nb",  # MyST markdown and notebooks (includes myst_parser)
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
]

source_suffix = {".md": "myst-nb", ".rst": "restructuredtext", ".ipynb": "myst-nb"}

# The example notebooks live in notebooks/ at the repository root, committed with their
# outputs (the test suite re-executes them); they are copied here for the build and shown
# as committed, not executed again.
nb_execution_mode = "off"
_NOTEBOOKS = os.path.join(ROOT, "notebooks")
_COPY = os.path.join(os.path.dirname(__file__), "examples")
if os.path.isdir(_NOTEBOOKS):
    import shutil

    os.makedirs(_COPY, exist_ok=True)
    for _name in sorted(os.listdir(_NOTEBOOKS)):
        if _name.endswith(".ipynb"):
            shutil.copyfile(os.path.join(_NOTEBOOKS, _name), os.path.join(_COPY, _name))
root_doc = "index"
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]

# MyST: ``{note}`` style admonitions, ``$...$`` not needed; heading anchors for links
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

# autodoc / napoleon: numpydoc-style docstrings, type hints stay in the signature
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = False
autodoc_member_order = "bysource"
autodoc_default_options = {"members": True, "show-inheritance": True}
autodoc_typehints = "signature"
# the framework loaders import their framework at module level; the docs build does not
# need torch or keras installed
autodoc_mock_imports = ["torch", "keras"]

html_theme = "alabaster"
html_static_path = ["_static"]
html_title = f"genozarr {release}"



def _no_inline_type(app, what, name, obj, options, lines):
    """Napoleon reads the first line of an attribute's docstring as ``type: text`` when it
    holds a colon ("Bases per stored bin (None: one value per window)." rendered as
    "one value per window). Type: Bases per stored bin (None"). Types are in the
    signatures here, never inline: the text napoleon took for a type is put back in front
    of the rest of the line (runs after napoleon: priority 600 > 500)."""
    if what not in ("attribute", "property", "data"):
        return
    for i, line in enumerate(lines):
        if line.startswith(":type: "):
            head = line[len(":type: "):]
            del lines[i]
            while i > 0 and not lines[i - 1].strip():
                del lines[i - 1]
                i -= 1
            first = next((j for j, text in enumerate(lines) if text.strip()), None)
            if first is None:
                lines.insert(0, head)
            else:
                indent = lines[first][:len(lines[first]) - len(lines[first].lstrip())]
                lines[first] = f"{indent}{head}: {lines[first].lstrip()}"
            return


def _reexported(app, env, node, contnode):
    """Resolve a reference to a name genozarr re-exports (``genozarr.open_store``,
    ``genozarr.batches``, ``genozarr.store.Store``) to where the API pages document it
    (``genozarr.store.open.open_store``): the object's own module and name."""
    import importlib

    if node.get("refdomain") != "py" or not node.get("reftarget", "").startswith("genozarr."):
        return None
    parts = node["reftarget"].split(".")
    for cut in range(len(parts) - 1, 0, -1):  # the longest importable module first
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        try:
            for attr in parts[cut:]:
                obj = getattr(obj, attr)
        except AttributeError:
            return None
        break
    else:
        return None
    module = getattr(obj, "__module__", None)
    qualname = getattr(obj, "__qualname__", None)
    if not module or not qualname or f"{module}.{qualname}" == node["reftarget"]:
        return None
    domain = env.get_domain("py")
    node = node.deepcopy()
    node["reftarget"] = f"{module}.{qualname}"
    return domain.resolve_xref(env, node["refdoc"], app.builder, node["reftype"],
                               node["reftarget"], node, contnode)


def setup(app):
    app.connect("autodoc-process-docstring", _no_inline_type, priority=600)
    app.connect("missing-reference", _reexported)
