"""The static check: policy rules on the candidate's AST, before it runs.

Every hit is a dict with rule id, line, column and a message.  What a hit
is depends on python.static_check.action: a warning (the default: code is
judged by what it does when it runs) or a violation (reject).  Rule ids:

  static.import      import outside python.allowed_imports (or relative)
  static.builtin     a banned builtin used as a name it does not rebind
  static.attribute   a banned attribute, or a dunder not in allowed_dunders
  static.getattr     getattr/setattr/delattr/hasattr with a name built at
                     run time, or naming a banned attribute
  static.format      str.format / format_map templates reaching attributes
  static.nesting     nesting deeper than max_nesting
  static.size        more AST nodes than max_ast_nodes
"""

import ast

OPTIONAL_IMPORT_ERRORS = {"ImportError", "ModuleNotFoundError", "Exception",
                          "BaseException"}
ATTR_FUNCS = {"getattr", "setattr", "delattr", "hasattr"}


def module_allowed(name, allowed):
    """True when NAME is allowed by the ALLOWED list (exact or "pkg.*")."""
    for pat in allowed:
        if pat.endswith(".*"):
            if name.startswith(pat[:-1]):
                return True
        elif name == pat:
            return True
    return False


def _bound_names(tree):
    """Every name the module binds anywhere (parameters, assignments, defs,
    imports, handlers): a banned builtin's name used as a local is fine."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.add(node.id)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.alias):
            names.add((node.asname or node.name).split(".")[0])
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
    return names


def _optional_imports(tree):
    """Import nodes inside try blocks that catch ImportError: an optional
    dependency that is simply unavailable here, not an attack."""
    opt = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Try):
            continue
        catches = False
        for h in node.handlers:
            types = []
            if h.type is None:
                catches = True
            elif isinstance(h.type, ast.Name):
                types = [h.type.id]
            elif isinstance(h.type, ast.Tuple):
                types = [e.id for e in h.type.elts if isinstance(e, ast.Name)]
            if OPTIONAL_IMPORT_ERRORS.intersection(types):
                catches = True
        if catches:
            for stmt in node.body:
                if isinstance(stmt, (ast.Import, ast.ImportFrom)):
                    opt.add(id(stmt))
    return opt


# Nodes that open a nesting level: compound statements, definitions and
# containers.  Operator chains (a + b + c ...) are long, not deep.
_NESTING = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.If, ast.For,
            ast.AsyncFor, ast.While, ast.With, ast.AsyncWith, ast.Try, ast.Lambda,
            ast.List, ast.Tuple, ast.Set, ast.Dict, ast.Call, ast.Subscript,
            ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp, ast.IfExp)


def _max_depth(tree):
    """Deepest nesting of _NESTING nodes, and the node where it is reached."""
    depth, where = 0, tree
    stack = [(tree, 0)]
    while stack:
        node, d = stack.pop()
        if isinstance(node, _NESTING):
            d += 1
            if d > depth:
                depth, where = d, node
        for child in ast.iter_child_nodes(node):
            stack.append((child, d))
    return depth, where


def _hit(hits, rule, node, message, event=""):
    hits.append({"rule": rule, "event": event or rule, "line": getattr(node, "lineno", 0),
                 "col": getattr(node, "col_offset", -1) + 1, "message": message,
                 "args": message})


def check(tree, rules, allowed_imports):
    """Return (hits, optional_modules) for the parsed module TREE."""
    hits = []
    optional_modules = set()
    nodes = sum(1 for _ in ast.walk(tree))
    if nodes > rules["max_ast_nodes"]:
        _hit(hits, "static.size", tree, "%d AST nodes, more than max_ast_nodes = %d"
             % (nodes, rules["max_ast_nodes"]))
        return hits, optional_modules
    depth, where = _max_depth(tree)
    if depth > rules["max_nesting"]:
        _hit(hits, "static.nesting", where, "nesting depth %d, more than max_nesting = %d"
             % (depth, rules["max_nesting"]))
        return hits, optional_modules
    banned_builtins = set(rules["banned_builtins"])
    banned_attrs = set(rules["banned_attributes"])
    allowed_dunders = set(rules["allowed_dunders"])
    bound = _bound_names(tree)
    optional = _optional_imports(tree)

    def attr_bad(name):
        if name in banned_attrs:
            return True
        return (name.startswith("__") and name.endswith("__") and len(name) > 4
                and name not in allowed_dunders)

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if not module_allowed(a.name, allowed_imports):
                    if id(node) in optional:
                        optional_modules.add(a.name)
                        continue
                    _hit(hits, "static.import", node,
                         "import of '%s', which is not in python.allowed_imports" % a.name,
                         "import")
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                _hit(hits, "static.import", node, "relative import is not allowed", "import")
                continue
            mod = node.module or ""
            if not module_allowed(mod, allowed_imports):
                if id(node) in optional:
                    optional_modules.add(mod)
                    continue
                _hit(hits, "static.import", node,
                     "import from '%s', which is not in python.allowed_imports" % mod, "import")
                continue
            for a in node.names:
                if a.name == "*":
                    _hit(hits, "static.import", node, "'from %s import *' is not allowed" % mod,
                         "import")
                    continue
                sub = mod + "." + a.name
                # a submodule imported by name must be allowed itself
                if _is_module(sub) and not module_allowed(sub, allowed_imports):
                    _hit(hits, "static.import", node,
                         "import of '%s', which is not in python.allowed_imports" % sub,
                         "import")
        elif isinstance(node, ast.Name):
            if node.id in banned_builtins and node.id not in bound:
                _hit(hits, "static.builtin", node,
                     "use of '%s', a banned builtin" % node.id, node.id)
            elif node.id.startswith("__") and node.id.endswith("__") and \
                    node.id not in allowed_dunders and node.id not in ("__name__", "__file__") \
                    and node.id not in bound:
                _hit(hits, "static.builtin", node,
                     "use of '%s', which is not in allowed_dunders" % node.id, node.id)
        elif isinstance(node, ast.Attribute):
            if attr_bad(node.attr):
                _hit(hits, "static.attribute", node,
                     "attribute '%s', which the policy bans" % node.attr, node.attr)
        elif isinstance(node, ast.Call):
            f = node.func
            if isinstance(f, ast.Name) and f.id in ATTR_FUNCS and f.id not in bound:
                if len(node.args) < 2:
                    continue
                name = node.args[1]
                if not (isinstance(name, ast.Constant) and isinstance(name.value, str)):
                    _hit(hits, "static.getattr", node,
                         "%s() with an attribute name built at run time" % f.id, f.id)
                elif attr_bad(name.value):
                    _hit(hits, "static.getattr", node,
                         "%s() of attribute '%s', which the policy bans" % (f.id, name.value),
                         f.id)
            elif isinstance(f, ast.Attribute) and f.attr in ("format", "format_map"):
                tmpl = f.value
                if isinstance(tmpl, ast.Constant) and isinstance(tmpl.value, str):
                    if _format_reaches_attrs(tmpl.value):
                        _hit(hits, "static.format", node,
                             "format string reaching attributes: %r" % tmpl.value[:80],
                             "format")
                elif not isinstance(tmpl, ast.Constant):
                    pass  # runtime strings: the audit and kernel layers stand behind
    hits.sort(key=lambda h: (h["line"], h["col"]))
    return hits, optional_modules


def _format_reaches_attrs(template):
    import string
    try:
        for _, field, _, _ in string.Formatter().parse(template):
            if field and ("." in field or "[" in field):
                return True
    except ValueError:
        return False
    return False


def _is_module(name):
    import importlib.util
    import sys
    if name in sys.modules:
        return True
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError, AttributeError):
        return False
