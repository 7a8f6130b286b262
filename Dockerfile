# mautrix-whatsapp (Python) container image.
#
#   docker build -t mautrix-whatsapp .
#   docker run --rm -v "$(pwd)/data:/data" mautrix-whatsapp   # 1st: writes config.yaml, exits
#   (edit data/config.yaml)
#   docker run --rm -v "$(pwd)/data:/data" mautrix-whatsapp   # 2nd: writes registration.yaml
#   (register data/registration.yaml with the homeserver)
#   docker run -d --restart unless-stopped -v "$(pwd)/data:/data" mautrix-whatsapp
#
# See docker/run.sh for what each start does and docker/docker-compose.yml for a full setup.
FROM python:3.11-slim

# The bridge runs as UID:GID (docker/run.sh drops root with setpriv from util-linux, which the
# Debian base already has) and /data is chowned to them on every start.
ENV UID=1337 \
    GID=1337 \
    DATA_DIR=/data \
    PYTHON=python3 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /opt/mautrix-whatsapp
# example-config.yaml lives at the repository root; the package's copy is a symlink to it, which
# the build resolves, so the installed package carries the file itself.
COPY pyproject.toml README.md example-config.yaml ./
COPY mautrix_whatsapp ./mautrix_whatsapp
# Every dependency is a wheel (no compiler needed); the example config ships as package data.
# The e2be extra (python-olm and friends) makes end-to-bridge encryption available.
RUN pip install --no-cache-dir '.[e2be]'

COPY docker/run.sh /docker-run.sh

VOLUME /data
WORKDIR /data
# The appservice port (appservice.port in config.yaml; set appservice.hostname to 0.0.0.0).
# Metrics, when enabled, listen on metrics.listen (127.0.0.1:8001 by default: set 0.0.0.0:8001
# to scrape from outside the container).
EXPOSE 29318
# Healthy while the bridge answers /_matrix/mau/ready (fails, harmlessly, during the first-run
# steps that only write files and exit).
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
    CMD ["python3", "-m", "mautrix_whatsapp.healthcheck", "-c", "/data/config.yaml"]
CMD ["/docker-run.sh"]
