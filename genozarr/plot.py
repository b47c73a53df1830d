"""Genome-browser-like plots of datasets over a genomic region.

:func:`plot_genome_track` draws one panel per track, stacked over a shared x axis in
genomic coordinates:

``'line'``
    Coverage as a filled step line per condition, conditions overlaid with a legend (or
    one panel per condition with ``stacked=True``). Two-strand data are mirrored: the
    plus strand above zero, the minus strand below.
``'heatmap'``
    One row per condition (and strand), colour = value, with a colour bar.
``'seqplot'``
    A :class:`~genozarr.dataset.Bioseq` track: coloured letters when the region is short
    (at most ``max_letters`` bases), a one-hot heat map otherwise. A
    :class:`~genozarr.dataset.Cover` whose conditions are sequence letters (attribution
    scores, e.g. ``A, C, G, T``) is drawn as stacked bars per letter, as Janggu's
    ``SeqTrack``.

Janggu's track objects are accepted too: :class:`LineTrack` (line style, colour, height),
:class:`HeatTrack` and :class:`SeqTrack`, each wrapping a dataset.

The figure is a plain ``matplotlib.figure.Figure`` with an Agg canvas: it is never
registered with pyplot, so nothing pops up and nothing leaks; save it with
``fig.savefig("region.png")`` (notebooks display it when it is the cell's value).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from genozarr.errors import ArgumentError, RegionError

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from genozarr.dataset import Dataset

__all__ = ["plot_genome_track", "plotGenomeTrack", "PLOTTYPES", "Track", "LineTrack",
           "HeatTrack", "SeqTrack"]

#: Panel kinds understood by :func:`plot_genome_track`.
PLOTTYPES = ("line", "heatmap", "seqplot")
_ALIASES = {"seq": "seqplot", "sequence": "seqplot", "heat": "heatmap"}
#: Colours of the DNA letters (A green, C blue, G orange, T red, as in sequence logos).
BASE_COLORS = {"A": "#109648", "C": "#255c99", "G": "#f7b32b", "T": "#d62839"}
_STRAND_LABELS = {"+": "+ strand", "-": "\u2212 strand", ".": ""}
#: inches per unit of a track's ``height`` (Janggu's grid rows): the default 3 gives the
#: 1.8 inches of a line panel
_INCHES_PER_HEIGHT = 0.6


class Track:
    """A dataset and how to draw it (Janggu's ``Track``); use a subclass.

    Parameters
    ----------
    data
        A :class:`~genozarr.dataset.Cover` or :class:`~genozarr.dataset.Bioseq`.
    height
        Panel height in Janggu's units (0.6 inch each).
    """

    #: the panel kind (a :data:`PLOTTYPES` entry)
    kind: ClassVar[str] = ""

    def __init__(self, data: Any, height: float) -> None:
        from genozarr.dataset import Dataset

        if not isinstance(data, Dataset):
            raise ArgumentError(
                f"{type(self).__name__} wraps a Cover or Bioseq, got {type(data).__name__}")
        if isinstance(height, bool) or not isinstance(height, (int, float, np.integer,
                                                               np.floating)) or height <= 0:
            raise ArgumentError(f"height must be a positive number, got {height!r}")
        self.data = data
        self.height = height

    @property
    def name(self) -> str:
        """The dataset's name (the panel label)."""
        return str(self.data.name)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.data!r}, height={self.height})"


class LineTrack(Track):
    """Coverage as lines, one panel per condition (Janggu's ``LineTrack``).

    Parameters
    ----------
    data
        A :class:`~genozarr.dataset.Cover`.
    height
        Height of each condition's panel, in Janggu's units (0.6 inch each).
    linestyle
        Matplotlib line style (every condition and strand; the minus strand of two-strand
        data is dashed below zero).
    marker
        Matplotlib marker drawn at every value (Janggu's default ``'o'``); None or ``''``
        for none.
    color, linewidth
        Matplotlib colour and width of the lines.
    """

    kind = "line"

    def __init__(self, data: Any, height: float = 3, linestyle: str = "-",
                 marker: str | None = "o", color: str = "b", linewidth: float = 2) -> None:
        super().__init__(data, height)
        self.condition_height = height
        self.height = height * len(getattr(data, "conditions", None) or [None])
        self.linestyle = linestyle
        self.linewidth = linewidth
        self.marker = marker
        self.color = color


