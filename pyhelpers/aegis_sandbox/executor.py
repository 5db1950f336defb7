"""The client side: a warm server per executor, the seed's names on top."""

import atexit
import dataclasses
import json
import os
import shutil
import subprocess
import tempfile
import threading
import weakref
from typing import Any, Dict, List, Optional, Tuple

def _binary():
    if os.environ.get("AEGIS_SANDBOX"):
        return os.environ["AEGIS_SANDBOX"]
    try:
        from aegis_sandbox import _config
        path = os.path.join(_config.BINDIR, "aegis-sandbox")
        if os.access(path, os.X_OK):
            return path
    except ImportError:
        pass
    return "aegis-sandbox"


BINARY = _binary()


def _import_fixers():
    try:
        from aegis_job import fixers
        return fixers
    except ImportError:
        import sys
        try:
            from aegis_sandbox import _config
            where = os.environ.get("AEGIS_PYHELPERS", _config.PYHELPERS_DIR)
        except ImportError:
            where = os.environ.get("AEGIS_PYHELPERS", "")
        sys.path.append(where)
        from aegis_job import fixers
        return fixers


class SandboxError(RuntimeError):
    """The sandbox itself failed (not the candidate)."""


@dataclasses.dataclass
class ExecutionResult:
    """The seed's ExecutionResult, plus the richer fields of the result
    contract (status, stage, attempts, checks, ...)."""

    success: bool
    model: Any
    error_message: str
    stdout: str
    stderr: str
    execution_time: float
    metrics: Dict[str, Any]
    status: str = "error"
    stage: str = ""
    error: Optional[Dict[str, Any]] = None
    violations: List[Dict[str, Any]] = dataclasses.field(default_factory=list)
    attempts: List[Dict[str, Any]] = dataclasses.field(default_factory=list)
    checks: Dict[str, Any] = dataclasses.field(default_factory=dict)
    final_code: str = ""
    code_sha256: str = ""
    candidate_id: Optional[int] = None
    # "artifact": the verdict is the validate child's, about the exported
    # archive (result.model); "unverified": the policy let the candidate's
    # own process validate a model that cannot be exported (it could have
    # forged that); None when nothing was validated.
    integrity: Optional[str] = None
    raw: Dict[str, Any] = dataclasses.field(default_factory=dict, repr=False)


