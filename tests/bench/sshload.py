#!/usr/bin/env python3
"""sshload.py - a minimal SSH-2 client for server benchmarks.

Many real, authenticated connections from one process, so that the
client's cost does not hide the server's: curve25519-sha256 key exchange,
aes128-gcm@openssh.com, publickey authentication with an ed25519 key
(python3-cryptography).  The server's host key signature is not checked
(a benchmark against a throwaway server on 127.0.0.1, nothing else).

  hold PORT USER KEY CONNS SECONDS [PAR]
      open CONNS connections all at once (a burst), count those the server
      drops before authentication, then open the dropped ones again with at
      most PAR handshakes in flight (default 8: under sshd's MaxStartups 10)
      until CONNS are authenticated and idle; prints
      "burst ok=N dropped=N failed=N" then "ready held=N retries=N", and
      holds them SECONDS (or until killed).
  rate PORT USER KEY CONNS PAR MODE
      CONNS connections, PAR at a time, each: connect, key exchange,
      authentication, then MODE "auth" (disconnect at once) or "exec" (run
      `true` in a session channel and wait for its close); prints
      "seconds ok failed".
"""
import asyncio
import hashlib
import os
import struct
import sys
import time

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

VERSION = b"SSH-2.0-sshload_1.0"
RAW = serialization.Encoding.Raw, serialization.PublicFormat.Raw


class Dropped(Exception):
    """The server closed the connection before authentication."""


class Refused(Exception):
    """A protocol error or a refusal: retrying would not help."""


def s(b):
    if isinstance(b, str):
        b = b.encode()
    return struct.pack(">I", len(b)) + b


def mpint(b):
    b = b.lstrip(b"\0")
    if b and b[0] & 0x80:
        b = b"\0" + b
    return s(b)


class Reader:
    def __init__(self, d):
        self.d, self.i = d, 0

    def u8(self):
        self.i += 1
        return self.d[self.i - 1]

    def u32(self):
        self.i += 4
        return struct.unpack(">I", self.d[self.i - 4:self.i])[0]

    def str(self):
        n = self.u32()
        self.i += n
        return self.d[self.i - n:self.i]


class Conn:
    def __init__(self, port, user, key):
        self.port, self.user, self.key = port, user, key
        self.enc = self.dec = None
        self.authed = False

    async def open(self):
        try:
            self.r, self.w = await asyncio.open_connection("127.0.0.1", self.port)
        except OSError as e:
            raise Dropped(str(e))
        try:
            await self.handshake()
        except (asyncio.IncompleteReadError, ConnectionError) as e:
            if not self.authed:
                raise Dropped(repr(e))
            raise

    # -- packets
    def send(self, payload):
        bs = 16 if self.enc else 8
        pad = bs - (1 + len(payload) + (0 if self.enc else 4)) % bs
        if pad < 4:
            pad += bs
        body = bytes([pad]) + payload + os.urandom(pad)
        if self.enc:
            aead, iv = self.enc
            hdr = struct.pack(">I", len(body))
            self.w.write(hdr + aead.encrypt(iv, body, hdr))
            self.enc = (aead, iv[:4] + struct.pack(">Q", (int.from_bytes(iv[4:], "big") + 1) % (1 << 64)))
        else:
            self.w.write(struct.pack(">I", len(body)) + body)

    async def recv(self):
        while True:
            hdr = await self.r.readexactly(4)
            n = struct.unpack(">I", hdr)[0]
            if n > 300000:
                raise ConnectionError("bad packet length")
            if self.dec:
                aead, iv = self.dec
                body = aead.decrypt(iv, await self.r.readexactly(n + 16), hdr)
                self.dec = (aead, iv[:4] + struct.pack(">Q", (int.from_bytes(iv[4:], "big") + 1) % (1 << 64)))
            else:
                body = await self.r.readexactly(n)
            p = body[1:len(body) - body[0]]
            t = p[0]
            if t == 1:
                raise ConnectionError("disconnected: " + Reader(p[5:]).str().decode(errors="replace"))
            if t in (2, 4, 7, 53):  # IGNORE, DEBUG, EXT_INFO, USERAUTH_BANNER
                continue
            if t == 80:  # GLOBAL_REQUEST (hostkeys-00, keepalive): refuse if asked
                rd = Reader(p[1:])
                rd.str()
                if rd.u8():
                    self.send(bytes([82]))
                continue
            return p

    async def expect(self, t):
        p = await self.recv()
        if p[0] != t:
            raise Refused("expected message %d, got %d" % (t, p[0]))
        return p

    # -- transport and authentication
    async def handshake(self):
        self.w.write(VERSION + b"\r\n")
        while True:
            line = await self.r.readuntil(b"\n")
            if line.startswith(b"SSH-"):
                vs = line.rstrip(b"\r\n")
                break
        ic = (bytes([20]) + os.urandom(16) + s("curve25519-sha256,curve25519-sha256@libssh.org") +
              s("ssh-ed25519,ecdsa-sha2-nistp256,rsa-sha2-512,rsa-sha2-256") +
              s("aes128-gcm@openssh.com") * 2 + s("hmac-sha2-256") * 2 + s("none") * 2 +
              s("") * 2 + b"\0" + b"\0\0\0\0")
        self.send(ic)
        x = X25519PrivateKey.generate()
        qc = x.public_key().public_bytes(*RAW)
        self.send(bytes([30]) + s(qc))
        is_ = await self.expect(20)
        rd = Reader((await self.expect(31))[1:])
        ks, qs = rd.str(), rd.str()
        k = mpint(x.exchange(X25519PublicKey.from_public_bytes(qs)))
        h = hashlib.sha256(s(VERSION) + s(vs) + s(ic) + s(is_) + s(ks) + s(qc) + s(qs) + k).digest()
        self.send(bytes([21]))
        await self.expect(21)
        kd = lambda c, n: hashlib.sha256(k + h + c + h).digest()[:n]
        self.enc = (AESGCM(kd(b"C", 16)), kd(b"A", 12))
        self.dec = (AESGCM(kd(b"D", 16)), kd(b"B", 12))
        self.send(bytes([5]) + s("ssh-userauth"))
        await self.expect(6)
        pub = self.key.public_key().public_bytes(*RAW)
        blob = s("ssh-ed25519") + s(pub)
        req = s(self.user) + s("ssh-connection") + s("publickey") + b"\1" + s("ssh-ed25519") + s(blob)
        sig = self.key.sign(s(h) + bytes([50]) + req)
        self.send(bytes([50]) + req + s(s("ssh-ed25519") + s(sig)))
        p = await self.recv()
        if p[0] != 52:
            raise Refused("authentication refused (message %d)" % p[0])
        self.authed = True

    async def exec_true(self):
        self.send(bytes([90]) + s("session") + struct.pack(">III", 0, 1 << 21, 32768))
        rd = Reader((await self.expect(91))[1:])
        rd.u32()
        ch = rd.u32()
        self.send(bytes([98]) + struct.pack(">I", ch) + s("exec") + b"\1" + s("true"))
        while True:
            p = await self.recv()
            if p[0] == 100:
                raise Refused("exec refused")
            if p[0] == 97:  # CLOSE
                self.send(bytes([97]) + struct.pack(">I", ch))
                return

    async def idle(self):
        try:
            while True:
                await self.recv()
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            pass

    def close(self):
        try:
            self.send(bytes([1]) + struct.pack(">I", 11) + s("bye") + s(""))
        except Exception:
            pass
        self.w.close()


