# launchers.sh - the recipes of doc/launchers checked by their engines'
# own rules where the engine is not here: the Kubernetes manifest against
# Kubernetes' schema (kubernetes-validate from PyPI, in the torch-2 venv;
# strict: an unknown field fails too).  The systemd unit is verified by
# systemd-analyze in queue.sh.
. "$TOP_SRCDIR/tests/live/lib.sh"
. "$TOP_SRCDIR/tests/integrations/lib.sh"
need_module kubernetes_validate kubernetes-validate
KV=$(dirname "$PY")/kubernetes-validate
K8S=$TOP_SRCDIR/doc/launchers/k8s-workers.yaml
run_cmd "$KV" --strict "$K8S"
expect "the Kubernetes manifest passes its schema, strictly" \
	"$RC $(grep -c 'passed for resource deployment/aegis-workers' "$TMP/out")" "0 1"
# the check can fail: a count as a word, and a field Kubernetes does not have
sed 's/replicas: 2/replicas: two/' "$K8S" >"$TMP/bad1.yaml"
run_cmd "$KV" --strict "$TMP/bad1.yaml"
expect "a mistyped field fails" "$RC $(grep -c 'replicas' "$TMP/out" "$TMP/stderr" | awk -F: '{s+=$2} END {print (s > 0)}')" "1 1"
sed 's/terminationGracePeriodSeconds: 180/terminationGracePeriodSecond: 180/' "$K8S" >"$TMP/bad2.yaml"
run_cmd "$KV" --strict "$TMP/bad2.yaml"
expect "an unknown field fails" "$RC" 1
finish
