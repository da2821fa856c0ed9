# The windowdesk binary in a small image (used by deploy/compose.yaml).
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p windowdesk

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/* \
    && useradd --system --home /var/lib/windowdesk windowdesk && mkdir -p /var/lib/windowdesk && chown windowdesk /var/lib/windowdesk
COPY --from=build /src/target/release/windowdesk /usr/local/bin/windowdesk
USER windowdesk
WORKDIR /var/lib/windowdesk
EXPOSE 8080
CMD ["windowdesk", "serve"]
