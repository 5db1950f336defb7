"""Unit tests of the built-in fixers (pyhelpers/aegis_job/fixers.py): each
fixer on the error it knows, and doing nothing when it is not sure."""

import ast
import os
import sys

sys.path.insert(0, os.path.join(os.environ.get("TOP_SRCDIR", os.path.join(os.path.dirname(__file__), "..", "..")),
                                "pyhelpers"))

from aegis_job import fixers  # noqa: E402

ALLOW = ["torch", "torch.nn", "torch.nn.*", "torch.nn.functional", "math", "typing", "dataclasses",
         "functools", "collections"]
CTX = {"allowed_imports": ALLOW, "vocab": 1000}


def fix(src, error, **ctx):
    c = dict(CTX)
    c.update(ctx)
    return fixers.apply(src, error, c)


def test_missing_import_adds_every_known_undefined_name():
    src = "class Model(nn.Module):\n    def forward(self, x):\n        return F.relu(x)\n"
    new, changes = fix(src, {"type": "NameError", "message": "name 'nn' is not defined"})
    assert new.splitlines()[:2] == ["import torch.nn as nn", "import torch.nn.functional as F"]
    assert [c["rule"] for c in changes] == ["missing_import", "missing_import"]


def test_missing_import_respects_the_allowlist():
    src = "x = np.zeros(3)\n"
    new, changes = fix(src, {"type": "NameError", "message": "name 'np' is not defined"})
    assert new is None and changes == []


def test_missing_import_ignores_unknown_names():
    new, _ = fix("y = frobnicate(1)\n", {"type": "NameError", "message": "name 'frobnicate' is not defined"})
    assert new is None


def test_missing_import_goes_after_existing_imports():
    src = '"""doc"""\nimport math\nclass A(nn.Module):\n    pass\n'
    new, _ = fix(src, {"type": "NameError", "message": "name 'nn' is not defined"})
    assert [type(n).__name__ for n in ast.parse(new).body] == ["Expr", "Import", "Import", "ClassDef"]


LINEAR2 = ("import torch.nn as nn\nclass M(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
           "        self.a = nn.Linear(100, 64)\n        self.b = nn.Linear(32, 10)\n"
           "    def forward(self, x):\n        return self.b(self.a(x))\n")


def test_in_features_rewrites_the_failing_linear():
    err = {"type": "RuntimeError", "message": "mat1 and mat2 shapes cannot be multiplied (2x64 and 32x10)",
           "module": "b (Linear)"}
    new, changes = fix(LINEAR2, err)
    assert "self.b = nn.Linear(64, 10)" in new
    assert changes[0]["line"] == 6


def test_in_features_inside_sequential():
    src = ("import torch.nn as nn\nclass M(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
           "        self.net = nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(71, 10))\n")
    err = {"type": "RuntimeError", "message": "mat1 and mat2 shapes cannot be multiplied (8x64 and 71x10)",
           "module": "net.2 (Linear)"}
    new, changes = fix(src, err)
    assert "nn.Linear(64, 10)" in new and "nn.Linear(32, 64)" in new
    assert changes[0]["description"] == "net.2: nn.Linear in_features 71 -> 64, the width of its actual input"


def test_in_features_needs_the_module():
    err = {"type": "RuntimeError", "message": "mat1 and mat2 shapes cannot be multiplied (2x64 and 32x10)"}
    assert fix(LINEAR2, err) == (None, [])


def test_in_features_not_sure_with_two_candidates():
    src = LINEAR2 + "class N(nn.Module):\n    def __init__(self):\n        super().__init__()\n" \
                    "        self.b = nn.Linear(7, 10)\n"
    err = {"type": "RuntimeError", "message": "mat1 and mat2 shapes cannot be multiplied (2x64 and 32x10)",
           "module": "b (Linear)"}
    assert fix(src, err) == (None, [])


def test_token_embedding_gives_the_seeds_fixed_example():
    here = os.path.dirname(os.path.abspath(__file__))
    top = os.environ.get("TOP_SRCDIR", os.path.join(here, "..", ".."))
    broken = open(os.path.join(top, "doc", "examples", "seed_broken.py")).read()
    fixed = open(os.path.join(top, "doc", "examples", "seed_model.py")).read()
    err = {"type": "RuntimeError", "message": "mat1 and mat2 must have the same dtype",
           "module": "layer1 (Linear)"}
    new, changes = fix(broken, err)
    assert ast.dump(ast.parse(new)) == ast.dump(ast.parse(fixed))
    assert changes[0]["rule"] == "token_embedding"


def test_token_embedding_guesses_the_vocabulary_from_the_last_linear():
    err = {"type": "RuntimeError", "message": "mat1 and mat2 must have the same dtype", "module": "a (Linear)"}
    new, _ = fix(LINEAR2, err, vocab=None)
    assert "nn.Embedding(10, 100)" in new


