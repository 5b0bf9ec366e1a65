"""--metrics-addr: Prometheus text exposition on loopback, checked with the Prometheus
text parser (python3-prometheus-client)."""
import json
import os
import socket
import subprocess
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from conftest import BERTHD, TESTDATA, DockerCLI


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def scrape(port):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5) as r:
        assert r.status == 200
        assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = r.read().decode()
    return {f.name: f for f in text_string_to_metric_families(text)}


def value(families, name, default=None, **labels):
    for fam in families.values():
        for s in fam.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
    if default is not None:
        return default
    raise KeyError("%s%r" % (name, labels))


def test_metrics_exposition(fresh_daemon):
    port = free_port()
    d = fresh_daemon(config=json.dumps({"metrics-addr": "127.0.0.1:%d" % port}))
    cli = DockerCLI(d.host)
    try:
        m = scrape(port)
        info = json.loads(cli.run("info", "--format", "{{json .}}").stdout)
        assert value(m, "engine_daemon_engine_info", daemon_id=info["ID"], graphdriver=info["Driver"]) == 1
        assert value(m, "engine_daemon_container_states_containers", state="running") == 0
        assert m["berth_http_request_duration_seconds"].type == "histogram"
        assert value(m, "berth_http_requests_total", method="GET", route="/_ping", code="200") >= 1
        m = scrape(port)
        before = value(m, "berth_http_requests_total", default=0, method="GET", route="/info", code="200")
        assert before == 1  # the docker info above

        cli.run("load", "-i", os.path.join(TESTDATA, "fixtures", "busybox-docker-archive.tar"))
        ctr = cli.run("run", "-d", "busybox", "sleep", "60").stdout.strip()
        cli.run("create", "busybox", "true")
        before = value(scrape(port), "berth_http_requests_total", method="GET", route="/info", code="200")
        cli.run("info")
        m = scrape(port)
        assert value(m, "berth_http_requests_total", method="GET", route="/info", code="200") == before + 1
        cli.run("container", "inspect", "no-such-thing", check=False)
        m = scrape(port)
        assert value(m, "engine_daemon_container_states_containers", state="running") == 1
        assert value(m, "engine_daemon_container_states_containers", state="stopped") == 1
        assert value(m, "berth_shims_alive") == 1
        assert value(m, "berth_images") >= 1
        assert value(m, "berth_http_requests_total", method="POST", route="/containers/{id}/start", code="204") == 1
        assert value(m, "berth_http_requests_total", method="GET", route="/containers/{id}/json", code="404") >= 1
        count = value(m, "berth_http_request_duration_seconds_count", method="POST", route="/containers/create",
                      code="201")
        assert count == 2
        assert value(m, "berth_http_request_duration_seconds_bucket", method="POST", route="/containers/create",
                     code="201", le="+Inf") == count
        assert value(m, "engine_daemon_events_total") >= 4  # create, start, create, ...
        # container actions and image events by action
        assert value(m, "berth_events_by_action_total", type="container", action="create") == 2
        assert value(m, "berth_events_by_action_total", type="container", action="start") == 1
        assert value(m, "berth_events_by_action_total", type="image", action="load") >= 1
        assert value(m, "process_open_fds") > 0
        assert value(m, "process_resident_memory_bytes") > 1 << 20
        cli.run("rm", "-f", ctr)

        # anything but /metrics is 404, and a silent client does not block the next one
        silent = socket.create_connection(("127.0.0.1", port))
        try:
            with pytest.raises(urllib.error.HTTPError) as e:
                urllib.request.urlopen("http://127.0.0.1:%d/other" % port, timeout=5)
            assert e.value.code == 404
        finally:
            silent.close()
    finally:
        cli.cleanup()


@pytest.mark.parametrize("addr", ["0.0.0.0:9323", "192.0.2.1:9323", "127.0.0.1", "127.0.0.1:0x10"])
def test_metrics_addr_off_loopback_or_malformed_is_refused(addr):
    p = subprocess.run([BERTHD, "--validate", "--metrics-addr", addr], capture_output=True, text=True, timeout=10)
    assert p.returncode != 0
    assert "metrics-addr" in p.stderr
