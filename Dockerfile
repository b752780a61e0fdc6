# MeshLite sidecar image: the Native AOT binary on a chiseled runtime-deps base (no shell, no package manager),
# running as uid 1337 like istio-proxy. Configuration by environment variables only, e.g.
#   docker run -e MeshLite__ServiceName=payment -e MeshLite__Inbound__AppPort=8080 meshlite
# No HEALTHCHECK: Kubernetes probes /healthz/ready on the admin port.

ARG DOTNET_VERSION=10.0

FROM mcr.microsoft.com/dotnet/sdk:${DOTNET_VERSION} AS build
ARG TARGETARCH
# Native AOT links with clang and needs zlib.
RUN apt-get update \
 && apt-get install -y --no-install-recommends clang zlib1g-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY global.json Directory.Build.props Directory.Packages.props .editorconfig ./
COPY src/MeshLite/MeshLite.csproj src/MeshLite/
RUN RID=linux-$([ "$TARGETARCH" = "arm64" ] && echo arm64 || echo x64) \
 && dotnet restore src/MeshLite/MeshLite.csproj -r "$RID" -p:PublishAot=true
COPY src/ src/
RUN RID=linux-$([ "$TARGETARCH" = "arm64" ] && echo arm64 || echo x64) \
 && dotnet publish src/MeshLite/MeshLite.csproj -c Release -r "$RID" --no-restore \
      -p:PublishAot=true -p:StripSymbols=true -o /app

FROM mcr.microsoft.com/dotnet/runtime-deps:${DOTNET_VERSION}-noble-chiseled AS final
WORKDIR /app
COPY --from=build /app/MeshLite /app/MeshLite
USER 1337:1337
# 15001 outbound, 15006 inbound, 15000 admin (bound to 127.0.0.1 inside the pod), 15090 Prometheus.
EXPOSE 15001 15006 15000 15090
ENV MeshLite__Outbound__BindAddress=127.0.0.1 \
    DOTNET_ThreadPool_UnfairSemaphoreSpinLimit=0
ENTRYPOINT ["/app/MeshLite"]
