"""Measures time to an interactive first screen and the idle RSS of the process tree.

Each binary prints `ui ready after N ms` on stderr when its page is interactive. The wall time
from spawn to that line is the startup time; the RSS of the process and all its descendants
(the WebKit web and network processes) is read 2 s later.
"""
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


def one_run(binary):
    home = tempfile.mkdtemp(prefix="bench-")
    env = dict(os.environ, XDG_DATA_HOME=f"{home}/data", XDG_CONFIG_HOME=f"{home}/config",
               COUNTERSIGN_PROFILE="bench", RUST_LOG="info")
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
    one_run(app), one_run(bare)  # warm the page cache for both
    results = {app: [], bare: []}
    for _ in range(runs):
        for b in (app, bare):
            results[b].append(one_run(b))
    med = {b: (statistics.median(t for t, _ in r), statistics.median(m for _, m in r)) for b, r in results.items()}
    for b in (app, bare):
        ts = [t for t, _ in results[b]]
        print(f"{os.path.basename(b):12} startup median {med[b][0]:7.0f} ms (min {min(ts):.0f}, max {max(ts):.0f}), "
              f"idle RSS median {med[b][1] / 1024:6.1f} MiB over {runs} runs")
    print(f"ratio startup {med[app][0] / med[bare][0]:.2f}x, idle RSS {med[app][1] / med[bare][1]:.2f}x "
          f"(target <= 1.15x)")


if __name__ == "__main__":
    main()
