"""`make run` itself, as a newcomer runs it: the original Hamustro's config
of each dialect (file, s3, sns, abs, aqs) and a config of three routes
(file, s3 with two instances, aqs) start exactly the programs the config
needs; every event answered 200 reaches every route; Ctrl-C stops
everything cleanly and the open batches (they only seal at the stop here)
are written; nothing says CRIT. A broken config stops `make run` at once
with the FILE: KEY: REASON line and starts nothing.

Every run has its own RUN_HOME (the programs' directory, with var/ under
it) so the test never touches a developer's var/. The emulators start once
for the whole file."""

import base64
import gzip
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness as h  # noqa: E402
import aws_helpers as aws  # noqa: E402
import azure_emulator as az  # noqa: E402
from test_original_config import SAMPLE  # noqa: E402

BUILD = os.path.dirname(os.path.abspath(h.BIN))
SUP_CONF = os.path.join(h.SRC, "deploy", "supervisord.conf")


def events_of_lines(lines):
    """{(session, nr): count} of JSON lines."""
    got = {}
    for line in lines:
        e = json.loads(line)
        got[(e["session"], e["nr"])] = got.get((e["session"], e["nr"]), 0) + 1
    return got


class MakeRun(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="hm-makerun-")
        cls.emu = aws.Emulators(os.path.join(cls.dir, "emulators"))
        cls.az = {}
        try:
            cls.s3_proxy, cls.sns_proxy = h.free_port(), h.free_port()
            s3_port, fq_port = h.free_port(), h.free_port()
            cls.emu.start("s3rver", s3_port)
            cls.emu.start("sigv4-proxy", cls.s3_proxy, s3_port)
            cls.emu.start("fauxqs", fq_port)
            cls.emu.start("sigv4-proxy", cls.sns_proxy, fq_port)
            for service in ("blob", "queue"):
                cls.az[service] = az.Azurite(service, cls.dir)
                cls.az[service].start()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        for a in cls.az.values():
            if a.running:
                a.stop()
        cls.emu.stop_all()
        shutil.rmtree(cls.dir, ignore_errors=True)

    def setUp(self):
        self.p = h.Pipeline()
        self.addCleanup(self.p.close)
        self.make = None
        self.out_path = os.path.join(self.p.dir, "make-run.out")
        self.sup_env = dict(os.environ, HAMUSTRO_RUN_HOME=self.p.dir)

    def tearDown(self):
        # A test that failed midway: stop supervisord as SIGTERM does (its
        # programs have their own process groups), and only then force.
        if self.make and self.make.poll() is None:
            os.killpg(self.make.pid, signal.SIGTERM)
            try:
                self.make.wait(90)
            except subprocess.TimeoutExpired:
                os.killpg(self.make.pid, signal.SIGKILL)
                self.make.wait(30)
            print(self.output()[-4000:])

    # -- make run --------------------------------------------------------------
    def start_make(self, cfg):
        """`make -C <checkout> run` with cfg as HAMUSTRO_CONFIG, in its own
        process group as a terminal would run it."""
        self.p.config = cfg
        self.p.write_config()
        env = dict(os.environ, HAMUSTRO_CONFIG=self.p.config_path, HAMUSTRO_PORT=str(self.p.port))
        env.pop("MAKEFLAGS", None)
        with open(self.out_path, "wb") as out:
            self.make = subprocess.Popen(
                ["make", "-C", h.SRC, "run", "BUILD=" + BUILD, "RUN_HOME=" + self.p.dir,
                 "SUPERVISOR_LOGLEVEL=info"],
                env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)

    def output(self):
        return h.read_bytes(self.out_path).decode(errors="replace")

    def status(self):
        """{process name: state} from supervisorctl."""
        r = subprocess.run(["supervisorctl", "-c", SUP_CONF, "status"], env=self.sup_env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
        out = {}
        for line in r.stdout.decode(errors="replace").splitlines():
            parts = line.split()
            if len(parts) >= 2:
                out[parts[0]] = parts[1]
        return out

    def wait_running(self, names, timeout=120):
        """Waits until exactly these processes run (make builds first)."""
        deadline = time.time() + timeout
        now = {}
        while time.time() < deadline:
            if self.make.poll() is not None:
                self.fail("make run ended (%s):\n%s" % (self.make.returncode, self.output()))
            if os.path.exists(os.path.join(self.p.dir, "var", "run", "supervisor.sock")):
                now = self.status()
                if sorted(now) == sorted(names) and all(s == "RUNNING" for s in now.values()):
                    self.p.wait_healthy(30)
                    return
            time.sleep(0.3)
        self.fail("not %s RUNNING: %s\n%s" % (names, now, self.output()))

    def ctrl_c(self, processes):
        """What Ctrl-C in the terminal does: SIGINT to make's process group
        (make, its shell and supervisord; supervisord's programs have their
        own groups and are stopped by supervisord in reverse start order)."""
        os.killpg(self.make.pid, signal.SIGINT)
        rc = self.make.wait(120)
        out = self.output()
        # make always ends by the SIGINT it got (GNU make re-raises it, as
        # for any Ctrl-C); what must end cleanly is supervisord and every
        # program: each stopped with exit status 0.
        self.assertIn(rc, (0, -signal.SIGINT), out)
        for name in processes:
            self.assertIn("stopped: %s (exit status 0)" % name, out)
        self.assertNotIn("CRIT", out)
        self.assertNotIn("not expected", out)
        self.assertNotIn("SIGKILL", out)
        self.assertFalse(os.path.exists(os.path.join(self.p.dir, "var", "run", "supervisord.pid")))
        return out

    def send(self, n, tag):
        """n collections of 3 events, each answered 200; their (session, nr)."""
        sent = [h.make_collection(3, device="%s-%d" % (tag, i)) for i in range(n)]
        for c in sent:
            aws.track(self.p, c)
        return set(aws.expected_events(sent))

    # -- reading what each sink stored -------------------------------------------
    def file_events(self, base):
        lines = []
        for root, _, names in os.walk(os.path.join(self.p.dir, base)):
            for n in names:
                data = h.read_bytes(os.path.join(root, n))
                lines += (gzip.decompress(data) if n.endswith(".gz") else data).splitlines()
        return events_of_lines(lines)

    def s3_events(self, bucket, prefix):
        lines = []
        for key in aws.s3_list(self.s3_proxy, bucket, prefix):
            lines += gzip.decompress(aws.s3_get(self.s3_proxy, bucket, key)[1]).splitlines()
        return events_of_lines(lines)

    def blob_events(self, container, prefix):
        lines = []
        for name in self.az["blob"].list_blobs(container, prefix):
            lines += gzip.decompress(self.az["blob"].get_blob(container, name)[1]).splitlines()
        return events_of_lines(lines)

    def queue_events(self, queue, want):
        got, deadline = {}, time.time() + 30
        while len(got) < len(want) and time.time() < deadline:
            texts = self.az["queue"].get_messages(queue, 32)
            for k, n in events_of_lines(base64.b64decode(t) for t in texts).items():
                got[k] = got.get(k, 0) + n
            if not texts:
                time.sleep(0.2)
        return got

    def sns_events(self, url, want):
        got, deadline = {}, time.time() + 30
        while len(got) < len(want) and time.time() < deadline:
            for k, n in events_of_lines(aws.sqs_receive_all(self.sns_proxy, url)).items():
                got[k] = got.get(k, 0) + n
        return got

    def assertAllOnce(self, got, want, where):
        self.assertEqual(set(got), want, "%s: missing %s, unknown %s" % (
            where, sorted(want - set(got))[:3], sorted(set(got) - want)[:3]))
        self.assertEqual([k for k, n in got.items() if n != 1], [], where + ": duplicates")

    # -- the original's config, one dialect at a time --------------------------------
    def original(self, dialect, section):
        """The original's sample with dialect chosen and its section filled
        in; batches seal only at the stop (a 60-minute auto flush)."""
        cfg = json.loads(json.dumps(SAMPLE))
        cfg.update(dialect=dialect, auto_flush_interval=60)
        cfg[dialect] = section
        return cfg

    def run_original(self, dialect, section, program):
        self.start_make(self.original(dialect, section))
        processes = ["router", "ingest", "sink-%s:sink-%s-1" % (dialect, dialect)]
        self.wait_running(processes)
        want = self.send(4, "orig-" + dialect)
        self.ctrl_c(["router", "ingest", "sink-%s-1" % dialect])
        self.assertIn("%s --config %s --route %s:%%(process_num)d" % (
            program, self.p.config_path, dialect),
                      h.read_bytes(os.path.join(self.p.dir, "var", "run", "programs.conf"))
                      .decode())
        return want

    def test_original_file(self):
        want = self.run_original("file", {"file_path": "var/events/{date}/", "file_format": "json",
                                          "compress": True}, "hamustro-file-sink")
        # Relative paths are under RUN_HOME, where the programs run.
        self.assertAllOnce(self.file_events("var/events"), want, "file")
        self.assertTrue(os.path.isdir(os.path.join(self.p.dir, "var", "data", "log")))

    def test_original_s3(self):
        aws.s3_create_bucket(self.s3_proxy, "orig-bucket")
        want = self.run_original("s3", {
            "region": aws.REGION, "endpoint": "http://127.0.0.1:%d" % self.s3_proxy,
            "access_key_id": aws.AKID, "secret_access_key": aws.SECRET, "bucket": "orig-bucket",
            "blob_path": "orig/{date}/", "file_format": "json"}, "hamustro-s3-sink")
        self.assertAllOnce(self.s3_events("orig-bucket", "orig/"), want, "s3")

    def test_original_sns(self):
        arn, url = aws.sns_topic_with_queue(self.sns_proxy, "orig-topic")
        want = self.run_original("sns", {
            "region": aws.REGION, "endpoint": "http://127.0.0.1:%d" % self.sns_proxy,
            "access_key_id": aws.AKID, "secret_access_key": aws.SECRET, "topic_arn": arn},
            "hamustro-sns-sink")
        self.assertAllOnce(self.sns_events(url, want), want, "sns")

    def test_original_abs(self):
        self.az["blob"].ok("PUT", "/orig-container", "restype=container")
        want = self.run_original("abs", {
            "account": az.ACCOUNT, "access_key": az.KEY, "container": "orig-container",
            "blob_path": "orig/{date}/", "file_format": "json",
            "endpoint": self.az["blob"].endpoint}, "hamustro-blob-sink")
        self.assertAllOnce(self.blob_events("orig-container", "orig/"), want, "abs")

    def test_original_aqs(self):
        self.az["queue"].ok("PUT", "/orig-queue")
        want = self.run_original("aqs", {
            "account": az.ACCOUNT, "access_key": az.KEY, "queue_name": "orig-queue",
            "endpoint": self.az["queue"].endpoint}, "hamustro-queue-sink")
        self.assertAllOnce(self.queue_events("orig-queue", want), want, "aqs")

    # -- three routes, one of them scaled ------------------------------------------------
    def test_three_routes_two_instances(self):
        aws.s3_create_bucket(self.s3_proxy, "lake-bucket")
        self.az["queue"].ok("PUT", "/three-queue")
        cfg = {
            "shared_secret": h.SECRET, "maintenance_key": "mk",
            "routes": {
                "archive": {"sink": "file", "max_age": 3600,
                            "file": {"file_path": "var/events/{date}/", "compress": True}},
                "lake": {"sink": "s3", "instances": 2, "max_age": 3600, "max_events": 6,
                         "s3": {"region": aws.REGION,
                                "endpoint": "http://127.0.0.1:%d" % self.s3_proxy,
                                "access_key_id": aws.AKID, "secret_access_key": aws.SECRET,
                                "bucket": "lake-bucket", "blob_path": "lake/{date}/"}},
                "q": {"sink": "aqs", "max_age": 3600,
                      "aqs": {"account": az.ACCOUNT, "access_key": az.KEY,
                              "queue_name": "three-queue",
                              "endpoint": self.az["queue"].endpoint}},
            }}
        self.start_make(cfg)
        processes = ["router", "ingest", "sink-archive:sink-archive-1", "sink-lake:sink-lake-1",
                     "sink-lake:sink-lake-2", "sink-q:sink-q-1"]
        self.wait_running(processes)
        want = self.send(6, "three")
        out = self.ctrl_c([n.split(":")[-1] for n in processes])
        # Each instance says which it is.
        self.assertIn("[sink:s3:lake:1]", out)
        self.assertIn("[sink:s3:lake:2]", out)
        self.assertAllOnce(self.file_events("var/events"), want, "archive")
        self.assertAllOnce(self.s3_events("lake-bucket", "lake/"), want, "lake")
        self.assertAllOnce(self.queue_events("three-queue", want), want, "q")

    # -- a broken config ---------------------------------------------------------------------
    def test_broken_config_starts_nothing(self):
        cfg = self.original("file", {"file_path": "var/events/{date}/"})
        cfg["file"]["compres"] = True
        self.start_make(cfg)
        rc = self.make.wait(300)
        out = self.output()
        self.assertNotEqual(rc, 0, out)
        self.assertIn("%s: file.compres: unknown key" % self.p.config_path, out)
        self.assertNotIn("supervisord -n", out.split("file.compres")[-1])
        self.assertFalse(os.path.exists(os.path.join(self.p.dir, "var", "run", "programs.conf")))
        self.assertFalse(os.path.exists(os.path.join(self.p.dir, "var", "run",
                                                     "supervisord.log")))


if __name__ == "__main__":
    unittest.main(verbosity=2)