class HeatTrack(Track):
    """Coverage as a heat map, one row per condition and strand (Janggu's ``HeatTrack``).

    Parameters
    ----------
    data
        A :class:`~genozarr.dataset.Cover`.
    height
        Panel height in Janggu's units (0.6 inch each).
    """

    kind = "heatmap"

    def __init__(self, data: Any, height: float = 3) -> None:
        super().__init__(data, height)


class SeqTrack(Track):
    """Sequence (Janggu's ``SeqTrack``): a :class:`~genozarr.dataset.Bioseq` as letters or
    one-hot, or a :class:`~genozarr.dataset.Cover` of per-letter scores (conditions named
    by sequence letters, e.g. input attributions) as stacked bars.

    Parameters
    ----------
    data
        A Bioseq, or a Cover whose conditions start with sequence letters.
    height
        Panel height in Janggu's units (0.6 inch each).
    """

    kind = "seqplot"

    def __init__(self, data: Any, height: float = 3) -> None:
        super().__init__(data, height)


def _as_tracks(tracks: Any) -> dict[str, tuple[Any, Track | None]]:
    """``{label: (dataset, track or None)}`` from a dataset or Track, a list of them or a
    dict."""
    from genozarr.dataset import Dataset

    if isinstance(tracks, (Dataset, Track)):
        return {tracks.name: (tracks.data, tracks) if isinstance(tracks, Track)
                else (tracks, None)}
    if isinstance(tracks, Mapping):
        items = list(tracks.items())
    elif isinstance(tracks, Sequence) and not isinstance(tracks, str):
        items = []
        taken = {str(getattr(t, "name", "track")) for t in tracks}
        used: set[str] = set()
        for t in tracks:
            name = label = str(getattr(t, "name", "track"))
            k = 1
            # a repeated name: the first "name (k)" that no track holds or took
            while label in used or (label != name and label in taken):
                k += 1
                label = f"{name} ({k})"
            used.add(label)
            items.append((label, t))
    else:
        raise ArgumentError(
            "tracks must be a Cover/Bioseq or Track, a list of them or a dict name -> "
            f"dataset, got {type(tracks).__name__}")
    if not items:
        raise ArgumentError("tracks is empty: give at least one dataset to plot")
    out: dict[str, tuple[Any, Track | None]] = {}
    for name, t in items:
        if isinstance(t, Track):
            out[str(name)] = (t.data, t)
        elif isinstance(t, Dataset):
            out[str(name)] = (t, None)
        else:
            raise ArgumentError(
                f"track {name!r} is a {type(t).__name__}, not a Cover or Bioseq (or a Track)")
    return out


def _letter_conditions(ds: Any) -> bool:
    """Whether a Cover's conditions name sequence letters (per-letter scores)."""
    conds = [str(c) for c in (getattr(ds, "conditions", None) or [])]
    if not conds or not all(c.isalpha() and c.isupper() for c in conds):
        return False
    k = len(conds[0])
    letters = {c[0] for c in conds}
    return all(len(c) == k for c in conds) and len(letters) > 1 and \
        len(conds) == len(letters) ** k


