#!/usr/bin/env bash
# Side-by-side load benchmark: direct, nginx proxy_pass, bare YARP and MeshLite (tracing off, 1 %, 100 % with OTLP export
# to a local sink, and 1 % with the default access log), same wrk settings, interleaved and repeated, loopback only.
# Prints absolute figures and ratios to bare YARP and to nginx, and writes JSON and Markdown to bench/load/results/.
#   REPS=2 SATURATION_SECONDS=5 PACED_SECONDS=10 bench/load/run.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
work="$(mktemp -d /tmp/meshlite-load.XXXXXX)"

need=()
command -v wrk >/dev/null 2>&1 || need+=(wrk)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need+=(nginx-light)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing ${need[*]} (Debian packages)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

linker=()
if ! command -v clang >/dev/null 2>&1 && command -v clang-14 >/dev/null 2>&1; then linker=(-p:CppCompilerAndLinker=clang-14); fi
echo "building MeshLite and bare YARP (Native AOT, Release) into $work"
dotnet publish "$root/src/MeshLite/MeshLite.csproj" -c Release -r linux-x64 -p:PublishAot=true "${linker[@]}" -o "$work/meshlite" >"$work/build-meshlite.log" 2>&1 \
  || { tail -20 "$work/build-meshlite.log"; exit 1; }
dotnet publish "$here/YarpBaseline/YarpBaseline.csproj" -c Release -r linux-x64 -p:PublishAot=true "${linker[@]}" -o "$work/yarp" >"$work/build-yarp.log" 2>&1 \
  || { tail -20 "$work/build-yarp.log"; exit 1; }

mkdir -p "$here/results"
python3 "$here/harness.py" --work "$work" --out "$here/results"
rm -rf "$work"
