"""Private references to the torch entry points the harness relies on.

Taken when this module is imported, in the zygote, before any candidate
code exists.  The build harness calls torch through these references, and
before it traces or exports a model it asks which of them the candidate
has replaced since: a candidate that swaps torch.jit.save (or the tracer's
internals) for a function exporting a clean stand-in gets a violation
naming the function, not an accepted stand-in.

This is a tripwire, not the boundary: the build child is the candidate's
process, and the verdict is about the exported archive, whatever the
source did (doc/security.md).
"""

import torch
import torch.jit
import torch.nn

# What the harness calls, and what those calls call in turn.  Names that a
# torch version lacks are skipped.
ENTRY_POINTS = (
    "torch.jit.trace",
    "torch.jit.trace_module",
    "torch.jit.script",
    "torch.jit.save",
    "torch.jit.load",
    "torch.jit.is_tracing",
    "torch.jit.is_scripting",
    "torch.jit._trace.trace",
    "torch.jit._trace.trace_module",
    "torch.jit._trace.TopLevelTracedModule",
    "torch.jit._script.script",
    "torch.jit._script.RecursiveScriptModule",
    "torch.jit._script.RecursiveScriptModule.__deepcopy__",
    "torch.jit._recursive.wrap_cpp_module",
    "torch.jit._serialization.save",
    "torch.jit._recursive.create_script_module",
    "torch._C._create_function_from_trace",
    "torch._C._get_tracing_state",
    "torch._C.ScriptModule.save",
    "torch._C.ScriptModule._create_method_from_trace",
    "torch.isfinite",
    "torch.isnan",
    "torch.allclose",
    "torch.manual_seed",
    "torch.Generator.manual_seed",
    "torch.Tensor.backward",
    "torch.autograd.backward",
    "torch.nn.Module.__call__",
    "torch.nn.Module._call_impl",
    "torch.nn.Module.register_forward_hook",
    "torch.nn.Module.parameters",
    "torch.nn.Module.named_parameters",
    "torch.nn.Module.buffers",
    "torch.nn.Module.named_modules",
    "torch.nn.Module.state_dict",
    "torch.nn.Module.train",
    "torch.nn.Module.eval",
    "torch.export.export",
    "torch.export.save",
)

_MISSING = object()


def _resolve(path):
    """The object PATH names now, or _MISSING.  A class attribute is read
    from the class's own __dict__ (no descriptor, no __getattr__ of the
    candidate's runs for it)."""
    parts = path.split(".")
    obj = torch
    try:
        for part in parts[1:-1]:
            obj = getattr(obj, part)
        last = parts[-1]
        if isinstance(obj, type):
            for klass in obj.__mro__:
                if last in vars(klass):
                    return vars(klass)[last]
            return _MISSING
        return getattr(obj, last)
    except Exception:  # noqa: BLE001 - a broken chain is a replaced one
        return _MISSING


_PINNED = {}
for _name in ENTRY_POINTS:
    _obj = _resolve(_name)
    if _obj is not _MISSING:
        _PINNED[_name] = _obj
del _name, _obj


def ref(path):
    """The object PATH named when the zygote started."""
    return _PINNED[path]


def replaced():
    """The entry points that no longer name what they named at start-up,
    in ENTRY_POINTS order."""
    return [name for name, obj in _PINNED.items() if _resolve(name) is not obj]
