"""Native TLS on the ingest (ingest.tls_cert, ingest.tls_key): the port
speaks only HTTPS; curl, Python's ssl and hamustro-send send signed events
over it; plain HTTP to it is closed without harm; a pair that a client
would reject (expired, not yet valid, key of another certificate, missing
file) stops the ingest at start with CONFIG: KEY: REASON, and
`hamustro-ctl check-config` says the same; SIGHUP serves a new pair to new
connections while a connection opened before keeps working, and a reload
that fails keeps the old pair.

Every certificate is made here with the openssl command: self-signed ones
(each is its own CA for --cacert) and, through `openssl ca`, which takes
explicit dates, an expired one and one not valid yet."""

import hashlib
import http.client
import os
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
import harness as h  # noqa: E402

TRACK_HEADERS = {"Content-Type": "application/protobuf"}


def openssl(*args, cwd=None):
    p = subprocess.run(["openssl"] + list(args), cwd=cwd, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=60)
    assert p.returncode == 0, p.stdout.decode(errors="replace")


def make_self_signed(d, name):
    """d/name.crt and d/name.key: a P-256 certificate for 127.0.0.1, 2 days."""
    crt, key = os.path.join(d, name + ".crt"), os.path.join(d, name + ".key")
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", key, "-out", crt, "-days", "2", "-subj", "/CN=127.0.0.1",
            "-addext", "subjectAltName=IP:127.0.0.1")
    return crt, key


def make_dated(d, name, start, end):
    """A self-signed pair valid only from start to end (YYYYMMDDHHMMSSZ)."""
    cadir = os.path.join(d, "ca-" + name)
    os.mkdir(cadir)
    open(os.path.join(cadir, "index.txt"), "w").close()
    with open(os.path.join(cadir, "ca.cnf"), "w") as f:
        f.write("[ca]\ndefault_ca = d\n[d]\ndatabase = %s/index.txt\nnew_certs_dir = %s\n"
                "rand_serial = yes\ndefault_md = sha256\npolicy = p\n[p]\ncommonName = supplied\n"
                % (cadir, cadir))
    crt, key = os.path.join(d, name + ".crt"), os.path.join(d, name + ".key")
    csr = os.path.join(cadir, "req.csr")
    openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", key, "-out", csr, "-subj", "/CN=127.0.0.1")
    openssl("ca", "-batch", "-notext", "-config", os.path.join(cadir, "ca.cnf"), "-selfsign",
            "-keyfile", key, "-in", csr, "-out", crt, "-startdate", start, "-enddate", end)
    return crt, key


def pem_fingerprint(path):
    with open(path) as f:
        return hashlib.sha256(ssl.PEM_cert_to_DER_cert(f.read())).hexdigest()


def served_fingerprint(sock):
    return hashlib.sha256(sock.getpeercert(binary_form=True)).hexdigest()


def log_fingerprint(path):
    """The fingerprint as the ingest logs it: AB:CD:..."""
    fp = pem_fingerprint(path).upper()
    return ":".join(fp[i:i + 2] for i in range(0, len(fp), 2))


def replace_file(src, dst):
    """Installs src at dst the way a certificate renewal should: a rename."""
    tmp = dst + ".new"
    with open(src, "rb") as f, open(tmp, "wb") as g:
        g.write(f.read())
    os.rename(tmp, dst)


class TlsPipeline(h.Pipeline):
    """A pipeline whose ingest serves cert/key; the harness's HTTP helpers
    (health, flush, track) go over HTTPS trusting cafile."""

    def __init__(self, cert, key, cafile, **overrides):
        # Two threads: their daemons share the pair store.
        super().__init__(ingest={"tls_cert": cert, "tls_key": key, "threads": 2}, **overrides)
        self.ctx = ssl.create_default_context(cafile=cafile)

    def connection(self, timeout=10, source=None):
        # harness.Pipeline.request (and health, flush, track) open theirs here.
        return http.client.HTTPSConnection("127.0.0.1", self.port, timeout=timeout,
                                           context=self.ctx,
                                           source_address=(source, 0) if source else None)


