package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/swapd/swapd/pkg/errcode"
)

// ErrTransition is returned when a job is not in a state that allows the change asked
// for, e.g. starting a job that was canceled. Callers read the current status from
// the *TransitionError.
var ErrTransition = errors.New("job state forbids this transition")

// TransitionError reports the state a refused transition found.
type TransitionError struct {
	ID      string
	Current Status
	Wanted  Status
}

func (e *TransitionError) Error() string {
	return fmt.Sprintf("job %s is %s, cannot become %s", e.ID, e.Current, e.Wanted)
}

func (e *TransitionError) Unwrap() error { return ErrTransition }

// DefaultTTL is how long a terminal job's record is kept: a day, long enough for a
// client that polls or a webhook retry schedule's first hours.
const DefaultTTL = 24 * time.Hour

// Store reads and changes job records in Redis.
type Store struct {
	rdb redis.UniversalClient
	ttl time.Duration

	// WebhookHorizon is how long an ended job's record is kept at least while its
	// webhook is pending: the webhook body is rendered from the record at each
	// attempt, and the retry schedule (27.6 h for Svix's) may outlast the record's own
	// TTL (24 h by default, a minute for RunPod's /runsync). Once the webhook is
	// delivered or given up (SetWebhookStatus), the record expires at its own TTL
	// counted from its end again. Zero: no extension. Set it from the schedule with
	// WebhookHorizonFor.
	WebhookHorizon time.Duration

	// Durability is how many replicas must hold a write before Confirm returns.
	Durability Durability

	// FairShare is how many jobs of one owner may be queued or running before its
	// next job is marked Backlog (0: none is). A job that is not is queued ahead of
	// the backlog (tasks.EnqueueSwap), so an owner that queues thousands of jobs does
	// not make another owner's next job wait behind all of them. Counted in the same
	// step that creates the record, as max_in_flight is.
	FairShare int
}

// WebhookHorizonFor is the longest a webhook stays pending under schedule (the
// waits between attempts): every wait, a minute per attempt (the webhook task's
// timeout), and an hour for a busy queue.
func WebhookHorizonFor(schedule []time.Duration) time.Duration {
	d := time.Duration(len(schedule)+1)*time.Minute + time.Hour
	for _, w := range schedule {
		d += w
	}
	return d
}

// NewStore returns a Store that keeps terminal records for ttl (DefaultTTL if zero).
func NewStore(rdb redis.UniversalClient, ttl time.Duration) *Store {
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	return &Store{rdb: rdb, ttl: ttl}
}

func key(id string) string { return "swapd:job:" + id }

// spec is the immutable part of a job, stored as one JSON field.
type spec struct {
	Kind      Kind     `json:"kind"`
	Owner     string   `json:"owner"`
	Sources   []Input  `json:"sources"`
	Target    Input    `json:"target"`
	Reference *Input   `json:"reference,omitempty"`
	Options   Options  `json:"options"`
	Webhook   *Webhook `json:"webhook,omitempty"`

	Via         string `json:"via,omitempty"`
	TimeoutMS   int64  `json:"timeout_ms,omitempty"`
	LowPriority bool   `json:"low_priority,omitempty"`
	Queue       string `json:"queue,omitempty"`
}

// Create stores a new queued job. It fails if the id exists.
func (s *Store) Create(ctx context.Context, j *Job) error {
	return s.CreateWith(ctx, j, CreateOptions{})
}

// CreateWithin is Create unless j's owner already has maxInFlight jobs queued or
// running (0: no limit): then it is an errcode QUOTA_EXCEEDED error.
func (s *Store) CreateWithin(ctx context.Context, j *Job, maxInFlight int) error {
	return s.CreateWith(ctx, j, CreateOptions{MaxInFlight: maxInFlight})
}

// CreateOptions are what the step that writes a new record checks and counts besides.
type CreateOptions struct {
	// MaxInFlight refuses the job (errcode QUOTA_EXCEEDED) when its owner already has
	// this many jobs queued or running (0: no limit).
	MaxInFlight int
	// Tally, if set, is added to in the same step, only when the record is written:
	// a submission's bookkeeping (its owner's daily use, usage.Counter.Tally) then
	// costs no Redis round trip of its own and cannot count a job that was refused.
	Tally *Tally
}

