#!/usr/bin/env python3
"""Import cycles between heist's source files (issue 10; docs/design.md, "Layers").

    python3 scripts/import-cycles.py            # cycles and layer rules; exit 1 if broken
    python3 scripts/import-cycles.py --edges    # also every edge, file by file

CI runs it before the build (`.ci/run`, step `layers`; python3 only, about a second):
it exits 1 on any cycle but the two in `ALLOWED` and on any edge a rule in `RULES`
forbids, and prints each with the edges and lines that make it.

What counts as an edge A -> B: file A names an item *defined* in file B, by a `use`
(private, `pub(crate)` or `pub`), a `pub use` re-export, or a path in the code
(`crate::..`, `super::..`, `self::..`, `child_module::..`). A path is followed through
modules and through re-exports to the file that defines the item, so naming
`crate::task::JoinHandle` is an edge to task/join.rs, not to task/mod.rs. A `mod.rs`
that only declares modules and re-exports (a facade) is therefore never the target of
an edge, and its re-exports of a higher layer's items (`task::spawn_blocking`) close no
cycle; a file that defines items *and* re-exports from above does. Comments (doc
comments and their intra-doc links included) and string literals are ignored; `cfg`s
are not evaluated (both sides of the `sync` facade count). A `#[cfg(test)]` inline
module is a node of its own (`file#tests`): nothing imports a test, so it is a leaf. A
test module, inline or a file of its own (`#[cfg(test)] mod loom_tests;`), may name
any layer: the rules skip it (being a leaf, it closes no cycle).

It prints each strongly connected component of more than one file, with the edges that
hold it together (file:line), and checks the layer rules in `RULES`. The two cycles
docs/design.md allows (a type and its vtable, `raw` <-> `harness`; `Builder` <->
`Runtime`) are listed as allowed and do not fail the run. Parsing is by regular
expressions over rustfmt'd code: items are found at their module's top level only.
"""

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "src"

# Cycles docs/design.md allows: exactly these sets of files.
ALLOWED = [
    {"task/raw.rs", "task/harness.rs"},
    {"runtime/builder.rs", "runtime/mod.rs"},
]
# (importer prefix, forbidden target prefix, importers exempted): a lower layer never
# names a higher one, and the siblings under runtime/ (scheduler/, time/, blocking/)
# never name each other. The exemptions are the up-arrows docs/design.md lists under
# its picture, each with its reason there.
UP_TO_CONTEXT = "the current-runtime lookup in runtime/context.rs"
TASK_API = ("task/join_set/", "task/local/", "task/mod.rs")  # public task API; facade
RULES = [
    # sync/ names nothing of the crate but sync/.
    *[("sync/", upper, ()) for upper in ("task/", "scheduler/", "runtime/", "time/")],
    *[("sync/", upper, ()) for upper in ("blocking/", "io/", "net/", "debug/", "metrics/")],
    ("task/", "scheduler/", ()),
    ("task/", "time/", ()),
    ("task/", "io/", ()),
    ("task/", "net/", ()),
    ("task/", "debug/", ()),
    ("task/", "metrics/", ()),
    ("task/", "blocking/", TASK_API),
    ("task/", "runtime/", TASK_API),
    ("time/", "scheduler/", ()),
    ("time/", "blocking/", ()),
    ("time/", "io/", ()),
    ("time/", "net/", ()),
    ("time/", "debug/", ()),
    ("time/", "runtime/", ("time/current.rs",)),  # UP_TO_CONTEXT
    ("blocking/", "scheduler/", ()),
    ("blocking/", "time/", ()),
    ("blocking/", "io/", ()),
    ("blocking/", "runtime/", ("blocking/mod.rs",)),  # UP_TO_CONTEXT (spawn_blocking)
    ("scheduler/", "runtime/", ()),
    ("scheduler/", "time/", ()),
    ("scheduler/", "blocking/", ()),
    ("scheduler/", "io/", ()),
    ("scheduler/", "net/", ()),
    # debug/ and metrics/ straddle the scheduler: what the workers call and write sits
    # below it, the readers above it.
    ("scheduler/", "debug/dump.rs", ()),
    ("scheduler/", "debug/watchdog.rs", ()),
    ("scheduler/", "metrics/mod.rs", ()),
    ("debug/observe.rs", "scheduler/", ()),
    ("debug/observe.rs", "runtime/", ()),
    ("debug/observe.rs", "debug/dump.rs", ()),
    ("debug/observe.rs", "debug/watchdog.rs", ()),
    ("metrics/stats.rs", "scheduler/", ()),
    ("metrics/worker.rs", "scheduler/", ()),
    ("metrics/stats.rs", "runtime/", ()),
    ("metrics/worker.rs", "runtime/", ()),
    ("io/", "net/", ()),
    ("runtime/", "net/", ()),
]

