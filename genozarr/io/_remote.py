"""Remote input files: ``http(s)://`` and ``s3://`` URLs (any fsspec URL), read through a
local copy.

Every reader of :mod:`genozarr.io` works on a local file (pyBigWig's wheels read no URLs,
htslib cannot reach an S3 endpoint such as MinIO or moto, and the index checks of
:mod:`genozarr.io.bam` and :mod:`genozarr.io.fasta` look at files on disk). A remote input
is therefore copied once into the input cache, ``<output root>/inputs`` (see
:func:`genozarr.config.output_dir`), together with the index files read with it (the
``.csi``/``.bai`` htslib would pick for a BAM file, the ``.fai`` and ``.gzi`` of a FASTA
file), and read from there with the same code, and the same checks, as a local file.

Layout of the cache::

    inputs/<sha256 of the URL>-<file name>/<version>/<file name>        the data file
                                               .../<file name>.bai       its index (BAM)
                                               .../genozarr-remote.json  written last

``version`` is a digest of the URL and the validators the server gives for the file and
its indexes (ETag, size, modification time), so a URL whose content changes gets a new
directory and an ingest running on the old copy keeps reading it. Files are downloaded
under temporary names and renamed into place; ``genozarr-remote.json`` (the completion
record, holding the SHA256 of every downloaded file, computed while downloading) is
written last. Reusing a copy costs one metadata request per file (``HEAD`` for http) and
reads nothing else: :func:`genozarr.store.cache.input_digests` takes the recorded
digests, so a remote file is never read twice for a cache key. A server that gives
neither an ETag nor a modification time, or no size, cannot be revalidated: such a file
is downloaded again on every use, into a directory of its own (a build still reading an
earlier copy keeps it).

The copies get one modification time for the data file and its indexes: object stores
report upload times, which say nothing about which file was written first, so the
"index older than its data file" rule of the local checks applies to remote inputs only
where the server says a BAM or VCF file's index is older than it by more than an hour
(:data:`REMOTE_INDEX_SLACK`); the content checks of the indexes still apply.

One process downloads a version directory at a time (an exclusive ``flock`` of the
directory; another one waits, then reuses the copy), and a file whose validators
differ once it is copied (it changed on the server meanwhile, so the bytes may mix two
versions) is not recorded: it is copied once more, and an error says so if it changed
again.
"""

from __future__ import annotations

import contextlib
import datetime
import functools
import hashlib
import json
import os
import re
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit, urlunsplit

from genozarr.errors import (
    ArgumentError,
    GenozarrError,
    InputFileError,
    MissingIndexError,
    StaleIndexError,
    UnreadableFileError,
    get_logger,
)

__all__ = ["is_url", "RemoteCopy", "fetch", "localize", "fetched", "input_cache_dir",
           "kind_of", "display_url", "recorded_name", "naming", "names_url"]

logger = get_logger(__name__)

F = TypeVar("F", bound=Callable[..., Any])

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*)://")
#: bytes read per request while downloading
_CHUNK = 8 << 20
#: name of the completion record in a version directory
RECORD = "genozarr-remote.json"

#: ``as_file_list``'s ``what`` -> kind of input (which index files go with it)
_KINDS = {"bam": "bam", "bigwig": "bigwig", "fasta": "fasta", "bed": "bed",
          "vcf/bcf": "vcf", "vcf": "vcf", "2bit": "2bit", "gff/gtf": "gff"}


def is_url(path: Any) -> bool:
    """Whether ``path`` is a URL (``scheme://...``) other than ``file://``.

    Parameters
    ----------
    path
        A path, URL or anything else (only ``str`` can be a URL).

    Returns
    -------
    bool
    """
    if not isinstance(path, str):
        return False
    m = _SCHEME.match(path)
    return m is not None and m.group(1).lower() != "file"


def local_form(path: str | os.PathLike | bytes) -> str:
    """A path or URL in the form genozarr reads and writes it: bytes decoded as the file
    system does (:func:`os.fsdecode`), a ``file://`` URL as its local path, percent-decoded
    (``file:///data/x``, ``file://localhost/data/x`` are ``/data/x``; ``file:///a%20b`` is
    ``/a b``), a leading ``~`` expanded to the home directory; other URLs as given.

    Parameters
    ----------
    path
        A local path (``str``, ``bytes`` or path-like) or a URL.

    Returns
    -------
    str

    Raises
    ------
    ArgumentError
        For a ``file://`` URL that names no absolute local path (``file://host/x``,
        ``file://relative``).
    """
    text = os.fsdecode(path) if isinstance(path, (bytes, os.PathLike)) else str(path)
    m = _SCHEME.match(text)
    if m is None:
        return os.path.expanduser(text)
    if m.group(1).lower() != "file":
        return text
    rest = text[m.end():]
    if rest.lower().startswith("localhost/"):
        rest = rest[len("localhost"):]
    if not rest.startswith("/"):
        raise ArgumentError(f"{text}: a file:// URL must name an absolute local path "
                            "(file:///path/to/file), or give the path itself")
    from urllib.parse import unquote

    return unquote(rest)  # percent-encoded as Path.as_uri() writes it (%20: a space)


def kind_of(what: str | None, url: str = "") -> str:
    """The kind of input (``"bam"``, ``"bigwig"``, ``"fasta"``, ...) from the name
    ``as_file_list`` uses (``"BAM"``, ``"BigWig"``, ...) or else from the URL's suffix;
    ``"file"`` when neither says."""
    if what:
        kind = _KINDS.get(what.lower())
        if kind:
            return kind
    name = _split(url)[1].lower()
    for suffixes, kind in (((".bam",), "bam"), ((".bw", ".bigwig"), "bigwig"),
                           ((".fa", ".fasta", ".fna", ".fa.gz", ".fasta.gz", ".fna.gz"),
                            "fasta"), ((".vcf.gz", ".bcf"), "vcf"), ((".2bit",), "2bit")):
        if name.endswith(suffixes):
            return kind
    return "file"


