"""Build specs: the TOML/YAML files ``genozarr build`` reads (one entry per dataset).

Keys: ``name`` and ``kind`` (required), ``files`` (one path or a list), ``store``
(destination: a directory or fsspec URL), and any keyword of the kind's constructor.
Relative paths are relative to the spec's directory.
"""

from __future__ import annotations

import difflib
import inspect
import itertools
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from genozarr._validate import check_name
from genozarr.errors import (
    ArgumentError,
    GenozarrError,
    MalformedFileError,
    MissingFileError,
)
from genozarr.io._remote import local_form

if TYPE_CHECKING:
    from genozarr.dataset import Dataset

__all__ = ["SPEC_KINDS", "load_spec", "build_from_spec", "need_file"]

#: Spec ``kind`` -> (class name, constructor, name of its file argument).
SPEC_KINDS: dict[str, tuple[str, str, str]] = {
    "bigwig": ("Cover", "create_from_bigwig", "bigwigfiles"),
    "bam": ("Cover", "create_from_bam", "bamfiles"),
    "bed": ("Cover", "create_from_bed", "bedfiles"),
    "refgenome": ("Bioseq", "create_from_refgenome", "refgenome"),
    "seq": ("Bioseq", "create_from_seq", "fastafile"),
}
_PATH_KEYS = ("files", "roi", "genomesize", "store", "variants")


def need_file(path: str | os.PathLike, what: str) -> str:
    """``path`` as a string, after checking that a local file exists (URLs pass).

    Parameters
    ----------
    path
        A local path or a URL (anything with ``://``, which is not checked).
    what
        What the file is, named in the error message (``"spec"``, ...).

    Returns
    -------
    str
        ``str(path)``.

    Raises
    ------
    MissingFileError
        If a local ``path`` does not exist (an InputFileError and a FileNotFoundError).
    """
    text = str(path)
    if "://" not in text and not Path(text).exists():
        raise MissingFileError(f"{what} {text} does not exist", text)
    return text



