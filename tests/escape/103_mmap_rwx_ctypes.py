# threat: native
# expect: violation
# input: float:2x100
# layer: all
# Writable+executable memory is allowed by default (oneDNN's JIT needs it):
# the boundary never rested on W^X.  This maps RWX memory, writes machine
# code into it that makes a raw fork() system call, and runs it: seccomp
# holds for generated code as for any other (x86-64 only).
import torch
import torch.nn as nn

ct = torch.ctypes
libc = ct.CDLL(None)
libc.mmap.restype = ct.c_void_p
libc.mmap.argtypes = [ct.c_void_p, ct.c_size_t, ct.c_int, ct.c_int, ct.c_int, ct.c_long]
page = libc.mmap(None, 4096, 7, 0x22, -1, 0)  # PROT_READ|WRITE|EXEC, MAP_PRIVATE|ANONYMOUS
if not page or page == ct.c_void_p(-1).value:
    raise OSError("mmap(RWX) refused")
code = bytes([0xb8, 57, 0, 0, 0, 0x0f, 0x05, 0xc3])  # mov eax, SYS_fork; syscall; ret
ct.memmove(page, code, len(code))
ct.CFUNCTYPE(ct.c_long)(page)()


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(100, 10)

    def forward(self, x):
        return self.fc(x)
