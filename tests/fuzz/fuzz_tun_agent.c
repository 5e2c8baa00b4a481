/*
 * fuzz_tun_agent.c - the ssh-agent identities answer
 * (SSH_AGENT_IDENTITIES_ANSWER body: uint32 nkeys, then nkeys times string
 * key-blob, string comment), as tun_agent_parse_identities() decodes it.
 *
 * Input: the body after the message type byte.
 *
 * Checked: an error leaves the outputs untouched (nothing to free); on
 * success there are at most nkeys keys, each with a comment, each usable
 * as a public key (fingerprint, blob); written back in the same format the
 * answer parses to the same keys and comments.
 */
#include <string.h>

#include "fuzz_tun.h"
#include "sshtun/buf.h"
#include "sshtun/key.h"
#include "tun_agent.h"

static void free_all(ssh_key **keys, char **comments, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        ssh_key_free(keys[i]);
        free(comments[i]);
    }
    free(keys);
    free(comments);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_tun_devnull();
    ssh_key **keys = (ssh_key **)(uintptr_t)1;
    char **comments = (char **)(uintptr_t)1;
    size_t n = (size_t)-1;
    int rv = tun_agent_parse_identities(data, size, &keys, &comments, &n);
    if (rv != 0) {
        CHECK(rv < 0);
        CHECK(keys == (ssh_key **)(uintptr_t)1 && comments == (char **)(uintptr_t)1 &&
              n == (size_t)-1);
        return 0;
    }
    CHECK(size >= 4 && n <= ssh_peek_u32(data));
    CHECK(keys != NULL && comments != NULL);

    /* Re-encode what was understood and parse it again. */
    ssh_buf out, blob;
    ssh_buf_init(&out, 0, 0);
    ssh_buf_init(&blob, 0, 0);
    CHECK(ssh_buf_put_u32(&out, (uint32_t)n) == 0);
    for (size_t i = 0; i < n; i++) {
        char fp[SSH_KEY_FP_MAX];
        CHECK(keys[i] != NULL && comments[i] != NULL);
        CHECK(!ssh_key_has_private(keys[i]));
        CHECK(ssh_key_fingerprint(keys[i], fp, sizeof(fp)) == 0);
        ssh_buf_reset(&blob);
        CHECK(ssh_key_to_blob(keys[i], &blob) == 0);
        CHECK(ssh_buf_put_stringb(&out, &blob) == 0);
        CHECK(ssh_buf_put_cstring(&out, comments[i]) == 0);
    }
    ssh_key **k2 = NULL;
    char **c2 = NULL;
    size_t n2 = 0;
    CHECK(tun_agent_parse_identities(ssh_buf_ptr(&out), out.len, &k2, &c2, &n2) == 0);
    CHECK(n2 == n);
    for (size_t i = 0; i < n; i++) {
        CHECK(ssh_key_equal_public(keys[i], k2[i]));
        CHECK(strcmp(comments[i], c2[i]) == 0);
    }
    free_all(k2, c2, n2);
    ssh_buf_free(&blob);
    ssh_buf_free(&out);
    free_all(keys, comments, n);
    return 0;
}