def load_spec(path: str | os.PathLike) -> list[dict[str, Any]]:
    """Read and validate a build spec (TOML or YAML); see the module documentation.

    Parameters
    ----------
    path
        The spec file.

    Returns
    -------
    list of dict
        One entry per dataset: ``name``, ``kind``, ``files`` and constructor keywords,
        with relative paths made absolute (relative to the spec's directory) and
        ``storage`` defaulting to ``'zarr'``.

    Raises
    ------
    MissingFileError
        If the spec file does not exist (an InputFileError and a FileNotFoundError).
    MalformedFileError
        If it cannot be parsed.
    ArgumentError
        For a missing ``name``/``kind``, an unknown ``kind`` or an unknown key.
    """
    import tomllib

    import yaml

    path = Path(need_file(path, "spec"))
    try:
        text = path.read_text(encoding="utf-8-sig")  # (a byte-order mark left out)
    except UnicodeDecodeError as e:
        raise MalformedFileError(f"{path}: a spec is a TOML or YAML text file in UTF-8; this "
                                 f"one is not ({e})") from e
    suffix = path.suffix.lower()
    try:
        if suffix == ".toml":
            raw = tomllib.loads(text)
        elif suffix in (".yaml", ".yml"):
            raw = yaml.load(text, Loader=_unique_keys_loader())  # (a SafeLoader)
        else:
            try:
                raw = tomllib.loads(text)
            except tomllib.TOMLDecodeError:
                raw = yaml.load(text, Loader=_unique_keys_loader())
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as e:
        raise MalformedFileError(f"{path}: cannot parse the spec: {e}") from e
    if not isinstance(raw, dict):
        raise MalformedFileError(f"{path}: a spec must be a table/mapping of keys, got "
                                 f"{type(raw).__name__}")
    entries = raw.pop("datasets", None)
    if entries is None:
        entries = [{}]
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries) \
            or not entries:
        raise ArgumentError(f"{path}: 'datasets' must be a non-empty list of tables")
    # top-level keys are defaults for the entries whose kind takes them (resolution
    # for the coverage kinds, not refgenome); a key no kind takes is an error below
    kinds = {str(e.get("kind", raw.get("kind", ""))).lower() for e in entries}
    taken = {k for kind in kinds & set(SPEC_KINDS) for k in _valid_keys(kind)}
    out = []
    for i, entry in enumerate(entries):
        kind = str(entry.get("kind", raw.get("kind", ""))).lower()
        valid = set(_valid_keys(kind)) if kind in SPEC_KINDS else set()
        spec = {**{k: v for k, v in raw.items() if k in valid or k not in taken}, **entry}
        where = f"{path}: dataset {spec.get('name', i)!r}"
        for key in ("name", "kind"):
            if key not in spec:
                raise ArgumentError(f"{where}: missing key {key!r}")
            if not isinstance(spec[key], str):
                raise ArgumentError(f"{where}: {key} must be a string, got {spec[key]!r}")
        try:  # (the build's rule, so that --check finds a name the build refuses)
            check_name(spec["name"])
        except ArgumentError as e:
            raise ArgumentError(f"{where}: {e}") from None
        kind = str(spec["kind"]).lower()
        if kind not in SPEC_KINDS:
            raise ArgumentError(f"{where}: unknown kind {spec['kind']!r}; valid kinds: "
                                f"{', '.join(SPEC_KINDS)}")
        spec["kind"] = kind
        valid = _valid_keys(kind)
        unknown = [k for k in spec if k not in valid]
        if unknown:
            hints = []
            for k in unknown:
                close = difflib.get_close_matches(k, valid, n=1)
                hints.append(f"{k!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
            raise ArgumentError(f"{where}: unknown key(s) {', '.join(hints)} for kind "
                                f"{kind!r}; valid keys: {', '.join(sorted(valid))}")
        if "files" not in spec:
            raise ArgumentError(f"{where}: missing key 'files' (the input file or files)")
        if kind == "refgenome":
            _one_fasta(spec["files"], where)
        _check_types(spec, kind, where)
        for key in ("conditions", "samples"):  # (a VCF's sample names too: samples
            # [010] selected the sample '8', an audit)
            names = spec.get(key)
            if names is not None and not all(
                    isinstance(c, str) for c in (names if isinstance(names, list) else [names])):
                # YAML reads unquoted 010 as 8, 2.10 as 2.1, 1_000 as 1000: the names
                # would not be the ones written
                raise ArgumentError(
                    f"{where}: {key} must be strings, got {names!r}; quote names that "
                    "look like numbers (e.g. '010')")
        for key in _PATH_KEYS:
            if key in spec and spec[key] is not None:
                spec[key] = _resolve(spec[key], path.parent, key)
        # every input must exist before anything is built
        inputs = spec["files"] if isinstance(spec["files"], list) else [spec["files"]]
        for f in inputs:
            need_file(f, f"{where}: input file")
        if kind in ("bigwig", "bam", "bed"):
            _check_sheet(inputs, spec.get("conditions"), where, bed=kind == "bed")
        for key in ("roi", "genomesize", "variants"):
            if isinstance(spec.get(key), str) and not (key == "roi" and _is_region(spec[key])):
                need_file(spec[key], f"{where}: {key}")
        spec.setdefault("storage", "zarr")
        out.append(spec)
    names = [s["name"] for s in out]
    if len(set(names)) != len(names):
        raise ArgumentError(f"{path}: dataset names must be unique, got {names}")
    # one store per dataset: two entries with the same store (a top-level 'store' is a
    # default for every entry) would build one over the other
    stores = [str(s["store"]) for s in out if s.get("store") is not None]
    shared = sorted({p for p in stores if stores.count(p) > 1})
    if shared:
        raise ArgumentError(
            f"{path}: datasets {[s['name'] for s in out if str(s.get('store')) in shared]} "
            f"would share the store {shared[0]}; give each dataset a store of its own (a "
            "top-level 'store' is a default for every dataset)")
    return out


def _unique_keys_loader() -> Any:
    """PyYAML's SafeLoader refusing a key given twice in one mapping (it keeps the last:
    ``files: a.bw`` then ``files: b.bw`` built from b.bw alone), as TOML refuses it."""
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    def mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> Any:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # '<<: *anchor': keys it
                continue  # brings in are overridden by the mapping's own, as YAML says
            key = loader.construct_object(key_node)
            try:
                duplicate = key in seen
            except TypeError:  # a key that cannot be one: the SafeLoader says so
                break
            if duplicate:
                raise yaml.constructor.ConstructorError(
                    "while reading a mapping", node.start_mark,
                    f"found the key {key!r} twice", key_node.start_mark)
            seen.add(key)
        return loader.construct_mapping(node)

    Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, mapping)
    return Loader


