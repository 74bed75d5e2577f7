# Shared by the uprobe stand-in scripts (sourced, not run): root and a mounted tracefs, and the
# file offset a uprobe definition needs.
TRACEFS=/sys/kernel/tracing

# Root and tracefs, mounting it when needed; otherwise one failed check and exit 1.
require_tracefs() {
  [ "$(id -u)" = 0 ] || { echo "FAIL - needs root for tracefs"; echo "0 passed, 1 failed"; exit 1; }
  if [ ! -e "$TRACEFS/uprobe_events" ]; then
    mount -t tracefs nodev "$TRACEFS" 2>/dev/null || { echo "FAIL - cannot mount tracefs at $TRACEFS"; echo "0 passed, 1 failed"; exit 1; }
  fi
}

# standin_offset BINARY SYMBOL: the symbol's file offset (its address minus its segment's address
# plus the segment's offset), as a uprobe's PATH:OFFSET wants it.
standin_offset() {
  python3 - "$1" "$2" <<'PY'
import subprocess, sys
path, symbol = sys.argv[1], sys.argv[2]
sym = [l.split() for l in subprocess.run(["nm", path], capture_output=True, text=True).stdout.splitlines()]
addr = next(int(s[0], 16) for s in sym if len(s) == 3 and s[2] == symbol)
out = subprocess.run(["readelf", "-lW", path], capture_output=True, text=True).stdout.splitlines()
for l in out:
    f = l.split()
    if f and f[0] == "LOAD":
        off, vaddr, filesz = int(f[1], 16), int(f[2], 16), int(f[4], 16)
        if vaddr <= addr < vaddr + filesz:
            print(hex(addr - vaddr + off)); break
PY
}

# define_standin_event BINARY SYMBOL: the uprobe event $GROUP/$EVENT on SYMBOL, its u64 arguments
# named nr and a0..a3 (the x86-64 argument registers) as kvm_hypercall names its fields.
define_standin_event() {
  echo "p:$GROUP/$EVENT $1:$(standin_offset "$1" "$2") nr=%di:u64 a0=%si:u64 a1=%dx:u64 a2=%cx:u64 a3=%r8:u64" >> "$TRACEFS/uprobe_events"
}

# For traps: remove the event $GROUP/$EVENT (a no-op when it is not defined) ...
remove_standin_event() { echo "-:$GROUP/$EVENT" >> "$TRACEFS/uprobe_events" 2>/dev/null || true; }
# ... and the script's own instance $INSTANCE, its event disabled first.
remove_standin_instance() {
  { echo 0 > "$TRACEFS/instances/$INSTANCE/events/$GROUP/$EVENT/enable"; } 2>/dev/null || true
  rmdir "$TRACEFS/instances/$INSTANCE" 2>/dev/null || true
}

# standin_session WORK_PREFIX INSTANCE GROUP: a work directory /tmp/WORK_PREFIX.XXXXXX, the names
# of the script's own instance and uprobe group (its event is hc_<pid>), and a trap that removes
# all three on any exit (`standin_cleanup`, which a script may also call itself before it ends).
standin_session() {
  WORK=$(mktemp -d "/tmp/$1.XXXXXX")
  INSTANCE=$2 GROUP=$3 EVENT="hc_$$"
  trap standin_cleanup EXIT
}
standin_cleanup() {
  remove_standin_instance
  remove_standin_event
  rm -rf "$WORK"
}
