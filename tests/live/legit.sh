# legit.sh - realistic research models must be accepted by the default
# policy, with training, and get sane metrics.  A guard that rejects normal
# research code is a bug.
. "$TOP_SRCDIR/tests/live/lib.sh"

n=0
for f in "$MODELS"/legit/*.py; do
	name=${f##*/}
	spec=$(sed -n 's/^# input: //p' "$f")
	run_model --input "$spec" "$f"
	expect "$name accepted" "$(field '(r["status"], r["error"])')" "('accepted', None)"
	expect "$name trained 100 steps with finite losses" \
		"$(field 'r["metrics"]["training_steps"] == 100 and all(v is not None for v in r["metrics"]["loss_curve"]) and r["metrics"]["trainable"]')" True
	n=$((n + 1))
done
expect "at least 20 legitimate models" "$([ $n -ge 20 ] && echo yes)" yes

# an untrained model's cross-entropy is near ln(V) (V = 256), whatever the
# targets (the task's are drawn by the validate child each run)
run_model --input tokens:2x16:256 "$MODELS/legit/gpt_dataclass.py"
expect "initial loss near ln(256) = 5.55" "$(field 'abs(r["metrics"]["initial_loss"] - 5.545) < 1.0')" True
expect "a held-out loss below the initial one" "$(field 'r["metrics"]["heldout_loss"] < r["metrics"]["initial_loss"]')" True
expect "loss kind is cross-entropy" "$(field 'r["metrics"]["loss"]')" cross_entropy
expect "causality checked and passed" "$(field 'r["checks"]["causality"]["status"]')" pass
expect "loss curve has 100 points" "$(field 'len(r["metrics"]["loss_curve"])')" 100
expect "steps per second measured" "$(field 'r["metrics"]["steps_per_second"] > 0')" True
finish
