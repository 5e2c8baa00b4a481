#!/usr/bin/env python3
"""netutil.py - small network peers for the forwarding tests.

  echo ADDR                  echo server (ADDR: port on 127.0.0.1, or a path)
  sink ADDR OUT              store "sha256 bytes" of every connection in OUT
  firehose ADDR              send zeros to every client as fast as it reads
  source ADDR SIZE SEED      send SIZE pseudo-random bytes, print their sha256
  fetch ADDR                 read everything, print "sha256 bytes"
  roundtrip ADDR CONNS ROUNDS  CONNS concurrent clients, ROUNDS echo round trips
                             each; prints "ok" or the first mismatch
  slowread ADDR SECONDS RATE read RATE bytes/s for SECONDS, print bytes read
  latency ADDR CONNS ROUNDS  CONNS concurrent clients doing ROUNDS 64-byte echo
                             round trips; prints "p50_ms p99_ms"
  hold ADDR CONNS SECONDS    open CONNS idle connections, print "ready", hold
  serve ADDR SIZE SEED       server: send SIZE pseudo-random bytes to every
                             client, then close at once (no waiting for it)
  stall ADDR MODE            server that accepts and then stalls: MODE "silent"
                             never speaks, "banner" sends an SSH banner first
  latefetch ADDR DELAY       connect with a small receive buffer, send EOF,
                             read nothing for DELAY seconds, then read all;
                             print "sha256 bytes"
  probe ADDR MS SECONDS WAIT one new connection every MS milliseconds for
                             SECONDS against an echo service; each sends a line
                             and waits up to WAIT seconds for it to come back.
                             Prints "ok N closed N refused N reset N timeout N
                             wrong N" (closed: an orderly end before the echo)
  socks5 ADDR HOST PORT      SOCKS5 CONNECT request; prints the reply code
                             (0 granted...) or "closed" without a reply
  occupy PORT                listen on 127.0.0.1 and ::1 (where there is IPv6)
                             without ever accepting: the port is taken
  burst ADDR CONNS BYTES     CONNS clients at once, each sending BYTES to an
                             echo server and reading them back (checked);
                             prints "ok SECONDS" or the first mismatch

Servers print "ready" once listening.  Everything is bounded in time by the
callers (timeout(1)).
"""
import asyncio
import errno
import hashlib
import os
import random
import socket
import sys
import time


def parse_addr(a):
    if "/" in a:
        return ("unix", a)
    return ("tcp", int(a))


async def start_server(addr, handler):
    kind, v = parse_addr(addr)
    if kind == "unix":
        srv = await asyncio.start_unix_server(handler, path=v, backlog=4096)
    else:
        # A deep backlog: bursts of connections must not hit SYN retries
        # (1 s) in the server under test's place.
        srv = await asyncio.start_server(handler, host="127.0.0.1", port=v, backlog=4096)
    print("ready", flush=True)
    async with srv:
        await srv.serve_forever()


async def open_conn(addr):
    kind, v = parse_addr(addr)
    if kind == "unix":
        return await asyncio.open_unix_connection(v)
    return await asyncio.open_connection("127.0.0.1", v)


async def echo(addr):
    async def h(r, w):
        try:
            while True:
                d = await r.read(65536)
                if not d:
                    break
                w.write(d)
                await w.drain()
        except ConnectionError:
            pass
        finally:
            w.close()
    await start_server(addr, h)


async def sink(addr, out):
    async def h(r, w):
        m = hashlib.sha256()
        n = 0
        while True:
            d = await r.read(1 << 20)
            if not d:
                break
            m.update(d)
            n += len(d)
        with open(out, "a") as f:
            f.write("%s %d\n" % (m.hexdigest(), n))
        w.close()
    await start_server(addr, h)


async def firehose(addr):
    block = bytes(65536)

    async def h(r, w):
        try:
            while True:
                w.write(block)
                await w.drain()
        except (ConnectionError, OSError):
            pass
        w.close()
    await start_server(addr, h)


async def serve(addr, size, seed):
    async def h(r, w):
        try:
            for chunk in stream(int(size), seed):
                w.write(chunk)
                await w.drain()
        except (ConnectionError, OSError):
            pass
        w.close()
    await start_server(addr, h)


async def stall(addr, mode):
    async def h(r, w):
        if mode == "banner":
            w.write(b"SSH-2.0-Stall_1.0\r\n")
            await w.drain()
        try:
            while await r.read(65536):
                pass
        except ConnectionError:
            pass
        w.close()
    await start_server(addr, h)


