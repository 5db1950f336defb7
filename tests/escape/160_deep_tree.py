# threat: privilege
# expect: violation|rejected
# input: float:2x100
# layer: all
# A directory chain 2,000 levels deep in the work directory: the clean-up
# used to stop at 64 levels and leave the work directory in the host's
# /tmp for good.  The runner checks that nothing is left behind.
import torch

fd = torch.os.open(".", torch.os.O_RDONLY)
for _ in range(2000):
    torch.os.mkdir("d", 0o700, dir_fd=fd)
    nxt = torch.os.open("d", torch.os.O_RDONLY, dir_fd=fd)
    torch.os.close(fd)
    fd = nxt
try:
    torch.os.chmod(".", 0o500)  # and read-only, where chmod is allowed at all
except OSError:
    pass
raise RuntimeError("left a deep tree")
