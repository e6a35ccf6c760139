"""The fault scenarios (issue 4). Each takes a target description
(targets.py) and returns {"rows": [...], "notes": [...], "problems": [...]}:
one row per route counted, notes for the table, problems that fail the
scenario besides missing events (unclean exits, a fault that did not
happen, a limit that did not hold).

Every scenario: the pipeline under supervisord, steady signed load from
hamustro-send, the fault, the load stopped, wait until every route has
committed the whole log (the catch-up time), then count."""

import glob
import json
import os
import select
import socket
import struct
import time

import cluster as cl
from cluster import h

SCENARIOS = []


def scenario(key, title, needs=None):
    """Registers fn(target) as a scenario; needs: the target attribute it
    uses (None on the target means N/A, with the reason given)."""
    def wrap(fn):
        SCENARIOS.append({"key": key, "title": title, "fn": fn, "needs": needs})
        return fn
    return wrap


def _one(target, name, limits=None, **overrides):
    return cl.Cluster(name, {"archive": (target, limits or {})}, **overrides)


def _result(c, drained, **extra):
    """drained: seconds from the end of the load until the whole log was
    committed; the table shows the backlog time from the repair instead
    when the scenario measured one."""
    catchup = c.catchup if c.catchup is not None else drained
    if c.catchup is not None and drained is not None:
        c.notes.append("backlog at the repair delivered in %.1fs; log fully committed %.1fs "
                       "after the load ended" % (c.catchup, drained))
    out = {"rows": c.account(catchup=catchup), "notes": c.notes, "problems": c.problems,
           "dir": c.dir}
    out.update(extra)
    return out


def _load_problems(c, summary, what="load"):
    if summary["ok"] == 0:
        c.problems.append("%s: no request was answered 200" % what)


# --- 1. kill -9 of each program ------------------------------------------------

def _kill9(target, which, durability="fsync", segment_bytes=None, name=None):
    router = {"durability": durability}
    if segment_bytes:
        router["segment_bytes"] = segment_bytes
    with _one(target, name or "kill9-" + which, ingest={"router_timeout_ms": 2000},
              router=router) as c:
        c.sup_start()
        # Long enough for slow builds; stopped a moment after the repair.
        load = c.load(duration=120)
        # Kill under load (and, with small segments, once some were deleted
        # behind the routes): waited for, not assumed after 2 s.
        if not c.wait_load_seconds(2):
            c.problems.append("the load did not flow")
        name = {"ingest": "ingest", "router": "router"}.get(which) or c.sink_process("archive")
        if segment_bytes:
            st = c.wait_status(lambda st: st["counters"]["segments_deleted"] > 0)
            deleted = st["counters"]["segments_deleted"] if st else 0
            c.notes.append("%d segments deleted before the kill" % deleted)
            if not deleted:
                c.problems.append("no segment was deleted before the kill: nothing tested")
        took = c.kill9(name)
        c.notes.append("%s back in %.1fs" % (which, took))
        c.drain_backlog()
        c.wait_load_seconds(2)  # the load goes on after the repair
        load.stop()
        s = load.wait()
        _load_problems(c, s)
        c.notes.append("load: %d requests at %d/s, %d retried 503, %d no answer" % (
            s["requests"], c.last_rate, s["retries"], s["errors"]))
        catchup = c.wait_caught_up()
        c.sup_stop()
        return _result(c, catchup)


@scenario("kill9-ingest", "1. kill -9 ingest mid-load")
def kill9_ingest(target):
    return _kill9(target, "ingest")


@scenario("kill9-router", "1. kill -9 router mid-load")
def kill9_router(target):
    return _kill9(target, "router")


@scenario("kill9-router-write", "1. kill -9 router mid-load, durability \"write\"")
def kill9_router_write(target):
    return _kill9(target, "router", durability="write")


