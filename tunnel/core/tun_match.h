/*
 * tun_match.h - OpenSSH pattern matching (ssh_config(5) "PATTERNS").
 *
 * A pattern is a string with '*' (any run of characters) and '?' (any one
 * character), compared case-insensitively; a pattern list is
 * comma-separated and an entry starting with '!' negates: a name matching a
 * negated entry is refused whatever else matches.
 */
#ifndef SSHTUN_TUN_MATCH_H
#define SSHTUN_TUN_MATCH_H

/* Does `name` match the comma-separated pattern list?  1 match, 0 no
 * match, -1 a negated entry matched. */
int tun_match_pattern_list(const char *name, const char *list);
/* Single pattern with '*' and '?', case-insensitive.  O(len(s)*len(p)). */
int tun_match_pattern(const char *s, const char *pattern);

#endif