def latefetch(addr, delay):
    kind, v = parse_addr(addr)
    s = socket.socket(socket.AF_UNIX if kind == "unix" else socket.AF_INET)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(v if kind == "unix" else ("127.0.0.1", v))
    s.shutdown(socket.SHUT_WR)  # nothing to send: the tunnel sees EOF at once
    time.sleep(float(delay))
    m = hashlib.sha256()
    n = 0
    while True:
        d = s.recv(1 << 16)
        if not d:
            break
        m.update(d)
        n += len(d)
    print("%s %d" % (m.hexdigest(), n))


def stream(size, seed):
    rnd = random.Random(int(seed))
    left = size
    while left > 0:
        n = min(left, 1 << 20)
        yield rnd.randbytes(n)
        left -= n


async def source(addr, size, seed):
    r, w = await open_conn(addr)
    m = hashlib.sha256()
    for chunk in stream(int(size), seed):
        m.update(chunk)
        w.write(chunk)
        await w.drain()
    w.write_eof()
    while await r.read(65536):
        pass
    w.close()
    print(m.hexdigest())


async def fetch(addr):
    r, w = await open_conn(addr)
    w.write_eof() if hasattr(w, "write_eof") else None
    m = hashlib.sha256()
    n = 0
    while True:
        d = await r.read(1 << 20)
        if not d:
            break
        m.update(d)
        n += len(d)
    w.close()
    print("%s %d" % (m.hexdigest(), n))


async def roundtrip(addr, conns, rounds):
    async def one(i):
        rnd = random.Random(i)
        r, w = await open_conn(addr)
        for k in range(rounds):
            msg = rnd.randbytes(rnd.randint(1, 4096))
            w.write(msg)
            await w.drain()
            got = await r.readexactly(len(msg))
            if got != msg:
                raise RuntimeError("conn %d round %d: mismatch" % (i, k))
        w.close()
    await asyncio.gather(*(one(i) for i in range(conns)))
    print("ok")


