"""The API over TCP with TLS, as dockerd serves it: -H tcp://... with --tlsverify (mutual
TLS: clients need a certificate the CA signed, refused in the handshake otherwise) or --tls
alone (encryption, no client certificates), driven by the docker CLI (--tlsverify,
DOCKER_CERT_PATH) and docker-py (TLSConfig); attach, exec and events over TLS; the hostile
clients (no certificate, a self-signed one, an expired one, plain HTTP to the TLS port); and
the refusal of a TCP listener off loopback without TLS, unless --tls=false says so.
Certificates are made by the test with openssl."""
import json
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time

import pytest

from conftest import TESTDATA, DockerCLI, docker_env, pty_run


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def ec_key(cwd, name):
    openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", name, cwd=cwd)


def sign(cwd, name, cn, ext, ca="ca"):
    """<name>-key.pem and <name>.pem, CN=@cn, signed by @ca with extensions @ext."""
    ec_key(cwd, name + "-key.pem")
    openssl("req", "-new", "-key", name + "-key.pem", "-subj", "/CN=%s/O=berth-tests" % cn, "-out", name + ".csr", cwd=cwd)
    with open(os.path.join(cwd, name + ".ext"), "w") as f:
        f.write(ext)
    openssl("x509", "-req", "-in", name + ".csr", "-CA", ca + ".pem", "-CAkey", ca + "-key.pem", "-CAcreateserial",
            "-days", "2", "-extfile", name + ".ext", "-out", name + ".pem", cwd=cwd)


def expired(cwd, name, cn):
    """A client certificate the CA signed, valid only in 2020 (openssl ca sets the dates)."""
    ec_key(cwd, name + "-key.pem")
    openssl("req", "-new", "-key", name + "-key.pem", "-subj", "/CN=%s" % cn, "-out", name + ".csr", cwd=cwd)
    os.makedirs(os.path.join(cwd, "ca-db"), exist_ok=True)
    open(os.path.join(cwd, "ca-db", "index.txt"), "w").close()
    with open(os.path.join(cwd, "ca-db", "serial"), "w") as f:
        f.write("1000\n")
    with open(os.path.join(cwd, "ca.cnf"), "w") as f:
        f.write("[ca]\ndefault_ca=d\n[d]\ndir=ca-db\ndatabase=$dir/index.txt\nserial=$dir/serial\n"
                "new_certs_dir=$dir\ndefault_md=sha256\npolicy=p\nunique_subject=no\n"
                "x509_extensions=x\n[p]\ncommonName=supplied\n[x]\nextendedKeyUsage=clientAuth\n")
    openssl("ca", "-batch", "-config", "ca.cnf", "-cert", "ca.pem", "-keyfile", "ca-key.pem", "-in", name + ".csr",
            "-startdate", "20200101000000Z", "-enddate", "20200201000000Z", "-notext", "-out", name + ".pem", cwd=cwd)


@pytest.fixture(scope="module")
def pki():
    d = tempfile.mkdtemp(prefix="berth-tls-")
    ec_key(d, "ca-key.pem")
    openssl("req", "-x509", "-new", "-key", "ca-key.pem", "-subj", "/CN=berth test CA", "-days", "2", "-out", "ca.pem",
            cwd=d)
    sign(d, "server", "localhost", "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n")
    sign(d, "client", "alice", "extendedKeyUsage=clientAuth\n")
    # someone else's: a self-signed client certificate with the same name
    ec_key(d, "mallory-key.pem")
    openssl("req", "-x509", "-new", "-key", "mallory-key.pem", "-subj", "/CN=alice/O=berth-tests", "-days", "2",
            "-addext", "extendedKeyUsage=clientAuth", "-out", "mallory.pem", cwd=d)
    expired(d, "old", "alice")
    # what the docker CLI reads from DOCKER_CERT_PATH
    cli = os.path.join(d, "cli")
    os.mkdir(cli)
    for src, dst in (("ca.pem", "ca.pem"), ("client.pem", "cert.pem"), ("client-key.pem", "key.pem")):
        shutil.copy(os.path.join(d, src), os.path.join(cli, dst))
    yield d
    shutil.rmtree(d, ignore_errors=True)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def tls_args(pki, *mode):
    return [*mode, "--tlscacert", os.path.join(pki, "ca.pem"), "--tlscert", os.path.join(pki, "server.pem"),
            "--tlskey", os.path.join(pki, "server-key.pem")]


