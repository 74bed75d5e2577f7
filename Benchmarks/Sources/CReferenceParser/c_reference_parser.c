// Per line: memchr for the newline, memmem for the event name, the timestamp read backwards
// from it, the CPU column, and the nr/a0/a1/a2 hex fields: the work encmon's parser does for
// the same line, without its validation and error reporting.
#define _GNU_SOURCE
#include "c_reference_parser.h"
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char needle[] = ": kvm_hypercall: nr ";

static const uint8_t *hex(const uint8_t *p, const uint8_t *end, uint64_t *out) {
    uint64_t v = 0;
    if (end - p >= 2 && p[0] == '0' && p[1] == 'x') p += 2;
    for (; p < end; p++) {
        unsigned c = *p, d;
        if (c - '0' < 10) d = c - '0';
        else if ((c | 32) - 'a' < 6) d = (c | 32) - 'a' + 10;
        else break;
        v = v << 4 | d;
    }
    *out = v;
    return p;
}

static const uint8_t *field(const uint8_t *p, const uint8_t *end, const char *name, uint64_t *out) {
    size_t n = strlen(name);
    if ((size_t)(end - p) < n || memcmp(p, name, n) != 0) return NULL;
    return hex(p + n, end, out);
}

static void line(const uint8_t *s, const uint8_t *e, struct c_tally *t) {
    const uint8_t *hit = memmem(s, (size_t)(e - s), needle, sizeof needle - 1);
    if (!hit) return;
    // Timestamp "SECONDS.MICROS" just before the event name.
    const uint8_t *q = hit;
    while (q > s && q[-1] != ' ') q--;
    uint64_t sec = 0, frac = 0;
    const uint8_t *r = q;
    for (; r < hit && *r != '.'; r++) sec = sec * 10 + (*r - '0');
    for (r++; r < hit; r++) frac = frac * 10 + (*r - '0');
    // CPU column "[NNN]".
    const uint8_t *b = memchr(s, '[', (size_t)(hit - s));
    uint64_t cpu = 0;
    if (b) for (b++; b < hit && *b != ']'; b++) cpu = cpu * 10 + (*b - '0');
    uint64_t nr, a0, a1, a2;
    const uint8_t *p = hex(hit + sizeof needle - 1, e, &nr);
    if (!(p = field(p, e, " a0 ", &a0))) return;
    if (!(p = field(p, e, " a1 ", &a1))) return;
    if (!(p = field(p, e, " a2 ", &a2))) return;
    t->events++;
    t->checksum += nr ^ a0 ^ (a1 << 7) ^ (a2 << 13) ^ sec ^ (frac << 3) ^ cpu;
}

void c_parse_buffer(const uint8_t *buf, size_t len, struct c_tally *t) {
    const uint8_t *p = buf, *end = buf + len;
    while (p < end) {
        const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl) nl = end;
        line(p, nl, t);
        p = nl + 1;
    }
}

int c_parse_file(const char *path, struct c_tally *t) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) return -1;
    const size_t chunk = 1 << 20;
    uint8_t *buf = malloc(2 * chunk);
    size_t have = 0;
    for (;;) {
        ssize_t n = read(fd, buf + have, chunk);
        if (n <= 0) break;
        have += (size_t)n;
        // Parse the whole lines; carry the partial last line to the front.
        const uint8_t *last = memrchr(buf, '\n', have);
        if (!last) continue;
        size_t whole = (size_t)(last - buf) + 1;
        c_parse_buffer(buf, whole, t);
        memmove(buf, buf + whole, have - whole);
        have -= whole;
    }
    if (have) c_parse_buffer(buf, have, t);
    free(buf);
    close(fd);
    return 0;
}
