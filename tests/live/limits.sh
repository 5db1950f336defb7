# limits.sh - each limit gives its own status, and the job dies on time.
. "$TOP_SRCDIR/tests/live/lib.sh"

# wall clock: a Python loop, a blocking C call, a tight loop in C (torch)
for m in loop_forever sleep_forever ignore_sigterm; do
	run_model --timeout 2 --input float:2x4 "$MODELS/$m.py"
	expect "$m: status timeout" "$(field '(r["status"], r["error"]["type"])')" "('timeout', 'Timeout')"
	expect "$m: exit code 4" "$RC" 4
	expect "$m: killed within timeout + 1 s" "$(field 'r["timings"]["build_s"] < 3.0')" True
done
# CPU time, enforced by RLIMIT_CPU and read back from wait4
run_model --set limits.cpu_time_s=1 --set limits.wall_timeout_s=30 --input float:2x4 "$MODELS/loop_forever.py"
expect "CPU limit: status timeout" "$(field '(r["status"], r["error"]["message"])')" "('timeout', 'CPU time limit of 1 s exceeded')"
expect "CPU limit: well before the wall clock" "$(field 'r["timings"]["build_s"] < 5.0')" True

# memory: Python objects and torch tensors
for m in memory_python memory_torch; do
	run_model --memory-mb 256 --input float:2x4 "$MODELS/$m.py"
	expect "$m: status memory" "$(field 'r["status"]')" memory
	expect "$m: exit code 5" "$RC" 5
done
# the same limits without any cgroup: rlimits and the RSS watch
run_model --set sandbox.cgroups=off --memory-mb 256 --input float:2x4 "$MODELS/memory_torch.py"
expect "memory without cgroups" "$(field '(r["status"], r["sandbox"]["cgroup"])')" "('memory', False)"

# output flood: killed, not waited for
run_model --timeout 30 --input float:2x100 "$MODELS/stdout_flood.py"
expect "stdout flood rejected" "$(field '(r["status"], r["error"]["type"])')" "('rejected', 'OutputFlood')"
expect "stdout flood killed early" "$(field 'r["timings"]["build_s"] < 20')" True
expect "flood output capped" "$(field 'len(r["stdout"]) < 1048576 + 200')" True

# a crash by a signal the supervisor did not send
run_model --set python.audit.enabled=false --input float:2x100 "$MODELS/segfault.py"
expect "SIGSEGV is a crash" "$(field '(r["status"], r["error"]["message"])')" "('crash', 'killed by signal 11 (Segmentation fault)')"
expect "crash exit code 6" "$RC" 6

# nothing left behind by any of the above
expect "no job cgroups left" "$(stale_cgroups)" 0
expect "no work directories left" "$(ls -A "$TMPDIR" | grep -c "^")" 0
finish
