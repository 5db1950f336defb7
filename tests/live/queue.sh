# queue.sh - submit and worker: a work queue in the pool, the same tests
# on SQLite and on PostgreSQL (a server of the test's own).
# Two workers drain a queue; one is killed with SIGKILL mid-job and the
# queue still drains, every candidate judged exactly once; SIGTERM
# finishes the job in hand; concurrent submitters lose nothing.
. "$TOP_SRCDIR/tests/live/lib.sh"
if [ "${AEGIS_SUITE:-}" = torch2 ]; then
	echo "SKIP: the store, queue and review site do not depend on torch (the system suite runs this)"
	exit 77
fi
. "$TOP_SRCDIR/tests/live/pglib.sh"
cd "$TMP" || exit 1

# 16 candidates: 12 good (four slow to build, so a kill lands mid-job),
# 4 with a syntax error; each source is different
for i in $(seq 1 12); do
	printf '# candidate %d\nimport time\nimport torch.nn as nn\n\n\nclass Model(nn.Module):\n    def __init__(self):\n        super().__init__()\n        time.sleep(%s)\n        self.fc = nn.Linear(8, %d)\n\n    def forward(self, x):\n        return self.fc(x)\n' \
		"$i" "$([ "$i" -le 4 ] && echo 1.5 || echo 0)" $((i + 1)) >"good$i.py"
done
for i in 1 2 3 4; do
	printf '# broken %d\nimport torch.nn as nn\nclass Model(nn.Module)\n    pass\n' "$i" >"bad$i.py"
done
# wait_running DB [PID]: until an entry of DB is running (under worker PID's
# lease, when given), at most 10 s; $TMP/r.json then holds "pool queue"
wait_running() {
	for _ in $(seq 1 100); do
		"$AEGIS" pool queue --db "$1" --json >"$TMP/r.json" 2>/dev/null
		[ "$(field "sum(1 for e in r['entries'] if e['state'] == 'running' and ('${2:-}' == '' or (e['lease_owner'] or '').split(':')[1] == '${2:-}'))")" = 1 ] && return 0
		sleep 0.1
	done
	return 1
}

# the issue's scenario, on database $1 (a path or a postgresql:// URL),
# labelled $2
drain_scenario() {
	DB=$1
	L=$2
	run_cmd "$AEGIS" submit --db "$DB" --input float:2x8 --no-train --json good1.py good2.py good3.py good4.py \
		good5.py good6.py good7.py good8.py good9.py good10.py good11.py good12.py bad1.py bad2.py bad3.py bad4.py
	cp "$TMP/out" "$TMP/r.json"
	expect "$L: submit: 16 queue ids" "$RC $(field '[x["queue_id"] for x in r]')" "0 [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]"
	run_cmd "$AEGIS" pool queue --db "$DB" --json
	cp "$TMP/out" "$TMP/r.json"
	expect "$L: all queued" "$(field '(r["queued"], r["running"], r["done"])')" "(16, 0, 0)"

	"$AEGIS" worker --db "$DB" --lease 3 >"$TMP/w1.out" 2>"$TMP/w1.err" &
	W1=$!
	"$AEGIS" worker --db "$DB" --lease 3 >"$TMP/w2.out" 2>"$TMP/w2.err" &
	W2=$!
	# kill worker 1 while it holds an entry (a slow one: the first four are)
	wait_running "$DB" "$W1"
	W1TREE=$(tree "$W1")
	victim=$(field "[e['id'] for e in r['entries'] if e['state'] == 'running' and (e['lease_owner'] or '').split(':')[1] == '$W1'][0]")
	kill -9 "$W1"
	wait "$W1" 2>/dev/null
	expect "$L: worker 1 killed mid-job" "$(echo "$victim" | grep -c '^[0-9][0-9]*$')" 1
	# the last worker drains what is left, the killed worker's entry once its
	# lease has run out
	"$AEGIS" worker --db "$DB" --lease 3 --drain >"$TMP/w3.out" 2>"$TMP/w3.err"
	expect "$L: worker --drain exits 0 once nothing is queued or running" "$?" 0
	kill -TERM "$W2"
	wait "$W2"
	expect "$L: worker 2 exits 0 on SIGTERM" "$?" 0
	run_cmd "$AEGIS" pool queue --db "$DB" --json
	cp "$TMP/out" "$TMP/r.json"
	expect "$L: the queue is drained" "$(field '(r["queued"], r["running"], r["done"])')" "(0, 0, 16)"
	expect "$L: every entry has its own candidate" "$(field 'len(set(e["candidate_id"] for e in r["entries"]))')" 16
	expect "$L: the killed worker's entry was claimed twice" "$(field "[e['claims'] for e in r['entries'] if e['id'] == $victim]")" "[2]"
	run_cmd "$AEGIS" pool list --db "$DB" --json
	cp "$TMP/out" "$TMP/r.json"
	expect "$L: 16 candidates, each judged once" "$(field 'len(r), len(set(c["code_sha256"] for c in r))')" "(16, 16)"
	expect "$L: 12 accepted, 4 rejected" "$(field 'sorted([c["status"] for c in r]).count("accepted"), sorted([c["status"] for c in r]).count("rejected")')" "(12, 4)"
	expect "$L: architecture ids from the file names" "$(field 'sorted(c["architecture_id"] for c in r)[:2]')" '["bad1", "bad2"]'
	expect "$L: one result line per job, none lost or doubled" "$(cat "$TMP/w1.out" "$TMP/w2.out" "$TMP/w3.out" | grep -c '"recorded":true')" 16
	sleep 1
	expect "$L: nothing of the killed worker is left (processes)" "$(alive $W1TREE)" 0
	expect "$L: nothing of the killed worker is left (cgroups)" "$(stale_cgroups)" 0
}

