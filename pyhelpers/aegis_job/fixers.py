"""Built-in fixers for the debug loop.

Run in a confined job child that reads the candidate source as data: it is
parsed with ast, never compiled or executed.  Each fixer is a small
function fix_<name>(tree, error, ctx) that either returns a list of
changes (rule, line, description) after editing TREE in place, or [] when
it is not sure.  The new source keeps every line the fix did not touch
as written, comments and layout included (see render()): only statements
a fixer added or changed are written by ast.unparse.  The unified diff in
the result shows exactly what changed.
"""

import ast
import difflib
import re

from aegis_job import report
from aegis_job.static import module_allowed

# name -> (module, import statement)
KNOWN_NAMES = {
    "torch": ("torch", "import torch"),
    "nn": ("torch.nn", "import torch.nn as nn"),
    "F": ("torch.nn.functional", "import torch.nn.functional as F"),
    "math": ("math", "import math"),
    "np": ("numpy", "import numpy as np"),
    "numpy": ("numpy", "import numpy"),
    "dataclass": ("dataclasses", "from dataclasses import dataclass"),
    "field": ("dataclasses", "from dataclasses import field"),
    "partial": ("functools", "from functools import partial"),
    "reduce": ("functools", "from functools import reduce"),
    "OrderedDict": ("collections", "from collections import OrderedDict"),
    "namedtuple": ("collections", "from collections import namedtuple"),
    "defaultdict": ("collections", "from collections import defaultdict"),
}
for _t in ("Optional", "List", "Tuple", "Dict", "Any", "Union", "Callable", "Sequence"):
    KNOWN_NAMES[_t] = ("typing", "from typing import " + _t)


def _classes(tree):
    return [n for n in tree.body if isinstance(n, ast.ClassDef)]


def _method(cls, name):
    for n in cls.body:
        if isinstance(n, ast.FunctionDef) and n.name == name:
            return n
    return None


def _self_assign(fn, attr):
    """The statement 'self.ATTR = <call>' in FN, or None."""
    for stmt in ast.walk(fn):
        if (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1
                and isinstance(stmt.targets[0], ast.Attribute)
                and isinstance(stmt.targets[0].value, ast.Name)
                and stmt.targets[0].value.id == "self" and stmt.targets[0].attr == attr
                and isinstance(stmt.value, ast.Call)):
            return stmt
    return None


def _call_name(call):
    f = call.func
    if isinstance(f, ast.Attribute):
        return f.attr
    if isinstance(f, ast.Name):
        return f.id
    return None


def _failing_attr(error):
    """'blocks.0.fc (Linear)' -> ('fc', 'Linear')."""
    mod = error.get("module") or ""
    m = re.match(r"^(\S+) \((\w+)\)$", mod)
    if not m or m.group(1) == "<root>":
        return None, None
    path = [p for p in m.group(1).split(".") if not p.isdigit()]
    return (path[-1] if path else None), m.group(2)


def fix_missing_import(tree, error, ctx):
    """NameError for a well-known name: import it, and every other
    well-known name the module uses but never binds (one attempt, not one
    per name)."""
    if error.get("type") != "NameError":
        return []
    m = re.search(r"name '(\w+)' is not defined", error.get("message", ""))
    if not m or m.group(1) not in KNOWN_NAMES:
        return []
    bound, used = set(), []
    for n in ast.walk(tree):
        if isinstance(n, ast.Name):
            if isinstance(n.ctx, ast.Load):
                if n.id not in used:
                    used.append(n.id)
            else:
                bound.add(n.id)
        elif isinstance(n, ast.alias):
            bound.add((n.asname or n.name).split(".")[0])
        elif isinstance(n, (ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)):
            bound.add(n.name)
        elif isinstance(n, ast.arg):
            bound.add(n.arg)
    missing = [m.group(1)] + [u for u in used if u in KNOWN_NAMES and u not in bound and u != m.group(1)]
    stmts = []
    for name in missing:
        module, stmt = KNOWN_NAMES[name]
        if module_allowed(module, ctx["allowed_imports"]) and stmt not in stmts:
            stmts.append(stmt)
    if not stmts:
        return []
    # after the last top-level import (or a docstring), else at the top
    pos = 0
    for i, n in enumerate(tree.body):
        if isinstance(n, (ast.Import, ast.ImportFrom)):
            pos = i + 1
        elif i == 0 and isinstance(n, ast.Expr) and isinstance(getattr(n, "value", None), ast.Constant):
            pos = 1
    tree.body[pos:pos] = [ast.parse(st).body[0] for st in stmts]
    return [{"rule": "missing_import", "line": error.get("line"),
             "description": "added '%s' for an undefined name" % st} for st in stmts]


