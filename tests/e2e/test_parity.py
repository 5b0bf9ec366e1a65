"""API parity with dockerd (issue 13): what the stock CLI and docker-py see where berth used
to differ — kill waiting for the exit, exec stream framing and inspect, attach without a
stream and over a websocket, versioned API shapes, rmi of digest references, pull and load
progress, and the swarm, plugin and search endpoints of a daemon outside a swarm."""
import base64
import json
import os
import socket
import struct
import time

import pytest

from conftest import TESTDATA, docker_env, http_raw, pty_run


@pytest.fixture(scope="module")
def images(docker):
    docker.run("load", "-i", os.path.join(TESTDATA, "fixtures", "busybox-docker-archive.tar"))


def inspect(docker, name):
    return json.loads(docker.run("inspect", name).stdout)[0]


# ---- kill ----

def test_kill_returns_once_the_container_has_stopped(docker, images):
    # SIGKILL (the default) returns only once the exit (137) is recorded: kill && rm works
    # and an inspect right after the kill shows it exited.
    for i in range(5):
        name = "killed%d" % i
        docker.run("run", "-d", "--name", name, "busybox", "sleep", "600")
        docker.run("kill", name)
        st = inspect(docker, name)["State"]
        assert st["Status"] == "exited" and st["Running"] is False and st["ExitCode"] == 137, st
        docker.run("rm", name)
    # A container ignoring SIGTERM (sh as pid 1) is still killed and removable at once.
    docker.run("run", "-d", "--name", "killed-sh", "busybox", "sh", "-c", "while true; do sleep 0.1; done")
    p = docker.run("kill", "killed-sh")
    assert p.stdout.strip() == "killed-sh"
    docker.run("rm", "killed-sh")


def test_kill_then_inspect_at_once_dockerpy(client, images):
    # The API at full speed (no CLI start-up between the calls): every time, the kill's
    # answer means the exit is recorded.
    api = client.api
    for _ in range(15):
        cid = api.create_container("busybox", ["sleep", "600"])["Id"]
        api.start(cid)
        api.kill(cid)
        st = api.inspect_container(cid)["State"]
        api.remove_container(cid)  # no force: 409 if still running
        assert st["Status"] == "exited" and st["ExitCode"] == 137, st


# ---- exec ----

@pytest.fixture(scope="module")
def ctr(docker, images):
    cid = docker.run("run", "-d", "busybox", "sleep", "600").stdout.strip()
    yield cid
    docker.run("rm", "-f", cid, check=False)


def test_exec_framing_follows_the_start_request(client, ctr):
    api = client.api
    # docker-py's way: created with a TTY, started with Tty false: frames (all of it on
    # stdout, from the pty), none of the output lost to a header read from raw bytes.
    eid = api.exec_create(ctr, ["echo", "0123456789abcdef"], tty=True)["Id"]
    out = api.exec_start(eid, tty=False)
    assert out == b"0123456789abcdef\r\n", out
    # docker-py demultiplexes it too.
    eid = api.exec_create(ctr, ["echo", "framed"], tty=True)["Id"]
    assert api.exec_start(eid, tty=False, demux=True) == (b"framed\r\n", None)
    # And the other way round: no TTY, started with Tty true: a raw stream of both outputs.
    eid = api.exec_create(ctr, ["sh", "-c", "echo out; echo err >&2"])["Id"]
    out = api.exec_start(eid, tty=True)
    assert sorted(out.split()) == [b"err", b"out"] and b"\x01\x00\x00\x00" not in out, out


