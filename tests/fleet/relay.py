#!/usr/bin/env python3
"""A TCP relay between an agent and its server, for the fleet tests (docs/agent.md):

  relay.py --listen HOST:PORT --to HOST:PORT [--cut-after BYTES] [--delay SECONDS]

Forwards every connection. With --cut-after, a connection that asks for a blob download
(POST /v1/blobs/fetch) is hung up after that many bytes of the answer: a server that dies
mid-download. With --delay, every answer starts that many seconds late: a slow server. Prints
"listening on HOST:PORT" once bound (port 0 picks one). Runs until killed.
"""
import argparse
import socket
import sys
import threading
import time


def pipe(source, sink, state, upstream_side, cut_after=None, delay=0.0):
    """Copies source to sink. The client side arms the cut when it sends a blob download (a
    keep-alive connection may carry one after other requests); the server side then counts the
    answer's bytes and hangs up past the limit."""
    first = True
    try:
        while True:
            data = source.recv(65536)
            if not data:
                break
            if not upstream_side:
                if cut_after is not None and b"/v1/blobs/fetch" in data:
                    state["armed"] = True
                sink.sendall(data)
                continue
            if first and delay:
                time.sleep(delay)
            first = False
            if state.get("armed"):
                room = cut_after - state.get("sent", 0)
                if len(data) > room:
                    sink.sendall(data[: max(0, room)])
                    break
                state["sent"] = state.get("sent", 0) + len(data)
            sink.sendall(data)
    except OSError:
        pass
    for s in (source, sink):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        s.close()


def serve(client, target, cut_after, delay):
    try:
        upstream = socket.create_connection(target)
    except OSError:
        client.close()
        return
    state = {}
    threading.Thread(target=pipe, args=(client, upstream, state, False, cut_after), daemon=True).start()
    pipe(upstream, client, state, True, cut_after, delay)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--listen", required=True)
    parser.add_argument("--to", required=True)
    parser.add_argument("--cut-after", type=int)
    parser.add_argument("--delay", type=float, default=0.0)
    args = parser.parse_args()
    host, port = args.listen.rsplit(":", 1)
    to_host, to_port = args.to.rsplit(":", 1)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((host, int(port)))
    listener.listen(256)
    print(f"listening on {host}:{listener.getsockname()[1]}", flush=True)
    while True:
        client, _ = listener.accept()
        threading.Thread(
            target=serve, args=(client, (to_host, int(to_port)), args.cut_after, args.delay), daemon=True
        ).start()


if __name__ == "__main__":
    sys.exit(main())