def _failing_linear_calls(tree, error):
    """The nn.Linear(...) call nodes that could be the failing module named in
    ERROR: 'self.fc = nn.Linear(...)' for 'fc (Linear)' or 'blocks.0.fc
    (Linear)', and the N-th argument of 'self.net = nn.Sequential(...)' for
    'net.N (Linear)'.  Returns [(call, line)]."""
    m = re.match(r"^(\S+) \((\w+)\)$", error.get("module") or "")
    if not m or m.group(2) != "Linear" or m.group(1) == "<root>":
        return []
    parts = m.group(1).split(".")
    hits = []
    for cls in _classes(tree):
        init = _method(cls, "__init__")
        if init is None:
            continue
        if parts[-1].isdigit() and len(parts) >= 2:
            stmt = _self_assign(init, parts[-2])
            if stmt is not None and _call_name(stmt.value) == "Sequential":
                idx = int(parts[-1])
                if idx < len(stmt.value.args) and isinstance(stmt.value.args[idx], ast.Call) \
                        and _call_name(stmt.value.args[idx]) == "Linear":
                    hits.append((stmt.value.args[idx], stmt.value.args[idx].lineno))
            continue
        attr = [p for p in parts if not p.isdigit()][-1]
        stmt = _self_assign(init, attr)
        if stmt is not None and _call_name(stmt.value) == "Linear":
            hits.append((stmt.value, stmt.lineno))
    return hits


def fix_in_features(tree, error, ctx):
    m = re.search(r"mat1 and mat2 shapes cannot be multiplied \((\d+)x(\d+) and (\d+)x(\d+)\)",
                  error.get("message", ""))
    if not m:
        return []
    actual = int(m.group(2))
    hits = _failing_linear_calls(tree, error)
    if len(hits) != 1:
        return []  # not sure which Linear: do nothing
    call, line = hits[0]
    if call.args:
        old = ast.unparse(call.args[0])
        call.args[0] = ast.Constant(actual)
    else:
        kw = [k for k in call.keywords if k.arg == "in_features"]
        if not kw:
            return []
        old = ast.unparse(kw[0].value)
        kw[0].value = ast.Constant(actual)
    return [{"rule": "in_features", "line": line,
             "description": "%s: nn.Linear in_features %s -> %d, the width of its actual input"
                            % (error.get("module", "").split(" ")[0], old, actual)}]


DTYPE_ERRORS = ("mat1 and mat2 must have the same dtype", "expected scalar type Float but found Long",
                "expected scalar type Long", "Input type (long int) and bias type",
                "\"addmm_impl_cpu_\" not implemented for 'Long'")


def fix_token_embedding(tree, error, ctx):
    """Integer token ids fed to a Linear: embed them first and, as the
    seed document's fixed example does, mean-pool over the sequence."""
    msg = error.get("message", "")
    attr, kind = _failing_attr(error)
    # the test input's vocabulary; for a tensor file, the width of the
    # model's last Linear (the logits of a token model)
    vocab = ctx.get("vocab") or _last_linear_width(tree)
    if not vocab or kind != "Linear" or not attr or not any(s in msg for s in DTYPE_ERRORS):
        return []
    for cls in _classes(tree):
        init, fwd = _method(cls, "__init__"), _method(cls, "forward")
        stmt = _self_assign(init, attr) if init else None
        if stmt is None or fwd is None or _call_name(stmt.value) != "Linear" or not stmt.value.args:
            continue
        if _self_assign(init, "embed") is not None:
            return []
        width = stmt.value.args[0]
        arg = fwd.args.args[1].arg if len(fwd.args.args) > 1 else None
        # the Linear must be applied to the forward's own input first
        idx = None
        for i, s in enumerate(fwd.body):
            src = ast.unparse(s)
            if "self.%s(%s)" % (attr, arg) in src:
                idx = i
                break
            if arg and re.search(r"\b%s\b" % re.escape(arg), src):
                return []  # the input is used before: not sure
        if idx is None:
            return []
        emb = ast.parse("self.embed = nn.Embedding(%d, %s)" % (vocab, ast.unparse(width))).body[0]
        init.body.insert(init.body.index(stmt) if stmt in init.body else len(init.body), emb)
        fwd.body[idx:idx] = ast.parse("%s = self.embed(%s)\n%s = %s.mean(dim=1)"
                                      % (arg, arg, arg, arg)).body
        return [{"rule": "token_embedding", "line": stmt.lineno,
                 "description": "token ids reach self.%s (nn.Linear): added self.embed = "
                                "nn.Embedding(%d, %s) and mean pooling over the sequence"
                                % (attr, vocab, ast.unparse(width))}]
    return []


def _last_linear_width(tree):
    last = None
    for n in ast.walk(tree):
        if (isinstance(n, ast.Call) and _call_name(n) == "Linear" and len(n.args) >= 2
                and isinstance(n.args[1], ast.Constant) and isinstance(n.args[1].value, int)):
            last = n.args[1].value
    return last


