# threat: artifact
# expect: rejected
# input: tokens:2x16:64
# layer: all
# include: rewrite_archive
# reason: archive refused before any load (operator)
# The archive is replaced after the harness saved it: its code calls a
# custom operator (namespace evil) where it called torch.linear.
import os

import torch
import torch.nn as nn


def edit(name, data):
    if name and name.startswith("code/") and name.endswith(".py"):
        return data.replace(b"torch.linear(", b"ops.evil.linear(")
    return data
