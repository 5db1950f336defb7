"""The build phase: static check, then run the candidate and export it.

Runs in a confined job child.  Everything up to arm() is trusted; after it
the process belongs to the candidate, so what this module reports can only
cost the candidate (an error, a violation), never earn it acceptance: that
is the validate child's job, on the exported archive.
"""

import ast
import copy
import inspect
import linecache
import os
import re
import sys
import traceback
import types
import warnings

import torch
import torch.nn as nn

import _aegis_host
from aegis_job import guard, inputs, pinned, report, static, traceable


# The harness's own references, taken in the zygote (pinned.py): a
# candidate that rebinds torch.jit.save does not change what these call.
_jit_trace = pinned.ref("torch.jit.trace")
# torch 2.x keeps a trace's example inputs in the archive (traced_inputs/)
# unless told not to: the verifier refuses entries a model does not need
_TRACE_KW = {"_store_inputs": False} if "_store_inputs" in inspect.signature(_jit_trace).parameters else {}
_jit_script = pinned.ref("torch.jit.script")
_jit_save = pinned.ref("torch.jit.save")
_isfinite = pinned.ref("torch.isfinite")
_allclose = pinned.ref("torch.allclose")
_deepcopy = copy.deepcopy  # bound in the zygote, like the references above
_getsize = os.path.getsize


def candidate_line(tb):
    """Line of the innermost candidate frame in traceback TB, or 0."""
    line = 0
    for frame, lineno in traceback.walk_tb(tb):
        if frame.f_code.co_filename == report.CANDIDATE:
            line = lineno
    return line


def describe(exc, module_path=None):
    """The error dict of the result contract for exception EXC."""
    msg = str(exc)
    if len(msg) > 4000:
        msg = msg[:4000] + "..."
    tb_lines = traceback.format_exception(type(exc), exc, exc.__traceback__)
    tail = "".join(tb_lines)[-4000:]
    err = {"type": type(exc).__name__, "message": msg,
           "line": candidate_line(exc.__traceback__) or getattr(exc, "lineno", None) or None,
           "traceback": tail}
    if module_path:
        err["module"] = module_path
    return err


def pick_class(mod, wanted):
    """The model class: WANTED, else 'Model', else the last top-level
    nn.Module subclass defined by the candidate.  (cls, None) or (None, why)."""
    ns = mod.__dict__
    if wanted:
        cls = ns.get(wanted)
        if cls is None:
            return None, "class '%s' is not defined by the candidate" % wanted
        if not (isinstance(cls, type) and issubclass(cls, nn.Module)):
            return None, "'%s' is not an nn.Module subclass" % wanted
        return cls, None
    cls = ns.get("Model")
    if isinstance(cls, type) and issubclass(cls, nn.Module):
        return cls, None
    last = None
    for value in ns.values():
        if (isinstance(value, type) and issubclass(value, nn.Module)
                and value.__module__ == "candidate"):
            last = value
    if last is None:
        return None, "the candidate defines no nn.Module subclass"
    return last, None


def required_args(cls):
    try:
        sig = inspect.signature(cls.__init__)
    except (TypeError, ValueError):
        return []
    req = []
    for i, p in enumerate(sig.parameters.values()):
        if i == 0:
            continue  # self
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        if p.default is p.empty:
            req.append(p.name)
    return req


class ModuleTracker:
    """Forward pre-hooks that remember which submodule was running when a
    forward pass failed (for error messages and the shape fixers)."""

    def __init__(self, model):
        self.stack = []
        self.failed = None
        self.handles = []
        for name, m in model.named_modules():
            self.handles.append(m.register_forward_pre_hook(self._pre(name or "<root>", m)))
            self.handles.append(m.register_forward_hook(self._post()))

    def _pre(self, name, m):
        def hook(module, args):
            self.stack.append("%s (%s)" % (name, type(m).__name__))
        return hook

    def _post(self):
        def hook(module, args, out):
            if self.stack:
                self.stack.pop()
        return hook

    def innermost(self):
        return self.stack[-1] if self.stack else None

    def remove(self):
        for h in self.handles:
            h.remove()