#: htslib's separator of a data file's URL and its index's URL
#: (``https://host/a.bam?sig=1##idx##https://host/a.bam.bai?sig=2``): a signed URL's index
#: has a signature of its own, so it cannot be found by changing the file name
INDEX_SEPARATOR = "##idx##"


def recorded_name(path: Any) -> str:
    """``path`` as a store records it: a URL as :func:`display_url` shows it (no
    password, no query values: a signed URL's token stays out of a store that is
    shared), any other path as it is."""
    text = str(path)
    return display_url(text) if is_url(text) else text


def display_url(url: str) -> str:
    """The URL as messages show it: without a password (``user:secret@host`` ->
    ``user:***@host``) or query values (a signed URL's signature: ``?X-Amz-Signature=...``
    -> ``?X-Amz-Signature=***``); both parts of ``data##idx##index``."""
    if INDEX_SEPARATOR in url:
        return INDEX_SEPARATOR.join(display_url(u) for u in url.split(INDEX_SEPARATOR, 1))
    parts = urlsplit(url)
    if parts.password is not None:
        parts = parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@", 1))
    if parts.query:
        parts = parts._replace(query="&".join(
            f"{item.partition('=')[0]}=***" if "=" in item else item
            for item in parts.query.split("&")))
    return urlunsplit(parts)


#: the one query an object store's URL may end with (s3fs: an object's version)
_VERSION_QUERY = re.compile(r"\?versionId=[^/?#]*$")


def _object_key_url(url: str) -> bool:
    """Whether ``url`` names an object by its key (``s3://``, ``gs://``, ...), where ``?``
    and ``#`` are characters of the key like any other, not a web URL's query and
    fragment."""
    return urlsplit(url).scheme.lower() not in ("http", "https")


def _split(url: str) -> tuple[str, str]:
    """``(URL up to and including the last '/' of its path, file name)``; the query and
    fragment are dropped (a web URL's; an object key's ``?`` and ``#`` are its own: the
    index of ``s3://b/s#1.bam`` was looked for as ``s.bai#1.bam``, an audit)."""
    if _object_key_url(url):
        head, _, name = _VERSION_QUERY.sub("", url).rpartition("/")
        return head + "/", name
    parts = urlsplit(url)
    head, _, name = parts.path.rpartition("/")
    return urlunsplit(parts._replace(path=head + "/", query="", fragment="")), name


def _with_name(url: str, name: str) -> str:
    """``url`` with the last part of its path replaced by ``name`` (a web URL's query
    kept: a signed URL's; an object's ``?versionId=`` dropped: the version is that
    object's own, not the named one's)."""
    if _object_key_url(url):
        return f"{_VERSION_QUERY.sub('', url).rpartition('/')[0]}/{name}"
    parts = urlsplit(url)
    head = parts.path.rpartition("/")[0]
    return urlunsplit(parts._replace(path=f"{head}/{name}"))


def _index_names(kind: str, name: str) -> tuple[list[str], bool]:
    """Names of the index files that go with a data file called ``name``, in the order
    htslib tries them, and whether only the first one found is used (BAM, VCF) or every
    one found (FASTA: ``.fai`` and ``.gzi``)."""
    if kind == "bam":
        base = name.removesuffix(".bam")
        return list(dict.fromkeys([name + ".csi", base + ".csi", name + ".bai",
                                   base + ".bai"])), True
    if kind == "fasta":
        return [name + ".fai", name + ".gzi"], False
    if kind == "vcf":
        return [name + ".csi", name + ".tbi"], True
    return [], False


# ------------------------------------------------------------------------------- errors
def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    node: BaseException | None = exc
    while node is not None and id(node) not in seen:
        seen.add(id(node))
        yield node
        node = node.__cause__ or node.__context__


def _status(exc: BaseException) -> tuple[int | None, str]:
    """The HTTP status (and its reason) found in an exception chain, if any."""
    for node in _chain(exc):
        status = getattr(node, "status", None)  # aiohttp.ClientResponseError
        if isinstance(status, int) and status >= 400:
            return status, str(getattr(node, "message", "") or "")
        response = getattr(node, "response", None)  # botocore.exceptions.ClientError
        if isinstance(response, Mapping):
            meta = response.get("ResponseMetadata") or {}
            error = response.get("Error") or {}
            code = meta.get("HTTPStatusCode")
            if isinstance(code, int) and code >= 400:
                return code, str(error.get("Message") or error.get("Code") or "")
    return None, ""


def redirect_loop(exc: BaseException) -> str | None:
    """``the server redirects in a loop (...)`` where ``exc``'s chain holds aiohttp's
    ``TooManyRedirects`` (its status is 0, so no HTTP status names it), else None."""
    for node in _chain(exc):
        if type(node).__name__ == "TooManyRedirects":
            history = getattr(node, "history", None) or ()
            last = history[-1].headers.get("Location") if history else None
            return ("the server redirects in a loop (too many redirects"
                    + (f", the last to {display_url(str(last))}" if last else "") + ")")
    return None


def _reason(exc: BaseException) -> str:
    """A one-line cause of a failed request: ``HTTP 404 Not Found``, ``connection
    refused by 127.0.0.1:9``, ``the server redirects in a loop (...)``, ..."""
    loop = redirect_loop(exc)
    if loop is not None:
        return loop
    status, message = _status(exc)
    if status is not None:
        return f"HTTP {status}{' ' + message if message else ''}"
    nodes = list(_chain(exc))
    timeout = next((n for n in nodes if _timed_out(n)), None)
    if timeout is not None:
        from genozarr.config import OPTIONS

        limit = OPTIONS["remote_timeout"]
        return (f"no answer in time ({type(timeout).__name__}"
                + (f"; set_options(remote_timeout={limit:g})" if limit else "") + ")")
    for node in nodes:
        if isinstance(node, ConnectionRefusedError):
            where = next((f" by {n.host}:{n.port}" for n in nodes
                          if getattr(n, "host", None) and getattr(n, "port", None)), "")
            return f"connection refused{where}"
    for node in nodes:
        name = type(node).__name__
        if name in ("ClientConnectorError", "EndpointConnectionError", "ConnectTimeoutError",
                    "ServerDisconnectedError", "ClientPayloadError", "ReadTimeoutError"):
            return f"{name}: {node}"
    lost = _connection_lost(exc)
    if lost is not None:
        return f"connection lost (reset by the server or the network): {lost}"
    for node in _chain(exc):
        if isinstance(node, (PermissionError,)):
            return f"access denied ({node})"
    return f"{type(exc).__name__}: {exc}"


