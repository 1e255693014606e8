"""A test origin for t41xx: HTTPS on every address of this machine, answering
every GET with its path and the request's headers, one per line, so a test
can see what egress forwarded (the injected credential, the agent's dummy
gone).  Used only with addresses on this machine.

    python3 origin.py CERT KEY PORT
"""
import http.server
import ssl
import sys


class Echo(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        lines = ["path " + self.path] + ["%s: %s" % (k, v) for k, v in self.headers.items()]
        body = ("\n".join(lines) + "\n").encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        pass


def main():
    cert, key, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    server = http.server.ThreadingHTTPServer(("0.0.0.0", port), Echo)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    server.serve_forever()


main()
