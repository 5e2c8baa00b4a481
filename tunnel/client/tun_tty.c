/*
 * tun_tty.c - local terminal handling.
 *
 * Raw mode mirrors what an ssh client needs: no local echo, no line
 * editing, no signal characters (^C goes to the remote side), no output
 * processing.  The saved settings are restored from an atexit handler too,
 * so that no exit path leaves the user's terminal raw.  The same goes for
 * the O_NONBLOCK flag the event loop sets on our stdin/stdout/stderr.
 */
#include "tun_tty.h"
#include "tun_log.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

static struct termios saved;
static int saved_fd = -1;
static int atexit_done;
/* Descriptor flags as found, for stdin/stdout/stderr; -1: not changed. */
static int saved_fl[3] = {-1, -1, -1};

static void at_exit_once(void)
{
    if (!atexit_done) {
        atexit(tun_tty_restore);
        atexit_done = 1;
    }
}

/* RFC 4254 section 8 opcodes, in the order they are sent. */
static const struct {
    uint8_t op;
    int cc; /* index into c_cc, or -1 */
} cc_ops[] = {
    {1, VINTR},   {2, VQUIT},  {3, VERASE},  {4, VKILL},     {5, VEOF},
    {6, VEOL},    {7, VEOL2},  {8, VSTART},  {9, VSTOP},     {10, VSUSP},
    {12, VREPRINT}, {13, VWERASE}, {14, VLNEXT}, {18, VDISCARD},
};

static const struct {
    uint8_t op;
    int which; /* 0 iflag, 1 lflag, 2 oflag, 3 cflag */
    tcflag_t bit;
} flag_ops[] = {
    {30, 0, IGNPAR}, {31, 0, PARMRK}, {32, 0, INPCK},  {33, 0, ISTRIP}, {34, 0, INLCR},
    {35, 0, IGNCR},  {36, 0, ICRNL},  {38, 0, IXON},   {39, 0, IXANY},  {40, 0, IXOFF},
    {41, 0, IMAXBEL}, {42, 0, IUTF8},
    {50, 1, ISIG},   {51, 1, ICANON}, {53, 1, ECHO},   {54, 1, ECHOE},  {55, 1, ECHOK},
    {56, 1, ECHONL}, {57, 1, NOFLSH}, {58, 1, TOSTOP}, {59, 1, IEXTEN}, {60, 1, ECHOCTL},
    {61, 1, ECHOKE}, {62, 1, PENDIN},
    {70, 2, OPOST},  {72, 2, ONLCR},  {73, 2, OCRNL},  {74, 2, ONOCR},  {75, 2, ONLRET},
    {90, 3, CS7},    {91, 3, CS8},    {92, 3, PARENB}, {93, 3, PARODD},
};

static uint32_t baud(speed_t s)
{
    static const struct {
        speed_t s;
        uint32_t b;
    } t[] = {{B9600, 9600},   {B19200, 19200},   {B38400, 38400},   {B57600, 57600},
             {B115200, 115200}, {B230400, 230400}, {B460800, 460800}};
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
        if (t[i].s == s)
            return t[i].b;
    return 38400;
}

int tun_tty_modes(int fd, ssh_buf *out)
{
    struct termios tio;
    int rv = 0;
    if (isatty(fd) && tcgetattr(fd, &tio) == 0) {
        for (size_t i = 0; i < sizeof(cc_ops) / sizeof(cc_ops[0]) && rv == 0; i++) {
            if ((rv = ssh_buf_put_u8(out, cc_ops[i].op)) == 0)
                rv = ssh_buf_put_u32(out, tio.c_cc[cc_ops[i].cc]);
        }
        for (size_t i = 0; i < sizeof(flag_ops) / sizeof(flag_ops[0]) && rv == 0; i++) {
            tcflag_t f = flag_ops[i].which == 0   ? tio.c_iflag
                         : flag_ops[i].which == 1 ? tio.c_lflag
                         : flag_ops[i].which == 2 ? tio.c_oflag
                                                  : tio.c_cflag;
            tcflag_t bit = flag_ops[i].bit;
            int on = flag_ops[i].which == 3 && (bit == CS7 || bit == CS8) ? (f & CSIZE) == bit
                                                                          : (f & bit) != 0;
            if ((rv = ssh_buf_put_u8(out, flag_ops[i].op)) == 0)
                rv = ssh_buf_put_u32(out, on ? 1 : 0);
        }
        if (rv == 0 && (rv = ssh_buf_put_u8(out, 128)) == 0)
            rv = ssh_buf_put_u32(out, baud(cfgetispeed(&tio)));
        if (rv == 0 && (rv = ssh_buf_put_u8(out, 129)) == 0)
            rv = ssh_buf_put_u32(out, baud(cfgetospeed(&tio)));
    }
    if (rv == 0)
        rv = ssh_buf_put_u8(out, 0); /* TTY_OP_END */
    return rv;
}

void tun_tty_size(int fd, uint32_t *cols, uint32_t *rows, uint32_t *wpx, uint32_t *hpx)
{
    struct winsize ws;
    if (isatty(fd) && ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) {
        *cols = ws.ws_col;
        *rows = ws.ws_row;
        *wpx = ws.ws_xpixel;
        *hpx = ws.ws_ypixel;
    } else {
        *cols = 80;
        *rows = 24;
        *wpx = *hpx = 0;
    }
}

void tun_tty_nonblock(int fd)
{
    if (fd < 0 || fd > 2)
        return;
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || (fl & O_NONBLOCK))
        return; /* already non-blocking (perhaps by us through another fd) */
    if (fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0)
        return;
    saved_fl[fd] = fl;
    at_exit_once();
}

void tun_tty_restore(void)
{
    if (saved_fd >= 0) {
        tcsetattr(saved_fd, TCSADRAIN, &saved);
        saved_fd = -1;
        tun_log_set_crlf(0);
    }
    /* Several of 0-2 may be one open file (a terminal): each was saved
     * before any was changed, so restoring them all gives the original. */
    for (int fd = 2; fd >= 0; fd--) {
        if (saved_fl[fd] >= 0) {
            fcntl(fd, F_SETFL, saved_fl[fd]);
            saved_fl[fd] = -1;
        }
    }
}

int tun_tty_is_raw(void)
{
    return saved_fd >= 0;
}

int tun_tty_raw(int fd)
{
    struct termios tio;
    if (!isatty(fd) || tcgetattr(fd, &tio) != 0)
        return -1;
    saved = tio;
    tio.c_iflag |= IGNPAR;
    tio.c_iflag &= ~(tcflag_t)(ISTRIP | INLCR | IGNCR | ICRNL | IXON | IXANY | IXOFF);
    tio.c_lflag &= ~(tcflag_t)(ISIG | ICANON | ECHO | ECHOE | ECHOK | ECHONL | IEXTEN);
    tio.c_oflag &= ~(tcflag_t)OPOST;
    tio.c_cc[VMIN] = 1;
    tio.c_cc[VTIME] = 0;
    if (tcsetattr(fd, TCSADRAIN, &tio) != 0)
        return -1;
    saved_fd = fd;
    tun_log_set_crlf(1);
    at_exit_once();
    return 0;
}
