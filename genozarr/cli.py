"""The ``genozarr`` command line.

Commands (``genozarr COMMAND --help`` for each):

``demo``
    Build stores from the bundled sample data and print a summary of each.
``build SPEC``
    Build stores from a TOML or YAML spec (below): genozarr without writing Python.
``info STORE``
    Summarise a store: dims, conditions, chunks, dtype, codec, size on disk, compression
    ratio, cache key, format version (``--json`` for scripts, ``--stats`` for values).
``export STORE OUTDIR``
    A coverage store to one BigWig (or bedGraph-like BED) file per condition.
``plot STORE CHROM START END -o out.png``
    A genome-browser-like PNG of a region (:func:`genozarr.plot.plot_genome_track`).
``trim ROI OUT --resolution R``
    Trim region starts up and ends down to multiples of R (Janggu's ``janggu-trim``).

**Build spec.** A TOML (``.toml``) or YAML (``.yaml``/``.yml``) file describes one
dataset with top-level keys, or several under ``datasets`` (a list of tables; keys given
at the top level are defaults for every entry whose kind takes them)::

    # spec.toml
    roi = "regions.bed"          # shared by the datasets below
    binsize = 1000

    [[datasets]]
    name = "signal"
    kind = "bigwig"              # bigwig | bam | bed | refgenome | seq
    files = ["a.bw", "b.bw"]
    resolution = 50
    normalizer = "zscore"
    store = "stores/signal.zarr"

    [[datasets]]
    name = "dna"
    kind = "refgenome"
    files = "genome.fa"

Keys: ``name`` and ``kind`` (required), ``files`` (one path or a list: the BigWig, BAM,
BED or FASTA files), ``store`` (destination: a directory or fsspec URL; default
``--out/<name>.zarr``, else the output root), and every keyword argument of the matching
constructor (:meth:`~genozarr.dataset.Cover.create_from_bigwig`,
:meth:`~genozarr.dataset.Cover.create_from_bam`,
:meth:`~genozarr.dataset.Cover.create_from_bed`,
:meth:`~genozarr.dataset.Bioseq.create_from_refgenome`,
:meth:`~genozarr.dataset.Bioseq.create_from_seq`), e.g. ``roi``, ``binsize``,
``stepsize``, ``flank``, ``resolution``, ``normalizer``, ``storage`` (default ``'zarr'``),
``store_whole_genome``, ``genomesize``, ``conditions``, ``collapser``, ``mode``,
``stranded``, ``min_mapq``, ``order``. Relative paths (``files``, ``roi``,
``genomesize``, ``store``, ``variants``) are relative to the spec file. An unknown key is
an error that lists the valid ones.

Errors in the input (missing files, bad regions, bad specs) print one line,
``genozarr: error: ...``, to stderr and exit with status 1.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import numpy as np
import typer

from genozarr.dataset import open_dataset
from genozarr.errors import ArgumentError, GenozarrError, get_logger
from genozarr.spec import SPEC_KINDS, build_from_spec, check_stores, load_spec
from genozarr.spec import need_file as _need_file
from genozarr.summary import store_summary

if TYPE_CHECKING:
    from rich.console import Console

    from genozarr.dataset import Dataset

__all__ = ["app", "main",
           "SPEC_KINDS"]

log = get_logger(__name__)

app = typer.Typer(
    name="genozarr",
    help="Genomics files (FASTA, BAM, BigWig, BED) to chunked zarr stores for deep learning.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="markdown",
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

_HANDLER_FLAG = "_genozarr_cli_handler"


# ---------------------------------------------------------------------------- helpers
def _console(stderr: bool = False) -> Console:
    from rich.console import Console

    # markup off: paths and condition names are printed as they are ('[bold]A' is a name,
    # and '[/x]' made rich fail)
    options: dict[str, Any] = {"highlight": False, "soft_wrap": False, "markup": False}
    stream = sys.stderr if stderr else sys.stdout
    if stream is None:  # (started with the stream closed: what it would print is dropped)
        import io

        return Console(file=io.StringIO(), width=120, **options)
    tty = sys.stdout is not None and sys.stdout.isatty()
    return Console(stderr=stderr, width=None if tty else 120, **options)


@contextmanager
def _clean_errors() -> Iterator[None]:
    """Turn input errors (GenozarrError, and OSError such as a missing file or a
    permission problem) into one line on stderr and exit status 1."""
    def show(message: Any, category: Any, *args: Any, **kwargs: Any) -> None:
        # a warning as one line, without the source line Python shows (typer's own)
        typer.echo(f"genozarr: warning: {' '.join(str(message).split())}", err=True)

    try:
        with warnings.catch_warnings():
            warnings.showwarning = show
            yield
    except (GenozarrError, OSError) as e:
        message = " ".join(str(e).split()) or type(e).__name__
        typer.echo(f"genozarr: error: {message}", err=True)
        log.debug("error details", exc_info=True)
        raise typer.Exit(1) from None


def _command(func: Callable[..., Any]) -> Callable[..., Any]:
    """Register ``func`` as a command whose input errors exit cleanly."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with _clean_errors():
            return func(*args, **kwargs)

    return app.command()(wrapper)


