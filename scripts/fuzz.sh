#!/usr/bin/env bash
# Builds the libFuzzer targets of Fuzz/ with libFuzzer and AddressSanitizer and runs each for
# FUZZ_SECONDS (default 60), seeded with the test fixtures. `make fuzz`; `FUZZ_TARGETS="A B"` picks
# targets. Crashes go to Fuzz/crashes/ (git-ignored); the growing corpus to Fuzz/corpus/<target>.
# Prints one line per target: executions, seconds, crashes; exits non-zero when one crashed.
#
# The build command is the one that works (notes §8): `--sanitize fuzzer` makes SwiftPM leave the
# entry point to libFuzzer; `-Xswiftc -sanitize=fuzzer,address` puts both sanitizers in one flag,
# because SwiftPM passes `--sanitize fuzzer --sanitize address` in random order and swiftc keeps
# only the last one (ASan silently off in 4 of 6 builds).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SWIFT=${SWIFT:-swift}
SECONDS_EACH=${FUZZ_SECONDS:-60}
TARGETS=${FUZZ_TARGETS:-$(sed -n 's/^ *fuzzTarget("\([A-Za-z]*\)".*/\1/p' "$ROOT/Fuzz/Package.swift")}
LOCK=${FUZZ_BUILD_LOCK:-/tmp/encmon-build.lock}
cd "$ROOT/Fuzz"
mkdir -p crashes corpus

FLAGS=(-c release --sanitize fuzzer -Xswiftc -sanitize=fuzzer,address
       -Xswiftc -sanitize-coverage=edge,inline-8bit-counters,pc-table,trace-cmp -Xswiftc -use-ld=lld
       -Xswiftc -enable-testing)   # FuzzQMPReply reaches internal decoders through @testable
# Shared machine: hold the build lock while compiling only, not while fuzzing.
LOCKED=(); command -v flock >/dev/null && LOCKED=(flock "$LOCK")
"${LOCKED[@]}" "$SWIFT" build "${FLAGS[@]}" >build.log 2>&1 \
  || { tail -30 build.log; echo "fuzz: build failed (Fuzz/build.log)"; exit 1; }
BIN=$("$SWIFT" build "${FLAGS[@]}" --show-bin-path)

# Seeds: every fixture file of the test suites (all trace layouts, recordings) and the files in
# Fuzz/Seeds for every target; Fuzz/Seeds/<target>/ for that target only (trace.dat files, daemon
# requests).
SEEDS=$(mktemp -d /tmp/encmon-fuzz-seeds.XXXXXX)
trap 'rm -rf "$SEEDS"' EXIT
for f in "$ROOT"/Tests/*/Fixtures/*; do [[ -f $f ]] && cp "$f" "$SEEDS/$(basename "$(dirname "$(dirname "$f")")")-$(basename "$f")"; done
for f in "$ROOT"/Fuzz/Seeds/*; do [[ -f $f ]] && cp "$f" "$SEEDS"/; done

status=0
printf '%-18s %12s %8s %8s %s\n' target executions seconds crashes "exec/s"
for t in $TARGETS; do
  mkdir -p "corpus/$t"
  own=(); [[ -d $ROOT/Fuzz/Seeds/$t ]] && own=("$ROOT/Fuzz/Seeds/$t")
  # trace.dat seeds are page-aligned files of ~40 KB; text inputs stay short.
  maxlen=8192; [[ $t == FuzzTraceDat ]] && maxlen=65536
  log="crashes/$t.log"
  start=$(date +%s)
  # -rss_limit_mb/-malloc_limit_mb: unbounded growth is a finding too; -timeout: so is a hang.
  set +e
  # FuzzTraceDat: libtracecmd crashes on some hostile files (FUZZING.md); encmon decodes trace.dat in
  # a child process for that reason, so such crashes are contained, not findings. Fork mode with
  # -ignore_crashes keeps fuzzing past them; each crash input is checked below for where it crashed.
  # Leaks are off for it: they are libtracecmd's, in a child that exits after one file.
  # allocator_may_return_null: a size read from a hostile header gets NULL, as from glibc's malloc,
  # instead of ASan's "allocation size too big" report.
  asan=${ASAN_OPTIONS:-malloc_context_size=4}
  extra=(); [[ $t == FuzzTraceDat ]] && { extra=(-fork=1 -ignore_crashes=1); asan="$asan:detect_leaks=0:allocator_may_return_null=1"; }
  ASAN_OPTIONS=$asan nice -n 10 "$BIN/$t" "corpus/$t" "$SEEDS" "${own[@]}" "${extra[@]}" -max_total_time="$SECONDS_EACH" -timeout=10 \
    -rss_limit_mb=2048 -max_len=$maxlen -use_value_profile=1 -print_final_stats=1 \
    -artifact_prefix="crashes/$t-" >"$log" 2>&1
  rc=$?
  set -e
  took=$(( $(date +%s) - start ))
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  crashes=$(grep -cE '^(==[0-9]+==ERROR|SUMMARY: |.*deadly signal|.*Fatal error|.*ALARM: working on the last Unit)' "$log" || true)
  note=""
  if [[ $t == FuzzTraceDat ]]; then
    # Fork mode prints progress lines, not final stats: "#EXECS: ... exec/s: R oom/timeout/crash: O/T/C".
    execs=$(sed -n 's/^#\([0-9]*\): cov:.*/\1/p' "$log" | tail -1)
    rate=$(( ${execs:-0} / (took > 0 ? took : 1) ))
    contained=0 crashes=0
    # Fork mode exits with the status of its last job (a crash, or a job stopped at the time limit),
    # whatever the others found: the verdict is the inputs' classification below, not that status.
    [[ -n $execs ]] && rc=0
    # An out-of-memory input is a malloc over the limit: libtracecmd trusting a hostile size field.
    for c in crashes/$t-crash-* crashes/$t-timeout-* crashes/$t-oom-*; do
      [[ -e $c ]] || continue
      # Contained when the crash is inside libtracecmd/libtraceevent (the child process takes it).
      # The first frame outside libc and the sanitizer runtime (a memcpy called by libtracecmd counts as libtracecmd's).
      top=$(ASAN_OPTIONS=$asan "$BIN/$t" "$c" 2>&1 | grep -E '^ +#[0-9]+ ' | grep -vE 'libc\.so|/compiler-rt/|sanitizer_common' | head -1 || true)
      if [[ $top =~ lib(tracecmd|traceevent)\.so ]]; then
        contained=$((contained + 1))
      else crashes=$((crashes + 1)); echo "    not in libtracecmd: $c"; fi
    done
    # A crashed job, fork-mode or classification run, cannot remove its input file (atexit does
    # not run): do it here.
    rm -f /tmp/encmon-fuzz-tracedat-*.dat
    (( crashes > 0 )) && rc=1
    note=" (inputs crashing libtracecmd or asking it for too much memory, contained: $contained)"
  fi
  if (( rc != 0 )); then status=1; crashes=$(( crashes > 0 ? crashes : 1 )); fi
  printf '%-18s %12s %8s %8s %s%s\n' "$t" "${execs:-?}" "$took" "$crashes" "${rate:-?}" "$note"
  if (( rc != 0 )); then grep -E 'ERROR|SUMMARY|Fatal error|artifact_prefix|Test unit written' "$log" | head -8 | sed 's/^/    /'; fi
done
exit $status
