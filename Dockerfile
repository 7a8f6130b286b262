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
COPY pyproject.toml README.md ./
COPY mautrix_whatsapp ./mautrix_whatsapp
# Every dependency is a wheel (no compiler needed); the example config ships as package data.
RUN pip install --no-cache-dir .

COPY docker/run.sh /docker-run.sh

VOLUME /data
WORKDIR /data
# The appservice port (appservice.port in config.yaml; set appservice.hostname to 0.0.0.0).
EXPOSE 29318
CMD ["/docker-run.sh"]
