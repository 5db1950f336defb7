"""Each judged candidate as an MLflow run: the verdict, its metrics, the
loss curve, the code and the verified archive.

In a search loop, as SafeCodeExecutor's hook:

    from aegis_sandbox import SafeCodeExecutor
    from aegis_sandbox.integrations.mlflow import MLflowLogger

    ex = SafeCodeExecutor(on_result=MLflowLogger(experiment="my-search"))

or, for what the CLI, the queue's workers or 'batch' recorded in a pool:

    python -m aegis_sandbox.integrations.mlflow --db pool.db [--since ID]

One run per candidate, named by its architecture id: parameters (status,
stage, integrity, torch, Python, code digest, pool id, parent,
generation), the numeric metrics (the sandbox's and the caller's), the
training loss curve as the step metric "loss_curve", tags aegis.*, and as
artifacts code.py, final_code.py when the debug loop changed it,
verdict.json, and model/archive.pt: the archive the verifier passed,
logged only when its bytes still have the verified digest.  An MLflow
artifact is the researcher's copy, not a deployment: the approval gate is
'pool export' and CodePool.load_approved (aegis.approval says where the
gate stands when the run is logged).

The tracking URI is MLflow's (MLFLOW_TRACKING_URI, or tracking_uri=); a
local file store ("file:///path/mlruns") works with mlflow-skinny, MLflow
3's deprecation of file stores notwithstanding (the logger opts in for a
file URI it was given).  The same hook serves other trackers: on_result
receives the ExecutionResult (doc/examples/trackers.md shows W&B and
TensorBoard in a few lines each).
"""

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from typing import Any, Dict, Iterable, Optional

from aegis_sandbox.executor import BINARY, ExecutionResult

_PARAMS = ("status", "stage", "integrity", "code_sha256", "candidate_id", "parent_id", "generation",
           "fixes_applied", "architecture_id")


def _mlflow(tracking_uri: Optional[str]):
    if tracking_uri and (tracking_uri.startswith("file:") or tracking_uri.startswith("/")):
        # a local file store is what the caller chose: MLflow 3 asks for
        # this opt-in before it writes one
        os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    try:
        import mlflow
    except ImportError:
        raise ImportError("aegis_sandbox.integrations.mlflow needs MLflow: pip install mlflow-skinny "
                          "(or mlflow)") from None
    if tracking_uri:
        mlflow.set_tracking_uri(tracking_uri)
    return mlflow


def _numbers(d: Dict[str, Any]) -> Dict[str, float]:
    return {k: float(v) for k, v in (d or {}).items()
            if isinstance(v, (int, float)) and not isinstance(v, bool) and v == v and abs(v) != float("inf")}


def _verified_archive(raw: Dict[str, Any]) -> Optional[bytes]:
    """The archive's bytes, only when they hash to the verified digest."""
    a = raw.get("archive") or {}
    digest = a.get("sha256") if a.get("verified") is True else None
    path = raw.get("artifact") or raw.get("pool_archive")
    if not digest or not path or not os.path.isfile(path):
        return None
    with open(path, "rb") as f:
        data = f.read()
    return data if hashlib.sha256(data).hexdigest() == digest else None


