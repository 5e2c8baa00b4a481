/*
 * test_key.c - keys, signatures, fingerprints, key files, bcrypt_pbkdf.
 *
 * The keys, public lines, fingerprints and SSHSIG signatures below are
 * THROWAWAY TEST VECTORS generated for this test with OpenSSH 9.2p1
 * (ssh-keygen -t ... -N '' / -N test-pass [-m PEM|PKCS8] [-Z cipher],
 * ssh-keygen -lf, ssh-keygen -Y sign -n file) and OpenSSL 3.0 (the
 * secp256k1 and 768-bit RSA keys, which we must refuse).  They protect
 * nothing; never use them for anything else.
 *
 * What is proved against an independent implementation:
 *  - parsing: fingerprints equal what ssh-keygen -l printed;
 *  - verification: signatures made by ssh-keygen -Y sign (SSHSIG,
 *    OpenSSH PROTOCOL.sshsig) for Ed25519, each ECDSA curve and
 *    rsa-sha2-512 verify with ssh_key_verify;
 *  - bcrypt_pbkdf: keys encrypted by ssh-keygen (aes256-ctr, aes256-cbc,
 *    aes256-gcm@openssh.com) decrypt, and OpenBSD's published
 *    bcrypt_pbkdf vectors (regress/lib/libutil/bcrypt_pbkdf) match;
 *  - Blowfish: the pi constants' well-known words and the classic
 *    Blowfish ECB vectors (Eric Young's set) match.
 */
#include "util.h"

#include "bcrypt_pbkdf.h"
#include "key_int.h"

#include "sshtun/buf.h"
#include "sshtun/err.h"
#include "sshtun/key.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

/* ---- test vectors (throwaway, see above) ------------------------------- */

static const char KEY_ED25519[] =
    "-----BEGIN OPENSSH PRIVATE KEY-----\n"
    "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n"
    "QyNTUxOQAAACDnIO2iMp/JmLgVUTKENaZEjnRVybKeWObgaAnO3T1JiAAAAJAnV8aRJ1fG\n"
    "kQAAAAtzc2gtZWQyNTUxOQAAACDnIO2iMp/JmLgVUTKENaZEjnRVybKeWObgaAnO3T1JiA\n"
    "AAAEBPNGGtugrw3qUoidTKKG1qShaQGOjK8RaDwZ2uxBHo4ecg7aIyn8mYuBVRMoQ1pkSO\n"
    "dFXJsp5Y5uBoCc7dPUmIAAAADHRlc3QtZWQyNTUxOQE=\n"
    "-----END OPENSSH PRIVATE KEY-----\n";
static const char PUB_ED25519[] =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOcg7aIyn8mYuBVRMoQ1pkSOdFXJsp5Y5uBoCc7dPUmI"
    " test-ed25519";
static const char FP_ED25519[] = "SHA256:eOFOar3x6/DqNkdBfFqlRjVgtLzUcrMMLOlsaJ7IqhA";

static const char KEY_P256[] =
    "-----BEGIN OPENSSH PRIVATE KEY-----\n"
    "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAaAAAABNlY2RzYS\n"
    "1zaGEyLW5pc3RwMjU2AAAACG5pc3RwMjU2AAAAQQS69YJI5iPiIFJhZlHPaeOhSBSYn+4O\n"
    "uaMOXUsE9MkzpLif9XmvG8HmNX0MSq1IWWt6wUiVq9CDdB6UZRzDXsNVAAAAqHX7eOx1+3\n"
    "jsAAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBLr1gkjmI+IgUmFm\n"
    "Uc9p46FIFJif7g65ow5dSwT0yTOkuJ/1ea8bweY1fQxKrUhZa3rBSJWr0IN0HpRlHMNew1\n"
    "UAAAAgMP9sicgfGz9z+hV7KmGqFcfoYAQbOa982oOBsVRs9/AAAAAJdGVzdC1wMjU2AQID\n"
    "BAUGBw==\n"
    "-----END OPENSSH PRIVATE KEY-----\n";
static const char PUB_P256[] =
    "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBLr1gkjm"
    "I+IgUmFmUc9p46FIFJif7g65ow5dSwT0yTOkuJ/1ea8bweY1fQxKrUhZa3rBSJWr0IN0HpRlHMNew1U="
    " test-p256";
static const char FP_P256[] = "SHA256:v347A0Xn11vSUDNHthYNUUterHDmgRfvGsElVAr/Rtc";

static const char KEY_P384[] =
    "-----BEGIN OPENSSH PRIVATE KEY-----\n"
    "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAiAAAABNlY2RzYS\n"
    "1zaGEyLW5pc3RwMzg0AAAACG5pc3RwMzg0AAAAYQTfwOGN7itYGZyJYSEouJDqP4M7M7ED\n"
    "HgY0CIwtEUSEs+ErwxhZI+BIJboGrovrWLabC7R6kMXLYS6oWmAsIzPMirE+N7JWCcNOeS\n"
    "GqyUD1wAy7X7toxkdsC49x+nFZX5EAAADYhdTwjIXU8IwAAAATZWNkc2Etc2hhMi1uaXN0\n"
    "cDM4NAAAAAhuaXN0cDM4NAAAAGEE38Dhje4rWBmciWEhKLiQ6j+DOzOxAx4GNAiMLRFEhL\n"
    "PhK8MYWSPgSCW6Bq6L61i2mwu0epDFy2EuqFpgLCMzzIqxPjeyVgnDTnkhqslA9cAMu1+7\n"
    "aMZHbAuPcfpxWV+RAAAAMQDCd7D32a/XhiwiD6aZBNS/KndqYjybZcaSMRXJ2lrKudWQ0s\n"
    "cEELXIoJSKM6gRKKAAAAAJdGVzdC1wMzg0AQIDBAUG\n"
    "-----END OPENSSH PRIVATE KEY-----\n";
static const char PUB_P384[] =
    "ecdsa-sha2-nistp384 AAAAE2VjZHNhLXNoYTItbmlzdHAzODQAAAAIbmlzdHAzODQAAABhBN/A4Y3u"
    "K1gZnIlhISi4kOo/gzszsQMeBjQIjC0RRISz4SvDGFkj4Eglugaui+tYtpsLtHqQxcthLqhaYCwjM8yK"
    "sT43slYJw055IarJQPXADLtfu2jGR2wLj3H6cVlfkQ== test-p384";
static const char FP_P384[] = "SHA256:U8UKDIp8ToPXwHfubG7qSMIj0Ug/6NmpULFnN/bgw14";

static const char KEY_P521[] =
    "-----BEGIN OPENSSH PRIVATE KEY-----\n"
    "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAArAAAABNlY2RzYS\n"
    "1zaGEyLW5pc3RwNTIxAAAACG5pc3RwNTIxAAAAhQQA23l0WXAVB2lpAf4H4BtYaSx1bP7F\n"
    "sC0xnVTLxGtAWbDkJDfIaQBDXUiXrdcNxtQiMSVcdQTeqfRygcnxS6sgTGsBcPXoM/JNu9\n"
    "qVnJLmW5xyP77kubQtBc6nl8154mVJz2yU5bq509BdJGP1c2F60Ia/D+gllqHCgWO5CQXd\n"
    "P8HZObMAAAEI2oHlpNqB5aQAAAATZWNkc2Etc2hhMi1uaXN0cDUyMQAAAAhuaXN0cDUyMQ\n"
    "AAAIUEANt5dFlwFQdpaQH+B+AbWGksdWz+xbAtMZ1Uy8RrQFmw5CQ3yGkAQ11Il63XDcbU\n"
    "IjElXHUE3qn0coHJ8UurIExrAXD16DPyTbvalZyS5luccj++5Lm0LQXOp5fNeeJlSc9slO\n"
    "W6udPQXSRj9XNhetCGvw/oJZahwoFjuQkF3T/B2TmzAAAAQgD/0oGPA0GHVAfmU7O8/YEN\n"
    "tyXFFyzyjyLr3C3lYySbsuLrIWgVwPd4wEVq4Bc3nK3Y/xcmzw+8hia3uWAz4JFalwAAAA\n"
    "l0ZXN0LXA1MjEB\n"
    "-----END OPENSSH PRIVATE KEY-----\n";
static const char PUB_P521[] =
    "ecdsa-sha2-nistp521 AAAAE2VjZHNhLXNoYTItbmlzdHA1MjEAAAAIbmlzdHA1MjEAAACFBADbeXRZ"
    "cBUHaWkB/gfgG1hpLHVs/sWwLTGdVMvEa0BZsOQkN8hpAENdSJet1w3G1CIxJVx1BN6p9HKByfFLqyBM"
    "awFw9egz8k272pWckuZbnHI/vuS5tC0FzqeXzXniZUnPbJTlurnT0F0kY/VzYXrQhr8P6CWWocKBY7kJ"
    "Bd0/wdk5sw== test-p521";
static const char FP_P521[] = "SHA256:hPkTwzE0K36sIT1+kLkPy5Lu3cfeyeSSH5J5klqllIM";

static const char KEY_RSA[] =
    "-----BEGIN OPENSSH PRIVATE KEY-----\n"
    "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAABFwAAAAdzc2gtcn\n"
    "NhAAAAAwEAAQAAAQEAppq6IyREqh68z8chduV2XtQ55iQFrvoJIl6dJyFmklvx1xNt7HzT\n"
    "dx81C9pdYNL53s46gzEo6/2E+vgDeQEAqTUqXZ+kgMujUcCy2mOPDGGfAcLzhKOQXumFK2\n"
    "BAbGIz4rl/WC0GZcOXA76+QO+KZwL2Zo8JJ/Gl6FXPfkOUTvWRMGK4ecqFhnqllh+XVdup\n"
    "Islfl/asXCaYODW9Z+HWNYIV8QS7kp95P2cdsIRO/+zQyYwPQq0dnl54Ae3GDyGEiCEY5J\n"
    "8ATYMC5LTItnkH/bOWqhGiie3eMK2036BqbhmK/rSi3QVs5jL5gU2xqBOhOt66hIlEVa2A\n"
    "0tXbTXiFMwAAA8BMKw4uTCsOLgAAAAdzc2gtcnNhAAABAQCmmrojJESqHrzPxyF25XZe1D\n"
    "nmJAWu+gkiXp0nIWaSW/HXE23sfNN3HzUL2l1g0vnezjqDMSjr/YT6+AN5AQCpNSpdn6SA\n"
    "y6NRwLLaY48MYZ8BwvOEo5Be6YUrYEBsYjPiuX9YLQZlw5cDvr5A74pnAvZmjwkn8aXoVc\n"
    "9+Q5RO9ZEwYrh5yoWGeqWWH5dV26kiyV+X9qxcJpg4Nb1n4dY1ghXxBLuSn3k/Zx2whE7/\n"
    "7NDJjA9CrR2eXngB7cYPIYSIIRjknwBNgwLktMi2eQf9s5aqEaKJ7d4wrbTfoGpuGYr+tK\n"
    "LdBWzmMvmBTbGoE6E63rqEiURVrYDS1dtNeIUzAAAAAwEAAQAAAQApkLe4tb81zDZiBjXI\n"
    "ooXuMbeCPeF3HqVxwDYoAZLEGBFVjeDiW+AsO4px+xhJ5Ej3t+7sNTMW8Wigboj7Qu9Fx+\n"
    "BafE4/3c5Qwqk8iBMzzRUtDNTRdjc6HrudL0XTZIq6WXo2ZwFOGUaPZiK0M68NdTVBMBVi\n"
    "NE0mkmYSg8y4B/AKt1oGXWRHlpDNNZKPVMql1siD6q/91nC/JwgTVR68jMdc5EWhD/hPU1\n"
    "uW4905xVKzgHxvLAsv4eAj9W0xnPGcumj/ChRW+lPG8Izig7pnD1Xd35N0nGmUF3oYP/RX\n"
    "57JmPFsWtWk08qXWUdEWgf+hk1cZdM3hvP5kx11cWOLxAAAAgGoLF6mMY0GmGaqfL6lbiN\n"
    "eWTK7O/GBthZiTIYMTuKoQ8pDXiehtx4Mm1sV6mMInhDQH91w2CRczxozqX+N1AIHr3Ai6\n"
    "i8sWIhkBbqqCpvG71o3vrZKAkcGTLj+BHcEcc5BaGU64ECtCqZd/zi2RfYpOiYfjeF80ca\n"
    "4Oa1J5TpMqAAAAgQDUZE/r+YB6QWgWhXeaCDM3Lh2pV8monUsi6S84YbKWYO5jIKXDFoUT\n"
    "BVbxa1Dxiipir0/Fwu/Q4MkgBDNooXcoDzgqKSWbmNEBTXQwWGFGOv3Nj/eg1x7TOv3pA9\n"
    "WclEiCg0hdwkHtD4C0Qveti9jeiJIw2CoieNr+LJTm2UNnIwAAAIEAyM+/JcAjzKxjQb8V\n"
    "y7QUpq2+3NuVjNSDELP+QcmIuGMAL/MwqCi4W2s5PBp/MrDVKARAB7asJFK5KKWb+OjkT+\n"
    "ekziyiUpz+7tZeUqFUf+MTxpf0HIwdUSxsOb5nOVqmTuaNUxvWD+SqKdwh/0BjV2HUiChk\n"
    "b0ktud4RIt2nUrEAAAAIdGVzdC1yc2EBAgM=\n"
    "-----END OPENSSH PRIVATE KEY-----\n";
static const char PUB_RSA[] =
    "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQCmmrojJESqHrzPxyF25XZe1DnmJAWu+gkiXp0nIWaS"
    "W/HXE23sfNN3HzUL2l1g0vnezjqDMSjr/YT6+AN5AQCpNSpdn6SAy6NRwLLaY48MYZ8BwvOEo5Be6YUr"
    "YEBsYjPiuX9YLQZlw5cDvr5A74pnAvZmjwkn8aXoVc9+Q5RO9ZEwYrh5yoWGeqWWH5dV26kiyV+X9qxc"
    "Jpg4Nb1n4dY1ghXxBLuSn3k/Zx2whE7/7NDJjA9CrR2eXngB7cYPIYSIIRjknwBNgwLktMi2eQf9s5aq"
    "EaKJ7d4wrbTfoGpuGYr+tKLdBWzmMvmBTbGoE6E63rqEiURVrYDS1dtNeIUz test-rsa";
static const char FP_RSA[] = "SHA256:iXKeCaGkUL0yEhL4x9eMr0AwZGDgjfLkNgk/d74dkEg";