def test_token_embedding_not_for_other_errors():
    err = {"type": "RuntimeError", "message": "something else", "module": "a (Linear)"}
    assert fix(LINEAR2, err) == (None, [])


def test_super_init():
    src = "import torch.nn as nn\nclass M(nn.Module):\n    def __init__(self):\n        self.a = nn.Linear(2, 2)\n"
    new, changes = fix(src, {"type": "AttributeError",
                             "message": "cannot assign module before Module.__init__() call"})
    init = ast.parse(new).body[1].body[0]
    assert ast.unparse(init.body[0]) == "super().__init__()"
    assert changes[0]["rule"] == "super_init"


def test_forward_return():
    src = "class M:\n    def forward(self, x):\n        y = x + 1\n"
    new, _ = fix(src, {"type": "OutputError", "message": "forward() returned NoneType, which holds no tensor"})
    assert new.rstrip().endswith("return y")


def test_forward_return_not_sure_with_an_existing_return():
    src = "class M:\n    def forward(self, x):\n        if x:\n            return x\n        y = x\n"
    assert fix(src, {"type": "OutputError", "message": "forward() returned NoneType"}) == (None, [])


def test_rules_switch_fixers_off():
    src = "class Model(nn.Module):\n    pass\n"
    err = {"type": "NameError", "message": "name 'nn' is not defined"}
    assert fix(src, err, rules=["in_features"]) == (None, [])


def test_unparsable_source_is_left_alone():
    assert fix("def (:\n", {"type": "NameError", "message": "name 'nn' is not defined"}) == (None, [])


# ---- the fixed source keeps what the fix did not touch -----------------------

COMMENTED = '''"""A model with comments a reviewer wants to keep."""
import torch.nn as nn  # the layers

WIDTH = 64  # hidden width


class Model(nn.Module):
    """Two layers."""

    def __init__(self):
        super().__init__()
        # the first layer's width is wrong on purpose
        self.fc = nn.Linear(100, WIDTH)   # odd spacing, kept
        self.out = nn.Linear(WIDTH, 10)

    def forward(self, x):
        # one hidden layer
        h = self.fc(x)
        return self.out(h)  # logits
# trailing comment
'''


def test_a_fix_keeps_comments_and_layout():
    new, changes = fix(COMMENTED, {"type": "NameError", "message": "name 'F' is not defined"})
    assert [c["rule"] for c in changes] == ["missing_import"]
    want = COMMENTED.replace("import torch.nn as nn  # the layers\n",
                             "import torch.nn as nn  # the layers\nimport torch.nn.functional as F\n")
    assert new == want
    # the diff is one added line, nothing else
    diff = changes[0]["diff"].splitlines()
    assert [ln for ln in diff if ln.startswith(("+", "-")) and not ln.startswith(("+++", "---"))] == \
        ["+import torch.nn.functional as F"]


def test_a_changed_line_is_written_anew_and_the_rest_kept():
    new, changes = fix(COMMENTED, {"type": "RuntimeError", "module": "fc (Linear)",
                                   "message": "mat1 and mat2 shapes cannot be multiplied (2x32 and 100x64)"})
    assert [c["rule"] for c in changes] == ["in_features"]
    assert new == COMMENTED.replace("        self.fc = nn.Linear(100, WIDTH)   # odd spacing, kept\n",
                                    "        self.fc = nn.Linear(32, WIDTH)\n")


def test_statements_added_inside_a_method_take_its_indentation():
    src = ("import torch.nn as nn\n\n\nclass Model(nn.Module):\n    def __init__(self):\n"
           "        # no super call\n        self.fc = nn.Linear(4, 2)  # keep me\n\n"
           "    def forward(self, x):\n        y = self.fc(x)  # and me\n")
    new, changes = fix(src, {"type": "AttributeError",
                             "message": "cannot assign module before Module.__init__() call"})
    assert [c["rule"] for c in changes] == ["super_init"]
    assert "        super().__init__()\n        self.fc = nn.Linear(4, 2)  # keep me\n" in new
    assert "        # no super call\n" in new and "        y = self.fc(x)  # and me\n" in new
    new, changes = fix(new, {"type": "OutputError", "message": "forward() returned NoneType"})
    assert new.endswith("        y = self.fc(x)  # and me\n        return y\n")


def test_statements_sharing_a_line_fall_back_to_a_whole_rewrite():
    src = ("import torch.nn as nn\n\n\nclass Model(nn.Module):\n    def __init__(self):\n"
           "        super().__init__(); self.fc = nn.Linear(100, 10)\n\n"
           "    def forward(self, x):\n        return self.fc(x)\n")
    new, changes = fix(src, {"type": "RuntimeError", "module": "fc (Linear)",
                             "message": "mat1 and mat2 shapes cannot be multiplied (2x32 and 100x10)"})
    assert [c["rule"] for c in changes] == ["in_features"]
    assert "nn.Linear(32, 10)" in new and new.count("super().__init__()") == 1
