"""Warm-up of the zygote: import everything a job child needs, once.

Only imports and settings: no tensor operation runs here, so no OpenMP
region is ever entered and the zygote stays single-threaded and safe to
fork.
"""


def warm():
    import torch
    torch.set_num_threads(1)
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
    import numpy  # noqa: F401
    import ast  # noqa: F401
    import difflib  # noqa: F401
    from aegis_job import build, fixers, guard, inputs, report, static, validate  # noqa: F401
    return None