def _human(n: float | None) -> str:
    if n is None:
        return "unknown"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"  # pragma: no cover


# ---------------------------------------------------------------------------- stores
def _shape_text(s: dict[str, Any]) -> str:
    arrays = s["arrays"]
    if s["layout"] == "partial":
        return "x".join(map(str, arrays["data"]["shape"]))
    shapes = [a["shape"] for a in arrays.values()]
    total = sum(sh[0] for sh in shapes)
    return f"{total}x{shapes[0][1]}x{shapes[0][2]} ({len(shapes)} chroms)"


def _stats_lines(s: dict[str, Any]) -> list[str]:
    st = s.get("stats")
    if not st:
        return []
    if "base_fraction" in st:
        bf = st["base_fraction"]
        return [f"GC {st['gc_fraction']:.1%}, N {bf['N']:.1%} ("
                + ", ".join(f"{b} {bf[b]:.1%}" for b in "ACGT") + ")"]
    if "mean" not in st:
        return [f"codes: {st.get('code_counts')}"]
    missing = st.get("missing_fraction", {})
    return [f"{c}: no data" if st["mean"][c] is None else
            f"{c}: mean {st['mean'][c]:.4g}, max {st['max'][c]:.4g}, "
            f"nonzero {st['nonzero_fraction'][c]:.1%}"
            + (f", no data {missing[c]:.1%}" if missing.get(c) else "")
            for c in s["conditions"]]


def _names_text(names: list[str]) -> str:
    """Names joined by ``, ``, each quoted (``repr``) where a name would read ambiguously
    so (a comma, spaces at an end, an empty or unprintable name): ``a,b`` is one name."""
    names = [str(n) for n in names]
    if any("," in n or n != n.strip() or not n or not n.isprintable() for n in names):
        return ", ".join(map(repr, names))
    return ", ".join(names)


def _stats_text(s: dict[str, Any]) -> str:
    return "\n".join(_stats_lines(s))


def _print_summaries(console: Console, summaries: list[dict[str, Any]], title: str) -> None:
    from rich import box
    from rich.table import Table

    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD)
    for col in ("store", "kind", "layout", "shape", "chunks", "conditions", "on disk",
                "ratio"):
        table.add_column(col, overflow="fold", no_wrap=col != "conditions")
    for s in summaries:
        first = next(iter(s["arrays"].values()))
        ratio = s["compression_ratio"]
        table.add_row(s["name"], s["kind"], s["layout"].replace("_", " "), _shape_text(s),
                      "x".join(map(str, first["chunks"])), _names_text(s["conditions"]),
                      _human(s["disk_bytes"]), f"{ratio:.1f}x" if ratio else "-")
    console.print(table)
    if any(s.get("stats") for s in summaries):
        st = Table(title="statistics (over every stored bin)", title_justify="left",
                   box=box.SIMPLE_HEAD, show_header=False)
        st.add_column("store", style="bold")
        st.add_column("statistics")
        for s in summaries:
            st.add_row(s["name"], _stats_text(s))
        console.print(st)
    for s in summaries:
        console.print(f"{s['name']}: {s['store']}  dims ({', '.join(s['dims'])})")


