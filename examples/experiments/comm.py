#!/usr/bin/env python3
"""comm.py — the "busy communicating" host of the policies experiment.

  comm.py recv ADDR PORT               accept one connection, discard what comes
  comm.py send ADDR PORT MBPS WORK     send MBPS megabytes/s (10^6) to ADDR:PORT;
                                       each 50 ms chunk is first zlib-compressed
                                       WORK times (level 6), so the sender uses
                                       the host's CPU share like a real
                                       communicating program that packs its data
Runs until killed.  Errors: "comm.py: what went wrong" on stderr, exit 1.
"""
import socket
import sys
import time
import zlib

TICK = 0.05


def fail(msg):
    sys.stderr.write("comm.py: %s\n" % msg)
    sys.exit(1)


def recv(addr, port):
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((addr, port))
    srv.listen(1)
    conn, _ = srv.accept()
    while conn.recv(1 << 20):
        pass


def chunk_of(size):
    # compressible but not trivial: words from a small vocabulary
    words = [b"alpha", b"beta", b"gamma", b"delta", b"tree", b"node", b"sum"]
    out = bytearray()
    i = 0
    while len(out) < size:
        out += words[(i * 7919 + i // 3) % len(words)] + b" %d " % (i % 1000)
        i += 1
    return bytes(out[:size])


def send(addr, port, mbps, work):
    size = int(mbps * 1e6 * TICK)
    data = chunk_of(size)
    for _ in range(100):
        try:
            sock = socket.create_connection((addr, port), timeout=10)
            break
        except OSError:
            time.sleep(0.1)
    else:
        fail("cannot connect to %s:%d" % (addr, port))
    nxt = time.monotonic()
    while True:
        for _ in range(work):
            zlib.compress(data, 6)
        sock.sendall(data)
        nxt += TICK
        delay = nxt - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        else:
            nxt = time.monotonic()


def main():
    a = sys.argv
    try:
        if len(a) == 4 and a[1] == "recv":
            recv(a[2], int(a[3]))
        elif len(a) == 6 and a[1] == "send":
            send(a[2], int(a[3]), float(a[4]), int(a[5]))
        else:
            fail("usage: comm.py recv ADDR PORT | send ADDR PORT MBPS WORK")
    except (OSError, ValueError) as e:
        fail(str(e))


if __name__ == "__main__":
    main()
