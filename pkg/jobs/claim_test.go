package jobs_test

import (
	"context"
	"testing"
	"time"

	"github.com/swapd/swapd/pkg/jobs"
)

// The delivery claim of a webhook event: one holder at a time, given back only by its
// holder, gone when it expires, and beaten by the delivered mark (the event's own, or
// the job record's webhook_status) for good.
func TestDeliveryClaim(t *testing.T) {
	ctx := context.Background()
	s, rdb := newStore(t)
	if err := s.Create(ctx, newJob("j1")); err != nil {
		t.Fatal(err)
	}
	claim := func(jobID, eventID, token string) (jobs.Claim, time.Duration) {
		t.Helper()
		c, left, err := s.ClaimDelivery(ctx, jobID, eventID, token)
		if err != nil {
			t.Fatal(err)
		}
		return c, left
	}
	a, b := jobs.NewClaimToken(), jobs.NewClaimToken()
	if a == b || a == "" {
		t.Fatalf("tokens %q and %q", a, b)
	}
	if c, _ := claim("j1", "msg_1", a); c != jobs.Claimed {
		t.Fatalf("first claim: %v", c)
	}
	c, left := claim("j1", "msg_1", b)
	if c != jobs.ClaimedByOther || left <= 0 || left > jobs.DeliveryClaimTTL {
		t.Fatalf("second claim: %v with %v left, want claimed by another within %v", c, left, jobs.DeliveryClaimTTL)
	}
	// Only the holder gives it back.
	if err := s.ReleaseDelivery(ctx, "msg_1", b); err != nil {
		t.Fatal(err)
	}
	if c, _ := claim("j1", "msg_1", b); c != jobs.ClaimedByOther {
		t.Fatalf("after another token's release: %v", c)
	}
	if err := s.ReleaseDelivery(ctx, "msg_1", a); err != nil {
		t.Fatal(err)
	}
	if c, _ := claim("j1", "msg_1", b); c != jobs.Claimed {
		t.Fatalf("after the holder's release: %v", c)
	}
	// A claim whose holder died expires (here at once) and can be taken again.
	if err := rdb.PExpire(ctx, "swapd:hook:msg_1", time.Millisecond).Err(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Millisecond)
	if c, _ := claim("j1", "msg_1", a); c != jobs.Claimed {
		t.Fatalf("after the claim expired: %v", c)
	}
	// Delivered: whoever holds the claim, nobody gets it again, and a release does
	// not undo the mark.
	if err := s.MarkDelivered(ctx, "j1", "msg_1"); err != nil {
		t.Fatal(err)
	}
	if err := s.ReleaseDelivery(ctx, "msg_1", a); err != nil {
		t.Fatal(err)
	}
	for _, tok := range []string{a, b} {
		if c, _ := claim("j1", "msg_1", tok); c != jobs.AlreadyDelivered {
			t.Fatalf("after the mark: %v", c)
		}
	}
	if j, err := s.Get(ctx, "j1"); err != nil || j.Webhook.Status != "delivered" {
		t.Fatalf("record after MarkDelivered: %+v %v", j.Webhook, err)
	}
	if ttl := rdb.TTL(ctx, "swapd:hook:msg_1").Val(); ttl <= jobs.DeliveryClaimTTL || ttl > jobs.DeliveredMarkTTL {
		t.Fatalf("delivered mark expires in %v, want within (%v, %v]", ttl, jobs.DeliveryClaimTTL, jobs.DeliveredMarkTTL)
	}

	// The record's webhook_status alone (a mark written before there were claims, or
	// an event mark that expired) is enough.
	if err := s.Create(ctx, newJob("j2")); err != nil {
		t.Fatal(err)
	}
	if err := s.SetWebhookStatus(ctx, "j2", "delivered"); err != nil {
		t.Fatal(err)
	}
	if c, _ := claim("j2", "msg_2", a); c != jobs.AlreadyDelivered {
		t.Fatalf("record marked delivered: %v", c)
	}

	// An event without a job record (batch.completed): the event's mark does it all.
	if c, _ := claim("batch-1", "msg_3", a); c != jobs.Claimed {
		t.Fatalf("batch event: %v", c)
	}
	if err := s.MarkDelivered(ctx, "batch-1", "msg_3"); err != nil {
		t.Fatal(err)
	}
	if c, _ := claim("batch-1", "msg_3", b); c != jobs.AlreadyDelivered {
		t.Fatalf("batch event after the mark: %v", c)
	}
	if n := rdb.Exists(ctx, "swapd:job:batch-1").Val(); n != 0 {
		t.Fatalf("MarkDelivered made a record for a batch")
	}
}

