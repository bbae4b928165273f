"""The business service of the C end-to-end test: branches that succeed or refuse, and a
record of every call (GET /api/busi/record/query?gid=G lists "Name op" for gid G).

Usage: python3 busi.py PORT
"""
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

CALLS = {}
LOCK = threading.Lock()
FAILING = {"TransInFail", "TccTryFail"}


class Handler(BaseHTTPRequestHandler):
    def reply(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        url = urlparse(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        if url.path == "/api/busi/record/query":
            with LOCK:
                self.reply(200, CALLS.get(query.get("gid", ""), []))
        elif url.path == "/api/busi/QueryPrepared":
            self.reply(200, {"dtm_result": "SUCCESS"})
        else:
            self.reply(404, {"message": "no such route"})

    def do_POST(self):
        url = urlparse(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        name = url.path.rsplit("/", 1)[-1]
        with LOCK:
            CALLS.setdefault(query.get("gid", ""), []).append(f"{name} {query.get('op', '')}")
        if name in FAILING:
            self.reply(409, {"dtm_result": "FAILURE", "message": f"{name} refused"})
        else:
            self.reply(200, {"dtm_result": "SUCCESS"})

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
