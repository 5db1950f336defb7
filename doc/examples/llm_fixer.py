#!/usr/bin/python3
"""An aegis-sandbox fixer command for any OpenAI-compatible chat endpoint.

Configure it in a policy:

    debug:
      fixer_command: [/usr/bin/python3, /usr/share/doc/aegis-sandbox/examples/llm_fixer.py]
      fixer_timeout_s: 120

or on the command line: aegis-sandbox run --fixer "python3 doc/examples/llm_fixer.py" ...

Environment (the fixer runs outside the sandbox, with the caller's
environment; job children never see these):

    AEGIS_LLM_BASE_URL   e.g. http://127.0.0.1:8000/v1 (the /chat/completions
                         endpoint is appended)
    AEGIS_LLM_MODEL      model name
    AEGIS_LLM_API_KEY    bearer token (optional for local servers)

Reads the sandbox's JSON request on stdin (code, error_type, error_message,
error_line, traceback, attempt, architecture_id) and prints
{"code": ..., "changes": [...]} on stdout.  Exits non-zero on any failure;
the sandbox records that in attempts[] and carries on.
"""

import json
import os
import re
import sys
import urllib.request

SYSTEM = ("You fix PyTorch model code that failed in a sandbox. Reply with the complete "
          "corrected Python module in one ```python code block, then one line per change "
          "starting with 'CHANGE: '. Keep the class name and constructor signature. Do not "
          "add imports beyond torch, torch.nn, torch.nn.functional, math and typing.")


def build_prompt(req):
    return ("Attempt %d for architecture %s failed.\n\nError: %s: %s (line %s)\n\n"
            "Traceback (candidate frames):\n%s\n\nCode:\n```python\n%s\n```\n"
            % (req.get("attempt", 0), req.get("architecture_id") or "?", req.get("error_type"),
               req.get("error_message"), req.get("error_line"), req.get("traceback", ""),
               req["code"]))


def parse_reply(text):
    m = re.search(r"```(?:python)?\n(.*?)```", text, re.S)
    if not m:
        raise ValueError("the reply holds no code block")
    changes = [line[len("CHANGE: "):].strip() for line in text.splitlines()
               if line.startswith("CHANGE: ")]
    return m.group(1), changes


def main():
    req = json.load(sys.stdin)
    base = os.environ.get("AEGIS_LLM_BASE_URL")
    model = os.environ.get("AEGIS_LLM_MODEL")
    if not base or not model:
        print("llm_fixer: set AEGIS_LLM_BASE_URL and AEGIS_LLM_MODEL", file=sys.stderr)
        return 2
    body = json.dumps({"model": model, "temperature": 0,
                       "messages": [{"role": "system", "content": SYSTEM},
                                    {"role": "user", "content": build_prompt(req)}]}).encode()
    headers = {"Content-Type": "application/json"}
    if os.environ.get("AEGIS_LLM_API_KEY"):
        headers["Authorization"] = "Bearer " + os.environ["AEGIS_LLM_API_KEY"]
    http = urllib.request.Request(base.rstrip("/") + "/chat/completions", body, headers)
    with urllib.request.urlopen(http, timeout=float(os.environ.get("AEGIS_LLM_TIMEOUT", "100"))) as r:
        reply = json.load(r)
    code, changes = parse_reply(reply["choices"][0]["message"]["content"])
    json.dump({"code": code, "changes": changes}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