drain_scenario "$TMP/q.db" "sqlite"
if pg_available; then
	pg_start || expect "postgresql: the test server starts" no yes
	drain_scenario "$(pg_newdb queue)" "postgresql"
	# a worker that loses the database and gets it back carries on
	U=$(pg_newdb reconnect)
	"$AEGIS" worker --db "$U" --poll 0.2 >"$TMP/r.out" 2>"$TMP/r.err" &
	W=$!
	sleep 1.5
	pg_down
	sleep 2
	pg_up
	"$AEGIS" submit --db "$U" --input float:2x8 --no-train good5.py >/dev/null 2>&1
	for _ in $(seq 1 300); do
		"$AEGIS" pool queue --db "$U" --json >"$TMP/r.json" 2>/dev/null
		[ "$(field 'r["done"]')" = 1 ] && break
		sleep 0.2
	done
	expect "postgresql: a worker survives the database going away and coming back" \
		"$(field '(r["done"], r["entries"][0]["candidate_id"])') $(grep -c 'retrying' "$TMP/r.err" | awk '{print ($1 > 0)}')" "(1, 1) 1"
	kill -TERM "$W"
	wait "$W"
	expect "postgresql: the worker still stops cleanly" "$?" 0
	# the Slurm recipe, as far as this machine goes (no Slurm here): two
	# array tasks run the script as sbatch would, and drain a queue
	U=$(pg_newdb slurm)
	"$AEGIS" submit --db "$U" --input float:2x8 --no-train good5.py good6.py good7.py bad1.py >/dev/null
	for t in 0 1; do
		SLURM_ARRAY_TASK_ID=$t AEGIS_DB=$U AEGIS=$AEGIS bash "$TOP_SRCDIR/doc/launchers/slurm-workers.sbatch" \
			>"$TMP/slurm$t.out" 2>&1 &
	done
	wait
	run_cmd "$AEGIS" pool list --db "$U" --json
	cp "$TMP/out" "$TMP/r.json"
	expect "slurm recipe: two array tasks drain the queue" "$(field 'sorted(c["status"] for c in r)')" '["accepted", "accepted", "accepted", "rejected"]'
else
	expect "postgresql is installed (quickstart.sh installs it)" no yes
fi

