#!/usr/bin/env python3
"""make chaos: faults under steady load, and proof that every acknowledged message is stored once.

A client sends batches of track messages with unique messageIds from several threads and records
every messageId acknowledged with a 2xx; anything else (503, 429, a reset connection) is retried
later with the same messageIds, as Segment does. Meanwhile the script
  (a) kills Inlet with SIGKILL several times and restarts it,
  (b) restarts PostgreSQL,
  (c) freezes PostgreSQL with SIGSTOP for FREEZE_SECONDS,
  (d) overloads it for OVERLOAD_SECONDS: wrk (scripts/loadgen/inlet.lua) sends 500-message
      bodies over OVERLOAD_CONNECTIONS connections on the same tenant, far more than Inlet
      commits, so both wrk and the client get 429/503 and must retry.
At the end it retries what is pending, then counts in PostgreSQL: every acknowledged messageId
must be stored exactly once. It prints one table and exits 1 on any loss or duplicate, on a
fault Inlet did not recover from within a minute, or when the overload drew no 429/503.

Environment: INLET_BIN, DATABASE_URL, TOKEN, PORT, PG_CLUSTER (scripts/localpg.sh name),
OVERLOAD_BODIES (a loadgen.py bodies file for wrk), SHORT=1 for the shorter run used by
`make test`. Stdlib only.
"""
import base64, http.client, json, os, random, signal, subprocess, sys, threading, time, uuid

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHORT = os.environ.get("SHORT") == "1"
PORT = int(os.environ["PORT"])
TOKEN = os.environ["TOKEN"]
DATABASE_URL = os.environ["DATABASE_URL"]
INLET_BIN = os.environ["INLET_BIN"]
CLUSTER = os.environ["PG_CLUSTER"]
FREEZE_SECONDS = 4 if SHORT else 10
OVERLOAD_SECONDS = 6 if SHORT else 30
OVERLOAD_CONNECTIONS = 64 if SHORT else 256
OVERLOAD_BODIES = os.environ["OVERLOAD_BODIES"]
KILLS = 1 if SHORT else 3
BATCH = 50
AUTH = "Basic " + base64.b64encode(f"{TOKEN}:".encode()).decode()

lock = threading.Lock()
acked = set()          # messageIds acknowledged with 2xx
pending = []           # batches (lists of messageIds) to retry
statuses = {}
stop = threading.Event()
during_overload = {}   # statuses the client got while wrk overloaded Inlet
overload = threading.Event()
last_success = [0.0]
inlet = [None]


def body(ids):
    # A fixed timestamp per message: its key (tenant_id, timestamp, id) is the same on every retry.
    msgs = [{"type": "track", "messageId": i, "userId": "chaos-user", "event": "Chaos Tested",
             "timestamp": "2026-11-01T12:00:00Z", "properties": {"n": 1}} for i in ids]
    return json.dumps({"batch": msgs}).encode()


def send(ids):
    try:
        conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=15)
        conn.request("POST", "/v1/batch", body=body(ids),
                     headers={"Content-Type": "application/json", "Authorization": AUTH})
        status = conn.getresponse().status
        conn.close()
    except Exception:
        status = "error"
    with lock:
        statuses[status] = statuses.get(status, 0) + 1
        if overload.is_set():
            during_overload[status] = during_overload.get(status, 0) + 1
        if status == 200:
            acked.update(ids)
            last_success[0] = time.monotonic()
        else:
            pending.append(ids)
    return status


def client():
    while not stop.is_set():
        with lock:
            ids = pending.pop(0) if pending and random.random() < 0.5 else None
        if ids is None:
            ids = [str(uuid.uuid4()) for _ in range(BATCH)]
        if send(ids) != 200:
            time.sleep(0.2)


def run_wrk():
    """Overloads Inlet for OVERLOAD_SECONDS with wrk; returns its statuses ("200=n,429=n,...")."""
    out = subprocess.run(
        ["wrk", "-t2", f"-c{OVERLOAD_CONNECTIONS}", f"-d{OVERLOAD_SECONDS}s", "--timeout", "20s",
         "-s", os.path.join(ROOT, "scripts", "loadgen", "inlet.lua"), "-H", f"Authorization: {AUTH}",
         f"http://127.0.0.1:{PORT}", "--", OVERLOAD_BODIES, f"chaos{int(time.time())}"],
        capture_output=True, text=True).stdout
    for word in out.split():
        if word.startswith("statuses="):
            return word[len("statuses="):]
    return "no statuses (wrk failed)"


