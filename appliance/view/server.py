"""The live view's HTTP server: standard library only, one thread per connection.

Routes (all GET)::

    /                          the page (static/index.html)
    /static/<file>             its script and style sheet (only the files shipped)
    /events                    Server-Sent Events: one JSON state event every ~0.33 s
    /state.json                the same JSON once (for curl and debugging)
    /frame.jpg?n=<frame>       the current camera frame, a small JPEG (cached per frame)
    /keyframe/<corpus>/<k>.jpg the thumbnail of keyframe k of a loaded corpus

Who may connect (:func:`check_access`):

* bound to a loopback address (the default, ``127.0.0.1``): only clients whose
  address is loopback, with a ``Host`` header naming a loopback host (so a web
  page elsewhere cannot reach the view through DNS rebinding); a token is
  optional;
* bound to anything else (``0.0.0.0``, a LAN address): every request needs the
  token, given as ``?token=`` (the page then keeps it in a same-site cookie).
  Without a configured token one is generated at start; the full URL with
  ``?token=`` is logged.

The view reads what the engine publishes anyway (:mod:`appliance.view.adapter`);
all its work (JSON, JPEG encoding, thumbnails) happens on its own threads, and
only while someone is watching. At most ``max_streams`` event streams are served.
"""

from __future__ import annotations

import contextlib
import http.cookies
import ipaddress
import json
import logging
import re
import secrets
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, quote, unquote, urlsplit

from appliance.errors import SoundscapeError
from appliance.view.adapter import EngineAdapter, ViewSource, build_event
from appliance.view.images import FrameJpeg, Thumbnails

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}
COOKIE = "soundscape_view_token"
TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{8,}")
#: Seconds between two events on /events (at least twice a second, as the issue asks).
EVENT_PERIOD_S = 0.33
#: A viewer that stops reading (a phone asleep with the page open) holds a stream slot
#: only this long: its events may wait in the socket's queue for at most this many
#: seconds' worth of events, and one event may take at most this long to hand over.
STREAM_BACKLOG_S = 3.0
STREAM_WRITE_TIMEOUT_S = 3.0
#: Send buffer of an event stream, bytes (the kernel's own grows to 4 MB: 10 minutes of
#: events before a silent client would be noticed).
STREAM_SNDBUF = 16 << 10
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
       "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


class ViewError(SoundscapeError):
    """The live view could not start (port in use, address not available...)."""


# ------------------------------------------------------------------ access
def is_loopback_address(address: str) -> bool:
    """True for 127.0.0.0/8, ::1, IPv4-mapped loopback and the name ``localhost``."""
    name = address.strip().lower().split("%", 1)[0]
    try:
        ip = ipaddress.ip_address(name)
    except ValueError:
        return name in ("localhost", "localhost.localdomain") or name.endswith(".localhost")
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


def host_header_name(host: str) -> str:
    """The host part of a ``Host`` header (``[::1]:8080`` → ``::1``, ``a:80`` → ``a``)."""
    host = host.strip()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host[1:]
    if host.count(":") == 1:
        return host.split(":", 1)[0]
    return host


def check_access(*, local_only: bool, client_ip: str, expected_token: str | None,
                 given_tokens: list[str], host_header: str | None) -> str | None:
    """Why a request must be refused, or None when it may be served.

    ``local_only``: the server is bound to a loopback address (the default).
    ``given_tokens``: the tokens the request carries (query and cookie).
    """
    if local_only:
        if not is_loopback_address(client_ip):
            return (f"refused: client {client_ip} is not on this device; the view is bound to "
                    "the loopback address (set view.bind to serve the network, with a token)")
        if host_header and not is_loopback_address(host_header_name(host_header)):
            return f"refused: Host {host_header!r} is not a loopback name"
    if expected_token is not None:
        want = expected_token.encode("utf-8")
        if not any(secrets.compare_digest(g.encode("utf-8"), want) for g in given_tokens if g):
            return ("refused: missing or wrong token; open the URL with ?token=... that the "
                    "appliance printed in its log")
    return None


