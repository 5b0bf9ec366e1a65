"""docker build with the classic builder (issue 12): the stock CLI with DOCKER_BUILDKIT=0
and docker-py's images.build against berthd, checked the way a user sees the result:
the output stream, the images it makes (layers, history, parent chain), the cache, and
that a failed or abandoned build leaves nothing behind."""
import io
import json
import lzma
import os
import re
import shutil
import socket
import subprocess
import tarfile
import tempfile
import time

import pytest

from conftest import TESTDATA, docker_env


@pytest.fixture(scope="module", autouse=True)
def busybox(docker):
    docker.run("load", "-i", os.path.join(TESTDATA, "fixtures", "busybox-docker-archive.tar"))


def build(docker, ctx, *args, input=None, check=True, timeout=120):
    """`DOCKER_BUILDKIT=0 docker build` in @ctx; the CLI's output (stdout + stderr)."""
    env = docker_env(docker.host, docker.config_dir)
    env["DOCKER_BUILDKIT"] = "0"
    p = subprocess.run(["docker", "build", *args, "."], cwd=ctx, input=input, capture_output=True, text=True,
                       env=env, timeout=timeout, stdin=subprocess.DEVNULL if input is None else None)
    if check and p.returncode != 0:
        raise AssertionError("docker build failed (%d):\n%s\n%s" % (p.returncode, p.stdout, p.stderr))
    return p


