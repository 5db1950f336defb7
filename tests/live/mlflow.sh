# mlflow.sh - each judged candidate as an MLflow run (the real package,
# mlflow-skinny from PyPI in the torch-2 venv, on a local file store):
# through SafeCodeExecutor's on_result hook in a loop, and from a pool the
# CLI wrote.  The run holds the verdict, the metrics, the loss curve, the
# code and, for an accepted candidate, the archive the verifier passed
# (the same bytes); a rejected one has no archive.
. "$TOP_SRCDIR/tests/live/lib.sh"
. "$TOP_SRCDIR/tests/integrations/lib.sh"
need_module mlflow mlflow-skinny
URI="file://$TMP/mlruns"
env PYTHONPATH="$AEGIS_PYHELPERS" AEGIS_SANDBOX="$AEGIS" AEGIS_SANDBOX_DB="$TMP/pool.db" \
	"$PY" -W ignore - "$URI" "$EXAMPLES" >"$TMP/loop.out" 2>"$TMP/loop.err" <<'PYEOF'
import hashlib, json, os, sys
import mlflow
from aegis_sandbox import SafeCodeExecutor
from aegis_sandbox.integrations.mlflow import MLflowLogger

uri, ex_dir = sys.argv[1], sys.argv[2]
ex = SafeCodeExecutor(on_result=MLflowLogger(uri, experiment="loop"), train=True)
good = ex.execute_model_code(open(os.path.join(ex_dir, "seed_model.py")).read(), "tokens:2x20:1000", "gen0_seed")
bad = ex.execute_model_code(open(os.path.join(ex_dir, "seed_broken.py")).read(), "tokens:2x20:1000", "gen1_broken")
ex.close()
c = mlflow.tracking.MlflowClient()
exp = mlflow.get_experiment_by_name("loop")
runs = {r.info.run_name: r for r in c.search_runs([exp.experiment_id])}
print("runs", sorted(runs))
g, b = runs["gen0_seed"], runs["gen1_broken"]
print("good", g.data.params["status"], g.data.tags["aegis.stage"], int(g.data.metrics["parameters"]),
      len(c.get_metric_history(g.info.run_id, "loss_curve")) == len(good.metrics["loss_curve"]))
arts = sorted(a.path for a in c.list_artifacts(g.info.run_id)) + \
    sorted(a.path for a in c.list_artifacts(g.info.run_id, "model"))
print("good artifacts", arts)
p = c.download_artifacts(g.info.run_id, "model/archive.pt", os.environ["TMPDIR"])
print("archive is the verified bytes", hashlib.sha256(open(p, "rb").read()).hexdigest() == good.raw["archive"]["sha256"])
v = json.load(open(c.download_artifacts(g.info.run_id, "verdict.json", os.environ["TMPDIR"])))
print("verdict", v["status"], v["candidate_id"] == good.candidate_id)
print("bad", b.data.params["status"], sorted(a.path for a in c.list_artifacts(b.info.run_id)))
PYEOF
expect "the loop ran" "$? $(grep -c Traceback "$TMP/loop.err")" "0 0"
expect "one run per judged candidate" "$(grep '^runs' "$TMP/loop.out")" "runs ['gen0_seed', 'gen1_broken']"
expect "the accepted one: verdict, metrics, the loss curve step by step" "$(grep '^good accepted' "$TMP/loop.out")" "good accepted validate 1674984 True"
expect "its artifacts" "$(grep '^good artifacts' "$TMP/loop.out")" "good artifacts ['code.py', 'model', 'verdict.json', 'model/archive.pt']"
expect "the archive logged is the one the verifier passed" "$(grep '^archive' "$TMP/loop.out")" "archive is the verified bytes True"
expect "the verdict document" "$(grep '^verdict' "$TMP/loop.out")" "verdict accepted True"
expect "the rejected one: no archive" "$(grep '^bad' "$TMP/loop.out")" "bad rejected ['code.py', 'verdict.json']"
grep -q Traceback "$TMP/loop.err" && grep -v '^$' "$TMP/loop.err" | tail -5 | sed 's/^/    stderr: /'

# a pool the CLI wrote, logged after the fact, once
"$AEGIS" run --db "$TMP/cli.db" --no-train --arch-id cli_a "$EXAMPLES/seed_model.py" >/dev/null 2>&1
"$AEGIS" run --db "$TMP/cli.db" --no-train --arch-id cli_b --input float:2x100 "$MODELS/nan_output.py" >/dev/null 2>&1
"$AEGIS" pool annotate 1 --db "$TMP/cli.db" --metrics '{"accuracy": 0.5}' >/dev/null
for i in 1 2; do
	env PYTHONPATH="$AEGIS_PYHELPERS" AEGIS_SANDBOX="$AEGIS" "$PY" -W ignore -m aegis_sandbox.integrations.mlflow \
		--db "$TMP/cli.db" --tracking-uri "$URI" --experiment pool >"$TMP/log$i.out" 2>&1
done
expect "log a pool: each candidate once" "$(grep '^logged' "$TMP/log1.out") / $(grep '^logged' "$TMP/log2.out")" \
	"logged 2 candidate(s) to MLflow experiment pool / logged 0 candidate(s) to MLflow experiment pool"
MLFLOW_ALLOW_FILE_STORE=true "$PY" -W ignore - "$URI" >"$TMP/pool.out" 2>&1 <<'PYEOF'
import sys
import mlflow
mlflow.set_tracking_uri(sys.argv[1])
c = mlflow.tracking.MlflowClient()
exp = mlflow.get_experiment_by_name("pool")
for r in sorted(c.search_runs([exp.experiment_id]), key=lambda r: r.info.run_name):
    print(r.info.run_name, r.data.params["status"], r.data.metrics.get("accuracy"),
          sorted(a.path for a in c.list_artifacts(r.info.run_id)))
PYEOF
expect "the pool's runs, with the caller's metric and the archive" "$(cat "$TMP/pool.out" | tr '\n' '|')" \
	"cli_a accepted 0.5 ['code.py', 'model', 'verdict.json']|cli_b rejected None ['code.py', 'verdict.json']|"
finish
