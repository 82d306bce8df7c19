#!/usr/bin/env python3
"""A hostile OCI registry for `oci import` (issue 8; docs/reliability.md).

Serves one small, valid image (one gzip tar layer with one file) from every repository; the
repository's name picks how the server lies when the client fetches it:

  good              the truth (the positive control)
  announced         the layer's Content-Length says 1 TB
  endless           the layer is chunked and never ends
  long              the layer is twice its descriptor's size
  short             the layer stops at half its size
  wrong             the layer is the right size, wrong bytes
  endless-manifest  the manifest is chunked and never ends
  endless-error     the layer is a 500 whose body never ends
  escapes           the layer is a 500 whose message carries terminal escapes and a forged line
  bearer            honest, behind token auth: 401 with a Bearer challenge whose realm (/token)
                    gives a token for Basic fixity:s3cret only; every request must carry it
  bearer-endless    the Bearer challenge's realm (/token-endless) answers a body that never ends
  leak              for `oci push`: Basic auth on 127.0.0.1, and every upload Location points at
                    a second listener on 127.0.0.2, which answers 400 "credentials leaked" to any
                    request that carries an Authorization header (a client must keep the
                    registry's credentials for the registry)

Prints one JSON line on stdout when listening: {"port": N, "digest": "sha256:...", "other": M}
(M: the 127.0.0.2 listener), then serves
until killed. Each request's bytes sent go to stderr.
"""
import base64
import gzip
import hashlib
import io
import json
import sys
import tarfile
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def sha(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def build_image():
    tar_bytes = io.BytesIO()
    with tarfile.open(fileobj=tar_bytes, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        payload = b"hello from a hostile registry\n"
        info = tarfile.TarInfo("hello.txt")
        info.size = len(payload)
        info.mode = 0o644
        tar.addfile(info, io.BytesIO(payload))
    tar_data = tar_bytes.getvalue()
    layer = gzip.compress(tar_data, mtime=0)
    config = json.dumps({
        "architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [sha(tar_data)]},
    }, sort_keys=True).encode()
    manifest = json.dumps({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha(config), "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": sha(layer), "size": len(layer)}],
    }, sort_keys=True).encode()
    return manifest, {sha(config): config, sha(layer): layer}, sha(layer)


