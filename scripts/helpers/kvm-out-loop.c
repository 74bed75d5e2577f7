/* A minimal KVM VM for encmon's tests: one vCPU running a real-mode guest that loops on `out`.
 *
 * Opens /dev/kvm, creates a VM with 64 KiB of guest memory and vCPU 0 in a thread named
 * "CPU 0/KVM" (QEMU's name for vCPU threads), prints "ready <pid> <vcpu tid>" on stdout and keeps
 * running KVM_RUN; each `out` exit sleeps 1 ms so the guest costs little CPU. Extra arguments are
 * ignored, so a test can pass QEMU-like `-name guest=NAME -m SIZE` for discovery to read.
 * Like QEMU >= 8.2 it keeps KVM_GET_STATS_FD descriptors open (VM and vCPU; KVM answers that
 * ioctl only inside the VM's own process); `--no-stats-fds` leaves them closed, and
 * `--vcpu-stats-fds-only` keeps only the vCPU's, as QEMU 8.2 and later do.
 * Exits by itself after 120 s (alarm) so a crashed test never leaves it behind.
 * Build: gcc -O1 -pthread -o kvm-out-loop kvm-out-loop.c */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#define GUEST_SIZE 0x10000
#define CODE_GPA 0x1000

static int vcpu_fd;
static struct kvm_run *run;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t started = PTHREAD_COND_INITIALIZER;
static pid_t vcpu_tid;

static void fail(const char *what) { perror(what); exit(2); }

static void *vcpu_thread(void *arg) {
    (void)arg;
    prctl(PR_SET_NAME, "CPU 0/KVM");
    pthread_mutex_lock(&lock);
    vcpu_tid = (pid_t)syscall(SYS_gettid);
    pthread_cond_signal(&started);
    pthread_mutex_unlock(&lock);
    for (;;) {
        if (ioctl(vcpu_fd, KVM_RUN, 0) < 0) fail("KVM_RUN");
        if (run->exit_reason != KVM_EXIT_IO) {
            fprintf(stderr, "unexpected exit reason %u\n", run->exit_reason);
            exit(3);
        }
        usleep(1000);
    }
    return NULL;
}

int main(int argc, char **argv) {
    int keep_vm_stats_fd = 1, keep_vcpu_stats_fd = 1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--no-stats-fds") == 0) keep_vm_stats_fd = keep_vcpu_stats_fd = 0;
        if (strcmp(argv[i], "--vcpu-stats-fds-only") == 0) keep_vm_stats_fd = 0;
    }
    alarm(120);
    int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (kvm < 0) fail("/dev/kvm");
    int vm = ioctl(kvm, KVM_CREATE_VM, 0);
    if (vm < 0) fail("KVM_CREATE_VM");
    uint8_t *mem = mmap(NULL, GUEST_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) fail("mmap guest memory");
    /* mov dx, 0x3f8; again: out dx, al; jmp again */
    const uint8_t code[] = { 0xba, 0xf8, 0x03, 0xee, 0xeb, 0xfd };
    memcpy(mem + CODE_GPA, code, sizeof code);
    struct kvm_userspace_memory_region region = {
        .slot = 0, .guest_phys_addr = 0, .memory_size = GUEST_SIZE, .userspace_addr = (uint64_t)(uintptr_t)mem,
    };
    if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0) fail("KVM_SET_USER_MEMORY_REGION");
    vcpu_fd = ioctl(vm, KVM_CREATE_VCPU, 0);
    if (vcpu_fd < 0) fail("KVM_CREATE_VCPU");
    int run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
    if (run_size < (int)sizeof *run) fail("KVM_GET_VCPU_MMAP_SIZE");
    run = mmap(NULL, (size_t)run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu_fd, 0);
    if (run == MAP_FAILED) fail("mmap kvm_run");
    struct kvm_sregs sregs;
    if (ioctl(vcpu_fd, KVM_GET_SREGS, &sregs) < 0) fail("KVM_GET_SREGS");
    sregs.cs.base = 0;
    sregs.cs.selector = 0;
    if (ioctl(vcpu_fd, KVM_SET_SREGS, &sregs) < 0) fail("KVM_SET_SREGS");
    struct kvm_regs regs = { .rip = CODE_GPA, .rflags = 0x2 };
    if (ioctl(vcpu_fd, KVM_SET_REGS, &regs) < 0) fail("KVM_SET_REGS");

    if (keep_vm_stats_fd && ioctl(vm, KVM_GET_STATS_FD, 0) < 0) fail("KVM_GET_STATS_FD on the VM");
    if (keep_vcpu_stats_fd && ioctl(vcpu_fd, KVM_GET_STATS_FD, 0) < 0) fail("KVM_GET_STATS_FD on vCPU 0");

    pthread_t thread;
    pthread_mutex_lock(&lock);
    if (pthread_create(&thread, NULL, vcpu_thread, NULL) != 0) fail("pthread_create");
    while (vcpu_tid == 0) pthread_cond_wait(&started, &lock);
    pthread_mutex_unlock(&lock);
    printf("ready %d %d\n", (int)getpid(), (int)vcpu_tid);
    fflush(stdout);
    pthread_join(thread, NULL);
    return 0;
}
