// Package tasks defines swapd's asynq task types: their names, payloads, constructors
// and handlers, in one place, as asynq's own examples do, and the background loop that
// keeps them in step with the job records.
//
// There are two task types. A swap task runs the face pipeline for one job (of any
// kind: image, video, analyze, probe); a webhook task delivers one job event. They are
// separate so a failing webhook receiver is retried on its own schedule and never
// re-runs a GPU job. The files:
//
//   - tasks.go: task names, queues, payloads, constructors, EnqueueSwap (the one way
//     into the queue); front.go: a job within its owner's fair share moved ahead of
//     the backlog; wakeup.go: idle workers woken by a new task instead of polling
//   - swap.go: the swap handler's lifecycle (start, run, record the outcome, retry or
//     fail); attempt.go: what an attempt does for any kind (fetch inputs, take a device
//     slot, embed the sources, progress); image.go and video.go: the image and video
//     attempts; analyze.go: the analyze attempt (faces and people of a target, thumbnails,
//     embeddings kept in the record); mapping.go: a mapped swap's people resolved from
//     its analysis or reference images; cancel.go: noticing a client's cancel while
//     running
//   - pipeline.go: the face pipeline as a job sees it (internal/jobpipe adapts
//     pkg/faceswap to it); embcache.go: source embeddings cached by content hash
//   - fetch.go and slowsource.go: reading inputs from storage or URLs, cutting off
//     sources that trickle
//   - outage.go and retry.go: retrying by elapsed time through outages, retry delays
//   - durable.go: confirming outcomes on Redis replicas (SWAPD_REDIS_MIN_REPLICAS)
//   - webhook.go: the Notifier (a job's terminal event becomes a webhook task, its first
//     attempt made at once by the worker that ended the job) and the webhook handler
//     (renders the body at each attempt, signs, delivers, skips what is delivered);
//     batchhook.go: a batch's batch.completed event, once, when its last item ends
//   - reaper.go: the Reaper, which repairs jobs whose task or webhook went missing
package tasks

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/swapd/swapd/pkg/jobs"
)

// Task type names. They are stored in Redis with every task: never rename them.
const (
	TypeSwap    = "swap:run"
	TypeWebhook = "webhook:deliver"
)

// Queue names. Webhooks get their own queue so a backlog of swaps never delays a
// delivery, and the dashboard shows the two apart. Swap tasks wait in QueueSwap (or
// a worker profile's queue, ProfileQueue). QueueBacklog is where jobs created past
// their owner's jobs.Store.FairShare waited before they shared QueueSwap; no worker
// serves it now, and the Reaper moves what an older API left there (migrateLanes).
const (
	QueueSwap     = "swap"
	QueueBacklog  = "swap-backlog"
	QueueWebhooks = "webhooks"
)

// Why one queue and not one per key, a lane per hash of the key (which swapd used
// first) or a backlog queue beside it (which it used next): asynq has no blocking
// dequeue, and a worker tries the queues it serves one round trip at a time until one
// has a task. Every queue served costs a round trip per idle poll and, under load, per
// task taken whenever it is empty: with eight lanes an idle worker made 572 Redis
// commands a second, with two queues about 140 (scripts/bench.sh, README). One queue
// keeps what the others were for: an owner's first FairShare jobs never wait behind
// another owner's backlog, as EnqueueSwap moves them ahead of it (moveToFront, in the
// order they came), while the jobs past their owners' fair shares wait behind, in the
// order they were submitted. The backlog is served whenever no fair-share job waits.
var (
	SwapQueues    = map[string]int{QueueSwap: 1}
	WebhookQueues = map[string]int{QueueWebhooks: 1}
)

// legacyLanes are the queues swap tasks were spread over before QueueBacklog
// ("swap-1" … "swap-7"; lane 0 was QueueSwap), and QueueBacklog itself. No worker
// serves them: the Reaper moves what an older API enqueued there into the queue of
// their job (Reaper.migrateLanes).
var legacyLanes = func() []string {
	var q []string
	for lane := 1; lane < 8; lane++ {
		q = append(q, fmt.Sprintf("%s-%d", QueueSwap, lane))
	}
	return append(q, QueueBacklog)
}()

// IsSwapQueue reports whether a queue name holds swap tasks: the shared queue, a
// worker profile's queue, or a queue of an older version (the backlog, a lane).
func IsSwapQueue(name string) bool {
	return SwapQueues[name] > 0 || strings.HasPrefix(name, profileQueuePrefix) || slices.Contains(legacyLanes, name)
}

// ProfileQueue is the swap queue of the workers with profile id (jobs.ProfileID):
// jobs that need something only those workers offer wait there.
func ProfileQueue(id string) string { return profileQueuePrefix + id }

const profileQueuePrefix = QueueSwap + "-p"

// JobQueue is the queue of job's swap task: the profile queue the API chose for
// it (jobs.Job.Queue), else QueueSwap.
func JobQueue(job *jobs.Job) string {
	if job.Queue != "" {
		return job.Queue
	}
	return QueueSwap
}

// A worker runs two asynq servers, one for the swap queues and one for webhooks, so
// that webhook deliveries (network I/O to receivers that may hang) never take the task
// slots that run swaps, and a backlog of swaps never delays the webhooks of jobs that
// have ended.

