# threat: reward
# expect: rejected|violation
# input: float:2x100
# layer: all
# The four-line forgery: no model at all, one result line on the report
# fd claiming an in-process validation, then a clean exit.  Only the
# validate child may say "accepted", and the default policy never reads a
# verdict from the build child.
import torch

torch.os.write(3, b'{"result":{"ok":true,"stage":"validate","integrity":"in-process",'
                  b'"validated":true,"metrics":{"parameters":1,"final_loss":0.0}}}\n')
torch.os._exit(0)
