# lib.sh - helpers for the live tests, which run the built binary on real
# model files.  Sourced by every tests/live/*.sh.
#
#   run_model ARGS...      aegis-sandbox run ARGS --json; result in $TMP/r.json,
#                          exit code in $RC
#   field EXPR             evaluate a Python expression over the result r
#   expect NAME GOT WANT   one assertion; finish prints "N passed, M failed"
#   tree PID / alive PIDS  a process and its descendants; how many still exist

set -u
: "${AEGIS:?run through make check (AEGIS is unset)}"
: "${TOP_SRCDIR:?}"
PY=${PYTHON:-/usr/bin/python3}
MODELS=$TOP_SRCDIR/tests/models
EXAMPLES=$TOP_SRCDIR/doc/examples
TMP=$(mktemp -d /tmp/aegis-live.XXXXXX)
chmod 755 "$TMP"
trap 'rm -rf "$TMP"' EXIT
# job work directories go here, so a test can see what was left behind
mkdir -m 1777 "$TMP/work"
export TMPDIR="$TMP/work"
# no reviewer key or reviewers file of the machine's user: a test that
# decides makes its own (reviewer NAME)
export XDG_CONFIG_HOME="$TMP/config"
unset AEGIS_REVIEWER_KEY AEGIS_REVIEWERS
PASSED=0
FAILED=0
RC=0

# reviewer NAME: a key pair for NAME in $TMP/keys, listed in the
# reviewers file $TMP/reviewers; this shell decides (and exports) as NAME
reviewer() {
	mkdir -p "$TMP/keys"
	"$AEGIS" approvals keygen --reviewer "$1" --key "$TMP/keys/$1.key" >/dev/null || return 1
	cat "$TMP/keys/$1.key.pub" >>"$TMP/reviewers"
	export AEGIS_REVIEWER_KEY="$TMP/keys/$1.key" AEGIS_REVIEWERS="$TMP/reviewers"
}

run_model() {
	"$AEGIS" run "$@" --json >"$TMP/r.json" 2>"$TMP/stderr"
	RC=$?
}

# tree PID: PID and all its descendants, one per line (from /proc).  The
# zygote is exec'd (aegis-zygote), so its command line does not carry the
# supervisor's: follow parentage instead.
tree() {
	"$PY" "$TOP_SRCDIR/tests/proctree.py" "$1"
}

# alive PID...: how many of the PIDs still exist
alive() {
	n=0
	for p in "$@"; do [ -e "/proc/$p" ] && n=$((n + 1)); done
	echo $n
}

run_cmd() {
	"$@" >"$TMP/out" 2>"$TMP/stderr"
	RC=$?
}

field() {
	"$PY" - "$1" "$TMP/r.json" <<'PYEOF'
import json, sys
try:
    r = json.load(open(sys.argv[2]))
except Exception as e:
    print("<no JSON: %s>" % e)
    sys.exit(0)
try:
    v = eval(sys.argv[1], {"r": r})
except Exception as e:
    v = "<%s: %s>" % (type(e).__name__, e)
print(json.dumps(v) if isinstance(v, (list, dict)) else v)
PYEOF
}

# load_verified ARCHIVE SHA256 CODE: run CODE (Python) with m, the model
# in ARCHIVE loaded as users load it: aegis_sandbox.load_archive, only when
# its bytes hash to SHA256 (the digest the archive verifier passed)
load_verified() {
	PYTHONPATH="$AEGIS_PYHELPERS${PYTHONPATH:+:$PYTHONPATH}" "$PY" -W ignore -c "
import torch
from aegis_sandbox import load_archive
m = load_archive('$1', '$2')
$3"
}

expect() {
	if [ "$2" = "$3" ]; then
		PASSED=$((PASSED + 1))
		echo "ok - $1"
	else
		FAILED=$((FAILED + 1))
		echo "FAIL - $1"
		echo "    got:  $2"
		echo "    want: $3"
		[ -s "$TMP/stderr" ] && sed 's/^/    stderr: /' "$TMP/stderr" | head -5
	fi
}

# expect_true NAME COMMAND...: the command succeeds
expect_true() {
	name=$1
	shift
	if "$@"; then
		expect "$name" yes yes
	else
		expect "$name" no yes
	fi
}

# stale_cgroups: job cgroups whose supervisor no longer runs (should be
# none).  A supervisor's zygote removes its jobs' cgroups once it sees the
# supervisor gone, a moment after it exits: wait up to 3 s for that.
stale_cgroups() {
	for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15; do
		[ "$(stale_cgroups_now)" -eq 0 ] && break
		sleep 0.2
	done
	stale_cgroups_now
}
# (a name above pid_max is no supervisor's: supervisor_kill.sh plants such
# cgroups, one held for 20 s, to test reclaiming, and runs beside the
# other tests under make -j)
stale_cgroups_now() {
	n=0
	max=$(cat /proc/sys/kernel/pid_max 2>/dev/null || echo 4194304)
	for d in /sys/fs/cgroup/memory/aegis-sandbox/* /sys/fs/cgroup/pids/aegis-sandbox/* \
		/sys/fs/cgroup/aegis-sandbox/*; do
		[ -d "$d" ] || continue
		pid=${d##*/}
		pid=${pid%%-*}
		case $pid in '' | *[!0-9]*) continue ;; esac
		[ "$pid" -gt "$max" ] && continue
		kill -0 "$pid" 2>/dev/null || n=$((n + 1))
	done
	echo $n
}

finish() {
	echo "$PASSED passed, $FAILED failed"
	[ "$FAILED" -eq 0 ]
}