MANIFEST, BLOBS, LAYER = build_image()
TOKEN = "tok-" + hashlib.sha256(MANIFEST).hexdigest()[:16]
CREDENTIALS = "Basic " + base64.b64encode(b"fixity:s3cret").decode()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def endless(self, status, content_type):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        chunk = b"x" * 65536
        sent = 0
        try:
            while sent < 64 << 30:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass
        sys.stderr.write(f"{self.path}: endless body stopped after {sent} bytes\n")
        self.close_connection = True

    def body(self, status, data, content_type, length=None):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data) if length is None else length))
        self.end_headers()
        try:
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        sys.stderr.write(f"{self.path}: sent {len(data)} bytes\n")
        if length is not None and length != len(data):
            self.close_connection = True

    def challenge(self, realm):
        host = self.headers.get("Host", "127.0.0.1")
        self.send_response(401)
        self.send_header("WWW-Authenticate", f'Bearer realm="http://{host}{realm}",service="hostile"')
        self.send_header("Content-Type", "application/json")
        body = b'{"errors":[{"code":"UNAUTHORIZED","message":"token required"}]}'
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path.startswith("/token-endless"):
            return self.endless(200, "application/json")
        if self.path.startswith("/token"):
            if self.headers.get("Authorization") != CREDENTIALS:
                return self.body(401, b'{"errors":[{"code":"UNAUTHORIZED","message":"bad credentials"}]}', "application/json")
            return self.body(200, json.dumps({"token": TOKEN}).encode(), "application/json")
        parts = self.path.split("/")  # ['', 'v2', MODE, 'manifests'|'blobs', REF]
        if len(parts) == 5 and parts[2] == "leak":
            if self.leak_guard():
                return
            return self.body(404, b'{"errors":[{"code":"MANIFEST_UNKNOWN","message":"none"}]}', "application/json")
        if len(parts) == 5 and parts[2].startswith("bearer") and self.headers.get("Authorization") != "Bearer " + TOKEN:
            return self.challenge("/token" if parts[2] == "bearer" else "/token-endless")
        if self.path == "/v2/" or len(parts) != 5 or parts[1] != "v2":
            return self.body(200 if self.path == "/v2/" else 404, b"{}", "application/json")
        mode, kind, ref = parts[2], parts[3], parts[4]
        if kind == "manifests":
            if mode == "endless-manifest":
                return self.endless(200, "application/vnd.oci.image.manifest.v1+json")
            return self.body(200, MANIFEST, "application/vnd.oci.image.manifest.v1+json")
        if kind != "blobs" or ref not in BLOBS:
            return self.body(404, b'{"errors":[{"code":"BLOB_UNKNOWN","message":"no such blob"}]}', "application/json")
        data = BLOBS[ref]
        if ref != LAYER or mode in ("good", "bearer"):
            return self.body(200, data, "application/octet-stream")
        if mode == "announced":
            return self.body(200, data, "application/octet-stream", length=10**12)
        if mode == "endless":
            return self.endless(200, "application/octet-stream")
        if mode == "long":
            return self.body(200, data + data, "application/octet-stream")
        if mode == "short":
            return self.body(200, data[: len(data) // 2], "application/octet-stream")
        if mode == "wrong":
            return self.body(200, bytes(b ^ 0xFF for b in data), "application/octet-stream")
        if mode == "endless-error":
            return self.endless(500, "text/plain")
        if mode == "escapes":
            message = "\x1b[2J\x1b[31mdenied\nfixity: forged line\r"
            return self.body(500, json.dumps({"errors": [{"code": "DENIED", "message": message}]}).encode(), "application/json")
        return self.body(404, b"{}", "application/json")

    def on_other_host(self):
        return self.server.server_address[0] != "127.0.0.1"

    def leak_guard(self):
        """For the leak mode: True when the request was answered here (refused or challenged)."""
        if self.on_other_host():
            if self.headers.get("Authorization"):
                sys.stderr.write(f"LEAK: {self.command} {self.path} carried {self.headers.get('Authorization')[:12]}...\n")
                self.body(400, b'{"errors":[{"code":"DENIED","message":"credentials leaked to another host"}]}', "application/json")
                return True
            return False
        if self.headers.get("Authorization") != CREDENTIALS:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="hostile"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return True
        return False

    def drain(self):
        length = int(self.headers.get("Content-Length") or 0)
        while length > 0:
            length -= len(self.rfile.read(min(length, 65536)))

    def do_HEAD(self):
        if self.path.startswith("/v2/leak/") and self.leak_guard():
            return
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_POST(self):
        self.drain()
        if not self.path.startswith("/v2/leak/blobs/uploads/") or self.leak_guard():
            return None if self.path.startswith("/v2/leak/") else self.body(404, b"{}", "application/json")
        self.send_response(202)
        self.send_header("Location", f"http://127.0.0.2:{OTHER_PORT}/upload/{uuid.uuid4().hex}")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_PATCH(self):
        self.drain()
        if self.leak_guard():
            return
        self.send_response(202)
        self.send_header("Location", self.path.split("?")[0] if self.on_other_host() else self.path)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_PUT(self):
        self.drain()
        if self.leak_guard():
            return
        self.send_response(201)
        self.send_header("Content-Length", "0")
        self.end_headers()


OTHER_PORT = 0


def main():
    global OTHER_PORT
    other = ThreadingHTTPServer(("127.0.0.2", 0), Handler)
    other.daemon_threads = True
    OTHER_PORT = other.server_address[1]
    threading.Thread(target=other.serve_forever, daemon=True).start()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print(json.dumps({"port": server.server_address[1], "digest": sha(MANIFEST), "other": OTHER_PORT}), flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
