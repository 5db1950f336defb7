"""Our own reader of candidate-made archives: no loader sees bytes that
were not read here first (doc/security.md, "The handoff").

A TorchScript archive is code: methods compiled at load, __setstate__
run during the load, tensor records that torch 1.13 rebuilds without a
bounds check.  So before torch.jit.load (or torch.load) is called on
candidate-made bytes, this module parses them with readers of its own,
written against this grammar, and refuses anything outside it:

  archive  := zip whose every byte is accounted for: local entries back to
              back from offset 0, the central directory right after them,
              then (the zip64 end record and its locator, as torch writes
              them) and the end record, with no comment
  entry    := stored or deflated, not encrypted, CRC-checked, sizes that
              agree between the local header, its data descriptor and the
              central directory; names unique even without case (torch's
              reader looks them up without it), all under one folder, from
              [A-Za-z0-9_./-]
  torchscript := data.pkl constants.pkl .data/version [byteorder]
              [.data/serialization_id] code/__torch__/**.py[.debug_pkl]
              data/<n>* constants/<n>*
  tensors  := data.pkl data/<n>* version [.format_version]
              [.storage_alignment] [byteorder] [.data/serialization_id]
              (what torch.save writes)
  pickle   := protocol 2 opcodes from a fixed set; every global from a
              fixed list for the file's kind (PICKLE_GLOBALS)
  tensor   := _rebuild_tensor_v2(storage, offset, sizes, strides,
              requires_grad, OrderedDict()) with storage the persistent
              id ('storage', torch.<T>Storage, key, location, numel) of a
              record that holds exactly numel elements of T; offset >= 0,
              sizes and strides >= 0, every element inside the storage
  code     := Python syntax; no __setstate__ (it runs during the load);
              every operator it names, and after the import every node of
              every compiled function (modules' methods, classes' methods,
              free functions, fork subgraphs), on the operator allowlist
              (operators.allow beside this file)

Only load() and load_tensors() call a loader, and only on bytes verify()
passed.  Refused carries the reason ("zip", "entry", "pickle", "global",
"tensor", "code", "setstate", "operator") and where.

This runs in confined job children (the validate child, and the build
child, whose word counts for nothing), so a bug here is still inside the
kernel's walls; what it adds is that the loader itself never meets a
crafted record.
"""

import ast
import hashlib
import io
import os
import re
import stat
import struct
import time
import zlib

VERIFIER = "aegis-archive/1"
MAX_ENTRIES = 100000
MAX_INFLATED = 256 << 20  # all deflated entries together, once inflated
MAX_INT = 1 << 62  # sizes, strides, offsets, element counts


class Refused(Exception):
    """The archive is outside the grammar.  REASON is one word (see the
    module's doc), WHERE names the entry, line or function."""

    def __init__(self, reason, message, where=None):
        super().__init__(message)
        self.reason, self.where = reason, where

    def __str__(self):
        msg = super().__str__()
        return "%s: %s" % (self.where, msg) if self.where else msg

    def as_error(self):
        return {"type": "ArchiveRefused", "reason": self.reason,
                "message": "archive refused before any load (%s): %s" % (self.reason, self), "line": None}


# ---- zip ---------------------------------------------------------------------

_NAME = re.compile(r"^[A-Za-z0-9_.\-]+(/[A-Za-z0-9_.\-]+)*$")
_PAYLOAD = re.compile(r"^[^/]+/(data|constants)/\d+$")
_EOCD = struct.Struct("<IHHHHIIH")
_Z64_LOC = struct.Struct("<IIQI")
_Z64_EOCD = struct.Struct("<IQHHIIQQQQ")
_CDIR = struct.Struct("<IHHHHHHIIIHHHHHII")
_LOCAL = struct.Struct("<IHHHHHIIIHH")
_FLAGS_OK = 0x0008 | 0x0800  # a data descriptor follows; names are UTF-8


def _u(buf, st, off, what):
    if off < 0 or off + st.size > len(buf):
        raise Refused("zip", "%s at %d runs past the end of the file" % (what, off))
    return st.unpack_from(buf, off)


