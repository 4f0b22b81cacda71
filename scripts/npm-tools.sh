#!/usr/bin/env bash
# Installs the npm tools listed in scripts/npm-tools.txt into .npm-tools/ (gitignored).
# Skips the install when .npm-tools already holds exactly that list.
set -euo pipefail
cd "$(dirname "$0")/.."
pkgs=$(grep -v '^\s*#' scripts/npm-tools.txt | xargs || true)
[ -z "$pkgs" ] && exit 0
if ! command -v npm >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "== installing nodejs and npm (Debian)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
  else
    echo "the tests need npm (for: $pkgs); install nodejs and npm" >&2
    exit 2
  fi
fi
stamp=.npm-tools/.installed
want=$(echo "$pkgs" | sha256sum | cut -c1-16)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
echo "== installing npm tools into .npm-tools: $pkgs"
mkdir -p .npm-tools
[ -f .npm-tools/package.json ] || echo '{"private": true}' > .npm-tools/package.json
# shellcheck disable=SC2086
npm install --prefix .npm-tools --no-audit --no-fund --silent $pkgs
echo "$want" > "$stamp"
