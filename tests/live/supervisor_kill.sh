# supervisor_kill.sh - kill -9 of the supervisor mid-job leaves no job
# process, no zygote, no cgroup and no work directory behind.
. "$TOP_SRCDIR/tests/live/lib.sh"

AEGIS_KILL_TEST_SECRET=s3cr3t-$$ "$AEGIS" run --timeout 60 --input float:2x4 "$MODELS/loop_forever.py" >/dev/null 2>&1 &
sup=$!
# wait until the job child is running: four processes in the supervisor's
# tree (supervisor, zygote, the build child and the validate child held
# ready beside it) and a work directory exists
i=0
while [ $i -lt 150 ]; do
	n=$(tree "$sup" | wc -l)
	[ "$n" -ge 4 ] && [ -n "$(ls -A "$TMPDIR")" ] && break
	sleep 0.1
	i=$((i + 1))
done
pids=$(tree "$sup")
expect "supervisor, zygote, build and held validate child were running" "$(echo "$pids" | wc -l)" 4
expect "the zygote is the exec'd aegis-zygote" "$(for p in $pids; do cat /proc/$p/comm; done | grep -c '^aegis-zygote$')" 3
expect "the supervisor's environment is not in the zygote's or a job's image" "$(for p in $pids; do [ "$p" = "$sup" ] || cat /proc/$p/environ; done | tr '\0' '\n' | grep -c "s3cr3t-$$")" 0
kill -9 "$sup"
wait "$sup" 2>/dev/null
i=0
# shellcheck disable=SC2086
while [ $i -lt 50 ] && [ "$(alive $pids)" -gt 0 ]; do
	sleep 0.1
	i=$((i + 1))
done
# shellcheck disable=SC2086
expect "no process left within 5 s" "$(alive $pids)" 0
expect "no cgroup of the dead supervisor left" "$(ls -d /sys/fs/cgroup/*/aegis-sandbox/"$sup"-* /sys/fs/cgroup/aegis-sandbox/"$sup"-* 2>/dev/null | wc -l)" 0
expect "no work directory left" "$(ls -A "$TMPDIR" | wc -l)" 0

# a stale directory from an earlier crash (a dead pid) is reclaimed at start
mkdir "$TMPDIR/aegis-999999999-abcdef"
touch -d '1 minute ago' "$TMPDIR/aegis-999999999-abcdef"
mkdir "$TMPDIR/aegis-999999998-fresh0"   # too young to be judged stale
run_model --no-train --input float:2x100 "$MODELS/mlp.py"
expect "run after a crash still works" "$(field 'r["status"]')" accepted
expect "stale work directory reclaimed" "$(test -e "$TMPDIR/aegis-999999999-abcdef" && echo left || echo gone)" gone
expect "a fresh one is left alone" "$(test -e "$TMPDIR/aegis-999999998-fresh0" && echo left || echo gone)" left
rmdir "$TMPDIR/aegis-999999998-fresh0"
# a stale job cgroup (unlocked, old) is reclaimed; a locked one is not
if [ -w /sys/fs/cgroup/memory ] && [ ! -e /sys/fs/cgroup/cgroup.controllers ]; then
	mkdir -p /sys/fs/cgroup/memory/aegis-sandbox/999999999-1
	touch -d '1 minute ago' /sys/fs/cgroup/memory/aegis-sandbox/999999999-1 2>/dev/null
	sleep 6   # cgroupfs ignores touch; wait past the age threshold instead
	mkdir -p /sys/fs/cgroup/memory/aegis-sandbox/999999998-1
	flock /sys/fs/cgroup/memory/aegis-sandbox/999999998-1 sleep 20 &
	locker=$!
	sleep 0.5
	run_model --no-train --input float:2x100 "$MODELS/mlp.py"
	expect "stale cgroup reclaimed" "$(test -e /sys/fs/cgroup/memory/aegis-sandbox/999999999-1 && echo left || echo gone)" gone
	expect "locked cgroup kept" "$(test -e /sys/fs/cgroup/memory/aegis-sandbox/999999998-1 && echo left || echo gone)" left
	kill $locker 2>/dev/null
	wait $locker 2>/dev/null
	rmdir /sys/fs/cgroup/memory/aegis-sandbox/999999998-1
fi

# A supervisor that is neither the build tree's nor the installed one (a
# copy, a relocated install) runs the aegis-zygote beside it.  It never
# embeds Python itself, so without one it says what it looked for.
mkdir -p "$TMP/copy"
cp "$AEGIS" "$TMP/copy/aegis-sandbox"
AEGIS_PYHELPERS="$TOP_SRCDIR/pyhelpers" "$TMP/copy/aegis-sandbox" run --no-train --json --input float:2x100 "$MODELS/mlp.py" >"$TMP/r.json" 2>"$TMP/stderr"
expect "a copy without a zygote program: a sandbox error" "$?" 7
expect "a copy without a zygote program: says which" "$(cat "$TMP/r.json" "$TMP/stderr" | grep -c "cannot run the zygote program $TMP/copy/aegis-zygote: No such file or directory")" 1
cp "$TOP_BUILDDIR/src/aegis-zygote" "$TMP/copy/aegis-zygote"
AEGIS_PYHELPERS="$TOP_SRCDIR/pyhelpers" "$TMP/copy/aegis-sandbox" run --no-train --json --input float:2x100 "$MODELS/mlp.py" >"$TMP/r.json" 2>"$TMP/stderr"
expect "a copy with its zygote beside it: the candidate runs" "$(field '(r["status"], r["sandbox"]["seccomp"])')" "('accepted', True)"
# a zygote program of another build (another protocol) is refused
cat >"$TMP/copy/aegis-zygote" <<EOF
#!$PY
import socket, sys
s = socket.socket(fileno=int(sys.argv[2]))
s.send(b'{"op":"ready","protocol":"0.0/0","threads":1,"warm_s":0}')
s.recv(100)
EOF
chmod +x "$TMP/copy/aegis-zygote"
AEGIS_PYHELPERS="$TOP_SRCDIR/pyhelpers" "$TMP/copy/aegis-sandbox" run --no-train --json --input float:2x100 "$MODELS/mlp.py" >"$TMP/r.json" 2>"$TMP/stderr"
expect "a zygote of another protocol: refused" "$?" 7
expect "a zygote of another protocol: says so" "$(cat "$TMP/r.json" "$TMP/stderr" | grep -c 'speaks protocol 0.0/0')" 1
finish
