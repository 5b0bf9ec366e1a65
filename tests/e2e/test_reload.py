"""SIGHUP reloads daemon.json as dockerd does: the reloadable options change at once (and
`docker info` shows them), running containers are not touched, a bad file keeps the old
configuration, a daemon `reload` event is emitted, and no request fails across reloads."""
import json
import os
import re
import signal
import subprocess
import threading
import time

import pytest

from conftest import TESTDATA, Berthd, DockerCLI, http_raw


@pytest.fixture(scope="module")
def daemon():
    d = Berthd(config=json.dumps({"labels": ["gen=0"]})).start()
    cli = DockerCLI(d.host)
    cli.run("load", "-i", os.path.join(TESTDATA, "fixtures", "busybox-docker-archive.tar"))
    yield d, cli
    cli.run("rm", "-f", *cli.run("ps", "-aq").stdout.split(), check=False)
    cli.cleanup()
    d.cleanup()


def write_config(d, cfg):
    with open(d.config_file + ".tmp", "w") as f:
        f.write(cfg if isinstance(cfg, str) else json.dumps(cfg))
    os.rename(d.config_file + ".tmp", d.config_file)


def hup_and_wait(d, marker):
    """SIGHUP, then wait for the log line that says how it went."""
    before = d.read_log().count(marker)
    d.proc.send_signal(signal.SIGHUP)
    deadline = time.time() + 10
    while time.time() < deadline:
        if d.read_log().count(marker) > before:
            return
        time.sleep(0.01)
    raise AssertionError("no %r after SIGHUP:\n%s" % (marker, d.read_log()[-2000:]))


def info(cli):
    return json.loads(cli.run("info", "--format", "{{json .}}").stdout)


def test_reload_applies_new_values_and_emits_an_event(daemon):
    d, cli = daemon
    ctr = cli.run("run", "-d", "busybox", "sleep", "300").stdout.strip()
    pid = cli.run("inspect", "-f", "{{.State.Pid}}", ctr).stdout.strip()
    since = str(int(time.time()) - 1)
    write_config(d, {"labels": ["gen=1", "zone=b"], "debug": True, "registry-mirrors": ["https://mirror.example"],
                     "insecure-registries": ["10.99.0.0/16"], "max-concurrent-downloads": 7,
                     "max-concurrent-uploads": 2, "max-download-attempts": 2, "shutdown-timeout": 20,
                     "features": {"containerd-snapshotter": False},
                     "proxies": {"https-proxy": "http://127.0.0.1:9", "no-proxy": "example.test"}})
    hup_and_wait(d, "Reloaded configuration")
    i = info(cli)
    assert i["Labels"] == ["gen=1", "zone=b"]
    assert i["Debug"] is True
    assert i["RegistryConfig"]["Mirrors"] == ["https://mirror.example/"]
    assert "10.99.0.0/16" in i["RegistryConfig"]["InsecureRegistryCIDRs"]
    assert i["HttpsProxy"] == "http://127.0.0.1:9" and i["NoProxy"] == "example.test"
    # the debug level is live: debug lines appear in the log from now on
    cli.run("ps")
    assert "level=debug" in d.read_log().split("Reloaded configuration")[-1]

    ev = subprocess.run(["docker", "-H", d.host, "events", "--since", since, "--until", str(int(time.time()) + 1),
                         "--filter", "type=daemon", "--format", "{{json .}}"], capture_output=True, text=True,
                        timeout=20).stdout.splitlines()
    reloads = [json.loads(e) for e in ev if json.loads(e)["Action"] == "reload"]
    assert reloads, ev
    attrs = reloads[-1]["Actor"]["Attributes"]
    assert reloads[-1]["Actor"]["ID"] == i["ID"]
    assert json.loads(attrs["labels"]) == ["gen=1", "zone=b"]
    assert attrs["debug"] == "true"
    assert attrs["max-concurrent-downloads"] == "7" and attrs["max-concurrent-uploads"] == "2"
    assert attrs["max-download-attempts"] == "2" and attrs["shutdown-timeout"] == "20"
    assert json.loads(attrs["registry-mirrors"]) == ["https://mirror.example"]

    # the running container was not touched
    assert cli.run("inspect", "-f", "{{.State.Running}} {{.State.Pid}}", ctr).stdout.split() == ["true", pid]
    cli.run("rm", "-f", ctr)


@pytest.mark.parametrize("bad", ['{"labels": "not-a-list"}', '{"labels": ["a=b"', '{"cri-containerd": true}',
                                 '{"no-such-key": 1}', '{"max-download-attempts": 0}'])
def test_a_bad_file_keeps_the_old_configuration(daemon, bad):
    d, cli = daemon
    write_config(d, {"labels": ["gen=good"], "max-concurrent-downloads": 4})
    hup_and_wait(d, "Reloaded configuration")
    assert info(cli)["Labels"] == ["gen=good"]
    write_config(d, bad)
    hup_and_wait(d, "Error reconfiguring the daemon")
    i = info(cli)
    assert i["Labels"] == ["gen=good"]
    assert d.proc.poll() is None
    log = d.read_log().split("Error reconfiguring the daemon")[-1].splitlines()[0]
    assert len(log) > 10  # says why


def test_requests_do_not_fail_across_20_reloads(daemon):
    d, cli = daemon
    stop = threading.Event()
    failures, done = [], [0]

    def hammer(path):
        while not stop.is_set():
            try:
                out = http_raw(d.sock, ("GET %s HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n" % path).encode(),
                               timeout=5)
                if not out.startswith(b"HTTP/1.1 200"):
                    failures.append((path, out[:200]))
            except OSError as e:
                failures.append((path, repr(e)))
            done[0] += 1

    threads = [threading.Thread(target=hammer, args=(p,)) for p in ("/_ping", "/info", "/containers/json", "/info")]
    for t in threads:
        t.start()
    try:
        for n in range(20):
            write_config(d, {"labels": ["gen=%d" % n], "debug": n % 2 == 0, "max-concurrent-downloads": 1 + n % 5,
                             "registry-mirrors": ["https://m%d.example" % n]})
            hup_and_wait(d, "Reloaded configuration")
            assert info(cli)["Labels"] == ["gen=%d" % n]
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert failures == []
    assert done[0] > 20
    # how long a reload takes, from berthd's own log line
    took = [int(x) for x in re.findall(r"Reloaded configuration in (\d+) us", d.read_log())][-20:]
    print("reload: median %d us, max %d us" % (sorted(took)[10], max(took)))
    assert sorted(took)[10] < 20000
