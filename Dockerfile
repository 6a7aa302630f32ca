# Not built on the development machines (no Docker engine there); kept minimal on purpose.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    MASHANG_HOST=0.0.0.0 MASHANG_DATABASE_URL=sqlite:////srv/mashang/var/mashang.db \
    MASHANG_MEDIA_DIR=/srv/mashang/var/media

RUN useradd --create-home --uid 10001 mashang
WORKDIR /srv/mashang
COPY pyproject.toml README.md alembic.ini ./
COPY app ./app
COPY migrations ./migrations
COPY pwa ./pwa
RUN pip install --no-cache-dir -e . && mkdir -p var && chown -R mashang:mashang var

USER mashang
VOLUME ["/srv/mashang/var"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status == 200 else 1)"
CMD ["mashang", "serve", "--host", "0.0.0.0"]