// A Tally is counters to add to in the step that creates a record: Add's amounts to
// the fields of the hash Key, whose expiry is then set to TTL.
type Tally struct {
	Key string
	Add map[string]int64
	TTL time.Duration
}

// CreateWith is Create with opts's limit and tally.
func (s *Store) CreateWith(ctx context.Context, j *Job, opts CreateOptions) error {
	return s.create(ctx, j, opts)
}

// create is CreateWith writing extra fields (name, value pairs) into the record too.
func (s *Store) create(ctx context.Context, j *Job, opts CreateOptions, extra ...any) error {
	maxInFlight := opts.MaxInFlight
	if j.Kind == "" {
		j.Kind = KindImage
	}
	sp, err := json.Marshal(spec{Kind: j.Kind, Owner: j.Owner, Sources: j.Sources, Target: j.Target, Reference: j.Reference, Options: j.Options, Webhook: j.Webhook,
		Via: j.Via, TimeoutMS: j.Timeout.Milliseconds(), LowPriority: j.LowPriority, Queue: j.Queue})
	if err != nil {
		return fmt.Errorf("encode job %s: %w", j.ID, err)
	}
	j.Status = Queued
	fields := []any{
		"status", string(Queued),
		"created_at", j.CreatedAt.UTC().Format(time.RFC3339Nano),
		"attempts", 0,
		"progress_done", j.Progress.Done,
		"progress_total", j.Progress.Total,
		"spec", sp,
		"owner", j.Owner,
	}
	if up := uploadKeys(j); up != "" {
		fields = append(fields, "uploads", up) // deleted with the job's objects when it expires
	}
	if j.Webhook != nil {
		fields = append(fields, "webhook_status", "pending")
	}
	if secs := int64(j.TTL / time.Second); secs > 0 {
		// Read by the terminal transition, which keeps the record this long instead of
		// the store's default.
		fields = append(fields, "ttl", secs)
	}
	fields = append(fields, extra...)
	keys := []string{key(j.ID), ownerKey(j.Owner), queuedKey, liveKey(j.Owner), ""}
	args := []any{j.ID, maxInFlight, s.FairShare, 0, 0}
	if t := opts.Tally; t != nil && t.Key != "" && len(t.Add) > 0 {
		keys[4] = t.Key
		args[3], args[4] = int64(t.TTL/time.Second), len(t.Add)
		for f, n := range t.Add {
			args = append(args, f, n)
		}
	}
	res, err := createScript.Run(ctx, s.rdb, keys, append(args, fields...)...).Int()
	if err != nil {
		return fmt.Errorf("create job %s: %w", j.ID, err)
	}
	switch res {
	case 0:
		return errcode.New(errcode.Conflict, "job %s already exists", j.ID)
	case -1:
		return errcode.New(errcode.QuotaExceeded, "this API key has %d jobs queued or running, its limit; submit more as they end", maxInFlight)
	}
	j.Backlog = res == 2
	return nil
}

// createScript writes the record, adds it to its owner's index, to the queued set
// (see watch.go) and to the owner's live set in one step, unless the owner already has
// ARGV[2] (> 0) live jobs: the check and the add are one step, so concurrent submits
// cannot overshoot a limit. With ARGV[3] (> 0, FairShare) live jobs already, the
// record is marked backlog and the script returns 2. The index is a sorted set with
// every score 0, ordered by member: job ids are UUIDv7, which sort by creation time,
// so the index lists newest first with ZREVRANGEBYLEX.
//
// The tally (CreateOptions.Tally): KEYS[5] (” for none), ARGV[4] its expiry in
// seconds, ARGV[5] the number k of (field, amount) pairs after it; the record's
// fields follow from ARGV[6+2k].
var createScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local max = tonumber(ARGV[2])
local live = redis.call('ZCARD', KEYS[4])
if max > 0 and live >= max then return -1 end
local k = tonumber(ARGV[5])
redis.call('HSET', KEYS[1], unpack(ARGV, 6 + 2 * k))
if KEYS[5] ~= '' then
  for i = 6, 4 + 2 * k, 2 do redis.call('HINCRBY', KEYS[5], ARGV[i], ARGV[i + 1]) end
  redis.call('EXPIRE', KEYS[5], ARGV[4])
