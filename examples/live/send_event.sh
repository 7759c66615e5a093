#!/bin/sh
# Send one event (a JSON file, or stdin) to the runtime, signed like docs/running.md shows.
#   ENGAGE_WEBHOOK_SECRET=... sh examples/live/send_event.sh event.json
set -eu
URL="${ENGAGE_URL:-http://127.0.0.1:8787/events}"
BODY="$(cat "${1:--}")"
TS="$(date +%s)"
SIG="sha256=$(printf '%s.%s' "$TS" "$BODY" | openssl dgst -sha256 -hmac "$ENGAGE_WEBHOOK_SECRET" -hex | sed 's/^.* //')"
curl -sS -X POST "$URL" \
  -H "Content-Type: application/json" \
  -H "X-Engage-Timestamp: $TS" \
  -H "X-Engage-Delivery: $(openssl rand -hex 16)" \
  -H "X-Engage-Signature: $SIG" \
  --data-binary "$BODY"
echo
