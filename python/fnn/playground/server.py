"""The playground's web server: the page's files and a small JSON API, on the standard library.

One :class:`~fnn.playground.session.Session` per open page, created by ``POST /api/session``
and named by a random token in every later request. Every request is answered, whatever it
holds: what the playground refuses is a 400 with a message the page shows, a failure of fnn a 500
with its traceback on the server's terminal; the server itself never stops on a request.

    GET  /                      the page            POST /api/step       {session, epochs}
    GET  /static/NAME           its script, style   POST /api/sample     {session}
    POST /api/session           a new session       POST /api/gradient-check {session}
    POST /api/configure  {session, settings, reset} POST /api/upload     {session, csv}
    GET  /api/model?session=ID  the network as an fnn model file
"""

from __future__ import annotations

import json
import math
import secrets
import sys
import threading
import traceback
import webbrowser
from collections import OrderedDict
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable, Dict, Optional, Tuple
from urllib.parse import parse_qs, urlsplit

from .data import MAX_UPLOAD_BYTES
from .session import PlaygroundError, Session, choices

STATIC = Path(__file__).parent / "static"
_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
          ".css": "text/css; charset=utf-8"}
#: Pages open at once; the oldest session is dropped beyond this (its page is told to reload).
MAX_SESSIONS = 16
#: The largest request body read: an upload (as JSON text) and a little more.
MAX_BODY = 2 * MAX_UPLOAD_BYTES + 4096
LOOPBACK = ("127.0.0.1", "localhost", "::1")


class RequestError(Exception):
    """A request answered with `status` and a message for the page."""

    def __init__(self, status: HTTPStatus, message: str):
        super().__init__(message)
        self.status = status


class PlaygroundServer(ThreadingHTTPServer):
    """The HTTP server and the open pages' sessions."""

    daemon_threads = True  # a request still running never holds up Ctrl-C

    def __init__(self, host: str, port: int, verbose: bool = False):
        super().__init__((host, port), Handler)
        self.verbose = verbose
        self.sessions: "OrderedDict[str, Session]" = OrderedDict()
        self.sessions_lock = threading.Lock()

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        host = host.decode() if isinstance(host, bytes) else host
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{port}/"

    def new_session(self) -> Tuple[str, Session]:
        token, session = secrets.token_urlsafe(16), Session()
        with self.sessions_lock:
            self.sessions[token] = session
            while len(self.sessions) > MAX_SESSIONS:
                self.sessions.popitem(last=False)
        return token, session

    def session(self, token) -> Session:
        with self.sessions_lock:
            session = self.sessions.get(token) if isinstance(token, str) else None
            if session is None:
                raise RequestError(HTTPStatus.NOT_FOUND, "this page's session has ended (the server was restarted, "
                                                         "or too many pages were opened): reload the page")
            self.sessions.move_to_end(token)
            return session


def _with_session(method: Callable[[Session, Dict], Dict]) -> Callable[[PlaygroundServer, Dict], Dict]:
    def call(server: PlaygroundServer, body: Dict) -> Dict:
        session = server.session(body.get("session"))
        with session.lock:  # one page's requests take turns
            return method(session, body)
    return call


#: POST routes: path → what answers the JSON body.
ROUTES: Dict[str, Callable[[PlaygroundServer, Dict], Dict]] = {
    "/api/configure": _with_session(lambda s, body: s.configure(body.get("settings", {}),
                                                                reset=body.get("reset") is True)),
    "/api/step": _with_session(lambda s, body: s.step_epochs(body.get("epochs", 1))),
    "/api/sample": _with_session(lambda s, body: s.step_sample()),
    "/api/gradient-check": _with_session(lambda s, body: s.gradient_check()),
    "/api/upload": _with_session(lambda s, body: s.upload(_text(body.get("csv")))),
}


def _text(value) -> str:
    if not isinstance(value, str):
        raise PlaygroundError("the upload must be the CSV file's text")
    return value


