"""docker version / info / ping, version negotiation and the error format, as users see them."""
import json
import os
import platform

import pytest

from conftest import http_raw


def test_docker_version_shows_berth_server(docker):
    out = docker.run("version").stdout
    server = out.split("Server:", 1)[1]
    assert "Server: berth" in out
    assert "Engine:" in server
    assert "API version:      1.45 (minimum version 1.24)" in server
    assert "Go version:       n/a" in server
    assert "OS/Arch:          linux/amd64" in server
    assert "<no value>" not in server


def test_docker_version_format_fields(docker):
    out = docker.run("version", "--format", "{{.Server.APIVersion}} {{.Server.MinAPIVersion}} {{.Server.Os}} {{.Server.KernelVersion}}").stdout.split()
    assert out == ["1.45", "1.24", "linux", platform.release()]


def info_json(docker):
    p = docker.run("info", "--format", "{{json .}}")
    return json.loads(p.stdout)


def test_docker_info_true_values(docker, berthd):
    info = info_json(docker)
    with open(os.path.join(berthd.data_root, "engine-id")) as f:
        assert info["ID"] == f.read().strip()
    assert info["DockerRootDir"] == berthd.data_root
    assert info["KernelVersion"] == platform.release()
    assert info["NCPU"] == len(os.sched_getaffinity(0))
    with open("/proc/meminfo") as f:
        mem_kb = int(f.readline().split()[1])
    assert info["MemTotal"] == mem_kb * 1024
    assert info["Name"] == platform.node()
    assert info["OSType"] == "linux"
    assert info["Architecture"] == platform.machine()
    # other test modules share this daemon: compare with what the CLI lists
    assert info["Containers"] == len(docker.run("ps", "-aq").stdout.split())
    assert info["ContainersRunning"] == len(docker.run("ps", "-q").stdout.split())
    # dockerd counts every image, intermediate build images too: `images -a`
    assert info["Images"] == len(set(docker.run("images", "-aq").stdout.split()))
    assert info["Driver"] in ("overlay2", "vfs")
    cg2 = os.path.exists("/sys/fs/cgroup/cgroup.controllers")
    assert info["CgroupVersion"] == ("2" if cg2 else "1")
    assert info["CgroupDriver"] == "cgroupfs"
    assert info["DefaultRuntime"] in info["Runtimes"]
    assert info["LoggingDriver"] == "json-file"
    assert info["ServerVersion"]
    with open("/etc/os-release") as f:
        pretty = [l.split("=", 1)[1].strip().strip('"') for l in f if l.startswith("PRETTY_NAME=")][0]
    assert info["OperatingSystem"] == pretty
    assert "127.0.0.0/8" in info["RegistryConfig"]["InsecureRegistryCIDRs"]
    assert info["Swarm"]["LocalNodeState"] == "inactive"


def test_docker_info_engine_id_is_stable_across_restart(fresh_daemon):
    from conftest import DockerCLI
    d = fresh_daemon()
    cli = DockerCLI(d.host)
    try:
        first = info_json(cli)["ID"]
        d.stop()
        d.start()
        assert info_json(cli)["ID"] == first
    finally:
        cli.cleanup()


def test_docker_info_prints_without_errors(docker):
    p = docker.run("info")
    assert "Server Version: " in p.stdout
    assert "Storage Driver: " in p.stdout
    assert "Cgroup Version: " in p.stdout
    assert "ERROR" not in p.stderr and "error" not in p.stdout.lower().split("server:", 1)[1]


def test_docker_system_info_json(docker):
    p = docker.run("system", "info", "--format", "{{json .}}")
    info = json.loads(p.stdout)
    assert "ServerErrors" not in info or not info["ServerErrors"]
    assert info["OSType"] == "linux"


def test_dockerpy_version_ping_info(client, berthd):
    assert client.ping() is True
    v = client.version()
    assert v["ApiVersion"] == "1.45"
    assert v["MinAPIVersion"] == "1.24"
    assert v["Components"][0]["Name"] == "Engine"
    info = client.info()
    assert info["DockerRootDir"] == berthd.data_root


def test_ping_headers_get_and_head(berthd):
    for method in (b"GET", b"HEAD"):
        r = http_raw(berthd.sock, method + b" /_ping HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n")
        head, _, body = r.partition(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        assert lines[0] == "HTTP/1.1 200 OK"
        hdr = {l.split(":", 1)[0].lower(): l.split(":", 1)[1].strip() for l in lines[1:]}
        assert hdr["api-version"] == "1.45"
        assert hdr["ostype"] == "linux"
        assert hdr["docker-experimental"] == "false"
        assert hdr["builder-version"] == "1"
        assert hdr["cache-control"] == "no-cache, no-store, must-revalidate"
        assert hdr["pragma"] == "no-cache"
        assert hdr["server"].startswith("berth/")
        assert body == (b"OK" if method == b"GET" else b"")


def get(berthd, path, method="GET"):
    r = http_raw(berthd.sock, ("%s %s HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n" % (method, path)).encode())
    head, _, body = r.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, head.decode(), body


@pytest.mark.parametrize("version", ["1.24", "1.30", "1.41", "1.45"])
def test_every_supported_version_prefix(berthd, version):
    for path in ("/_ping", "/version", "/info"):
        status, head, _ = get(berthd, "/v%s%s" % (version, path))
        assert status == 200, path


def test_version_too_new_and_too_old(berthd):
    status, head, body = get(berthd, "/v1.99/info")
    assert status == 400
    assert json.loads(body) == {"message": "client version 1.99 is too new. Maximum supported API version is 1.45"}
    status, head, body = get(berthd, "/v1.12/version")
    assert status == 400
    assert json.loads(body)["message"].startswith("client version 1.12 is too old. Minimum supported API version is 1.24")
    assert "API-Version: 1.45" in head


def test_unknown_path_is_404_and_wrong_method_405(berthd):
    status, head, body = get(berthd, "/v1.45/no/such/thing")
    assert status == 404
    assert json.loads(body) == {"message": "page not found"}
    assert "Content-Type: application/json" in head
    status, head, body = get(berthd, "/info", method="DELETE")
    assert status == 405
    assert "message" in json.loads(body)
    assert "API-Version: 1.45" in head and "OSType: linux" in head


def test_cli_pinned_to_a_too_new_version_gets_dockers_error(berthd, docker):
    import subprocess
    from conftest import docker_env
    env = docker_env(berthd.host, docker.config_dir)
    env["DOCKER_API_VERSION"] = "1.99"
    p = subprocess.run(["docker", "version", "--format", "{{.Server.Version}}"], env=env, capture_output=True, text=True)
    assert p.returncode != 0
    assert "client version 1.99 is too new. Maximum supported API version is 1.45" in p.stderr
