"""The fair queue: per-member round-robin, optional priority tiers, positions in O(log n).

Each job gets a round when it is queued: the member's previous round + 1, but never earlier
than the round now being served. Jobs run in (tier, round, id) order, so a member with ten
jobs gets one per round and someone arriving later runs after at most one more of theirs.
The slot is stored with the job, so a restart resumes the same order.
"""

from __future__ import annotations

import asyncio
import bisect
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from core.errors import JobRequeued, NotAccepting, QueueFull
from core.text import t
from jobs.model import ActiveJob, QueueSlot

NORMAL, PRIORITY = 0, 1


def priority_of(role_names: Iterable[str], role_ids: Iterable[int], priority_roles: Iterable[str]) -> int:
    """PRIORITY when one of the member's roles is named (by name, any case, or by id) in config."""
    wanted = {name.casefold() for name in priority_roles}
    if not wanted:
        return NORMAL
    if any(name.casefold() in wanted for name in role_names) or any(str(i) in wanted for i in role_ids):
        return PRIORITY
    return NORMAL


@dataclass(frozen=True, slots=True, order=True)
class _Key:
    tier: int  # -priority: higher priority sorts first
    round: int
    job_id: int


class FairScheduler:
    def __init__(self, max_size: int) -> None:
        self._max_size = max_size
        self._keys: list[_Key] = []  # sorted
        self._jobs: dict[int, tuple[_Key, ActiveJob]] = {}
        self._last_round: dict[tuple[int, int], int] = {}  # (priority, user) -> latest round given
        self._served: dict[tuple[int, int], int] = {}  # (priority, user) -> round of their job taken last
        self._serving: dict[int, int] = {}  # priority -> round of the job taken last
        # Claims whose jobs are still being recorded: they hold a seat and a round.
        self._inflight: dict[tuple[int, int], list[int]] = {}
        self._inflight_total = 0
        self._nonempty = asyncio.Event()
        # Set whenever a job is queued; the dispatcher clears it when it looks at the queue.
        self.arrived = asyncio.Event()
        self._accepting = True

    def __len__(self) -> int:
        return len(self._keys)

    def lengths(self) -> dict[int, int]:
        """Jobs in line per priority (every tier in use; NORMAL always there)."""
        counts = {NORMAL: 0}
        for key in self._keys:
            counts[-key.tier] = counts.get(-key.tier, 0) + 1
        return counts

    def close(self) -> None:
        """Refuse new jobs from now on (the bot is stopping)."""
        self._accepting = False

    def ensure_room(self, extra: int = 1) -> None:
        if not self._accepting:
            raise NotAccepting(t("The bot is restarting and not taking new requests; please try again in a minute."))
        if len(self._keys) + self._inflight_total + extra > self._max_size:
            raise QueueFull(
                t("The queue is full ({size} images waiting). Please try again in a few minutes.", size=self._max_size)
            )

    def claim(self, user_id: int, priority: int = NORMAL) -> QueueSlot:
        """The slot a new job of this member gets; claimed now so two quick requests get two rounds."""
        key = (priority, user_id)
        previous = self._last_round.get(key)
        serving = self._current_round(priority)
        round_ = serving if previous is None else max(serving, previous + 1)
        self._last_round[key] = round_
        self._inflight.setdefault(key, []).append(round_)
        self._inflight_total += 1
        return QueueSlot(round=round_, priority=priority)

    def _settle(self, key: tuple[int, int], round_: int) -> bool:
        """Forget an in-flight claim; False if it was not one (a restored job)."""
        rounds = self._inflight.get(key)
        if not rounds or round_ not in rounds:
            return False
        rounds.remove(round_)
        if not rounds:
            del self._inflight[key]
        self._inflight_total -= 1
        return True

    def _current_round(self, priority: int) -> int:
        """The round now being served. After a restart the restored jobs may start far past the
        last round taken (0): the rounds before the first queued one are over, so a newcomer
        starts just before it rather than ahead of the whole restored queue (``restore`` sets
        the exact round when it knows it)."""
        serving = self._serving.get(priority, 0)
        tier = -priority
        first = bisect.bisect_left(self._keys, tier, key=lambda k: k.tier)
        if first < len(self._keys) and self._keys[first].tier == tier and self._keys[first].round - 1 > serving:
            serving = self._serving[priority] = self._keys[first].round - 1
        return serving

    def restore(self, job: ActiveJob, slot: QueueSlot) -> None:
        """Queue a job from the last run. The first one restored in a tier was being served when
        the bot stopped, so its round is the one now served: newcomers join it, behind its jobs."""
        if slot.priority not in self._serving:
            self._serving[slot.priority] = slot.round
        self.put(job, slot)

    def release(self, user_id: int, slot: QueueSlot) -> None:
        """Give back a claimed slot whose job was never queued (e.g. refused by the quota)."""
        key = (slot.priority, user_id)
        self._settle(key, slot.round)
        # The member's next round follows what they still have: queued, in flight, or last run.
        # (Undoing only the latest claim would leave gaps when many requests race.)
        rounds = [
            k.round for k, job in self._jobs.values() if k.tier == -slot.priority and job.request.user_id == user_id
        ]
        rounds += self._inflight.get(key, [])
        served = self._served.get(key)
        if served is not None:
            rounds.append(served)
        if rounds:
            self._last_round[key] = max(rounds)
        else:
            self._last_round.pop(key, None)

    def put(self, job: ActiveJob, slot: QueueSlot) -> None:
        user = (slot.priority, job.request.user_id)
        self._settle(user, slot.round)
        if not self._accepting:
            # Recorded just as the bot stops: the database holds it as queued for the next start.
            if not job.result.done():
                job.result.set_exception(JobRequeued())
            return
        key = _Key(-slot.priority, slot.round, job.id)
        self._last_round[user] = max(self._last_round.get(user, slot.round), slot.round)
        bisect.insort(self._keys, key)
        self._jobs[job.id] = (key, job)
        job.slot = slot
        self._nonempty.set()
        self.arrived.set()

    def put_back(self, job: ActiveJob) -> None:
        """A job taken from the queue that did not run to the end (its worker went away): it
        goes back to the place its slot gives it, ahead of the jobs that came after it."""
        assert job.slot is not None, "only a job that was queued can be put back"
        self.put(job, job.slot)

    async def wait_for_jobs(self) -> None:
        while not self._keys:
            self._nonempty.clear()
            await self._nonempty.wait()

    async def get(self) -> ActiveJob:
        while not self._keys:
            self._nonempty.clear()
            await self._nonempty.wait()
        return self._take(0)

    def _take(self, index: int) -> ActiveJob:
        key = self._keys.pop(index)
        _, job = self._jobs.pop(key.job_id)
        priority = -key.tier
        self._serving[priority] = max(self._serving.get(priority, 0), key.round)
        self._served[(priority, job.request.user_id)] = key.round
        return job

    def take_first(self, fits: Callable[[ActiveJob], bool]) -> ActiveJob | None:
        """The first job in line that ``fits`` (the lanes free now); None if none does. Jobs
        that fit every lane (the usual case) make this the head of the queue."""
        for index, key in enumerate(self._keys):
            if fits(self._jobs[key.job_id][1]):
                return self._take(index)
        return None

    def take_following(self, fits: Callable[[ActiveJob], bool], images: int) -> list[ActiveJob]:
        """After get(): the next jobs in line, in order, while each fits and up to ``images``
        images. Only jobs that would run next anyway join a batch, so batching never makes a
        job wait longer than it would have alone (a batch costs at most its jobs run in turn)."""
        taken: list[ActiveJob] = []
        while self._keys and images > 0:
            job = self._jobs[self._keys[0].job_id][1]
            if job.request.count > images or not fits(job):
                break
            taken.append(self._take(0))
            images -= job.request.count
        return taken

    def position(self, job_id: int) -> int | None:
        """1-based place in line, or None once the job has left the queue."""
        entry = self._jobs.get(job_id)
        if entry is None:
            return None
        return bisect.bisect_left(self._keys, entry[0]) + 1

    def job(self, job_id: int) -> ActiveJob | None:
        entry = self._jobs.get(job_id)
        return entry[1] if entry is not None else None

    def remove(self, job_id: int) -> ActiveJob | None:
        entry = self._jobs.pop(job_id, None)
        if entry is None:
            return None
        key, job = entry
        del self._keys[bisect.bisect_left(self._keys, key)]
        priority, user_id = -key.tier, job.request.user_id
        member = (priority, user_id)
        if self._last_round.get(member) == key.round:
            # The member's newest job went: their next one follows what they still have queued
            # (or last ran), not the cancelled one, or they would queue rounds behind everyone.
            rounds = [
                k.round for k, other in self._jobs.values() if k.tier == key.tier and other.request.user_id == user_id
            ]
            served = self._served.get(member)
            if served is not None:
                rounds.append(served)
            if rounds:
                self._last_round[member] = max(rounds)
            else:
                del self._last_round[member]
        return job

    def queued(self) -> list[ActiveJob]:
        """Every queued job, in the order they will run."""
        return [self._jobs[key.job_id][1] for key in self._keys]

    def jobs_of(self, user_id: int) -> list[ActiveJob]:
        """A member's queued jobs, in the order they will run."""
        mine = [(key, job) for key, job in self._jobs.values() if job.request.user_id == user_id]
        return [job for _, job in sorted(mine, key=lambda pair: pair[0])]

    def drain(self) -> list[ActiveJob]:
        jobs = [self._jobs[key.job_id][1] for key in self._keys]
        self._keys.clear()
        self._jobs.clear()
        return jobs
