"""Memory of Countersign's whole process tree with its window open and with it closed to the
tray, as RSS, PSS and USS (Rss, Pss, and Private_Clean + Private_Dirty of
/proc/PID/smaps_rollup), per process (the app, WebKitNetworkProcess, WebKitWebProcess) and
summed. After the window closed: before, and after the app started itself again at rest (the same
process, executed again in the tray, 10 s later). Also a start in the tray (--background),
which never built a window.

A tray host runs on the session bus for the whole bench (tray-host), so that closing the
window keeps the app. Usage: bench_tray_memory.py RUNS COUNTERSIGN TRAY_HOST CLOSE_WINDOW
"""
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from bench_startup import descendants

READY = re.compile(rb"ui ready after \d+ ms")
LISTENING = re.compile(rb"listening for approval requests")
RESTING = re.compile(rb"at rest: starting again in the tray")
# In the tray with no window, the app hands memory back once its start settled (hand_back.rs).
HANDED = re.compile(rb"memory handed back")
# Launch to interactive page, opening the window of an app in the tray that never had one.
OPEN_MS = []


def rollup(pid):
    """(name, rss, pss, uss) in KiB for one process."""
    with open(f"/proc/{pid}/comm") as f:
        name = f.read().strip()
    v = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 2 and parts[0].endswith(":") and parts[1].isdigit():
                v[parts[0][:-1]] = int(parts[1])
    uss = v.get("Private_Clean", 0) + v.get("Private_Dirty", 0)
    return name, v.get("Rss", 0), v.get("Pss", 0), uss


def tree(pid):
    """{name: (rss, pss, uss)} over the process and its descendants, summed per name."""
    out = {}
    for p in descendants(pid):
        try:
            name, rss, pss, uss = rollup(p)
        except OSError:
            continue
        a = out.get(name, (0, 0, 0))
        out[name] = (a[0] + rss, a[1] + pss, a[2] + uss)
    return out


def wait_for(proc, pattern, limit=60):
    buf, start = b"", time.monotonic()
    os.set_blocking(proc.stderr.fileno(), False)
    while time.monotonic() - start < limit:
        buf += proc.stderr.read() or b""
        if pattern.search(buf):
            return True
        if proc.poll() is not None:
            break
        time.sleep(0.01)
    sys.exit(f"never saw {pattern.pattern!r}:\n{buf.decode(errors='replace')[-2000:]}")


def web_process(pid):
    return any(rollup_name(p).startswith("WebKitWebProces") for p in descendants(pid))


def rollup_name(p):
    try:
        with open(f"/proc/{p}/comm") as f:
            return f.read().strip()
    except OSError:
        return ""


def one_run(app, close_window, background):
    home = tempfile.mkdtemp(prefix="bench-tray-")
    env = {k: v for k, v in os.environ.items() if not k.startswith("WEBKIT_") and k != "GDK_GL"}
    env = dict(env, XDG_DATA_HOME=f"{home}/data", XDG_CONFIG_HOME=f"{home}/config",
               COUNTERSIGN_PROFILE="bench-tray", RUST_LOG="info", COUNTERSIGN_TRAY_WAIT_SECS="5")
    env.pop("COUNTERSIGN_ENDPOINT", None)
    env.pop("COUNTERSIGN_APP_ID", None)
    args = [app, "--background"] if background else [app]
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    result = {}
    try:
        if background:
            wait_for(proc, LISTENING)
            wait_for(proc, HANDED)
            time.sleep(3.0)
            result["in the tray from the start"] = tree(proc.pid)
            # Opening the window from there (a second launch hands over, as a request
            # does): WebKit starts from nothing, as after a start again at rest.
            began = time.monotonic()
            subprocess.run([app], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           check=True)
            wait_for(proc, READY)
            OPEN_MS.append((time.monotonic() - began) * 1000)
        else:
            wait_for(proc, READY)
            time.sleep(2.0)
            result["window open"] = tree(proc.pid)
            # A second try if the first close was dropped (GTK holds a grab while the tray
            # menu is read).
            for _ in range(2):
                subprocess.run([close_window], env=env, check=True)
                until = time.monotonic() + 15
                while web_process(proc.pid) and time.monotonic() < until:
                    time.sleep(0.1)
                if not web_process(proc.pid):
                    break
            time.sleep(3.0)
            if proc.poll() is not None:
                sys.exit("the app ended when its window closed: no tray?")
            if web_process(proc.pid):
                sys.exit("the web process outlived the window")
            result["window closed"] = tree(proc.pid)
            # At rest, the app starts itself again in the tray (same process id, rest.rs).
            wait_for(proc, RESTING, limit=30)
            wait_for(proc, LISTENING)
            wait_for(proc, HANDED)
            time.sleep(3.0)
            if proc.poll() is not None:
                sys.exit("the app ended when it started again at rest")
            result["window closed, at rest"] = tree(proc.pid)
    finally:
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
    return result


def main():
    runs, app, host, close_window = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
    tray = subprocess.Popen([host], stdout=subprocess.PIPE)
    try:
        assert tray.stdout.readline().strip() == b"ready"
        samples = {}
        for _ in range(runs):
            for background in (False, True):
                for state, t in one_run(app, close_window, background).items():
                    samples.setdefault(state, []).append(t)
    finally:
        tray.kill()
    mib = lambda kib: kib / 1024
    print(f"memory of the process tree, RSS/PSS/USS in MiB, median of {runs} runs ({os.path.basename(os.path.dirname(app))} build):")
    for state, trees in samples.items():
        names = sorted({n for t in trees for n in t})
        print(f"  {state}:")
        totals = [tuple(sum(v[i] for v in t.values()) for i in range(3)) for t in trees]
        for n in names:
            m = [statistics.median(t.get(n, (0, 0, 0))[i] for t in trees) for i in range(3)]
            print(f"    {n:22} {mib(m[0]):6.0f} / {mib(m[1]):5.0f} / {mib(m[2]):5.0f}")
        m = [statistics.median(t[i] for t in totals) for i in range(3)]
        print(f"    {'total':22} {mib(m[0]):6.0f} / {mib(m[1]):5.0f} / {mib(m[2]):5.0f}"
              + ("   (goal with the window closed: PSS <= 80)" if state.startswith("window closed") else ""))
    if OPEN_MS:
        print(f"opening the window of an app in the tray with no WebKit yet (launch to page ready): "
              f"median {statistics.median(OPEN_MS):.0f} ms, max {max(OPEN_MS):.0f} ms over {len(OPEN_MS)}")


if __name__ == "__main__":
    main()