def _check_sheet(inputs: list[Any], conditions: Any, where: str, *, bed: bool = False,
                 ) -> None:
    """Read a local sample sheet given as ``files`` (a URL is read by the build, as other
    URL inputs): its problems, and input files it lists that do not exist, are errors
    naming the spec and the dataset before anything is built. With ``bed`` (kind bed), a
    file named as a sheet whose lines read as BED lines is a BED file, as the build
    reads it (:func:`genozarr.samples.sheet_of`)."""
    from genozarr.io._remote import is_url
    from genozarr.samples import read_sample_sheet, sheet_of

    if len(inputs) > 1:
        try:  # (a sheet among other inputs: refused, as the build would)
            sheet_of(inputs, bed=bed)
        except GenozarrError as e:
            raise type(e)(f"{where}: {e}") from e
    if len(inputs) != 1 or not isinstance(inputs[0], str) or is_url(inputs[0]) \
            or sheet_of(inputs[0], bed=bed) is None:
        return
    try:
        sheet = read_sample_sheet(inputs[0])
    except GenozarrError as e:
        raise type(e)(f"{where}: {e}") from e
    if conditions is not None:
        raise ArgumentError(f"{where}: the sample sheet {sheet.source} names the conditions; "
                            "remove the key 'conditions'")


def _one_fasta(files: Any, where: str) -> Any:
    """The one FASTA file of a refgenome entry (``files`` a path or a list of one)."""
    if not isinstance(files, list):
        return files
    if len(files) != 1:
        raise ArgumentError(f"{where}: kind refgenome takes one FASTA file, got {len(files)}")
    return files[0]


#: spec keys whose values are whole numbers (or None), whatever their default
_INT_KEYS = frozenset({"binsize", "stepsize", "flank", "resolution", "order",
                       "template_extension", "fixedlen"})


def _check_types(spec: dict[str, Any], kind: str, where: str) -> None:
    """The types ``--check`` can tell without building: whole numbers where the
    constructor takes them (:data:`_INT_KEYS`), true/false where its default is a bool
    (YAML/TOML read ``"200"`` and ``"false"`` as text, which the build refuses)."""
    from genozarr import dataset

    cls_name, ctor, _ = SPEC_KINDS[kind]
    params = inspect.signature(getattr(getattr(dataset, cls_name), ctor)).parameters
    for key, value in spec.items():
        if value is None or key not in params:
            continue
        if isinstance(params[key].default, bool) and not isinstance(value, bool):
            raise ArgumentError(f"{where}: {key} must be True or False, got {value!r}")
        if key in _INT_KEYS and (isinstance(value, bool) or not isinstance(value, int)):
            raise ArgumentError(f"{where}: {key} must be an integer, got {value!r} "
                                "(numbers are written without quotes)")


def _valid_keys(kind: str) -> list[str]:
    from genozarr import dataset

    cls_name, ctor, file_arg = SPEC_KINDS[kind]
    sig = inspect.signature(getattr(getattr(dataset, cls_name), ctor))
    keys = [p for p in sig.parameters if p not in ("cls", "name", file_arg)]
    return ["name", "kind", "files", *keys]


def _is_region(value: str) -> bool:
    """Whether a spec value is a region string (``'chr1:1000-2000'``), not a path."""
    from genozarr.regions import _REGION_TEXT

    return "/" not in value and _REGION_TEXT.match(value.strip()) is not None