# the custom autograd.Functions the traces of this build inlined (traceable.py)
INLINED = set()


def trace(model, x):
    """Run the model's forward pass once, under the tracer.  Returns
    (traced, output, tracer_warnings), or raises what the forward pass (or
    the tracer) raised.

    The tracer runs forward() on real tensors, so the output it sees is
    the output of a plain forward pass with the same seed: a hook on the
    root module keeps it.  One pass does for the output checks and the
    export.  (On the reference BLAS a forward pass of a small transformer
    costs 15 ms; doing it twice was a tenth of a warm candidate's time.)
    The tracer's warnings (a Python value frozen into the graph, a
    data-dependent branch) are kept for the result; the candidate's own
    warnings are shown as usual."""
    seen = []
    handle = model.register_forward_hook(lambda module, args, out: seen.append(out))
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", torch.jit.TracerWarning)
            inputs.seed(0)
            with traceable.inline_functions(INLINED):
                traced = _jit_trace(model, (x,), check_trace=False, strict=False, **_TRACE_KW)
    finally:
        handle.remove()
    notes = []
    for w in caught:
        if issubclass(w.category, torch.jit.TracerWarning):
            text = "%s (line %s)" % (str(w.message).splitlines()[0][:300], w.lineno) \
                if w.filename == report.CANDIDATE else str(w.message).splitlines()[0][:300]
            if text not in notes and len(notes) < 5:
                notes.append(text)
        else:
            warnings.showwarning(w.message, w.category, w.filename, w.lineno)
    if not seen:  # a model that overrides __call__ skips module hooks
        raise RuntimeError("the model's forward hooks did not run")
    return traced, seen[-1], notes