def _plottypes(plottypes: Any, tracks: dict[str, tuple[Any, Track | None]]) -> list[str]:
    from genozarr.dataset import Bioseq

    names = list(tracks)
    if plottypes is None:
        chosen = [None] * len(names)
    elif isinstance(plottypes, str):
        chosen = [plottypes] * len(names)
    elif isinstance(plottypes, Mapping):
        unknown = set(plottypes) - set(names)
        if unknown:
            raise ArgumentError(
                f"plottypes names unknown tracks {sorted(unknown)}; tracks: {names}")
        chosen = [plottypes.get(n) for n in names]
    else:
        chosen = list(plottypes)
        if len(chosen) != len(names):
            raise ArgumentError(
                f"plottypes has {len(chosen)} entries for {len(names)} tracks ({names})")
    out = []
    for name, kind in zip(names, chosen):
        ds, track = tracks[name]
        is_seq = isinstance(ds, Bioseq)
        if kind is not None:
            kind = _ALIASES.get(kind, kind)
        if track is not None:
            if kind is not None and kind != track.kind:
                raise ArgumentError(
                    f"track {name!r} is a {type(track).__name__} ({track.kind!r}); its "
                    f"plottype {kind!r} contradicts it (leave it None)")
            kind = track.kind
        if kind is None:
            kind = "seqplot" if is_seq else "line"
        if kind not in PLOTTYPES:
            raise ArgumentError(f"plottype {kind!r} of track {name!r} is not one of {PLOTTYPES}")
        if kind == "seqplot" and not is_seq and not _letter_conditions(ds):
            conds = list(getattr(ds, "conditions", None) or [])
            raise ArgumentError(
                f"plottype 'seqplot' needs a Bioseq, or a Cover whose conditions are sequence "
                f"letters (per-letter scores such as A, C, G, T); track {name!r} is a Cover "
                f"with conditions {conds[:6]}")
        out.append(kind)
    return out


def _channel_last(ds: Dataset, x: np.ndarray) -> np.ndarray:
    """Interval data as ``(position, strand, channel)`` whatever ``channel_last`` says."""
    return x if ds.channel_last else np.moveaxis(x, 0, -1)


def _labels(ds: Dataset) -> tuple[list[str], list[str]]:
    conds = [str(c) for c in getattr(ds, "conditions", ds.garray.meta.conditions)]
    return conds, [str(s) for s in ds.garray.meta.strands]


def _stored_mask(ds: Dataset, chrom: str, start: int, end: int) -> np.ndarray:
    """True at the bases of ``[start, end)`` that the store holds data for: inside the
    chromosome (whole-genome layout) or inside a stored window (partial layout)."""
    store = ds.garray
    mask = np.zeros(end - start, dtype=bool)
    if store.whole_genome:
        size = int(store.meta.chroms.get(chrom, end))
        mask[: max(0, min(end, size) - start)] = True
        return mask
    t = store.region_table
    if t is None:  # pragma: no cover - partial stores always have a region table
        mask[:] = True
        return mask
    # (a dataset's own windows: a view's only, as its interval reads; a wrapper's store)
    stored = getattr(ds, "_stored_rows", store.rows_overlapping)
    hit = stored(chrom, start, end)
    for r in hit:
        mask[max(int(t["start"][r]), start) - start:min(int(t["end"][r]), end) - start] = True
    size = store.meta.chroms.get(chrom) if store.meta.chroms else None
    if size:  # a window's flank past the chromosome end holds padding, not data
        mask[max(0, int(size) - start):] = False
    return mask


def _shade_missing(ax: Axes, start: int, mask: np.ndarray) -> None:
    """Grey background over the runs of bases without stored data."""
    if mask.all():
        return
    edges = np.flatnonzero(np.diff(np.r_[1, mask.astype(np.int8), 1]))
    for lo, hi in zip(edges[::2], edges[1::2]):
        ax.axvspan(start + lo, start + hi, color="0.92", lw=0, zorder=0)


def _genomic_axis(ax: Axes, chrom: str, start: int, end: int, bottom: bool) -> None:
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    ax.set_xlim(start, end)
    ax.xaxis.set_major_locator(MaxNLocator(nbins=8, steps=[1, 2, 2.5, 5, 10], integer=True))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{int(round(v)):,}"))
    ax.spines[["top", "right"]].set_visible(False)
    if bottom:
        ax.set_xlabel(f"{chrom} position (bp)")
    else:
        ax.tick_params(labelbottom=False)


def _condition_colors(n: int) -> list[Any]:
    """One distinct colour per condition (repeating after 10, the cycle drew condition
    ``k`` and ``k + 10`` alike): matplotlib's cycle ``C0``-``C9`` for the first 10 (as
    before, and the user's style), the light shades of ``tab20`` for the next 10, then
    ``turbo`` at golden-ratio steps, so that neighbours differ; a condition keeps its
    colour however many follow it."""
    import matplotlib

    light, turbo = matplotlib.colormaps["tab20"], matplotlib.colormaps["turbo"]
    return [f"C{i}" if i < 10 else light(2 * (i - 10) + 1) if i < 20
            else turbo(0.05 + 0.9 * ((i * 0.6180339887) % 1.0)) for i in range(n)]


