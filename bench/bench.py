#!/usr/bin/python3
"""berth benchmark: berthd against Debian's dockerd, same machine, same run.

    make bench                          # build, then run every workload, 10 rounds
    make bench BENCH_ARGS='--rounds 20 --only startup-to-ping'
    /usr/bin/python3 bench/bench.py --help

Prints one table (workload | berth median | dockerd median | ratio berth/dockerd | goal)
and writes it to bench/results/latest.md. See bench/README.md.
"""

import argparse
import datetime
import os
import platform
import signal
import statistics
import subprocess
import sys
import time

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import daemons  # noqa: E402
from daemons import Berthd, Dockerd, Env, log  # noqa: E402
from workloads import WORKLOADS, load_images  # noqa: E402

REPO = os.path.dirname(HERE)
KINDS = ("berth", "dockerd")


def parse_args(argv):
    p = argparse.ArgumentParser(prog="bench.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=10,
                   help="measured rounds per workload and daemon (default 10; one extra "
                        "warm-up round is run first and not counted)")
    p.add_argument("--only", action="append", metavar="NAME",
                   help="run only this workload (repeatable; a substring matches too)")
    p.add_argument("--list", action="store_true", help="list the workloads and exit")
    p.add_argument("--berthd", default=os.path.join(REPO, "build", "berthd"),
                   help="berthd binary (default build/berthd)")
    p.add_argument("--dockerd", default=None, help="dockerd binary (default: from PATH)")
    p.add_argument("--docker", default=None,
                   help="docker CLI (default /usr/local/bin/docker, else from PATH)")
    p.add_argument("--no-dockerd", action="store_true",
                   help="measure berth alone (ratio column n/a)")
    p.add_argument("--no-install", action="store_true",
                   help="do not apt-get install docker.io when dockerd is missing")
    p.add_argument("--output", default=os.path.join(HERE, "results", "latest.md"),
                   help="markdown results file (default bench/results/latest.md; '-' for none)")
    p.add_argument("--tmpdir", default=None,
                   help="parent directory for the bench's temporary directory "
                        "(default $TMPDIR or /tmp); both daemons keep their data there")
    p.add_argument("--keep", action="store_true",
                   help="keep the temporary directory (daemon logs) after the run")
    a = p.parse_args(argv)
    if a.rounds < 1:
        p.error("--rounds must be at least 1")
    return a


def select(workloads, only):
    if not only:
        return list(workloads)
    chosen = []
    for name in only:
        exact = [w for w in workloads if w.name == name]
        match = exact or [w for w in workloads if name in w.name]
        if not match:
            raise SystemExit(f"bench: no workload matches {name!r}; have: "
                             + ", ".join(w.name for w in workloads))
        chosen += [w for w in match if w not in chosen]
    return [w for w in workloads if w in chosen]


# ---------------------------------------------------------------------------------------
# machine description


def _read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def machine_info(env, versions):
    mem_kb = 0
    for line in _read("/proc/meminfo").splitlines():
        if line.startswith("MemTotal:"):
            mem_kb = int(line.split()[1])
    cpu = ""
    for line in _read("/proc/cpuinfo").splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    osname = ""
    for line in _read("/etc/os-release").splitlines():
        if line.startswith("PRETTY_NAME="):
            osname = line.split("=", 1)[1].strip('"')
    deb = _read("/etc/debian_version").strip()
    cg = "v2" if os.path.exists("/sys/fs/cgroup/cgroup.controllers") else "v1"
    fs, best = "?", ""
    for line in _read("/proc/self/mounts").splitlines():
        f = line.split()
        if len(f) > 2 and (env.root + "/").startswith(f[1].rstrip("/") + "/") \
                and len(f[1]) >= len(best):
            best, fs = f[1], f[2]
    ncpu = len(os.sched_getaffinity(0))
    return [
        f"{osname} ({deb}), kernel {platform.release()}, {platform.machine()}",
        f"nproc {ncpu}" + (f" ({cpu})" if cpu else ""),
        f"memory {mem_kb / 1024 / 1024:.1f} GiB",
        f"cgroup {cg}; daemons' data under {os.path.dirname(env.root)} ({fs})",
    ] + versions


# ---------------------------------------------------------------------------------------
# formatting


def fmt_value(v, w):
    if isinstance(v, str):
        return v
    return f"{v:.{w.decimals}f} {w.unit}"


def fmt_ratio(b, d):
    if isinstance(b, str) or isinstance(d, str) or d == 0:
        return "n/a"
    return f"{b / d:.2f}"


