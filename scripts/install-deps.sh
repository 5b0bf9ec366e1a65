#!/bin/sh
# Install the Debian packages listed in packages.txt that are not installed yet.
# Quiet and quick when everything is present; needs root otherwise.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
missing=""
for p in $(grep -v '^\s*#' "$here/packages.txt" | sed '/^\s*$/d'); do
        if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
                missing="$missing $p"
        fi
done
# Node.js and npm come with this kind of machine; Debian's are the fallback.
command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || missing="$missing nodejs npm"

node_deps() {
        # dockerode for the Node.js client tests, pinned by tests/e2e/node/package-lock.json.
        d="$here/tests/e2e/node"
        if [ ! -d "$d/node_modules/dockerode" ] || [ "$d/package-lock.json" -nt "$d/node_modules/.package-lock.json" ]; then
                echo "installing npm packages for tests/e2e/node" >&2
                (cd "$d" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
        fi
}

if [ -z "$missing" ]; then
        node_deps
        exit 0
fi
echo "installing Debian packages:$missing" >&2
if [ "$(id -u)" != 0 ]; then
        echo "install-deps: run as root to install:$missing" >&2
        exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# docker-registry is a service package: keep apt from starting it (tests start their own).
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' > "$policy"
        chmod 755 "$policy"
        created_policy=1
fi
trap '[ "$created_policy" = 1 ] && rm -f "$policy"' EXIT
apt-get update -qq
apt-get install -y -qq --no-install-recommends $missing >/dev/null
node_deps