@scenario("kill9-router-segments", "1. kill -9 router mid-load, 256 KiB segments deleted behind the routes")
def kill9_router_segments(target):
    """Segments deleted as the route commits: after the restart the route
    rebuilds the batches its state file lists, from the log, so the log
    must still hold them (it did not: the router deleted up to the offset
    in memory, ahead of the one saved)."""
    return _kill9(target, "router", segment_bytes=256 << 10, name="kill9-router-segments")


@scenario("kill9-sink", "1. kill -9 sink mid-load")
def kill9_sink(target):
    return _kill9(target, "sink")


# --- 2. backend outage -----------------------------------------------------------

OUTAGE_S = 5  # outage-crash; the outage scenario takes target.outage_s


def _committed(c, route="archive"):
    st = c.status()
    if not st:
        return None
    return [r["committed"] for r in st["routes"] if r["name"] == route][0]


@scenario("outage", "2. target outage {outage_s}s", needs="outage_start")
def outage(target):
    secs = target.outage_s
    with _one(target, "outage") as c:
        c.sup_start()
        load = c.load(duration=secs + 4)
        time.sleep(2.0)
        target.outage_start(c, "archive")
        before = _committed(c)
        t_end = time.time() + secs
        max_lag = 0
        while time.time() < t_end:
            st = c.status()
            if st:
                max_lag = max(max_lag, st["routes"][0]["lag"])
            time.sleep(0.5)
        during = _committed(c)
        target.outage_end(c, "archive")
        c.drain_backlog()
        s = load.wait()
        _load_problems(c, s)
        catchup = c.wait_caught_up()
        if max_lag == 0:
            c.problems.append("the outage did not hold the route back (lag stayed 0)")
        note = "%ds; route lag up to %d records" % (secs, max_lag)
        if before is not None and during is not None:
            # A batch being stored when the outage began may still land.
            note += ", %d records committed during the outage" % (during - before)
        c.notes.append(note)
        c.notes.append("load: %d requests at %d/s, %d retried 503, %d no answer" % (
            s["requests"], c.last_rate, s["retries"], s["errors"]))
        c.sup_stop()
        return _result(c, catchup)


@scenario("outage-crash", "2. target outage, router and sink kill -9 during it",
          needs="outage_start")
def outage_crash(target):
    """The batches a sink holds (retrying) when the router dies are rebuilt
    from the route's state after the restart under the same offsets, and
    the new sink's stores replace, never add to, what the old one wrote."""
    with _one(target, "outage-crash") as c:
        c.sup_start()
        load = c.load(duration=OUTAGE_S + 5)
        time.sleep(2.0)
        target.outage_start(c, "archive")
        time.sleep(1.5)
        c.kill9("router")
        time.sleep(1.5)
        c.kill9(c.sink_process("archive"))
        time.sleep(1.0)
        target.outage_end(c, "archive")
        c.drain_backlog()
        s = load.wait()
        _load_problems(c, s)
        c.notes.append("load: %d requests, %d retried 503" % (s["requests"], s["retries"]))
        catchup = c.wait_caught_up()
        c.sup_stop()
        return _result(c, catchup)


# --- 3. credentials --------------------------------------------------------------

@scenario("credentials", "3. wrong credentials, fixed, sink restarted",
          needs="credentials_break")
def credentials(target):
    with _one(target, "credentials") as c:
        target.credentials_break(c, "archive")
        c.sup_start()
        load = c.load(duration=6)
        time.sleep(3.0)
        # Nothing may be stored with the wrong key, and the service must
        # have refused (else the scenario proved nothing).
        stored = target.count_fast(c, "archive")
        logged = " 403" in c.program_log("sink-archive")
        refused = target.refused(c) if hasattr(target, "refused") else None
        committed = _committed(c)
        if stored:
            c.problems.append("%d events stored with the wrong credentials" % stored)
        if not logged:
            c.problems.append("the sink never logged a 403 with the wrong credentials")
        if committed:
            c.problems.append("the router committed %d records acknowledged with the wrong "
                              "credentials" % committed)
        target.credentials_fix(c, "archive")
        c.ctl("restart", c.sink_process("archive"))
        c.drain_backlog()
        s = load.wait()
        _load_problems(c, s)
        catchup = c.wait_caught_up()
        c.notes.append("wrong key for 3s: the sink logged 403%s, %s events stored, %s records "
                       "committed; then the right key and the sink restarted"
                       % ("" if refused is None else
                          " (the SigV4 proxy refused %d requests)" % refused,
                          stored, committed))
        c.sup_stop()
        return _result(c, catchup)


