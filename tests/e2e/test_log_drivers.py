"""Log drivers (issue 14): syslog, gelf, fluentd and journald written by the shim to
receivers this test runs on 127.0.0.1 or on unix sockets it binds; shared options
(tag templates, labels, env, mode); dual logging (`docker logs` through the local cache);
dockerd's errors at create."""
import gzip
import json
import os
import socket
import struct
import tempfile
import threading
import time
import zlib

import pytest

from conftest import TESTDATA, Berthd, DockerCLI, daemon_env


@pytest.fixture(scope="module")
def jdir():
    d = tempfile.mkdtemp(prefix="berth-journal-")
    yield d
    for f in os.listdir(d):
        os.unlink(os.path.join(d, f))
    os.rmdir(d)


@pytest.fixture(scope="module")
def dk(jdir):
    env = daemon_env()
    env["BERTH_TEST_JOURNAL_SOCKET"] = os.path.join(jdir, "journal.sock")
    d = Berthd(env=env).start()
    cli = DockerCLI(d.host)
    cli.run("load", "-i", os.path.join(TESTDATA, "fixtures", "busybox-docker-archive.tar"))
    yield cli
    for c in cli.run("ps", "-aq").stdout.split():
        cli.run("rm", "-f", c, check=False)
    cli.cleanup()
    d.cleanup()


def run_wait(dk, *args):
    cid = dk.run("run", "-d", *args).stdout.strip()
    dk.run("wait", cid)
    return cid


class Receiver:
    """A socket the test owns; collects what arrives (datagrams, or the bytes of each
    stream connection) in a thread."""

    def __init__(self, family, kind, addr):
        self.sock = socket.socket(family, kind)
        self.sock.bind(addr)
        self.kind = kind
        self.data = []
        self.streams = []
        self.lock = threading.RLock()
        if kind == socket.SOCK_STREAM:
            self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.stop = False
        self.t = threading.Thread(target=self.loop, daemon=True)
        self.t.start()

    def loop(self):
        conns = []
        while not self.stop:
            if self.kind == socket.SOCK_DGRAM:
                try:
                    d = self.sock.recv(70000)
                    with self.lock:
                        self.data.append(d)
                except socket.timeout:
                    pass
                continue
            try:
                c, _ = self.sock.accept()
                c.settimeout(0.05)
                conns.append([c, bytearray()])
                with self.lock:
                    self.streams.append(conns[-1][1])
            except socket.timeout:
                pass
            for c in conns:
                try:
                    b = c[0].recv(65536)
                    if b:
                        with self.lock:
                            c[1].extend(b)
                except (socket.timeout, BlockingIOError):
                    pass
                except OSError:
                    pass
        for c in conns:
            c[0].close()

    def stream_bytes(self):
        with self.lock:
            return b"".join(bytes(s) for s in self.streams)

    def wait(self, pred, timeout=10):
        deadline = time.time() + timeout
        while time.time() < deadline:
            with self.lock:
                if pred(self):
                    return True
            time.sleep(0.05)
        return False

    def close(self):
        self.stop = True
        self.t.join()
        self.sock.close()


@pytest.fixture
def receivers():
    made = []

    def make(family, kind, addr=("127.0.0.1", 0)):
        r = Receiver(family, kind, addr)
        made.append(r)
        return r
    yield make
    for r in made:
        r.close()


def port(r):
    return r.sock.getsockname()[1]


# ---- create-time validation, as dockerd ----

