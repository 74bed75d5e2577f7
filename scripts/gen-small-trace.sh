#!/usr/bin/env bash
# Writes the e2e fixture Tests/EndToEndTests/Fixtures/small-trace.txt to stdout: about 300
# ftrace kvm_hypercall lines over ~30 s of a constructed SEV guest. Deterministic (own LCG, no
# awk rand), so re-running it reproduces the committed file byte for byte:
#   scripts/gen-small-trace.sh > Tests/EndToEndTests/Fixtures/small-trace.txt
# Contents: boot makes a 64 MiB swiotlb pool shared in 2 MiB calls (t 0-2 s), a GHCB page per vCPU,
# then 4-64 KiB I/O buffers are made shared and private again 0.2-3 s later (churn), plus two calls
# KVM rejects (unaligned gpa, zero pages) and a few other hypercalls (nr 5, KVM_HC_KICK_CPU).
set -euo pipefail
export LC_ALL=C
awk 'BEGIN {
  seed = 12345
  t0 = 9051.204113
  # line(time, cpu, nr, a0, a1, a2): one trace line, prefixed with a sort key
  n = 0
  # Boot: swiotlb pool 0x7c000000.. (64 MiB) shared in 32 calls of 512 pages.
  for (i = 0; i < 32; i++) emit(0.05 + i * 0.06, 0, 12, 2080374784 + i * 2097152, 512, 0)
  # GHCB page per vCPU (4 vCPUs).
  for (c = 0; c < 4; c++) emit(2.1 + c * 0.01, c, 12, 2147479552 - c * 4096 * 16, 1, 0)
  # I/O buffer churn from t=3 s to t=29 s.
  t = 3.0
  while (n < 290) {
    t += 0.05 + rnd(300) / 1000.0
    if (t > 29.0) break
    cpu = rnd(4)
    pages = 1 + rnd(16)
    gpa = 4294967296 + rnd(16384) * 4096 * 4          # 4 GiB .. 4.25 GiB, 16 KiB aligned
    emit(t, cpu, 12, gpa, pages, 0)                      # to shared
    emit(t + 0.2 + rnd(2800) / 1000.0, cpu, 12, gpa, pages, 16)   # back to private
    if (rnd(10) == 0) emit(t + 0.01, cpu, 5, 0, cpu, 0)  # KVM_HC_KICK_CPU
  }
  emit(10.5, 1, 12, 1781477377, 1, 0)                   # rejected: unaligned gpa
  emit(20.25, 2, 12, 1781477376, 0, 0)                  # rejected: zero pages
}
# printf %x overflows above 2^31 in some awks; gpas go past 4 GiB.
function hex(v,    s) { if (v == 0) return "0"; s = ""; while (v > 0) { s = substr("0123456789abcdef", v % 16 + 1, 1) s; v = int(v / 16) }; return s }
function rnd(m) { seed = (seed * 16807) % 2147483647; return int(seed / 7) % m }  # Park-Miller: exact in doubles
function emit(dt, cpu, nr, a0, a1, a2,    ts) {
  ts = t0 + dt
  printf "%012.6f        CPU %d/KVM-%d   [%03d] d..1. %12.6f: kvm_hypercall: nr 0x%s a0 0x%s a1 0x%s a2 0x%s a3 0x0\n", ts, cpu, 40515 + cpu, cpu + 4, ts, hex(nr), hex(a0), hex(a1), hex(a2)
  n++
}' | sort -s -n -k1,1 | cut -d' ' -f2-