# --- 4. the log at its byte limit ----------------------------------------------

@scenario("log-full", "4. router log at its byte limit (2 MiB)")
def log_full(target):
    with _one(target, "log-full",
              router={"max_log_bytes": 2 << 20, "segment_bytes": 256 << 10}) as c:
        c.sup_start()
        c.ctl("stop", c.sink_process("archive"))
        # Long enough for slow builds; stopped once 200s flow again.
        load = c.load(duration=300, retry=200)
        t0 = time.time()
        full_at = None
        if c.wait_status(lambda st: st["log"]["full"], timeout=120):
            full_at = time.time() - t0
        # One request of our own, to see the 503 and its Retry-After.
        probe = os.path.join(c.dir, "acked-probe.tsv")
        c.records.append(probe)
        answer = None
        for i in range(5):
            col = h.make_collection(3, device="probe-%d" % i)
            status, headers, _ = c.track(h.encode_collection(col))
            if status == 200:
                with open(probe, "a") as f:
                    f.writelines("%s\t%d\n" % (col["session"], p["nr"]) for p in col["payloads"])
            else:
                answer = (status, headers.get("retry-after"))
                break
            time.sleep(0.3)
        time.sleep(max(0.0, 4.0 - (time.time() - t0)))
        c.ctl("start", c.sink_process("archive"))
        c.drain_backlog()
        # 200s flow again, long enough past Retry-After that every 503'd
        # request was resent (SIGINT would end a resend still waiting as 503).
        c.wait_load_seconds(3)
        load.stop()
        s = load.wait(timeout=600)
        catchup = c.wait_caught_up()
        st = c.status()
        if full_at is None:
            c.problems.append("the log never reported full")
        if not answer or answer[0] != 503 or not answer[1]:
            c.problems.append("a request to the full log got %r, not 503 with Retry-After"
                              % (answer,))
        if s["retries"] == 0:
            c.problems.append("hamustro-send never saw a 503")
        if s["server_errors"] or s["errors"]:
            c.problems.append("%d requests ended without 200 after their retries "
                              "(server errors %d, no answer %d)"
                              % (s["server_errors"] + s["errors"], s["server_errors"],
                                 s["errors"]))
        c.notes.append("full after %.1fs; probe got %s Retry-After %s; %d 503s resent, all "
                       "%d requests ended 200" % (full_at or -1, answer and answer[0],
                                                  answer and answer[1], s["retries"], s["ok"]))
        if st:
            c.notes.append("router answered FULL %d times; %d segments deleted"
                           % (st["counters"]["full"], st["counters"]["segments_deleted"]))
        c.sup_stop()
        return _result(c, catchup)


# --- 5. one route dead -------------------------------------------------------------

@scenario("dead-route", "5. one route dead (its sink stopped)")
def dead_route(target):
    routes = {"archive": (target, {}), "dead": (target, {})}
    with cl.Cluster("dead-route", routes) as c:
        c.sup_start()
        load = c.load(duration=11)
        time.sleep(1.0)
        a0 = target.count_fast(c, "archive")
        time.sleep(3.0)
        a1 = target.count_fast(c, "archive")
        c.ctl("stop", c.sink_process("dead"))
        time.sleep(1.0)
        a2 = target.count_fast(c, "archive")
        time.sleep(3.0)
        a3 = target.count_fast(c, "archive")
        st = c.status()
        dead_lag = [r["lag"] for r in st["routes"] if r["name"] == "dead"][0] if st else None
        c.ctl("start", c.sink_process("dead"))
        c.drain_backlog(routes=["dead"])
        s = load.wait()
        _load_problems(c, s)
        catchup = c.wait_caught_up()
        base, during = (a1 - a0) / 3.0, (a3 - a2) / 3.0
        c.notes.append("archive stored %.0f ev/s with both routes, %.0f ev/s while 'dead' "
                       "was down (%.0f%%); dead route lag %s records before its sink came back"
                       % (base, during, 100.0 * during / base if base else 0, dead_lag))
        if during <= 0:
            c.problems.append("the live route stored nothing while the other was dead")
        if not dead_lag:
            c.problems.append("the dead route did not lag: was its sink stopped?")
        c.sup_stop()
        return _result(c, catchup)


