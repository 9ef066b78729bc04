# Inlet's two commands. Both work on a fresh Debian machine with nothing but a clone: they
# install libpq-dev, postgresql and wrk when missing and start a local PostgreSQL cluster.
.PHONY: run test build stop-db clean-db loadtest bench fuzz chaos check-containers check-observability cfn-validate deploy test-deploy

## run: local PostgreSQL (unless DATABASE_URL is set), migrate, demo tenant, serve on :8080
run:
	@scripts/run.sh

## test: a fresh PostgreSQL cluster, `swift test` against it, then the short chaos run (SHORT=1 make chaos)
test:
	@scripts/test.sh

## build: release binaries in .build/release (inlet, migrator)
build:
	@scripts/localpg.sh packages
	swift build -c release

## stop-db: stop the cluster `make run` started
stop-db:
	@scripts/localpg.sh stop run

## clean-db: delete the cluster `make run` started, with its data and demo token
clean-db:
	@scripts/localpg.sh destroy run
	@rm -f .local/demo-token

## loadtest: wrk against a RUNNING Inlet (default: `make run`'s), bounded in time; prints messages/s
## committed (counted in PostgreSQL), latency percentiles and every non-2xx status.
## Knobs: INLET_URL INLET_TOKEN DATABASE_URL BATCH SHAPE CONNECTIONS DURATION RATE RESEND MONTHS_BACK
## CHART (scripts/loadtest.sh); draws committed msg/s and p99 per second as a PNG in .local/loadtest/
loadtest:
	@scripts/loadtest.sh

## bench: raw COPY vs Inlet end to end on a fresh local cluster, Segment's shapes (16 connections,
## single messages, resends, a Replay), the hot path's CPU per message and peak RSS, as one table
## and a chart in .local/bench-charts/ (docs/PERFORMANCE.md)
bench:
	@scripts/bench.sh

## fuzz: libFuzzer over the message parser for FUZZ_SECONDS (default 600), seeded with Tests/corpus;
## findings go to .local/fuzz/artifacts and fail the run (scripts/fuzz.sh)
fuzz:
	@scripts/fuzz.sh

## chaos: steady load while Inlet is SIGKILLed and restarted, PostgreSQL restarted and frozen
## (SIGSTOP), and the load tripled; fails on any lost or duplicated acknowledged message.
## SHORT=1 for a ~40 s version (scripts/chaos.sh)
chaos:
	@scripts/chaos.sh

## check-containers: Dockerfile and docker-compose.yml follow their rules (Swift version, stages,
## non-root user, `inlet healthcheck`, compose order and healthchecks), without a Docker engine
check-containers:
	@scripts/check-containers.sh

## check-observability: deploy/'s alert rules (promtool check and unit tests) and Grafana dashboard,
## and every metric they name exists in Sources/
check-observability:
	@scripts/check-observability.sh

## cfn-validate: cfn-lint (pinned in deploy/aws/requirements.txt) over deploy/aws/*.yaml; any finding fails
cfn-validate:
	@scripts/cfn-validate.sh

## deploy: the AWS stacks, then `migrator up` as a one-off task, then the service, waiting for each.
## IMAGE, CERTIFICATE_ARN and AWS_REGION required; the other knobs in deploy/aws/README.md (scripts/deploy.sh)
deploy:
	@scripts/deploy.sh

## test-deploy: `make deploy` end to end against moto's AWS emulator on loopback, ~2 min
## (what it covers and does not: deploy/aws/README.md; scripts/test-deploy.sh)
test-deploy:
	@scripts/test-deploy.sh
