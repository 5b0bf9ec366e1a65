"""Hostile input checked where it comes in, as dockerd checks it: wrongly typed or invalid
fields at create, a hostile image config at load or pull, query strings. No single record
may break a listing (`docker ps`, `docker images`, `docker volume ls`) for everyone."""
import http.client
import io
import json
import os
import socket
import subprocess
import tarfile
import urllib.parse

import pytest

from conftest import TESTDATA, docker_env


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=30):
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


def api(berthd, method, path, body=None, content_type="application/json"):
    """One request; returns (status, body bytes). A dict body is sent as JSON."""
    c = UnixHTTPConnection(berthd.sock)
    try:
        headers = {}
        if body is not None:
            if not isinstance(body, (bytes, str)):
                body = json.dumps(body)
            if content_type:
                headers["Content-Type"] = content_type
        c.request(method, "/v1.45" + path, body=body, headers=headers)
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def message(data):
    return json.loads(data)["message"]


@pytest.fixture(scope="module")
def images(docker):
    docker.run("load", "-i", os.path.join(TESTDATA, "fixtures", "busybox-docker-archive.tar"))


# Each body is refused with a 400; dockerd's message (or its start) alongside.
WRONG_TYPES = [
    ({"Labels": {"a": 1}},
     "json: cannot unmarshal number into Go struct field ContainerConfigWrapper.Labels of type string"),
    ({"HostConfig": {"Privileged": "x"}},
     "json: cannot unmarshal string into Go struct field HostConfig.HostConfig.Privileged of type bool"),
    ({"HostConfig": {"Memory": "1g"}},
     "json: cannot unmarshal string into Go struct field HostConfig.HostConfig.Memory of type int64"),
    ({"Healthcheck": "x"}, "json: cannot unmarshal string into Go struct field ContainerConfigWrapper.Healthcheck"),
    ({"ExposedPorts": {"80/tcp": 1}},
     "json: cannot unmarshal number into Go struct field ContainerConfigWrapper.ExposedPorts of type struct {}"),
    ({"Tty": "yes"}, "json: cannot unmarshal string into Go struct field ContainerConfigWrapper.Tty of type bool"),
    ({"Volumes": {"/data": "x"}}, "json: cannot unmarshal string"),
    ({"StopTimeout": "10"}, "json: cannot unmarshal string"),
    ({"HostConfig": {"RestartPolicy": {"Name": 1}}}, "json: cannot unmarshal number"),
    ({"HostConfig": {"LogConfig": {"Config": {"max-size": 1}}}}, "json: cannot unmarshal number"),
    ({"HostConfig": {"Ulimits": [{"Name": "nofile", "Soft": "x"}]}}, "json: cannot unmarshal string"),
    ({"HostConfig": {"Sysctls": {"net.ipv4.ip_forward": 1}}}, "json: cannot unmarshal number"),
    ({"HostConfig": {"PortBindings": {"80/tcp": [{"HostPort": 80}]}}}, "json: cannot unmarshal number"),
    ({"HostConfig": {"Init": "true"}}, "json: cannot unmarshal string"),
    ({"NetworkingConfig": {"EndpointsConfig": {"bridge": {"Aliases": "a"}}}}, "json: cannot unmarshal string"),
]


@pytest.mark.parametrize("fields,msg", WRONG_TYPES, ids=[json.dumps(f) for f, _ in WRONG_TYPES])
def test_wrongly_typed_create_is_refused_and_listing_keeps_working(berthd, docker, images, fields, msg):
    status, body = api(berthd, "POST", "/containers/create", dict({"Image": "busybox"}, **fields))
    assert status == 400, body
    assert message(body).startswith(msg)
    docker.run("ps", "-a")  # every container still lists