@pytest.fixture(scope="module")
def mtls(pki, tmp_path_factory):
    """A daemon serving mutual TLS on 127.0.0.1 (and its unix socket)."""
    from conftest import Berthd
    port = free_port()
    d = Berthd(["-H", "tcp://127.0.0.1:%d" % port, "--log-level", "debug", *tls_args(pki, "--tlsverify")]).start()
    d.port = port
    yield d
    d.cleanup()


class TLSCLI(DockerCLI):
    """The docker CLI with --tlsverify's environment: DOCKER_TLS_VERIFY and DOCKER_CERT_PATH."""

    def __init__(self, host, cert_path):
        super().__init__(host)
        self.cert_path = cert_path

    def run(self, *args, input=None, timeout=60, check=True):
        env = docker_env(self.host, self.config_dir)
        env["DOCKER_TLS_VERIFY"] = "1"
        env["DOCKER_CERT_PATH"] = self.cert_path
        p = subprocess.run(["docker", *args], input=input, capture_output=True, text=True,
                           stdin=subprocess.DEVNULL if input is None else None, env=env, timeout=timeout)
        if check and p.returncode != 0:
            raise AssertionError("docker %s failed (%d):\nstdout: %s\nstderr: %s"
                                 % (" ".join(args), p.returncode, p.stdout, p.stderr))
        return p


@pytest.fixture(scope="module")
def tcli(mtls, pki):
    cli = TLSCLI("tcp://127.0.0.1:%d" % mtls.port, os.path.join(pki, "cli"))
    cli.run("load", "-i", os.path.join(TESTDATA, "fixtures", "busybox-docker-archive.tar"))
    yield cli
    cli.cleanup()