def read_zip(buf):
    """{name: bytes} of the zip in BUF, read by the grammar above."""
    n = len(buf)
    if n < _EOCD.size:
        raise Refused("zip", "%d bytes: not a zip archive" % n)
    eocd = n - _EOCD.size
    sig, disk, cd_disk, n_disk, n_total, cd_size, cd_off, comment = _EOCD.unpack_from(buf, eocd)
    if sig != 0x06054B50:
        raise Refused("zip", "no end record at the end of the file (a comment or trailing bytes)")
    if disk or cd_disk or comment or n_disk != n_total:
        raise Refused("zip", "a multi-disk archive or one with a comment")
    end_of_cd = eocd
    if eocd >= _Z64_LOC.size and struct.unpack_from("<I", buf, eocd - _Z64_LOC.size)[0] == 0x07064B50:
        loc = eocd - _Z64_LOC.size
        _, z_disk, z_off, z_disks = _Z64_LOC.unpack_from(buf, loc)
        if z_disk != 0 or z_disks != 1:
            raise Refused("zip", "a multi-disk zip64 archive")
        (zsig, zlen, _, _, zd, zcd, zn_disk, zn_total, zcd_size, zcd_off) = _u(buf, _Z64_EOCD, z_off,
                                                                             "the zip64 end record")
        if zsig != 0x06064B50 or z_off + 12 + zlen != loc or zlen != _Z64_EOCD.size - 12:
            raise Refused("zip", "the zip64 end record is not right before its locator")
        if zd or zcd or zn_disk != zn_total:
            raise Refused("zip", "a multi-disk zip64 archive")
        for small, big, what in ((n_total, zn_total, "entry count"), (cd_size, zcd_size, "directory size"),
                                 (cd_off, zcd_off, "directory offset")):
            if small not in (0xFFFF, 0xFFFFFFFF) and small != big:
                raise Refused("zip", "the end records disagree on the %s" % what)
        n_total, cd_size, cd_off, end_of_cd = zn_total, zcd_size, zcd_off, z_off
    if n_total > MAX_ENTRIES:
        raise Refused("zip", "%d entries (at most %d)" % (n_total, MAX_ENTRIES))
    if cd_off + cd_size != end_of_cd:
        raise Refused("zip", "bytes between the central directory and the end records")
    entries, off, seen = [], cd_off, {}
    for _ in range(n_total):
        (sig, _, _, flags, method, _, _, crc, csize, usize, nlen, xlen, clen, dstart, _, _,
         lofs) = _u(buf, _CDIR, off, "a directory entry")
        if sig != 0x02014B50:
            raise Refused("zip", "a damaged central directory at offset %d" % off)
        raw = bytes(buf[off + _CDIR.size:off + _CDIR.size + nlen])
        off += _CDIR.size + nlen + xlen + clen
        try:
            name = raw.decode("ascii")
        except UnicodeDecodeError:
            raise Refused("zip", "an entry name that is not ASCII: %r" % raw[:80]) from None
        if not _NAME.match(name) or ".." in name.split("/"):
            raise Refused("zip", "an entry name outside [A-Za-z0-9_./-]: %r" % name[:200])
        if flags & ~_FLAGS_OK:
            raise Refused("zip", "flags 0x%x (encrypted, or a feature torch does not write)" % flags, name)
        if method not in (0, 8) or (method == 0 and csize != usize):
            raise Refused("zip", "compression method %d" % method, name)
        if dstart or clen or 0xFFFFFFFF in (csize, usize, lofs):
            raise Refused("zip", "a field torch does not write (zip64 sizes, a comment, a disk)", name)
        if name.lower() in seen:
            raise Refused("zip", "a second entry named %r (names are looked up without case)" % name)
        seen[name.lower()] = True
        entries.append((lofs, name, flags, method, crc, csize, usize))
    if off != end_of_cd:
        raise Refused("zip", "the central directory's size does not match its entries")
    files, pos, inflated = {}, 0, 0
    for lofs, name, flags, method, crc, csize, usize in sorted(entries):
        if lofs != pos:
            raise Refused("zip", "%d bytes before the entry, not part of any entry" % (lofs - pos)
                          if lofs > pos else "the entry overlaps the one before it", name)
        sig, _, lflags, lmethod, _, _, lcrc, lcsize, lusize, nlen, xlen = _u(buf, _LOCAL, lofs, "a local header")
        if sig != 0x04034B50 or bytes(buf[lofs + _LOCAL.size:lofs + _LOCAL.size + nlen]) != name.encode():
            raise Refused("zip", "the local header does not name the entry", name)
        if lflags != flags or lmethod != method:
            raise Refused("zip", "the local header and the directory disagree", name)
        if not (lcrc, lcsize, lusize) == (crc, csize, usize) and \
                not (flags & 0x0008 and (lcrc, lcsize, lusize) == (0, 0, 0)):
            raise Refused("zip", "the local header and the directory disagree on sizes", name)
        start = lofs + _LOCAL.size + nlen + xlen
        end = start + csize
        if end > cd_off:
            raise Refused("zip", "the entry's data runs into the central directory", name)
        pos = end
        if flags & 0x0008:
            pos = _descriptor(buf, end, cd_off, crc, csize, usize, name)
        data = buf[start:end]
        if method == 0 and _PAYLOAD.match(name):
            # a tensor storage: only its length is read here, and torch
            # reads these same bytes; no copy, no CRC (6.7 MB: 3 ms)
            files[name] = data
            continue
        data = bytes(data)
        if method == 8:
            inflated += usize
            if inflated > MAX_INFLATED:
                raise Refused("zip", "more than %d bytes once inflated" % MAX_INFLATED, name)
            d = zlib.decompressobj(-15)
            try:
                data = d.decompress(data, usize + 1)
            except zlib.error as e:
                raise Refused("zip", "bad deflate data (%s)" % e, name) from None
            if len(data) != usize or not d.eof or d.unused_data or d.unconsumed_tail:
                raise Refused("zip", "the deflate stream is not exactly the entry", name)
        if zlib.crc32(data) & 0xFFFFFFFF != crc:
            raise Refused("zip", "CRC mismatch", name)
        files[name] = data
    if pos != cd_off:
        raise Refused("zip", "%d bytes between the last entry and the central directory" % (cd_off - pos))
    return files


