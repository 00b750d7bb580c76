#!/usr/bin/env python3
"""Fails on any module cycle inside a crate under crates/ or in the app (src-tauri): reads
`crate::…` and `super::…` paths (grouped `use crate::{a, b::c}` too) in each source file,
resolves each to the file module it names, and looks for strongly connected components among
those files.

A module declaring its children (`mod x;`) is not an edge; using a child (`x::f`) or the
parent (`super::f`) is.
Inline `#[cfg(test)] mod tests` blocks are left out: they use their own file.
Usage: scripts/check_cycles.py [CRATE_DIR…]  (default: every crates/* and src-tauri)
       scripts/check_cycles.py --self-test      (the checker finds the cycles it should)"""

import pathlib
import re
import sys

IDENT = r"[A-Za-z_][A-Za-z0-9_]*"


def file_module(src: pathlib.Path, path: pathlib.Path) -> tuple:
    rel = path.relative_to(src).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] in ("mod", "lib", "main"):
        parts = parts[:-1]
    return tuple(parts)


def strip(text: str) -> str:
    text = re.sub(r"//[^\n]*", "", text)
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    text = re.sub(r'"(?:\\.|[^"\\])*"', '""', text)
    cut = re.search(r"#\[cfg\(test\)\]\s*mod\s+" + IDENT + r"\s*\{", text)
    return text[: cut.start()] if cut else text


def expand(tree: str) -> list:
    """`a::{b, c::{d}}` → [a::b, a::c::d] for the text after `crate::` or `super::`."""
    out, depth, cur, i = [], 0, "", 0
    while i < len(tree):
        ch = tree[i]
        if ch == "{":
            j, depth = i + 1, 1
            while j < len(tree) and depth:
                depth += {"{": 1, "}": -1}.get(tree[j], 0)
                j += 1
            inner = tree[i + 1 : j - 1]
            items, d, start = [], 0, 0
            for k, c in enumerate(inner):
                d += {"{": 1, "}": -1}.get(c, 0)
                if c == "," and d == 0:
                    items.append(inner[start:k])
                    start = k + 1
            items.append(inner[start:])
            for item in items:
                for sub in expand(item.strip()):
                    out.append(cur + sub)
            return out
        cur += ch
        i += 1
    return [cur.strip()]


REF = re.compile(r"\b(crate|super)((?:::super)*)::(\{|" + IDENT + ")")


def references(text: str):
    for m in REF.finditer(text):
        start = m.start(3)
        if text[start] == "{":
            depth, j = 0, start
            while j < len(text):
                depth += {"{": 1, "}": -1}.get(text[j], 0)
                j += 1
                if depth == 0:
                    break
            tree = text[start:j]
        else:
            tree = re.match(r"(?:" + IDENT + r"::)*(?:" + IDENT + r"|\{)", text[start:]).group(0)
            if tree.endswith("{"):
                depth, j = 0, start + len(tree) - 1
                while j < len(text):
                    depth += {"{": 1, "}": -1}.get(text[j], 0)
                    j += 1
                    if depth == 0:
                        break
                tree = text[start:j]
        ups = 1 + m.group(2).count("super") if m.group(1) == "super" else 0
        for path in expand(tree):
            names = [p for p in path.split("::") if p and re.fullmatch(IDENT, p)]
            yield m.group(1), ups, names


def resolve(modules: set, here: tuple, kind: str, ups: int, names: list):
    base = () if kind == "crate" else here[: len(here) - ups]
    full = base + tuple(names)
    best = None
    for n in range(len(full), len(base) - 1, -1):
        if full[:n] in modules:
            best = full[:n]
            break
    return best


def cycles(crate: pathlib.Path) -> list:
    src = crate / "src"
    files = [p for p in src.rglob("*.rs") if p.name != "main.rs" or p.parent == src]
    mods = {file_module(src, p): p for p in files if p.name != "main.rs"}
    graph = {m: set() for m in mods}
    for m, path in mods.items():
        for kind, ups, names in references(strip(path.read_text())):
            target = resolve(set(mods), m, kind, ups, names)
            # The crate root re-exports; a path through it is not a dependency on lib.rs.
            if target is not None and target != m and target != ():
                graph[m].add(target)
        text = strip(path.read_text())
        for child in (c for c in mods if len(c) == len(m) + 1 and c[: len(m)] == m):
            if re.search(r"(?<![:\w])" + child[-1] + r"::", text):
                graph[m].add(child)
    # Tarjan's strongly connected components.
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
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
            if len(comp) > 1:
                out.append(comp)

    sys.setrecursionlimit(10_000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return [
        sorted(
            "::".join(c) or "crate" for c in comp
        )
        + [
            "edges: "
            + ", ".join(
                f"{'::'.join(a)} → {'::'.join(b)}"
                for a in sorted(comp)
                for b in sorted(graph[a])
                if b in comp
            )
        ]
        for comp in out
    ]


def self_test() -> int:
    """Small crates with and without cycles, in the spellings the checker must read."""
    import tempfile

    cases = {
        # name: ({file: text}, cycle expected)
        "grouped use": ({"lib.rs": "mod a; mod b;", "a.rs": "use crate::{b::f, c};",
                         "b.rs": "pub fn f() { crate::a::g() }"}, True),
        "parent and child": ({"lib.rs": "mod m;", "m/mod.rs": "mod k; fn r() { k::f() }",
                              "m/k.rs": "use super::helper;"}, True),
        "three in a ring": ({"lib.rs": "", "a.rs": "use crate::b::x;", "b.rs": "use crate::c;",
                             "c.rs": "fn f() { crate::a::y(); }"}, True),
        "layers": ({"lib.rs": "mod a; mod b;", "a.rs": "use crate::b::{self, x};",
                    "b.rs": "// use crate::a;\n#[cfg(test)]\nmod tests { use crate::a; }"}, False),
    }
    failed = 0
    for name, (files, want) in cases.items():
        with tempfile.TemporaryDirectory() as d:
            for f, text in files.items():
                path = pathlib.Path(d, "src", f)
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text)
            got = bool(cycles(pathlib.Path(d)))
            if got != want:
                failed += 1
                print(f"self-test {name!r}: cycle found {got}, expected {want}")
    return 1 if failed else 0


def main() -> int:
    if sys.argv[1:] == ["--self-test"]:
        return self_test()
    root = pathlib.Path(__file__).resolve().parent.parent
    crates = [pathlib.Path(a) for a in sys.argv[1:]] or [
        *sorted((root / "crates").iterdir()),
        root / "src-tauri",
    ]
    failed = False
    for crate in crates:
        if not (crate / "src").is_dir():
            continue
        for comp in cycles(crate):
            failed = True
            *names, edges = comp
            print(f"{crate.name}: module cycle among {', '.join(names)}\n  {edges}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
