# Shared by tests/vpc/up, down and sshd: names, addresses and helpers of one
# test VPC. Sourced, not run. Every name carries the VPC's id
# (tt-<pid of the `up` that made it>) so parallel runs never collide.
#
#   client ns  198.18.1.2 ── veth ── 198.18.1.1  bastion ns (sshd)
#                                    198.18.2.1  bastion ns
#                                         │ veth (2001:2:0:2::1)
#                                    198.18.2.2  vpc ns (PostgreSQL, HTTP, echo)
#                                    2001:2:0:2::2
#
# 198.18.0.0/15 and 2001:2::/48 are the benchmarking ranges (RFC 2544,
# RFC 5180): never routed anywhere real. The bastion does not forward
# between its interfaces and the client has no route to 198.18.2.0/24, so
# the only way from the client to the VPC is through sshd.

VPC_CLIENT_ADDR=198.18.1.2
VPC_BASTION_ADDR=198.18.1.1
VPC_BASTION_INNER_ADDR=198.18.2.1
VPC_BASTION_INNER_ADDR6=2001:2:0:2::1
VPC_SERVICE_ADDR=198.18.2.2
VPC_SERVICE_ADDR6=2001:2:0:2::2
VPC_SERVICE_NAME=db.vpc.internal
VPC_HTTP_PORT=8080
VPC_ECHO_PORT=7000
VPC_PG_PORT=5432
VPC_PG_USER=tether
VPC_PG_DB=tether_test
VPC_SSH_PORT=22
VPC_SSH_USER=root

vpc_names() { # vpc_names ID
  VPC_ID=$1
  VPC_NS_CLIENT=$1-client
  VPC_NS_BASTION=$1-bastion
  VPC_NS_VPC=$1-vpc
  # Interface names are limited to 15 bytes: "tt<pid>" plus two letters.
  local short=${1//-/}
  VPC_IF_CLIENT=${short}cb
  VPC_IF_BASTION_OUT=${short}bc
  VPC_IF_BASTION_IN=${short}bv
  VPC_IF_VPC=${short}vb
}

vpc_log() { printf 'vpc: %s\n' "$*" >&2; }

# Waits until `cmd...` succeeds, up to $1 tenths of a second.
vpc_wait() {
  local tenths=$1
  shift
  local i
  for ((i = 0; i < tenths; i++)); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  return 1
}

vpc_in() { # vpc_in NS CMD... (inside a namespace)
  local ns=$1
  shift
  ip netns exec "$ns" "$@"
}

# Starts sshd in the bastion namespace from the state in $VPC_DIR. It runs in
# the foreground (-D): every process in the namespace is one we started.
# Background processes are started with `ip netns exec` directly (no shell
# function) and with their output redirected, so that `$(tests/vpc/up)`
# returns as soon as the script does.
vpc_start_sshd() {
  mkdir -p /run/sshd
  chmod 755 /run/sshd
  ip netns exec "$VPC_NS_BASTION" /usr/sbin/sshd -D -f "$VPC_DIR/sshd_config" \
    -E "$VPC_DIR/sshd.log" </dev/null >/dev/null 2>&1 &
  vpc_wait 50 vpc_in "$VPC_NS_BASTION" bash -c "exec 3<>/dev/tcp/$VPC_BASTION_ADDR/$VPC_SSH_PORT" ||
    { vpc_log "sshd did not start; see $VPC_DIR/sshd.log"; return 1; }
}

# Kills every process in a namespace (all of them were started by this VPC).
vpc_kill_namespace() { # vpc_kill_namespace NS [SIGNAL]
  local ns=$1 signal=${2:-TERM} pids
  pids=$(ip netns pids "$ns" 2>/dev/null) || return 0
  [ -n "$pids" ] || return 0
  # shellcheck disable=SC2086
  kill -s "$signal" $pids 2>/dev/null || true
}

vpc_namespace_empty() { [ -z "$(ip netns pids "$1" 2>/dev/null)" ]; }