end
local res = 1
local share = tonumber(ARGV[3])
if share > 0 and live >= share then
  redis.call('HSET', KEYS[1], 'backlog', 1)
  res = 2
end
redis.call('ZADD', KEYS[2], 0, ARGV[1])
local now = redis.call('TIME')[1]
redis.call('ZADD', KEYS[3], now, ARGV[1])
redis.call('ZADD', KEYS[4], now, ARGV[1])
return res`)

// liveKey is the sorted set of owner's jobs that are queued or running (by when they
// were queued): what max_in_flight counts. The transition and retry scripts derive
// the same name from the record's owner field.
func liveKey(owner string) string { return "swapd:owner:" + owner + ":live" }

// InFlight returns how many of owner's jobs are queued or running.
func (s *Store) InFlight(ctx context.Context, owner string) (int64, error) {
	n, err := s.rdb.ZCard(ctx, liveKey(owner)).Result()
	if err != nil {
		return 0, fmt.Errorf("jobs in flight of %s: %w", owner, err)
	}
	return n, nil
}

func ownerKey(owner string) string { return "swapd:owner:" + owner + ":jobs" }

// Get returns the job, or an errcode NOT_FOUND error.
func (s *Store) Get(ctx context.Context, id string) (*Job, error) {
	m, err := s.rdb.HGetAll(ctx, key(id)).Result()
	if err != nil {
		return nil, fmt.Errorf("get job %s: %w", id, err)
	}
	if len(m) == 0 {
		return nil, errcode.New(errcode.NotFound, "no job with id %q (it may have expired)", id)
	}
	return decode(id, m)
}

// Status returns only the job's status: the cheap read a running worker polls to notice
// a cancel.
func (s *Store) Status(ctx context.Context, id string) (Status, error) {
	v, err := s.rdb.HGet(ctx, key(id), "status").Result()
	if errors.Is(err, redis.Nil) {
		return "", errcode.New(errcode.NotFound, "no job with id %q", id)
	}
	return Status(v), err
}

func decode(id string, m map[string]string) (*Job, error) {
	j := &Job{ID: id, Status: Status(m["status"])}
	var sp spec
	if err := json.Unmarshal([]byte(m["spec"]), &sp); err != nil {
		return nil, fmt.Errorf("decode job %s: %w", id, err)
	}
	j.Kind, j.Owner, j.Sources, j.Target, j.Reference, j.Options, j.Webhook = sp.Kind, sp.Owner, sp.Sources, sp.Target, sp.Reference, sp.Options, sp.Webhook
	if j.Webhook != nil {
		j.Webhook.Status = m["webhook_status"]
	}
	j.Via, j.Timeout, j.LowPriority, j.Queue = sp.Via, time.Duration(sp.TimeoutMS)*time.Millisecond, sp.LowPriority, sp.Queue
	if secs, _ := strconv.ParseInt(m["ttl"], 10, 64); secs > 0 {
		j.TTL = time.Duration(secs) * time.Second
	}
	j.Retries, _ = strconv.Atoi(m["retries"])
	j.Batch = m["batch"]
	j.Backlog = m["backlog"] == "1"
	j.CreatedAt = parseTime(m["created_at"])
	j.StartedAt = optTime(m["started_at"])
	j.FinishedAt = optTime(m["finished_at"])
	j.Attempts, _ = strconv.Atoi(m["attempts"])
	j.Progress.Done, _ = strconv.Atoi(m["progress_done"])
	j.Progress.Total, _ = strconv.Atoi(m["progress_total"])
	for field, dst := range map[string]any{"output": &j.Output, "error": &j.Error, "stages": &j.Stages} {
		if v := m[field]; v != "" {
			if err := json.Unmarshal([]byte(v), dst); err != nil {
				return nil, fmt.Errorf("decode job %s field %s: %w", id, field, err)
			}
		}
	}
	if v := m["embeddings"]; v != "" && j.Output != nil {
		if err := json.Unmarshal([]byte(v), &j.Output.Embeddings); err != nil {
			return nil, fmt.Errorf("decode job %s field embeddings: %w", id, err)
		}
	}
	return j, nil
}

func parseTime(s string) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, s)
	return t
}

func optTime(s string) *time.Time {
	if s == "" {
		return nil
	}
	t := parseTime(s)
	return &t
}

// transition atomically moves job id from one of from to `to`, setting fields, and
// keeping the sets the reaper sweeps in step (watch.go: running attempts and queued
// jobs by time, and terminal jobs whose webhook is not yet enqueued; and the ended
// items of an item's batch, see batch.go), and expiring the
// record when `to` is terminal: after the job's own "ttl" field (seconds) when it has
// one, else after the store's (ARGV[3]); but while its webhook is pending, not before
// the webhook horizon (ARGV[6], seconds) either. "expire_at" keeps when the record's
// own TTL ends, for SetWebhookStatus. A job that never reported progress (a probe)
// is 1/1 done when it succeeds. It returns the job's status before and, when ARGV[7] is
// "1", the whole record after the change (so the worker that starts or ends a job
// needs no second round trip to read it). With a claim token in ARGV[8] (empty: none)
// and a job that still owes its webhook, it also claims that webhook's delivery
// (KEYS[5], the event's key; ARGV[9], the claim's TTL in ms) with claimScript's claim
// (claimLua), and returns what the claim found (Claim) fourth: a worker that ends a job
// makes the first delivery attempt without a round trip of its own to claim it.
var transitionScript = redis.NewScript(claimLua + `
local cur = redis.call('HGET', KEYS[1], 'status')
if not cur then return {0, ''} end
local allowed = false
for s in string.gmatch(ARGV[1], '[^,]+') do
  if s == cur then allowed = true end
