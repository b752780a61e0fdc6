#!/usr/bin/env bash
# Side-by-side load benchmark: direct, nginx proxy_pass, bare YARP (Native AOT and JIT, and YARP's direct forwarder under
# JIT) and MeshLite in both build kinds (tracing off, 1 %, 100 % with OTLP export to a local sink, and the defaults: 1 %
# with the access log), same wrk settings, interleaved and repeated, loopback only. Prints absolute figures and ratios to
# bare YARP of the same build kind and to nginx, and writes JSON and Markdown to bench/load/results/.
#   REPS=2 SATURATION_SECONDS=5 PACED_SECONDS=10 SERIAL_SECONDS=5 bench/load/run.sh   (ONLY=name,name keeps a subset)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
# BUILD_DIR=<folder> keeps the four builds there and reuses them on the next run (for A/B runs of the script itself).
work="${BUILD_DIR:-$(mktemp -d /tmp/meshlite-load.XXXXXX)}"
mkdir -p "$work"

source "$here/../aot.sh"
install_load_tools
echo "building MeshLite and bare YARP (Native AOT and JIT, Release) into $work"
build() { [ -n "${BUILD_DIR:-}" ] && [ -d "$work/$3" ] || "$1" "$2" "$work/$3" "$work/build-$3.log"; }
build publish_aot "$root/src/MeshLite/MeshLite.csproj" meshlite-aot
build publish_jit "$root/src/MeshLite/MeshLite.csproj" meshlite-jit
build publish_aot "$here/YarpBaseline/YarpBaseline.csproj" yarp-aot
build publish_jit "$here/YarpBaseline/YarpBaseline.csproj" yarp-jit

mkdir -p "$here/results"
python3 "$here/harness.py" --work "$work" --out "$here/results"
[ -n "${BUILD_DIR:-}" ] || rm -rf "$work"