class MLflowLogger:
    """A SafeCodeExecutor on_result hook: one MLflow run per judged
    candidate; returns the run's id."""

    def __init__(self, tracking_uri: Optional[str] = None, experiment: str = "aegis-sandbox",
                 log_archive: bool = True):
        self.mlflow = _mlflow(tracking_uri)
        self.experiment = experiment
        self.log_archive = log_archive

    def __call__(self, result: ExecutionResult) -> str:
        raw = dict(result.raw or {})
        raw.setdefault("status", result.status)
        return self.log_raw(raw, code=raw.get("code"), approval="not requested")

    def log_raw(self, raw: Dict[str, Any], code: Optional[str] = None, approval: str = "-",
                user_metrics: Optional[Dict[str, Any]] = None) -> str:
        """Log one result document (the run's JSON, or a pool row)."""
        mlflow = self.mlflow
        mlflow.set_experiment(self.experiment)
        name = raw.get("architecture_id") or "candidate-%s" % raw.get("candidate_id", "?")
        metrics = dict(raw.get("metrics") or {})
        with mlflow.start_run(run_name=name) as run:
            params = {k: raw.get(k) for k in _PARAMS if raw.get(k) not in (None, "")}
            rt = raw.get("runtime") or {}
            params.update({"torch": rt.get("torch") or raw.get("torch"),
                           "python": rt.get("python") or raw.get("python")})
            mlflow.log_params({k: str(v) for k, v in params.items() if v is not None})
            mlflow.set_tags({"aegis.status": raw.get("status", ""), "aegis.stage": raw.get("stage", ""),
                             "aegis.approval": approval,
                             "aegis.candidate_id": str(raw.get("candidate_id") or raw.get("id") or ""),
                             "aegis.archive_sha256": ((raw.get("archive") or {}).get("sha256") or "")})
            nums = _numbers(metrics)
            nums.update(_numbers(user_metrics or raw.get("user_metrics") or {}))
            if nums:
                mlflow.log_metrics(nums)
            for step, v in enumerate(metrics.get("loss_curve") or []):
                if isinstance(v, (int, float)) and v == v:
                    mlflow.log_metric("loss_curve", float(v), step=step)
            with tempfile.TemporaryDirectory(prefix="aegis-mlflow-") as d:
                def put(fname: str, data: Any, sub: Optional[str] = None) -> None:
                    p = os.path.join(d, fname)
                    with open(p, "wb" if isinstance(data, bytes) else "w") as f:
                        f.write(data)
                    mlflow.log_artifact(p, artifact_path=sub)
                if code:
                    put("code.py", code)
                final = raw.get("final_code")
                if final and final != code:
                    put("final_code.py", final)
                verdict = {k: v for k, v in raw.items() if k not in ("code", "final_code", "stdout", "stderr")}
                put("verdict.json", json.dumps(verdict, indent=2, default=str))
                if self.log_archive:
                    data = _verified_archive(raw)
                    if data is not None:
                        put("archive.pt", data, "model")
            return run.info.run_id


def _cli(args: Iterable[str], db: str) -> Any:
    p = subprocess.run([BINARY] + list(args) + ["--json", "--db", db], capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit("aegis-sandbox %s: %s" % (" ".join(args), p.stderr.strip()))
    return json.loads(p.stdout)


def log_pool(db: str, tracking_uri: Optional[str] = None, experiment: str = "aegis-sandbox",
             since: int = 1) -> Dict[int, str]:
    """Log the pool's candidates from id SINCE on that this experiment does
    not have yet (by the aegis.candidate_id tag); {candidate id: run id}."""
    lg = MLflowLogger(tracking_uri, experiment)
    mlflow = lg.mlflow
    exp = mlflow.get_experiment_by_name(experiment)
    done = set()
    if exp is not None:
        for r in mlflow.tracking.MlflowClient().search_runs([exp.experiment_id], max_results=50000):
            done.add(r.data.tags.get("aegis.candidate_id"))
    out: Dict[int, str] = {}
    for row in _cli(["pool", "list"], db):
        cid = int(row["id"])
        if cid < since or str(cid) in done:
            continue
        full = _cli(["pool", "show", str(cid)], db)
        raw = dict(full, candidate_id=cid)
        # the archive the pool keeps (beside a SQLite pool), read only to
        # log its verified bytes
        sha = full.get("artifact_sha256")
        if sha and not db.startswith("postgresql:"):
            raw["pool_archive"] = os.path.join(db + "-archives", sha[:2], sha + ".pt")
        out[cid] = lg.log_raw(raw, code=full.get("code"), approval=row.get("approval") or "not requested",
                              user_metrics=full.get("user_metrics"))
    return out


def main(argv: Optional[list] = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m aegis_sandbox.integrations.mlflow",
                                 description="Log a pool's judged candidates to MLflow, one run each.")
    ap.add_argument("--db", required=True, help="the pool (a SQLite path or a postgresql:// URL)")
    ap.add_argument("--tracking-uri", default=None, help="MLflow's (default: MLFLOW_TRACKING_URI)")
    ap.add_argument("--experiment", default="aegis-sandbox")
    ap.add_argument("--since", type=int, default=1, help="from this candidate id on")
    a = ap.parse_args(argv)
    runs = log_pool(a.db, a.tracking_uri, a.experiment, a.since)
    print("logged %d candidate(s) to MLflow experiment %s" % (len(runs), a.experiment))
    return 0


if __name__ == "__main__":
    sys.exit(main())
