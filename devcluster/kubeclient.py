"""A minimal Kubernetes REST client over the standard library, for the node agent and ``up``.

devcluster talks to its API server with a client certificate; it needs only JSON requests and
watches, so it carries no client library and works before the project's extras are installed.
"""

from __future__ import annotations

import http.client
import json
import ssl
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

JSON = dict[str, Any]


class ApiError(Exception):
    """The API server answered with an error status."""

    def __init__(self, status: int, body: str, method: str, path: str) -> None:
        super().__init__(f"{method} {path}: HTTP {status}: {body[:500]}")
        self.status = status
        self.body = body


@dataclass(frozen=True)
class KubeClient:
    """Talks to one API server as the identity of one client certificate."""

    server: str
    ca_file: Path
    cert_file: Path
    key_file: Path

    def _context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(self.ca_file))
        context.load_cert_chain(str(self.cert_file), str(self.key_file))
        return context

    def _connection(self, timeout: float | None) -> http.client.HTTPSConnection:
        url = urllib.parse.urlsplit(self.server)
        return http.client.HTTPSConnection(
            url.hostname or "127.0.0.1", url.port, context=self._context(), timeout=timeout
        )

    def request(
        self,
        method: str,
        path: str,
        body: JSON | None = None,
        content_type: str = "application/json",
        timeout: float = 30,
    ) -> JSON:
        """Send one request and return the decoded JSON answer; raise ApiError on failure."""
        conn = self._connection(timeout)
        try:
            data = json.dumps(body).encode() if body is not None else None
            headers = {"Accept": "application/json"}
            if data is not None:
                headers["Content-Type"] = content_type
            conn.request(method, path, body=data, headers=headers)
            response = conn.getresponse()
            text = response.read().decode()
        finally:
            conn.close()
        if response.status >= 400:
            raise ApiError(response.status, text, method, path)
        if not response.getheader("Content-Type", "").startswith("application/json"):
            return {"text": text}
        return json.loads(text) if text else {}

    def get(self, path: str) -> JSON:
        """GET a resource or a list."""
        return self.request("GET", path)

    def post(self, path: str, body: JSON) -> JSON:
        """Create a resource."""
        return self.request("POST", path, body)

    def merge_patch(self, path: str, body: JSON) -> JSON:
        """Apply a JSON merge patch."""
        return self.request("PATCH", path, body, "application/merge-patch+json")

    def delete(self, path: str, body: JSON | None = None) -> JSON:
        """Delete a resource, optionally with DeleteOptions."""
        return self.request("DELETE", path, body)

    def watch(self, path: str, resource_version: str, timeout_seconds: int = 60) -> Iterator[JSON]:
        """Yield watch events (``{"type": ..., "object": ...}``) until the server ends the watch."""
        query = urllib.parse.urlencode(
            {
                "watch": "1",
                "resourceVersion": resource_version,
                "allowWatchBookmarks": "true",
                "timeoutSeconds": str(timeout_seconds),
            }
        )
        conn = self._connection(timeout_seconds + 30)
        try:
            conn.request("GET", f"{path}?{query}", headers={"Accept": "application/json"})
            response = conn.getresponse()
            if response.status >= 400:
                raise ApiError(response.status, response.read().decode(), "WATCH", path)
            while line := response.readline():
                if line.strip():
                    yield json.loads(line)
        finally:
            conn.close()
