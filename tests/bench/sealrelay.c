/*
 * sealrelay.c - the least any encrypting relay can cost on this machine, for
 * bench.sh forward-py: accept one connection on 127.0.0.1:LISTEN, connect to
 * 127.0.0.1:DEST, and move everything with blocking 256 KiB reads and
 * writes, sealing every 32 KiB in place with libcrypto (aes128-gcm or
 * chacha20-poly1305, RFC 8439's: the same cipher work as SSH's packets, no
 * protocol).  At EOF it shuts the write side, waits for the other's EOF and
 * prints its own CPU seconds: "user sys".
 *
 *   sealrelay LISTEN DEST aes|chacha
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define CHUNK  (256 * 1024)
#define PACKET 32768

int main(int argc, char **argv)
{
    if (argc != 4)
        return 2;
    int one = 1, ls = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    a.sin_port = htons((unsigned short)atoi(argv[1]));
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(ls, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(ls, 1) != 0)
        return 1;
    int in = accept(ls, NULL, NULL), out = socket(AF_INET, SOCK_STREAM, 0);
    a.sin_port = htons((unsigned short)atoi(argv[2]));
    if (in < 0 || connect(out, (struct sockaddr *)&a, sizeof(a)) != 0)
        return 1;
    setsockopt(out, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    const EVP_CIPHER *cipher = argv[3][0] == 'a' ? EVP_aes_128_gcm() : EVP_chacha20_poly1305();
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    unsigned char key[32] = {1}, iv[12] = {2}, tag[16];
    if (ctx == NULL || EVP_EncryptInit_ex2(ctx, cipher, key, iv, NULL) != 1)
        return 1;
    unsigned char *buf = malloc(CHUNK);
    if (buf == NULL)
        return 1;
    for (;;) {
        ssize_t r = read(in, buf, CHUNK);
        if (r <= 0)
            break;
        for (ssize_t o = 0; o < r; o += PACKET) {
            int n = r - o < PACKET ? (int)(r - o) : PACKET, l;
            iv[11]++; /* a new nonce per packet, as SSH's sequence number */
            if (EVP_EncryptInit_ex2(ctx, NULL, NULL, iv, NULL) != 1 ||
                EVP_EncryptUpdate(ctx, NULL, &l, buf + o, 4) != 1 || /* the length as AAD */
                EVP_EncryptUpdate(ctx, buf + o, &l, buf + o, n) != 1 ||
                EVP_EncryptFinal_ex(ctx, tag, &l) != 1 ||
                EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, 16, tag) != 1)
                return 1;
        }
        for (ssize_t o = 0; o < r;) {
            ssize_t w = write(out, buf + o, (size_t)(r - o));
            if (w <= 0)
                return 1;
            o += w;
        }
    }
    shutdown(out, SHUT_WR);
    char x[4096];
    while (read(out, x, sizeof(x)) > 0)
        ;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("%.3f %.3f\n", ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6,
           ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6);
    return 0;
}
