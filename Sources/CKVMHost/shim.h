#ifndef CKVMHOST_SHIM_H
#define CKVMHOST_SHIM_H
// Swift cannot call variadic C functions (syscall, ioctl): one fixed-signature inline per use.
#include <errno.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

// pidfd_open(2), x86_64 syscall 434 (glibc 2.36 wraps it, but not through a header Swift imports).
static inline int ckvm_pidfd_open(int pid, unsigned int flags) {
    return (int)syscall(434, pid, flags);
}

// pidfd_getfd(2), x86_64 syscall 438: a copy of `targetfd` of the pidfd's process.
static inline int ckvm_pidfd_getfd(int pidfd, int targetfd, unsigned int flags) {
    return (int)syscall(438, pidfd, targetfd, flags);
}

// An ioctl without an argument (KVM_GET_STATS_FD = _IO(KVMIO, 0xce)).
static inline int ckvm_ioctl_none(int fd, unsigned long request) {
    return ioctl(fd, request, 0);
}

// An ioctl with a pointer argument.
static inline int ckvm_ioctl_pointer(int fd, unsigned long request, void *argument) {
    return ioctl(fd, request, argument);
}

#endif
