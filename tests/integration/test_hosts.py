"""Several hosts on one machine (issue 16): network namespaces lb, edge1,
edge2, sinks and client on a bridge, addresses of 10.77.0.0/24 inside them
only (tests/integration/netns.py). lb runs HAProxy from deploy/hosts/
haproxy.cfg (TLS with a certificate made here, health checks on
/api/health, X-Forwarded-For); each edge runs an ingest and a router with
its own log, its route's endpoint tcp:// on the edge's address with
CurveZMQ; sinks runs one file sink per edge (a sink host serves an edge by
running instances with that edge's config: adding an edge changes nothing
on the others). hamustro-send in client speaks HTTPS to lb.

Every host starts its programs as an operator would (supervised.py):
supervisord in the host's namespace on what `hamustro-ctl supervisord-conf`
generates, after `hamustro-ctl check-config` passed: an edge with `--role
edge` on its config, the sink host on one config per edge shaped like
deploy/hosts/sink-edge1.json ("role": "sinks", no router secret), both in
one supervisord. Stops and starts go through supervisorctl (its SIGTERM,
the exit status supervisord logged), kill -9 through the pids it reports,
and supervisord starts a killed program again by itself.

Hosts: 1 steady load, 2 kill -9 of an edge, 3 the sink host's link cut,
4 a second sink host joins and the first one's sinks stop, 5 HAProxy drains
an edge for a deploy, 6 X-Forwarded-For. NginxLb: the same layout with
deploy/hosts/nginx.conf as lb (nginx -t, steady load, X-Forwarded-For).

Each scenario counts every (session, nr) answered 200 in the file output of
both edges: none missing, none stored twice, except (scenario 2 only) a copy
per send of a request hamustro-send recorded as sent more than once: an edge
that dies after its log took a request but before its answer left makes the
client send it again (HAProxy closes the client's kept-alive connection
without an answer and libcurl resends on a fresh one, or HAProxy answers
503 and hamustro-send resends), and the other edge stores it too. Any other
copy fails.

HM_HOSTS_RESULTS=FILE writes a table of every scenario's counts to FILE
(tests/integration/hosts_RESULTS.md keeps the last one)."""

import collections
import copy
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness as h  # noqa: E402
import netns  # noqa: E402
import supervised  # noqa: E402

HOSTS = {"lb": 1, "edge1": 11, "edge2": 12, "sinks": 20, "client": 100}
SRC = os.environ.get("HAMUSTRO_SRC", os.path.join(os.path.dirname(__file__), "..", ".."))
LB_URL = "https://10.77.0.1:8443/api/v1/track"


RESULTS = []  # one dict per scenario run, for HM_HOSTS_RESULTS
T0 = time.time()


def keygen():
    out = subprocess.run([os.path.join(h.BIN, "hamustro-ctl"), "keygen"], check=True,
                         stdout=subprocess.PIPE).stdout
    return json.loads(out)


