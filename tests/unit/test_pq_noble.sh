#!/bin/sh
# test_pq_noble.sh - ML-KEM-768 of the engine against an independent
# implementation, @noble/post-quantum (JavaScript, from npm), on a few
# thousand random key pairs: key generation from (d, z), encapsulation with
# m, decapsulation, and the implicit rejection of a changed ciphertext.
#
#   test_pq_noble.sh <pq_crosscheck binary> [pairs]
#
# npm installs the package into a temporary folder (removed afterwards);
# node writes one line per key pair (inputs, SHA-256 of ek, dk and c, the
# two shared secrets) and pq_crosscheck recomputes and compares them all.
# The newest noble wants node >= 20.19; an older node (Debian 12 has 18)
# gets 0.4.1, the last release without that limit.
set -eu
TOOL=$1
PAIRS=${2:-3000}
command -v node >/dev/null && command -v npm >/dev/null || {
    echo "FAIL: node and npm are needed (tests/deps.sh installs them)"
    exit 1
}
D=$(mktemp -d /tmp/sshtun-noble.XXXXXX)
trap 'rm -rf "$D"' EXIT INT TERM
ver=$(node -p 'const [a,b]=process.versions.node.split(".").map(Number); (a>20||(a==20&&b>=19))?"0.7.1":"0.4.1"')
cd "$D"
npm install --silent --no-audit --no-fund --no-package-lock "@noble/post-quantum@$ver" >npm.log 2>&1 || {
    echo "FAIL: npm install @noble/post-quantum@$ver"; cat npm.log; exit 1
}
cat > gen.mjs <<'JS'
import { ml_kem768 } from '@noble/post-quantum/ml-kem.js';
import { randomBytes, createHash } from 'node:crypto';
const n = Number(process.argv[2]);
const hex = (b) => Buffer.from(b).toString('hex');
const h = (b) => createHash('sha256').update(b).digest('hex');
const out = [];
for (let i = 0; i < n; i++) {
    const d = randomBytes(32), z = randomBytes(32), m = randomBytes(32);
    const { publicKey, secretKey } = ml_kem768.keygen(new Uint8Array(Buffer.concat([d, z])));
    const { cipherText, sharedSecret } = ml_kem768.encapsulate(publicKey, new Uint8Array(m));
    const bad = Uint8Array.from(cipherText);
    bad[i % bad.length] ^= 1;
    const rej = ml_kem768.decapsulate(bad, secretKey);
    out.push([hex(d), hex(z), hex(m), h(publicKey), h(secretKey), h(cipherText),
              hex(sharedSecret), hex(rej)].join(' '));
}
process.stdout.write(out.join('\n') + '\n');
JS
node gen.mjs "$PAIRS" > pairs.txt
echo "noble $ver, node $(node --version): $(wc -l < pairs.txt) key pairs"
"$TOOL" "$PAIRS" < pairs.txt
