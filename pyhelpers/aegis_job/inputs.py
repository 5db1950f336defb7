"""Test inputs built from a parsed input spec (parsed in C, see inputspec.c)."""

import dataclasses
import os
import zlib

import torch

SEED = 0


_DRAWN = {}
# The build child sets this: there the seed of a label is the label's own
# number, as it always was.  The build child is the candidate's process
# (nothing in it is hidden from the candidate), and fixed values keep the
# archive-fidelity comparison of a model with a value-dependent branch
# deterministic.  The validate child draws.
FIXED = False


def drawn(label):
    """The seed for LABEL (0, 1, a step number...) in this process: a
    full-entropy 64-bit value drawn the first time LABEL is asked for.
    The same label gives the same draws within one job child (two calls
    that must see the same dropout masks), but no value is a constant or
    a small integer a model could recognise the probe by (issue 29).  The
    table is empty in the zygote: each child draws its own.  Under FIXED
    (the build child) the label's own number."""
    if FIXED:
        n = label[-1] if isinstance(label, tuple) else label
        return n if isinstance(n, int) else zlib.crc32(repr(label).encode())
    v = _DRAWN.get(label)
    if v is None:
        v = _DRAWN[label] = int.from_bytes(os.urandom(8), "little")
    return v


def seed(n):
    """Seed torch's CPU generator with drawn(N): what torch.manual_seed
    does on a machine without CUDA, minus its lazy CUDA bookkeeping, which
    records a Python stack trace per call (about a millisecond, and a list
    that grows with every call: a hundred training steps paid for it a
    hundred times)."""
    torch.default_generator.manual_seed(drawn(n))


def make(spec, seed=SEED):
    """Return the input tensor for SPEC, the same for the same SEED label
    within this process (from drawn(SEED))."""
    g = torch.Generator().manual_seed(drawn(("input", seed)))
    kind = spec["kind"]
    shape = tuple(int(d) for d in spec.get("shape", []))
    if kind == "tokens":
        return torch.randint(0, int(spec["vocab"]), shape, generator=g,
                             dtype=torch.long)
    if kind == "float":
        return torch.randn(shape, generator=g)
    if kind == "file":
        return load_file(spec["file"], spec["format"])
    raise ValueError("unknown input kind %r" % (kind,))


def other_shape(spec, max_batch=6, rng=None):
    """SPEC with another batch size and, for token input, another sequence
    length, both drawn (from os.urandom) per run: batch in 1..MAX_BATCH,
    length in 2..twice the test's, neither the test input's own (issue 29:
    a fixed (batch + 1, length - 3) was a shape a model could single out).
    The archive-fidelity input: a trace that froze the test input's shape
    into its graph (a view(2, 20, ...)) shows there.  None for a file
    input, which has one shape."""
    import random
    rng = rng or random.SystemRandom()
    if spec["kind"] not in ("tokens", "float") or not spec.get("shape"):
        return None
    shape = [int(d) for d in spec["shape"]]
    b = shape[0]
    shape[0] = rng.choice([n for n in range(1, max(int(max_batch), b + 1) + 1) if n != b])
    if spec["kind"] == "tokens" and len(shape) >= 2:
        t = shape[1]
        shape[1] = rng.choice([n for n in range(2, max(2 * t, 3) + 1) if n != t])
    return dict(spec, shape=shape)


# .npy's little-endian dtypes and torch's (numpy is optional: pip's torch
# does not pull it in, issue 30); the client writes the same table
# (aegis_sandbox.executor._save_npy)
NPY_DTYPES = {"<f2": torch.float16, "<f4": torch.float32, "<f8": torch.float64, "|i1": torch.int8,
              "|u1": torch.uint8, "<i2": torch.int16, "<i4": torch.int32, "<i8": torch.int64,
              "|b1": torch.bool}


def read_npy(data, name):
    """The tensor in DATA, the bytes of a .npy file (format 1.0-3.0), read
    without numpy and without unpickling: a header that is a literal dict,
    a plain dtype, and exactly the bytes its shape needs."""
    import ast
    import struct
    if data[:6] != b"\x93NUMPY" or len(data) < 10:
        raise ValueError("%s is not a .npy file" % name)
    major = data[6]
    if major == 1:
        (hlen,), start = struct.unpack("<H", data[8:10]), 10
    elif major in (2, 3) and len(data) >= 12:
        (hlen,), start = struct.unpack("<I", data[8:12]), 12
    else:
        raise ValueError("%s: .npy format version %d is not read" % (name, major))
    try:
        header = ast.literal_eval(data[start:start + hlen].decode("latin-1" if major < 3 else "utf-8"))
    except (ValueError, SyntaxError, UnicodeDecodeError):
        raise ValueError("%s: the .npy header is not a literal dict" % name) from None
    if not isinstance(header, dict) or set(header) != {"descr", "fortran_order", "shape"}:
        raise ValueError("%s: the .npy header holds %r" % (name, header))
    descr, shape = header["descr"], header["shape"]
    descr = {"=": "<"}.get(descr[:1], descr[:1]) + descr[1:] if isinstance(descr, str) else descr
    if descr not in NPY_DTYPES:
        raise ValueError("%s: dtype %r is not read (little-endian numbers and bool only; no "
                         "objects, no pickles)" % (name, header["descr"]))
    if not (isinstance(shape, tuple) and all(isinstance(d, int) and d >= 0 for d in shape)):
        raise ValueError("%s: the .npy shape %r is not a tuple of sizes" % (name, shape))
    dtype = NPY_DTYPES[descr]
    count = 1
    for d in shape:
        count *= d
    body = data[start + hlen:]
    need = count * torch.empty((), dtype=dtype).element_size()
    if len(body) != need:
        raise ValueError("%s: %d data bytes for shape %s, not %d" % (name, len(body), shape, need))
    flat = torch.frombuffer(bytearray(body), dtype=dtype) if count else torch.empty(0, dtype=dtype)
    if header["fortran_order"] is True:
        return flat.reshape(tuple(reversed(shape))).permute(*reversed(range(len(shape)))).contiguous()
    if header["fortran_order"] is not False:
        raise ValueError("%s: fortran_order is %r" % (name, header["fortran_order"]))
    return flat.reshape(shape)