def _line_panel(ax: Axes, name: str, start: int, data: np.ndarray, conds: list[str],
                strands: list[str], cond_index: Sequence[int],
                style: LineTrack | None = None) -> None:
    edges = start + np.arange(data.shape[0] + 1)
    mirrored = len(strands) == 2
    n_lines = 0
    colors = _condition_colors(len(conds))  # (by condition: the same in every panel)
    for ci in cond_index:
        color = style.color if style is not None else colors[ci]
        for si, strand in enumerate(strands):
            y = np.asarray(data[:, si, ci], dtype=float)
            sign = -1.0 if (mirrored and strand == "-") else 1.0
            label = conds[ci] if len(cond_index) > 1 else ""
            slabel = _STRAND_LABELS.get(strand, strand) if mirrored else ""
            label = f"{label} ({slabel})" if label and slabel else (label or slabel or conds[ci])
            ls: Any = "-" if sign > 0 else (0, (4, 1))
            lw = 1.0
            if style is not None:
                ls = style.linestyle if sign > 0 else "--"
                lw = style.linewidth
            ax.stairs(sign * y, edges, fill=True, color=color, alpha=0.25, lw=0)
            ax.stairs(sign * y, edges, baseline=None, color=color, lw=lw, ls=ls, label=label,
                      gid=f"{name}|{conds[ci]}|{strand}")
            if style is not None and style.marker:
                ax.plot(edges[:-1] + 0.5, sign * y, ls="none", marker=style.marker,
                        color=color, markersize=3)
            n_lines += 1
    if mirrored:
        ax.axhline(0, color="0.4", lw=0.6)
    if n_lines > 1:
        ax.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), fontsize="small",
                  frameon=False, ncol=min(n_lines, 4), handlelength=1.5, borderaxespad=0.1)
    if len(cond_index) == 1 and (len(conds) > 1 or conds[cond_index[0]] != name):
        ax.set_ylabel(f"{name}\n{conds[cond_index[0]]}")
    else:
        ax.set_ylabel(name)


def _heatmap_panel(ax: Axes, name: str, start: int, data: np.ndarray, conds: list[str],
                   strands: list[str]) -> None:
    rows, labels = [], []
    for ci, cond in enumerate(conds):
        for si, strand in enumerate(strands):
            rows.append(data[:, si, ci])
            labels.append(cond if len(strands) == 1 else f"{cond} {strand}")
    mat = np.asarray(rows, dtype=float)
    length = mat.shape[1]
    from matplotlib import colormaps

    cmap = colormaps["magma_r"].with_extremes(bad=(0, 0, 0, 0))
    im = ax.imshow(mat, aspect="auto", interpolation="nearest", cmap=cmap,
                   extent=(start, start + length, len(rows) - 0.5, -0.5))
    ax.set_yticks(range(len(rows)), labels, fontsize="small")
    ax.set_ylabel(name)
    cax = ax.inset_axes((1.005, 0.0, 0.012, 1.0))
    cb = ax.figure.colorbar(im, cax=cax)
    cb.ax.tick_params(labelsize="x-small")


