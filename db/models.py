"""SQLAlchemy 2 models. Every schema change comes with an Alembic migration in db/migrations."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.sql.expression import false

from jobs.model import JobStatus


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)  # Discord id
    name: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Guild(Base):
    __tablename__ = "guilds"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Channel(Base):
    __tablename__ = "channels"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    guild_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("guilds.id", ondelete="CASCADE"))
    # Discord's "age-restricted" flag as last seen; policy reads the live flag, this is for audit.
    nsfw: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Job(Base):
    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_status_id", "status", "id"),
        Index("ix_jobs_user_status", "user_id", "status"),
        Index("ix_jobs_scope_user_status", "scope_id", "user_id", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"))
    guild_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("guilds.id", ondelete="SET NULL"))
    channel_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("channels.id", ondelete="CASCADE"))
    status: Mapped[JobStatus] = mapped_column(
        Enum(
            JobStatus, name="job_status", values_callable=lambda e: [m.value for m in e], native_enum=False, length=16
        ),
        default=JobStatus.QUEUED,
    )
    request: Mapped[str] = mapped_column(Text)  # GenerationRequest as JSON
    prompt: Mapped[str] = mapped_column(Text)
    negative: Mapped[str] = mapped_column(Text, default="")
    seed: Mapped[int] = mapped_column(BigInteger)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    steps: Mapped[int] = mapped_column(Integer)
    cfg: Mapped[float] = mapped_column(Float)
    # Needed to deliver the result through the interaction while its token lives (15 min).
    interaction_id: Mapped[int | None] = mapped_column(BigInteger)
    interaction_token: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    seconds: Mapped[float | None] = mapped_column(Float)  # pipeline time
    # Quota scope: the guild id, or 0 for DMs (NULL would not compare equal in an index).
    scope_id: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    # Images charged to the member's quota, and the quota day they were charged to (for refunds).
    images: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    quota_day: Mapped[date | None] = mapped_column(Date)
    # The fair scheduler's order, kept so a restart resumes the queue in the same order.
    queue_round: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    priority: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # A remix's source image (source_images.digest); also in `request`, here for the join.
    source_digest: Mapped[str | None] = mapped_column(String(64), index=True)
    # The member asked for a private (ephemeral) result: a late one must not go to the channel.
    private: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # The member's Discord locale: what is sent later, without the interaction (after a restart,
    # by DM), is written in their language.
    locale: Mapped[str] = mapped_column(String(16), default="en-US", server_default="en-US")


class SourceImage(Base):
    """A remix's source, fitted to its trained size, as PNG: kept with its jobs so that a restart
    resumes them and Re-roll can remix it again. Shared by the jobs that use it (by digest)."""

    __tablename__ = "source_images"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of png
    png: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class GuildPolicy(Base):
    """A server's rating rules; NULL means "not set" (Discord's ceiling / general applies)."""

    __tablename__ = "guild_policies"

    guild_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    max_rating: Mapped[int | None] = mapped_column(Integer)
    default_rating: Mapped[int | None] = mapped_column(Integer)
    # What happens when the output check rates an image above the channel's maximum.
    over_limit_action: Mapped[str | None] = mapped_column(String(16))
    modlog_channel_id: Mapped[int | None] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ChannelPolicy(Base):
    __tablename__ = "channel_policies"

    channel_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    guild_id: Mapped[int] = mapped_column(BigInteger, index=True)
    max_rating: Mapped[int | None] = mapped_column(Integer)
    default_rating: Mapped[int | None] = mapped_column(Integer)
    over_limit_action: Mapped[str | None] = mapped_column(String(16))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class BlockedTag(Base):
    """A moderator's blocklist entry (canonical tag); channel_id 0 = the whole server."""

    __tablename__ = "blocked_tags"
    __table_args__ = (UniqueConstraint("guild_id", "channel_id", "tag", name="uq_blocked_tags_scope_tag"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    guild_id: Mapped[int] = mapped_column(BigInteger, index=True)
    channel_id: Mapped[int] = mapped_column(BigInteger, default=0)
    tag: Mapped[str] = mapped_column(String(200))
    added_by: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AuditEntry(Base):
    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_guild_id", "guild_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32))  # generation, refusal, policy, output_check
    guild_id: Mapped[int | None] = mapped_column(BigInteger)
    channel_id: Mapped[int | None] = mapped_column(BigInteger)
    user_id: Mapped[int] = mapped_column(BigInteger)
    decision: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text, default="")
    prompt: Mapped[str] = mapped_column(Text, default="")
    rating: Mapped[str | None] = mapped_column(String(16))
    details: Mapped[str] = mapped_column(Text, default="{}")  # JSON: before/after, scores, ...
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # A refusal's reason (moderation.audit.RefusalReason); NULL on rows older than migration 0008.
    code: Mapped[str | None] = mapped_column(String(32))


class QuotaUsage(Base):
    """Images used on ``day`` by a member in a scope (guild id, 0 = DMs); user_id 0 is the
    guild's shared budget. The row is also the lock that makes reservations atomic."""

    __tablename__ = "quota_usage"

    scope_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    day: Mapped[date | None] = mapped_column(Date)
    used: Mapped[int] = mapped_column(Integer, default=0)
    last_request_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class QuotaLimit(Base):
    """An admin's override of a daily limit: kind is server, budget, role or user."""

    __tablename__ = "quota_limits"

    guild_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(8), primary_key=True)
    target_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)  # 0 for server/budget
    daily_images: Mapped[int] = mapped_column(Integer)
    updated_by: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class GenerationBlock(Base):
    """A member an admin stopped from generating in a server."""

    __tablename__ = "generation_blocks"

    guild_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    reason: Mapped[str] = mapped_column(Text, default="")
    blocked_by: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class UserSettings(Base):
    """A member's /settings: defaults that /imagine options override (NULL = the bot's default)."""

    __tablename__ = "user_settings"

    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    aspect: Mapped[str | None] = mapped_column(String(16))
    quality: Mapped[str | None] = mapped_column(String(32))
    style: Mapped[str | None] = mapped_column(String(32))
    negative: Mapped[str] = mapped_column(Text, default="")
    private: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
