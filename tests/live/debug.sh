# debug.sh - the debug loop: built-in fixers, the operator's fixer command.
. "$TOP_SRCDIR/tests/live/lib.sh"
D=$MODELS/debug
FIX=$TOP_SRCDIR/tests/fixers/record_fixer.py
export FIXER_LOG=$TMP/fixer.log

# the seed's example of the debug loop: missing imports, fixed on attempt 2
run_model --no-train --input float:2x100 "$D/missing_imports.py"
expect "missing imports fixed on attempt 2" "$(field '(r["status"], len(r["attempts"]), [f["rule"] for f in r["attempts"][0]["fixes"]])')" "('accepted', 2, ['missing_import', 'missing_import'])"
expect "first attempt's error recorded" "$(field '(r["attempts"][0]["status"], r["attempts"][0]["error"]["type"], r["attempts"][0]["error"]["message"])')" "('rejected', 'NameError', \"name 'nn' is not defined\")"
expect "final_code is the code judged" "$(field 'r["final_code"].splitlines()[:2]')" '["import torch.nn as nn", "import torch.nn.functional as F"]'
expect "each fix carries a unified diff" "$(field 'r["attempts"][0]["fixes"][0]["diff"].startswith("--- candidate.py")')" True

# in_features mismatch, read from torch's message and the failing module
run_model --no-train --input float:2x100 "$D/in_features.py"
expect "in_features fixed" "$(field '(r["status"], r["attempts"][0]["fixes"][0]["rule"], r["attempts"][0]["fixes"][0]["line"])')" "('accepted', 'in_features', 9)"
expect "in_features description" "$(field 'r["attempts"][0]["fixes"][0]["description"]')" "fc2: nn.Linear in_features 32 -> 64, the width of its actual input"

# the seed's "Example: Complete Flow" comes out as the seed's fixed code
run_model --input tokens:2x20:1000 "$EXAMPLES/seed_broken.py"
expect "seed example fixed and accepted" "$(field '(r["status"], r["metrics"]["parameters"], r["metrics"]["output_shape"], r["attempts"][0]["fixes"][0]["rule"])')" "('accepted', 1674984, [2, 1000], 'token_embedding')"
"$PY" - "$TMP/r.json" "$EXAMPLES/seed_model.py" <<'PYEOF' >"$TMP/same"
import ast, json, sys
r = json.load(open(sys.argv[1]))
print(ast.dump(ast.parse(r["final_code"])) == ast.dump(ast.parse(open(sys.argv[2]).read())))
PYEOF
expect "fixed code equals the seed's fixed example (AST)" "$(cat "$TMP/same")" True

run_model --no-train --input float:2x100 "$D/no_super_init.py"
expect "missing super().__init__() fixed" "$(field '(r["status"], r["attempts"][0]["fixes"][0]["rule"])')" "('accepted', 'super_init')"
run_model --no-train --input float:2x100 "$D/forward_no_return.py"
expect "forward returning None fixed" "$(field '(r["status"], r["attempts"][0]["fixes"][0]["rule"])')" "('accepted', 'forward_return')"

# a fixer that is not sure does nothing: one attempt, the error reported
run_model --no-train --input float:2x100 "$D/unfixable.py"
expect "unfixable: one attempt" "$(field '(r["status"], len(r["attempts"]), r["error"]["message"])')" "('rejected', 1, 'no fixer knows this one')"
run_model --no-train --max-attempts 1 --input tokens:2x20:1000 "$EXAMPLES/seed_broken.py"
expect "--max-attempts 1 disables the loop" "$(field '(r["status"], len(r["attempts"]))')" "('rejected', 1)"
run_model --no-train --set debug.builtin_fixers=false --input float:2x100 "$D/missing_imports.py"
expect "built-in fixers off" "$(field '(r["status"], len(r["attempts"]))')" "('rejected', 1)"
# violations are never "fixed"
printf 'import os\nimport torch.nn as nn\nos.system("true")\nclass Model(nn.Module):\n    pass\n' >"$TMP/viol.py"
run_model --no-train --fixer "$PY $FIX" "$TMP/viol.py"
expect "a violation is not sent to the fixer" "$(field '(r["status"], len(r["attempts"]))')" "('violation', 1)"

