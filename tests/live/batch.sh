# batch.sh - batch and serve: many candidates through one warm zygote.
. "$TOP_SRCDIR/tests/live/lib.sh"

cat >"$TMP/reqs.jsonl" <<JEOF
{"id": "seed", "path": "$EXAMPLES/seed_model.py", "train": false}
{"id": "violation", "code": "import os\nos.system('true')\n", "train": false}
not json at all
{"id": "mlp", "path": "$MODELS/mlp.py", "input": "float:2x100", "train": false, "architecture_id": "m1"}
{"id": "loop", "path": "$MODELS/loop_forever.py", "input": "float:2x4", "timeout": 1}
{"id": "missing", "path": "/nonexistent/model.py"}
{"id": "wider", "path": "$MODELS/mlp.py", "input": "float:2x100", "timeout": 99999}
{"id": "broken", "path": "$EXAMPLES/seed_broken.py", "input": "tokens:2x20:1000", "train": false}
{"id": "nan", "path": "$MODELS/nan_output.py", "input": "float:2x100"}
JEOF
"$AEGIS" batch --jobs 2 "$TMP/reqs.jsonl" >"$TMP/out.jsonl" 2>"$TMP/stderr"
expect "batch with a malformed request exits 2" "$?" 2
"$PY" - "$TMP/out.jsonl" >"$TMP/got" <<'PYEOF'
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    print(r.get("request_id"), r["status"], (r.get("error") or {}).get("type"))
PYEOF
expect "one result per line, in input order" "$(cat "$TMP/got")" "seed accepted None
violation violation PolicyViolation
None error RequestError
mlp accepted None
loop timeout Timeout
missing error RequestError
wider error RequestError
broken accepted None
nan rejected NonFiniteOutput"
expect "summary table on stderr" "$(grep -c -E '^  (accepted|rejected|violation|other) ' "$TMP/stderr")" 4
expect "summary: the failed requests" "$(grep '^  failed' "$TMP/stderr" | tr -s ' ')" " failed 3 (3 malformed request(s), 0 sandbox error(s))"
# a batch where every request is judged exits 0, whatever the verdicts
printf '{"id": "a", "path": "%s", "train": false}\n{"id": "v", "code": "import os\\nos.system(\\"true\\")\\n", "train": false}\n' "$EXAMPLES/seed_model.py" >"$TMP/judged.jsonl"
"$AEGIS" batch --jobs 1 "$TMP/judged.jsonl" >"$TMP/judged.out" 2>"$TMP/stderr"
expect "every request judged (accepted, violation): exit 0" "$? $(wc -l <"$TMP/judged.out")" "0 2"
# the total is known before the first result (progress on a terminal)
if command -v script >/dev/null 2>&1; then
	script -qec "$AEGIS batch --jobs 1 $TMP/judged.jsonl >/dev/null" /dev/null >"$TMP/tty" 2>&1
	expect "progress knows the total from the start" "$(tr '\r' '\n' <"$TMP/tty" | grep -c '^\[[0-9]/2\]')" "$(tr '\r' '\n' <"$TMP/tty" | grep -c '^\[[0-9]/')"
	expect "progress was shown" "$(tr '\r' '\n' <"$TMP/tty" | grep -c '^\[2/2\]' | awk '{print ($1 > 0)}')" 1
fi
"$AEGIS" batch --jobs 2 --unordered "$TMP/reqs.jsonl" >"$TMP/un.jsonl" 2>/dev/null
expect "--unordered: the same results" "$("$PY" -c "import json; print(sorted(str(json.loads(l).get('request_id')) + json.loads(l)['status'] for l in open('$TMP/un.jsonl')) == sorted(str(json.loads(l).get('request_id')) + json.loads(l)['status'] for l in open('$TMP/out.jsonl')))")" True
"$AEGIS" batch --jobs 1 - <"$TMP/reqs.jsonl" >"$TMP/one.jsonl" 2>/dev/null
expect "batch from stdin, one job" "$(wc -l <"$TMP/one.jsonl" | tr -d ' ')" 9
run_cmd "$AEGIS" batch --jobs 0 "$TMP/reqs.jsonl"
expect "bad --jobs" "$RC" 2

