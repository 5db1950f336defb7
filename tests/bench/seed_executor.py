"""The baseline: the AEGIS seed document's executor, reconstructed.

This is what aegis-sandbox replaces, written the way the seed document
(../shared/docs/seed.md, "Safe Code Execution", "Trainability Validation")
describes it, so that the benchmark compares against the real thing and not
a straw man:

  SafeCodeExecutor.execute_model_code(code, test_inputs, architecture_id)
    1. the code is written to a temp file (model_<arch_id>.py) in work_dir;
    2. a runner script is written that imports it, instantiates the model
       class, runs a forward pass on the test inputs, rejects NaN/Inf,
       counts parameters and saves the model (and a result file);
    3. the script runs via subprocess.run() with a timeout, an address-space
       limit (RLIMIT_AS = max_memory_gb) and a restricted environment;
    4. the results are read back from the files it saved, and the model is
       loaded into the caller (torch.load), as the seed's ExecutionResult
       carries "model=<loaded nn.Module>".

  TrainingValidator.validate_training(model, vocab_size, seq_len)
    in-process: synthetic data, Adam + CrossEntropy, 100 steps, checking
    for finite loss and gradients and for explosion.

  CodeValidator.validate_code(code): the seed pipeline's step 1, a textual
  screen for dangerous imports, file and network use.

Nothing here confines anything: run only candidates that are harmless when
unconfined (the benchmark's hostile corpus is chosen for that).
"""

import dataclasses
import json
import math
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Any, Dict

import torch
import torch.nn as nn

# The interpreter that has torch (Debian's), not whatever comes first on PATH.
PYTHON = os.environ.get("BENCH_PYTHON", "/usr/bin/python3")


@dataclasses.dataclass
class ExecutionResult:
    success: bool
    model: Any
    error_message: str
    stdout: str
    stderr: str
    execution_time: float
    metrics: Dict[str, Any]


RUNNER = r'''
import json, sys, traceback
import torch
import torch.nn as nn

def main():
    module_name, class_name, input_file, out_model, out_result = sys.argv[1:6]
    result = {"success": False}
    try:
        import importlib
        mod = importlib.import_module(module_name)
        cls = getattr(mod, class_name, None)
        if cls is None:  # the last nn.Module subclass defined in the file
            classes = [v for v in vars(mod).values() if isinstance(v, type)
                       and issubclass(v, nn.Module) and v.__module__ == mod.__name__]
            if not classes:
                raise NameError("no nn.Module subclass in the code")
            cls = classes[-1]
        model = cls()
        x = torch.load(input_file)
        model.eval()
        with torch.no_grad():
            out = model(x)
        if isinstance(out, (tuple, list)):
            out = out[0]
        if not torch.isfinite(out).all():
            raise ValueError("output contains NaN or Inf")
        n = sum(p.numel() for p in model.parameters())
        torch.save(model, out_model)
        result = {"success": True, "parameters": n, "output_shape": list(out.shape)}
        print("SUCCESS: Model validated with %d parameters" % n)
    except Exception as e:
        traceback.print_exc()
        result = {"success": False, "error": "%s: %s" % (type(e).__name__, e)}
    with open(out_result, "w") as f:
        json.dump(result, f)

main()
'''


class SafeCodeExecutor:
    """The seed's subprocess executor."""

    def __init__(self, timeout_seconds=120, max_memory_gb=4.0, work_dir=None):
        self.timeout_seconds = timeout_seconds
        self.max_memory_gb = max_memory_gb
        self.work_dir = work_dir or tempfile.mkdtemp(prefix="seed_baseline_")
        os.makedirs(self.work_dir, exist_ok=True)
        self._own = work_dir is None
        self._n = 0

    def _limits(self):
        lim = int(self.max_memory_gb * (1 << 30))
        resource.setrlimit(resource.RLIMIT_AS, (lim, lim))

    def execute_model_code(self, code, test_inputs, architecture_id, class_name="Model"):
        t0 = time.perf_counter()
        self._n += 1
        module = "model_%s_%d" % (re.sub(r"[^A-Za-z0-9_]", "_", architecture_id or "x"), self._n)
        d = tempfile.mkdtemp(prefix="exec_", dir=self.work_dir)
        try:
            model_file = os.path.join(d, module + ".py")
            with open(model_file, "w") as f:
                f.write(code)
            runner = os.path.join(d, "run_model.py")
            with open(runner, "w") as f:
                f.write(RUNNER)
            input_file = os.path.join(d, "inputs.pt")
            torch.save(test_inputs, input_file)
            out_model = os.path.join(d, "model.pt")
            out_result = os.path.join(d, "result.json")
            env = {"PATH": "/usr/bin:/bin", "HOME": d, "PYTHONPATH": d,
                   "PYTHONDONTWRITEBYTECODE": "1"}
            try:
                p = subprocess.run([PYTHON, runner, module, class_name, input_file,
                                    out_model, out_result], cwd=d, env=env,
                                   stdin=subprocess.DEVNULL, capture_output=True,
                                   text=True, errors="replace",
                                   timeout=self.timeout_seconds, preexec_fn=self._limits)
                stdout, stderr = p.stdout, p.stderr
            except subprocess.TimeoutExpired as e:
                return ExecutionResult(False, None, "Timeout after %ss" % self.timeout_seconds,
                                       _s(e.stdout), _s(e.stderr), time.perf_counter() - t0, {})
            try:
                with open(out_result) as f:
                    res = json.load(f)
            except (OSError, ValueError):
                res = {"success": False,
                       "error": "no result (exit status %d)" % p.returncode}
            model = None
            if res.get("success"):
                # the seed hands the caller the loaded nn.Module: unpickling
                # it imports the candidate's module here, in the caller
                sys.path.insert(0, d)
                try:
                    model = torch.load(out_model)
                except Exception as e:  # noqa: BLE001
                    res = {"success": False, "error": "%s: %s" % (type(e).__name__, e)}
                finally:
                    sys.path.remove(d)
            metrics = {k: v for k, v in res.items() if k not in ("success", "error")}
            return ExecutionResult(bool(res.get("success")) and model is not None, model,
                                   res.get("error", ""), stdout, stderr,
                                   time.perf_counter() - t0, metrics)
        finally:
            shutil.rmtree(d, ignore_errors=True)

    def close(self):
        if self._own:
            shutil.rmtree(self.work_dir, ignore_errors=True)


