#!/usr/bin/env bash
# Regenerates the store fixtures written by earlier releases (tests/test_store_upgrade.py):
# a replay of the starter playbook over the first 400 sample events, into SQLite, by the
# code of the commit that wrote each store schema.
#   schema2-starter.db  c43cb5a (store schema 2: activity counts and traces)
#   schema3-starter.db  963d27d (store schema 3: replay runs)
# Usage: tests/data/stores/make.sh   (from the repository root; needs git and a venv)
set -euo pipefail
root=$(pwd)
head -n 400 examples/starter-events.jsonl > /tmp/engage-first-400.jsonl
for pair in 2:c43cb5a 3:963d27d; do
  schema=${pair%%:*} commit=${pair##*:}
  tree=$(mktemp -d)
  git worktree add -q --detach "$tree" "$commit"
  out="$root/tests/data/stores/schema$schema-starter.db"
  rm -f "$out" "$out.lock"
  (cd "$tree" && ENGAGE_RULES_LOAD_PLUGINS= PYTHONPATH="$tree/src" "$root/.venv/bin/python" -m engage_rules \
     replay rules/starter/community.yaml /tmp/engage-first-400.jsonl \
     --store "sqlite:///$out" > /dev/null)
  sqlite3 "$out" "PRAGMA wal_checkpoint(TRUNCATE); VACUUM;" 2>/dev/null || \
    "$root/.venv/bin/python" -c "import sqlite3,sys; d=sqlite3.connect(sys.argv[1]); d.execute('PRAGMA wal_checkpoint(TRUNCATE)'); d.execute('VACUUM'); d.execute('PRAGMA journal_mode=DELETE'); d.close()" "$out"
  rm -f "$out.lock" "$out-wal" "$out-shm"
  git worktree remove --force "$tree"
done