def test_invalid_values_are_refused_at_create_not_at_start(berthd, images):
    cases = [
        ({"HostConfig": {"Memory": -1}}, "Minimum memory limit allowed is 6MB"),
        ({"Hostname": "h" * 300}, "is too long (maximum 64 bytes)"),
        ({"StopSignal": "SIGFOO"}, "invalid signal: SIGFOO"),
        ({"HostConfig": {"Runtime": "bogus"}}, "unknown or invalid runtime name: bogus"),
        ({"HostConfig": {"Isolation": "bogus"}}, "Invalid isolation: \"bogus\" - linux only supports 'default'"),
        ({"MacAddress": "zz"}, "invalid MAC address zz"),
        ({"HostConfig": {"ExtraHosts": ["bad"]}}, "bad format for add-host: \"bad\""),
        ({"Healthcheck": {"Test": ["CMD", "true"], "Interval": -1}}, "Interval in Healthcheck cannot be less than 1ms"),
        ({"HostConfig": {"RestartPolicy": {"Name": "sometimes"}}},
         "invalid restart policy: unknown policy 'sometimes'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'"),
    ]
    for fields, msg in cases:
        status, body = api(berthd, "POST", "/containers/create", dict({"Image": "busybox"}, **fields))
        assert status == 400 and msg in message(body), (fields, body)


def test_json_endpoints_want_a_json_content_type(berthd, images):
    status, body = api(berthd, "POST", "/containers/create", {"Image": "busybox"}, content_type="text/plain")
    assert status == 400
    assert message(body) == "unsupported Content-Type header (text/plain): must be 'application/json'"


def test_client_defaults_still_create(berthd, docker, client, images):
    # What clients send when nothing is set: nulls, empty maps, a string Cmd.
    status, body = api(berthd, "POST", "/containers/create",
                       {"Image": "busybox", "Cmd": "true", "Labels": None, "Env": None, "HostConfig": None,
                        "NetworkingConfig": None, "Volumes": {}, "ExposedPorts": {}, "Healthcheck": None},
                       content_type="application/json; charset=utf-8")
    assert status == 201, body
    cid = json.loads(body)["Id"]
    try:
        assert json.loads(docker.run("inspect", cid).stdout)[0]["Path"] == "true"
        c = client.containers.create("busybox", "true", labels={"a": "1"}, mem_limit="64m",
                                     restart_policy={"Name": "on-failure", "MaximumRetryCount": 2},
                                     extra_hosts={"h": "10.0.0.1"}, stop_signal="SIGUSR1")
        c.remove()
        docker.run("rm", docker.run("create", "--add-host", "h:10.0.0.1", "--stop-signal", "RTMIN+3",
                                    "--runtime", "runc", "busybox").stdout.strip())
    finally:
        docker.run("rm", "-f", cid)


def test_wrongly_typed_volume_labels_are_refused(berthd, docker):
    status, body = api(berthd, "POST", "/volumes/create", {"Name": "typed", "Labels": {"a": 1}})
    assert status == 400
    assert message(body) == "json: cannot unmarshal number into Go struct field CreateOptions.Labels of type string"
    assert "typed" not in docker.run("volume", "ls", "-q").stdout.split()


def hostile_busybox_archive(config_change):
    """The busybox fixture archive with @config_change applied to its image config (the
    diff IDs stay valid) and a tag of its own."""
    src = os.path.join(TESTDATA, "fixtures", "busybox-docker-archive.tar")
    out = io.BytesIO()
    with tarfile.open(src) as t, tarfile.open(fileobj=out, mode="w") as o:
        manifest = json.load(t.extractfile("manifest.json"))
        cfg = json.load(t.extractfile(manifest[0]["Config"]))
        config_change(cfg)
        data = json.dumps(cfg).encode()
        manifest[0]["Config"] = "hostile.json"
        manifest[0]["RepoTags"] = ["hostile:latest"]
        for m in t.getmembers():
            if m.name in ("manifest.json", "repositories") or m.name.endswith(".json") and "/" not in m.name:
                continue
            o.addfile(m, t.extractfile(m) if m.isfile() else None)
        for name, blob in (("hostile.json", data), ("manifest.json", json.dumps(manifest).encode())):
            info = tarfile.TarInfo(name)
            info.size = len(blob)
            o.addfile(info, io.BytesIO(blob))
    return out.getvalue()


def test_load_refuses_a_config_that_would_break_docker_images(docker, images):
    def labels_and_string_cmd(cfg):
        cfg["config"]["Labels"] = {"a": 1}
        cfg["config"]["Cmd"] = "sh"
    archive = hostile_busybox_archive(labels_and_string_cmd)
    p = subprocess.run(["docker", "load"], input=archive, capture_output=True,
                       env=docker_env(docker.host, docker.config_dir), timeout=60)
    assert p.returncode != 0
    assert b"invalid image config: json: cannot unmarshal number into Go struct field Config.config.Labels of type string" \
        in p.stderr
    docker.run("images")  # every image still lists
    assert "hostile" not in docker.run("images", "--format", "{{.Repository}}").stdout.split()