// SucceedClaiming ends a job and claims its webhook's first delivery in one step, with
// the outcomes ClaimDelivery has; a job that owes no webhook claims nothing, and a
// job that cannot succeed claims nothing either.
func TestSucceedClaiming(t *testing.T) {
	ctx := context.Background()
	s, rdb := newStore(t)
	start := func(j *jobs.Job) {
		t.Helper()
		if err := s.Create(ctx, j); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Start(ctx, j.ID); err != nil {
			t.Fatal(err)
		}
	}
	succeed := func(id, event string) (*jobs.Job, jobs.Claim, jobs.EventClaim) {
		t.Helper()
		c := jobs.EventClaim{EventID: event, Token: jobs.NewClaimToken()}
		j, found, err := s.SucceedClaiming(ctx, id, nil, map[string]float64{"run": 1}, c)
		if err != nil {
			t.Fatal(err)
		}
		if j.Status != jobs.Succeeded {
			t.Fatalf("%s is %s after SucceedClaiming", id, j.Status)
		}
		return j, found, c
	}
	hook := func(event string) string { v, _ := rdb.Get(ctx, "swapd:hook:"+event).Result(); return v }

	start(newJob("c1"))
	if _, found, c := succeed("c1", "msg_c1"); found != jobs.Claimed || hook("msg_c1") != "claim:"+c.Token {
		t.Fatalf("claim %v, key %q; want claimed under its token", found, hook("msg_c1"))
	}
	// The claim is an ordinary one: another deliverer finds it taken, its holder gives it back.
	if c, _, _ := s.ClaimDelivery(ctx, "c1", "msg_c1", jobs.NewClaimToken()); c != jobs.ClaimedByOther {
		t.Fatalf("a second claim found %v", c)
	}

	start(newJob("c2"))
	if err := rdb.Set(ctx, "swapd:hook:msg_c2", "claim:someone", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	if _, found, _ := succeed("c2", "msg_c2"); found != jobs.ClaimedByOther || hook("msg_c2") != "claim:someone" {
		t.Fatalf("claim %v, key %q; want claimed by another, untouched", found, hook("msg_c2"))
	}

	start(newJob("c3"))
	if err := rdb.Set(ctx, "swapd:hook:msg_c3", "delivered", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	if _, found, _ := succeed("c3", "msg_c3"); found != jobs.AlreadyDelivered || hook("msg_c3") != "delivered" {
		t.Fatalf("claim %v, key %q; want already delivered", found, hook("msg_c3"))
	}

	none := newJob("c4")
	none.Webhook = nil
	start(none)
	if _, found, _ := succeed("c4", "msg_c4"); found != jobs.ClaimNone || hook("msg_c4") != "" {
		t.Fatalf("claim %v, key %q for a job without a webhook; want none", found, hook("msg_c4"))
	}

	// A job that is not running does not succeed, and claims nothing.
	if err := s.Create(ctx, newJob("c5")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.SucceedClaiming(ctx, "c5", nil, nil, jobs.EventClaim{EventID: "msg_c5", Token: "t"}); err == nil {
		t.Fatal("a queued job succeeded")
	}
	if hook("msg_c5") != "" {
		t.Fatalf("a failed transition left claim %q", hook("msg_c5"))
	}
}
