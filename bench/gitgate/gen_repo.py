#!/usr/bin/env python3
"""Write a git fast-import stream for the gate benchmark's repository.

    gen_repo.py COMMITS PUSH_COMMITS | git fast-import --quiet

refs/heads/main gets COMMITS commits of source-like text (a few hundred
files in a few dozen directories, blocks of lines rewritten, files added
and, rarely, removed); refs/heads/bench-push gets PUSH_COMMITS more on top
of main, the same way: the branch the benchmark pushes.

Deterministic: the same arguments always give the same commits (ids
included), so the repository can be cached and figures compared between
runs and machines.  The pseudo-random numbers are our own xorshift, not
Python's `random`, whose algorithms may change between versions.
"""
import sys

MASK = (1 << 64) - 1


class Rng:
    def __init__(self, seed):
        self.state = seed & MASK or 1

    def next(self):
        x = self.state
        x ^= (x << 13) & MASK
        x ^= x >> 7
        x ^= (x << 17) & MASK
        self.state = x
        return x

    def below(self, n):
        return self.next() % n

    def between(self, low, high):
        return low + self.below(high - low + 1)


LETTERS = "abcdefghijklmnopqrstuvwxyz"


class Tree:
    """The working tree being committed: path -> list of lines."""

    def __init__(self, rng):
        self.rng = rng
        # Identifier-like words: a large vocabulary makes the text about
        # as compressible as real source (zlib gets 2-3x), so the pack is
        # tens of MB rather than a few.
        self.words = ["".join(LETTERS[rng.below(26)] for _ in range(rng.between(3, 11)))
                      for _ in range(20000)]
        self.dirs = ["src/%s" % self.word() for _ in range(24)] + \
                    ["lib/%s/%s" % (self.word(), self.word()) for _ in range(12)] + ["docs"]
        self.files = {}
        self.serial = 0
        for _ in range(360):
            self.add_file()

    def word(self):
        return self.words[self.rng.below(len(self.words))]

    def line(self):
        rng = self.rng
        indent = "\t" * rng.below(4)
        kind = rng.below(10)
        if kind == 0:
            return indent + "/* " + " ".join(self.word() for _ in range(rng.between(4, 12))) + " */"
        if kind == 1:
            return ""
        if kind == 2:
            return "%sif (%s_%s(%s, %d) < 0)" % (indent, self.word(), self.word(), self.word(),
                                                  rng.below(100000))
        return "%s%s = %s(%s, %s_%d);" % (indent, self.word(), self.word(), self.word(),
                                          self.word(), rng.below(1000000))

    def add_file(self):
        self.serial += 1
        d = self.dirs[self.rng.below(len(self.dirs))]
        path = "%s/%s_%d.c" % (d, self.word(), self.serial)
        self.files[path] = [self.line() for _ in range(self.rng.between(40, 400))]
        return path

    def change(self):
        """One commit's changes: the paths written and the paths removed."""
        rng = self.rng
        paths = sorted(self.files)
        written, removed = set(), set()
        for _ in range(rng.between(1, 5)):
            path = paths[rng.below(len(paths))]
            lines = self.files[path]
            start = rng.below(len(lines) + 1)
            end = min(len(lines), start + rng.below(40))
            lines[start:end] = [self.line() for _ in range(rng.between(5, 60))]
            if len(lines) > 1200:
                del lines[:400]
            written.add(path)
        if rng.below(5) == 0:
            written.add(self.add_file())
        if rng.below(50) == 0 and len(self.files) > 100:
            path = paths[rng.below(len(paths))]
            if path not in written:
                del self.files[path]
                removed.add(path)
        return sorted(written), sorted(removed)


def data(out, payload):
    out.write(b"data %d\n" % len(payload))
    out.write(payload)
    out.write(b"\n")


def commit(out, tree, ref, number, message, paths, removed, parent_mark):
    when = 1700000000 + number * 1800
    out.write(b"commit %s\nmark :%d\n" % (ref.encode(), number))
    out.write(b"author Bench Author <author@example.com> %d +0000\n" % when)
    out.write(b"committer Bench Author <author@example.com> %d +0000\n" % when)
    data(out, message.encode())
    if parent_mark:
        out.write(b"from :%d\n" % parent_mark)
    for path in removed:
        out.write(b"D %s\n" % path.encode())
    for path in paths:
        out.write(b"M 100644 inline %s\n" % path.encode())
        data(out, ("\n".join(tree.files[path]) + "\n").encode())


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: gen_repo.py COMMITS PUSH_COMMITS")
    commits, push_commits = int(sys.argv[1]), int(sys.argv[2])
    out = sys.stdout.buffer
    tree = Tree(Rng(0x9E3779B97F4A7C15))
    commit(out, tree, "refs/heads/main", 1, "Initial import\n", sorted(tree.files), [], 0)
    for number in range(2, commits + 1):
        written, removed = tree.change()
        commit(out, tree, "refs/heads/main", number, "Change %d: %s %s\n" % (
            number, tree.word(), tree.word()), written, removed, number - 1)
    parent = commits
    for number in range(commits + 1, commits + push_commits + 1):
        written, removed = tree.change()
        commit(out, tree, "refs/heads/bench-push", number, "Pushed change %d: %s\n" % (
            number, tree.word()), written, removed, parent)
        parent = number
    out.write(b"done\n")


if __name__ == "__main__":
    main()
