# shellcheck shell=sh disable=SC2034  # the variables set here are used by the scripts that source it
# Sourced by platform-up, platform-down and integration-tests: where a platform's records live, and how to
# reach this machine's PostgreSQL and Redis. Not executable on its own.
#
# PLATFORM_PREFIX names everything platform-up creates (roles and databases <prefix>_...), so several
# sessions on one machine can each have their own platform; PLATFORM_STATE_DIR keeps, per prefix, the state
# file (what platform-up created or started, which is exactly what platform-down undoes) and the env file
# (connection settings for the platform's users, mode 600).

die() {
    echo "$(basename "$0"): $*" >&2
    exit 1
}

PLATFORM_PREFIX=${PLATFORM_PREFIX:-datakit}
case "$PLATFORM_PREFIX" in
    [a-z]*[!a-z0-9_]* | [!a-z]*) die "PLATFORM_PREFIX '$PLATFORM_PREFIX': use lower-case letters, digits and _, starting with a letter" ;;
esac
[ "${#PLATFORM_PREFIX}" -le 40 ] || die "PLATFORM_PREFIX '$PLATFORM_PREFIX' is too long (at most 40 characters)"

REPO=$(cd "$(dirname "$0")/../.." && pwd)
PLATFORM_STATE_DIR=${PLATFORM_STATE_DIR:-$REPO/deploy/.state}
STATE_FILE=$PLATFORM_STATE_DIR/$PLATFORM_PREFIX.state
ENV_FILE=$PLATFORM_STATE_DIR/$PLATFORM_PREFIX.env

# The admin connection (a superuser), as .ci/run makes it: libpq's variables, defaulting to postgres@127.0.0.1.
export PGHOST="${PGHOST:-127.0.0.1}" PGPORT="${PGPORT:-5432}" PGUSER="${PGUSER:-postgres}"
export PGDATABASE="${PGDATABASE:-postgres}"
REDIS_HOST=${REDIS_HOST:-127.0.0.1}
REDIS_PORT=${REDIS_PORT:-6379}

psql_admin() { psql -X -q -t -A -v ON_ERROR_STOP=1 "$@"; }

postgres_answers() { pg_isready -q -h "$PGHOST" -p "$PGPORT"; }

redis_answers() { [ "$(redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ]; }

# wait_for WHAT CHECK: poll CHECK once a second for up to 30 s, as .ci/run waits for its services.
wait_for() {
    what=$1
    shift
    for _ in $(seq 1 30); do
        if "$@"; then return 0; fi
        sleep 1
    done
    die "$what did not answer within 30 s"
}
