"""Measures time to an interactive first screen and the idle RSS of the process tree.

Usage: bench_startup.py RUNS COUNTERSIGN BARE_WINDOW

Each binary prints `ui ready after N ms` on stderr when its page is interactive, with the
page's own marks (milliseconds since its navigation started: when the entry script ran, when
the first view was built, when its frame was out). The wall time from spawn to that line is
the startup time; the RSS of the process and all its descendants (the WebKit web and network
processes) is read 2 s later.

Countersign runs as shipped (`auto` rendering: on a machine with no GPU render node it turns GL
off, as rendering.rs says: Skia rasterises on the CPU, WEBKIT_SKIA_ENABLE_CPU_RENDERING=1, and
GTK gets no GL, GDK_GL=disable, so WebKit draws without GL compositing) and forced onto WebKit's
GL path. The bare window runs three ways: with WebKit's defaults; rasterising on the CPU
(WEBKIT_SKIA_ENABLE_CPU_RENDERING=1) with GL compositing, the ratio's base; and with no GL at
all, drawn as Countersign's `auto` draws on a machine without a GPU, for a like-for-like ratio.
With a GPU render node, the base is the bare window with WebKit's defaults. No WEBKIT_* or GDK_GL
variable of the caller's environment is passed on. The variants run interleaved, in a rotating
order.
"""
import datetime
import glob
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

READY = re.compile(rb"ui ready after (\d+) ms([^\n]*)\n")
MARK = re.compile(rb"page_(script|view|paint)_ms=(\d+)")
# When the page's navigation started, in ms since the Unix epoch (performance.timeOrigin).
ORIGIN = re.compile(rb"page_origin_ms=([\d.]+)")
# Countersign's log line as its setup begins, after Tauri, GTK and the plugins are up.
SETUP = re.compile(rb"(\d{4}-\d\d-\d\dT[\d:.]+Z)\s+INFO[^\n]*?: starting")
ANSI = re.compile(rb"\x1b\[[0-9;]*m")
CPU_VAR = "WEBKIT_SKIA_ENABLE_CPU_RENDERING"
TICK_MS = 1000 / os.sysconf("SC_CLK_TCK")


def descendants(pid):
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(entry))
        except OSError:
            continue
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def rss_kib(pids):
    total = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def cpu_ms(pids):
    """User + system CPU time of the processes (not of children already reaped), in ms."""
    total = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    return total * TICK_MS


def one_run(binary, extra_env):
    """One start: a dict of ms (wall startup, page marks, setup, CPU) and idle RSS in KiB."""
    home = tempfile.mkdtemp(prefix="bench-")
    env = {k: v for k, v in os.environ.items() if not k.startswith("WEBKIT_") and k != "GDK_GL"}
    env = dict(env, XDG_DATA_HOME=f"{home}/data", XDG_CONFIG_HOME=f"{home}/config",
               COUNTERSIGN_PROFILE="bench", RUST_LOG="info", **extra_env)
    env.pop("COUNTERSIGN_ENDPOINT", None)
    env.pop("COUNTERSIGN_APP_ID", None)
    wall = time.time()
    start = time.monotonic()
    proc = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    buf = b""
    out = None
    os.set_blocking(proc.stderr.fileno(), False)
    while time.monotonic() - start < 60:
        buf += proc.stderr.read() or b""
        m = READY.search(ANSI.sub(b"", buf))
        if m:
            out = {"startup": (time.monotonic() - start) * 1000}
            seen = time.time() * 1000
            out["cpu"] = cpu_ms(descendants(proc.pid))
            marks = {k.decode(): int(v) for k, v in MARK.findall(m.group(2))}
            if len(marks) == 3:
                out.update(marks)
                o = ORIGIN.search(m.group(2))
                if o:
                    # Spawn to navigation, and the frame to its line read here (IPC and log).
                    out["nav"] = float(o.group(1)) - wall * 1000
                    out["told"] = seen - float(o.group(1)) - marks["paint"]
            s = SETUP.search(ANSI.sub(b"", buf))
            if s:
                at = datetime.datetime.fromisoformat(s.group(1).decode().replace("Z", "+00:00"))
                out["setup"] = (at.timestamp() - wall) * 1000
            break
        if proc.poll() is not None:
            break
        time.sleep(0.005)
    if out is not None:
        time.sleep(2.0)
        out["rss"] = rss_kib(descendants(proc.pid))
    for p in reversed(descendants(proc.pid)):
        try:
            os.kill(p, 15)
        except OSError:
            pass
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
    shutil.rmtree(home, ignore_errors=True)
    if out is None:
        print(f"{binary} never became ready (rc {proc.returncode}):\n{buf.decode(errors='replace')[-2000:]}", file=sys.stderr)
    return out


def run_retrying(binary, env, failures):
    """One run; a start that fails (e.g. GTK finds no display for a moment on a busy machine)
    is tried once more and counted, a second failure ends the bench."""
    out = one_run(binary, env)
    if out is None:
        failures.append(binary)
        out = one_run(binary, env)
    if out is None:
        sys.exit(f"{binary} failed twice in a row")
    return out