def build_rows(selected, results, status, skipped):
    """results[name][kind] = list of values; status[kind] = None or a reason string;
    skipped[(name, kind)] = why that workload was not run against that daemon."""
    rows = []
    for w in selected:
        med = {}
        for kind in KINDS:
            vals = results[w.name].get(kind)
            if kind not in w.daemons:
                med[kind] = "—"
            elif status[kind]:
                med[kind] = status[kind]
            elif (w.name, kind) in skipped:
                med[kind] = skipped[(w.name, kind)]
            elif not vals:
                med[kind] = "error"
            else:
                med[kind] = statistics.median(vals)
        goal = ""
        if w.goal:
            m = w.goal.met(*(None if isinstance(med[k], str) else med[k] for k in KINDS))
            goal = w.goal.text + {True: " ✓", False: " ✗", None: ""}[m]
        nb = len(results[w.name].get("berth", []))
        nd = len(results[w.name].get("dockerd", []))
        rows.append({
            "workload": w.name,
            "berth": fmt_value(med["berth"], w),
            "dockerd": fmt_value(med["dockerd"], w),
            "ratio": fmt_ratio(med["berth"], med["dockerd"]),
            "goal": goal,
            "n": f"{nb}/{nd}",
        })
    return rows


COLS = [("workload", "workload"), ("berth", "berth median"), ("dockerd", "dockerd median"),
        ("ratio", "ratio (berth/dockerd)"), ("goal", "goal"), ("n", "rounds b/d")]


def text_table(rows):
    widths = [max(len(h), *(len(r[k]) for r in rows)) for k, h in COLS]
    right = {"berth", "dockerd", "ratio"}

    def line(vals):
        cells = []
        for (k, _), wd, v in zip(COLS, widths, vals):
            cells.append(v.rjust(wd) if k in right else v.ljust(wd))
        return "  ".join(cells).rstrip()

    out = [line([h for _, h in COLS]), line(["-" * wd for wd in widths])]
    out += [line([r[k] for k, _ in COLS]) for r in rows]
    return "\n".join(out)


def md_table(rows):
    out = ["| " + " | ".join(h for _, h in COLS) + " |",
           "| --- | ---: | ---: | ---: | --- | ---: |"]
    out += ["| " + " | ".join(r[k].replace("|", "\\|") for k, _ in COLS) + " |" for r in rows]
    return "\n".join(out)


# ---------------------------------------------------------------------------------------


class Terminated(Exception):
    pass


def _on_sigterm(signum, frame):
    raise Terminated()