class TensorsOnly(nn.Module):
    """MODEL with only the tensors of its output, as a tuple in inputs.tensors()
    order: what a trace can record when forward() returns the usual
    (logits, loss) with loss None, or a dataclass.  The first tensor stays
    first, so the validate child checks the same primary output."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x):
        return tuple(inputs.tensors(self.model(x)))


def differs(model, exported, x2):
    """Why EXPORTED does not behave like MODEL on the second input X2 (a
    SecondInput; the same seed for both, so dropout draws the same masks),
    or None when it does.

    This is what makes the archive the model: tracing records one path
    through data-dependent control flow, and a model that asks
    torch.jit.is_tracing() (or counts its calls) can be clean only while
    it is exported."""
    with torch.no_grad(), torch.jit.optimized_execution(False):
        try:
            xin, want = x2.run(model)
        except Exception as e:  # noqa: BLE001
            return "the model as written raised on a second input (%s)" % _why(e)
        try:
            inputs.seed(1)
            got = inputs.tensors(exported(xin))
        except Exception as e:  # noqa: BLE001
            return "the archive raised on a second input (%s)" % _why(e)
    if len(want) != len(got):
        return "the model returns %d tensors, the archive %d" % (len(want), len(got))
    for i, (p, q) in enumerate(zip(want, got)):
        if p.shape != q.shape or p.dtype != q.dtype:
            return "output %d is %s %s, the archive's %s %s" % (
                i, str(p.dtype).replace("torch.", ""), list(p.shape),
                str(q.dtype).replace("torch.", ""), list(q.shape))
        if p.is_floating_point() or p.is_complex():
            if not _allclose(q, p, rtol=1e-3, atol=1e-4, equal_nan=True):
                d = (q - p).abs()
                d = d[_isfinite(d)] if not p.is_complex() else d
                worst = float(d.max()) if d.numel() else float("nan")
                at = ""
                if not p.is_complex() and d.numel() == q.numel() and d.numel():
                    flat, idx = int(d.argmax()), []
                    for n in reversed(q.shape):
                        flat, r = divmod(flat, n)
                        idx.append(r)
                    at = " at index %s" % (tuple(reversed(idx)),)
                return ("output %d differs by up to %.3g%s (or in where it is NaN/Inf), on the fidelity input "
                        "of shape %s; the trace was taken at %s" % (i, worst, at, list(xin.shape), x2.traced_shape))
        elif not torch.equal(p, q):
            return "output %d differs" % i
    return None


def _why(e):
    """One line on why an export failed: the exception's type and first
    line, and the candidate's line when TorchScript's message names it
    (its first line often ends in ':' before the quoted source)."""
    text = str(e)
    # the line that says why (TorchScript's interpreter puts it last)
    first = report.cause(text).rstrip(": ")
    where = re.search(r'File "%s", line (\d+)' % re.escape(report.CANDIDATE), text)
    why = re.search(r"Could not export Python function call '([^']+)'", text)
    if why:
        first = ("%s is a Python function (a custom torch.autograd.Function?) the tracer "
                 "recorded as a call TorchScript cannot save" % why.group(1))
    elif "Python builtin <built-in method apply of FunctionMeta" in text:
        first = "a custom torch.autograd.Function's apply(), which TorchScript cannot compile"
    elif "Cannot insert a Tensor that requires grad as a constant" in text:
        first = ("a tensor that requires grad made inside forward() (torch.autograd.grad, requires_grad_()), "
                 "which a trace cannot record")
    return "%s: %s%s" % (type(e).__name__, first,
                         " (line %s)" % where.group(1) if where else "")


class SecondInput:
    """The input the archive is compared with the model on: other values,
    and another batch size and sequence length when the model as written
    takes them (a positional table may fix the length), else the same
    shape; a file input's own tensor.  The first comparison finds which
    one the model takes (its forward pass on it is the comparison's own,
    not an extra probe); every later one uses that."""

    def __init__(self, spec, x, max_batch=6):
        self.traced_shape = list(x.shape)
        self.spec, self.max_batch = spec, max_batch
        if spec["kind"] == "file":
            self.options = [x]
            return
        other = inputs.other_shape(spec, max_batch)
        self.options = [inputs.make(spec, seed=1)]
        if other is not None:
            self.options.insert(0, inputs.make(other, seed=1))

    def other_length(self):
        """True when the input chosen has another sequence length than the
        traced one."""
        x2 = self.options[0]
        return x2.dim() >= 2 and len(self.traced_shape) >= 2 and int(x2.shape[1]) != self.traced_shape[1]

    def same_length(self):
        """A SecondInput at the traced length and another (drawn) batch."""
        other = inputs.other_shape(self.spec, self.max_batch)
        held = SecondInput.__new__(SecondInput)
        held.traced_shape, held.spec, held.max_batch = self.traced_shape, self.spec, self.max_batch
        held.options = [inputs.make(dict(other, shape=[other["shape"][0]] + self.traced_shape[1:]), seed=1),
                        inputs.make(self.spec, seed=1)]
        return held

    def run(self, model):
        """(x2, the tensors MODEL returns for it), seed 1; raises what the
        model raised on the last option."""
        for i, x2 in enumerate(self.options):
            try:
                inputs.seed(1)
                out = inputs.tensors(model(x2))
            except Exception:  # noqa: BLE001 - the model takes one shape only
                if i == len(self.options) - 1:
                    raise
                continue
            self.options = [x2]
            return x2, out
        raise RuntimeError("no second input")


class AllPositions(nn.Module):
    """MODEL called with targets (the input itself, shifted: any ids do),
    as language models are in training, which returns the logits of every
    position; the first tensor of what it returns."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x):
        return inputs.first_tensor(self.model(x, x))


def wants_positions(model, spec, out, x):
    """True for token input (B, T) and an output with one position (B, 1,
    V) or (B, V), when forward() takes a second argument (targets): a
    language model that may have an every-position form."""
    if spec["kind"] != "tokens" or x.dim() != 2 or x.shape[1] < 2 or out is None:
        return False
    if not (out.dim() == 2 or (out.dim() == 3 and out.shape[1] == 1)):
        return False
    try:
        params = list(inspect.signature(model.forward).parameters.values())
    except (TypeError, ValueError):
        return False
    return len(params) >= 2


