#!/usr/bin/env bash
# Side-by-side load benchmark: direct, nginx proxy_pass, bare YARP and MeshLite (tracing off, 1 %, 100 % with OTLP export
# to a local sink, and 1 % with the default access log), same wrk settings, interleaved and repeated, loopback only.
# Prints absolute figures and ratios to bare YARP and to nginx, and writes JSON and Markdown to bench/load/results/.
#   REPS=2 SATURATION_SECONDS=5 PACED_SECONDS=10 bench/load/run.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
work="$(mktemp -d /tmp/meshlite-load.XXXXXX)"

source "$here/../aot.sh"
install_load_tools
echo "building MeshLite and bare YARP (Native AOT, Release) into $work"
publish_aot "$root/src/MeshLite/MeshLite.csproj" "$work/meshlite" "$work/build-meshlite.log"
publish_aot "$here/YarpBaseline/YarpBaseline.csproj" "$work/yarp" "$work/build-yarp.log"

mkdir -p "$here/results"
python3 "$here/harness.py" --work "$work" --out "$here/results"
rm -rf "$work"
