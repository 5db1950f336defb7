"""The client side: the AEGIS document's API (seed.md), backed by aegis-sandbox.

Every object of this process that runs code shares one warm
``aegis-sandbox serve --stdio`` child per (policy, pool database, jobs): the
zygote is started once, requests from many threads are in flight at once
(``jobs > 1`` runs them in parallel), and everything this module started
or made (the server, its zygote, private directories) is gone after
``shutdown()``, at exit, on SIGTERM, and, for directories left by a killed
process, at the next start.

Candidate code never runs in this process: a model comes back as a
TorchScript module loaded only from bytes whose SHA-256 is the digest the
verifier passed (load_archive), and nothing else candidate-made is
unpickled or loaded here.
"""

from __future__ import annotations

import atexit
import dataclasses
import fcntl
import hashlib
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import weakref
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

log = logging.getLogger("aegis_sandbox")


def _installed_prefix() -> Optional[str]:
    """The prefix this package was installed under (PREFIX/lib/pythonX.Y/
    site-packages/aegis_sandbox), or None (a checkout).  The program and
    the helpers were installed under the same prefix: a wheel built in one
    venv and installed in another keeps them together there."""
    pkg = os.path.dirname(os.path.abspath(__file__))
    site = os.path.dirname(pkg)
    if os.path.basename(site) not in ("site-packages", "dist-packages"):
        return None
    return os.path.dirname(os.path.dirname(os.path.dirname(site)))


def _binary() -> str:
    if os.environ.get("AEGIS_SANDBOX"):
        return os.environ["AEGIS_SANDBOX"]
    prefix = _installed_prefix()
    if prefix and os.access(os.path.join(prefix, "bin", "aegis-sandbox"), os.X_OK):
        return os.path.join(prefix, "bin", "aegis-sandbox")
    try:
        from aegis_sandbox import _config
        path = os.path.join(_config.BINDIR, "aegis-sandbox")
        if os.access(path, os.X_OK):
            return path
    except ImportError:
        pass
    found = shutil.which("aegis-sandbox")
    return found or "aegis-sandbox"


BINARY = _binary()


def _require_binary() -> None:
    if not (os.access(BINARY, os.X_OK) if os.sep in BINARY else shutil.which(BINARY)):
        raise SandboxError("the aegis-sandbox program was not found (%s): install it (pip install "
                           "<checkout> in this environment, or make install), or set AEGIS_SANDBOX to "
                           "its path" % BINARY)


class SandboxError(RuntimeError):
    """The sandbox itself failed or was misused (not the candidate)."""


class ArchiveMismatch(SandboxError):
    """An archive whose bytes are not the bytes the verifier passed."""


class Refused(SandboxError):
    """The approval gate said no (not approved, no trusted signature, an
    archive the verifier did not pass): the pool commands' exit 1."""


class NotFound(SandboxError):
    """No such candidate, approval request or archive (exit 8)."""


class Conflict(SandboxError):
    """Already decided, or changed while deciding (exit 9)."""


# the pool commands' exit codes (aegis-sandbox(1), EXIT STATUS)
_POOL_ERRORS = {1: Refused, 8: NotFound, 9: Conflict}


def load_archive(path: str, sha256: str) -> Any:
    """The TorchScript model in the archive at PATH, loaded only when its
    bytes hash to SHA256: the digest of the bytes the verifier passed (a
    verdict's ``archive["sha256"]``, or what ``aegis-sandbox pool show``
    prints).  The file is read once; those bytes are hashed and then loaded
    from memory, so nothing can change between the check and the load.

    "Verified" means: in a confined child that never ran the candidate's
    Python, our own reader parsed these exact bytes (the zip, every pickle
    with a restricted reader, every tensor record against its storage) and
    every operator of every compiled function, untaken branches included,
    is a pure tensor operator from the allowlist (no files, processes,
    network, RNG seeding, profiler, custom or Python operators).  It does
    not mean the model is good at anything, or that it computes what its
    source says (doc/security.md).  Raises ArchiveMismatch otherwise."""
    import io

    import torch
    if not (isinstance(sha256, str) and re.fullmatch(r"[0-9a-f]{64}", sha256)):
        raise ArchiveMismatch("%s: no verified digest to check it against: not loaded" % path)
    with open(path, "rb") as f:
        data = f.read()
    got = hashlib.sha256(data).hexdigest()
    if got != sha256:
        raise ArchiveMismatch("%s: its SHA-256 is %s, the verifier passed %s: not loaded" % (path, got, sha256))
    return torch.jit.load(io.BytesIO(data), map_location="cpu")


def _verified_digest(raw: Dict[str, Any]) -> Optional[str]:
    """The digest the verifier passed, from a result, or None."""
    a = raw.get("archive") or {}
    return a.get("sha256") if a.get("verified") is True else None


def _import_fixers():
    try:
        from aegis_job import fixers
        return fixers
    except ImportError:
        import sys
        prefix = _installed_prefix()
        own = os.path.join(prefix, "share", "aegis-sandbox", "pyhelpers") if prefix else ""
        try:
            from aegis_sandbox import _config
            where = os.environ.get("AEGIS_PYHELPERS", own if os.path.isdir(own) else _config.PYHELPERS_DIR)
        except ImportError:
            where = os.environ.get("AEGIS_PYHELPERS", own)
        sys.path.append(where)
        from aegis_job import fixers
        return fixers


