#!/usr/bin/env bash
# Prepare a Debian 12 or Ubuntu machine to run and test salesagent: PostgreSQL
# with pgvector (built from Debian's own source package where no binary package
# exists), a started cluster, the salesagent role and databases, and, with
# --browser, Debian's Chromium for the browser tests. Safe to run again.
set -euo pipefail

want_browser=0
for arg in "$@"; do
  case "$arg" in
    --browser) want_browser=1 ;;
    *) echo "setup.sh: unknown option $arg (known: --browser)" >&2; exit 2 ;;
  esac
done

db_user=${SALESAGENT_DB_USER:-salesagent}
db_password=${SALESAGENT_DB_PASSWORD:-salesagent}
databases=(salesagent salesagent_test)

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
  sudo_cmd=(sudo)
fi

log() { printf 'setup: %s\n' "$*"; }

apt_updated=0
apt_install() {
  if [ "$apt_updated" -eq 0 ]; then
    "${sudo_cmd[@]}" apt-get update -qq
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# 1. PostgreSQL server.
if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
  log "installing PostgreSQL"
  apt_install postgresql postgresql-contrib
fi
pg_version=$(ls /usr/lib/postgresql | sort -n | tail -n 1)
pg_config=/usr/lib/postgresql/$pg_version/bin/pg_config
log "PostgreSQL $pg_version"

if [ "$(id -u)" -eq 0 ]; then
  as_postgres() { runuser -u postgres -- "$@"; }
else
  as_postgres() { sudo -u postgres "$@"; }
fi
psql_admin() { PGOPTIONS='-c client_min_messages=warning' as_postgres psql -v ON_ERROR_STOP=1 -qAt -p "$port" "$@"; }

# 2. pgvector. Debian 12 ships no binary package, so build Debian's own source
# package from trixie against this server's headers.
vector_available() {
  [ -f "$("$pg_config" --sharedir)/extension/vector.control" ]
}
if ! vector_available; then
  log "pgvector missing: building Debian's pgvector source package (trixie)"
  apt_install "postgresql-server-dev-$pg_version" build-essential dpkg-dev
  src_list=/etc/apt/sources.list.d/salesagent-trixie-src.list
  if [ ! -f "$src_list" ]; then
    echo "deb-src http://deb.debian.org/debian trixie main" | "${sudo_cmd[@]}" tee "$src_list" >/dev/null
  fi
  "${sudo_cmd[@]}" apt-get update -qq
  build_dir=$(mktemp -d)
  (
    cd "$build_dir"
    apt-get source -qq --download-only pgvector >/dev/null 2>&1
    # apt checked the files against the signed archive index, so the
    # uploader's signature, whose key this machine may lack, is skipped.
    dpkg-source --no-check -x ./pgvector_*.dsc src >/dev/null
    cd src
    make -s PG_CONFIG="$pg_config" >/dev/null
    "${sudo_cmd[@]}" make -s PG_CONFIG="$pg_config" install >/dev/null
  )
  rm -rf "$build_dir"
  vector_available || { echo "setup: pgvector build finished but vector.control is missing" >&2; exit 1; }
  log "pgvector installed"
fi

# 3. Browser for the browser tests.
if [ "$want_browser" -eq 1 ] && ! command -v chromium >/dev/null 2>&1; then
  log "installing Chromium"
  apt_install chromium fonts-dejavu-core
fi

# 4. A running cluster, restarted when this run upgraded its packages, because
# a server left running on old binaries cannot load the new libraries.
if ! pg_lsclusters -h 2>/dev/null | awk -v v="$pg_version" '$1 == v' | grep -q .; then
  log "creating cluster $pg_version/main"
  "${sudo_cmd[@]}" pg_createcluster "$pg_version" main >/dev/null
fi
cluster=$(pg_lsclusters -h | awk -v v="$pg_version" '$1 == v {print $2; exit}')
port=$(pg_lsclusters -h | awk -v v="$pg_version" '$1 == v {print $3; exit}')
if ! pg_lsclusters -h | awk -v v="$pg_version" -v c="$cluster" '$1 == v && $2 == c {print $4}' | grep -q online; then
  log "starting cluster $pg_version/$cluster on port $port"
  "${sudo_cmd[@]}" pg_ctlcluster "$pg_version" "$cluster" start
elif [ "$apt_updated" -eq 1 ]; then
  log "restarting cluster $pg_version/$cluster after package changes"
  "${sudo_cmd[@]}" pg_ctlcluster "$pg_version" "$cluster" restart
fi

# 5. Role and databases. The role may create databases so that tests can make
# a throwaway database per package.
psql_admin -d postgres <<SQL
DO \$\$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$db_user') THEN
    CREATE ROLE "$db_user" LOGIN CREATEDB PASSWORD '$db_password';
  END IF;
END
\$\$;
SQL
for db in "${databases[@]}"; do
  if [ -z "$(psql_admin -d postgres -c "SELECT 1 FROM pg_database WHERE datname = '$db'")" ]; then
    log "creating database $db"
    as_postgres createdb -p "$port" -O "$db_user" "$db"
  fi
  # The extension needs a superuser to create once; afterwards the owner uses it.
  psql_admin -d "$db" -c "CREATE EXTENSION IF NOT EXISTS vector"
done
# template1 gets the extension too, so databases created by tests have it.
psql_admin -d template1 -c "CREATE EXTENSION IF NOT EXISTS vector"

log "ready: postgres://$db_user@127.0.0.1:$port/salesagent (password from SALESAGENT_DB_PASSWORD, default salesagent)"
