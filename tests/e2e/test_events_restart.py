"""docker events for container actions, and restart policies."""
import json
import subprocess
import time

import pytest

from test_containers import images  # noqa: F401  (module fixture: loads the images)
from conftest import docker_env


def test_events_stream_container_lifecycle(berthd, docker, images):
    env = docker_env(berthd.host, docker.config_dir)
    ev = subprocess.Popen(["docker", "events", "--filter", "type=container", "--format",
                           "{{.Action}} {{.Actor.Attributes.name}} {{.Actor.Attributes.exitCode}}"],
                          stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True, env=env)
    try:
        time.sleep(0.5)
        docker.run("run", "--name", "evt", "busybox", "sh", "-c", "exit 2", check=False)
        docker.run("rm", "evt")
        seen = []
        deadline = time.time() + 10
        while time.time() < deadline and not any(l.startswith("destroy evt") for l in seen):
            seen.append(ev.stdout.readline().strip())
        actions = [l.split()[0] for l in seen if " evt" in l]
        assert actions[:1] == ["create"]
        assert "start" in actions and "destroy" in actions
        assert "die evt 2" in seen
    finally:
        ev.terminate()
        ev.wait()


def test_events_since_until_replay_with_filter(docker, images):
    start = time.time()
    docker.run("run", "--rm", "busybox", "sh", "-c", "exit 4", check=False)
    p = docker.run("events", "--since", "%.3f" % (start - 1), "--until", "%.3f" % (time.time() + 1),
                   "--filter", "event=die", "--format", "{{json .}}", timeout=20)
    events = [json.loads(l) for l in p.stdout.splitlines()]
    assert any(e["Action"] == "die" and e["Actor"]["Attributes"]["exitCode"] == "4" for e in events)
    assert all(e["Action"] == "die" for e in events)


def wait_for(fn, timeout=15):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if fn():
            return True
        time.sleep(0.1)
    return False


def inspect(docker, name):
    return json.loads(docker.run("inspect", name).stdout)[0]


def test_restart_on_failure_counts_and_stops(docker, images):
    docker.run("run", "-d", "--name", "flaky", "--restart", "on-failure:2", "busybox", "sh", "-c", "exit 1")
    assert wait_for(lambda: inspect(docker, "flaky")["RestartCount"] == 2 and
                    inspect(docker, "flaky")["State"]["Status"] == "exited")
    time.sleep(1.5)
    assert inspect(docker, "flaky")["RestartCount"] == 2
    docker.run("rm", "flaky")


def test_restart_always_until_stopped(docker, images):
    docker.run("run", "-d", "--name", "phoenix", "--restart", "always", "busybox", "sh", "-c", "sleep 0.3; exit 3")
    assert wait_for(lambda: inspect(docker, "phoenix")["RestartCount"] >= 1)
    docker.run("stop", "-t", "1", "phoenix")
    n = inspect(docker, "phoenix")["RestartCount"]
    time.sleep(1.5)
    o = inspect(docker, "phoenix")
    assert o["State"]["Status"] == "exited" and o["RestartCount"] == n
    docker.run("rm", "phoenix")


def test_bad_restart_policy_is_400(docker, images):
    p = docker.run("create", "--restart", "sometimes", "busybox", "true", check=False)
    assert p.returncode != 0
    assert "invalid restart policy" in p.stderr
    p = docker.run("create", "--rm", "--restart", "always", "busybox", "true", check=False)
    assert p.returncode != 0


def test_events_filters_by_container_and_label_as_the_cli_sends_them(docker, images):
    """The CLI sends filters as {"key": {"value": true}}: container and label filters too."""
    start = time.time()
    docker.run("run", "--name", "evf-a", "--label", "evf=yes", "busybox", "true")
    docker.run("run", "--name", "evf-b", "busybox", "true")
    try:
        def names(*filters):
            args = ["events", "--since", "%.3f" % (start - 1), "--until", "%.3f" % (time.time() + 1),
                    "--format", "{{json .}}"]
            for f in filters:
                args += ["--filter", f]
            out = docker.run(*args, timeout=20).stdout
            return {json.loads(l)["Actor"]["Attributes"].get("name") for l in out.splitlines()}
        assert names("container=evf-a") == {"evf-a"}
        assert names("label=evf=yes") == {"evf-a"}
        assert names("type=container", "label=evf=no") == set()
    finally:
        docker.run("rm", "-f", "evf-a", "evf-b", check=False)