def _connection_lost(exc: BaseException) -> BaseException | None:
    """The error in ``exc``'s chain that says the connection was lost (reset by the server
    or the network; fsspec wraps it in a FileNotFoundError), else None."""
    return next((n for n in _chain(exc) if isinstance(n, ConnectionResetError)
                 or type(n).__name__ == "ClientOSError"), None)


def _timed_out(exc: BaseException) -> bool:
    """Whether ``exc`` is a request that got no answer in time (asyncio's, aiohttp's,
    botocore's or fsspec's timeout)."""
    return isinstance(exc, TimeoutError) or "Timeout" in type(exc).__name__


def _is_absent(exc: BaseException) -> bool:
    """Whether a failed request means "no such file" (404/410, or a 403 of an object
    store, which answers 403 for missing keys to whoever may not list the bucket); a
    redirect loop is not."""
    if redirect_loop(exc) is not None:
        return False
    status, _ = _status(exc)
    if status is not None:
        return status in (403, 404, 410)
    if isinstance(exc, PermissionError):
        return True
    if isinstance(exc, FileNotFoundError):
        # fsspec's http filesystem turns every failure into FileNotFoundError: only one
        # with no connection problem (or refusal of genozarr's) behind it is an absent file
        from genozarr.errors import GenozarrError

        return not any(isinstance(n, (ConnectionError, GenozarrError))
                       or "Connector" in type(n).__name__
                       or _timed_out(n) for n in _chain(exc) if n is not exc)
    return False


def _failure(exc: BaseException, url: str, what: str, of: str | None = None) -> InputFileError:
    owner = f" (the index of {display_url(of)})" if of else ""
    from genozarr.errors import GenozarrError

    ours = next((n for n in _chain(exc) if isinstance(n, GenozarrError)), None)
    if ours is not None:  # (a redirect refused, wrapped by fsspec as FileNotFoundError)
        return InputFileError(f"cannot read {what} file {display_url(url)}{owner}: {ours}")
    reason = _reason(exc)
    status, _ = _status(exc)
    if status in (401, 403) or (status is None and isinstance(exc, PermissionError)):
        return UnreadableFileError(
            f"cannot read {what} file {display_url(url)}{owner}: {reason}; check the "
            "credentials (input_storage_options) and the URL")
    return InputFileError(f"cannot read {what} file {display_url(url)}{owner}: {reason}")


# ------------------------------------------------------------------------------ fsspec
def options_for(url: str, storage_options: Mapping[str, Any] | None) -> dict[str, Any]:
    """The fsspec options for one URL.

    ``storage_options`` is either the keyword arguments of the URL's filesystem
    (``{"key": ..., "client_kwargs": {"endpoint_url": ...}}`` for s3,
    ``{"headers": {...}}`` for http), or a dict of such dicts by protocol
    (``{"s3": {...}, "https": {...}}``) when inputs come from several places; ``https``
    falls back to the ``http`` entry.
    """
    if not storage_options:
        return {}
    import fsspec

    protocols = set(fsspec.available_protocols()) | {"http", "https", "s3", "s3a"}
    if all(k in protocols and (v is None or isinstance(v, Mapping))
           for k, v in storage_options.items()):
        scheme = url.split("://", 1)[0].lower()
        sub = storage_options.get(scheme)
        if sub is None and scheme == "https":
            sub = storage_options.get("http")
        return dict(sub or {})
    return dict(storage_options)


def _http_timeout() -> Any:
    """aiohttp's limits for inputs read over HTTP: no limit on a whole request (aiohttp's
    default, 5 minutes in all, failed the download of any input that took longer), 30 s
    to connect, and 5 minutes without a byte received (``set_options(remote_timeout=...)``
    seconds where set)."""
    import aiohttp

    from genozarr.config import OPTIONS

    limit = OPTIONS["remote_timeout"]
    return aiohttp.ClientTimeout(total=None, sock_connect=min(30, limit or 30),
                                 sock_read=limit or 300)


def _filesystem(url: str, storage_options: Mapping[str, Any] | None) -> tuple[Any, str]:
    import fsspec

    from genozarr.config import OPTIONS

    options = options_for(url, storage_options)
    scheme = url.split("://", 1)[0].lower()
    if scheme in ("http", "https"):
        client = dict(options.get("client_kwargs") or {})
        if "timeout" not in client:  # the user's limits, where given, stay
            with contextlib.suppress(ImportError):  # (no aiohttp: fsspec says so)
                client["timeout"] = _http_timeout()
                options = {**options, "client_kwargs": client}
    elif scheme in ("s3", "s3a") and OPTIONS["remote_timeout"] is not None \
            and "config_kwargs" not in options:
        limit = OPTIONS["remote_timeout"]  # botocore: per attempt, to connect and to read
        options = {**options, "config_kwargs": {"connect_timeout": limit,
                                                "read_timeout": limit}}
    try:
        if scheme in ("http", "https"):  # (no headers sent to another host on a redirect)
            from genozarr.store.open import _checked_http_class

            return _checked_http_class()(**options), url
        return fsspec.core.url_to_fs(url, **options)
    except (ImportError, ValueError, TypeError) as e:
        raise InputFileError(f"cannot read {display_url(url)}: no filesystem for this URL "
                             f"({type(e).__name__}: {e}); {install_hint(url)}") from e


