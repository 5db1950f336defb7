"""Trusted job-side code of aegis-sandbox.

Imported once by the zygote; each job child forked from it calls run() after
the C side has confined it.  Nothing here decides a verdict: it runs a phase
and reports facts on the report fd; the supervisor decides.
"""

import json as _json


def run(request_json):
    """Run the phase named in the request; return the exit code."""
    req = _json.loads(request_json)
    from aegis_job import report
    report.CANDIDATE = req.get("source") or report.CANDIDATE
    sandbox = req["policy"]["sandbox"]
    _set_environment(sandbox["environment"])
    if not sandbox["allow_rwx_memory"]:
        # oneDNN generates its kernels in RWX memory, which seccomp refuses
        import torch
        torch.backends.mkldnn.enabled = False
    phase = req.get("phase")
    if phase in ("static", "build"):
        from aegis_job import build
        return build.run(req)
    if phase == "validate":
        from aegis_job import validate
        return validate.run(req)
    if phase == "fix":
        from aegis_job import fixers
        return fixers.run(req)
    from aegis_job import report
    report.harness_error("unknown phase %r" % (phase,))
    return 1


def _set_environment(items):
    """os.environ was built in the zygote (from a scrubbed, empty
    environment); give it the policy's variables, as the C side did."""
    import os
    os.environ.clear()
    for item in items:
        key, _, value = item.partition("=")
        os.environ[key] = value