def test_unknown_driver_and_options_refused_at_create(dk):
    p = dk.run("create", "--log-driver", "bogus", "busybox", "true", check=False)
    assert p.returncode != 0 and "logger: no log driver named 'bogus' is registered" in p.stderr
    p = dk.run("create", "--log-driver", "syslog", "--log-opt", "max-size=1m", "busybox", "true", check=False)
    assert p.returncode != 0 and "unknown log opt 'max-size' for syslog log driver" in p.stderr
    p = dk.run("create", "--log-opt", "mode=sometimes", "busybox", "true", check=False)
    assert p.returncode != 0 and "logger: logging mode not supported: sometimes" in p.stderr
    p = dk.run("create", "--log-opt", "max-buffer-size=1m", "busybox", "true", check=False)
    assert p.returncode != 0 and "max-buffer-size option is only supported with 'mode=non-blocking'" in p.stderr
    p = dk.run("create", "--log-driver", "gelf", "busybox", "true", check=False)
    assert p.returncode != 0 and "gelf-address is a required parameter" in p.stderr
    p = dk.run("create", "--log-driver", "syslog", "--log-opt", "syslog-format=rfc1", "busybox", "true", check=False)
    assert p.returncode != 0 and "Invalid syslog format: rfc1" in p.stderr
    p = dk.run("create", "--log-driver", "syslog", "--log-opt", "syslog-address=ftp://x", "busybox", "true",
               check=False)
    assert p.returncode != 0 and "unsupported scheme: 'ftp'" in p.stderr
    p = dk.run("create", "--log-driver", "splunk", "busybox", "true", check=False)
    assert p.returncode != 0 and 'logging driver "splunk" is not supported by berth' in p.stderr
    p = dk.run("create", "--log-opt", "tag={{.Nope}}", "busybox", "true", check=False)
    assert p.returncode == 0  # dockerd parses the tag when the logger starts
    cid = p.stdout.strip()
    p = dk.run("start", cid, check=False)
    assert p.returncode != 0 and "can't evaluate field Nope" in p.stderr
    dk.run("rm", cid)


def test_json_file_attrs_from_labels_env_and_tag(dk):
    cid = run_wait(dk, "--name", "jattrs", "--label", "team=blue", "--label", "other=x", "-e", "STAGE=prod",
                   "--log-opt", "labels=team", "--log-opt", "env=STAGE", "--log-opt", "tag={{.Name}}/{{.ImageName}}",
                   "busybox", "echo", "hi")
    path = json.loads(dk.run("inspect", cid).stdout)[0]["LogPath"]
    line = json.loads(open(path).read().splitlines()[0])
    assert line["log"] == "hi\n" and line["stream"] == "stdout"
    assert line["attrs"] == {"team": "blue", "STAGE": "prod", "tag": "jattrs/busybox"}
    assert dk.run("logs", cid).stdout == "hi\n"
    dk.run("rm", cid)


# ---- syslog ----

def syslog_run(dk, address, *opts):
    return run_wait(dk, "--log-driver", "syslog", "--log-opt", "syslog-address=" + address, *opts, "busybox", "sh",
                    "-c", "echo out-line; echo err-line >&2")


def test_syslog_udp_default_format_and_docker_logs_through_cache(dk, receivers):
    r = receivers(socket.AF_INET, socket.SOCK_DGRAM)
    cid = syslog_run(dk, "udp://127.0.0.1:%d" % port(r), "--log-opt", "syslog-facility=local3")
    assert r.wait(lambda r: len(r.data) >= 2)
    msgs = sorted(d.decode() for d in r.data)
    # UnixFormatter: <PRI>Mmm dd hh:mm:ss TAG[PID]: MSG\n, tag {{.ID}}; local3 = 19
    err = [m for m in msgs if "err-line" in m][0]
    out = [m for m in msgs if "out-line" in m][0]
    assert out.startswith("<%d>" % (19 * 8 + 6)) and err.startswith("<%d>" % (19 * 8 + 3))
    assert (" %s[" % cid[:12]) in out and out.endswith("]: out-line\n")
    # dual logging: docker logs reads the cache
    p = dk.run("logs", cid)
    assert p.stdout == "out-line\n" and p.stderr == "err-line\n"
    dk.run("rm", cid)


def test_syslog_tcp_rfc5424_with_tag_template(dk, receivers):
    r = receivers(socket.AF_INET, socket.SOCK_STREAM)
    cid = syslog_run(dk, "tcp://127.0.0.1:%d" % port(r), "--name", "sl5424", "--log-opt", "syslog-format=rfc5424micro",
                     "--log-opt", "tag={{.Name}}-{{.DaemonName}}")
    assert r.wait(lambda r: r.stream_bytes().count(b"\n") >= 2)
    lines = r.stream_bytes().decode().splitlines()
    out = [m for m in lines if m.endswith("out-line")][0]
    # <30>1 TIMESTAMP HOST APP PID MSGID - MSG (dockerd: octet counting only over TLS)
    f = out.split(" ")
    assert f[0] == "<30>1" and "T" in f[1] and f[1].endswith("Z") and f[3] == "sl5424-docker"
    assert f[5] == "sl5424-docker" and f[6] == "-" and f[7] == "out-line"
    dk.run("rm", cid)