# --- 6. SIGTERM to the whole group -----------------------------------------------

@scenario("sigterm-group", "6. SIGTERM to supervisord under load, start again")
def sigterm_group(target):
    with _one(target, "sigterm-group") as c:
        c.sup_start()
        load = c.load(duration=8)
        time.sleep(2.5)
        t0 = time.time()
        c.sup_stop()
        stopped = time.time() - t0
        time.sleep(0.5)
        c.sup_start()
        c.drain_backlog()
        c.notes.append("group stopped in %.1fs, every program exit 0%s" % (
            stopped, "" if not c.problems else " (no: see problems)"))
        s = load.wait()
        _load_problems(c, s)
        catchup = c.wait_caught_up()
        c.sup_stop()
        return _result(c, catchup)


# --- 7. torn write ------------------------------------------------------------------

def _last_segment(c):
    segs = sorted(os.listdir(os.path.join(c.config["router"]["data_dir"], "log")))
    return os.path.join(c.config["router"]["data_dir"], "log", segs[-1])


@scenario("torn-write", "7. router SIGKILLed while appending large batches")
def torn_write(target):
    with _one(target, "torn-write", ingest={"router_timeout_ms": 3000,
                                            "max_body_bytes": 4 << 20}) as c:
        c.sup_start()
        load = c.load(duration=8, rate=300)
        big = cl.PySender(c, threads=12, payloads=25, param_bytes=8192, duration=8)
        kills = 0
        for _ in range(4):
            time.sleep(1.5)
            c.kill9("router")
            kills += 1
        counts = big.wait()
        s = load.wait()
        _load_problems(c, s)
        if not counts.get(200):
            c.problems.append("no large request was answered 200")
        cut_kill = c.program_log("router").count("torn tail")
        # Then a torn tail for certain: a record header promising more bytes
        # than follow it, as a write cut short leaves, after a clean stop.
        c.ctl("stop", "router")
        seg = _last_segment(c)
        with open(seg, "ab") as f:
            f.write(struct.pack("<IIQ", 100000, 0, 1 << 40) + b"\x0a" * 3000)
        c.ctl("start", "router")
        c.wait_running(names=["router"])
        c.wait_healthy(30)
        after = c.load(duration=2)
        s2 = after.wait()
        _load_problems(c, s2, "load after the torn tail")
        catchup = c.wait_caught_up()
        cut_total = c.program_log("router").count("torn tail")
        if cut_total <= cut_kill:
            c.problems.append("the router did not report cutting the torn tail written by hand")
        c.notes.append("%d SIGKILLs while appending: torn tail cut after %d of them (timing); "
                       "hand-made torn tail cut; big requests: %s" % (kills, cut_kill, counts))
        c.sup_stop()
        return _result(c, catchup)


# --- 8. slow and abandoned clients --------------------------------------------------

MAX_CONN = 300
CONN_TIMEOUT = 4


def _accepted(pid, port):
    """Client connections the ingest holds (its sockets on the listening port,
    less the listeners)."""
    inodes = set()
    try:
        for fd in os.listdir("/proc/%d/fd" % pid):
            try:
                link = os.readlink("/proc/%d/fd/%s" % (pid, fd))
            except OSError:
                continue
            if link.startswith("socket:["):
                inodes.add(link[8:-1])
    except OSError:
        return 0
    n = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = open(table).read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            local_port = int(parts[1].rsplit(":", 1)[1], 16)
            if local_port == port and parts[3] != "0A" and parts[9] in inodes:
                n += 1
    return n


