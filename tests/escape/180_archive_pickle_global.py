# threat: artifact
# expect: rejected
# input: tokens:2x16:64
# layer: all
# include: rewrite_archive
# reason: archive refused before any load (global)
# The archive is replaced after the harness saved it: data.pkl names
# posix.system where torch writes collections.OrderedDict.
import os

import torch
import torch.nn as nn


def edit(name, data):
    if name == "data.pkl":
        return data.replace(b"ccollections\nOrderedDict\n", b"cposix\nsystem\n", 1)
    return data
