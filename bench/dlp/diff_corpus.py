#!/usr/bin/env python3
"""Write the differential check's corpus (bench/dlp/diff.sh): inputs that
exercise every detector and variant, deterministic.

usage: diff_corpus.py OUT_DIR [C_FILE...]

OUT_DIR receives:
  secrets.env   NAME=value lines: the known secrets (CANARY* is the canary)
  exempt.txt    values to approve for the engine scanned with exemptions
  in/NNNN.txt   inputs scanned as they are; in/NNNN.gz: gzip bodies

The inputs hold the secrets exactly, in every case, in base64 (std and url,
padded or not, inside longer blobs at each alignment), hex, percent- and
JSON-escaped, separated, in pieces, with confusables and invisibles; tokens
shaped like every default rule; high-entropy runs of every length around
the bounds; CR/LF and controls; and random bytes.  Each C_FILE (the unit
tests) adds its string literals as inputs, adjacent literals and macros
naming literals joined as the compiler would.  What each finding is
does not matter here: only that the old and the new engine agree.
"""
import base64
import gzip
import json
import os
import re
import random
import sys

rng = random.Random(20261130)
ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
B64 = ALNUM + "+/"
WORDS = ("the of and to in is that for it as was with be by on not this are or from at "
         "token key secret password api auth request response header body value config "
         "msg. aws sk- eyJ -----BEGIN postgres:// ghp_ xoxb- AKIA hf_ npm_ sg.").split()


def rand_str(n, alphabet=ALNUM):
    return "".join(rng.choices(alphabet, k=n))


def prose(n=12):
    return " ".join(rng.choices(WORDS, k=n))


def b64(s, url=False, pad=True):
    e = base64.b64encode(s.encode()).decode()
    if url:
        e = e.replace("+", "-").replace("/", "_")
    return e if pad else e.rstrip("=")


CONFUSABLE = {"a": "\u0430", "e": "\u0435", "o": "\u043e", "p": "\u0440", "c": "\u0441",
              "x": "\u0445", "A": "\u0391", "B": "\u0392", "E": "\u0395", "K": "\u039a"}
INVISIBLE = ["\u200b", "\u200d", "\u202e", "\u2066", "\ufeff", "\u00ad"]


