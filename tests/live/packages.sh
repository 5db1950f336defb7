# packages.sh - research code we did not write, reached through packages
# installed from PyPI at test time (nothing of theirs is committed): tiny
# configurations of transformers' model classes (GPT-2, Llama, Qwen2,
# Mixtral, Mamba, DeepSeek-V3, Gemma) and einops-based code, each wrapped in
# a Model of a few lines (tests/models/packages).  Under the default
# policy, with training, every one is accepted.  The torch-2 suite's venv
# has the packages (tests/pip/torch2.sh installs them); the system suite
# (Debian's torch 1.13, which today's transformers does not support) skips
# what it lacks.
. "$TOP_SRCDIR/tests/live/lib.sh"

n=0
for f in "$MODELS"/packages/*.py; do
	name=${f##*/}
	need=$(sed -n 's/^# needs: //p' "$f")
	if ! "$PY" -W ignore -c "import $need" 2>/dev/null; then
		if [ "${AEGIS_SUITE:-}" = torch2 ]; then
			expect "$name: $need is installed in the torch-2 venv" no yes
		else
			echo "skip - $name needs $need, which $PY lacks"
		fi
		continue
	fi
	spec=$(sed -n 's/^# input: //p' "$f")
	run_model --input "$spec" "$f"
	expect "$name accepted, 100 finite training steps" \
		"$(field '(r["status"], r["error"], r["metrics"].get("training_steps"), all(v is not None for v in r["metrics"]["loss_curve"]))')" \
		"('accepted', None, 100, True)"
	expect "$name: its modules are the package's, which the source imports" \
		"$(field 'r["checks"]["coherence"]["status"]')" pass
	n=$((n + 1))
done
if [ "${AEGIS_SUITE:-}" = torch2 ]; then
	expect "at least 8 package models ran" "$([ $n -ge 8 ] && echo yes)" yes
fi
finish