def _onehot_letters(onehot: np.ndarray, alphabet: list[str], order: int) -> list[str]:
    """Letter per base: the ``n`` k-mers (rows) of an order-``k`` one-hot cover ``n + k - 1``
    bases; a base is read from the first k-mer holding it that is not all zero (a k-mer
    with an unknown letter, or running into padding, is), 'N' where none is."""
    n, size = onehot.shape[0], len(alphabet)
    hit = onehot.max(axis=1) > 0 if n else np.zeros(0, dtype=bool)
    code = onehot.argmax(axis=1) if n else np.zeros(0, dtype=np.int64)
    letters = [a[0] for a in alphabet]
    out = []
    for j in range(n + order - 1 if n else 0):
        ch = "N"
        for m in range(max(0, j - order + 1), min(j, n - 1) + 1):
            if hit[m]:  # base j is letter j - m of k-mer m
                ch = letters[int(code[m]) // size ** (order - 1 - (j - m)) % size]
                break
        out.append(ch)
    return out


def _region_letters(ds: Any, chrom: str, start: int, end: int, onehot: np.ndarray,
                    kmers: list[str]) -> list[str]:
    """The letter of every base of ``chrom:start-end`` of a Bioseq whose one-hot k-mers
    starting in the region are ``onehot``. For order >= 2 a base's letter comes from a
    k-mer holding it, which may start before the region or run past its end: those
    k-mers are read too (from the region's k-mers alone, its first bases, or all of a
    region shorter than k, were 'N' or left out)."""
    alphabet = list(dict.fromkeys(k[0] for k in kmers))
    if ds.order == 1:
        return _onehot_letters(onehot, alphabet, 1)
    lead = min(start, ds.order - 1)
    wider = np.asarray(ds[chrom, start - lead, end + ds.order - 1])[0]
    every = _onehot_letters(_channel_last(ds, wider)[:, 0, :], alphabet, ds.order)
    return every[lead:lead + end - start]


def _seq_panel(ax: Axes, name: str, start: int, onehot: np.ndarray, kmers: list[str],
               order: int, stored: np.ndarray, every: list[str] | None) -> None:
    """The letter ``every`` base of the region (:func:`_region_letters`), or, where None
    (a region of more than ``max_letters`` bases), the one-hot k-mers as an image."""
    from matplotlib.colors import to_rgb

    length = onehot.shape[0]
    if every is not None:
        length = len(every)
        keep = stored[:len(every)]
        letters = [ch for ch, k in zip(every, keep) if k]
        x = start + np.flatnonzero(keep)
        colors = [BASE_COLORS.get(ch, "0.5") for ch in letters]
        ax.bar(x, np.ones(len(x)), width=1.0, align="edge", color=colors, alpha=0.18, lw=0)
        slot = ax.figure.get_figwidth() * 72 * ax.get_position().width / max(length, 1)
        size = float(np.clip(1.4 * slot, 4, 16))
        for xi, ch, col in zip(x, letters, colors):
            ax.text(xi + 0.5, 0.5, ch, ha="center", va="center", color=col,
                    fontsize=size, fontweight="bold", family="monospace")
        ax.set_ylim(0, 1)
        ax.set_yticks([])
    else:
        k = onehot.shape[1]
        if k == 4 and order == 1:
            img = np.ones((k, length, 3))
            for row, base in enumerate(kmers):
                img[row, onehot[:, row] > 0] = to_rgb(BASE_COLORS[base])
            ax.imshow(img, aspect="auto", interpolation="nearest",
                      extent=(start, start + length, k - 0.5, -0.5))
        else:
            ax.imshow(onehot.T, aspect="auto", interpolation="nearest", cmap="Greys",
                      extent=(start, start + length, k - 0.5, -0.5), vmin=0, vmax=1)
        if k <= 20:
            ax.set_yticks(range(k), kmers, fontsize="small", family="monospace")
        else:
            ax.set_yticks([])
    ax.set_ylabel(name)


def _letter_panel(ax: Axes, name: str, start: int, data: np.ndarray, conds: list[str]) -> None:
    """Per-letter scores (a Cover with letter conditions) as stacked bars per position, as
    Janggu's ``SeqTrack``: higher-order k-mer scores are summed onto their first letter;
    positive scores stack up from 0, negative ones down."""
    from matplotlib import colormaps

    scores = np.nan_to_num(np.asarray(data, dtype=float)).sum(axis=1)  # strands pooled
    letters = list(dict.fromkeys(c[0] for c in conds))
    per_letter = np.stack([scores[:, [c[0] == a for c in conds]].sum(axis=1) for a in letters],
                          axis=1)
    x = start + np.arange(per_letter.shape[0])
    up = np.zeros(len(x))
    down = np.zeros(len(x))
    palette = colormaps["tab20"]
    for k, letter in enumerate(letters):
        y = per_letter[:, k]
        color = BASE_COLORS.get(letter, palette(k % 20))
        bottom = np.where(y >= 0, up, down)
        ax.bar(x, y, bottom=bottom, width=1.0, align="edge", color=color, lw=0, label=letter,
               gid=f"{name}|{letter}")
        up += np.where(y >= 0, y, 0)
        down += np.where(y < 0, y, 0)
    ax.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), fontsize="small", frameon=False,
              ncol=len(letters), handlelength=1.0, borderaxespad=0.1)
    ax.set_ylabel(name)


