"""The operator allowlist of the archive verifier, derived from the
installed torch's operator schemas (pyhelpers/aegis_job/operators.allow).

  python3 tools/operators.py --update   add the operators of this torch
                                        that the rules below let through
  python3 tools/operators.py --check    exit 1 if the file holds an
                                        operator the rules refuse; list
                                        this torch's operators that pass
                                        the rules but are not reviewed yet
                                        (they stay refused until added)
  python3 tools/operators.py --explain OP
                                        why OP is refused or allowed

What an archive may run is a pure computation on tensors and the values
TorchScript works with (numbers, strings, lists, dicts, tuples, objects of
its own classes).  The rules, in order; the first that matches decides:

 1. only the namespaces aten and prim: every other one (custom operators,
    quantized and backend kernels, c10d's network collectives, profiler,
    static_runtime, inductor...) is refused;
 2. aten: an operator with a string argument naming a file, and
    from_file/save, is refused (files);
 3. aten: RNG seeding and reading (seed, manual_seed, initial_seed) is
    refused (global RNG state: drawing from it, as dropout does, is fine);
 4. aten: device and backend kernels (CUDA, cuDNN, MIOpen, MPS, MKL-DNN,
    Vulkan, XPU, FBGEMM, NNPACK...), pinned memory and stream
    recording are refused (allocator and device state; none runs on the
    CPU path a model is validated on);
 5. aten: nested-tensor buffers, unsafe sparse constructors and unchecked
    index kernels are refused (they take offsets or indices into memory
    that no check covers);
 6. aten: test operators are refused;
 7. prim: the node kinds of a saved TorchScript graph (PRIM_NODES), each
    reviewed; everything else in prim (Python ops, RPC, fusion groups and
    guards of the optimiser, object ids) is refused;
 8. everything else in aten is allowed.

The file is the union over the torches the project supports (1.13 and
2.x): an operator of a newer torch is refused until --update adds it and
a person reviews the diff.
"""

import argparse
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ALLOW = os.path.join(HERE, "..", "pyhelpers", "aegis_job", "operators.allow")

FILE_ARG = re.compile(r"^(filename|file_name|path|filepath|file|fname|f)$")

DENY_ATEN = (
    (r"^aten::(from_file|save|load)$", "reads or writes files"),
    (r"^aten::(seed|initial_seed|manual_seed)$", "global RNG state"),
    (r"cuda|cudnn|miopen|mps|mkldnn|vulkan|xpu|fbgemm|nnpack|xnnpack|metal|mtia|maia|_ipu|xla"
     r"|onednn|_mkl|cufft|_cslt|_cusparselt|_flash_attention|_efficient_attention",
     "a device or backend kernel"),
    (r"^aten::(_?pin_memory|is_pinned|record_stream)$", "allocator or device state"),
    (r"^aten::(_nested_|nested_)", "nested-tensor buffers laid out by unchecked offsets"),
    (r"^aten::_sparse_\w*_unsafe$", "unchecked sparse indices"),
    (r"^aten::_unsafe_(index|index_put|masked_index\w*)$", "unchecked indices"),
    (r"^aten::_test_", "a test operator"),
)

