#include <stdint.h>
__attribute__((noinline)) void kvm_hypercall_standin(uint64_t nr, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3) { __asm__ volatile("" ::: "memory"); }
#include <stdlib.h>
int main(int c, char **v) { uint64_t n = c > 1 ? strtoull(v[1], 0, 10) : 20000; for (uint64_t i = 0; i < n; i++) kvm_hypercall_standin(12, 0x100000000ull + (i << 12), 1, (i & 1) << 4, 0); return 0; }
