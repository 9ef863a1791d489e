#!/usr/bin/env bash
# Realtime is not a way around fairness. A second uid (nobody) floods REALTIME
# jobs while root runs interactive ones on one worker:
#  - a deadline of UINT64_MAX is refused (-EINVAL: not a deadline);
#  - the attacker's realtime work is bounded by its budget (rt=, per mille of
#    a worker): past it, -EDQUOT at once;
#  - the victim keeps being served throughout (it once got 1 job in 27 s).
# Throughput figures are bench/fairness.sh's; this checks behaviour only.
set -u
cd "$(dirname "$0")/../.."
. tests/integration/daemon_lib.sh
[ "$(id -u)" -eq 0 ] || { echo "skip: not root, the second uid needs runuser"; exit 77; }
chmod 755 "$T"
"$DC" mkmodel fixture "$T/fx.pnb" || fail "mkmodel"
chmod 644 "$T/fx.pnb"
printf '65534 attacker 1 rt=100\n' >"$T/map"
start_daemon --workers 1 --tenants "$T/map"
pctl load "$T/fx.pnb" --public >/dev/null || fail "load"

runuser -u nobody -- "$(nobody_bin "$DC")" rtflood "$SOCK" fixture 4 >"$T/att.out" 2>"$T/att.err" &
att=$!
CLIENT_PIDS=$att
sleep 0.5
"$DC" saturate "$SOCK" fixture 3 4 0 1 >"$T/vic.out" 2>"$T/vic.err" || fail "victim: $(cat "$T/vic.err")"
wait $att || fail "attacker: $(cat "$T/att.err")"
read -r _ einval _ ok _ edquot _ etime <"$T/att.out"
read -r _ vdone <"$T/vic.out"
echo "attacker: $(cat "$T/att.out"); victim: $vdone interactive jobs in 3 s"
[ "$einval" = 1 ] || fail "a realtime deadline of UINT64_MAX was accepted"
[ "$edquot" -gt 0 ] || fail "the attacker's realtime flood never met its budget"
[ "$vdone" -ge 100 ] || fail "the victim got $vdone jobs in 3 s under a realtime flood"
pctl stat --json | grep -q '"rt_permille":100' || fail "stat does not show the attacker's rt budget"
stop_daemon
echo "rtflood: ok"
