"""GPU worker processes over NATS JetStream: the bot's backend (``cluster.backend``), the worker
process (``cluster.worker``) and what travels between them (``cluster.wire``)."""
