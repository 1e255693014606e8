"""Network probes for the sandbox-escape suite (t4200, t4210): each one is a
real attempt (connect, sendto, a DNS query, opening a socket kind) whose
outcome is printed as one line, so the same probe run from the host is the
positive control and run from the agent is the check.  Only the python
standard library, so it runs in the agent (the host's own userland).

    probe.py tcp ADDR PORT [PAYLOAD]      open | refused | unreachable | timeout | <errno>
    probe.py udp ADDR PORT PAYLOAD        reply | no-reply | refused | unreachable | <errno>
    probe.py dns ADDR udp|tcp NAME        answer A.B.C.D | no-reply | unreachable | <errno>
    probe.py resolvers NAME               each nameserver of /etc/resolv.conf, then getaddrinfo
    probe.py raw ADDR                     raw ICMP, ping socket and packet socket
    probe.py scan ADDR                    every TCP port 1-65535: the open ones
    probe.py proxy ADDR PORT LINE [FIELD]...  one request, exactly these bytes,
                                          to a proxy: its status code

Addresses are the suite's own (the host's, its bridges', the test hosts it
made in its network namespaces).  The one exception is `resolvers`: the
agent's resolv.conf names the host's resolver, which may be a machine that
is not ours, so it first asks the kernel for a route (a UDP connect sends
no packet) and attempts a query only when there is none, where no packet
can leave; a route is reported as a failure without sending anything.
Every wait is bounded (3 s a connection, 2 s a reply)."""

import errno
import os
import random
import select
import socket
import struct
import sys

CONNECT_TIMEOUT = 3.0
REPLY_TIMEOUT = 2.0


def address_info(addr, port, kind):
    """The sockaddr for addr (a literal; fe80::...%if for link-local)."""
    family = socket.AF_INET6 if ":" in addr else socket.AF_INET
    info = socket.getaddrinfo(addr, port, family, kind, 0, socket.AI_NUMERICHOST)
    return family, info[0][4]


def errno_word(e):
    if isinstance(e, socket.timeout):
        return "timeout"
    if e.errno == errno.ECONNREFUSED:
        return "refused"
    if e.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH):
        return "unreachable"
    return errno.errorcode.get(e.errno, str(e.errno)) if e.errno else type(e).__name__


def probe_tcp(addr, port, payload=None):
    try:
        family, sockaddr = address_info(addr, int(port), socket.SOCK_STREAM)
        with socket.socket(family, socket.SOCK_STREAM) as s:
            s.settimeout(CONNECT_TIMEOUT)
            s.connect(sockaddr)
            if payload:
                s.sendall(payload.encode())
            return "open"
    except OSError as e:
        return errno_word(e)


def probe_udp(addr, port, payload):
    try:
        family, sockaddr = address_info(addr, int(port), socket.SOCK_DGRAM)
        with socket.socket(family, socket.SOCK_DGRAM) as s:
            s.settimeout(REPLY_TIMEOUT)
            s.connect(sockaddr)
            s.send(payload.encode())
            s.recv(512)
            return "reply"
    except socket.timeout:
        return "no-reply"
    except OSError as e:
        return errno_word(e)


def dns_query(name):
    ident = random.randrange(65536)
    head = struct.pack(">HHHHHH", ident, 0x0100, 1, 0, 0, 0)
    labels = b"".join(bytes([len(part)]) + part.encode() for part in name.split("."))
    return ident, head + labels + b"\0" + struct.pack(">HH", 1, 1)


def skip_name(reply, at):
    """The offset after the (perhaps compressed) name at offset at."""
    while True:
        if reply[at] & 0xC0 == 0xC0:
            return at + 2
        if reply[at] == 0:
            return at + 1
        at += reply[at] + 1


def dns_answer(ident, reply):
    """The first A record of a reply to ident, or a word saying why not."""
    if len(reply) < 12 or struct.unpack(">H", reply[:2])[0] != ident:
        return "bad-reply"
    count = struct.unpack(">H", reply[6:8])[0]
    at = skip_name(reply, 12) + 4
    for _ in range(count):
        at = skip_name(reply, at)
        kind, _, _, length = struct.unpack(">HHIH", reply[at:at + 10])
        at += 10
        if kind == 1 and length == 4:
            return "answer " + socket.inet_ntoa(reply[at:at + 4])
        at += length
    return "no-answer rcode %d" % (reply[3] & 0x0F)


def probe_dns(addr, transport, name):
    ident, query = dns_query(name)
    kind = socket.SOCK_DGRAM if transport == "udp" else socket.SOCK_STREAM
    try:
        family, sockaddr = address_info(addr, 53, kind)
        with socket.socket(family, kind) as s:
            s.settimeout(CONNECT_TIMEOUT)
            s.connect(sockaddr)
            s.settimeout(REPLY_TIMEOUT)
            if kind == socket.SOCK_DGRAM:
                s.send(query)
                return dns_answer(ident, s.recv(512))
            s.sendall(struct.pack(">H", len(query)) + query)
            reply = b""
            while len(reply) < 2 or len(reply) < 2 + struct.unpack(">H", reply[:2])[0]:
                more = s.recv(512)
                if not more:
                    break
                reply += more
            return dns_answer(ident, reply[2:])
    except socket.timeout:
        return "no-reply"
    except OSError as e:
        return errno_word(e)