def _descriptor(buf, at, limit, crc, csize, usize, name):
    """The end of the data descriptor at AT (with or without its
    signature, 32- or 64-bit sizes), which must repeat the directory's."""
    for layout in ("<IIII", "<IIQQ", "<III", "<IQQ"):
        st = struct.Struct(layout)
        if at + st.size > limit:
            continue
        v = st.unpack_from(buf, at)
        if len(v) == 4:
            if v[0] != 0x08074B50:
                continue
            v = v[1:]
        if v == (crc, csize, usize):
            return at + st.size
    raise Refused("zip", "no data descriptor that matches the directory", name)


# ---- pickle ------------------------------------------------------------------

class Global:
    __slots__ = ("module", "name")

    def __init__(self, module, name):
        self.module, self.name = module, name

    def __repr__(self):
        return "%s.%s" % (self.module, self.name)


class Obj:
    """An instance of a TorchScript class: the class, and its state."""
    __slots__ = ("cls", "state")

    def __init__(self, cls):
        self.cls, self.state = cls, None


class Storage:
    __slots__ = ("dtype", "key", "numel")

    def __init__(self, dtype, key, numel):
        self.dtype, self.key, self.numel = dtype, key, numel


class Tensor:
    __slots__ = ("storage", "offset", "sizes", "strides")

    def __init__(self, storage, offset, sizes, strides):
        self.storage, self.offset, self.sizes, self.strides = storage, offset, sizes, strides


class _Hooks(dict):
    """An OrderedDict() rebuilt by the pickle (a tensor's backward hooks
    are one, and must stay empty)."""


# torch.<T>Storage: bytes per element
STORAGES = {
    "FloatStorage": 4, "DoubleStorage": 8, "HalfStorage": 2, "BFloat16Storage": 2,
    "LongStorage": 8, "IntStorage": 4, "ShortStorage": 2, "CharStorage": 1, "ByteStorage": 1,
    "BoolStorage": 1, "ComplexFloatStorage": 8, "ComplexDoubleStorage": 16, "ComplexHalfStorage": 4,
    "Float8_e4m3fnStorage": 1, "Float8_e5m2Storage": 1, "UInt16Storage": 2, "UInt32Storage": 4,
    "UInt64Storage": 8,
}

# The globals a pickle of each kind may name.  "code" means a class that the
# archive's own code defines (a TorchScript module or class); its methods
# were compiled from that code, and __setstate__ is refused in it.
PICKLE_GLOBALS = {
    "torchscript": {"torch._utils._rebuild_tensor_v2", "collections.OrderedDict",
                    "torch.jit._pickle.build_intlist", "torch.jit._pickle.build_doublelist",
                    "torch.jit._pickle.build_boollist", "torch.jit._pickle.build_tensorlist",
                    "torch.jit._pickle.restore_type_tag"},
    "debug": {"torch.jit._pickle.build_intlist"},
    "tensors": {"torch._utils._rebuild_tensor_v2", "collections.OrderedDict",
                "torch._utils._rebuild_parameter"},
}

_OPS = {}

# The opcodes torch's own C++ unpickler (the one torch.jit.load uses) reads:
# a TorchScript pickle holds these and nothing else (a reader that accepts
# more than the loader would judge a different file than the one loaded).
# torch.save files go through Python's unpickler and may use all of _OPS.
TS_OPCODES = frozenset(b"\x80.c" + b"qrhj(" + b")t\x85\x86\x87" + b"]e}u" + b"N\x88\x89" + b"JKM\x8a" + b"GX"
                       + b"QR\x81b")


def _op(code):
    def deco(f):
        _OPS[code] = f
        return f
    return deco