# the operator's fixer command: the documented JSON in, code out
rm -f "$FIXER_LOG"
FIXER_MODE=fix run_model --no-train --fixer "$PY $FIX" --arch-id gen3_x --input float:2x100 "$D/unfixable.py"
expect "fixer command fixed it" "$(field '(r["status"], len(r["attempts"]), r["attempts"][0]["fixes"][0]["rule"], r["attempts"][0]["fixes"][0]["changes"])')" "('accepted', 2, 'fixer_command', ['replaced the raise with a return'])"
"$PY" - "$FIXER_LOG" <<'PYEOF' >"$TMP/req"
import json, sys
req = json.loads(open(sys.argv[1]).readline())
print(sorted(req), req["error_type"], req["error_message"], req["error_line"], req["attempt"], req["architecture_id"],
      "candidate.py" in req["traceback"], "aegis_job" not in req["traceback"])
PYEOF
expect "fixer request JSON" "$(cat "$TMP/req")" "['architecture_id', 'attempt', 'code', 'error_line', 'error_message', 'error_type', 'traceback'] ValueError no fixer knows this one 10 1 gen3_x True True"
FIXER_MODE=plain run_model --no-train --fixer "$PY $FIX" --input float:2x100 "$D/unfixable.py"
expect "plain-text answer" "$(field 'r["status"]')" accepted
FIXER_MODE=same run_model --no-train --fixer "$PY $FIX" --input float:2x100 "$D/unfixable.py"
expect "unfixable exhausts the attempts, last error reported" "$(field '(r["status"], len(r["attempts"]), r["error"]["message"], r["final_code"].rstrip().endswith("# attempt 2"))')" "('rejected', 3, 'no fixer knows this one', True)"
FIXER_MODE=hang run_model --no-train --fixer "$PY $FIX" --set debug.fixer_timeout_s=1 --max-attempts 2 --input float:2x100 "$D/unfixable.py"
expect "hanging fixer is timed out" "$(field '(r["status"], r["attempts"][0]["fixer_error"], r["attempts"][0]["fixer_time"] < 3)')" "('rejected', 'the fixer command timed out after 1 s', True)"
for mode in garbage badjson crash fail; do
	FIXER_MODE=$mode run_model --no-train --fixer "$PY $FIX" --input float:2x100 "$D/unfixable.py"
	expect "fixer $mode: reported, run goes on" "$(field '(r["status"], len(r["attempts"]), r["attempts"][0]["fixer_error"])')" "$(case $mode in
		garbage) echo "('rejected', 1, 'the fixer command printed something that is not UTF-8 text')" ;;
		badjson) echo "('rejected', 1, 'the fixer command printed JSON without a \"code\" string')" ;;
		crash) echo "('rejected', 1, 'the fixer command was killed by signal 11')" ;;
		fail) echo "('rejected', 1, 'the fixer command exited with status 3')" ;;
		esac)"
done
run_model --no-train --fixer /nonexistent/fixer --input float:2x100 "$D/unfixable.py"
expect "missing fixer program" "$(field 'r["attempts"][0]["fixer_error"]')" "the fixer command exited with status 127"

# doc/examples/llm_fixer.py against a stand-in OpenAI-compatible server on loopback
"$PY" "$TOP_SRCDIR/tests/fixers/fake_llm_server.py" "$TMP/llm.log" >"$TMP/port" &
srv=$!
i=0
while [ ! -s "$TMP/port" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
AEGIS_LLM_BASE_URL="http://127.0.0.1:$(cat "$TMP/port")/v1" AEGIS_LLM_MODEL=test-model AEGIS_LLM_API_KEY=sk-test \
	run_model --no-train --fixer "$PY $EXAMPLES/llm_fixer.py" --input float:2x100 "$D/unfixable.py"
kill $srv 2>/dev/null
wait $srv 2>/dev/null
expect "llm_fixer.py fixed it through the endpoint" "$(field '(r["status"], r["attempts"][0]["fixes"][0]["changes"])')" "('accepted', [\"return the linear layer's output\"])"
expect "llm_fixer.py called /v1/chat/completions with the key and model" "$("$PY" -c "import json; r = json.loads(open('$TMP/llm.log').readline()); print(r['path'], r['auth'], r['body']['model'])")" "/v1/chat/completions Bearer sk-test test-model"
finish