def export_positions(model, path, spec, out, x, x2, free=False):
    """When wants_positions(): save the every-position form to PATH if it
    gives (B, T, V).  A note for the result, or None when there is no such
    form."""
    if not wants_positions(model, spec, out, x):
        return None
    try:
        wrapped = AllPositions(model)
        with torch.no_grad():
            inputs.seed(0)
            full = wrapped(x)
        if full.dim() != 3 or full.shape[1] != x.shape[1]:
            return None
        _, why = save_traced(wrapped, _trace_quiet(wrapped, x), x, x2, Archive(path), free)
        if why is not None:
            return "no every-position archive: it differs from the model called with targets (%s)" % why
        return "every position, called with targets"
    except Exception as e:  # noqa: BLE001 - no such form: causality is skipped and says so
        return "no every-position archive: %s" % _why(e)


class BothModes(nn.Module):
    """Two traces of one model, in train and in eval mode, sharing its
    parameters and buffers: a trace records the mode it ran in (dropout
    on, batch statistics), so one trace alone would make the archive's
    eval() do nothing.  forward() takes the trace of the current mode."""

    def __init__(self, train_trace, eval_trace):
        super().__init__()
        self.train_mode = train_trace
        self.eval_mode = eval_trace

    def forward(self, x):
        if self.training:
            return self.train_mode(x)
        return self.eval_mode(x)


def _trace_quiet(module, x):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        inputs.seed(0)
        with traceable.inline_functions(INLINED):
            return _jit_trace(module, (x,), check_trace=False, strict=False, **_TRACE_KW)


def _graph_key(traced):
    """A trace's graph without what differs between two traces of one
    graph (mangled type names, requires_grad)."""
    text = str(traced.inlined_graph)
    text = re.sub(r"___torch_mangle_\d+\.", "", text)
    return re.sub(r"requires_grad=\d", "", text)


def _mode_types():
    """torch.nn's modules whose forward() reads the training flag (dropout,
    batch statistics, RReLU's noise, an RNN's dropout, the transformer
    layers' fast paths), resolved when the zygote imports this file, before
    any candidate could replace them.  A module torch adds later that reads
    the flag too only costs the fast path: see mode_free()."""
    names = ("modules.dropout._DropoutNd", "modules.batchnorm._NormBase",
             "modules.instancenorm._InstanceNorm", "RReLU", "RNNBase", "MultiheadAttention",
             "Transformer", "TransformerEncoder", "TransformerDecoder",
             "TransformerEncoderLayer", "TransformerDecoderLayer")
    found = []
    for name in names:
        obj = nn
        for part in name.split("."):
            obj = getattr(obj, part, None)
        if isinstance(obj, type):
            found.append(obj)
    return tuple(found)


_MODE_TYPES = _mode_types()
_TORCH_NN = "torch.nn."


def mode_free(model, source):
    """True when nothing in MODEL is known to read the training flag: no
    torch.nn module that does, no module from outside torch.nn and the
    candidate, and no "training" anywhere in the candidate's SOURCE.  Then
    the eval-mode trace (a third of a small transformer's build) is
    skipped, and the archive is compared with the model in eval mode
    instead: a model that reads the flag where this cannot see it still
    differs there, and gets the two traces after all."""
    if "training" in source:
        return False
    for m in model.modules():
        cls = type(m)
        if isinstance(m, _MODE_TYPES):
            return False
        if not (cls.__module__.startswith(_TORCH_NN) or cls.__module__ == "candidate"):
            return False
    return True


def both_modes(model, traced, x):
    """TRACED (made in train mode) when an eval-mode trace records the same
    graph, else a scripted BothModes of the two."""
    model.eval()
    try:
        with torch.no_grad():
            evaled = _trace_quiet(model, x)
    finally:
        model.train()
    if _graph_key(evaled) == _graph_key(traced):
        return traced
    return _jit_script(BothModes(traced, evaled))


def _scripted_source(module):
    """True for a scripted module (its code may read self.training); a
    trace records no such branch."""
    try:
        return "training" in module.code
    except Exception:  # noqa: BLE001
        return True


