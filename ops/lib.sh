# Shared by the ops/ scripts: find PostgreSQL and run a throwaway server.
# Source it; it defines functions and changes nothing by itself.

# The newest PostgreSQL programs folder (Debian keeps them off the PATH).
pg_bin() {
  local bin
  bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [ -n "$bin" ] || { echo "PostgreSQL is not installed: run ops/setup" >&2; return 1; }
  echo "$bin"
}

# Runs a command as the postgres user when we are root (initdb and postgres refuse root).
as_db_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# A TCP port nobody listens on, from the ephemeral range.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_throwaway_server DIR PORT [extra postgres settings...]
# initdb's a fresh cluster in DIR/data listening on a unix socket in DIR and on
# 127.0.0.1:PORT, and starts it. Tuned for tests unless settings say otherwise.
start_throwaway_server() {
  local dir=$1 port=$2; shift 2
  local bin; bin=$(pg_bin)
  mkdir -p "$dir"
  [ "$(id -u)" = 0 ] && chown postgres: "$dir"
  as_db_owner "$bin/initdb" -D "$dir/data" -U postgres -E UTF8 --no-locale --auth=trust >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; return 1; }
  {
    echo "listen_addresses = '127.0.0.1'"
    echo "port = $port"
    echo "unix_socket_directories = '$dir'"
    echo "max_connections = 300"
    for setting in "$@"; do echo "$setting"; done
  } >>"$dir/data/postgresql.conf"
  as_db_owner "$bin/pg_ctl" start -w -t 60 -D "$dir/data" -l "$dir/server.log" >/dev/null \
    || { tail -n 20 "$dir/server.log" >&2; return 1; }
}

# stop_throwaway_server DIR: stops it at once and deletes it.
stop_throwaway_server() {
  local dir=$1 bin; bin=$(pg_bin)
  as_db_owner "$bin/pg_ctl" stop -D "$dir/data" -m immediate >/dev/null 2>&1 || true
  rm -rf "$dir"
}
