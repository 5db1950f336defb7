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
expect "human error line: the user's file and line, once" "$(grep ' error ' "$TMP/out" | tr -s ' ' | sed 's/, but got Long and Float//')" " error $EXAMPLES/seed_broken.py:14: RuntimeError: mat1 and mat2 must have the same dtype [in layer1 (Linear)]"
printf 'import torch.nn as nn\nclass Model(nn.Module):\n    def forward(self, x)\n        return x\n' >"$TMP/model.py"
run_cmd "$AEGIS" run "$TMP/model.py"
expect "a syntax error names the user's file, line and column, once" "$(grep ' error ' "$TMP/out" | tr -s ' ')" " error $TMP/model.py:3:25: SyntaxError: expected ':'"
expect "no candidate.py in what the user reads" "$(grep -c candidate.py "$TMP/out")" 0
"$AEGIS" run - <"$TMP/model.py" >"$TMP/out" 2>"$TMP/stderr"
expect "run -: the source from standard input" "$?:$(head -1 "$TMP/out")" "1:<stdin>: rejected (stage static)"
"$AEGIS" check - <"$EXAMPLES/seed_model.py" >"$TMP/out" 2>"$TMP/stderr"
expect "check -: the source from standard input" "$?" 0

# every subcommand's --help is its own
run_cmd "$AEGIS" check --help
expect "check --help: check's options, not run's" "$(head -1 "$TMP/out") $(grep -c -- '--train-steps\|--no-train\|--db' "$TMP/out")" "Usage: aegis-sandbox check [OPTIONS] MODEL.py|- 0"
run_cmd "$AEGIS" check --no-train "$EXAMPLES/seed_model.py"
expect "check refuses run's options" "$RC $(head -1 "$TMP/stderr")" "2 aegis-sandbox: check: --no-train is an option of 'run' (check runs nothing)"
run_cmd "$AEGIS" serve --help
expect "serve --help lists --socket" "$(grep -c -- '--socket PATH' "$TMP/out")" 2
run_cmd "$AEGIS" batch --help
expect "batch --help is batch's" "$(head -1 "$TMP/out") $(grep -c -- '--stdio' "$TMP/out")" "Usage: aegis-sandbox batch [OPTIONS] [FILE.jsonl|-] 0"
run_cmd "$AEGIS" policy --help
expect "policy --help lists --commented" "$(grep -c -- '--commented' "$TMP/out")" 2
# --json is an option wherever it stands; policies by name
run_cmd "$AEGIS" policy check --json strict "$TOP_SRCDIR/policies/research.yaml"
cp "$TMP/out" "$TMP/r.json"
expect "policy check --json FILE: an option, and an installed policy by name" "$RC $(field '[(x["file"].rsplit("/", 1)[-1], x["ok"]) for x in r]')" '0 [["strict.yaml", true], ["research.yaml", true]]'
run_cmd "$AEGIS" policy show --commented strict
expect "policy show --commented NAME" "$RC $(grep -c '^# Schema version of the file' "$TMP/out")" "0 1"
printf 'import os\n' >"$TMP/imports_os.py"
"$AEGIS" check --json --policy strict "$TMP/imports_os.py" >"$TMP/r.json" 2>/dev/null
expect "--policy strict finds the strict policy" "$?" 3
run_cmd "$AEGIS" run --policy nosuchpolicy "$EXAMPLES/seed_model.py"
expect "an unknown policy name: one message, one prefix" "$RC $(grep -c . "$TMP/stderr") $(grep -o 'aegis-sandbox:' "$TMP/stderr" | wc -l)" "2 1 1"

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
expect "human output shows the warning with the file, line and column" "$(grep -c "^  warnings     $TMP/bad.py:1:1: static.import: import of 'os', which is not in python.allowed_imports$" "$TMP/human")" 1
# The supervisor never embeds Python: it does not even link libpython (the
# zygote is a program of its own, doc/architecture.md)
if command -v ldd >/dev/null 2>&1; then
	expect "the supervisor does not link libpython" "$(ldd "$AEGIS" | grep -c libpython)" 0
	expect "nor holds any of its code" "$(nm "$AEGIS" 2>/dev/null | grep -c ' Py_InitializeFromConfig$')" 0
	expect "the zygote does (static or shared)" "$({ ldd "$TOP_BUILDDIR/src/aegis-zygote"; nm "$TOP_BUILDDIR/src/aegis-zygote"; } 2>/dev/null | grep -q 'libpython\| T Py_InitializeFromConfig$' && echo yes)" yes
	# ASLR: both programs that read candidate-made bytes are position-independent
	expect "the zygote is a PIE" "$(LC_ALL=C readelf -h "$TOP_BUILDDIR/src/aegis-zygote" | awk '/Type:/ {print $2}')" DYN
	expect "the supervisor is a PIE" "$(LC_ALL=C readelf -h "$AEGIS" | awk '/Type:/ {print $2}')" DYN
fi
# every result says what it was judged on, and so does its pool row
run_model --no-train --input float:2x100 --db "$TMP/rt.db" "$MODELS/mlp.py"
expect "runtime: the embedded interpreter's torch" "$(field 'r["runtime"]["torch"]')" "$("$PY" -W ignore -c 'import torch; print(torch.__version__)' 2>/dev/null)"
expect "runtime: its Python" "$(field 'r["runtime"]["python"]')" "$("$PY" -c 'import platform; print(platform.python_version())')"
expect "runtime: the archive format" "$(field 'r["runtime"]["format"]')" torchscript
"$AEGIS" pool list --db "$TMP/rt.db" --json >"$TMP/r.json"
expect "pool row: torch, python, format" "$(field '[bool(x["torch"]) and bool(x["python"]) and x["format"] for x in r]')" '["torchscript"]'
finish
