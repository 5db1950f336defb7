"""Report lines on the job's report fd (fd 3): one JSON object per line."""

import json
import math
import os
import time

REPORT_FD = 3
# The candidate's source file name, in the work directory and in every
# code object and traceback: the request's "source" (proto/job.h's
# JOB_SOURCE_NAME); set by aegis_job.run() before a phase starts.
CANDIDATE = "candidate.py"

# Bound now, in the zygote, so later monkey-patching of the modules'
# attributes by candidate code does not reach these names.
_dumps = json.dumps
_write = os.write
_isfinite = math.isfinite
_clock = time.perf_counter


class Laps:
    """Seconds spent in each step of a phase, for the result's timings
    (informational: a build child's word is never a verdict's fact)."""

    def __init__(self):
        self.t = _clock()
        self.laps = {}

    def lap(self, name):
        now = _clock()
        self.laps[name + "_s"] = round(now - self.t, 6)
        self.t = now
        return self.laps


def clean(obj):
    """Make OBJ JSON-safe: non-finite floats become None, tuples lists."""
    if isinstance(obj, float):
        return obj if _isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [clean(v) for v in obj]
    if obj is None or isinstance(obj, (bool, int, str)):
        return obj
    return str(obj)


def emit(obj):
    data = (_dumps(clean(obj), allow_nan=False) + "\n").encode("utf-8", "replace")
    view = memoryview(data)
    while view:
        n = _write(REPORT_FD, view)
        view = view[n:]


_warnings = []


def attach_warnings(warnings):
    """Every later result line carries WARNINGS (static findings, imports
    outside the allowlist): information for the person, never a fact a
    verdict rests on."""
    global _warnings
    _warnings = warnings


def _audit_findings():
    """The audit hook's findings (python.audit.finding_events) as
    warnings; none outside the zygote's interpreter."""
    try:
        import _aegis_host
        found = _aegis_host.findings()
    except (ImportError, AttributeError):
        return []
    return [{"rule": "audit", "event": event, "line": line or None, "col": None,
             "message": "%s%s: a finding, not a violation (it changes only this process; "
                        "python.audit.finding_events)" % (event, " " + args[:120] if args else "")}
            for event, args, line in found]


def result(**fields):
    found = _audit_findings()
    if (_warnings or found) and "warnings" not in fields:
        fields["warnings"] = (_warnings + found)[:50]
    emit({"result": fields})


def violation(rule, event, args="", line=0, col=0, message=""):
    emit({"violation": {"rule": rule, "event": event, "args": args,
                        "line": line, "col": col, "message": message}})


def harness_error(message):
    emit({"harness_error": message})


def cause(text):
    """The line of an exception's TEXT that says why: its first, except
    where TorchScript's interpreter puts its own traceback first and the
    cause last ("The following operation failed in the TorchScript
    interpreter. ... RuntimeError: <why>")."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    if not lines:
        return ""
    if "TorchScript interpreter" in lines[0] or lines[0].startswith("Traceback of TorchScript"):
        return lines[-1]
    return lines[0]


def cause_first(e, limit=2000):
    """str(E) cut at LIMIT, with the cause() before everything else: a long
    message is never cut before it says why (issue 28)."""
    text = str(e)
    why = cause(text)
    if why and not text.lstrip().startswith(why):
        text = why + "\n\n" + text
    return text[:limit]
