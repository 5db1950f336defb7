# threat: artifact
# expect: rejected
# input: tokens:2x16:64
# layer: all
# include: rewrite_archive
# reason: archive refused before any load (tensor)
# The archive is replaced after the harness saved it: one tensor record of
# data.pkl gets storage offset -16.  torch 1.13 loads that unchecked (a
# read/write window before the storage, the way into the validate child's
# memory); our reader refuses it before any loader sees the bytes.
import os
import re

import torch
import torch.nn as nn


def edit(name, data):
    if name == "data.pkl":
        # the first tensor record's offset (BININT1 0 after the storage's
        # persistent id and its memo) becomes BININT -16
        return re.sub(rb"(Q(?:q.|r....)?)K\x00", lambda m: m.group(1) + b"J\xf0\xff\xff\xff", data, count=1,
                      flags=re.S)
    return data
