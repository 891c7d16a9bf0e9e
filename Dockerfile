# stackmedic as a container. Build: docker build -t stackmedic .
# Run (mount the deployments folder at the same path as on the host, because compose
# files resolve bind mounts and build contexts against host paths):
#   docker run -d --name stackmedic --restart unless-stopped \
#     -v /var/run/docker.sock:/var/run/docker.sock \
#     -v /srv/deployments:/srv/deployments \
#     -v stackmedic-data:/var/lib/stackmedic \
#     -v /proc/sys/kernel/random/boot_id:/host/boot_id:ro \
#     -e STACKMEDIC_DEPLOYMENTS_PATH=/srv/deployments \
#     -e STACKMEDIC_BOOT_ID_PATH=/host/boot_id \
#     -p 127.0.0.1:8477:8477 stackmedic
# Without /sys/fs/cgroup mounted, per-container figures come from the engine's stats API.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    STACKMEDIC_DATA_DIR=/var/lib/stackmedic \
    STACKMEDIC_API__HOST=0.0.0.0
WORKDIR /opt/stackmedic
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install --no-cache-dir . && useradd --system stackmedic || true
VOLUME ["/var/lib/stackmedic"]
EXPOSE 8477
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:8477/healthz', timeout=4)" || exit 1
ENTRYPOINT ["stackmedic"]
CMD ["run"]