def test_pull_refuses_a_config_that_would_break_docker_images(docker, images):
    from registry import Registry, docker_archive_blobs, gzip_bytes, upload_image
    config, layers = docker_archive_blobs(os.path.join(TESTDATA, "fixtures", "busybox-docker-archive.tar"))
    cfg = json.loads(config)
    cfg["config"]["Labels"] = {"a": 1}
    reg = Registry().start()
    try:
        upload_image(reg, "hostile", "latest", json.dumps(cfg).encode(), [gzip_bytes(l) for l in layers])
        ref = "127.0.0.1:%d/hostile:latest" % reg.port
        p = docker.run("pull", ref, check=False)
        assert p.returncode != 0
        assert "invalid image config: json: cannot unmarshal number into Go struct field Config.config.Labels" \
            in p.stderr
        docker.run("images")  # every image still lists
        assert ref not in docker.run("images", "--format", "{{.Repository}}:{{.Tag}}").stdout.split()
    finally:
        reg.cleanup()


def test_logs_tail_that_is_not_a_count_means_all(berthd, docker, images):
    cid = docker.run("run", "-d", "busybox", "sh", "-c", "echo 1; echo 2; echo 3").stdout.strip()
    try:
        docker.run("wait", cid)
        for tail in ("-99999999", "abc", "-1", "all"):
            status, body = api(berthd, "GET", "/containers/%s/logs?stdout=1&tail=%s" % (cid, tail))
            assert status == 200 and body.count(b"\n") == 3, (tail, body)
        status, body = api(berthd, "GET", "/containers/%s/logs?stdout=1&tail=1" % cid)
        assert status == 200 and body.endswith(b"3\n")
        status, body = api(berthd, "GET", "/containers/%s/logs?stdout=1&since=NaN" % cid)
        assert status == 400, body
    finally:
        docker.run("rm", "-f", cid)


def test_filters_of_the_wrong_shape_are_refused(berthd):
    q = urllib.parse.quote(json.dumps({"status": "running"}))
    status, body = api(berthd, "GET", "/containers/json?filters=" + q)
    assert status == 400 and "invalid filter" in message(body)
    for good in ({"status": ["running"]}, {"status": {"running": True}}):
        status, _ = api(berthd, "GET", "/containers/json?filters=" + urllib.parse.quote(json.dumps(good)))
        assert status == 200


def test_events_since_forms(berthd):
    for since in ("1700000000.5", "2024-01-01T00:00:00Z", "10m", "0"):
        status, _ = api(berthd, "GET", "/events?since=%s&until=1700000001" % urllib.parse.quote(since))
        assert status == 200, since
    for since in ("NaN", "inf", "0x10", "soon"):
        status, body = api(berthd, "GET", "/events?since=%s&until=1700000001" % since)
        assert status == 400, (since, body)


def test_seccomp_profile_that_cannot_compile_fails_the_start_cleanly(berthd, docker, images, tmp_path):
    """A profile that parses but names an action libseccomp does not know is refused, naming
    its rule, when the container is created (runc would fail it at start), and berthd keeps
    serving (clang found a jump past a cleanup variable on the start path, which the runtime
    still checks, that freed an uninitialised pointer)."""
    prof = tmp_path / "bad.json"
    prof.write_text(json.dumps({"defaultAction": "SCMP_ACT_ALLOW",
                                "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_BOGUS"}]}))
    p = docker.run("run", "--name", "badseccomp", "--security-opt", "seccomp=%s" % prof,
                   "busybox", "true", check=False)
    try:
        assert p.returncode != 0
        assert 'syscalls[0] (mkdir): unknown action "SCMP_ACT_BOGUS"' in p.stderr, p.stderr
        assert docker.run("version", "--format", "{{.Server.Version}}").stdout.strip()
        assert docker.run("inspect", "badseccomp", check=False).returncode != 0  # nothing was created
    finally:
        docker.run("rm", "-f", "badseccomp", check=False)