def handshake_then_ping(port, cert=None, key=None, ca=None):
    """Connect with TLS (client certificate @cert/@key, if any), GET /_ping; return what the
    server answered, or the exception that ended the exchange."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(ca)
    if cert:
        ctx.load_cert_chain(cert, key)
    raw = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        s = ctx.wrap_socket(raw, server_hostname="localhost")
        s.sendall(b"GET /_ping HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n")
        out = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return out
            out += chunk
    except (ssl.SSLError, ConnectionError, OSError) as e:
        return e
    finally:
        raw.close()


def test_cli_tlsverify_with_docker_cert_path(tcli):
    v = json.loads(tcli.run("version", "--format", "{{json .Server}}").stdout)
    assert v["ApiVersion"] == "1.45"
    out = tcli.run("run", "--rm", "busybox", "echo", "hello over tls").stdout
    assert out == "hello over tls\n"
    # --tlsverify on the command line, without the environment, works the same
    env = docker_env(tcli.host, tcli.config_dir)
    p = subprocess.run(["docker", "--tlsverify", "--tlscacert", os.path.join(tcli.cert_path, "ca.pem"),
                        "--tlscert", os.path.join(tcli.cert_path, "cert.pem"),
                        "--tlskey", os.path.join(tcli.cert_path, "key.pem"), "info", "--format", "{{json .}}"],
                       capture_output=True, text=True, env=env, timeout=30)
    assert p.returncode == 0, p.stderr
    info = json.loads(p.stdout)
    # mutual TLS: no warning about the TCP listener
    assert not any("API is accessible" in w for w in info["Warnings"] or []), info["Warnings"]


def test_requests_carry_the_verified_client_subject(tcli, mtls):
    """api_request_peer_subject(): what authorization plugins get; the debug log shows it."""
    tcli.run("version")
    assert "GET /version -> 200 (client certificate O=berth-tests,CN=alice)" in mtls.read_log()
    cli = DockerCLI(mtls.host)  # the unix socket: no certificate, no subject
    try:
        cli.run("info", "--format", "{{.ID}}")
    finally:
        cli.cleanup()
    assert "GET /info -> 200\n" in mtls.read_log().replace('"', "\n")


def test_attach_exec_and_stdin_over_tls(tcli):
    # attach (hijacked): stdin in, output out, the client's half-close ends cat
    p = tcli.run("run", "-i", "--rm", "busybox", "sh", "-c", "tr a-z A-Z; echo done", input="over tls\n")
    assert p.stdout == "OVER TLS\ndone\n"
    big = "y" * 200000 + "\n"
    p = tcli.run("run", "-i", "--rm", "busybox", "wc", "-c", input=big)
    assert p.stdout.strip() == str(len(big))
    # a large output through the pump, both ways at once
    p = tcli.run("run", "-i", "--rm", "busybox", "sh", "-c", "head -c 3000000 /dev/zero; wc -c", input=big)
    assert len(p.stdout) == 3000000 + len(str(len(big))) + 1 and p.stdout.endswith(str(len(big)) + "\n")
    cid = tcli.run("run", "-d", "busybox", "sleep", "300").stdout.strip()
    try:
        p = tcli.run("exec", cid, "sh", "-c", "echo out; echo err >&2; exit 3", check=False)
        assert (p.returncode, p.stdout, p.stderr) == (3, "out\n", "err\n")
        p = tcli.run("exec", "-i", cid, "cat", input="piped\n")
        assert p.stdout == "piped\n"
        # attach to a running container, then detach by ending it
        att = subprocess.Popen(["docker", "attach", cid], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               stdin=subprocess.DEVNULL, env={**docker_env(tcli.host, tcli.config_dir),
                                                              "DOCKER_TLS_VERIFY": "1",
                                                              "DOCKER_CERT_PATH": tcli.cert_path})
        time.sleep(0.5)
        tcli.run("kill", cid)
        att.wait(timeout=20)
    finally:
        tcli.run("rm", "-f", cid, check=False)


def test_stdin_to_a_slow_starting_consumer_over_tls(tcli):
    """Megabytes of stdin while the container does not read yet, then megabytes of output
    before it reads them and echoes them back: the TLS pump must keep relaying output while
    the handler is not taking stdin, else both sides block and the shim's send timeout cuts
    the stream."""
    import hashlib
    data = os.urandom(5 * 1024 * 1024)
    env = {**docker_env(tcli.host, tcli.config_dir), "DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": tcli.cert_path}
    p = subprocess.run(["docker", "run", "-i", "--rm", "busybox", "sh", "-c", "sleep 2; head -c 3000000 /dev/zero; cat"],
                       input=data, capture_output=True, env=env, timeout=90)
    assert p.returncode == 0, p.stderr
    assert len(p.stdout) == 3000000 + len(data)
    assert p.stdout[:3000000] == bytes(3000000)
    assert hashlib.sha256(p.stdout[3000000:]).hexdigest() == hashlib.sha256(data).hexdigest()


def test_interactive_tty_over_tls(tcli):
    """docker run -it: a terminal through the hijacked TLS connection, with its size."""
    env = {**docker_env(tcli.host, tcli.config_dir), "DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": tcli.cert_path}
    code, out = pty_run(env, ["docker", "run", "-it", "--rm", "busybox", "sh"], script=[
        (b"# ", b"stty size; echo \"tls-$((40+2))\"; exit 5\r")])
    text = out.decode(errors="replace")
    assert code == 5, text
    assert "33 101" in text and "tls-42" in text


def test_events_stream_over_tls(tcli):
    env = {**docker_env(tcli.host, tcli.config_dir), "DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": tcli.cert_path}
    since = str(int(time.time()) - 1)  # the start is replayed if the stream begins after it
    ev = subprocess.Popen(["docker", "events", "--since", since, "--filter", "type=container", "--filter",
                           "event=start", "--filter", "container=tls-events", "--format", "{{.Actor.Attributes.name}}"],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        tcli.run("run", "--rm", "--name", "tls-events", "busybox", "true")
        line = []
        t = threading.Thread(target=lambda: line.append(ev.stdout.readline()))
        t.start()
        t.join(20)
        assert line and line[0].strip() == "tls-events"
    finally:
        ev.terminate()
        ev.wait(10)


@pytest.fixture
def no_ca_bundle_env(monkeypatch):
    """requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override the CA docker-py's
    TLSConfig gives its session: keep a test machine's setting out of the way."""
    for k in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(k, raising=False)


