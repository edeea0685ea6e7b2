"""Import-direction and import-cycle check for a cimopt checkout (read-only).

Usage: python experiments/checks/imports_check.py [ROOT]   (ROOT defaults to this repository)

Exits 1 when an import goes against the direction or files import each other in a circle
(imports inside functions included); its last line is the figure.

Parses every .py file under ir/ targets/ cost/ solver/ cimopt/ experiments/ with `ast`,
resolves `cimopt.X...` and relative imports to the file (and folder) they live in, and prints
  1. every import that goes against the intended direction
     ir -> targets -> cost -> solver -> cimopt (-> experiments),
  2. every import cycle between files (strongly connected components, with one simple cycle
     per component and the edges inside it), edges made inside a function marked [lazy],
  3. per folder, the folders it imports.
"""
from __future__ import annotations

import ast
import os
import sys
from collections import defaultdict

ROOT = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else
                       os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
FOLDERS = ["ir", "targets", "cost", "solver", "cimopt", "experiments"]
RANK = {name: i for i, name in enumerate(FOLDERS)}
# import package -> folder, as in pyproject.toml [tool.setuptools] package-dir
PACKAGE_DIR = {
    "cimopt": "cimopt",
    "cimopt.ir": "ir",
    "cimopt.ir.passes": "ir/passes",
    "cimopt.targets": "targets",
    "cimopt.cost": "cost",
    "cimopt.solver": "solver",
}


def layer(relpath: str) -> str:
    return relpath.split("/", 1)[0]


def module_name(relpath: str) -> str | None:
    """Dotted module name of a file under a mapped folder (None for experiments/)."""
    folder, base = os.path.split(relpath)
    for pkg, d in PACKAGE_DIR.items():
        if d == folder:
            stem = base[:-3]
            return pkg if stem == "__init__" else f"{pkg}.{stem}"
    return None


def resolve(dotted: str) -> str | None:
    """File (relative to ROOT) that defines module `dotted`, or None if not ours."""
    if dotted != "cimopt" and not dotted.startswith("cimopt."):
        return None
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):  # longest mapped package prefix
        pkg = ".".join(parts[:i])
        if pkg in PACKAGE_DIR:
            rest = parts[i:]
            base = os.path.join(PACKAGE_DIR[pkg], *rest)
            if os.path.isfile(os.path.join(ROOT, base + ".py")):
                return base + ".py"
            if os.path.isfile(os.path.join(ROOT, base, "__init__.py")):
                return os.path.join(base, "__init__.py")
            return None
    return None


class Collector(ast.NodeVisitor):
    """Collects (lineno, target module names, lazy?, type_checking?) for each import."""

    def __init__(self, relpath: str):
        self.relpath = relpath
        self.modname = module_name(relpath)
        self.depth = 0  # >0 inside a function body
        self.tc = 0  # >0 inside `if TYPE_CHECKING:`
        self.found: list[tuple[int, str, bool, bool]] = []

    def _func(self, node):
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _func

    def visit_If(self, node):
        t = node.test
        is_tc = (isinstance(t, ast.Name) and t.id == "TYPE_CHECKING") or (
            isinstance(t, ast.Attribute) and t.attr == "TYPE_CHECKING")
        if is_tc:
            self.tc += 1
            for n in node.body:
                self.visit(n)
            self.tc -= 1
            for n in node.orelse:
                self.visit(n)
        else:
            self.generic_visit(node)

    def _add(self, lineno, dotted):
        self.found.append((lineno, dotted, self.depth > 0, self.tc > 0))

    def visit_Import(self, node):
        for a in node.names:
            self._add(node.lineno, a.name)

    def visit_ImportFrom(self, node):
        if node.level:  # relative: anchor on this file's package
            if self.modname is None:
                return
            pkg = self.modname if self.relpath.endswith("__init__.py") else self.modname.rsplit(".", 1)[0]
            pkg_parts = pkg.split(".")
            pkg_parts = pkg_parts[: len(pkg_parts) - (node.level - 1)]
            base = ".".join(pkg_parts + ([node.module] if node.module else []))
        else:
            base = node.module or ""
        for a in node.names:  # `from pkg import sub` may name a submodule
            sub = f"{base}.{a.name}"
            self._add(node.lineno, sub if resolve(sub) else base)


