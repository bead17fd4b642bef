# The Seattle prediction API in a small image.
#
#   docker build -t auditbook-seattle-api .
#   docker run --rm -p 8000:8000 auditbook-seattle-api      # then http://localhost:8000/docs
#
# Stage 1 compiles the tool (DuckDB's C++ included: expect a long first build) and trains the
# model by running the Seattle chapter on the project's own copy of the data, checks
# included: an image is never built around a model that failed them. Stage 2 is the binary,
# the model file and an unprivileged user.

FROM rust:1.89-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends g++ make protobuf-compiler && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin auditbook \
 && ./target/release/auditbook check --chapter seattle \
 && cp target/auditbook/artifacts/seattle/model.json /model.json

FROM debian:bookworm-slim
# libstdc++ (DuckDB is C++) comes with the base image; OpenMP's runtime (the multilingual
# model's engine is built with it) does not.
RUN apt-get update && apt-get install -y --no-install-recommends libgomp1 && rm -rf /var/lib/apt/lists/*
RUN useradd --system --uid 10001 --no-create-home api
COPY --from=build /src/target/release/auditbook /usr/local/bin/auditbook
COPY --from=build /model.json /srv/model.json
USER api
EXPOSE 8000
ENTRYPOINT ["auditbook", "api", "--model", "/srv/model.json", "--host", "0.0.0.0", "--port", "8000"]