class _Server:
    """One 'aegis-sandbox serve --stdio' child; thread-safe, restarted
    when it dies."""

    def __init__(self, args):
        self._args = args
        self._proc = None
        self._lock = threading.Lock()
        self._seq = 0

    def _start(self):
        self._proc = subprocess.Popen(self._args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      text=True, encoding="utf-8", bufsize=1)

    def request(self, req):
        with self._lock:
            for attempt in range(2):
                if self._proc is None or self._proc.poll() is not None:
                    self._start()
                self._seq += 1
                req = dict(req, id=self._seq)
                try:
                    self._proc.stdin.write(json.dumps(req) + "\n")
                    self._proc.stdin.flush()
                    line = self._proc.stdout.readline()
                except (BrokenPipeError, OSError):
                    line = ""
                if line:
                    return json.loads(line)
                self.close()  # it died under us: start a new one, once
            raise SandboxError("the aegis-sandbox server died twice in a row")

    def close(self):
        p, self._proc = self._proc, None
        if p is None:
            return
        try:
            p.stdin.close()
            p.wait(timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            p.kill()
            p.wait()


_models = weakref.WeakKeyDictionary()  # model -> (executor, request) it came from


class SafeCodeExecutor:
    """Run generated model code in aegis-sandbox.

    timeout_seconds and max_memory_gb become per-request limits (a policy's
    limits can only be lowered by a request).  work_dir is where returned
    archives are kept (a private temporary directory by default).
    """

    def __init__(self, timeout_seconds=120, max_memory_gb=4.0, work_dir=None, policy=None,
                 jobs=1, train=False, db=None):
        self.timeout_seconds = timeout_seconds
        self.max_memory_gb = max_memory_gb
        self.policy = policy
        self.train = train
        self._own_dir = work_dir is None
        self.work_dir = work_dir or tempfile.mkdtemp(prefix="aegis_sandbox_")
        os.makedirs(self.work_dir, exist_ok=True)
        args = [BINARY, "serve", "--stdio", "--jobs", str(jobs)]
        if policy:
            args += ["--policy", policy]
        if db:
            args += ["--db", db]
        self._server = _Server(args)
        self._counter = 0
        self._lock = threading.Lock()
        atexit.register(self.close)

    def execute_model_code(self, code, test_inputs=None, architecture_id="", class_name=None,
                           **extra):
        """The seed's signature.  test_inputs: a tensor (handed over as a .npy
        file, loaded there without unpickling), a spec string such as
        'tokens:2x20:1000', or None for the policy's default."""
        import torch
        with self._lock:
            self._counter += 1
            n = self._counter
        req = {"code": code, "architecture_id": architecture_id or "",
               "timeout": float(self.timeout_seconds),
               "memory_mb": int(self.max_memory_gb * 1024), "train": self.train,
               "artifact_out": os.path.join(self.work_dir, "model-%d.pt" % n)}
        if class_name:
            req["class"] = class_name
        req.update(extra)
        tmp_input = None
        if isinstance(test_inputs, torch.Tensor):
            import numpy
            tmp_input = os.path.join(self.work_dir, "input-%d.npy" % n)
            numpy.save(tmp_input, test_inputs.detach().cpu().numpy(), allow_pickle=False)
            req["input"] = tmp_input
        elif isinstance(test_inputs, str):
            req["input"] = test_inputs
        raw = {}
        try:
            raw = self._server.request(req)
        finally:
            # a float tensor stays (in work_dir, until close) while its model
            # may still be handed to TrainingValidator, which trains on it
            if tmp_input and not (raw.get("status") == "accepted"
                                  and test_inputs.is_floating_point()):
                os.unlink(tmp_input)
        model = None
        if raw.get("status") == "accepted" and raw.get("artifact"):
            model = torch.jit.load(raw["artifact"], map_location="cpu")
            tokens = isinstance(test_inputs, torch.Tensor) and not test_inputs.is_floating_point()
            _models[model] = (self, dict(req, input=None if tokens else req.get("input")),
                              raw.get("final_code", code))
        err = raw.get("error") or {}
        msg = ""
        if err:
            msg = "%s: %s" % (err.get("type", "Error"), err.get("message", ""))
            if err.get("line"):
                msg += " (line %s)" % err["line"]
            if err.get("module"):
                msg += " [in %s]" % err["module"]
        return ExecutionResult(success=raw.get("status") == "accepted", model=model,
                               error_message=msg, stdout=raw.get("stdout", ""),
                               stderr=raw.get("stderr", ""),
                               execution_time=raw.get("execution_time", 0.0),
                               metrics=raw.get("metrics", {}), status=raw.get("status", "error"),
                               stage=raw.get("stage", ""), error=raw.get("error"),
                               violations=raw.get("violations", []),
                               attempts=raw.get("attempts", []), checks=raw.get("checks", {}),
                               final_code=raw.get("final_code", ""),
                               code_sha256=raw.get("code_sha256", ""),
                               candidate_id=raw.get("candidate_id"),
                               integrity=raw.get("integrity"), raw=raw)

    def close(self):
        self._server.close()
        if self._own_dir:
            shutil.rmtree(self.work_dir, ignore_errors=True)


class TrainingValidator:
    """The seed's TrainingValidator.  For a model that came from a
    SafeCodeExecutor, the training runs in the sandbox again (the validate
    child of aegis-sandbox, on the exported archive); other models are
    refused rather than trained in this process."""

    def __init__(self, training_steps=100):
        self.training_steps = training_steps

    def validate_training(self, model, vocab_size=1000, seq_len=20, batch_size=2):
        origin = _models.get(model)
        if origin is None:
            raise SandboxError("validate_training needs a model returned by "
                               "SafeCodeExecutor.execute_model_code")
        executor, req, code = origin
        req = dict(req, code=code, train=True, train_steps=self.training_steps, max_attempts=1)
        req.pop("artifact_out", None)
        # token models train on token ids drawn from the seed's arguments,
        # as the seed's validator does; others on their own test input
        if req.get("input") is None or str(req.get("input")).startswith("tokens:"):
            req["input"] = "tokens:%dx%d:%d" % (batch_size, seq_len, vocab_size)
        raw = executor._server.request(req)
        m = raw.get("metrics", {})
        trainable = raw.get("status") == "accepted" and bool(m.get("trainable"))
        metrics = {k: m.get(k) for k in ("avg_loss", "final_loss", "initial_loss", "training_steps",
                                         "trainable", "steps_per_second", "max_grad_norm")}
        metrics["trainable"] = trainable
        metrics["status"] = raw.get("status")
        if raw.get("error"):
            metrics["error"] = raw["error"].get("message")
        return trainable, metrics


def _policy(path=None):
    """The effective policy as the binary reads it (policy show --json):
    the client asks instead of keeping its own copy of any rule."""
    return _cli(["policy", "show"] + ([path] if path else []))


class CodeDebugger:
    """The seed's CodeDebugger: the built-in fixers of aegis-sandbox's debug
    loop, with the policy's import allowlist and fixer rules.  They parse
    the code as data (ast), never run it."""

    def __init__(self, policy=None):
        self.policy = policy

    def debug_and_fix(self, code, error_message, stderr="", vocab_size=None):
        import re
        fixers = _import_fixers()
        m = re.match(r"\s*(\w+): (.*?)(?: \(line (\d+)\))?$", error_message or "", re.S)
        err = {"type": m.group(1), "message": m.group(2),
               "line": int(m.group(3)) if m and m.group(3) else None} if m else {
                   "type": "", "message": error_message or ""}
        mod = re.search(r"\[in ([^\]]+)\]", error_message or "")
        if mod:
            err["module"] = mod.group(1)
        pol = _policy(self.policy)
        ctx = {"vocab": vocab_size, "allowed_imports": pol["python"]["allowed_imports"],
               "rules": pol["debug"]["rules"]}
        new, changes = fixers.apply(code, err, ctx)
        if new is None:
            return code, []
        return new, [c["description"] for c in changes]


def _cli(args, db=None):
    cmd = [BINARY] + args + ["--json"] + (["--db", db] if db else [])
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise SandboxError(p.stderr.strip() or "aegis-sandbox %s failed" % " ".join(args))
    return json.loads(p.stdout) if p.stdout.strip() else None


class CodePool:
    """The code pool (SQLite, through the aegis-sandbox CLI)."""

    def __init__(self, db=None):
        self.db = db

    def save(self, architecture_id, code, metrics=None, generation=0, parent_id=None,
             executor=None, test_inputs=None):
        """Run CODE through the sandbox and record it; returns the result
        (its candidate_id is the pool id)."""
        ex = executor or SafeCodeExecutor(db=self.db)
        extra = {"generation": int(generation)}
        if parent_id:
            extra["parent"] = int(parent_id)
        return ex.execute_model_code(code, test_inputs, architecture_id, **extra)

    def get_top_k(self, k=10, metric="final_loss", descending=False):
        return _cli(["pool", "top", "--k", str(k), "--metric", metric] +
                    (["--desc"] if descending else []), self.db)

    def lineage(self, candidate_id):
        return _cli(["pool", "lineage", str(candidate_id)], self.db)


class ApprovalManager:
    """The human approval gate (through the aegis-sandbox CLI)."""

    def __init__(self, db=None):
        self.db = db

    def request_approval(self, candidate_id, title=None, description=None, risk_assessment=None):
        """Open a pending request for an accepted candidate of the pool;
        returns the request's id.  The risk assessment is the sandbox's own
        (metrics and checks from the validate child), not the caller's."""
        args = ["approvals", "request", str(candidate_id)]
        if title:
            args += ["--comment", title]
        if description:
            args += ["--reviewer", description]
        return _cli(args, self.db)["id"]

    def approve_request(self, request_id, reviewer=None, comment=""):
        args = ["approvals", "approve", str(request_id), "--comment", comment]
        if reviewer:
            args += ["--reviewer", reviewer]
        return _cli(args, self.db)

    def reject_request(self, request_id, reviewer=None, comment="rejected"):
        args = ["approvals", "reject", str(request_id), "--comment", comment]
        if reviewer:
            args += ["--reviewer", reviewer]
        return _cli(args, self.db)

    def list_pending(self):
        return _cli(["approvals", "list", "--state", "pending"], self.db)