def scan():
    files = []
    for folder in FOLDERS:
        for dirpath, dirnames, filenames in os.walk(os.path.join(ROOT, folder)):
            dirnames[:] = [d for d in dirnames if d != "__pycache__"]
            for f in filenames:
                if f.endswith(".py"):
                    files.append(os.path.relpath(os.path.join(dirpath, f), ROOT))
    edges = []  # (src, dst, lineno, lazy, type_checking), one per imported file per statement
    for rel in sorted(files):
        with open(os.path.join(ROOT, rel), encoding="utf-8") as fh:
            tree = ast.parse(fh.read(), filename=rel)
        c = Collector(rel)
        c.visit(tree)
        for lineno, dotted, lazy, tc in c.found:
            dst = resolve(dotted)
            if dst and dst != rel and (rel, dst, lineno, lazy, tc) not in edges:
                edges.append((rel, dst, lineno, lazy, tc))
    return files, edges


def sccs(nodes, adj):
    """Tarjan's strongly connected components (iterative)."""
    index, low, on, stack, out, counter = {}, {}, set(), [], [], [0]
    for root in nodes:
        if root in index:
            continue
        work = [(root, iter(sorted(adj[root])))]
        index[root] = low[root] = counter[0]; counter[0] += 1
        stack.append(root); on.add(root)
        while work:
            v, it = work[-1]
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter[0]; counter[0] += 1
                    stack.append(w); on.add(w)
                    work.append((w, iter(sorted(adj[w]))))
                    break
                if w in on:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    comp = []
                    while True:
                        w = stack.pop(); on.discard(w); comp.append(w)
                        if w == v:
                            break
                    out.append(sorted(comp))
    return out


def one_cycle(comp, adj):
    """A shortest cycle through the first node of a component (BFS)."""
    start, members = comp[0], set(comp)
    prev, frontier = {start: None}, [start]
    while frontier:
        nxt = []
        for v in frontier:
            for w in sorted(adj[v]):
                if w == start:
                    path = [v]
                    while prev[path[-1]] is not None:
                        path.append(prev[path[-1]])
                    return [start] + path[::-1][1:] + [start]
                if w in members and w not in prev:
                    prev[w] = v; nxt.append(w)
        frontier = nxt
    return comp


def main():
    files, edges = scan()
    print(f"root: {ROOT}; {len(files)} files, {len(edges)} imports of our own modules")
    print("direction: " + " -> ".join(FOLDERS) + "  (each may import only from those to its left)\n")

    print("== 1. imports against the intended direction")
    bad = [e for e in edges if RANK[layer(e[1])] > RANK[layer(e[0])]]
    for src, dst, ln, lazy, tc in bad:
        tag = " [lazy]" if lazy else (" [TYPE_CHECKING]" if tc else "")
        print(f"  {src}:{ln} -> {dst}  ({layer(src)} imports {layer(dst)}){tag}")
    if not bad:
        print("  none")

    print("\n== 2. import cycles between files ([lazy] = import inside a function)")
    ncycles = 0
    for label, keep in (("all imports", lambda e: not e[4]), ("module-level imports only", lambda e: not e[3] and not e[4])):
        adj = defaultdict(set)
        emap = defaultdict(list)
        for e in edges:
            if keep(e):
                adj[e[0]].add(e[1]); emap[(e[0], e[1])].append(e)
        comps = [c for c in sccs(sorted(files), adj) if len(c) > 1]
        print(f"  -- {label}: {len(comps)} cycle(s)")
        if label == "all imports":
            ncycles = len(comps)
        for comp in comps:
            cyc = one_cycle(comp, adj)
            print(f"     component {comp}")
            print("       cycle: " + " -> ".join(cyc))
            for a, b in zip(cyc, cyc[1:]):
                for ln, lazy in sorted({(e[2], e[3]) for e in emap[(a, b)]}):
                    print(f"         {a}:{ln} -> {b}{' [lazy]' if lazy else ''}")

    print("\n== 3. folders each folder imports (module-level | lazy-only)")
    eager, lazy_only = defaultdict(set), defaultdict(set)
    for src, dst, ln, lazy, tc in edges:
        a, b = layer(src), layer(dst)
        if a != b:
            (lazy_only if lazy else eager)[a].add(b)
    for f in FOLDERS:
        lz = sorted(lazy_only[f] - eager[f])
        print(f"  {f:12s} imports {sorted(eager[f], key=RANK.get) or '[]'}"
              + (f"  lazy only: {lz}" if lz else ""))

    print("\n== 4. imports made inside functions (lazy), by file")
    per = defaultdict(list)
    for src, dst, ln, lazy, tc in edges:
        if lazy and f"{ln}:{dst}" not in per[src]:
            per[src].append(f"{ln}:{dst}")
    for src in sorted(per):
        print(f"  {src}: {', '.join(per[src])}")

    print(f"\nimports: {len(bad)} against the direction, {ncycles} circle(s) of files")
    return 1 if bad or ncycles else 0


if __name__ == "__main__":
    sys.exit(main())
