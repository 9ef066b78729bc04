# Inlet's container image: `inlet` and `migrator` on Debian with libpq.
# The migrations are compiled into both binaries; sql/ is also copied to /usr/share/inlet/sql
# for reading (`migrator --sql-dir` can point there).
FROM swift:6.1-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends libpq-dev pkg-config && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Package.swift ./
COPY Sources ./Sources
COPY Plugins ./Plugins
COPY Tests ./Tests
COPY sql ./sql
RUN swift build -c release --product inlet && swift build -c release --product migrator \
    && cp "$(swift build -c release --show-bin-path)/inlet" "$(swift build -c release --show-bin-path)/migrator" /usr/local/bin/

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends libpq5 ca-certificates tzdata \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /usr/lib/swift/linux/*.so /usr/lib/swift/linux/
COPY --from=build /usr/local/bin/inlet /usr/local/bin/migrator /usr/local/bin/
COPY sql /usr/share/inlet/sql
ENV LD_LIBRARY_PATH=/usr/lib/swift/linux
USER nobody
EXPOSE 8080
CMD ["inlet", "serve"]
