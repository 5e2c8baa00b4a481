/*
 * sshtun_main.c - the sshtun client program (placeholder until the client
 * issue lands; the engine's integration driver lives in tun_driver.c).
 */
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "-V") == 0) {
        fprintf(stderr, "sshtun %s\n", SSHTUN_VERSION);
        return 0;
    }
    fprintf(stderr, "usage: sshtun [-V]\n");
    return 255;
}