end
if not allowed then return {0, cur} end
redis.call('HSET', KEYS[1], 'status', ARGV[2])
if ARGV[4] == '1' then redis.call('HINCRBY', KEYS[1], 'attempts', 1) end
if ARGV[2] ~= 'running' then
  redis.call('ZREM', KEYS[2], ARGV[5])
elseif ARGV[4] == '1' then
  redis.call('ZADD', KEYS[2], redis.call('TIME')[1], ARGV[5])
end
if ARGV[2] == 'queued' then
  redis.call('ZADD', KEYS[3], redis.call('TIME')[1], ARGV[5])
else
  redis.call('ZREM', KEYS[3], ARGV[5])
end
if tonumber(ARGV[3]) > 0 and redis.call('HGET', KEYS[1], 'webhook_status') == 'pending' then
  redis.call('ZADD', KEYS[4], redis.call('TIME')[1], ARGV[5])
end
for i = 10, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i+1]) end
if ARGV[2] == 'succeeded' and redis.call('HGET', KEYS[1], 'progress_total') == '0' then
  redis.call('HSET', KEYS[1], 'progress_done', 1, 'progress_total', 1)
end
if ARGV[2] == 'succeeded' or ARGV[2] == 'failed' or ARGV[2] == 'canceled' then
  local owner = redis.call('HGET', KEYS[1], 'owner')
  if owner then redis.call('ZREM', 'swapd:owner:' .. owner .. ':live', ARGV[5]) end
  local batch = redis.call('HGET', KEYS[1], 'batch')
  if batch then redis.call('SADD', 'swapd:batch:' .. batch .. ':ended', ARGV[5]) end
end
if tonumber(ARGV[3]) > 0 then
  local ttl = tonumber(redis.call('HGET', KEYS[1], 'ttl') or '')
  if not ttl or ttl <= 0 then ttl = tonumber(ARGV[3]) end
  local keep = ttl
  if tonumber(ARGV[6]) > keep and redis.call('HGET', KEYS[1], 'webhook_status') == 'pending' then keep = tonumber(ARGV[6]) end
  redis.call('HSET', KEYS[1], 'expire_at', tonumber(redis.call('TIME')[1]) + ttl)
  redis.call('EXPIRE', KEYS[1], keep)
  redis.call('ZADD', 'swapd:expiring', tonumber(redis.call('TIME')[1]) + keep, ARGV[5])
  local up = redis.call('HGET', KEYS[1], 'uploads')
  if up then redis.call('HSET', 'swapd:expiring:uploads', ARGV[5], up) end