@pytest.mark.parametrize("scheme,kind", [("unix", socket.SOCK_STREAM), ("unixgram", socket.SOCK_DGRAM)])
def test_syslog_unix_sockets(dk, receivers, jdir, scheme, kind):
    path = os.path.join(jdir, "syslog-%s.sock" % scheme)
    r = receivers(socket.AF_UNIX, kind, path)
    try:
        cid = syslog_run(dk, "%s://%s" % (scheme, path), "--log-opt", "syslog-format=rfc3164", "--log-opt", "tag=t1")
        got = (lambda r: b"".join(r.data) + r.stream_bytes())
        assert r.wait(lambda r: got(r).count(b"\n") >= 2)
        text = got(r).decode()
        host = socket.gethostname()
        assert (" %s t1[" % host) in text and "]: out-line\n" in text and text.startswith("<")
        dk.run("rm", cid)
    finally:
        os.unlink(path)


def test_syslog_unreachable_fails_the_start(dk, receivers):
    r = receivers(socket.AF_INET, socket.SOCK_STREAM)
    p_ = port(r)
    r.close()
    p = dk.run("run", "-d", "--log-driver", "syslog", "--log-opt", "syslog-address=tcp://127.0.0.1:%d" % p_,
               "busybox", "true", check=False)
    assert p.returncode != 0 and "failed to initialize logging driver" in p.stderr


# ---- gelf ----

def gelf_decode(d):
    if d[:2] == b"\x1f\x8b":
        return json.loads(gzip.decompress(d))
    if d[:1] == b"\x78":
        return json.loads(zlib.decompress(d))
    return json.loads(d)


@pytest.mark.parametrize("ctype", ["gzip", "zlib", "none"])
def test_gelf_udp_compression_and_fields(dk, receivers, ctype):
    r = receivers(socket.AF_INET, socket.SOCK_DGRAM)
    cid = run_wait(dk, "--log-driver", "gelf", "--log-opt", "gelf-address=udp://127.0.0.1:%d" % port(r),
                   "--log-opt", "gelf-compression-type=" + ctype, "--label", "app=web", "--log-opt", "labels=app",
                   "--name", "gelf-" + ctype, "busybox", "sh", "-c", "echo hello; echo bad >&2")
    assert r.wait(lambda r: len(r.data) >= 2)
    if ctype == "gzip":
        assert r.data[0][:2] == b"\x1f\x8b"
    elif ctype == "zlib":
        assert r.data[0][:1] == b"\x78"
    else:
        assert r.data[0][:1] == b"{"
    msgs = {m["short_message"]: m for m in map(gelf_decode, r.data)}
    m = msgs["hello"]
    assert m["version"] == "1.1" and m["level"] == 6 and msgs["bad"]["level"] == 3
    assert m["_container_id"] == cid and m["_container_name"] == "gelf-" + ctype and m["_app"] == "web"
    assert m["_image_name"] == "busybox" and m["_tag"] == cid[:12] and m["_command"].startswith("sh -c")
    assert m["host"] == socket.gethostname() and abs(m["timestamp"] - time.time()) < 60
    dk.run("rm", cid)


def test_gelf_udp_chunking(dk, receivers):
    r = receivers(socket.AF_INET, socket.SOCK_DGRAM)
    cid = run_wait(dk, "--log-driver", "gelf", "--log-opt", "gelf-address=udp://127.0.0.1:%d" % port(r),
                   "--log-opt", "gelf-compression-type=none", "busybox", "sh", "-c",
                   "i=0; while [ $i -lt 500 ]; do printf 0123456789; i=$((i+1)); done; echo")
    assert r.wait(lambda r: len(r.data) >= 4)
    chunks = [d for d in r.data if d[:2] == b"\x1e\x0f"]
    assert chunks and all(len(c) <= 1420 + 12 for c in chunks)
    count = chunks[0][11]
    assert len(chunks) == count and sorted(c[10] for c in chunks) == list(range(count))
    assert len({c[2:10] for c in chunks}) == 1
    m = json.loads(b"".join(c[12:] for c in sorted(chunks, key=lambda c: c[10])))
    assert m["short_message"] == "0123456789" * 500
    dk.run("rm", cid)


