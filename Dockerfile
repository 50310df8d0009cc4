# Multi-stage build: a static binary in a small image, run as a non-root user.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/salesagent ./cmd/salesagent

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/salesagent /usr/local/bin/salesagent
COPY --from=build /src/demo /opt/salesagent/demo
USER nonroot:nonroot
EXPOSE 8080
ENV SALESAGENT_ADDR=0.0.0.0:8080
ENTRYPOINT ["/usr/local/bin/salesagent"]
CMD ["serve"]
