# One image for every Yardstick process; compose picks the command.
# Debian pinned (bookworm) so the run-time libraries below keep their package names.
FROM python:3.11-slim-bookworm AS base
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 UV_PROJECT_ENVIRONMENT=/opt/venv PATH=/opt/venv/bin:$PATH
# Loaded at run time by the metrics service, not shipped in the wheels: WeasyPrint (the
# committee pack's tagged PDF) opens Pango, PangoFT2 and HarfBuzz's subsetter through cffi;
# cairosvg (chart PNGs) opens cairo; the pack's stylesheet and charts set Liberation Sans.
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 libcairo2 fonts-liberation \
    && rm -rf /var/lib/apt/lists/*
RUN pip install --no-cache-dir uv==0.13.9 && useradd --create-home --uid 10001 yardstick
WORKDIR /app
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project
COPY . .
RUN uv sync --frozen --no-dev
USER yardstick
EXPOSE 8000
CMD ["yardstick", "--help"]