def load_file(path, fmt):
    """Load a tensor file without unpickling arbitrary objects: .npy
    without pickles, .pt read by our own reader first (archive.py: the
    zip, a pickle of tensors and containers only, every tensor record
    inside its storage) and loaded from those bytes."""
    if fmt == "npy":
        with open(path, "rb") as f:
            return read_npy(f.read(), path)
    from aegis_job import archive
    t = archive.load_tensors(archive.read_file(path), os.path.basename(path))
    if not isinstance(t, torch.Tensor):
        raise ValueError("%s does not hold a single tensor" % (path,))
    return t


# the layer kinds whose shape says what the model takes, by class name (an
# nn.Module's type, a TorchScript module's original_name)
_CONV_SIZE = {"Conv1d": (64,), "Conv2d": (32, 32), "Conv3d": (8, 16, 16)}
_NORM_SIZE = {"BatchNorm1d": (), "BatchNorm2d": (32, 32), "BatchNorm3d": (8, 16, 16)}


def _kind(module):
    return getattr(module, "original_name", None) or type(module).__name__


def resolve(spec, model):
    """A concrete spec for SPEC: itself, or for "auto" one read from MODEL's
    first submodule with a weight (registration order): the same answer
    for the eager model and for its TorchScript archive, so the build and
    the validate child agree without either taking the other's word.  The
    model is never changed to fit an input."""
    if spec["kind"] != "auto":
        return spec
    # Only weights' shapes are read: an archive keeps its parameters but
    # not its modules' other attributes (in_channels, batch_first), and
    # both children must reach the same answer.
    for _name, m in model.named_modules():
        kind = _kind(m)
        w = getattr(m, "weight_ih_l0" if kind in ("LSTM", "GRU", "RNN") else "weight", None)
        if not isinstance(w, torch.Tensor) or w.dim() == 0:
            continue
        if kind == "Embedding" or kind == "EmbeddingBag":
            return {"kind": "tokens", "shape": [2, 20], "vocab": int(w.shape[0])}
        if kind == "Linear" or kind == "LazyLinear":
            return {"kind": "float", "shape": [2, int(w.shape[1])]}
        if kind in _CONV_SIZE:
            return {"kind": "float", "shape": [2, int(w.shape[1])] + list(_CONV_SIZE[kind])}
        if kind in ("LSTM", "GRU", "RNN"):
            return {"kind": "float", "shape": [2, 20, int(w.shape[-1])]}
        if kind == "LayerNorm":
            return {"kind": "float", "shape": [2, 20] + [int(d) for d in w.shape]}
        if kind in _NORM_SIZE:
            return {"kind": "float", "shape": [2, int(w.shape[0])] + list(_NORM_SIZE[kind])}
        break  # the first layer with a weight decides, or nothing does
    return dict(spec["fallback"])


def describe(spec):
    """SPEC as the command line writes it (tokens:2x20:1000, float:2x100)."""
    dims = "x".join(str(int(d)) for d in spec.get("shape", []))
    if spec["kind"] == "tokens":
        return "tokens:%s:%d" % (dims, int(spec["vocab"]))
    if spec["kind"] == "float":
        return "float:" + dims
    return spec["kind"]


def vocab_of(spec, x):
    """Vocabulary size for token inputs, else None."""
    if spec["kind"] == "tokens":
        return int(spec["vocab"])
    if not x.is_floating_point() and x.numel():
        return int(x.max()) + 1
    return None


def tensors(out):
    """Every tensor in OUT (a tensor, or tuples, lists, dicts and
    dataclasses of them), depth-first in their own order, as first_tensor
    walks them; other values (None, numbers) are left out."""
    if isinstance(out, torch.Tensor):
        return [out]
    if isinstance(out, dict):
        return [t for v in out.values() for t in tensors(v)]
    if isinstance(out, (list, tuple)):
        return [t for item in out for t in tensors(item)]
    if dataclasses.is_dataclass(out) and not isinstance(out, type):
        return [t for f in dataclasses.fields(out) for t in tensors(getattr(out, f.name))]
    return []


def first_tensor(out):
    """The primary output: a tensor, or the first tensor inside a tuple,
    list or dict (depth-first); None when there is none."""
    if isinstance(out, torch.Tensor):
        return out
    if isinstance(out, dict):
        out = list(out.values())
    if isinstance(out, (list, tuple)):
        for item in out:
            t = first_tensor(item)
            if t is not None:
                return t
    return None
