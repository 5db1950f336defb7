# cli.sh - the command line as a user meets it.
. "$TOP_SRCDIR/tests/live/lib.sh"

run_cmd "$AEGIS" --version
expect "--version exits 0" "$RC" 0
expect "--version names the program" "$(head -1 "$TMP/out" | cut -d' ' -f1)" aegis-sandbox
expect "--version names the licence" "$(grep -c 'Apache License, Version 2.0' "$TMP/out")" 1
run_cmd "$AEGIS" --help
expect "--help lists run" "$(grep -c '^  run MODEL.py' "$TMP/out")" 1
for c in check batch serve pool approvals policy; do
	expect "--help lists $c" "$(grep -c "^  $c" "$TMP/out" | tr -d ' ' | sed 's/^[1-9][0-9]*$/yes/')" yes
done
expect "--help describes nothing as unavailable" "$(grep -c 'not available' "$TMP/out")" 0
run_cmd "$AEGIS" run --help
expect "run --help lists --no-train" "$(grep -c -- '--no-train' "$TMP/out")" 1
run_cmd "$AEGIS" nosuchcommand
expect "unknown command exits 2" "$RC" 2
run_cmd "$AEGIS" serve
expect "serve without a transport exits 2" "$RC" 2
expect "serve says which transports it has" "$(head -1 "$TMP/stderr")" "aegis-sandbox: serve: give one of --stdio and --socket PATH"
run_cmd "$AEGIS" run /nonexistent/model.py
expect "missing model file exits 2" "$RC" 2
expect "missing model file message" "$(cat "$TMP/stderr")" "aegis-sandbox: cannot read /nonexistent/model.py: No such file or directory
Try 'aegis-sandbox --help'."
run_cmd "$AEGIS" run --input bogus "$EXAMPLES/seed_model.py"
expect "bad input spec exits 2" "$RC" 2

# human-readable output of a real run
run_cmd "$AEGIS" run --no-train "$EXAMPLES/seed_model.py"
expect "human run exits 0" "$RC" 0
expect "human verdict line" "$(head -1 "$TMP/out")" "$EXAMPLES/seed_model.py: accepted (stage validate)"
expect "human parameter line" "$(grep parameters "$TMP/out" | tr -s ' ')" " parameters 1674984"
run_cmd "$AEGIS" run --max-attempts 1 --input tokens:2x20:1000 "$EXAMPLES/seed_broken.py"
expect "human broken exits 1" "$RC" 1
# (torch 2.x adds ", but got Long and Float" to torch 1.13's message)
expect "human error line" "$(grep ' error ' "$TMP/out" | tr -s ' ' | sed 's/, but got Long and Float//')" " error RuntimeError: mat1 and mat2 must have the same dtype (line 14) [in layer1 (Linear)]"

# check: the static check only
run_cmd "$AEGIS" check "$EXAMPLES/seed_model.py"
expect "check of clean code exits 0" "$RC" 0
printf 'import os\nimport torch.nn as nn\nclass Model(nn.Module):\n    pass\n' >"$TMP/bad.py"
"$AEGIS" check --json "$TMP/bad.py" >"$TMP/r.json"
RC=$?
expect "check of import os: a warning, not a violation (importing is no attack)" "$RC" 0
expect "check warning rule, line and column" "$(field '(r["status"], r["warnings"][0]["rule"], r["warnings"][0]["line"], r["warnings"][0]["col"])')" "('accepted', 'static.import', 1, 1)"
"$AEGIS" check --json --policy "$TOP_SRCDIR/policies/strict.yaml" "$TMP/bad.py" >"$TMP/r.json"
RC=$?
expect "strict policy: check of import os exits 3" "$RC" 3
expect "strict policy: violation stage" "$(field 'r["stage"]')" static
expect "strict policy: violation rule and line" "$(field '(r["violations"][0]["rule"], r["violations"][0]["line"], r["violations"][0]["col"])')" "('static.import', 1, 1)"
"$AEGIS" check "$TMP/bad.py" >"$TMP/human" 2>&1
expect "human output shows the warning with line and column" "$(grep -c "^  warnings     static.import: import of 'os', which is not in python.allowed_imports (line 1:1)$" "$TMP/human")" 1
# The supervisor never embeds Python: it does not even link libpython (the
# zygote is a program of its own, doc/architecture.md)
if command -v ldd >/dev/null 2>&1; then
	expect "the supervisor does not link libpython" "$(ldd "$AEGIS" | grep -c libpython)" 0
	expect "nor holds any of its code" "$(nm "$AEGIS" 2>/dev/null | grep -c ' Py_InitializeFromConfig$')" 0
	expect "the zygote does (static or shared)" "$({ ldd "$TOP_BUILDDIR/src/aegis-zygote"; nm "$TOP_BUILDDIR/src/aegis-zygote"; } 2>/dev/null | grep -q 'libpython\| T Py_InitializeFromConfig$' && echo yes)" yes
fi
# every result says what it was judged on, and so does its pool row
run_model --no-train --input float:2x100 --db "$TMP/rt.db" "$MODELS/mlp.py"
expect "runtime: the embedded interpreter's torch" "$(field 'r["runtime"]["torch"]')" "$("$PY" -W ignore -c 'import torch; print(torch.__version__)' 2>/dev/null)"
expect "runtime: its Python" "$(field 'r["runtime"]["python"]')" "$("$PY" -c 'import platform; print(platform.python_version())')"
expect "runtime: the archive format" "$(field 'r["runtime"]["format"]')" torchscript
"$AEGIS" pool list --db "$TMP/rt.db" --json >"$TMP/r.json"
expect "pool row: torch, python, format" "$(field '[bool(x["torch"]) and bool(x["python"]) and x["format"] for x in r]')" '["torchscript"]'
finish