def variants(s):
    """Every spelling of secret s the engine knows, and some near misses."""
    out = [s, s.upper(), s.lower(), b64(s), b64(s, True, False), s.encode().hex(),
           s.encode().hex().upper(), "-".join(s), " ".join(s[:len(s) // 2]) + s[len(s) // 2:],
           "".join("%%%02x" % ord(c) for c in s),
           "".join("%%%02X" % ord(c) if i % 3 == 0 else c for i, c in enumerate(s)),
           "".join("\\u%04x" % ord(c) if i % 4 == 1 else c for i, c in enumerate(s)),
           "".join(CONFUSABLE.get(c, c) for c in s),
           s[:5] + rng.choice(INVISIBLE) + s[5:],
           "\uff21" + s[1:] if s else s,
           s[:len(s) // 2], s[len(s) // 3:], s[2:20], s[4:24] + "...and..." + s[24:],
           s[:-1], s[1:], '"' + s[:10] + '" + "' + s[10:] + '"',
           b64(s.encode().hex()), "%" + s.encode().hex()]
    for shift in range(3):
        pre = rand_str(shift, "xyz")
        out.append(b64(pre + s + "tail"))
        out.append(b64(pre + s, True, True))
    wrapped = b64(rand_str(30) + s + rand_str(40))
    out.append("\n".join(wrapped[i:i + 76] for i in range(0, len(wrapped), 76)))
    return out


def rule_tokens():
    return [
        "AKIA" + rand_str(16, ALNUM.upper()[:26] + "234567"),
        "aws_secret_access_key = " + rand_str(40, B64),
        '"private_key_id": "' + rand_str(40, "0123456789abcdef") + '"',
        "AIza" + rand_str(35, ALNUM + "-_"),
        "ghp_" + rand_str(36), "gho_" + rand_str(36), "github_pat_" + rand_str(82, ALNUM + "_"),
        "glpat-" + rand_str(20, ALNUM + "-_"),
        "sk-ant-api03-" + rand_str(93, ALNUM + "-_") + "AA",
        "sk-proj-" + rand_str(60, ALNUM + "-_") + "T3BlbkFJ" + rand_str(60, ALNUM + "-_"),
        "hf_" + rand_str(34), "gsk_" + rand_str(52), "xai-" + rand_str(80),
        "xoxb-" + "-".join(rand_str(12, "0123456789") for _ in range(2)) + "-" + rand_str(24),
        "xapp-1-" + rand_str(11, ALNUM.upper()) + "-" + rand_str(13, "0123456789") + "-" + rand_str(64, "0123456789abcdef"),
        "https://hooks.slack.com/services/T" + rand_str(10, ALNUM.upper()) + "/B" + rand_str(10, ALNUM.upper()) + "/" + rand_str(24),
        "sk_live_" + rand_str(24), "rk_test_" + rand_str(99), "whsec_" + rand_str(32),
        "SG." + rand_str(22, ALNUM + "-_") + "." + rand_str(43, ALNUM + "-_"),
        "npm_" + rand_str(36), "pypi-AgEIcHlwaS5vcmc" + rand_str(70, ALNUM + "-_"),
        "dckr_pat_" + rand_str(27, ALNUM + "-_"), "dop_v1_" + rand_str(64, "0123456789abcdef"),
        "shpat_" + rand_str(32, "0123456789abcdef"), "lin_api_" + rand_str(40),
        "AccountKey=" + rand_str(86, B64) + "==",
        # PEM headers spelled in two parts, so that no scanner of this
        # repository takes the generator itself for a key.
        "-----BEGIN RSA " + "PRIVATE KEY-----\n" + rand_str(64, B64) + "\n" + rand_str(64, B64),
        "-----BEGIN OPENSSH " + "PRIVATE KEY-----\r\n" + rand_str(70, B64),
        "eyJ" + rand_str(20, ALNUM + "-_") + ".eyJ" + rand_str(40, ALNUM + "-_") + "." + rand_str(43, ALNUM + "-_"),
        "postgres://app:" + rand_str(16) + "@db.internal:5432/app",
        "mongodb+srv://u:" + rand_str(12) + "@cluster0.example.net/db",
        "redis://:password@cache:6379", "mysql://root:${DB_PASSWORD}@db/x",
        "amqps://user:<password>@mq/vhost",
        "tok" + rand_str(rng.randint(10, 44), "0123456789abcdef"),
        "secret: " + rand_str(rng.randint(6, 70)).lower(), "SECRET=example" + rand_str(10).lower(),
        "secret=" + rand_str(20).lower() + "0000",
    ]


def entropy_runs():
    out = []
    for n in (18, 19, 20, 21, 22, 23, 24, 25, 30, 40, 64, 100, 127, 128, 129, 200):
        out.append(rand_str(n, B64 + "-_"))
        out.append(rand_str(n, "0123456789abcdef"))
        out.append(rand_str(n))
    out.append("%08x-%04x-%04x-%04x-%012x" % tuple(rng.getrandbits(b) for b in (32, 16, 16, 16, 48)))
    out.append(rand_str(40, "0123456789abcdef"))
    return out


def noise():
    kind = rng.randrange(6)
    if kind == 0:
        return bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 300)))
    if kind == 1:
        return ("line one\r\nline two%0d%0A\n\t" + prose(5)).encode()
    if kind == 2:
        return ("%" + rand_str(1, "0123456789abcdefg") + "\\" + "\\u12" + "\\\\u0041"
                + rng.choice(INVISIBLE) + "\u00e9\u4e2d\ud7ff".encode("utf-8", "surrogatepass").decode("utf-8", "ignore")).encode()
    if kind == 3:
        return bytes([0xe2, 0x80]) + b"x" + bytes([0xf0, 0x9f, 0x98]) + b"%e2%80%8b" + b"\xc3"
    if kind == 4:
        return ("=" * rng.randint(1, 5) + rand_str(rng.randint(1, 40), B64 + "=-_.")).encode()
    return prose(rng.randint(1, 30)).encode()


def json_text(secrets):
    """Chat-request JSON: escaped newlines, quotes and backslashes around a
    secret's variant, as an agent's model call carries them."""
    text = prose(rng.randint(2, 10)) + "\n" + rng.choice(variants(rng.choice(secrets)))
    text += rng.choice(['\n', '"quoted"', '\\', '\t', '/', '\u00e9', 'x\\u0041']) + prose(3)
    return json.dumps({"content": text}).encode()


def piece(secrets):
    r = rng.randrange(12)
    if r >= 10:
        return json_text(secrets)
    if r < 3:
        return rng.choice(variants(rng.choice(secrets))).encode()
    if r < 5:
        return rng.choice(rule_tokens()).encode()
    if r < 6:
        return rng.choice(entropy_runs()).encode()
    if r < 8:
        return noise()
    return prose(rng.randint(3, 40)).encode()


