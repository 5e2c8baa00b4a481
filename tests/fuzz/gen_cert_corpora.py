#!/usr/bin/env python3
"""Seed corpora of fuzz_cert and fuzz_krl from the fixtures of
tests/unit/data/certs (ssh-keygen -s and -k).

Run by hand after tests/unit/data/certs/gen.sh:
    python3 tests/fuzz/gen_cert_corpora.py
Writes tests/fuzz/corpus/cert/: for every fixture certificate, mode 0 (the
whole blob) and mode 1 (the blob up to its reserved field; the target signs
it again with its own CA key), plus the public line itself in mode 0.
Writes tests/fuzz/corpus/krl/: the fixture KRLs and key list, and KRLs
built here for what ssh-keygen does not write (any-CA sections with the
target's serial 42 and key id "fuzz", ranges, extensions, signatures).
"""
import base64
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
FIX = os.path.join(HERE, '..', 'unit', 'data', 'certs')
OUT = os.path.join(HERE, 'corpus', 'cert')


def string(b, o):
    (n,) = struct.unpack('>I', b[o:o + 4])
    return b[o + 4:o + 4 + n], o + 4 + n


def body_end(blob):
    """Offset of the signature key field (end of 'reserved')."""
    name, o = string(blob, 0)
    _, o = string(blob, o)  # nonce
    fields = {b'ssh-ed25519-cert-v01@openssh.com': 1, b'ssh-rsa-cert-v01@openssh.com': 2}
    for _ in range(fields.get(name, 2)):  # ecdsa: curve, Q
        _, o = string(blob, o)
    o += 8 + 4  # serial, type
    _, o = string(blob, o)  # key id
    _, o = string(blob, o)  # principals
    o += 16  # validity
    for _ in range(3):  # critical, extensions, reserved
        _, o = string(blob, o)
    return o


os.makedirs(OUT, exist_ok=True)
for f in sorted(os.listdir(FIX)):
    if not f.endswith('-cert.pub'):
        continue
    line = open(os.path.join(FIX, f), 'rb').read().strip()
    blob = base64.b64decode(line.split()[1])
    stem = f[:-len('-cert.pub')]
    open(os.path.join(OUT, 'blob-' + stem), 'wb').write(b'\x00' + blob)
    open(os.path.join(OUT, 'resign-' + stem), 'wb').write(b'\x01' + blob[:body_end(blob)])
    open(os.path.join(OUT, 'line-' + stem), 'wb').write(b'\x00' + line + b'\n')


def sstr(b):
    return struct.pack('>I', len(b)) + b


def krl(sections, comment=b'seed'):
    h = b'SSHKRL\n\0' + struct.pack('>IQQQ', 1, 1, 1700000000, 0) + sstr(b'') + sstr(comment)
    return h + b''.join(bytes([t]) + sstr(d) for t, d in sections)


def any_ca(*subs):
    return sstr(b'') + sstr(b'') + b''.join(bytes([t]) + sstr(d) for t, d in subs)


KOUT = os.path.join(HERE, 'corpus', 'krl')
os.makedirs(KOUT, exist_ok=True)
for f in sorted(os.listdir(FIX)):
    if f.endswith('.krl') or f == 'revoked_keys':
        open(os.path.join(KOUT, 'fixture-' + f), 'wb').write(open(os.path.join(FIX, f), 'rb').read())
built = {
    'anyca-serials': krl([(1, any_ca((0x20, struct.pack('>QQ', 41, 42)), (0x21, struct.pack('>QQ', 100, 200))))]),
    'anyca-keyid': krl([(1, any_ca((0x23, sstr(b'fuzz') + sstr(b'other'))))]),
    'anyca-bitmap': krl([(1, any_ca((0x22, struct.pack('>Q', 40) + sstr(b'\x04'))))]),
    'extensions': krl([(255, sstr(b'x@example.com') + b'\x00' + sstr(b'v')),
                       (1, any_ca((0x39, sstr(b'y@example.com') + b'\x00' + sstr(b''))))]),
    'signature': krl([(2, sstr(b'\x00\x00\x00\x0bssh-ed25519' + sstr(b'\x01' * 32)))]) +
                 bytes([4]) + sstr(b'sigkey') + sstr(b'signature'),
    'empty': krl([]),
    'list': b'# comment\n\nssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOcg7aIyn8mYuBVRMoQ1pkSOdFXJsp5Y5uBoCc7dPUmI x\n',
}
for name, data in built.items():
    open(os.path.join(KOUT, 'built-' + name), 'wb').write(data)
