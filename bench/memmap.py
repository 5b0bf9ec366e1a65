#!/usr/bin/python3
"""Where a process's resident memory is (issue 18): /proc/PID/smaps grouped by what holds it.

    /usr/bin/python3 bench/memmap.py PID [PID ...]

Groups: each shared object's text (r-x), read-only data (r--) and writable data (rw-);
[heap] (the main arena); glibc's other malloc arenas (anonymous 64 MB reservations whose
start is 64 MB-aligned); thread stacks (an anonymous rw mapping right above a no-access
guard page); [stack]; other anonymous mappings. Each with Rss, Pss and Private_Dirty in kB.
"""
import re
import sys

_HEAD = re.compile(r"^([0-9a-f]+)-([0-9a-f]+) (\S{4}) \S+ \S+ \d+\s*(.*)$")
ARENA_ALIGN = 64 << 20


def mappings(pid):
    out = []
    cur = None
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            m = _HEAD.match(line)
            if m:
                cur = {"start": int(m.group(1), 16), "end": int(m.group(2), 16), "perm": m.group(3),
                       "path": m.group(4).strip()}
                out.append(cur)
                continue
            k, _, v = line.partition(":")
            v = v.strip()
            if cur is not None and v.endswith(" kB"):
                cur[k] = int(v[:-3])
    return out


def classify(maps):
    """-> [(group, mapping)] in address order."""
    out = []
    arena_end = 0
    for i, m in enumerate(maps):
        path, perm = m["path"], m["perm"]
        if path.startswith("/"):
            name = path.rsplit("/", 1)[-1]
            kind = "text" if "x" in perm else ("data" if "w" in perm else "ro")
            out.append((f"{name} {kind}", m))
        elif path in ("[heap]", "[stack]", "[vdso]", "[vvar]", "[vsyscall]"):
            out.append((path, m))
        elif path:
            out.append((f"other {path}", m))
        else:
            prev = maps[i - 1] if i else None
            if m["start"] < arena_end or (m["start"] % ARENA_ALIGN == 0 and m["perm"] == "rw-p"
                                          and i + 1 < len(maps) and maps[i + 1]["perm"] == "---p"
                                          and maps[i + 1]["start"] == m["end"]
                                          and (maps[i + 1]["end"] - m["start"]) == ARENA_ALIGN):
                if m["start"] >= arena_end:
                    arena_end = m["start"] + ARENA_ALIGN
                out.append(("malloc arenas", m))
            elif (m["perm"] == "rw-p" and prev is not None and prev["perm"] == "---p"
                  and not prev["path"] and prev["end"] == m["start"]
                  and prev["end"] - prev["start"] <= 64 << 10):
                out.append(("thread stacks", m))
            elif m["perm"] == "---p":
                out.append(("guard/reserved", m))
            else:
                out.append(("anonymous", m))
    return out


def breakdown(pid):
    """-> (rows [(group, rss, pss, private_dirty, count)] by rss desc, totals dict)."""
    groups = {}
    tot = {"Rss": 0, "Pss": 0, "Private_Dirty": 0, "Shared_Clean": 0, "Private_Clean": 0}
    for g, m in classify(mappings(pid)):
        r = groups.setdefault(g, [0, 0, 0, 0])
        r[0] += m.get("Rss", 0)
        r[1] += m.get("Pss", 0)
        r[2] += m.get("Private_Dirty", 0)
        r[3] += 1
        for k in tot:
            tot[k] += m.get(k, 0)
    rows = sorted(((g, *v) for g, v in groups.items()), key=lambda r: -r[1])
    return rows, tot


def threads(pid):
    import os
    return len(os.listdir(f"/proc/{pid}/task"))


def report(pid, min_kb=8):
    rows, tot = breakdown(pid)
    lines = [f"pid {pid}: Rss {tot['Rss']} kB, Pss {tot['Pss']} kB, Private_Dirty "
             f"{tot['Private_Dirty']} kB, Shared_Clean {tot['Shared_Clean']} kB, "
             f"Private_Clean {tot['Private_Clean']} kB, {threads(pid)} threads",
             f"  {'group':40} {'Rss':>8} {'Pss':>8} {'PrivDirty':>9} {'maps':>5}"]
    rest = [0, 0, 0, 0]
    for g, rss, pss, pd, n in rows:
        if rss >= min_kb:
            lines.append(f"  {g:40} {rss:8} {pss:8} {pd:9} {n:5}")
        else:
            rest = [rest[0] + rss, rest[1] + pss, rest[2] + pd, rest[3] + n]
    lines.append(f"  {'(groups under ' + str(min_kb) + ' kB)':40} {rest[0]:8} {rest[1]:8} {rest[2]:9} {rest[3]:5}")
    return "\n".join(lines)


if __name__ == "__main__":
    for p in sys.argv[1:]:
        print(report(int(p)))
