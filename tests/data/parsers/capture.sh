#!/bin/sh
# Re-capture the "local-*" golden inputs from a scratch network namespace.
# Run as root from the repo root: sh tests/data/parsers/capture.sh
# Everything is built inside nwp-<random>; the host's interfaces are not touched.
# /etc/netns/<ns>/ (hosts, networks, resolv.conf) gives `route` names to resolve;
# it is removed with the namespace on exit.
set -eu
out=tests/data/parsers
ns="nwp-$(head -c4 /dev/urandom | od -An -tx1 | tr -d ' \n')"
cleanup() {
  ip netns del "$ns" 2>/dev/null || true
  rm -rf "/etc/netns/$ns"
  rmdir /etc/netns 2>/dev/null || true  # only if now empty
}
trap cleanup EXIT INT TERM
ip netns add "$ns"
mkdir -p "/etc/netns/$ns"
printf '192.168.200.254 gw.lab.example\n10.30.0.7 webhost\n' >"/etc/netns/$ns/hosts"
printf 'labnet 10.20.0.0\nbrnet 192.168.200.0\n' >"/etc/netns/$ns/networks"
: >"/etc/netns/$ns/resolv.conf"
n() { ip -n "$ns" "$@"; }
x() { ip netns exec "$ns" "$@"; }

n link set lo up
# bridge with two IPv4 networks, an alias label (br0:1) and two IPv6 addresses
n link add br0 type bridge
n link set br0 address 02:00:00:00:0b:01 mtu 1400
n addr add 192.168.200.1/24 dev br0
n addr add 192.168.201.1/25 broadcast 192.168.201.127 dev br0 label br0:1
n addr add fd00:200::1/64 dev br0 nodad
n addr add fd00:201::1/80 dev br0 nodad
# veth pair, host end enslaved to br0
n link add veth-host type veth peer name veth-guest
n link set veth-host address 02:00:00:00:0a:01 mtu 1400 master br0
n link set veth-guest address 02:00:00:00:0a:02 mtu 1400
n addr add 192.168.200.101/24 dev veth-guest
# jumbo veth pair with three IPv4 addresses (one /32) and a global IPv6
n link add vj.0 type veth peer name 'vj@peer'
n link set vj.0 address 02:00:00:00:0c:01 mtu 9000
n link set 'vj@peer' address 02:00:00:00:0c:02 mtu 9000
n addr add 10.0.0.2/8 dev vj.0
n addr add 10.1.2.3/16 dev vj.0
n addr add 172.16.5.5/32 dev vj.0
n addr add 2001:db8::5/64 dev vj.0 nodad
# a pair that stays down with no address
n link add down-a type veth peer name down-b
n link set down-a mtu 1280
for l in br0 veth-host veth-guest vj.0 'vj@peer'; do n link set "$l" up; done
n route add default via 192.168.200.254 dev br0
n route add 10.20.0.0/16 via 10.0.0.1 dev vj.0 metric 100
n route add 10.30.0.7/32 via 10.0.0.1 dev vj.0
n route add unreachable 10.99.0.0/16
sleep 1

x ifconfig -a >"$out/local-ifconfig-a.out"
x busybox ifconfig -a >"$out/local-busybox-ifconfig-a.out"
x route -n >"$out/local-route-n.out"
x route >"$out/local-route.out"
x brctl show >"$out/local-brctl-show.out"
n route >"$out/local-ip-route.txt"
n -j route >"$out/local-ip-route.json"
n -j addr >"$out/local-ip-addr.json"
# ip's own text (what people paste today) and its JSON, for the ip-addr / ip-route parsers
n addr >"$out/local-ip-addr.txt"
n -s -s addr >"$out/local-ip-s-s-addr.txt"
n -j -s -s addr >"$out/local-ip-s-s-addr.json"
n route show table all >"$out/local-ip-route-table-all.txt"