def c_literals(path):
    """The string literals of a C file, adjacent ones (and macros defined as
    literals) joined."""
    text = open(path, encoding="utf-8", errors="replace").read()
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    literal = r'"(?:[^"\\\n]|\\.)*"'
    macros = {}
    for m in re.finditer(r"#define\s+(\w+)\s+((?:%s\s*)+)" % literal, text):
        macros[m.group(1)] = m.group(2)
    for name, value in macros.items():
        text = re.sub(r"\b%s\b" % name, value, text)
    out = []
    for m in re.finditer(r"(?:%s\s*)+" % literal, text):
        raw = "".join(re.findall(literal, m.group(0)))
        raw = raw.replace('""', "")[1:-1] if raw else ""
        try:
            out.append(c_unescape(raw))
        except ValueError:
            pass
    return out


def c_unescape(s):
    out, i = bytearray(), 0
    simple = {"n": 10, "r": 13, "t": 9, "0": 0, "\\": 92, '"': 34, "'": 39, "a": 7, "b": 8,
              "f": 12, "v": 11, "?": 63}
    while i < len(s):
        c = s[i]
        if c != "\\":
            out += c.encode()
            i += 1
            continue
        n = s[i + 1]
        if n == "x":
            j = i + 2
            while j < len(s) and s[j] in "0123456789abcdefABCDEF":
                j += 1
            out.append(int(s[i + 2:j], 16) & 0xff)
            i = j
        elif n in "01234567":
            j = i + 1
            while j < len(s) and j < i + 4 and s[j] in "01234567":
                j += 1
            out.append(int(s[i + 1:j], 8) & 0xff)
            i = j
        elif n in simple:
            out.append(simple[n])
            i += 2
        else:
            raise ValueError(s)
    return bytes(out)


def main():
    out = sys.argv[1]
    os.makedirs(os.path.join(out, "in"), exist_ok=True)
    secrets = [rand_str(n) for n in (8, 12, 16, 17, 20, 24, 32, 40, 64, 100, 200)]
    secrets.append("p@ss w0rd/with+symbols=")
    secrets.append("sk-test-0123456789abcdefABCDEF")
    secrets.append("aaaaaaaabbbbbbbbaaaaaaaa")  # repetitive: self-overlapping windows
    secrets.append("Zq8xT4vLp2Rm9WcY7bN3kHs6Jd5Fg1Aa")  # the unit tests' and the fuzz harness's
    canary = "canary" + rand_str(24, "0123456789abcdef")
    with open(os.path.join(out, "secrets.env"), "w") as f:
        f.write("CANARY=%s\n" % canary)
        for i, s in enumerate(secrets):
            f.write("SECRET_%02d=%s\n" % (i, s))
    everything = secrets + [canary]
    # Approvals: two whole secrets, a piece of one, a rule token, a canary.
    exempt = [secrets[6], secrets[9], secrets[7][3:30], canary, "ghp_" + rand_str(36)]
    with open(os.path.join(out, "exempt.txt"), "w") as f:
        f.write("\n".join(exempt) + "\n")
    n = 0

    def write(data, ext="txt"):
        nonlocal n
        with open(os.path.join(out, "in", "%04d.%s" % (n, ext)), "wb") as f:
            f.write(data)
        n += 1

    # One input per variant of every secret, alone and in text.
    for s in everything:
        for v in variants(s):
            write(v.encode())
            write((prose(rng.randint(0, 8)) + " " + v + " " + prose(3)).encode())
    for t in rule_tokens() + entropy_runs():
        write(t.encode())
        write(("x=" + t + "\n" + prose()).encode())
    for t in exempt:
        write(("approved " + t + " " + b64(t)).encode())
    # The unit tests' strings.
    for path in sys.argv[2:]:
        for lit in c_literals(path):
            if len(lit) >= 4:
                write(lit)
    # Mixtures of every size, up to beyond one 16 KiB batch.
    for size in [10, 100, 500, 1000, 4096, 5000, 16384, 20000, 40000] * 12:
        parts, total = [], 0
        while total < size:
            p = piece(everything)
            parts.append(p)
            total += len(p) + 1
        data = b" ".join(parts)
        write(data)
        if rng.randrange(4) == 0:
            write(gzip.compress(data), "gz")


if __name__ == "__main__":
    main()