# ---------------------------------------------------------------------------- callback
def _print_version(value: bool) -> None:
    if value:
        from genozarr import __version__

        typer.echo(f"genozarr {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    verbose: Annotated[int, typer.Option("--verbose", "-v", count=True,
                                         help="Log progress (-v) or debug details (-vv).")] = 0,
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.",
                                          callback=_print_version, is_eager=True)] = False,
) -> None:
    """genozarr: genomics files to chunked, compressed zarr stores for deep learning."""
    _setup_logging(verbose)


def _setup_logging(verbose: int) -> None:
    from rich.logging import RichHandler

    logger = logging.getLogger("genozarr")
    for h in list(logger.handlers):
        if getattr(h, _HANDLER_FLAG, False):
            logger.removeHandler(h)
    level = logging.WARNING if verbose <= 0 else logging.INFO if verbose == 1 else logging.DEBUG
    handler = RichHandler(console=_console(stderr=True), show_path=False, show_time=False)
    setattr(handler, _HANDLER_FLAG, True)
    logger.addHandler(handler)
    logger.setLevel(level)


# ---------------------------------------------------------------------------- demo
def _demo_specs(out: Path) -> list[tuple[str, str, dict[str, Any]]]:
    from genozarr.resources import resource_path as rp

    roi, sizes = rp("roi"), rp("chrom_sizes")
    return [
        ("dna", "refgenome", dict(refgenome=rp("fasta"), roi=roi, binsize=1000)),
        ("reads", "bam", dict(bamfiles=rp("bam"), roi=roi, binsize=1000, resolution=50,
                              stranded=True)),
        ("signal", "bigwig", dict(bigwigfiles=[rp("bigwig_a"), rp("bigwig_b")], roi=None,
                                  genomesize=sizes, binsize=1000, resolution=10,
                                  store_whole_genome=True)),
        ("peaks", "bed", dict(bedfiles=rp("peaks"), roi=roi, genomesize=sizes, binsize=1000,
                              resolution=10, mode="score")),
    ]


@_command
def demo(
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory for the stores.")]
    = Path("genozarr_demo"),
    plot: Annotated[bool, typer.Option(help="Also write region.png, a plot of chr1:1000-6000.")]
    = True,
) -> None:
    """Build stores from the bundled sample data and print a summary of each.

    Builds four zarr stores under OUT from the files in genozarr/resources: one-hot DNA
    (dna.zarr, 40 windows of 1 kb), stranded 5' read counts of sample.bam in 50 bp bins
    (reads.zarr), two BigWig signals over the whole genome in 10 bp bins (signal.zarr),
    and BED peak scores (peaks.zarr). Rebuilds them on every run.
    """
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from genozarr import Bioseq, Cover
    from genozarr.config import set_options

    out.mkdir(parents=True, exist_ok=True)
    specs = _demo_specs(out)
    datasets = {}
    with Progress(TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(),
                  console=_console(stderr=True), transient=True) as progress, \
            set_options(progress=False):
        task = progress.add_task("building stores", total=len(specs))
        for name, kind, kwargs in specs:
            progress.update(task, description=f"building {name}")
            cls_name, ctor, _ = SPEC_KINDS[kind]
            cls = Bioseq if cls_name == "Bioseq" else Cover
            datasets[name] = getattr(cls, ctor)(name, storage="zarr",
                                                store=str(out / f"{name}.zarr"), **kwargs)
            log.info("built %s: %s", name, datasets[name])
            progress.advance(task)
        progress.update(task, description="summarising")
        summaries = [store_summary(str(out / f"{name}.zarr"), stats=True) for name in datasets]
    console = _console()
    _print_summaries(console, summaries, f"genozarr demo: {len(summaries)} stores in {out}")
    if plot:
        from genozarr.plot import plot_genome_track

        fig = plot_genome_track({n: datasets[n] for n in ("signal", "reads", "peaks", "dna")},
                                "chr1", 1000, 6000, plottypes={"peaks": "heatmap"})
        fig.savefig(out / "region.png", dpi=110)
        console.print(f"plot of chr1:1,000-6,000: {out / 'region.png'}")
    console.print(f"next: genozarr info {out / 'signal.zarr'}  |  "
                  f"genozarr plot {out / 'signal.zarr'} chr1 0 30000 -o signal.png")