static const char KEY_RSA_PEM[] =
    "-----BEGIN RSA PRIVATE KEY-----\n"
    "MIIEowIBAAKCAQEAwUmJIJURWdyfWCRGpk3j5s72dOd3qbxj1DrWTibD4c5DRsyg\n"
    "5Q874oVo1N/0H2HEHXlO00Yi5T+XTpIDX2B2pT2uaBP0r0xhva2R4Wd6rizK5u3D\n"
    "0gv0IqPm5h/J4WZDqamV/FTCWPgCj13j4PjzmQ/ZRmcxhJf0dkA7CES2FFC0fza5\n"
    "r39Xg0PJ89XVyycXx+BpO9JEUlbWNyfgxpdS8GkemKurHhEtjTPAGe8ovRDsTBFk\n"
    "3TwcRzynwJFEryIhNL0j3IzINHCG2FbPX4a/SxD48b9t1Hcs1vyZexsMhoRp8gYe\n"
    "lZ52wLbms2fSdwxt5Q+wd2z5I6EJB1oM25JGaQIDAQABAoIBAA7TF4fetwp33+bQ\n"
    "PXTy42hn9kIoIKbtkpCMBLTQx1RR0Bolhq+a2AJ7Lfupw50GkBacn72XkwSXOIEn\n"
    "tMeDbAYncXF9Gla5moOERPyPRbsHJ3bHxK2fChYAES0UQhUeFVF1dtH4JEHTn8qk\n"
    "Ll6qaXCTZRw/vO4JA5BwQ7bSIk7zcWMekuHYmU2l8uw+0UIYYURPei7vxLEcIWKj\n"
    "J7WxFA8KSsbPjUwhs2xGB6xEhaQHSX91vdChn/pEmb1CsKBwwc4PBJZgsd8BGP9z\n"
    "XErrpr1JOtzizWS/7gnoMGH4yjmau0r4j61QelrEICesXpQlZ4u1SZQqMjOJsi4b\n"
    "KFu0xssCgYEA9WZw2n0mNN4bytYmI1dONx1eKAC6pywxs1uUP6HR77R2Ya/bNFIC\n"
    "vHrh5752nbYjA8ZWFU39vEzpK/l3LTlee1p4uPSBM7jfKaO4gXlk1vSaL+9BTwlt\n"
    "ZEn3QAZJKc0TIYECXpu+HOLLq7t+A5f4zjRkg4VBMoVwZPVXCWUPD4sCgYEAyaLY\n"
    "qjvFbjZ467ooHv0sTt54c3pMhg70mZzuPeoItFWS2I8pILdG65xRL49VTduD3tvK\n"
    "k2emCZsbvXwPYGkjtwaCUM9hdf2rl8xSIEBVHA94E4o9BHWptu/3Z8JtsjgICo0V\n"
    "pPBEpjLYhH8HkFqbwAZkeFMtxNlTNhjRtwyfQFsCgYEAzp5uLshovuKz69jbS65a\n"
    "wLUNbgkPH2pqfmWBMQKCzJzZf+6dVjQm8aNVSdZn8OpGGQuJt25vUXhAazIkUgOX\n"
    "tay7MJ9NmcryuxCKbRlU+lgA6pM8HdwGKwbMEzA3seZlUTRaVmYzcAbVDcdTlpsC\n"
    "djxO1R4BgxQvShH4MoTQZXkCgYALrEPCxycM1FZ3vxUnhhyUjEiI1uGrOR5r7ivU\n"
    "pcHPPsz7gH4vCK0wYqJIkJGtqjGeKzc1BWEVWUdn1tDFEhEhPV059Gd9/yt55Dg0\n"
    "6cSDlVmsN+qEYZNrpcS62wSitp+wjK5eGBLBVFw4f2oer0ApA7W5SYdyx+oLTbCG\n"
    "WlK11QKBgEkfs7RG3FP0ukpi5KXJmTY03KDsVATMAHM8iTz2QskEsXP+8jcHk5Jl\n"
    "98HInwN2SJJSSGUYVuoPYHvkn1IFfcxhO6CMDD/fn9Q62+g+qUEGVenmLGdozStA\n"
    "DLplEeKJ4UWL85zSOLVaRtXIpXYtVA4Y/Pv51KN2peT8ynq1AP6C\n"
    "-----END RSA PRIVATE KEY-----\n";
static const char PUB_RSA_PEM[] =
    "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQDBSYkglRFZ3J9YJEamTePmzvZ053epvGPUOtZOJsPh"
    "zkNGzKDlDzvihWjU3/QfYcQdeU7TRiLlP5dOkgNfYHalPa5oE/SvTGG9rZHhZ3quLMrm7cPSC/Qio+bm"
    "H8nhZkOpqZX8VMJY+AKPXePg+POZD9lGZzGEl/R2QDsIRLYUULR/Nrmvf1eDQ8nz1dXLJxfH4Gk70kRS"
    "VtY3J+DGl1LwaR6Yq6seES2NM8AZ7yi9EOxMEWTdPBxHPKfAkUSvIiE0vSPcjMg0cIbYVs9fhr9LEPjx"
    "v23UdyzW/Jl7GwyGhGnyBh6VnnbAtuazZ9J3DG3lD7B3bPkjoQkHWgzbkkZp test-rsa-pem";
static const char FP_RSA_PEM[] = "SHA256:e+CNTS6s4c0YlJM4yMxHeAFnyjGUPTPiGRe1gkhEFEY";

static const char KEY_P256_PEM[] =
    "-----BEGIN EC PRIVATE KEY-----\n"
    "MHcCAQEEIEItWFCWJpI+E0i2iLqNYBUlBv4Ypnimzl8N5rdfseY/oAoGCCqGSM49\n"
    "AwEHoUQDQgAEqB4ki6aaz5w8aenOlhAWvaPSVFjNS31ZZYxNuybFdgFM0Ukd1RPd\n"
    "rvYe1UcvHnDI+8GBKJ/8q51nSb65BnlJYQ==\n"
    "-----END EC PRIVATE KEY-----\n";
static const char PUB_P256_PEM[] =
    "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBKgeJIum"
    "ms+cPGnpzpYQFr2j0lRYzUt9WWWMTbsmxXYBTNFJHdUT3a72HtVHLx5wyPvBgSif/KudZ0m+uQZ5SWE="
    " test-p256-pem";
static const char FP_P256_PEM[] = "SHA256:jS3kCJCgSTVOwBSaCy1BGxfG+zyV/DvYfXTkqob6RqI";

