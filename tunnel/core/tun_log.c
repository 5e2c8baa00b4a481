/*
 * tun_log.c - leveled logging to stderr or a file.
 *
 * Debug lines carry OpenSSH's "debug1: " style prefixes so that people who
 * read `ssh -v` output feel at home; errors are printed bare, as ssh does.
 */
#include "tun_log.h"

#include <stdarg.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

static enum tun_log_level level = TUN_LOG_INFO;
static FILE *out;
static int use_syslog;
static int stamp;
static int crlf;

void tun_log_set_crlf(int on)
{
    crlf = on;
}

int tun_log_to_stderr(void)
{
    return !use_syslog && out == NULL;
}

const char *tun_log_level_name(enum tun_log_level lvl)
{
    static const char *const names[] = {"QUIET",   "FATAL",  "ERROR",  "INFO",
                                        "VERBOSE", "DEBUG1", "DEBUG2", "DEBUG3"};
    return (unsigned)lvl < 8 ? names[lvl] : "INFO";
}

void tun_log_set_syslog(const char *ident, int facility)
{
    openlog(ident, LOG_PID | LOG_NDELAY, facility);
    use_syslog = 1;
}

void tun_log_set_stamp(int on)
{
    stamp = on;
}

void tun_log_set_level(enum tun_log_level lvl)
{
    level = lvl;
}

enum tun_log_level tun_log_get_level(void)
{
    return level;
}

void tun_log_set_file(FILE *f)
{
    out = f;
}

int tun_log_open_file(const char *path)
{
    FILE *f = fopen(path, "a");
    if (f == NULL)
        return -1;
    setvbuf(f, NULL, _IOLBF, 0);
    out = f;
    return 0;
}

int tun_log_level_from_name(const char *name)
{
    static const struct {
        const char *name;
        enum tun_log_level lvl;
    } names[] = {
        {"QUIET", TUN_LOG_QUIET},     {"FATAL", TUN_LOG_FATAL},   {"ERROR", TUN_LOG_ERROR},
        {"INFO", TUN_LOG_INFO},       {"VERBOSE", TUN_LOG_VERBOSE}, {"DEBUG", TUN_LOG_DEBUG1},
        {"DEBUG1", TUN_LOG_DEBUG1},   {"DEBUG2", TUN_LOG_DEBUG2}, {"DEBUG3", TUN_LOG_DEBUG3},
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcasecmp(name, names[i].name) == 0)
            return (int)names[i].lvl;
    return -1;
}

void tun_log(enum tun_log_level lvl, const char *fmt, ...)
{
    if (lvl > level)
        return;
    FILE *f = out ? out : stderr;
    const char *prefix = "";
    switch (lvl) {
    case TUN_LOG_DEBUG1: prefix = "debug1: "; break;
    case TUN_LOG_DEBUG2: prefix = "debug2: "; break;
    case TUN_LOG_DEBUG3: prefix = "debug3: "; break;
    default: break;
    }
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    /* Strip control characters a peer might have smuggled into a message. */
    for (char *p = line; *p; p++)
        if ((unsigned char)*p < 0x20 && *p != '\t')
            *p = '?';
    if (use_syslog) {
        int pri = lvl <= TUN_LOG_FATAL ? LOG_CRIT
                  : lvl == TUN_LOG_ERROR ? LOG_ERR
                  : lvl <= TUN_LOG_VERBOSE ? LOG_INFO
                                           : LOG_DEBUG;
        syslog(pri, "%s%s", prefix, line);
        return;
    }
    if (stamp) {
        char ts[32];
        time_t now = time(NULL);
        struct tm tm;
        localtime_r(&now, &tm);
        strftime(ts, sizeof(ts), "%Y-%m-%d %H:%M:%S", &tm);
        fprintf(f, "%s [%d] %s%s\n", ts, (int)getpid(), prefix, line);
        return;
    }
    fprintf(f, "%s%s%s", prefix, line, crlf && out == NULL ? "\r\n" : "\n");
}
