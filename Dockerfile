# Animagine XL 3.1 Discord bot.
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

# Dependencies first, so code changes do not re-download torch.
COPY pyproject.toml README.md ./
RUN mkdir -p core cogs db generation jobs moderation prompt quota && touch bot.py && pip install . && pip uninstall -y animagine-discord-bot

COPY --chown=bot:bot . .
RUN pip install --no-deps . \
    && mkdir -p /app/data && chown bot:bot /app/data \
    && { [ -f config.toml ] || cp config.example.toml config.toml; }

USER bot
VOLUME ["/app/data"]
CMD ["python", "bot.py", "--config", "config.toml"]
