#!/usr/bin/env bash
# Installs the load generators `npm run bench` compares canihaz with, into a cache OUTSIDE the repo
# (so `npm ci` stays lean). Idempotent: a second run installs nothing and says so.
#
#   bash bench/peers.sh            # as root (apt-get for hey and wrk), network to npm and Debian
#
# Cache: ${CANIHAZ_BENCH_CACHE:-$HOME/.cache/canihaz-bench}; bench/run.mjs looks in the same place.
#   npm peers:    loadtest 8, autocannon 9, artillery 2.0.21  → $CACHE/npm/node_modules/.bin
#   Debian peers: hey, wrk                               → /usr/bin (apt-get install when missing)
#   Debian time:  /usr/bin/time, which measures each tool's CPU and peak RSS
#   k6:           not available from this machine's registries (not in Debian; npm `k6` is a dummy)
set -euo pipefail

CACHE="${CANIHAZ_BENCH_CACHE:-$HOME/.cache/canihaz-bench}"
NPM_DIR="$CACHE/npm"
# Exact versions: artillery 2.0.21 is the last that runs on Node 20 (2.0.22+ need Node >= 22.13).
NPM_PEERS=(loadtest@8.2.1 autocannon@9.0.0 artillery@2.0.21)
DEB_PEERS=(hey wrk time) # each package's command is /usr/bin/<package>
installed=()

mkdir -p "$NPM_DIR"
[ -f "$NPM_DIR/package.json" ] || echo '{ "name": "canihaz-bench-peers", "private": true }' >"$NPM_DIR/package.json"

missing_npm=()
for spec in "${NPM_PEERS[@]}"; do
  name="${spec%@*}"
  want="${spec##*@}"
  have="$(node -p "try { require('$NPM_DIR/node_modules/$name/package.json').version } catch { '' }")"
  if [ "$have" != "$want" ]; then missing_npm+=("$spec"); fi
done
if [ "${#missing_npm[@]}" -gt 0 ]; then
  echo "peers.sh: npm install ${missing_npm[*]} into $NPM_DIR" >&2
  # Artillery would otherwise download Playwright's browsers (hundreds of MB, and a host npm does not serve).
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --prefix "$NPM_DIR" --no-audit --no-fund --loglevel=error "${missing_npm[@]}" >&2
  installed+=("${missing_npm[@]}")
fi

missing_deb=()
for pkg in "${DEB_PEERS[@]}"; do
  [ -x "/usr/bin/$pkg" ] || missing_deb+=("$pkg")
done
if [ "${#missing_deb[@]}" -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "peers.sh: ${missing_deb[*]} missing and not root: run as root or apt-get install ${missing_deb[*]}" >&2
    exit 1
  fi
  echo "peers.sh: apt-get install ${missing_deb[*]}" >&2
  # Under the shared dpkg lock, so this never races another dpkg on a shared machine.
  flock /tmp/canihaz-dpkg.lock sh -c "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ${missing_deb[*]}" >&2
  installed+=("${missing_deb[@]}")
fi

if [ "${#installed[@]}" -eq 0 ]; then echo "peers.sh: nothing to install"; else echo "peers.sh: installed ${installed[*]}"; fi
for name in loadtest autocannon artillery; do
  printf '  %-11s %s\n' "$name" "$(node -p "require('$NPM_DIR/node_modules/$name/package.json').version")"
done
printf '  %-11s %s\n' hey "$(dpkg-query -W -f='${Version}' hey 2>/dev/null || echo '?')"
printf '  %-11s %s\n' wrk "$(dpkg-query -W -f='${Version}' wrk 2>/dev/null || echo '?')"
printf '  %-11s %s\n' time "$(dpkg-query -W -f='${Version}' time 2>/dev/null || echo '?')"
echo "  k6          not available from this machine's registries"
echo "  cache       $CACHE"