// Swap task settings, chosen deliberately instead of asynq's defaults (30 min timeout,
// 25 retries):
//   - SwapTimeout bounds one attempt. An image job takes seconds on a GPU and well under
//     a minute on a CPU; 10 minutes leaves room for a slow fetch and a queue for a slot.
//   - SwapMaxRetry bounds attempts after transient failures (storage or Redis down, a
//     worker that died). Retries back off 2 s, 4 s, 8 s … capped at a minute, so three
//     retries span about half a minute: enough for a restart, short enough that a client
//     learns of a real outage quickly.
const (
	SwapTimeout  = 10 * time.Minute
	SwapMaxRetry = 3
)

// SwapPayload names the job to run; everything else is in the job record, so the
// payload stays tiny (asynq keeps payloads in Redis memory).
type SwapPayload struct {
	JobID string `json:"job_id"`
}

// NewSwapTask returns the task for a job, in QueueSwap unless opts name another
// queue (EnqueueSwap puts it in its job's, JobQueue). The task id is the job id, so enqueueing
// the same job twice is refused by asynq rather than run twice. opts come after swapd's
// settings and so override them (JobTaskOptions gives a record's own timeout).
func NewSwapTask(jobID string, opts ...asynq.Option) (*asynq.Task, error) {
	b, err := json.Marshal(SwapPayload{JobID: jobID})
	if err != nil {
		return nil, err
	}
	return asynq.NewTask(TypeSwap, b, append([]asynq.Option{
		asynq.TaskID(jobID),
		asynq.Queue(QueueSwap),
		asynq.MaxRetry(SwapMaxRetry),
		asynq.Timeout(SwapTimeout),
	}, opts...)...), nil
}

// EnqueueSwap enqueues job's swap task with the job's own task options: the one way
// into the queue, for the API's submits and retries and for the Reaper. A task that
// still exists under the job's id is an error matching asynq.ErrTaskIDConflict, which
// callers that only need the task to exist ignore. rdb is the Redis q writes to: a job
// within its owner's fair share (not jobs.Job.Backlog) is then moved ahead of the
// backlog (moveToFront); nil leaves every job in submission order.
func EnqueueSwap(ctx context.Context, q *asynq.Client, rdb redis.UniversalClient, job *jobs.Job) error {
	queue := JobQueue(job)
	t, err := NewSwapTask(job.ID, append([]asynq.Option{asynq.Queue(queue)}, JobTaskOptions(job)...)...)
	if err != nil {
		return err
	}
	if _, err := q.EnqueueContext(ctx, t); err != nil {
		return fmt.Errorf("enqueue job %s: %w", job.ID, err)
	}
	if rdb == nil {
		return nil
	}
	// Ahead of the jobs past their owners' fair shares, and a wake-up for idle
	// workers (Wakeup). Best effort: the task is queued either way; a failed move
	// only leaves it in submission order, a lost wake-up it for the next poll.
	if job.Backlog || moveToFront(ctx, rdb, queue, job.ID) != nil {
		wake(ctx, rdb, queue)
	}
	return nil
}

// JobTaskOptions returns the task options a job record asks for beyond swapd's
// defaults: its own execution timeout per attempt (RunPod's policy.executionTimeout).
func JobTaskOptions(j *jobs.Job) []asynq.Option {
	if j.Timeout > 0 {
		return []asynq.Option{asynq.Timeout(j.Timeout)}
	}
	return nil
}

// WebhookPayload is one event delivery. The body is rendered from the job record at
// each attempt, so a retry hours later carries a presigned output URL that still
// works, under the same webhook-id. Snapshot is the body as it was when the event
// happened, without presigned URLs or inline outputs: it is sent only if the record
// is gone by the time of an attempt. Payloads are shown in the dashboard, so they
// never hold a URL that opens a tenant's output, nor input or output bytes.
type WebhookPayload struct {
	JobID    string          `json:"job_id"`
	EventID  string          `json:"event_id"`
	Type     string          `json:"type,omitempty"`
	URL      string          `json:"url"`
	Snapshot json.RawMessage `json:"snapshot,omitempty"`
	// Direct: the worker that ended the job made the first attempt itself
	// (DirectDelivery); this task is the schedule's second attempt on, so its
	// retries wait the schedule's delays from the second one (WebhookRetryDelay).
	Direct bool `json:"direct,omitempty"`
	// Body is what payloads of earlier versions carried (rendered once, URLs
	// included); still delivered as it is if such a task is in the queue.
	Body json.RawMessage `json:"body,omitempty"`
}

// NewWebhookTask returns the delivery task for an event. maxRetry comes from the
// delivery schedule (webhook.Schedule); the task id makes a second enqueue of the same
// event a no-op.
func NewWebhookTask(p WebhookPayload, maxRetry int) (*asynq.Task, error) {
	b, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	return asynq.NewTask(TypeWebhook, b,
		asynq.TaskID(p.EventID),
		asynq.Queue(QueueWebhooks),
		asynq.MaxRetry(maxRetry),
		asynq.Timeout(time.Minute),
	), nil
}

func decodePayload(t *asynq.Task, v any) error {
	if err := json.Unmarshal(t.Payload(), v); err != nil {
		return fmt.Errorf("decode %s payload: %v: %w", t.Type(), err, asynq.SkipRetry)
	}
	return nil
}