# serve --stdio: answers as results come; a killed zygote is restarted
"$PY" - "$AEGIS" "$MODELS" <<'PYEOF' >"$TMP/serve.out" 2>&1
import json, os, subprocess, sys, time
aegis, models = sys.argv[1], sys.argv[2]
p = subprocess.Popen([aegis, "serve", "--stdio", "--jobs", "2"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
def ask(req):
    p.stdin.write(json.dumps(req) + "\n")
    p.stdin.flush()
    return json.loads(p.stdout.readline())
mlp = {"path": models + "/mlp.py", "input": "float:2x100", "train": False}
print("first", ask(dict(mlp, id=1))["status"])
print("garbage", ask("not an object")["error"]["type"])
zygotes = [pid for pid in os.listdir("/proc") if pid.isdigit() and os.path.exists("/proc/%s/comm" % pid)
           and open("/proc/%s/comm" % pid).read().strip() == "aegis-zygote"
           and int(open("/proc/%s/stat" % pid).read().split(") ")[1].split()[1]) == p.pid]
os.kill(int(zygotes[0]), 9)
time.sleep(1.0)
print("after restart", ask(dict(mlp, id=2))["status"])
p.stdin.close()
print("exit", p.wait())
PYEOF
expect "serve answers, survives garbage and a killed zygote" "$(cat "$TMP/serve.out")" "first accepted
garbage RequestError
after restart accepted
exit 0"

# serve --socket: a 0600 UNIX socket, clients one after another
"$PY" - "$AEGIS" "$MODELS" "$TMP/s.sock" <<'PYEOF' >"$TMP/sock.out" 2>&1
import json, os, socket, stat, subprocess, sys, time
aegis, models, path = sys.argv[1:]
p = subprocess.Popen([aegis, "serve", "--socket", path, "--jobs", "2"])
for _ in range(300):
    if os.path.exists(path):
        break
    time.sleep(0.1)
print("mode", oct(stat.S_IMODE(os.stat(path).st_mode)))
for client in range(2):
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    f = s.makefile("rw")
    for i in range(2):
        f.write(json.dumps({"id": "%d-%d" % (client, i), "path": models + "/mlp.py", "input": "float:2x100",
                            "train": False}) + "\n")
    f.write("garbage\n")
    f.flush()
    print(client, sorted(json.loads(f.readline())["status"] for _ in range(3)))
    f.close()
    s.close()
p.terminate()
print("exit", p.wait(), "socket left:", os.path.exists(path))
PYEOF
expect "serve --socket" "$(cat "$TMP/sock.out")" "mode 0o600
0 ['accepted', 'accepted', 'error']
1 ['accepted', 'accepted', 'error']
exit 0 socket left: False"

expect "no work directory left after batch (held and spare children included)" "$(ls -A "$TMPDIR" | wc -l)" 0

# serve keeps one held build child ready between candidates, in a work
# directory of its own; closing stdin takes it away with everything else
"$PY" - "$AEGIS" "$EXAMPLES/seed_model.py" "$TMPDIR" >"$TMP/spare" <<'PYEOF'
import json, os, subprocess, sys, time
aegis, model, tmpdir = sys.argv[1:4]
p = subprocess.Popen([aegis, "serve", "--stdio", "--jobs", "1"], stdin=subprocess.PIPE,
                     stdout=subprocess.PIPE, text=True)
for i in range(2):
    p.stdin.write(json.dumps({"id": i, "path": model, "train": False}) + "\n")
    p.stdin.flush()
    print(i, json.loads(p.stdout.readline())["status"])
time.sleep(0.5)
print("idle work directories:", len(os.listdir(tmpdir)))
p.stdin.close()
print("exit", p.wait())
print("left:", len(os.listdir(tmpdir)))
PYEOF
expect "serve: a spare build child waits in its own work directory, and goes at exit" "$(cat "$TMP/spare")" "0 accepted
1 accepted
idle work directories: 1
exit 0
left: 0"

# kill -9 of the front mid-batch leaves nothing behind
printf '{"id": 1, "path": "%s", "input": "float:2x4", "timeout": 60}\n' "$MODELS/loop_forever.py" >"$TMP/slow.jsonl"
"$AEGIS" batch --jobs 1 "$TMP/slow.jsonl" >/dev/null 2>&1 &
front=$!
i=0
while [ $i -lt 100 ] && [ -z "$(ls -A "$TMPDIR")" ]; do sleep 0.1; i=$((i + 1)); done
sleep 0.5
pids=$(tree $front)
kill -9 $front
wait $front 2>/dev/null
i=0
# shellcheck disable=SC2086
while [ $i -lt 50 ] && { [ "$(alive $pids)" -gt 0 ] || [ -n "$(ls -A "$TMPDIR")" ]; }; do sleep 0.1; i=$((i + 1)); done
expect "batch had its worker, zygote and job running" "$(echo "$pids" | wc -l | awk '{print ($1 >= 4)}')" 1
# shellcheck disable=SC2086
expect "no process left after kill -9 of batch" "$(alive $pids)" 0
expect "no work directory left" "$(ls -A "$TMPDIR" | wc -l)" 0
# a client line without end is bounded (64 MiB), answered, and the next
# request still runs
"$PY" -c 'import sys; sys.stdout.buffer.write(b"x" * (65 << 20) + b"\n")' >"$TMP/long.jsonl"
printf '{"id": "after", "path": "%s", "train": false}\n' "$EXAMPLES/seed_model.py" >>"$TMP/long.jsonl"
"$AEGIS" serve --stdio <"$TMP/long.jsonl" >"$TMP/out.jsonl" 2>"$TMP/stderr"
"$PY" - "$TMP/out.jsonl" >"$TMP/got" <<'PYEOF'
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    print(r.get("request_id"), r["status"], (r.get("error") or {}).get("message"))
PYEOF
expect "an endless line is refused, the next request served" "$(cat "$TMP/got")" "None error the request is not a JSON object (a line longer than 67108864 bytes)
after accepted None"
finish
