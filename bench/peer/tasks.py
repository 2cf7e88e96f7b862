"""The peer's Celery side: one no-op task that records the job as done and POSTs the
same signed webhook swapd sends (Standard Webhooks: webhook-id, webhook-timestamp,
webhook-signature v1 HMAC-SHA256), retried on Svix's schedule on failure.

Broker and job records in the peer's own Redis: PEER_REDIS_URL (default
redis://127.0.0.1:6379/0). Signing secret: PEER_WEBHOOK_SECRET (whsec_<base64>)."""
import base64
import hashlib
import hmac
import json
import os
import time
from datetime import datetime, timezone

import redis
import requests
from celery import Celery

REDIS_URL = os.environ.get("PEER_REDIS_URL", "redis://127.0.0.1:6379/0")
SECRET = os.environ.get("PEER_WEBHOOK_SECRET", "whsec_" + base64.b64encode(b"peer-secret-peer-secret-32bytes!").decode())
SCHEDULE = [5, 300, 1800, 7200, 18000, 36000, 36000]

app = Celery("peer", broker=REDIS_URL)
app.conf.update(task_ignore_result=True, worker_prefetch_multiplier=4, broker_connection_retry_on_startup=True)

records = redis.Redis.from_url(REDIS_URL)
session = requests.Session()
key = base64.b64decode(SECRET.removeprefix("whsec_"))


def sign(msg_id: str, ts: int, body: bytes) -> str:
    mac = hmac.new(key, f"{msg_id}.{ts}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


@app.task(bind=True, max_retries=len(SCHEDULE), acks_late=True)
def noop(self, job_id: str, webhook_url: str):
    now = datetime.now(timezone.utc).isoformat()
    records.hset(f"job:{job_id}", mapping={"status": "succeeded", "finished_at": now})
    body = json.dumps({"type": "job.succeeded", "timestamp": now,
                       "data": {"id": job_id, "kind": "probe", "status": "succeeded"}}).encode()
    msg_id = "msg_" + job_id.replace("-", "")
    ts = int(time.time())
    try:
        r = session.post(webhook_url, data=body, timeout=15, headers={
            "content-type": "application/json", "webhook-id": msg_id,
            "webhook-timestamp": str(ts), "webhook-signature": sign(msg_id, ts, body)})
        if r.status_code // 100 != 2:
            raise RuntimeError(f"webhook answered {r.status_code}")
    except Exception as exc:  # retried on the schedule
        raise self.retry(exc=exc, countdown=SCHEDULE[min(self.request.retries, len(SCHEDULE) - 1)])