def _panel_height(kind: str, data: np.ndarray, stacked: bool) -> float:
    """Panel height in inches."""
    if kind == "seqplot":
        return 0.9
    if kind == "heatmap":
        return 0.5 + 0.3 * data.shape[1] * data.shape[2]
    return 1.5 if stacked else 1.8


def plot_genome_track(
    tracks: Dataset | Track | Sequence[Dataset | Track] | Mapping[str, Dataset | Track],
    chrom: str, start: int,
    end: int, figsize: tuple[float, float] | None = None,
    plottypes: str | Sequence[str | None] | Mapping[str, str] | None = None, *,
    ax: Axes | Sequence[Axes] | None = None, stacked: bool = False,
    title: str | None = None, max_letters: int = 100,
) -> Figure:
    """Plot datasets over a genomic region, one panel per track, like a genome browser.

    Each track is read with interval access, ``dataset[chrom, start, end]`` (base
    resolution, genomic orientation, normalizers applied). Bases a track holds no data
    for (outside the stored windows of a ``store_whole_genome=False`` dataset, or past a
    chromosome end) are left blank on a grey background rather than drawn as zeros. Where
    windows of such a dataset overlap, the window stored last gives the values.

    Parameters
    ----------
    tracks
        A :class:`~genozarr.dataset.Cover` or :class:`~genozarr.dataset.Bioseq`, a list of
        them (panel labels from their names) or a dict ``{label: dataset}``; any of them
        may be a Janggu-style :class:`LineTrack`, :class:`HeatTrack` or :class:`SeqTrack`,
        which fixes the panel kind, its height and (``LineTrack``) the line style, with one
        panel per condition for a ``LineTrack``.
    chrom, start, end
        The region, 0-based half-open.
    figsize
        Figure size in inches; default 10 wide and about 1.7 per panel. (``figsize`` and
        ``plottypes`` may be given by position, in Janggu's order.)
    plottypes
        ``'line'``, ``'heatmap'`` or ``'seqplot'`` for every track, a list with one entry
        per track, or a dict ``{label: plottype}``; None (or a None entry) gives
        ``'seqplot'`` for a Bioseq and ``'line'`` for a Cover (a Track's kind for a Track).
        ``'seqplot'`` of a Cover needs conditions named by sequence letters (A, C, G, T
        scores, or their k-mers): stacked bars per letter.
    ax
        Axes to draw into instead of a new figure: one Axes, or one per panel.
    stacked
        Line tracks with several conditions: one panel per condition instead of overlaid
        lines.
    title
        Figure title; default the region, ``chr1:1,000-2,000``.
    max_letters
        Sequence tracks show letters up to this region length, a one-hot heat map above.

    Returns
    -------
    matplotlib.figure.Figure
        The figure (that of ``ax`` when given). Panels are in ``fig.axes`` from top to
        bottom; a line panel holds one line per condition and strand, in condition order
        (minus-strand values negated), drawn as a
        ``matplotlib.patches.StepPatch`` (``ax.stairs``) whose ``gid`` is
        ``"<label>|<condition>|<strand>"``: ``patch.get_data().values`` are the dataset's
        values (NaN where nothing is stored), ``.edges`` the base boundaries
        ``start .. end``.

    Raises
    ------
    ArgumentError
        For unknown plot types, a ``'seqplot'`` of a Cover without letter conditions, a
        plottype contradicting a Track, or a wrong number of ``ax``.
    RegionError
        When ``end <= start``.

    Examples
    --------
    >>> from genozarr import Cover, plot_genome_track
    >>> from genozarr.resources import resource_path
    >>> cover = Cover.create_from_bigwig(
    ...     "signal", [resource_path("sample_a.bw"), resource_path("sample_b.bw")],
    ...     roi=resource_path("sample.bed"), binsize=1000)
    >>> fig = plot_genome_track(cover, "chr1", 1000, 3000)
    >>> len(fig.axes), [p.get_gid() for p in fig.axes[0].patches if p.get_gid()]
    (1, ['signal|sample_a|.', 'signal|sample_b|.'])
    """
    from genozarr.dataset import Bioseq

    if isinstance(start, bool) or not isinstance(start, (int, np.integer)) or \
            isinstance(end, bool) or not isinstance(end, (int, np.integer)):
        raise ArgumentError(f"start and end must be integers, got {start!r}, {end!r}")
    start, end = int(start), int(end)
    if end <= start or start < 0:
        raise RegionError(f"cannot plot {chrom}:{start}-{end}: need 0 <= start < end")
    tr = _as_tracks(tracks)
    kinds = _plottypes(plottypes, tr)
    # read everything first so that a bad region fails before any drawing
    data = {n: _channel_last(ds, np.asarray(ds[chrom, start, end])[0])
            for n, (ds, _t) in tr.items()}
    masks = {n: _stored_mask(ds, chrom, start, end) for n, (ds, _t) in tr.items()}
    panels: list[tuple[str, str, tuple[int, ...]]] = []
    for (name, (ds, track)), kind in zip(tr.items(), kinds):
        n_cond = data[name].shape[-1]
        # Janggu's LineTrack draws each condition in a panel of its own
        split = stacked if track is None else isinstance(track, LineTrack)
        if kind == "line" and split and n_cond > 1:
            panels.extend((name, kind, (ci,)) for ci in range(n_cond))
        else:
            panels.append((name, kind, tuple(range(n_cond))))
    if ax is None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        heights = []
        for name, kind, ci in panels:
            track = tr[name][1]
            if track is None:
                heights.append(_panel_height(kind, data[name], stacked=len(ci) == 1))
            else:
                units = track.condition_height if isinstance(track, LineTrack) else track.height
                heights.append(float(units) * _INCHES_PER_HEIGHT)
        size = figsize or (10.0, 0.9 + sum(heights))
        fig = Figure(figsize=size, layout="constrained")
        FigureCanvasAgg(fig)
        axes = list(fig.subplots(len(panels), 1, sharex=True, squeeze=False,
                                 gridspec_kw={"height_ratios": heights})[:, 0])
    else:
        axes = list(np.ravel(ax)) if isinstance(ax, (Sequence, np.ndarray)) else [ax]
        if len(axes) != len(panels):
            raise ArgumentError(f"ax holds {len(axes)} Axes for {len(panels)} panels")
        fig = axes[0].figure
    for i, (axis, (name, kind, cond_index)) in enumerate(zip(axes, panels)):
        ds, track = tr[name]
        x_data = data[name]
        conds, strands = _labels(ds)
        stored = masks[name]
        if not stored.all() and kind != "seqplot":
            x_data = x_data.astype(np.result_type(x_data.dtype, np.float32), copy=True)
            x_data[~stored[: len(x_data)]] = np.nan
        if kind == "seqplot" and isinstance(ds, Bioseq):
            every = _region_letters(ds, chrom, start, end, x_data[:, 0, :], conds) \
                if end - start <= max_letters else None
            _seq_panel(axis, name, start, x_data[:, 0, :], conds, ds.order, stored, every)
        elif kind == "seqplot":
            _letter_panel(axis, name, start, x_data, conds)
        elif kind == "heatmap":
            _heatmap_panel(axis, name, start, x_data, conds, strands)
        else:
            _line_panel(axis, name, start, x_data, conds, strands, cond_index,
                        style=track if isinstance(track, LineTrack) else None)
        _shade_missing(axis, start, stored)
        _genomic_axis(axis, chrom, start, end, bottom=i == len(axes) - 1)
    axes[0].set_title(title if title is not None else f"{chrom}:{start:,}-{end:,}",
                      loc="left", fontsize="medium")
    return fig


#: Janggu's name for :func:`plot_genome_track`.
plotGenomeTrack = plot_genome_track  # noqa: N816
