"""Warm-up of the zygote: import everything a job child needs, once.

Only imports and settings: no tensor operation runs here, so no OpenMP
region is ever entered and the zygote stays single-threaded and safe to
fork.
"""


# Subpackages that `import torch` loads for its namespace but that neither
# the harness nor a typical candidate touches: each is made a lazy module
# (importlib.util.LazyLoader) while torch is imported, so it is loaded on
# its first attribute access, in the child that uses it, and a one-shot
# run does not pay for it (torch 1.13: about 120 ms of a 1.0 s import;
# torch 2.13 loads them all anyway, for torch._dynamo).  Nothing with import-time side
# effects is on the list (torch._meta_registrations registers kernels and
# stays eager), nor torch.hub, whose downloaders the build child replaces.
LAZY = ("torch.onnx", "torch.distributions", "torch.quantization")


class _LazyFinder:
    """A meta-path finder that hands LAZY's modules to LazyLoader (what it
    uses is imported before it is installed: an import in find_spec would
    come back to it)."""

    def __init__(self, sys, util):
        self.sys, self.util = sys, util

    def find_spec(self, name, path, target=None):
        if name not in LAZY:
            return None
        self.sys.meta_path.remove(self)  # the real finders, for the real spec
        try:
            spec = self.util.find_spec(name)
        finally:
            self.sys.meta_path.insert(0, self)
        if spec is None or not hasattr(spec.loader, "exec_module"):
            return None
        spec.loader = self.util.LazyLoader(spec.loader)
        return spec


def lazy_imports():
    """Install _LazyFinder; returns the function that removes it."""
    import importlib.util
    import sys
    finder = _LazyFinder(sys, importlib.util)
    sys.meta_path.insert(0, finder)
    return lambda: sys.meta_path.remove(finder)


def warm():
    import warnings
    done = lazy_imports()
    try:
        with warnings.catch_warnings():
            # torch 2.x without numpy says so at import; numpy is optional
            warnings.filterwarnings("ignore", message="Failed to initialize NumPy")
            import torch
    finally:
        done()
    torch.set_num_threads(1)
    # torch 2.x picks its vectorised kernels (AVX2, AVX-512) from cpuinfo,
    # which reads /proc/cpuinfo and /sys once, on first use.  A job child
    # cannot read them: it fell back to the scalar kernels (capability
    # DEFAULT) and printed "Error in cpuinfo" on every result.  Detected
    # here, once, every child inherits the answer (doc/performance.md).
    cpu = getattr(torch.backends, "cpu", None)
    if cpu is not None and hasattr(cpu, "get_cpu_capability"):
        cpu.get_cpu_capability()
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass  # already set: harmless
    # Modules candidates and the harness commonly reach, imported now so
    # children do not pay for them (and do not need to read them from disk).
    import torch.nn  # noqa: F401
    import torch.nn.functional  # noqa: F401
    import torch.jit  # noqa: F401
    import torch.optim  # noqa: F401
    import torch.autograd.graph  # noqa: F401
    try:
        # torch 2.x: the optimizers import dynamo on their first step
        # (about a second); once here instead of in every validate child
        import torch._dynamo  # noqa: F401
    except ImportError:
        pass  # torch 1.x
    import collections  # noqa: F401
    import dataclasses  # noqa: F401
    import functools  # noqa: F401
    import importlib.util  # noqa: F401
    import inspect  # noqa: F401
    import itertools  # noqa: F401
    import linecache  # noqa: F401
    import math  # noqa: F401
    import numbers  # noqa: F401
    import string  # noqa: F401
    import traceback  # noqa: F401
    import typing  # noqa: F401
    try:
        import numpy  # noqa: F401  (optional: .npy inputs, candidates that use it)
    except ImportError:
        pass
    import ast  # noqa: F401
    import difflib  # noqa: F401
    from aegis_job import archive, build, fixers, guard, inputs, report, static, validate  # noqa: F401
    archive.prepare()  # the operator allowlist, read once for every child
    _keep_own_source()
    _warm_torchscript(torch)
    # Every job child is a fork of this process.  A garbage collection in
    # a child walks (and writes to) the header of every object it tracks,
    # copying on write most of the pages torch's import left behind.  Move
    # everything that exists now out of the collector's reach, once.  No
    # gc.collect() first: after these imports it finds nothing to free
    # (measured: 0 objects) and costs 30 ms of every zygote start, which
    # a one-shot run pays in full.
    import gc
    gc.freeze()
    return runtime(torch)


def _keep_own_source():
    """Put the harness's own source in linecache, as entries it never
    checks against the file (mtime None), for every job child to inherit.
    torch.jit.script reads a class's source (the build scripts BothModes
    and AllPositions), and a job child may not see the file: its /tmp is a
    private, empty one, so a checkout under /tmp (as CI clones it) was
    invisible, the scripting failed, and a model with dropout was exported
    as a whole scripted model, or not at all."""
    import linecache
    import sys
    for name, mod in list(sys.modules.items()):
        path = getattr(mod, "__file__", None)
        if not (name == "aegis_job" or name.startswith("aegis_job.")) or not path or not path.endswith(".py"):
            continue
        try:
            with open(path, encoding="utf-8") as f:
                lines = f.readlines()
        except OSError:
            continue
        linecache.cache[path] = (sum(len(ln) for ln in lines), None, lines, path)


def runtime(torch):
    """What a verdict was reached on, for every result and pool row: the
    interpreter, torch, and the archive format handed to the validator."""
    import json
    import platform
    return json.dumps({"python": platform.python_version(), "torch": torch.__version__,
                       "format": "torchscript"})


def _warm_torchscript(torch):
    """Compile, save and load a tiny TorchScript module, so that every job
    child inherits a warm TorchScript frontend and (de)serializer instead
    of initialising them itself (about 10 ms of each validate child's
    verification and load).  Nothing is computed: the parameter is torch.empty and
    forward() never runs, so no kernel (and no OpenMP region) is entered."""
    import io

    class Warm(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.empty(2, 2))

        def forward(self, x):
            return torch.nn.functional.linear(x, self.w).relu().mean(dim=-1)

    from aegis_job import archive
    buf = io.BytesIO()
    torch.jit.save(torch.jit.script(Warm()), buf)
    archive.load(buf.getvalue(), "the zygote's warm-up archive")  # through the verifier, like every load
