#!/bin/sh
# Start one Redis of the cluster (supervisord runs this; `exec` keeps supervisord's pid).
# usage: redis-node.sh SERVICE SENTINELS PORT [redis-server arguments...]
#   SENTINELS: the Sentinels' ports, comma-separated (127.0.0.1).
# A node restarted as a primary would make its replicas copy whatever it has: nothing (no
# persistence), or its append-only file, which may miss the last second before a crash that
# a replica still holds. So it asks the Sentinels first: it starts as a replica of the primary
# they name; while they still name this node (it died a moment ago), it waits for them to
# promote a replica.
# When no Sentinel answers (the cluster's first start) it starts as its arguments say.
set -eu
service=$1 sentinels=$2 port=$3
shift 3
waited=0
while :; do
  primary=""
  for sentinel in $(echo "$sentinels" | tr ',' ' '); do
    primary=$(redis-cli -p "$sentinel" --raw SENTINEL get-master-addr-by-name "$service" 2>/dev/null | sed -n 2p) || true
    [ -n "$primary" ] && break
  done
  if [ -z "$primary" ]; then
    exec redis-server "$@"
  fi
  if [ "$primary" != "$port" ]; then
    exec redis-server "$@" --replicaof 127.0.0.1 "$primary"
  fi
  # Every node restarted at once (30 s with no promotion): it is the best copy left.
  [ "$waited" -ge 60 ] && exec redis-server "$@"
  waited=$((waited + 1))
  sleep 0.5
done