class _Unpickler:
    """A pickle machine that builds plain values, Global, Obj, Storage and
    Tensor, and never imports or calls anything."""

    def __init__(self, data, kind, where, classes):
        self.data, self.pos, self.kind, self.where = data, 0, kind, where
        self.allowed, self.classes = PICKLE_GLOBALS[kind], classes
        self.opcodes = TS_OPCODES if kind in ("torchscript", "debug") else None
        self.stack, self.marks, self.memo = [], [], {}
        self.tensors, self.objects = [], []

    def refuse(self, msg, reason="pickle"):
        raise Refused(reason, "%s (at byte %d)" % (msg, self.pos), self.where)

    def take(self, n):
        if n < 0 or self.pos + n > len(self.data):
            self.refuse("truncated")
        b = self.data[self.pos:self.pos + n]
        self.pos += n
        return b

    def line(self):
        end = self.data.find(b"\n", self.pos, self.pos + 256)
        if end < 0:
            self.refuse("a GLOBAL line without its end")
        s = self.data[self.pos:end]
        self.pos = end + 1
        try:
            return s.decode("ascii")
        except UnicodeDecodeError:
            self.refuse("a GLOBAL that is not ASCII")

    def pop(self):
        if not self.stack or (self.marks and len(self.stack) <= self.marks[-1]):
            self.refuse("stack underflow")
        return self.stack.pop()

    def pop_mark(self):
        if not self.marks:
            self.refuse("no MARK")
        m = self.marks.pop()
        items = self.stack[m:]
        del self.stack[m:]
        return items

    def run(self):
        while True:
            if self.pos >= len(self.data):
                self.refuse("no STOP")
            code = self.data[self.pos]
            self.pos += 1
            f = _OPS.get(code)
            if f is None or (self.opcodes is not None and code not in self.opcodes):
                self.refuse("opcode %r is not one torch writes" % bytes([code]))
            if self.pos == 1 and code != 0x80 and self.opcodes is not None:
                self.refuse("no PROTO 2 at the start")
            if f(self) is _STOP:
                if self.pos != len(self.data):
                    self.refuse("bytes after STOP")
                if len(self.stack) != 1 or self.marks:
                    self.refuse("the stack is not one value at STOP")
                return self.stack[0]
            if len(self.stack) > 100000 or len(self.memo) > 10000000:
                self.refuse("too deep")

    def global_(self, module, name):
        full = "%s.%s" % (module, name)
        if module == "torch" and name in STORAGES and self.kind != "debug":
            return Global(module, name)
        if full in self.allowed:
            return Global(module, name)
        if self.kind == "torchscript" and module.startswith("__torch__") and full in self.classes:
            return Global(module, name)
        if self.kind == "torchscript" and module.startswith("__torch__"):
            self.refuse("class %s is not defined by the archive's code" % full, "global")
        self.refuse("global %s is not allowed in a %s pickle" % (full, self.kind), "global")

    def reduce(self, fn, args):
        if not isinstance(fn, Global) or not isinstance(args, tuple):
            self.refuse("REDUCE of something that is not an allowed function", "global")
        full = repr(fn)
        if full == "collections.OrderedDict":
            if args:
                self.refuse("OrderedDict with arguments")
            return _Hooks()
        if full == "torch._utils._rebuild_tensor_v2":
            return self.tensor(args)
        if full == "torch._utils._rebuild_parameter":
            if len(args) != 3 or not isinstance(args[0], Tensor) or not isinstance(args[1], bool) or args[2]:
                self.refuse("a parameter record that is not (tensor, requires_grad, {})", "tensor")
            return args[0]
        if full.startswith("torch.jit._pickle.build_"):
            if len(args) != 1 or not isinstance(args[0], list):
                self.refuse("%s of something that is not a list" % full)
            return args[0]
        if full == "torch.jit._pickle.restore_type_tag":
            if len(args) != 2 or not isinstance(args[1], str):
                self.refuse("restore_type_tag without a type")
            return args[0]
        self.refuse("%s cannot be called" % full, "global")

    def tensor(self, args):
        if len(args) not in (6, 7):
            self.refuse("_rebuild_tensor_v2 with %d arguments" % len(args), "tensor")
        storage, offset, sizes, strides, grad, hooks = args[:6]
        if not isinstance(storage, Storage):
            self.refuse("a tensor whose storage is not a storage record", "tensor")
        if len(args) == 7 and args[6] is not None and not (isinstance(args[6], dict) and not args[6]):
            self.refuse("a tensor with metadata", "tensor")
        if not isinstance(grad, bool) or not isinstance(hooks, _Hooks) or hooks:
            self.refuse("a tensor with backward hooks or a bad requires_grad", "tensor")
        if not isinstance(offset, int) or isinstance(offset, bool):
            self.refuse("a tensor whose storage offset is not an integer", "tensor")
        for what, v in (("sizes", sizes), ("strides", strides)):
            if not isinstance(v, tuple) or not all(isinstance(i, int) and not isinstance(i, bool) for i in v):
                self.refuse("a tensor whose %s are not a tuple of integers" % what, "tensor")
        t = Tensor(storage, offset, sizes, strides)
        self.tensors.append(t)
        return t

    def persistent(self, pid):
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"):
            self.refuse("a persistent id that is not a storage record", "tensor")
        _, typ, key, location, numel = pid
        if not (isinstance(typ, Global) and typ.module == "torch" and typ.name in STORAGES):
            self.refuse("a storage of type %r" % (typ,), "tensor")
        if not (isinstance(key, str) and key.isdigit() and len(key) < 20):
            self.refuse("a storage key %r" % (key,), "tensor")
        if not (isinstance(location, str) and re.match(r"^(cpu|cuda(:\d{1,3})?|meta)$", location)):
            self.refuse("a storage location %r" % (location,), "tensor")
        if not isinstance(numel, int) or isinstance(numel, bool) or not 0 <= numel < MAX_INT:
            self.refuse("a storage of %r elements" % (numel,), "tensor")
        return Storage(typ.name, key, numel)


_STOP = object()


@_op(0x80)  # PROTO
def _(u):
    proto = u.take(1)[0]
    if proto > 4 or (u.opcodes is not None and (proto != 2 or u.pos != 2)):
        u.refuse("pickle protocol %d where torch reads only 2, once, at the start" % proto
                 if u.opcodes is not None else "a pickle protocol above 4")


@_op(0x95)  # FRAME
def _(u):
    u.take(8)


