# Shared by bench/load/run.sh and bench/soak/run.sh (sourced): the Debian tools the load scripts drive, and the
# Native AOT publish of a project, the shipped build kind.

install_load_tools() {
  local need=()
  command -v wrk >/dev/null 2>&1 || need+=(wrk)
  command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need+=(nginx-light)
  if [ ${#need[@]} -gt 0 ]; then
    echo "installing ${need[*]} (Debian packages)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  fi
}

# publish_aot <project> <output folder> <log file>
publish_aot() {
  local linker=()
  if ! command -v clang >/dev/null 2>&1 && command -v clang-14 >/dev/null 2>&1; then linker=(-p:CppCompilerAndLinker=clang-14); fi
  dotnet publish "$1" -c Release -r linux-x64 -p:PublishAot=true "${linker[@]}" -o "$2" >"$3" 2>&1 || { tail -20 "$3"; return 1; }
}

# publish_jit <project> <output folder> <log file>: the framework-dependent build (JIT, tiered compilation with Dynamic PGO).
publish_jit() {
  dotnet publish "$1" -c Release -o "$2" >"$3" 2>&1 || { tail -20 "$3"; return 1; }
}