def _stall(port, count, half_body):
    socks = []
    for i in range(count):
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        if half_body is None:
            pass  # connects, never sends
        elif half_body:
            s.sendall(b"POST /api/v1/track HTTP/1.1\r\nHost: x\r\nContent-Type: "
                      b"application/protobuf\r\nContent-Length: 1000\r\n\r\n" + b"\x0a" * 10)
        else:
            s.sendall(b"POST /api/v1/track HTTP/1.1\r\nHost: x\r\nX-Hamus")
        socks.append(s)
    return socks


def _closed_by_server(s):
    """True once the server closed s (EOF or reset); bytes it sent first
    (an error page) are read and dropped."""
    r, _, _ = select.select([s], [], [], 0)
    if not r:
        return False
    try:
        return s.recv(65536) == b""
    except OSError:
        return True


@scenario("slow-clients", "8. slow and abandoned client connections")
def slow_clients(target):
    with _one(target, "slow-clients", ingest={"max_connections": MAX_CONN,
                                              "connection_timeout": CONN_TIMEOUT}) as c:
        c.sup_start()
        pid = c.pid("ingest")
        t0 = time.time()
        stalled = (_stall(c.port, 100, True) + _stall(c.port, 100, False)
                   + _stall(c.port, 50, None))
        load = c.load(duration=CONN_TIMEOUT - 1.5, concurrency=8)
        peak = 0
        while load.proc.poll() is None:
            peak = max(peak, _accepted(pid, c.port))
            time.sleep(0.2)
        s = load.wait()
        if s["errors"] or not s["ok"]:
            c.problems.append("with 250 stalled sockets the load got %d answers 200 and %d "
                              "without answer" % (s["ok"], s["errors"]))
        # Over the limit: more sockets than max_connections.
        over = _stall(c.port, MAX_CONN, None)
        time.sleep(0.5)
        for _ in range(5):
            peak = max(peak, _accepted(pid, c.port))
            time.sleep(0.1)
        # libmicrohttpd accepts a connection over the limit and closes it at
        # once, so one socket per event-loop thread may exist for a moment.
        if peak > MAX_CONN + 1:
            c.problems.append("the ingest held %d client connections, over max_connections %d"
                              % (peak, MAX_CONN))
        # Every stalled socket is closed by the server after the timeout
        # (the ones over the limit at once, or once accepted).
        deadline = t0 + 3 * CONN_TIMEOUT + 10
        everyone = stalled + over
        open_ = list(everyone)
        first_closed = None
        while open_ and time.time() < deadline:
            open_ = [x for x in open_ if not _closed_by_server(x)]
            if first_closed is None and not any(x in open_ for x in stalled):
                first_closed = time.time() - t0
            time.sleep(0.3)
        all_closed = time.time() - t0
        if open_:
            c.problems.append("%d of %d stalled sockets still open %.0fs after they stalled "
                              "(connection_timeout %ds)" % (len(open_), len(everyone),
                                                            all_closed, CONN_TIMEOUT))
        for x in everyone:
            x.close()
        after = c.load(duration=2)
        s2 = after.wait()
        if s2["errors"] or not s2["ok"]:
            c.problems.append("after the stall the load got %d answers 200 and %d without "
                              "answer" % (s2["ok"], s2["errors"]))
        c.notes.append("250 stalled sockets (100 half body, 100 half headers, 50 silent) + "
                       "%d over the limit: load %.0f req/s, %d errors; ingest held at most %d "
                       "(max_connections %d); the first 250 closed by the server %ss after "
                       "they stalled, all %d by %.1fs (timeout %ds)"
                       % (MAX_CONN, s["req_per_s"], s["errors"], peak, MAX_CONN,
                          "%.1f" % first_closed if first_closed else "never",
                          len(everyone), all_closed, CONN_TIMEOUT))
        catchup = c.wait_caught_up()
        c.sup_stop()
        return _result(c, catchup)



# --- 9. power cut ---------------------------------------------------------------------

