# ssogate's container image (SPEC section 10): a static binary on an empty base, uid 65532.
# Nothing is pulled: `make image` first lays out build/rootfs (scripts/image-rootfs.sh: the
# CGO_ENABLED=0 binary, a CA bundle, passwd/group entries), then builds this file with docker
# or podman.
FROM scratch
COPY build/rootfs/ /
COPY --chown=65532:65532 build/rootfs-data /data
USER 65532:65532
WORKDIR /data
# Every key can be set with SSOGATE_* variables; these make the image useful as it is. The
# admin listener binds all interfaces so the orchestrator's probes reach it: keep its port
# internal (the Helm chart's NetworkPolicy does).
ENV SSOGATE_LISTEN=:9000 \
    SSOGATE_ADMIN_LISTEN=:9001 \
    SSOGATE_STORE_PATH=/data/ssogate.db
VOLUME ["/data"]
EXPOSE 9000 9001
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 \
    CMD ["/usr/local/bin/ssogate", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/ssogate"]
CMD ["serve"]
