"""Training-job records in Redis (`redis.url`): the same `Job` JSON as the SQLite store, shared by every
gateway replica, so a job filed through one is listed, read and cancelled through any other.

Keys (all under `redis.key_prefix`):
- `job:<id>`: a hash, `record` (the `Job` JSON), `status`, and `cancel` once a cancel was requested;
- `jobs`: a sorted set of ids in filing order (a counter, `jobs:seq`, gives each new id its score);
- `jobs:status:<status>`: a set of ids per status, moved atomically with the record.
A save is one Lua script, so a reader never sees a record in one status and its id in another.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import redis

from core.settings import RedisSettings
from gateway.job_store import interrupted, with_cancel_flag
from gateway.redis_connection import answered, redacted_url, sync_client
from gateway.schemas.jobs import Job, JobStatus

STATUSES: tuple[JobStatus, ...] = ("queued", "running", "succeeded", "failed")

# KEYS: the job's hash, the ordered ids, the id counter, its new status's set, the other status sets.
# ARGV: job id, record, status.
_SAVE = """
redis.call('HSET', KEYS[1], 'record', ARGV[2], 'status', ARGV[3])
if not redis.call('ZSCORE', KEYS[2], ARGV[1]) then
  redis.call('ZADD', KEYS[2], redis.call('INCR', KEYS[3]), ARGV[1])
end
redis.call('SADD', KEYS[4], ARGV[1])
for i = 5, #KEYS do redis.call('SREM', KEYS[i], ARGV[1]) end
return 1
"""


class RedisJobStore:
    """`JobRecords` in Redis; every call is a round trip or two (loopback: well under a millisecond)."""

    def __init__(self, client: redis.Redis, prefix: str, where: str) -> None:
        self._client = client
        self._prefix = prefix
        self._where = where  # the URL without credentials, for messages
        self._save = client.register_script(_SAVE)

    @classmethod
    def open(cls, settings: RedisSettings) -> RedisJobStore:
        assert settings.url is not None
        return cls(sync_client(settings), settings.key_prefix, redacted_url(settings.url))

    def close(self) -> None:
        self._client.close()

    def save(self, job: Job) -> None:
        others = [self._status_key(status) for status in STATUSES if status != job.status]
        keys = [self._job_key(job.job_id), self._ids, self._seq, self._status_key(job.status), *others]
        record = job.model_copy(update={"cancel_requested": False}).model_dump_json()
        self._call(lambda: self._save(keys=keys, args=[job.job_id, record, job.status]))

    def get(self, job_id: str) -> Job | None:
        record, cancel = self._call(lambda: self._client.hmget(self._job_key(job_id), ["record", "cancel"]))
        return with_cancel_flag(record, cancel is not None) if record is not None else None

    def recent(self, limit: int) -> list[Job]:
        ids = self._call(lambda: self._client.zrevrange(self._ids, 0, limit - 1))
        return self._records([_text(job_id) for job_id in ids])

    def with_status(self, *statuses: str) -> list[Job]:
        keys = [self._status_key(status) for status in statuses]
        members = self._call(lambda: self._client.sunion(keys)) if keys else set()
        ids = [_text(job_id) for job_id in members]
        if not ids:
            return []
        scores = self._call(lambda: self._client.zmscore(self._ids, ids))
        ordered = [job_id for _, job_id in sorted(zip((s or 0.0 for s in scores), ids, strict=True))]
        return [job for job in self._records(ordered) if job.status in statuses]

    def statuses(self) -> dict[str, str]:
        """Every job's status by id (one pipelined read of the status sets)."""

        def read() -> list[Any]:
            pipe = self._client.pipeline(transaction=False)
            for status in STATUSES:
                pipe.smembers(self._status_key(status))
            return pipe.execute()

        members = self._call(read)
        return {
            _text(job_id): status for status, ids in zip(STATUSES, members, strict=True) for job_id in ids
        }

    def raw_records(self, ids: Sequence[str]) -> list[tuple[str, str]]:
        """(id, `Job` JSON) of the jobs among `ids` that exist, unparsed (the metrics parse them once)."""

        def read() -> list[Any]:
            pipe = self._client.pipeline(transaction=False)
            for job_id in ids:
                pipe.hget(self._job_key(job_id), "record")
            return pipe.execute()

        rows = self._call(read) if ids else []
        return [
            (job_id, _text(record)) for job_id, record in zip(ids, rows, strict=True) if record is not None
        ]

    def request_cancel(self, job_id: str) -> None:
        self._call(lambda: self._client.hset(self._job_key(job_id), "cancel", "1"))

    def cancel_requested(self, job_id: str) -> bool:
        return bool(self._call(lambda: self._client.hexists(self._job_key(job_id), "cancel")))

    def fail_interrupted(self) -> list[Job]:
        """Mark jobs left `running` as failed; only the holder of the one-job lock calls it (with a
        shared store, a running job of a live replica holds that lock)."""
        failed = [interrupted(job) for job in self.with_status("running")]
        for job in failed:
            self.save(job)
        return failed

    def _records(self, ids: Sequence[str]) -> list[Job]:
        def read() -> list[Any]:
            pipe = self._client.pipeline(transaction=False)
            for job_id in ids:
                pipe.hmget(self._job_key(job_id), ["record", "cancel"])
            return pipe.execute()

        rows = self._call(read) if ids else []
        return [with_cancel_flag(record, cancel is not None) for record, cancel in rows if record is not None]

    def _call(self, command: Callable[[], Any]) -> Any:
        """Run one command; Redis not answering is a 503 naming it (without credentials)."""
        return answered(command, "the shared job store", self._where)

    @property
    def _ids(self) -> str:
        return f"{self._prefix}jobs"

    @property
    def _seq(self) -> str:
        return f"{self._prefix}jobs:seq"

    def _job_key(self, job_id: str) -> str:
        return f"{self._prefix}job:{job_id}"

    def _status_key(self, status: str) -> str:
        return f"{self._prefix}jobs:status:{status}"


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
