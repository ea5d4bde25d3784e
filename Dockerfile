# syntax=docker/dockerfile:1
# One raftree node. Configure it with RAFTREE_* environment variables (see docs/operations.md)
# or with flags after the image name: `docker run raftree --id n2 --peers ...`.

FROM node:20-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# Scripts off: `prepare` would build before the sources are here (the build is the next step);
# classic-level loads its bundled prebuilt binary at run time, so it needs no install script.
RUN npm ci --ignore-scripts
COPY tsconfig.json ./
COPY proto ./proto
COPY src ./src
COPY scripts/bundle.ts ./scripts/bundle.ts
RUN npm run build

FROM node:20-slim
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY proto ./proto
RUN mkdir -p /data && chown node:node /data
USER node

# A single-node cluster unless told otherwise; compose sets these per node.
ENV RAFTREE_ID=n1 \
    RAFTREE_LISTEN=0.0.0.0:7001 \
    RAFTREE_HTTP=0.0.0.0:8001 \
    RAFTREE_PEERS=n1=127.0.0.1:7001 \
    RAFTREE_DATA_DIR=/data
VOLUME /data
# 7001: gRPC (clients and peers); 8001: HTTP side port (/health, /status, /metrics, dashboard).
EXPOSE 7001 8001

HEALTHCHECK --interval=5s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "const a = (process.env.RAFTREE_HTTP || '0.0.0.0:8001').replace(/^(0\\.0\\.0\\.0|\\[::\\])/, '127.0.0.1'); fetch('http://' + a + '/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

ENTRYPOINT ["node", "dist/raftree.mjs", "serve"]
