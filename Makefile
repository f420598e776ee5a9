# Build metadata for `ssogate version` (SPEC section 10), from git when there is a checkout.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse HEAD 2>/dev/null)
DATE    ?= $(shell git log -1 --format=%cI 2>/dev/null || date -u +%Y-%m-%dT%H:%M:%SZ)
LDFLAGS := -s -w -X main.buildVersion=$(VERSION) -X main.buildCommit=$(COMMIT) -X main.buildDate=$(DATE)
IMAGE   ?= ssogate:$(VERSION)
# docker when its daemon answers, else podman (the container engine on these machines).
ifeq ($(strip $(ENGINE)),)
ENGINE := $(shell if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then echo docker; \
            elif command -v podman >/dev/null 2>&1; then echo podman; else echo docker; fi)
endif
export VERSION COMMIT DATE

.PHONY: build image deb bench

# A static binary with the build metadata, in bin/ssogate.
build:
	CGO_ENABLED=0 go build -trimpath -ldflags "$(LDFLAGS)" -o bin/ssogate ./cmd/ssogate

# The container image (Dockerfile): the root filesystem is laid out first, so the build
# pulls no base image.
image:
	scripts/image-rootfs.sh build/rootfs
	$(ENGINE) build $(if $(filter podman,$(ENGINE)),--format docker --layers=false) -t $(IMAGE) -f Dockerfile .
	@echo "built $(IMAGE) with $(ENGINE)"

# The Debian package (nfpm, deploy/debian/nfpm.yaml), in dist/.
deb:
	scripts/deb.sh

# The side-by-side load benchmark (bench/run.sh, docs/benchmarks.md).
bench:
	bench/run.sh
