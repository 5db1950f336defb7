"""The archive verifier (pyhelpers/aegis_job/archive.py) as a protocol
tested with forgeries: honest archives from this torch pass, and a table
of forged ones is refused for the reason named, before any loader sees
them; the operator registry's file operators are all refused; the graph
walk catches what the code scan is made to miss; and a mutation fuzzer
finds no input that makes the reader fail other than by refusing."""

import io
import os
import random
import re
import sys
import time
import zipfile
from typing import Tuple

import pytest
import torch

TOP = os.environ.get("TOP_SRCDIR", os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(TOP, "pyhelpers"))
sys.path.insert(0, os.path.join(TOP, "tools"))

from aegis_job import archive  # noqa: E402
import operators as oprules  # noqa: E402


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(4, 3)
        self.register_buffer("c", torch.arange(6.0).view(2, 3)[:, 1:])

    def forward(self, x):
        y = self.fc(x)
        if x.size(0) > 3:
            y = y * self.c.sum()
        return y


class Setstate(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(4, 3)

    @torch.jit.export
    def __getstate__(self) -> Tuple[torch.Tensor, bool]:
        return (self.fc.weight, self.training)

    @torch.jit.export
    def __setstate__(self, state: Tuple[torch.Tensor, bool]):
        self.training = state[1]

    def forward(self, x):
        return self.fc(x)


class FromFile(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(4, 3)

    def forward(self, x):
        y = self.fc(x)
        if x.size(0) > 64:
            y = y + torch.from_file("/nonexistent/aegis-test", True, 3)
        return y


def saved(module):
    buf = io.BytesIO()
    torch.jit.save(module, buf)
    return buf.getvalue()


SCRIPTED = saved(torch.jit.script(Net()))
# as the build harness traces: torch 2.x keeps no example inputs in the archive
TRACED = saved(torch.jit.trace(Net(), torch.randn(2, 4), check_trace=False,
                               **({"_store_inputs": False} if torch.__version__ >= "2" else {})))


def entries(buf):
    z = zipfile.ZipFile(io.BytesIO(buf))
    return [(i.filename, z.read(i.filename)) for i in z.infolist()]


def rezip(items, flag_bits=0):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as z:
        for name, data in items:
            info = zipfile.ZipInfo(name)
            info.flag_bits |= flag_bits
            z.writestr(info, data)
    return out.getvalue()


def edit(buf, name_end, fn):
    """BUF with the first entry whose name ends with NAME_END through FN."""
    items = entries(buf)
    hit = [n for n, _ in items if n.endswith(name_end)]
    assert hit, name_end
    return rezip([(n, fn(d) if n == hit[0] else d) for n, d in items])


def sub(pattern, repl):
    def fn(data):
        new, n = re.subn(pattern, lambda m: repl(m) if callable(repl) else repl, data, count=1, flags=re.S)
        assert n == 1, pattern
        return new
    return fn


def set_flags(buf, bits):
    """BUF with BITS set in every entry's general-purpose flags, in the
    local headers and in the central directory alike."""
    b = bytearray(buf)
    for sig, at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        i = b.find(sig)
        while i >= 0:
            b[i + at] |= bits
            i = b.find(sig, i + 4)
    return bytes(b)


def refused(buf, reason, text, tensors=False):
    with pytest.raises(archive.Refused) as e:
        if tensors:
            archive.verify_tensors(buf)
        else:
            archive.verify(buf).module()
    assert e.value.reason == reason, str(e.value)
    assert text in str(e.value), str(e.value)
    return e.value


def test_honest_archives_pass():
    for buf in (SCRIPTED, TRACED, rezip(entries(SCRIPTED))):
        v = archive.verify(buf)
        m = v.module()
        assert tuple(m(torch.randn(5, 4)).shape) == (5, 3)
        assert v.facts["verified"] is True and v.facts["sha256"] == __import__("hashlib").sha256(buf).hexdigest()
        assert "aten::linear" in v.facts["operators"] and v.facts["tensors"] >= 3


def test_tensor_file_passes_and_loads():
    buf = io.BytesIO()
    torch.save({"x": torch.arange(10).view(2, 5)[:, 1:], "y": [torch.ones(3)]}, buf)
    got = archive.load_tensors(buf.getvalue())
    assert got["x"].tolist() == [[1, 2, 3, 4], [6, 7, 8, 9]] and got["y"][0].tolist() == [1.0, 1.0, 1.0]


# (what is forged, the archive, the reason, a piece of the message)
FORGED = [
    ("negative storage offset", lambda: edit(SCRIPTED, "/data.pkl", sub(rb"(Q(?:q.|r....)?)K\x01",
                                                                        lambda m: m.group(1) + b"J\xf0\xff\xff\xff")),
     "tensor", "storage offset -16"),
    ("extent past the storage", lambda: edit(SCRIPTED, "/data.pkl", sub(rb"K\x02K\x02t", b"K\x02K\x03t")),
     "tensor", "reaches element 6 of a storage of 6"),
    ("storage record shorter than its numel", lambda: edit(SCRIPTED, "/data/0", lambda d: d[:-4]),
     "tensor", "holds 20 bytes, its record says 6 x 4"),
    ("one storage read as two dtypes", lambda: edit(SCRIPTED, "/data.pkl", sub(rb"h(.)h(.)X\x01\x00\x00\x001",
                                                                             lambda m: b"h" + m.group(1)
                                                                             + b"ctorch\nIntStorage\n"
                                                                             b"X\x01\x00\x00\x000")),
     "tensor", "storage data/0 is read as FloatStorage and as IntStorage"),
    ("a global that runs a command", lambda: edit(SCRIPTED, "/data.pkl", sub(rb"ccollections\nOrderedDict\n",
                                                                           b"cposix\nsystem\n")),
     "global", "global posix.system is not allowed"),
    ("an object of a class the code does not define", lambda: edit(SCRIPTED, "/data.pkl",
                                                                    sub(rb"c(__torch__[^\n]*)\nNet\n",
                                                                        lambda m: b"c" + m.group(1) + b"\nEvil\n")),
     "global", "Evil is not defined by the archive's code"),
    ("a tensor with backward hooks", lambda: edit(SCRIPTED, "/data.pkl",
                                                 sub(rb"ccollections\nOrderedDict\n(q.)\)R",
                                                     lambda m: b"ccollections\nOrderedDict\n" + m.group(1)
                                                     + b")R(X\x01\x00\x00\x00kK\x01u")),
     "tensor", "backward hooks"),
    ("an opcode torch's unpickler does not read (POP)", lambda: edit(SCRIPTED, "/constants.pkl",
                                                                    lambda d: b"\x80\x02)N0."),
     "pickle", "opcode b'0'"),
    ("protocol 4", lambda: edit(SCRIPTED, "/constants.pkl", lambda d: b"\x80\x04)."), "pickle", "protocol 4"),
    ("an opcode torch does not write (INST)", lambda: edit(SCRIPTED, "/constants.pkl", lambda d: b"\x80\x02iposix\nsystem\n."),
     "pickle", "opcode b'i'"),
    ("a truncated pickle", lambda: edit(SCRIPTED, "/data.pkl", lambda d: d[:-5]), "pickle", ""),
    ("a global in the debug information", lambda: edit(SCRIPTED, ".debug_pkl",
                                                      lambda d: b"\x80\x02cbuiltins\neval\n."),
     "global", "global builtins.eval is not allowed in a debug pickle"),
    ("__setstate__, which runs during the load", lambda: saved(torch.jit.script(Setstate())),
     "setstate", "__setstate__ is defined"),
    ("aten::from_file on a branch never taken", lambda: saved(torch.jit.script(FromFile())),
     "operator", "aten::from_file in FromFile.forward"),
    ("a custom operator in the code", lambda: edit(SCRIPTED, "/linear.py", sub(rb"torch\.linear\(",
                                                                             b"ops.evil.linear(")),
     "operator", "evil::linear"),
    ("a custom class", lambda: edit(SCRIPTED, "/linear.py", sub(rb"torch\.linear\(input, weight, bias\)",
                                                              b"torch.classes.evil.Box(input)")),
     "operator", "custom class evil.Box"),
    ("code that does not parse", lambda: edit(SCRIPTED, ".py", lambda d: d + b"\n  def (:\n"),
     "code", "does not parse"),
    ("bytes after the end record", lambda: SCRIPTED + b"\0" * 8, "zip", "no end record at the end"),
    ("bytes before the first entry", lambda: b"#!/bin/sh\n" + rezip(entries(SCRIPTED)), "zip", ""),
    ("two names that differ only in case", lambda: rezip(entries(SCRIPTED) + [(entries(SCRIPTED)[3][0].upper(),
                                                                                b"x")]),
     "zip", "names are looked up without case"),
    ("an encrypted entry", lambda: set_flags(SCRIPTED, 1), "zip", "flags 0x809 (encrypted"),
    ("an entry torch does not write", lambda: rezip(entries(SCRIPTED) + [(entries(SCRIPTED)[0][0].split("/")[0]
                                                                          + "/extra/payload.so", b"\x7fELF")]),
     "entry", "extra/payload.so"),
    ("a name outside the character set", lambda: rezip([(n.replace("data.pkl", "data .pkl"), d)
                                                        for n, d in entries(SCRIPTED)]),
     "zip", "outside [A-Za-z0-9_./-]"),
    ("not a zip at all", lambda: b"\x80\x02cposix\nsystem\n.", "zip", "not a zip archive"),
]


@pytest.mark.parametrize("what,make,reason,text", FORGED, ids=[f[0] for f in FORGED])
def test_forged_archives_are_refused(what, make, reason, text):
    refused(make(), reason, text)


def test_forged_tensor_files_are_refused():
    buf = io.BytesIO()
    torch.save({"x": torch.ones(4)}, buf)
    good = buf.getvalue()
    refused(edit(good, "/data.pkl", sub(rb"\x85", b"\x86")), "tensor", "with 5 arguments", tensors=True)
    refused(edit(good, "/data.pkl", sub(rb"ccollections\nOrderedDict\n", b"ctorch.nn\nModule\n")), "global",
            "global torch.nn.Module", tensors=True)
    refused(edit(good, "/data.pkl", sub(rb"K\x04\x85", b"K\x05\x85")), "tensor", "reaches element 4", tensors=True)


def test_every_file_operator_of_this_torch_is_refused():
    """The registry of the installed torch, walked: every operator with a
    string argument naming a file, and every one outside aten and prim,
    is refused by the allowlist."""
    schemas = oprules.schemas()
    files = [n for n, s in schemas.items() if oprules.takes_file(s)]
    assert "aten::from_file" in files and "aten::save" in files
    for name in files:
        assert not archive.operator_allowed(name), name
        assert archive.why_refused(name) == "it reads or writes files", name
    others = [n for n in schemas if n.split("::")[0] not in ("aten", "prim")]
    assert len(others) > 100
    assert not [n for n in others if archive.operator_allowed(n)]


def test_the_allowlist_agrees_with_its_rules():
    """No listed operator is one the rules of tools/operators.py refuse
    (a reviewed file, regenerated with --update)."""
    schemas = oprules.schemas()
    bad = [n for n in archive.allowlist() if not oprules.verdict(n, schemas.get(n))[0]]
    assert bad == []
    for op in ("aten::manual_seed", "aten::_nested_view_from_buffer", "prim::PythonOp", "prim::rpc_async",
               "profiler::_record_function_enter", "c10d::allreduce_"):
        assert not archive.operator_allowed(op), op
    for op in ("aten::linear", "aten::scaled_dot_product_attention", "aten::dropout", "prim::If", "prim::Loop"):
        assert archive.operator_allowed(op), op


def test_the_graph_walk_catches_what_the_code_scan_misses(monkeypatch):
    """With the code scan blinded, the archive passes the reader, and the
    walk of the compiled graphs (before any method runs) refuses it,
    naming the operator and the source line it came from."""
    buf = saved(torch.jit.script(FromFile()))
    monkeypatch.setattr(archive, "_check_name", lambda dotted, where: None)
    v = archive.verify(buf)
    with pytest.raises(archive.Refused) as e:
        v.module()
    assert e.value.reason == "operator"
    assert re.search(r"aten::from_file in __torch__\.\S*FromFile\.forward at test_archive\.py:\d+", str(e.value)), \
        str(e.value)


def fuzz(base, mutate, seconds, seed):
    """Mutants of BASE through MUTATE for SECONDS: the reader verifies or
    refuses each, and nothing else.  (count, refused)."""
    rnd = random.Random(seed)
    end, n, bad = time.monotonic() + seconds, 0, 0
    while time.monotonic() < end:
        buf = mutate(bytearray(base), rnd)
        try:
            archive.verify(bytes(buf))
        except archive.Refused:
            bad += 1
        n += 1
    return n, bad


def flip(buf, rnd):
    for _ in range(rnd.randint(1, 8)):
        if not buf:
            break
        op = rnd.random()
        i = rnd.randrange(len(buf))
        if op < 0.6:
            buf[i] = rnd.randrange(256)
        elif op < 0.8:
            del buf[i:i + rnd.randint(1, 64)]
        else:
            buf[i:i] = bytes(rnd.randrange(256) for _ in range(rnd.randint(1, 16)))
    return buf


def test_fuzz_the_zip_layer():
    n, bad = fuzz(SCRIPTED, flip, 2.0, 1)
    assert n > 200 and bad > n // 2


def test_fuzz_the_pickle_layer():
    """Mutated data.pkl and constants.pkl inside a well-formed zip: the
    pickle reader and the tensor checks meet the mutants."""
    items = entries(SCRIPTED)

    def mutate(_, rnd):
        name = rnd.choice([n for n, _ in items if n.endswith(".pkl")])
        return bytearray(rezip([(n, bytes(flip(bytearray(d), rnd)) if n == name else d) for n, d in items]))
    n, bad = fuzz(SCRIPTED, mutate, 2.0, 2)
    assert n > 100 and bad > n // 3


# ---- .npy, read and written without numpy (issue 30) ------------------------

def _client_save_npy():
    """The client's writer (aegis_sandbox.executor._save_npy), without
    importing the client (it starts nothing, but wants the program)."""
    src = open(os.path.join(TOP, "pyhelpers", "aegis_sandbox", "executor.py")).read()
    ns = {"Any": object}
    exec(compile(src[src.index("_NPY_DESCR ="):src.index("# ---- training")], "executor.py", "exec"), ns)
    return ns["_save_npy"]


@pytest.mark.parametrize("t", [torch.randn(2, 100), torch.randint(0, 1000, (3, 7)), torch.arange(5),
                               torch.zeros(0, 3), torch.tensor(3.5), torch.rand(2, 3) > 0.5,
                               torch.randn(4, 5).half(), torch.randint(0, 255, (6,), dtype=torch.uint8)])
def test_npy_round_trip(tmp_path, t):
    from aegis_job.inputs import read_npy
    path = str(tmp_path / "t.npy")
    _client_save_npy()(path, t)
    got = read_npy(open(path, "rb").read(), "t.npy")
    assert got.dtype == t.dtype and got.shape == t.shape and torch.equal(got, t)
    np = pytest.importorskip("numpy")  # and numpy agrees, where it is installed
    assert np.array_equal(np.load(path, allow_pickle=False), t.numpy())


def _npy(header, body=b""):
    h = header.encode("latin-1")
    return b"\x93NUMPY\x01\x00" + len(h).to_bytes(2, "little") + h + body


@pytest.mark.parametrize("data, why", [
    (b"PK\x03\x04", "is not a .npy file"),
    (_npy("{'descr': '|O', 'fortran_order': False, 'shape': (2,), }\n", b"\0" * 16), "dtype '|O'"),
    (_npy("__import__('os').system('x')"), "not a literal dict"),
    (_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }\n", b"\0" * 8),
     "8 data bytes for shape (4,), not 16"),
    (_npy("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }\n", b"\0" * 8), "dtype '>f4'"),
    (_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }\n"), "not a tuple of sizes"),
])
def test_npy_refused(data, why):
    from aegis_job.inputs import read_npy
    with pytest.raises(ValueError, match=re.escape(why)):
        read_npy(data, "x.npy")
