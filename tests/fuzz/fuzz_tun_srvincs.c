/*
 * fuzz_tun_srvincs.c - what Include read, as a configuration bundle
 * carries it (tunnel/server/tun_srvconfig.h: tun_srvcfg_incs_get) from
 * arbitrary bytes, then replayed into a parse.
 *
 * Checked: what parses writes back (tun_srvcfg_incs_put) to exactly the
 * bytes it was read from, and parses again; a configuration whose Include
 * is served from it parses or fails with messages, never reading a file
 * (replay mode), and frees cleanly.
 */
#include <string.h>

#include "fuzz_tun.h"
#include "sshtun/buf.h"
#include "tun_srvconfig.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    (void)fuzz_tun_devnull();
    ssh_cur c;
    ssh_cur_init(&c, data, size);
    tun_srvcfg_incs *r = tun_srvcfg_incs_get(&c);
    if (r == NULL)
        return 0;
    size_t used = size - c.len;
    ssh_buf b;
    ssh_buf_init(&b, 0, 0);
    CHECK(tun_srvcfg_incs_put(r, &b) == 0);
    CHECK(ssh_buf_len(&b) == used && memcmp(ssh_buf_ptr(&b), data, used) == 0);
    ssh_cur c2;
    ssh_cur_init(&c2, ssh_buf_ptr(&b), ssh_buf_len(&b));
    tun_srvcfg_incs *r2 = tun_srvcfg_incs_get(&c2);
    CHECK(r2 != NULL && c2.len == 0);
    tun_srvcfg_incs_free(r2);
    ssh_buf_free(&b);
    /* served to a parse whose Include names the common shapes */
    static const char text[] = "Port 2222\nInclude /etc/ssh/sshd_config.d/*.conf\n"
                               "Include x.conf /srv/a\nMatch User u\nInclude /srv/m/*\n";
    tun_srvcfg cfg;
    tun_srvcfg_init(&cfg);
    tun_srvcfg_incs_use(&cfg, r, 1);
    if (tun_srvcfg_read_mem(&cfg, text, sizeof(text) - 1, "fuzz") == 0)
        (void)tun_srvcfg_finish(&cfg);
    tun_srvcfg_free(&cfg);
    tun_srvcfg_incs_free(r);
    return 0;
}