class Archive:
    """Where an export goes (the file the supervisor named), and how many
    times it was written.  With ANNOUNCE, the first save is reported on
    the report fd as {"archive": "ready"}: the supervisor may then start
    the validate child on it while this child goes on comparing it with
    the model.  The result's "archive_saves" tells whether the archive
    announced is the one exported (1) or was written again (the script
    fallback): then the supervisor validates again.  Both are this child's
    word, so they can only cost the candidate: the supervisor reads the
    file once, and what it validates is what it delivers.

    An early start pays for itself only when what follows the save (the
    comparison, about two forward passes, and this child's exit) costs
    more than handing the archive over through a pipe (measured: about 4
    ms per MB, the copy, the pipe and a load from memory, with three
    processes on two cores).  FORWARD_S, the traced forward pass's time,
    stands for the comparison: a small transformer (60 ms, a 2.5 MB
    archive) is announced, the seed's model (15 ms, 6.7 MB) is not."""

    MS_PER_MB = 4.0
    EXIT_MS = 10.0

    def __init__(self, path, announce=False, forward_s=0.0):
        self.path, self.announce, self.saves = path, announce, 0
        self.forward_ms = forward_s * 1000.0

    def save(self, module):
        _jit_save(module, self.path)
        self.saves += 1
        if self.announce and self.saves == 1:
            try:
                mb = _getsize(self.path) / 1e6
            except OSError:
                return
            if self.forward_ms + self.EXIT_MS > self.MS_PER_MB * mb:
                report.emit({"archive": "ready"})


def save_traced(model, traced, x, x2, dest, free):
    """Save to DEST (an Archive) the trace TRACED of MODEL (made in train mode on X), or
    both modes' traces when the modes differ, and compare the archive with
    MODEL on X2.  FREE (mode_free()): try the single trace alone first,
    compared in eval mode, and make the eval-mode trace only if that
    differs.  Returns (the exported module, None or why it differs)."""
    if free:
        dest.save(traced)
        why = differs_in_mode(model, _deepcopy(traced), x2, "eval")
        if why is None:
            return traced, None
    exported = both_modes(model, traced, x)
    return exported, save_and_compare(model, exported, dest, x2)


def differs_in_mode(model, exported, x2, mode):
    """differs() with both in MODE ("train" or "eval"), then train again."""
    if mode == "train":
        return differs(model, exported, x2)
    model.eval()
    exported.eval()
    try:
        why = differs(model, exported, x2)
    finally:
        model.train()
        exported.train()
    return None if why is None else "in eval mode: " + why


def save_and_compare(model, exported, dest, x2):
    """Save EXPORTED to DEST (an Archive), then compare a copy of it with MODEL in both
    modes.  The copy has its own parameters and buffers, as the archive
    the validate child loads does (a trace shares the model's, so a
    forward() that rewrites its own .data looked the same in both); it is
    taken in memory, not read back from the file (the 6.7 MB seed archive took
    9 ms to load, a copy 2 ms).  None, or why they differ (the next
    attempt overwrites the file; a build that exports nothing is not
    validated)."""
    dest.save(exported)
    return differs_in_both_modes(model, _deepcopy(exported), x2)


def differs_in_both_modes(model, exported, x2):
    """differs() in train mode, then in eval mode (then train again).  A
    single trace (no BothModes: the eval-mode trace recorded the same
    graph) behaves the same in both modes, so it is compared once."""
    why = differs(model, exported, x2)
    if why is not None:
        return why
    if getattr(exported, "original_name", None) not in ("BothModes", "HeldLength", None) and \
            not _scripted_source(exported):
        return None
    return differs_in_mode(model, exported, x2, "eval")


