#!/usr/bin/env bash
# Bring up a real single-node Slurm cluster on localhost (Debian, as root): munged, slurmctld and
# slurmd, one partition `debug` holding this machine. Works without systemd (containers, CI): the
# daemons are started directly. Idempotent: when `sinfo` already shows the node usable it does nothing;
# otherwise it installs what is missing, (re)writes the configuration and starts what is not running.
#
#   scripts/slurm-up.sh            # bring up, wait until the node is idle
#   scripts/slurm-up.sh --down     # stop the daemons this script started (by their pid files)
#
# Logs: /var/log/slurm/{slurmctld,slurmd}.log, /var/log/munge/munged.log.
set -euo pipefail

conf_dir=/etc/slurm
conf=$conf_dir/slurm.conf
ctld_pid=/run/slurmctld.pid
slurmd_pid=/run/slurmd.pid
munge_pid=/run/munge/munged.pid
wait_s=${SLURM_UP_WAIT_S:-60}

log() { echo "slurm-up: $*" >&2; }

running() { # pid file → is that process alive?
  [[ -s $1 ]] && kill -0 "$(cat "$1")" 2>/dev/null
}

if [[ ${1:-} == --down ]]; then
  for pid_file in "$slurmd_pid" "$ctld_pid" "$munge_pid"; do
    if running "$pid_file"; then
      kill "$(cat "$pid_file")" && log "stopped $(basename "$pid_file" .pid)"
    fi
  done
  exit 0
fi

node_state() {
  timeout 10 sinfo --noheader --nodes=localhost --format=%T 2>/dev/null | head -n1 | tr -d '*~#!%$@^-'
}

if [[ $EUID -ne 0 ]]; then
  log "must run as root (it installs packages and starts daemons)"
  exit 2
fi

if command -v sinfo >/dev/null && [[ $(node_state) =~ ^(idle|mixed|allocated|completing)$ ]]; then
  log "already up: node localhost is $(node_state)"
  exit 0
fi

# 1. Packages (slurm-wlm = slurmctld + slurmd + slurm-client; munge authenticates them).
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v munged >/dev/null; then
  log "installing slurm-wlm and munge"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # The packages' service start fails harmlessly without systemd; we start the daemons below.
  apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null
fi

# 2. Munge: a key and its run/log directories, owned by the munge user.
install -d -o munge -g munge -m 0700 /etc/munge /var/lib/munge /var/log/munge
install -d -o munge -g munge -m 0755 /run/munge
if [[ ! -s /etc/munge/munge.key ]]; then
  log "creating /etc/munge/munge.key"
  dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
fi
chown munge:munge /etc/munge/munge.key
chmod 0400 /etc/munge/munge.key
if ! running "$munge_pid"; then
  log "starting munged"
  runuser -u munge -- /usr/sbin/munged --pid-file="$munge_pid"
fi
for _ in $(seq 20); do
  munge -n </dev/null | unmunge >/dev/null 2>&1 && break
  sleep 0.5
done
munge -n </dev/null | unmunge >/dev/null

# 3. slurm.conf: one node (this machine, all its CPUs, 90% of its memory), one partition, no cgroups
# (they are often unavailable in containers) and no accounting daemon.
cpus=$(nproc)
mem_mb=$(awk '/^MemTotal:/ { printf "%d", $2 / 1024 * 0.9 }' /proc/meminfo)
install -d -m 0755 "$conf_dir" /var/log/slurm
install -d -m 0755 /var/spool/slurmctld /var/spool/slurmd
new_conf=$(
  cat <<EOF
# Written by lpipe scripts/slurm-up.sh: a single-node cluster on localhost.
ClusterName=lpipe
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=$ctld_pid
SlurmdPidFile=$slurmd_pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
MinJobAge=300
KillWait=10
Waittime=0
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
)
changed=0
if [[ ! -f $conf ]] || [[ $(cat "$conf") != "$new_conf" ]]; then
  log "writing $conf (CPUs=$cpus RealMemory=${mem_mb}MB)"
  printf '%s\n' "$new_conf" >"$conf"
  changed=1
fi

# 4. Daemons. A changed configuration restarts the ones this script started before.
if ((changed)); then
  for pid_file in "$slurmd_pid" "$ctld_pid"; do
    if running "$pid_file"; then
      kill "$(cat "$pid_file")"
      for _ in $(seq 20); do running "$pid_file" || break; sleep 0.5; done
    fi
  done
fi
if ! running "$ctld_pid"; then
  log "starting slurmctld"
  slurmctld
fi
if ! running "$slurmd_pid"; then
  log "starting slurmd"
  slurmd -N localhost
fi

# 5. Wait until the node takes jobs; a node left DOWN/DRAIN by an earlier failure is resumed.
for ((i = 0; i < wait_s; i++)); do
  state=$(node_state || true)
  case $state in
    idle | mixed | allocated | completing)
      log "up: node localhost is $state ($cpus CPUs, partition debug)"
      exit 0
      ;;
    down | drained | draining | drain)
      scontrol update nodename=localhost state=resume >/dev/null 2>&1 || true
      ;;
  esac
  sleep 1
done
log "node localhost did not become idle within ${wait_s}s (last state: ${state:-none}); see /var/log/slurm/"
tail -n 20 /var/log/slurm/slurmctld.log /var/log/slurm/slurmd.log >&2 || true
exit 1
