/* A hostile guest for encmon's load test and benchmark, as the uprobe stand-in: its non-inlined
 * f(nr, a0, a1, a2, a3) carries a uprobe with kvm:kvm_hypercall's field names, and every call is one
 * MAP_GPA_RANGE (nr 12) of ONE page. It flips alternating single pages across its whole memory:
 * pass p shares page 2i+(p&1) and makes page 2i+1-(p&1) private, for every i, so half the pages are
 * shared at any moment, each its own region (the most fragmented shared set there is).
 *
 *   hostile-flipper PAGES SECONDS [CALLS_PER_SECOND] [few]
 *
 * PAGES: guest span in 4 KiB pages from 0x100000000; SECONDS: how long; CALLS_PER_SECOND: 0 (default)
 * = as fast as the probe lets it. `few`: the baseline load, the same calls but on 8 pages only,
 * so the shared set stays at 4 regions. Waits for one line on stdin before it starts; prints
 * "done CALLS" at the end. Exits by itself after SECONDS + 60 (alarm) so it is never left behind.
 * Build: gcc -O1 -o hostile-flipper hostile-flipper.c */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

__attribute__((noinline)) void f(uint64_t nr, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3) {
    __asm__ volatile("" ::: "memory");
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: %s PAGES SECONDS [CALLS_PER_SECOND] [few]\n", argv[0]); return 2; }
    uint64_t pages = strtoull(argv[1], NULL, 0);
    double seconds = atof(argv[2]);
    double rate = argc > 3 ? atof(argv[3]) : 0;
    if (argc > 4 && strcmp(argv[4], "few") == 0) pages = 8;
    if (pages < 2) pages = 2;
    alarm((unsigned)seconds + 60);
    char line[64];
    if (!fgets(line, sizeof line, stdin)) return 3;
    const uint64_t base = 0x100000000ull;
    uint64_t calls = 0;
    double start = now(), end = start + seconds;
    for (uint64_t pass = 0;; pass++) {
        for (uint64_t i = 0; i + 1 < pages; i += 2) {
            uint64_t shared = i + (pass & 1), private = i + 1 - (pass & 1);
            f(12, base + (shared << 12), 1, 0x0, 0);
            f(12, base + (private << 12), 1, 0x10, 0);
            calls += 2;
            if ((calls & 1023) == 0) {
                double t = now();
                if (t >= end) goto out;
                if (rate > 0) {
                    double ahead = calls / rate - (t - start);
                    if (ahead > 0) usleep((useconds_t)(ahead * 1e6));
                }
            }
        }
    }
out:
    printf("done %llu\n", (unsigned long long)calls);
    fflush(stdout);
    return 0;
}