def _on_cutfs(c, disk):
    """Points the router's log and the file route's output at the cutfs
    mount (the route's store-ROUTE becomes a link to disk/store)."""
    c.config["router"]["data_dir"] = os.path.join(disk.mount, "data")
    c.write_config()
    store = os.path.join(disk.mount, "store")
    os.mkdir(store)
    cl.fsync_dir(disk.mount)
    old = os.path.join(c.dir, "store-archive")
    os.rmdir(old)
    os.symlink(store, old)


def _cut(c, disk, mode, after_writes=None):
    """The power goes (the disk first: nothing after that instant lands;
    with after_writes, right after that many more writes), every process
    dies, the disk comes back as the cut left it. Returns cutfs's counters."""
    if after_writes is None:
        disk.off()
    elif not disk.off_after(after_writes):
        c.notes.append("the armed cut did not fire; cut by hand")
    c.power_off()
    st = disk.cut(mode)
    c.notes.append("cut %s after %s writes: %s unsynced bytes lost, %s pages kept, "
                   "%s directories reverted, %s names lost" % (
                       mode.split()[0], after_writes, st["bytes_dropped"], st["pages_kept"],
                       st["dirs_reverted"], st["names_lost"]))
    unsynced = int(st["bytes_dropped"]) + int(st["pages_kept"]) + int(st["names_lost"])
    if after_writes is not None and unsynced == 0:
        c.problems.append("cut %s found nothing unsynced: it did not land between a write "
                          "and its fsync" % mode)
    c.sup_start()
    return st


@scenario("power-cut", "9. power cut: every process killed and every unsynced write lost at once")
def power_cut(target):
    """cutfs (tests/faults/cutfs.c) holds the router's log and the file
    sink's output; three cuts under load, each right after a write (so
    something waits for its fsync), the first strict (all unsynced data and
    names lost), then two where unsynced pages and directories land at
    random. Then a control run in durability "write" must lose events at
    its cut: the proof that the cut bites and the count sees it."""
    # small segments: deleted behind the route, as in kill9-router-segments
    with _one(target, "power-cut", ingest={"router_timeout_ms": 2000},
              router={"segment_bytes": 256 << 10}) as c:
        # 300 us per fsync, about this machine's fdatasync under load
        with cl.CutFs(os.path.join(c.dir, "disk"), sync_us=300) as disk:
            c.problems += disk.selftest()
            _on_cutfs(c, disk)
            c.sup_start()
            # The load runs until the third cut is done, however slow the
            # restarts are (a sanitizer build on busy CPUs): a cut armed
            # after the load ended found nothing to cut.
            load = c.load(duration=600)
            # the writes before each cut: router rounds and sink files alike
            for mode, writes in (("drop", 200), ("random 1", 333), ("random 2", 517)):
                time.sleep(1.5)
                if not c.wait_load_seconds(1.0):
                    c.problems.append("before cut %s the load did not flow again" % mode)
                _cut(c, disk, mode, after_writes=writes)
            c.wait_load_seconds(1.0)
            load.stop()
            s = load.wait()
            _load_problems(c, s)
            c.notes.append("load: %d requests, %d resent after 503, %d no answer (cut)" % (
                s["requests"], s["retries"], s["errors"]))
            catchup = c.wait_caught_up()
            c.sup_stop()
            c.notes.append("control, durability \"write\": %s" % _power_cut_control(target, c))
            return _result(c, catchup)


def _power_cut_control(target, main):
    """One cut under load with replies sent before the fsync: acknowledged
    events must go missing, or the scenario could not fail."""
    with _one(target, "power-cut-control", ingest={"router_timeout_ms": 2000},
              router={"durability": "write"}) as c:
        with cl.CutFs(os.path.join(c.dir, "disk")) as disk:
            _on_cutfs(c, disk)
            c.sup_start()
            load = c.load(duration=5)
            time.sleep(3.0)
            _cut(c, disk, "drop")
            load.wait()
            c.wait_caught_up()
            row = c.account()[0]
            c.sup_stop()
            main.problems += ["control: " + p for p in c.problems]
            if row["missing"] == 0:
                main.problems.append("control: a cut in durability \"write\" lost no acknowledged "
                                     "event; the cut or the count does not work")
            return "%d of %d answered 200 lost at the cut, as expected" % (
                row["missing"], row["acked"])


