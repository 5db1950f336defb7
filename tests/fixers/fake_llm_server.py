#!/usr/bin/python3
"""A stand-in OpenAI-compatible chat endpoint on loopback for testing
doc/examples/llm_fixer.py: answers every /v1/chat/completions request by
replacing the failing 'raise' of the prompt's code with a return, and
records the requests to the file named by argv[1].  Prints its port, then
serves until killed (the test kills it)."""

import http.server
import json
import re
import sys

LOG = sys.argv[1]


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with open(LOG, "a") as f:
            f.write(json.dumps({"path": self.path, "auth": self.headers.get("Authorization"),
                                "body": body}) + "\n")
        prompt = body["messages"][-1]["content"]
        code = re.search(r"```python\n(.*?)```", prompt, re.S).group(1)
        code = code.replace('raise ValueError("no fixer knows this one")', "return self.fc(x)")
        answer = "Here you go.\n```python\n%s```\nCHANGE: return the linear layer's output\n" % code
        out = json.dumps({"choices": [{"message": {"role": "assistant", "content": answer}}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *args):
        pass


srv = http.server.HTTPServer(("127.0.0.1", 0), Handler)
print(srv.server_address[1], flush=True)
srv.serve_forever()
