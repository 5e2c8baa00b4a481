/*
 * fuzz_client.c - arbitrary bytes from a "server" into a client engine.
 *
 * The input layout (mode byte, chunking byte, peer bytes) and what each
 * mode reaches are described in fuzz_harness.h.  Mode A starts at the
 * server's identification (banner lines allowed); B with an authentication
 * attempt outstanding (plaintext); C and D in the connection phase with a
 * session channel open (and more, for D) waiting for its confirmation.
 * Once authenticated the client opens a session and sends pty-req, env and
 * exec when it is confirmed, so channel replies and data parse.
 */
#include "fuzz_harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_run(0, data, size, NULL);
    return 0;
}
