/*
 * tun_prompt.h - asking the user: passphrases, passwords, host key
 * confirmation.  Reads from /dev/tty with echo off, or runs $SSH_ASKPASS as
 * OpenSSH does (SSH_ASKPASS_REQUIRE=force|prefer|never; by default askpass is
 * used only without a terminal and with DISPLAY/WAYLAND_DISPLAY set).
 * These calls block: they are made only while the user is being asked.
 */
#ifndef SSHTUN_TUN_PROMPT_H
#define SSHTUN_TUN_PROMPT_H

#include <stddef.h>
#include <stdint.h>

/* Returns 0 with the answer (without newline) in out, or -1 if nobody can
 * be asked or the user cancelled.  Wipe `out` after use. */
int tun_prompt(const char *prompt, int echo, char *out, size_t outsz);
/* Is there any way to ask (a tty or askpass)? */
int tun_prompt_possible(void);
/* Milliseconds spent so far waiting for the user in tun_prompt(): time
 * limits on the network (ConnectTimeout) leave it out. */
uint64_t tun_prompt_waited_ms(void);

#endif
