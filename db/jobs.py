"""Job records: every accepted request is written here before the member hears it is queued."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.engine import upsert_insert
from db.models import Channel, Guild, Job, JobStatus, User, utcnow
from generation.request import GenerationRequest


@dataclass(frozen=True, slots=True)
class Place:
    """Who asked, and where; recorded so jobs and audits can name them."""

    user_id: int
    user_name: str
    guild_id: int | None
    guild_name: str
    channel_id: int
    channel_nsfw: bool


@dataclass(frozen=True, slots=True)
class JobRecord:
    id: int
    status: JobStatus
    request: GenerationRequest
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    seconds: float | None
    error: str | None


def _record(job: Job) -> JobRecord:
    return JobRecord(
        id=job.id,
        status=job.status,
        request=GenerationRequest.from_json(job.request),
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
        seconds=job.seconds,
        error=job.error,
    )


class JobStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def _upsert(
        self, session: AsyncSession, model: type[User | Guild | Channel], values: dict[str, object]
    ) -> None:
        # One statement per row, race-free: two members of a new guild may ask at once.
        keys = {k: v for k, v in values.items() if k != "id"}
        stmt = upsert_insert(session, model).values(**values, created_at=utcnow())
        await session.execute(stmt.on_conflict_do_update(index_elements=["id"], set_=keys))

    async def create(
        self,
        request: GenerationRequest,
        place: Place,
        *,
        interaction_id: int | None = None,
        interaction_token: str | None = None,
    ) -> int:
        async with self._sessions.begin() as session:
            await self._upsert(session, User, {"id": place.user_id, "name": place.user_name[:100]})
            if place.guild_id is not None:
                await self._upsert(session, Guild, {"id": place.guild_id, "name": place.guild_name[:100]})
            await self._upsert(
                session, Channel, {"id": place.channel_id, "guild_id": place.guild_id, "nsfw": place.channel_nsfw}
            )
            job = Job(
                user_id=place.user_id,
                guild_id=place.guild_id,
                channel_id=place.channel_id,
                status=JobStatus.QUEUED,
                request=request.to_json(),
                prompt=request.prompt,
                negative=request.negative,
                seed=request.seed,
                width=request.width,
                height=request.height,
                steps=request.steps,
                cfg=request.cfg,
                interaction_id=interaction_id,
                interaction_token=interaction_token,
            )
            session.add(job)
            await session.flush()
            return job.id

    async def get(self, job_id: int) -> JobRecord | None:
        async with self._sessions() as session:
            job = await session.get(Job, job_id)
            return _record(job) if job is not None else None

    async def _set(self, job_id: int, **values: object) -> None:
        async with self._sessions.begin() as session:
            await session.execute(update(Job).where(Job.id == job_id).values(**values))

    async def mark_running(self, job_id: int) -> None:
        await self._set(job_id, status=JobStatus.RUNNING, started_at=utcnow())

    async def mark_done(self, job_id: int, seconds: float) -> None:
        await self._set(job_id, status=JobStatus.DONE, finished_at=utcnow(), seconds=seconds, interaction_token=None)

    async def mark_failed(self, job_id: int, error: str) -> None:
        await self._set(
            job_id, status=JobStatus.FAILED, finished_at=utcnow(), error=error[:2000], interaction_token=None
        )

    async def mark_cancelled(self, job_id: int) -> None:
        await self._set(job_id, status=JobStatus.CANCELLED, finished_at=utcnow(), interaction_token=None)

    async def by_status(self, status: JobStatus) -> list[JobRecord]:
        async with self._sessions() as session:
            rows = await session.scalars(select(Job).where(Job.status == status).order_by(Job.id))
            return [_record(job) for job in rows]
