"""Workloads of issue 16 (--userns-remap): what a user namespace costs a container start.

The remapped daemon is a berthd of its own, started on first use and kept for the run (the
environment stops it with the others), with --userns-remap of a system user the bench makes
with a subordinate range nobody else has; the user and the range go again when the bench
exits. Each round times `docker run --rm busybox true` against it and against the shared
berthd, alternately, and reports the ratio: the goal is that layers are not chowned per
container (idmapped mounts), so the ratio stays near 1.
"""
import atexit
import os
import subprocess

from daemons import Berthd
from workloads import Goal, Workload, load_images, time_docker

REMAP_USER = "berthbench"
RANGE = 65536
SUBID_FILES = ("/etc/subuid", "/etc/subgid")

_remapped = {}


class RemappedBerthd(Berthd):
    def argv(self):
        return super().argv() + ["--userns-remap", REMAP_USER]


def _taken():
    out = []
    for f in SUBID_FILES:
        try:
            for line in open(f):
                p = line.strip().split(":")
                if len(p) == 3 and p[1].isdigit() and p[2].isdigit():
                    out.append((int(p[1]), int(p[2])))
        except FileNotFoundError:
            pass
    return out


def _make_user():
    saved = {f: (open(f).read() if os.path.exists(f) else None) for f in SUBID_FILES}
    made = subprocess.run(["useradd", "-r", "-s", "/bin/false", REMAP_USER], capture_output=True).returncode == 0
    start = 900000
    while any(s < start + RANGE and start < s + n for s, n in _taken()):
        start += RANGE
    for f in SUBID_FILES:
        with open(f, "a") as fh:
            fh.write(f"{REMAP_USER}:{start}:{RANGE}\n")

    def undo():
        for f, text in saved.items():
            if text is None:
                if os.path.exists(f):
                    os.unlink(f)
            else:
                with open(f, "w") as fh:
                    fh.write(text)
        if made:
            subprocess.run(["userdel", REMAP_USER], capture_output=True)

    atexit.register(undo)


def _remapped_daemon(shared):
    d = _remapped.get("d")
    if d is not None and d.proc is not None:
        return d
    _make_user()
    d = RemappedBerthd(shared.env, f"berth-userns-{shared.env.seq()}", shared.binary)
    # The remapped root must get through every directory above its data root.
    for p in (shared.env.root, d.dir):
        os.chmod(p, 0o711)
    d.start()
    if not load_images(d):
        raise RuntimeError("could not load busybox into the remapped berthd")
    time_docker(d, "run", "--rm", "busybox", "true")  # its first start warms its caches
    _remapped["d"] = d
    return d


def run_rm_userns_ratio(daemon):
    """`docker run --rm busybox true` with --userns-remap over the same without."""
    remapped = _remapped_daemon(daemon)
    plain = time_docker(daemon, "run", "--rm", "busybox", "true")
    remap = time_docker(remapped, "run", "--rm", "busybox", "true")
    return remap / plain


def run_rm_userns(daemon):
    """`docker run --rm busybox true` against the remapped berthd, in ms."""
    return time_docker(_remapped_daemon(daemon), "run", "--rm", "busybox", "true")


WORKLOADS_USERNS = [
    Workload("docker run --rm true, --userns-remap", "ms", run_rm_userns, daemons=("berth",), needs_images=True,
             description="`docker run --rm busybox true` against a berthd with --userns-remap"),
    Workload("userns-remap run --rm / plain", "×", run_rm_userns_ratio, daemons=("berth",), needs_images=True,
             goal=Goal("≤ 1.2", max_value=1.2), decimals=2,
             description="ratio of the row above to `docker run --rm busybox true` without remapping, per round"),
]
