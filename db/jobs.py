"""Job records: every accepted request is written here before the member hears it is queued."""

from __future__ import annotations

import logging

from sqlalchemy import case, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.engine import upsert_insert
from db.models import Channel, Guild, Job, SourceImage, User, utcnow
from db.quotas import ACTIVE, Charge, QuotaStore
from jobs.model import JobRecord, JobStatus, Place, QueueSlot, UnfinishedJob
from prompt.request import GenerationRequest
from quota.policy import QuotaAsk

log = logging.getLogger(__name__)


_FIRST_SLOT = QueueSlot()


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
    def __init__(self, sessions: async_sessionmaker[AsyncSession], quotas: QuotaStore | None = None) -> None:
        self._sessions = sessions
        self._quotas = quotas
        self._written: dict[tuple[str, object], dict[str, object]] = {}

    async def _upsert(
        self, session: AsyncSession, model: type[User | Guild | Channel], values: dict[str, object]
    ) -> None:
        # Written only when new or changed since this process last wrote it: a burst of requests
        # from known members and channels then adds no row writes but the job's own.
        known = (model.__tablename__, values["id"])
        if self._written.get(known) == values:
            return
        session.info.setdefault("written", []).append((known, values))  # remembered once committed
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
        quota: QuotaAsk | None = None,
        slot: QueueSlot = _FIRST_SLOT,
        source_png: bytes | None = None,
        private: bool = False,
        locale: str = "en-US",
    ) -> int:
        """Record an accepted job; with ``quota``, charge it in the same transaction (QuotaRefused
        leaves nothing behind). A remix's ``source_png`` is kept under ``request.source``."""
        async with self._sessions.begin() as session:
            await self._upsert(session, User, {"id": place.user_id, "name": place.user_name[:100]})
            if place.guild_id is not None:
                await self._upsert(session, Guild, {"id": place.guild_id, "name": place.guild_name[:100]})
            await self._upsert(
                session, Channel, {"id": place.channel_id, "guild_id": place.guild_id, "nsfw": place.channel_nsfw}
            )
            if request.source is not None and source_png is not None:
                await self._keep_source(session, request.source, source_png)
            charge: Charge | None = None
            if quota is not None and self._quotas is not None:
                charge = await self._quotas.reserve(session, quota)
            # One INSERT ... RETURNING, without the ORM's unit of work (a burst writes hundreds).
            values = dict(
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
                scope_id=place.guild_id or 0,
                images=charge.images if charge is not None else 1,
                quota_day=charge.day if charge is not None else None,
                queue_round=slot.round,
                priority=slot.priority,
                source_digest=request.source,
                private=private,
                locale=locale[:16],
            )
            job_id = int(await session.scalar(insert(Job).values(**values).returning(Job.id)) or 0)
            written = session.info.get("written", [])
        self._written.update(written)  # committed: these rows need no write next time
        return job_id

    @staticmethod
    async def _keep_source(session: AsyncSession, digest: str, png: bytes) -> None:
        # The digest names the bytes: a re-roll of the same remix finds them already there.
        stmt = upsert_insert(session, SourceImage).values(digest=digest, png=png, created_at=utcnow())
        await session.execute(stmt.on_conflict_do_nothing(index_elements=["digest"]))

    async def load_source(self, digest: str) -> bytes | None:
        """A remix's source image (PNG), or None when it is no longer kept."""
        async with self._sessions() as session:
            png: bytes | None = await session.scalar(select(SourceImage.png).where(SourceImage.digest == digest))
            return png

    async def get(self, job_id: int) -> JobRecord | None:
        async with self._sessions() as session:
            job = await session.get(Job, job_id)
            return _record(job) if job is not None else None

    async def _set(self, job_id: int, **values: object) -> None:
        async with self._sessions.begin() as session:
            await session.execute(update(Job).where(Job.id == job_id).values(**values))

    async def mark_running(self, job_id: int) -> None:
        await self._set(job_id, status=JobStatus.RUNNING, started_at=utcnow())

    async def requeue(self, job_id: int) -> None:
        """Back to the queue (the bot is stopping); it keeps its place and its quota charge."""
        await self._set(job_id, status=JobStatus.QUEUED, started_at=None)

    async def finish(
        self,
        job_id: int,
        status: JobStatus,
        *,
        error: str | None = None,
        seconds: float | None = None,
        refund: bool = False,
    ) -> bool:
        """Move a queued or running job to its final state, once; with ``refund``, give its images
        back in the same transaction. False if the job had already finished."""
        values: dict[str, object] = {"status": status, "finished_at": utcnow(), "interaction_token": None}
        if error is not None:
            values["error"] = error[:2000]
        if seconds is not None:
            values["seconds"] = seconds
        async with self._sessions.begin() as session:
            # One conditional statement, so two racing finishes (a /cancel as the worker ends the
            # job) cannot both win: SQLite has no SELECT ... FOR UPDATE to serialise them.
            finished = (
                await session.execute(
                    update(Job)
                    .where(Job.id == job_id, Job.status.in_(ACTIVE))
                    .values(**values)
                    .returning(Job.scope_id, Job.user_id, Job.quota_day, Job.images)
                )
            ).first()
            if finished is None:
                return False
            if refund and self._quotas is not None and finished.quota_day is not None:
                charge = Charge(finished.quota_day, finished.images)
                await self._quotas.refund(session, finished.scope_id, finished.user_id, charge)
            return True

    async def mark_done(self, job_id: int, seconds: float) -> None:
        await self.finish(job_id, JobStatus.DONE, seconds=seconds)

    async def mark_failed(self, job_id: int, error: str) -> None:
        await self.finish(job_id, JobStatus.FAILED, error=error, refund=True)

    async def mark_cancelled(self, job_id: int) -> None:
        await self.finish(job_id, JobStatus.CANCELLED, refund=True)

    async def unfinished(self) -> list[UnfinishedJob]:
        """Jobs a restart must pick up: those that were running first, then the queue in its order."""
        running_first = case((Job.status == JobStatus.RUNNING, 0), else_=1)
        async with self._sessions() as session:
            rows = await session.execute(
                select(Job, Channel.nsfw, SourceImage.png)
                .join(Channel, Channel.id == Job.channel_id)
                .outerjoin(SourceImage, SourceImage.digest == Job.source_digest)
                .where(Job.status.in_(ACTIVE))
                .order_by(running_first, Job.priority.desc(), Job.queue_round, Job.id)
            )
            unfinished, unreadable = [], []
            for job, nsfw, source_png in rows.all():
                try:
                    request = GenerationRequest.from_json(job.request)
                except (ValueError, TypeError):  # e.g. written by a newer version, or edited by hand
                    log.error("job %s has an unreadable request and cannot be resumed", job.id)
                    unreadable.append(job.id)
                    continue
                unfinished.append(
                    UnfinishedJob(
                        id=job.id,
                        status=job.status,
                        request=request,
                        slot=QueueSlot(job.queue_round, job.priority),
                        channel_nsfw=bool(nsfw),
                        interaction_id=job.interaction_id,
                        interaction_token=job.interaction_token,
                        source_png=source_png,
                        private=job.private,
                        locale=job.locale,
                    )
                )
        for job_id in unreadable:  # one bad row must not stop every start-up
            await self.finish(job_id, JobStatus.FAILED, error="unreadable request; not resumed", refund=True)
        return unfinished

    async def by_status(self, status: JobStatus) -> list[JobRecord]:
        async with self._sessions() as session:
            rows = await session.scalars(select(Job).where(Job.status == status).order_by(Job.id))
            return [_record(job) for job in rows]
