"""Volumes: docker volume create/ls/inspect/rm/prune, named and anonymous volumes in
containers, copy of the image's content into an empty volume, rm -v and --rm, and the local
driver's options (type, device, o): mounted at first use, unmounted when the last run ends."""
import json
import os
import time

import pytest

from conftest import TESTDATA


@pytest.fixture(scope="module")
def images(docker):
    docker.run("load", "-i", os.path.join(TESTDATA, "fixtures", "busybox-docker-archive.tar"))


def vol_names(docker):
    return set(docker.run("volume", "ls", "-q").stdout.split())


def test_named_volume_outlives_its_containers(docker, images):
    try:
        assert docker.run("volume", "create", "--label", "team=berth", "keep").stdout.strip() == "keep"
        v = json.loads(docker.run("volume", "inspect", "keep").stdout)[0]
        assert v["Name"] == "keep" and v["Driver"] == "local" and v["Scope"] == "local"
        assert v["Labels"] == {"team": "berth"} and v["Mountpoint"].endswith("/volumes/keep/_data")
        docker.run("run", "--rm", "-v", "keep:/data", "busybox", "sh", "-c", "echo persisted > /data/f")
        assert docker.run("run", "--rm", "-v", "keep:/data:ro", "busybox", "cat", "/data/f").stdout == "persisted\n"
        p = docker.run("run", "--rm", "-v", "keep:/data:ro", "busybox", "touch", "/data/g", check=False)
        assert p.returncode != 0
        assert "keep" in vol_names(docker)
        assert "keep" in docker.run("volume", "ls", "--filter", "label=team=berth", "-q").stdout.split()
        assert "keep" not in docker.run("volume", "ls", "--filter", "label=team=other", "-q").stdout.split()
    finally:
        docker.run("volume", "rm", "keep", check=False)
    assert "keep" not in vol_names(docker)


def test_volume_in_use_cannot_be_removed(docker, images):
    cid = docker.run("create", "-v", "busy:/data", "busybox").stdout.strip()
    try:
        p = docker.run("volume", "rm", "busy", check=False)
        assert p.returncode != 0
        assert "remove busy: volume is in use - [%s]" % cid in p.stderr
        assert "busy" in docker.run("volume", "ls", "--filter", "dangling=false", "-q").stdout.split()
    finally:
        docker.run("rm", cid)
    assert "busy" in docker.run("volume", "ls", "--filter", "dangling=true", "-q").stdout.split()
    docker.run("volume", "rm", "busy")
    p = docker.run("volume", "inspect", "busy", check=False)
    assert p.returncode != 0 and "no such volume" in p.stderr


def test_empty_volume_gets_the_images_content(docker, images):
    try:
        out = docker.run("run", "--rm", "-v", "etcvol:/etc", "busybox", "cat", "/etc/group").stdout
        assert out.startswith("root:")
        # Once it has content, the volume's own content is what shows.
        docker.run("run", "--rm", "-v", "etcvol:/etc", "busybox", "sh", "-c", "echo mine > /etc/group")
        assert docker.run("run", "--rm", "-v", "etcvol:/etc", "busybox", "cat", "/etc/group").stdout == "mine\n"
        # nocopy: an empty volume stays empty.
        out = docker.run("run", "--rm", "-v", "emptyvol:/etc:nocopy", "busybox", "ls", "-A", "/etc").stdout.split()
        assert "group" not in out
    finally:
        docker.run("volume", "rm", "etcvol", "emptyvol", check=False)