static const char KEY_RSA_PKCS8[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIIEvAIBADANBgkqhkiG9w0BAQEFAASCBKYwggSiAgEAAoIBAQC5heQ4R4UoLiwC\n"
    "88SrQ5OiSeYIBmWEtTLmq0NHU5DJFhZ7ZwhbWEd04sS55Wd+mp4b+rqUp2ZI8spD\n"
    "17/FGQLSU/H0o9YxZ4a/x5YY6dybNisB00snAxmuDxKgBPk1CU4G1wur9oKEbF+4\n"
    "wlqibYpb5tARjzuq/FCOdQLoBBSB9cYMNE4eMdfS5B0ZmGOTDfNwXzsmenpCG77J\n"
    "Avo0khfUmx1GeGt0eEIMjoEjlWQ2d7qLaRwtZBBH39064izCRZqmym55u9lpYqgJ\n"
    "9bIR/CSaiW4t1SIxhWicOXqr5gS4+Juw5nERzKpZ/5E5TJtYKKgkJw872u0v1BTf\n"
    "Iyr4VtVVAgMBAAECggEAE9LAAAN5sZa9Z9NZlbMyzd8iOoP0dP784V42DM5buiDS\n"
    "ENLW4cEdDDBENQN+Ji5Ulp4ZMakcFM9cgsNFim88Y0efot70FB4BF/I2POiVhJV/\n"
    "zZd2Ku+kiXoIKMZfRSYpYDG6MuBe3HzNUutGzp7wbxbKmhW5RRvmFP1hF3QtfMqc\n"
    "p+hyDc6gp3KFHG0oa1TdXeDz4pUw8EQEYDkZc+lRfvB24j4FfZbfgJBzZv+o5CPD\n"
    "g8XX+WaUMWTF5mzO+4KXdj8nRPkLKzlceFEJRG+eiyT87pRjWatd6jxDtYkQwcC6\n"
    "Iz19s4da4lSfVNa48OU7cCMGq4frAsstV4+8KsZaQQKBgQDxgN+ZyAHMXgVr7M+/\n"
    "Jh1oH/UfbReU8hS0Qe+y3RU4rS2HP46DIDudvxN0Dte4daxq5kUw6Evdealfbjx2\n"
    "bihZmdb13Ngd8sS/kUIwyULl5YsKLGI2qyevojzNYl8qJVMgKSBTKQae4gLQzPPW\n"
    "6uL6j2r24/mN1pDry8DSlMUQLwKBgQDEqMfDtLmOpX9H7YeJ/R/MuZEJ2jMxiuxa\n"
    "5YjiQoY6S20tngigJ4aknZ3Oas6jOvhD3br73slSfVxwhZP3iRboA72N6LkHJubv\n"
    "0bNAjD/c06ufJapqt++s4NpvzggWCb76s/LtIO+h1DpNbtrlSzf4DzvxmKnCyI+V\n"
    "xU6EQ4BtuwKBgFJKImapAwvbAafrskIkv6JqOUDzEDT9Y9akHQPqVz/PqpLKMko1\n"
    "4np20C8cm57L4esu+WaX0LnvqanNyyZjlLYrOFbgYHeb8DSCT3aGLZheZckapICS\n"
    "Q1ySQHuPSHP48eEkglIzyYC77E+vdmrF8H+F/OGRfsg403q1G8flT1ybAoGAHA0H\n"
    "EX9ByHsKwLO81Y3pb0Y4zfL1wmdSd1SuRbe/dak0lYEpMc7xgaGJ1NufReEvcF68\n"
    "QRjyFnYTLWmgRXqkbcu6yfccDU0bO7Hpo5ddtJ3sqPKycC50XXBlN/Vnad1SBGiO\n"
    "igxcofSnrEvXpUUpYpSptDhWXpZFBNPz8yG9u+kCgYA0qLFB9+cR3AqhpUd0LLcA\n"
    "g1vsYmOsL002G1CO5zDFwn9pqebKzBvtErSvLcpF+2cbDNjDqFpBRg5F87xQ/Vvt\n"
    "Ldcw7ayFXN/pf99B21yHXEP0T2D2bm/VuoawYXsS6ZfDJVd0TtAeLnCm5GPYyzDR\n"
    "xMJjaZfQ4hEo6E6fFvBodA==\n"
    "-----END PRIVATE KEY-----\n";
static const char PUB_RSA_PKCS8[] =
    "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC5heQ4R4UoLiwC88SrQ5OiSeYIBmWEtTLmq0NHU5DJ"
    "FhZ7ZwhbWEd04sS55Wd+mp4b+rqUp2ZI8spD17/FGQLSU/H0o9YxZ4a/x5YY6dybNisB00snAxmuDxKg"
    "BPk1CU4G1wur9oKEbF+4wlqibYpb5tARjzuq/FCOdQLoBBSB9cYMNE4eMdfS5B0ZmGOTDfNwXzsmenpC"
    "G77JAvo0khfUmx1GeGt0eEIMjoEjlWQ2d7qLaRwtZBBH39064izCRZqmym55u9lpYqgJ9bIR/CSaiW4t"
    "1SIxhWicOXqr5gS4+Juw5nERzKpZ/5E5TJtYKKgkJw872u0v1BTfIyr4VtVV test-rsa-pkcs8";
static const char FP_RSA_PKCS8[] = "SHA256:CNtGiSOdST7GT1JIOZOnZuD6qUiEnz5qThbpqUQjZMI";

static const char KEY_P384_PKCS8[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIG2AgEAMBAGByqGSM49AgEGBSuBBAAiBIGeMIGbAgEBBDBN8x2wKr5mFpLRCKg+\n"
    "Hl3MVbRqBKjQl3poEhWbM9jz8i1rVSc5XUKj/dTUO2RcPkWhZANiAASFJnGHsWRZ\n"
    "SWfwhEo+DxUtj9zxcbZVnJQ+HiXcvaR148PNMBndrcSJLW03DEdXEZKdZK0B3gSW\n"
    "lIDZYEL+KwSCoYA1HHk4FNvzZ5MxAYbONKtV+tkGcfGQbv5oeZOMAYs=\n"
    "-----END PRIVATE KEY-----\n";
static const char PUB_P384_PKCS8[] =
    "ecdsa-sha2-nistp384 AAAAE2VjZHNhLXNoYTItbmlzdHAzODQAAAAIbmlzdHAzODQAAABhBIUmcYex"
    "ZFlJZ/CESj4PFS2P3PFxtlWclD4eJdy9pHXjw80wGd2txIktbTcMR1cRkp1krQHeBJaUgNlgQv4rBIKh"
    "gDUceTgU2/NnkzEBhs40q1X62QZx8ZBu/mh5k4wBiw== test-p384-pkcs8";
static const char FP_P384_PKCS8[] = "SHA256:wxfH5vPWZHxGn5J3vmTEGj25FTrysDwlNa4ORRwt5As";

static const char KEY_ENC_CTR[] =
    "-----BEGIN OPENSSH PRIVATE KEY-----\n"
    "b3BlbnNzaC1rZXktdjEAAAAACmFlczI1Ni1jdHIAAAAGYmNyeXB0AAAAGAAAABC58kwr8k\n"
    "45onhybwWsNk/IAAAAEAAAAAEAAAAzAAAAC3NzaC1lZDI1NTE5AAAAIGBFYfZ3+qAblk5W\n"
    "PchgqjFMctTjdTKwTbknWnpdGN8sAAAAkCqUkkS5Jt63Vo7LTElhgFrhFzGgzKeS8ODYFb\n"
    "/cigqIbFYuh2MZKU/zSqD7oz/nhDPXpXAbK5krAkFE44wIBMO4LmvXbFyVuacHa7aCrPJY\n"
    "cEZIXdq3oUZkU64BZ2447hAuwmvykCd64KKXR8aZMTO+r2sPybE5Lohyyzf2kjQG0zR1S+\n"
    "ey4E9bIGlzyepvsQ==\n"
    "-----END OPENSSH PRIVATE KEY-----\n";
static const char PUB_ENC_CTR[] =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGBFYfZ3+qAblk5WPchgqjFMctTjdTKwTbknWnpdGN8s"
    " test-enc-ctr";
static const char FP_ENC_CTR[] = "SHA256:5em84qT2DznmS9jAe5UiMAYqKmP6XimMx418oF1MFTo";

static const char KEY_ENC_GCM[] =
    "-----BEGIN OPENSSH PRIVATE KEY-----\n"
    "b3BlbnNzaC1rZXktdjEAAAAAFmFlczI1Ni1nY21Ab3BlbnNzaC5jb20AAAAGYmNyeXB0AA\n"
    "AAGAAAABCWUyjAWNkvtoaCcZJaoSpRAAAAEAAAAAEAAABoAAAAE2VjZHNhLXNoYTItbmlz\n"
    "dHAyNTYAAAAIbmlzdHAyNTYAAABBBPdPUwKTJQ6zuF0dQiNjAaZnneZdozFnnDwzksboDD\n"
    "zcuHLElEVaM2TdkhsXRiF0Ajym45NqPprO26iU/7LQdn0AAACwzV0tfVy8GZ1j6aLK5dTi\n"
    "xkWx+cmwtd7RWDOVQ8peecdhKWsXkxR0iK4Ubj8naGr1aeK4hfzQ697wTdFGuTGH0Rj31t\n"
    "MAetFKwTTpQHAsd8aQGTMvYFVToHUmngV+nnxGd3eNR1FzJcmxX7DbW0pkdgF0VyWlufSj\n"
    "ObIBNB7bzNrQPB0luEqjF8ck7qsOlgPQmkVkQXtQRxamWeDdp0z+f/S9wolOD8WXHAVUac\n"
    "7mNTmlg+x9MfqhleUz7VoHaplr\n"
    "-----END OPENSSH PRIVATE KEY-----\n";
static const char PUB_ENC_GCM[] =
    "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBPdPUwKT"
    "JQ6zuF0dQiNjAaZnneZdozFnnDwzksboDDzcuHLElEVaM2TdkhsXRiF0Ajym45NqPprO26iU/7LQdn0="
    " test-enc-gcm";
static const char FP_ENC_GCM[] = "SHA256:R/tjyBi8GlcsXxc4wakOf3Rd3LYettKtkoyFXPzllyE";

static const char KEY_ENC_CBC[] =
    "-----BEGIN OPENSSH PRIVATE KEY-----\n"
    "b3BlbnNzaC1rZXktdjEAAAAACmFlczI1Ni1jYmMAAAAGYmNyeXB0AAAAGAAAABBG1ELT2t\n"
    "TFtWUMgtXA6NgIAAAAEAAAAAEAAAAzAAAAC3NzaC1lZDI1NTE5AAAAILYtGqqBd7KmEXtd\n"
    "Z5uWZeZVsBzxi3qg9fCDb0L5lIf7AAAAkGHq8mEJhNc3X46Oqa0B4KSE0SWQ+GlgRWyZGG\n"
    "s4fIkXaQ04PySOF5EKsYns6r+HnOVh6tdcehi5movks9MsG1v4ZRtQApkVMuFIg4Onomzo\n"
    "ZAPuJ/ydpFCrFnlf30kj8FCIdyEvQgWIaamPFOBeeUNANJJq1EPhd/VnRqg+LdBLvcBS4x\n"
    "H+bnm4PgPQWFHp5w==\n"
    "-----END OPENSSH PRIVATE KEY-----\n";
static const char PUB_ENC_CBC[] =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILYtGqqBd7KmEXtdZ5uWZeZVsBzxi3qg9fCDb0L5lIf7"
    " test-enc-cbc";
static const char FP_ENC_CBC[] = "SHA256:ItY61cMYGXDLJhzcZjpbskiTOTIqk37jhbDTCiivOt8";

static const char KEY_RSA_PEM_ENC[] =
    "-----BEGIN RSA PRIVATE KEY-----\n"
    "Proc-Type: 4,ENCRYPTED\n"
    "DEK-Info: AES-128-CBC,921701A66F205EC9F83E4A3242A73042\n"
    "\n"
    "SLFKf+HCfo9wWxr0/r6AqwiUzxCRk+liIU6kG50XMDNkFeqGWiiHQzpEC5er1AeQ\n"
    "FM5XLbouiWI49HJuODlhVzTjVyme337GgFrZYZ04mV8ab7dLBv8FtcR0+QT9f8oJ\n"
    "fRrHijhm2/XIfQa6S11LOjz00VAZyPzxRS+6jBJ/SxnSx1RTGphf8MFB6IwEocuA\n"
    "QGVgAgLQlZW6mjfZHJ+n4wut6KcouW4v1L6c3+SuqIrGe5bQtabGh63jhT3pgU+q\n"
    "SBrZGxLMidTEPtaZV0YOwsM8wx6iqCjTlYP5XWKZB7FhgU9wKQ3eBT/pX3nxANU/\n"
    "02csg07/F82bjliZQky2u3S28uJmWw2RImVQkd+GpN0u1WHzR/EVdTMWcWD/3J+1\n"
    "52Zxh6wMYg/BP35WonIfHaBIdBkzPY3fIWvKEGhwyNQrP+g5oM5VrB7jKVpE5lIq\n"
    "DozAlhpaKzfsSoQh1T5H4o2/fzuARHmB8K4/nQyfSKSQA5a7Ii38SwgM4B+hZUpm\n"
    "ifcgW+H9otEezH4A8xRB33SbKcgcyGC7UTf5KHVuets+V5HCj8OX6cxDRlRqdQKi\n"
    "HD90XUd8iqQyodrq5LW8BYXlyvgRtcEn5jPuN4EA0lOps9KNcxkD5cgNNE49dkEG\n"
    "54ERZ2i7wswwMNSFktlXlVypv9lcRgq77BytlYH4xPiVWxW5G+47DgT+sz7NUzP5\n"
    "xaENUhchLwoDTA3yuWSlAayOAiZsCsKrAINC8RVm4GF/z2P9TGN7/BPwtpeEJD8P\n"
    "4vu9l2nBaIejh9kdK7DjSg/Bdwo/MZ+SoGqQIcDrg1ZgroN46a7QzQZZJqqcWjGB\n"
    "OG11VoggHqnOPa0ip0nGjMmy/+P3bv0EJdAsdmN2BYA27VEJl3mJquTG9eUnrTMD\n"
    "+n54Iu3Ahnp4WQXz04OWN5HeXkjQxoKdOSFIz2N2mbKUeZrufafqQ+3GkkRn32Et\n"
    "3ZOs1kZc+TczDvIFbMVkobUlic5m3S8kTRQVKzBTmEQ6dBzV5Mr9QOy/Sp0MqQx4\n"
    "XwrjixKYjQQDDOtaAyo7EEEhwvUIyJmbtRaQXSxS1FayiV2iuDqnRuAW8gm6cuBJ\n"
    "pjjpg5uRE2FMS8REQ+poquEm8Gm7+VZiQXpwJysuhH2tm29bZYq6ltWw3QBwLgPR\n"
    "S+guMemhaONWxXomCZRPdRnEfI0yh2sMPp8uyZcNHn6kAuHFrxBZjoLhXJbP/7Ps\n"
    "fOsQ4UTGMDci+56ufRd0oEvJweKXTGSREFscZ6U3K+R1NL/jgXGZD0P8SBCIkf05\n"
    "0/qoEtwGTmPZoci9hnFbnrGesOu7gEhPvxJgvHA7QtFZ4c6TQ6lLVG8se8SxIhCL\n"
    "eaY95AgB1AWemZGvEaTAxKpLvSH+PnFWc0Goig6nvvxRyJvBS5C1nfSuogbN5FNw\n"
    "OtZubfd0ZKENFVA7LxBGWG0Vmox86GsOdM78ynx/ZzxMu5xYF4KnOuBMHt9LIHas\n"
    "eiUI6Wc9gMX5TPOAPKwincASXOexmpRBXuDVo0M/VnM25mMO7WR/DQLQrADvFdtC\n"
    "r3OTKhiTnEPsl4qmIZfZYeiEAUMuAvZjUZJaccY4BFWJYjADD+WVS5kReaCxeANZ\n"
    "-----END RSA PRIVATE KEY-----\n";
static const char PUB_RSA_PEM_ENC[] =
    "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQDJWgLeHzjkTPJwoX6olmWDdV/wOvKz63HhyTS1gKXL"
    "ZCLcC8F/860gYyCUzQMB/i2lTjz7oIfVA1+ADLa7eyUdAgLpRzgj6C8Nuo6O3rY7CQ3COE8v9zUkSdOQ"
    "qKsgrr8hID3EouEcSlCNu3P5j+KbIPiWSgScMsKMxgTQQWqsAbitFwOlswsnDXClCu3pdFTob2/2ycEQ"
    "0s4dRVWyHtMOvgzc9fV0itBJk+XbK7G2T1pu0Ci+N8dWGc6MuPLQpzdAoc4ifB6zKdrZa7eGVh/JI7i5"
    "6GksdwrF5F04kfFv4pEYOFKOllJEMEJPYNzSolAzzg4zxBtHvtD07o+gebd9 test-rsa-enc-pem";
static const char FP_RSA_PEM_ENC[] = "SHA256:OrPiKbvgaraDSIxmgyC/YeSkSGzWw/K3DSuOUCOvSiQ";

static const char SSHSIG_ED25519[] =
    "-----BEGIN SSH SIGNATURE-----\n"
    "U1NIU0lHAAAAAQAAADMAAAALc3NoLWVkMjU1MTkAAAAg5yDtojKfyZi4FVEyhDWmRI50Vc\n"
    "mynljm4GgJzt09SYgAAAAEZmlsZQAAAAAAAAAGc2hhNTEyAAAAUwAAAAtzc2gtZWQyNTUx\n"
    "OQAAAEAzGyXm965/MhCigyNxgBbX1CDYzhZiwTUDmpgTaWO7nnjmRs7I24CToyyD9Q9cgB\n"
    "/UalxZnxMFHwgyo3/ienkF\n"
    "-----END SSH SIGNATURE-----\n";

static const char SSHSIG_P256[] =
    "-----BEGIN SSH SIGNATURE-----\n"
    "U1NIU0lHAAAAAQAAAGgAAAATZWNkc2Etc2hhMi1uaXN0cDI1NgAAAAhuaXN0cDI1NgAAAE\n"
    "EEuvWCSOYj4iBSYWZRz2njoUgUmJ/uDrmjDl1LBPTJM6S4n/V5rxvB5jV9DEqtSFlresFI\n"
    "lavQg3QelGUcw17DVQAAAARmaWxlAAAAAAAAAAZzaGE1MTIAAABkAAAAE2VjZHNhLXNoYT\n"
    "ItbmlzdHAyNTYAAABJAAAAIQD2TesrCiYw6+GZ2LdwtnKmJqeg+jMs2m92nzHeEfBtSQAA\n"
    "ACAreudB8ARZGGtLGPgkOChTbrwOMU+F8WQSsTcftYmR0Q==\n"
    "-----END SSH SIGNATURE-----\n";

static const char SSHSIG_P384[] =
    "-----BEGIN SSH SIGNATURE-----\n"
    "U1NIU0lHAAAAAQAAAIgAAAATZWNkc2Etc2hhMi1uaXN0cDM4NAAAAAhuaXN0cDM4NAAAAG\n"
    "EE38Dhje4rWBmciWEhKLiQ6j+DOzOxAx4GNAiMLRFEhLPhK8MYWSPgSCW6Bq6L61i2mwu0\n"
    "epDFy2EuqFpgLCMzzIqxPjeyVgnDTnkhqslA9cAMu1+7aMZHbAuPcfpxWV+RAAAABGZpbG\n"
    "UAAAAAAAAABnNoYTUxMgAAAIMAAAATZWNkc2Etc2hhMi1uaXN0cDM4NAAAAGgAAAAwM2Os\n"
    "owR6hlNJjDWZ11ntP3dBUlS26XIPoEVtCVRhYPbdtsfxJrc/1v0PyRb04cL7AAAAMBY0Qe\n"
    "Wl5tj8mVSvuPrTiePoiFgrmrLYXfNtIp0pzOZRKjlxrU0DhQB1qOpy+TBX3g==\n"
    "-----END SSH SIGNATURE-----\n";

static const char SSHSIG_P521[] =
    "-----BEGIN SSH SIGNATURE-----\n"
    "U1NIU0lHAAAAAQAAAKwAAAATZWNkc2Etc2hhMi1uaXN0cDUyMQAAAAhuaXN0cDUyMQAAAI\n"
    "UEANt5dFlwFQdpaQH+B+AbWGksdWz+xbAtMZ1Uy8RrQFmw5CQ3yGkAQ11Il63XDcbUIjEl\n"
    "XHUE3qn0coHJ8UurIExrAXD16DPyTbvalZyS5luccj++5Lm0LQXOp5fNeeJlSc9slOW6ud\n"
    "PQXSRj9XNhetCGvw/oJZahwoFjuQkF3T/B2TmzAAAABGZpbGUAAAAAAAAABnNoYTUxMgAA\n"
    "AKYAAAATZWNkc2Etc2hhMi1uaXN0cDUyMQAAAIsAAABCAc4ciQTSWDlZtsK2CfyOrNVNfv\n"
    "rtJ62AnEm1nYUakhzkd8rh+eTf2zhQpD4cLcG3A5kpfv8ztuelR3t3Xb2a4NWUAAAAQTGZ\n"
    "l9kKGeDqZxxc1iy0mMIglrjWsbUwo990r7/+XRx0URGLdU2S1xdUY7LPYfzn/PJUPwbUNz\n"
    "DnGznph8rqYKVq\n"
    "-----END SSH SIGNATURE-----\n";

static const char SSHSIG_RSA[] =
    "-----BEGIN SSH SIGNATURE-----\n"
    "U1NIU0lHAAAAAQAAARcAAAAHc3NoLXJzYQAAAAMBAAEAAAEBAKaauiMkRKoevM/HIXbldl\n"
    "7UOeYkBa76CSJenSchZpJb8dcTbex803cfNQvaXWDS+d7OOoMxKOv9hPr4A3kBAKk1Kl2f\n"
    "pIDLo1HAstpjjwxhnwHC84SjkF7phStgQGxiM+K5f1gtBmXDlwO+vkDvimcC9maPCSfxpe\n"
    "hVz35DlE71kTBiuHnKhYZ6pZYfl1XbqSLJX5f2rFwmmDg1vWfh1jWCFfEEu5KfeT9nHbCE\n"
    "Tv/s0MmMD0KtHZ5eeAHtxg8hhIghGOSfAE2DAuS0yLZ5B/2zlqoRoont3jCttN+gam4Ziv\n"
    "60ot0FbOYy+YFNsagToTreuoSJRFWtgNLV2014hTMAAAAEZmlsZQAAAAAAAAAGc2hhNTEy\n"
    "AAABFAAAAAxyc2Etc2hhMi01MTIAAAEAfqfdQs7AzUN6cC7lJNswQbGeB2f2ZJDquh0BHh\n"
    "dV/JYXgvfcsp1PL+dCASY8rN7AzR+NVJXt7YcMLkebkK6uGTzgzMHJdCgzNW7QE8QTTyD4\n"
    "/AKDa2FvsT9Jd6u3ef+GFLvlB2t8Vxk3kVSTDS5tOxKa1sITKYzi5cxb901iJTQlH03xBy\n"
    "As99xGkHIqlTwxAMx3IhRNSX1GNLjVBzHO8x7Jfsjp/iBystcibN3hM2/nmJUyX9rD3yNZ\n"
    "rLTL8e38e2yNQ11/SomUaDsGgvM3VtUe7zJcJrCo4yf/4KN65PS/n4U7aJBGfwoPjeV2tR\n"
    "8ArbIca0rEXPquQFlwX4NuNg==\n"
    "-----END SSH SIGNATURE-----\n";

static const char KEY_SECP256K1_PEM[] =
    "-----BEGIN EC PRIVATE KEY-----\n"
    "MHQCAQEEIMM354vC/MuN/l/9eFgXjyt097godUq/q2OyqLKzXKfMoAcGBSuBBAAK\n"
    "oUQDQgAEs9wbMnF6iUptZwbfvduW4eGTLWVZ8RiBbAD718HAY5VD63KuzUPhFW09\n"
    "WMO5+2NcCLLLx6QsvQYT+C5m9MjbTA==\n"
    "-----END EC PRIVATE KEY-----\n";

static const char KEY_RSA768_PKCS8[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIIB5AIBADANBgkqhkiG9w0BAQEFAASCAc4wggHKAgEAAmEAtRRF8oia7qXGNNIR\n"
    "OBmaYXpXJf5cE7bTk3Wp6JODTFCCDBV21PyMkgkIJR4yLnG7vw39h7fYq15smju2\n"
    "Ck3vK5NieDXu/C9SXwsYKBNTTwmt/XF5YuoVVlctU9if3QMzAgMBAAECYFh7h5Jz\n"
    "3gEvUCMPYwqeuClZtqwCFswrUkeD/3p+WnI4BNQSyPZaUfYqI6i/kJXRTLIKXd/x\n"
    "6+8gWd3mtIuDCVOjLjkSFta+kZXZFM9BNzYnPC/3FgdWcv/AfCy6ATe2AQIxAN8Y\n"
    "0/9IDgHDgJ4J0HWHPwnKuuAys3A/eeKXQ8qIR6b+nJpk8FxqAEwxTJlTKo5wIQIx\n"
    "AM/JCTf8lUESwo7ldF5K1pPm8/uE/fRDbaajtViSF6834SxoYuwuJBUvDjiFeYOY\n"
    "0wIwPQFsDzWj5uWQCSdD4q+OFF5khaQ3ny0sZkLY3cwwU8DyD+IkPBEcbblZad/t\n"
    "FjAhAjEAunUS2rTEUuK8yHJLXJoXuB1V7+zF3z3q1dCuWU6wBkJExA7gRkSZiJDz\n"
    "V/Eeu+KVAjAX4cXapjXgzLaYpXk7jFZE42gIoh+dLBaYUiTkRyEeRVj4RW/zLFTH\n"
    "ybV/0zUkSyo=\n"
    "-----END PRIVATE KEY-----\n";

static const char SSHSIG_MESSAGE[] = "sshtun cross-implementation test message\n";

/* ---- helpers ----------------------------------------------------------- */

static const uint8_t MSG[] = "data to be signed";

static ssh_key *load_priv(const char *text, const char *pass, char **comment)
{
    ssh_key *k = NULL;
    int rv = ssh_key_parse_private((const uint8_t *)text, strlen(text), pass, &k, comment);
    assert_int_equal(rv, 0);
    assert_non_null(k);
    return k;
}

static ssh_key *load_pub(const char *line, char **comment)
{
    ssh_key *k = NULL;
    int rv = ssh_key_parse_public_line(line, strlen(line), &k, comment);
    assert_int_equal(rv, 0);
    assert_non_null(k);
    return k;
}

static int parse_priv_rv(const char *text, size_t len, const char *pass)
{
    ssh_key *k = NULL;
    char *cmt = NULL;
    int rv = ssh_key_parse_private((const uint8_t *)text, len, pass, &k, &cmt);
    if (rv == 0) {
        assert_non_null(k);
    } else {
        assert_null(k);
        assert_null(cmt);
    }
    ssh_key_free(k);
    free(cmt);
    return rv;
}

static void assert_fp(const ssh_key *k, const char *fp)
{
    char buf[SSH_KEY_FP_MAX];
    assert_int_equal(ssh_key_fingerprint(k, buf, sizeof(buf)), 0);
    assert_string_equal(buf, fp);
}

static void blob_of(const ssh_key *k, ssh_buf *b)
{
    ssh_buf_init(b, 0, 0);
    assert_int_equal(ssh_key_to_blob(k, b), 0);
}

/* Sign with `priv` and check every way verification must fail. */
static void sign_verify(const ssh_key *priv, const ssh_key *pub, const ssh_key *other,
                        const char *alg, unsigned flags)
{
    ssh_buf sig;
    char name[64];
    ssh_buf_init(&sig, 0, 0);
    assert_int_equal(ssh_key_sign(priv, alg, flags, MSG, sizeof(MSG), &sig), 0);
    const uint8_t *s = ssh_buf_ptr(&sig);
    size_t sl = ssh_buf_len(&sig);

    assert_int_equal(ssh_sig_alg(s, sl, name, sizeof(name)), 0);
    if (alg)
        assert_string_equal(name, alg);
    assert_true(ssh_key_alg_ok(pub, name));

    assert_int_equal(ssh_key_verify(pub, NULL, flags, s, sl, MSG, sizeof(MSG)), 0);
    assert_int_equal(ssh_key_verify(pub, name, flags, s, sl, MSG, sizeof(MSG)), 0);
    assert_int_equal(ssh_key_verify(priv, name, flags, s, sl, MSG, sizeof(MSG)), 0);

    /* Wrong data. */
    assert_int_equal(ssh_key_verify(pub, NULL, flags, s, sl, MSG, sizeof(MSG) - 1),
                     SSH_ERR_SIGNATURE);
    assert_int_equal(ssh_key_verify(pub, NULL, flags, s, sl, NULL, 0), SSH_ERR_SIGNATURE);
    /* Wrong key of the same type. */
    if (other)
        assert_int_equal(ssh_key_verify(other, NULL, flags, s, sl, MSG, sizeof(MSG)),
                         SSH_ERR_SIGNATURE);
    /* Wrong expected algorithm. */
    assert_int_equal(ssh_key_verify(pub, "ssh-ed25519-x", flags, s, sl, MSG, sizeof(MSG)),
                     SSH_ERR_KEY_ALG_MISMATCH);
    if (ssh_key_type(pub) == SSH_KEY_RSA) {
        const char *o = strcmp(name, "rsa-sha2-256") == 0 ? "rsa-sha2-512" : "rsa-sha2-256";
        assert_int_equal(ssh_key_verify(pub, o, flags, s, sl, MSG, sizeof(MSG)),
                         SSH_ERR_KEY_ALG_MISMATCH);
    }
    /* Tampered: flip a bit of the last byte (inside the signature). */
    uint8_t *t = malloc(sl + 1);
    assert_non_null(t);
    memcpy(t, s, sl);
    t[sl - 1] ^= 0x01;
    assert_int_not_equal(ssh_key_verify(pub, NULL, flags, t, sl, MSG, sizeof(MSG)), 0);
    t[sl - 1] ^= 0x01;
    /* Tampered in the middle of the signature bytes. */
    t[sl - 20] ^= 0x80;
    assert_int_not_equal(ssh_key_verify(pub, NULL, flags, t, sl, MSG, sizeof(MSG)), 0);
    t[sl - 20] ^= 0x80;
    /* Trailing byte after the blob. */
    t[sl] = 0;
    assert_int_equal(ssh_key_verify(pub, NULL, flags, t, sl + 1, MSG, sizeof(MSG)),
                     SSH_ERR_TRAILING);
    /* Every truncation. */
    for (size_t i = 0; i < sl; i++)
        assert_int_not_equal(ssh_key_verify(pub, NULL, flags, t, i, MSG, sizeof(MSG)), 0);
    free(t);
    ssh_buf_free(&sig);
}

static void sign_verify_all_algs(const ssh_key *priv, const ssh_key *pub, const ssh_key *other)
{
    switch (ssh_key_type(priv)) {
    case SSH_KEY_RSA: {
        ssh_buf sig;
        ssh_buf_init(&sig, 0, 0);
        sign_verify(priv, pub, other, NULL, 0);
        sign_verify(priv, pub, other, "rsa-sha2-256", 0);
        sign_verify(priv, pub, other, "rsa-sha2-512", 0);
        sign_verify(priv, pub, other, "ssh-rsa", SSH_KEY_ALLOW_SHA1);
        /* SHA-1 refused without the flag, both ways. */
        assert_int_equal(ssh_key_sign(priv, "ssh-rsa", 0, MSG, sizeof(MSG), &sig),
                         SSH_ERR_KEY_ALG_DISABLED);
        assert_int_equal(ssh_buf_len(&sig), 0);
        assert_int_equal(ssh_key_sign(priv, "ssh-rsa", SSH_KEY_ALLOW_SHA1, MSG, sizeof(MSG), &sig),
                         0);
        assert_int_equal(
            ssh_key_verify(pub, NULL, 0, ssh_buf_ptr(&sig), ssh_buf_len(&sig), MSG, sizeof(MSG)),
            SSH_ERR_KEY_ALG_DISABLED);
        assert_int_equal(ssh_key_verify(pub, "ssh-rsa", 0, ssh_buf_ptr(&sig), ssh_buf_len(&sig),
                                        MSG, sizeof(MSG)),
                         SSH_ERR_KEY_ALG_DISABLED);
        ssh_buf_free(&sig);
        break;
    }
    default:
        sign_verify(priv, pub, other, NULL, 0);
        sign_verify(priv, pub, other, ssh_key_sig_algs(priv, 0), 0);
        break;
    }
    /* An algorithm of another key type. */
    ssh_buf sig;
    ssh_buf_init(&sig, 0, 0);
    const char *foreign = ssh_key_type(priv) == SSH_KEY_ED25519 ? "rsa-sha2-256" : "ssh-ed25519";
    assert_int_equal(ssh_key_sign(priv, foreign, 0, MSG, sizeof(MSG), &sig),
                     SSH_ERR_KEY_ALG_MISMATCH);
    assert_int_equal(ssh_key_sign(priv, "no-such-alg", 0, MSG, sizeof(MSG), &sig),
                     SSH_ERR_KEY_TYPE);
    assert_int_equal(ssh_buf_len(&sig), 0);
    ssh_buf_free(&sig);
}

/* ---- Blowfish and bcrypt_pbkdf ----------------------------------------- */

static void test_blowfish_pi(void **state)
{
    (void)state;
    const uint32_t *pi = ssh_blf_pi_words();
    assert_non_null(pi);
    /* P-array: the first hex digits of pi's fraction, 243F6A88 85A308D3... */
    assert_int_equal(pi[0], 0x243F6A88u);
    assert_int_equal(pi[1], 0x85A308D3u);
    assert_int_equal(pi[2], 0x13198A2Eu);
    assert_int_equal(pi[3], 0x03707344u);
    assert_int_equal(pi[17], 0x8979FB1Bu);                   /* P18 */
    assert_int_equal(pi[18], 0xD1310BA6u);                   /* S1[0] */
    assert_int_equal(pi[19], 0x98DFB5ACu);                   /* S1[1] */
    assert_int_equal(pi[SSH_BLF_PI_WORDS - 1], 0x3AC372E6u); /* S4[255] */
    /* Second call gives the same table. */
    assert_ptr_equal(ssh_blf_pi_words(), pi);
}

static void blf_ecb(const char *keyhex, const char *pthex, const char *cthex)
{
    size_t kl, pl, cl;
    uint8_t *key = test_unhex(keyhex, &kl);
    uint8_t *pt = test_unhex(pthex, &pl);
    uint8_t *ct = test_unhex(cthex, &cl);
    assert_int_equal(pl, 8);
    assert_int_equal(cl, 8);
    ssh_blf_ctx c;
    assert_int_equal(ssh_blf_init(&c), 0);
    ssh_blf_expand0(&c, key, kl); /* the standard key schedule */
    uint32_t l = ssh_peek_u32(pt), r = ssh_peek_u32(pt + 4);
    ssh_blf_encipher(&c, &l, &r);
    assert_int_equal(l, ssh_peek_u32(ct));
    assert_int_equal(r, ssh_peek_u32(ct + 4));
    free(key);
    free(pt);
    free(ct);
}

static void test_blowfish_vectors(void **state)
{
    (void)state;
    /* Eric Young's Blowfish ECB test set (Schneier's reference vectors). */
    blf_ecb("0000000000000000", "0000000000000000", "4EF997456198DD78");
    blf_ecb("FFFFFFFFFFFFFFFF", "FFFFFFFFFFFFFFFF", "51866FD5B85ECB8A");
    blf_ecb("3000000000000000", "1000000000000001", "7D856F9A613063F2");
    blf_ecb("1111111111111111", "1111111111111111", "2466DD878B963C9D");
    blf_ecb("0123456789ABCDEF", "1111111111111111", "61F9C3802281B096");
    /* OpenBSD's blowfish regress: key "abcdefghijklmnopqrstuvwxyz",
     * plaintext "BLOWFISH". */
    blf_ecb("6162636465666768696a6b6c6d6e6f707172737475767778797a", "424c4f5746495348",
            "324ed0fef413a203");
}

static void pbkdf_vec(const char *pass, size_t passlen, const char *salt, size_t saltlen,
                      unsigned rounds, const char *hex)
{
    size_t n;
    uint8_t *want = test_unhex(hex, &n);
    uint8_t got[SSH_BCRYPT_PBKDF_MAX_KEY];
    assert_int_equal(ssh_bcrypt_pbkdf((const uint8_t *)pass, passlen, (const uint8_t *)salt,
                                      saltlen, got, n, rounds),
                     0);
    assert_memory_equal(got, want, n);
    free(want);
}

static void test_bcrypt_pbkdf(void **state)
{
    (void)state;
    /* OpenBSD regress/lib/libutil/bcrypt_pbkdf vectors (also used by the
     * RustCrypto, pyca/bcrypt and other independent implementations). */
    pbkdf_vec("password", 8, "salt", 4, 4,
              "5bbf0cc293587f1c3635555c27796598d47e579071bf427e9d8fbe842aba34d9");
    pbkdf_vec("password", 8, "\0", 1, 4, "c12b566235eee04c212598970a579a67");
    pbkdf_vec("\0", 1, "salt", 4, 4, "6051be18c2f4f82cbf0efee5471b4bb9");
    pbkdf_vec("password\0", 9, "salt\0", 5, 4,
              "7410e44cf4fa07bfaac8a928b1727fac001375e7bf7384370f48efd121743050");
    pbkdf_vec("pass\0wor", 8, "sa\0l", 4, 4, "c2bffd9db38f6569efef4372f4de83c0");
    /* 64-byte output: two interleaved blocks. */
    pbkdf_vec("password", 8, "salt", 4, 8,
              "e1367ec5151a33faac4cc1c144cd23fa15d5548493ecc99b9b5d9c0d3b27bec7"
              "6227ea66088b849b20ab7aa478010246e74bba51723fefa9f9474d6508845e8d");
    pbkdf_vec("password", 8, "salt", 4, 42, "833cf0dcf56db65608e8f0dc0ce882bd");

    uint8_t k[16];
    const uint8_t *p = (const uint8_t *)"p";
    assert_int_equal(ssh_bcrypt_pbkdf(p, 0, p, 1, k, 16, 1), SSH_ERR_ARGUMENT);
    assert_int_equal(ssh_bcrypt_pbkdf(p, 1, p, 0, k, 16, 1), SSH_ERR_ARGUMENT);
    assert_int_equal(ssh_bcrypt_pbkdf(p, 1, p, 1, k, 0, 1), SSH_ERR_ARGUMENT);
    assert_int_equal(ssh_bcrypt_pbkdf(p, 1, p, 1, k, 16, 0), SSH_ERR_ARGUMENT);
    assert_int_equal(ssh_bcrypt_pbkdf(p, 1, p, 1, k, SSH_BCRYPT_PBKDF_MAX_KEY + 1, 1),
                     SSH_ERR_ARGUMENT);
}

/* ---- base64 ------------------------------------------------------------ */

static int b64dec(const char *s, ssh_buf *out)
{
    ssh_buf_reset(out);
    return ssh_base64_decode(s, strlen(s), out);
}

static void test_base64(void **state)
{
    (void)state;
    ssh_buf b;
    ssh_buf_init(&b, 0, 0);
    assert_int_equal(b64dec("", &b), 0);
    assert_int_equal(ssh_buf_len(&b), 0);
    assert_int_equal(b64dec("YQ==", &b), 0);
    assert_int_equal(ssh_buf_len(&b), 1);
    assert_memory_equal(ssh_buf_ptr(&b), "a", 1);
    assert_int_equal(b64dec("YWI=", &b), 0);
    assert_int_equal(ssh_buf_len(&b), 2);
    assert_int_equal(b64dec("YWJj", &b), 0);
    assert_int_equal(ssh_buf_len(&b), 3);
    assert_memory_equal(ssh_buf_ptr(&b), "abc", 3);
    assert_int_equal(b64dec("+/+/", &b), 0);

    assert_int_equal(b64dec("YQ", &b), SSH_ERR_FORMAT);       /* padding missing */
    assert_int_equal(b64dec("YQ=", &b), SSH_ERR_FORMAT);      /* not 4-aligned */
    assert_int_equal(b64dec("Y===", &b), SSH_ERR_FORMAT);     /* three '=' */
    assert_int_equal(b64dec("YQ==YQ==", &b), SSH_ERR_FORMAT); /* '=' inside */
    assert_int_equal(b64dec("Y=Q=", &b), SSH_ERR_FORMAT);
    assert_int_equal(b64dec("YR==", &b), SSH_ERR_FORMAT); /* excess bits set */
    assert_int_equal(b64dec("YWJ=", &b), SSH_ERR_FORMAT);
    assert_int_equal(b64dec("YW J", &b), SSH_ERR_FORMAT); /* whitespace */
    assert_int_equal(b64dec(" YWJ", &b), SSH_ERR_FORMAT);
    assert_int_equal(b64dec("YWJ\n", &b), SSH_ERR_FORMAT);
    assert_int_equal(b64dec("YW-j", &b), SSH_ERR_FORMAT); /* URL alphabet */
    assert_int_equal(b64dec("====", &b), SSH_ERR_FORMAT);

    ssh_buf_reset(&b);
    assert_int_equal(ssh_base64_encode((const uint8_t *)"ab", 2, &b), 0);
    assert_int_equal(ssh_buf_len(&b), 4);
    assert_memory_equal(ssh_buf_ptr(&b), "YWI=", 4);
    ssh_buf_free(&b);
}

/* ---- the ssh-keygen keys ----------------------------------------------- */

struct key_case {
    const char *priv, *pub, *fp;
    enum ssh_key_type type;
    unsigned bits;
    const char *comment; /* in the private file (openssh format only) */
    const char *other;   /* public line of another key of the same type */
};

static const struct key_case key_cases[] = {
    {KEY_ED25519, PUB_ED25519, FP_ED25519, SSH_KEY_ED25519, 256, "test-ed25519", PUB_ENC_CTR},
    {KEY_P256, PUB_P256, FP_P256, SSH_KEY_ECDSA_P256, 256, "test-p256", PUB_P256_PEM},
    {KEY_P384, PUB_P384, FP_P384, SSH_KEY_ECDSA_P384, 384, "test-p384", PUB_P384_PKCS8},
    {KEY_P521, PUB_P521, FP_P521, SSH_KEY_ECDSA_P521, 521, "test-p521", NULL},
    {KEY_RSA, PUB_RSA, FP_RSA, SSH_KEY_RSA, 2048, "test-rsa", PUB_RSA_PEM},
    {KEY_RSA_PEM, PUB_RSA_PEM, FP_RSA_PEM, SSH_KEY_RSA, 2048, NULL, PUB_RSA},
    {KEY_P256_PEM, PUB_P256_PEM, FP_P256_PEM, SSH_KEY_ECDSA_P256, 256, NULL, PUB_P256},
    {KEY_RSA_PKCS8, PUB_RSA_PKCS8, FP_RSA_PKCS8, SSH_KEY_RSA, 2048, NULL, PUB_RSA},
    {KEY_P384_PKCS8, PUB_P384_PKCS8, FP_P384_PKCS8, SSH_KEY_ECDSA_P384, 384, NULL, PUB_P384},
};

static void check_key_case(const struct key_case *kc)
{
    char *cmt = NULL, *pcmt = NULL, *line = NULL;
    ssh_key *k = load_priv(kc->priv, NULL, &cmt);
    ssh_key *pub = load_pub(kc->pub, &pcmt);
    ssh_key *other = NULL;

    assert_int_equal(ssh_key_type(k), kc->type);
    assert_int_equal(ssh_key_bits(k), kc->bits);
    assert_true(ssh_key_has_private(k));
    assert_false(ssh_key_has_private(pub));
    if (kc->comment) {
        assert_non_null(cmt);
        assert_string_equal(cmt, kc->comment);
    } else {
        assert_null(cmt);
    }
    assert_non_null(pcmt);

    /* Fingerprints as ssh-keygen -l printed them. */
    assert_fp(k, kc->fp);
    assert_fp(pub, kc->fp);
    assert_true(ssh_key_equal_public(k, pub));

    /* Public line round trip: we write exactly what ssh-keygen wrote. */
    assert_int_equal(ssh_key_to_public_line(k, pcmt, &line), 0);
    assert_string_equal(line, kc->pub);
    free(line);

    /* Blob round trip. */
    ssh_buf b;
    ssh_key *k2 = NULL;
    blob_of(k, &b);
    assert_int_equal(ssh_key_from_blob(ssh_buf_ptr(&b), ssh_buf_len(&b), &k2), 0);
    assert_true(ssh_key_equal_public(k2, k));
    assert_false(ssh_key_has_private(k2));
    ssh_buf b2;
    blob_of(k2, &b2);
    assert_int_equal(ssh_buf_len(&b), ssh_buf_len(&b2));
    assert_memory_equal(ssh_buf_ptr(&b), ssh_buf_ptr(&b2), ssh_buf_len(&b));
    ssh_buf_free(&b2);
    ssh_key_free(k2);
    /* The blob must be exactly what is in the public line. */
    size_t sp1 = strcspn(kc->pub, " ");
    size_t sp2 = strcspn(kc->pub + sp1 + 1, " ");
    ssh_buf dec;
    ssh_buf_init(&dec, 0, 0);
    assert_int_equal(ssh_base64_decode(kc->pub + sp1 + 1, sp2, &dec), 0);
    assert_int_equal(ssh_buf_len(&dec), ssh_buf_len(&b));
    assert_memory_equal(ssh_buf_ptr(&dec), ssh_buf_ptr(&b), ssh_buf_len(&b));
    ssh_buf_free(&dec);
    ssh_buf_free(&b);

    /* Signatures. */
    if (kc->other)
        other = load_pub(kc->other, NULL);
    else
        assert_int_equal(ssh_key_generate(kc->type, 0, &other), 0);
    assert_false(ssh_key_equal_public(other, k));
    sign_verify_all_algs(k, pub, other);

    /* parse_private_public on an unencrypted file. */
    ssh_key *pp = NULL;
    assert_int_equal(ssh_key_parse_private_public((const uint8_t *)kc->priv, strlen(kc->priv), &pp),
                     0);
    assert_false(ssh_key_has_private(pp));
    assert_true(ssh_key_equal_public(pp, k));
    ssh_key_free(pp);

    ssh_key_free(other);
    ssh_key_free(pub);
    ssh_key_free(k);
    free(cmt);
    free(pcmt);
}

static void test_keygen_keys(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(key_cases) / sizeof(key_cases[0]); i++)
        check_key_case(&key_cases[i]);
}

/* ---- encrypted keys ---------------------------------------------------- */

static void check_encrypted(const char *text, const char *publine, const char *fp,
                            const char *comment)
{
    size_t len = strlen(text);
    assert_int_equal(parse_priv_rv(text, len, NULL), SSH_ERR_KEY_ENCRYPTED);
    assert_int_equal(parse_priv_rv(text, len, "wrong-pass"), SSH_ERR_KEY_PASSPHRASE);
    assert_int_equal(parse_priv_rv(text, len, ""), SSH_ERR_KEY_PASSPHRASE);

    char *cmt = NULL;
    ssh_key *k = load_priv(text, "test-pass", &cmt);
    ssh_key *pub = load_pub(publine, NULL);
    assert_true(ssh_key_has_private(k));
    assert_true(ssh_key_equal_public(k, pub));
    assert_fp(k, fp);
    if (comment) {
        assert_non_null(cmt);
        assert_string_equal(cmt, comment);
    }
    sign_verify(k, pub, NULL, NULL, 0);

    /* The public half without the passphrase (openssh-key-v1 only). */
    ssh_key *pp = NULL;
    int rv = ssh_key_parse_private_public((const uint8_t *)text, len, &pp);
    if (strstr(text, "OPENSSH") != NULL) {
        assert_int_equal(rv, 0);
        assert_false(ssh_key_has_private(pp));
        assert_true(ssh_key_equal_public(pp, pub));
        assert_fp(pp, fp);
    } else {
        assert_int_equal(rv, SSH_ERR_KEY_ENCRYPTED);
        assert_null(pp);
    }
    ssh_key_free(pp);
    ssh_key_free(pub);
    ssh_key_free(k);
    free(cmt);
}

static void test_encrypted_ctr(void **state)
{
    (void)state;
    check_encrypted(KEY_ENC_CTR, PUB_ENC_CTR, FP_ENC_CTR, "test-enc-ctr");
}

static void test_encrypted_gcm(void **state)
{
    (void)state;
    check_encrypted(KEY_ENC_GCM, PUB_ENC_GCM, FP_ENC_GCM, "test-enc-gcm");
}

static void test_encrypted_cbc(void **state)
{
    (void)state;
    check_encrypted(KEY_ENC_CBC, PUB_ENC_CBC, FP_ENC_CBC, "test-enc-cbc");
}

static void test_encrypted_pem(void **state)
{
    (void)state;
    check_encrypted(KEY_RSA_PEM_ENC, PUB_RSA_PEM_ENC, FP_RSA_PEM_ENC, NULL);
}

/* ---- SSHSIG: signatures made by ssh-keygen -Y sign --------------------- */

/* Base64 body of an armored text (between its BEGIN and END lines). */
static void unarmor_text(const char *text, ssh_buf *out)
{
    const char *p = strchr(text, '\n');
    assert_non_null(p);
    p++;
    const char *end = strstr(p, "-----END ");
    assert_non_null(end);
    ssh_buf t;
    ssh_buf_init(&t, 0, 0);
    for (; p < end; p++)
        if (*p != '\n')
            assert_int_equal(ssh_buf_put_u8(&t, (uint8_t)*p), 0);
    ssh_buf_init(out, 0, 0);
    assert_int_equal(ssh_base64_decode((const char *)ssh_buf_ptr(&t), ssh_buf_len(&t), out), 0);
    ssh_buf_free(&t);
}

static void check_sshsig(const char *armored, const char *publine, const char *want_alg)
{
    ssh_buf blob, signed_data;
    ssh_cur c;
    const uint8_t *magic, *pk, *ns, *res, *sig;
    size_t pkl, nsl, resl, sigl;
    char hashalg[16], alg[64];
    uint32_t version;

    unarmor_text(armored, &blob);
    ssh_cur_from_buf(&c, &blob);
    /* PROTOCOL.sshsig section 2. */
    assert_int_equal(ssh_cur_get_bytes(&c, 6, &magic), 0);
    assert_memory_equal(magic, "SSHSIG", 6);
    assert_int_equal(ssh_cur_get_u32(&c, &version), 0);
    assert_int_equal(version, 1);
    assert_int_equal(ssh_cur_get_string(&c, &pk, &pkl), 0);
    assert_int_equal(ssh_cur_get_string(&c, &ns, &nsl), 0);
    assert_int_equal(ssh_cur_get_string(&c, &res, &resl), 0);
    assert_int_equal(ssh_cur_get_cstr(&c, hashalg, sizeof(hashalg)), 0);
    assert_int_equal(ssh_cur_get_string(&c, &sig, &sigl), 0);
    assert_int_equal(ssh_cur_end(&c), 0);
    assert_string_equal(hashalg, "sha512");
    assert_int_equal(ssh_sig_alg(sig, sigl, alg, sizeof(alg)), 0);
    assert_string_equal(alg, want_alg);

    ssh_key *k = NULL;
    ssh_key *pub = load_pub(publine, NULL);
    assert_int_equal(ssh_key_from_blob(pk, pkl, &k), 0);
    assert_true(ssh_key_equal_public(k, pub));

    /* Section 3: the signed data. */
    uint8_t h[64];
    unsigned int hl = 0;
    assert_int_equal(EVP_Digest(SSHSIG_MESSAGE, strlen(SSHSIG_MESSAGE), h, &hl, EVP_sha512(), NULL),
                     1);
    ssh_buf_init(&signed_data, 0, 0);
    assert_int_equal(ssh_buf_put(&signed_data, "SSHSIG", 6), 0);
    assert_int_equal(ssh_buf_put_string(&signed_data, ns, nsl), 0);
    assert_int_equal(ssh_buf_put_string(&signed_data, res, resl), 0);
    assert_int_equal(ssh_buf_put_cstring(&signed_data, hashalg), 0);
    assert_int_equal(ssh_buf_put_string(&signed_data, h, hl), 0);

    assert_int_equal(ssh_key_verify(pub, want_alg, 0, sig, sigl, ssh_buf_ptr(&signed_data),
                                    ssh_buf_len(&signed_data)),
                     0);
    /* One changed bit of the message digest. */
    ssh_buf_mutable_ptr(&signed_data)[ssh_buf_len(&signed_data) - 1] ^= 1;
    assert_int_equal(ssh_key_verify(pub, want_alg, 0, sig, sigl, ssh_buf_ptr(&signed_data),
                                    ssh_buf_len(&signed_data)),
                     SSH_ERR_SIGNATURE);

    ssh_key_free(k);
    ssh_key_free(pub);
    ssh_buf_free(&blob);
    ssh_buf_free(&signed_data);
}

static void test_sshsig_openssh(void **state)
{
    (void)state;
    check_sshsig(SSHSIG_ED25519, PUB_ED25519, "ssh-ed25519");
    check_sshsig(SSHSIG_P256, PUB_P256, "ecdsa-sha2-nistp256");
    check_sshsig(SSHSIG_P384, PUB_P384, "ecdsa-sha2-nistp384");
    check_sshsig(SSHSIG_P521, PUB_P521, "ecdsa-sha2-nistp521");
    check_sshsig(SSHSIG_RSA, PUB_RSA, "rsa-sha2-512");
}

/* ---- writing openssh-key-v1 -------------------------------------------- */

static void check_write_roundtrip(const ssh_key *k, const char *comment)
{
    char *text = NULL, *cmt = NULL;
    assert_int_equal(ssh_key_to_private_openssh(k, comment, &text), 0);
    /* The shape ssh-keygen writes: armour lines, 70-column base64. */
    assert_true(strncmp(text, "-----BEGIN OPENSSH PRIVATE KEY-----\n", 36) == 0);
    const char *endm = "-----END OPENSSH PRIVATE KEY-----\n";
    size_t tl = strlen(text);
    assert_true(tl > strlen(endm));
    assert_string_equal(text + tl - strlen(endm), endm);
    for (const char *p = text; *p;) {
        size_t l = strcspn(p, "\n");
        assert_true(l <= 70 || strncmp(p, "-----", 5) == 0);
        p += l + (p[l] == '\n');
    }

    ssh_key *k2 = load_priv(text, NULL, &cmt);
    assert_true(ssh_key_has_private(k2));
    assert_true(ssh_key_equal_public(k, k2));
    if (comment && *comment)
        assert_string_equal(cmt, comment);
    else
        assert_null(cmt);
    /* Signatures by the reloaded key verify with the original. */
    ssh_buf sig;
    ssh_buf_init(&sig, 0, 0);
    assert_int_equal(ssh_key_sign(k2, NULL, 0, MSG, sizeof(MSG), &sig), 0);
    assert_int_equal(
        ssh_key_verify(k, NULL, 0, ssh_buf_ptr(&sig), ssh_buf_len(&sig), MSG, sizeof(MSG)), 0);
    ssh_buf_free(&sig);
    ssh_key_free(k2);
    OPENSSL_cleanse(text, tl);
    free(text);
    free(cmt);
}

static void test_write_openssh(void **state)
{
    (void)state;
    /* Keys from ssh-keygen, from PEM, and freshly generated. */
    for (size_t i = 0; i < sizeof(key_cases) / sizeof(key_cases[0]); i++) {
        ssh_key *k = load_priv(key_cases[i].priv, NULL, NULL);
        check_write_roundtrip(k, "written by sshtun");
        ssh_key_free(k);
    }
    static const enum ssh_key_type types[] = {SSH_KEY_ED25519, SSH_KEY_ECDSA_P256,
                                              SSH_KEY_ECDSA_P384, SSH_KEY_ECDSA_P521, SSH_KEY_RSA};
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        ssh_key *k = NULL;
        assert_int_equal(ssh_key_generate(types[i], types[i] == SSH_KEY_RSA ? 1024 : 0, &k), 0);
        assert_int_equal(ssh_key_type(k), types[i]);
        check_write_roundtrip(k, NULL);
        check_write_roundtrip(k, "");
        check_write_roundtrip(k, "a comment with spaces");
        ssh_key_free(k);
    }

    /* The writer refuses a public key. */
    ssh_key *pub = load_pub(PUB_ED25519, NULL);
    char *text = NULL;
    assert_int_equal(ssh_key_to_private_openssh(pub, NULL, &text), SSH_ERR_ARGUMENT);
    assert_null(text);
    ssh_key_free(pub);
}

/* ---- generation and inspection ----------------------------------------- */

static void test_generate(void **state)
{
    (void)state;
    static const enum ssh_key_type types[] = {SSH_KEY_ED25519, SSH_KEY_ECDSA_P256,
                                              SSH_KEY_ECDSA_P384, SSH_KEY_ECDSA_P521};
    static const unsigned bits[] = {256, 256, 384, 521};
    for (size_t i = 0; i < 4; i++) {
        ssh_key *k = NULL, *p = NULL;
        assert_int_equal(ssh_key_generate(types[i], 0, &k), 0);
        assert_int_equal(ssh_key_bits(k), bits[i]);
        assert_true(ssh_key_has_private(k));
        assert_int_equal(ssh_key_public(k, &p), 0);
        assert_false(ssh_key_has_private(p));
        assert_true(ssh_key_equal_public(k, p));
        sign_verify_all_algs(k, p, NULL);
        /* A public key cannot sign. */
        ssh_buf sig;
        ssh_buf_init(&sig, 0, 0);
        assert_int_equal(ssh_key_sign(p, NULL, 0, MSG, sizeof(MSG), &sig), SSH_ERR_ARGUMENT);
        ssh_buf_free(&sig);
        ssh_key_free(p);
        ssh_key_free(k);
    }
    ssh_key *k = NULL;
    assert_int_equal(ssh_key_generate(SSH_KEY_RSA, 512, &k), SSH_ERR_ARGUMENT);
    assert_int_equal(ssh_key_generate(SSH_KEY_RSA, 20000, &k), SSH_ERR_ARGUMENT);
    assert_int_equal(ssh_key_generate(SSH_KEY_UNKNOWN, 0, &k), SSH_ERR_KEY_TYPE);
    assert_null(k);
}

static void test_names(void **state)
{
    (void)state;
    assert_int_equal(ssh_key_type_from_name("ssh-ed25519"), SSH_KEY_ED25519);
    assert_int_equal(ssh_key_type_from_name("ecdsa-sha2-nistp256"), SSH_KEY_ECDSA_P256);
    assert_int_equal(ssh_key_type_from_name("ecdsa-sha2-nistp384"), SSH_KEY_ECDSA_P384);
    assert_int_equal(ssh_key_type_from_name("ecdsa-sha2-nistp521"), SSH_KEY_ECDSA_P521);
    assert_int_equal(ssh_key_type_from_name("ssh-rsa"), SSH_KEY_RSA);
    assert_int_equal(ssh_key_type_from_name("rsa-sha2-256"), SSH_KEY_RSA);
    assert_int_equal(ssh_key_type_from_name("rsa-sha2-512"), SSH_KEY_RSA);
    assert_int_equal(ssh_key_type_from_name("ssh-dss"), SSH_KEY_UNKNOWN);
    assert_int_equal(ssh_key_type_from_name(NULL), SSH_KEY_UNKNOWN);

    ssh_key *rsa = load_pub(PUB_RSA, NULL);
    ssh_key *ed = load_pub(PUB_ED25519, NULL);
    assert_string_equal(ssh_key_type_name(rsa), "ssh-rsa");
    assert_string_equal(ssh_key_type_name(ed), "ssh-ed25519");
    assert_true(ssh_key_alg_ok(rsa, "rsa-sha2-256"));
    assert_true(ssh_key_alg_ok(rsa, "rsa-sha2-512"));
    assert_true(ssh_key_alg_ok(rsa, "ssh-rsa"));
    assert_false(ssh_key_alg_ok(rsa, "ssh-ed25519"));
    assert_true(ssh_key_alg_ok(ed, "ssh-ed25519"));
    assert_false(ssh_key_alg_ok(ed, "ecdsa-sha2-nistp256"));
    assert_false(ssh_key_alg_ok(ed, "bogus"));
    assert_string_equal(ssh_key_sig_algs(rsa, 0), "rsa-sha2-512,rsa-sha2-256");
    assert_string_equal(ssh_key_sig_algs(rsa, SSH_KEY_ALLOW_SHA1),
                        "rsa-sha2-512,rsa-sha2-256,ssh-rsa");
    assert_string_equal(ssh_key_sig_algs(ed, 0), "ssh-ed25519");
    assert_false(ssh_key_equal_public(rsa, ed));

    /* Fingerprint buffer sizes: 51 bytes suffice, 50 do not. */
    char fp[SSH_KEY_FP_MAX];
    assert_int_equal(ssh_key_fingerprint(ed, fp, 51), 0);
    assert_int_equal(strlen(fp), 50);
    assert_int_equal(ssh_key_fingerprint(ed, fp, 50), SSH_ERR_NO_SPACE);

    char alg[8];
    ssh_buf sig;
    ssh_buf_init(&sig, 0, 0);
    assert_int_equal(ssh_buf_put_cstring(&sig, "ssh-ed25519"), 0);
    assert_int_equal(ssh_sig_alg(ssh_buf_ptr(&sig), ssh_buf_len(&sig), alg, sizeof(alg)),
                     SSH_ERR_TOO_LONG);
    assert_int_equal(ssh_sig_alg(ssh_buf_ptr(&sig), 3, alg, sizeof(alg)), SSH_ERR_INCOMPLETE);
    ssh_buf_free(&sig);

    ssh_key_free(rsa);
    ssh_key_free(ed);
    ssh_key_free(NULL);
}

/* ---- public lines ------------------------------------------------------ */

static int parse_line_rv(const char *line, size_t len, char **cmt)
{
    ssh_key *k = NULL;
    int rv = ssh_key_parse_public_line(line, len, &k, cmt);
    if (rv != 0)
        assert_null(k);
    ssh_key_free(k);
    return rv;
}

static void test_public_line(void **state)
{
    (void)state;
    const char *b64 = strchr(PUB_ED25519, ' ') + 1;
    size_t b64len = strcspn(b64, " ");
    char line[512];
    char *cmt = NULL;

    snprintf(line, sizeof(line), "  \tssh-ed25519 \t%.*s  a comment\twith spaces  \r\n",
             (int)b64len, b64);
    assert_int_equal(parse_line_rv(line, strlen(line), &cmt), 0);
    assert_string_equal(cmt, "a comment\twith spaces");
    free(cmt);
    cmt = NULL;

    snprintf(line, sizeof(line), "ssh-ed25519 %.*s", (int)b64len, b64);
    assert_int_equal(parse_line_rv(line, strlen(line), &cmt), 0);
    assert_null(cmt);
    assert_int_equal(parse_line_rv(line, strlen(line), NULL), 0);
    snprintf(line, sizeof(line), "ssh-ed25519 %.*s\n", (int)b64len, b64);
    assert_int_equal(parse_line_rv(line, strlen(line), &cmt), 0);
    assert_null(cmt);

    /* Failures. */
    assert_int_equal(parse_line_rv("", 0, &cmt), SSH_ERR_FORMAT);
    assert_int_equal(parse_line_rv("ssh-ed25519", 11, &cmt), SSH_ERR_FORMAT);
    assert_int_equal(parse_line_rv("ssh-ed25519   ", 14, &cmt), SSH_ERR_FORMAT);
    assert_int_equal(parse_line_rv("ssh-ed25519 !!!!", 16, &cmt), SSH_ERR_FORMAT);
    snprintf(line, sizeof(line), "ssh-dss %.*s", (int)b64len, b64);
    assert_int_equal(parse_line_rv(line, strlen(line), &cmt), SSH_ERR_KEY_TYPE);
    snprintf(line, sizeof(line), "ssh-rsa %.*s", (int)b64len, b64); /* type mismatch */
    assert_int_equal(parse_line_rv(line, strlen(line), &cmt), SSH_ERR_KEY_INVALID);
    snprintf(line, sizeof(line), "rsa-sha2-256 %.*s", (int)b64len, b64);
    assert_int_equal(parse_line_rv(line, strlen(line), &cmt), SSH_ERR_KEY_TYPE);
    snprintf(line, sizeof(line), "ssh-ed25519 %.*s", (int)b64len - 1, b64); /* bad padding */
    assert_int_not_equal(parse_line_rv(line, strlen(line), &cmt), 0);
    snprintf(line, sizeof(line), "ssh-ed25519 %.*s\nssh-ed25519 %.*s", (int)b64len, b64,
             (int)b64len, b64);
    assert_int_equal(parse_line_rv(line, strlen(line), &cmt), SSH_ERR_TRAILING);
    snprintf(line, sizeof(line), "ssh-ed25519 %.*s x", (int)b64len, b64);
    line[11] = '\0'; /* embedded NUL */
    assert_int_equal(parse_line_rv(line, b64len + 14, &cmt), SSH_ERR_EMBEDDED_NUL);
    /* Every truncation of the base64 part fails. */
    for (size_t i = 0; i < b64len; i++) {
        snprintf(line, sizeof(line), "ssh-ed25519 %.*s", (int)i, b64);
        assert_int_not_equal(parse_line_rv(line, strlen(line), &cmt), 0);
    }
    assert_null(cmt);

    /* Writing: no line breaks in comments. */
    ssh_key *k = load_pub(PUB_ED25519, NULL);
    char *out = NULL;
    assert_int_equal(ssh_key_to_public_line(k, "bad\ncomment", &out), SSH_ERR_ARGUMENT);
    assert_null(out);
    assert_int_equal(ssh_key_to_public_line(k, NULL, &out), 0);
    assert_int_equal(strlen(out), 11 + 1 + b64len);
    free(out);
    ssh_key_free(k);
}

/* ---- malformed blobs --------------------------------------------------- */

static void test_blob_truncation(void **state)
{
    (void)state;
    const char *pubs[] = {PUB_ED25519, PUB_P256, PUB_P384, PUB_P521, PUB_RSA};
    for (size_t j = 0; j < 5; j++) {
        ssh_key *k = load_pub(pubs[j], NULL), *k2 = NULL;
        ssh_buf b;
        blob_of(k, &b);
        size_t n = ssh_buf_len(&b);
        uint8_t *copy = malloc(n + 1);
        assert_non_null(copy);
        memcpy(copy, ssh_buf_ptr(&b), n);
        /* Exact-size copies so ASan sees any over-read. */
        for (size_t i = 0; i < n; i++) {
            uint8_t *t = malloc(i ? i : 1);
            assert_non_null(t);
            memcpy(t, copy, i);
            assert_int_not_equal(ssh_key_from_blob(t, i, &k2), 0);
            assert_null(k2);
            free(t);
        }
        copy[n] = 0;
        assert_int_equal(ssh_key_from_blob(copy, n + 1, &k2), SSH_ERR_TRAILING);
        assert_null(k2);
        free(copy);
        ssh_buf_free(&b);
        ssh_key_free(k);
    }
}

/* Build an ECDSA blob from parts. */
static int ec_blob_rv(const char *type, const char *curve, const uint8_t *q, size_t ql)
{
    ssh_buf b;
    ssh_key *k = NULL;
    ssh_buf_init(&b, 0, 0);
    assert_int_equal(ssh_buf_put_cstring(&b, type), 0);
    assert_int_equal(ssh_buf_put_cstring(&b, curve), 0);
    assert_int_equal(ssh_buf_put_string(&b, q, ql), 0);
    int rv = ssh_key_from_blob(ssh_buf_ptr(&b), ssh_buf_len(&b), &k);
    ssh_key_free(k);
    ssh_buf_free(&b);
    return rv;
}

static int rsa_blob_rv(const uint8_t *e, size_t el, const uint8_t *n, size_t nl)
{
    ssh_buf b;
    ssh_key *k = NULL;
    ssh_buf_init(&b, 0, 0);
    assert_int_equal(ssh_buf_put_cstring(&b, "ssh-rsa"), 0);
    assert_int_equal(ssh_buf_put_mpint(&b, e, el), 0);
    assert_int_equal(ssh_buf_put_mpint(&b, n, nl), 0);
    int rv = ssh_key_from_blob(ssh_buf_ptr(&b), ssh_buf_len(&b), &k);
    ssh_key_free(k);
    ssh_buf_free(&b);
    return rv;
}

static void test_blob_invalid(void **state)
{
    (void)state;
    /* The P-256 point of the test key. */
    ssh_key *k = load_pub(PUB_P256, NULL);
    ssh_buf b;
    ssh_cur c;
    const uint8_t *q;
    size_t ql;
    blob_of(k, &b);
    ssh_cur_from_buf(&c, &b);
    assert_int_equal(ssh_cur_get_string(&c, NULL, NULL), 0);
    assert_int_equal(ssh_cur_get_string(&c, NULL, NULL), 0);
    assert_int_equal(ssh_cur_get_string(&c, &q, &ql), 0);
    assert_int_equal(ql, 65);
    uint8_t pt[65];
    memcpy(pt, q, 65);

    assert_int_equal(ec_blob_rv("ecdsa-sha2-nistp256", "nistp256", pt, 65), 0);
    /* Curve name that does not match the type. */
    assert_int_equal(ec_blob_rv("ecdsa-sha2-nistp256", "nistp384", pt, 65), SSH_ERR_KEY_INVALID);
    assert_int_equal(ec_blob_rv("ecdsa-sha2-nistp384", "nistp256", pt, 65), SSH_ERR_KEY_INVALID);
    /* Compressed form of a valid point: refused. */
    uint8_t comp[33];
    comp[0] = (uint8_t)(0x02 | (pt[64] & 1));
    memcpy(comp + 1, pt + 1, 32);
    assert_int_equal(ec_blob_rv("ecdsa-sha2-nistp256", "nistp256", comp, 33), SSH_ERR_KEY_INVALID);
    /* Not on the curve. */
    pt[64] ^= 1;
    assert_int_equal(ec_blob_rv("ecdsa-sha2-nistp256", "nistp256", pt, 65), SSH_ERR_KEY_INVALID);
    pt[64] ^= 1;
    /* Wrong leading byte, point at infinity, wrong lengths. */
    pt[0] = 0x06;
    assert_int_equal(ec_blob_rv("ecdsa-sha2-nistp256", "nistp256", pt, 65), SSH_ERR_KEY_INVALID);
    pt[0] = 0x04;
    uint8_t zero = 0;
    assert_int_equal(ec_blob_rv("ecdsa-sha2-nistp256", "nistp256", &zero, 1), SSH_ERR_KEY_INVALID);
    assert_int_equal(ec_blob_rv("ecdsa-sha2-nistp256", "nistp256", pt, 64), SSH_ERR_KEY_INVALID);
    uint8_t zeros[65] = {0x04};
    assert_int_equal(ec_blob_rv("ecdsa-sha2-nistp256", "nistp256", zeros, 65), SSH_ERR_KEY_INVALID);
    ssh_buf_free(&b);
    ssh_key_free(k);

    /* RSA moduli: 1023 bits refused, 1024 accepted; even n, bad e. */
    uint8_t n[2049], e3[] = {0x03}, e65537[] = {0x01, 0x00, 0x01}, e2[] = {0x02};
    memset(n, 0, sizeof(n));
    n[0] = 0x40; /* 2^1022 + 1: 1023 bits */
    n[127] = 0x01;
    assert_int_equal(rsa_blob_rv(e65537, 3, n, 128), SSH_ERR_KEY_INVALID);
    n[0] = 0xc0; /* 1024 bits */
    assert_int_equal(rsa_blob_rv(e65537, 3, n, 128), 0);
    assert_int_equal(rsa_blob_rv(e3, 1, n, 128), 0);
    assert_int_equal(rsa_blob_rv(e2, 1, n, 128), SSH_ERR_KEY_INVALID);
    assert_int_equal(rsa_blob_rv(e3, 0, n, 128), SSH_ERR_KEY_INVALID); /* e = 0 */
    n[127] = 0x02;
    assert_int_equal(rsa_blob_rv(e65537, 3, n, 128), SSH_ERR_KEY_INVALID);
    /* Larger than 16384 bits. */
    memset(n, 0xff, sizeof(n));
    assert_int_equal(rsa_blob_rv(e65537, 3, n, 2049), SSH_ERR_KEY_INVALID);

    /* Ed25519 with a short key, unknown types. */
    ssh_buf_init(&b, 0, 0);
    assert_int_equal(ssh_buf_put_cstring(&b, "ssh-ed25519"), 0);
    assert_int_equal(ssh_buf_put_string(&b, zeros, 31), 0);
    assert_int_equal(ssh_key_from_blob(ssh_buf_ptr(&b), ssh_buf_len(&b), &k), SSH_ERR_KEY_INVALID);
    ssh_buf_reset(&b);
    assert_int_equal(ssh_buf_put_cstring(&b, "ssh-dss"), 0);
    assert_int_equal(ssh_buf_put_string(&b, zeros, 32), 0);
    assert_int_equal(ssh_key_from_blob(ssh_buf_ptr(&b), ssh_buf_len(&b), &k), SSH_ERR_KEY_TYPE);
    ssh_buf_reset(&b);
    assert_int_equal(ssh_buf_put_string(&b, "ssh-ed25519\0", 12), 0);
    assert_int_equal(ssh_buf_put_string(&b, zeros, 32), 0);
    assert_int_equal(ssh_key_from_blob(ssh_buf_ptr(&b), ssh_buf_len(&b), &k), SSH_ERR_KEY_TYPE);
    ssh_buf_free(&b);
}

/* ---- malformed signatures ---------------------------------------------- */

static int verify_parts(const ssh_key *k, const char *alg, const ssh_buf *inner)
{
    ssh_buf s;
    ssh_buf_init(&s, 0, 0);
    assert_int_equal(ssh_buf_put_cstring(&s, alg), 0);
    assert_int_equal(ssh_buf_put_stringb(&s, inner), 0);
    int rv = ssh_key_verify(k, NULL, 0, ssh_buf_ptr(&s), ssh_buf_len(&s), MSG, sizeof(MSG));
    ssh_buf_free(&s);
    return rv;
}

static void test_sig_invalid(void **state)
{
    (void)state;
    ssh_key *ec = load_priv(KEY_P256, NULL, NULL);
    ssh_buf sig, inner;
    ssh_cur c, ic;
    const uint8_t *r, *s;
    size_t rl, sl;

    /* Take a valid ECDSA signature apart. */
    ssh_buf_init(&sig, 0, 0);
    assert_int_equal(ssh_key_sign(ec, NULL, 0, MSG, sizeof(MSG), &sig), 0);
    ssh_cur_from_buf(&c, &sig);
    assert_int_equal(ssh_cur_get_string(&c, NULL, NULL), 0);
    assert_int_equal(ssh_cur_get_cur(&c, &ic), 0);
    assert_int_equal(ssh_cur_get_mpint(&ic, &r, &rl), 0);
    assert_int_equal(ssh_cur_get_mpint(&ic, &s, &sl), 0);
    assert_int_equal(ssh_cur_end(&ic), 0);

    ssh_buf_init(&inner, 0, 0);
    assert_int_equal(ssh_buf_put_mpint(&inner, r, rl), 0);
    assert_int_equal(ssh_buf_put_mpint(&inner, s, sl), 0);
    assert_int_equal(verify_parts(ec, "ecdsa-sha2-nistp256", &inner), 0);
    /* Trailing bytes inside the signature string. */
    assert_int_equal(ssh_buf_put_u8(&inner, 0), 0);
    assert_int_equal(verify_parts(ec, "ecdsa-sha2-nistp256", &inner), SSH_ERR_TRAILING);
    /* Non-minimal r (an extra leading zero). */
    ssh_buf_reset(&inner);
    uint8_t big[80];
    memset(big, 0, sizeof(big));
    memcpy(big + 2, r, rl);
    assert_int_equal(ssh_buf_put_string(&inner, big, rl + 2), 0);
    assert_int_equal(ssh_buf_put_mpint(&inner, s, sl), 0);
    assert_int_equal(verify_parts(ec, "ecdsa-sha2-nistp256", &inner), SSH_ERR_FORMAT);
    /* Negative r. */
    ssh_buf_reset(&inner);
    memcpy(big, r, rl);
    big[0] |= 0x80;
    assert_int_equal(ssh_buf_put_string(&inner, big, rl), 0);
    assert_int_equal(ssh_buf_put_mpint(&inner, s, sl), 0);
    assert_int_equal(verify_parts(ec, "ecdsa-sha2-nistp256", &inner), SSH_ERR_NEGATIVE);
    /* r longer than the group order. */
    ssh_buf_reset(&inner);
    memset(big, 0x11, 40);
    assert_int_equal(ssh_buf_put_mpint(&inner, big, 40), 0);
    assert_int_equal(ssh_buf_put_mpint(&inner, s, sl), 0);
    assert_int_equal(verify_parts(ec, "ecdsa-sha2-nistp256", &inner), SSH_ERR_SIGNATURE);
    /* r = 0, s = 0. */
    ssh_buf_reset(&inner);
    assert_int_equal(ssh_buf_put_mpint(&inner, NULL, 0), 0);
    assert_int_equal(ssh_buf_put_mpint(&inner, s, sl), 0);
    assert_int_equal(verify_parts(ec, "ecdsa-sha2-nistp256", &inner), SSH_ERR_SIGNATURE);
    /* s = r (wrong), swapped r/s. */
    ssh_buf_reset(&inner);
    assert_int_equal(ssh_buf_put_mpint(&inner, s, sl), 0);
    assert_int_equal(ssh_buf_put_mpint(&inner, r, rl), 0);
    assert_int_equal(verify_parts(ec, "ecdsa-sha2-nistp256", &inner), SSH_ERR_SIGNATURE);
    /* Algorithm of another curve or type, and an unknown one. */
    ssh_buf_reset(&inner);
    assert_int_equal(ssh_buf_put_mpint(&inner, r, rl), 0);
    assert_int_equal(ssh_buf_put_mpint(&inner, s, sl), 0);
    assert_int_equal(verify_parts(ec, "ecdsa-sha2-nistp384", &inner), SSH_ERR_KEY_ALG_MISMATCH);
    assert_int_equal(verify_parts(ec, "ssh-ed25519", &inner), SSH_ERR_KEY_ALG_MISMATCH);
    assert_int_equal(verify_parts(ec, "x-unknown", &inner), SSH_ERR_KEY_TYPE);
    ssh_buf_free(&sig);
    ssh_key_free(ec);

    /* Ed25519: the signature must be exactly 64 bytes. */
    ssh_key *ed = load_priv(KEY_ED25519, NULL, NULL);
    ssh_buf_init(&sig, 0, 0);
    assert_int_equal(ssh_key_sign(ed, NULL, 0, MSG, sizeof(MSG), &sig), 0);
    ssh_cur_from_buf(&c, &sig);
    assert_int_equal(ssh_cur_get_string(&c, NULL, NULL), 0);
    assert_int_equal(ssh_cur_get_string(&c, &r, &rl), 0);
    assert_int_equal(rl, 64);
    ssh_buf_reset(&inner);
    assert_int_equal(ssh_buf_put(&inner, r, 63), 0);
    assert_int_equal(verify_parts(ed, "ssh-ed25519", &inner), SSH_ERR_SIGNATURE);
    assert_int_equal(ssh_buf_put(&inner, r + 63, 1), 0);
    assert_int_equal(verify_parts(ed, "ssh-ed25519", &inner), 0);
    assert_int_equal(ssh_buf_put_u8(&inner, 0), 0);
    assert_int_equal(verify_parts(ed, "ssh-ed25519", &inner), SSH_ERR_SIGNATURE);
    ssh_buf_free(&sig);
    ssh_buf_free(&inner);
    ssh_key_free(ed);
}

/* RFC 8332 wants the signature as long as the modulus; OpenSSH accepts a
 * shorter one (leading zeros stripped) and so do we, but never a longer
 * one.  PKCS#1 v1.5 is deterministic, so searching for a signature that
 * starts with 0x00 over a counter is reproducible. */
static void test_rsa_sig_length(void **state)
{
    (void)state;
    ssh_key *k = load_priv(KEY_RSA, NULL, NULL);
    ssh_buf sig, inner;
    ssh_cur c;
    const uint8_t *s;
    size_t sl;
    uint8_t data[8];
    int found = 0;
    ssh_buf_init(&sig, 0, 0);
    ssh_buf_init(&inner, 0, 0);
    for (uint32_t i = 0; i < 8192 && !found; i++) {
        ssh_poke_u32(data, i);
        ssh_poke_u32(data + 4, 0x5a5a5a5a);
        ssh_buf_reset(&sig);
        assert_int_equal(ssh_key_sign(k, "rsa-sha2-256", 0, data, sizeof(data), &sig), 0);
        ssh_cur_from_buf(&c, &sig);
        assert_int_equal(ssh_cur_get_string(&c, NULL, NULL), 0);
        assert_int_equal(ssh_cur_get_string(&c, &s, &sl), 0);
        assert_int_equal(sl, 256); /* we always write full length */
        if (s[0] == 0)
            found = 1;
    }
    assert_true(found);
    size_t strip = s[1] == 0 ? 2 : 1;
    ssh_buf full;
    ssh_buf_init(&full, 0, 0);
    assert_int_equal(ssh_buf_put_cstring(&full, "rsa-sha2-256"), 0);
    assert_int_equal(ssh_buf_put_string(&full, s + strip, sl - strip), 0);
    assert_int_equal(ssh_key_verify(k, "rsa-sha2-256", 0, ssh_buf_ptr(&full), ssh_buf_len(&full),
                                    data, sizeof(data)),
                     0);
    /* Longer than the modulus: refused even though the value is equal. */
    ssh_buf_reset(&full);
    ssh_buf_reset(&inner);
    assert_int_equal(ssh_buf_put_u8(&inner, 0), 0);
    assert_int_equal(ssh_buf_put(&inner, s, sl), 0);
    assert_int_equal(ssh_buf_put_cstring(&full, "rsa-sha2-256"), 0);
    assert_int_equal(ssh_buf_put_stringb(&full, &inner), 0);
    assert_int_equal(ssh_key_verify(k, "rsa-sha2-256", 0, ssh_buf_ptr(&full), ssh_buf_len(&full),
                                    data, sizeof(data)),
                     SSH_ERR_SIGNATURE);
    /* Empty signature. */
    ssh_buf_reset(&full);
    assert_int_equal(ssh_buf_put_cstring(&full, "rsa-sha2-256"), 0);
    assert_int_equal(ssh_buf_put_string(&full, NULL, 0), 0);
    assert_int_equal(ssh_key_verify(k, "rsa-sha2-256", 0, ssh_buf_ptr(&full), ssh_buf_len(&full),
                                    data, sizeof(data)),
                     SSH_ERR_SIGNATURE);
    ssh_buf_free(&full);
    ssh_buf_free(&sig);
    ssh_buf_free(&inner);
    ssh_key_free(k);
}

/* ---- malformed key files ----------------------------------------------- */

/* Base64-armor a binary openssh-key-v1 blob. */
static char *armor(const uint8_t *blob, size_t n)
{
    ssh_buf b64, t;
    ssh_buf_init(&b64, 0, 0);
    ssh_buf_init(&t, 0, 0);
    assert_int_equal(ssh_base64_encode(blob, n, &b64), 0);
    assert_int_equal(ssh_buf_put(&t, "-----BEGIN OPENSSH PRIVATE KEY-----\n", 36), 0);
    for (size_t off = 0; off < ssh_buf_len(&b64); off += 70) {
        size_t l = ssh_buf_len(&b64) - off < 70 ? ssh_buf_len(&b64) - off : 70;
        assert_int_equal(ssh_buf_put(&t, ssh_buf_ptr(&b64) + off, l), 0);
        assert_int_equal(ssh_buf_put_u8(&t, '\n'), 0);
    }
    assert_int_equal(ssh_buf_put(&t, "-----END OPENSSH PRIVATE KEY-----\n", 35), 0);
    char *s = strdup((const char *)ssh_buf_ptr(&t));
    assert_non_null(s);
    ssh_buf_free(&b64);
    ssh_buf_free(&t);
    return s;
}

static int armored_rv(const ssh_buf *blob, const char *pass)
{
    char *text = armor(ssh_buf_ptr(blob), ssh_buf_len(blob));
    int rv = parse_priv_rv(text, strlen(text), pass);
    ssh_key *k = NULL;
    int rv2 = ssh_key_parse_private_public((const uint8_t *)text, strlen(text), &k);
    if (rv2 != 0)
        assert_null(k);
    ssh_key_free(k);
    free(text);
    return rv;
}

/* The parts of an unencrypted file, to be reassembled with changes. */
struct kfile {
    const char *cipher, *kdf;
    ssh_buf kdfopts;
    uint32_t nkeys;
    ssh_buf pub;
    uint32_t check1, check2;
    ssh_buf privkey; /* ssh_key_put_private output */
    const char *comment;
    ssh_buf padding;
    ssh_buf after; /* bytes after the private section */
};

static void kfile_init(struct kfile *f, const ssh_key *k)
{
    memset(f, 0, sizeof(*f));
    f->cipher = "none";
    f->kdf = "none";
    ssh_buf_init(&f->kdfopts, 0, 0);
    ssh_buf_init(&f->pub, 0, 0);
    ssh_buf_init(&f->privkey, 0, 0);
    ssh_buf_init(&f->padding, 0, 0);
    ssh_buf_init(&f->after, 0, 0);
    f->nkeys = 1;
    f->check1 = f->check2 = 0x12345678;
    assert_int_equal(ssh_key_to_blob(k, &f->pub), 0);
    assert_int_equal(ssh_key_put_private(k, &f->privkey), 0);
    f->comment = "c";
}

static void kfile_free(struct kfile *f)
{
    ssh_buf_free(&f->kdfopts);
    ssh_buf_free(&f->pub);
    ssh_buf_free(&f->privkey);
    ssh_buf_free(&f->padding);
    ssh_buf_free(&f->after);
}

/* Assemble; with auto_pad, pad with 1, 2, 3, ... to the block size (8 for
 * "none", 16 for the AES ciphers). */
static void kfile_build(const struct kfile *f, int auto_pad, ssh_buf *out)
{
    ssh_buf sect;
    ssh_buf_init(&sect, 0, 0);
    ssh_buf_init(out, 0, 0);
    assert_int_equal(ssh_buf_put_u32(&sect, f->check1), 0);
    assert_int_equal(ssh_buf_put_u32(&sect, f->check2), 0);
    assert_int_equal(ssh_buf_put(&sect, ssh_buf_ptr(&f->privkey), ssh_buf_len(&f->privkey)), 0);
    assert_int_equal(ssh_buf_put_cstring(&sect, f->comment), 0);
    size_t block = strcmp(f->cipher, "none") == 0 ? 8 : 16;
    if (auto_pad)
        for (uint8_t i = 1; ssh_buf_len(&sect) % block; i++)
            assert_int_equal(ssh_buf_put_u8(&sect, i), 0);
    else
        assert_int_equal(ssh_buf_put(&sect, ssh_buf_ptr(&f->padding), ssh_buf_len(&f->padding)), 0);
    assert_int_equal(ssh_buf_put(out, "openssh-key-v1", 15), 0);
    assert_int_equal(ssh_buf_put_cstring(out, f->cipher), 0);
    assert_int_equal(ssh_buf_put_cstring(out, f->kdf), 0);
    assert_int_equal(ssh_buf_put_stringb(out, &f->kdfopts), 0);
    assert_int_equal(ssh_buf_put_u32(out, f->nkeys), 0);
    assert_int_equal(ssh_buf_put_stringb(out, &f->pub), 0);
    assert_int_equal(ssh_buf_put_stringb(out, &sect), 0);
    assert_int_equal(ssh_buf_put(out, ssh_buf_ptr(&f->after), ssh_buf_len(&f->after)), 0);
    ssh_buf_free(&sect);
}

static int kfile_rv(const struct kfile *f, int auto_pad)
{
    ssh_buf b;
    kfile_build(f, auto_pad, &b);
    int rv = armored_rv(&b, NULL);
    ssh_buf_free(&b);
    return rv;
}

static void test_keyfile_structure(void **state)
{
    (void)state;
    ssh_key *ed = load_priv(KEY_ED25519, NULL, NULL);
    ssh_key *ec = load_priv(KEY_P256, NULL, NULL);
    struct kfile f;

    kfile_init(&f, ed);
    assert_int_equal(kfile_rv(&f, 1), 0); /* the builder itself is right */

    f.nkeys = 2;
    assert_int_equal(kfile_rv(&f, 1), SSH_ERR_FORMAT);
    f.nkeys = 0;
    assert_int_equal(kfile_rv(&f, 1), SSH_ERR_FORMAT);
    f.nkeys = 1;

    f.check2 ^= 1; /* check mismatch */
    assert_int_equal(kfile_rv(&f, 1), SSH_ERR_FORMAT);
    f.check2 ^= 1;

    /* Padding: wrong values, a whole extra block, missing. */
    ssh_buf b;
    kfile_build(&f, 1, &b);
    size_t padlen = 0;
    {
        ssh_buf sect;
        ssh_buf_init(&sect, 0, 0);
        /* 8 + privkey + 4 + comment: compute the auto padding length. */
        size_t l = 8 + ssh_buf_len(&f.privkey) + 4 + strlen(f.comment);
        padlen = (8 - l % 8) % 8;
        ssh_buf_free(&sect);
    }
    ssh_buf_free(&b);
    assert_true(padlen > 0);
    for (uint8_t i = 1; i <= padlen; i++)
        assert_int_equal(ssh_buf_put_u8(&f.padding, i), 0);
    assert_int_equal(kfile_rv(&f, 0), 0);
    ssh_buf_mutable_ptr(&f.padding)[padlen - 1] = 0;
    assert_int_equal(kfile_rv(&f, 0), SSH_ERR_FORMAT);
    ssh_buf_reset(&f.padding);
    for (uint8_t i = 1; i <= padlen + 8; i++)
        assert_int_equal(ssh_buf_put_u8(&f.padding, i), 0);
    assert_int_equal(kfile_rv(&f, 0), SSH_ERR_FORMAT); /* a block or more */
    ssh_buf_reset(&f.padding);
    assert_int_equal(kfile_rv(&f, 0), SSH_ERR_FORMAT); /* unaligned */
    ssh_buf_reset(&f.padding);

    /* Bytes after the private section. */
    assert_int_equal(ssh_buf_put_u8(&f.after, 0), 0);
    assert_int_equal(kfile_rv(&f, 1), SSH_ERR_TRAILING);
    ssh_buf_reset(&f.after);

    /* Cipher/KDF combinations. */
    f.kdf = "bcrypt";
    assert_int_equal(kfile_rv(&f, 1), SSH_ERR_FORMAT);
    f.kdf = "none";
    assert_int_equal(ssh_buf_put_u32(&f.kdfopts, 0), 0);
    assert_int_equal(kfile_rv(&f, 1), SSH_ERR_FORMAT);
    ssh_buf_reset(&f.kdfopts);
    f.cipher = "des-ede3-cbc";
    assert_int_equal(kfile_rv(&f, 1), SSH_ERR_KEY_TYPE);
    f.cipher = "aes256-ctr";
    f.kdf = "scrypt";
    assert_int_equal(kfile_rv(&f, 1), SSH_ERR_KEY_TYPE);
    f.kdf = "bcrypt";
    /* bcrypt options: truncated, zero rounds, huge rounds, empty salt. */
    assert_int_equal(kfile_rv(&f, 1), SSH_ERR_INCOMPLETE);
    assert_int_equal(ssh_buf_put_string(&f.kdfopts, "0123456789abcdef", 16), 0);
    assert_int_equal(ssh_buf_put_u32(&f.kdfopts, 0), 0);
    assert_int_equal(kfile_rv(&f, 1), SSH_ERR_FORMAT);
    ssh_buf_reset(&f.kdfopts);
    assert_int_equal(ssh_buf_put_string(&f.kdfopts, "0123456789abcdef", 16), 0);
    assert_int_equal(ssh_buf_put_u32(&f.kdfopts, 0xffffffffu), 0);
    assert_int_equal(kfile_rv(&f, 1), SSH_ERR_FORMAT);
    ssh_buf_reset(&f.kdfopts);
    assert_int_equal(ssh_buf_put_string(&f.kdfopts, NULL, 0), 0);
    assert_int_equal(ssh_buf_put_u32(&f.kdfopts, 16), 0);
    assert_int_equal(kfile_rv(&f, 1), SSH_ERR_FORMAT);
    ssh_buf_reset(&f.kdfopts);
    /* Valid options but no passphrase given. */
    assert_int_equal(ssh_buf_put_string(&f.kdfopts, "0123456789abcdef", 16), 0);
    assert_int_equal(ssh_buf_put_u32(&f.kdfopts, 16), 0);
    assert_int_equal(kfile_rv(&f, 1), SSH_ERR_KEY_ENCRYPTED);
    f.cipher = "none";
    f.kdf = "none";
    ssh_buf_reset(&f.kdfopts);

    /* Public blob in the header of a different key. */
    ssh_buf_reset(&f.pub);
    assert_int_equal(ssh_key_to_blob(ec, &f.pub), 0);
    assert_int_equal(kfile_rv(&f, 1), SSH_ERR_KEY_INVALID);
    ssh_buf_reset(&f.pub);
    assert_int_equal(ssh_key_to_blob(ed, &f.pub), 0);

    /* Ed25519: the public half inside sk differs from pk. */
    size_t pl = ssh_buf_len(&f.privkey);
    ssh_buf_mutable_ptr(&f.privkey)[pl - 1] ^= 1;
    assert_int_equal(kfile_rv(&f, 1), SSH_ERR_KEY_INVALID);
    ssh_buf_mutable_ptr(&f.privkey)[pl - 1] ^= 1;
    /* ... or the seed does not give pk. */
    ssh_buf_mutable_ptr(&f.privkey)[pl - 33] ^= 1;
    assert_int_equal(kfile_rv(&f, 1), SSH_ERR_KEY_INVALID);
    ssh_buf_mutable_ptr(&f.privkey)[pl - 33] ^= 1;
    assert_int_equal(kfile_rv(&f, 1), 0);
    kfile_free(&f);

    /* ECDSA: a private scalar that does not match Q. */
    kfile_init(&f, ec);
    pl = ssh_buf_len(&f.privkey);
    ssh_buf_mutable_ptr(&f.privkey)[pl - 1] ^= 1;
    assert_int_equal(kfile_rv(&f, 1), SSH_ERR_KEY_INVALID);
    kfile_free(&f);

    ssh_key_free(ed);
    ssh_key_free(ec);
}

static void test_keyfile_rsa_private(void **state)
{
    (void)state;
    ssh_key *rsa = load_priv(KEY_RSA, NULL, NULL);
    struct kfile f;
    kfile_init(&f, rsa);
    assert_int_equal(kfile_rv(&f, 1), 0);
    /* Locate n, e, d, iqmp, p, q in the private encoding and damage each. */
    ssh_cur c;
    ssh_cur_from_buf(&c, &f.privkey);
    assert_int_equal(ssh_cur_get_string(&c, NULL, NULL), 0);
    size_t ends[6];
    for (int i = 0; i < 6; i++) {
        assert_int_equal(ssh_cur_get_mpint(&c, NULL, NULL), 0);
        ends[i] = ssh_buf_len(&f.privkey) - c.len;
    }
    assert_int_equal(ssh_cur_end(&c), 0);
    for (int i = 0; i < 6; i++) {
        uint8_t *p = ssh_buf_mutable_ptr(&f.privkey) + ends[i] - 1;
        *p ^= 0x02; /* keep parity: n, p, q stay odd */
        assert_int_not_equal(kfile_rv(&f, 1), 0);
        *p ^= 0x02;
    }
    assert_int_equal(kfile_rv(&f, 1), 0);
    kfile_free(&f);
    ssh_key_free(rsa);
}

/* Decode the base64 between the armour lines of a key file. */
static void decode_file(const char *text, ssh_buf *out)
{
    unarmor_text(text, out);
}

static void test_keyfile_truncation(void **state)
{
    (void)state;
    const char *files[] = {KEY_ED25519, KEY_P256, KEY_RSA, KEY_ENC_GCM};
    for (size_t j = 0; j < 4; j++) {
        ssh_buf blob;
        decode_file(files[j], &blob);
        size_t n = ssh_buf_len(&blob);
        /* Every prefix of the binary, re-armored. */
        for (size_t i = 0; i < n; i++) {
            ssh_buf t;
            ssh_buf_init(&t, 0, 0);
            assert_int_equal(ssh_buf_put(&t, ssh_buf_ptr(&blob), i), 0);
            assert_int_not_equal(armored_rv(&t, "test-pass"), 0);
            ssh_buf_free(&t);
        }
        ssh_buf_free(&blob);
        /* Every prefix of the text (exact-size copies for ASan). */
        size_t tl = strlen(files[j]);
        for (size_t i = 0; i + 1 < tl; i++) {
            char *t = malloc(i ? i : 1);
            assert_non_null(t);
            memcpy(t, files[j], i);
            assert_int_not_equal(parse_priv_rv(t, i, NULL), 0);
            ssh_key *k = NULL;
            assert_int_not_equal(ssh_key_parse_private_public((const uint8_t *)t, i, &k), 0);
            assert_null(k);
            free(t);
        }
    }
}

static void test_keyfile_text(void **state)
{
    (void)state;
    size_t len = strlen(KEY_ED25519);
    char *t = malloc(len + 64);
    assert_non_null(t);

    /* Whitespace around the armour is fine, CRLF too. */
    snprintf(t, len + 64, "\n  %s\n\n \t\n", KEY_ED25519);
    assert_int_equal(parse_priv_rv(t, strlen(t), NULL), 0);
    {
        ssh_buf crlf;
        ssh_buf_init(&crlf, 0, 0);
        for (size_t i = 0; i < len; i++) {
            if (KEY_ED25519[i] == '\n')
                assert_int_equal(ssh_buf_put_u8(&crlf, '\r'), 0);
            assert_int_equal(ssh_buf_put_u8(&crlf, (uint8_t)KEY_ED25519[i]), 0);
        }
        assert_int_equal(parse_priv_rv((const char *)ssh_buf_ptr(&crlf), ssh_buf_len(&crlf), NULL),
                         0);
        ssh_buf_free(&crlf);
    }
    /* Garbage after the END line. */
    snprintf(t, len + 64, "%sgarbage\n", KEY_ED25519);
    assert_int_equal(parse_priv_rv(t, strlen(t), NULL), SSH_ERR_TRAILING);
    snprintf(t, len + 64, "%s-----BEGIN OPENSSH PRIVATE KEY-----\n", KEY_ED25519);
    assert_int_equal(parse_priv_rv(t, strlen(t), NULL), SSH_ERR_TRAILING);
    /* Bad base64: a character outside the alphabet, one character
     * missing, a space inside a line. */
    memcpy(t, KEY_ED25519, len + 1);
    t[50] = '*';
    assert_int_equal(parse_priv_rv(t, len, NULL), SSH_ERR_FORMAT);
    memcpy(t, KEY_ED25519, len + 1);
    memmove(t + 50, t + 51, len - 50);
    assert_int_equal(parse_priv_rv(t, len - 1, NULL), SSH_ERR_FORMAT);
    memcpy(t, KEY_ED25519, len + 1);
    t[60] = ' ';
    assert_int_equal(parse_priv_rv(t, len, NULL), SSH_ERR_FORMAT);
    /* No END line, no BEGIN line, empty input, random text. */
    memcpy(t, KEY_ED25519, len + 1);
    char *end = strstr(t, "-----END");
    assert_non_null(end);
    *end = '\0';
    assert_int_equal(parse_priv_rv(t, strlen(t), NULL), SSH_ERR_FORMAT);
    assert_int_not_equal(parse_priv_rv(KEY_ED25519 + 36, len - 36, NULL), 0);
    assert_int_equal(parse_priv_rv("", 0, NULL), SSH_ERR_FORMAT);
    assert_int_equal(parse_priv_rv("hello world", 11, NULL), SSH_ERR_FORMAT);
    /* BEGIN line not followed by a newline. */
    snprintf(t, len + 64, "-----BEGIN OPENSSH PRIVATE KEY-----x\n");
    assert_int_equal(parse_priv_rv(t, strlen(t), NULL), SSH_ERR_FORMAT);
    free(t);

    /* Wrong magic. */
    ssh_buf blob;
    decode_file(KEY_ED25519, &blob);
    ssh_buf_mutable_ptr(&blob)[14] = 'x'; /* the NUL after the magic */
    assert_int_equal(armored_rv(&blob, NULL), SSH_ERR_FORMAT);
    ssh_buf_free(&blob);
}

/* Offset and length of the private section of a decoded key file. */
static void section_of(const ssh_buf *blob, size_t *off, size_t *len)
{
    ssh_cur c;
    const uint8_t *p;
    ssh_cur_from_buf(&c, blob);
    assert_int_equal(ssh_cur_skip(&c, 15), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(ssh_cur_get_string(&c, NULL, NULL), 0);
    assert_int_equal(ssh_cur_skip(&c, 4), 0);
    assert_int_equal(ssh_cur_get_string(&c, NULL, NULL), 0);
    assert_int_equal(ssh_cur_get_string(&c, &p, len), 0);
    *off = (size_t)(p - ssh_buf_ptr(blob));
}

static void test_keyfile_encrypted_tamper(void **state)
{
    (void)state;
    /* Flipped ciphertext bits: GCM's tag catches any of them; with CTR a
     * change in the first block breaks the check words and one further on
     * breaks the structure or the key.  Either way the key is refused. */
    const char *files[] = {KEY_ENC_GCM, KEY_ENC_CTR};
    for (size_t j = 0; j < 2; j++) {
        ssh_buf blob;
        size_t off, len;
        decode_file(files[j], &blob);
        section_of(&blob, &off, &len);
        uint8_t *p = ssh_buf_mutable_ptr(&blob) + off;
        p[len - 1] ^= 0x40; /* last byte: padding */
        assert_int_not_equal(armored_rv(&blob, "test-pass"), 0);
        p[len - 1] ^= 0x40;
        p[2] ^= 0x01; /* check1 */
        assert_int_equal(armored_rv(&blob, "test-pass"), SSH_ERR_KEY_PASSPHRASE);
        p[2] ^= 0x01;
        if (j == 0) {
            p[len] ^= 0x01; /* the GCM tag itself */
            assert_int_equal(armored_rv(&blob, "test-pass"), SSH_ERR_KEY_PASSPHRASE);
            p[len] ^= 0x01;
        }
        assert_int_equal(armored_rv(&blob, "test-pass"), 0);
        ssh_buf_free(&blob);
    }
}

static void test_pem_errors(void **state)
{
    (void)state;
    /* Curves and sizes we do not do. */
    assert_int_equal(parse_priv_rv(KEY_SECP256K1_PEM, strlen(KEY_SECP256K1_PEM), NULL),
                     SSH_ERR_KEY_TYPE);
    assert_int_equal(parse_priv_rv(KEY_RSA768_PKCS8, strlen(KEY_RSA768_PKCS8), NULL),
                     SSH_ERR_KEY_INVALID);
    /* Not a private key. */
    static const char pub[] = "-----BEGIN PUBLIC KEY-----\n"
                              "MCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n"
                              "-----END PUBLIC KEY-----\n";
    assert_int_equal(parse_priv_rv(pub, strlen(pub), NULL), SSH_ERR_FORMAT);
    /* Damaged PEM body. */
    size_t len = strlen(KEY_RSA_PEM);
    char *t = malloc(len + 1);
    assert_non_null(t);
    memcpy(t, KEY_RSA_PEM, len + 1);
    t[100] = '*';
    assert_int_not_equal(parse_priv_rv(t, len, NULL), 0);
    /* Truncations of a PEM file. */
    for (size_t i = 0; i + 40 < len; i += 37)
        assert_int_not_equal(parse_priv_rv(KEY_RSA_PEM, i, NULL), 0);
    free(t);
    ssh_key *k = NULL;
    assert_int_equal(ssh_key_parse_private_public((const uint8_t *)KEY_SECP256K1_PEM,
                                                  strlen(KEY_SECP256K1_PEM), &k),
                     SSH_ERR_KEY_TYPE);
    assert_null(k);
    assert_int_equal(ssh_key_parse_private(NULL, 0, NULL, &k, NULL), SSH_ERR_ARGUMENT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_blowfish_pi),
        cmocka_unit_test(test_blowfish_vectors),
        cmocka_unit_test(test_bcrypt_pbkdf),
        cmocka_unit_test(test_base64),
        cmocka_unit_test(test_keygen_keys),
        cmocka_unit_test(test_encrypted_ctr),
        cmocka_unit_test(test_encrypted_gcm),
        cmocka_unit_test(test_encrypted_cbc),
        cmocka_unit_test(test_encrypted_pem),
        cmocka_unit_test(test_sshsig_openssh),
        cmocka_unit_test(test_write_openssh),
        cmocka_unit_test(test_generate),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_public_line),
        cmocka_unit_test(test_blob_truncation),
        cmocka_unit_test(test_blob_invalid),
        cmocka_unit_test(test_sig_invalid),
        cmocka_unit_test(test_rsa_sig_length),
        cmocka_unit_test(test_keyfile_structure),
        cmocka_unit_test(test_keyfile_rsa_private),
        cmocka_unit_test(test_keyfile_truncation),
        cmocka_unit_test(test_keyfile_text),
        cmocka_unit_test(test_keyfile_encrypted_tamper),
        cmocka_unit_test(test_pem_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
