"""Local stand-ins for remote storage, for the tests and the benchmarks: a threaded HTTP
server with range requests over a directory, and a moto S3 server, both on 127.0.0.1.

Nothing here is used by the library itself; ``moto`` and ``boto3`` come with the ``test``
extra.
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import http.server
import io
import logging
import os
import re
import socket
import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any, ClassVar

__all__ = ["FaultyHandler", "RangeHandler", "Server", "free_port", "moto_s3",
           "serve_directory"]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server(http.server.ThreadingHTTPServer):
    """A threaded HTTP server whose listen backlog holds many connections opened at once.

    The standard library's backlog is 5 (``request_queue_size``, read when the socket
    starts listening, so it must be set on the class): a client opening dozens of
    connections together (a remote store's read-ahead) then has SYNs dropped and waits
    1 s or more for the kernel to retry them.
    """

    request_queue_size = 1024
    daemon_threads = True


class RangeHandler(http.server.SimpleHTTPRequestHandler):
    """Static files with ``Range: bytes=a-b`` support (``SimpleHTTPRequestHandler`` has
    none), an ETag and Last-Modified, as object stores answer; paths under ``/plain/`` are
    served without either validator, ``/forbidden/`` answers 403 and ``/truncated/`` stops
    half-way. ``requests`` counts the requests by ``(method, path)``."""

    protocol_version = "HTTP/1.1"
    #: send each write at once (TCP_NODELAY), as object stores and web servers do: with
    #: Nagle's algorithm a response's body waits for the ACK of its headers, which the
    #: client delays by up to 40 ms, so every small response took about 45 ms on 127.0.0.1
    disable_nagle_algorithm = True
    requests: ClassVar[Counter] = Counter()

    def log_message(self, *args: Any) -> None:  # keep test and benchmark output quiet
        pass

    def send_head(self) -> Any:
        RangeHandler.requests[(self.command, self.path)] += 1
        if self.path.startswith("/forbidden/"):
            self.send_error(403)
            return None
        real = re.sub(r"^/(plain|truncated)/", "/", self.path.split("?")[0])
        path = self.translate_path(real)
        if not os.path.isfile(path):
            self.send_error(404)
            return None
        st = os.stat(path)
        size = st.st_size
        span = self._answer_range(size)
        if span is None:
            return None
        start, end = span
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(end - start + 1))
        if not self.path.startswith("/plain/"):
            self.send_header("Last-Modified", self.date_time_string(st.st_mtime))
            self.send_header("ETag", f'"{size:x}-{st.st_mtime_ns:x}"')
        self.end_headers()
        self._span = (start, end - start + 1)
        return open(path, "rb")  # noqa: SIM115 - closed by the base class

    def _answer_range(self, size: int) -> tuple[int, int] | None:
        """Send the status line of the answer to this request's ``Range`` over ``size``
        bytes (206 with its Content-Range, or 200 without a range) and return the first
        and last byte to send; None where the range starts past the end (416 sent)."""
        start, end = 0, size - 1
        m = re.match(r"bytes=(\d*)-(\d*)$", self.headers.get("Range") or "")
        if m and (m.group(1) or m.group(2)):
            a, b = m.groups()
            if a == "":
                start = max(size - int(b), 0)
            else:
                start, end = int(a), min(int(b), size - 1) if b else size - 1
            if start >= size:
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{size}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return None
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        else:
            self.send_response(200)
        return start, end

    def copyfile(self, source: Any, outputfile: Any) -> None:
        start, n = self._span
        if self.path.startswith("/truncated/"):
            n //= 2
            self.close_connection = True
        source.seek(start)
        try:
            while n > 0:
                block = source.read(min(n, 1 << 20))
                if not block:
                    break
                outputfile.write(block)
                n -= len(block)
        except (BrokenPipeError, ConnectionResetError):  # the reader gave up (a timeout)
            self.close_connection = True


class FaultyHandler(RangeHandler):
    """:class:`RangeHandler` with the faults of misbehaving servers, proxies and caches,
    on the paths ``faulty`` (a regular expression searched in the request path) matches.
    Subclass it and set the class attributes:

    ``shift``
        Answer ``Range: bytes=a-b`` with bytes ``a + shift`` to ``b + shift`` (and a
        Content-Range that says so); suffix ranges are answered right.
    ``soft_404``
        Answer a missing file with status 200 and an HTML page (static site hosting).
    ``stall``
        Send the headers, then the body only once this event is set (or after 60 s).
    ``short``
        Answer ``Range: bytes=a-b`` with this many bytes fewer (206, with a Content-Length
        and a Content-Range that agree with the body).
    ``unsized``
        Answer a request without ``Range`` with no Content-Length (the body ends when the
        connection closes, as HTTP/1.0 servers do) and only this fraction of the file;
        ranged requests are answered in full.
    ``redirect_loop``
        Answer 302 with the requested path as the Location (a redirect loop).
    ``gzip_ranges``
        Gzip the file for a client that accepts gzip, and answer a range of the gzipped
        bytes (what a range of an answer in a content coding is, RFC 9110).
    """

    faulty: ClassVar[str] = ""
    shift: ClassVar[int] = 0
    soft_404: ClassVar[bool] = False
    stall: ClassVar[threading.Event | None] = None
    short: ClassVar[int] = 0
    unsized: ClassVar[float | None] = None
    redirect_loop: ClassVar[bool] = False
    gzip_ranges: ClassVar[bool] = False

    #: what a soft 404 answers
    PAGE = b"<!DOCTYPE html><html><body><h1>Page not found</h1></body></html>\n"

    def send_head(self) -> Any:
        self._cut = 0  # (one handler serves the requests of a kept-alive connection)
        if not re.search(type(self).faulty, self.path):
            return super().send_head()
        if self.redirect_loop:
            RangeHandler.requests[(self.command, self.path)] += 1
            self.send_response(302)
            self.send_header("Location", self.path)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        asked = re.match(r"bytes=(\d+)-(\d+)$", self.headers.get("Range") or "")
        if asked and self.shift:
            del self.headers["Range"]
            self.headers["Range"] = (f"bytes={int(asked.group(1)) + self.shift}-"
                                     f"{int(asked.group(2)) + self.shift}")
        path = self.translate_path(self.path.split("?")[0])
        if self.soft_404 and not os.path.isfile(path):
            RangeHandler.requests[(self.command, self.path)] += 1
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(self.PAGE)))
            self.end_headers()
            self._span = (0, len(self.PAGE))
            return io.BytesIO(self.PAGE)
        if self.gzip_ranges and "gzip" in (self.headers.get("Accept-Encoding") or "") \
                and os.path.isfile(path):
            RangeHandler.requests[(self.command, self.path)] += 1
            with open(path, "rb") as f:
                body = gzip.compress(f.read(), mtime=0)
            span = self._answer_range(len(body))
            if span is None:
                return None
            self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(span[1] - span[0] + 1))
            self.end_headers()
            self._span = (span[0], span[1] - span[0] + 1)
            return io.BytesIO(body)
        if self.unsized is not None and "Range" not in self.headers \
                and os.path.isfile(path):
            RangeHandler.requests[(self.command, self.path)] += 1
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("ETag", '"unsized"')
            self.end_headers()
            self.close_connection = True
            self._span = (0, int(os.path.getsize(path) * self.unsized))
            return open(path, "rb")
        self._cut = self.short if asked else 0
        f = super().send_head()
        if f is not None and self._cut:
            start, n = self._span
            self._span = (start, n - self._cut)
        if self.stall is not None:
            self.stall.wait(60)
        return f

    def send_header(self, keyword: str, value: str) -> None:
        cut = getattr(self, "_cut", 0)
        if cut and keyword == "Content-Length":
            value = str(int(value) - cut)
        elif cut and keyword == "Content-Range":
            first, last, size = re.match(r"bytes (\d+)-(\d+)/(\d+)", value).groups()
            value = f"bytes {first}-{int(last) - cut}/{size}"
        super().send_header(keyword, value)


@contextlib.contextmanager
def serve_directory(root: str | os.PathLike, handler: type = RangeHandler,
                    port: int | None = None) -> Iterator[str]:
    """Serve ``root`` over HTTP on 127.0.0.1 from a thread of this process while the block
    runs; yields the base URL.

    Parameters
    ----------
    root
        Directory served.
    handler
        Request handler class (default :class:`RangeHandler`).
    port
        Port (default: a free one).
    """
    server = Server(("127.0.0.1", free_port() if port is None else port),
                    functools.partial(handler, directory=os.fspath(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def moto_s3(*buckets: str) -> Iterator[tuple[dict[str, Any], Any]]:
    """A moto S3 server on 127.0.0.1 (a thread of this process) holding empty ``buckets``
    while the block runs; yields the fsspec storage options and a boto3 client."""
    import boto3
    from moto import server as moto_server

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    port = free_port()
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        endpoint = f"http://127.0.0.1:{port}"
        client = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id="testing",
                              aws_secret_access_key="testing", region_name="us-east-1")
        for bucket in buckets:
            client.create_bucket(Bucket=bucket)
        yield ({"key": "testing", "secret": "testing",
                "client_kwargs": {"endpoint_url": endpoint, "region_name": "us-east-1"}},
               client)
    finally:
        server.stop()
