# validation.sh - the verdict comes from the validate child, which never ran
# candidate Python: tampering with the build process earns nothing.
. "$TOP_SRCDIR/tests/live/lib.sh"

run_model --input float:2x100 "$MODELS/tamper_isfinite.py"
expect "patched torch.isfinite + NaN: a violation naming what was replaced" "$(field '(r["status"], r["stage"], r["error"]["message"])')" "('violation', 'build', 'export_integrity: the candidate replaced torch.isfinite, torch.isnan before tracing the model: the harness does not export a model through functions the candidate controls')"
run_model --input float:2x100 "$MODELS/fake_success.py"
expect "fake success on every fd, exit 0: not accepted" "$(field '(r["status"], r["error"]["type"])')" "('rejected', 'NoArtifact')"
run_model --input float:2x100 "$MODELS/nan_output.py"
expect "NaN output" "$(field '(r["status"], r["error"]["type"])')" "('rejected', 'NonFiniteOutput')"
run_model --input float:2x100 "$MODELS/exploding.py"
expect "exploding model" "$(field '(r["status"], r["error"]["check"])')" "('rejected', 'finite_loss')"
run_model --input float:2x100 "$MODELS/no_params.py"
expect "model without parameters" "$(field '(r["status"], r["error"]["message"])')" "('rejected', 'trainability: the model has no trainable parameters')"
run_model --input tokens:2x12:200 "$MODELS/noncausal.py"
expect "non-causal language model" "$(field '(r["status"], r["error"]["check"])')" "('rejected', 'causality')"
run_model --input float:2x100 "$MODELS/dead_linear.py"
expect "dead nn.Linear: accepted but flagged" "$(field '(r["status"], r["checks"]["gradient_coverage"]["status"], r["metrics"]["dead_parameters"])')" "('accepted', 'warn', ['unused.weight', 'unused.bias'])"

# export: traced when it can be, scripted when only that works, else refused
run_model --train-steps 5 --input float:2x100 "$MODELS/mlp.py"
expect "traceable model: exported by trace" "$(field '(r["status"], r["metrics"]["export"], r["metrics"]["class"])')" "('accepted', 'trace', 'MyModel')"
run_model --train-steps 5 --input float:2x100 "$MODELS/script_only.py"
expect "data-dependent branch: the trace differs, exported by script, validated" "$(field '(r["status"], r["metrics"]["export"], r["integrity"], r["metrics"]["training_steps"])')" "('accepted', 'script', 'artifact', 5)"
run_model --train-steps 5 --input float:2x100 "$MODELS/tuple_int.py"
expect "an int beside the logits: its tensors are traced" "$(field '(r["status"], r["metrics"]["export"], r["integrity"], r["metrics"]["training_steps"])')" "('accepted', 'trace (tensors only)', 'artifact', 5)"
run_model --train-steps 5 --input float:2x100 "$MODELS/unexportable.py"
expect "neither traceable nor scriptable: refused" "$(field '(r["status"], r["stage"], r["error"]["type"], r["error"]["message"].split(": ")[0])')" "('rejected', 'build', 'ExportError', 'Model cannot be exported to TorchScript, so it cannot be validated apart from its code')"
expect "export error names the construct, both attempts and the line" "$(field 'r["error"]["message"].split("code: ")[1]')" "trace: RuntimeError: a tensor that requires grad made inside forward() (torch.autograd.grad, requires_grad_()), which a trace cannot record; script: RuntimeError: Unknown builtin op: aten::enable_grad. (line 18)"
expect "and the policy's fallback" "$(field 'r["error"]["hint"]')" "validation.export_failure: in-process validates such a model in its own process instead; the verdict is then marked unverified"
run_model --train-steps 30 --set validation.export_failure=in-process --input float:2x100 "$MODELS/unexportable.py"
expect "export_failure: in-process validates the live module, and says it is unverified" "$(field '(r["status"], r["integrity"], r["metrics"]["training_steps"])')" "('accepted', 'unverified', 30)"
# buffers count: weights kept out of parameters() are still weights
cat >"$TMP/buffers.py" <<'EOF2'
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(100, 10)
        self.register_buffer("hidden", torch.randn(100, 50))

    def forward(self, x):
        return self.fc(x) + (x @ self.hidden).mean(dim=1, keepdim=True)
EOF2
run_model --no-train --input float:2x100 --set validation.architecture.max_buffers=1000 "$TMP/buffers.py"
expect "5,000 buffer elements against a limit of 1,000" "$(field '(r["status"], r["error"]["message"], r["metrics"]["buffers"])')" "('rejected', 'buffers: 5000 buffer elements exceed validation.architecture.max_buffers = 1000', 5000)"
run_model --input float:2x100 "$MODELS/returns_none.py"
expect "forward() returning None: the model's error, not the tracer's" "$(field '(r["status"], r["error"]["type"], r["error"]["message"])')" "('rejected', 'OutputError', 'forward() returned NoneType, which holds no tensor')"

