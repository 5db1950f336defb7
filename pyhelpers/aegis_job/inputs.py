"""Test inputs built from a parsed input spec (parsed in C, see inputspec.c)."""

import torch

SEED = 0


def seed(n):
    """Seed torch's CPU generator: what torch.manual_seed does on a machine
    without CUDA, minus its lazy CUDA bookkeeping, which records a Python
    stack trace per call (about a millisecond, and a list that grows with
    every call: a hundred training steps paid for it a hundred times)."""
    torch.default_generator.manual_seed(n)


def make(spec, seed=SEED):
    """Return the input tensor for SPEC, reproducibly from SEED."""
    g = torch.Generator().manual_seed(seed)
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


def load_file(path, fmt):
    """Load a tensor file without unpickling arbitrary objects."""
    if fmt == "npy":
        import numpy
        arr = numpy.load(path, allow_pickle=False)
        return torch.from_numpy(numpy.ascontiguousarray(arr))
    t = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(t, torch.Tensor):
        raise ValueError("%s does not hold a single tensor" % (path,))
    return t


def vocab_of(spec, x):
    """Vocabulary size for token inputs, else None."""
    if spec["kind"] == "tokens":
        return int(spec["vocab"])
    if not x.is_floating_point() and x.numel():
        return int(x.max()) + 1
    return None


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
