#!/usr/bin/env bash
# `encmon replay --follow` against a writer process: FILE grows while it is replayed (whole lines,
# and one line written in two halves), then is truncated and rewritten. Prints the JSON lines
# encmon wrote (one object a frame), then "[exit=N]" and encmon's stderr.
#   scripts/follow-e2e.sh BIN FILE (ftrace|recording)
set -euo pipefail
BIN=${1:?usage: follow-e2e.sh BIN FILE KIND}; FILE=${2:?file}; KIND=${3:?ftrace or recording}
OUT=$(mktemp /tmp/encmon-follow-out.XXXXXX); ERR=$(mktemp /tmp/encmon-follow-err.XXXXXX)
trap 'rm -f "$OUT" "$ERR"' EXIT
# line TIME GFN: one shared single-page conversion in the chosen format.
line() {
  if [[ $KIND == recording ]]; then printf 'conversion t=%s dir=shared gfn=0x%x pages=1 vcpu=0 pid=1 path=hypercall\n' "$1" "$2"
  else printf '       CPU 0/KVM-40515   [004] d..1.  %s: kvm_hypercall: nr 0xc a0 0x%x a1 0x1 a2 0x0 a3 0x0\n' "$1" $(( $2 << 12 )); fi
}
header() { [[ $KIND == recording ]] && echo 'encmon-recording 1' || true; }
last_events() { tail -n 1 "$OUT" | grep -o '"events": [0-9]*' | grep -o '[0-9]*$' || echo 0; }
wait_events() {  # wait_events N: until encmon's newest frame counts N events (10 s at most)
  for _ in $(seq 1 100); do [[ $(last_events) == "$1" ]] && return 0; sleep 0.1; done
  echo "timeout waiting for $1 events (last frame: $(last_events))" >&2; return 1
}
{ header; for i in 1 2 3 4 5; do line "1.$i" $(( i * 16 )); done; } > "$FILE"
"$BIN" replay "$FILE" --follow --json -d 0.1 >"$OUT" 2>"$ERR" &
pid=$!
wait_events 5 || true
# The writer: five more whole lines, then one line in two writes with a pause between.
for i in 6 7 8 9 10; do line "2.$i" $(( i * 16 )) >> "$FILE"; sleep 0.05; done
half=$(line 3.0 2048); printf '%s' "${half:0:30}" >> "$FILE"; sleep 0.4; printf '%s\n' "${half:30}" >> "$FILE"
wait_events 11 || true
# Truncated and rewritten: read again from the start.
{ header; line 9.0 4096; } > "$FILE"
wait_events 12 || true
kill -TERM "$pid"
set +e; wait "$pid"; rc=$?; set -e
cat "$OUT"; echo "[exit=$rc]"; cat "$ERR"