@_op(ord("."))  # STOP
def _(u):
    return _STOP


@_op(ord("c"))  # GLOBAL
def _(u):
    module = u.line()
    name = u.line()
    u.stack.append(u.global_(module, name))


@_op(0x93)  # STACK_GLOBAL
def _(u):
    name, module = u.pop(), u.pop()
    if not isinstance(module, str) or not isinstance(name, str):
        u.refuse("STACK_GLOBAL of non-strings")
    u.stack.append(u.global_(module, name))


@_op(ord("q"))  # BINPUT
def _(u):
    u.memo[u.take(1)[0]] = u.stack[-1] if u.stack else u.refuse("BINPUT on an empty stack")


@_op(ord("r"))  # LONG_BINPUT
def _(u):
    u.memo[struct.unpack("<I", u.take(4))[0]] = u.stack[-1] if u.stack else u.refuse("LONG_BINPUT on nothing")


@_op(0x94)  # MEMOIZE
def _(u):
    u.memo[len(u.memo)] = u.stack[-1] if u.stack else u.refuse("MEMOIZE on an empty stack")


def _get(u, key):
    if key not in u.memo:
        u.refuse("a memo key that was never put")
    u.stack.append(u.memo[key])


@_op(ord("h"))  # BINGET
def _(u):
    _get(u, u.take(1)[0])


@_op(ord("j"))  # LONG_BINGET
def _(u):
    _get(u, struct.unpack("<I", u.take(4))[0])


@_op(ord("("))  # MARK
def _(u):
    u.marks.append(len(u.stack))


@_op(ord("0"))  # POP
def _(u):
    u.pop()


@_op(ord(")"))  # EMPTY_TUPLE
def _(u):
    u.stack.append(())


@_op(ord("t"))  # TUPLE
def _(u):
    u.stack.append(tuple(u.pop_mark()))


def _tuple_n(n):
    def f(u):
        items = [u.pop() for _ in range(n)][::-1]
        u.stack.append(tuple(items))
    return f


_OPS[0x85], _OPS[0x86], _OPS[0x87] = _tuple_n(1), _tuple_n(2), _tuple_n(3)


@_op(ord("]"))  # EMPTY_LIST
def _(u):
    u.stack.append([])


def _top_list(u, op):
    lst = u.stack[-1] if u.stack else None
    if not isinstance(lst, list):
        u.refuse("%s to something that is not a list" % op)
    return lst


@_op(ord("a"))  # APPEND
def _(u):
    v = u.pop()
    _top_list(u, "APPEND").append(v)


@_op(ord("e"))  # APPENDS
def _(u):
    items = u.pop_mark()
    _top_list(u, "APPENDS").extend(items)


@_op(ord("}"))  # EMPTY_DICT
def _(u):
    u.stack.append({})


def _setitems(u, d, items):
    if not isinstance(d, dict) or len(items) % 2:
        u.refuse("SETITEM on something that is not a dict")
    for i in range(0, len(items), 2):
        k = items[i]
        if not isinstance(k, (str, int, float, bool, type(None))):
            u.refuse("a dict key of type %s" % type(k).__name__)
        d[k] = items[i + 1]


@_op(ord("s"))  # SETITEM
def _(u):
    v, k = u.pop(), u.pop()
    _setitems(u, u.stack[-1] if u.stack else None, [k, v])


@_op(ord("u"))  # SETITEMS
def _(u):
    items = u.pop_mark()
    _setitems(u, u.stack[-1] if u.stack else None, items)


@_op(ord("N"))  # NONE
def _(u):
    u.stack.append(None)


@_op(0x88)  # NEWTRUE
def _(u):
    u.stack.append(True)


@_op(0x89)  # NEWFALSE
def _(u):
    u.stack.append(False)


@_op(ord("J"))  # BININT
def _(u):
    u.stack.append(struct.unpack("<i", u.take(4))[0])


@_op(ord("K"))  # BININT1
def _(u):
    u.stack.append(u.take(1)[0])


@_op(ord("M"))  # BININT2
def _(u):
    u.stack.append(struct.unpack("<H", u.take(2))[0])


@_op(0x8A)  # LONG1
def _(u):
    n = u.take(1)[0]
    if n > 8 or (u.opcodes is not None and n != 8):
        u.refuse("an integer of %d bytes" % n)
    u.stack.append(int.from_bytes(u.take(n), "little", signed=True))


@_op(ord("G"))  # BINFLOAT
def _(u):
    u.stack.append(struct.unpack(">d", u.take(8))[0])


def _text(u, n):
    try:
        return u.take(n).decode("utf-8")
    except UnicodeDecodeError:
        u.refuse("a string that is not UTF-8")


@_op(ord("X"))  # BINUNICODE
def _(u):
    u.stack.append(_text(u, struct.unpack("<I", u.take(4))[0]))


@_op(0x8C)  # SHORT_BINUNICODE
def _(u):
    u.stack.append(_text(u, u.take(1)[0]))


@_op(ord("C"))  # SHORT_BINBYTES
def _(u):
    u.stack.append(bytes(u.take(u.take(1)[0])))


