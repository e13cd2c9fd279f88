"""The walk from `main()` to the statistics SQL, measured by running it (ARCHITECTURE.md).

Run by `docs/walk.sh`, inside gdb, on a debug build of the binary. Every function of the
project's crates (`pipeline`, `stages`, `olist`, `migration`) gets a breakpoint; each hit is
attributed to its caller, the nearest frame above it that is the project's own, and the program
stops at the first call of the statistics statement's builder (`compute_sql`). The rules
(ARCHITECTURE.md, "From main() to the statistics SQL, measured"):

- a call is one of the project's hand-written functions called by another; closures, async
  blocks and async fn bodies belong to the function they are written in (a closure the project
  hands elsewhere and that calls back counts as a call from where it runs); code a derive or an
  attribute generated (its first line is the attribute) is not the project's hand-written code;
- between the two, only the standard library's glue (futures, boxes, iterators, lazy statics,
  `Fn` shims) may stand; a call made by another crate's code (serde, sqlx, clap, or generated
  code they run) is not counted;
- a pair of caller and callee counts once, at its first call (a loop counts its first
  iteration); a breakpoint hit MAX_HITS times is removed (the pairs of a per-line loop are seen
  long before);
- the calls are listed depth first from `main`, each callee's own calls right after it (the run's
  tasks interleave in time, a reader does not);
- a module change is a call whose callee's module differs from the previous call's.

Writes the calls in that order to the file named by WALK_OUT, one `caller -> callee` per line (`*`
marks a module change, `**` one between crates), then the counts.
"""

import bisect
import os
import re
import subprocess

import gdb  # noqa: F401  (provided by gdb)

BINARY = gdb.current_progspace().filename
OURS = ("pipeline::", "stages::", "olist::", "migration::")
GLUE = (
    "core::future",
    "core::pin",
    "core::ops::function",
    "core::iter",
    "core::option",
    "core::result",
    "core::ops::try_trait",
    "alloc::boxed",
    "alloc::vec",
    "std::sync::lazy_lock",
    "std::sync::once",
    "std::sys::sync::once",
    "std::sync::poison::once",
    "tracing::instrument",
)
STOP = "customer_daily_stats::compute_sql"
MAX_HITS = 300


def symbols():
    """(addresses, names) of the binary's text symbols, sorted, names demangled."""
    out = subprocess.run(
        ["nm", "-C", "--defined-only", BINARY], capture_output=True, text=True, check=True
    ).stdout
    table = []
    for line in out.splitlines():
        parts = line.split(" ", 2)
        if len(parts) == 3 and parts[1] in ("t", "T"):
            table.append((int(parts[0], 16), parts[2]))
    table.sort()
    return [a for a, _ in table], [n for _, n in table]


ADDRS, NAMES = symbols()


def subject(name):
    """The path a symbol belongs to: `<A as B>::m` is A's `m`; generics dropped."""
    if name.startswith("<"):
        depth, i = 0, 0
        for i, ch in enumerate(name):
            if ch == "<":
                depth += 1
            elif ch == ">":
                depth -= 1
                if depth == 0:
                    break
        inner = name[1:i]
        rest = name[i + 1 :]
        inner = inner.split(" as ")[0]
        name = inner + rest
    return re.sub(r"<[^<>]*>", "", re.sub(r"<[^<>]*>", "", name))


def function(name):
    """A symbol's function: closures and async bodies belong to the function they are in."""
    path = subject(name)
    while path.endswith("::{{closure}}"):
        path = path[: -len("::{{closure}}")]
    return path


def module(func):
    """A function's module: the path before its first type or static (capitalised) segment, or
    before its last segment."""
    segments = func.split("::")
    for i, seg in enumerate(segments[:-1]):
        if seg[:1].isupper() or seg.startswith("{"):
            return "::".join(segments[:i])
    return "::".join(segments[:-1])


GENERATED = {}


