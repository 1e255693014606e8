#!/usr/bin/env python3
"""Write SIZE bytes of mixed text for the DLP scan benchmark (deterministic).

usage: gen.py OUT SIZE_MB SECRETS_ENV_FILE

The mix, by share of lines: English-like prose, source code, JSON records
with UUIDs, git SHAs and base64 blobs, and log lines.  One line in about
2000 carries a planted known secret (exact, base64, hex or separated) or a
rule-shaped token, so the detectors' slow paths are exercised too.
SECRETS_ENV_FILE receives 50 `BENCH_SECRET_NN=value` lines for the run.
"""
import base64
import random
import sys

rng = random.Random(20261129)
ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
WORDS = ("the of and to in is that for it as was with be by on not he this are or his from at "
         "which but have an they you were her she there been one all we their has would when if "
         "so no will can more about said what up its into than them only some could new these "
         "two may first then do any like my now over such our man me even most made after also "
         "did many before must through back years where much your way well down should because "
         "each just those people how too little state good very make world still own see men "
         "work long get here between both life being under never day same another know while "
         "last might us great old year off come since against go came right used take three "
         "token key secret password api auth request response header body value config").split()
CODE = ["int", "return", "if", "else", "for", "while", "struct", "const", "char", "size_t",
        "static", "void", "buf", "ret", "out", "goto", "NULL", "len", "p", "end", "err",
        "self", "def", "import", "function", "let", "var", "async", "await", "token", "key"]


def rand_str(n, alphabet=ALNUM):
    return "".join(rng.choices(alphabet, k=n))


def prose():
    return " ".join(rng.choices(WORDS, k=rng.randint(8, 24))).capitalize() + "."


def code():
    ident = "_".join(rng.choices(CODE, k=rng.randint(1, 3)))
    return "\t%s = %s(%s, %d); /* %s */" % (ident, rng.choice(CODE), rng.choice(CODE),
                                            rng.randint(0, 9999), " ".join(rng.choices(WORDS, k=5)))


def uuid():
    h = rand_str(32, "0123456789abcdef")
    return "%s-%s-%s-%s-%s" % (h[:8], h[8:12], h[12:16], h[16:20], h[20:])


def json_line():
    blob = base64.b64encode(rng.randbytes(rng.randint(150, 1500))).decode()
    return ('{"id": "%s", "commit": "%s", "name": "%s", "data": "%s"}'
            % (uuid(), rand_str(40, "0123456789abcdef"), " ".join(rng.choices(WORDS, k=3)), blob))


def log_line():
    return "2026-11-29T12:%02d:%02d.%03dZ info 10.%d.%d.%d GET /api/v1/%s?page=%d 200 %dms" % (
        rng.randint(0, 59), rng.randint(0, 59), rng.randint(0, 999), rng.randint(0, 255),
        rng.randint(0, 255), rng.randint(0, 255), rng.choice(WORDS), rng.randint(1, 99),
        rng.randint(1, 900))


def planted(secrets):
    s = rng.choice(secrets)
    kind = rng.randint(0, 5)
    if kind == 0:
        return "export TOKEN=%s" % s
    if kind == 1:
        return "auth: %s" % base64.b64encode(s.encode()).decode()
    if kind == 2:
        return "hex %s" % s.encode().hex()
    if kind == 3:
        return "sep " + "-".join(s)
    if kind == 4:
        return "key ghp_%s" % rand_str(36)
    return "db postgres://app:%s@db.internal:5432/app" % rand_str(16)


def main():
    out, size_mb, env_file = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    secrets = [rand_str(rng.choice([24, 32, 40, 64, 100])) for _ in range(50)]
    with open(env_file, "w") as f:
        for i, s in enumerate(secrets):
            f.write("BENCH_SECRET_%02d=%s\n" % (i, s))
    target = size_mb * 1000 * 1000
    makers = [prose] * 4 + [code] * 3 + [json_line] + [log_line] * 2
    written = 0
    with open(out, "w") as f:
        while written < target:
            lines = []
            for _ in range(2000):
                lines.append(rng.choice(makers)())
            lines[rng.randrange(2000)] = planted(secrets)
            chunk = "\n".join(lines) + "\n"
            f.write(chunk)
            written += len(chunk)


if __name__ == "__main__":
    main()