# prim node kinds that a saved graph holds, reviewed one by one
PRIM_NODES = (
    # values and control flow
    "prim::Constant", "prim::If", "prim::Loop", "prim::RaiseException", "prim::Uninitialized",
    "prim::unchecked_cast", "prim::unchecked_unwrap_optional", "prim::isinstance", "prim::IfThenElse",
    # containers
    "prim::ListConstruct", "prim::ListUnpack", "prim::TupleConstruct", "prim::TupleUnpack",
    "prim::TupleIndex", "prim::TupleSlice", "prim::DictConstruct", "prim::DictIndex", "prim::tolist",
    "prim::StringIndex", "prim::rangelist", "prim::index", "prim::ModuleContainerIndex",
    "prim::VarConcat", "prim::VarStack",
    # objects of the archive's own classes, their attributes and methods
    # (every method compiled into the archive is walked too)
    "prim::CreateObject", "prim::GetAttr", "prim::SetAttr", "prim::CallMethod", "prim::CallFunction",
    "prim::Enter", "prim::Exit", "prim::EnumName", "prim::EnumValue", "prim::type", "prim::name",
    # tensor and scalar properties
    "prim::NumToTensor", "prim::abs", "prim::min", "prim::max", "prim::device", "prim::dtype",
    "prim::layout", "prim::requires_grad", "prim::data", "prim::grad", "prim::itemsize", "prim::nbytes",
    "prim::is_cpu", "prim::is_cuda", "prim::is_meta", "prim::is_mkldnn", "prim::is_mps", "prim::is_nested",
    "prim::is_quantized", "prim::is_sparse", "prim::is_sparse_csr", "prim::is_vulkan", "prim::is_xla",
    "prim::is_xpu", "prim::is_ipu", "prim::is_maia", "prim::is_mtia", "prim::is_ort",
    "prim::add_optional", "prim::infer_squeeze_size", "prim::infer_unsqueeze_size",
    "prim::expand_as_copy", "prim::expand_copy", "prim::flatten_copy", "prim::reshape_copy",
    "prim::squeeze_copy", "prim::unsqueeze_copy", "prim::view_copy",
    # output, and parallel work inside the process (the subgraph is walked)
    "prim::Print", "prim::fork", "prim::awaitable", "prim::awaitable_nowait", "prim::awaitable_wait",
)


def schemas():
    import torch
    out = {}
    for s in torch._C._jit_get_all_schemas():
        out.setdefault(s.name, []).append(s)
    return out


def takes_file(sch):
    return any(FILE_ARG.match(a.name) and "str" in str(a.type) for s in sch for a in s.arguments)


def verdict(name, sch=None):
    """(allowed, why) by the rules of this file's doc."""
    ns = name.split("::", 1)[0]
    if ns == "prim":
        return (True, "a reviewed prim node kind") if name in PRIM_NODES else \
            (False, "a prim node kind that is not reviewed")
    if ns != "aten":
        return False, "namespace %s" % ns
    if sch and takes_file(sch):
        return False, "takes a file name"
    for pat, why in DENY_ATEN:
        if re.search(pat, name):
            return False, why
    return True, "a pure aten operator"


def read_allow():
    names = []
    with open(ALLOW, encoding="utf-8") as f:
        for ln in f:
            ln = ln.split("#", 1)[0].strip()
            if ln:
                names.append(ln)
    return names


HEADER = """\
# The operators an archive may run: one 'namespace::name' per line.
# Written by tools/operators.py --update from the installed torch's
# schemas under the rules in that file's doc, as the union over the
# torches the project supports; reviewed in every diff.  An operator not
# listed here is refused with its name and its source line.
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--update", action="store_true")
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--explain")
    a = ap.parse_args()
    sch = schemas()
    if a.explain:
        ok, why = verdict(a.explain, sch.get(a.explain))
        listed = a.explain in set(read_allow()) if os.path.exists(ALLOW) else False
        print("%s: %s by the rules (%s); %s the allowlist" % (a.explain, "allowed" if ok else "refused", why,
                                                             "in" if listed else "not in"))
        return 0
    current = set(read_allow()) if os.path.exists(ALLOW) else set()
    passing = {n for n in sch if verdict(n, sch[n])[0]} | set(PRIM_NODES)
    bad = sorted(n for n in current if not verdict(n, sch.get(n))[0])
    if a.update:
        names = sorted((current - set(bad)) | passing)
        with open(ALLOW, "w", encoding="utf-8") as f:
            f.write(HEADER)
            for n in names:
                f.write(n + "\n")
        print("%d operators (%d new from this torch, %d removed by the rules)"
              % (len(names), len(passing - current), len(bad)))
        return 0
    if bad:
        for n in bad:
            print("refused by the rules but listed: %s (%s)" % (n, verdict(n, sch.get(n))[1]))
        return 1
    new = sorted(passing - current)
    if new:
        print("%d operators of this torch pass the rules but are not reviewed (refused until added): %s"
              % (len(new), " ".join(new[:40])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