async def latency(addr, conns, rounds):
    """Connect CONNS clients (at most 100 connects in flight, so a
    listener's backlog is never the bottleneck), warm each up with one
    round trip (the tunnel's channel is then open), then time ROUNDS echo
    round trips on all of them at once."""
    gate = asyncio.Semaphore(100)
    start = asyncio.Event()
    warm = [0]
    all_warm = asyncio.Event()
    samples = []

    async def one(i):
        msg = bytes([i % 256]) * 64
        async with gate:
            r, w = await open_conn(addr)
            w.write(msg)
            await w.drain()
            await r.readexactly(len(msg))
        warm[0] += 1
        if warm[0] == conns:
            all_warm.set()
        await start.wait()
        for _ in range(rounds):
            t0 = time.perf_counter()
            w.write(msg)
            await w.drain()
            await r.readexactly(len(msg))
            samples.append(time.perf_counter() - t0)
        w.close()

    tasks = [asyncio.create_task(one(i)) for i in range(conns)]
    await all_warm.wait()
    start.set()
    await asyncio.gather(*tasks)
    samples.sort()
    p50 = samples[len(samples) // 2] * 1000
    p99 = samples[min(len(samples) - 1, int(len(samples) * 0.99))] * 1000
    print("%.3f %.3f" % (p50, p99))


async def hold(addr, conns, seconds):
    held = []
    for _ in range(conns):
        held.append(await open_conn(addr))
    # one round trip on each so the tunnel has really set them up
    for r, w in held:
        w.write(b"x")
        await w.drain()
        await r.readexactly(1)
    print("ready", flush=True)
    await asyncio.sleep(float(seconds))
    for r, w in held:
        w.close()


async def burst(addr, conns, size):
    """Every client writes and reads at the same time (an echo server
    cannot take more than its socket buffers otherwise); at most 100
    connects are in flight, then all streams run together."""
    gate = asyncio.Semaphore(100)
    block = bytes(range(256)) * 256  # 64 KiB
    t0 = time.perf_counter()

    async def one(i):
        async with gate:
            r, w = await open_conn(addr)

        async def writer():
            left = size
            while left > 0:
                n = min(left, len(block))
                w.write(block[:n])
                await w.drain()
                left -= n

        async def reader():
            got = 0
            while got < size:
                d = await r.read(65536)
                if not d:
                    raise RuntimeError("conn %d: EOF after %d of %d bytes" % (i, got, size))
                off = got % len(block)
                # compare against the repeating pattern
                k = 0
                while k < len(d):
                    m = min(len(d) - k, len(block) - off)
                    if d[k:k + m] != block[off:off + m]:
                        raise RuntimeError("conn %d: mismatch at %d" % (i, got + k))
                    k += m
                    off = 0
                got += len(d)

        await asyncio.gather(writer(), reader())
        w.close()
    await asyncio.gather(*(one(i) for i in range(conns)))
    print("ok %.2f" % (time.perf_counter() - t0))


def slowread(addr, seconds, rate):
    kind, v = parse_addr(addr)
    s = socket.socket(socket.AF_UNIX if kind == "unix" else socket.AF_INET)
    s.connect(v if kind == "unix" else ("127.0.0.1", v))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    end = time.time() + float(seconds)
    total = 0
    per_tick = max(1, int(rate) // 10)
    while time.time() < end:
        d = s.recv(per_tick)
        if not d:
            break
        total += len(d)
        time.sleep(0.1)
    s.close()
    print(total)


def probe(addr, ms, seconds, wait):
    kind, v = parse_addr(addr)
    counts = {k: 0 for k in ("ok", "closed", "refused", "reset", "timeout", "wrong")}

    async def one(i):
        line = b"probe %d\n" % i
        try:
            r, w = await open_conn(addr)
        except ConnectionRefusedError:
            counts["refused"] += 1
            return
        except OSError:
            counts["reset"] += 1
            return
        try:
            w.write(line)
            await w.drain()
            got = await asyncio.wait_for(r.readline(), float(wait))
            if got == line:
                counts["ok"] += 1
            elif got == b"":
                counts["closed"] += 1
            else:
                counts["wrong"] += 1
        except asyncio.TimeoutError:
            counts["timeout"] += 1
        except (ConnectionResetError, BrokenPipeError):
            counts["reset"] += 1
        except OSError:
            counts["reset"] += 1
        finally:
            w.close()

    async def run():
        tasks = []
        end = time.monotonic() + float(seconds)
        i = 0
        while time.monotonic() < end:
            tasks.append(asyncio.ensure_future(one(i)))
            i += 1
            await asyncio.sleep(int(ms) / 1000.0)
        await asyncio.gather(*tasks)

    asyncio.run(run())
    print(" ".join("%s %d" % (k, counts[k]) for k in counts), flush=True)


def socks5(addr, host, port):
    kind, v = parse_addr(addr)
    s = socket.create_connection(("127.0.0.1", v), timeout=60)
    s.sendall(b"\x05\x01\x00")
    if s.recv(2) != b"\x05\x00":
        print("bad method reply")
        return
    h = host.encode()
    s.sendall(b"\x05\x01\x00\x03" + bytes([len(h)]) + h + int(port).to_bytes(2, "big"))
    rep = s.recv(10)
    if len(rep) < 2:
        print("closed")
    else:
        print(rep[1])
    s.close()


def occupy(port):
    socks = []
    for fam, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
        # Whoever had the port may still be on its way out: try for 5 s.
        for attempt in range(100):
            try:
                s = socket.socket(fam, socket.SOCK_STREAM)
                if fam == socket.AF_INET6:
                    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                s.bind((host, int(port)))
                s.listen(1)
                socks.append(s)
                break
            except OSError as e:
                s.close()
                if fam == socket.AF_INET6 and e.errno == errno.EADDRNOTAVAIL:
                    break  # no IPv6 loopback here
                if attempt == 99:
                    raise
                time.sleep(0.05)
    print("ready", flush=True)
    while True:
        time.sleep(3600)


def main():
    cmd = sys.argv[1]
    a = sys.argv[2:]
    if cmd == "echo":
        asyncio.run(echo(a[0]))
    elif cmd == "sink":
        asyncio.run(sink(a[0], a[1]))
    elif cmd == "firehose":
        asyncio.run(firehose(a[0]))
    elif cmd == "source":
        asyncio.run(source(a[0], a[1], a[2]))
    elif cmd == "fetch":
        asyncio.run(fetch(a[0]))
    elif cmd == "roundtrip":
        asyncio.run(roundtrip(a[0], int(a[1]), int(a[2])))
    elif cmd == "latency":
        asyncio.run(latency(a[0], int(a[1]), int(a[2])))
    elif cmd == "hold":
        asyncio.run(hold(a[0], int(a[1]), a[2]))
    elif cmd == "burst":
        asyncio.run(burst(a[0], int(a[1]), int(a[2])))
    elif cmd == "slowread":
        slowread(a[0], a[1], a[2])
    elif cmd == "serve":
        asyncio.run(serve(a[0], a[1], a[2]))
    elif cmd == "latefetch":
        latefetch(a[0], a[1])
    elif cmd == "stall":
        asyncio.run(stall(a[0], a[1]))
    elif cmd == "probe":
        probe(a[0], a[1], a[2], a[3])
    elif cmd == "socks5":
        socks5(a[0], a[1], a[2])
    elif cmd == "occupy":
        occupy(a[0])
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
