"""docker stats: the container's cgroup counters in dockerd's shape, streamed once a second."""
import json
import os
import time

import pytest

from conftest import TESTDATA


@pytest.fixture(scope="module")
def images(docker):
    docker.run("load", "-i", os.path.join(TESTDATA, "fixtures", "busybox-docker-archive.tar"))


def test_stats_no_stream_through_the_cli(docker, images):
    busy = docker.run("run", "-d", "--memory", "64m", "busybox", "sh", "-c", "while true; do :; done").stdout.strip()
    idle = docker.run("run", "-d", "busybox", "sleep", "300").stdout.strip()
    try:
        out = docker.run("stats", "--no-stream", "--format", "{{.ID}} {{.CPUPerc}} {{.MemUsage}} {{.PIDs}}",
                         busy, idle, timeout=30).stdout.splitlines()
        rows = {l.split()[0]: l.split() for l in out}
        b, i = rows[busy[:12]], rows[idle[:12]]
        assert float(b[1].rstrip("%")) > 30.0  # a busy loop on one of the cores
        assert float(i[1].rstrip("%")) < 10.0
        assert b[4] == "64MiB"  # usage / limit
        assert b[5] == "1" and i[5] == "1"
        s = json.loads(docker.run("stats", "--no-stream", "--format", "{{json .}}", idle, timeout=30).stdout)
        assert s["Name"] and s["PIDs"] == "1"
        assert s["MemUsage"].split(" / ")[1] != "8EiB"  # unlimited reads as the machine's memory
    finally:
        docker.run("rm", "-f", busy, idle)


def test_stats_stream_with_dockerpy(client, images):
    c = client.containers.run("busybox", ["sleep", "300"], detach=True)
    try:
        stream = c.stats(stream=True, decode=True)
        t = time.time()
        first, second = next(stream), next(stream)
        assert time.time() - t < 5
        for k in ("read", "preread", "cpu_stats", "precpu_stats", "memory_stats", "pids_stats", "blkio_stats",
                  "name", "id"):
            assert k in second, k
        assert second["id"] == c.id and second["name"] == "/" + c.name
        assert second["precpu_stats"]["cpu_usage"]["total_usage"] == first["cpu_stats"]["cpu_usage"]["total_usage"]
        assert second["cpu_stats"]["system_cpu_usage"] > first["cpu_stats"]["system_cpu_usage"]
        assert second["cpu_stats"]["online_cpus"] == os.cpu_count()
        assert second["memory_stats"]["usage"] > 0 and second["pids_stats"]["current"] == 1
        api = client.api
        one = api._result(api._get(api._url("/containers/{0}/stats", c.id),
                                   params={"stream": "false", "one-shot": "true"}), True)
        assert one["precpu_stats"]["cpu_usage"]["total_usage"] == 0 and "system_cpu_usage" not in one["precpu_stats"]
    finally:
        c.remove(force=True)


def test_stats_of_a_stopped_container_is_one_blank_object(client, images):
    c = client.containers.create("busybox", ["true"])
    try:
        objs = list(c.stats(stream=True, decode=True))
        assert len(objs) == 1
        assert objs[0]["cpu_stats"]["cpu_usage"]["total_usage"] == 0 and objs[0]["memory_stats"] == {}
    finally:
        c.remove()
