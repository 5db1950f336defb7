# statuses.sh - every verdict the pipeline can give, on small model files.
. "$TOP_SRCDIR/tests/live/lib.sh"

# accepted: the seed's example (issue "Done when")
run_model --no-train --input tokens:2x20:1000 "$EXAMPLES/seed_model.py"
expect "seed model exit code" "$RC" 0
expect "seed model status" "$(field 'r["status"]')" accepted
expect "seed model parameters" "$(field 'r["metrics"]["parameters"]')" 1674984
expect "seed model output shape" "$(field 'r["metrics"]["output_shape"]')" "[2, 1000]"
expect "seed model integrity" "$(field 'r["integrity"]')" artifact
expect "code sha256 is of the file" "$(field 'r["code_sha256"]')" "$(sha256sum "$EXAMPLES/seed_model.py" | cut -d' ' -f1)"
expect "every contract field is present" "$(field 'sorted(set(["architecture_id","status","stage","success","error","violations","stdout","stderr","execution_time","attempts","metrics","code_sha256","final_code","artifact"]) - set(r))')" "[]"

# rejected: the seed's broken example, with torch's own message and the line
run_model --no-train --max-attempts 1 --input tokens:2x20:1000 "$EXAMPLES/seed_broken.py"
expect "broken seed exit code" "$RC" 1
expect "broken seed status and stage" "$(field '(r["status"], r["stage"])')" "('rejected', 'build')"
# (torch 2.x adds ", but got Long and Float" to the message of torch 1.13)
expect "broken seed error" "$(field '(r["error"]["type"], r["error"]["message"].split(", but got")[0], r["error"]["line"])')" "('RuntimeError', 'mat1 and mat2 must have the same dtype', 14)"
expect "broken seed failing module" "$(field 'r["error"]["module"]')" "layer1 (Linear)"

run_model --input float:2x100 "$MODELS/raises.py"
expect "exception in forward" "$(field '(r["status"], r["error"]["type"], r["error"]["line"])')" "('rejected', 'ValueError', 10)"

# class selection
run_model --no-train --input float:2x100 --arch-id gen1_mlp "$MODELS/mlp.py"
expect "last nn.Module when no Model class" "$(field '(r["status"], r["metrics"]["output_shape"], r["architecture_id"])')" "('accepted', [2, 10], 'gen1_mlp')"
run_model --no-train --input float:2x100 "$MODELS/two_classes.py"
expect "last top-level nn.Module is picked" "$(field 'r["metrics"]["output_shape"]')" "[2, 3]"
run_model --no-train --input float:2x100 --class Encoder "$MODELS/two_classes.py"
expect "--class picks the named class" "$(field 'r["metrics"]["output_shape"]')" "[2, 16]"
run_model --no-train --input float:2x100 --class Nope "$MODELS/two_classes.py"
expect "--class of a missing class" "$(field '(r["status"], r["error"]["type"], r["error"]["message"])')" "('rejected', 'ClassError', \"class 'Nope' is not defined by the candidate\")"
run_model --no-train --input float:2x100 "$MODELS/needs_args.py"
expect "constructor with required arguments" "$(field '(r["status"], r["error"]["message"], r["error"]["line"])')" "('rejected', 'Model.__init__ requires arguments (width); the sandbox instantiates the model without arguments', 5)"
run_model --no-train --input float:2x100 "$MODELS/dict_output.py"
expect "dict output: first tensor is primary" "$(field '(r["status"], r["metrics"]["output_shape"])')" "('accepted', [2, 10])"

# the sandbox's own inputs: bad source gets a clear verdict
run_model "$MODELS/syntax_error.py"
expect "syntax error" "$(field '(r["status"], r["stage"], r["error"]["type"], r["error"]["line"])')" "('rejected', 'static', 'SyntaxError', 6)"
run_model "$MODELS/not_utf8.py"
expect "non-UTF-8 source" "$(field '(r["status"], r["error"]["message"])')" "('rejected', 'the source is not valid UTF-8')"
run_model "$MODELS/empty.py"
expect "empty source" "$(field '(r["status"], r["error"]["message"])')" "('rejected', 'the source is empty')"
run_model "$MODELS/nul_byte.py"
expect "NUL byte in source" "$(field '(r["status"], r["error"]["message"])')" "('rejected', 'the source contains a NUL byte')"
run_model --set limits.code_max_bytes=64 "$EXAMPLES/seed_model.py"
expect "oversized source" "$(field '(r["status"], r["error"]["message"])')" "('rejected', 'the source is larger than limits.code_max_bytes')"

# stdout is captured and capped with a marker
run_model --no-train --input float:2x100 "$MODELS/prints_a_lot.py"
expect "big print still accepted" "$(field 'r["status"]')" accepted
expect "stdout capped at max_output_bytes" "$(field 'r["stdout"].startswith("y" * 1048576) and "more bytes of stdout dropped" in r["stdout"][-80:]')" True

# tensor-file input, loaded without unpickling
"$PY" -c "import numpy; numpy.save('$TMP/x.npy', numpy.ones((3, 100), dtype='float32'))"
run_model --no-train --input "$TMP/x.npy" "$MODELS/mlp.py"
expect ".npy input" "$(field '(r["status"], r["metrics"]["output_shape"])')" "('accepted', [3, 10])"
"$PY" -c "import torch; torch.save(torch.ones(4, 100), '$TMP/x.pt')"
run_model --no-train --input "$TMP/x.pt" "$MODELS/mlp.py"
expect ".pt input" "$(field '(r["status"], r["metrics"]["output_shape"])')" "('accepted', [4, 10])"
"$PY" -c "
import torch
class Evil:
    def __reduce__(self):
        return (print, ('unpickled',))
torch.save({'x': Evil()}, '$TMP/evil.pt')"
run_model --no-train --input "$TMP/evil.pt" "$MODELS/mlp.py"
expect "pickled objects in a .pt input are refused" "$(field '(r["status"], r["error"]["type"])')" "('rejected', 'InputError')"

# --keep-workdir keeps the archive; otherwise nothing is left
run_model --no-train --keep-workdir --input float:2x100 "$MODELS/mlp.py"
art=$(field 'r["artifact"]')
expect "kept artifact exists" "$(test -f "$art" && echo yes)" yes
load_verified "$art" "$(field 'r["archive"]["sha256"]')" "print(tuple(m(torch.randn(3, 100)).shape))" >"$TMP/shape"
expect "the kept archive loads, as the verifier passed it" "$(cat "$TMP/shape")" "(3, 10)"
rm -rf "$(field 'r["workdir"]')"
finish