# --- 10. the log's fdatasync and cut back fail -----------------------------------

def _poll(c, what, pred, timeout=60):
    """Polls the router's status until pred(status) holds; the last status.
    A problem if it never did."""
    t0 = time.time()
    st = None
    while time.time() - t0 < timeout:
        st = c.status()
        if st and pred(st):
            return st
        time.sleep(0.2)
    c.problems.append("%s: not seen within %ds (status %s)" % (what, timeout, json.dumps(st)))
    return st


def _sync_fails(c, rules, failures_before):
    """Arms rules for the router's log segments and waits until one more
    sync failed and the log was cut back (it accepts appends again)."""
    c.arm_faults(rules)
    _poll(c, "a sync failing after '%s'" % rules.replace("\n", "; "),
          lambda st: st["counters"]["sync_errors"] > failures_before)
    return _poll(c, "the log accepting appends again", lambda st: not st["log"].get("failed"))


@scenario("sync-eio", "10. the log's fdatasync fails (EIO) under load, then its cut back too")
def sync_eio(target):
    """faultshim (tests/faults/faultshim.c) in the router: three times under
    load an fdatasync of a log segment fails; the second time the cut back
    after it fails too (ftruncate EIO, twice), so appends are refused until
    a retry succeeds. In "fsync" durability nothing answered 200 may be
    missing. The control runs "write" durability, where a failed sync drops
    records that were answered 200 (ARCHITECTURE section 4): some must be
    missing, and every record still in the log must have been delivered (a
    route's cursor used to serve its stale copy of the dropped records,
    then skip what followed)."""
    seg = "*/log/*.seg"
    with _one(target, "sync-eio", ingest={"router_timeout_ms": 2000}, faults=True) as c:
        c.sup_start()
        load = c.load(duration=12)
        _poll(c, "the load starting", lambda st: st["counters"]["appended"] > 500)
        st = _sync_fails(c, "fdatasync %s 0 1 EIO" % seg, 0)
        st = _sync_fails(c, "fdatasync %s 20 1 EIO\nftruncate %s 0 2 EIO" % (seg, seg),
                         st["counters"]["sync_errors"])
        st = _sync_fails(c, "fdatasync %s 20 1 EIO" % seg, st["counters"]["sync_errors"])
        c.arm_faults("")
        s = load.wait()
        _load_problems(c, s)
        catchup = c.wait_caught_up()
        st = c.status()
        lg = st["log"] if st else {}
        if lg.get("failures", 0) < 3 or lg.get("recover_errors", 0) < 2 or not lg.get("refused"):
            c.problems.append("the faults did not bite as planned: %s" % json.dumps(lg))
        c.notes.append("log failed %d times (%d syncs failed); its cut back failed %d times; "
                       "%d requests refused meanwhile; load: %d requests, %d 503s resent"
                       % (lg.get("failures", 0), st["counters"]["sync_errors"] if st else 0,
                          lg.get("recover_errors", 0), lg.get("refused", 0), s["requests"],
                          s["retries"]))
        c.notes.append(_sync_eio_write(target, c))
        c.sup_stop()
        return _result(c, catchup)