def test_docker_py_tls_config(mtls, pki, no_ca_bundle_env):
    import docker as dockerpy
    tls = dockerpy.tls.TLSConfig(client_cert=(os.path.join(pki, "client.pem"), os.path.join(pki, "client-key.pem")),
                                 ca_cert=os.path.join(pki, "ca.pem"), verify=True)
    c = dockerpy.DockerClient(base_url="https://127.0.0.1:%d" % mtls.port, tls=tls, version="auto", timeout=30)
    try:
        assert c.ping()
        assert c.version()["ApiVersion"] == "1.45"
        out = c.containers.run("busybox", ["echo", "from docker-py"], remove=True)
        assert out == b"from docker-py\n"
        ctr = c.containers.run("busybox", ["sleep", "300"], detach=True)
        try:
            r = ctr.exec_run(["sh", "-c", "echo $((6*7))"])
            assert (r.exit_code, r.output) == (0, b"42\n")
            # a hijacked exec with stdin, through docker-py's socket
            eid = c.api.exec_create(ctr.id, ["cat"], stdin=True)["Id"]
            sock = c.api.exec_start(eid, socket=True)
            raw = getattr(sock, "_sock", sock)  # over TLS docker-py hands out the SSLSocket itself
            assert isinstance(raw, ssl.SSLSocket)
            raw.sendall(b"echo me\n")
            got = b""
            deadline = time.time() + 10
            raw.settimeout(10)
            while b"echo me" not in got and time.time() < deadline:
                chunk = raw.recv(4096)
                if not chunk:
                    break
                got += chunk
            assert b"echo me\n" in got
            sock.close()
        finally:
            ctr.remove(force=True)
    finally:
        c.close()


@pytest.mark.parametrize("who", ["no certificate", "self-signed", "expired", "a server's"])
def test_mtls_refuses_clients_without_a_valid_certificate(mtls, pki, who):
    ca = os.path.join(pki, "ca.pem")
    # the control: the CA's client gets its answer
    ok = handshake_then_ping(mtls.port, os.path.join(pki, "client.pem"), os.path.join(pki, "client-key.pem"), ca)
    assert isinstance(ok, bytes) and ok.startswith(b"HTTP/1.1 200") and ok.endswith(b"OK"), ok
    # a server's: signed by the CA, but for servers only (extendedKeyUsage serverAuth)
    cert = {"no certificate": None, "self-signed": "mallory", "expired": "old", "a server's": "server"}[who]
    got = handshake_then_ping(mtls.port, cert and os.path.join(pki, cert + ".pem"),
                              cert and os.path.join(pki, cert + "-key.pem"), ca)
    # refused in the handshake: the connection ends (an alert or EOF) and no request is served
    assert isinstance(got, Exception) or got == b"", got


def test_plain_http_to_the_tls_port_gets_no_answer(mtls):
    s = socket.create_connection(("127.0.0.1", mtls.port), timeout=5)
    try:
        s.sendall(b"GET /_ping HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n")
        out = b""
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                out += chunk
        except (ConnectionError, socket.timeout):
            pass
    finally:
        s.close()
    # no request is served; the client is told what it did, as Go's server tells it
    assert out == b"HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n", out
    cli = DockerCLI("tcp://127.0.0.1:%d" % mtls.port)
    try:
        p = cli.run("version", check=False, timeout=20)
        assert p.returncode != 0 and "Client sent an HTTP request to an HTTPS server." in p.stderr, p.stderr
    finally:
        cli.cleanup()