ITEM = re.compile(
    r"\b(?:fn|struct|enum|trait|type|const|static|union)\s+(?:mut\s+)?([A-Za-z_]\w*)"
)
MOD_DECL = re.compile(r"\bmod\s+([A-Za-z_]\w*)\s*;")
MOD_INLINE = re.compile(r"\bmod\s+([A-Za-z_]\w*)\s*\{")
USE = re.compile(r"\b(pub(?:\s*\([^)]*\))?\s+)?use\s+([^;]+);")
TEST_ATTR = re.compile(
    r"#\[cfg\([^\]]*\btest\b[^\]]*\)\]\s*(?:#\[[^\]]*\]\s*)*(?:pub(?:\([^)]*\))?\s+)?\Z"
)
PATH = re.compile(r"(?<![\w:])(\$?[A-Za-z_]\w*)((?:\s*::\s*[A-Za-z_]\w*)+)")


def strip(src):
    """Blanks comments, strings and char literals, keeping offsets and newlines."""
    out, i, n = [], 0, len(src)
    char_lit = re.compile(r"'(?:\\(?:u\{[0-9a-fA-F]+\}|x[0-9a-fA-F]{2}|.)|[^\\'\n])'")
    raw_str = re.compile(r'b?r(#*)"')

    def blank(text):
        out.append(re.sub(r"[^\n]", " ", text))

    while i < n:
        c = src[i]
        if src.startswith("//", i):
            j = src.find("\n", i)
            j = n if j < 0 else j
            blank(src[i:j])
            i = j
        elif src.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if src.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif src.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            blank(src[i:j])
            i = j
        elif (m := raw_str.match(src, i)) and (i == 0 or not (src[i - 1].isalnum() or src[i - 1] == "_")):
            end = src.find('"' + m.group(1), m.end())
            j = n if end < 0 else end + 1 + len(m.group(1))
            blank(src[i:j])
            i = j
        elif c == '"':
            j = i + 1
            while j < n and src[j] != '"':
                j += 2 if src[j] == "\\" else 1
            blank(src[i : j + 1])
            i = j + 1
        elif c == "'" and (m := char_lit.match(src, i)):
            blank(m.group(0))
            i = m.end()
        else:
            out.append(c)
            i += 1
    return "".join(out)


def split_top(s, sep=","):
    parts, depth, cur = [], 0, []
    for ch in s:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        if ch == sep and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return [p.strip() for p in parts if p.strip()]


def expand_use(tree, prefix=()):
    """Yields (segments, bound name or '*') for a use tree."""
    tree = re.sub(r"\s+", " ", tree).strip()
    if tree.startswith("::"):
        tree = tree[2:]
    if "{" in tree and (tree.find("{") < tree.find(" as ") if " as " in tree else True):
        head, body = tree.split("{", 1)
        body = body[: body.rfind("}")]
        head_segs = tuple(s.strip() for s in head.split("::") if s.strip())
        for part in split_top(body):
            yield from expand_use(part, prefix + head_segs)
        return
    alias = None
    if " as " in tree:
        tree, alias = (x.strip() for x in tree.split(" as ", 1))
    segs = prefix + tuple(s.strip() for s in tree.split("::") if s.strip())
    if segs[-1] == "*":
        yield segs[:-1], "*"
    elif segs[-1] == "self":
        yield segs[:-1], alias or segs[-2]
    else:
        yield segs, alias or segs[-1]


