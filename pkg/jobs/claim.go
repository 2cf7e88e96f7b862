package jobs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// A webhook event may have more than one would-be deliverer at once: the worker that
// ended the job makes the first attempt directly while the event's task waits in the
// queue, due after the first delay whether or not that attempt is over, and after a
// Redis failover asynq may hand a task out again because its dequeue or
// acknowledgement was lost with the old primary. Each
// deliverer therefore claims the event before it sends anything, and a delivered
// event is marked, both in one key per event (by its webhook-id):
//
//	swapd:hook:{webhook-id} = "claim:{token}"  for DeliveryClaimTTL: someone is sending it
//	                        = "delivered"      for DeliveredMarkTTL: the receiver has it
//
// The claim is confirmed on SWAPD_REDIS_MIN_REPLICAS replicas (Store.Confirm) before
// the POST, so a failover cannot lose it while its holder sends; the delivered mark is
// written again until a replica confirms it. A claim whose holder died expires, and
// the event's task delivers it then.
const (
	// DeliveryClaimTTL bounds a claim: a holder's POST (webhook.DefaultTimeout, 15 s)
	// and the confirmation of its delivered mark (at most DeliveredMarkWindow) fit in it
	// with room to spare. It is also how long a delivery whose holder died waits.
	DeliveryClaimTTL = time.Minute
	// DeliveredMarkWindow is how long a holder keeps writing the delivered mark until a
	// replica confirms it.
	DeliveredMarkWindow = 30 * time.Second
	// DeliveredMarkTTL is how long the per-event delivered mark is kept. A job's own
	// record keeps webhook_status "delivered" for its whole life; this mark covers the
	// events without a record (batch.completed, a record deleted meanwhile) against
	// the second deliveries a failover causes, which come within minutes.
	DeliveredMarkTTL = time.Hour
)

// Claim is what ClaimDelivery found.
type Claim int

const (
	// Claimed: the caller holds the event's claim and may send it (once Confirm
	// says the claim is on the replicas).
	Claimed Claim = iota
	// AlreadyDelivered: the receiver has the event; send nothing.
	AlreadyDelivered
	// ClaimedByOther: another deliverer holds the claim; try again later.
	ClaimedByOther
	// ClaimNone: nothing was claimed, as the job owes no webhook (SucceedClaiming).
	ClaimNone
)

// EventClaim names a webhook event whose delivery SucceedClaiming claims, and the
// attempt that claims it (NewClaimToken).
type EventClaim struct {
	EventID, Token string
}

func (c Claim) String() string {
	switch c {
	case Claimed:
		return "claimed"
	case AlreadyDelivered:
		return "delivered"
	case ClaimedByOther:
		return "claimed by another"
	case ClaimNone:
		return "no webhook owed"
	}
	return fmt.Sprintf("Claim(%d)", int(c))
}

func hookKey(eventID string) string { return "swapd:hook:" + eventID }

// NewClaimToken returns a token naming one delivery attempt's claim.
func NewClaimToken() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// ClaimDelivery claims the delivery of event eventID of job (or batch) jobID for the
// attempt named token, for DeliveryClaimTTL. It reports AlreadyDelivered when the
// event's mark or the job record's webhook_status says the receiver has it, and
// ClaimedByOther, with what is left of that claim, while another attempt holds it.
// The caller must Confirm a claim before sending, and must MarkDelivered after a
// successful send or ReleaseDelivery after a failed one.
func (s *Store) ClaimDelivery(ctx context.Context, jobID, eventID, token string) (Claim, time.Duration, error) {
	res, err := claimScript.Run(ctx, s.rdb, []string{hookKey(eventID), key(jobID)}, token, DeliveryClaimTTL.Milliseconds()).Int64Slice()
	if err != nil {
		return 0, 0, fmt.Errorf("claim webhook %s: %w", eventID, err)
	}
	return Claim(res[0]), time.Duration(res[1]) * time.Millisecond, nil
}

// claimLua is the claim itself, shared by claimScript and transitionScript (which
// claims a webhook in the step that ends its job): for event key hook of job record
// record, it returns AlreadyDelivered (1) when the event's mark or the record says
// delivered, ClaimedByOther (2) while another attempt holds it, and otherwise takes it
// for token for ttl ms and returns Claimed (0).
const claimLua = `
local function claim(hook, record, token, ttl)
  local v = redis.call('GET', hook)
  if v == 'delivered' or redis.call('HGET', record, 'webhook_status') == 'delivered' then return 1 end
  if v then return 2 end
  redis.call('SET', hook, 'claim:' .. token, 'PX', ttl)
  return 0
end
`

var claimScript = redis.NewScript(claimLua + `
local c = claim(KEYS[1], KEYS[2], ARGV[1], ARGV[2])
if c == 2 then return {2, math.max(redis.call('PTTL', KEYS[1]), 0)} end
return {c, 0}`)

// ReleaseDelivery gives up the claim token holds on event eventID (its attempt failed
// or was not confirmed), so the next attempt need not wait for it to expire. A claim
// that is no longer token's, or a delivered mark, is left alone.
func (s *Store) ReleaseDelivery(ctx context.Context, eventID, token string) error {
	if err := releaseScript.Run(ctx, s.rdb, []string{hookKey(eventID)}, "claim:"+token).Err(); err != nil {
		return fmt.Errorf("release webhook %s: %w", eventID, err)
	}
	return nil
}

var releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`)

// MarkDelivered records that the receiver has event eventID of job (or batch) jobID,
// in one step: the event's mark, whoever held its claim; the job record's
// webhook_status (see SetWebhookStatus; nothing when there is no record); and the job
// is no longer owed a webhook (Notified). It does not wait for replicas: the caller
// confirms.
func (s *Store) MarkDelivered(ctx context.Context, jobID, eventID string) error {
	err := webhookScript.Run(ctx, s.rdb, []string{key(jobID), hookKey(eventID), notifyKey}, "delivered", jobID, DeliveredMarkTTL.Milliseconds()).Err()
	if err != nil {
		return fmt.Errorf("mark webhook %s delivered: %w", eventID, err)
	}
	return nil
}
