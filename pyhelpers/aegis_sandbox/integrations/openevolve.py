"""OpenEvolve's evaluator, through aegis-sandbox.

OpenEvolve (PyPI ``openevolve``) imports the user's evaluator file and
calls ``evaluate(program_path)`` (or, with ``cascade_evaluation``, the
stages ``evaluate_stage1``, ``evaluate_stage2``) in its own process pool.
An evaluator file of one line hands every program to the sandbox:

    from aegis_sandbox.integrations.openevolve import evaluate, evaluate_stage1, evaluate_stage2

What each returns is OpenEvolve's ``EvaluationResult``: metrics (the
sandbox's, numbers only, and ``combined_score``, which OpenEvolve
maximises: ``1 / (1 + heldout_loss)`` for an accepted, trained model, 0
otherwise) and, as artifacts for the next prompt, the verdict with its
line, the checks that failed, the debug loop's fixes and the end of
stderr.

- ``evaluate``: build, run, export, validate and train (the whole
  pipeline); recorded in the pool, one row per program.
- ``evaluate_stage1``: build and run once, no training, not recorded;
  ``combined_score`` 0.5 when it ran (OpenEvolve's default threshold).
- ``evaluate_stage2``: what ``evaluate`` does.  A program stopped at
  stage 1 has no pool row; its verdict is in OpenEvolve's artifacts.

Configured by the environment of the process that runs OpenEvolve:
``AEGIS_INPUT`` (the test input, an input spec such as
``tokens:2x32:256``; default: from the model's first layer),
``AEGIS_POLICY`` (a policy file), ``AEGIS_SANDBOX_DB`` (the pool; default
``aegis-sandbox pool path``), ``AEGIS_TRAIN_STEPS``, ``AEGIS_TIMEOUT``
(seconds per program, default 120).
"""

import os
import threading
from typing import Any, Dict, Optional

from aegis_sandbox.executor import ExecutionResult, SafeCodeExecutor

_lock = threading.Lock()
_executor: Optional[SafeCodeExecutor] = None


def _get_executor() -> SafeCodeExecutor:
    """One executor (one warm sandbox server) per OpenEvolve worker process."""
    global _executor
    with _lock:
        if _executor is None:
            _executor = SafeCodeExecutor(timeout_seconds=float(os.environ.get("AEGIS_TIMEOUT", "120")),
                                         policy=os.environ.get("AEGIS_POLICY") or None,
                                         db=os.environ.get("AEGIS_SANDBOX_DB") or None)
        return _executor


def _numbers(metrics: Dict[str, Any]) -> Dict[str, float]:
    return {k: float(v) for k, v in metrics.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool)}


def _artifacts(r: ExecutionResult) -> Dict[str, str]:
    """What the next prompt needs to do better: the verdict and its line,
    the checks that failed, the fixes the debug loop made, stderr's end."""
    out = {"verdict": "%s (stage %s)%s" % (r.status, r.stage, ": " + r.error_message if r.error_message else "")}
    failed = ["%s: %s" % (name, c.get("detail", "")) for name, c in (r.checks or {}).items()
              if isinstance(c, dict) and c.get("status") == "fail"]
    if failed:
        out["failed_checks"] = "\n".join(failed)
    if r.violations:
        out["violations"] = "\n".join("%s %s (line %s)" % (v.get("rule", ""), v.get("event", ""), v.get("line"))
                                      for v in r.violations[:10])
    fixes = [a.get("fix") or a.get("fixed") for a in r.attempts or [] if isinstance(a, dict)]
    fixes = [f if isinstance(f, str) else str(f) for f in fixes if f]
    if fixes:
        out["fixes"] = "\n".join(fixes)
    if r.stderr:
        out["stderr"] = r.stderr[-2000:]
    return out


def _result(r: ExecutionResult, score: float):
    metrics = _numbers(r.metrics)
    metrics["accepted"] = 1.0 if r.success else 0.0
    metrics["combined_score"] = score
    artifacts = _artifacts(r)
    try:
        from openevolve.evaluation_result import EvaluationResult
    except ImportError:  # without OpenEvolve: the dict its older versions take
        return metrics
    return EvaluationResult(metrics=metrics, artifacts=artifacts)


def _run(program_path: str, train: bool, record: bool) -> ExecutionResult:
    with open(program_path, encoding="utf-8") as f:
        code = f.read()
    extra: Dict[str, Any] = {"train": train, "record": record}
    if os.environ.get("AEGIS_TRAIN_STEPS"):
        extra["train_steps"] = int(os.environ["AEGIS_TRAIN_STEPS"])
    name = os.path.splitext(os.path.basename(program_path))[0]
    return _get_executor().execute_model_code(code, os.environ.get("AEGIS_INPUT") or None,
                                              "openevolve-" + name, **extra)


def evaluate_stage1(program_path: str):
    """Build and run once (no training, not recorded)."""
    r = _run(program_path, train=False, record=False)
    return _result(r, 0.5 if r.success else 0.0)


def evaluate_stage2(program_path: str):
    """The whole pipeline, trained, recorded in the pool."""
    return evaluate(program_path)


def evaluate(program_path: str):
    """The whole pipeline, trained, recorded in the pool: one row per program."""
    r = _run(program_path, train=True, record=True)
    loss = r.metrics.get("heldout_loss")
    if loss is None:
        loss = r.metrics.get("final_loss")
    score = 1.0 / (1.0 + float(loss)) if r.success and isinstance(loss, (int, float)) and loss >= 0 else 0.0
    return _result(r, score)
