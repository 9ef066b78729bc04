# Inlet's container image: `inlet` and `migrator` (release) on Debian 12 with libpq.
#   docker build -t inlet .
#   docker run --rm -e DATABASE_URL=... inlet migrator up
#   docker run -e DATABASE_URL=... -p 8080:8080 inlet            # inlet serve
# docker-compose.yml runs PostgreSQL, `migrator up` and `inlet serve` from this image.
# scripts/check-containers.sh (in `make test`) checks this file's rules without a Docker engine.

# ---- build ------------------------------------------------------------------------------------
# The toolchain Inlet is developed and tested with (`swift --version`: 6.3.1), on Debian 12 like
# the development and CI machines; Package.swift's swift-tools-version (6.2) must not exceed it.
FROM swift:6.3.1-bookworm AS build
# libpq-dev: the CLibPQ module (pkg-config libpq); zlib1g-dev: CZlib (pkg-config zlib).
RUN apt-get update \
    && apt-get install -y --no-install-recommends libpq-dev zlib1g-dev pkg-config \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src

# Dependencies first, so that a change to Sources/ does not fetch them again.
# Versions: Package.swift's `from:` requirements, resolved against GitHub, as a fresh CI run
# resolves them (Package.resolved is git-ignored: this development machine resolves through a
# local mirror whose commit ids are not GitHub's, so its Package.resolved would not check out
# here). A build therefore takes the newest versions the requirements allow on the day it runs.
# A reproducible build pins them: put a Package.resolved resolved against GitHub in the build
# context (the one CI's `make test` leaves in its checkout pins the image to exactly what CI
# tested; or `swift package resolve` on any machine without a mirror) and the build uses those
# revisions and nothing else (`--force-resolved-versions` fails instead of re-resolving).
# `Package.resolve[d]` is a glob so that the file is optional; with a mirror's Package.resolved in
# the checkout, delete it before building.
COPY Package.swift Package.resolve[d] ./
RUN if [ -f Package.resolved ]; then swift package resolve --force-resolved-versions; \
    else swift package resolve; fi

COPY Sources ./Sources
COPY Plugins ./Plugins
# Package.swift declares the test targets; SwiftPM wants their directories even to build the
# executables.
COPY Tests ./Tests
# The migrations: compiled into both binaries by the EmbedMigrations plugin.
COPY sql ./sql

# --static-swift-stdlib links the Swift runtime and Foundation into each binary, so the runtime
# image needs no Swift libraries (nothing to copy, no LD_LIBRARY_PATH, no version skew between the
# two stages); libpq, zlib and glibc stay dynamic, from Debian. It costs the runtime twice (once
# per binary) instead of shared libraries once: the price of a runtime stage that does not depend
# on the Swift version.
# swift-backtrace-static: the runtime's crash backtracer, which a static binary needs beside it.
RUN swift build -c release --static-swift-stdlib --product inlet \
    && swift build -c release --static-swift-stdlib --product migrator \
    && bin="$(swift build -c release --static-swift-stdlib --show-bin-path)" \
    && mkdir -p /staging/bin \
    && cp "$bin/inlet" "$bin/migrator" /staging/bin/ \
    && cp /usr/libexec/swift/linux/swift-backtrace-static /staging/

# ---- runtime ----------------------------------------------------------------------------------
FROM debian:bookworm-slim AS runtime
# libpq5: the PostgreSQL client library; ca-certificates: roots for `sslrootcert=` on a TLS
# database connection; tzdata: Foundation's time zones.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libpq5 ca-certificates tzdata \
    && rm -rf /var/lib/apt/lists/*
# A fixed uid/gid, so that volume ownership and Kubernetes' runAsNonRoot/runAsUser can rely on it.
RUN groupadd --system --gid 10001 inlet \
    && useradd --system --uid 10001 --gid inlet --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin inlet

COPY --from=build /staging/bin/inlet /staging/bin/migrator /usr/local/bin/
COPY --from=build /staging/swift-backtrace-static /usr/libexec/swift/linux/swift-backtrace-static
# The migrations are inside both binaries; sql/ is also here to read, and for
# `migrator --sql-dir /usr/share/inlet/sql`.
COPY sql /usr/share/inlet/sql

# A crash prints a backtrace of every thread to stderr, without waiting for a debugger.
ENV SWIFT_BACKTRACE=enable=yes,sanitize=yes,threads=all,images=all,interactive=no,swift-backtrace=/usr/libexec/swift/linux/swift-backtrace-static

# Numeric, so that a runtime can check it is not root without reading /etc/passwd.
USER 10001:10001
EXPOSE 8080
# `inlet healthcheck` GETs /readyz on 127.0.0.1:$INLET_PORT (HTTPS when INLET_TLS_CERT is set) and
# exits 0 on 200; it waits at most 3 s, under Docker's --timeout. The start period covers
# connecting to the database and loading tenants.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 CMD ["inlet", "healthcheck"]
# SIGTERM (docker stop) drains: queued requests are still committed for up to
# INLET_SHUTDOWN_TIMEOUT_MS (20 s), so give `docker stop` / compose more than that (`-t 30`,
# stop_grace_period: 30s).
STOPSIGNAL SIGTERM
CMD ["inlet", "serve"]
