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

need=()
command -v wrk >/dev/null 2>&1 || need+=(wrk)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need+=(nginx-light)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing ${need[*]} (Debian packages)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

linker=()
if ! command -v clang >/dev/null 2>&1 && command -v clang-14 >/dev/null 2>&1; then linker=(-p:CppCompilerAndLinker=clang-14); fi
echo "building MeshLite (Native AOT, Release) into $work"
dotnet publish "$root/src/MeshLite/MeshLite.csproj" -c Release -r linux-x64 -p:PublishAot=true "${linker[@]}" -o "$work/meshlite" >"$work/build.log" 2>&1 \
  || { tail -20 "$work/build.log"; exit 1; }
python3 "$here/soak.py" --work "$work" --out "$here/results"