def test_the_unix_socket_stays_plain(mtls):
    cli = DockerCLI(mtls.host)
    try:
        assert cli.run("version", "--format", "{{.Server.APIVersion}}").stdout.strip() == "1.45"
    finally:
        cli.cleanup()


def test_tls_without_verify_serves_any_client(pki, fresh_daemon, no_ca_bundle_env):
    port = free_port()
    d = fresh_daemon("-H", "tcp://127.0.0.1:%d" % port, *tls_args(pki, "--tls"))
    got = handshake_then_ping(port, None, None, os.path.join(pki, "ca.pem"))
    assert isinstance(got, bytes) and got.startswith(b"HTTP/1.1 200"), got
    # docker-py with TLS and no client certificate
    import docker as dockerpy
    c = dockerpy.DockerClient(base_url="https://127.0.0.1:%d" % port,
                              tls=dockerpy.tls.TLSConfig(ca_cert=os.path.join(pki, "ca.pem"), verify=True),
                              version="auto", timeout=30)
    try:
        info = c.info()
        assert any(w.startswith("WARNING: API is accessible on https://127.0.0.1:%d without TLS client verification."
                                % port) for w in info["Warnings"]), info["Warnings"]
    finally:
        c.close()
    assert "Binding to IP address without --tlsverify is insecure" in d.read_log()


def test_tlsverify_default_cert_paths(pki, fresh_daemon, tmp_path):
    """--tlsverify without paths: dockerd's ca.pem, cert.pem and key.pem under DOCKER_CERT_PATH."""
    from conftest import daemon_env
    certs = tmp_path / "certs"
    certs.mkdir()
    for src, dst in (("ca.pem", "ca.pem"), ("server.pem", "cert.pem"), ("server-key.pem", "key.pem")):
        shutil.copy(os.path.join(pki, src), certs / dst)
    port = free_port()
    env = daemon_env()
    env["DOCKER_CERT_PATH"] = str(certs)
    fresh_daemon("-H", "tcp://127.0.0.1:%d" % port, "--tlsverify", env=env)
    cli = TLSCLI("tcp://127.0.0.1:%d" % port, os.path.join(pki, "cli"))
    try:
        assert cli.run("version", "--format", "{{.Server.APIVersion}}").stdout.strip() == "1.45"
    finally:
        cli.cleanup()
    # no files there: a clear error at start
    d = fresh_daemon(start=False, env={**daemon_env(), "DOCKER_CERT_PATH": str(tmp_path / "none")})
    p = subprocess.run(d.args + ["--tlsverify"], capture_output=True, text=True, timeout=20, env=d.env)
    assert p.returncode != 0
    assert "invalid TLS configuration" in p.stderr and str(tmp_path / "none" / "cert.pem") in p.stderr, p.stderr


def test_bad_tls_files_are_refused_at_start(pki, fresh_daemon):
    d = fresh_daemon(start=False)
    args = tls_args(pki, "--tlsverify")
    wrong_key = [a if not a.endswith("server-key.pem") else os.path.join(pki, "client-key.pem") for a in args]
    p = subprocess.run(d.args + wrong_key, capture_output=True, text=True, timeout=20)
    assert p.returncode != 0 and "private key does not match public key" in p.stderr, p.stderr
    not_ca = [a if not a.endswith("ca.pem") else os.path.join(pki, "client-key.pem") for a in args]
    p = subprocess.run(d.args + not_ca, capture_output=True, text=True, timeout=20)
    assert p.returncode != 0 and "failed to append certificates from PEM file" in p.stderr, p.stderr
    assert not os.path.exists(d.sock)


def test_tcp_off_loopback_without_tls_is_refused(fresh_daemon):
    d = fresh_daemon(start=False)
    p = subprocess.run(d.args + ["-H", "tcp://0.0.0.0:%d" % free_port()], capture_output=True, text=True, timeout=20)
    assert p.returncode != 0
    assert "without TLS" in p.stderr and "'--tls=false'" in p.stderr, p.stderr
    assert not os.path.exists(d.sock)