def signed_headers(body, t="1454514088"):
    headers = dict(TRACK_HEADERS)
    headers["X-Hamustro-Time"] = t
    headers["X-Hamustro-Signature"] = h.signature(body, t)
    return headers


class Tls(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="hm-tls-")
        cls.a_crt, cls.a_key = make_self_signed(cls.tmp, "a")
        cls.b_crt, cls.b_key = make_self_signed(cls.tmp, "b")
        cls.old_crt, cls.old_key = make_dated(cls.tmp, "expired", "20200101000000Z",
                                              "20200102000000Z")
        cls.new_crt, cls.new_key = make_dated(cls.tmp, "future", "20990101000000Z",
                                              "20990102000000Z")
        # A CA file trusting both a and b, for a client that sees both.
        cls.both = os.path.join(cls.tmp, "both.crt")
        with open(cls.both, "w") as f:
            for path in (cls.a_crt, cls.b_crt):
                with open(path) as g:
                    f.write(g.read())

    @classmethod
    def tearDownClass(cls):
        import shutil
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def installed_pair(self, p, crt, key):
        """Copies a pair into the pipeline's directory (where SIGHUP will
        find the replacement) and returns the paths the config names."""
        dst_crt, dst_key = os.path.join(p.dir, "server.crt"), os.path.join(p.dir, "server.key")
        replace_file(crt, dst_crt)
        replace_file(key, dst_key)
        return dst_crt, dst_key

    def tls_pipeline(self, crt, key, cafile):
        p = TlsPipeline(crt, key, cafile)
        crt, key = self.installed_pair(p, crt, key)
        p.config["ingest"].update({"tls_cert": crt, "tls_key": key})
        p.write_config()
        return p

    @h.dump_on_failure
    def run_clients(self):
        p = self.p
        p.start_all()
        url = "https://127.0.0.1:%d" % p.port

        # curl with --cacert: health and a signed track.
        body = h.encode_collection(h.make_collection(3, start_nr=1))
        body_path = os.path.join(p.dir, "body.bin")
        with open(body_path, "wb") as f:
            f.write(body)
        args = ["curl", "-sS", "--cacert", self.a_crt, "-o", "/dev/null", "-w", "%{http_code}"]
        out = subprocess.run(args + [url + "/api/health"], stdout=subprocess.PIPE, timeout=30)
        self.assertEqual(out.stdout, b"200")
        headers = []
        for k, v in signed_headers(body).items():
            headers += ["-H", "%s: %s" % (k, v)]
        out = subprocess.run(args + headers + ["--data-binary", "@" + body_path,
                                               url + "/api/v1/track"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
        self.assertEqual(out.stdout, b"200", out.stderr)
        # Without the CA curl refuses the certificate: it is really checked.
        out = subprocess.run(["curl", "-sS", "-o", "/dev/null", url + "/api/health"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
        self.assertNotEqual(out.returncode, 0)

        # Python's ssl (urllib) trusting the test's certificate.
        ctx = ssl.create_default_context(cafile=self.a_crt)
        body = h.encode_collection(h.make_collection(2, start_nr=10))
        req = urllib.request.Request(url + "/api/v1/track", data=body,
                                     headers=signed_headers(body), method="POST")
        with urllib.request.urlopen(req, context=ctx, timeout=30) as r:
            self.assertEqual(r.status, 200)
        with urllib.request.urlopen(url + "/api/health", context=ctx, timeout=30) as r:
            self.assertEqual(r.status, 200)
            self.assertEqual(r.read(), b'{"up":true,"router":true}')

        # hamustro-send: its default URL from the config is https; it
        # trusts the CA given by --cacert, or skips the check with --insecure.
        send = [os.path.join(h.BIN, "hamustro-send"), "--config", p.config_path, "--quiet",
                "--payloads", "1", "--count", "4"]
        for extra in (["--cacert", self.a_crt], ["--insecure"]):
            out = subprocess.run(send + extra, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                 timeout=60)
            self.assertEqual(out.returncode, 0, out.stdout.decode(errors="replace"))
        out = subprocess.run(send, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
        self.assertNotEqual(out.returncode, 0, "the unknown CA was accepted")

        # Plain HTTP to the TLS port: the connection is closed, no answer,
        # and the ingest goes on serving.
        with socket.create_connection(("127.0.0.1", p.port), timeout=10) as s:
            s.sendall(b"GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n")
            got = b""
            try:
                while True:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    got += chunk
            except ConnectionResetError:
                pass
        self.assertNotIn(b"HTTP/1.", got)
        conn = http.client.HTTPConnection("127.0.0.1", p.port, timeout=10)
        with self.assertRaises((http.client.HTTPException, OSError)):
            conn.request("GET", "/api/health")
            conn.getresponse()
        conn.close()
        self.assertIsNone(p.procs["ingest"].poll())
        self.assertEqual(p.request("GET", "/api/health")[0], 200)

        # Every event arrived: 3 (curl) + 2 (urllib) + 8 (hamustro-send).
        events = p.wait_events(13)
        self.assertEqual(len(events), 13)
        self.assertEqual(p.stop_all()["ingest"], 0)

    def test_https_clients_are_served(self):
        with self.tls_pipeline(self.a_crt, self.a_key, self.a_crt) as self.p:
            self.run_clients()

    def check_refused(self, crt, key, key_name, reason):
        """The ingest stops at start (and check-config fails) with
        CONFIG: key_name: ... reason."""
        with h.Pipeline(ingest={"tls_cert": crt, "tls_key": key}) as p:
            line = "%s: %s: " % (p.config_path, key_name)
            out = subprocess.run([os.path.join(h.BIN, "hamustro-ingest"), "--config",
                                  p.config_path], stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, timeout=60, cwd=p.dir)
            text = out.stdout.decode(errors="replace")
            self.assertNotEqual(out.returncode, 0, text)
            self.assertIn(line, text)
            self.assertRegex(text.split(line, 1)[1].splitlines()[0], reason)
            out = subprocess.run([os.path.join(h.BIN, "hamustro-ctl"), "check-config",
                                  "--config", p.config_path], stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, timeout=60, cwd=p.dir)
            text = out.stdout.decode(errors="replace")
            self.assertNotEqual(out.returncode, 0, text)
            self.assertIn(line, text)

    def test_expired_certificate_stops_the_ingest(self):
        self.check_refused(self.old_crt, self.old_key, "ingest.tls_cert",
                           r"expired \(not after 2020-01-02 00:00:00 UTC\)")

    def test_not_yet_valid_certificate_stops_the_ingest(self):
        self.check_refused(self.new_crt, self.new_key, "ingest.tls_cert",
                           r"not valid yet \(not before 2099-01-01 00:00:00 UTC\)")

    def test_mismatched_key_stops_the_ingest(self):
        self.check_refused(self.a_crt, self.b_key, "ingest.tls_key",
                           r"is not the private key of the certificate in .*a\.crt")

    def test_missing_or_bad_files_stop_the_ingest(self):
        self.check_refused(os.path.join(self.tmp, "none.crt"), self.a_key, "ingest.tls_cert",
                           r"cannot read .*none\.crt: No such file or directory")
        self.check_refused(self.a_crt, os.path.join(self.tmp, "none.key"), "ingest.tls_key",
                           r"cannot read .*none\.key: No such file or directory")
        self.check_refused(self.a_key, self.a_key, "ingest.tls_cert", r"no PEM certificate")
        self.check_refused(self.a_crt, self.a_crt, "ingest.tls_key", r"not an unencrypted PEM")
        # The bound on a PEM file's size.
        big = os.path.join(self.tmp, "big.crt")
        with open(big, "wb") as f:
            f.write(b"#" * (2 << 20))
        self.check_refused(big, self.a_key, "ingest.tls_cert", r"big\.crt: larger than 1 MiB")

    def test_half_a_pair_is_a_config_error(self):
        for ingest, line in (
                ({"tls_cert": self.a_crt}, "ingest.tls_key: missing: ingest.tls_cert is given"),
                ({"tls_key": self.a_key, "tls_cert": ""},
                 "ingest.tls_cert: missing: ingest.tls_key is given")):
            with h.Pipeline(ingest=ingest) as p:
                out = subprocess.run([os.path.join(h.BIN, "hamustro-ingest"), "--config",
                                      p.config_path], stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, timeout=60)
                self.assertEqual(out.returncode, 2)
                self.assertIn("%s: %s" % (p.config_path, line), out.stdout.decode())

    def test_empty_paths_mean_plain_http(self):
        with h.Pipeline(ingest={"tls_cert": "", "tls_key": ""}) as p:
            p.start_all()
            self.assertEqual(p.track(h.encode_collection(h.make_collection(1)))[0], 200)
            self.assertNotIn("with TLS only", p.log_text("ingest"))
            self.assertNotIn("tls: serving", p.log_text("ingest"))

    @h.dump_on_failure
    def run_reload(self):
        p = self.p
        p.ctx = ssl.create_default_context(cafile=self.both)
        p.start_all()
        fp_a, fp_b = pem_fingerprint(self.a_crt), pem_fingerprint(self.b_crt)
        self.assertNotEqual(fp_a, fp_b)

        # A keep-alive connection made before the reload, on pair a.
        old = p.connection(timeout=10)
        old.request("GET", "/api/health")
        r = old.getresponse()
        self.assertEqual((r.status, r.read()), (200, b'{"up":true,"router":true}'))
        old_sock = old.sock
        self.assertEqual(served_fingerprint(old_sock), fp_a)

        # Renewal: new files in place, then SIGHUP.
        crt, key = self.installed_pair(p, self.b_crt, self.b_key)
        p.procs["ingest"].send_signal(signal.SIGHUP)
        self.assertTrue(h.wait_for(lambda: "now serving certificate SHA256 %s"
                                   % log_fingerprint(self.b_crt) in p.log_text("ingest")))

        # New connections see b.
        new = p.connection(timeout=10)
        new.request("GET", "/api/health")
        r = new.getresponse()
        self.assertEqual(r.status, 200)
        r.read()
        self.assertEqual(served_fingerprint(new.sock), fp_b)
        new.close()

        # The old connection still works, on the same socket and pair a.
        body = h.encode_collection(h.make_collection(2, start_nr=1))
        old.request("POST", "/api/v1/track", body=body, headers=signed_headers(body))
        r = old.getresponse()
        self.assertEqual((r.status, r.read()), (200, b""))
        self.assertIs(old.sock, old_sock)
        self.assertEqual(served_fingerprint(old.sock), fp_a)

        # A reload that fails (b's certificate with a's key) keeps b and says why.
        replace_file(self.a_key, key)
        p.procs["ingest"].send_signal(signal.SIGHUP)
        self.assertTrue(h.wait_for(lambda: "reload failed, still serving certificate SHA256 %s"
                                   % log_fingerprint(self.b_crt) in p.log_text("ingest")))
        self.assertIn("ingest.tls_key: %s is not the private key of the certificate in %s"
                      % (key, crt), p.log_text("ingest"))
        self.assertIsNone(p.procs["ingest"].poll())
        new = p.connection(timeout=10)
        body = h.encode_collection(h.make_collection(1, start_nr=5))
        new.request("POST", "/api/v1/track", body=body, headers=signed_headers(body))
        r = new.getresponse()
        self.assertEqual((r.status, r.read()), (200, b""))
        self.assertEqual(served_fingerprint(new.sock), fp_b)
        new.close()
        old.close()

        self.assertEqual(len(p.wait_events(3)), 3)
        self.assertEqual(p.stop_all()["ingest"], 0)

    def test_sighup_serves_the_new_pair_to_new_connections(self):
        with self.tls_pipeline(self.a_crt, self.a_key, self.a_crt) as self.p:
            self.run_reload()


if __name__ == "__main__":
    unittest.main()
