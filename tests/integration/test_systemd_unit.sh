#!/usr/bin/env bash
# daemon/polynetd.service is a unit systemd accepts, and says what the docs say:
#  - systemd-analyze verify reports nothing at all (it only warns, exit 0, on
#    an unknown key or a bad value: any output fails the test), with ExecStart
#    pointed at this build's polynetd (verify checks the binary exists);
#  - Type=notify, the socket under /run/polynet with RuntimeDirectory=polynet,
#    LimitMEMLOCK=infinity, NoNewPrivileges and ProtectSystem=strict, and none
#    of the settings that would break the daemon (the unit's comment says why).
set -u
cd "$(dirname "$0")/../.."
UNIT=daemon/polynetd.service
B=${POLYNET_BUILD:-build}
fail() { echo "FAIL: $*"; exit 1; }
[ -f "$UNIT" ] || fail "$UNIT missing"
T=$(mktemp -d /tmp/pn-unit.XXXXXX)
trap 'rm -rf "$T"' EXIT

key() { grep -qx "$1" "$UNIT" || fail "$UNIT: no line '$1'"; }
key "Type=notify"
key "NotifyAccess=main"
key "RuntimeDirectory=polynet"
key "LimitMEMLOCK=infinity"
key "NoNewPrivileges=yes"
key "ProtectSystem=strict"
key "KillSignal=SIGTERM"
grep -q '^ExecStart=/usr/local/bin/polynetd --socket /run/polynet/polynetd.sock' "$UNIT" ||
	fail "ExecStart does not put the socket under /run/polynet"
for bad in PrivateDevices=yes PrivateIPC=yes RemoveIPC=yes DynamicUser=yes MemoryDenyWriteExecute=yes; do
	grep -qx "$bad" "$UNIT" && fail "$UNIT sets $bad, which breaks the daemon (see its comment)"
done
echo "ok: the unit's settings"

command -v systemd-analyze >/dev/null || { echo "skip: no systemd-analyze (package systemd)"; exit 77; }
[ -x "$B/rel/polynetd" ] || { echo "skip: $B/rel/polynetd not built (make build)"; exit 77; }
sed "s|/usr/local/bin/polynetd|$(realpath "$B/rel/polynetd")|" "$UNIT" >"$T/polynetd.service"
systemd-analyze verify "$T/polynetd.service" >"$T/out" 2>&1; rc=$?
[ $rc -eq 0 ] && [ ! -s "$T/out" ] || fail "systemd-analyze verify: exit $rc: $(cat "$T/out")"
echo "ok: systemd-analyze verify $UNIT: no complaint"
# the test can fail: a misspelt key is reported
sed 's/^ProtectSystem=/ProtectSystm=/' "$T/polynetd.service" >"$T/bad.service"
systemd-analyze verify "$T/bad.service" 2>&1 | grep -q "Unknown key 'ProtectSystm'" ||
	fail "systemd-analyze verify does not report a misspelt key here"
echo "unit: ok"
