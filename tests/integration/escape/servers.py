"""Listeners for the sandbox-escape suite (t4200, t4210), on this machine's
addresses and in the suite's own network namespaces.  Every server logs
what reached it, one line each, so a test can show that a probe never
arrived (and that the canary is nowhere), and prints "ready" once every
socket is bound.

    servers.py --log FILE [--tcp ADDR:PORT]... [--udp ADDR:PORT]...
               [--dns ADDR:PORT]... [--https ADDR:PORT --cert C --key K]

--tcp   accepts, logs "tcp LOCAL from PEER: <first bytes>", closes
--udp   logs "udp LOCAL from PEER: <bytes>", answers "pong"
--dns   UDP and TCP: logs "dns LOCAL from PEER: <name>", answers every A
        question with 203.0.113.80 (a documentation address nobody uses)
--https logs "https <method> <target> <headers> <body>" (one line, escaped),
        answers 200 "sink"

ADDR is an IPv4 or IPv6 literal ([::] for every IPv6 address)."""

import argparse
import socket
import ssl
import struct
import sys
import threading

log_lock = threading.Lock()
log_path = None


def log(line):
    with log_lock, open(log_path, "a") as f:
        f.write(line.encode("unicode_escape").decode("ascii") + "\n")


def split_address(text):
    host, _, port = text.rpartition(":")
    host = host.strip("[]")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    return family, host, int(port)


def bind(text, kind):
    family, host, port = split_address(text)
    s = socket.socket(family, kind)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if family == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    s.bind((host, port))
    if kind == socket.SOCK_STREAM:
        s.listen(64)
    return s


def serve_tcp(s, text):
    while True:
        conn, peer = s.accept()
        threading.Thread(target=tcp_one, args=(conn, peer, text), daemon=True).start()


def tcp_one(conn, peer, text):
    with conn:
        conn.settimeout(2)
        try:
            conn.sendall(b"escape-test\n")
            data = conn.recv(4096)
        except OSError:
            data = b""
        log("tcp %s from %s: %r" % (text, peer[0], data))


def serve_udp(s, text):
    while True:
        data, peer = s.recvfrom(4096)
        log("udp %s from %s: %r" % (text, peer[0], data))
        s.sendto(b"pong", peer)


def question_name(query):
    labels, at = [], 12
    while at < len(query) and query[at] != 0:
        labels.append(query[at + 1:at + 1 + query[at]].decode("latin-1"))
        at += query[at] + 1
    return ".".join(labels), at + 5


def dns_reply(query):
    name, end = question_name(query)
    head = query[:2] + struct.pack(">HHHHH", 0x8180, 1, 1, 0, 0)
    answer = struct.pack(">HHHIH", 0xC00C, 1, 1, 60, 4) + socket.inet_aton("203.0.113.80")
    return name, head + query[12:end] + answer


def serve_dns_udp(s, text):
    while True:
        query, peer = s.recvfrom(512)
        name, reply = dns_reply(query)
        log("dns %s from %s: %s" % (text, peer[0], name))
        s.sendto(reply, peer)


def serve_dns_tcp(s, text):
    while True:
        conn, peer = s.accept()
        with conn:
            conn.settimeout(2)
            try:
                size = struct.unpack(">H", conn.recv(2))[0]
                query = b""
                while len(query) < size:
                    more = conn.recv(size - len(query))
                    if not more:
                        break
                    query += more
                name, reply = dns_reply(query)
                log("dns %s from %s: %s" % (text, peer[0], name))
                conn.sendall(struct.pack(">H", len(reply)) + reply)
            except (OSError, struct.error):
                log("dns %s from %s: broken query" % (text, peer[0]))


def serve_https(s, context):
    while True:
        conn, peer = s.accept()
        threading.Thread(target=https_one, args=(conn, context), daemon=True).start()


def https_one(raw, context):
    try:
        raw.settimeout(5)
        with context.wrap_socket(raw, server_side=True) as conn:
            data = b""
            while b"\r\n\r\n" not in data:
                more = conn.recv(4096)
                if not more:
                    return
                data += more
            head, _, body = data.partition(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            while len(body) < length:
                more = conn.recv(4096)
                if not more:
                    break
                body += more
            log("https %r %r" % (head, body))
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nsink\n")
    except (OSError, ValueError) as e:
        log("https broken: %s" % e)


def main():
    global log_path
    parser = argparse.ArgumentParser()
    parser.add_argument("--log", required=True)
    for name in ("--tcp", "--udp", "--dns", "--https"):
        parser.add_argument(name, action="append", default=[])
    parser.add_argument("--cert")
    parser.add_argument("--key")
    args = parser.parse_args()
    log_path = args.log
    threads = []
    for text in args.tcp:
        threads.append((serve_tcp, bind(text, socket.SOCK_STREAM), text))
    for text in args.udp:
        threads.append((serve_udp, bind(text, socket.SOCK_DGRAM), text))
    for text in args.dns:
        threads.append((serve_dns_udp, bind(text, socket.SOCK_DGRAM), text))
        threads.append((serve_dns_tcp, bind(text, socket.SOCK_STREAM), text))
    if args.https:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.cert, args.key)
        for text in args.https:
            threads.append((serve_https, bind(text, socket.SOCK_STREAM), context))
    for target, s, extra in threads:
        threading.Thread(target=target, args=(s, extra), daemon=True).start()
    print("ready", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    sys.exit(main())