def load_key(path):
    with open(path, "rb") as f:
        k = serialization.load_ssh_private_key(f.read(), None)
    if not isinstance(k, Ed25519PrivateKey):
        sys.exit("sshload.py: an ed25519 key is needed")
    return k


async def hold(port, user, key, conns, seconds, par):
    held, dropped, failed = [], [0], [0]
    tasks = []

    async def one():
        c = Conn(port, user, key)
        try:
            await c.open()
        except Dropped:
            dropped[0] += 1
            return False
        except Exception as e:
            failed[0] += 1
            if failed[0] <= 3:
                print("error: %r" % e, file=sys.stderr, flush=True)
            return None
        held.append(c)
        tasks.append(asyncio.create_task(c.idle()))
        return True

    await asyncio.gather(*(one() for _ in range(conns)))
    print("burst ok=%d dropped=%d failed=%d" % (len(held), dropped[0], failed[0]), flush=True)
    gate = asyncio.Semaphore(par)
    retries = 0
    deadline = time.monotonic() + 600

    async def again():
        nonlocal retries
        while time.monotonic() < deadline:
            async with gate:
                retries += 1
                r = await one()
                if r is not False:  # held, or an error retrying cannot fix
                    return

    await asyncio.gather(*(again() for _ in range(conns - len(held))))
    print("ready held=%d retries=%d" % (len(held), retries), flush=True)
    await asyncio.sleep(seconds)
    for c in held:
        c.close()


async def rate(port, user, key, conns, par, mode):
    ok, failed = [0], [0]
    gate = asyncio.Semaphore(par)

    async def one():
        async with gate:
            c = Conn(port, user, key)
            try:
                await c.open()
                if mode == "exec":
                    await c.exec_true()
                c.close()
                ok[0] += 1
            except Exception as e:
                failed[0] += 1
                if failed[0] <= 3:
                    print("error: %r" % e, file=sys.stderr, flush=True)

    t0 = time.monotonic()
    await asyncio.gather(*(one() for _ in range(conns)))
    print("%.3f %d %d" % (time.monotonic() - t0, ok[0], failed[0]), flush=True)


def main():
    cmd, a = sys.argv[1], sys.argv[2:]
    key = load_key(a[2])
    if cmd == "hold":
        asyncio.run(hold(int(a[0]), a[1], key, int(a[3]), float(a[4]), int(a[5]) if len(a) > 5 else 8))
    elif cmd == "rate":
        asyncio.run(rate(int(a[0]), a[1], key, int(a[3]), int(a[4]), a[5]))
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
