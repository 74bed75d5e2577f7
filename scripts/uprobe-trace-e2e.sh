#!/usr/bin/env bash
# End-to-end test of the tracing path against the real kernel: a uprobe whose fields match
# kvm:kvm_hypercall (nr, a0..a3) fires in a small program that "issues" MAP_GPA_RANGE calls; the
# real tracefs writes the trace; `encmon replay --json` must read back exactly what was issued.
# Guest hypercalls cannot reach kvm:kvm_hypercall on this host (kvm_pvm), hence the stand-in.
# Needs root and tracefs; uses its own tracefs instance and uprobe, removed on exit.
set -euo pipefail
BIN=${1:?usage: uprobe-trace-e2e.sh ENCMON_BINARY}
export LC_ALL=C.UTF-8 LANG=C.UTF-8
. "$(dirname "$0")/lib/uprobe-standin.sh"
. "$(dirname "$0")/lib/checks.sh"
require_tracefs
standin_session encmon-uprobe "encmon-e2e-$$" encmon_e2e

cat > "$WORK/guest.c" <<'C'
#include <stdint.h>
/* Stands in for the guest's VMMCALL: the uprobe on it records nr and a0..a3 like kvm_hypercall. */
__attribute__((noinline)) void kvm_hypercall_standin(uint64_t nr, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3) {
  __asm__ volatile("" ::: "memory");
}
int main(void) {
  kvm_hypercall_standin(12, 0x1f018000, 4, 0x0, 0);       /* 4 pages shared */
  kvm_hypercall_standin(12, 0x1f01c000, 2, 0x0, 0);       /* 2 adjacent pages: one region */
  kvm_hypercall_standin(12, 0x1f019000, 1, 0x10, 0);      /* 1 page back to private: splits it */
  kvm_hypercall_standin(12, 0x80000000, 512, 0x1, 0);     /* 2 MiB shared (size hint 2M) */
  kvm_hypercall_standin(12, 0x1f018001, 1, 0x0, 0);       /* unaligned: rejected by KVM */
  kvm_hypercall_standin(12, 0x1f018000, 0, 0x0, 0);       /* zero pages: rejected */
  kvm_hypercall_standin(9, 0, 0, 0, 0);                   /* another hypercall: counted only */
  return 0;
}
C
gcc -O1 -o "$WORK/guest" "$WORK/guest.c"
define_standin_event "$WORK/guest" kvm_hypercall_standin
mkdir "$TRACEFS/instances/$INSTANCE"
echo 1 > "$TRACEFS/instances/$INSTANCE/events/$GROUP/$EVENT/enable"
"$WORK/guest"
echo 0 > "$TRACEFS/instances/$INSTANCE/events/$GROUP/$EVENT/enable"
cp "$TRACEFS/instances/$INSTANCE/trace" "$WORK/trace.txt"
echo "--- trace read from tracefs instance $INSTANCE:"
cat "$WORK/trace.txt"

json=$("$BIN" replay "$WORK/trace.txt" --json)
field() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))' "$1" <<<"$json"; }
check "seven probe hits in the trace" test "$(grep -c "$EVENT:" "$WORK/trace.txt")" -eq 7
check "four conversions applied" test "$(field 'd["conversions"]')" = 4
check "three to shared, one to private" test "$(field '(d["toShared"], d["toPrivate"])')" = "(3, 1)"
check "two rejected (unaligned, zero pages)" test "$(field 'd["rejectedByReason"]')" = "{'unaligned-gpa': 1, 'zero-pages': 1}"
check "other hypercall counted" test "$(field 'd["otherHypercalls"]')" = 1
check "shared pages 517" test "$(field 'd["sharedPages"]')" = 517
check "regions coalesced and split" test "$(field 'd["regions"]')" = "[{'gpa': '0x1f018000', 'pages': 1}, {'gpa': '0x1f01a000', 'pages': 4}, {'gpa': '0x80000000', 'pages': 512}]"
check "nothing malformed" test "$(field 'd["malformed"]')" = 0
standin_cleanup
trap - EXIT
check "tracefs instance removed" test ! -e "$TRACEFS/instances/$INSTANCE"
check "uprobe event removed" bash -c "! grep -q '$GROUP/$EVENT' '$TRACEFS/uprobe_events'"
echo "$pass passed, $fail failed"
exit $(( fail > 0 ))
