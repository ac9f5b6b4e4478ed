"""A local stand-in for the outlets' web servers: an HTTP proxy on 127.0.0.1 that serves the
saved pages of a manifest, for crawling in *live* mode without the internet.

A live crawl sends every request through it (`https_proxy`/`http_proxy`), so Scrapy's real
HTTP/1.1 download handler, its CONNECT tunnelling, TLS, timeouts and data-loss detection all run
over real sockets. For https the proxy answers CONNECT and then speaks TLS itself, with a
certificate for every fixture host signed by a test CA made for this server; a crawl trusts that
CA only when told to (`env()` passes it as SSL_CERT_FILE), as the live profile verifies
certificates. `certificate="self_signed"` (no CA vouches for it) and `"other_host"` (the test
CA's, for another host name) play a man in the middle. Each request is
answered from the manifest: the saved status, headers and body; a URL not in the manifest gets
a 404. A saved Content-Length larger than the body is sent as is and the connection closed, as a
server that dies mid-response would. Conditional requests get a 304 when the page's ETag or
Last-Modified match. `changes` lets a test change the site between runs: a URL mapped to a
`Page` is served as that page, a URL mapped to None is gone (404).

`faults` makes the server misbehave on chosen URLs, the way real servers do (`Fault`): error
statuses with or without Retry-After, connection resets, slow drips, hangs, truncated bodies,
gzip bombs, 50 MB pages, redirects — always, or only the first N times a URL is asked for.

    python -m tests.fixture_server [--port 8899]   # serve fixtures/ until Ctrl-C
"""

from __future__ import annotations

import argparse
import datetime
import gzip
import ipaddress
import socket
import socketserver
import ssl
import struct
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import urlsplit

from crawler.offline import Manifest, not_modified

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Page:
    body: bytes
    status: int = 200
    headers: dict[str, str] = field(
        default_factory=lambda: {"Content-Type": "text/html; charset=utf-8"}
    )


@dataclass
class Fault:
    """How the server misbehaves on one URL.

    kind: "respond" (status, headers, body as given: error statuses, redirects, other content
    types), "reset" (the connection is reset before any response), "drip" (a 200 that sends a
    few bytes every 0.2 s, for as long as the client waits), "hang" (no response at all),
    "truncate" (`body`, or the saved page, cut in half under a Content-Length for all of it),
    "gzip_bomb" (64 MiB of zeros gzipped into 64 KiB, as Content-Encoding: gzip), "huge" (a 50 MB
    page announced by its Content-Length), "stream" (50 MB with no Content-Length: the body ends
    when the connection closes).
    times: misbehave on the first `times` requests for the URL only, then serve it normally;
    None: always.
    """

    kind: str
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    times: int | None = None


HUGE_BYTES = 50 * 1024 * 1024
_BOMB_BYTES = 64 * 1024 * 1024
_bomb: bytes | None = None


def gzip_bomb() -> bytes:
    global _bomb
    if _bomb is None:
        _bomb = gzip.compress(bytes(_BOMB_BYTES), compresslevel=9, mtime=0)
    return _bomb


# The settings of a live crawl through the server, beside its environment (`env()`): no waits,
# and the outlets' names resolved by the proxy (they do not resolve on a test machine).
LIVE_SETTINGS = ("DOWNLOAD_DELAY=0", "AUTOTHROTTLE_ENABLED=0", "NEWS_PROXY_RESOLVES=True")


