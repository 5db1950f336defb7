# threat: artifact
# expect: rejected
# input: tokens:2x16:64
# layer: all
# include: rewrite_archive
# reason: archive refused before any load (zip)
# The archive is replaced after the harness saved it with one that has
# bytes after the zip's end record (zip readers differ on such files).
import os

import torch
import torch.nn as nn


def edit(name, data):
    if name is None:  # the rewritten archive, DATA its path
        fd = torch.os.open(data, torch.os.O_WRONLY | torch.os.O_APPEND)
        torch.os.write(fd, b"PK\x05\x06" + bytes(40))
        torch.os.close(fd)
    return data