def test_anonymous_volumes_go_with_rm_v_and_rm(docker, images):
    before = vol_names(docker)
    cid = docker.run("run", "-d", "-v", "/scratch", "--mount", "type=volume,dst=/other", "busybox",
                     "sleep", "300").stdout.strip()
    mounts = json.loads(docker.run("inspect", "-f", "{{json .Mounts}}", cid).stdout)
    anon = {m["Name"] for m in mounts if m["Type"] == "volume"}
    assert len(anon) == 2 and anon <= vol_names(docker)
    assert all(m["Driver"] == "local" and m["Source"].endswith("/_data") for m in mounts)
    labels = json.loads(docker.run("volume", "inspect", *anon).stdout)
    assert all("com.docker.volume.anonymous" in v["Labels"] for v in labels)
    docker.run("rm", "-f", "-v", cid)
    assert vol_names(docker) == before
    docker.run("run", "--rm", "-v", "/scratch", "busybox", "true")
    assert vol_names(docker) == before
    # Without -v they stay (dangling), and prune takes them; named ones need prune --all.
    cid = docker.run("create", "-v", "/scratch", "-v", "named-stays:/n", "busybox").stdout.strip()
    docker.run("rm", cid)
    left = vol_names(docker) - before
    assert "named-stays" in left and len(left) == 2
    docker.run("volume", "prune", "-f")
    assert vol_names(docker) - before == {"named-stays"}
    docker.run("volume", "rm", "named-stays")


def test_bad_volume_names_and_drivers(docker, images):
    p = docker.run("volume", "create", "bad!name", check=False)
    assert p.returncode != 0 and "includes invalid characters for a local volume name" in p.stderr
    p = docker.run("volume", "create", "-d", "nfs-plugin", "x1", check=False)
    assert p.returncode != 0 and 'plugin "nfs-plugin" not found' in p.stderr
    p = docker.run("volume", "create", "-o", "type=tmpfs", "x2", check=False)
    assert p.returncode != 0 and 'missing required option: "device"' in p.stderr
    assert not {"x1", "x2"} & vol_names(docker)
    p = docker.run("volume", "rm", "nosuchvolume", check=False)
    assert p.returncode != 0 and "no such volume" in p.stderr
    assert docker.run("volume", "rm", "-f", "nosuchvolume").returncode == 0


def test_review_cases_that_could_lose_data(docker, client, images):
    """An empty part in -v is an error (not a throwaway volume); rm -v keeps an anonymous
    volume that another container took up by name; prune refuses filters it cannot apply."""
    import docker as dockerpy
    with pytest.raises(dockerpy.errors.APIError) as e:  # the CLI would catch it first
        client.api.create_container("busybox", host_config=client.api.create_host_config(binds=[":/data"]))
    assert e.value.status_code == 400 and "empty section between colons" in str(e.value.explanation)
    a = docker.run("create", "-v", "/data", "busybox").stdout.strip()
    name = json.loads(docker.run("inspect", "-f", "{{json .Mounts}}", a).stdout)[0]["Name"]
    b = docker.run("create", "-v", name + ":/data", "busybox").stdout.strip()
    try:
        docker.run("rm", "-v", a)
        assert name in vol_names(docker)
    finally:
        docker.run("rm", "-v", b)
    p = docker.run("volume", "prune", "-a", "-f", "--filter", "name=x", check=False)
    assert p.returncode != 0 and "invalid filter 'name'" in p.stderr
    docker.run("volume", "rm", name)


def test_system_prune_works_end_to_end(fresh_daemon):
    """docker system prune calls the container, network, image, volume and build-cache
    prunes; berth has no networks or build cache to prune, and says so without an error."""
    from conftest import DockerCLI
    d = fresh_daemon()
    cli = DockerCLI(d.host)
    try:
        cli.run("load", "-i", os.path.join(TESTDATA, "fixtures", "busybox-docker-archive.tar"))
        cid = cli.run("create", "-v", "/anon", "busybox", "true").stdout.strip()
        cli.run("volume", "create", "named-survives")
        p = cli.run("system", "prune", "-af", "--volumes")
        assert cid in p.stdout and "busybox:latest" in p.stdout
        assert cli.run("ps", "-aq").stdout.strip() == ""
        assert cli.run("images", "-q").stdout.strip() == ""
        assert cli.run("volume", "ls", "-q").stdout.split() == ["named-survives"]
    finally:
        cli.cleanup()


def mounted(path):
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4] == path for line in f)