class Crate:
    def __init__(self, root):
        self.root = root
        self.files = {}  # rel file -> stripped text
        self.macros = {}  # `#[macro_export]` macro name -> file
        self.nodes = set()  # files, and `#[cfg(test)]` inline modules as `file#name`
        self.tests = set()  # the nodes that are test modules (and files under them)
        self.mods = {}  # module path tuple -> (rel file, start offset, end offset)
        self.defs = {}  # module path -> set of item names
        self.binds = {}  # module path -> {name: (module path, segs, file, line)}
        self.globs = {}  # module path -> [(module path, segs)]
        self.uses = []  # (module path, segs, file, line, is_pub)
        self.paths = []  # (module path, segs, file, line)
        self.load((), root / "lib.rs", False)

    def load(self, modp, path, test):
        rel = str(path.relative_to(self.root))
        text = strip(path.read_text())
        self.files[rel] = text
        self.scan(modp, rel, text, 0, len(text), path, test)

    def scan(self, modp, rel, text, start, end, path, test):
        self.nodes.add(rel)
        if test:
            self.tests.add(rel)
        self.mods[modp] = (rel, start, end)
        self.defs.setdefault(modp, set())
        self.binds.setdefault(modp, {})
        self.globs.setdefault(modp, [])
        # Top level of this module: brace depth 0 relative to its body.
        depth, top, inner = 0, [], []
        i = start
        while i < end:
            ch = text[i]
            at_word = i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")
            if depth == 0 and at_word and ch in "mpu":
                m = MOD_INLINE.match(text, i)
                if m:
                    close = match_brace(text, m.end() - 1)
                    is_test = TEST_ATTR.search(text, max(start, i - 300), i)
                    node = f"{rel}#{m.group(1)}" if is_test else rel
                    inner.append((m.group(1), m.end(), close, node, test or bool(is_test)))
                    top.append((i, m.end()))
                    i = close + 1
                    continue
                m = USE.match(text, i)
                if m:
                    top.append((i, m.end()))
                    i = m.end()
                    continue
            if ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
            if depth == 0 and ch not in "{}":
                top.append((i, i + 1))
            i += 1
        top_text = mask(text, start, end, top)
        line = lambda off: text.count("\n", 0, off) + 1
        for m in ITEM.finditer(top_text):
            self.defs[modp].add(m.group(1))
        for m in re.finditer(r"(#\[macro_export\]\s*)?\bmacro_rules!\s*([A-Za-z_]\w*)", top_text):
            if m.group(1):  # `#[macro_export]`: named from the crate root
                self.macros[m.group(2)] = rel
            self.defs[modp].add(m.group(2))
        for m in MOD_DECL.finditer(top_text):
            name = m.group(1)
            base = path.parent if path.name in ("lib.rs", "mod.rs") else path.with_suffix("")
            is_test = test or bool(TEST_ATTR.search(text, max(start, m.start() - 300), m.start()))
            for cand in (base / f"{name}.rs", base / name / "mod.rs"):
                if cand.exists():
                    self.load(modp + (name,), cand, is_test)
                    break
        for name, s, e, node, is_test in inner:
            self.scan(modp + (name,), node, text, s, e, path, is_test)
        for m in USE.finditer(top_text):
            ln = line(m.start())
            for segs, name in expand_use(m.group(2)):
                if name == "*":
                    self.globs[modp].append((modp, segs))
                else:
                    self.binds[modp][name] = (modp, segs)
                self.uses.append((modp, segs, rel, ln, bool(m.group(1))))
        # Paths in code (everything in this module's span but its `use`s and inner mods).
        body = list(text[start:end])
        for name, s, e, _, _ in inner:
            body[s - start : e - start] = " " * (e - s)
        for m in USE.finditer(top_text):
            body[m.start() - start : m.end() - start] = " " * (m.end() - m.start())
        body = "".join(body)
        for m in PATH.finditer(body):
            first = m.group(1)
            segs = (first,) + tuple(s.strip() for s in m.group(2).split("::") if s.strip())
            if first == "$crate":
                segs = ("crate",) + segs[1:]
            self.paths.append((modp, segs, rel, line(start + m.start())))

    def resolve(self, modp, segs, seen=None, top=True):
        """The file defining the item `segs` names from module `modp`, or None."""
        seen = seen or set()
        key = (modp, segs)
        if key in seen or modp not in self.mods:
            return None
        seen.add(key)
        if not segs:
            return None  # a module itself: the paths through it are followed instead
        s, rest = segs[0], segs[1:]
        if s == "crate":
            if len(rest) == 1 and rest[0] in self.macros:
                return self.macros[rest[0]]
            return self.resolve((), rest, seen, False)
        if s == "super":
            return self.resolve(modp[:-1], rest, seen, False)
        if s == "self":
            return self.resolve(modp, rest, seen, False)
        if modp + (s,) in self.mods:
            return self.resolve(modp + (s,), rest, seen, False)
        if s in self.defs[modp]:
            return self.mods[modp][0]
        if s in self.binds[modp]:
            bmod, bsegs = self.binds[modp][s]
            head = bsegs[0]
            if (
                head not in ("crate", "super", "self")
                and bmod + (head,) not in self.mods
                and head not in self.defs[bmod]
                and head not in self.binds[bmod]
            ):
                return EXTERNAL  # a re-export of another crate's item (`pub use std::...`)
            if bsegs != segs or bmod != modp:
                return self.resolve(bmod, bsegs + rest, seen, top)
        for gmod, gsegs in self.globs[modp]:
            found = self.resolve(gmod, gsegs + segs, seen, False)
            if found:
                return found
        return None if top else self.mods[modp][0]

    def edges(self):
        out = {}
        for modp, segs, rel, ln, is_pub in self.uses:
            kind = "pub use" if is_pub else "use"
            self.add(out, rel, self.resolve(modp, segs), ln, kind, segs)
        for modp, segs, rel, ln in self.paths:
            self.add(out, rel, self.resolve(modp, segs), ln, "path", segs)
        return out

    @staticmethod
    def add(out, src, dst, ln, kind, segs):
        if dst and dst != src and dst != EXTERNAL:
            out.setdefault(src, {}).setdefault(dst, []).append((ln, kind, "::".join(segs)))


