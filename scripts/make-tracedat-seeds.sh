#!/usr/bin/env bash
# Makes the trace.dat fuzz seeds in Fuzz/Seeds/FuzzTraceDat/ from real kernel buffers: a uprobe
# stand-in (the kvm_hypercall fields nr, a0..a3) fires in a small program on two CPUs inside a
# tracefs instance of its own; `trace-cmd extract -B` writes the file, `trace-cmd convert` turns it
# into version 6 (uncompressed) and helpers/shrink-tracedat-v6.py cuts kallsyms, ftrace and
# unrelated event formats so the seed is ~40 KB instead of 7 MB.
# Needs root, tracefs and trace-cmd. The uprobe and the instance are removed on any exit.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:-$ROOT/Fuzz/Seeds/FuzzTraceDat}
. "$ROOT/scripts/lib/uprobe-standin.sh"
require_tracefs
standin_session encmon-datseed "encmon-seed-$$" encmon_seed
cat > "$WORK/guest.c" <<'C'
#include <stdint.h>
__attribute__((noinline)) void f(uint64_t nr, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3) {
  __asm__ volatile("" ::: "memory");
}
int main(void) {
  f(12, 0x1f018000, 4, 0x0, 0); f(12, 0x1f01c000, 2, 0x0, 0); f(12, 0x1f019000, 1, 0x10, 0);
  f(12, 0x80000000, 512, 0x1, 0); f(12, 0x1f018001, 1, 0x0, 0); f(12, 0x1f018000, 0, 0x0, 0);
  f(12, 0xfffffffffffff000, 0xffffffffffffffff, 0x1f, 0); f(9, 0, 0, 0, 0);
  return 0;
}
C
gcc -O1 -o "$WORK/guest" "$WORK/guest.c"
define_standin_event "$WORK/guest" f
mkdir "$TRACEFS/instances/$INSTANCE"
echo 1 > "$TRACEFS/instances/$INSTANCE/events/$GROUP/$EVENT/enable"
cpus=$(nproc)
for c in 0 1; do taskset -c $(( c % cpus )) "$WORK/guest"; done
echo 0 > "$TRACEFS/instances/$INSTANCE/events/$GROUP/$EVENT/enable"
trace-cmd extract -B "$INSTANCE" -o "$WORK/v7.dat" >/dev/null 2>&1
trace-cmd convert --file-version 6 -i "$WORK/v7.dat" -o "$WORK/v6.dat" >/dev/null 2>&1
mkdir -p "$OUT"
python3 "$ROOT/scripts/helpers/shrink-tracedat-v6.py" "$WORK/v6.dat" "$OUT/standin-2cpu-v6.dat" "$GROUP"