def _sync_eio_write(target, main):
    seg = "*/log/*.seg"
    with _one(target, "sync-eio-write", ingest={"router_timeout_ms": 2000},
              router={"durability": "write"}, faults=True) as c:
        c.sup_start()
        load = c.load(duration=8)
        _poll(c, "the load starting", lambda st: st["counters"]["appended"] > 500)
        st = {"counters": {"sync_errors": 0}}
        for _ in range(3):
            st = _sync_fails(c, "fdatasync %s 2 1 EIO" % seg, st["counters"]["sync_errors"])
        c.arm_faults("")
        load.wait()
        c.wait_caught_up()
        row = c.account()[0]
        in_log = cl.read_log(c.config["router"]["data_dir"])
        delivered = target.read(c, "archive")
        skipped = [k for k in in_log if k not in delivered]
        c.sup_stop()
        main.problems += ["control: " + p for p in c.problems]
        if skipped:
            main.problems.append("control: %d events in the log never delivered, e.g. %s"
                                 % (len(skipped), skipped[:5]))
        if row["missing"] == 0:
            main.problems.append("control: failed syncs in durability \"write\" dropped no "
                                 "acknowledged event; the injection did not bite")
        return ("control (\"write\"): %d of %d answered 200 dropped by the 3 failed syncs, as "
                "documented; %d of the %d events in the log delivered"
                % (row["missing"], row["acked"], len(in_log) - len(skipped), len(in_log)))


# --- 11. a damaged record in a synced segment -------------------------------------

def _records(path):
    """(offset, seq, [(session, nr), ...]) of every whole record of a segment."""
    data = memoryview(h.read_bytes(path))
    out, pos = [], 0
    while pos + 16 <= len(data):
        ln, _crc, seq = struct.unpack_from("<IIQ", data, pos)
        if ln == 0 or pos + 16 + ln > len(data):
            break
        events = [cl.event_key(v) for num, _, v in cl._fields(data[pos + 16:pos + 16 + ln])
                  if num == 2]
        out.append((pos, seq, events))
        pos += 16 + ln
    return out


@scenario("damaged-record", "11. one record damaged in the middle of a synced segment, router restarted")
def damaged_record(target):
    """256 KiB segments, the sink stopped so the log keeps them. After the
    load the router is stopped, one bit of the crc of a record in the middle
    of the oldest segment (fsync'd when the next one started) is flipped,
    and the router started again with the sink. The events of that record
    are unreadable: they are left out of the count, and the router must
    report the damage (status log.damaged, log.damaged_records); every other
    event answered 200 must be delivered. The router used to cut the
    segment at the bad record, losing every record after it in the
    segment, with a warning about a torn tail."""
    with _one(target, "damaged-record", router={"segment_bytes": 256 << 10}) as c:
        c.sup_start()
        c.ctl("stop", c.sink_process("archive"))
        load = c.load(duration=4)
        s = load.wait()
        _load_problems(c, s)
        c.ctl("stop", "router")
        segs = sorted(glob.glob(os.path.join(c.config["router"]["data_dir"], "log", "*.seg")))
        if len(segs) < 2:
            c.problems.append("only %d segments: nothing synced to damage" % len(segs))
            c.sup_stop()
            return _result(c, None)
        recs = _records(segs[0])
        off, seq, lost = recs[len(recs) // 2]
        with open(segs[0], "r+b") as f:
            f.seek(off + 5)
            b = f.read(1)[0]
            f.seek(off + 5)
            f.write(bytes([b ^ 0x40]))
        c.ctl("start", "router")
        c.wait_running(names=["router"])
        c.ctl("start", c.sink_process("archive"))
        catchup = c.wait_caught_up()
        st = c.status()
        lg = st["log"] if st else {}
        if lg.get("damaged") != 1 or lg.get("damaged_records") != 1:
            c.problems.append("the router did not report one damaged record: %s" % json.dumps(lg))
        # The damaged record's events cannot be delivered: out of the count.
        lost = set(lost)
        for rec in c.records:
            with open(rec) as f:
                lines = [ln for ln in f if ln.strip()]
            kept = [ln for ln in lines
                    if (ln.split("\t")[0], int(ln.split("\t")[1])) not in lost]
            with open(rec, "w") as f:
                f.writelines(kept)
        c.notes.append("record %d of the %d in segment 1 (seq %d, %d events) damaged, its "
                       "events left out of the count; router status damaged %s, "
                       "damaged_records %s" % (len(recs) // 2 + 1, len(recs), seq, len(lost),
                                               lg.get("damaged"), lg.get("damaged_records")))
        c.sup_stop()
        return _result(c, catchup)