def has_route(addr):
    """Whether the kernel has a route to addr: a UDP connect, no packet."""
    try:
        family, sockaddr = address_info(addr, 53, socket.SOCK_DGRAM)
        with socket.socket(family, socket.SOCK_DGRAM) as s:
            s.connect(sockaddr)
            return True
    except OSError:
        return False


def probe_resolvers(name):
    servers = []
    with open("/etc/resolv.conf") as f:
        for line in f:
            words = line.split()
            if len(words) >= 2 and words[0] == "nameserver":
                servers.append(words[1])
    routed = False
    for server in servers:
        if has_route(server):
            # Not ours, perhaps: never send it anything.
            print("resolver %s route" % server)
            routed = True
            continue
        print("resolver %s udp %s" % (server, probe_dns(server, "udp", name)))
        print("resolver %s tcp %s" % (server, probe_dns(server, "tcp", name)))
    if routed:
        print("getaddrinfo %s not-tried" % name)
        return
    try:
        found = {a[4][0] for a in socket.getaddrinfo(name, 443)}
        print("getaddrinfo %s address %s" % (name, " ".join(sorted(found))))
    except socket.gaierror as e:
        print("getaddrinfo %s failed %s" % (name, e.strerror))


def icmp_echo():
    body = struct.pack(">BBHHH", 8, 0, 0, os.getpid() & 0xFFFF, 1) + b"escape"
    total = sum(struct.unpack(">%dH" % (len(body) // 2), body))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return body[:2] + struct.pack(">H", ~total & 0xFFFF) + body[4:]


def probe_raw(addr):
    kinds = [
        ("raw-icmp", socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP),
        ("ping-socket", socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_ICMP),
    ]
    for word, family, kind, proto in kinds:
        try:
            with socket.socket(family, kind, proto) as s:
                s.settimeout(REPLY_TIMEOUT)
                s.connect((addr, 0))
                s.send(icmp_echo())
                s.recv(512)
                print("%s %s reply" % (word, addr))
        except socket.timeout:
            print("%s %s no-reply" % (word, addr))
        except OSError as e:
            print("%s %s %s" % (word, addr, errno_word(e)))
    try:
        with socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3)):
            print("packet-socket opened")
    except OSError as e:
        print("packet-socket %s" % errno_word(e))


def probe_scan(addr):
    """Non-blocking connects, 512 at a time; a port is open when the
    connect completes, and each must end one way or another."""
    opened, other = [], {}
    ports = list(range(1, 65536))
    family, _ = address_info(addr, 1, socket.SOCK_STREAM)
    while ports:
        batch, ports = ports[:512], ports[512:]
        pending = {}
        for port in batch:
            s = socket.socket(family, socket.SOCK_STREAM)
            s.setblocking(False)
            code = s.connect_ex(address_info(addr, port, socket.SOCK_STREAM)[1])
            if code in (0, errno.EINPROGRESS):
                pending[s] = port
            else:
                other[errno.errorcode.get(code, str(code))] = other.get(errno.errorcode.get(code, str(code)), 0) + 1
                s.close()
        while pending:
            _, ready, _ = select.select([], list(pending), [], CONNECT_TIMEOUT)
            if not ready:
                other["timeout"] = other.get("timeout", 0) + len(pending)
                for s in pending:
                    s.close()
                break
            for s in ready:
                code = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if code == 0:
                    opened.append(pending[s])
                else:
                    word = errno.errorcode.get(code, str(code))
                    other[word] = other.get(word, 0) + 1
                del pending[s]
                s.close()
    print("scan %s open %s" % (addr, ",".join(str(p) for p in sorted(opened)) or "none"))
    print("scan %s closed %s" % (addr, " ".join("%s=%d" % kv for kv in sorted(other.items()))))


def probe_proxy(addr, port, line, fields):
    """Sends LINE and FIELDS as they are (an odd spelling must reach the
    proxy untouched, which curl would not do) and reads the status line."""
    request = "\r\n".join([line] + fields) + "\r\n\r\n"
    try:
        with socket.create_connection((addr, int(port)), CONNECT_TIMEOUT) as s:
            s.settimeout(CONNECT_TIMEOUT)
            s.sendall(request.encode("latin-1"))
            head = b""
            while b"\r\n" not in head:
                more = s.recv(512)
                if not more:
                    break
                head += more
        words = head.split(b"\r\n")[0].split()
        return words[1].decode() if len(words) > 1 else "closed"
    except OSError as e:
        return errno_word(e)


def main():
    what, args = sys.argv[1], sys.argv[2:]
    if what == "tcp":
        print("tcp %s %s %s" % (args[0], args[1], probe_tcp(*args)))
    elif what == "udp":
        print("udp %s %s %s" % (args[0], args[1], probe_udp(*args)))
    elif what == "dns":
        print("dns %s %s %s" % (args[0], args[1], probe_dns(*args)))
    elif what == "resolvers":
        probe_resolvers(args[0])
    elif what == "raw":
        probe_raw(args[0])
    elif what == "scan":
        probe_scan(args[0])
    elif what == "proxy":
        print("proxy %s -> %s" % (args[2], probe_proxy(args[0], args[1], args[2], args[3:])))
    else:
        sys.exit("probe.py: unknown probe %s" % what)


main()
