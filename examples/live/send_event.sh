#!/bin/sh
# Send one event (a JSON file, or stdin) to the runtime, signed like docs/running.md shows:
# the signature (version 2) covers the timestamp, the delivery id and the body.
#   ENGAGE_WEBHOOK_SECRET=... sh examples/live/send_event.sh event.json
set -eu
URL="${ENGAGE_URL:-http://127.0.0.1:8787/events}"
BODY="$(cat "${1:--}")"
TS="$(date +%s)"
DELIVERY="$(openssl rand -hex 16)"
SIG="v2=$(printf 'v2\n%s\n%s\n%s' "$TS" "$DELIVERY" "$BODY" | openssl dgst -sha256 -hmac "$ENGAGE_WEBHOOK_SECRET" -hex | sed 's/^.* //')"
curl -sS -X POST "$URL" \
  -H "Content-Type: application/json" \
  -H "X-Engage-Timestamp: $TS" \
  -H "X-Engage-Delivery: $DELIVERY" \
  -H "X-Engage-Signature: $SIG" \
  --data-binary "$BODY"
echo