def export(model, dest, traced, trace_error, x, x2, free=False):
    """Save to DEST (an Archive) a module that behaves like MODEL, in train and in eval
    mode, on the second input X2: TRACED when it does (when tracing failed,
    a trace on X of the output's tensors alone, see TensorsOnly; with an
    eval-mode trace beside it when the modes differ, see BothModes), else a
    scripted MODEL, else (token input) the trace held at the traced length
    when it behaves like MODEL there (traceable.HeldLength).  Returns
    (method, None, None), or (None, kind, why) with KIND "ExportError" (it
    cannot be exported) or "ArchiveMismatch" (what could be exported
    behaves differently)."""
    kind = "ExportError"
    tensors_only = False
    mismatched = None
    if traced is None:
        # forward() returned what a trace cannot hold (None beside the
        # logits, a dataclass): trace the tensors it returns
        try:
            traced = _trace_quiet(TensorsOnly(model), x)
            tensors_only = True
        except Exception:  # noqa: BLE001 - then the trace's own error stands
            traced = None
    traced_model = TensorsOnly(model) if tensors_only else model
    if traced is not None:
        try:
            exported, why = save_traced(traced_model, traced, x, x2, dest, free)
            if why is None:
                return _method(traced_model, exported, x, tensors_only), None, None
            kind, trace_why = "ArchiveMismatch", "the traced archive differs: " + why
            if x2.other_length():
                mismatched = exported
        except Exception as e:  # noqa: BLE001 - any failure means "try script"
            trace_why = _why(e)
    else:
        trace_why = _why(trace_error)
    try:
        scripted = _jit_script(model)
        why = save_and_compare(model, scripted, dest, x2)
        if why is None:
            return "script", None, None
        kind, script_why = "ArchiveMismatch", "the scripted archive differs: " + why
    except Exception as e:  # noqa: BLE001
        script_why = _why(e)
    if mismatched is not None:
        # a loop over time, a cache at the traced length: the trace may hold
        # at that length (and any batch); then the archive is that trace,
        # refusing every other length
        length = int(x.shape[1])
        try:
            held = _jit_script(traceable.HeldLength(mismatched, length))
            why = save_and_compare(traced_model, held, dest, x2.same_length())
        except Exception as e:  # noqa: BLE001
            why = _why(e)
        if why is None:
            method = _method(traced_model, mismatched, x, tensors_only)
            return "%s, held at sequence length %d: it differs at other lengths (%s)" % (
                method, length, trace_why[len("the traced archive differs: "):]), None, None
        trace_why += "; held at length %d: %s" % (length, why)
    return None, kind, "trace: %s; script: %s" % (trace_why, script_why)


def _method(model, exported, x, tensors_only):
    """The result's "export" for a trace that behaves like MODEL: what it
    holds, and for custom autograd.Functions inlined, how it trains."""
    notes = (["tensors only"] if tensors_only else []) + \
        (["train and eval"] if getattr(exported, "original_name", None) == "BothModes" else [])
    if INLINED:
        names = ", ".join(sorted(INLINED))
        notes.append("autograd.Function %s traced through its forward" % names)
        grad = traceable.gradient_note(model, _deepcopy(exported), x, INLINED)
        if grad:
            notes.append(grad)
    return "trace (%s)" % "; ".join(notes) if notes else "trace"


def source_error(e):
    """The error dict for source that does not parse or compile: a
    SyntaxError's own message, line and column, without the "(candidate.py,
    line 6)" Python appends (the caller names the user's file)."""
    err = {"type": type(e).__name__, "message": str(e), "line": getattr(e, "lineno", None)}
    if isinstance(e, SyntaxError):
        err["message"] = e.msg
        if e.offset:
            err["col"] = e.offset
    return err


def integrity_violation(when):
    """Report and return True when the candidate replaced a torch entry
    point the harness is about to rely on (WHEN says for what)."""
    gone = pinned.replaced()
    if not gone:
        return False
    names = ", ".join(gone[:6]) + (" and %d more" % (len(gone) - 6) if len(gone) > 6 else "")
    message = ("the candidate replaced %s before %s: the harness does not export a model "
               "through functions the candidate controls" % (names, when))
    report.violation("export_integrity", "replaced", names, message=message)
    report.result(ok=False, stage="build",
                  error={"type": "PolicyViolation", "message": "export_integrity: " + message,
                         "line": None, "rule": "export_integrity"})
    return True