def test_exec_inspect_process_config_as_dockerd(client, ctr):
    api = client.api
    e = api.exec_create(ctr, ["true"])["Id"]
    i = api.exec_inspect(e)
    # user is omitted when empty; privileged always there; DetachKeys "" for none
    assert i["ProcessConfig"] == {"arguments": [], "entrypoint": "true", "privileged": False, "tty": False}
    assert i["DetachKeys"] == ""
    e = api.exec_create(ctr, ["ls", "-l", "/"], user="nobody", privileged=True, tty=True, detach_keys="ctrl-x,x")["Id"]
    i = api.exec_inspect(e)
    assert i["ProcessConfig"] == {"arguments": ["-l", "/"], "entrypoint": "ls", "privileged": True, "tty": True,
                                  "user": "nobody"}
    assert base64.b64decode(i["DetachKeys"]) == b"\x18x"
    import docker as dockerpy
    with pytest.raises(dockerpy.errors.APIError) as e:
        api.exec_create(ctr, ["true"], detach_keys="ctrl-")
    assert "Invalid escape keys (ctrl-) provided" in str(e.value)


def test_exec_detach_keys_from_the_create_body(berthd, docker, ctr):
    env = docker_env(berthd.host, docker.config_dir)
    code, out = pty_run(env, ["docker", "exec", "-it", "--detach-keys", "ctrl-x,x", ctr, "sh", "-c",
                              "echo ready; sleep 31"], script=[(b"ready", b"\x18x")], timeout=20)
    assert b"ready" in out and b"read escape sequence" in out, out
    assert "sleep 31" in docker.run("exec", ctr, "ps", "-o", "args").stdout  # still running
    docker.run("exec", ctr, "pkill", "-f", "sleep 31", check=False)
    # The default keys do nothing then: ctrl-p ctrl-q reach the process, which goes on.
    code, out = pty_run(env, ["docker", "exec", "-it", "--detach-keys", "ctrl-x,x", ctr, "sh", "-c",
                              "echo ready; read x; exit 5"], script=[(b"ready", b"\x10\x11hi\r")], timeout=20)
    assert code == 5, out


def test_exec_of_a_missing_command_is_126_as_dockerd(client, docker, ctr):
    p = docker.run("exec", ctr, "nope", check=False)
    assert p.returncode == 126, p
    assert ('OCI runtime exec failed: exec failed: unable to start container process: exec: "nope": '
            'executable file not found in $PATH: unknown') in p.stdout + p.stderr
    eid = client.api.exec_create(ctr, ["nope"])["Id"]
    client.api.exec_start(eid)
    assert client.api.exec_inspect(eid)["ExitCode"] == 126
    # A container's command that is not there stays 127.
    p = docker.run("run", "--rm", "busybox", "nope", check=False)
    assert p.returncode == 127


# ---- attach ----

def test_attach_logs_without_stream_returns_the_log_and_closes(berthd, client, images):
    api = client.api
    cid = api.create_container("busybox", ["sh", "-c", "echo one; sleep 0.2; echo two >&2; sleep 0.2; echo three; sleep 600"])["Id"]
    try:
        api.start(cid)
        deadline = time.time() + 5
        while b"three" not in api.logs(cid) and time.time() < deadline:
            time.sleep(0.05)
        # docker-py's attach(logs=True, stream=False): upgraded, framed, closed by the daemon
        # although the container still runs.
        t0 = time.time()
        out = api.attach(cid, stdout=True, stderr=True, logs=True, stream=False)
        assert time.time() - t0 < 5
        assert out == b"one\ntwo\nthree\n", out
        assert api.attach(cid, stdout=True, stderr=False, logs=True, stream=False) == b"one\nthree\n"
        out = api.attach(cid, stdout=True, stderr=True, logs=True, stream=False, demux=True)
        assert out == (b"one\nthree\n", b"two\n"), out
        # Without an upgrade: a plain 200 whose body is the same frames.
        raw = http_raw(berthd.sock, ("POST /v1.41/containers/%s/attach?logs=1&stream=0&stdout=1 HTTP/1.1\r\n"
                                     "Host: d\r\nConnection: close\r\n\r\n" % cid).encode(), timeout=5)
        head, _, body = raw.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200") and b"application/vnd.docker.multiplexed-stream" in head, head
        assert b"\x01\x00\x00\x00\x00\x00\x00\x04one\n" in body, body
        # Neither logs nor stream: nothing, closed at once.
        assert api.attach(cid, stdout=True, stderr=True, logs=False, stream=False) == b""
    finally:
        api.remove_container(cid, force=True)