#: the package fsspec needs for a URL scheme, and genozarr's extra that installs it
_SCHEME_PACKAGES = {"http": ("aiohttp", "http"), "https": ("aiohttp", "http"),
                    "s3": ("s3fs", "s3"), "s3a": ("s3fs", "s3"),
                    "gs": ("gcsfs", "gcs"), "gcs": ("gcsfs", "gcs")}


def install_hint(url: str) -> str:
    """What to install to read ``url``: the package fsspec needs for its scheme and the
    genozarr extra that brings it (``"for https:// install aiohttp (pip install
    'genozarr[http]')"``)."""
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    package = _SCHEME_PACKAGES.get(scheme)
    if package is None:
        return (f"for {scheme}:// install the fsspec implementation of that scheme"
                if scheme else "give a local path or a URL")
    return f"for {scheme}:// install {package[0]} (pip install 'genozarr[{package[1]}]')"


def _info(fs: Any, rpath: str) -> dict[str, Any]:
    invalidate = getattr(fs, "invalidate_cache", None)
    if invalidate is not None:
        with contextlib.suppress(Exception):
            invalidate(rpath)
    info = fs.info(rpath)
    if info.get("type") == "directory":
        raise IsADirectoryError(f"{rpath} is a directory")
    return info


def _a_page(info: Mapping[str, Any]) -> bool:
    """Whether a remote file's metadata says it is a web page (Content-Type text/html),
    which no index file is."""
    mimetype = str(info.get("mimetype") or info.get("ContentType") or "")
    return mimetype.partition(";")[0].strip().lower() in ("text/html", "application/xhtml+xml")


def _validator(info: Mapping[str, Any]) -> dict[str, Any]:
    """What identifies one version of a remote file: size, ETag, modification time."""
    etag = info.get("ETag") or info.get("etag") or info.get("e_tag")
    modified = (info.get("LastModified") or info.get("Last-Modified") or info.get("mtime")
                or info.get("last_modified"))
    version = info.get("VersionId") or info.get("generation")
    return {"size": info.get("size"), "etag": str(etag) if etag else None,
            "modified": str(modified) if modified else None,
            "version_id": str(version) if version else None}


# ------------------------------------------------------------------------------- copies
@dataclass(frozen=True)
class RemoteCopy:
    """A remote input file and its indexes, copied into the input cache.

    Attributes
    ----------
    url
        The data file's URL, as given.
    path
        Local copy of the data file (its indexes lie next to it, named as htslib expects).
    digests
        ``{local path: SHA256}`` of every downloaded file (data file and indexes).
    files
        ``{local path: URL}`` of every downloaded file.
    downloaded
        Whether this call downloaded the files (False: an existing copy was reused).
    """

    url: str
    path: str
    digests: dict[str, str] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)
    downloaded: bool = False

    def exists(self) -> bool:
        """Whether every file of the copy is still on disk."""
        return all(os.path.isfile(p) for p in self.files)


# url -> (copy, the options it was fetched with); this process only
_fetched: dict[str, tuple[RemoteCopy, dict[str, Any] | None]] = {}
_lock = threading.RLock()


def _reset_lock() -> None:
    """After ``fork``: a lock held by another thread of the parent would never be released."""
    global _lock
    _lock = threading.RLock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_lock)


#: in a forked child: the parent's fsspec filesystems, with their network sessions, kept
#: referenced and never closed here (see :func:`keep_inherited_clients`)
_INHERITED: list[Any] = []


def keep_objects(*objects: Any) -> None:
    """In a forked child: keep ``objects`` (what a reader held of the parent's network
    clients) referenced for the child's life, so they are never closed here (see
    :func:`keep_inherited_clients`, which the fork itself runs)."""
    _INHERITED.extend(o for o in objects if o is not None)


def keep_inherited_clients() -> None:
    """In a forked child: never close the network clients inherited from the parent.

    A child made by ``fork`` shares its parent's sockets and the epoll instance of the
    parent's event loop. Closing an inherited aiohttp connection in the child (fsspec's
    session finalizer once the child drops a filesystem, or the connector's ``__del__``)
    removes the socket from that shared epoll instance, and the parent's next request on
    the connection then waits forever (a DataLoader worker reading a store served over
    HTTP hung its parent that way). So the child keeps every filesystem fsspec had cached
    (fsspec empties its cache in a new process) and detaches their session finalizers;
    the child opens clients of its own. Run at every fork (``os.register_at_fork``);
    readers keep what else they held with :func:`keep_objects`.
    """
    import sys
    import weakref

    spec = sys.modules.get("fsspec.spec")
    if spec is None:  # fsspec never imported: no client to keep
        return
    classes = [spec.AbstractFileSystem]
    while classes:
        cls = classes.pop()
        classes.extend(cls.__subclasses__())
        cache = cls.__dict__.get("_cache")
        if isinstance(cache, dict):
            _INHERITED.extend(cache.values())
    for fin in list(getattr(weakref.finalize, "_registry", None) or ()):
        info = fin.peek()
        if info is not None and isinstance(info[0], spec.AbstractFileSystem):
            _INHERITED.append(info[0])
            fin.detach()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=keep_inherited_clients)


def input_cache_dir() -> Path:
    """``<output root>/inputs``: where remote inputs are copied (absolute)."""
    from genozarr.config import output_dir

    return Path(os.path.abspath(output_dir() / "inputs"))


def _safe_name(name: str) -> str:
    out = re.sub(r"[^A-Za-z0-9._%+=-]", "_", name)[:120].lstrip(".")
    return out or "file"


class _LocalWriteError(Exception):
    """Writing the copy failed on this machine (not the server's fault)."""


def _unwritable(url: str, where: Path, e: OSError) -> InputFileError:
    return InputFileError(
        f"cannot copy {display_url(url)} into the input cache: {where}: "
        f"{e.strerror or e}; free space there, or point GENOZARR_OUTPUT at a writable "
        "directory with room for the remote inputs")


