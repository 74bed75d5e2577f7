# Shared by the end-to-end scripts (sourced, not run): one line per check, and the tally each
# script prints at its end ("N passed, M failed") and turns into its exit status.
pass=0 fail=0 skipped=0
# check DESCRIPTION COMMAND...: runs COMMAND; "ok" or "FAIL" with the description.
check() { local d=$1; shift; if "$@"; then echo "ok   - $d"; pass=$((pass+1)); else echo "FAIL - $d"; fail=$((fail+1)); fi; }
not() { ! "$@"; }
# skip WHY: a check that cannot run here, said and counted (never passed).
skip() { echo "skip - $1"; skipped=$((skipped+1)); }