@_op(ord("B"))  # BINBYTES
def _(u):
    u.stack.append(bytes(u.take(struct.unpack("<I", u.take(4))[0])))


@_op(ord("Q"))  # BINPERSID
def _(u):
    if u.kind == "debug":
        u.refuse("a persistent id in debug information", "tensor")
    u.stack.append(u.persistent(u.pop()))


@_op(ord("R"))  # REDUCE
def _(u):
    args, fn = u.pop(), u.pop()
    u.stack.append(u.reduce(fn, args))


@_op(0x81)  # NEWOBJ
def _(u):
    args, cls = u.pop(), u.pop()
    if not (isinstance(cls, Global) and cls.module.startswith("__torch__") and args == ()):
        u.refuse("NEWOBJ of %r" % (cls,), "global")
    o = Obj(cls)
    u.objects.append(o)
    u.stack.append(o)


@_op(ord("b"))  # BUILD
def _(u):
    state = u.pop()
    o = u.stack[-1] if u.stack else None
    if not isinstance(o, Obj) or o.state is not None:
        u.refuse("BUILD of something that is not a new TorchScript object", "global")
    o.state = state


def read_pickle(data, kind, where, classes=frozenset()):
    """(value, tensors, objects) of the pickle DATA of KIND (see
    PICKLE_GLOBALS); WHERE names it in a refusal."""
    u = _Unpickler(memoryview(data).tobytes() if not isinstance(data, bytes) else data, kind, where, classes)
    value = u.run()
    return value, u.tensors, u.objects


# ---- tensors -----------------------------------------------------------------

def check_tensors(tensors, files, folder, where):
    """Every tensor record of TENSORS against its storage record, a file
    FOLDER/<key> in FILES; storages keep one dtype.  The count of elements."""
    kinds = {}
    for t in tensors:
        st = t.storage
        rec = files.get(folder + st.key)
        if rec is None:
            raise Refused("tensor", "a tensor whose storage %s%s is not in the archive" % (folder, st.key), where)
        size = STORAGES[st.dtype]
        if kinds.setdefault(st.key, st.dtype) != st.dtype:
            raise Refused("tensor", "storage %s%s is read as %s and as %s" % (folder, st.key, kinds[st.key],
                                                                             st.dtype), where)
        if len(rec) != st.numel * size:
            raise Refused("tensor", "storage %s%s holds %d bytes, its record says %d x %d"
                          % (folder, st.key, len(rec), st.numel, size), where)
        if len(t.sizes) != len(t.strides) or len(t.sizes) > 64:
            raise Refused("tensor", "a tensor with %d sizes and %d strides" % (len(t.sizes), len(t.strides)), where)
        if t.offset < 0 or t.offset >= MAX_INT:
            raise Refused("tensor", "a tensor with storage offset %d" % t.offset, where)
        numel, extent = 1, t.offset
        for n, s in zip(t.sizes, t.strides):
            if n < 0 or s < 0 or n >= MAX_INT or s >= MAX_INT:
                raise Refused("tensor", "a tensor with size %d or stride %d" % (n, s), where)
            numel *= n
            extent += (n - 1) * s if n else 0
            if numel >= MAX_INT or extent >= MAX_INT:
                raise Refused("tensor", "a tensor too large to address", where)
        if numel and extent >= st.numel or not numel and t.offset > st.numel:
            raise Refused("tensor", "a tensor (offset %d, sizes %s, strides %s) reaches element %d of a "
                          "storage of %d" % (t.offset, list(t.sizes), list(t.strides), extent, st.numel), where)


# ---- code --------------------------------------------------------------------

def _dotted(node):
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


def scan_code(name, text, module):
    """The classes CODE (a serialized code file, module MODULE) defines,
    after refusing __setstate__ and the operators it names that the
    allowlist does not have (each named with its class, method and line)."""
    try:
        tree = ast.parse(text, filename=name)
    except (SyntaxError, ValueError) as e:
        raise Refused("code", "the archive's code does not parse: %s" % e, name) from None
    lines = text.splitlines()
    classes = set()

    def visit(node, where):
        if isinstance(node, ast.ClassDef):
            classes.add("%s.%s" % (module, node.name))
            where = node.name
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            if node.name == "__setstate__":
                raise Refused("setstate", "%s.__setstate__ is defined: it would run while the archive loads"
                              % where, name)
            where = "%s.%s" % (where, node.name) if where else node.name
        elif isinstance(node, ast.Attribute):
            d = _dotted(node)  # a whole chain (torch.ops.aten.add), not its parts
            if d:
                line = lines[node.lineno - 1].strip() if 0 < node.lineno <= len(lines) else ""
                _check_name(d, "%s, exported code line %d: %s" % (where or module, node.lineno, line[:160]))
                return
        for child in ast.iter_child_nodes(node):
            visit(child, where)

    visit(tree, "")
    return classes