def test_gelf_tcp_nul_frames(dk, receivers):
    r = receivers(socket.AF_INET, socket.SOCK_STREAM)
    cid = run_wait(dk, "--log-driver", "gelf", "--log-opt", "gelf-address=tcp://127.0.0.1:%d" % port(r),
                   "-e", "ZONE=eu", "--log-opt", "env=ZONE", "busybox", "sh", "-c",
                   "echo one; echo two; printf 'x\\377y\\n'")
    assert r.wait(lambda r: r.stream_bytes().count(b"\0") >= 3)
    frames = r.stream_bytes().split(b"\0")
    assert frames[-1] == b""
    msgs = [json.loads(f) for f in frames[:-1]]
    # invalid UTF-8 becomes U+FFFD, as Go's encoding/json writes it
    assert [m["short_message"] for m in msgs] == ["one", "two", "x\ufffdy"] and msgs[0]["_ZONE"] == "eu"
    assert dk.run("logs", cid).stdout == "one\ntwo\nx\ufffdy\n"
    dk.run("rm", cid)


# ---- fluentd ----

def mp_decode(b, i=0):
    """A small MessagePack reader: what the forward protocol carries."""
    t = b[i]
    if t <= 0x7f:
        return t, i + 1
    if 0x80 <= t <= 0x8f or t in (0xde, 0xdf):
        n, i = (t & 0x0f, i + 1) if t <= 0x8f else ((struct.unpack(">H", b[i + 1:i + 3])[0], i + 3) if t == 0xde
                                                      else (struct.unpack(">I", b[i + 1:i + 5])[0], i + 5))
        d = {}
        for _ in range(n):
            k, i = mp_decode(b, i)
            v, i = mp_decode(b, i)
            d[k] = v
        return d, i
    if 0x90 <= t <= 0x9f:
        a = []
        i += 1
        for _ in range(t & 0x0f):
            v, i = mp_decode(b, i)
            a.append(v)
        return a, i
    if 0xa0 <= t <= 0xbf:
        n = t & 0x1f
        return b[i + 1:i + 1 + n].decode(), i + 1 + n
    if t in (0xd9, 0xda, 0xdb):
        w = {0xd9: 1, 0xda: 2, 0xdb: 4}[t]
        n = int.from_bytes(b[i + 1:i + 1 + w], "big")
        return b[i + 1 + w:i + 1 + w + n].decode(), i + 1 + w + n
    if t == 0xce:
        return struct.unpack(">I", b[i + 1:i + 5])[0], i + 5
    if t == 0xd7:
        return ("ext", b[i + 1], struct.unpack(">II", b[i + 2:i + 10])), i + 10
    raise ValueError("msgpack type 0x%x" % t)


def fluent_events(data):
    out, i = [], 0
    while i < len(data):
        try:
            v, i = mp_decode(data, i)
        except (IndexError, struct.error):
            break
        out.append(v)
    return out


def test_fluentd_tcp_forward_protocol(dk, receivers):
    r = receivers(socket.AF_INET, socket.SOCK_STREAM)
    cid = run_wait(dk, "--log-driver", "fluentd", "--log-opt", "fluentd-address=tcp://127.0.0.1:%d" % port(r),
                   "--log-opt", "tag=app.{{.Name}}", "--name", "fl1", "--label", "l1=v1", "--log-opt", "labels=l1",
                   "busybox", "sh", "-c", "echo alpha; echo beta >&2")
    assert r.wait(lambda r: len(fluent_events(r.stream_bytes())) >= 2)
    ev = fluent_events(r.stream_bytes())
    tag, t, rec = ev[0]
    assert tag == "app.fl1" and isinstance(t, int) and abs(t - time.time()) < 60
    assert rec == {"container_id": cid, "container_name": "/fl1", "source": "stdout", "log": "alpha", "l1": "v1"}
    assert ev[1][2]["source"] == "stderr" and ev[1][2]["log"] == "beta"
    p = dk.run("logs", cid)
    assert p.stdout == "alpha\n" and p.stderr == "beta\n"
    dk.run("rm", cid)


