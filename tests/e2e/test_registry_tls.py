"""Per-registry CA certificates (<certs-dir>/<host:port>/ca.crt). Loopback registries are
always insecure (127.0.0.0/8 is an insecure CIDR, as in dockerd), so TLS verification is
exercised against a registry on an address of the test's own: Debian's docker-registry runs
inside a private network namespace on 10.231.77.2, reached over a veth pair whose host end
is 10.231.77.1. Nothing here contacts any other address."""
import os
import shutil
import socket
import subprocess
import tempfile
import time

import pytest

from conftest import TESTDATA, DockerCLI, daemon_env
from registry import REGISTRY_BIN

FIX = os.path.join(TESTDATA, "fixtures")
BUSYBOX_ID = "sha256:1753f6f850bd793fb12d6eb8f3c47c9b91eefa519a95aeaf492d02ac5fc14ef5"
HOST_IP, NS_IP, PORT = "10.231.77.1", "10.231.77.2", 5443
REG = "%s:%d" % (NS_IP, PORT)


def sh(*args, check=True):
    return subprocess.run(list(args), check=check, capture_output=True, text=True)


def make_tls(dirname):
    """A test CA and a server certificate for IP SAN 10.231.77.2 signed by it."""
    ca_key, ca_crt = os.path.join(dirname, "ca.key"), os.path.join(dirname, "ca.crt")
    key, csr, crt = (os.path.join(dirname, n) for n in ("server.key", "server.csr", "server.crt"))
    ext = os.path.join(dirname, "ext.cnf")
    with open(ext, "w") as f:
        f.write("subjectAltName=IP:%s\n" % NS_IP)
    sh("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca_key, "-out", ca_crt,
       "-days", "2", "-subj", "/CN=berth tls test CA")
    sh("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=" + NS_IP)
    sh("openssl", "x509", "-req", "-in", csr, "-CA", ca_crt, "-CAkey", ca_key, "-CAcreateserial", "-out", crt,
       "-days", "2", "-extfile", ext)
    return ca_crt, crt, key


@pytest.fixture
def netns_registry():
    pid = os.getpid()
    ns, veth_host, veth_ns = "berthtls%d" % pid, "btls%dh" % pid, "btls%dn" % pid
    p = sh("ip", "netns", "add", ns, check=False)
    if p.returncode != 0:
        pytest.skip("cannot create a network namespace: " + p.stderr.strip())
    base = tempfile.mkdtemp(prefix="berth-tls-reg-")
    proc = log = None
    try:
        sh("ip", "link", "add", veth_host, "type", "veth", "peer", "name", veth_ns)
        sh("ip", "link", "set", veth_ns, "netns", ns)
        sh("ip", "addr", "add", HOST_IP + "/30", "dev", veth_host)
        sh("ip", "link", "set", veth_host, "up")
        sh("ip", "netns", "exec", ns, "ip", "addr", "add", NS_IP + "/30", "dev", veth_ns)
        sh("ip", "netns", "exec", ns, "ip", "link", "set", veth_ns, "up")
        sh("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up")

        ca, crt, key = make_tls(base)
        storage = os.path.join(base, "storage")
        os.makedirs(storage)
        cfg = os.path.join(base, "config.yml")
        with open(cfg, "w") as f:
            f.write("\n".join([
                "version: 0.1", "log:", "  level: info",
                "storage:", "  filesystem:", "    rootdirectory: %s" % storage,
                "http:", "  addr: %s" % REG, "  secret: berth-test-secret",
                "  tls:", "    certificate: %s" % crt, "    key: %s" % key, ""]))
        log_path = os.path.join(base, "registry.log")
        log = open(log_path, "ab")
        proc = subprocess.Popen(["ip", "netns", "exec", ns, REGISTRY_BIN, "serve", cfg],
                                stdout=log, stderr=subprocess.STDOUT)
        deadline = time.time() + 15
        while True:
            if proc.poll() is not None:
                raise RuntimeError("docker-registry exited:\n" + open(log_path).read())
            try:
                with socket.create_connection((NS_IP, PORT), timeout=0.5):
                    break
            except OSError:
                if time.time() > deadline:
                    raise RuntimeError("docker-registry did not listen:\n" + open(log_path).read())
                time.sleep(0.05)
        yield ca
    finally:
        if proc and proc.poll() is None:
            proc.kill()  # `ip netns exec` execs the registry, so this is its PID
            proc.wait()
        if log:
            log.close()
        sh("ip", "link", "del", veth_host, check=False)
        sh("ip", "netns", "del", ns, check=False)
        shutil.rmtree(base, ignore_errors=True)