def _why_short(fs: Any, rpath: str, size: int) -> str:
    """Why a download got another number of bytes than the file's size said: the file was
    replaced on the server meanwhile (its size now differs), or the transfer broke."""
    try:
        now = _info(fs, rpath).get("size")
    except Exception:  # noqa: BLE001 - the server is gone too: the transfer broke
        now = None
    if now is not None and int(now) != size:
        return (f"the file changed on the server while it was downloaded (it is {now} bytes "
                "now); read it again to get the new version")
    return "the connection broke or the server cut the file short; try again"


def ranged_headers(headers: Mapping[str, str] | None, asked: str) -> dict[str, str]:
    """``headers`` with ``Range: <asked>`` and, unless given, ``Accept-Encoding:
    identity``: a range of an answer in a content coding is a range of the coded bytes
    (RFC 9110), which a client that decodes the answer cannot take for the file's."""
    out = {**(headers or {}), "Range": asked}
    if not any(k.lower() == "accept-encoding" for k in out):
        out["Accept-Encoding"] = "identity"
    return out


async def _bytes_past(fs: Any, rpath: str, n: int) -> tuple[int, int]:
    """``(status, body bytes)`` of the answer to ``Range: bytes=<n>-`` for ``rpath`` on
    fsspec's HTTP filesystem ``fs`` (416: nothing past ``n``); the body is counted, not
    kept."""
    kw = fs.kwargs.copy()
    headers = ranged_headers(kw.pop("headers", {}), f"bytes={n}-")
    session = await fs.set_session()
    async with session.get(fs.encode_url(rpath), headers=headers, **kw) as r:
        if r.status == 416:
            return 416, 0
        fs._raise_not_found_for_status(r, rpath)
        got = 0
        async for block in r.content.iter_chunked(_CHUNK):
            got += len(block)
        return r.status, got


def _complete(fs: Any, rpath: str, n: int) -> bool:
    """Whether ``n`` bytes are all of ``rpath``, for a download whose size the server did
    not give (no Content-Length: the body ends when the connection closes, so a dropped
    connection looks like the end of the file): a ``Range: bytes=<n>-`` request must find
    nothing past them (416, or an empty body), or, from a server that ignores ranges (200),
    the whole file again, of ``n`` bytes. Other filesystems (which give sizes) are taken
    as complete."""
    if not hasattr(fs, "set_session") or not hasattr(fs, "encode_url"):
        return True
    from fsspec.asyn import sync

    status, got = sync(fs.loop, _bytes_past, fs, rpath, n)
    if status == 416 or got == 0:
        return True
    return status == 200 and got == n


def _download(fs: Any, rpath: str, url: str, dest: Path, size: int | None, what: str,
              of: str | None) -> str:
    """Copy one remote file to ``dest`` (atomically), returning its SHA256."""
    tmp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex[:12]}.part")
    digest = hashlib.sha256()
    n = 0
    protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
    # http: one streaming GET; object stores: ranged GETs of _CHUNK bytes, no read-ahead
    kwargs: dict[str, Any] = ({"block_size": 0} if protocol in ("http", "https")
                              else {"block_size": _CHUNK, "cache_type": "none"})
    started = time.perf_counter()
    try:
        dst = open(tmp, "wb")  # noqa: SIM115 - closed below
    except OSError as e:
        raise _unwritable(url, tmp.parent, e) from e
    try:
        with dst:
            try:
                src_cm = fs.open(rpath, "rb", **kwargs)
            except TypeError:  # a filesystem without these options
                src_cm = fs.open(rpath, "rb")
            with src_cm as src:
                while True:
                    block = src.read(_CHUNK)
                    if not block:
                        break
                    digest.update(block)
                    try:
                        dst.write(block)
                    except OSError as e:
                        raise _LocalWriteError() from e
                    n += len(block)
            try:
                dst.flush()
                os.fsync(dst.fileno())
            except OSError as e:
                raise _LocalWriteError() from e
        cannot = (f"cannot read {what} file {display_url(url)}"
                  f"{f' (the index of {display_url(of)})' if of else ''}")
        if size is not None and n != size:
            raise InputFileError(f"{cannot}: the download ended after {n} of {size} bytes; "
                                 + _why_short(fs, rpath, size))
        if size is None and not _complete(fs, rpath, n):
            raise InputFileError(
                f"{cannot}: the download was cut short after {n} bytes (the server gives no "
                "size, Content-Length, and holds more bytes past them): the connection broke "
                "or the server cut the file short; try again")
        try:
            os.replace(tmp, dest)
        except OSError as e:
            raise _LocalWriteError() from e
    except GenozarrError:
        raise
    except _LocalWriteError as e:
        cause = e.__cause__
        raise _unwritable(url, tmp, cause if isinstance(cause, OSError) else OSError()) from cause
    except Exception as e:
        raise _failure(e, url, what, of) from e
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()
    seconds = time.perf_counter() - started
    logger.info("downloaded %s (%d bytes, %.2f s, %.0f MB/s) to %s", display_url(url), n,
                seconds, n / 1e6 / max(seconds, 1e-9), dest)
    return digest.hexdigest()


