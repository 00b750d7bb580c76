"""Measures time to an interactive first screen and the idle RSS of the process tree.

Each binary prints `ui ready after N ms` on stderr when its page is interactive. The wall time
from spawn to that line is the startup time; the RSS of the process and all its descendants
(the WebKit web and network processes) is read 2 s later.

Countersign runs as shipped (`auto` rendering: Skia rasterises on the CPU when the machine has
no GPU render node) and, for comparison, forced onto WebKit's GL path as the bare window uses it.
A WEBKIT_* variable in the environment would apply to all three, so none is passed on.
"""
import glob
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

READY = re.compile(rb"ui ready after \d+ ms")


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


def one_run(binary, extra_env):
    home = tempfile.mkdtemp(prefix="bench-")
    env = {k: v for k, v in os.environ.items() if not k.startswith("WEBKIT_")}
    env = dict(env, XDG_DATA_HOME=f"{home}/data", XDG_CONFIG_HOME=f"{home}/config",
               COUNTERSIGN_PROFILE="bench", RUST_LOG="info", **extra_env)
    env.pop("COUNTERSIGN_ENDPOINT", None)
    env.pop("COUNTERSIGN_APP_ID", None)
    start = time.monotonic()
    proc = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    buf = b""
    ready = None
    os.set_blocking(proc.stderr.fileno(), False)
    while time.monotonic() - start < 60:
        chunk = proc.stderr.read() or b""
        buf += chunk
        if READY.search(buf):
            ready = time.monotonic() - start
            break
        if proc.poll() is not None:
            break
        time.sleep(0.005)
    rss = None
    if ready is not None:
        time.sleep(2.0)
        rss = rss_kib(descendants(proc.pid))
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
    if ready is None:
        sys.exit(f"{binary} never became ready:\n{buf.decode(errors='replace')[-2000:]}")
    return ready * 1000, rss


def main():
    runs, app, bare = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    gpu = bool(glob.glob("/dev/dri/renderD*"))
    variants = {
        "countersign": (app, {"COUNTERSIGN_RENDERING": "auto"}),
        "countersign (GL)": (app, {"COUNTERSIGN_RENDERING": "gpu"}),
        "bare-window": (bare, {}),
    }
    for binary, env in variants.values():
        one_run(binary, env)  # warm the page cache
    results = {name: [] for name in variants}
    for _ in range(runs):
        for name, (binary, env) in variants.items():
            results[name].append(one_run(binary, env))
    med = {n: (statistics.median(t for t, _ in r), statistics.median(m for _, m in r)) for n, r in results.items()}
    print(f"GPU render node: {'yes' if gpu else 'no'}, so countersign rasterises "
          f"{'through GL' if gpu else 'on the CPU'}")
    for name, r in results.items():
        ts = [t for t, _ in r]
        print(f"{name:17} startup median {med[name][0]:7.0f} ms (min {min(ts):.0f}, max {max(ts):.0f}), "
              f"idle RSS median {med[name][1] / 1024:6.1f} MiB over {runs} runs")
    base = med["bare-window"]
    for name in ("countersign", "countersign (GL)"):
        target = " (target <= 1.15x)" if name == "countersign" else ""
        print(f"ratio {name:17} startup {med[name][0] / base[0]:.2f}x, idle RSS {med[name][1] / base[1]:.2f}x{target}")


if __name__ == "__main__":
    main()
