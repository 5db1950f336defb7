# threat: artifact
# expect: rejected
# input: tokens:2x16:64
# layer: all
# include: rewrite_archive
# reason: archive refused before any load (tensor)
# The archive is replaced after the harness saved it: the 2,000,000-element
# buffer's record says 2,000,001 elements, one past its storage.
import os

import torch
import torch.nn as nn


def edit(name, data):
    if name == "data.pkl":
        return data.replace(b"J\x80\x84\x1e\x00", b"J\x81\x84\x1e\x00", 1)
    return data