# SIGTERM finishes the job in hand, then the worker exits
printf 'import time\nimport torch.nn as nn\nclass Model(nn.Module):\n    def __init__(self):\n        super().__init__()\n        time.sleep(2)\n        self.fc = nn.Linear(8, 2)\n    def forward(self, x):\n        return self.fc(x)\n' >slow.py
"$AEGIS" submit --db "$TMP/t.db" --input float:2x8 --no-train slow.py good5.py >/dev/null
"$AEGIS" worker --db "$TMP/t.db" >"$TMP/t.out" 2>"$TMP/t.err" &
W=$!
wait_running "$TMP/t.db"
kill -TERM "$W"
wait "$W"
expect "SIGTERM: exit 0" "$?" 0
run_cmd "$AEGIS" pool queue --db "$TMP/t.db" --json
cp "$TMP/out" "$TMP/r.json"
expect "SIGTERM: the job in hand finished and recorded, the next one left queued" "$(field '[(e["state"], e["candidate_id"] is not None) for e in r["entries"]]')" '[["done", true], ["queued", false]]'

# a terminal's Ctrl-C (SIGINT to the whole foreground group, zygote
# included) is SIGTERM's graceful stop, not an error row: the zygote left
# on it, and the job in hand became "the zygote died" (issue 30).  Started
# from Python, in a group of its own, with SIGINT at its default (a shell's
# background job would inherit it ignored)
"$AEGIS" submit --db "$TMP/i.db" --input float:2x8 --no-train slow.py good5.py >/dev/null
"$PY" - "$AEGIS" "$TMP/i.db" <<'PYEOF' >"$TMP/i.out" 2>&1
import json, os, signal, subprocess, sys, time
p = subprocess.Popen([sys.argv[1], "worker", "--db", sys.argv[2]], start_new_session=True,
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
deadline = time.time() + 60
while time.time() < deadline:
    q = subprocess.run([sys.argv[1], "pool", "queue", "--db", sys.argv[2], "--json"], capture_output=True, text=True)
    if q.stdout.strip() and any(e["state"] == "running" for e in json.loads(q.stdout)["entries"]):
        break
    time.sleep(0.1)
os.killpg(p.pid, signal.SIGINT)
print(p.wait(timeout=120))
PYEOF
expect "Ctrl-C: the worker exits 0" "$(cat "$TMP/i.out")" 0
run_cmd "$AEGIS" pool list --db "$TMP/i.db" --json
cp "$TMP/out" "$TMP/r.json"
expect "Ctrl-C: the job in hand recorded with its own verdict, no error row" "$(field '[c["status"] for c in r]')" '["accepted"]'
# ... and while its zygote starts (a poll the signal interrupted was "the
# zygote did not start", exit 7): nothing claimed, nothing recorded
"$AEGIS" submit --db "$TMP/j.db" --input float:2x8 --no-train good5.py >/dev/null
"$PY" - "$AEGIS" "$TMP/j.db" <<'PYEOF' >"$TMP/j.out" 2>&1
import os, signal, subprocess, sys, time
p = subprocess.Popen([sys.argv[1], "worker", "--db", sys.argv[2]], start_new_session=True,
                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
time.sleep(0.3)
os.killpg(p.pid, signal.SIGINT)
print(p.wait(timeout=120), p.stderr.read().decode().strip())
PYEOF
run_cmd "$AEGIS" pool queue --db "$TMP/j.db"
expect "Ctrl-C while the zygote starts: exit 0, the entry still queued" "$(cat "$TMP/j.out") $(head -1 "$TMP/out")" \
	"0  queued 1, running 0, done 0"

# an entry every worker that takes it is lost on (killed here, three
# times, each time its lease of 1 s runs out): the next worker records it
# as an error instead of running it a fourth time
"$AEGIS" submit --db "$TMP/p.db" --input float:2x8 --no-train slow.py >/dev/null
for k in 1 2 3; do
	"$AEGIS" worker --db "$TMP/p.db" --lease 1 >/dev/null 2>&1 &
	W=$!
	wait_running "$TMP/p.db" "$W"
	kill -9 "$W"
	wait "$W" 2>/dev/null
	sleep 1.2
done
"$AEGIS" worker --db "$TMP/p.db" --lease 1 --drain >"$TMP/p.out" 2>"$TMP/p.err"
expect "an entry lost by 3 workers: the 4th records it, does not run it" "$? $(cat "$TMP/p.out")" '0 {"queue_id":1,"claims":4,"status":"error","recorded":true,"candidate_id":1}'
run_cmd "$AEGIS" pool show 1 --db "$TMP/p.db" --json
cp "$TMP/out" "$TMP/r.json"
expect "its verdict says why" "$(field '(r["status"], r["error"]["type"], r["error"]["message"])')" "('error', 'WorkerLost', '3 workers claimed this entry and were lost before they finished (killed, out of memory, or their node went away); it is not run again')"
sleep 1
expect "nothing of the lost workers is left (cgroups)" "$(stale_cgroups)" 0

# a file input travels with the entry: the submitter's file is gone by the
# time a worker (on another node, say) runs it
"$PY" -c "import numpy as np; np.save('$TMP/x.npy', np.random.rand(2, 8).astype('float32'))"
run_cmd "$AEGIS" submit --db "$TMP/f.db" --input "$TMP/x.npy" --no-train good5.py
expect "submit with a file input" "$RC $(cat "$TMP/out")" "0 queued 1: good5.py"
rm -f "$TMP/x.npy"
ls -d "${TMPDIR:-/tmp}"/aegis-input-* >"$TMP/before" 2>/dev/null
"$AEGIS" worker --db "$TMP/f.db" --drain >"$TMP/f.out" 2>"$TMP/f.err"
expect "the worker ran it from the entry's copy" "$? $(grep -c '"status":"accepted"' "$TMP/f.out")" "0 1"
run_cmd "$AEGIS" pool show 1 --db "$TMP/f.db" --json
cp "$TMP/out" "$TMP/r.json"
expect "on the submitter's tensor" "$(field '(r["status"], r["metrics"]["input"], r["metrics"]["output_shape"])')" "('accepted', 'file', [2, 6])"
expect "the worker's copy of it is gone" "$(ls -d "${TMPDIR:-/tmp}"/aegis-input-* 2>/dev/null | diff - "$TMP/before" >/dev/null && echo yes)" yes
run_cmd "$AEGIS" submit --db "$TMP/f.db" --input "$TMP/missing.npy" good5.py
expect "an input file that is not there: a usage error" "$RC $(head -1 "$TMP/stderr")" "2 aegis-sandbox: --input: cannot read $TMP/missing.npy: No such file or directory"

# all or nothing (issue 30): one file that cannot be read queues none of them
run_cmd "$AEGIS" submit --db "$TMP/n.db" --no-train good5.py "$TMP/missing.py" good6.py
expect "a missing file: exit 2, and says nothing was queued" "$RC $(tail -1 "$TMP/stderr")" \
	"2 aegis-sandbox: submit: nothing queued (1 of 3 files could not be read)"
expect "... not even the pool was made" "$([ -e "$TMP/n.db" ] && echo made || echo none)" none

# concurrent submitters
for k in 1 2 3 4; do
	"$AEGIS" submit --db "$TMP/c.db" --no-train good5.py good6.py good7.py good8.py good9.py >"$TMP/s$k.out" 2>&1 &
done
wait
run_cmd "$AEGIS" pool queue --db "$TMP/c.db" --json
cp "$TMP/out" "$TMP/r.json"
expect "4 concurrent submitters: 20 entries, distinct ids" "$(field '(r["queued"], len(set(e["id"] for e in r["entries"])))')" "(20, 20)"
# worker --jobs 2: two processes drain it
"$AEGIS" worker --db "$TMP/c.db" --jobs 2 --drain --input-ignored >/dev/null 2>&1
expect "worker refuses an unknown option" "$?" 2
"$AEGIS" worker --db "$TMP/c.db" --jobs 2 --drain >"$TMP/j.out" 2>"$TMP/j.err"
expect "worker --jobs 2 --drain" "$? $(grep -c '"recorded":true' "$TMP/j.out")" "0 20"

# the other recipes: the systemd unit verifies (pointed at this build),
# the Kubernetes manifest runs the worker with the URL from a secret
if command -v systemd-analyze >/dev/null 2>&1; then
	# the unit as shipped, only its environment file elsewhere (issue 30: it
	# hard-coded /usr/local/bin, which the pip route does not use)
	printf 'AEGIS_DB=%s\nAEGIS_SANDBOX=%s\n' "$TMP/q.db" "$AEGIS" >"$TMP/worker.env"
	sed "s|EnvironmentFile=.*|EnvironmentFile=$TMP/worker.env|" \
		"$TOP_SRCDIR/doc/launchers/aegis-worker@.service" >"$TMP/aegis-worker@.service"
	expect "systemd unit verifies" "$(systemd-analyze verify "$TMP/aegis-worker@.service" 2>&1)" ""
	expect "systemd unit: the program from the environment file, its own cgroup subtree" \
		"$(grep -c '^ExecStart=/usr/bin/env ${AEGIS_SANDBOX} worker' "$TMP/aegis-worker@.service") $(grep -c '^Delegate=yes$' "$TMP/aegis-worker@.service")" "1 1"
fi
expect "slurm script: the early SIGTERM reaches the batch step (B:)" \
	"$(grep -c '^#SBATCH --signal=B:TERM@' "$TOP_SRCDIR/doc/launchers/slurm-workers.sbatch")" 1
k8s=$TOP_SRCDIR/doc/launchers/k8s-workers.yaml
expect "kubernetes manifest: a Deployment whose worker takes the URL from a secret" \
	"$(grep -c '^kind: Deployment$' "$k8s") $(grep -c 'command: \["aegis-sandbox", "worker", "--db", "$(AEGIS_DB)"' "$k8s") $(grep -c 'name: aegis-pool$' "$k8s")" "1 1 1"

# usage
# a mistyped --db (issue 30): a usage error before anything runs, and no
# directory made for it
echo '{"path": "good1.py"}' >"$TMP/one.jsonl"
for cmd in "run --no-train --input float:2x8" "submit --no-train" "worker --drain" "batch --jobs 1"; do
	case $cmd in
	worker*) run_cmd "$AEGIS" worker --db "$TMP/typo/dir/pool.db" --drain ;;
	batch*) run_cmd "$AEGIS" batch --db "$TMP/typo/dir/pool.db" "$TMP/one.jsonl" ;;
	*) run_cmd "$AEGIS" ${cmd%% *} --db "$TMP/typo/dir/pool.db" ${cmd#* } good1.py ;;
	esac
	expect "${cmd%% *} --db in a directory that does not exist: exit 2, said, nothing made" \
		"$RC $(tail -1 "$TMP/stderr") $([ -e "$TMP/typo" ] && echo made || echo none)" \
		"2 aegis-sandbox: --db $TMP/typo/dir/pool.db: no directory $TMP/typo/dir to make the pool in (No such file or directory) none"
done
# ... but the default pool ('pool path', which the Python client uses) gets
# its directory
XDG_DATA_HOME=$TMP/xdg run_cmd "$AEGIS" submit --db "$TMP/xdg/aegis-sandbox/pool.db" good1.py
expect "the default pool's directory is made" "$RC $([ -f "$TMP/xdg/aegis-sandbox/pool.db" ] && echo made)" "0 made"
# one meaning per short option (issue 30): -j is --json, never --jobs
run_cmd "$AEGIS" worker --db "$TMP/c.db" -j 2 --drain
expect "worker -j: a usage error that names --jobs" "$RC $(head -1 "$TMP/stderr")" \
	"2 aegis-sandbox: worker: -j is --json in aegis-sandbox; the number of jobs is --jobs N"
run_cmd "$AEGIS" submit good1.py
expect "submit needs --db" "$RC $(head -1 "$TMP/stderr")" "2 aegis-sandbox: submit: --db PATH is required (the pool the workers drain)"
run_cmd "$AEGIS" worker --help
expect "worker --help" "$(head -1 "$TMP/out")" "Usage: aegis-sandbox worker --db DB [OPTIONS]"
finish
