"""The durable push queue: django-tasks with its database backend (`manage.py db_worker`).

A task is one push to one subscription. It is a row in the database until a worker has run
it, so a push queued before a restart is still sent after it; a retry is the same push
enqueued again with `run_after` (the backoff, or the push service's Retry-After).
"""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from django_tasks import task

from push import sending


@task(queue_name="push")
def push_deliver(*, message_id: int, subscription_id: int, attempt: int = 0) -> str:
    outcome = sending.deliver(
        message_id=message_id, subscription_id=subscription_id, attempt=attempt
    )
    if outcome.retry_in is not None:
        push_deliver.using(run_after=timezone.now() + timedelta(seconds=outcome.retry_in)).enqueue(
            message_id=message_id, subscription_id=subscription_id, attempt=attempt + 1
        )
    return outcome.result
