# seed_doc.py - the code blocks of the AEGIS sandbox document (seed.md),
# in the document's order, as a researcher pastes them into one script.
#
# Lines marked GLUE are not in the document: the names it uses without
# defining them (torch, logger, the objects of earlier sections), and the
# data its blocks leave to the reader.  Blocks that are illustrations, not
# code, are left out and say why.  Everything else is the document's text,
# unchanged; its "..." arguments are passed as written (Ellipsis), which
# the client takes as "not given".  Each block's outcome is checked with an
# assert after it (GLUE), so the script fails loudly when the API drifts.
#
# Run: python3 seed_doc.py  (with aegis_sandbox importable and the
# aegis-sandbox program installed or named by $AEGIS_SANDBOX; step 8 is a
# person's: $AEGIS_REVIEWER_KEY names their key, $AEGIS_REVIEWERS lists it).

import logging  # GLUE
import os  # GLUE
import shutil  # GLUE
import tempfile  # GLUE

import torch  # GLUE

from aegis_sandbox import install_seed_shim  # GLUE: the document's import path
install_seed_shim()  # GLUE
from core.evolution.code_execution import (  # GLUE: the document's section names
    ApprovalManager, ArchitectureValidator, CodeDebugger, CodePool, CodeValidator, SafeCodeExecutor,
    TrainingValidator, run_full_training)

logging.basicConfig(level=logging.INFO)  # GLUE
logger = logging.getLogger("seed_doc")  # GLUE
HERE = os.path.dirname(os.path.abspath(__file__))  # GLUE
_workdir = tempfile.mkdtemp(prefix="aegis_sandbox_")  # GLUE: the document's "/tmp/aegis_sandbox_xxx"

# ---- 1. Safe Code Execution ---------------------------------------------------
executor = SafeCodeExecutor(
    timeout_seconds=120,      # Kill after 2 minutes
    max_memory_gb=4.0,        # Memory limit
    work_dir=_workdir  # Isolated filesystem  (GLUE: the document's "/tmp/aegis_sandbox_xxx", made unique)
)

result = executor.execute_model_code(
    code="<generated Python code>",
    test_inputs=torch.randn(2, 20),
    architecture_id="gen1_add_layer_0"
)
assert not result.success and result.error_message.startswith("SyntaxError"), result  # GLUE

# ---- 2. Debug Loop (ASI-Arch Style) -----------------------------------------
debugger = CodeDebugger()  # GLUE
code = open(os.path.join(HERE, "..", "..", "doc", "examples", "seed_broken.py")).read()  # GLUE
code = code.replace("import torch.nn as nn\n", "")  # GLUE: the document's "missing imports" case

for attempt in range(3):  # Max 3 attempts
    exec_result = executor.execute_model_code(code, ...)

    if exec_result.success:
        break  # Success!
    else:
        # Automatic debugging
        code, changes = debugger.debug_and_fix(
            code,
            exec_result.error_message,
            exec_result.stderr
        )
        logger.info(f"Applied fix: {changes}")
assert exec_result.success and attempt == 1, exec_result.error_message  # GLUE
assert "import torch.nn as nn" in code and exec_result.fixes_applied == 0  # GLUE: the caller's loop fixed it

# (The "Example" block of this section shows code before and after a fix;
# its first half raises NameError by design, so it is not pasted.)

# ---- 3. Trainability Validation ------------------------------------------------
model = exec_result.model  # GLUE
validator = TrainingValidator(training_steps=100)

trainable, metrics = validator.validate_training(
    model=model,
    vocab_size=1000,
    seq_len=20
)
assert set(metrics) >= {"avg_loss", "final_loss", "training_steps", "trainable", "parameters"}, metrics  # GLUE
assert metrics["training_steps"] == 100 and trainable == metrics["trainable"]  # GLUE

# ---- Example: Complete Flow -------------------------------------------------------
approval_manager = ApprovalManager()  # GLUE

# 1. Code is generated
generated_code = '''
import torch.nn as nn

class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.layer1 = nn.Linear(512, 768)
        self.layer2 = nn.Linear(768, 1000)

    def forward(self, x):
        # x shape: (batch, seq_len)
        x = self.layer1(x)  # Wrong! Expects (batch, 512)
        x = self.layer2(x)
        return x
'''

# 2. Execute in sandbox
exec_result = executor.execute_model_code(
    code=generated_code,
    test_inputs=torch.randint(0, 1000, (2, 20)),
    architecture_id="gen1_test"
)

# Result: FAILURE (shape mismatch)
# exec_result.stderr: "RuntimeError: mat1 and mat2 shapes cannot be multiplied"
assert not exec_result.success and "RuntimeError" in exec_result.error_message  # GLUE
assert exec_result.final_code == generated_code  # GLUE: the code given is the code run

# 4. After human fixes or debugger improves:
fixed_code = '''
import torch.nn as nn

class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(1000, 512)  # ← Added
        self.layer1 = nn.Linear(512, 768)
        self.layer2 = nn.Linear(768, 1000)

    def forward(self, x):
        x = self.embed(x)   # (batch, seq_len, 512)
        x = x.mean(dim=1)   # (batch, 512)
        x = self.layer1(x)
        x = self.layer2(x)
        return x
'''