def run(req):
    laps = report.Laps()
    inputs.FIXED = True  # this process is the candidate's: its seeds hide nothing (inputs.drawn)
    py = req["policy"]["python"]
    rules = py["static_check"]
    try:
        with open(req["source"], "rb") as f:
            raw = f.read()
        text = raw.decode("utf-8")
    except (OSError, UnicodeDecodeError) as e:
        report.result(ok=False, stage="static", error={"type": "SourceError", "message": str(e),
                                                       "line": None})
        return 1
    try:
        tree = ast.parse(text, report.CANDIDATE)
    except (SyntaxError, ValueError, MemoryError, RecursionError) as e:
        report.result(ok=False, stage="static", error=source_error(e))
        return 1
    optional = set()
    enforce = rules["action"] == "reject"
    warns = []
    if rules["enabled"]:
        hits, optional = static.check(tree, rules, py["allowed_imports"])
        hard = [h for h in hits if h["rule"] in ("static.size", "static.nesting")]
        if hits and (enforce or hard):
            hits = hits if enforce else hard
            for h in hits:
                report.emit({"violation": h})
            first = hits[0]
            report.result(ok=False, stage="static",
                          error={"type": "PolicyViolation", "message": first["message"],
                                 "line": first["line"], "rule": first["rule"]})
            return 3
        # a mention is not an action: reported, and the code runs
        warns = [{"rule": h["rule"], "line": h["line"], "col": h["col"], "message": h["message"]}
                 for h in hits[:50]]
    laps.lap("static")
    if req["phase"] == "static":
        report.result(ok=True, stage="static", warnings=warns)
        return 0
    try:
        code = compile(tree, report.CANDIDATE, "exec")
    except (SyntaxError, ValueError, MemoryError, RecursionError) as e:
        report.result(ok=False, stage="static", error=source_error(e))
        return 1

    # from here on every result carries the warnings (the list grows as
    # the guarded import meets modules outside the allowlist)
    report.attach_warnings(warns)
    torch.set_num_threads(int(req["policy"]["sandbox"]["threads"]))
    spec = req["input"]
    x = None
    if spec["kind"] != "auto":
        # made before any candidate code runs, from the caller's spec
        try:
            x = inputs.make(spec)
        except Exception as e:  # noqa: BLE001
            report.result(ok=False, stage="build",
                          error={"type": "InputError", "message": "cannot build the test input: %s"
                                 % e, "line": None})
            return 1

    mod = types.ModuleType("candidate")
    mod.__file__ = report.CANDIDATE
    mod.__builtins__ = guard.make_builtins(rules["banned_builtins"], py["allowed_imports"],
                                           optional, enforce=enforce, warnings=warns)
    sys.modules["candidate"] = mod
    lines = text.splitlines(True)
    linecache.cache[report.CANDIDATE] = (len(text), None, lines, report.CANDIDATE)

    compiled = []
    guard.eager_compile(torch, compiled)
    if py["audit"]["enabled"]:
        guard.close_native_doors(torch)
        _aegis_host.arm(list(py["audit"]["deny_events"]), req["workdir"], list(req["ro_roots"]),
                        report.CANDIDATE, list(py["audit"]["finding_events"]))
    inputs.seed(0)
    try:
        exec(code, mod.__dict__)  # noqa: S102 - this is the point of the sandbox
    except BaseException as e:  # noqa: BLE001
        report.result(ok=False, stage="build", error=describe(e))
        return 1

    laps.lap("exec")
    cls, why = pick_class(mod, req.get("class"))
    if cls is None:
        report.result(ok=False, stage="build",
                      error={"type": "ClassError", "message": why, "line": None})
        return 1
    missing = required_args(cls)
    if missing:
        report.result(ok=False, stage="build",
                      error={"type": "ClassError",
                             "message": "%s.__init__ requires arguments (%s); the sandbox "
                                        "instantiates the model without arguments"
                                        % (cls.__name__, ", ".join(missing)),
                             "line": getattr(getattr(cls.__init__, "__code__", None),
                                             "co_firstlineno", None)})
        return 1
    try:
        model = cls()
    except BaseException as e:  # noqa: BLE001
        report.result(ok=False, stage="build", error=describe(e))
        return 1
    if not isinstance(model, nn.Module):
        report.result(ok=False, stage="build",
                      error={"type": "ClassError", "message": "%s() is not an nn.Module"
                             % cls.__name__, "line": None})
        return 1

    laps.lap("init")
    if integrity_violation("tracing the model"):
        return 3
    if x is None:
        # no input given: the model's first layer says what it takes (the
        # validate child reads the same from the archive)
        spec = inputs.resolve(spec, model)
        try:
            x = inputs.make(spec)
        except Exception as e:  # noqa: BLE001
            report.result(ok=False, stage="build",
                          error={"type": "InputError", "message": "cannot build the test input %s: %s"
                                 % (inputs.describe(spec), e), "line": None})
            return 1
    # The forward pass runs under the tracer.  Only when that fails is it
    # run again plainly, with the module tracker: the error then is the
    # candidate's own, or the model runs and only its export fails.
    traced = trace_error = None
    tracer_warnings = []
    try:
        traced, out, tracer_warnings = trace(model, x)
    except BaseException as e:  # noqa: BLE001 - whatever it was, rerun plainly
        trace_error = e
    if traced is None:
        tracker = ModuleTracker(model)
        inputs.seed(0)
        try:
            out = model(x)
        except BaseException as e:  # noqa: BLE001
            report.result(ok=False, stage="build", error=describe(e, tracker.innermost()),
                          metrics={"class": cls.__name__})
            return 1
        finally:
            tracker.remove()
    primary = inputs.first_tensor(out)
    metrics = {"class": cls.__name__, "input": inputs.describe(spec),
               "parameters": int(sum(p.numel() for p in model.parameters()))}
    if primary is None:
        report.result(ok=False, stage="build", metrics=metrics,
                      error={"type": "OutputError",
                             "message": "forward() returned %s, which holds no tensor"
                                        % type(out).__name__, "line": None})
        return 1
    metrics["output_shape"] = list(primary.shape)
    if primary.is_floating_point() and not bool(_isfinite(primary).all()):
        report.result(ok=False, stage="build", metrics=metrics,
                      error={"type": "NonFiniteOutput",
                             "message": "the output contains NaN or Inf", "line": None})
        return 1

    laps.lap("forward")
    if integrity_violation("exporting the model"):
        return 3
    if tracer_warnings:
        metrics["tracer_warnings"] = tracer_warnings
    if compiled:
        metrics["torch_compile"] = "ran eagerly: torch.compile was applied to %s" % ", ".join(sorted(set(compiled)))
    x2 = SecondInput(spec, x, req["policy"]["validation"]["checks"]["probe_max_batch"])
    free = mode_free(model, text)
    # announced as soon as it is saved, unless an every-position archive
    # will follow it (the validate child needs both)
    archive = Archive(req["artifact"], announce=not (req.get("positions_artifact") and
                                                     wants_positions(model, spec, primary, x)),
                      forward_s=laps.laps.get("forward_s", 0.0))
    method, kind, why = export(model, archive, traced, trace_error, x, x2, free)
    if method is None:
        if req["policy"]["validation"]["export_failure"] == "in-process":
            from aegis_job import validate
            ok, vm, checks, err = validate.validate_model(model, spec, validate.config(req))
            metrics.update(vm)
            report.result(ok=True, stage="validate", integrity="in-process", validated=ok,
                          metrics=metrics, checks=checks, error=err)
            return 0
        if kind == "ArchiveMismatch":
            message = ("the exported archive does not behave like %s as written, so what would "
                       "be validated and deployed is not this model: %s" % (cls.__name__, why))
        else:
            message = ("%s cannot be exported to TorchScript, so it cannot be validated apart "
                       "from its code: %s" % (cls.__name__, why))
        err = {"type": kind, "message": message, "line": None}
        if kind == "ExportError":
            err["hint"] = ("validation.export_failure: in-process validates such a model in its "
                           "own process instead; the verdict is then marked unverified")
        report.result(ok=False, stage="build", metrics=metrics, error=err)
        return 1
    metrics["export"] = method
    if req.get("positions_artifact"):
        # a language model that returns only the last position unless given
        # targets (nanoGPT's logits[:, [-1], :]): its every-position form,
        # for the causality check (the archive itself is the model as is)
        note = export_positions(model, req["positions_artifact"], spec, primary, x, x2, free)
        if note:
            metrics["positions"] = note
    report.result(ok=True, stage="build", metrics=metrics, archive_saves=archive.saves,
                  timings=laps.lap("export"))
    return 0