def _check_index_history(directory: Path, entries: list[dict[str, Any]], url: str,
                         kind: str = "bam") -> None:
    """Refuse a BAM or VCF file downloaded with an index this cache already holds beside
    other content of that file (an earlier copy of the URL): the file was replaced on the
    server and its index was not rebuilt. Upload times cannot tell (object stores give
    upload times in any order), and the index's content checks do not see records added
    past the old index's reach: counted from it, they are left out silently (a VCF's new
    chromosome read as no variants, an audit).

    Raises
    ------
    StaleIndexError
        Naming both URLs; the new copy is removed.
    """
    alike: bool | None = None  # (indexing the copy again: at most once)
    for other in directory.parent.iterdir():
        if other == directory:
            continue
        try:
            with open(other / RECORD, encoding="utf-8") as fh:
                files = json.load(fh).get("files")
        except (OSError, ValueError, AttributeError):
            continue
        if not isinstance(files, list) or len(files) != len(entries):
            continue
        same_index = all(isinstance(f, dict) and f.get("sha256") == e["sha256"]
                         for f, e in zip(files[1:], entries[1:]))
        if not (same_index and isinstance(files[0], dict)
                and files[0].get("sha256") != entries[0]["sha256"]):
            continue
        if alike is None:
            alike = _index_rebuilt_alike(directory, entries, kind)
        if not alike:
            shutil.rmtree(directory, ignore_errors=True)
            what, records, tool = (("BAM file", "reads", "samtools index") if kind == "bam"
                                   else ("VCF file", "variants",
                                         "tabix -p vcf (or bcftools index)"))
            raise StaleIndexError(
                f"the index {entries[1]['url']} of {display_url(url)} is the one an earlier "
                f"copy of the {what} had, but the {what} has changed since: it was not "
                f"rebuilt after the {what} was replaced, and would leave {records} out. Run "
                f"'{tool}' on the new {what} and upload its index.")


def _index_rebuilt_alike(directory: Path, entries: list[dict[str, Any]],
                         kind: str = "bam") -> bool:
    """Whether indexing the downloaded BAM (or VCF) file here gives the downloaded index
    again (a file changed in fields of the same length, such as base qualities, has an
    index of the same bytes: not stale)."""
    import pysam

    data, index = directory / entries[0]["name"], directory / entries[1]["name"]
    tag = f".reindex-{uuid.uuid4().hex[:8]}"
    fresh = directory / f"{tag}{index.suffix}"
    linked = directory / f"{tag}{''.join(data.suffixes[-2:])}"  # (a VCF's name, to index)
    try:
        if kind == "bam":
            pysam.index(str(data), str(fresh), *(["-c"] if index.suffix == ".csi" else []))
        else:  # tabix writes the index beside the file it indexes: a link named apart
            os.link(data, linked)
            pysam.tabix_index(str(linked), preset="vcf", csi=index.suffix == ".csi",
                              keep_original=True)
            os.replace(f"{linked}{index.suffix}", fresh)
        return fresh.read_bytes() == index.read_bytes()
    except Exception:  # noqa: BLE001 - cannot tell: the history check stands
        return False
    finally:
        for path in (fresh, linked):
            with contextlib.suppress(OSError):
                path.unlink()


