#!/usr/bin/env python3
"""Hostile clients against `fixity serve` (issue 17; docs/server.md, "Limits").

  client.py URL KEY

Each case talks raw HTTP/1.1 over a socket, the way a broken or malicious client would, and
records what the server answered (status, or "closed"). After every case the server must still
answer GET /healthz, and no case may get a 5xx. Prints one JSON document:
{"cases": {name: {"answer": ..., "alive": bool}}}.
"""
import json
import socket
import sys
import threading
import time

url, key = sys.argv[1], sys.argv[2]
host, port = url.split("//")[1].split(":")
port = int(port)


def exchange(raw, timeout=10, drip=None):
    """Sends raw bytes (or drips them), returns the status code or 'closed'."""
    s = socket.create_connection((host, port), timeout=timeout)
    try:
        if drip:
            for piece in raw:
                s.sendall(piece)
                time.sleep(drip)
        else:
            s.sendall(raw)
        data = b""
        while b"\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                return "closed"
            data += chunk
        return int(data.split(b" ")[1])
    except (ConnectionResetError, BrokenPipeError, socket.timeout) as error:
        return f"closed ({type(error).__name__})"
    finally:
        s.close()


def alive():
    return exchange(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n") == 200


auth = f"Authorization: Bearer {key}\r\n".encode()
cases = {}


def case(name, answer):
    cases[name] = {"answer": answer, "alive": alive()}


# A body announced far beyond the document limit: refused before it is read.
case("absurd content-length", exchange(
    b"POST /v1/blobs/missing HTTP/1.1\r\nHost: x\r\n" + auth
    + b"Content-Type: application/json\r\nContent-Length: 99999999999\r\n\r\n{"))
# A header block far beyond the limit (80 KiB).
case("huge header", exchange(
    b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Junk: " + b"a" * 200_000 + b"\r\n\r\n"))
# Thousands of headers.
case("header flood", exchange(
    b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-%d: y\r\n" % i for i in range(5000)) + b"\r\n"))
# Both Content-Length and Transfer-Encoding (request smuggling): refused.
case("content-length and chunked", exchange(
    b"POST /v1/blobs/missing HTTP/1.1\r\nHost: x\r\n" + auth
    + b"Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"))
# A chunk size that is not hex.
case("bad chunk size", exchange(
    b"POST /v1/blobs HTTP/1.1\r\nHost: x\r\n" + auth
    + b"Content-Type: application/vnd.fixity.blobs.v1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nFXBLOBS1\r\n0\r\n\r\n"))
# Not HTTP at all.
case("garbage", exchange(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(range(256)) * 4))
# Control characters and invalid UTF-8 in the path.
case("hostile path", exchange(b"GET /v1/releases/\xff\xfe%00%0a HTTP/1.1\r\nHost: x\r\n" + auth + b"\r\n"))
# A blob pack that claims a blob larger than the server takes.
case("oversized blob claim", exchange(
    b"POST /v1/blobs HTTP/1.1\r\nHost: x\r\n" + auth + b"Content-Type: application/vnd.fixity.blobs.v1\r\n"
    + b"Content-Length: 48\r\n\r\nFXBLOBS1" + b"\x01" * 32 + b"\xff" * 8))
# A key sent in pieces, a byte at a time (slow, but under the idle limit): still judged correctly.
case("dripped request", exchange(
    [bytes([b]) for b in b"GET /v1/releases HTTP/1.1\r\nHost: x\r\n" + auth + b"\r\n"], drip=0.002))


# 200 connections that send half a request and vanish, at once.
def abandon():
    try:
        s = socket.create_connection((host, port), timeout=5)
        s.sendall(b"POST /v1/blobs HTTP/1.1\r\nHost: x\r\n" + auth + b"Content-Length: 1000000\r\n\r\nFXBL")
        s.close()
    except OSError:
        pass


threads = [threading.Thread(target=abandon) for _ in range(200)]
for t in threads:
    t.start()
for t in threads:
    t.join()
case("200 abandoned uploads", "done")

print(json.dumps({"cases": cases}, sort_keys=True))
