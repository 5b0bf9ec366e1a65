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
[ -z "$missing" ] && exit 0
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