@pytest.fixture
def dummy_addr():
    """An address (off loopback, on this host only) of a veth pair the test owns (this
    kernel may have no dummy links)."""
    name = "btls%d" % (os.getpid() % 100000)
    addr = "198.51.100.%d" % (os.getpid() % 200 + 20)
    subprocess.run(["ip", "link", "add", name, "type", "veth", "peer", "name", name + "p"], check=True)
    try:
        subprocess.run(["ip", "addr", "add", addr + "/32", "dev", name], check=True)
        subprocess.run(["ip", "link", "set", name, "up"], check=True)
        yield addr
    finally:
        subprocess.run(["ip", "link", "del", name], check=False)


def test_explicit_tls_false_opts_out_with_warnings(fresh_daemon, dummy_addr):
    port = free_port()
    d = fresh_daemon("-H", "tcp://%s:%d" % (dummy_addr, port), "--tls=false")
    cli = DockerCLI(d.host)
    try:
        info = json.loads(cli.run("info", "--format", "{{json .}}").stdout)
        assert any(w.startswith("WARNING: API is accessible on http://%s:%d without encryption." % (dummy_addr, port))
                   for w in info["Warnings"]), info["Warnings"]
    finally:
        cli.cleanup()
    log = d.read_log()
    assert "Binding to IP address without --tlsverify is insecure" in log
    assert "--tls=false was given explicitly" in log


def long_cn_cert(pki, name, cn):
    """A client certificate the test CA signs with a CN longer than X.509's 64 characters
    (openssl refuses to make one; Go reads it all the same)."""
    import datetime
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
    with open(os.path.join(pki, "ca-key.pem"), "rb") as f:
        ca_key = serialization.load_pem_private_key(f.read(), None)
    with open(os.path.join(pki, "ca.pem"), "rb") as f:
        ca = x509.load_pem_x509_certificate(f.read())
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "berth-tests"),
                         x509.NameAttribute(NameOID.COMMON_NAME, cn, _validate=False)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(ca.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    with open(os.path.join(pki, name + ".pem"), "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(os.path.join(pki, name + "-key.pem"), "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))


def test_authz_user_is_the_last_common_name(pki, fresh_daemon):
    """Authorization plugins get the client certificate's CommonName as User, the last CN
    of the subject as Go's Subject.CommonName (what dockerd passes) reads it, however long."""
    from test_plugins import AUTHZ, Plugin
    sign(pki, "twocn", "first/O=berth-tests/CN=last", "extendedKeyUsage=clientAuth\n")
    long_cn = "b" * 300
    long_cn_cert(pki, "longcn", long_cn)
    port = free_port()
    d = fresh_daemon("-H", "tcp://127.0.0.1:%d" % port, "--authorization-plugin", AUTHZ,
                     *tls_args(pki, "--tlsverify"), start=False)
    p = Plugin(os.path.join(d.exec_root, "plugins"), AUTHZ, "--implements", "authz")
    try:
        d.start()
        for name, user, uri in (("twocn", "last", "/version"), ("longcn", long_cn, "/info")):
            certs = tempfile.mkdtemp(prefix="berth-cn-")
            for src, dst in (("ca.pem", "ca.pem"), (name + ".pem", "cert.pem"), (name + "-key.pem", "key.pem")):
                shutil.copy(os.path.join(pki, src), os.path.join(certs, dst))
            cli = TLSCLI("tcp://127.0.0.1:%d" % port, certs)
            try:
                cli.run(uri[1:], "--format", "{{json .}}")
            finally:
                cli.cleanup()
                shutil.rmtree(certs, ignore_errors=True)
            reqs = [c["body"] for c in p.calls("AuthZPlugin.AuthZReq") if c["body"]["RequestUri"].endswith(uri)]
            assert reqs and all(r.get("User") == user and r.get("UserAuthNMethod") == "TLS" for r in reqs), reqs
    finally:
        p.cleanup()