# the seed's example with training (issue "Done when")
run_model "$EXAMPLES/seed_model.py"
expect "seed model trains" "$(field '(r["status"], r["metrics"]["training_steps"], r["metrics"]["trainable"])')" "('accepted', 100, True)"
expect "seed model losses finite" "$(field 'all(isinstance(v, (int, float)) and v == v and abs(v) < 1e30 for v in (r["metrics"]["initial_loss"], r["metrics"]["final_loss"], r["metrics"]["avg_loss"]))')" True
expect "every check has a status and a reason" "$(field 'all(c["status"] in ("pass", "fail", "warn", "skipped") and c["detail"] for c in r["checks"].values())')" True

# policy limits name the limit and the measured value
run_model --no-train --set validation.architecture.max_parameters=1000 "$EXAMPLES/seed_model.py"
expect "parameter limit" "$(field 'r["error"]["message"]')" "parameters: 1674984 parameters exceed validation.architecture.max_parameters = 1000"
run_model --no-train --set validation.architecture.max_layers=2 "$EXAMPLES/seed_model.py"
expect "layer limit" "$(field 'r["error"]["message"]')" "layers: 3 layers exceed validation.architecture.max_layers = 2"
run_model --train-steps 7 "$EXAMPLES/seed_model.py"
expect "--train-steps" "$(field 'r["metrics"]["training_steps"]')" 7
run_model --set validation.training.min_loss_drop=1.0 --train-steps 2 "$EXAMPLES/seed_model.py"
expect "loss must fall by the policy fraction" "$(field '(r["status"], r["error"]["check"])')" "('rejected', 'loss_decrease')"
# comparison with an operator's reference archive
run_model --no-train --keep-workdir --input float:2x100 "$MODELS/mlp.py"
ref=$(field 'r["artifact"]')
cp "$ref" "$TMP/reference.pt"
rm -rf "$(field 'r["workdir"]')"
run_model --set validation.reference.model="$TMP/reference.pt" --input float:2x100 "$MODELS/dead_linear.py"
expect "reference comparison reported" "$(field '(r["status"], r["checks"]["reference"]["status"], r["metrics"]["reference_memory_ratio"] > 1.0)')" "('accepted', 'pass', True)"
run_model --set validation.reference.model="$TMP/reference.pt" --set validation.reference.max_memory_ratio=1.0 --input float:2x100 "$MODELS/dead_linear.py"
expect "reference memory limit" "$(field '(r["status"], r["error"]["check"])')" "('rejected', 'reference')"
run_model --set validation.reference.model="$TMP/reference.pt" --set validation.reference.max_memory_ratio=1.0 --input float:2x100 "$MODELS/reference_swap.py"
expect "a build that overwrites the reference: compared with the operator's" "$(field '(r["status"], r["error"]["check"], r["metrics"]["reference_memory_ratio"] > 1.0)')" "('rejected', 'reference', True)"