def lan_address() -> str:
    """Best guess of this device's address on the network (for the logged URL)."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("10.255.255.255", 9))  # UDP connect: no packet is sent
            return s.getsockname()[0]
    except OSError:
        pass
    try:
        return socket.gethostbyname(socket.gethostname())
    except OSError:
        return "127.0.0.1"


def unsent_bytes(sock: socket.socket) -> int:
    """Bytes written to ``sock`` that the peer has not acknowledged yet (Linux SIOCOUTQ;
    0 where it cannot be read)."""
    try:
        import fcntl
        import termios

        buf = fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, b"\0\0\0\0")
        return int.from_bytes(buf, "little", signed=True)
    except (ImportError, OSError, ValueError, AttributeError):
        return 0


# ------------------------------------------------------------------ events
class _EventHub:
    """Builds the state event at most once per period, shared by every stream."""

    def __init__(self, source: ViewSource, period_s: float, keyframe_url) -> None:
        self.source = source
        self.period_s = period_s
        self.keyframe_url = keyframe_url
        self._lock = threading.Lock()
        self._seq = 0
        self._at = -1e9
        self._payload = b"{}"
        self._failed_at = -1e9

    def latest(self) -> tuple[int, bytes]:
        with self._lock:
            now = time.monotonic()
            if now - self._at >= 0.9 * self.period_s:
                self._at = now
                try:
                    event = build_event(self.source, self._seq + 1,
                                        keyframe_url=self.keyframe_url)
                    self._payload = json.dumps(event, separators=(",", ":"),
                                               allow_nan=False).encode("utf-8")
                    self._seq += 1
                except Exception:
                    if now - self._failed_at > 10.0:  # log a persistent failure now and then
                        log.exception("live view: building the state event failed")
                        self._failed_at = now
            return self._seq, self._payload


# ------------------------------------------------------------------ server
class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    view: ViewServer


class _IPv6HTTPServer(_HTTPServer):
    address_family = socket.AF_INET6


class _Handler(BaseHTTPRequestHandler):
    server: _HTTPServer
    server_version = "soundscape-view"
    sys_version = ""
    #: Socket timeout, s: a silent client (or one that stops reading events) is dropped.
    timeout = 15

    # -- plumbing
    def log_message(self, format: str, *args) -> None:
        log.debug("view %s: %s", self.client_address[0], format % args)

    def _headers(self, status: int, ctype: str, length: int | None = None,
                 cache: str = "no-store", extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        if length is not None:
            self.send_header("Content-Length", str(length))
        self.send_header("Cache-Control", cache)
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("Content-Security-Policy", CSP)
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()

    def _send(self, status: int, body: bytes, ctype: str, **kw) -> None:
        self._headers(status, ctype, len(body), **kw)
        self.wfile.write(body)

    def _text(self, status: int, text: str) -> None:
        self._send(status, (text + "\n").encode("utf-8"), "text/plain; charset=utf-8")

    # -- requests
    def do_GET(self) -> None:
        view = self.server.view
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        given = list(query.get("token", []))
        cookie = http.cookies.SimpleCookie()
        with contextlib.suppress(http.cookies.CookieError):
            cookie.load(self.headers.get("Cookie", ""))
        if COOKIE in cookie:
            given.append(cookie[COOKIE].value)
        reason = check_access(local_only=view.local_only, client_ip=self.client_address[0],
                              expected_token=view.token, given_tokens=given,
                              host_header=self.headers.get("Host"))
        if reason is not None:
            view.log_refusal(self.client_address[0], reason)
            self._text(403, reason)
            return
        extra = {}
        if view.token is not None and query.get("token"):
            extra["Set-Cookie"] = (f"{COOKIE}={view.token}; Path=/; HttpOnly; "
                                   "SameSite=Strict")
        try:
            self._route(view, url.path, extra)
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            pass
        except Exception:  # a view bug: answer 500, log it, keep serving
            log.exception("live view: %s failed", url.path)
            with contextlib.suppress(OSError):
                self._text(500, "internal error (see the appliance's log)")

    def _route(self, view: ViewServer, path: str, extra: dict[str, str]) -> None:
        if path in ("/", "/index.html"):
            self._static("index.html", extra)
        elif path.startswith("/static/"):
            self._static(path[len("/static/"):], extra)
        elif path == "/events":
            self._events(view)
        elif path == "/state.json":
            _, payload = view.hub.latest()
            self._send(200, payload, "application/json")
        elif path == "/frame.jpg":
            self._send(200, view.frames.get(view.source.snapshot()), "image/jpeg")
        elif path.startswith("/keyframe/") and path.endswith(".jpg"):
            self._keyframe(view, path[len("/keyframe/") : -len(".jpg")])
        elif path == "/favicon.ico":
            self._send(204, b"", "image/x-icon", cache="max-age=86400")
        else:
            self._text(404, f"no such page: {path}")

    def _static(self, name: str, extra: dict[str, str]) -> None:
        files = self.server.view.static_files
        if name not in files:
            self._text(404, f"no such file: {name}")
            return
        body = files[name].read_bytes()
        ctype = CONTENT_TYPES.get(files[name].suffix, "application/octet-stream")
        self._send(200, body, ctype, cache="no-cache", extra=extra)

    def _keyframe(self, view: ViewServer, rest: str) -> None:
        name, _, k_text = rest.rpartition("/")
        corpus = view.source.corpus_named(unquote(name)) if name else None
        if corpus is None or not k_text.isdigit() or int(k_text) >= len(corpus.keyframe_times):
            self._text(404, f"no keyframe {rest}")
            return
        jpeg = view.thumbs.get(corpus, int(k_text))
        self._send(200, jpeg, "image/jpeg", cache="private, max-age=3600")

    def _events(self, view: ViewServer) -> None:
        if not view.stream_slots.acquire(blocking=False):
            self._text(503, "too many viewers; try again later")
            return
        sock = self.connection
        try:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, STREAM_SNDBUF)
            sock.settimeout(STREAM_WRITE_TIMEOUT_S)
            self._headers(200, "text/event-stream; charset=utf-8")
            self.wfile.write(b"retry: 1000\n\n")
            last = -1
            while not view.stopping.is_set():
                seq, payload = view.hub.latest()
                if seq != last:
                    message = b"id: %d\ndata: %s\n\n" % (seq, payload)
                    last = seq
                else:
                    message = b": idle\n\n"  # notices a gone client
                limit = max(4096, int(STREAM_BACKLOG_S / view.period_s * len(message)))
                backlog = unsent_bytes(sock)
                if backlog > limit:
                    log.info("live view: dropped %s, which stopped reading (%d bytes waiting)",
                             self.client_address[0], backlog)
                    break
                self.wfile.write(message)  # raises TimeoutError when the queue stays full
                self.wfile.flush()
                view.stopping.wait(view.period_s)
        except TimeoutError:
            log.info("live view: dropped %s, which stopped reading", self.client_address[0])
        except (BrokenPipeError, ConnectionResetError, OSError):
            pass
        finally:
            view.stream_slots.release()
            self.close_connection = True


class ViewServer:
    """The live view: ``start()`` serves it from a daemon thread, ``stop()`` ends it.

    ``source``: an :class:`~appliance.view.adapter.EngineAdapter` (or any
    :class:`~appliance.view.adapter.ViewSource`); an ``Engine`` is wrapped
    automatically. ``host``/``port``: where to listen (port 0 = any free port).
    ``token``: required from every client when given; generated when ``host`` is
    not a loopback address and no token is given.
    """

    def __init__(self, source, host: str = "127.0.0.1", port: int = 8080,
                 token: str | None = None, *, period_s: float = EVENT_PERIOD_S,
                 max_streams: int = 8) -> None:
        if not callable(getattr(source, "snapshot", None)):
            source = EngineAdapter(source)
        self.source: ViewSource = source
        if not 0 <= int(port) <= 65535:
            raise ViewError(f"live view: port {port} is not a TCP port (0–65535)")
        if token is not None and not TOKEN_RE.fullmatch(token):
            raise ViewError("live view: a token needs 8 or more letters, digits, '-' or '_'")
        self.host = host
        self.requested_port = int(port)
        self.local_only = is_loopback_address(host)
        self.token = token or (None if self.local_only else secrets.token_urlsafe(16))
        self.period_s = float(period_s)
        self.hub = _EventHub(source, self.period_s, self.keyframe_url)
        self.frames = FrameJpeg()
        self.thumbs = Thumbnails()
        self.static_files = {p.name: p for p in STATIC_DIR.iterdir()
                             if p.is_file() and p.suffix in CONTENT_TYPES}
        self.max_streams = int(max_streams)
        self.stream_slots = threading.BoundedSemaphore(max_streams)
        self.stopping = threading.Event()
        self._refused: dict[str, float] = {}
        self._refused_lock = threading.Lock()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def streams(self) -> int:
        """How many event streams are being served now."""
        return self.max_streams - self.stream_slots._value  # type: ignore[attr-defined]

    def log_refusal(self, client: str, reason: str) -> None:
        """Log a refused request, at most once a minute per client (no log flooding)."""
        now = time.monotonic()
        with self._refused_lock:
            if now - self._refused.get(client, -1e9) < 60.0:
                return
            if len(self._refused) > 1000:
                self._refused.clear()
            self._refused[client] = now
        log.info("live view: %s %s", client, reason)

    @staticmethod
    def keyframe_url(corpus_name: str, k: int) -> str:
        return f"/keyframe/{quote(corpus_name, safe='')}/{k}.jpg"

    @property
    def port(self) -> int:
        if self._httpd is not None:
            return int(self._httpd.server_address[1])
        return self.requested_port

    @property
    def url(self) -> str:
        """The page's address, with ``?token=`` when one is required."""
        host = self.host
        if host in ("", "0.0.0.0", "::"):
            host = lan_address()
        if ":" in host:
            host = f"[{host}]"
        url = f"http://{host}:{self.port}/"
        return url + (f"?token={self.token}" if self.token else "")

    def start(self) -> None:
        """Listen (raises :class:`ViewError` if the port is taken) and serve in the background."""
        if self._httpd is not None:
            return
        cls = _IPv6HTTPServer if ":" in self.host else _HTTPServer
        try:
            httpd = cls((self.host, self.requested_port), _Handler)
        except OSError as exc:
            why = exc.strerror or exc
            raise ViewError(
                f"live view: cannot listen on {self.host}:{self.requested_port} ({why}); "
                "choose another port with --view-port or view.port") from exc
        httpd.view = self
        self.stopping.clear()
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.2},
                                        name="view", daemon=True)
        self._thread.start()
        if self.local_only:
            log.info("live view on %s (this device only)", self.url)
        else:
            log.warning("live view on %s (open to the network: keep the token private)", self.url)

    def stop(self) -> None:
        """Stop serving (event streams end within one period) and close the socket."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        self.stopping.set()
        httpd.shutdown()
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(2.0)
            self._thread = None

    def __enter__(self) -> ViewServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
