#!/usr/bin/env python3
"""Seed corpus of fuzz_cert from the certificate fixtures (ssh-keygen -s).

Run by hand after tests/unit/data/certs/gen.sh:
    python3 tests/fuzz/gen_cert_corpus.py
Writes tests/fuzz/corpus/cert/: for every fixture certificate, mode 0 (the
whole blob) and mode 1 (the blob up to its reserved field; the target signs
it again with its own CA key), plus the public line itself in mode 0.
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
