"""A small scripted OpenAI-compatible server on 127.0.0.1, for the shapes and faults real servers produce."""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, List, Optional


def chunk(
    content: Optional[str] = None,
    *,
    reasoning_content: Optional[str] = None,
    reasoning: Optional[str] = None,
    finish: Optional[str] = None,
    **extra,
) -> Dict[str, Any]:
    delta: Dict[str, Any] = {}
    if content is not None:
        delta["content"] = content
    if reasoning_content is not None:
        delta["reasoning_content"] = reasoning_content
    if reasoning is not None:
        delta["reasoning"] = reasoning
    body = {
        "id": "c1",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "qwq",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    body.update(extra)
    return body


class ScriptedServer:
    """``script`` is what the next chat request gets: a list of chunk dicts and actions.

    Actions: ``("sleep", s)``, ``("raw", bytes)``, ``("drop",)`` (close without [DONE]),
    ``("status", code, message)`` (an HTTP error instead of a stream), ``("silent",)`` (never answer).
    """

    def __init__(self) -> None:
        self.script: List[Any] = []
        self.requests: List[Dict[str, Any]] = []
        self.headers: List[Dict[str, str]] = []
        self.models = [{"id": "Qwen/QwQ-32B", "object": "model", "max_model_len": 32768}]
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def _json(self, code: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                if self.path.rstrip("/").endswith("/models"):
                    self._json(200, {"object": "list", "data": server.models})
                else:
                    self._json(404, {"error": {"message": "not found"}})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                server.requests.append(json.loads(self.rfile.read(length) or b"{}"))
                server.headers.append({k.lower(): v for k, v in self.headers.items()})
                script = list(server.script)
                if script and isinstance(script[0], tuple) and script[0][0] == "status":
                    _, code, message = script[0]
                    self._json(code, {"error": {"message": message, "code": code}})
                    return
                if script and isinstance(script[0], tuple) and script[0][0] == "silent":
                    time.sleep(script[0][1] if len(script[0]) > 1 else 30)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Connection", "close")
                self.end_headers()
                try:
                    for item in script:
                        if isinstance(item, dict):
                            self.wfile.write(b"data: " + json.dumps(item).encode() + b"\n\n")
                        elif item[0] == "sleep":
                            self.wfile.flush()
                            time.sleep(item[1])
                            continue
                        elif item[0] == "raw":
                            self.wfile.write(item[1])
                        elif item[0] == "drop":
                            self.wfile.flush()
                            self.connection.shutdown(socket.SHUT_RDWR)
                            return
                        self.wfile.flush()
                    self.wfile.write(b"data: [DONE]\n\n")
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError, OSError):
                    pass
                self.close_connection = True

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> "ScriptedServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