def _check_name(dotted, where):
    parts = dotted.split(".")
    if parts[0] == "torch" and len(parts) >= 2 and parts[1] in ("ops", "classes"):
        parts = parts[1:]
    if parts[0] == "classes" and len(parts) >= 2:
        raise Refused("operator", "custom class %s in %s" % (".".join(parts[1:]), where))
    if parts[0] == "ops" and len(parts) >= 3:
        op = "%s::%s" % (parts[1], parts[2])
        if not operator_allowed(op):
            raise Refused("operator", "%s in %s: %s" % (op, where, why_refused(op)))
    elif parts[0] == "torch" and len(parts) == 2:
        op = "aten::" + parts[1]
        # the registry only for a name the allowlist lacks (honest archives
        # name none: the zygote does not build it at every start)
        if not operator_allowed(op) and op in registered():
            raise Refused("operator", "%s in %s: %s" % (op, where, why_refused(op)))


# ---- the operator allowlist ----------------------------------------------------

_ALLOWED = None
_REGISTERED = None


def allowlist():
    """The operator allowlist (operators.allow beside this file): a set of
    'namespace::name'.  Read once (the zygote reads it for every child)."""
    global _ALLOWED
    if _ALLOWED is None:
        path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "operators.allow")
        names = set()
        with open(path, encoding="utf-8") as f:
            for ln in f:
                ln = ln.split("#", 1)[0].strip()
                if ln:
                    names.add(ln)
        _ALLOWED = frozenset(names)
    return _ALLOWED


def registered():
    """The names of every operator the installed torch registers (built on
    first use, in the child that needs it: about 13 ms)."""
    global _REGISTERED
    if _REGISTERED is None:
        import torch
        _REGISTERED = frozenset(s.name for s in torch._C._jit_get_all_schemas())
    return _REGISTERED


def operator_allowed(op):
    return op in allowlist()


def why_refused(op):
    ns = op.split("::", 1)[0]
    if ns not in ("aten", "prim"):
        return "operators of namespace '%s' are not allowed (custom, backend or side-effecting)" % ns
    if op in ("aten::from_file", "aten::save") or op.endswith("::load"):
        return "it reads or writes files"
    return "not on the operator allowlist (pure tensor operators only)"


def prepare():
    """Read the allowlist now (the zygote calls this, so that every job
    child has it without paying for it).  The operator registry is not
    built here: enumerating torch's schemas cost every zygote start about
    13 ms, and only an archive that names an operator the allowlist lacks
    needs it."""
    allowlist()


# ---- the archive ---------------------------------------------------------------

_TS_FIXED = {"data.pkl", "constants.pkl", ".data/version", "version", "byteorder", ".data/serialization_id"}
_PT_FIXED = {"data.pkl", "version", ".data/version", ".format_version", ".storage_alignment", "byteorder",
             ".data/serialization_id"}
_SMALL = re.compile(r"^[A-Za-z0-9_.\-\n]{0,64}$")


def _split(files, fixed, folders, where):
    prefixes = {n.split("/", 1)[0] for n in files}
    if len(prefixes) != 1 or any("/" not in n for n in files):
        raise Refused("entry", "the entries are not all in one folder (%s)" % ", ".join(sorted(prefixes)[:4]), where)
    prefix = prefixes.pop() + "/"
    out = {}
    for n, data in files.items():
        rel = n[len(prefix):]
        if rel in fixed:
            if rel not in ("data.pkl", "constants.pkl") and not _SMALL.match(data.decode("latin-1")):
                raise Refused("entry", "%s holds %d bytes that are not a version or a name" % (rel, len(data)),
                              where)
        elif not any(re.match(f, rel) for f in folders):
            raise Refused("entry", "an entry torch does not write for a model: %s" % rel, where)
        out[rel] = data
    return out


def _module_of(rel):
    """code/__torch__/a/b.py -> __torch__.a.b"""
    return rel[len("code/"):-len(".py")].replace("/", ".")


class Verified:
    """An archive that verify() passed: its bytes, their digest, and what
    was read of them.  module() imports a fresh copy (the graph walk runs
    on the first)."""

    def __init__(self, buf, facts):
        self.buf, self.facts = buf, facts
        self._walked, self.walk_s = False, 0.0

    def module(self):
        import torch
        cu = torch._C.CompilationUnit()
        args = (cu, self.buf, torch.device("cpu"), {}) + ((False,) if _restore_shapes() else ())
        cpp = torch._C.import_ir_module_from_buffer(*args)
        if not self._walked:
            t0 = time.perf_counter()
            self.facts.update(check_graphs(cu))
            self.walk_s = time.perf_counter() - t0
            self._walked = True
        return torch.jit._recursive.wrap_cpp_module(cpp)


def _restore_shapes():
    """True when the loader takes torch 2.x's fifth argument (a call with
    the wrong arity would put the whole archive in its TypeError)."""
    import torch
    return "arg4" in (torch._C.import_ir_module_from_buffer.__doc__ or "")


