# openevolve.sh - OpenEvolve (the PyPI package, in the torch-2 venv)
# evolves doc/examples/openevolve with its evaluator from
# aegis_sandbox.integrations.openevolve; the LLM is a scripted
# OpenAI-compatible endpoint on loopback (tests/integrations/scripted_llm.py:
# a benign edit, a hostile one, a benign one).  Every program OpenEvolve
# evaluated was judged by the sandbox (one pool row each), the hostile edit
# is a violation that harmed nothing and did not stop the run, and
# OpenEvolve's own database holds the scores the sandbox returned.
. "$TOP_SRCDIR/tests/live/lib.sh"

. "$TOP_SRCDIR/tests/integrations/lib.sh"
need_module openevolve openevolve
OE_RUN=$(dirname "$PY")/openevolve-run
EX=$TOP_SRCDIR/doc/examples/openevolve
start_llm
sed "s|http://127.0.0.1:8000/v1|http://127.0.0.1:$PORT/v1|; s|^checkpoint_interval: .*|checkpoint_interval: 1|" \
	"$EX/config.yaml" >"$TMP/config.yaml"
env PYTHONPATH="$AEGIS_PYHELPERS" AEGIS_SANDBOX="$AEGIS" OPENAI_API_KEY=scripted NO_PROXY=127.0.0.1 \
	AEGIS_INPUT=tokens:2x32:256 AEGIS_SANDBOX_DB="$TMP/pool.db" \
	"$OE_RUN" "$EX/initial_program.py" "$EX/evaluator.py" --config "$TMP/config.yaml" --iterations 3 \
	--output "$TMP/oe" >"$TMP/oe.log" 2>&1
rc=$?
kill "$LLM" 2>/dev/null
expect "openevolve-run: 3 iterations, exit 0" "$rc $(cat "$TMP/port.count")" "0 3"
[ "$rc" -eq 0 ] || tail -20 "$TMP/oe.log"
evaluated=$(grep -c 'Evaluated program' "$TMP/oe.log")
"$AEGIS" pool list --db "$TMP/pool.db" --json >"$TMP/r.json"
expect "every program OpenEvolve evaluated has its verdict in the pool, one row each" \
	"$evaluated $(field 'len(r)')" "4 4"
expect "the hostile edit harmed nothing" "$([ -e "$TMP/canary" ] && echo touched || echo none)" none
# OpenEvolve's own database (its last checkpoint) holds the scores the
# evaluator returned: 1 / (1 + held-out loss) of each accepted row, 0 for a
# violation; and the violations are exactly the programs with the hostile
# edit (a child of the hostile program inherits it)
"$PY" - "$TMP/oe" "$TMP/r.json" >"$TMP/scores" <<'PYEOF'
import glob, json, os, sys
last = sorted(glob.glob(os.path.join(sys.argv[1], "checkpoints", "checkpoint_*")),
              key=lambda p: int(p.rsplit("_", 1)[1]))[-1]
progs = [json.load(open(p)) for p in glob.glob(os.path.join(last, "programs", "*.json"))]
rows = json.load(open(sys.argv[2]))
theirs = sorted(round(p["metrics"]["combined_score"], 6) for p in progs)
ours = sorted(round(1 / (1 + c["heldout_loss"]), 6) if c["status"] == "accepted" else 0.0 for c in rows)
hostile = sum("system(" in p["code"] for p in progs)
violations = sum(c["status"] == "violation" for c in rows)
accepted = sum(c["status"] == "accepted" for c in rows)
print(theirs == ours, len(theirs), hostile >= 1 and hostile == violations and accepted + violations == len(rows))
PYEOF
expect "OpenEvolve's database holds the sandbox's scores; the hostile programs, and only they, are violations" \
	"$(cat "$TMP/scores")" "True 4 True"
finish