# ---------------------------------------------------------------------------- build
@_command
def build(
    spec: Annotated[Path, typer.Argument(
        metavar="SPEC", help="TOML or YAML build spec (format above).", show_default=False)],
    out: Annotated[Path | None, typer.Option(
        "--out", "-o", help="Directory for stores whose spec has no 'store' key "
        "(default: the output root, $GENOZARR_OUTPUT).")] = None,
    progress: Annotated[bool, typer.Option(help="Show ingest progress bars.")] = True,
    check: Annotated[bool, typer.Option("--check", help="Only validate the spec (its keys "
                                        "and files; values are checked by the build).")] = False,
    scheduler: Annotated[str | None, typer.Option(
        "--scheduler", help="dask.distributed scheduler address (e.g. tcp://host:8786): "
        "spread the ingest tasks over that cluster's workers.")] = None,
) -> None:
    """Build stores from a TOML or YAML spec, without writing Python.

    The spec names one dataset with top-level keys, or several as a list `datasets`
    (top-level keys are defaults for each), e.g. `spec.yaml` (TOML works the same, with
    a `datasets` array of tables):

        # spec.yaml
        roi: regions.bed
        binsize: 1000
        datasets:
          - name: signal
            kind: bigwig         # bigwig | bam | bed | refgenome | seq
            files:
              - a.bw
              - b.bw
            resolution: 50
            normalizer: zscore
            store: stores/signal.zarr

    Keys: `name`, `kind`, `files`, `store` (destination directory or URL; default
    OUT/NAME.zarr), and every keyword argument of the matching Cover.create_from_* /
    Bioseq.create_from_* constructor: roi, binsize, stepsize, flank, resolution,
    normalizer, storage (default zarr), store_whole_genome, genomesize, conditions,
    collapser, mode, stranded, min_mapq, order, ... Relative paths are relative to the
    spec file. Unknown keys are an error that lists the valid ones.
    """
    from genozarr.config import set_options

    entries = load_spec(spec)
    try:
        check_stores(entries, out)
    except ArgumentError as e:
        raise ArgumentError(f"{spec}: {e}") from None
    console = _console()
    if check:
        for e in entries:
            console.print(f"{e['name']}: kind {e['kind']}, files {e['files']}")
        console.print(f"{spec}: {len(entries)} dataset(s), spec is valid")
        return
    summaries = []
    client = None
    if scheduler is not None:
        from distributed import Client
        from distributed.comm import normalize_address, parse_address
        from distributed.comm.addressing import parse_host_port

        try:  # (checked first: a Client that fails to start stays the default client)
            protocol, location = parse_address(normalize_address(scheduler))
            if protocol in ("tcp", "tls"):
                parse_host_port(location)
        except ValueError as e:  # not an address ('missing port number')
            raise ArgumentError(f"--scheduler {scheduler!r} is not a scheduler address "
                                f"(tcp://HOST:PORT): {e}") from None
        if protocol not in _SCHEDULER_PROTOCOLS:  # ('inproc://' lives in one process; a
            # Client that fails on it waits 60 s at the interpreter's exit to close)
            raise ArgumentError(
                f"--scheduler {scheduler!r}: the protocol {protocol!r} cannot reach a "
                f"scheduler from this command; give a {', '.join(_SCHEDULER_PROTOCOLS)} "
                "address (tcp://HOST:PORT)")
        try:  # (not made the default client: one that fails to start would stay it, and
            # later computes of this process would wait on it; current for the build only)
            client = Client(scheduler, set_as_default=False)
        except OSError:  # cannot be reached: its message says so (one line, by main())
            raise
        except Exception as e:  # noqa: BLE001 - an address distributed cannot use
            # ('inproc://x', a protocol whose package is missing): one line, not a traceback
            raise ArgumentError(f"--scheduler {scheduler!r}: dask.distributed cannot "
                                f"connect to it ({type(e).__name__}: {e})") from None
        _console(stderr=True).print(f"ingest on dask.distributed: {client.dashboard_link}")
    try:
        with set_options(progress="auto" if progress else False,
                         scheduler="distributed" if client is not None else "auto"), \
                (client.as_current() if client is not None else nullcontext()):
            for entry in entries:
                _console(stderr=True).print(f"building {entry['name']} ({entry['kind']})")
                if not progress and "verbose" in entry:  # (--no-progress over the spec's)
                    entry = dict(entry, verbose=False)
                try:
                    ds = build_from_spec(entry, out)
                except GenozarrError as e:  # a value found wrong by the build: say where
                    message = " ".join(str(e).split()) or type(e).__name__
                    where = f"dataset {entry['name']!r}: "
                    done = f" ({len(summaries)} dataset(s) before it were built)" \
                        if summaries else ""
                    typer.echo(f"genozarr: error: {spec}: "
                               f"{'' if message.startswith(where) else where}{message}{done}",
                               err=True)
                    raise typer.Exit(1) from None
                path = ds.garray.path
                if path is None:
                    console.print(f"{ds.name}: built in memory ({entry.get('storage')} "
                                  f"storage, shape {ds.shape}); nothing written")
                    continue
                summaries.append(store_summary(path))
    finally:
        if client is not None:
            client.close()
    if summaries:
        _print_summaries(console, summaries, f"built {len(summaries)} store(s)")


