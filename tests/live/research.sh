# research.sh - the research corpus (tests/models/research): our own
# models, each reproducing an idiom of the code architecture searches
# explore (a loop over time, a parallel scan in a custom autograd.Function,
# @torch.compile, complex RoPE, GQA with enable_gqa, adaLN-Zero-style zero
# init, MLA, MoE routing, a lazily grown RoPE cache, bf16, Mamba, RWKV,
# DeltaNet, RetNet, Hyena, xLSTM, the Differential Transformer, KAN).
# Under the default policy, with training: every model is accepted, and its
# flawed variant (tests/models/flaw.py: the lines marked '# flaw:') is
# rejected by the check its '# flawed:' header names.  A model whose
# '# torch:' header asks for a newer torch than this build's is skipped.
. "$TOP_SRCDIR/tests/live/lib.sh"

TORCH=$("$PY" -W ignore -c 'import torch; print(".".join(torch.__version__.split("+")[0].split(".")[:2]))')
newer() { # newer WANT: WANT > this torch
	"$PY" -c 'import sys; w, h = ([int(p) for p in v.split(".")] for v in sys.argv[1:]); sys.exit(0 if w > h else 1)' "$1" "$TORCH"
}

n=0
for f in "$MODELS"/research/*.py; do
	name=${f##*/}
	want=$(sed -n 's/^# torch: //p' "$f")
	if [ -n "$want" ] && newer "$want"; then
		echo "skip - $name needs torch $want (this is $TORCH)"
		continue
	fi
	spec=$(sed -n 's/^# input: //p' "$f")
	check=$(sed -n 's/^# flawed: //p' "$f")
	run_model --input "$spec" "$f"
	expect "$name accepted, 100 finite training steps" \
		"$(field '(r["status"], r["error"], r["metrics"].get("training_steps"), all(v is not None for v in r["metrics"]["loss_curve"]))')" \
		"('accepted', None, 100, True)"
	"$PY" "$MODELS/flaw.py" "$f" "$TMP/$name"
	run_model --input "$spec" "$TMP/$name"
	expect "$name, flawed: rejected by $check" \
		"$(field '(r["status"], r["checks"].get("'"$check"'", {}).get("status"), (r["error"] or {}).get("message", "").split(":")[0])')" \
		"('rejected', 'fail', '$check')"
	n=$((n + 1))
done
expect "at least 15 research models ran" "$([ $n -ge 15 ] && echo yes)" yes

# what the verdict says of the routes these idioms took
run_model --input tokens:2x16:256 -k "$MODELS/research/rwkv_timemix.py"
expect "a loop over time: the trace held at the traced length, said in the verdict" \
	"$(field '(r["archive"].get("held_length"), "held at sequence length 16" in r["metrics"]["export"])')" "(16, True)"
expect "causality at the drawn batch, at the held length" \
	"$(field '(r["checks"]["causality_shapes"]["status"], ", 16)" in r["checks"]["causality_shapes"]["detail"])')" "('pass', True)"
load_verified "$(field 'r["artifact"]')" "$(field 'r["archive"]["sha256"]')" "
print(tuple(m(torch.randint(0, 256, (5, 16))).shape))
try:
    m(torch.randint(0, 256, (2, 20)))
except Exception as e:
    print('aegis-sandbox: this archive holds sequence length 16 only' in str(e), 'got shape [2, 20]' in str(e))" >"$TMP/held"
expect "the client: any batch at the held length, a clear refusal at another" "$(cat "$TMP/held")" \
	"(5, 16, 256)
True True"
rm -rf "$(field 'r["workdir"]')"
"$AEGIS" run --no-train --input tokens:2x16:256 "$MODELS/research/rwkv_timemix.py" >"$TMP/human" 2>&1
expect "the human verdict says what the archive holds" \
	"$(grep -c '^               holds sequence length 16 only: its trace unrolled a loop over time' "$TMP/human")" 1

run_model --input tokens:2x16:256 "$MODELS/research/scan_autograd.py"
expect "a custom autograd.Function: traced through its forward, its backward found to be the gradient" \
	"$(field 'r["metrics"]["export"]')" "trace (autograd.Function LinearScan traced through its forward)"
finish
