#!/usr/bin/env bash
# A bounded soak of the shipped (Native AOT) sidecar at half its measured saturation, loopback only:
#   SOAK_MINUTES=10 SAMPLE_SECONDS=5 SAMPLING=10 bench/soak/run.sh
# Writes bench/soak/results/soak-<time>.json (every RSS/CPU sample) and prints the summary; exits 1 on a failed
# request or a span neither exported nor counted as dropped.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
work="$(mktemp -d /tmp/meshlite-soak.XXXXXX)"
trap 'rm -rf "$work"' EXIT

source "$here/../aot.sh"
install_load_tools
echo "building MeshLite (Native AOT, Release) into $work"
publish_aot "$root/src/MeshLite/MeshLite.csproj" "$work/meshlite-aot" "$work/build.log"
python3 "$here/soak.py" --work "$work" --out "$here/results"
