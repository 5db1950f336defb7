# shinka.sh - ShinkaEvolve (PyPI shinka-evolve, in the torch-2 venv) evolves
# doc/examples/shinka, whose evaluate.py is aegis_sandbox.integrations.shinka,
# launched by ShinkaEvolve's own local job scheduler as a process per
# program; the LLM is a scripted OpenAI-compatible endpoint on loopback
# ("local/MODEL@URL"; tests/integrations/scripted_llm.py: a benign edit, a
# hostile one, a benign one).  Every program ShinkaEvolve evaluated was
# judged by the sandbox (one pool row each), the hostile edit is a
# violation that harmed nothing, and ShinkaEvolve's database holds the
# scores and correctness the sandbox returned.
. "$TOP_SRCDIR/tests/live/lib.sh"

. "$TOP_SRCDIR/tests/integrations/lib.sh"
need_module shinka shinka-evolve
start_llm
cd "$TMP" || exit 1
env PYTHONPATH="$AEGIS_PYHELPERS" AEGIS_SANDBOX="$AEGIS" OPENAI_API_KEY=scripted NO_PROXY=127.0.0.1 \
	AEGIS_INPUT=tokens:2x32:256 AEGIS_SANDBOX_DB="$TMP/pool.db" \
	"$(dirname "$PY")/shinka_run" --task-dir "$TOP_SRCDIR/doc/examples/shinka" --config-fname config.yaml \
	--results_dir "$TMP/sk" --num_generations 4 \
	--set "evo.llm_models=[\"local/gpt-4o-mini@http://127.0.0.1:$PORT/v1\"]" >"$TMP/sk.log" 2>&1
rc=$?
kill "$LLM" 2>/dev/null
expect "shinka_run: 4 generations (3 edits), exit 0" "$rc $(cat "$TMP/port.count")" "0 3"
[ "$rc" -eq 0 ] || tail -20 "$TMP/sk.log"
"$AEGIS" pool list --db "$TMP/pool.db" --json >"$TMP/r.json"
expect "every generation has its verdict in the pool, named by it" \
	"$(field 'sorted(c["architecture_id"] for c in r)')" '["shinka-gen_0", "shinka-gen_1", "shinka-gen_2", "shinka-gen_3"]'
expect "the hostile edit harmed nothing" "$([ -e "$TMP/canary" ] && echo touched || echo none)" none
# ShinkaEvolve's database holds what the sandbox returned: correct for the
# accepted, 1 / (1 + held-out loss) as their score, 0 and incorrect for a
# violation; the violations are exactly the programs with the hostile edit
"$PY" - "$TMP/sk/programs.sqlite" "$TMP/r.json" >"$TMP/scores" <<'PYEOF'
import json, sqlite3, sys
rows = {c["architecture_id"]: c for c in json.load(open(sys.argv[2]))}
db = sqlite3.connect(sys.argv[1])
ok, n, hostile = True, 0, 0
for gen, correct, score, code in db.execute("SELECT generation, correct, combined_score, code FROM programs"):
    c = rows["shinka-gen_%d" % gen]
    want = round(1 / (1 + c["heldout_loss"]), 6) if c["status"] == "accepted" else 0.0
    bad = "system(" in code
    hostile += bad
    ok &= bool(correct) == (c["status"] == "accepted") and round(score, 6) == want and bad == (c["status"] == "violation")
    n += 1
print(ok, n, hostile >= 1)
PYEOF
expect "ShinkaEvolve's database holds the sandbox's verdicts and scores; the hostile programs are violations" \
	"$(cat "$TMP/scores")" "True 4 True"
finish