def _resolve(value: Any, base: Path, key: str) -> Any:
    """Paths in a spec are relative to the spec's directory; URLs and mappings stay."""
    if isinstance(value, list):
        return [_resolve(v, base, key) for v in value]
    if not isinstance(value, str) or "://" in value:
        return value
    if key == "files":
        from genozarr.samples import is_sample_sheet

        if is_sample_sheet(value):  # the sheet's folder as given (its paths are
            # relative to it, also where the sheet is a link to one elsewhere)
            return os.path.abspath(base / os.path.expanduser(value))
    if key == "roi" and _is_region(value) and not (base / value).exists():
        return value  # a region string ('chr1:1000-2000'), not a file of that name
    value = os.path.expanduser(value)
    # (not resolved: a link keeps its own name, which names conditions, as in the call)
    return value if os.path.isabs(value) else os.path.abspath(base / value)


def _default_store(spec: dict[str, Any], out: str | os.PathLike | None) -> str | None:
    """Where :func:`build_from_spec` builds ``spec`` when it names no store: ``<out>/
    <name>.zarr`` for a zarr store and an ``out`` directory, else None."""
    if out is None or str(spec.get("storage")).lower() not in ("zarr", "hdf5"):
        return None  # (hdf5: Janggu's name for zarr)
    return str(Path(out) / f"{spec['name']}.zarr")


def check_stores(entries: list[dict[str, Any]], out: str | os.PathLike | None) -> None:
    """Raise where two entries of a spec would build one store, counting the stores
    ``out`` gives the entries that name none (``<out>/<name>.zarr``).

    Raises
    ------
    ArgumentError
        Naming the datasets and the store.
    """
    def key(s: dict[str, Any]) -> str | None:
        store = s.get("store")
        store = _default_store(s, out) if store is None else local_form(store)
        if store is None or "://" in store:
            return store
        # the folders it lies in with their links followed: 'alias/x.zarr' with alias a
        # link to 'real' is 'real/x.zarr' (a store not built yet has no link to follow)
        return os.path.realpath(os.path.abspath(store))

    stores = [key(s) for s in entries]
    for store in dict.fromkeys(stores):
        names = [s["name"] for s, k in zip(entries, stores) if store is not None and k == store]
        if len(names) > 1:
            raise ArgumentError(
                f"datasets {names} would share the store {store}; give each dataset a "
                "store of its own (without 'store', a dataset is built at OUT/NAME.zarr)")
    # a store inside another one: building the outer one replaces the inner one (or,
    # built after it, waits on the publish lock the open inner dataset holds)
    for (a_name, a), (b_name, b) in itertools.permutations(
            [(s["name"], k) for s, k in zip(entries, stores) if k is not None], 2):
        if b.startswith(a.rstrip("/") + ("/" if "://" in a else os.sep)):
            raise ArgumentError(
                f"the store {b} of dataset {b_name!r} lies inside the store {a} of dataset "
                f"{a_name!r}; give each dataset a store of its own, outside the others")


def build_from_spec(spec: dict[str, Any], out: str | os.PathLike | None = None) -> Dataset:
    """Build one dataset of a spec entry (from :func:`load_spec`).

    Parameters
    ----------
    spec
        A validated spec entry.
    out
        Directory for stores without an explicit ``store`` (``<out>/<name>.zarr``).

    Returns
    -------
    Dataset
    """
    from genozarr import dataset

    spec = dict(spec)
    cls_name, ctor, file_arg = SPEC_KINDS[spec.pop("kind")]
    name = spec.pop("name")
    files = spec.pop("files")
    if file_arg == "refgenome":
        files = _one_fasta(files, f"dataset {name!r}")
    if spec.get("store") is None and (default := _default_store({**spec, "name": name}, out)):
        # (store: null is the default too, as the check of shared stores takes it: it was
        # built under the output root while the check looked at --out)
        spec["store"] = default
    cls = getattr(dataset, cls_name)
    try:
        return getattr(cls, ctor)(name, files, **spec)
    except (TypeError, ValueError) as e:
        if isinstance(e, GenozarrError):
            raise
        # a value of the wrong type in the spec (a number for a path, text for a number)
        raise ArgumentError(f"dataset {name!r}: {type(e).__name__}: {e}; check the types of "
                            "the spec's values (see `genozarr build --help`)") from e