def _read_record(directory: Path, expected: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The completion record of a version directory, if it describes a complete copy of
    the ``expected`` files."""
    try:
        with open(directory / RECORD, encoding="utf-8") as fh:
            record = json.load(fh)
    except (OSError, ValueError):
        return None
    files = record.get("files") if isinstance(record, dict) else None
    if not isinstance(files, list) or len(files) != len(expected):
        return None
    for entry, want in zip(files, expected):
        if not isinstance(entry, dict) or entry.get("name") != want["name"] or \
                entry.get("validator") != want["validator"] or not entry.get("sha256"):
            return None
        try:
            if os.path.getsize(directory / want["name"]) != entry.get("bytes"):
                return None
        except OSError:
            return None
    return record


def fetch(url: str, what: str = "input", storage_options: Mapping[str, Any] | None = None,
          *, kind: str | None = None) -> RemoteCopy:
    """Make sure a local copy of ``url`` and of its index files is in the input cache.

    The server is asked for the validators of the file and of each index candidate (one
    metadata request each); a complete copy with the same validators is reused without
    reading anything, otherwise the files are downloaded.

    Parameters
    ----------
    url
        ``http(s)://``, ``s3://`` or another fsspec URL.
    what
        What the file is, for messages and to know its indexes (``"BAM"``, ``"BigWig"``,
        ``"FASTA"``, ...; see :func:`kind_of`).
    storage_options
        fsspec options (credentials, endpoint); see :func:`options_for`. ``None`` reuses
        the options this process last fetched the URL with, if any.
    kind
        The kind of input, overriding the one ``what`` gives.

    Returns
    -------
    RemoteCopy

    Raises
    ------
    InputFileError
        If the URL cannot be read ("cannot read BAM file https://...: HTTP 404 Not
        Found", connection refused, ...); ``UnreadableFileError`` for HTTP 401/403.
    MissingIndexError
        For a BAM file with no index next to it (none of ``.csi``/``.bai``).
    """
    if not is_url(url):
        raise InputFileError(f"{url!r} is not a URL")
    kind = kind or kind_of(what, url)
    with _lock:
        if storage_options is None and url in _fetched:
            storage_options = _fetched[url][1]
        copy = _fetch(url, what, kind, storage_options)
        _fetched[url] = (copy, dict(storage_options) if storage_options else None)
    return copy


def _sweep_partial(directory: Path) -> None:
    """Remove the partial downloads and records that a process killed while copying into
    ``directory`` left there (called under the directory's exclusive lock, so no other
    process is writing them)."""
    for pattern in (".*.part", f".{RECORD}.*.tmp"):
        for stale in directory.glob(pattern):
            with contextlib.suppress(OSError):
                stale.unlink()
                logger.debug("removed %s, left by a download that did not finish", stale)


def _download_version(directory: Path, files: list[dict[str, Any]], url: str, what: str,
                      kind: str) -> dict[str, Any] | None:
    """Download ``files`` (the data file and its indexes) into ``directory`` and write
    its completion record; None (nothing recorded, the copies removed) where a file's
    validators differ once it is copied: the server's file changed meanwhile, and the
    bytes may mix both versions."""
    entries = []
    for f in files:
        size = f["validator"]["size"]
        sha = _download(f["fs"], f["rpath"], f["url"], directory / f["name"],
                        int(size) if size is not None else None,
                        what if f["of"] is None else f"{what} index", f["of"])
        entries.append({"name": f["name"], "url": display_url(f["url"]),
                        "validator": f["validator"], "sha256": sha,
                        "bytes": os.path.getsize(directory / f["name"])})
    for f in files:
        try:
            now = _validator(_info(f["fs"], f["rpath"]))
        except Exception as e:
            raise _failure(e, f["url"], what if f["of"] is None else f"{what} index",
                           f["of"]) from e
        if now != f["validator"]:
            logger.info("%s changed on the server while it was copied (%s, now %s)",
                        display_url(f["url"]), f["validator"], now)
            for g in files:
                with contextlib.suppress(OSError):
                    (directory / g["name"]).unlink()
            return None
    if kind in ("bam", "vcf") and len(entries) > 1:
        _check_index_history(directory, entries, url, kind)
    # one modification time for the data file and its indexes (see the module doc)
    now_ns = time.time_ns()
    for f in files:
        os.utime(directory / f["name"], ns=(now_ns, now_ns))
    record = {"url": display_url(url), "kind": kind, "files": entries,
              "downloaded": datetime.datetime.now(datetime.UTC).isoformat()}
    tmp = directory / f".{RECORD}.{uuid.uuid4().hex[:12]}.tmp"
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(record, fh, indent=1, default=str)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, directory / RECORD)
    except OSError as e:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise _unwritable(url, directory, e) from e
    return record


#: an index on the server older than its data file by more than this (seconds) is stale
#: (object stores give upload times, in whatever order a tool uploads: the slack keeps
#: files uploaded together from being refused)
REMOTE_INDEX_SLACK = 3600.0


def _modified_seconds(value: Any) -> float | None:
    """A server's modification time (``Last-Modified`` text, an ISO time, a number) as
    seconds since the epoch; None where it cannot be read."""
    if value is None:
        return None
    text = str(value)
    with contextlib.suppress(ValueError, TypeError):
        return float(text)
    with contextlib.suppress(ValueError, TypeError):
        when = datetime.datetime.fromisoformat(text)
        return (when if when.tzinfo else when.replace(tzinfo=datetime.UTC)).timestamp()
    import email.utils

    with contextlib.suppress(ValueError, TypeError, IndexError):
        return email.utils.parsedate_to_datetime(text).timestamp()
    return None


def _check_index_dates(files: list[dict[str, Any]], what: str) -> None:
    """Refuse an index the server says is older than its data file by more than
    :data:`REMOTE_INDEX_SLACK` (a BAM or VCF file replaced, its index not rebuilt: reads
    past the old index's reach would be left out silently).

    Raises
    ------
    StaleIndexError
        Naming both URLs and their times.
    """
    data = _modified_seconds(files[0]["validator"]["modified"])
    if data is None:
        return
    for f in files[1:]:
        index = _modified_seconds(f["validator"]["modified"])
        if index is not None and data - index > REMOTE_INDEX_SLACK:
            raise StaleIndexError(
                f"the index {display_url(f['url'])} ({f['validator']['modified']}) is older "
                f"than its {what} file {display_url(files[0]['url'])} "
                f"({files[0]['validator']['modified']}) on the server, by "
                f"{(data - index) / 3600:.1f} h: the file was replaced and its index not "
                "rebuilt; rebuild the index and upload it beside the file")


def _fetch(url: str, what: str, kind: str, storage_options: Mapping[str, Any] | None,
           _retries: int = 1) -> RemoteCopy:
    data_url, _, given_index = url.partition(INDEX_SEPARATOR)
    fs, rpath = _filesystem(data_url, storage_options)
    name = _split(data_url)[1]
    if not name:
        raise InputFileError(f"cannot read {what} file {display_url(data_url)}: the URL "
                             "names a directory, not a file")
    try:
        info = _info(fs, rpath)
    except Exception as e:
        raise _failure(e, data_url, what) from e
    local_name = _safe_name(name)
    files = [{"name": local_name, "url": data_url, "rpath": rpath, "fs": fs,
              "validator": _validator(info), "of": None}]
    if given_index:  # data##idx##index: the index at a URL of its own (a signed URL)
        if not is_url(given_index):
            raise InputFileError(f"{display_url(url)}: the index after {INDEX_SEPARATOR!r} "
                                 "must be a URL too")
        index_fs, index_path = _filesystem(given_index, storage_options)
        try:
            index_info = _info(index_fs, index_path)
        except Exception as e:
            raise _failure(e, given_index, f"{what} index", of=data_url) from e
        suffix = _split(given_index)[1].lower().rpartition(".")[2]
        files.append({"name": f"{local_name}.{suffix}", "url": given_index,
                      "rpath": index_path, "fs": index_fs,
                      "validator": _validator(index_info), "of": data_url})
        candidates, first_only = [], True
    else:
        candidates, first_only = _index_names(kind, name)
    tried = []
    for index_name in candidates:
        index_url = _with_name(url, index_name)
        _, index_path = _filesystem(index_url, storage_options)
        try:
            index_info = _info(fs, index_path)
        except Exception as e:
            if _is_absent(e):
                status = _status(e)[0]
                tried.append(display_url(index_url)
                             + (f" (HTTP {status})" if status is not None else ""))
                continue
            raise _failure(e, index_url, f"{what} index", of=url) from e
        if _a_page(index_info):
            # a web page answered with status 200 for a missing file (a "soft 404" of
            # static site hosting): no index there, try the next candidate
            tried.append(f"{display_url(index_url)} (an HTML page)")
            logger.info("%s answers an HTML page, not an index: taken as absent",
                        display_url(index_url))
            continue
        # the local name follows the data file's local name, as htslib looks for it
        files.append({"name": local_name + index_name[len(name):]
                      if index_name.startswith(name) else _safe_name(index_name),
                      "url": index_url, "rpath": index_path, "fs": fs,
                      "validator": _validator(index_info), "of": url})
        if first_only:
            break
    if kind == "bam" and len(files) == 1:
        signed = not _object_key_url(data_url) and bool(urlsplit(data_url).query)
        raise MissingIndexError(
            f"the BAM file {display_url(url)} has no index next to it (tried "
            f"{', '.join(tried)}); build one with 'samtools index' and upload it beside the "
            "BAM file" + (
                ". The URL has a query (a signed URL?), which the index URLs tried keep; "
                "a signed index has a signature of its own: give it after the BAM file's "
                f"URL as '<BAM URL>{INDEX_SEPARATOR}<index URL>'" if signed else ""))
    # a copy is reused only where the server identifies the version (an ETag, a
    # modification time or a version id) and gives the size (a download cut short
    # without a Content-Length would otherwise be kept as the file)
    validated = all((f["validator"]["etag"] or f["validator"]["modified"]
                     or f["validator"]["version_id"]) and f["validator"]["size"] is not None
                    for f in files)
    url_key = hashlib.sha256(url.encode()).hexdigest()[:16]
    version = hashlib.sha256(json.dumps(
        [[f["url"], f["validator"]] for f in files]
        # unvalidated: a directory of its own per download, so a build still reading an
        # earlier copy is never given the new one under its name
        + ([] if validated else ["unvalidated", uuid.uuid4().hex]),
        sort_keys=True, default=str).encode()).hexdigest()[:24]
    if kind in ("bam", "vcf") and len(files) > 1:
        _check_index_dates(files, what)
    directory = input_cache_dir() / f"{url_key}-{local_name[:60]}" / version
    expected = [{"name": f["name"], "validator": f["validator"]} for f in files]
    record = _read_record(directory, expected) if validated else None
    downloaded = record is None
    if record is None:
        if not validated:
            logger.info("%s gives no ETag, modification time or size: downloading it again",
                        display_url(url))
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise _unwritable(url, directory, e) from e
        from genozarr.store.write import _close, _lock_dir

        # one process downloads a version at a time: another one copying the same URL
        # replaced the files under a finished copy (a new data file beside the old
        # index's time: a StaleIndexError), so the second waits, then reuses the copy
        lock = _lock_dir(directory, exclusive=True, block=True) if validated else None
        try:
            record = _read_record(directory, expected) if validated else None
            downloaded = record is None
            if record is None:
                if lock is not None:
                    _sweep_partial(directory)
                record = _download_version(directory, files, url, what, kind)
        finally:
            _close(lock)
        if record is None:  # changed on the server while it was copied: once more
            if _retries <= 0:
                raise InputFileError(
                    f"cannot read {what} file {display_url(url)}: it changed on the server "
                    "while it was copied (its ETag or modification time differs after the "
                    "download), twice; try again once it is no longer being written")
            return _fetch(url, what, kind, storage_options, _retries=_retries - 1)
    else:
        logger.debug("reusing the copy of %s in %s", display_url(url), directory)
    paths = [str(directory / e["name"]) for e in record["files"]]
    return RemoteCopy(
        url=url, path=paths[0],
        digests={p: e["sha256"] for p, e in zip(paths, record["files"])},
        files={p: f["url"] for p, f in zip(paths, files)}, downloaded=downloaded)


def fetch_inputs(inputs: Mapping[str, Any],
                 storage_options: Mapping[str, Any] | None = None) -> None:
    """Fetch (or revalidate) the URLs among ``inputs`` (``{what: path or other value}``,
    e.g. a dataset's regions and genome sizes) with ``storage_options``, so that their
    later reads (:func:`localize`) get this build's copy, fetched with the options of the
    other inputs; other values are left alone.

    Raises
    ------
    InputFileError
        If a URL cannot be read.
    """
    for what, value in inputs.items():
        if isinstance(value, str) and is_url(value):
            fetch(value, what, storage_options)


def fetched(url: str, what: str | None = None) -> RemoteCopy:
    """The copy of ``url`` this process made (or reused) last, still on disk; else a
    fresh :func:`fetch` with the options last used for it (none if never fetched)."""
    with _lock:
        entry = _fetched.get(url)
    if entry is not None and entry[0].exists():
        return entry[0]
    return fetch(url, what or "input")


def localize(path: str | os.PathLike, what: str | None = None) -> str:
    """The local file to read for ``path``: ``path`` itself, or for a URL the path of its
    local copy (see :func:`fetched`).

    Parameters
    ----------
    path
        A local path or a URL.
    what
        What the file is (``"BAM"``, ``"bam"``, ...), to fetch its indexes with it.

    Returns
    -------
    str
    """
    if isinstance(path, str) and is_url(path):
        return fetched(path, what).path
    return local_form(path)


def names_url(what: str) -> Callable[[F], F]:
    """Decorator of a reader ``func(path, ...)``: where ``path`` is a URL, the errors that
    name its local copy name the URL (:func:`naming`); ``what`` as for :func:`localize`."""
    def decorate(func: F) -> F:
        @functools.wraps(func)
        def wrapper(path: Any, *args: Any, **kwargs: Any) -> Any:
            if not (isinstance(path, str) and is_url(path)):
                return func(path, *args, **kwargs)
            with naming(path, localize(path, what)):
                return func(path, *args, **kwargs)
        return cast(F, wrapper)
    return decorate


@contextlib.contextmanager
def naming(url: str, local: str) -> Iterator[None]:
    """Inside the block, genozarr errors that name the local copy ``local`` of ``url`` (or
    files next to it) name the URL's directory instead; other exceptions pass unchanged."""
    try:
        yield
    except GenozarrError as e:
        if local == url:
            raise
        directory = os.path.dirname(local) + os.sep
        base = _split(url)[0]
        text = str(e)
        # (the copy's name alone: x.bam in x.bam.bai is the index's, named by its folder)
        renamed = re.sub(re.escape(local) + r"(?![\w-]|\.\w)", lambda _: display_url(url),
                         text)
        renamed = renamed.replace(directory, base)
        if renamed == text:
            raise
        try:
            new = type(e)(f"{renamed} (local copy: {local})")
        except Exception:  # an exception class with another signature: keep it as is
            raise e
        raise new from e
