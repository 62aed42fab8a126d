# syntax=docker/dockerfile:1
# Tater server image: `docker build -t tater .` then
#   docker run -p 127.0.0.1:8080:8080 -v tater-data:/var/lib/tater tater serve --demo
# (SQLite in the volume). For PostgreSQL, Redis and several replicas see compose.yaml.

# --- build: the release binary, from the locked dependency tree -------------------------
FROM rust:1.95-bookworm AS build
WORKDIR /src
# The toolchain file pins the compiler (and asks for the Windows target the agent uses,
# which this image does not need).
COPY . .
RUN sed -i '/^targets/d' rust-toolchain.toml \
 && cargo build --release --locked --bin tater \
 && strip target/release/tater \
 && install -D -m 0755 target/release/tater /out/tater

# --- run: a small Debian with CA roots, an unprivileged user, nothing else ---------------
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 tater \
 && useradd --system --uid 10001 --gid tater --home-dir /var/lib/tater --shell /usr/sbin/nologin tater \
 && install -d -m 0700 -o tater -g tater /var/lib/tater /srv/tater-files
COPY --from=build /out/tater /usr/local/bin/tater
COPY LICENSE /usr/share/doc/tater/LICENSE
USER tater:tater
# Secrets: Docker/Compose secrets mount in /run/secrets, which Tater reads like systemd
# credentials (master-key, jwt-secret, audit-signing-key, database-url, redis-url, smtp-url,
# entra-client-secret, anthropic-api-key). Without them the server generates its own into
# the data volume.
ENV TATER_LISTEN=0.0.0.0:8080 \
    TATER_DATA_DIR=/var/lib/tater \
    TATER_LOG_FORMAT=json \
    CREDENTIALS_DIRECTORY=/run/secrets
VOLUME ["/var/lib/tater"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=6s --start-period=20s --retries=3 \
  CMD ["tater", "health"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["tater"]
CMD ["serve"]