# Trainability that ranks: a learnable task drawn fresh each step from the
# validate child's own randomness, and the loss on a held-out batch.  An
# honest next-token model learns which token follows which; a per-position
# table can learn only the targets' marginal.
run_model --train-steps 300 --input tokens:2x20:1000 "$MODELS/bigram_lm.py"
expect "bigram model: accepted, on the Markov task, a held-out loss" "$(field '(r["status"], r["metrics"]["task"], r["metrics"]["loss"], r["metrics"]["heldout_loss"] > 0)')" "('accepted', 'markov', 'cross_entropy', True)"
good=$(field 'r["metrics"]["heldout_loss"]')
run_model --train-steps 300 --input tokens:2x20:1000 "$MODELS/position_memoriser.py"
bad=$(field 'r["metrics"]["heldout_loss"]')
expect "held-out loss: the architecture that learns the structure ranks above the memoriser" "$("$PY" -c "print($good < $bad)")" True
# the task's seed is the child's: two runs see other data
run_model --train-steps 5 --input tokens:2x20:1000 "$MODELS/bigram_lm.py"
a=$(field 'r["metrics"]["loss_curve"][:3]')
run_model --train-steps 5 --input tokens:2x20:1000 "$MODELS/bigram_lm.py"
expect "the training data differ from run to run" "$([ "$a" != "$(field 'r["metrics"]["loss_curve"][:3]')" ] && echo yes)" yes
# the archive keeps both modes: eval() is the model's eval
run_model --keep-workdir --input tokens:4x10:100 "$MODELS/dropout_bn.py"
expect "dropout + batch norm: accepted, eval checks passed" "$(field '(r["status"], r["checks"]["eval_determinism"]["status"], r["checks"]["eval_state"]["status"])')" "('accepted', 'pass', 'pass')"
art=$(field 'r["artifact"]')
expect "the archive's eval() is deterministic and its train() is not" "$(load_verified "$art" "$(field 'r["archive"]["sha256"]')" "
x = torch.randint(0, 100, (4, 10))
m.eval(); e = torch.equal(m(x), m(x))
m.train(); t = not torch.equal(m(x), m(x))
print(e, t)")" "True True"
rm -rf "$(field 'r["workdir"]')"
expect "dropout + batch norm: two traces in the archive" "$(field 'r["metrics"]["export"]')" "trace (train and eval)"
# the same with the harness in a directory no job child can see (its /tmp
# is private, and CI clones the checkout under /tmp): scripting the two
# traces reads the harness's source, which the zygote keeps in memory
mkdir -p /tmp/aegis-hidden-helpers.$$
cp -r "$TOP_SRCDIR/pyhelpers/aegis_job" /tmp/aegis-hidden-helpers.$$/
AEGIS_PYHELPERS=/tmp/aegis-hidden-helpers.$$ "$AEGIS" run --no-train --json --input tokens:4x10:100 "$MODELS/dropout_bn.py" >"$TMP/r.json" 2>"$TMP/stderr"
expect "harness under /tmp: still two traces" "$(field '(r["status"], r["metrics"]["export"])')" "('accepted', 'trace (train and eval)')"
rm -rf /tmp/aegis-hidden-helpers.$$
# a model nothing marks as reading the mode: one trace, compared in eval mode
expect "plain MLP: one trace" "$(run_model --no-train --input float:2x100 "$MODELS/mlp.py"; field 'r["metrics"]["export"]')" "trace"
# ...and one that reads it where no look at the code can see: it differs in
# eval mode from its one trace, and gets both
run_model --no-train --keep-workdir --input float:2x100 "$MODELS/covert_mode.py"
expect "covert reader of the training flag: two traces" "$(field '(r["status"], r["metrics"]["export"])')" "('accepted', 'trace (train and eval)')"
art=$(field 'r["artifact"]')
expect "its archive's eval() scales like the model's" "$(load_verified "$art" "$(field 'r["archive"]["sha256"]')" "
x = torch.randn(3, 100)
m.train(); a = m(x)
m.eval(); b = m(x)
print(bool(torch.allclose(b, a * 1000.0, rtol=1e-4, atol=1e-3)))")" "True"
rm -rf "$(field 'r["workdir"]')"
# a last-position language model (nanoGPT's forward(idx, targets=None)):
# causality through the form that returns every position
run_model --train-steps 5 --input tokens:2x20:256 "$MODELS/nanogpt_style.py"
expect "nanoGPT-style model: accepted, causal in both modes through its every-position form" "$(field '(r["status"], r["metrics"]["positions"], r["checks"]["causality"]["status"], r["checks"]["causality_eval"]["status"])')" "('accepted', 'every position, called with targets', 'pass', 'pass')"
# training on the operator's data (a serve request's "dataset"), which a
# build child that plants its own files under those names cannot replace
"$PY" -c "
import numpy as np
np.save('$TMP/ds_x.npy', np.random.rand(64, 100).astype('float32'))
np.save('$TMP/ds_y.npy', np.random.randint(0, 10, 64))"
cat >"$TMP/plant_data.py" <<'EOF'
import torch
import torch.nn as nn

# its own 'training data', where the validate child will look for it
torch.save(torch.zeros(1), "train-targets.npy")
torch.save(torch.zeros(1), "train-inputs.npy")


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(100, 10)

    def forward(self, x):
        return self.fc(x)
EOF
"$PY" -c "
import json
print(json.dumps({'id': 1, 'path': '$TMP/plant_data.py', 'input': 'float:2x100', 'train': False,
                  'dataset': {'inputs': '$TMP/ds_x.npy', 'targets': '$TMP/ds_y.npy', 'epochs': 2, 'batch_size': 16}}))" |
	"$AEGIS" serve --stdio >"$TMP/r.json" 2>"$TMP/stderr"
expect "training on the operator's data, not on what the build planted" "$(field '(r["status"], r["checks"]["full_training"]["status"] if "full_training" in r["checks"] else None, r["metrics"]["full_training"]["samples"], r["metrics"]["full_training"]["loss"], len(r["metrics"]["full_training"]["epochs"]))')" "('accepted', 'pass', 64, 'cross_entropy', 2)"
finish
