"""scripted_llm.py PORTFILE EDITS.json: an OpenAI-compatible chat endpoint
on loopback that answers each request with the next canned reply (in
turn, cycling), for the search-framework tests.  The LLM is not under
test; what the framework does with the replies, and the sandbox with the
programs, is.  Writes the port it listens on to PORTFILE and counts the
requests it answered in PORTFILE.count."""
import http.server
import json
import sys
import threading

replies = json.load(open(sys.argv[2]))
lock = threading.Lock()
served = [0]


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(n)
        with lock:
            text = replies[served[0] % len(replies)]
            served[0] += 1
            with open(sys.argv[1] + ".count", "w") as f:
                f.write(str(served[0]))
        body = json.dumps({"id": "chatcmpl-%d" % served[0], "object": "chat.completion", "created": 0,
                           "model": "scripted", "choices": [{"index": 0, "finish_reason": "stop",
                                                             "message": {"role": "assistant", "content": text}}],
                           "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(sys.argv[1], "w") as f:
    f.write(str(server.server_address[1]))
server.serve_forever()