end
local claimed = -1
if ARGV[8] ~= '' then
  local hook = redis.call('HGET', KEYS[1], 'webhook_status')
  if hook == 'pending' or hook == 'delivered' then claimed = claim(KEYS[5], KEYS[1], ARGV[8], ARGV[9]) end
end
if ARGV[7] == '1' then return {1, cur, redis.call('HGETALL', KEYS[1]), claimed} end
return {1, cur, {}, claimed}`)

type change struct {
	from       []Status
	to         Status
	newAttempt bool
	fields     []any
	record     bool // return the record after the change

	// claim, when it names an event, claims its delivery in the same step (see
	// transitionScript), and claimed is set to what the claim found.
	claim   EventClaim
	claimed *Claim
}

func (s *Store) transition(ctx context.Context, id string, c change) (Status, error) {
	st, _, err := s.transitionRecord(ctx, id, c)
	return st, err
}

// transitionRecord is transition returning, when c.record is set, the job as the
// change left it.
func (s *Store) transitionRecord(ctx context.Context, id string, c change) (Status, *Job, error) {
	from := make([]string, len(c.from))
	for i, st := range c.from {
		from[i] = string(st)
	}
	ttl, horizon := 0, 0
	if c.to.Terminal() {
		ttl = int(s.ttl / time.Second)
		horizon = int(s.WebhookHorizon / time.Second)
	}
	newAttempt := "0"
	if c.newAttempt {
		newAttempt = "1"
	}
	record := "0"
	if c.record {
		record = "1"
	}
	args := append([]any{strings.Join(from, ","), string(c.to), ttl, newAttempt, id, horizon, record,
		c.claim.Token, DeliveryClaimTTL.Milliseconds()}, c.fields...)
	keys := []string{key(id), runningKey, queuedKey, notifyKey, hookKey(c.claim.EventID)}
	res, err := transitionScript.Run(ctx, s.rdb, keys, args...).Slice()
	if err != nil {
		return "", nil, fmt.Errorf("job %s -> %s: %w", id, c.to, err)
	}
	ok, _ := res[0].(int64)
	cur, _ := res[1].(string)
	if cur == "" {
		return "", nil, errcode.New(errcode.NotFound, "no job with id %q", id)
	}
	if ok != 1 {
		return Status(cur), nil, &TransitionError{ID: id, Current: Status(cur), Wanted: c.to}
	}
	if c.claimed != nil {
		*c.claimed = ClaimNone
		if len(res) > 3 {
			if v, _ := res[3].(int64); v >= 0 {
				*c.claimed = Claim(v)
			}
		}
	}
	if !c.record || len(res) < 3 {
		return Status(cur), nil, nil
	}
	flat, _ := res[2].([]any)
	j, err := decode(id, fieldMap(flat))
	return Status(cur), j, err
}

// fieldMap turns the flat name, value list a script's HGETALL returns into a map.
func fieldMap(flat []any) map[string]string {
	m := make(map[string]string, len(flat)/2)
	for i := 0; i+1 < len(flat); i += 2 {
		k, _ := flat[i].(string)
		v, _ := flat[i+1].(string)
		m[k] = v
	}
	return m
}

func now() string { return time.Now().UTC().Format(time.RFC3339Nano) }

// Start marks a job running, counts an attempt and returns the record as it now is.
// A job that is already running is a re-delivery (a worker died or shut down) and may
// start again; a terminal job may not.
func (s *Store) Start(ctx context.Context, id string) (*Job, error) {
	_, j, err := s.transitionRecord(ctx, id, change{from: []Status{Queued, Running}, to: Running, newAttempt: true,
		fields: []any{"started_at", now()}, record: true})
	return j, err
}

// SetProgress records progress of a running job; it is a no-op error for others.
func (s *Store) SetProgress(ctx context.Context, id string, p Progress) error {
	_, err := s.transition(ctx, id, change{from: []Status{Running}, to: Running,
		fields: []any{"progress_done", p.Done, "progress_total", p.Total}})
	return err
}

// Succeed marks a running job succeeded with its output, and returns the ended record
// (for its webhook). A probe job succeeds with no output.
func (s *Store) Succeed(ctx context.Context, id string, out *Output, stages map[string]float64) (*Job, error) {
	return s.succeed(ctx, id, out, stages, EventClaim{}, nil)
}

func (s *Store) succeed(ctx context.Context, id string, out *Output, stages map[string]float64, c EventClaim, claimed *Claim) (*Job, error) {
	st, _ := json.Marshal(stages)
	fields := []any{"stages", st, "finished_at", now()}
	if out != nil {
		o, _ := json.Marshal(out)
		fields = append(fields, "output", o)
		if len(out.Embeddings) > 0 {
			// An analysis's embeddings: a field of their own, never in the output's JSON.
			e, _ := json.Marshal(out.Embeddings)
			fields = append(fields, "embeddings", e)
		}
	}
	_, j, err := s.transitionRecord(ctx, id, change{from: []Status{Running}, to: Succeeded, fields: fields, record: true,
		claim: c, claimed: claimed})
	return j, err
}

// SucceedClaiming is Succeed that also claims, in the same step, the delivery of the
// job's webhook event c (as ClaimDelivery would, right after), for the worker that
// makes its first attempt: one round trip fewer per job. It returns what the claim
// found, ClaimNone when the job owes no webhook (none asked for, or failed for good);
// a Claimed claim must be confirmed, and given back or marked, as ClaimDelivery's.
func (s *Store) SucceedClaiming(ctx context.Context, id string, out *Output, stages map[string]float64, c EventClaim) (*Job, Claim, error) {
	claimed := ClaimNone
	j, err := s.succeed(ctx, id, out, stages, c, &claimed)
	return j, claimed, err
}

// Fail marks a queued or running job failed with a client-facing error, and returns
// the ended record (for its webhook).
func (s *Store) Fail(ctx context.Context, id string, e *errcode.Error) (*Job, error) {
	b, _ := json.Marshal(e)
	_, j, err := s.transitionRecord(ctx, id, change{from: []Status{Queued, Running}, to: Failed,
		fields: []any{"error", b, "finished_at", now()}, record: true})
	return j, err
}

// Requeue returns a running job to queued after a transient failure; asynq will
// deliver it again after its retry delay.
func (s *Store) Requeue(ctx context.Context, id string) error {
	_, err := s.transition(ctx, id, change{from: []Status{Running}, to: Queued})
	return err
}

// Cancel ends a queued or running job as canceled and returns the status it had. A
// running worker notices on its next poll and stops within one pipeline step.
func (s *Store) Cancel(ctx context.Context, id string) (Status, error) {
	return s.transition(ctx, id, change{from: []Status{Queued, Running}, to: Canceled,
		fields: []any{"finished_at", now()}})
}

// Retry puts a failed job back in the queue under the same id, as RunPod's /retry
// does: status queued, error, output, stages, times and progress cleared, the record's
// expiry removed (a live job does not expire), a pending webhook again, and Retries
// counted up so the next terminal event gets a new webhook-id. Attempts keep counting.
// Any other status is a *TransitionError. The caller enqueues the task again.
func (s *Store) Retry(ctx context.Context, id string) error {
	res, err := retryScript.Run(ctx, s.rdb, []string{key(id), queuedKey}, id).Slice()
	if err != nil {
		return fmt.Errorf("retry job %s: %w", id, err)
	}
	ok, _ := res[0].(int64)
	cur, _ := res[1].(string)
	if cur == "" {
		return errcode.New(errcode.NotFound, "no job with id %q", id)
	}
	if ok != 1 {
		return &TransitionError{ID: id, Current: Status(cur), Wanted: Queued}
	}
	return nil
}

var retryScript = redis.NewScript(`
local cur = redis.call('HGET', KEYS[1], 'status')
if not cur then return {0, ''} end
if cur ~= 'failed' then return {0, cur} end
redis.call('HSET', KEYS[1], 'status', 'queued', 'progress_done', 0, 'progress_total', 0)
redis.call('HDEL', KEYS[1], 'error', 'output', 'stages', 'started_at', 'finished_at', 'transient_since')
redis.call('HINCRBY', KEYS[1], 'retries', 1)
if redis.call('HEXISTS', KEYS[1], 'webhook_status') == 1 then redis.call('HSET', KEYS[1], 'webhook_status', 'pending') end
redis.call('PERSIST', KEYS[1])
redis.call('ZADD', KEYS[2], redis.call('TIME')[1], ARGV[1])
redis.call('ZREM', 'swapd:expiring', ARGV[1])
redis.call('HDEL', 'swapd:expiring:uploads', ARGV[1])
local owner = redis.call('HGET', KEYS[1], 'owner')
if owner then redis.call('ZADD', 'swapd:owner:' .. owner .. ':live', redis.call('TIME')[1], ARGV[1]) end
return {1, cur}`)

// CancelQueued cancels the job only while it is queued: a job that has started keeps
// running (RunPod's purge-queue). Any other status is a *TransitionError.
func (s *Store) CancelQueued(ctx context.Context, id string) error {
	_, err := s.transition(ctx, id, change{from: []Status{Queued}, to: Canceled,
		fields: []any{"finished_at", now()}})
	return err
}

// SetWebhookStatus records the delivery state of the job's webhook. When the
// webhook has ended ("delivered" or "failed") the record no longer needs the
// webhook horizon, and expires when its own TTL, counted from the job's end, runs
// out (at once, give or take a second, if that has passed).
func (s *Store) SetWebhookStatus(ctx context.Context, id, status string) error {
	// HSET only when the record still exists, so a late delivery cannot resurrect a
	// deleted job as a hash without a status.
	return webhookScript.Run(ctx, s.rdb, []string{key(id)}, status, id).Err()
}

// webhookScript shortens the expiry only of an ended record (a job retried since is
// live again and has none) and never lengthens it. Called by MarkDelivered, it first
// writes the event's delivered mark (KEYS[2], for ARGV[3] ms) and drops the job from
// the set of jobs owed a webhook (KEYS[3]).
var webhookScript = redis.NewScript(`
if #KEYS > 1 then
  redis.call('SET', KEYS[2], 'delivered', 'PX', ARGV[3])
  redis.call('ZREM', KEYS[3], ARGV[2])
