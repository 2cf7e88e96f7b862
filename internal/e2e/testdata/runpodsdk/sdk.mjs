// Drives swapd's RunPod-compatible API with RunPod's own JS SDK (runpod-sdk), as a
// user would: the only swapd-specific thing is the base URL given to the constructor.
// Run by internal/e2e/runpod_sdk_test.go, which checks what this prints: the SDK's own
// log lines, then one line "RESULT <json>" with what each call returned.
//
// Environment:
//   RUNPOD_BASE_URL     swapd's /v2 base URL, e.g. http://127.0.0.1:8080/v2
//   RUNPOD_API_KEY      a swapd API key
//   RUNPOD_ENDPOINT_ID  a configured endpoint id (SWAPD_RUNPOD_ENDPOINTS)
//   SDK_REQUESTS        a JSON file: {"probe", "long", "stream", "held"} request bodies
//   SDK_RUNSYNC_TIMEOUT the timeout (ms) given to runSync for the "long" job, which
//                       outlasts it, so runSync goes on polling /status-sync
import fs from "node:fs"
import runpodSdk from "runpod-sdk"

const env = (name) => {
  const v = process.env[name]
  if (!v) throw new Error(`${name} is not set`)
  return v
}
const requests = JSON.parse(fs.readFileSync(env("SDK_REQUESTS"), "utf8"))
const sdk = runpodSdk(env("RUNPOD_API_KEY"), { baseUrl: env("RUNPOD_BASE_URL") })
const ep = sdk.endpoint(env("RUNPOD_ENDPOINT_ID"))
const result = {}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

// health
result.health = await ep.health()

// run, then status until the job ends
result.run = await ep.run(requests.probe)
let st
for (let i = 0; i < 300; i++) {
  st = await ep.status(result.run.id)
  if (st.completed) break
  await sleep(100)
}
result.status = st

// runSync of a quick job: /runsync answers the ended job
result.runSyncShort = await ep.runSync(requests.probe, 30000)

// runSync of a job that outlasts the wait: /runsync answers IN_PROGRESS, then the
// SDK polls /status-sync/{id}?wait= until the job ends
const t0 = Date.now()
result.runSyncLong = await ep.runSync(requests.long, Number(env("SDK_RUNSYNC_TIMEOUT")))
result.runSyncLongMs = Date.now() - t0
if (result.runSyncLong.output && typeof result.runSyncLong.output === "string") {
  result.runSyncLong.outputLength = result.runSyncLong.output.length
  delete result.runSyncLong.output // a base64 image: the length is enough
}

// stream: the SDK's generator ends once a poll says the job ended
const streamed = await ep.run(requests.stream)
result.streamID = streamed.id
result.stream = []
const s0 = Date.now()
for await (const chunk of ep.stream(streamed.id)) {
  result.stream.push(chunk)
  if (result.stream.length > 1000) break // a server repeating chunks
}
result.streamMs = Date.now() - s0

// cancel a job held in its fetch step
const held = await ep.run(requests.held)
await sleep(500)
result.cancel = await ep.cancel(held.id)
result.cancelID = held.id

// purgeQueue
result.purge = await ep.purgeQueue()

console.log("RESULT " + JSON.stringify(result))