class Handler(BaseHTTPRequestHandler):
    server: PlaygroundServer
    server_version = "fnn-playground"

    def log_message(self, format, *args):  # noqa: A002 (the base class's name)
        if self.server.verbose:
            super().log_message(format, *args)

    def do_GET(self):
        self._answer(self._get)

    def do_POST(self):
        self._answer(self._post)

    def _answer(self, respond: Callable[[], Tuple[bytes, str, Dict[str, str]]]) -> None:
        try:
            self._check_host()
            body, content_type, headers = respond()
            status = HTTPStatus.OK
        except RequestError as error:
            status, body, content_type, headers = error.status, _json({"error": str(error)}), _TYPES_JSON, {}
        except PlaygroundError as error:
            status, body, content_type, headers = HTTPStatus.BAD_REQUEST, _json({"error": str(error)}), _TYPES_JSON, {}
        except Exception as error:  # a bug: the page hears of it, the terminal gets the traceback
            traceback.print_exc(file=sys.stderr)
            status, content_type, headers = HTTPStatus.INTERNAL_SERVER_ERROR, _TYPES_JSON, {}
            body = _json({"error": f"internal error in fnn ({type(error).__name__}: {error}); the traceback is on "
                                   "the server's terminal"})
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the page went away

    def _check_host(self) -> None:
        # Served on loopback, answer only requests addressed to loopback: a web page elsewhere cannot
        # reach this server through a DNS name rebound to 127.0.0.1.
        if self.server.server_address[0] in LOOPBACK:
            host = (self.headers.get("Host") or "").rsplit(":", 1)[0].strip("[]")
            if host not in LOOPBACK:
                raise RequestError(HTTPStatus.FORBIDDEN, f"this playground answers requests to localhost, not {host!r}")

    def _get(self) -> Tuple[bytes, str, Dict[str, str]]:
        url = urlsplit(self.path)
        if url.path == "/":
            return (STATIC / "index.html").read_bytes(), _TYPES[".html"], {}
        if url.path.startswith("/static/"):
            name = url.path[len("/static/"):]
            files = {p.name: p for p in STATIC.iterdir() if p.suffix in _TYPES}  # no path ever built from the URL
            if name in files:
                return files[name].read_bytes(), _TYPES[files[name].suffix], {}
        if url.path == "/api/model":
            token = parse_qs(url.query).get("session", [None])[0]
            session = self.server.session(token)
            with session.lock:
                data, features = session.model_file(), "-".join(session.settings.features)
            return data, "application/octet-stream", {
                "Content-Disposition": f'attachment; filename="playground-{features}.npz"'}
        raise RequestError(HTTPStatus.NOT_FOUND, f"no such page: {url.path}")

    def _post(self) -> Tuple[bytes, str, Dict[str, str]]:
        path = urlsplit(self.path).path
        length = self._content_length()
        raw = self.rfile.read(length) if length else b"{}"
        try:
            body = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise RequestError(HTTPStatus.BAD_REQUEST, f"the request is not JSON: {error}") from None
        if not isinstance(body, dict):
            raise RequestError(HTTPStatus.BAD_REQUEST, "the request must be a JSON object")
        if path == "/api/session":
            token, session = self.server.new_session()
            with session.lock:
                return _json({"session": token, "choices": choices(), "state": session.state(points=True)}), \
                    _TYPES_JSON, {}
        if path not in ROUTES:
            raise RequestError(HTTPStatus.NOT_FOUND, f"no such request: {path}")
        return _json(ROUTES[path](self.server, body)), _TYPES_JSON, {}

    def _content_length(self) -> int:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            raise RequestError(HTTPStatus.BAD_REQUEST, "a bad Content-Length") from None
        if length < 0 or length > MAX_BODY:
            # Read a little of it (so the client, still sending, hears the answer), then hang up.
            self.close_connection = True
            left = min(length, 4 * MAX_BODY)
            while left > 0:
                chunk = self.rfile.read(min(left, 1 << 16))
                if not chunk:
                    break
                left -= len(chunk)
            raise RequestError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                               f"the request is {length:,} bytes; the playground takes up to {MAX_BODY:,}")
        return length


_TYPES_JSON = "application/json"


def _json(value) -> bytes:
    try:
        return json.dumps(value, allow_nan=False, separators=(",", ":")).encode("utf-8")
    except ValueError:  # a NaN or infinite figure (a loss that overflowed): JSON's null, which the page shows as such
        return json.dumps(_finite(value), allow_nan=False, separators=(",", ":")).encode("utf-8")


def _finite(value):
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return value


def serve(host: str = "127.0.0.1", port: int = 8050, *, open_browser: bool = True, verbose: bool = False,
          ready: Optional[Callable[[PlaygroundServer], None]] = None) -> int:
    """Serve the playground until Ctrl-C; returns the exit status (0).

    `port` 0 takes a free port. `ready` is called with the server once it listens (the tests use
    it to learn the port and stop the server).
    """
    server = PlaygroundServer(host, port, verbose)
    print(f"fnn playground: {server.url}  (Ctrl-C stops it)", flush=True)
    if host not in LOOPBACK:
        print(f"fnn playground: listening on {host}: other machines that reach it can use it", flush=True)
    if open_browser:
        threading.Thread(target=webbrowser.open, args=(server.url,), daemon=True).start()
    if ready is not None:
        ready(server)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        print("fnn playground: stopped", flush=True)
    finally:
        server.server_close()
    return 0
