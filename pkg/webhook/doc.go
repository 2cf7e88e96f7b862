// Package webhook signs and delivers job notifications following the
// Standard Webhooks v1 specification (https://www.standardwebhooks.com/):
//
//   - headers webhook-id (stable across retries, the receiver's idempotency
//     key), webhook-timestamp (unix seconds of this attempt) and
//     webhook-signature ("v1,<base64 HMAC-SHA256>", space-separated list);
//   - the signed content is "<id>.<timestamp>.<raw body>";
//   - secrets are 24–64 random bytes shown as "whsec_<base64>".
//
// Using the standard rather than an ad-hoc scheme means receivers can verify
// with the official libraries in any language (or with Verify here).
//
// Delivery is a single attempt (Deliver); retries are driven by the caller —
// in swapd an asynq task — using Delay, which follows the Svix schedule.
package webhook
