#!/usr/bin/env python3
"""Counts the locked instructions a program executed (docs/benchmarks/worker-counts.md).

A locked instruction (`lock`-prefixed, or `xchg` with a memory operand) costs tens of
cycles even uncontended, and this VM has no hardware counters, so they are counted from
a callgrind profile taken with `--dump-instr=yes`: the execution count of every
instruction of BINARY that `objdump -d` shows locked, summed.

    valgrind --tool=callgrind --dump-instr=yes --callgrind-out-file=OUT BINARY ARGS...
    scripts/locked-instructions.py OUT BINARY [TOP]

Prints the total, then the TOP (default 0) most executed locked instructions.
Only BINARY's own code is counted (not libc's).
"""
import collections
import re
import subprocess
import sys


def locked_instructions(binary):
    dis = subprocess.run(["objdump", "-d", "--no-show-raw-insn", binary],
                         capture_output=True, text=True, check=True).stdout
    locked = {}
    for line in dis.splitlines():
        m = re.match(r"\s*([0-9a-f]+):\s+(.*)", line)
        if m and (m.group(2).startswith("lock ")
                  or (m.group(2).startswith("xchg") and "(" in m.group(2))):
            locked[int(m.group(1), 16)] = m.group(2)
    return locked


def position(token, prev):
    """callgrind's compressed positions: absolute, +delta, -delta or * (same)."""
    if token == "*":
        return prev
    if token[0] in "+-":
        return prev + int(token, 0)
    return int(token, 0)


def main():
    out, binary = sys.argv[1], sys.argv[2]
    top = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    locked = locked_instructions(binary)
    name = binary.rsplit("/", 1)[-1]
    objects, counts = {}, collections.Counter()
    obj, pos, call_line = None, 0, False
    for line in open(out):
        line = line.rstrip("\n")
        m = re.match(r"(c?ob)=\((\d+)\)(?: (.*))?", line)
        if m:
            if m.group(3):
                objects[m.group(2)] = m.group(3)
            if m.group(1) == "ob":
                obj = objects.get(m.group(2))
            continue
        if line.startswith("calls="):
            call_line = True  # the next cost line is a call's inclusive cost
            continue
        if not line or not (line[0] in "+-*" or line.startswith("0x")):
            continue
        tokens = line.split()
        pos = position(tokens[0], pos)
        if call_line:
            call_line = False
            continue
        if obj and obj.endswith(name) and pos in locked and len(tokens) > 2:
            counts[pos] += int(tokens[2])
    print(f"locked instructions executed in {binary}: {sum(counts.values())}")
    for addr, count in counts.most_common(top):
        print(hex(addr), count, locked[addr])


if __name__ == "__main__":
    main()
