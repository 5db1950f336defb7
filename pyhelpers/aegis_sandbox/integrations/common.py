"""What every search-framework evaluator shares: one warm sandbox per
process, a program judged by path, the score a framework maximises, and
what the next prompt needs to know."""

import os
import threading
from typing import Any, Dict, Optional

from aegis_sandbox.executor import ExecutionResult, SafeCodeExecutor

_lock = threading.Lock()
_executor: Optional[SafeCodeExecutor] = None


def get_executor() -> SafeCodeExecutor:
    """One executor (one warm sandbox server) per process of the framework."""
    global _executor
    with _lock:
        if _executor is None:
            _executor = SafeCodeExecutor(timeout_seconds=float(os.environ.get("AEGIS_TIMEOUT", "120")),
                                         policy=os.environ.get("AEGIS_POLICY") or None,
                                         db=os.environ.get("AEGIS_SANDBOX_DB") or None)
        return _executor


def numbers(metrics: Dict[str, Any]) -> Dict[str, float]:
    return {k: float(v) for k, v in metrics.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool)}


def artifacts(r: ExecutionResult) -> Dict[str, str]:
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


def judge(program_path: str, train: bool, record: bool, prefix: str, name: Optional[str] = None) -> ExecutionResult:
    """The verdict on the program at PROGRAM_PATH: TRAIN (the whole
    pipeline) or build and run once; RECORD it in the pool or not.  Its
    architecture id is PREFIX and NAME (default: the file's name)."""
    with open(program_path, encoding="utf-8") as f:
        code = f.read()
    extra: Dict[str, Any] = {"train": train, "record": record}
    if os.environ.get("AEGIS_TRAIN_STEPS"):
        extra["train_steps"] = int(os.environ["AEGIS_TRAIN_STEPS"])
    name = name or os.path.splitext(os.path.basename(program_path))[0]
    return get_executor().execute_model_code(code, os.environ.get("AEGIS_INPUT") or None, prefix + name, **extra)


def score(r: ExecutionResult) -> float:
    """What a framework maximises: 1 / (1 + held-out loss) for an
    accepted, trained model (the final loss where no held-out batch was
    drawn), 0 for anything else."""
    loss = r.metrics.get("heldout_loss")
    if loss is None:
        loss = r.metrics.get("final_loss")
    if not r.success or not isinstance(loss, (int, float)) or loss < 0:
        return 0.0
    return 1.0 / (1.0 + float(loss))