def pct(xs, q):
    """The q-th percentile (0..100), linear between the nearest ranks."""
    xs = sorted(xs)
    k = (len(xs) - 1) * q / 100
    lo = int(k)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def column(runs, key):
    return [r[key] for r in runs if key in r]


def main():
    runs, app, bare = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    gpu = bool(glob.glob("/dev/dri/renderD*"))
    variants = {
        "countersign": (app, {"COUNTERSIGN_RENDERING": "auto"}),
        "countersign (GL)": (app, {"COUNTERSIGN_RENDERING": "gpu"}),
        "bare-window (CPU)": (bare, {CPU_VAR: "1"}),
        "bare-window (no GL)": (bare, {CPU_VAR: "1", "GDK_GL": "disable"}),
        "bare-window (GL)": (bare, {}),
    }
    base_name = "bare-window (GL)" if gpu else "bare-window (CPU)"
    # Drawn the same way as countersign (auto) on this machine.
    same_name = "bare-window (GL)" if gpu else "bare-window (no GL)"
    failures = []
    for binary, env in variants.values():
        run_retrying(binary, env, failures)  # warm the page cache
    names = list(variants)
    results = {name: [] for name in names}
    for i in range(runs):
        # A rotating order, so that no variant always follows the same one.
        for name in names[i % len(names):] + names[:i % len(names)]:
            binary, env = variants[name]
            results[name].append(run_retrying(binary, env, failures))
    print(f"GPU render node: {'yes' if gpu else 'no'}, so countersign (auto) draws "
          f"{'through GL' if gpu else 'with no GL'}; the base is {base_name}, the same drawing "
          f"{same_name}; {runs} runs each"
          f"{f' ({len(failures)} failed start(s) run again)' if failures else ''}")
    print()
    print("startup, ms (spawn to the first screen's frame)   median    p10    p90    min    max    IQR")
    for name, r in results.items():
        ts = column(r, "startup")
        print(f"  {name:46} {statistics.median(ts):7.0f} {pct(ts, 10):6.0f} {pct(ts, 90):6.0f} "
              f"{min(ts):6.0f} {max(ts):6.0f} {pct(ts, 75) - pct(ts, 25):6.0f}")
    print("idle RSS of the process tree, MiB (2 s later)     median    p10    p90    min    max")
    for name, r in results.items():
        ms = [m / 1024 for m in column(r, "rss")]
        print(f"  {name:46} {statistics.median(ms):7.1f} {pct(ms, 10):6.1f} {pct(ms, 90):6.1f} "
              f"{min(ms):6.1f} {max(ms):6.1f}")
    print()
    print("where the time goes, medians in ms:")
    print("  to navigation = spawn to the page's navigation start (process, Tauri, GTK, plugins,")
    print("  setup, window, web process), from the page's time origin; document = navigation to the")
    print("  entry script running (HTML, CSS, modules); view = building the first view; frames = view")
    print("  to its frame out (style, layout, fonts, raster); told = the frame to its line read here")
    print("  (IPC, log, this script's 5 ms polling); setup = spawn to Countersign's setup (Tauri, GTK,")
    print("  plugins up); CPU = CPU time of the process tree at the first screen")
    print(f"  {'':20} {'setup':>7} {'to nav':>7} {'document':>9} {'view':>6} {'frames':>7} {'told':>6} {'CPU':>6}")
    for name, r in results.items():
        full = [x for x in r if "paint" in x]
        med = lambda xs: f"{statistics.median(xs):.0f}" if xs else "-"  # noqa: E731
        print(f"  {name:20} {med(column(r, 'setup')):>7} "
              f"{med(column(r, 'nav')):>7} "
              f"{med([x['script'] for x in full]):>9} "
              f"{med([x['view'] - x['script'] for x in full]):>6} "
              f"{med([x['paint'] - x['view'] for x in full]):>7} "
              f"{med(column(r, 'told')):>6} "
              f"{med(column(r, 'cpu')):>6}")
    print()
    base = results[base_name]
    b_t, b_m = statistics.median(column(base, "startup")), statistics.median(column(base, "rss"))
    for name in names:
        if name == base_name:
            continue
        t, m = statistics.median(column(results[name], "startup")), statistics.median(column(results[name], "rss"))
        c = statistics.median(column(results[name], "cpu"))
        goal = " (goal: startup <= 1.10x)" if name == "countersign" else ""
        print(f"ratio of medians, {name:17} / {base_name}: startup {t / b_t:.2f}x, "
              f"idle RSS {m / b_m:.2f}x, CPU {c / statistics.median(column(base, 'cpu')):.2f}x{goal}")
    if same_name != base_name:
        same = results[same_name]
        t = statistics.median(column(results["countersign"], "startup"))
        m = statistics.median(column(results["countersign"], "rss"))
        print(f"ratio of medians, {'countersign':17} / {same_name} (the same drawing): startup "
              f"{t / statistics.median(column(same, 'startup')):.2f}x, idle RSS "
              f"{m / statistics.median(column(same, 'rss')):.2f}x")


if __name__ == "__main__":
    main()