def verify(buf, where="archive", sha256=None):
    """Read the TorchScript archive BUF (bytes) by the grammar; a
    Verified, or Refused.  SHA256: BUF's digest when the caller has it."""
    files = _split(read_zip(memoryview(buf)), _TS_FIXED,
                   (r"^code/__torch__(/[A-Za-z0-9_.\-]+)*\.py(\.debug_pkl)?$", r"^data/\d+$", r"^constants/\d+$"),
                   where)
    for need in ("data.pkl", "constants.pkl"):
        if need not in files:
            raise Refused("entry", "no %s: not a TorchScript archive" % need, where)
    classes = set()
    for rel in sorted(files):
        if rel.startswith("code/") and rel.endswith(".py"):
            try:
                text = files[rel].decode("utf-8")
            except UnicodeDecodeError:
                raise Refused("code", "not UTF-8", rel) from None
            classes |= scan_code(rel, text, _module_of(rel))
    for rel in sorted(files):
        if rel.endswith(".debug_pkl"):
            read_pickle(files[rel], "debug", rel)
    root, tensors, objects = read_pickle(files["data.pkl"], "torchscript", "data.pkl", classes)
    if not isinstance(root, Obj):
        raise Refused("pickle", "the root of data.pkl is not a TorchScript module", "data.pkl")
    for o in objects:
        if o.state is None or not isinstance(o.state, dict):
            raise Refused("pickle", "object of %r without its attributes" % (o.cls,), "data.pkl")
    check_tensors(tensors, files, "data/", "data.pkl")
    consts, ctensors, cobjects = read_pickle(files["constants.pkl"], "torchscript", "constants.pkl", classes)
    if not isinstance(consts, tuple) or cobjects:
        raise Refused("pickle", "constants.pkl is not a tuple of constants", "constants.pkl")
    check_tensors(ctensors, files, "constants/", "constants.pkl")
    facts = {"sha256": sha256 or hashlib.sha256(buf).hexdigest(), "bytes": len(buf), "verified": True,
             "verifier": VERIFIER, "format": "torchscript", "tensors": len(tensors) + len(ctensors),
             "classes": len(classes)}
    return Verified(buf if isinstance(buf, bytes) else bytes(buf), facts)


def load(buf, where="archive"):
    """(module, Verified): the TorchScript archive BUF verified, imported,
    and every compiled function's graph checked, before any of its
    methods can run.  Refused otherwise."""
    v = verify(buf, where)
    return v.module(), v


def read_file(path, limit=1 << 34):
    """The bytes of the file at PATH, read once (a regular file of at most
    LIMIT bytes; the read is sized by the file, never by LIMIT)."""
    with open(path, "rb") as f:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode) or st.st_size > limit:
            raise Refused("zip", "not a regular file of at most %d bytes" % limit, os.path.basename(path))
        data = f.read(st.st_size)
        if len(data) != st.st_size or f.read(1):
            raise Refused("zip", "the file changed while it was read", os.path.basename(path))
    return data


# ---- the graphs ------------------------------------------------------------------

def _where(node):
    """'file:line' of NODE's source, when its debug information says."""
    try:
        text = node.sourceRange()
    except Exception:  # noqa: BLE001 - no debug information
        return ""
    m = re.search(r'File "([^"]*)", line (\d+)', text) or re.search(r"([^\s:]+):(\d+):\d+", text)
    if m:
        return "%s:%s" % (os.path.basename(m.group(1)), m.group(2))
    return text.strip().splitlines()[0][:120] if text.strip() else ""


def _walk(block, fname, seen):
    for node in block.nodes():
        kind = node.kind()
        if not operator_allowed(kind):
            where = _where(node)
            raise Refused("operator", "%s in %s%s: %s" % (kind, fname, (" at " + where) if where else "",
                                                         why_refused(kind)))
        seen.add(kind)
        for b in node.blocks():
            _walk(b, fname, seen)
        for attr in node.attributeNames():
            k = node.kindOf(attr)
            if k == "g":
                _walk(node.g(attr), fname, seen)
            elif k == "gs":
                for g in node.gs(attr):
                    _walk(g, fname, seen)


def check_graphs(cu):
    """Every node of every function compiled into CU (the archive's module
    methods, its classes' methods, its free functions, and the subgraphs
    they hold) against the allowlist.  Facts, or Refused."""
    seen, n = set(), 0
    for f in cu.get_functions():
        name = getattr(f, "qualified_name", None) or getattr(f, "name", "?")
        if name.endswith(".__setstate__"):
            raise Refused("setstate", "%s is defined: it would run while the archive loads" % name)
        _walk(f.graph, name, seen)
        n += 1
    return {"functions": n, "operators": sorted(seen)}


# ---- tensor files (torch.save) ------------------------------------------------------

def verify_tensors(buf, where="tensor file"):
    """Read a torch.save file BUF (a zip of tensors and containers) by
    the grammar; refuses what is not tensors, numbers, strings and
    containers of them."""
    files = _split(read_zip(memoryview(buf)), _PT_FIXED, (r"^data/\d+$",), where)
    if "data.pkl" not in files:
        raise Refused("entry", "no data.pkl: not a torch.save file", where)
    _, tensors, objects = read_pickle(files["data.pkl"], "tensors", where)
    check_tensors(tensors, files, "data/", where)
    return len(tensors)


def load_tensors(buf, where="tensor file"):
    """torch.load of BUF (bytes) after verify_tensors()."""
    import torch
    verify_tensors(buf, where)
    return torch.load(io.BytesIO(buf), map_location="cpu", weights_only=True)
