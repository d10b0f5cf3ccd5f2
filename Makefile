# The one test command: `make test`. It installs the Go tools the tests use
# when they are missing (staticcheck, the MinIO server used as a test peer),
# checks the Debian clients the end-to-end tests drive, then runs vet,
# staticcheck, the whole suite under -race, the mirror and website
# end-to-end tests again over a MinIO backend (--backend s3), and the
# large-transfer tests (hundreds of MiB, build tag `large`) without -race.

GO          ?= go
GOBIN       := $(shell $(GO) env GOPATH)/bin
STATICCHECK := $(GOBIN)/staticcheck
MINIO       := $(GOBIN)/minio
MINIO_VERSION       := v0.0.0-20260212201848-7aac2a2c5b7c
STATICCHECK_VERSION := v0.8.2
DEBIAN_TOOLS := /usr/bin/aws /usr/bin/rclone /usr/bin/s3cmd /usr/sbin/nginx /usr/bin/wrk /usr/bin/chromium
export MIRRORSTORE_TEST_MINIO := $(MINIO)

.PHONY: all build test vet lint test-race test-s3 test-large tools check-debian bench fmt clean crash-long soak soak-short

all: build

build:
	$(GO) build ./...

test: tools check-debian vet lint test-race test-s3 test-large soak-short

vet:
	$(GO) vet ./...

lint: $(STATICCHECK)
	$(STATICCHECK) ./...

# -race on every package; go test prints each package's time on its ok line.
test-race:
	$(GO) test -race -count=1 -timeout 15m ./...

# The mirror and website end-to-end tests again, each server storing in a
# MinIO backend (--backend s3) instead of the embedded engine: about a
# minute more, for the mode a scale-out deployment runs.
test-s3:
	MIRRORSTORE_E2E_BACKEND=s3 $(GO) test -race -count=1 -timeout 10m -run 'TestMirror|TestWebsite' ./e2e/

test-large:
	$(GO) test -tags large -run Large -count=1 -timeout 15m ./...

# The long crash loop: 1,000 SIGKILL cycles under the mixed workload
# (about 40 minutes on two cores); it prints its counts.
crash-long:
	MIRRORSTORE_CRASH_ROUNDS=1000 $(GO) test -count=1 -v -timeout 3h -run TestKillDuringWrites ./e2e/crash/

# The soak: the real server under mixed load from six clients with a good
# and a misbehaving origin; RSS, goroutines and errors printed at every
# sample, latency percentiles at the end. make test runs the two-minute form.
soak-short:
	MIRRORSTORE_SOAK=2m $(GO) test -count=1 -v -timeout 10m -run TestSoak ./e2e/soak/

soak:
	MIRRORSTORE_SOAK=30m $(GO) test -count=1 -v -timeout 45m -run TestSoak ./e2e/soak/

tools: $(STATICCHECK) $(MINIO)

$(STATICCHECK):
	$(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

# About three minutes on two cores the first time; skipped once built.
$(MINIO):
	$(GO) install github.com/minio/minio@$(MINIO_VERSION)

check-debian:
	@missing=""; for t in $(DEBIAN_TOOLS); do [ -x $$t ] || missing="$$missing $$t"; done; \
	 python3 -c 'import boto3' 2>/dev/null || missing="$$missing python3-boto3"; \
	 if [ -n "$$missing" ]; then \
	   echo "missing test clients:$$missing"; \
	   echo "install them with: sudo scripts/install-debian-deps.sh"; exit 1; fi

bench:
	$(GO) run ./bench

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf bin data
