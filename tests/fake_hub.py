"""A stand-in for the Hugging Face hub on 127.0.0.1: the file-download and tree requests
huggingface-hub makes, with Range (resume), gated repos, 404s, a wrong checksum, and
connections that die mid-file."""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Dict, List, Optional

COMMIT = "c0ffee" + "0" * 34


class FakeHub:
    def __init__(self) -> None:
        self.files: Dict[str, Dict[str, bytes]] = {}  # repo -> {path: data}
        self.gated: set = set()
        self.bad_checksum: set = set()  # (repo, path) served with a wrong sha256
        self.commit = COMMIT  # the X-Repo-Commit header (a hostile hub sends anything)
        self.etags: Dict[tuple, str] = {}  # (repo, path) -> ETag sent instead of the sha256
        self.listed: Dict[str, List[str]] = {}  # repo -> extra names in the tree listing
        self.die_after: Optional[int] = None  # bytes of a GET body before the connection drops
        self.throttle: float = 0.0  # seconds to sleep per 64 KiB chunk
        self.requests: List[dict] = []
        self.connections: set = set()
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _send(self, code, body=b"", headers=None):
                self.send_response(code)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def setup(self):
                super().setup()
                hub.connections.add(self.connection)

            def _route(self):
                hub.requests.append(
                    {
                        "method": self.command,
                        "path": self.path,
                        "range": self.headers.get("Range"),
                        "auth": self.headers.get("Authorization"),
                    }
                )
                m = re.match(r"^/api/models/([^/]+/[^/]+)/tree/([^/?]+)", self.path)
                if m:
                    repo = m.group(1)
                    if repo not in hub.files:
                        return self._send(
                            404,
                            b'{"error":"Repository not found"}',
                            {"X-Error-Code": "RepoNotFound", "Content-Type": "application/json"},
                        )
                    items = [
                        {"type": "file", "path": p, "size": len(d), "oid": "0" * 40} for p, d in hub.files[repo].items()
                    ]
                    items += [{"type": "file", "path": p, "size": 1, "oid": "0" * 40} for p in hub.listed.get(repo, [])]
                    return self._send(200, json.dumps(items).encode(), {"Content-Type": "application/json"})
                m = re.match(r"^/([^/]+/[^/]+)/resolve/([^/]+)/(.+)$", self.path.split("?")[0])
                if not m:
                    return self._send(404, b"not found")
                repo, _, path = m.groups()
                if repo not in hub.files:
                    return self._send(
                        404,
                        b'{"error":"Repository not found"}',
                        {"X-Error-Code": "RepoNotFound", "Content-Type": "application/json"},
                    )
                if repo in hub.gated and not self.headers.get("Authorization"):
                    return self._send(
                        401,
                        b'{"error":"Access to this repo is restricted"}',
                        {"X-Error-Code": "GatedRepo", "Content-Type": "application/json"},
                    )
                from urllib.parse import unquote

                path = unquote(path)
                data = hub.files[repo].get(path)
                if data is None:
                    return self._send(
                        404,
                        b'{"error":"Entry not found"}',
                        {"X-Error-Code": "EntryNotFound", "Content-Type": "application/json"},
                    )
                sha = hashlib.sha256(data).hexdigest()
                if (repo, path) in hub.bad_checksum:
                    sha = hashlib.sha256(b"something else").hexdigest()
                etag = hub.etags.get((repo, path), f'"{sha}"')
                headers = {
                    "X-Repo-Commit": hub.commit,
                    "ETag": etag,
                    "X-Linked-Etag": etag,
                    "X-Linked-Size": str(len(data)),
                    "Accept-Ranges": "bytes",
                    "Content-Type": "application/octet-stream",
                }
                start = 0
                rng = self.headers.get("Range")
                if rng and self.command == "GET":
                    start = int(re.match(r"bytes=(\d+)-", rng).group(1))
                if self.command == "HEAD":
                    self.send_response(200)
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    return
                body = data[start:]
                self.send_response(206 if start else 200)
                for k, v in headers.items():
                    self.send_header(k, v)
                if start:
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                sent = 0
                try:
                    for i in range(0, len(body), 65536):
                        chunk = body[i : i + 65536]
                        if hub.die_after is not None and sent + len(chunk) > hub.die_after:
                            self.wfile.write(chunk[: max(0, hub.die_after - sent)])
                            self.wfile.flush()
                            hub.die_after = None  # only once
                            self.close_connection = True
                            self.connection.close()
                            return
                        self.wfile.write(chunk)
                        sent += len(chunk)
                        if hub.throttle:
                            time.sleep(hub.throttle)
                except (BrokenPipeError, ConnectionResetError, OSError):
                    pass

            do_GET = _route
            do_HEAD = _route

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def add(self, repo: str, path: str, data: bytes) -> None:
        self.files.setdefault(repo, {})[path] = data

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def stop(self):
        """Go away as a crashed server does: open connections are cut too."""
        import socket

        self.httpd.shutdown()
        self.httpd.server_close()
        for conn in list(self.connections):
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
