#!/usr/bin/python3
"""pyends.py - bulk endpoints written the way applications are: Python,
running on the same cores as the tunnel under test.

  sink PORT           accept one connection on 127.0.0.1:PORT, print
                      "ready", read to EOF (256 KiB at a time), print the
                      byte count
  send PORT BYTES     connect to 127.0.0.1:PORT, send BYTES in 256 KiB
                      writes, shut down the write side, wait for EOF
"""
import socket
import sys

CHUNK = 256 * 1024


def sink(port):
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port))
    ls.listen(1)
    # never hang a benchmark: give up after a minute without progress
    ls.settimeout(60)
    print("ready", flush=True)
    c, _ = ls.accept()
    c.settimeout(60)
    buf = bytearray(CHUNK)
    n = 0
    while True:
        k = c.recv_into(buf)
        if k == 0:
            break
        n += k
    c.close()
    print(n, flush=True)


def send(port, total):
    s = socket.create_connection(("127.0.0.1", port), timeout=60)
    block = bytes(CHUNK)
    left = total
    while left > 0:
        k = min(left, CHUNK)
        s.sendall(block[:k])
        left -= k
    s.shutdown(socket.SHUT_WR)
    while s.recv(65536):
        pass
    s.close()


if __name__ == "__main__":
    if sys.argv[1] == "sink":
        sink(int(sys.argv[2]))
    elif sys.argv[1] == "send":
        send(int(sys.argv[2]), int(sys.argv[3]))
    else:
        sys.exit("unknown command " + sys.argv[1])
