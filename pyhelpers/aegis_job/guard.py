"""The candidate's globals: builtins without the banned names and an
__import__ that enforces python.allowed_imports on every call, also for
modules that are already loaded."""

import builtins
import dis
import sys
import types

from aegis_job import report
from aegis_job.static import module_allowed

_real_import = builtins.__import__
_ModuleType = types.ModuleType
_IMPORT_NAME = dis.opmap["IMPORT_NAME"]


def _is_import_statement(frame):
    """True when FRAME is executing an import statement.  C code (torch's
    pybind11 bindings, for one) imports through PyImport_Import, which uses
    the __import__ of the *current* frame's builtins: while a candidate
    frame is on top, torch's own internal imports land here too.  Those are
    not the candidate's choice and are let through; import statements in
    candidate code are checked."""
    try:
        return frame.f_code.co_code[frame.f_lasti] == _IMPORT_NAME
    except (IndexError, AttributeError):
        return True


class ImportDenied(ModuleNotFoundError):
    """Raised for an import the policy does not allow."""


def make_builtins(banned, allowed, optional, enforce=True, warnings=None):
    """A fresh builtins dict for candidate code.  With ENFORCE (the policy's
    static_check.action is reject) imports outside ALLOWED are violations,
    and modules in OPTIONAL (imported in try/except ImportError) fail
    quietly as if missing.  Without it they are imported and a warning is
    appended to WARNINGS: importing is not an attack, what the module does
    is judged by the audit hook and the kernel.  Banned builtins are stubs:
    with ENFORCE a call records a violation and raises; without it the call
    runs and is a finding in WARNINGS (eval, exec, compile change only this
    process; what the code they run does meets the audit hook)."""
    noted = set()

    def note(name):
        if warnings is not None and name not in noted and len(warnings) < 50:
            noted.add(name)
            warnings.append({"rule": "guard.import", "line": _caller_line(), "col": None,
                             "message": "import of '%s', which is not in python.allowed_imports"
                                        % name})

    def guarded_import(name, globals=None, locals=None, fromlist=(), level=0):
        if not _is_import_statement(sys._getframe(1)):
            return _real_import(name, globals, locals, fromlist, level)
        if not enforce:
            if level == 0:
                if not module_allowed(name, allowed):
                    note(name)
                mod = _real_import(name, globals, locals, fromlist, level)
                for item in fromlist or ():
                    sub = getattr(mod, item, None)
                    if isinstance(sub, _ModuleType) and not module_allowed(sub.__name__, allowed):
                        note(sub.__name__)
                return mod
            return _real_import(name, globals, locals, fromlist, level)
        if level:
            report.violation("guard.import", "import", "relative import of %r" % name)
            raise ImportDenied("aegis-sandbox: relative imports are not allowed")
        if not module_allowed(name, allowed):
            if name not in optional:
                report.violation("guard.import", "import", name, line=_caller_line())
            raise ImportDenied("aegis-sandbox: import of '%s' is not allowed by the policy"
                               % name)
        mod = _real_import(name, globals, locals, fromlist, level)
        for item in fromlist or ():
            sub = getattr(mod, item, None)
            if isinstance(sub, _ModuleType) and not module_allowed(sub.__name__, allowed):
                report.violation("guard.import", "import", sub.__name__, line=_caller_line())
                raise ImportDenied("aegis-sandbox: import of '%s' is not allowed by the "
                                   "policy" % sub.__name__)
        return mod

    b = dict(builtins.__dict__)
    for n in banned:
        if n in b and callable(b[n]):
            b[n] = _denied_builtin(n) if enforce else _noted_builtin(n, b[n], warnings)
        else:
            b.pop(n, None)
    b["__import__"] = guarded_import
    return b


def _denied_builtin(name):
    def stub(*args, **kwargs):
        report.violation("guard.builtin", name, "%s() called" % name, line=_caller_line(),
                         message="%s() is a banned builtin (python.static_check.banned_builtins)"
                                 % name)
        raise PermissionError("aegis-sandbox: %s() is denied by the policy" % name)
    stub.__name__ = name
    return stub


def _noted_builtin(name, real, warnings):
    def call(*args, **kwargs):
        if warnings is not None and len(warnings) < 50 and \
                not any(w.get("rule") == "guard.builtin" and w.get("event") == name for w in warnings):
            warnings.append({"rule": "guard.builtin", "event": name, "line": _caller_line(), "col": None,
                             "message": "%s() called: a finding, not a violation (it changes only this "
                                        "process; python.static_check.banned_builtins)" % name})
        return real(*args, **kwargs)
    call.__name__ = name
    return call


def _caller_line():
    f = sys._getframe(1)
    while f is not None:
        if f.f_code.co_filename == report.CANDIDATE:
            return f.f_lineno
        f = f.f_back
    return 0


def eager_compile(torch, applied):
    """torch.compile in a job child is the identity: the model runs eagerly
    (what the archive holds is TorchScript anyway).  Compiling would write
    caches, set environment variables and start workers; applying the
    decorator is no attack, and was a violation (torch sets
    TORCHINDUCTOR_CACHE_DIR with os.putenv).  APPLIED collects what it was
    applied to, for the verdict.  Works as @torch.compile, as
    @torch.compile(mode=...) and as torch.compile(model), on torch 1.13
    too (which has none)."""

    def compile(model=None, *args, **kwargs):
        if model is None:
            return lambda m: compile(m, *args, **kwargs)
        applied.append(getattr(model, "__qualname__", None) or type(model).__name__)
        return model
    torch.compile = compile


def close_native_doors(torch):
    """Replace torch's own loaders of native code (and a few interpreter
    knobs) with stubs that record a violation: they raise no audit event
    of their own.  (The kernel layer
    stands behind this: Landlock and seccomp hold for any native code.)"""

    def denied(what):
        def stub(*args, **kwargs):
            report.violation("guard.native", what, repr(args)[:200], line=_caller_line())
            raise PermissionError("aegis-sandbox: %s is denied by the policy" % what)
        return stub

    torch.ops.load_library = denied("torch.ops.load_library")
    try:
        torch.classes.load_library = denied("torch.classes.load_library")
    except (AttributeError, RuntimeError):
        pass
    # (sys.settrace, sys.setprofile, sys.setrecursionlimit act on this
    # process only: the audit hook makes them findings, python.audit)
    hub = getattr(torch, "hub", None)
    if hub is not None:
        for name in ("load", "load_state_dict_from_url", "download_url_to_file"):
            if hasattr(hub, name):
                setattr(hub, name, denied("torch.hub." + name))