def make_ctx(files):
    d = tempfile.mkdtemp(prefix="berth-build-")
    for name, data in files.items():
        path = os.path.join(d, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb" if isinstance(data, bytes) else "w") as f:
            f.write(data)
    return d


def steps(out):
    """The builder's own lines, in order, from the CLI's output."""
    keep = ("Step ", " ---> ", "Removing intermediate", "Successfully", "[Warning]")
    return [l for l in out.splitlines() if l.startswith(keep)]


def image_id(docker, ref):
    return docker.run("image", "inspect", "-f", "{{.Id}}", ref).stdout.strip()


def leftovers(berthd, docker):
    """What a build may leave: containers, mounts under the data root, files in DATA-ROOT/tmp."""
    ctrs = docker.run("ps", "-aq").stdout.split()
    with open("/proc/self/mountinfo") as f:
        mounts = [l.split()[4] for l in f if l.split()[4].startswith(os.path.join(berthd.data_root, "tmp"))]
    tmp = os.listdir(os.path.join(berthd.data_root, "tmp"))
    return ctrs, mounts, tmp


def test_build_multistage_copy_from_output_and_image(berthd, docker):
    ctx = make_ctx({
        "Dockerfile": "FROM busybox AS builder\n"
                      "RUN mkdir /out && echo built > /out/result\n"
                      "FROM busybox\n"
                      "ENV GREETING=\"hello world\"\n"
                      "COPY --from=builder /out/result /app/result\n"
                      "WORKDIR /app\n"
                      "CMD [\"cat\", \"/app/result\"]\n",
    })
    p = build(docker, ctx, "-t", "bt-multi")
    lines = steps(p.stdout)
    assert lines[0] == "Step 1/7 : FROM busybox AS builder"
    assert re.fullmatch(r" ---> [0-9a-f]{12}", lines[1])
    assert lines[2] == "Step 2/7 : RUN mkdir /out && echo built > /out/result"
    assert re.fullmatch(r" ---> Running in [0-9a-f]{12}", lines[3])
    cid = lines[3].split()[-1]
    assert lines[4] == "Removing intermediate container " + cid
    assert lines[6] == "Step 3/7 : FROM busybox"
    assert "Step 5/7 : COPY --from=builder /out/result /app/result" in lines
    final = image_id(docker, "bt-multi")
    assert lines[-2] == "Successfully built " + final[7:19]
    assert lines[-1] == "Successfully tagged bt-multi:latest"
    assert docker.run("run", "--rm", "bt-multi").stdout == "built\n"
    cfg = json.loads(docker.run("image", "inspect", "bt-multi").stdout)[0]
    assert cfg["Config"]["WorkingDir"] == "/app"
    assert "GREETING=hello world" in cfg["Config"]["Env"]
    # one layer per filesystem change: busybox's and the COPY's (WORKDIR's /app was there)
    assert len(cfg["RootFS"]["Layers"]) == 2
    assert cfg["Parent"].startswith("sha256:")
    hist = docker.run("history", "--no-trunc", "--format", "{{.CreatedBy}}", "bt-multi").stdout.splitlines()
    assert hist[0] == '/bin/sh -c #(nop)  CMD ["cat" "/app/result"]'
    assert hist[1] == "/bin/sh -c #(nop) WORKDIR /app"
    assert re.fullmatch(r"/bin/sh -c #\(nop\) COPY file:[0-9a-f]{64} in /app/result ", hist[2])
    assert hist[3] == "/bin/sh -c #(nop)  ENV GREETING=hello world"
    # intermediate images show with -a only
    plain = docker.run("images", "-q").stdout.split()
    every = docker.run("images", "-aq").stdout.split()
    assert cfg["Parent"][7:19] in every and cfg["Parent"][7:19] not in plain
    assert leftovers(berthd, docker) == ([], [], [])


def test_build_cached_rebuild_and_changed_file(berthd, docker):
    ctx = make_ctx({
        "Dockerfile": "FROM busybox\nENV A=1\nCOPY a.txt /a.txt\nCOPY b.txt /b.txt\nRUN cat /a.txt /b.txt > /both\n"
                      "LABEL x=y\n",
        "a.txt": "a\n",
        "b.txt": "b\n",
    })
    first = build(docker, ctx, "-t", "bt-cache")
    id1 = image_id(docker, "bt-cache")
    again = steps(build(docker, ctx, "-t", "bt-cache").stdout)
    assert again.count(" ---> Using cache") == 5
    assert not any("Running in" in l for l in again)
    assert image_id(docker, "bt-cache") == id1
    # mtimes are not part of the cache key
    os.utime(os.path.join(ctx, "a.txt"), (1, 1))
    assert steps(build(docker, ctx, "-t", "bt-cache").stdout).count(" ---> Using cache") == 5
    # a changed file invalidates its step and the later ones only
    with open(os.path.join(ctx, "b.txt"), "w") as f:
        f.write("B\n")
    changed = steps(build(docker, ctx, "-t", "bt-cache").stdout)
    cached_steps = [changed[i - 1] for i, l in enumerate(changed) if l == " ---> Using cache"]
    assert cached_steps == ["Step 2/6 : ENV A=1", "Step 3/6 : COPY a.txt /a.txt"]
    assert image_id(docker, "bt-cache") != id1
    assert docker.run("run", "--rm", "bt-cache", "cat", "/both").stdout == "a\nB\n"
    # --no-cache builds everything again
    assert " ---> Using cache" not in build(docker, ctx, "--no-cache", "-t", "bt-cache").stdout
    assert first.returncode == 0


def test_build_dockerignore_with_exceptions(docker):
    ctx = make_ctx({
        "Dockerfile": "FROM busybox\nCOPY . /ctx/\nRUN cd /ctx && find . | sort\n",
        ".dockerignore": "# comment\n*.md\n!important.md\nlogs\n**/*.tmp\n",
        "keep.txt": "k",
        "notes.md": "n",
        "important.md": "i",
        "logs/a.log": "l",
        "deep/er/x.tmp": "t",
        "deep/er/y.txt": "y",
    })
    out = build(docker, ctx, "-t", "bt-ignore").stdout
    listed = [l for l in out.splitlines() if l.startswith("./")]
    assert sorted(listed) == sorted(["./.dockerignore", "./Dockerfile", "./deep", "./deep/er", "./deep/er/y.txt",
                                     "./important.md", "./keep.txt"])


def test_build_failing_run_message_exit_status_and_cleanup(berthd, docker):
    ctx = make_ctx({"Dockerfile": "FROM busybox\nRUN echo about to fail\nRUN echo out; exit 3\n"})
    p = build(docker, ctx, "-t", "bt-fail", check=False)
    assert p.returncode == 3
    assert "out\n" in p.stdout
    assert "The command '/bin/sh -c echo out; exit 3' returned a non-zero code: 3" in p.stderr
    assert leftovers(berthd, docker) == ([], [], [])
    # the API's error message carries the code, as dockerd's
    import docker as dockerpy
    api = dockerpy.APIClient(base_url=berthd.host, version="auto")
    with open(os.path.join(ctx, "Dockerfile"), "rb") as f:
        df = f.read()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        ti = tarfile.TarInfo("Dockerfile")
        ti.size = len(df)
        t.addfile(ti, io.BytesIO(df))
    msgs = list(api.build(fileobj=io.BytesIO(buf.getvalue()), custom_context=True, decode=True))
    assert msgs[-1] == {"errorDetail": {"code": 3, "message": "The command '/bin/sh -c echo out; exit 3' returned a non-zero code: 3"},
                        "error": "The command '/bin/sh -c echo out; exit 3' returned a non-zero code: 3"}


def test_build_args_target_and_labels(docker):
    ctx = make_ctx({
        "Dockerfile": "ARG BASE=busybox\n"
                      "FROM $BASE AS one\n"
                      "ARG MSG=default\n"
                      "ARG OTHER\n"
                      "RUN echo \"msg=$MSG other=${OTHER:-unset}\" > /msg\n"
                      "LABEL stage=one\n"
                      "FROM busybox AS two\n"
                      "RUN echo never\n",
    })
    p = build(docker, ctx, "--build-arg", "MSG=hi", "--build-arg", "UNUSED=1", "--target", "one",
              "--label", "org.example=yes", "-t", "bt-args")
    out = steps(p.stdout)
    assert "Step 1/7 : ARG BASE=busybox" in out
    assert "Step 7/7 : LABEL org.example=yes" in out
    assert not any("never" in l for l in out)
    assert "[Warning] One or more build-args [UNUSED] were not consumed" in out
    assert docker.run("run", "--rm", "bt-args", "cat", "/msg").stdout == "msg=hi other=unset\n"
    labels = json.loads(docker.run("image", "inspect", "-f", "{{json .Config.Labels}}", "bt-args").stdout)
    assert labels == {"stage": "one", "org.example": "yes"}
    hist = docker.run("history", "--no-trunc", "--format", "{{.CreatedBy}}", "bt-args").stdout
    assert "|1 MSG=hi /bin/sh -c echo" in hist
    p = build(docker, ctx, "--target", "nope", check=False)
    assert p.returncode != 0 and "failed to reach build target nope in Dockerfile" in p.stderr


def test_build_onbuild_triggers_run_in_children(docker):
    parent = make_ctx({"Dockerfile": "FROM busybox\nONBUILD RUN echo triggered > /trig\n"})
    build(docker, parent, "-t", "bt-onbuild")
    child = make_ctx({"Dockerfile": "FROM bt-onbuild\nRUN cat /trig\n"})
    out = build(docker, child, "-t", "bt-onbuild-child").stdout
    assert "# Executing 1 build trigger" in out
    assert "triggered" in out
    onbuild = docker.run("image", "inspect", "-f", "{{json .Config.OnBuild}}", "bt-onbuild-child").stdout.strip()
    assert onbuild in ("null", "[]")


def test_build_add_local_tar_xz_is_unpacked(docker):
    inner = io.BytesIO()
    with tarfile.open(fileobj=inner, mode="w") as t:
        for name, data in (("pkg/hello.txt", b"hello from xz\n"), ("pkg/bin/tool", b"#!/bin/sh\necho tool\n")):
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            ti.mode = 0o755 if "bin" in name else 0o644
            t.addfile(ti, io.BytesIO(data))
    ctx = make_ctx({"Dockerfile": "FROM busybox\nADD files.tar.xz /opt/\nCOPY files.tar.xz /raw/\n",
                    "files.tar.xz": lzma.compress(inner.getvalue())})
    build(docker, ctx, "-t", "bt-add")
    assert docker.run("run", "--rm", "bt-add", "cat", "/opt/pkg/hello.txt").stdout == "hello from xz\n"
    assert docker.run("run", "--rm", "bt-add", "/opt/pkg/bin/tool").stdout == "tool\n"
    assert docker.run("run", "--rm", "bt-add", "ls", "/raw").stdout == "files.tar.xz\n"


def raw_build(berthd, context, query="", timeout=30):
    """POST /build with @context as the body; (status, body)."""
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(timeout)
    s.connect(berthd.sock)
    s.sendall(b"POST /v1.45/build?%s HTTP/1.1\r\nHost: d\r\nContent-Type: application/x-tar\r\n"
              b"Content-Length: %d\r\nConnection: close\r\n\r\n" % (query.encode(), len(context)) + context)
    out = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        out += chunk
    s.close()
    head, _, body = out.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


def tar_of(entries):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        for name, kind, data in entries:
            ti = tarfile.TarInfo(name)
            if kind == "sym":
                ti.type = tarfile.SYMTYPE
                ti.linkname = data
                t.addfile(ti)
            else:
                b = data.encode()
                ti.size = len(b)
                t.addfile(ti, io.BytesIO(b))
    return buf.getvalue()


def test_build_hostile_contexts_refused(berthd, docker):
    df = ("Dockerfile", "file", "FROM busybox\nCOPY x /x\nRUN cat /x\n")
    outside = os.path.join(os.path.dirname(berthd.data_root), "escaped")
    status, body = raw_build(berthd, tar_of([df, ("../../escaped", "file", "evil")]))
    assert status == 400 and b"outside" in body
    assert not os.path.exists(outside)
    # a symlink in the context is followed inside it only: /etc/shadow is the context's own
    status, body = raw_build(berthd, tar_of([df, ("x", "sym", "/etc/shadow")]))
    assert status == 200
    assert b"COPY failed: file not found in build context or excluded by .dockerignore: stat x: file does not exist" in body
    status, body = raw_build(berthd, tar_of([df, ("x", "sym", "../../../../../../etc/hostname")]))
    assert b"file does not exist" in body
    status, body = raw_build(berthd, tar_of([("Dockerfile", "file", "FROM busybox\nCOPY ../x /x\n"), ("x", "file", "a")]))
    assert b"COPY failed: forbidden path outside the build context: ../x ()" in body
    # not a tar at all
    status, body = raw_build(berthd, b"this is not an archive" * 100)
    assert status == 400
    status, body = raw_build(berthd, tar_of([("Dockerfile", "file", "FROM busybox\nFOO bar\n")]))
    assert status == 400 and json.loads(body) == {"message": "dockerfile parse error on line 2: unknown instruction: FOO"}
    status, body = raw_build(berthd, tar_of([("x", "file", "no dockerfile")]))
    assert status == 400 and json.loads(body) == {"message": "Cannot locate specified Dockerfile: Dockerfile"}
    assert leftovers(berthd, docker) == ([], [], [])


def test_build_unsupported_options_answer_in_words(berthd):
    ctx = tar_of([("Dockerfile", "file", "FROM busybox\n")])
    status, body = raw_build(berthd, ctx, "platform=linux/arm64")
    assert status == 501 and b"linux/arm64" in body
    status, body = raw_build(berthd, ctx, "squash=1")
    assert status == 400 and b"experimental" in body


def test_build_quiet_dockerfile_from_stdin_and_nested_path(docker):
    ctx = make_ctx({"sub/Dockerfile.dev": "FROM busybox\nCOPY f /f\n", "f": "file\n"})
    p = build(docker, ctx, "-q", "-f", "sub/Dockerfile.dev", "-t", "bt-quiet")
    assert p.stdout.strip() == image_id(docker, "bt-quiet")
    p = build(docker, ctx, "-f", "-", "-t", "bt-stdin", input="FROM busybox\nCOPY f /copied\nRUN cat /copied\n")
    assert "file\n" in p.stdout
    assert docker.run("run", "--rm", "bt-stdin", "ls", "/").stdout.split().count("copied") == 1


def test_build_docker_py(berthd, client):
    ctx = make_ctx({"Dockerfile": "FROM busybox\nARG V\nRUN echo v=$V > /v\nEXPOSE 8080\nUSER nobody\n"})
    img, logs = client.images.build(path=ctx, tag="bt-py:1", buildargs={"V": "42"}, rm=True)
    logs = list(logs)
    assert {"aux": {"ID": img.id}} in logs
    assert "bt-py:1" in img.tags
    assert img.attrs["Config"]["ExposedPorts"] == {"8080/tcp": {}}
    assert img.attrs["Config"]["User"] == "nobody"
    assert client.containers.run("bt-py:1", "cat /v", remove=True) == b"v=42\n"


def test_build_client_going_away_leaves_nothing(berthd, docker):
    ctx = tar_of([("Dockerfile", "file", "FROM busybox\nRUN echo started; sleep 60\n")])
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(20)
    s.connect(berthd.sock)
    s.sendall(b"POST /v1.45/build?nocache=1 HTTP/1.1\r\nHost: d\r\nContent-Type: application/x-tar\r\n"
              b"Content-Length: %d\r\n\r\n" % len(ctx) + ctx)
    seen = b""
    while b"\"stream\":\"started\\n\"" not in seen:
        chunk = s.recv(65536)
        assert chunk, seen
        seen += chunk
    assert docker.run("ps", "-q").stdout.strip()
    s.close()
    deadline = time.time() + 20
    while time.time() < deadline and leftovers(berthd, docker) != ([], [], []):
        time.sleep(0.2)
    assert leftovers(berthd, docker) == ([], [], [])


def test_build_layered_fixture_like_the_reference_engine(docker):
    """The fixture's Dockerfile (every metadata instruction, two RUN layers) builds into
    the Config and history the reference dockerd 20.10 made."""
    src = os.path.join(TESTDATA, "fixtures", "src", "layered")
    build(docker, src, "-t", "bt-layered")
    docker.run("load", "-i", os.path.join(TESTDATA, "fixtures", "layered-docker-archive.tar"))
    ref = json.loads(docker.run("image", "inspect", "layered:latest").stdout)[0]
    got = json.loads(docker.run("image", "inspect", "bt-layered").stdout)[0]
    ref["Config"].pop("Image", None)
    got["Config"].pop("Image", None)
    assert got["Config"] == ref["Config"]
    assert len(got["RootFS"]["Layers"]) == len(ref["RootFS"]["Layers"])
    assert got["RootFS"]["Layers"][0] == ref["RootFS"]["Layers"][0]

    def history(ref):
        return docker.run("history", "--no-trunc", "--format", "{{.CreatedBy}}|{{.Size}}", ref).stdout
    assert history("bt-layered") == history("layered:latest")
    out = docker.run("run", "--rm", "--entrypoint", "/app/bin/greet", "bt-layered").stdout
    assert out == "hello world from nobody\n"


def test_build_from_scratch(docker):
    """FROM scratch with the busybox fixture's root filesystem, as its Dockerfile does."""
    ctx = make_ctx({"Dockerfile": "FROM scratch\nCOPY rootfs/ /\nCMD [\"sh\"]\n"})
    cid = docker.run("create", "busybox").stdout.strip()
    exported = subprocess.run(["docker", "export", cid], capture_output=True,
                              env=docker_env(docker.host, docker.config_dir), check=True).stdout
    docker.run("rm", cid)
    os.makedirs(os.path.join(ctx, "rootfs"))
    with tarfile.open(fileobj=io.BytesIO(exported)) as t:
        t.extractall(os.path.join(ctx, "rootfs"))
    out = steps(build(docker, ctx, "-t", "bt-scratch").stdout)
    assert out[:2] == ["Step 1/3 : FROM scratch", " ---> "]
    assert docker.run("run", "--rm", "bt-scratch", "echo", "from scratch").stdout == "from scratch\n"
    cfg = json.loads(docker.run("image", "inspect", "bt-scratch").stdout)[0]
    assert cfg["Config"]["Cmd"] == ["sh"] and len(cfg["RootFS"]["Layers"]) == 1


COMPOSE = shutil.which("docker-compose")


@pytest.mark.skipif(COMPOSE is None, reason="docker-compose is not installed (packages.txt lists it)")
def test_compose_build_and_up_two_services(berthd, docker):
    d = make_ctx({
        "docker-compose.yml": "version: \"3.8\"\n"
                              "services:\n"
                              "  api:\n"
                              "    build: ./api\n"
                              "    image: btcompose-api\n"
                              "  worker:\n"
                              "    build:\n"
                              "      context: ./worker\n"
                              "      dockerfile: Dockerfile.worker\n"
                              "      args: {ROLE: worker}\n"
                              "    command: [\"sh\", \"-c\", \"cat /role; sleep 600\"]\n",
        "api/Dockerfile": "FROM busybox\nCOPY index.html /www/index.html\nCMD [\"httpd\", \"-f\", \"-p\", \"80\", \"-h\", \"/www\"]\n",
        "api/index.html": "api page\n",
        "worker/Dockerfile.worker": "FROM busybox\nARG ROLE\nRUN echo \"role=$ROLE\" > /role\n",
    })
    env = docker_env(berthd.host, docker.config_dir)
    env["COMPOSE_PROJECT_NAME"] = "btbuild"
    env["DOCKER_BUILDKIT"] = "0"
    env["COMPOSE_DOCKER_CLI_BUILD"] = "0"
    run = lambda *a: subprocess.run([COMPOSE, *a], cwd=d, env=env, capture_output=True, text=True, timeout=180)
    try:
        p = run("build")
        assert p.returncode == 0, p.stdout + p.stderr
        assert "Successfully tagged btcompose-api:latest" in p.stdout + p.stderr
        assert docker.run("run", "--rm", "btcompose-api", "cat", "/www/index.html").stdout == "api page\n"
        p = run("up", "-d", "--build")
        assert p.returncode == 0, p.stdout + p.stderr
        out = ""
        for _ in range(40):
            out = docker.run("logs", "btbuild_worker_1", check=False).stdout
            if out:
                break
            time.sleep(0.25)
        assert out == "role=worker\n"
    finally:
        run("down")


def test_build_from_pulls_a_missing_image(docker):
    """FROM an image that is not here pulls it (through the same code as docker pull),
    with its progress in the build's output."""
    from registry import Registry, extract_storage
    storage = tempfile.mkdtemp(prefix="berth-build-registry-")
    extract_storage(os.path.join(TESTDATA, "fixtures", "registry", "peer-registry-storage.tar"), storage)
    reg = Registry(storage=storage).start()
    try:
        ctx = make_ctx({"Dockerfile": "FROM %s/busybox\nRUN echo pulled base\n" % reg.host})
        out = build(docker, ctx, "-t", "bt-pulled").stdout
        assert "Pulling from busybox" in out
        assert "Status: Downloaded newer image for %s/busybox:latest" % reg.host in out
        assert "pulled base" in out
        assert docker.run("image", "inspect", "-f", "{{.Id}}", reg.host + "/busybox").stdout.strip()
        # with --pull the image is fetched again even when it is here
        out = build(docker, ctx, "--pull", "-t", "bt-pulled").stdout
        assert "Pulling from busybox" in out
    finally:
        reg.cleanup()
        subprocess.run(["rm", "-rf", storage])


def test_build_from_a_private_registry_uses_the_cli_credentials(docker):
    """FROM an image behind Basic auth: the CLI sends its logins in X-Registry-Config and
    the pull uses the one for that registry."""
    from registry import Registry
    bcrypt = pytest.importorskip("bcrypt")
    base = tempfile.mkdtemp(prefix="berth-build-auth-")
    hp = os.path.join(base, "htpasswd")
    with open(hp, "w") as f:
        f.write("bob:%s\n" % bcrypt.hashpw(b"pa55", bcrypt.gensalt(rounds=5)).decode())
    reg = Registry(htpasswd=hp).start()
    name = reg.host + "/private/busybox"
    try:
        docker.run("login", reg.host, "-u", "bob", "--password-stdin", input="pa55\n")
        docker.run("tag", "busybox", name)
        docker.run("push", name)
        docker.run("rmi", name)
        ctx = make_ctx({"Dockerfile": "FROM %s\nRUN echo private base\n" % name})
        out = build(docker, ctx, "-t", "bt-private").stdout
        assert "Status: Downloaded newer image for %s:latest" % name in out
        docker.run("logout", reg.host)
        docker.run("rmi", "bt-private", name)
        p = build(docker, ctx, "-t", "bt-private", check=False)
        assert p.returncode != 0 and "authentication required" in p.stderr
    finally:
        reg.cleanup()
        subprocess.run(["rm", "-rf", base])


def test_build_copy_forms_chown_shell_and_run_options(docker):
    ctx = make_ctx({
        "Dockerfile": "FROM busybox\n"
                      "ENV DEST=/files\n"
                      "COPY --chown=nobody:nobody *.txt $DEST/\n"
                      "COPY --chown=123:456 dir /copied-dir\n"
                      "COPY one.txt /renamed\n"
                      "SHELL [\"/bin/sh\", \"-e\", \"-c\"]\n"
                      "RUN [\"sh\", \"-c\", \"stat -c '%U:%G %n' /files/*.txt > /owners; stat -c '%u:%g %n' /copied-dir/sub/f >> /owners\"]\n"
                      "RUN cat /etc/hosts | grep -c buildhost > /hosts-seen; ip -o link | grep -vc ' lo:' > /links || true\n"
                      "RUN cat /sys/fs/cgroup/memory/memory.limit_in_bytes > /mem 2>/dev/null || cat /sys/fs/cgroup/memory.max > /mem\n",
        "one.txt": "1\n",
        "two.txt": "2\n",
        "dir/sub/f": "f\n",
    })
    build(docker, ctx, "--add-host", "buildhost:10.9.9.9", "--network", "none", "--memory", "64m", "-t", "bt-forms")
    run = lambda *cmd: docker.run("run", "--rm", "bt-forms", *cmd).stdout
    assert run("cat", "/owners") == "nobody:nobody /files/one.txt\nnobody:nobody /files/two.txt\n123:456 /copied-dir/sub/f\n"
    assert run("cat", "/renamed") == "1\n"
    assert run("cat", "/hosts-seen") == "1\n"
    assert run("cat", "/links") == "0\n"
    assert run("cat", "/mem").strip() == str(64 << 20)
    hist = docker.run("history", "--no-trunc", "--format", "{{.CreatedBy}}", "bt-forms").stdout
    assert re.search(r"^/bin/sh -c #\(nop\) COPY multi:[0-9a-f]{64} in /files/ $", hist, re.M)
    assert re.search(r"^/bin/sh -c #\(nop\) COPY dir:[0-9a-f]{64} in /copied-dir $", hist, re.M)
    # more than one source needs a directory destination
    bad = make_ctx({"Dockerfile": "FROM busybox\nCOPY one.txt two.txt /dest\n", "one.txt": "1", "two.txt": "2"})
    p = build(docker, bad, check=False)
    assert p.returncode != 0
    assert "When using COPY with more than one source file, the destination must be a directory and end with a /" in p.stderr
    # what berth does not do says so
    url = make_ctx({"Dockerfile": "FROM busybox\nADD http://127.0.0.1:1/x /x\n"})
    p = build(docker, url, check=False)
    assert p.returncode != 0 and "error downloading http://127.0.0.1:1/x" in p.stderr
    chmod = make_ctx({"Dockerfile": "FROM busybox\nCOPY --chmod=755 x /x\n", "x": "x"})
    p = build(docker, chmod, check=False)
    assert p.returncode != 0 and "the --chmod option requires BuildKit" in p.stderr


def test_build_rm_false_keeps_containers_forcerm_removes_failed(berthd, docker):
    ctx = make_ctx({"Dockerfile": "FROM busybox\nRUN echo kept > /k\n"})
    build(docker, ctx, "--rm=false", "--no-cache", "-t", "bt-keep")
    kept = docker.run("ps", "-aq").stdout.split()
    assert len(kept) == 1
    docker.run("rm", *kept)
    failing = make_ctx({"Dockerfile": "FROM busybox\nRUN exit 1\n"})
    p = build(docker, failing, "--force-rm", check=False)
    assert p.returncode == 1
    assert leftovers(berthd, docker) == ([], [], [])


def test_build_without_buildkit_env_several_tags_and_warnings(berthd, docker):
    """The CLI picks the classic builder from the ping's Builder-Version (no buildx
    here); several -t; dockerd's warning for an empty continuation line."""
    ping = subprocess.run(["curl", "-s", "-i", "--unix-socket", berthd.sock, "http://d/_ping"],
                          capture_output=True, text=True).stdout
    assert "Builder-Version: 1" in ping
    ctx = make_ctx({"Dockerfile": "FROM busybox\nRUN echo a \\\n\n    b > /ab\n"})
    env = docker_env(docker.host, docker.config_dir)
    p = subprocess.run(["docker", "build", "-t", "bt-tag1", "-t", "bt-tag2:v2", "."], cwd=ctx, env=env,
                       capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert p.returncode == 0, p.stderr
    assert "Successfully tagged bt-tag1:latest\nSuccessfully tagged bt-tag2:v2\n" in p.stdout
    assert "[WARNING]: Empty continuation line found in:\n    RUN echo a     b > /ab" in p.stdout + p.stderr
    assert image_id(docker, "bt-tag1") == image_id(docker, "bt-tag2:v2")
    assert docker.run("run", "--rm", "bt-tag1", "cat", "/ab").stdout == "a b\n"
    p = build(docker, make_ctx({"Dockerfile": "FROM busybox\nCOPY --chwon=1 a b\n"}), check=False)
    assert p.returncode == 1
    assert "Error response from daemon: dockerfile parse error on line 2: unknown flag: chwon" in p.stderr


def test_build_copy_from_index_and_image(berthd, docker):
    ctx = make_ctx({"Dockerfile": "FROM busybox\nRUN echo zero > /z\n"
                                  "FROM scratch\nCOPY --from=0 /z /z\nCOPY --from=busybox /bin/busybox /bin/sh\n"
                                  "CMD [\"/bin/sh\", \"-c\", \"read l < /z; echo $l\"]\n"})
    build(docker, ctx, "-t", "bt-from-index")
    assert docker.run("run", "--rm", "bt-from-index").stdout == "zero\n"
    p = build(docker, make_ctx({"Dockerfile": "FROM busybox\nCOPY --from=nosuchstage /x /x\n"}), check=False)
    assert p.returncode != 0 and "invalid from flag value nosuchstage" in p.stderr
    with open("/proc/self/mountinfo") as f:
        assert berthd.data_root not in f.read().replace(os.path.join(berthd.data_root, "overlay2"), "")


def test_build_on_a_user_network_with_ulimits(docker):
    docker.run("network", "create", "bt-buildnet")
    try:
        ctx = make_ctx({"Dockerfile": "FROM busybox\nRUN ulimit -n > /nofile; cat /etc/resolv.conf > /resolv\n"})
        build(docker, ctx, "--network", "bt-buildnet", "--ulimit", "nofile=512:512", "--no-cache", "-t", "bt-net")
        assert docker.run("run", "--rm", "bt-net", "cat", "/nofile").stdout == "512\n"
        assert "nameserver 127.0.0.11" in docker.run("run", "--rm", "bt-net", "cat", "/resolv").stdout
    finally:
        docker.run("network", "rm", "bt-buildnet")


class _Served:
    """A small HTTP server on 127.0.0.1 for remote contexts and ADD <url>: fixed paths,
    and every request line it saw (a proxy request names the whole URL)."""

    def __init__(self, files):
        import http.server
        import threading
        served = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                served.seen.append(self.path)
                key = self.path.split("/", 3)[3] if self.path.startswith("http://") else self.path.lstrip("/")
                if key not in files:
                    self.send_error(404)
                    return
                ctype, body = files[key]
                self.send_response(200)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Last-Modified", "Wed, 21 Oct 2015 07:28:00 GMT")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        self.seen = []
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def url(self, path):
        return "http://127.0.0.1:%d/%s" % (self.port, path)

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def test_build_remote_tar_and_plain_dockerfile_contexts(berthd, docker):
    ctx = tar_of([("Dockerfile", "file", "FROM busybox\nCOPY hello /hello\n"), ("hello", "file", "remote hi\n")])
    srv = _Served({"ctx.tar": ("application/x-tar", ctx),
                   "Dockerfile.txt": ("text/plain; charset=utf-8", b"FROM busybox\nRUN echo from plain > /p\n")})
    try:
        env = docker_env(docker.host, docker.config_dir)
        env["DOCKER_BUILDKIT"] = "0"
        p = subprocess.run(["docker", "build", "-t", "bt-remote", srv.url("ctx.tar")], env=env, capture_output=True,
                           text=True, timeout=120, stdin=subprocess.DEVNULL)
        assert p.returncode == 0, p.stderr
        assert docker.run("run", "--rm", "bt-remote", "cat", "/hello").stdout == "remote hi\n"
        status, body = raw_build(berthd, b"", "remote=" + srv.url("Dockerfile.txt") + "&t=bt-plain")
        assert status == 200 and b"Successfully tagged bt-plain:latest" in body
        assert docker.run("run", "--rm", "bt-plain", "cat", "/p").stdout == "from plain\n"
        status, body = raw_build(berthd, b"", "remote=" + srv.url("missing.tar"))
        assert status == 400 and b"failed to GET" in body and b"404" in body
        status, body = raw_build(berthd, b"", "remote=http://127.0.0.1:1/repo.git")
        assert status == 400 and b"error fetching" in body
    finally:
        srv.stop()
    assert leftovers(berthd, docker) == ([], [], [])


def test_build_add_url_through_the_build_arg_proxy(docker):
    srv = _Served({"files/data.txt": ("application/octet-stream", b"downloaded\n")})
    try:
        ctx = make_ctx({"Dockerfile": "FROM busybox\nADD %s /dl/\nADD http://example.invalid/files/data.txt /via-proxy\n"
                                      "RUN stat -c '%%a %%Y' /dl/data.txt > /meta\n" % srv.url("files/data.txt")})
        out = build(docker, ctx, "--build-arg", "HTTP_PROXY=http://127.0.0.1:%d" % srv.port, "-t", "bt-addurl").stdout
        assert "were not consumed" not in out
        assert docker.run("run", "--rm", "bt-addurl", "cat", "/dl/data.txt", "/via-proxy").stdout == "downloaded\ndownloaded\n"
        assert docker.run("run", "--rm", "bt-addurl", "cat", "/meta").stdout == "600 1445412480\n"
        assert "http://example.invalid/files/data.txt" in srv.seen
        # the proxy argument stays out of the history
        assert "PROXY" not in docker.run("history", "--no-trunc", "bt-addurl").stdout
    finally:
        srv.stop()


def test_build_git_context_over_http(berthd, docker):
    """A git repository as the context (dockerd's URL#ref:subdir), served over http from
    127.0.0.1 (git's dumb protocol: the fetch falls back from shallow)."""
    import functools
    import http.server
    import threading
    base = tempfile.mkdtemp(prefix="berth-build-git-")
    work = os.path.join(base, "work")
    genv = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@e", GIT_COMMITTER_NAME="t",
                GIT_COMMITTER_EMAIL="t@e", HOME=base)
    git = lambda *a, cwd=work: subprocess.run(["git", *a], cwd=cwd, env=genv, check=True, capture_output=True)
    os.makedirs(os.path.join(work, "app"))
    with open(os.path.join(work, "app", "Dockerfile"), "w") as f:
        f.write("FROM busybox\nCOPY msg /msg\n")
    with open(os.path.join(work, "app", "msg"), "w") as f:
        f.write("from git\n")
    git("init", "-q", "-b", "release")
    git("add", ".")
    git("commit", "-q", "-m", "one")
    git("clone", "-q", "--bare", work, os.path.join(base, "repo.git"), cwd=base)
    git("update-server-info", cwd=os.path.join(base, "repo.git"))
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=base)
    handler.log_message = lambda *a: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        url = "http://127.0.0.1:%d/repo.git#release:app" % httpd.server_address[1]
        status, body = raw_build(berthd, b"", "remote=" + url + "&t=bt-git")
        assert status == 200 and b"Successfully tagged bt-git:latest" in body, body
        assert docker.run("run", "--rm", "bt-git", "cat", "/msg").stdout == "from git\n"
        status, body = raw_build(berthd, b"", "remote=http://127.0.0.1:%d/repo.git#nosuchref" % httpd.server_address[1])
        assert status == 400 and b"error fetching" in body
    finally:
        httpd.shutdown()
        httpd.server_close()
        subprocess.run(["rm", "-rf", base])
    assert leftovers(berthd, docker) == ([], [], [])
