"""dockerode, the Node.js client, against berthd: tests/e2e/node/smoke.js drives containers,
logs, exec (with and without hijack), top, stats, pause and filters through it. The npm
packages are installed by scripts/install-deps.sh (make deps) from the committed lock file."""
import os
import subprocess

from conftest import TESTDATA

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "node")


def test_dockerode_smoke(berthd, docker):
    assert os.path.isdir(os.path.join(HERE, "node_modules", "dockerode")), "run `make deps` (npm ci in tests/e2e/node)"
    docker.run("load", "-i", os.path.join(TESTDATA, "fixtures", "busybox-docker-archive.tar"))
    p = subprocess.run(["node", os.path.join(HERE, "smoke.js"), berthd.sock], capture_output=True, text=True,
                       timeout=120, stdin=subprocess.DEVNULL)
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stdout.splitlines()[-1] == "ok removed"