def _cli(args: Sequence[str], db: Optional[str] = None) -> Any:
    """Run one aegis-sandbox command with --json; its document."""
    cmd = [BINARY] + list(args) + ["--json"] + (["--db", db] if db else [])
    try:
        p = subprocess.run(cmd, capture_output=True, text=True)
    except FileNotFoundError:
        raise SandboxError("the aegis-sandbox program was not found (%s): install it (pip install "
                           "<checkout> in this environment, or make install), or set AEGIS_SANDBOX to "
                           "its path" % BINARY) from None
    if p.returncode != 0:
        kind = _POOL_ERRORS.get(p.returncode, SandboxError) if args and args[0] in ("pool", "approvals") \
            else SandboxError
        raise kind(p.stderr.strip() or "aegis-sandbox %s failed" % " ".join(args))
    return json.loads(p.stdout) if p.stdout.strip() else None


def _is_url(db: str) -> bool:
    """A PostgreSQL pool (a server, not a file beside us)."""
    return db.startswith(("postgresql://", "postgres://"))


def submit(code: str, db: Optional[str] = None, test_inputs: Optional[str] = None,
           architecture_id: str = "", parent: Optional[int] = None, generation: Optional[int] = None,
           train: Optional[bool] = None, request_approval: bool = False) -> int:
    """Queue CODE in the pool DB (default: default_db(), or a
    postgresql:// URL) for 'aegis-sandbox worker' processes; its queue id.
    The verdict lands in the pool (CodePool.get_top_k, the approval gate)
    once a worker has judged it."""
    args = ["submit", "--db", db or default_db()]
    if test_inputs is not None:
        args += ["--input", test_inputs]
    if architecture_id:
        args += ["--arch-id", architecture_id]
    if parent is not None:
        args += ["--parent", str(int(parent))]
    if generation is not None:
        args += ["--generation", str(int(generation))]
    if train is False:
        args.append("--no-train")
    if request_approval:
        args.append("--request-approval")
    cmd = [BINARY] + args + ["--json", "-"]
    try:
        p = subprocess.run(cmd, input=code, capture_output=True, text=True)
    except FileNotFoundError:
        raise SandboxError("the aegis-sandbox program was not found (%s)" % BINARY) from None
    if p.returncode != 0:
        raise SandboxError(p.stderr.strip() or "aegis-sandbox submit failed")
    return int(json.loads(p.stdout)[0]["queue_id"])


def default_db() -> str:
    """The pool database the seed's objects share when given none:
    $AEGIS_SANDBOX_DB, else the program's own default (pool path)."""
    return os.environ.get("AEGIS_SANDBOX_DB") or _cli(["pool", "path"])["db"]


def _policy(path: Optional[str] = None) -> Dict[str, Any]:
    """The effective policy as the binary reads it (policy show --json):
    the client asks instead of keeping its own copy of any rule."""
    return _cli(["policy", "show"] + ([path] if path else []))


# ---- what this process started and made ------------------------------------

_lock = threading.RLock()
_servers: Dict[tuple, "_Server"] = {}
_dirs: Dict[str, int] = {}  # private directory -> fd holding its lock
_DIR_PREFIX = "aegis-client-"


