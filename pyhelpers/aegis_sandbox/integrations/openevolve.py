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

from aegis_sandbox.executor import ExecutionResult
from aegis_sandbox.integrations.common import artifacts, judge, numbers, score


def _result(r: ExecutionResult, value: float):
    metrics = numbers(r.metrics)
    metrics["accepted"] = 1.0 if r.success else 0.0
    metrics["combined_score"] = value
    try:
        from openevolve.evaluation_result import EvaluationResult
    except ImportError:  # without OpenEvolve: the dict its older versions take
        return metrics
    return EvaluationResult(metrics=metrics, artifacts=artifacts(r))


def evaluate_stage1(program_path: str):
    """Build and run once (no training, not recorded)."""
    r = judge(program_path, train=False, record=False, prefix="openevolve-")
    return _result(r, 0.5 if r.success else 0.0)


def evaluate_stage2(program_path: str):
    """The whole pipeline, trained, recorded in the pool."""
    return evaluate(program_path)


def evaluate(program_path: str):
    """The whole pipeline, trained, recorded in the pool: one row per program."""
    r = judge(program_path, train=True, record=True, prefix="openevolve-")
    return _result(r, score(r))