def start_inlet():
    env = dict(os.environ, INLET_HOST="127.0.0.1", INLET_PORT=str(PORT), INLET_TRANSACTION_TIMEOUT_MS="3000",
               INLET_LOG_LEVEL="warning")
    inlet[0] = subprocess.Popen([INLET_BIN, "serve"], env=env, stdout=subprocess.DEVNULL,
                                stderr=open(os.path.join(ROOT, ".local", "chaos-inlet.log"), "a"))


def localpg(*args):
    subprocess.run([os.path.join(ROOT, "scripts", "localpg.sh"), *args, CLUSTER], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def postgres_pids():
    datadir = open(os.path.join(ROOT, ".local", CLUSTER, "datadir")).read().strip()
    master = int(open(os.path.join(datadir, "postmaster.pid")).readline())
    children = subprocess.run(["pgrep", "-P", str(master)], capture_output=True, text=True).stdout.split()
    return [master] + [int(c) for c in children]


def recovery_after(moment, limit=60):
    """Seconds from `moment` to the first acknowledgement after it."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if last_success[0] > moment:
            return last_success[0] - moment
        time.sleep(0.05)
    return None


def main():
    start_inlet()
    time.sleep(2)
    threads = [threading.Thread(target=client) for _ in range(4)]
    for t in threads:
        t.start()
    faults = []
    time.sleep(4)
    for _ in range(KILLS):
        inlet[0].send_signal(signal.SIGKILL)
        inlet[0].wait()
        time.sleep(1)
        start_inlet()
        back = time.monotonic()
        faults.append(("SIGKILL inlet, restart", recovery_after(back)))
        time.sleep(3)
    localpg("stop")
    time.sleep(1)
    localpg("start")
    back = time.monotonic()
    faults.append(("restart PostgreSQL", recovery_after(back)))
    time.sleep(3)
    pids = postgres_pids()
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    time.sleep(FREEZE_SECONDS)
    for pid in pids:
        os.kill(pid, signal.SIGCONT)
    back = time.monotonic()
    faults.append((f"SIGSTOP PostgreSQL {FREEZE_SECONDS} s", recovery_after(back)))
    time.sleep(3)
    overload.set()
    wrk = run_wrk()
    overload.clear()
    back = time.monotonic()
    faults.append((f"overload: wrk {OVERLOAD_CONNECTIONS} conns x 500 msgs for {OVERLOAD_SECONDS} s",
                   recovery_after(back)))
    stop.set()
    for t in threads:
        t.join()
    # Retry what is still pending, as Segment would, for a bounded time.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with lock:
            batch = pending.pop(0) if pending else None
        if batch is None:
            break
        if send(batch) != 200:
            time.sleep(0.2)
    inlet[0].send_signal(signal.SIGTERM)
    inlet[0].wait(timeout=30)

    ids = sorted(acked)
    rows = subprocess.run(
        ["psql", "-X", "-q", "-tA", DATABASE_URL, "-c", "CREATE TEMP TABLE acked (id text)",
         "-c", "\\copy acked FROM pstdin",
         "-c", "SELECT count(*) FILTER (WHERE n = 0), count(*) FILTER (WHERE n > 1) FROM "
               "(SELECT a.id, count(t.id) AS n FROM acked a LEFT JOIN events.tracks t ON t.id = a.id GROUP BY a.id) s"],
        input="\n".join(ids) + "\n", capture_output=True, text=True, check=True).stdout.split()[-1]
    lost, duplicated = (int(x) for x in rows.split("|"))
    with lock:
        left = sum(len(b) for b in pending)
    print()
    print("| fault | recovery (s) |")
    print("|---|---|")
    for name, seconds in faults:
        print(f"| {name} | {'never' if seconds is None else f'{seconds:.1f}'} |")
    print()
    print("| acknowledged | lost | duplicated | never acknowledged (gave up retrying) | statuses |")
    print("|---|---|---|---|---|")
    print(f"| {len(ids)} | {lost} | {duplicated} | {left} | {json.dumps(statuses, default=str)} |")
    print()
    print(f"Overload: wrk got {wrk}; the client got {json.dumps(during_overload, default=str)} meanwhile.")
    refused = "429=" in wrk or "503=" in wrk
    if not refused:
        print("The overload drew no 429/503: it did not exceed what Inlet sustains.")
    ok = lost == 0 and duplicated == 0 and all(s is not None for _, s in faults) and refused
    print("\nCHAOS " + ("PASSED" if ok else "FAILED"))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
