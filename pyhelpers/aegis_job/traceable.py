"""What lets research code the tracer cannot record as written reach an
archive anyway, without changing what the archive computes.

Runs in the build child (the candidate's process: nothing here is a
guard).  Two idioms of the field:

- A custom torch.autograd.Function (a parallel scan with its own
  backward).  The tracer records apply() as a Python call that TorchScript
  cannot save.  While tracing, inline_functions() makes apply() call the
  Function's forward directly, so the tracer records the operations it
  runs: the archive computes the same outputs, and its gradient is
  autograd's over those operations.  gradient_note() says whether that
  gradient is the custom backward's (a straight-through estimator's is
  not: the verdict then says so).

- A forward that loops over the sequence (for t in range(T)) or caches at
  the length it saw: its trace unrolls at the traced length and holds only
  there.  HeldLength wraps such a trace in a scripted module that refuses
  any other length with a clear error, so the archive validated is the
  archive deployed, and neither runs where it was never checked.
"""

import contextlib

import torch
import torch.nn as nn

_Function = torch.autograd.Function
# 2.x defines apply() on Function (a classmethod); 1.13 inherits the C one
_OWN_APPLY = _Function.__dict__.get("apply")
_BASES = tuple(c for c in _Function.__mro__ if c is not object)


class _Ctx:
    """What a Function's forward may call on its ctx while traced: saving
    is kept (a forward may read back what it saved), the rest only
    matters for the backward, which autograd derives."""

    def __init__(self, args):
        self.saved_tensors = ()
        self.needs_input_grad = tuple(isinstance(a, torch.Tensor) and a.requires_grad for a in args)
        self.materialize_grads = True

    def save_for_backward(self, *tensors):
        self.saved_tensors = tensors

    def save_for_forward(self, *tensors):
        pass

    def mark_dirty(self, *tensors):
        pass

    def mark_non_differentiable(self, *tensors):
        pass

    def set_materialize_grads(self, value):
        self.materialize_grads = value


def _defines(cls, name):
    """True when a class of the user's (not torch's Function bases)
    defines NAME."""
    return any(name in c.__dict__ for c in cls.__mro__ if c not in _BASES and c is not object)


def _plain_apply(cls, *args, **kwargs):
    if _OWN_APPLY is not None:
        return _OWN_APPLY.__get__(None, cls)(*args, **kwargs)
    return super(_Function, cls).apply(*args, **kwargs)


@contextlib.contextmanager
def inline_functions(seen):
    """While the body runs and torch.jit.is_tracing(), a custom Function's
    apply() calls its forward directly; the names of the Functions inlined
    are added to the set SEEN."""

    def apply(cls, *args, **kwargs):
        if not torch.jit.is_tracing():
            return _plain_apply(cls, *args, **kwargs)
        seen.add(cls.__name__)
        if _defines(cls, "setup_context"):  # the 2.x form: forward(*args) without ctx
            return cls.forward(*args, **kwargs)
        return cls.forward(_Ctx(args), *args, **kwargs)

    _Function.apply = classmethod(apply)
    try:
        yield seen
    finally:
        if _OWN_APPLY is not None:
            _Function.apply = _OWN_APPLY
        else:
            del _Function.apply


def gradient_note(model, exported, x, names):
    """None when the gradient of EXPORTED (the traced archive, the
    Functions NAMES inlined) with respect to the parameters agrees with
    MODEL's own (its custom backward) on X, else a sentence for the
    verdict: the archive then trains with autograd's gradient of the
    forward, not the candidate's."""
    def grads(m):
        torch.manual_seed(0)  # the same dropout masks for both
        out = m(x)
        out = out[0] if isinstance(out, (tuple, list)) else out
        loss = (out.float() * torch.linspace(-1, 1, out.numel()).view_as(out)).sum()
        params = [p for p in m.parameters() if p.requires_grad]
        return torch.autograd.grad(loss, params, allow_unused=True)

    try:
        mine, theirs = grads(model), grads(exported)
    except Exception as e:  # noqa: BLE001 - the comparison is a note, never a verdict
        return "the gradients of %s were not compared (%s)" % (", ".join(sorted(names)), type(e).__name__)
    for a, b in zip(mine, theirs):
        # norm-wise: a scan in log space rounds differently per element
        if (a is None) != (b is None) or (a is not None and
                                          float((a - b).norm()) > 1e-3 * float(a.norm()) + 1e-6):
            return ("the custom backward of %s is not the gradient of its forward (a straight-through "
                    "or surrogate gradient): the archive trains with autograd's gradient of the forward"
                    % ", ".join(sorted(names)))
    return None


class HeldLength(nn.Module):
    """TRACE, refusing any sequence length (dimension 1 of the input) but
    LENGTH: the trace of a model that loops over time or caches at the
    length it saw holds only there."""

    def __init__(self, trace: nn.Module, length: int):
        super().__init__()
        self.trace = trace
        self.held_length = length

    def forward(self, x):
        if x.dim() < 2 or x.size(1) != self.held_length:
            raise RuntimeError("aegis-sandbox: this archive holds sequence length {} only (its trace "
                               "unrolled a loop over time or a cache at that length); got shape {}"
                               .format(self.held_length, list(x.shape)))
        return self.trace(x)


def held_length(module):
    """The length a HeldLength archive holds, or None."""
    if getattr(module, "original_name", None) != "HeldLength":
        return None
    try:
        return int(module.held_length)
    except (AttributeError, TypeError, ValueError):
        return None