# ---------------------------------------------------------------------------- info
@_command
def info(
    store: Annotated[str, typer.Argument(
        metavar="STORE", help="Store directory or URL.", show_default=False)],
    stats: Annotated[bool, typer.Option("--stats", help="Also compute per-condition "
                                        "statistics (reads the whole store).")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    trust_callables: Annotated[bool, typer.Option(
        "--trust-callables", help="Import and run a normalizer function or class of "
        "your own that the store's recipe names (only for stores you trust).")] = False,
) -> None:
    """Summarise a store: dims, chunks, codec, size on disk, compression ratio.

    Prints the dims, conditions, strands, resolution, chunks, dtype, codec, decoded size,
    size on disk (all files), compression ratio (decoded bytes / stored bytes of the data
    arrays), chromosomes, source files, cache key and format version.
    """
    s = store_summary(_need_file(store, "store"), stats=stats,
                      trust_callables=trust_callables)
    if as_json:
        typer.echo(json.dumps(s, indent=2))
        return
    from rich.table import Table

    console = _console()
    table = Table(title=f"{s['name']} ({s['kind']}, {s['layout']} layout)", show_header=False,
                  title_justify="left")
    table.add_column("key", style="bold")
    table.add_column("value", overflow="fold")
    first = next(iter(s["arrays"].values()))
    rows = [
        ("store", s["store"]),
        ("dims", f"({', '.join(s['dims'])})"),
        ("shape", _shape_text(s)),
        ("conditions", _names_text(s["conditions"])),
        ("strands", ", ".join(s["strands"])),
        ("served as", f"{s['dataset'] or s['kind']}"
         + (f", order {s['order']}" if s.get("order") else "")
         + (f", normalizers: {', '.join(s['normalizers'])}" if s["normalizers"] else "")),
        ("resolution / binsize / flank", f"{s['resolution']} / {s['binsize']} / {s['flank']}"),
        ("chunks", "x".join(map(str, first["chunks"]))),
        ("dtype", s["dtype"] + (" (served as float32)" if s["dtype"] == "bfloat16" else "")),
        ("codec", first["codec"]),
        ("decoded size", f"{_human(s['decoded_bytes'])} ({s['decoded_bytes']} bytes)"),
        ("size on disk", f"{_human(s['disk_bytes'])} ({s['disk_bytes']} bytes)"
         if s["disk_bytes"] is not None else "unknown (the storage lists no files)"),
        ("compression ratio", f"{s['compression_ratio']:.2f}" if s["compression_ratio"]
         else "-"),
        ("chromosomes", ", ".join(f"{c}: {n:,}" for c, n in s["chroms"].items())),
        ("sources", "\n".join(s["sources"]) or "-"),
        ("cache key", s["cache_key"] or "-"),
        ("format version", str(s["format_version"])),
    ]
    if stats:
        rows.append(("statistics", _stats_text(s)))
    for k, v in rows:
        table.add_row(k, v)
    console.print(table)


# ---------------------------------------------------------------------------- export
@_command
def export(
    store: Annotated[str, typer.Argument(
        metavar="STORE", help="A coverage store.", show_default=False)],
    outdir: Annotated[str, typer.Argument(
        metavar="OUTDIR", help="Output directory.", show_default=False)],
    fmt: Annotated[str, typer.Option("--format", "-f",
                                     help="bigwig or bed (bedGraph-like).")] = "bigwig",
    genomesize: Annotated[str | None, typer.Option(
        help="Chromosome sizes file for the BigWig header (default: the store's).")] = None,
    overlap: Annotated[str, typer.Option(
        help="Overlapping windows of a partial store: error or mean.")] = "error",
    skip_zeros: Annotated[bool, typer.Option(
        "--skip-zeros", help="Leave bins holding 0 out (as positions without data).")] = False,
    merge: Annotated[bool, typer.Option(
        "--merge", help="bed: one line per run of equal values (default: one line per bin, "
        "as Janggu wrote them). BigWig files always merge runs.")] = False,
    trust_callables: Annotated[bool, typer.Option(
        "--trust-callables", help="Import and run a normalizer function or class of "
        "your own that the store's recipe names (only for stores you trust).")] = False,
) -> None:
    """Export a coverage store to BigWig (or BED) files, one per condition.

    Files are named OUTDIR/NAME.CONDITION.bigwig (.bed), with .plus/.minus before the
    suffix for two-strand stores; values are written at the store's resolution.
    """
    from genozarr.dataset import Cover
    from genozarr.export import export_to_bed, export_to_bigwig

    fmt = fmt.lower()
    # bad option values are usage errors (exit 2), as typer's own checks (trim -r 0)
    if fmt not in ("bigwig", "bed"):
        raise typer.BadParameter(f"must be bigwig or bed, got {fmt!r}", param_hint="--format")
    from genozarr.export import OVERLAP_MODES

    if overlap not in OVERLAP_MODES:
        raise typer.BadParameter(f"must be one of {', '.join(OVERLAP_MODES)}, got "
                                 f"{overlap!r}", param_hint="--overlap")
    if genomesize is not None:
        _need_file(genomesize, "genome size file")
    cover = open_dataset(_need_file(store, "store"), trust_callables=trust_callables)
    if not isinstance(cover, Cover):
        raise ArgumentError(f"{store} is a sequence store; only coverage stores export to "
                            f"{fmt}")
    from genozarr.export import _OverlapError

    try:
        if fmt == "bigwig":
            paths = export_to_bigwig(cover, outdir, genomesize=genomesize, overlap=overlap,
                                     skip_zeros=skip_zeros)
        else:
            paths = export_to_bed(cover, outdir, genomesize=genomesize, overlap=overlap,
                                  skip_zeros=skip_zeros, merge=merge)
    except _OverlapError as e:  # advice in the command's terms: --overlap mean
        raise ArgumentError(e.naming("--overlap mean")) from None
    for p in paths:
        typer.echo(p)


# ---------------------------------------------------------------------------- plot
@_command
def plot(
    store: Annotated[str, typer.Argument(
        metavar="STORE", help="Store to plot.", show_default=False)],
    chrom: Annotated[str, typer.Argument(
        metavar="CHROM", help="Chromosome.", show_default=False)],
    start: Annotated[int, typer.Argument(
        metavar="START", help="Region start (0-based).", show_default=False)],
    end: Annotated[int, typer.Argument(
        metavar="END", help="Region end (exclusive).", show_default=False)],
    output: Annotated[str, typer.Option("--output", "-o", help="PNG file to write.")]
    = "genozarr_plot.png",
    track: Annotated[list[str] | None, typer.Option(
        "--track", "-t", help="Another store to plot below (repeatable).")] = None,
    plottype: Annotated[str | None, typer.Option(
        help="line, heatmap or seqplot for every track (default by kind).")] = None,
    stacked: Annotated[bool, typer.Option(help="One panel per condition.")] = False,
    width: Annotated[float, typer.Option(min=1.0, help="Figure width in inches.")] = 10.0,
    dpi: Annotated[int, typer.Option(min=10, help="Resolution of the PNG.")] = 110,
    trust_callables: Annotated[bool, typer.Option(
        "--trust-callables", help="Import and run a normalizer function or class of "
        "your own that the store's recipe names (only for stores you trust).")] = False,
) -> None:
    """Plot a region of one or more stores as a PNG (genome-browser-like panels)."""
    from matplotlib.figure import Figure

    from genozarr.plot import _ALIASES, PLOTTYPES, plot_genome_track

    if plottype is not None and _ALIASES.get(plottype, plottype) not in PLOTTYPES:
        raise typer.BadParameter(f"must be one of {', '.join(PLOTTYPES)}, got {plottype!r}",
                                 param_hint="--plottype")
    from genozarr.io._remote import local_form

    text = local_form(output)  # a file:// URL: its path
    if "://" in text:
        raise typer.BadParameter(f"{output}: the plot is written to a local file",
                                 param_hint="--output")
    output = Path(text)
    formats = Figure().canvas.get_supported_filetypes()
    suffix = output.suffix.lower().lstrip(".")
    if suffix not in formats:
        raise typer.BadParameter(f"{output}: matplotlib writes no {suffix or 'unnamed'!r} "
                                 f"files; use one of {', '.join(sorted(formats))} (png by "
                                 "default)", param_hint="--output")
    tracks: dict[str, Any] = {}
    for path in [store, *(track or [])]:
        ds = open_dataset(_need_file(path, "store"), trust_callables=trust_callables)
        label, k = ds.name, 1
        while label in tracks:  # a repeated name: its path, then numbered (a panel each)
            label = f"{ds.name} ({path})" if k == 1 else f"{ds.name} ({path}, {k})"
            k += 1
        tracks[label] = ds
    _check_plot_region(tracks, chrom, start, end)
    fig = plot_genome_track(tracks, chrom, start, end, plottypes=plottype, stacked=stacked)
    fig.set_figwidth(width)
    output.parent.mkdir(parents=True, exist_ok=True)
    existed = os.path.lexists(output)
    try:
        fig.savefig(output, dpi=dpi)
    except (RuntimeError, ValueError) as e:  # a tool missing (pgf: LaTeX), a size too large
        if not existed:  # a file it started is removed; one that was there is left
            output.unlink(missing_ok=True)
        raise GenozarrError(f"{output}: matplotlib could not write the plot: "
                            f"{' '.join(str(e).split())}") from e
    typer.echo(str(output))


#: the protocols of a ``--scheduler`` address (a scheduler in another process)
_SCHEDULER_PROTOCOLS = ("tcp", "tls", "ws", "wss")


def _check_plot_region(tracks: dict[str, Any], chrom: str, start: int, end: int) -> None:
    """A chromosome none of the stores holds, or a region past its end (where a store
    knows the length), is an error: a partial store would draw an empty panel."""
    from genozarr.errors import ChromosomeNotFoundError, RegionError

    chroms = [ds.garray.meta.chroms for ds in tracks.values()]
    if not any(chrom in c for c in chroms):
        names = list(dict.fromkeys(n for c in chroms for n in c))
        where = (f"store {next(iter(tracks.values())).garray.path}" if len(tracks) == 1
                 else f"any of the {len(tracks)} stores")
        raise ChromosomeNotFoundError(
            f"chromosome {chrom!r} is not in {where} (it holds "
            f"{names[:10]}{' ...' if len(names) > 10 else ''})")
    lengths = [int(c[chrom]) for c in chroms if c.get(chrom)]
    if lengths and start >= max(lengths):
        raise RegionError(
            f"{chrom}:{start}-{end} starts past the end of {chrom} as the store(s) record it "
            f"({max(lengths)} bases: the chromosome's length, or, for a store made from an "
            "array without genomesize, the end of its last window)")


# ---------------------------------------------------------------------------- trim
@_command
def trim(
    roi: Annotated[str, typer.Argument(
        metavar="ROI", help="Regions (BED or GFF/GTF).", show_default=False)],
    out: Annotated[Path, typer.Argument(
        metavar="OUT", help="Output BED file.", show_default=False)],
    resolution: Annotated[int, typer.Option("--resolution", "-r", min=1,
                                            help="Starts and ends become multiples of it.")],
) -> None:
    """Trim regions so starts and ends are multiples of a resolution (janggu-trim).

    Starts are rounded up and ends down to multiples of RESOLUTION; regions that vanish
    are dropped. Writes a 6-column BED (chrom, start, end, name, score, strand).
    """
    from genozarr.regions import load_regions, trim_regions

    before = load_regions(_need_file(roi, "regions file"))
    trimmed = trim_regions(before, resolution)
    frame = trimmed[["chrom", "start", "end", "name", "score", "strand"]].copy()
    score = frame["score"]
    if score.notna().all() and (score == score.round()).all():
        frame["score"] = score.astype(np.int64)
    else:
        frame["score"] = score.fillna(0)
    out.parent.mkdir(parents=True, exist_ok=True)
    from genozarr.io.bed import write_bed

    write_bed(frame, out)
    typer.echo(f"{out}: {len(frame)} regions ({len(before) - len(frame)} dropped), starts "
               f"and ends multiples of {resolution}")


# ---------------------------------------------------------------------------- entry
def main(argv: list[str] | None = None) -> int:
    """Run the ``genozarr`` command line.

    Parameters
    ----------
    argv
        Arguments (default ``sys.argv[1:]``).

    Returns
    -------
    int
        Exit status: 0 on success, 1 on an input error (one line on stderr), 2 on a usage
        error.
    """
    # a path or a condition name the terminal's encoding cannot show (PYTHONIOENCODING=
    # ascii) is printed escaped, not a UnicodeEncodeError traceback after the work is done;
    # only a stream that would fail is changed (Python's own C-locale streams pass file
    # names' bytes through with surrogateescape), and only while the command runs
    restore = []
    for stream in (sys.stdout, sys.stderr):
        errors = getattr(stream, "errors", None)
        utf = str(getattr(stream, "encoding", "") or "").lower().replace("-", "") \
            .startswith("utf")
        # (an ASCII stream with surrogateescape still fails on real non-ASCII text)
        if errors == "strict" or (errors == "surrogateescape" and not utf):
            try:
                stream.reconfigure(errors="backslashreplace")  # type: ignore[union-attr]
            except (AttributeError, ValueError, OSError):
                continue
            restore.append((stream, errors))
    # the command's log handler and level are for its own run: a caller's (in-process use)
    # are back as they were when it returns
    logger = logging.getLogger("genozarr")
    level, handlers = logger.level, list(logger.handlers)
    try:
        return _run(argv)
    finally:
        logger.setLevel(level)
        for h in list(logger.handlers):
            logger.removeHandler(h)
            if h not in handlers:
                h.close()
        for h in handlers:
            logger.addHandler(h)
        for stream, errors in restore:
            try:
                stream.reconfigure(errors=errors)  # type: ignore[union-attr]
            except (AttributeError, ValueError, OSError):
                pass


def _run(argv: list[str] | None) -> int:
    """:func:`main` once its streams are set up."""
    with _terminated_as_exit():
        try:
            app(args=argv, prog_name="genozarr")  # standalone: exits through SystemExit
        except SystemExit as e:
            code = e.code
            if code is None or isinstance(code, int):
                return int(code or 0)
            typer.echo(str(code), err=True)
            return 1
        except (GenozarrError, OSError) as e:  # raised outside a command
            typer.echo(f"genozarr: error: {' '.join(str(e).split())}", err=True)
            return 1
    return 0


@contextmanager
def _terminated_as_exit() -> Iterator[None]:
    """While the block runs, SIGTERM (a job scheduler's time limit, ``kill``) ends the
    command through ``SystemExit(143)``, as Ctrl-C does through KeyboardInterrupt: a build
    or export then removes its temporary store, partial files and writer processes on the
    way out, instead of dying where it stands. Only where SIGTERM has Python's default
    handling, in the main thread."""
    import signal
    import threading

    def stop(signum: int, frame: Any) -> None:
        raise SystemExit(128 + signum)

    if threading.current_thread() is not threading.main_thread() \
            or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        yield
        return
    signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
