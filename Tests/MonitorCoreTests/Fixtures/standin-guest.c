#include <stdint.h>
#include <pthread.h>
#include <unistd.h>
__attribute__((noinline)) void kvm_hypercall_standin(uint64_t nr, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3) {
  __asm__ volatile("" ::: "memory");
}
static void *worker(void *p) {
  (void)p;
  kvm_hypercall_standin(12, 0x80000000, 512, 0x1, 0);     /* 2 MiB shared from a second thread */
  kvm_hypercall_standin(12, 0x90000000, 3, 0x30, 0);      /* reserved bit 5 + bit 4: to private, anomaly */
  return 0;
}
int main(void) {
  pthread_t t;
  kvm_hypercall_standin(12, 0x1f018000, 4, 0x0, 0);
  kvm_hypercall_standin(12, 0x1f01c000, 2, 0x0, 0);
  kvm_hypercall_standin(12, 0x1f019000, 1, 0x10, 0);
  pthread_create(&t, 0, worker, 0);
  pthread_join(t, 0);
  kvm_hypercall_standin(12, 0x1f018001, 1, 0x0, 0);
  kvm_hypercall_standin(12, 0x1f018000, 0, 0x0, 0);
  kvm_hypercall_standin(12, 0xfffffffffffff000, 2, 0x0, 0);
  kvm_hypercall_standin(12, 0x1f030000, 8, 0xffffffffffffffe0, 0);  /* reserved bits, bit4 clear: shared */
  kvm_hypercall_standin(9, 0, 0, 0, 0);
  return 0;
}