def main(argv):
    args = parse_args(argv)
    selected = select(WORKLOADS, args.only)
    if args.list:
        for w in WORKLOADS:
            print(f"{w.name:20} {w.unit:3} {'/'.join(w.daemons):14} {w.description}")
        return 0
    if os.geteuid() != 0:
        log("warning: not running as root; daemons will probably fail to start")

    signal.signal(signal.SIGTERM, _on_sigterm)
    docker_cli = args.docker or daemons.find_docker_cli()
    if not docker_cli:
        log("no docker CLI found (/usr/local/bin/docker or PATH)")
        return 2

    status = {"berth": None, "dockerd": None}
    berthd_bin = os.path.abspath(args.berthd)
    if not os.access(berthd_bin, os.X_OK):
        status["berth"] = "unavailable"
        log(f"{berthd_bin} not found: berth is not measured (run `make` first)")
    dockerd_bin = None
    if args.no_dockerd:
        status["dockerd"] = "n/a"
    else:
        dockerd_bin = args.dockerd or daemons.ensure_dockerd(install=not args.no_install)
        if not dockerd_bin:
            status["dockerd"] = "n/a"
            log("dockerd is unavailable: measuring berth alone (ratio column n/a)")

    env = Env(berthd=berthd_bin, dockerd=dockerd_bin, docker_cli=docker_cli,
              keep=args.keep, tmp_parent=args.tmpdir)
    log(f"temporary directory {env.root}")
    shared = {}
    results = {w.name: {"berth": [], "dockerd": []} for w in selected}
    errors = {}
    skipped = {}            # (workload, kind) -> why it was not measured
    versions = []
    interrupted = False
    t_start = time.time()
    try:
        # -- the long-running instance of each daemon ----------------------------------
        makers = {"berth": lambda: Berthd(env, "berth", berthd_bin),
                  "dockerd": lambda: Dockerd(env, "dockerd", dockerd_bin)}
        for kind in KINDS:
            if status[kind]:
                continue
            d = makers[kind]()
            versions.append(f"{kind}: {d.version()} ({d.binary})")
            try:
                ms = d.start() * 1000
                log(f"{kind} up in {ms:.0f} ms on {d.host} (pid {d.pid}: {d.tree_desc()})")
                shared[kind] = d
                if kind == "dockerd":
                    versions.append("dockerd setup: " + d.setup_note())
            except Exception as e:
                status[kind] = "unavailable" if kind == "berth" else "n/a"
                log(f"{kind} failed to start: {e}")
        try:
            cv = subprocess.run([docker_cli, "--version"], capture_output=True,
                                text=True).stdout.strip()
            versions.append(f"docker CLI: {cv} ({docker_cli})")
        except OSError:
            pass

        no_images = set()
        if any(w.needs_images for w in selected):
            for kind, d in shared.items():
                try:
                    if not load_images(d):
                        no_images.add(kind)
                except Exception as e:
                    log(f"load_images({kind}) failed: {e}")
                    no_images.add(kind)

        # -- the workloads -------------------------------------------------------------
        for w in selected:
            kinds = [k for k in KINDS if k in w.daemons and k in shared and not status[k]]
            if w.needs_images:
                for k in [k for k in kinds if k in no_images]:
                    skipped[(w.name, k)] = "no images"
                kinds = [k for k in kinds if k not in no_images]
            if not kinds:
                continue
            log(f"{w.name}: 1 warm-up + {args.rounds} round(s) against {', '.join(kinds)}")
            for rnd in range(args.rounds + 1):
                order = kinds if rnd % 2 == 0 else list(reversed(kinds))
                for kind in order:
                    try:
                        v = w.fn(shared[kind])
                    except (KeyboardInterrupt, Terminated):
                        raise
                    except Exception as e:
                        msg = str(e).strip().splitlines()
                        key = (w.name, kind)
                        if key not in errors:
                            log(f"{w.name} against {kind} failed: " + "\n  ".join(msg[:20]))
                        errors[key] = errors.get(key, 0) + 1
                        continue
                    if rnd > 0:
                        results[w.name][kind].append(v)
                # a dead shared daemon would fail every later workload: say so once
                for kind in kinds:
                    p = shared[kind].proc
                    if p is None or p.poll() is not None:
                        raise daemons.DaemonError(f"{kind} ({shared[kind].label}) died; log "
                                                  f"tail:\n{shared[kind].log_tail()}")
    except (KeyboardInterrupt, Terminated):
        interrupted = True
        log("interrupted: cleaning up")
    except daemons.DaemonError as e:
        log(str(e))
        interrupted = True
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)   # let the clean-up finish
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        try:
            info = machine_info(env, versions)
        except Exception as e:
            info = [f"(machine info unavailable: {e})"]
        env.cleanup()

    rows = build_rows(selected, results, status, skipped)
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    header = (f"berth bench, {when}: medians of {args.rounds} round(s) (after 1 warm-up), "
              f"daemons alternated; ratio < 1 means berth is faster/lighter.")
    print()
    print(header)
    print(text_table(rows))
    for line in info:
        print("  " + line)
    if errors:
        print("failed rounds: " + ", ".join(f"{w} against {k}: {n}"
                                            for (w, k), n in errors.items()))
    if interrupted:
        print("(run was cut short)")

    if args.output != "-" and not interrupted:
        os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
        filt = f" (only: {', '.join(args.only)})" if args.only else ""
        with open(args.output, "w") as f:
            f.write(f"# berth bench: latest results\n\n"
                    f"{when}, `bench/bench.py --rounds {args.rounds}`{filt}. Medians of "
                    f"{args.rounds} rounds after one warm-up round, berth and dockerd "
                    f"alternated round by round. Ratio = berth / dockerd: below 1 means berth "
                    f"is faster (time) or lighter (memory).\n\n")
            f.write(md_table(rows) + "\n\n")
            f.write("Machine and versions:\n\n" + "".join(f"- {l}\n" for l in info))
            if errors:
                f.write("\nFailed rounds: " + ", ".join(
                    f"{w} against {k}: {n}" for (w, k), n in errors.items()) + "\n")
        shown = os.path.abspath(args.output)
        if shown.startswith(REPO + "/"):
            shown = os.path.relpath(shown, REPO)
        log(f"wrote {shown} "
            f"({time.time() - t_start:.0f} s in all)")

    if interrupted:
        return 130
    if status["berth"] or any(k == "berth" for (_, k) in list(errors) + list(skipped)):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