def test_fluentd_unix_subsecond_and_async(dk, receivers, jdir):
    path = os.path.join(jdir, "fluent.sock")
    r = receivers(socket.AF_UNIX, socket.SOCK_STREAM, path)
    try:
        cid = run_wait(dk, "--log-driver", "fluentd", "--log-opt", "fluentd-address=unix://" + path,
                       "--log-opt", "fluentd-sub-second-precision=true", "busybox", "echo", "sub")
        assert r.wait(lambda r: len(fluent_events(r.stream_bytes())) >= 1)
        tag, t, rec = fluent_events(r.stream_bytes())[0]
        assert tag == cid[:12] and t[0] == "ext" and t[1] == 0 and abs(t[2][0] - time.time()) < 60
        assert t[2][1] < 10**9 and rec["log"] == "sub"
        dk.run("rm", cid)
    finally:
        os.unlink(path)
    # nobody listening: a failed start, unless fluentd-async
    p = dk.run("run", "-d", "--log-driver", "fluentd", "--log-opt", "fluentd-address=unix://" + path,
               "--log-opt", "fluentd-max-retries=0", "busybox", "true", check=False)
    assert p.returncode != 0 and "failed to initialize logging driver" in p.stderr
    dk.run("rm", "-f", p.stdout.strip() or "none", check=False)
    cid = run_wait(dk, "--log-driver", "fluentd", "--log-opt", "fluentd-address=unix://" + path,
                   "--log-opt", "fluentd-async=true", "busybox", "echo", "lost")
    assert dk.run("logs", cid).stdout == "lost\n"
    dk.run("rm", cid)


# ---- journald ----

def parse_journal(d):
    fields, i = {}, 0
    while i < len(d):
        nl = d.index(b"\n", i)
        line = d[i:nl]
        if b"=" in line:
            k, v = line.split(b"=", 1)
            i = nl + 1
        else:
            k = line
            n = struct.unpack("<Q", d[nl + 1:nl + 9])[0]
            v = d[nl + 9:nl + 9 + n]
            i = nl + 9 + n + 1
        fields[k.decode()] = v.decode()
    return fields


def test_journald_native_protocol(dk, receivers, jdir):
    path = os.path.join(jdir, "journal.sock")
    # no journal: dockerd's refusal
    p = dk.run("run", "-d", "--log-driver", "journald", "busybox", "true", check=False)
    assert p.returncode != 0 and "journald is not enabled on this host" in p.stderr
    r = receivers(socket.AF_UNIX, socket.SOCK_DGRAM, path)
    try:
        cid = run_wait(dk, "--log-driver", "journald", "--name", "jd1", "--label", "com.example.k=v",
                       "--log-opt", "labels=com.example.k", "busybox", "sh", "-c", "echo jout; echo jerr >&2")
        assert r.wait(lambda r: len(r.data) >= 2)
        ev = {f["MESSAGE"]: f for f in map(parse_journal, r.data)}
        f = ev["jout"]
        assert f["PRIORITY"] == "6" and ev["jerr"]["PRIORITY"] == "3"
        assert f["CONTAINER_ID"] == cid[:12] and f["CONTAINER_ID_FULL"] == cid and f["CONTAINER_NAME"] == "jd1"
        assert f["CONTAINER_TAG"] == cid[:12] and f["SYSLOG_IDENTIFIER"] == cid[:12] and f["IMAGE_NAME"] == "busybox"
        assert f["COM_EXAMPLE_K"] == "v"
        p = dk.run("logs", cid)
        assert p.stdout == "jout\n" and p.stderr == "jerr\n"
        dk.run("rm", cid)
        # cache-disabled: dockerd's answer
        cid = run_wait(dk, "--log-driver", "journald", "--log-opt", "cache-disabled=true", "busybox", "echo", "x")
        p = dk.run("logs", cid, check=False)
        assert p.returncode != 0 and "configured logging driver does not support reading" in p.stderr
        dk.run("rm", cid)
    finally:
        os.unlink(path)