def fix_super_init(tree, error, ctx):
    if "before Module.__init__() call" not in error.get("message", ""):
        return []
    changes = []
    for cls in _classes(tree):
        init = _method(cls, "__init__")
        if init is None or "super().__init__" in ast.unparse(init) or "__init__(self" in ast.unparse(init.body[0]):
            continue
        init.body.insert(0, ast.parse("super().__init__()").body[0])
        changes.append({"rule": "super_init", "line": init.lineno,
                        "description": "%s.__init__ did not call super().__init__()" % cls.name})
    return changes if len(changes) == 1 else []


def fix_forward_return(tree, error, ctx):
    if error.get("type") != "OutputError" or "NoneType" not in error.get("message", ""):
        return []
    cls_name = ctx.get("class")
    for cls in _classes(tree):
        if cls_name and cls.name != cls_name:
            continue
        fwd = _method(cls, "forward")
        if fwd is None or any(isinstance(n, ast.Return) for n in ast.walk(fwd)):
            continue
        last = fwd.body[-1]
        if isinstance(last, ast.Assign) and len(last.targets) == 1 and isinstance(last.targets[0], ast.Name):
            fwd.body.append(ast.Return(ast.Name(last.targets[0].id, ast.Load())))
            return [{"rule": "forward_return", "line": last.lineno,
                     "description": "%s.forward returned nothing: added 'return %s'"
                                    % (cls.name, last.targets[0].id)}]
    return []


FIXERS = (("missing_import", fix_missing_import), ("in_features", fix_in_features),
          ("token_embedding", fix_token_embedding), ("super_init", fix_super_init),
          ("forward_return", fix_forward_return))


# the statement lists a fix may add to or change inside of; any other
# compound statement that changed is written whole
_BODIES = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)


def _snapshot(tree):
    """id(statement) -> its text as ast.unparse writes it, before a fix."""
    return {id(n): ast.unparse(n) for n in ast.walk(tree) if isinstance(n, ast.stmt)}


def _render_body(body, lines, start, indent, snap, out):
    """Append to OUT the source of the statements BODY, whose original
    text starts at line START (1-based; the lines before a statement, its
    comments, go with it).  Returns the line after the last original line
    written.  Raises ValueError for a change this cannot place."""
    pos = start
    for node in body:
        before = snap.get(id(node))
        if before is None:
            # a statement the fix added: written at this indentation
            for ln in ast.unparse(node).splitlines():
                out.append(indent + ln + "\n")
            continue
        if before == ast.unparse(node):
            out.extend(lines[pos - 1:node.end_lineno])  # as written
        elif node.lineno < pos:
            raise ValueError("a changed statement shares a line with another")
        elif isinstance(node, _BODIES[1:]) and any(id(n) in snap for n in node.body):
            # its header as written, then its body, statement by statement
            # (at the indentation of its first original statement)
            first = next(n for n in node.body if id(n) in snap)
            out.extend(lines[pos - 1:first.lineno - 1])
            inner = re.match(r"[ \t]*", lines[first.lineno - 1]).group(0)
            _render_body(node.body, lines, first.lineno, inner, snap, out)
        elif not isinstance(node, _BODIES[1:]) and node.lineno == node.end_lineno:
            # a one-line statement the fix changed: its comments above stay,
            # the line itself is written anew
            out.extend(lines[pos - 1:node.lineno - 1])
            for ln in ast.unparse(node).splitlines():
                out.append(indent + ln + "\n")
        else:
            raise ValueError("a change render() cannot place")
        pos = node.end_lineno + 1
    return pos


def render(source, tree, snap):
    """TREE (SOURCE's, after a fix) as source that keeps every untouched
    line of SOURCE; ast.unparse of the whole tree when a change is of a
    kind this cannot place."""
    lines = source.splitlines(True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    out = []
    try:
        end = _render_body(tree.body, lines, 1, "", snap, out)
    except ValueError:
        return ast.unparse(ast.fix_missing_locations(tree)) + "\n"
    out.extend(lines[end - 1:])  # comments after the last statement
    return "".join(out)


def apply(source, error, ctx):
    """(new_source or None, changes) for SOURCE failing with ERROR."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return None, []
    snap = _snapshot(tree)
    for name, fixer in FIXERS:
        if name not in ctx.get("rules", [n for n, _ in FIXERS]):
            continue
        changes = fixer(tree, error, ctx)
        if changes:
            new = render(source, tree, snap)
            diff = "".join(difflib.unified_diff(source.splitlines(True), new.splitlines(True),
                                                report.CANDIDATE, report.CANDIDATE))
            for c in changes:
                c["diff"] = diff
            return new, changes
    return None, []


def run(req):
    with open(req["source"], encoding="utf-8") as f:
        source = f.read()
    pol = req["policy"]
    ctx = {"allowed_imports": pol["python"]["allowed_imports"], "rules": pol["debug"]["rules"],
           "class": req.get("class"), "vocab": req.get("vocab")}
    new, changes = apply(source, req.get("error") or {}, ctx)
    report.result(ok=new is not None, stage="fix", code=new, fixes=changes)
    return 0