def _s(b):
    if b is None:
        return ""
    return b.decode("utf-8", "replace") if isinstance(b, bytes) else b


class TrainingValidator:
    """The seed's in-process trainability check."""

    def __init__(self, training_steps=100):
        self.training_steps = training_steps

    def validate_training(self, model, vocab_size=1000, seq_len=20, batch_size=2):
        g = torch.Generator().manual_seed(0)
        x = torch.randint(0, vocab_size, (batch_size, seq_len), generator=g)
        model.train()
        with torch.no_grad():
            out = model(x)
        if isinstance(out, (tuple, list)):
            out = out[0]
        y = torch.randint(0, out.shape[-1], tuple(out.shape[:-1]), generator=g)
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        loss_fn = nn.CrossEntropyLoss()
        losses = []
        for _ in range(self.training_steps):
            opt.zero_grad()
            out = model(x)
            if isinstance(out, (tuple, list)):
                out = out[0]
            loss = loss_fn(out.reshape(-1, out.shape[-1]), y.reshape(-1))
            if not math.isfinite(loss.item()):
                return False, {"trainable": False, "error": "non-finite loss"}
            loss.backward()
            for p in model.parameters():
                if p.grad is not None and not torch.isfinite(p.grad).all():
                    return False, {"trainable": False, "error": "NaN gradient"}
            opt.step()
            losses.append(loss.item())
            if losses[-1] > 100 * max(losses[0], 1e-8):
                return False, {"trainable": False, "error": "loss exploded"}
        return True, {"avg_loss": sum(losses) / len(losses), "final_loss": losses[-1],
                      "training_steps": len(losses), "trainable": True}


DANGEROUS = ("import os", "import subprocess", "import socket", "import shutil", "import sys",
             "from os", "from subprocess", "from socket", "open(", "eval(", "exec(",
             "__import__", "requests", "urllib")


class CodeValidator:
    """The seed pipeline's step 1: no dangerous imports, no file or network
    operations (a textual screen, as the seed describes it)."""

    def validate_code(self, code):
        return not any(d in code for d in DANGEROUS)


def seed_pipeline(code, test_inputs, arch_id, executor, validator, debugger=None,
                  vocab_size=1000, seq_len=20, train=True):
    """The seed's 'Complete Validation Pipeline' minus the human gate:
    screen, execute (with up to 3 attempts of the rule-based debug loop),
    architecture limits, trainability.  Returns a status word."""
    if not CodeValidator().validate_code(code):
        return "rejected_static"
    for attempt in range(3):
        r = executor.execute_model_code(code, test_inputs, arch_id)
        if r.success:
            break
        if debugger is None:
            return "rejected_build"
        fixed = debugger(code, r.error_message)
        if fixed is None or fixed == code:
            return "rejected_build"
        code = fixed
    else:
        return "rejected_build"
    n = sum(p.numel() for p in r.model.parameters())
    if n > 100_000_000:
        return "rejected_architecture"
    if not train:
        return "accepted"
    ok, _ = validator.validate_training(r.model, vocab_size, seq_len)
    return "accepted" if ok else "rejected_training"


def import_fixer(code, error_message):
    """The seed's rule-based debugger: add the missing torch imports."""
    if "NameError" not in (error_message or "") and "ImportError" not in (error_message or ""):
        return None
    head = ("import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n")
    if code.startswith(head):
        return None
    return head + code
