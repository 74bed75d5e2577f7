// Software prefetch for the region map: Swift has no prefetch intrinsic.
#ifndef ENCMON_CPREFETCH_H
#define ENCMON_CPREFETCH_H

/// Starts loading the cache line holding `address` for reading; never faults, even for an
/// address that is not mapped. Inlined into Swift callers (a static inline header function).
static inline __attribute__((always_inline)) void encmon_prefetch(const void *address) {
    __builtin_prefetch(address, 0, 3);
}

#endif