def generated(addr):
    """Whether the function at `addr` (unrelocated) is generated code: its first line is an
    attribute (`#[derive(...)]`, `#[typetag::serde]`, ...), the way derived code is located."""
    if addr not in GENERATED:
        sal = gdb.find_pc_line(addr + BASE[0])
        text = ""
        if sal.symtab is not None:
            try:
                with open(sal.symtab.fullname()) as f:
                    lines = f.read().splitlines()
                text = lines[sal.line - 1] if 0 < sal.line <= len(lines) else ""
            except OSError:
                text = ""
        GENERATED[addr] = text.lstrip().startswith("#[")
    return GENERATED[addr]


def ours(name):
    return subject(name).startswith(OURS) and "::_::" not in name


def glue(name):
    return subject(name).startswith(GLUE) or name.startswith("<core::pin::Pin<")


BASE = [0]


def load_base():
    """Where the (position-independent) binary was mapped: its lowest mapping's start."""
    text = gdb.execute("info proc mappings", to_string=True)
    starts = [
        int(line.split()[0], 16)
        for line in text.splitlines()
        if line.strip().endswith(BINARY)
    ]
    return min(starts)


def name_at(pc):
    """The symbol at `pc`, and whether it is the project's hand-written code."""
    i = bisect.bisect_right(ADDRS, pc - BASE[0]) - 1
    if i < 0:
        return "?", False
    return NAMES[i], ours(NAMES[i]) and not generated(ADDRS[i])


CALLS = []
SEEN = set()
STOPPED = []


class Hit(gdb.Breakpoint):
    def __init__(self, addr, name):
        super().__init__(f"*{addr + BASE[0]:#x}", internal=True)
        self.symbol = name
        self.count = 0

    def stop(self):
        self.count += 1
        if self.count >= MAX_HITS:
            self.enabled = False
        callee = function(self.symbol)
        caller = caller_of(gdb.newest_frame())
        if caller is not None and caller != callee and (caller, callee) not in SEEN:
            SEEN.add((caller, callee))
            CALLS.append((caller, callee))
        if callee.endswith(STOP):
            STOPPED.append(callee)
            return True
        return False


def caller_of(frame):
    """The project's function that called `frame`'s, through glue only; None when another
    crate's code called it."""
    f = frame.older()
    while f is not None:
        name, written = name_at(f.pc())
        if written:
            return function(name)
        if not glue(name):
            return None
        f = f.older()
    return None


def main():
    gdb.execute("set pagination off")
    gdb.execute("set confirm off")
    gdb.execute("set print thread-events off")
    gdb.execute("set breakpoint pending off")
    gdb.execute("starti", to_string=True)
    BASE[0] = load_base()
    for addr, name in zip(ADDRS, NAMES):
        if ours(name) and "drop_in_place" not in name and not generated(addr):
            Hit(addr, name)
    gdb.execute("continue", to_string=True)
    report()
    gdb.execute("kill")


def reading_order():
    """The calls in the order a reader follows them from `main`: each callee's own calls right
    after it, at its first call (the run's tasks interleave in time; a reader does not)."""
    children = {}
    for caller, callee in CALLS:
        children.setdefault(caller, []).append(callee)
    order, expanded = [], set()

    def visit(func):
        stack = [(func, iter(children.get(func, [])))]
        while stack:
            caller, rest = stack[-1]
            callee = next(rest, None)
            if callee is None:
                stack.pop()
                continue
            order.append((caller, callee))
            if callee not in expanded:
                expanded.add(callee)
                stack.append((callee, iter(children.get(callee, []))))

    for caller, _ in CALLS:
        if caller not in expanded:
            expanded.add(caller)
            visit(caller)
    return order


def report():
    out = os.environ.get("WALK_OUT", "walk.txt")
    changes = crossings = 0
    previous = None
    modules = set()
    lines = []
    calls = reading_order()
    for caller, callee in calls:
        m = module(callee)
        modules.add(m)
        mark = ""
        if previous is not None and m != previous:
            changes += 1
            mark = " *"
            if m.split("::")[0] != previous.split("::")[0]:
                crossings += 1
                mark = " **"
        lines.append(f"{caller} -> {callee}{mark}")
        previous = m
    with open(out, "w") as f:
        f.write("\n".join(lines) + "\n")
        f.write(
            f"\nreached {STOP}: {bool(STOPPED)}\ncalls {len(calls)}\nmodules {len(modules)}\n"
            f"module changes {changes}\nof them between crates {crossings}\n"
        )


main()
