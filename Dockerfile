# Sluice container image: `docker build -t sluice .` then `docker run sluice receive …`.
# Build stage: install the locked dependencies (npm ci also compiles the TypeScript through the
# prepare script), then drop the dev dependencies. Runtime stage: only what `sluice` loads.
# deploy/ runs it with `receive` and flags as arguments; test/deploy/manifests.test.ts checks that
# the ENTRYPOINT path exists and that EXPOSE matches the StatefulSet's containerPorts.

FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# The prepare script (tsc) needs the sources, so install without scripts first, then build.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY bin ./bin
# Only src/ is copied, so tsconfig.json's test/ and loadtest/ globs match nothing and tsc compiles
# the sources alone.
COPY src ./src
RUN npm run build && npm prune --omit=dev --ignore-scripts --no-audit --no-fund

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/bin ./bin
COPY --from=build /app/dist/src ./dist/src
# remote.proto is read at run time.
COPY --from=build /app/src/proto ./src/proto
# The default --tsdb.path (./data) lands in /var/lib/sluice; the StatefulSet uses /data.
RUN mkdir -p /var/lib/sluice /data && chown 65534:65534 /var/lib/sluice /data
WORKDIR /var/lib/sluice
# nobody:nogroup, the user the StatefulSet's securityContext runs as.
USER 65534:65534
# remote-write, HTTP (metrics, probes, read API), gRPC StoreAPI
EXPOSE 19291 10902 10901
ENTRYPOINT ["node", "--single-threaded-gc", "/app/bin/sluice.js"]
CMD ["receive"]