# ---- mode=non-blocking ----

def test_non_blocking_mode_does_not_stall_the_container(dk, receivers):
    # a receiver that accepts and never reads: blocking mode would hold the container
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    try:
        t0 = time.time()
        cid = run_wait(dk, "--log-driver", "gelf", "--log-opt", "gelf-address=tcp://127.0.0.1:%d" % s.getsockname()[1],
                       "--log-opt", "mode=non-blocking", "--log-opt", "max-buffer-size=64k", "busybox", "sh", "-c",
                       "i=0; while [ $i -lt 20000 ]; do echo line-$i-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx;"
                       " i=$((i+1)); done")
        assert time.time() - t0 < 20
        assert dk.run("logs", "--tail", "1", cid).stdout.startswith("line-19999-")
        dk.run("rm", cid)
    finally:
        s.close()


# ---- the daemon's default driver and options ----

def test_daemon_default_log_driver_and_opts(fresh_daemon, receivers):
    import subprocess
    bad = fresh_daemon("--log-driver", "bogus", start=False)
    p = subprocess.run(bad.args, capture_output=True, text=True, timeout=20, env=daemon_env())
    assert p.returncode != 0 and "logger: no log driver named 'bogus' is registered" in p.stdout + p.stderr
    bad = fresh_daemon(start=False, config='{"log-driver": "syslog", "log-opts": {"max-size": "1m"}}')
    p = subprocess.run(bad.args, capture_output=True, text=True, timeout=20, env=daemon_env())
    assert p.returncode != 0 and "unknown log opt 'max-size' for syslog log driver" in p.stdout + p.stderr

    r = receivers(socket.AF_INET, socket.SOCK_DGRAM)
    d = fresh_daemon("--log-driver", "gelf", config='{"log-opts": {"gelf-compression-type": "none", '
                     '"gelf-address": "udp://127.0.0.1:%d"}}' % port(r))
    cli = DockerCLI(d.host)
    try:
        cli.run("load", "-i", os.path.join(TESTDATA, "fixtures", "busybox-docker-archive.tar"))
        info = json.loads(cli.run("info", "--format", "{{json .}}").stdout)
        assert info["LoggingDriver"] == "gelf" and "gelf" in info["Plugins"]["Log"]
        assert "json-file" in info["Plugins"]["Log"] and "none" not in info["Plugins"]["Log"]
        cid = run_wait(cli, "busybox", "echo", "defaulted")
        lc = json.loads(cli.run("inspect", cid).stdout)[0]["HostConfig"]["LogConfig"]
        assert lc["Type"] == "gelf" and lc["Config"]["gelf-compression-type"] == "none"
        assert r.wait(lambda r: len(r.data) >= 1)
        assert json.loads(r.data[0])["short_message"] == "defaulted"
        # another driver named: the daemon's options do not apply to it
        cid2 = run_wait(cli, "--log-driver", "json-file", "busybox", "echo", "plain")
        lc = json.loads(cli.run("inspect", cid2).stdout)[0]["HostConfig"]["LogConfig"]
        assert lc == {"Type": "json-file", "Config": {}}
        assert cli.run("logs", cid2).stdout == "plain\n" and cli.run("logs", cid).stdout == "defaulted\n"
        cli.run("rm", cid, cid2)
    finally:
        cli.cleanup()


# ---- syslog over TLS ----