def test_registry_ca_from_certs_dir(fresh_daemon, netns_registry):
    env = daemon_env(extra_no_proxy=(NS_IP,))
    certs = tempfile.mkdtemp(prefix="berth-certs-")
    empty = tempfile.mkdtemp(prefix="berth-certs-empty-")
    clis = []
    try:
        os.makedirs(os.path.join(certs, REG))
        shutil.copy(netns_registry, os.path.join(certs, REG, "ca.crt"))

        d = fresh_daemon("--registry-certs-dir", certs, env=env)
        cli = DockerCLI(d.host)
        clis.append(cli)
        cli.run("load", "-i", os.path.join(FIX, "busybox-docker-archive.tar"))
        cli.run("tag", "busybox", REG + "/busybox")
        p = cli.run("push", REG + "/busybox")
        assert "Pushed" in p.stdout
        cli.run("rmi", "-f", BUSYBOX_ID)
        cli.run("pull", REG + "/busybox")
        assert cli.run("image", "inspect", "--format", "{{.Id}}", REG + "/busybox").stdout.strip() == BUSYBOX_ID

        # Without the CA the registry's certificate cannot be verified.
        d2 = fresh_daemon("--registry-certs-dir", empty, env=env)
        cli2 = DockerCLI(d2.host)
        clis.append(cli2)
        p = cli2.run("pull", REG + "/busybox", check=False)
        assert p.returncode != 0
        assert "x509: certificate signed by unknown authority" in p.stderr, p.stderr
        assert cli2.run("image", "inspect", REG + "/busybox", check=False).returncode != 0
    finally:
        for c in clis:
            c.cleanup()
        shutil.rmtree(certs, ignore_errors=True)
        shutil.rmtree(empty, ignore_errors=True)


def test_registry_ca_from_etc_docker_certs_d(fresh_daemon, netns_registry):
    """dockerd's directory, /etc/docker/certs.d/<host:port>/ca.crt, is read after berth's own.
    The test's berthd sees a private /etc: an overlay on the real one, in a mount namespace
    of its own, so nothing on the machine changes."""
    env = daemon_env(extra_no_proxy=(NS_IP,))
    base = tempfile.mkdtemp(prefix="berth-etc-")
    empty = tempfile.mkdtemp(prefix="berth-certs-empty-")
    upper, work = os.path.join(base, "upper"), os.path.join(base, "work")
    cli = None
    try:
        os.makedirs(os.path.join(upper, "docker", "certs.d", REG))
        os.makedirs(work)
        shutil.copy(netns_registry, os.path.join(upper, "docker", "certs.d", REG, "ca.crt"))
        d = fresh_daemon("--registry-certs-dir", empty, env=env, start=False)
        d.args = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
                  'mount -t overlay overlay -o "lowerdir=/etc,upperdir=$1,workdir=$2" /etc && shift 2 && exec "$@"',
                  "sh", upper, work, *d.args]
        d.start()
        cli = DockerCLI(d.host)
        cli.run("load", "-i", os.path.join(FIX, "busybox-docker-archive.tar"))
        cli.run("tag", "busybox", REG + "/etc-certs/busybox")
        p = cli.run("push", REG + "/etc-certs/busybox")
        assert "Pushed" in p.stdout or "Layer already exists" in p.stdout
        cli.run("rmi", "-f", BUSYBOX_ID)
        cli.run("pull", REG + "/etc-certs/busybox")
        assert cli.run("image", "inspect", "--format", "{{.Id}}", REG + "/etc-certs/busybox").stdout.strip() == BUSYBOX_ID
    finally:
        if cli:
            cli.cleanup()
        shutil.rmtree(base, ignore_errors=True)
        shutil.rmtree(empty, ignore_errors=True)