end
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'webhook_status', ARGV[1])
if ARGV[1] ~= 'delivered' and ARGV[1] ~= 'failed' then return 0 end
local st = redis.call('HGET', KEYS[1], 'status')
if st ~= 'succeeded' and st ~= 'failed' and st ~= 'canceled' then return 0 end
local at = tonumber(redis.call('HGET', KEYS[1], 'expire_at') or '')
local left = redis.call('TTL', KEYS[1])
if not at or left < 0 then return 0 end
local own = at - tonumber(redis.call('TIME')[1])
if own < 1 then own = 1 end
if own < left then
  redis.call('EXPIRE', KEYS[1], own)
  redis.call('ZADD', 'swapd:expiring', 'XX', tonumber(redis.call('TIME')[1]) + own, ARGV[2])
end
return 0`)

// Delete removes the record and its index entry. It reports whether there was one.
func (s *Store) Delete(ctx context.Context, j *Job) (bool, error) {
	pipe := s.rdb.TxPipeline()
	del := pipe.Del(ctx, key(j.ID))
	pipe.ZRem(ctx, ownerKey(j.Owner), j.ID)
	pipe.ZRem(ctx, runningKey, j.ID)
	pipe.ZRem(ctx, queuedKey, j.ID)
	pipe.ZRem(ctx, notifyKey, j.ID)
	pipe.ZRem(ctx, liveKey(j.Owner), j.ID)
	pipe.ZRem(ctx, expiringKey, j.ID)
	pipe.HDel(ctx, expiringUploadsKey, j.ID)
	if _, err := pipe.Exec(ctx); err != nil {
		return false, err
	}
	return del.Val() == 1, nil
}

// TTL returns the remaining lifetime of the record (-1 while the job is live).
func (s *Store) TTL(ctx context.Context, id string) (time.Duration, error) {
	return s.rdb.TTL(ctx, key(id)).Result()
}
