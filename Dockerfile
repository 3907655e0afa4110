# syntax=docker/dockerfile:1
# volbot: build stage installs the package and its dependencies into a venv and compiles the
# translations into it; the runtime stage is python-slim with that venv and a non-root user.
#   docker build -t volbot .
#   docker run --env-file .env -p 8080:8080 volbot

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---------------------------------------------------------------- build
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /app
# Dependencies first, so a code change does not reinstall them (the layer stays cached).
COPY pyproject.toml README.md ./
RUN mkdir bot handlers && touch bot/__init__.py handlers/__init__.py \
    && pip install . \
    && pip uninstall -y volbot \
    && rm -rf bot handlers build ./*.egg-info
COPY setup.py MANIFEST.in babel.cfg ./
COPY bot ./bot
COPY handlers ./handlers
COPY locales ./locales
# An ordinary (non-editable) install: the build compiles locales/*.po into the package
# (bot/locales/<lang>/LC_MESSAGES/messages.mo, see setup.py), so nothing of /app is needed later.
RUN pip install --no-deps . \
    && cd / && python -c "import bot.i18n as i; assert all((i.PACKAGE_LOCALES_DIR / l / 'LC_MESSAGES' / 'messages.mo').exists() for l in i.TRANSLATED)"

# ---------------------------------------------------------------- runtime
FROM ${PYTHON_IMAGE} AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PORT=8080 \
    LOG_FORMAT=json \
    DATABASE_URL=sqlite+aiosqlite:////data/volbot.db
RUN groupadd --system --gid 10001 volbot \
    && useradd --system --uid 10001 --gid volbot --home-dir /data --shell /usr/sbin/nologin volbot \
    && mkdir -p /data && chown volbot:volbot /data
COPY --from=build /opt/venv /opt/venv
# The installed package, catalogues included, is root-owned: read-only for the bot.
USER volbot
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8080
# /healthz: 200 when the database and the Bot API answer, else 503 (urlopen raises, exit 1).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '8080'), timeout=4)"]
# volbot stops cleanly on SIGTERM (finishes the updates and sends in flight).
STOPSIGNAL SIGTERM
CMD ["volbot", "run"]
