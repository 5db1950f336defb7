# privilege.sh - job children hold nothing on the host; nothing crosses
# candidates; the disk has a limit; PID 1 of a pid namespace works (issue
# "Least privilege").  tests/escape covers the same attempts from outside,
# as root and as nobody.
. "$TOP_SRCDIR/tests/live/lib.sh"

# 1. the privilege step, as the C side measured it after confinement
run_model --no-train "$EXAMPLES/seed_model.py"
if [ "$(id -u)" -eq 0 ]; then
	expect "as root: jobs run as sandbox.uid, no capability" "$(field '(r["status"], r["sandbox"]["uid"], r["sandbox"]["capabilities"])')" "('accepted', 65534, 'none')"
	run_model --no-train --set sandbox.uid=4242 --set sandbox.gid=4243 "$EXAMPLES/seed_model.py"
	expect "sandbox.uid is the operator's" "$(field '(r["status"], r["sandbox"]["uid"])')" "('accepted', 4242)"
	run_model --no-train --set sandbox.uid=0 "$EXAMPLES/seed_model.py"
	expect "uid 0 is not a job uid" "$RC" 2
else
	expect "unprivileged: own uid, no capability" "$(field '(r["status"], r["sandbox"]["uid"], r["sandbox"]["capabilities"])')" "('accepted', $(id -u), 'none')"
fi
cat >"$TMP/setuid.py" <<'EOF'
import torch
torch.os.setuid(0)
EOF
run_model --no-train --set python.audit.enabled=false "$TMP/setuid.py"
expect "setuid(0) is a denied system call" "$(field '(r["status"], r["error"]["message"])')" "('violation', \"denied system call 'setuid' (seccomp)\")"

# 2. nothing crosses candidates in batch: the first tries to renice the
# zygote and to make itself real-time, the second reports what it got
cat >"$TMP/renice.py" <<'EOF'
import torch
import torch.nn as nn
try:
    torch.os.setpriority(torch.os.PRIO_PROCESS, torch.os.getppid(), 19)
except OSError:
    pass


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        return self.fc(x)
EOF
cat >"$TMP/probe.py" <<'EOF'
import torch
import torch.nn as nn
print("nice=%d policy=%d" % (torch.os.getpriority(torch.os.PRIO_PROCESS, 0), torch.os.sched_getscheduler(0)))


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        return self.fc(x)
EOF
cat >"$TMP/reqs.jsonl" <<JEOF
{"id": "renice", "path": "$TMP/renice.py", "input": "float:2x4", "train": false}
{"id": "probe", "path": "$TMP/probe.py", "input": "float:2x4", "train": false}
{"id": "renice2", "path": "$TMP/renice.py", "input": "float:2x4", "train": false}
{"id": "probe2", "path": "$TMP/probe.py", "input": "float:2x4", "train": false}
JEOF
"$AEGIS" batch --jobs 1 "$TMP/reqs.jsonl" >"$TMP/out.jsonl" 2>"$TMP/stderr"
"$PY" - "$TMP/out.jsonl" >"$TMP/got" <<'PYEOF'
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    print(r.get("request_id"), r["status"], (r.get("error") or {}).get("message"), r["stdout"].strip())
PYEOF
expect "renicing the zygote is denied; the next candidate starts at nice 0, SCHED_OTHER" "$(cat "$TMP/got")" "renice violation denied system call 'setpriority' (seccomp) 
probe accepted None nice=0 policy=0
renice2 violation denied system call 'setpriority' (seccomp) 
probe2 accepted None nice=0 policy=0"

# the same through one serve --stdio process, one job at a time
"$AEGIS" serve --stdio --jobs 1 <"$TMP/reqs.jsonl" >"$TMP/out.jsonl" 2>"$TMP/stderr"
"$PY" - "$TMP/out.jsonl" >"$TMP/got" <<'PYEOF'
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    print(r.get("request_id"), r["status"], r["stdout"].strip())
PYEOF
expect "serve: the next candidate starts at nice 0, SCHED_OTHER" "$(cat "$TMP/got")" "renice violation 
probe accepted nice=0 policy=0
renice2 violation 
probe2 accepted nice=0 policy=0"

# 3. a tree deeper than PATH_MAX, left read-only, is removed; and a job
# that fills its work directory gets its own verdict and leaves nothing
run_model --no-train --set python.audit.enabled=false --input float:2x100 "$TOP_SRCDIR/tests/escape/160_deep_tree.py"
expect "deep tree: the candidate's error" "$(field '(r["status"], r["error"]["message"])')" "('rejected', 'left a deep tree')"
expect "deep tree: nothing left behind" "$(ls "$TMP/work" | wc -l)" 0
if [ "$(id -u)" -eq 0 ]; then
	run_model --no-train --set limits.workdir_mb=64 --input float:2x100 "$TOP_SRCDIR/tests/escape/161_fill_workdir.py"
	expect "disk: its own verdict" "$(field '(r["status"], r["error"]["type"], r["error"]["message"])')" "('memory', 'DiskLimit', 'work directory limit of 64 MiB exceeded (limits.workdir_mb)')"
	expect "disk exit code" "$RC" 5
	expect "disk: nothing left behind" "$(ls "$TMP/work" | wc -l)" 0
	expect "disk: no tmpfs left mounted" "$(grep -c "$TMP/work" /proc/mounts)" 0
fi

# 4. PID 1 of a new pid namespace (a container's entrypoint)
if unshare --pid --fork --mount-proc true 2>/dev/null; then
	unshare --pid --fork --mount-proc "$AEGIS" run "$EXAMPLES/seed_model.py" >"$TMP/pid1" 2>"$TMP/stderr"
	expect "PID 1: run" "$? $(head -1 "$TMP/pid1")" "0 $EXAMPLES/seed_model.py: accepted (stage validate)"
	unshare --pid --fork --mount-proc "$AEGIS" batch --jobs 2 "$TMP/reqs.jsonl" >"$TMP/out.jsonl" 2>"$TMP/stderr"
	expect "PID 1: batch" "$? $(wc -l <"$TMP/out.jsonl")" "0 4"
	printf '{"id": 1, "path": "%s", "train": false}\n' "$EXAMPLES/seed_model.py" |
		unshare --pid --fork --mount-proc "$AEGIS" serve --stdio >"$TMP/out.jsonl" 2>"$TMP/stderr"
	rc=$?
	cp "$TMP/out.jsonl" "$TMP/r.json"
	expect "PID 1: serve --stdio" "$rc $(field 'r["status"]')" "0 accepted"
	# SIGTERM to PID 1 (docker stop) reaches the program, which ends
	# cleanly: nothing of it is left
	mkfifo "$TMP/in"
	unshare --pid --fork --mount-proc "$AEGIS" serve --stdio <"$TMP/in" >/dev/null 2>&1 &
	ns=$!
	exec 9>"$TMP/in"
	sleep 3
	init=$(cat /proc/$ns/task/$ns/children)
	kids=$(tree "$init" | tr '\n' ' ')
	kill -TERM "$init"
	wait $ns
	expect "PID 1: SIGTERM ends serve" "$?" 143
	exec 9>&-
	expect "PID 1: no process left" "$(alive $kids)" 0
	expect "PID 1: no work directory left" "$(ls "$TMP/work" | wc -l)" 0
fi
finish
