#!/usr/bin/python3
"""Test fixer: records its JSON input to $FIXER_LOG (one line per call)
and answers according to $FIXER_MODE:
  fix       replace 'raise ValueError(...)' with 'return self.fc(x)' (JSON answer)
  plain     the same fix, as plain code
  same      append a comment (changed but still broken)
  hang      sleep forever
  garbage   print bytes that are not UTF-8
  badjson   print '{"nope": 1}'
  crash     kill itself with SIGSEGV
  fail      exit with status 3
"""
import json
import os
import signal
import sys
import time

req = json.loads(sys.stdin.read())
with open(os.environ["FIXER_LOG"], "a") as f:
    f.write(json.dumps(req) + "\n")
mode = os.environ.get("FIXER_MODE", "fix")
code = req["code"]
if mode in ("fix", "plain"):
    fixed = code.replace('raise ValueError("no fixer knows this one")', "return self.fc(x)")
    if mode == "fix":
        print(json.dumps({"code": fixed, "changes": ["replaced the raise with a return"]}))
    else:
        sys.stdout.write(fixed)
elif mode == "same":
    sys.stdout.write(code + "\n# attempt %d\n" % req["attempt"])
elif mode == "hang":
    time.sleep(3600)
elif mode == "garbage":
    sys.stdout.buffer.write(b"\xff\xfe\x00garbage")
elif mode == "badjson":
    print('{"nope": 1}')
elif mode == "crash":
    os.kill(os.getpid(), signal.SIGSEGV)
elif mode == "fail":
    sys.exit(3)
