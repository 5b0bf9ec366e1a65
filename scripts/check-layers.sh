#!/usr/bin/env bash
# check-layers.sh - fail on an #include "folder/header.h" in src/ that breaks the layering
# table in scripts/layers.txt (see "Layers" in docs/architecture.md): a folder including
# one it may not use, another folder's header that folder does not export, or any *_int.h
# from outside its folder. Every folder of src/ must have a line in the table.
# Usage: scripts/check-layers.sh [TABLE [SRC-DIR]]
set -euo pipefail
cd "$(dirname "$0")/.."
table=${1:-scripts/layers.txt}
srcdir=${2:-src}

[ -s "$table" ] || { echo "check-layers: $table is missing or empty" >&2; exit 1; }
mapfile -t files < <(find "$srcdir" -mindepth 2 -maxdepth 2 -type f \( -name '*.c' -o -name '*.h' \) | sort)
folders=$(find "$srcdir" -mindepth 1 -maxdepth 1 -type d -printf '%f\n' | sort)

awk -v srcdir="$srcdir" -v folders="$folders" '
FNR == NR {
        sub(/#.*/, "")
        if ($0 ~ /^[ \t]*$/)
                next
        line = $0
        if ($1 == "file") {
                if ($3 != "uses:") { printf "%s:%d: expected \"file PATH uses: ...\"\n", FILENAME, FNR; bad = 1; next }
                for (i = 4; i <= NF; i++) if ($i != "-") file_uses[$2 SUBSEP $i] = 1
                next
        }
        if ($2 != "uses:") { printf "%s:%d: expected \"FOLDER uses: ...\"\n", FILENAME, FNR; bad = 1; next }
        known[$1] = 1
        mode = "uses"
        for (i = 3; i <= NF; i++) {
                if ($i == "exports:") { mode = "exports"; has_exports[$1] = 1; continue }
                if ($i == "-") continue
                if (mode == "uses") uses[$1 SUBSEP $i] = 1
                else exports[$1 SUBSEP $i] = 1
        }
        next
}
FNR == 1 {
        path = FILENAME
        rel = substr(path, length(srcdir) + 2)
        own = substr(rel, 1, index(rel, "/") - 1)
        if (!(own in known) && !(own in reported)) {
                printf "%s: folder %s/ has no line in the layering table\n", path, own
                reported[own] = 1
                bad = 1
        }
}
/^[ \t]*#[ \t]*include[ \t]*"/ {
        inc = $0
        sub(/^[ \t]*#[ \t]*include[ \t]*"/, "", inc)
        sub(/".*/, "", inc)
        if (inc ~ /^\.\.?\//) {
                printf "%s:%d: #include \"%s\": name another folder by its path under src/, not relatively\n", FILENAME, FNR, inc
                bad = 1
                next
        }
        slash = index(inc, "/")
        if (!slash)
                next # a header of the same folder
        to = substr(inc, 1, slash - 1)
        header = substr(inc, slash + 1)
        if (to == own)
                next
        if (!(to in known)) {
                printf "%s:%d: #include \"%s\": %s/ is not a folder of the layering table\n", FILENAME, FNR, inc, to
                bad = 1
                next
        }
        if (!((own SUBSEP to) in uses) && !((FILENAME SUBSEP to) in file_uses)) {
                printf "%s:%d: #include \"%s\": %s/ may not use %s/ (scripts/layers.txt)\n", FILENAME, FNR, inc, own, to
                bad = 1
                next
        }
        if (header ~ /_int\.h$/ || (has_exports[to] && !((to SUBSEP header) in exports))) {
                printf "%s:%d: #include \"%s\": not a header %s/ exports (scripts/layers.txt)\n", FILENAME, FNR, inc, to
                bad = 1
        }
}
END {
        n = split(folders, fs, "\n")
        for (i = 1; i <= n; i++)
                if (fs[i] != "" && !(fs[i] in known) && !(fs[i] in reported)) {
                        printf "%s/%s: folder has no line in the layering table\n", srcdir, fs[i]
                        bad = 1
                }
        if (bad) {
                print "check-layers: the includes above break the layering table (docs/architecture.md, \"Layers\")"
                exit 1
        }
}
' "$table" "${files[@]}"
echo "check-layers: ${#files[@]} files follow the layering table"
