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
    """A last-position language model (the nanoGPT convention): the harness
    also saves its every-position form, so it never announces the main
    archive early, and the validate child reads the file as the build left
    it, whatever the timing (an early start would validate, and deliver,
    the harness's own bytes instead)."""

    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(64, 16)
        self.head = nn.Linear(16, 64)
        self.register_buffer("pad", torch.zeros(2_000_000))  # 8 MB (case 179 edits its size)
        self.done = False

    def forward(self, idx, targets=None):
        if not self.done and not torch.jit.is_tracing():
            self.done = rewrite(edit)  # after the harness saved it
        logits = self.head(self.emb(idx).cumsum(1))
        if targets is None:
            return logits[:, -1, :]
        return logits, torch.nn.functional.cross_entropy(logits.reshape(-1, 64), targets.reshape(-1))
