"""The peer's API: FastAPI. POST /jobs {"webhook_url": ...} writes a job record to
Redis, queues the Celery task and answers 202 {"id", "status": "queued"}, as the
original Celery design of a face-swap service does. Run:

    PEER_REDIS_URL=redis://127.0.0.1:6380/0 uvicorn app:app --port 8090      # API
    PEER_REDIS_URL=redis://127.0.0.1:6380/0 celery -A tasks worker -c 2      # worker
"""
import uuid
from datetime import datetime, timezone

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from tasks import noop, records

app = FastAPI()


class Job(BaseModel):
    webhook_url: str


@app.post("/jobs", status_code=202)
def submit(job: Job):
    job_id = str(uuid.uuid4())
    records.hset(f"job:{job_id}", mapping={"status": "queued", "created_at": datetime.now(timezone.utc).isoformat()})
    noop.delay(job_id, job.webhook_url)
    return JSONResponse({"id": job_id, "status": "queued"}, status_code=202)


@app.get("/healthz")
def healthz():
    records.ping()
    return {"ok": True}
