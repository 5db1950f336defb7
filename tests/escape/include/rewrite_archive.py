# Appended to the escape cases that say '# include: rewrite_archive': a
# model whose first forward pass after the harness saved its archive
# rewrites that archive with torch's own record writer, each record
# through the case's edit(name, data), then calls edit(None, path).  (The corpus runs each case as one
# file; the runner splices this in.)
import os

import torch
import torch.nn as nn


def rewrite(edit):
    """Rewrite the harness's saved archive (model-*.pt in the work
    directory) with torch's own record writer, each record through EDIT,
    then call EDIT(None, its path)."""
    for name in os.listdir("."):
        if name.startswith("model-") and name.endswith(".pt") and ".positions" not in name:
            r = torch._C.PyTorchFileReader(name)
            recs = [(n, r.get_record(n)) for n in r.get_all_records()]
            del r
            w = torch._C.PyTorchFileWriter(name)
            for n, d in recs:
                if n not in (".data/version", "byteorder", ".data/serialization_id"):
                    d = edit(n, d)
                    w.write_record(n, d, len(d))
            w.write_end_of_file()
            del w
            edit(None, name)  # written: the case may do more to the file
            return True
    return False


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(100, 10)
        # 8 MB: an archive this size is validated after the build (no
        # early start), so the validate child reads the rewritten file
        self.register_buffer("pad", torch.zeros(2_000_000))
        self.done = False

    def forward(self, x):
        if not self.done and not torch.jit.is_tracing():
            self.done = rewrite(edit)  # after the harness saved it
        return self.fc(x)