# What `Crate.resolve` returns for an item another crate defines (re-exported here):
# it names no file of this crate, so it makes no edge.
EXTERNAL = "<external>"


def match_brace(text, i):
    depth = 0
    for j in range(i, len(text)):
        if text[j] == "{":
            depth += 1
        elif text[j] == "}":
            depth -= 1
            if depth == 0:
                return j
    return len(text)


def mask(text, start, end, keep):
    """`text` with everything outside the `keep` spans blanked (offsets kept)."""
    out = [" "] * len(text)
    for s, e in keep:
        out[s:e] = text[s:e]
    for i in range(start, end):
        if text[i] == "\n":
            out[i] = "\n"
    return "".join(out)


def sccs(nodes, edges):
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges.get(v, {})):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return out


def main():
    crate = Crate(ROOT)
    edges = crate.edges()
    if "--edges" in sys.argv:
        for src in sorted(edges):
            for dst in sorted(edges[src]):
                ln, kind, path = edges[src][dst][0]
                print(f"{src}:{ln} -> {dst}  ({kind} {path})")
        print()
    bad = 0
    comps = [c for c in sccs(crate.nodes, edges) if len(c) > 1]
    for comp in sorted(comps, key=len):
        allowed = set(comp) in ALLOWED
        bad += not allowed
        label = "allowed cycle" if allowed else "CYCLE"
        print(f"{label} ({len(comp)} files): {' '.join(comp)}")
        for src in comp:
            for dst in sorted(edges.get(src, {})):
                if dst in comp:
                    ln, kind, path = edges[src][dst][0]
                    more = len(edges[src][dst]) - 1
                    extra = f" (+{more} more)" if more else ""
                    print(f"    {src}:{ln} -> {dst}  ({kind} {path}){extra}")
    for lower, upper, exempt in RULES:
        for src in sorted(edges):
            if not src.startswith(lower) or src in crate.tests:
                continue
            if any(src.startswith(e) for e in exempt):
                continue
            for dst in sorted(edges[src]):
                if dst.startswith(upper):
                    bad += 1
                    ln, kind, path = edges[src][dst][0]
                    print(f"LAYER {lower} names {upper}: {src}:{ln} -> {dst}  ({kind} {path})")
    n_edges = sum(len(d) for d in edges.values())
    print(f"{len(crate.files)} files, {n_edges} edges, {len(comps)} cycles, {bad} problems")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