def make_certs(d):
    """A CA and a server certificate for 127.0.0.1, made with the openssl CLI."""
    import subprocess

    def ossl(*a):
        subprocess.run(["openssl", *a], check=True, capture_output=True, cwd=d)
    ossl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
         "-subj", "/CN=berth test CA")
    ossl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "srv.key", "-out", "srv.csr", "-subj", "/CN=127.0.0.1")
    with open(os.path.join(d, "ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\n")
    ossl("x509", "-req", "-in", "srv.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "srv.pem",
         "-days", "2", "-extfile", "ext")
    return os.path.join(d, "ca.pem"), os.path.join(d, "srv.pem"), os.path.join(d, "srv.key")


def test_syslog_tcp_tls_rfc5424_octet_counting(dk, tmp_path):
    import ssl
    ca, cert, key = make_certs(str(tmp_path))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(4)
    got = bytearray()
    done = threading.Event()

    def serve():
        srv.settimeout(0.5)
        while not done.is_set():
            try:
                c, _ = srv.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            try:
                s = ctx.wrap_socket(c, server_side=True)
                s.settimeout(1)
                while not done.is_set():
                    try:
                        b = s.recv(4096)
                    except socket.timeout:
                        continue
                    if not b:
                        break
                    got.extend(b)
            except (ssl.SSLError, OSError):
                c.close()
    t = threading.Thread(target=serve, daemon=True)
    t.start()
    try:
        addr = "syslog-address=tcp+tls://127.0.0.1:%d" % srv.getsockname()[1]
        # no CA given: the system's do not know this one, the start fails
        p = dk.run("run", "-d", "--log-driver", "syslog", "--log-opt", addr, "busybox", "true", check=False)
        assert p.returncode != 0 and "failed to initialize logging driver" in p.stderr
        cid = run_wait(dk, "--log-driver", "syslog", "--log-opt", addr, "--log-opt", "syslog-tls-ca-cert=" + ca,
                       "--log-opt", "syslog-format=rfc5424", "--log-opt", "tag=tls", "busybox", "sh", "-c",
                       "echo first; echo second")
        deadline = time.time() + 10
        while got.count(b"\n") < 2 and time.time() < deadline:
            time.sleep(0.05)
        # RFC 5425: "LEN MSG" with LEN the bytes of MSG
        text, msgs = bytes(got), []
        while text:
            sp = text.index(b" ")
            n = int(text[:sp])
            msgs.append(text[sp + 1:sp + 1 + n])
            text = text[sp + 1 + n:]
        assert [m.split(b" - ", 1)[1] for m in msgs] == [b"first\n", b"second\n"], bytes(got)
        assert all(m.startswith(b"<30>1 ") and b" tls " in m for m in msgs)
        dk.run("rm", cid)
    finally:
        done.set()
        srv.close()
        t.join()


def test_logs_keep_flowing_while_berthd_is_down(fresh_daemon, receivers):
    import signal
    r = receivers(socket.AF_INET, socket.SOCK_DGRAM)
    d = fresh_daemon()
    cli = DockerCLI(d.host)
    try:
        cli.run("load", "-i", os.path.join(TESTDATA, "fixtures", "busybox-docker-archive.tar"))
        cid = cli.run("run", "-d", "--log-driver", "gelf", "--log-opt", "gelf-address=udp://127.0.0.1:%d" % port(r),
                      "--log-opt", "gelf-compression-type=none", "busybox", "sh", "-c",
                      "i=0; while [ $i -lt 30 ]; do echo n$i; i=$((i+1)); sleep 0.1; done").stdout.strip()
        assert r.wait(lambda r: len(r.data) >= 2)
        d.stop(signal.SIGKILL)
        with r.lock:
            before = len(r.data)
        assert r.wait(lambda r: len(r.data) >= before + 5)  # the shim goes on writing
        d.start()
        cli.run("wait", cid)
        assert r.wait(lambda r: len(r.data) >= 30)
        assert sorted(json.loads(x)["short_message"] for x in r.data) == sorted("n%d" % i for i in range(30))
        assert cli.run("logs", cid).stdout == "".join("n%d\n" % i for i in range(30))
        cli.run("rm", cid)
    finally:
        cli.cleanup()


# ---- local ----

def local_entries(data):
    """dockerd's local format: be32 size, LogEntry protobuf, be32 size."""
    out, i = [], 0
    while i < len(data):
        n = struct.unpack(">I", data[i:i + 4])[0]
        msg = data[i + 4:i + 4 + n]
        assert struct.unpack(">I", data[i + 4 + n:i + 8 + n])[0] == n
        i += 8 + n
        e, j = {}, 0
        while j < len(msg):
            key = msg[j]
            j += 1
            v, shift = 0, 0
            while True:
                b = msg[j]
                j += 1
                v |= (b & 0x7f) << shift
                shift += 7
                if not b & 0x80:
                    break
            if key & 7 == 2:
                e[key >> 3] = msg[j:j + v]
                j += v
            else:
                e[key >> 3] = v
        out.append(e)
    return out


def test_local_driver_format_rotation_and_docker_logs(dk):
    p = dk.run("create", "--log-driver", "local", "--log-opt", "tag=x", "busybox", "true", check=False)
    assert p.returncode != 0 and "unknown log opt 'tag' for local log driver" in p.stderr
    cid = run_wait(dk, "--log-driver", "local", "--log-opt", "max-size=2k", "--log-opt", "max-file=3", "busybox",
                   "sh", "-c", "i=0; while [ $i -lt 300 ]; do echo line-$i; i=$((i+1)); done; echo oops >&2;"
                   " printf tail")
    path = json.loads(dk.run("inspect", cid).stdout)[0]["LogPath"]
    d = os.path.join(os.path.dirname(path), "local-logs")
    files = sorted(os.listdir(d))
    assert files == ["container.log", "container.log.1.gz", "container.log.2.gz"]
    live = local_entries(open(os.path.join(d, "container.log"), "rb").read())
    assert live[-1] == {1: b"stdout", 2: live[-1][2], 3: b"tail", 4: 1}  # partial: no newline came
    assert live[-2][1] == b"stderr" and live[-2][3] == b"oops" and 4 not in live[-2]
    assert abs(live[-1][2] / 1e9 - time.time()) < 60
    older = local_entries(gzip.decompress(open(os.path.join(d, "container.log.1.gz"), "rb").read()))
    assert older and all(e[1] == b"stdout" and e[3].startswith(b"line-") for e in older)
    out = dk.run("logs", cid)
    assert out.stderr == "oops\n" and out.stdout.endswith("line-299\ntail")
    oldest = local_entries(gzip.decompress(open(os.path.join(d, "container.log.2.gz"), "rb").read()))
    assert out.stdout.split("\n")[0] == oldest[0][3].decode()  # the oldest file kept comes first
    kept = [e[3].decode() for e in oldest + older + live if e[1] == b"stdout"]
    assert out.stdout == "\n".join(kept)
    assert dk.run("logs", "--tail", "3", cid).stdout == "line-299\ntail"
    p = dk.run("logs", "-t", "--tail", "1", cid)
    stamp = p.stdout.split(" ")[0]
    assert stamp.endswith("Z") and p.stdout.endswith(" tail")
    assert dk.run("logs", "--since", "2000-01-01T00:00:00Z", "--until", "2001-01-01T00:00:00Z", cid).stdout == ""
    dk.run("rm", cid)


def test_json_file_docker_logs_reads_every_rotated_file(dk):
    """`docker logs` reads the rotated files the container's max-file keeps, oldest first."""
    cid = run_wait(dk, "--log-opt", "max-size=1k", "--log-opt", "max-file=3", "busybox", "sh", "-c",
                   "i=0; while [ $i -lt 200 ]; do echo line-$i; i=$((i+1)); done")
    path = json.loads(dk.run("inspect", cid).stdout)[0]["LogPath"]
    assert os.path.exists(path + ".2") and not os.path.exists(path + ".3")
    kept = []
    for p in (path + ".2", path + ".1", path):
        with open(p) as f:
            kept += [json.loads(line)["log"] for line in f]
    assert kept[0] != "line-0\n" and kept[-1] == "line-199\n"  # rotation dropped the oldest
    assert dk.run("logs", cid).stdout == "".join(kept)
    dk.run("rm", cid)


def test_local_driver_follow(dk):
    cid = dk.run("run", "-d", "--log-driver", "local", "busybox", "sh", "-c",
                 "echo a; sleep 1; echo b; sleep 1; echo c").stdout.strip()
    p = dk.run("logs", "-f", cid, timeout=20)
    assert p.stdout == "a\nb\nc\n"
    dk.run("rm", cid)