def wait_for(what, predicate, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError("timed out waiting for %s" % what)


class Layout(unittest.TestCase):
    """The hosts, with HAProxy as lb (start_lb); the scenarios are in Hosts."""
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="hm-hosts-")
        self.net = netns.Net(HOSTS)
        self.edges = {}
        self.hosts = {}  # role -> supervised.Host: each host's supervisord
        self.lb = None
        self.lb_log = None
        try:
            self._start()
        except BaseException:
            self._teardown(failed=True)
            raise

    def tearDown(self):
        self._teardown(failed=False)

    def _teardown(self, failed):
        try:
            if self.lb and self.lb.poll() is None:
                self.lb.terminate()
                self.lb.wait(30)
            if self.lb_log:
                self.lb_log.close()
            problems = []
            # every host's supervisord stops its programs at once
            for host in self.hosts.values():
                host.terminate()
            for role in self.hosts:
                try:
                    self.hosts[role].close(check=not failed)
                except AssertionError as e:
                    problems.append(str(e))
            for e in self.edges.values():
                e.close(check=not failed)
            if problems:
                raise AssertionError("\n".join(problems))
        finally:
            self.net.close()
            shutil.rmtree(self.dir, ignore_errors=True)

    def _start(self):
        server, client = keygen(), keygen()
        curve = {"server_public_key": server["public_key"],
                 "server_secret_key": server["secret_key"],
                 "client_public_key": client["public_key"],
                 "client_secret_key": client["secret_key"]}
        for role in ("edge1", "edge2"):
            addr = self.net.addr[role]
            e = h.Pipeline(trusted_proxies=[self.net.addr["lb"]], curve=curve,
                           ingest={"host": addr, "port": 8080})
            e.config["routes"]["archive"]["endpoint"] = "tcp://%s:5601" % addr
            e.write_config()
            e.role = role
            self.edges[role] = e
            # The edge host: `supervisord-conf --role edge` on its config
            # (which, shared with hamustro-send, names no role itself).
            self.check_config(e.config_path, "--role", "edge")
            self.hosts[role] = supervised.Host(os.path.join(e.dir, "host"),
                                               self.net.prefix(role), [e.config_path], "edge")
        # The sink host: one config per edge, shaped like deploy/hosts/
        # sink-edge1.json ("role": "sinks", no router secret), all in one
        # supervisord; their program names carry the file's name.
        self.sink_configs = []
        for role, e in self.edges.items():
            cfg = copy.deepcopy(e.config)
            cfg["role"] = "sinks"
            del cfg["curve"]["server_secret_key"], cfg["ingest"], cfg["trusted_proxies"]
            path = os.path.join(self.dir, "sink-%s.json" % role)
            with open(path, "w") as f:
                json.dump(cfg, f, indent=2)
            self.check_config(path)
            self.sink_configs.append(path)
        self.start_sink_host("sinks")
        for role in self.edges:
            self.wait_edge_healthy(role)

        # TLS for lb: a self-signed certificate for its address
        key, crt = os.path.join(self.dir, "lb.key"), os.path.join(self.dir, "lb.crt")
        netns.run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                  "-subj", "/CN=hamustro-lb", "-addext", "subjectAltName=IP:10.77.0.1",
                  "-keyout", key, "-out", crt)
        self.cacert = crt
        self.start_lb(key, crt)
        wait_for("lb answering /api/health", lambda: self.net.http(
            "client", "https://10.77.0.1:8443/api/health", cacert=self.cacert) == 200)

    def start_lb(self, key, crt):
        pem = os.path.join(self.dir, "lb.pem")
        with open(pem, "wb") as f:
            f.write(h.read_bytes(crt) + h.read_bytes(key))
        self.lb_sock = os.path.join(self.dir, "lb-admin.sock")
        with open(os.path.join(SRC, "deploy", "hosts", "haproxy.cfg")) as f:
            cfg = f.read().replace("/etc/hamustro/tls/lb.pem", pem).replace(
                "/run/haproxy/hamustro-admin.sock", self.lb_sock)
        cfg_path = os.path.join(self.dir, "haproxy.cfg")
        with open(cfg_path, "w") as f:
            f.write(cfg)
        self.lb_log = open(os.path.join(self.dir, "lb.log"), "ab")
        self.lb = subprocess.Popen(self.net.prefix("lb") + ["haproxy", "-db", "-f", cfg_path],
                                   stdout=self.lb_log, stderr=subprocess.STDOUT)

    def check_config(self, path, *args):
        """`hamustro-ctl check-config` passes, as an operator runs it first."""
        r = subprocess.run([os.path.join(h.BIN, "hamustro-ctl"), "check-config"] + list(args) +
                           [path], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
        self.assertEqual(r.returncode, 0, r.stdout.decode(errors="replace"))

    def start_sink_host(self, role):
        """supervisord on role's namespace with every edge's sink config
        (`supervisord-conf` without --role: the configs say "sinks")."""
        host = supervised.Host(os.path.join(self.dir, role), self.net.prefix(role),
                               self.sink_configs)
        self.hosts[role] = host
        self.assertNotIn("hamustro-router", host.programs)
        self.assertNotIn("hamustro-ingest", host.programs)
        return host

    def wait_edge_healthy(self, role):
        url = "http://%s:8080/api/health" % self.net.addr[role]
        wait_for("%s healthy" % role, lambda: self.net.http("client", url) == 200)

    def appended(self, role):
        st = self.edges[role].router_status()
        return st["counters"]["events"] if st else None

    def send(self, record, *args):
        """hamustro-send in the client namespace over HTTPS to lb (Popen)."""
        argv = self.net.prefix("client") + [
            os.path.join(h.BIN, "hamustro-send"), "--config", self.edges["edge1"].config_path,
            "--url", LB_URL, "--cacert", self.cacert, "--record", record, "--quiet",
            "--json-summary", "--payloads", "1-5", "--retry", "50"] + list(args)
        return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

    def stored(self):
        counts = collections.Counter()
        for e in self.edges.values():
            for ev in e.read_events("archive"):
                counts[(ev["session"], ev["nr"])] += 1
        return counts

    def assert_stored(self, record, resent_copies=False):
        """Every pair answered 200 is in the output, and none is stored more
        than once, unless resent_copies: then a pair may be stored as many
        times as hamustro-send recorded sending its request (--record's
        third column: its own resends of 503s and the ones libcurl made on
        a fresh connection), and no more. Returns the counts."""
        sends = {}
        answered = h.read_record(record, sends)
        self.assertGreater(len(answered), 0)
        self.assertEqual(len(answered), len(set(answered)), "send recorded a pair twice")

        def all_there():
            counts = self.stored()
            return all(counts[k] >= 1 for k in answered)
        try:
            wait_for("every answered event in the output", all_there, timeout=90)
        except AssertionError:
            counts = self.stored()
            missing = [k for k in answered if counts[k] == 0]
            raise AssertionError("%d of %d answered events missing, e.g. %s" % (
                len(missing), len(answered), missing[:5]))
        # the output is final once every route committed its whole log
        for e in self.edges.values():
            e.wait_committed()
        where = collections.defaultdict(list)
        for role, e in self.edges.items():
            for ev in e.read_events("archive"):
                where[(ev["session"], ev["nr"])].append(role)
        resent, bad = {}, {}
        for k, roles in where.items():
            if len(roles) < 2:
                continue
            if resent_copies and len(roles) <= sends.get(k, 1):
                resent[k] = (sorted(roles), sends[k])
            else:
                bad[k] = (sorted(roles), sends.get(k, 1) if k in sends else "not answered 200")
        if bad:
            lb_log = h.read_bytes(os.path.join(self.dir, "lb.log")).decode()
            raise AssertionError("stored more often than sent: %s (pair: (edges storing it, "
                                 "sends recorded)); lb log: %s" % (
                                     dict(sorted(bad.items())[:10]), lb_log[-3000:]))
        if resent:
            print("copies of resent requests (allowed): %s" % dict(sorted(resent.items())[:5]))
        return {"answered": len(answered), "stored": sum(len(r) for r in where.values()),
                "missing": 0, "resent_copies": sum(len(r) - 1 for r, _ in resent.values()),
                "other_copies": 0}

    def steady_load(self):
        record = os.path.join(self.dir, "steady.rec")
        p = self.send(record, "--duration", "4", "--concurrency", "4", "--rate", "150")
        out = p.communicate(timeout=120)[0].decode()
        self.assertEqual(p.returncode, 0, out)
        counts = self.assert_stored(record)
        for role in self.edges:
            self.assertGreater(self.appended(role), 0, "%s got nothing: %s" % (role, out))
        return counts, h.send_summary(out)

    def client_ip_ignored(self):
        """Through lb, a client's own X-Forwarded-For is not believed (the
        edge reads the hop lb appended: the client's private address, not
        recorded); straight to an edge, lb is not the peer and nothing of
        the header is read either."""
        c = h.make_collection(1, device="8b2c1a3e-0000-4000-8000-000000000003")
        body = h.encode_collection(c)
        t = "1454514088"
        sig = h.signature(body, t)
        for url, extra in ((LB_URL, ["--cacert", self.cacert]),
                           ("http://10.77.0.12:8080/api/v1/track", [])):
            argv = self.net.prefix("client") + [
                "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "10",
                "-H", "Content-Type: application/protobuf", "-H", "X-Hamustro-Time: " + t,
                "-H", "X-Hamustro-Signature: " + sig,
                "-H", "X-Forwarded-For: 81.2.69.160", "-H", "X-Real-IP: 81.2.69.161",
                "--data-binary", "@-"] + extra + [url]
            r = subprocess.run(argv, input=body, stdout=subprocess.PIPE, timeout=30)
            self.assertEqual(r.stdout, b"200", url)

        def both():
            return [ev for e in self.edges.values() for ev in e.read_events("archive")
                    if ev["session"] == c["session"]]
        wait_for("both events", lambda: len(both()) == 2)
        self.assertEqual([ev.get("ip", "") for ev in both()], ["", ""])

    def result(self, scenario, counts, summary, **notes):
        """Keeps one row for HM_HOSTS_RESULTS: the store counts and every
        answer the client got (final answers, 503s it resent, connections
        closed without an answer that libcurl resent, transport errors)."""
        answers = dict(summary.get("status", {}))
        if summary.get("retries"):
            answers["503"] = answers.get("503", 0) + summary["retries"]
        row = dict(counts, scenario=scenario, answers=answers,
                   closed_no_answer=summary.get("reconnect_resends", 0),
                   errors=summary.get("errors", 0), **notes)
        RESULTS.append(row)
        print("RESULT %s" % json.dumps(row, sort_keys=True))


class Hosts(Layout):
    def test_1_steady_load_spreads_over_edges(self):
        counts, summary = self.steady_load()
        self.result("1. steady load through lb", counts, summary,
                    appended={r: self.appended(r) for r in self.edges})

    def test_2_edge_dies_under_load(self):
        record = os.path.join(self.dir, "kill.rec")
        p = self.send(record, "--duration", "10", "--concurrency", "4", "--rate", "150")
        try:
            wait_for("load on edge1", lambda: (self.appended("edge1") or 0) > 100)
            sup = self.hosts["edge1"]
            pids = sup.wait_running(["router", "ingest"])
            self.assertEqual(sorted(sup.names()), ["ingest", "router"])
            os.kill(pids["ingest"], signal.SIGKILL)
            os.kill(pids["router"], signal.SIGKILL)
            before = self.appended("edge2")
            # edge2 keeps taking the load while edge1 is down
            wait_for("edge2 taking the load", lambda: self.appended("edge2") > before + 200)
            # supervisord starts both again by itself (autorestart)
            sup.wait_running(["router", "ingest"], changed_from=pids)
            self.wait_edge_healthy("edge1")
        finally:
            out = p.communicate(timeout=120)[0].decode()
        # 1: some requests got no answer (reset when edge1 died); those are
        # the client's to resend and none of them was recorded as stored.
        self.assertIn(p.returncode, (0, 1), out)
        # A request edge1's log took just before the kill, but whose answer
        # never left, is sent again (in about one run of three): HAProxy
        # closes the client's kept-alive connection without an answer (its
        # "abort_keep_alive", logged nowhere), libcurl resends it on a fresh
        # connection by itself, and edge2, or a 503 and hamustro-send's
        # resend, takes it. edge1's log still holds the first send, which
        # goes out when edge1 is back: a copy per send, which the record
        # shows. That is the delivery contract (a resend after a lost answer
        # is at least once), not a loss or a pipeline duplicate.
        counts = self.assert_stored(record, resent_copies=True)
        self.result("2. kill -9 edge1's programs under load, supervisord starts them again",
                    counts, h.send_summary(out))

    def lag(self, role):
        st = self.edges[role].router_status()
        return sum(r["lag"] for r in st["routes"]) if st else None

    def test_3_sink_link_down(self):
        """The sink host's link down for a few seconds under load (the
        namespaces share one bridge, so this cuts the sinks from both
        edges): the edges keep answering 200, edge2's route lag grows, and
        drains once the link is back."""
        record = os.path.join(self.dir, "link.rec")
        p = self.send(record, "--duration", "8", "--concurrency", "4", "--rate", "150")
        try:
            wait_for("load on edge2", lambda: (self.appended("edge2") or 0) > 100)
            self.net.link("sinks", False)
            try:
                before, lag0 = self.appended("edge2"), self.lag("edge2")
                wait_for("edge2 taking events with its sink cut off",
                         lambda: self.appended("edge2") > before + 300)
                # nothing commits while the sinks are cut off: 300 events
                # (60 requests of 1-5 at least) more lag than at the cut
                wait_for("edge2's lag growing", lambda: self.lag("edge2") >= lag0 + 60)
                lag = self.lag("edge2")
            finally:
                self.net.link("sinks", True)
        finally:
            out = p.communicate(timeout=120)[0].decode()
        self.assertEqual(p.returncode, 0, out)
        summary = h.send_summary(out)
        self.assertEqual(list(summary["status"]), ["200"], summary)
        counts = self.assert_stored(record)
        self.assertEqual(self.lag("edge2"), 0)
        self.result("3. sink host's link down under load", counts, summary,
                    note="edge2 lag reached %d, then 0" % lag)

    def route(self, role):
        """role's route "archive" in its router's status."""
        st = self.edges[role].router_status()
        return [r for r in st["routes"] if r["name"] == "archive"][0]

    def instances(self, role):
        """Ids of the sink instances connected to role's route (an id is
        the connection's: a sink that reconnects, e.g. after a heartbeat
        missed on this busy machine, comes back under a new one)."""
        return {i["id"] for i in self.route(role)["instances"]}

    def test_4_scale_sinks_out_and_in(self):
        """A second sink host joins under load (a namespace made now, one
        file sink per edge, CurveZMQ to both edges), then the first one's
        sinks get SIGTERM: the new host takes every batch, nothing missing,
        nothing doubled."""
        record = os.path.join(self.dir, "scale.rec")
        p = self.send(record, "--duration", "9", "--concurrency", "4", "--rate", "150")
        try:
            wait_for("load on both edges", lambda: all(
                (self.appended(r) or 0) > 100 for r in self.edges))
            self.net.add("sinks2", 21)
            old = {r: self.instances(r) for r in self.edges}
            self.start_sink_host("sinks2")
            # scaled out: each edge's route has a second instance
            wait_for("both edges serving two sink instances", lambda: all(
                len(self.instances(r)) == 2 for r in self.edges))
            sinks = self.hosts["sinks"]
            self.assertEqual(sinks.names(), [
                "sink-%s-sink-archive:sink-%s-sink-archive-1" % (r, r) for r in sorted(self.edges)])
            for name in sinks.names():
                self.assertEqual(sinks.stop(name), 0, name)
            # scaled in: only the new host's instance is left, and it carries on
            wait_for("the old instances gone", lambda: all(
                len(self.instances(r)) == 1 and not self.instances(r) & old[r]
                for r in self.edges))
            acked = {r: self.route(r)["batches_acked"] for r in self.edges}
            wait_for("the new host acknowledging batches", lambda: all(
                self.route(r)["batches_acked"] > acked[r] for r in self.edges))
        finally:
            out = p.communicate(timeout=120)[0].decode()
        self.assertEqual(p.returncode, 0, out)
        summary = h.send_summary(out)
        self.assertEqual(list(summary["status"]), ["200"], summary)
        counts = self.assert_stored(record)
        self.result("4. sink host added, old one stopped (supervisorctl stop) under load",
                    counts, summary,
                    note="batches acknowledged by the new host alone: %s" % {
                        r: self.route(r)["batches_acked"] - acked[r] for r in self.edges})

    def lb_command(self, command):
        """One command to HAProxy's runtime API (the stats socket); its answer."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(10)
            s.connect(self.lb_sock)
            s.sendall(command.encode() + b"\n")
            chunks = []
            while True:
                b = s.recv(65536)
                if not b:
                    break
                chunks.append(b)
        return b"".join(chunks).decode()

    def lb_server(self, server):
        """HAProxy's stats row of edges/server as a dict."""
        lines = self.lb_command("show stat").splitlines()
        names = lines[0].lstrip("# ").split(",")
        for line in lines[1:]:
            row = dict(zip(names, line.split(",")))
            if row.get("pxname") == "edges" and row.get("svname") == server:
                return row
        raise AssertionError("no edges/%s in show stat" % server)

    def test_5_drain_edge_for_deploy(self):
        """A deploy of edge1: HAProxy drains it (runtime API), its requests
        in flight finish, SIGTERM stops its ingest and router, they start
        again and HAProxy sets it ready. Every answer the client got is a
        200 or a 503: no reset, no connection closed without an answer."""
        record = os.path.join(self.dir, "drain.rec")
        p = self.send(record, "--duration", "9", "--concurrency", "4", "--rate", "150")
        try:
            wait_for("load on edge1", lambda: (self.appended("edge1") or 0) > 100)
            self.assertEqual(self.lb_command("set server edges/edge1 state drain").strip(), "")
            wait_for("edge1 drained", lambda: self.lb_server("edge1")["scur"] == "0")
            sup = self.hosts["edge1"]
            self.assertEqual(sup.stop("ingest"), 0)
            self.assertEqual(sup.stop("router"), 0)
            sup.start("router")
            sup.start("ingest")
            self.wait_edge_healthy("edge1")
            self.assertEqual(self.lb_command("set server edges/edge1 state ready").strip(), "")
            back = self.appended("edge1")
            wait_for("edge1 taking requests again", lambda: self.appended("edge1") > back + 100)
        finally:
            out = p.communicate(timeout=120)[0].decode()
        self.assertEqual(p.returncode, 0, out)
        summary = h.send_summary(out)
        self.assertLessEqual(set(summary["status"]), {"200", "503"}, summary)
        self.assertEqual(summary["errors"], 0, summary)
        self.assertEqual(summary["reconnect_resends"], 0, summary)
        # And the drain's point: not even a 503. Without it, the requests
        # HAProxy sends to edge1 between the SIGTERM and its next failed
        # health check are refused and answered 503 (4 in runs here),
        # which hamustro-send resends: no event is lost either way.
        self.assertEqual((list(summary["status"]), summary["retries"]), (["200"], 0), summary)
        counts = self.assert_stored(record)
        self.result("5. lb drains edge1, supervisorctl stop and start, ready, under load",
                    counts, summary)

    def test_6_trusted_proxies(self):
        self.client_ip_ignored()


class NginxLb(Layout):
    """deploy/hosts/nginx.conf as lb instead of HAProxy: `nginx -t` passes,
    then steady load spreads over both edges, every event stored once, and
    the client's own X-Forwarded-For is not believed."""

    def start_lb(self, key, crt):
        with open(os.path.join(SRC, "deploy", "hosts", "nginx.conf")) as f:
            cfg = f.read().replace("/etc/hamustro/tls/lb.crt", crt).replace(
                "/etc/hamustro/tls/lb.key", key).replace(
                "/run/nginx-hamustro.pid", os.path.join(self.dir, "nginx.pid"))
        cfg_path = os.path.join(self.dir, "nginx.conf")
        with open(cfg_path, "w") as f:
            f.write(cfg)
        argv = self.net.prefix("lb") + ["nginx", "-e", "stderr", "-c", cfg_path]
        # nginx -t binds the listen address: it runs in lb's namespace
        t = subprocess.run(argv + ["-t"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.assertEqual(t.returncode, 0, t.stdout.decode())
        self.assertIn(b"syntax is ok", t.stdout)
        self.lb_log = open(os.path.join(self.dir, "lb.log"), "ab")
        self.lb = subprocess.Popen(argv + ["-g", "daemon off;"], stdout=self.lb_log,
                                   stderr=subprocess.STDOUT)

    def test_nginx_steady_load_and_client_ip(self):
        counts, summary = self.steady_load()
        self.result("nginx as lb: steady load", counts, summary,
                    appended={r: self.appended(r) for r in self.edges})
        self.client_ip_ignored()


def tearDownModule():
    path = os.environ.get("HM_HOSTS_RESULTS")
    if not path or not RESULTS:
        return
    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            cpu = [l.split(":", 1)[1].strip() for l in f if l.startswith("model name")][0]
    except (OSError, IndexError):
        pass
    lines = ["# Several hosts (tests/integration/test_hosts.py): latest run", "",
             "- date: %s" % time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(T0)),
             "- machine: %s, Linux %s, %d CPUs (%s)" % (platform.node(), platform.release(),
                                                     os.cpu_count(), cpu),
             "- command: `%s`" % os.environ.get("HM_HOSTS_COMMAND", " ".join(sys.argv)),
             "- duration: %.0f s (namespaces, HAProxy and both edges set up again for "
             "every scenario)" % (time.time() - T0), "",
             "| scenario | answered 200 | stored | missing | copies of resent requests | "
             "other copies | answers the client got | closed without answer | errors | notes |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in RESULTS:
        lines.append("| %s | %d | %d | %d | %d | %d | %s | %d | %d | %s |" % (
            r["scenario"], r["answered"], r["stored"], r["missing"], r["resent_copies"],
            r["other_copies"], " ".join("%s: %d" % kv for kv in sorted(r["answers"].items())),
            r["closed_no_answer"], r["errors"],
            r.get("note", "") or ("appended %s" % r["appended"] if "appended" in r else "")))
    lines += [
        "", "Columns: *answered 200* distinct (session, nr) hamustro-send was answered 200 "
        "for; *stored* events in both edges' file output (more than answered 200 when a "
        "request was stored but its answer was lost); *copies of resent requests* stored "
        "copies beyond one of events whose request hamustro-send recorded sending more than "
        "once, at most one per extra send (allowed in scenario 2 only: README \"Scaling "
        "out\", what a failure costs); *other copies* must be 0; *answers the client got* "
        "every HTTP answer, 503s that were resent included; *closed without answer* "
        "requests whose kept-alive connection was closed with no answer, which libcurl "
        "sent again by itself (HAProxy does this to a client when the edge behind it "
        "dies mid-request); *errors* requests that ended without any HTTP answer.",
        "", "Regenerate: `HM_HOSTS_RESULTS=$PWD/tests/integration/hosts_RESULTS.md ctest "
        "--test-dir build -L hosts` (as root)."]
    # Notes written by hand below the table (from the first "## " heading
    # on) are kept: they are not regenerated.
    notes = ""
    try:
        with open(path) as f:
            old = f.read()
        at = old.find("\n## ")
        notes = old[at:] if at >= 0 else ""
    except OSError:
        pass
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n" + notes)


if __name__ == "__main__":
    # Cannot run here: exit 77 (skipped), or a failure under CI (h.skip).
    why = netns.available()
    if not why and not shutil.which("haproxy"):
        why = "haproxy missing (make deps installs it)"
    if not why and not shutil.which("nginx"):
        why = "nginx missing (make deps installs nginx-light)"
    if not why and not shutil.which("curl"):
        why = "curl missing (make deps installs it)"
    if why:
        h.skip(why)
    unittest.main()