def test_local_driver_options_mount_at_first_use(docker, images):
    try:
        docker.run("volume", "create", "-o", "type=tmpfs", "-o", "device=tmpfs", "-o", "o=size=1m,mode=0750", "tv")
        v = json.loads(docker.run("volume", "inspect", "tv").stdout)[0]
        assert v["Options"] == {"type": "tmpfs", "device": "tmpfs", "o": "size=1m,mode=0750"}
        mp = v["Mountpoint"]
        assert not mounted(mp)
        cid = docker.run("run", "-d", "-v", "tv:/data", "busybox", "sh", "-c",
                         "echo kept > /data/f; sleep 300").stdout.strip()
        try:
            assert mounted(mp)
            p = docker.run("run", "--rm", "-v", "tv:/data", "busybox", "sh", "-c",
                           "cat /data/f; stat -c %a /data; df -k /data | tail -1")
            lines = p.stdout.splitlines()
            assert lines[0] == "kept" and lines[1] == "750" and lines[2].split()[1] == "1024"
            assert mounted(mp)  # the other run still uses it
        finally:
            docker.run("rm", "-f", cid)
        deadline = time.time() + 10
        while mounted(mp) and time.time() < deadline:
            time.sleep(0.05)
        assert not mounted(mp)  # the last run ended: unmounted, as dockerd's local driver
        # a fresh tmpfs at the next use
        assert docker.run("run", "--rm", "-v", "tv:/data", "busybox", "ls", "/data").stdout == ""
    finally:
        docker.run("volume", "rm", "tv", check=False)
    assert "tv" not in vol_names(docker)


def test_local_driver_bind_device_and_volume_opt(docker, images, tmp_path):
    host = tmp_path / "dev"
    host.mkdir()
    (host / "in.txt").write_text("from the device\n")
    try:
        docker.run("volume", "create", "-o", "type=none", "-o", "o=bind", "-o", "device=%s" % host, "bv")
        assert docker.run("run", "--rm", "-v", "bv:/d", "busybox", "sh", "-c",
                          "cat /d/in.txt; echo back > /d/out.txt").stdout == "from the device\n"
        assert (host / "out.txt").read_text() == "back\n"
        docker.run("volume", "rm", "bv")
        assert (host / "in.txt").exists()  # removing the volume leaves the device alone
        # --mount volume-opt: the volume is made with the options
        p = docker.run("run", "--rm", "--mount",
                       "type=volume,src=vo,dst=/d,volume-opt=type=tmpfs,volume-opt=device=tmpfs,volume-opt=o=size=2m",
                       "busybox", "sh", "-c", "df -k /d | tail -1")
        assert p.stdout.split()[1] == "2048"
        assert json.loads(docker.run("volume", "inspect", "vo").stdout)[0]["Options"]["o"] == "size=2m"
    finally:
        docker.run("volume", "rm", "bv", check=False)
        docker.run("volume", "rm", "vo", check=False)


@pytest.mark.parametrize("opts,message", [
    (["-o", "foo=bar"], 'invalid option: "foo"'),
    (["-o", "device=tmpfs"], 'missing required option: "type"'),
    (["-o", "o=size=1m"], 'missing required option: "device"'),
    (["-o", "size=10m"], "quota size requested but no quota support"),
])
def test_local_driver_option_errors(docker, images, opts, message):
    p = docker.run("volume", "create", *opts, "badopts", check=False)
    assert p.returncode != 0 and message in p.stderr
    assert "badopts" not in vol_names(docker)


def test_local_driver_mount_failure_is_reported(docker, images):
    try:
        docker.run("volume", "create", "-o", "type=tmpfs", "-o", "device=tmpfs", "-o", "o=bogus=1", "mv")
        p = docker.run("run", "--rm", "-v", "mv:/d", "busybox", "true", check=False)
        assert p.returncode != 0
        assert "error while mounting volume" in p.stderr and "failed to mount local volume" in p.stderr
    finally:
        docker.run("volume", "rm", "mv", check=False)
