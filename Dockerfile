# MeshLite sidecar image: the Native AOT binary on a chiseled runtime-deps base (no shell, no package manager),
# running as uid 1337 like istio-proxy. It shares the app container's network namespace, as in a pod:
#   docker run -d --name app -p 8080:15006 my-app                      # the app listens on 127.0.0.1:8080
#   docker run -d --network container:app -e MeshLite__ServiceName=app -e MeshLite__Inbound__AppPort=8080 meshlite:0.1.0
# No HEALTHCHECK: Kubernetes probes /healthz/ready on the metrics port (15090).

# Pinned, so that a rebuild gives the same image; raise them together with global.json.
ARG SDK_TAG=10.0.401-noble
ARG RUNTIME_DEPS_TAG=10.0.12-noble-chiseled

FROM mcr.microsoft.com/dotnet/sdk:${SDK_TAG} AS build
ARG TARGETARCH
# Native AOT links with clang and needs zlib.
RUN apt-get update \
 && apt-get install -y --no-install-recommends clang zlib1g-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY global.json Directory.Build.props Directory.Packages.props .editorconfig ./
COPY src/MeshLite/MeshLite.csproj src/MeshLite/
# The image runs only the sidecar: no trace UI (the Aspire Dashboard that `meshlite mesh` starts) is downloaded.
RUN RID=linux-$([ "$TARGETARCH" = "arm64" ] && echo arm64 || echo x64) \
 && dotnet restore src/MeshLite/MeshLite.csproj -r "$RID" -p:PublishAot=true -p:MeshLiteTraceUi=false
COPY src/ src/
# The sidecar's fixed part, shared with the Helm chart (meshlite inject embeds it).
COPY helm/meshlite/templates/_sidecar.tpl helm/meshlite/templates/
RUN RID=linux-$([ "$TARGETARCH" = "arm64" ] && echo arm64 || echo x64) \
 && dotnet publish src/MeshLite/MeshLite.csproj -c Release -r "$RID" --no-restore \
      -p:PublishAot=true -p:StripSymbols=true -p:MeshLiteTraceUi=false -o /app

FROM mcr.microsoft.com/dotnet/runtime-deps:${RUNTIME_DEPS_TAG} AS final
WORKDIR /app
COPY --from=build /app/MeshLite /app/MeshLite
USER 1337:1337
# 15001 outbound, 15006 inbound, 15000 admin (bound to 127.0.0.1 inside the pod), 15090 Prometheus.
EXPOSE 15001 15006 15000 15090
ENV MeshLite__Outbound__BindAddress=127.0.0.1 \
    DOTNET_ThreadPool_UnfairSemaphoreSpinLimit=0
ENTRYPOINT ["/app/MeshLite"]
