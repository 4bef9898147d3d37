"""The kubelet log endpoint of the node agent: ``GET /containerLogs/{ns}/{pod}/{container}``.

The API server proxies ``kubectl logs`` here over HTTPS (our CA, client certificate required).
Query parameters honoured: ``tailLines``, ``limitBytes``, ``follow`` (until the container exits)
and ``previous`` (answered with the current log: there are no restarts to keep apart).
"""

from __future__ import annotations

import ssl
import threading
import time
import urllib.parse
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

#: Finds a container's log file and tells whether it still runs: (ns, pod, container) -> ...
LogLookup = Callable[[str, str, str], "tuple[Path, Callable[[], bool]] | None"]


def _tail(data: bytes, lines: int) -> bytes:
    if lines <= 0:
        return b""
    parts = data.splitlines(keepends=True)
    return b"".join(parts[-lines:])


class _Handler(BaseHTTPRequestHandler):
    lookup: LogLookup
    # Chunked transfer (for `follow`) needs HTTP/1.1.
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        """Stay quiet: the API server polls often."""

    def do_GET(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        parts = url.path.strip("/").split("/")
        if len(parts) != 4 or parts[0] != "containerLogs":
            self.send_error(404, "only /containerLogs/{namespace}/{pod}/{container} is served")
            return
        found = self.lookup(parts[1], parts[2], parts[3])
        if found is None:
            self.send_error(404, f"container {parts[3]!r} of pod {parts[1]}/{parts[2]} not found")
            return
        path, running = found
        query = urllib.parse.parse_qs(url.query)
        data = path.read_bytes() if path.exists() else b""
        if "tailLines" in query:
            data = _tail(data, int(query["tailLines"][0]))
        if "limitBytes" in query:
            data = data[: int(query["limitBytes"][0])]
        follow = query.get("follow", ["false"])[0] == "true"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        if not follow:
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.close_connection = True
        self._follow(path, data, path.stat().st_size if path.exists() else 0, running)

    def _follow(self, path: Path, first: bytes, offset: int, running: Callable[[], bool]) -> None:
        def chunk(payload: bytes) -> None:
            if payload:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(payload), payload))
                self.wfile.flush()

        try:
            chunk(first)
            while True:
                alive = running()
                with path.open("rb") as handle:
                    handle.seek(offset)
                    more = handle.read()
                offset += len(more)
                chunk(more)
                if not alive:
                    break
                time.sleep(0.2)
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass


def serve_logs(
    port: int, cert: Path, key: Path, client_ca: Path, lookup: LogLookup
) -> ThreadingHTTPServer:
    """Start the HTTPS log server on 127.0.0.1:port in a daemon thread and return it."""
    handler = type("LogHandler", (_Handler,), {"lookup": staticmethod(lookup)})
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    server.daemon_threads = True
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(cert), str(key))
    context.load_verify_locations(str(client_ca))
    # Only the API server (a client certificate from our CA) may read logs.
    context.verify_mode = ssl.CERT_REQUIRED
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, name="log-server", daemon=True).start()
    return server
