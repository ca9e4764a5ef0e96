# Offramp on Debian 12: build the release binary, then run it in a slim image
# with only the runtime libraries.
#
#   docker build -t offramp .
#   docker run -p 8080:8080 -v offramp-data:/var/lib/offramp offramp
#   docker run --rm offramp admin create-tenant --name acme --db /var/lib/offramp/offramp.db
# PostgreSQL: -e OFFRAMP_DATABASE_URL=postgresql://... and
# -e OFFRAMP_SECRET_KEY_FILE=/run/secrets/offramp.key (a mounted 0600 file of
# 64 hex digits; the flag below is then dropped by giving a CMD of your own).

FROM debian:12-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential pkg-config xxd \
      libmicrohttpd-dev libjansson-dev libyajl-dev libsqlite3-dev libssl-dev \
      libcurl4-openssl-dev libpq-dev nettle-dev libsecp256k1-dev libxml2-dev ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Makefile ./
COPY src ./src
COPY docs ./docs
COPY schemas ./schemas
COPY web ./web
COPY scripts ./scripts
COPY deploy ./deploy
COPY README.md ./
RUN make -j"$(nproc)" build/offramp \
 && make install PREFIX=/usr/local DESTDIR=/out

FROM debian:12-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends libmicrohttpd12 libjansson4 libyajl2 \
      libsqlite3-0 libssl3 libcurl4 libnettle8 libpq5 libsecp256k1-1 libxml2 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --home-dir /var/lib/offramp --create-home --shell /usr/sbin/nologin offramp
COPY --from=build /out/usr/local/ /usr/local/
USER offramp
WORKDIR /var/lib/offramp
VOLUME /var/lib/offramp
EXPOSE 8080
ENV OFFRAMP_LISTEN=0.0.0.0:8080
HEALTHCHECK --interval=10s --timeout=2s CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/8080"]
ENTRYPOINT ["/usr/local/bin/offramp"]
CMD ["serve", "--db", "/var/lib/offramp/offramp.db"]