# 5. Execute again - SUCCESS!
exec_result = executor.execute_model_code(fixed_code, torch.randint(0, 1000, (2, 20)), "gen1_test")  # GLUE: "(...)"
# exec_result.success = True
# exec_result.model = <Model object>
assert exec_result.success, exec_result.error_message  # GLUE

# 6. Validate trainability
trainable, metrics = validator.validate_training(exec_result.model, ...)
# trainable = True
# metrics = {'avg_loss': 2.1, 'final_loss': 1.9, ...}
assert trainable and metrics["parameters"] == 1674984, metrics  # GLUE

# 7. Request human approval
approval_id = approval_manager.request_approval(
    title="New Architecture: add_layer",
    description=f"Model with {metrics['parameters']} parameters",
    risk_assessment={'trainable': True, 'metrics': metrics},
)  # GLUE: the document's trailing ", ..." after keyword arguments is a SyntaxError in Python
request = approval_manager.get(approval_id)  # GLUE
assert request["title"] == "New Architecture: add_layer" and request["state"] == "pending"  # GLUE
assert request["risk_assessment"]["trainable"] is True  # GLUE: the caller's assessment, kept
assert request["candidate_id"] == exec_result.candidate_id  # GLUE: about the candidate just accepted

# 8. Human approves
approval_manager.approve_request(approval_id, ...)
assert approval_manager.is_approved(approval_id)  # GLUE

# ---- Safety Improvements Over ASI-Arch ------------------------------------------
code_validator = CodeValidator()  # GLUE
architecture_validator = ArchitectureValidator()  # GLUE
training_validator = validator  # GLUE


def reject():  # GLUE
    raise AssertionError("the generated code was rejected")


# Before executing, check code content
safe = code_validator.validate_code(generated_code)
if not safe:
    reject()  # Don't even try to execute

# Memory and CPU limits (OS-dependent)
executor = SafeCodeExecutor(
    timeout_seconds=120,
    max_memory_gb=4.0
)

model = exec_result.model  # GLUE
# After execution, validate model structure
safe = architecture_validator.validate_architecture(model)
# Checks: parameter count, layer count, memory
assert safe  # GLUE

# Not just "does it run", but "can we train it"
trainable = training_validator.validate_training(model)
assert trainable[0]  # GLUE: the method returns (trainable, metrics)

# (The approval block of this section ends in "don't_deploy()", which is
# not Python; its request_approval(...) is the one of step 7 above.)

# ---- Planned Improvements ------------------------------------------------------------
# Phase 1 (LLMCodeDebugger) is a class the document sketches; the client's
# own is exercised by tests/python/test_client.py with a stand-in model.


class config:  # GLUE
    full_training_validation = True


x = torch.randint(0, 1000, (64, 20))  # GLUE
dataset = torch.utils.data.TensorDataset(x, x[:, 0])  # GLUE: learn the first token

# Option to run actual training
if config.full_training_validation:
    metrics = run_full_training(
        model=model,
        dataset=dataset,
        epochs=10
    )
assert len(metrics["epochs"]) == 10 and metrics["trainable"], metrics  # GLUE
assert metrics["epochs"][-1]["loss"] < metrics["epochs"][0]["loss"]  # GLUE

code_pool = CodePool()  # GLUE
arch_id, gen = "gen1_test", 1  # GLUE
code = fixed_code  # GLUE
metrics = {"accuracy": 0.42, "final_loss": metrics["final_loss"]}  # GLUE: the caller's own

# Save all successful architectures
code_pool.save(
    architecture_id=arch_id,
    code=code,
    metrics=metrics,
    generation=gen
)

# Retrieve for analysis
best_codes = code_pool.get_top_k(k=10, metric='accuracy')
assert best_codes and best_codes[0]["value"] == 0.42, best_codes  # GLUE
assert best_codes[0]["id"] == exec_result.candidate_id  # GLUE: recorded once, not run again

# ---- Usage: Manual Testing -------------------------------------------------------------
from core.evolution.code_execution import SafeCodeExecutor

executor = SafeCodeExecutor()

code = '''
import torch.nn as nn

class MyModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(100, 10)

    def forward(self, x):
        return self.fc(x)
'''

result = executor.execute_model_code(
    code=code,
    test_inputs=torch.randn(2, 100),
    architecture_id="test_1"
)

if result.success:
    print(f"Success! Model: {result.model}")
    print(f"Metrics: {result.metrics}")
else:
    print(f"Failed: {result.error_message}")
assert result.success and result.metrics["parameters"] == 1010  # GLUE

# ---- Usage: Testing Trainability -----------------------------------------------------
from core.evolution.code_execution import TrainingValidator

your_model = result.model  # GLUE

validator = TrainingValidator(training_steps=100)

trainable, metrics = validator.validate_training(
    model=your_model,
    vocab_size=1000,
    seq_len=20
)

print(f"Trainable: {trainable}")
print(f"Metrics: {metrics}")
assert trainable, metrics  # GLUE

shutil.rmtree(_workdir)  # GLUE: the caller's own work_dir is the caller's to remove
print("seed document: every block ran")  # GLUE
