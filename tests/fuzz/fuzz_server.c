/*
 * fuzz_server.c - arbitrary bytes from a "client" into a server engine.
 *
 * The input layout (mode byte, chunking byte, peer bytes) and what each
 * mode reaches are described in fuzz_harness.h.  Mode A starts at the
 * identification string; B starts in the authentication phase (plaintext,
 * SERVICE_REQUEST first); C and D in the connection phase.
 */
#include "fuzz_harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_run(1, data, size, NULL);
    return 0;
}
