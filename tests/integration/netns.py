"""Linux network namespaces for multi-host tests (tests/integration/test_hosts.py).

A Net makes one namespace per host plus a hidden one holding a bridge; each
host gets a veth into that bridge and one address of 10.77.0.0/24. Names
carry a per-run tag, so parallel runs never collide; the addresses live only
inside the run's namespaces (the root namespace gets nothing). close()
removes every namespace, which removes the links with them; it runs on
failure too (use Net as a context manager)."""

import os
import subprocess
import uuid

SUBNET = "10.77.0"


def run(*argv, check=True):
    p = subprocess.run(list(argv), stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    if check and p.returncode != 0:
        raise AssertionError("%s: exit %d: %s" % (" ".join(argv), p.returncode,
                                                   p.stderr.decode(errors="replace")))
    return p


def available():
    """Why namespaces cannot be made here, or None."""
    if os.geteuid() != 0:
        return "needs root (ip netns)"
    try:
        run("ip", "-V")
    except (OSError, AssertionError) as e:
        return "iproute2 missing: %s" % e
    return None


class Net:
    def __init__(self, hosts):
        """hosts: {role: last octet}, e.g. {"lb": 1, "edge1": 11}."""
        self.tag = uuid.uuid4().hex[:6]
        self.hub = "hm%s-hub" % self.tag
        self.ns = {}
        self.addr = {}
        self.port = {}  # role -> the veth end in the hub
        try:
            run("ip", "netns", "add", self.hub)
            run("ip", "-n", self.hub, "link", "add", "br0", "type", "bridge")
            run("ip", "-n", self.hub, "link", "set", "br0", "up")
            for role, octet in sorted(hosts.items()):
                self.add(role, octet)
        except BaseException:
            self.close()
            raise

    def add(self, role, octet):
        """One more host on the bridge, also while a test runs (a host
        joining the layout)."""
        ns = "hm%s-%s" % (self.tag, role)
        run("ip", "netns", "add", ns)
        self.ns[role] = ns
        port = "p%d" % len(self.port)
        run("ip", "-n", self.hub, "link", "add", port, "type", "veth", "peer", "name",
            "eth0", "netns", ns)
        run("ip", "-n", self.hub, "link", "set", port, "master", "br0", "up")
        run("ip", "-n", ns, "link", "set", "lo", "up")
        run("ip", "-n", ns, "addr", "add", "%s.%d/24" % (SUBNET, octet), "dev", "eth0")
        run("ip", "-n", ns, "link", "set", "eth0", "up")
        self.addr[role] = "%s.%d" % (SUBNET, octet)
        self.port[role] = port

    def prefix(self, role):
        """argv that runs a program inside role's namespace."""
        return ["ip", "netns", "exec", self.ns[role]]

    def link(self, role, up):
        """Cuts (or restores) role's only link: its port on the bridge."""
        run("ip", "-n", self.hub, "link", "set", self.port[role], "up" if up else "down")

    def http(self, role, url, cacert=None, timeout=5):
        """The HTTP status of a GET from inside role's namespace (0: no answer)."""
        argv = self.prefix(role) + ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                                    "--max-time", str(timeout)]
        if cacert:
            argv += ["--cacert", cacert]
        p = run(*argv, url, check=False)
        try:
            return int(p.stdout.decode().strip() or 0)
        except ValueError:
            return 0

    def close(self):
        for ns in list(self.ns.values()) + [self.hub]:
            run("ip", "netns", "del", ns, check=False)
        self.ns = {}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