def _reclaim_stale_dirs() -> None:
    """Remove private directories of processes that are gone (killed before
    they could clean up): a live owner holds an flock on its .lock."""
    base = tempfile.gettempdir()
    try:
        names = os.listdir(base)
    except OSError:
        return
    for name in names:
        path = os.path.join(base, name)
        if not name.startswith(_DIR_PREFIX) or path in _dirs:
            continue
        try:
            if os.lstat(path).st_uid != os.getuid():
                continue
            fd = os.open(os.path.join(path, ".lock"), os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue
        shutil.rmtree(path, ignore_errors=True)
        os.close(fd)


def _private_dir() -> str:
    """A directory for this process's files (test inputs, archives), locked
    while it lives and removed by shutdown() or, after a SIGKILL, by the
    next process that uses this module."""
    with _lock:
        if not _dirs:
            _reclaim_stale_dirs()
        path = tempfile.mkdtemp(prefix="%s%d-" % (_DIR_PREFIX, os.getpid()))
        fd = os.open(os.path.join(path, ".lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        _dirs[path] = fd
        return path


def _drop_dir(path: str) -> None:
    with _lock:
        fd = _dirs.pop(path, None)
    shutil.rmtree(path, ignore_errors=True)
    if fd is not None:
        os.close(fd)


class _Server:
    """One 'aegis-sandbox serve --stdio' child.  Thread-safe: requests from
    many threads are in flight at once, and a reader thread hands each
    result to its caller by request id.  Restarted (once per request) if
    it dies."""

    def __init__(self, args: List[str]):
        self._args = args
        self._proc: Optional[subprocess.Popen] = None
        self._lock = threading.Lock()
        self._seq = 0
        self._waiting: Dict[int, list] = {}  # id -> [event, result, proc]

    def _start(self) -> None:
        try:
            self._proc = subprocess.Popen(self._args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                          text=True, encoding="utf-8", bufsize=1)
        except FileNotFoundError:
            raise SandboxError("the aegis-sandbox program was not found (%s): install it, or set "
                               "AEGIS_SANDBOX to its path" % self._args[0]) from None
        log.debug("started %s (pid %d)", " ".join(self._args), self._proc.pid)
        threading.Thread(target=self._read, args=(self._proc,), name="aegis-sandbox-reader",
                         daemon=True).start()

    def _read(self, proc: subprocess.Popen) -> None:
        for line in proc.stdout:
            try:
                msg = json.loads(line)
            except ValueError:
                log.error("aegis-sandbox serve wrote a line that is not JSON: %.200r", line)
                continue
            with self._lock:
                w = self._waiting.pop(msg.get("request_id"), None)
            if w is not None:
                w[1] = msg
                w[0].set()
        with self._lock:  # it ended: nobody waits for it any more
            for rid in [r for r, w in self._waiting.items() if w[2] is proc]:
                self._waiting.pop(rid)[0].set()
            if self._proc is proc:
                self._proc = None

    def request(self, req: Dict[str, Any]) -> Dict[str, Any]:
        for _ in range(2):
            with self._lock:
                if self._proc is None or self._proc.poll() is not None:
                    self._start()
                self._seq += 1
                w = [threading.Event(), None, self._proc]
                self._waiting[self._seq] = w
                try:
                    self._proc.stdin.write(json.dumps(dict(req, id=self._seq)) + "\n")
                    self._proc.stdin.flush()
                except OSError:
                    self._waiting.pop(self._seq, None)
                    w[0].set()
            w[0].wait()
            if w[1] is not None:
                return w[1]
            log.warning("the aegis-sandbox server died under a request; starting a new one")
        raise SandboxError("the aegis-sandbox server died twice in a row")

    def close(self) -> None:
        with self._lock:
            p, self._proc = self._proc, None
        if p is None:
            return
        try:
            p.stdin.close()
            p.wait(timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            p.kill()
            p.wait()


def _shared_server(policy: Optional[str], db: Optional[str], jobs: int) -> _Server:
    key = (BINARY, policy, db, jobs)
    with _lock:
        if key not in _servers:
            args = [BINARY, "serve", "--stdio", "--jobs", str(jobs)]
            if policy:
                args += ["--policy", policy]
            if db:
                args += ["--db", db]
            _servers[key] = _Server(args)
        return _servers[key]


def shutdown() -> None:
    """Stop every server this process started (their zygotes and jobs end
    with them) and remove its private directories.  Objects still in use
    start a new server on their next call."""
    with _lock:
        servers = list(_servers.values())
        _servers.clear()
        dirs = list(_dirs)
    for s in servers:
        s.close()
    for d in dirs:
        _drop_dir(d)


atexit.register(shutdown)


def _on_signal(signum, frame):  # pragma: no cover - exercised by tests/python
    shutdown()
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def _install_signal_cleanup() -> None:
    """SIGTERM and SIGHUP end the process without atexit; clean up first,
    unless the application has its own handlers."""
    if threading.current_thread() is not threading.main_thread():
        return
    for sig in (signal.SIGTERM, signal.SIGHUP):
        try:
            if signal.getsignal(sig) is signal.SIG_DFL:
                signal.signal(sig, _on_signal)
        except (ValueError, OSError):
            pass


# ---- results ----------------------------------------------------------------

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
    # the code that ran: the code given, unless fixing was asked for and a
    # fix applied (fixes_applied > 0, each one in attempts[])
    final_code: str = ""
    fixes_applied: int = 0
    code_sha256: str = ""
    candidate_id: Optional[int] = None
    # "artifact": the verdict is the validate child's, about the exported
    # archive (result.model); "unverified": the policy let the candidate's
    # own process validate a model that cannot be exported (it could have
    # forged that); None when nothing was validated.
    integrity: Optional[str] = None
    # what it was judged on: {"python", "torch", "format"}
    runtime: Optional[Dict[str, str]] = None
    raw: Dict[str, Any] = dataclasses.field(default_factory=dict, repr=False)


def _given(value: Any, default: Any = None) -> Any:
    """The seed document writes '...' for an argument it leaves to the
    reader (execute_model_code(code, ...), approve_request(approval_id,
    ...)); pasted as is, that is Ellipsis, taken here as "not given"."""
    return default if value is Ellipsis else value


def _error_message(err: Optional[Dict[str, Any]]) -> str:
    if not err:
        return ""
    msg = "%s: %s" % (err.get("type", "Error"), err.get("message", ""))
    if err.get("line"):
        msg += " (line %s)" % err["line"]
    if err.get("module"):
        msg += " [in %s]" % err["module"]
    return msg


# model -> where it came from, for TrainingValidator and run_full_training
_models: "weakref.WeakKeyDictionary[Any, _Origin]" = weakref.WeakKeyDictionary()
# the last accepted candidate of this process, for ApprovalManager
_last: Dict[str, Any] = {}


@dataclasses.dataclass
class _Origin:
    executor: "SafeCodeExecutor"
    request: Dict[str, Any]
    code: str
    candidate_id: Optional[int]
    metrics: Dict[str, Any]
    checks: Dict[str, Any]
    tokens: bool  # the caller gave a tensor of token ids


# the request fields a caller may add (serve's request, aegis-sandbox(1))
_EXTRA = {"parent", "generation", "train", "train_steps", "max_attempts", "request_approval", "input", "record",
          "class"}


class SafeCodeExecutor:
    """The seed's SafeCodeExecutor: run generated model code in aegis-sandbox.

    timeout_seconds and max_memory_gb are per-request limits (a policy's
    limits can only be lowered).  work_dir keeps the returned archives (a
    private directory, removed at shutdown, by default).  Every candidate is
    recorded in the pool database db (default: default_db(); False: none),
    which ApprovalManager and CodePool read.  The code given is the code
    run: with fix=True the debug loop may rewrite it, and the result says
    how (fixes_applied, attempts, final_code).  on_result(result) is called
    with every result (aegis_sandbox.integrations.mlflow.MLflowLogger logs
    each judged candidate to MLflow).
    """

    def __init__(self, timeout_seconds: float = 120, max_memory_gb: float = 4.0,
                 work_dir: Optional[str] = None, *, policy: Optional[str] = None, jobs: int = 1,
                 train: bool = False, db: Union[str, None, bool] = None, fix: bool = False,
                 on_result: Optional[Callable[["ExecutionResult"], Any]] = None):
        _require_binary()
        # called with every result, after the verdict (MLflow, W&B,
        # TensorBoard: aegis_sandbox.integrations.mlflow); what it raises
        # is logged and changes nothing
        self.on_result = on_result
        self.timeout_seconds = timeout_seconds
        self.max_memory_gb = max_memory_gb
        self.policy = policy
        self.train = train
        self.fix = fix
        self.db = None if db is False else (db or default_db())
        self._own_dir = work_dir is None
        self.work_dir = work_dir or _private_dir()
        os.makedirs(self.work_dir, exist_ok=True)
        self._server = _shared_server(policy, self.db, int(jobs))
        self._counter = 0
        self._counter_lock = threading.Lock()
        _install_signal_cleanup()

    def __enter__(self) -> "SafeCodeExecutor":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def execute_model_code(self, code: str, test_inputs: Any = None, architecture_id: str = "",
                           class_name: Optional[str] = None, *, fix: Optional[bool] = None,
                           **extra: Any) -> ExecutionResult:
        """The seed's signature.  test_inputs: a tensor (handed over as a
        .npy file, loaded there without unpickling), a spec string such as
        'tokens:2x20:1000', or None (the model's own input, from its first
        layer)."""
        import torch
        test_inputs = _given(test_inputs)
        unknown = set(extra) - _EXTRA
        if unknown:
            raise TypeError("execute_model_code() got unexpected arguments: %s (a fixer is the "
                            "policy's debug.fixer_command, or LLMCodeDebugger)" % ", ".join(sorted(unknown)))
        with self._counter_lock:
            self._counter += 1
            n = self._counter
            if self._own_dir and self.work_dir not in _dirs:
                self.work_dir = _private_dir()  # shutdown() removed it: a new one
        req: Dict[str, Any] = {"code": code, "architecture_id": architecture_id or "",
                               "timeout": float(self.timeout_seconds),
                               "memory_mb": int(self.max_memory_gb * 1024), "train": self.train}
        if not (self.fix if fix is None else fix):
            req["max_attempts"] = 1
        if class_name:
            req["class"] = class_name
        req.update(extra)
        if not self.db or _is_url(self.db) or req.get("record") is False:
            # with a SQLite pool, the model is loaded from the pool's own
            # copy ("pool_archive"): one copy of the archive to disk, not
            # two; a PostgreSQL pool keeps it in the database
            req.setdefault("artifact_out", os.path.join(self.work_dir, "model-%d.pt" % n))
        tmp_input = None
        if isinstance(test_inputs, torch.Tensor):
            tmp_input = os.path.join(self.work_dir, "input-%d.npy" % n)
            _save_npy(tmp_input, test_inputs)
            req["input"] = tmp_input
        elif isinstance(test_inputs, str):
            req["input"] = test_inputs
        elif test_inputs is not None:
            raise TypeError("test_inputs: a torch.Tensor, an input spec string or None, not %s"
                            % type(test_inputs).__name__)
        raw: Dict[str, Any] = {}
        try:
            raw = self._server.request(req)
        finally:
            # a float tensor stays (until shutdown) while its model may still
            # be handed to TrainingValidator, which trains on it
            if tmp_input and not (raw.get("status") == "accepted" and test_inputs.is_floating_point()):
                os.unlink(tmp_input)
        model = None
        archive = raw.get("artifact") or raw.get("pool_archive")
        if raw.get("status") == "accepted" and not archive:
            log.error("candidate accepted, but its archive was not recorded (see the server's "
                      "messages): result.model is None")
        if raw.get("status") == "accepted" and archive:
            try:
                model = load_archive(archive, _verified_digest(raw))
            except ArchiveMismatch as e:
                # what was delivered is not what passed: no model, and the
                # result says why (an error of the sandbox, not a verdict)
                log.error("%s", e)
                raw = dict(raw, status="error", error={"type": "ArchiveMismatch", "message": str(e), "line": None})
        if model is not None:
            tokens = isinstance(test_inputs, torch.Tensor) and not test_inputs.is_floating_point()
            _models[model] = _Origin(self, dict(req, input=None if tokens else req.get("input")),
                                     raw.get("final_code", code), raw.get("candidate_id"),
                                     raw.get("metrics", {}), raw.get("checks", {}), tokens)
            with _lock:
                _last.update(candidate_id=raw.get("candidate_id"), db=self.db)
        metrics = dict(raw.get("metrics", {}))
        if "output" in metrics and "output_shape" not in metrics:
            metrics["output_shape"] = metrics["output"]  # the seed's name
        result = ExecutionResult(success=raw.get("status") == "accepted", model=model,
                                 error_message=_error_message(raw.get("error")),
                                 stdout=raw.get("stdout", ""), stderr=raw.get("stderr", ""),
                                 execution_time=raw.get("execution_time", 0.0), metrics=metrics,
                                 status=raw.get("status", "error"), stage=raw.get("stage", ""),
                                 error=raw.get("error"), violations=raw.get("violations", []),
                                 attempts=raw.get("attempts", []), checks=raw.get("checks", {}),
                                 final_code=raw.get("final_code", ""),
                                 fixes_applied=int(raw.get("fixes_applied") or 0),
                                 code_sha256=raw.get("code_sha256", ""),
                                 candidate_id=raw.get("candidate_id"), integrity=raw.get("integrity"),
                                 runtime=raw.get("runtime"), raw=raw)
        if result.fixes_applied:
            log.info("%s: accepted after %d fix(es) by the debug loop: final_code is not the code given",
                     architecture_id or "candidate", result.fixes_applied)
        if self.on_result is not None:
            result.raw.setdefault("code", code)  # what a tracker logs as given
            try:
                self.on_result(result)
            except Exception:  # a tracker's failure is not the candidate's
                log.exception("on_result hook failed for %s", architecture_id or "candidate")
        return result

    def close(self) -> None:
        """Remove this executor's own directory (the shared server stays
        for the process's other objects; shutdown() stops it)."""
        if self._own_dir:
            _drop_dir(self.work_dir)


# torch's dtypes as .npy's; the job child reads the same table
# (aegis_job.inputs.NPY_DTYPES)
_NPY_DESCR = {"float16": "<f2", "float32": "<f4", "float64": "<f8", "int8": "|i1", "uint8": "|u1",
              "int16": "<i2", "int32": "<i4", "int64": "<i8", "bool": "|b1"}


def _save_npy(path: str, t: Any) -> None:
    """A tensor as a .npy file (format 1.0: what the sandbox loads without
    unpickling), written here: numpy is optional (pip's torch does not pull
    it in, and the seed's calls must work without it)."""
    import ctypes
    import struct
    import sys
    t = t.detach().cpu().contiguous()
    descr = _NPY_DESCR.get(str(t.dtype).replace("torch.", ""))
    if descr is None:
        raise TypeError("test_inputs: a %s tensor has no .npy form (use float16/32/64, an integer type "
                        "or bool)" % t.dtype)
    if sys.byteorder != "little":
        raise TypeError("test_inputs: .npy files are written on little-endian machines only")
    header = "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }" % (
        descr, "".join("%d, " % d for d in t.shape).rstrip(" ") if t.dim() != 1 else "%d," % t.shape[0])
    pad = 64 - (10 + len(header) + 1) % 64
    header = (header + " " * (pad % 64) + "\n").encode("latin-1")
    nbytes = t.numel() * t.element_size()
    data = ctypes.string_at(t.data_ptr(), nbytes) if nbytes else b""
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + data)


# ---- training -----------------------------------------------------------------

# what a validation with training measures, for the pool (validate_training)
_TRAINED = ("avg_loss", "final_loss", "initial_loss", "heldout_loss", "loss_drop", "max_grad_norm",
            "steps_per_second", "training_steps")


class TrainingValidator:
    """The seed's TrainingValidator.  For a model that came from a
    SafeCodeExecutor, the training runs in the sandbox again (a validate
    child of aegis-sandbox, on the exported archive); a model made in this
    process is refused rather than trained here."""

    def __init__(self, training_steps: int = 100):
        self.training_steps = training_steps

    def validate_training(self, model: Any, vocab_size: int = 1000, seq_len: int = 20,
                          batch_size: int = 2) -> Tuple[bool, Dict[str, Any]]:
        vocab_size, seq_len, batch_size = _given(vocab_size, 1000), _given(seq_len, 20), _given(batch_size, 2)
        origin = _models.get(model)
        if origin is None:
            raise SandboxError("validate_training needs a model returned by "
                               "SafeCodeExecutor.execute_model_code")
        req = dict(origin.request, code=origin.code, train=True, train_steps=self.training_steps,
                   max_attempts=1, record=False)
        req.pop("artifact_out", None)
        # token models train on token ids drawn from the seed's arguments,
        # as the seed's validator does; others on the input they ran with
        used = req.get("input") or (None if origin.tokens else origin.metrics.get("input"))
        if used is None or str(used).startswith("tokens:"):
            req["input"] = "tokens:%dx%d:%d" % (batch_size, seq_len, vocab_size)
        else:
            req["input"] = used
        raw = origin.executor._server.request(req)
        m = raw.get("metrics", {})
        trainable = raw.get("status") == "accepted" and bool(m.get("trainable"))
        metrics = {k: m.get(k) for k in ("avg_loss", "final_loss", "initial_loss", "training_steps",
                                         "steps_per_second", "max_grad_norm", "parameters")}
        metrics["trainable"] = trainable
        metrics["status"] = raw.get("status")
        if raw.get("error"):
            metrics["error"] = raw["error"].get("message")
        if m.get("heldout_loss") is not None:
            metrics["heldout_loss"] = m["heldout_loss"]
        db = origin.executor.db
        if origin.candidate_id is not None and db and (_is_url(db) or os.path.exists(db)):
            # the training reaches the pool (issue 30: get_top_k() ranked
            # nothing after the seed's execute-then-validate flow): on the
            # candidate's row, among the caller's metrics, since the caller
            # asked for it; no second row
            trained = {k: m[k] for k in _TRAINED if isinstance(m.get(k), (int, float))
                       and not isinstance(m.get(k), bool)}
            if trained and raw.get("status") == "accepted":
                _cli(["pool", "annotate", str(origin.candidate_id), "--metrics", json.dumps(trained)], db)
        return trainable, metrics


def _as_arrays(dataset: Any) -> Tuple[Any, Any]:
    """(inputs, targets) as tensors, from a TensorDataset, an (x, y) pair
    of tensors or arrays, a {"inputs", "targets"} mapping, a pair of .npy
    paths, or a .pt file holding any of those (loaded here, in the
    caller's process, with weights_only=True)."""
    import torch
    if isinstance(dataset, str) and dataset.endswith(".pt"):
        dataset = torch.load(dataset, map_location="cpu", weights_only=True)
    if hasattr(dataset, "tensors"):  # torch.utils.data.TensorDataset
        dataset = dataset.tensors
    if isinstance(dataset, dict):
        dataset = (dataset["inputs"], dataset["targets"])
    if not isinstance(dataset, (tuple, list)) or len(dataset) != 2:
        raise TypeError("dataset: a TensorDataset, (inputs, targets), {'inputs', 'targets'}, two .npy "
                        "paths or a .pt file of one of those")

    def tensor(v: Any) -> Any:
        if isinstance(v, str):
            import numpy
            v = numpy.load(v, allow_pickle=False)
        return v if isinstance(v, torch.Tensor) else torch.as_tensor(v)
    return tensor(dataset[0]), tensor(dataset[1])


def run_full_training(model: Any, dataset: Any, epochs: int = 10, batch_size: int = 32,
                      learning_rate: float = 1e-3) -> Dict[str, Any]:
    """The seed's phase 2: train a model returned by SafeCodeExecutor on the
    caller's data set, inside the sandbox (a validate child trains the
    exported archive; candidate Python runs nowhere).  Returns the metrics:
    per-epoch loss and time ("epochs"), "final_loss", "trainable" and the
    validation's own metrics.  The executor's timeout bounds the run."""
    origin = _models.get(model)
    if origin is None:
        raise SandboxError("run_full_training needs a model returned by SafeCodeExecutor.execute_model_code")
    x, y = _as_arrays(dataset)
    where = _private_dir()
    try:
        xi, yi = os.path.join(where, "inputs.npy"), os.path.join(where, "targets.npy")
        _save_npy(xi, x)
        _save_npy(yi, y)
        req = dict(origin.request, code=origin.code, train=True, max_attempts=1, record=False,
                   dataset={"inputs": xi, "targets": yi, "epochs": int(epochs), "batch_size": int(batch_size),
                            "learning_rate": float(learning_rate)})
        req.pop("artifact_out", None)
        raw = origin.executor._server.request(req)
    finally:
        _drop_dir(where)
    m = raw.get("metrics", {})
    full = m.get("full_training") or {}
    out = {"epochs": full.get("epochs", []), "final_loss": full.get("final_loss"), "loss": full.get("loss"),
           "samples": full.get("samples"), "trainable": raw.get("status") == "accepted",
           "status": raw.get("status"), "parameters": m.get("parameters")}
    if raw.get("error"):
        out["error"] = _error_message(raw["error"])
    return out


# ---- debugging ------------------------------------------------------------------

def _parse_error(error_message: str) -> Dict[str, Any]:
    m = re.match(r"\s*(\w+): (.*?)(?: \(line (\d+)\))?(?: \[in [^\]]+\])?$", error_message or "", re.S)
    err: Dict[str, Any] = {"type": m.group(1), "message": m.group(2),
                           "line": int(m.group(3)) if m.group(3) else None} if m else {
        "type": "", "message": error_message or "", "line": None}
    mod = re.search(r"\[in ([^\]]+)\]", error_message or "")
    if mod:
        err["module"] = mod.group(1)
    return err


class CodeDebugger:
    """The seed's CodeDebugger: the built-in fixers of aegis-sandbox's debug
    loop, with the policy's import allowlist and fixer rules.  They parse
    the code as data (ast), never run it."""

    def __init__(self, policy: Optional[str] = None):
        self.policy = policy

    def debug_and_fix(self, code: str, error_message: str, stderr: str = "",
                      vocab_size: Optional[int] = None) -> Tuple[str, List[str]]:
        fixers = _import_fixers()
        pol = _policy(self.policy)
        ctx = {"vocab": vocab_size, "allowed_imports": pol["python"]["allowed_imports"],
               "rules": pol["debug"]["rules"]}
        new, changes = fixers.apply(code, _parse_error(error_message), ctx)
        if new is None:
            return code, []
        return new, [c["description"] for c in changes]


class LLMCodeDebugger:
    """The seed's phase 1: fix code with a language model.

    llm: a callable taking the seed's prompt and returning the model's reply
    (the fixed module, fenced or not).  command: instead, an argv speaking
    the fixer protocol of debug.fixer_command (JSON on stdin; the code, or
    {"code", "changes"}, on stdout), e.g. doc/examples/llm_fixer.py.  Either
    runs in this process's trust domain: the reply is code that goes back
    into the sandbox, never run here."""

    def __init__(self, llm: Optional[Callable[[str], str]] = None, command: Optional[Sequence[str]] = None,
                 timeout_seconds: float = 120):
        if (llm is None) == (command is None):
            raise TypeError("LLMCodeDebugger needs exactly one of llm= (a callable) and command= (an argv)")
        self.llm = llm
        self.command = list(command) if command else None
        self.timeout_seconds = timeout_seconds

    @staticmethod
    def prompt(code: str, error: str, stderr: str) -> str:
        return ("This code failed with error:\n%s\n\nStderr:\n%s\n\nFix the code:\n%s\n" % (error, stderr, code))

    def debug_with_llm(self, code: str, error: str, stderr: str = "") -> str:
        """The seed's method: the fixed code (the code unchanged when the
        model gave nothing usable)."""
        return self.debug_and_fix(code, error, stderr)[0]

    def debug_and_fix(self, code: str, error_message: str, stderr: str = "") -> Tuple[str, List[str]]:
        if self.llm is not None:
            reply = self.llm(self.prompt(code, error_message, stderr)) or ""
            fenced = re.search(r"```(?:python)?\n(.*?)```", reply, re.S)
            new = (fenced.group(1) if fenced else reply).strip("\n") + "\n"
            changes = ["rewritten by the language model"]
        else:
            err = _parse_error(error_message)
            req = {"code": code, "error_type": err["type"], "error_message": err["message"],
                   "error_line": err["line"], "traceback": stderr[-2000:], "attempt": 1,
                   "architecture_id": ""}
            try:
                p = subprocess.run(self.command, input=json.dumps(req), capture_output=True, text=True,
                                   timeout=self.timeout_seconds)
            except (OSError, subprocess.TimeoutExpired) as e:
                raise SandboxError("the fixer command failed: %s" % e) from None
            if p.returncode != 0:
                raise SandboxError("the fixer command exited %d: %s" % (p.returncode, p.stderr.strip()[-500:]))
            try:
                doc = json.loads(p.stdout)
                new, changes = doc["code"], list(doc.get("changes") or ["rewritten by the fixer command"])
            except (ValueError, KeyError, TypeError):
                new, changes = p.stdout, ["rewritten by the fixer command"]
        if not new.strip() or new == code:
            return code, []
        return new, changes


# ---- the pool and the approval gate --------------------------------------------

_ASCENDING = re.compile(r"loss|error|perplexity|ppl|time|latency|memory|parameters", re.I)


class CodePool:
    """The seed's code pool: every candidate the sandbox judged, with the
    caller's own metrics beside the sandbox's."""

    def __init__(self, db: Optional[str] = None, executor: Optional[SafeCodeExecutor] = None):
        self.db = db or (executor.db if executor else None) or default_db()
        self._executor = executor

    def save(self, architecture_id: str, code: str, metrics: Optional[Dict[str, Any]] = None,
             generation: int = 0, parent_id: Optional[int] = None, test_inputs: Any = None) -> int:
        """Record CODE under ARCHITECTURE_ID with the caller's METRICS; its
        pool id.  Code the sandbox already judged (found by its sha256) is
        not run again; code it never saw is run once, so that its verdict is
        the sandbox's."""
        sha = hashlib.sha256(code.encode("utf-8")).hexdigest()
        rows = (_cli(["pool", "list", "--sha256", sha], self.db) or []) if os.path.exists(self.db) else []
        if rows:
            cid = rows[-1]["id"]
        else:
            ex = self._executor or SafeCodeExecutor(db=self.db)
            extra: Dict[str, Any] = {"generation": int(generation)}
            if parent_id:
                extra["parent"] = int(parent_id)
            r = ex.execute_model_code(code, test_inputs, architecture_id, **extra)
            if r.candidate_id is None:
                raise SandboxError("the candidate was not recorded: %s" % r.error_message)
            cid = r.candidate_id
        args = ["pool", "annotate", str(cid), "--generation", str(int(generation)), "--arch-id", architecture_id]
        if metrics:
            args += ["--metrics", json.dumps(metrics)]
        _cli(args, self.db)
        return cid

    def get_top_k(self, k: int = 10, metric: str = "heldout_loss", descending: Optional[bool] = None,
                  loss: Optional[str] = None) -> List[Dict[str, Any]]:
        """The k best accepted candidates by METRIC (the caller's metric of
        that name, else the sandbox's; by default the loss on the sandbox's
        held-out batch).  Losses, errors, times and sizes rank ascending,
        anything else (accuracy, ...) descending, unless DESCENDING says
        otherwise.  LOSS ('cross_entropy' or 'mse') picks one kind when the
        pool holds both, which do not compare."""
        if descending is None:
            descending = not _ASCENDING.search(metric)
        return _cli(["pool", "top", "--k", str(k), "--metric", metric] + (["--desc"] if descending else []) +
                    (["--loss", loss] if loss else []), self.db) or []

    def get(self, candidate_id: int) -> Dict[str, Any]:
        return _cli(["pool", "show", str(candidate_id)], self.db)

    def lineage(self, candidate_id: int) -> Dict[str, Any]:
        return _cli(["pool", "lineage", str(candidate_id)], self.db)

    def load_approved(self, candidate_id: int, reviewers: Optional[str] = None) -> Any:
        """The deploy path: candidate CANDIDATE_ID's TorchScript model, only
        when a reviewer of the reviewers file (REVIEWERS, else
        $AEGIS_REVIEWERS, ~/.config/aegis-sandbox/reviewers,
        /etc/aegis-sandbox/reviewers) signed an approval of its archive
        bytes, and loaded only as the verifier passed them (load_archive).
        Raises SandboxError with the gate's reason otherwise."""
        d = tempfile.mkdtemp(prefix="aegis-deploy-")
        try:
            out = os.path.join(d, "model.pt")
            _cli(["pool", "export", str(int(candidate_id)), "--out", out] +
                 (["--reviewers", reviewers] if reviewers else []), self.db)
            return load_archive(out, _verified_digest(self.get(candidate_id)) or "")
        finally:
            shutil.rmtree(d, ignore_errors=True)


class ApprovalManager:
    """The seed's human approval gate.  A request is about a candidate of
    the pool: the one given, else the last accepted one of this process.
    The caller's title, description and risk assessment are kept as given;
    the sandbox's own assessment is stored beside them."""

    def __init__(self, db: Optional[str] = None):
        self._db = db

    @property
    def db(self) -> str:
        if not self._db:
            with _lock:
                self._db = _last.get("db") or default_db()
        return self._db

    def request_approval(self, title: str, description: str = "", risk_assessment: Optional[Dict[str, Any]] = None,
                         candidate_id: Optional[int] = None) -> int:
        """Open a pending request; its id."""
        description, risk_assessment, candidate_id = _given(description, ""), _given(risk_assessment), \
            _given(candidate_id)
        if candidate_id is None:
            with _lock:
                candidate_id = _last.get("candidate_id")
            if candidate_id is None:
                raise SandboxError("no candidate to approve: this process has no accepted candidate "
                                   "recorded in a pool (pass candidate_id=)")
        args = ["approvals", "request", str(candidate_id), "--title", title, "--description", description or ""]
        if risk_assessment is not None:
            args += ["--risk", json.dumps(risk_assessment, default=str)]
        return _cli(args, self.db)["id"]

    def approve_request(self, approval_id: int, reviewer: Optional[str] = None, comment: str = "", *,
                        key: Optional[str] = None, passphrase_file: Optional[str] = None) -> Dict[str, Any]:
        """A person's decision, signed with their reviewer key (KEY, else
        $AEGIS_REVIEWER_KEY, else ~/.config/aegis-sandbox/reviewer.key;
        'aegis-sandbox approvals keygen' makes one).  REVIEWER, when given,
        must be the key's name.  A search loop holds no key: it cannot
        approve (SandboxError), and an approval counts only when the
        reviewers file lists the key (is_approved, CodePool.load_approved).
        Raises Conflict when the request is already decided."""
        reviewer, comment = _given(reviewer), _given(comment, "")
        return _cli(["approvals", "approve", str(approval_id), "--comment", comment] +
                    self._signer(reviewer, key, passphrase_file), self.db)

    def reject_request(self, approval_id: int, reviewer: Optional[str] = None,
                       comment: str = "rejected", *, key: Optional[str] = None,
                       passphrase_file: Optional[str] = None) -> Dict[str, Any]:
        """As approve_request; signed when there is a key, else recorded
        under REVIEWER (or the login name) unsigned."""
        reviewer, comment = _given(reviewer), _given(comment, "rejected")
        return _cli(["approvals", "reject", str(approval_id), "--comment", comment] +
                    self._signer(reviewer, key, passphrase_file), self.db)

    @staticmethod
    def _signer(reviewer: Optional[str], key: Optional[str], passphrase_file: Optional[str]) -> List[str]:
        return ((["--reviewer", reviewer] if reviewer else []) + (["--key", key] if key else []) +
                (["--passphrase-file", passphrase_file] if passphrase_file else []))

    def get(self, approval_id: int) -> Dict[str, Any]:
        return _cli(["approvals", "show", str(approval_id)], self.db)

    def is_approved(self, approval_id: int) -> bool:
        """Approved by a signature of a reviewer the reviewers file lists
        (a row the loop wrote itself reads "forged" or "untrusted")."""
        return self.get(approval_id)["state"] == "approved"

    def list_pending(self) -> List[Dict[str, Any]]:
        return _cli(["approvals", "list", "--state", "pending"], self.db) or []


# ---- the document's other validators ---------------------------------------------

class CodeValidator:
    """The seed's pre-execution check (safety layer 1): aegis-sandbox's
    static check, run in a confined child.  True when the policy finds
    nothing it rejects; with the default policy a mention (an unused
    import) is a warning, what the code does is judged when it runs."""

    def __init__(self, policy: Optional[str] = None):
        self.policy = policy
        self.last: Dict[str, Any] = {}

    def validate_code(self, code: str) -> bool:
        fd, path = tempfile.mkstemp(suffix=".py", prefix="aegis-check-")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(code)
            cmd = [BINARY, "check", path, "--json"] + (["--policy", self.policy] if self.policy else [])
            p = subprocess.run(cmd, capture_output=True, text=True)
        finally:
            os.unlink(path)
        try:
            self.last = json.loads(p.stdout)
        except ValueError:
            raise SandboxError(p.stderr.strip() or "aegis-sandbox check failed") from None
        return self.last.get("status") == "accepted"


class ArchitectureValidator:
    """The seed's architecture check (safety layer 3): parameter count,
    layer count, depth, buffers and training memory, as the validate child
    measured them on the exported archive of a model from a
    SafeCodeExecutor (the checks of its verdict)."""

    NAMES = ("parameters", "buffers", "layers", "depth", "memory", "finite_output", "finite_parameters")

    def validate_architecture(self, model: Any) -> bool:
        origin = _models.get(model)
        if origin is None:
            raise SandboxError("validate_architecture needs a model returned by "
                               "SafeCodeExecutor.execute_model_code")
        return self.failures(model) == {}

    def failures(self, model: Any) -> Dict[str, str]:
        """The architecture checks that did not pass, with their reasons."""
        origin = _models.get(model)
        checks = origin.checks if origin else {}
        return {k: v.get("detail", "") for k, v in checks.items()
                if k in self.NAMES and v.get("status") == "fail"}
