"""An existing data root keeps working: container records an earlier berthd wrote (see
records/README.md) load, inspect shows what they say (with today's defaults for what they
left empty), and the containers start with their options and can be removed."""
import json
import os
import shutil

from conftest import TESTDATA, DockerCLI

RECORDS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "records", "main-3cb078f")


def test_records_of_main_3cb078f_load_and_run(fresh_daemon):
    d = fresh_daemon()
    cli = DockerCLI(d.host)
    try:
        cli.run("load", "-i", os.path.join(TESTDATA, "fixtures", "busybox-docker-archive.tar"))
        d.stop()
        ids = {}
        for name in sorted(os.listdir(RECORDS)):
            with open(os.path.join(RECORDS, name, "config.json")) as f:
                cid = json.load(f)["ID"]
            ids[name] = cid
            dst = os.path.join(d.data_root, "containers", cid)
            os.makedirs(dst, mode=0o710)
            for fn in ("config.json", "hostconfig.json"):
                shutil.copy(os.path.join(RECORDS, name, fn), os.path.join(dst, fn))
        d.start()

        o = json.loads(cli.run("inspect", "old-opts").stdout)[0]
        assert o["Id"] == ids["old-opts"] and o["State"]["Status"] == "created"
        hc, cfg = o["HostConfig"], o["Config"]
        with open(os.path.join(RECORDS, "old-opts", "hostconfig.json")) as f:
            rec_hc = json.load(f)
        with open(os.path.join(RECORDS, "old-opts", "config.json")) as f:
            rec_cfg = json.load(f)["Config"]
        # every field as the record has it, but for what it left empty: today's defaults
        assert rec_hc["LogConfig"] == {"Type": "", "Config": {"max-size": "1m"}} and "Runtime" not in rec_hc
        assert hc["LogConfig"] == {"Type": "json-file", "Config": {"max-size": "1m"}}
        assert hc["Runtime"] == json.loads(cli.run("info", "--format", "{{json .DefaultRuntime}}").stdout)
        for k, v in rec_hc.items():
            if k != "LogConfig":
                assert hc[k] == v, (k, v, hc.get(k))
        for k, v in rec_cfg.items():
            assert cfg[k] == v, (k, v, cfg.get(k))
        assert hc["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 3}
        assert hc["PortBindings"] == {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": ""}]}
        assert hc["Ulimits"] == [{"Name": "nofile", "Hard": 200, "Soft": 100}]
        assert hc["Memory"] == 64 * 1024 * 1024 and hc["PidsLimit"] == 50 and hc["Tmpfs"] == {"/run": ""}
        assert cfg["Labels"] == {"l": "1"} and "A=1" in cfg["Env"] and cfg["StopSignal"] == "SIGUSR1"

        out = cli.run("start", "-a", "old-opts").stdout.split("\n")
        assert out[0] == "100"
        assert "1.2.3.4\th" in out and "nameserver 10.9.9.9" in out and "/tmp" in out and "A=1" in out, out
        assert out[-2] == "1", out  # the tmpfs on /run

        e = json.loads(cli.run("inspect", "old-exited").stdout)[0]
        assert e["State"]["Status"] == "exited" and e["State"]["ExitCode"] == 3
        assert cli.run("start", "-a", "old-exited", check=False).returncode == 3

        # written again by this berthd (start saved them), and still read back the same
        d.stop()
        d.start()
        again = json.loads(cli.run("inspect", "old-opts").stdout)[0]
        assert again["HostConfig"] == json.loads(cli.run("inspect", "old-opts").stdout)[0]["HostConfig"]
        assert again["HostConfig"]["RestartPolicy"] == hc["RestartPolicy"] and again["Config"]["Env"] == cfg["Env"]
        cli.run("rm", "-f", "old-opts", "old-exited")
        assert cli.run("ps", "-aq").stdout.strip() == ""
    finally:
        cli.cleanup()
