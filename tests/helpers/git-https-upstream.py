#!/usr/bin/env python3
"""A stand-in https forge for the git gate's mirror tests: git http-backend
(the real git's smart-HTTP server) behind TLS and HTTP Basic auth.

    UPSTREAM_TOKEN=... git-https-upstream.py --port N --cert C --key K \
        --root DIR --log FILE [--hold FILE2] [--address ADDR]

Every request must carry "Authorization: Basic base64(any-user:TOKEN)";
otherwise 401 with a Basic challenge, as forges answer.  The token comes
from the environment, never argv.  FILE gets one line per request:
"<method> <path> <auth: none|good|bad>", so a test can count attempts.
With --hold, an authorised upload-pack request logs "held" and waits until
FILE2 exists: a fetch kept in progress while a test lines others up.
It listens on 127.0.0.1 unless --address names another address of this
machine (0.0.0.0: a bottle's bundle reaches it through its bridge).
Request bodies may be chunked (libgit2 pushes that way); responses are
buffered and sent with Content-Length, one request per connection."""

import argparse
import base64
import os
import ssl
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

log_lock = threading.Lock()


def read_chunked(rfile):
    body = bytearray()
    while True:
        size_line = rfile.readline(1024)
        size = int(size_line.split(b";")[0].strip() or b"0", 16)
        if size == 0:
            while rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                pass
            return bytes(body)
        body += rfile.read(size)
        rfile.readline(16)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def log_message(self, fmt, *args):
        pass

    def auth_state(self):
        header = self.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return "none"
        try:
            _, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return "bad"
        return "good" if password == self.server.token else "bad"

    def record(self, state):
        with log_lock, open(self.server.log, "a") as log:
            log.write(f"{self.command} {urlsplit(self.path).path} {state}\n")

    def reply(self, status, headers, body):
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def serve(self):
        state = self.auth_state()
        self.record(state)
        if state != "good":
            self.reply(401, [("WWW-Authenticate", 'Basic realm="upstream"')], b"")
            return
        if self.server.hold and self.path.endswith("/git-upload-pack"):
            self.record("held")
            while not os.path.exists(self.server.hold):
                time.sleep(0.05)
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            body = read_chunked(self.rfile)
        else:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        url = urlsplit(self.path)
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "GIT_PROJECT_ROOT": self.server.root,
            "GIT_HTTP_EXPORT_ALL": "1",
            "REMOTE_USER": "gate",
            "REMOTE_ADDR": self.client_address[0],
            "REQUEST_METHOD": self.command,
            "PATH_INFO": url.path,
            "QUERY_STRING": url.query,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
        }
        for name in ("Git-Protocol", "Content-Encoding"):
            if self.headers.get(name):
                env["HTTP_" + name.upper().replace("-", "_")] = self.headers[name]
        out = subprocess.run(["git", "http-backend"], input=body, env=env,
                             capture_output=True, check=False).stdout
        head, _, payload = out.partition(b"\r\n\r\n")
        status, headers = 200, []
        for line in head.decode("latin-1").split("\r\n"):
            name, _, value = line.partition(":")
            if name.lower() == "status":
                status = int(value.split()[0])
            elif name:
                headers.append((name, value.strip()))
        self.reply(status, headers, payload)

    do_GET = serve
    do_POST = serve


def main():
    parser = argparse.ArgumentParser()
    for name in ("--port", "--cert", "--key", "--root", "--log"):
        parser.add_argument(name, required=True)
    parser.add_argument("--hold")
    parser.add_argument("--address", default="127.0.0.1")
    args = parser.parse_args()
    server = ThreadingHTTPServer((args.address, int(args.port)), Handler)
    server.token = os.environ["UPSTREAM_TOKEN"]
    server.root = args.root
    server.log = args.log
    server.hold = args.hold
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(args.cert, args.key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    print("listening", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