class FixtureProxy(socketserver.ThreadingMixIn, socketserver.TCPServer):
    """certificate: "trusted" (signed by the test CA in `ca_file`), "self_signed" or
    "other_host" (see the module's docstring)."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, manifest: Manifest, port: int = 0, certificate: str = "trusted"):
        self.manifest = manifest
        self.changes: dict[str, Page | None] = {}
        self.faults: dict[str, Fault] = {}
        self.requests: list[str] = []  # every URL asked for, in order
        self.stopping = threading.Event()  # ends drips and hangs when the server stops
        self._hits: Counter[str] = Counter()
        self._lock = threading.Lock()
        hosts = sorted({urlsplit(p.url).hostname or "" for p in manifest.pages})
        self._folder = tempfile.TemporaryDirectory(prefix="fixture-tls-")
        self.tls, self.ca_file = _tls_context(hosts, certificate, Path(self._folder.name))
        super().__init__(("127.0.0.1", port), _ProxyHandler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def env(self) -> dict[str, str]:
        """The environment of a live crawl through this server: the live profile, the proxy,
        and the test CA as the only trusted one (OpenSSL reads SSL_CERT_FILE)."""
        return {
            "SCRAPY_PROJECT": "live",
            "https_proxy": self.url,
            "http_proxy": self.url,
            "SSL_CERT_FILE": str(self.ca_file),
        }

    def record(self, url: str) -> int:
        """Note a request; how many times the URL has been asked for, this one included."""
        with self._lock:
            self.requests.append(url)
            self._hits[url] += 1
            return self._hits[url]

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client that hangs up (a timeout, a cancelled download) is not an error here

    def __enter__(self) -> FixtureProxy:
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self.shutdown()
        self.server_close()
        self._folder.cleanup()


class _ProxyHandler(BaseHTTPRequestHandler):
    server: FixtureProxy
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass

    def do_CONNECT(self) -> None:
        host = self.path.rsplit(":", 1)[0]
        self.send_response(200, "Connection established")
        self.end_headers()
        self.close_connection = True
        try:
            tls = self.server.tls.wrap_socket(self.connection, server_side=True)
        except (ssl.SSLError, OSError):
            return
        try:
            # serve the tunnelled requests on the TLS socket, as https://host/...
            inner = _OriginHandler.__new__(_OriginHandler)
            inner.origin = f"https://{host}"
            _OriginHandler.__init__(inner, tls, self.client_address, self.server)
        except (ssl.SSLError, OSError):
            pass
        finally:
            tls.close()

    def do_GET(self) -> None:  # plain http through the proxy: absolute URL in the request line
        _serve(self, self.path)

    do_HEAD = do_GET


class _OriginHandler(BaseHTTPRequestHandler):
    server: FixtureProxy
    protocol_version = "HTTP/1.1"
    origin = ""

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        _serve(self, self.origin + self.path)


def _serve(handler: BaseHTTPRequestHandler, url: str) -> None:
    server: FixtureProxy = handler.server  # type: ignore[assignment]
    hits = server.record(url)
    fault = server.faults.get(url)
    if fault is not None and (fault.times is None or hits <= fault.times):
        _misbehave(handler, server, url, fault)
        return
    if url in server.changes:
        page = server.changes[url]
        saved = None if page is None else page
    else:
        saved = server.manifest.get(url)
    if saved is None:
        body = b"<html><body><h1>404 Not Found</h1></body></html>"
        handler.send_response(404)
        handler.send_header("Content-Type", "text/html; charset=utf-8")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)
        return
    if not_modified(saved.headers, dict(handler.headers.items())):
        handler.send_response(304)
        for name, value in saved.headers.items():
            if name.lower() in {"etag", "last-modified"}:
                handler.send_header(name, value)
        handler.send_header("Content-Length", "0")
        handler.end_headers()
        return
    body = saved.body if isinstance(saved, Page) else saved.path.read_bytes()
    handler.send_response(saved.status)
    declared = None
    for name, value in saved.headers.items():
        if name.lower() == "content-length":
            declared = int(value)
        handler.send_header(name, value)
    if declared is None:
        handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    if handler.command != "HEAD":
        handler.wfile.write(body)
    if declared is not None and declared > len(body):
        handler.wfile.flush()
        handler.close_connection = True
        handler.connection.shutdown(socket.SHUT_RDWR)


def _misbehave(
    handler: BaseHTTPRequestHandler, server: FixtureProxy, url: str, fault: Fault
) -> None:
    handler.close_connection = True
    if fault.kind == "reset":
        # SO_LINGER 0: close() sends RST instead of FIN
        handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        handler.rfile.close()
        handler.wfile.close()
        handler.connection.close()
        return
    if fault.kind == "hang":
        server.stopping.wait(60)
        return
    headers = {"Content-Type": "text/html; charset=utf-8", **fault.headers}
    body = fault.body
    if fault.kind == "truncate":
        saved = server.manifest.get(url)
        body = body or (saved.path.read_bytes() if saved else b"<html>" + b"x" * 20000)
        headers["Content-Length"] = str(len(body))
        body = body[: len(body) // 2]
    elif fault.kind == "gzip_bomb":
        body = gzip_bomb()
        headers["Content-Encoding"] = "gzip"
    elif fault.kind == "drip":
        headers.setdefault("Content-Length", "100000")  # 9 bytes per 0.2 s: 37 minutes
    elif fault.kind == "huge":
        headers["Content-Length"] = str(HUGE_BYTES)
    handler.send_response(fault.status)
    for name, value in headers.items():
        handler.send_header(name, value)
    if fault.kind == "respond":
        handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    try:
        if fault.kind == "drip":
            deadline = time.monotonic() + 60
            while not server.stopping.is_set() and time.monotonic() < deadline:
                handler.wfile.write(b"<p>.</p>\n")
                handler.wfile.flush()
                time.sleep(0.2)
        elif fault.kind in ("huge", "stream"):
            chunk = b"<p>" + b"filler " * 9361 + b"</p>\n"  # 64 KiB
            for _ in range(HUGE_BYTES // len(chunk)):
                handler.wfile.write(chunk)
        else:
            handler.wfile.write(body)
            handler.wfile.flush()
            if fault.kind == "truncate":
                handler.connection.shutdown(socket.SHUT_RDWR)
    except (OSError, ValueError):
        pass  # the client gave up: what a timeout or a size limit does


def _tls_context(hosts: list[str], certificate: str, folder: Path) -> tuple[ssl.SSLContext, Path]:
    """A server context for `certificate` (see FixtureProxy) and the test CA's PEM file, both
    fresh for this server: nothing outside the test trusts them."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)

    def issue(
        subject: str,
        key: ec.EllipticCurvePrivateKey,
        issuer: x509.Name | None = None,
        issuer_key: ec.EllipticCurvePrivateKey | None = None,
        names: list[x509.GeneralName] | None = None,
    ) -> x509.Certificate:
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
        builder = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(issuer or name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=7))
            .add_extension(x509.BasicConstraints(ca=names is None, path_length=None), True)
        )
        if names is not None:
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        return builder.sign(issuer_key or key, hashes.SHA256())

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = issue("fixture-server test CA", ca_key)
    ca_file = folder / "test-ca.pem"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    if certificate == "other_host":  # signed by the test CA, for a host the crawl never asks
        hosts = ["attacker.example"]
    names: list[x509.GeneralName] = [x509.DNSName(h) for h in hosts if h]
    names.append(x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
    key = ec.generate_private_key(ec.SECP256R1())
    if certificate == "self_signed":  # what a man in the middle presents: no CA vouches for it
        cert = issue("fixture-server", key, names=names)
    else:
        cert = issue("fixture-server", key, ca.subject, ca_key, names)
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    return context, ca_file


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve the fixtures as a local proxy.")
    parser.add_argument("--port", type=int, default=8899)
    parser.add_argument("--manifest", default=str(ROOT / "fixtures" / "manifest.json"))
    parser.add_argument("--ca-file", help="also write the test CA's certificate (PEM) here")
    args = parser.parse_args()
    with FixtureProxy(Manifest.load(args.manifest), args.port) as proxy:
        ca_file = Path(args.ca_file) if args.ca_file else proxy.ca_file
        if args.ca_file:
            ca_file.write_bytes(proxy.ca_file.read_bytes())
        print(f"serving {args.manifest} as a proxy on {proxy.url}; Ctrl-C to stop")
        print(
            f"  https_proxy={proxy.url} SSL_CERT_FILE={ca_file} SCRAPY_PROJECT=live"
            " .venv/bin/scrapy crawl all -s NEWS_PROXY_RESOLVES=True"
        )
        threading.Event().wait()


if __name__ == "__main__":
    main()
