# Animagine XL 3.1 Discord bot (docker-compose.yml runs it with a GPU, a data volume and a health check).
#   docker build -t animagine-bot .
#   docker run --gpus all -e DISCORD_TOKEN=... -v animagine-data:/app/data animagine-bot
# The PyPI torch wheels for Linux bundle CUDA, so no CUDA base image is needed; the host
# needs the NVIDIA driver and the NVIDIA Container Toolkit for --gpus.
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    # Model downloads and the SQLite database live in the data volume and survive upgrades.
    HF_HOME=/app/data/huggingface

WORKDIR /app
RUN useradd --create-home --uid 1000 bot
# A C compiler: Triton builds its small launchers with it when [model] compile = "on"
# (the compiled kernels themselves are cached in /app/data/compile-cache).
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*

# Dependencies first, so code changes do not re-download torch: torch as scripts/setup.sh installs
# it (--build-arg TORCH_SPEC=... for another build), everything else at the versions of
# constraints.txt (scripts/lock.sh).
ARG TORCH_SPEC=torch==2.13.0
COPY pyproject.toml README.md LICENSE constraints.txt ./
RUN pip install "$TORCH_SPEC" \
    && mkdir -p core cogs db generation jobs moderation prompt quota && touch bot.py \
    && pip install -c constraints.txt . && pip uninstall -y animagine-discord-bot

COPY --chown=bot:bot . .
RUN pip install --no-deps . \
    && mkdir -p /app/data && chown bot:bot /app/data \
    && { [ -f config.toml ] || cp config.example.toml config.toml; }

USER bot
VOLUME ["/app/data"]
# /healthz of the metrics server ([metrics] address, 127.0.0.1:9464 by default): the process
# answers. The first start downloads the model, hence the long start period. No curl in the image.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10m --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:9464/healthz', timeout=4)"]
CMD ["python", "bot.py", "--config", "config.toml"]