# ---- swarm, plugins ----

NOT_A_MANAGER = ('This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to '
                 'connect this node to swarm and try again.')


def test_swarm_endpoints_answer_as_a_daemon_outside_a_swarm(berthd, docker, client):
    for args in (["service", "ls"], ["node", "ls"], ["secret", "ls"], ["config", "ls"],
                 ["service", "inspect", "x"], ["secret", "rm", "x"], ["swarm", "unlock-key"],
                 ["service", "logs", "x"], ["swarm", "update", "--autolock"]):
        p = docker.run(*args, check=False)
        assert p.returncode != 0 and NOT_A_MANAGER in p.stderr, (args, p.stderr)
    p = docker.run("swarm", "leave", check=False)
    assert p.returncode != 0 and "This node is not part of a swarm" in p.stderr
    for method, path in (("GET", "/swarm"), ("GET", "/tasks"), ("GET", "/tasks/x/logs"), ("POST", "/configs/create"),
                         ("POST", "/nodes/x/update"), ("DELETE", "/services/x"), ("POST", "/swarm/unlock")):
        raw = http_raw(berthd.sock, ("%s /v1.41%s HTTP/1.1\r\nHost: d\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                                     % (method, path)).encode())
        head, _, body = raw.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 503"), (path, head)
        assert json.loads(body.decode().split("\r\n")[1] if b"chunked" in head else body) == {"message": NOT_A_MANAGER}
    # Making or joining one is refused honestly.
    import docker as dockerpy
    with pytest.raises(dockerpy.errors.APIError) as e:
        client.swarm.init()
    assert e.value.response.status_code == 501
    assert docker.run("info", "--format", "{{.Swarm.LocalNodeState}}").stdout.strip() == "inactive"


def test_ping_says_swarm_inactive_and_plugins_are_none(berthd, docker):
    for method in ("GET", "HEAD"):
        raw = http_raw(berthd.sock, ("%s /_ping HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n" % method).encode())
        assert raw.startswith(b"HTTP/1.1 200") and b"\r\nSwarm: inactive\r\n" in raw, raw
    raw = http_raw(berthd.sock, b"GET /v1.41/plugins HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n")
    assert raw.startswith(b"HTTP/1.1 200") and raw.rstrip().endswith(b"[]"), raw
    p = docker.run("plugin", "ls")
    assert p.stdout.split() == ["ID", "NAME", "DESCRIPTION", "ENABLED"]


# ---- API versions (docker-py 5 and compose v1 speak 1.41) ----

@pytest.fixture(scope="module")
def api141(berthd):
    import docker as dockerpy
    c = dockerpy.APIClient(base_url=berthd.host, version="1.41", timeout=30)
    yield c
    c.close()


@pytest.fixture(scope="module")
def api145(berthd):
    import docker as dockerpy
    c = dockerpy.APIClient(base_url=berthd.host, version="1.45", timeout=30)
    yield c
    c.close()


def test_volume_prune_below_1_42_prunes_named_volumes(api141, api145, docker):
    docker.run("volume", "create", "named-a")
    docker.run("volume", "create", "named-b")
    out = api145.prune_volumes()
    assert "named-a" not in (out["VolumesDeleted"] or [])  # 1.42+: anonymous only
    assert "named-a" in docker.run("volume", "ls", "-q").stdout.split()
    out = api141.prune_volumes()
    assert sorted(out["VolumesDeleted"]) == ["named-a", "named-b"], out
    assert "named-a" not in docker.run("volume", "ls", "-q").stdout.split()


def test_image_inspect_shapes_by_version_and_a_committed_image(api141, api145, docker, images):
    cid = docker.run("run", "-d", "busybox", "sh", "-c", "echo committed").stdout.strip()
    docker.run("wait", cid)
    docker.run("commit", cid, "committed:v1")
    try:
        old = api141.inspect_image("committed:v1")
        assert old["Container"] == cid
        assert old["ContainerConfig"]["Cmd"] == ["sh", "-c", "echo committed"]
        assert old["VirtualSize"] == old["Size"]
        new = api145.inspect_image("committed:v1")
        for k in ("Container", "ContainerConfig", "VirtualSize"):
            assert k not in new, k
        assert new["Config"]["Cmd"] == ["sh", "-c", "echo committed"]
        # The listing too: VirtualSize only before 1.44.
        assert all("VirtualSize" in i for i in api141.images())
        assert all("VirtualSize" not in i for i in api145.images())
    finally:
        docker.run("rm", cid)
        docker.run("rmi", "committed:v1")


def test_stop_signal_is_ignored_below_1_42(api141, api145, images):
    script = "trap 'exit 3' USR1; trap '' TERM; while true; do sleep 0.1; done"
    for api, want in ((api145, 3), (api141, 137)):
        cid = api.create_container("busybox", ["sh", "-c", script])["Id"]
        try:
            api.start(cid)
            time.sleep(0.3)
            url = api._url("/containers/{0}/stop", cid)
            api._raise_for_status(api._post(url, params={"t": 1, "signal": "USR1"}, timeout=30))
            assert api.inspect_container(cid)["State"]["ExitCode"] == want, api._version
        finally:
            api.remove_container(cid, force=True)


def test_aliases_carry_the_short_id_below_1_45(api141, api145, docker, images):
    docker.run("network", "create", "aliasnet")
    try:
        cid = docker.run("run", "-d", "--network", "aliasnet", "--network-alias", "web", "busybox",
                         "sleep", "600").stdout.strip()
        try:
            assert api145.inspect_container(cid)["NetworkSettings"]["Networks"]["aliasnet"]["Aliases"] == ["web"]
            assert api141.inspect_container(cid)["NetworkSettings"]["Networks"]["aliasnet"]["Aliases"] == \
                ["web", cid[:12]]
        finally:
            docker.run("rm", "-f", cid)
    finally:
        docker.run("network", "rm", "aliasnet")


def test_ipc_mode_defaults_to_shareable_below_1_40(berthd, images):
    import docker as dockerpy
    old = dockerpy.APIClient(base_url=berthd.host, version="1.39", timeout=30)
    try:
        cid = old.create_container("busybox", ["true"])["Id"]
        assert old.inspect_container(cid)["HostConfig"]["IpcMode"] == "shareable"
        old.remove_container(cid)
        cid = dockerpy.APIClient(base_url=berthd.host, version="1.45").create_container("busybox", ["true"])["Id"]
        assert old.inspect_container(cid)["HostConfig"].get("IpcMode", "private") == "private"
        old.remove_container(cid)
    finally:
        old.close()


# ---- websocket attach (RFC 6455), with a client of our own ----

class WS:
    """A minimal RFC 6455 client over the daemon's unix socket."""

    def __init__(self, sock_path, path):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(10)
        self.s.connect(sock_path)
        key = base64.b64encode(os.urandom(16)).decode()
        self.s.sendall(("GET %s HTTP/1.1\r\nHost: d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                        "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\nOrigin: http://localhost\r\n\r\n"
                        % (path, key)).encode())
        head = b""
        while b"\r\n\r\n" not in head:
            b = self.s.recv(1)
            assert b, head
            head += b
        self.head = head.decode()
        import hashlib
        want = base64.b64encode(hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()).decode()
        assert self.head.startswith("HTTP/1.1 101"), self.head
        assert "sec-websocket-accept: %s" % want.lower() in self.head.lower(), self.head
        self.buf = b""

    def _need(self, n):
        while len(self.buf) < n:
            b = self.s.recv(65536)
            if not b:
                raise EOFError
            self.buf += b
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def recv(self):
        """(opcode, payload) of the next frame; the server's frames are never masked."""
        h = self._need(2)
        assert h[1] & 0x80 == 0
        n = h[1] & 0x7f
        if n == 126:
            n = struct.unpack(">H", self._need(2))[0]
        elif n == 127:
            n = struct.unpack(">Q", self._need(8))[0]
        return h[0] & 0x0f, self._need(n)

    def send(self, data, op=2):
        mask = os.urandom(4)
        h = bytes([0x80 | op])
        n = len(data)
        h += bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + struct.pack(">H", n)
        self.s.sendall(h + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

    def read_until_close(self):
        data, ops = b"", set()
        while True:
            op, payload = self.recv()
            if op == 8:
                return data, ops, payload
            ops.add(op)
            data += payload

    def close(self):
        self.s.close()


def test_websocket_attach_streams_both_ways(berthd, docker, images):
    cid = docker.run("run", "-d", "-i", "busybox", "sh", "-c",
                     'echo ready; read line; echo "got $line"; echo err >&2').stdout.strip()
    try:
        ws = WS(berthd.sock, "/v1.45/containers/%s/attach/ws?logs=1&stream=1&stdin=1&stdout=1&stderr=1" % cid)
        got = b""
        while b"ready" not in got:
            op, payload = ws.recv()
            assert op == 2  # binary frames
            got += payload
        ws.send(b"hello\n")
        data, ops, close = ws.read_until_close()
        # not multiplexed: raw bytes, stdout and stderr alike
        assert (got + data).replace(b"\r", b"") == b"ready\ngot hello\nerr\n", got + data
        assert ops <= {2} and struct.unpack(">H", close[:2])[0] == 1000
        ws.close()
        assert docker.run("wait", cid).stdout.strip() == "0"
    finally:
        docker.run("rm", "-f", cid)


def test_websocket_attach_logs_and_old_versions(berthd, docker, images):
    cid = docker.run("run", "-d", "busybox", "sh", "-c", "echo one; sleep 0.2; echo two >&2; sleep 600").stdout.strip()
    try:
        deadline = time.time() + 5
        while "two" not in docker.run("logs", cid).stderr and time.time() < deadline:
            time.sleep(0.05)
        # logs without a stream: the log, unframed, then a close
        ws = WS(berthd.sock, "/v1.45/containers/%s/attach/ws?logs=1&stream=0&stdout=1&stderr=1" % cid)
        data, ops, _ = ws.read_until_close()
        assert data == b"one\ntwo\n" and ops == {2}, (data, ops)
        ws.close()
        # 1.45 honours stdout/stderr; before 1.42 every stream is attached
        ws = WS(berthd.sock, "/v1.45/containers/%s/attach/ws?logs=1&stream=0&stdout=1" % cid)
        assert ws.read_until_close()[0] == b"one\n"
        ws.close()
        ws = WS(berthd.sock, "/v1.41/containers/%s/attach/ws?logs=1&stream=0&stdout=1" % cid)
        assert ws.read_until_close()[0] == b"one\ntwo\n"
        ws.close()
        # text frames before 1.28
        ws = WS(berthd.sock, "/v1.27/containers/%s/attach/ws?logs=1&stream=0" % cid)
        data, ops, _ = ws.read_until_close()
        assert data == b"one\ntwo\n" and ops == {1}, (data, ops)
        ws.close()
        # not a websocket handshake: 400
        raw = http_raw(berthd.sock, ("GET /containers/%s/attach/ws HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n"
                                     % cid).encode())
        assert raw.startswith(b"HTTP/1.1 400"), raw
    finally:
        docker.run("rm", "-f", cid)


# ---- rmi of digest references, pull progress (a local registry on 127.0.0.1) ----

@pytest.fixture
def registry():
    from registry import Registry
    reg = Registry().start()
    yield reg
    reg.cleanup()


def test_rmi_last_tag_removes_the_digest_references_and_the_image(fresh_daemon, registry):
    from conftest import DockerCLI
    cli = DockerCLI(fresh_daemon().host)
    try:
        cli.run("load", "-i", os.path.join(TESTDATA, "fixtures", "busybox-docker-archive.tar"))
        ref = registry.host + "/rt/busybox:v1"
        cli.run("tag", "busybox", ref)
        cli.run("rmi", "busybox")  # only ref's name is left
        cli.run("push", ref)
        digests = cli.run("image", "inspect", "--format", "{{json .RepoDigests}}", ref).stdout
        (digest_ref,) = json.loads(digests)
        assert digest_ref.startswith(registry.host + "/rt/busybox@sha256:")
        p = cli.run("rmi", ref)
        lines = p.stdout.splitlines()
        assert lines[0] == "Untagged: " + ref and lines[1] == "Untagged: " + digest_ref, lines
        assert any(l.startswith("Deleted: sha256:") for l in lines), lines
        assert cli.run("images", "-aq").stdout.strip() == ""
        # The round trip downloads again.
        p = cli.run("pull", ref)
        assert "Pull complete" in p.stdout and "Downloaded newer image for " + ref in p.stdout, p.stdout
        # With a second tag of the same repository the digest reference stays.
        cli.run("tag", ref, registry.host + "/rt/busybox:v2")
        p = cli.run("rmi", ref)
        assert p.stdout.splitlines() == ["Untagged: " + ref]
        assert json.loads(cli.run("image", "inspect", "--format", "{{json .RepoDigests}}",
                                  registry.host + "/rt/busybox:v2").stdout) == [digest_ref]
    finally:
        cli.cleanup()


def test_pull_of_present_layers_says_already_exists(fresh_daemon, registry):
    from conftest import DockerCLI
    cli = DockerCLI(fresh_daemon().host)
    try:
        cli.run("load", "-i", os.path.join(TESTDATA, "fixtures", "busybox-docker-archive.tar"))
        ref = registry.host + "/rt/base:v1"
        cli.run("tag", "busybox", ref)
        cli.run("push", ref)
        layer = json.loads(cli.run("image", "inspect", "--format", "{{json .RootFS.Layers}}", ref).stdout)
        # A child keeps the layers; the image itself goes.
        cid = cli.run("run", "-d", "busybox", "touch", "/child").stdout.strip()
        cli.run("wait", cid)
        cli.run("commit", cid, "child")
        cli.run("rm", cid)
        cli.run("rmi", ref, "busybox")
        p = cli.run("pull", ref)
        lines = [l for l in p.stdout.splitlines() if "Already exists" in l]
        assert len(lines) == len(layer) and all(l.endswith(": Already exists") for l in lines), p.stdout
        assert "Pull complete" not in p.stdout
    finally:
        cli.cleanup()


def test_load_on_a_terminal_shows_loading_layer_progress(fresh_daemon):
    from conftest import DockerCLI
    d = fresh_daemon()
    cli = DockerCLI(d.host)
    try:
        archive = os.path.join(TESTDATA, "fixtures", "busybox-docker-archive.tar")
        env = docker_env(d.host, cli.config_dir)
        code, out = pty_run(env, ["docker", "load", "-i", archive], timeout=60)
        assert code == 0, out
        layers = json.loads(cli.run("image", "inspect", "--format", "{{json .RootFS.Layers}}", "busybox").stdout)
        text = out.decode(errors="replace")
        for diff_id in layers:
            assert "%s: Loading layer" % diff_id[7:19] in text, text
        # the CLI draws the progress (a bar from 110 columns on; pty_run's terminal has 101)
        import re
        assert re.search(r"Loading layer +([0-9.]+[kMG]?B)/\1", text), text
        assert "Loaded image: busybox:latest" in text, text
        # Not on a terminal (quiet): no progress; nor for layers already stored.
        cli.run("rmi", "busybox")
        p = cli.run("load", "-i", archive)
        assert p.stdout.strip() == "Loaded image: busybox:latest"
        code, out = pty_run(env, ["docker", "load", "-i", archive], timeout=60)
        assert b"Loading layer" not in out and b"Loaded image: busybox:latest" in out, out
    finally:
        cli.cleanup()


# ---- docker search: the index's v1 search API, on 127.0.0.1 only ----

@pytest.fixture
def search_index():
    """A v1 search API of our own on 127.0.0.1 (plain HTTP: berth tries https first)."""
    import http.server
    import threading
    import urllib.parse
    seen = []

    class H(http.server.BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_GET(self):
            u = urllib.parse.urlparse(self.path)
            seen.append((u.path, urllib.parse.parse_qs(u.query)))
            if u.path == "/v1/_ping":
                body = b"true"
            elif u.path == "/v1/search":
                q = urllib.parse.parse_qs(u.query)
                results = [{"name": "team/%s-%d" % (q["q"][0], i), "description": "number %d" % i, "star_count": i,
                            "is_official": i == 2, "is_automated": True} for i in range(4)]
                body = json.dumps({"num_results": 4, "query": q["q"][0], "results": results}).encode()
            else:
                self.send_response(404)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    srv.seen = seen
    yield srv
    srv.shutdown()
    srv.server_close()


def test_search_asks_the_index_search_api(docker, client, search_index):
    host = "127.0.0.1:%d" % search_index.server_address[1]
    p = docker.run("search", "--format", "{{.Name}} {{.StarCount}} {{.IsOfficial}}|", host + "/busy")
    assert p.stdout.splitlines() == ["team/busy-0 0 |", "team/busy-1 1 |", "team/busy-2 2 [OK]|",
                                     "team/busy-3 3 |"], p.stdout
    assert ("/v1/search", {"q": ["busy"], "n": ["25"]}) in search_index.seen
    p = docker.run("search", "--limit", "3", "--filter", "stars=2", "--format", "{{.Name}}", host + "/busy")
    assert p.stdout.split() == ["team/busy-2", "team/busy-3"]
    assert ("/v1/search", {"q": ["busy"], "n": ["3"]}) in search_index.seen
    api = client.api

    def search(filters):
        r = api._get(api._url("/images/search"), params={"term": host + "/busy", "filters": json.dumps(filters)})
        return api._result(r, True)
    assert search({"is-official": {"true": True}}) == [
        {"star_count": 2, "is_official": True, "name": "team/busy-2", "is_automated": False,
         "description": "number 2"}]
    # Nothing is automated any more (API 1.44): is-automated=true finds nothing.
    assert search({"is-automated": {"true": True}}) == []
    import docker as dockerpy
    with pytest.raises(dockerpy.errors.APIError) as e:
        client.api.search(host + "/busy", limit=101)
    assert e.value.response.status_code == 400 and "limit 101 is outside the range of [1, 100]" in str(e.value)
    p = docker.run("search", "--filter", "stars=many", host + "/busy", check=False)
    assert p.returncode != 0 and "invalid filter 'stars=many'" in p.stderr


def test_search_of_a_registry_without_it_and_of_a_closed_port(docker, registry):
    p = docker.run("search", registry.host + "/busybox", check=False)
    assert p.returncode != 0 and "Unexpected status code 404" in p.stderr, p.stderr
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    p = docker.run("search", "127.0.0.1:%d/x" % port, check=False)
    dial = "dial tcp 127.0.0.1:%d: connect: connection refused" % port
    want = ('invalid registry endpoint "http://127.0.0.1:%d/v1/". HTTPS attempt: Get "https://127.0.0.1:%d/v1/_ping": '
            '%s. HTTP attempt: Get "http://127.0.0.1:%d/v1/_ping": %s' % (port, port, dial, port, dial))
    assert p.returncode != 0 and want in p.stderr, p.stderr


# ---- ps never waits for a busy container ----

def test_list_does_not_wait_for_a_container_being_stopped(berthd, docker, images):
    import subprocess
    import threading
    cid = docker.run("run", "-d", "busybox", "sh", "-c", "trap '' TERM; while true; do sleep 0.1; done").stdout.strip()
    stopper = None
    try:
        env = docker_env(berthd.host, docker.config_dir)
        # A stop that waits 20 s for a container that ignores SIGTERM: busy all along.
        stopper = subprocess.Popen(["docker", "stop", "-t", "20", cid], env=env, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        time.sleep(0.5)
        for _ in range(5):
            t0 = time.time()
            raw = http_raw(berthd.sock, b"GET /v1.41/containers/json?all=1 HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n",
                           timeout=10)
            took = time.time() - t0
            assert raw.startswith(b"HTTP/1.1 200") and took < 1.0, took
            body = raw.partition(b"\r\n\r\n")[2]
            assert cid.encode() in body
            t0 = time.time()
            st = json.loads(docker.run("inspect", cid).stdout)[0]["State"]
            assert st["Running"] is True and time.time() - t0 < 2.0
            assert stopper.poll() is None  # still stopping
    finally:
        docker.run("rm", "-f", cid, check=False)
        if stopper:
            stopper.wait(30)


def test_ps_follows_every_change_of_a_listed_container(client, docker, images):
    # ps keeps each summary as text between writes of the record: every change shows.
    api = client.api

    def row(cid):
        (r,) = [c for c in api.containers(all=True) if c["Id"] == cid]
        return r
    cid = docker.run("run", "-d", "--name", "psfresh", "-p", "127.0.0.1::80", "busybox", "sleep", "600").stdout.strip()
    try:
        r = row(cid)
        assert r["Names"] == ["/psfresh"] and r["State"] == "running" and r["Status"].startswith("Up")
        assert [p["PrivatePort"] for p in r["Ports"]] == [80]
        docker.run("rename", "psfresh", "psfresh2")
        assert row(cid)["Names"] == ["/psfresh2"]
        docker.run("network", "create", "psnet")
        docker.run("network", "connect", "psnet", cid)
        assert "psnet" in row(cid)["NetworkSettings"]["Networks"]
        docker.run("kill", cid)
        r = row(cid)
        assert r["State"] == "exited" and r["Status"].startswith("Exited (137)") and r["Ports"] == []
        docker.run("network", "disconnect", "psnet", cid)
        assert "psnet" not in row(cid)["NetworkSettings"]["Networks"]
        docker.run("start", cid)
        r = row(cid)
        assert r["State"] == "running" and [p["PrivatePort"] for p in r["Ports"]] == [80]
    finally:
        docker.run("rm", "-f", cid, check=False)
        docker.run("network", "rm", "psnet", check=False)


def test_images_filter_parameter_before_1_41(berthd, docker, images):
    docker.run("tag", "busybox", "othername:v1")
    try:
        def tags(version):
            raw = http_raw(berthd.sock, ("GET /%s/images/json?filter=busybox HTTP/1.1\r\nHost: d\r\n"
                                         "Connection: close\r\n\r\n" % version).encode())
            head, _, body = raw.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 200"), head
            if b"chunked" in head.lower():
                body = body.split(b"\r\n", 1)[1].rsplit(b"\r\n0\r\n", 1)[0]
            return sorted(t for i in json.loads(body) for t in i["RepoTags"])
        assert tags("v1.40") == ["busybox:latest"]  # filter=<reference> until 1.40
        assert "othername:v1" in tags("v1.41")      # ignored from 1.41
    finally:
        docker.run("rmi", "othername:v1")
