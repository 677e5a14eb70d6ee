"""Tutorial text: every heading and explanation of ``netwrap tutorial``, in English and Japanese.

Keys are ``sec.NAME.title``/``.why`` for the walkthrough's sections,
``step.NAME.title``/``.why`` for each step and ``ui.NAME`` for the rest. Both
languages have exactly the same keys and the same ``{placeholders}``; the
Japanese follows the wording of the original article (ホストLinux, netnsに潜り込む,
片割れ, 突っ込む)::

    >>> say("ja", "step.bridge_create.title", br="br0")
    'ブリッジ「br0」を作成する'
"""

from __future__ import annotations

LANGS = ("en", "ja")

TEXT: dict[str, dict[str, str]] = {
    "en": {
        "ui.title": "netwrap tutorial: Docker's networking and netns, by hand",
        "ui.mode_lab": "The host Linux is played by the lab netns {lab}; the container by "
        "the sandbox {box}. Nothing of this machine's own network is touched.",
        "ui.this_machine": "this machine",
        "ui.mode_target": "Container: {target} (PID {pid}). The host side is {host}: the "
        "tutorial changes it, and undoes every change at the end.",
        "ui.script": "A dry run: the lesson as a script. Nothing was run; $PID stands for the "
        "container's first process, which exists only once it runs.",
        "ui.script_target": "A dry run: the lesson as a script. Nothing was run or changed.",
        "ui.standin": "198.51.100.0/24 stands in for the walkthrough's {blog_net}: a range "
        "set aside for documentation, so it cannot clash with a real network.",
        "ui.shim": "The parent is containerd-shim-runc-v2, which runs the container with ID "
        "{shim_id}: today's answer to the walkthrough's ps -ef | grep \"docker "
        "-[d]\" (dockerd no longer is the container's parent).",
        "ui.prompt": "[Enter] run it   [q Enter] stop and clean up > ",
        "ui.changed": "What changed:",
        "ui.diagram_start": "The picture so far: a veth pair is a crossover cable, one end on "
        "the bridge, the other inside the container.",
        "ui.diagram_end": "The goal reached. The bridge {br} floats: connect it to a physical "
        "NIC and the container is directly on the outside network.",
        "ui.not_on_host": "{guest_if} is gone from the host:",
        "ui.ping_ok": "Splendid.",
        "ui.stopping": "Stopping: cleaning up everything the tutorial made.",
        "ui.done": "Done: nothing the tutorial made is left.",
        "ui.pipework": "By the way: a shell script, pipework, already does all of the above. "
        "netwrap nic add is the Python version of that idea, explained and "
        "reversible.",
        "col.name": "name",
        "col.pid": "pid",
        "col.inode": "inode",
        "col.state": "state",
        "col.link_state": "state",
        "col.mtu": "mtu",
        "col.mac_addr": "mac_addr",
        "col.ipv4": "ipv4",
        "col.ipv4_addr": "ipv4_addr",
        "col.ipv4_mask": "ipv4_mask",
        "col.ipv6_addr": "ipv6_addr",
        "col.rx_packets": "rx_packets",
        "col.tx_packets": "tx_packets",
        "col.bridge_name": "bridge_name",
        "col.bridge_id": "bridge_id",
        "col.stp_enabled": "stp_enabled",
        "col.interfaces": "interfaces",
        "col.destination": "destination",
        "col.gateway": "gateway",
        "col.genmask": "genmask",
        "col.flags": "flags",
        "col.metric": "metric",
        "col.iface": "iface",
        "col.ppid": "ppid",
        "col.args": "args",
        "col.link": "link",
        "col.points_to": "points_to",
        "col.transmitted": "transmitted",
        "col.received": "received",
        "col.object": "object",
        "val.up": "up",
        "val.down": "down",
        "val.no_carrier": "up, no carrier",
        "val.gone": "gone",
        "val.left": "left",
        "val.named": "named",
        "val.sandbox": "sandbox {box} (PID {pid})",
        "val.netns": "netns {lab}",
        "val.bridge": "bridge {br}",
        "ui.none": "(none)",
        "ui.where_host": "host",
        "ui.where_container": "container",
        "sec.lab.title": "0. A lab namespace plays the host",
        "sec.lab.why": "Everything below happens inside the network namespace {lab}, so this "
        "machine's own interfaces and routes are never touched.",
        "sec.docker.title": "1. What Docker sets up",
        "sec.docker.why": "Docker makes a bridge, docker0, for its containers. For each "
        "container it creates a veth pair, puts one end into the "
        "container's netns as eth0, and sets its address and default "
        "route from the host.",
        "sec.pid.title": "2. Find the container's PID on the host",
        "sec.pid.why": "The walkthrough looks for the container's bash among the Docker "
        'daemon\'s children (ps -ef | grep "docker -[d]"). Here the '
        "container's first process is PID {pid}.",
        "sec.expose.title": "3. Slip into the container's netns",
        "sec.expose.why": "A container separates each resource with its own namespace: the "
        "network (netns), the file system (mntns), the process table "
        "(pidns). Entering only its netns from the host shows the "
        "container's network while files and processes stay the host's.",
        "sec.nic.title": "4. Add a NIC to the running container",
        "sec.nic.why": "The same trick, by hand: a bridge {br}, a veth pair, one end pushed "
        "into the running container as {ifname} with {ip}, and the default "
        "route moved to {gw}. Section 1 ran exactly these commands for "
        "docker0 and eth0 in one go; here they come one at a time.",
        "sec.cleanup.title": "5. Clean up",
        "sec.cleanup.why": "When a container stops the kernel removes its veth pairs, but a "
        "symlink in /var/run/netns stays and dangles: it must be removed "
        "by hand. The tutorial undoes everything it did, newest first.",
        "step.lab_add.title": "Create the lab namespace",
        "step.lab_add.why": "ip netns add makes an empty network namespace; in this tutorial "
        "it plays the host Linux.",
        "step.lab_lo.title": "Bring up its loopback",
        "step.lab_lo.why": "A fresh namespace has only lo, and lo is down.",
        "step.docker.title": "Play Docker: start the sandbox {box} and the bridge docker0",
        "step.docker.why": "The sandbox is a process in new namespaces: a container without an "
        "image. docker0 gets {docker_gw} ({docker_net} stands in for "
        "Docker's 172.17.0.0/16).",
        "step.docker_eth0.title": "Play Docker: give the container eth0 on docker0",
        "step.docker_eth0.why": "What Docker does for each container: a veth pair, one end on "
        "docker0, the other pushed into the container as eth0 "
        "({docker_ip}), default route via {docker_gw_ip}.",
        "step.docker_look.title": "Look at what Docker set up",
        "step.docker_look.why": "The host's bridges, and the routes inside the container "
        "(eth0, default route via the bridge).",
        "step.ps.title": "Look at the process",
        "step.ps.why": "Seen from the host, the container is just a process.",
        "step.ns_ls.title": "The process's netns link",
        "step.ns_ls.why": "/proc/{pid}/ns/net is a link to the network namespace PID {pid} "
        "belongs to.",
        "step.mkdir.title": "Make /var/run/netns",
        "step.mkdir.why": "ip netns looks for names in /var/run/netns.",
        "step.ln.title": 'Name the netns "{ns}"',
        "step.ln.why": "A symlink in /var/run/netns makes the container's netns one that ip "
        "manages: ip netns exec {ns} works now.",
        "step.look_route.title": "Look inside: the routing table",
        "step.look_route.why": "ip netns exec runs the host's own route in the container's "
        "netns: the container's network is in plain view, even if its "
        "image has no route command.",
        "step.look_ifconfig.title": "Look inside: {dev0}",
        "step.look_ifconfig.why": '"Isn\'t this DHCP?" No: no DHCP client runs in the '
        "container. The address was set from the host, inside "
        "this netns.",
        "step.bridge_create.title": "Create the bridge {br}",
        "step.bridge_create.why": "A virtual switch on the host. No physical NIC is plugged "
        "into it.",
        "step.bridge_up.title": "Bring {br} up",
        "step.bridge_up.why": "A new link starts down.",
        "step.bridge_addr.title": "Give {br} the address {br_ip}",
        "step.bridge_addr.why": "The host's side of the new network, and later the "
        "container's default gateway.",
        "step.veth_add.title": "Create the veth pair [{host_if}]----[{guest_if}]",
        "step.veth_add.why": "veth (Virtual Ethernet) is a pair of virtual NICs joined by a "
        "crossover cable. {host_if} stays on the host, {guest_if} goes "
        "into the container.",
        "step.host_mtu.title": "Set the host end's MTU",
        "step.host_mtu.why": "Both ends of a veth should match the bridge's MTU, or large "
        "packets are lost silently (on an overlay network the bridge "
        "often has 1450).",
        "step.mac.title": "Give {ifname} its MAC address",
        "step.mac.why": "Set before the interface is up, as a real NIC comes with its own.",
        "step.mtu.title": "Set {ifname}'s MTU",
        "step.mtu.why": "The same MTU as the host end and the bridge.",
        "step.veth_up.title": "Bring the host end {host_if} up",
        "step.veth_up.why": "The container's end is brought up later, once it is inside.",
        "step.addif.title": "Plug {host_if} into {br}",
        "step.addif.why": "The host end becomes a port of the bridge: brctl show lists it "
        "under {br}.",
        "step.move.title": "Push {guest_if} into the container's netns",
        "step.move.why": "From now on the host no longer sees {guest_if}; the container "
        "sees it instead.",
        "step.rename.title": "Rename it {ifname} inside the container",
        "step.rename.why": "The container's NIC is configured from the host too, with ip "
        "netns exec.",
        "step.addr.title": "Give {ifname} the address {ip}",
        "step.addr.why": "No DHCP: the host sets the address, inside the container's netns.",
        "step.link_up.title": "Bring {ifname} up",
        "step.link_up.why": "Now the container has a second working NIC.",
        "step.route_del.title": "Delete the old default route",
        "step.route_del.why": "The default route via {old_gw} on {dev0} goes; {ifname} is to "
        "be the default gateway's side.",
        "step.route_none.title": "No default route to delete",
        "step.route_none.why": "The container has no default route, so the walkthrough's "
        "ip route delete default is skipped.",
        "step.route_add.title": "Add the default route via {gw}",
        "step.route_add.why": "Done: route -n shows the default via {gw} on {ifname}, and "
        "the route to the {dev0} network is still there.",
        "step.ping.title": "Ping the container from the host",
        "step.ping.why": "The host should reach the container on its new address {ip_addr}.",
        "step.cleanup.title": "Undo every step",
        "step.cleanup.why": "These commands put everything back as it was before the tutorial.",
    },
    "ja": {
        "ui.title": "netwrapチュートリアル: Dockerのネットワーク管理とnetnsの関係",
        "ui.mode_lab": "ホストLinuxの役はラボnetns「{lab}」、コンテナの役はサンドボックス"
        "「{box}」です。このマシン自身のネットワークには一切手を触れません。",
        "ui.this_machine": "このマシン",
        "ui.mode_target": "コンテナ: {target}(PID {pid})。ホスト側は{host}です。"
        "チュートリアルはここに変更を加え、最後にすべて元に戻します。",
        "ui.script": "ドライラン: レッスンをスクリプトとして表示します。何も実行していません。"
        "$PIDはコンテナの最初のプロセスのPIDで、実行して初めて決まります。",
        "ui.script_target": "ドライラン: レッスンをスクリプトとして表示します。何も実行も変更も"
        "していません。",
        "ui.standin": "元記事の{blog_net}の代わりに198.51.100.0/24を使います。ドキュメント用に"
        "予約されたアドレス範囲なので、実在のネットワークとぶつかりません。",
        "ui.shim": "親プロセスはcontainerd-shim-runc-v2で、ID {shim_id}のコンテナを動かして"
        'います。元記事のps -ef | grep "docker -[d]"の、今の答えです(今の'
        "dockerdはコンテナの親プロセスではありません)。",
        "ui.prompt": "[Enter] 実行   [q Enter] 中止して後片付け > ",
        "ui.changed": "何が変わったか:",
        "ui.diagram_start": "ポンチ絵にするとこんな状態です。vethはクロスケーブルで直結された"
        "仮想NICのペアで、片割れがブリッジに、もう片方がコンテナの中に"
        "あります。",
        "ui.diagram_end": "目標達成です。ブリッジ「{br}」が宙に浮いていますが、これを物理NICに"
        "接続すれば、コンテナと外部ネットワークを直結することが可能になり"
        "ます。",
        "ui.not_on_host": "{guest_if}はホストからは見えなくなりました:",
        "ui.ping_ok": "すばらしい。。。。。",
        "ui.stopping": "中止します。チュートリアルで作ったものをすべて片付けます。",
        "ui.done": "完了: チュートリアルで作ったものは何も残っていません。",
        "ui.pipework": "で。。。。実は、上記の作業を全部やってくれるシェルスクリプト"
        "(pipework)がすでに公開されています。netwrap nic addはそのPython版"
        "で、説明付きで、元に戻すこともできます。",
        "col.name": "名前",
        "col.pid": "PID",
        "col.inode": "inode番号",
        "col.state": "状態",
        "col.link_state": "状態",
        "col.mtu": "MTU",
        "col.mac_addr": "MACアドレス",
        "col.ipv4": "IPv4",
        "col.ipv4_addr": "IPv4アドレス",
        "col.ipv4_mask": "ネットマスク",
        "col.ipv6_addr": "IPv6アドレス",
        "col.rx_packets": "受信パケット",
        "col.tx_packets": "送信パケット",
        "col.bridge_name": "ブリッジ名",
        "col.bridge_id": "ブリッジID",
        "col.stp_enabled": "STP",
        "col.interfaces": "インターフェース",
        "col.destination": "宛先",
        "col.gateway": "ゲートウェイ",
        "col.genmask": "ネットマスク",
        "col.flags": "フラグ",
        "col.metric": "メトリック",
        "col.iface": "インターフェース",
        "col.ppid": "親PID",
        "col.args": "コマンド",
        "col.link": "リンク",
        "col.points_to": "リンク先",
        "col.transmitted": "送信",
        "col.received": "受信",
        "col.object": "対象",
        "val.up": "起動",
        "val.down": "停止",
        "val.no_carrier": "起動(リンクなし)",
        "val.gone": "削除済み",
        "val.left": "残っている",
        "val.named": "名前付き",
        "val.sandbox": "サンドボックス{box}(PID {pid})",
        "val.netns": "ラボのnetns {lab}",
        "val.bridge": "ブリッジ{br}",
        "ui.none": "(なし)",
        "ui.where_host": "ホスト",
        "ui.where_container": "コンテナ",
        "sec.lab.title": "0. ホストLinux役のラボnetnsを用意する",
        "sec.lab.why": "以下の作業はすべてnetns「{lab}」の中で行います。このマシン自身の"
        "NICやルーティングテーブルには一切手を触れません。",
        "sec.docker.title": "1. まずは普通の説明: Dockerが用意するもの",
        "sec.docker.why": "dockerサービスを起動すると、コンテナ接続用の仮想ブリッジ「docker0」"
        "が用意されます。コンテナを作るタイミングで、ホストLinux側でvethペア"
        "を作成し、その片割れをコンテナのnetnsに突っ込んでeth0として見える"
        "ようにし、IPアドレスとデフォルトゲートウェイを設定します。",
        "sec.pid.title": "2. コンテナのPIDを調べる",
        "sec.pid.why": "コンテナ内で起動しているbashの、ホストLinux上でのPIDを調べます。元記事"
        "ではdockerデーモンの子プロセスのbashを探しました"
        '(ps -ef | grep "docker -[d]")。ここではコンテナの最初のプロセスは'
        "PID {pid}です。",
        "sec.expose.title": "3. コンテナのnetnsに潜り込む",
        "sec.expose.why": "コンテナは「ネットワーク環境の分離=netns」「ファイルシステムの分離="
        "mntns」「プロセステーブルの分離=pidns」のように、リソースごとに別々の"
        "ネームスペースで分離しています。ホストLinuxからnetnsだけに潜り込む"
        "と、ファイルシステムやプロセステーブルはホストのままで、ネットワーク"
        "だけコンテナの中が見える、という面白い状態になります。",
        "sec.nic.title": "4. コンテナにNICを追加する",
        "sec.nic.why": "前述の手法を応用すると、起動中のコンテナに後からNICを追加できてしまう"
        "気もします。論より証拠で、実際にやってみましょう。ブリッジ「{br}」と"
        "vethペアを作り、片割れを{ifname}としてコンテナに突っ込んで{ip}を設定"
        "し、デフォルトゲートウェイを{gw}に変更します。1章でdocker0とeth0に"
        "まとめて実行したのとまったく同じコマンドを、ここでは1つずつ実行します。",
        "sec.cleanup.title": "5. 後片付け",
        "sec.cleanup.why": "コンテナを停止すると、後から追加したvethペアもカーネルが消してくれ"
        "ますが、/var/run/netns以下のシンボリックリンクが残るので、これは手"
        "で削除する必要があります。チュートリアルで行った操作は、新しいもの"
        "から順にすべて元に戻します。",
        "step.lab_add.title": "ラボ用のnetnsを作る",
        "step.lab_add.why": "ip netns addで空っぽのネットワークネームスペースを作ります。この"
        "チュートリアルではこれがホストLinuxの役をします。",
        "step.lab_lo.title": "ループバックを起動する",
        "step.lab_lo.why": "作りたてのnetnsにはloしかなく、しかもDOWNの状態です。",
        "step.docker.title": "Dockerの代役: サンドボックス「{box}」とブリッジdocker0を用意する",
        "step.docker.why": "サンドボックスは新しいネームスペースで動くプロセス、いわばイメージの"
        "ないコンテナです。docker0には{docker_gw}を設定します"
        "({docker_net}がDockerの172.17.0.0/16の代わりです)。",
        "step.docker_eth0.title": "Dockerの代役: コンテナにdocker0につながるeth0を用意する",
        "step.docker_eth0.why": "Dockerがコンテナごとに行う操作です。vethペアを作り、片割れを"
        "docker0に接続し、もう片方をeth0({docker_ip})としてコンテナに"
        "突っ込みます。デフォルトゲートウェイは{docker_gw_ip}です。",
        "step.docker_look.title": "Dockerが設定した内容を見る",
        "step.docker_look.why": "ホストLinuxのブリッジと、コンテナ内のルーティングテーブル"
        "(eth0、ブリッジ経由のデフォルトルート)です。",
        "step.ps.title": "プロセスを確認する",
        "step.ps.why": "ホストLinuxから見れば、コンテナはただのプロセスです。",
        "step.ns_ls.title": "netnsへのリンクを見る",
        "step.ns_ls.why": "/proc/{pid}/ns/netが、PID {pid}のプロセスが属するnetnsを操作する"
        "FDへのリンクです。",
        "step.mkdir.title": "/var/run/netnsを用意する",
        "step.mkdir.why": "ip netnsは/var/run/netns以下の名前を見ます。",
        "step.ln.title": "netnsに「{ns}」という名前を付ける",
        "step.ln.why": "/var/run/netns/以下からシンボリックリンクを張ると、ipコマンド管理下の"
        "netnsとして認識されます。これでip netns exec {ns}が使えます。",
        "step.look_route.title": "中を覗く: ルーティングテーブル",
        "step.look_route.why": "ip netns execで、ホストLinuxのrouteコマンドをコンテナのnetns"
        "で実行します。イメージにrouteコマンドがなくても、コンテナ内の"
        "ネットワーク環境が丸見えです。",
        "step.look_ifconfig.title": "中を覗く: {dev0}",
        "step.look_ifconfig.why": "「DHCPじゃないの?」と思ったあなた、残念。コンテナの中に"
        "DHCPクライアントはありません。このアドレスは、ホスト側から"
        "このnetnsに入り込んで設定されたものです。",
        "step.bridge_create.title": "ブリッジ「{br}」を作成する",
        "step.bridge_create.why": "ホスト上の仮想スイッチです。物理NICとは接続していません。",
        "step.bridge_up.title": "{br}を起動する",
        "step.bridge_up.why": "作ったばかりのリンクはDOWNの状態です。",
        "step.bridge_addr.title": "{br}に{br_ip}を設定する",
        "step.bridge_addr.why": "新しいネットワークのホスト側のアドレスで、後でコンテナの"
        "デフォルトゲートウェイになります。",
        "step.veth_add.title": "vethペア[{host_if}]----[{guest_if}]を作成する",
        "step.veth_add.why": "veth(Virtual Ethernet)は、クロスケーブルで直結された仮想NICの"
        "ペアを作るLinuxの機能です。ホスト側が{host_if}、ゲスト側が"
        "{guest_if}です。",
        "step.host_mtu.title": "ホスト側のMTUを設定する",
        "step.host_mtu.why": "vethの両端はブリッジのMTUに合わせます。合わないと大きなパケットが"
        "黙って捨てられます(オーバーレイではブリッジが1450のことが多い)。",
        "step.mac.title": "{ifname}にMACアドレスを設定する",
        "step.mac.why": "本物のNICと同じく、起動する前に設定します。",
        "step.mtu.title": "{ifname}のMTUを設定する",
        "step.mtu.why": "ホスト側とブリッジと同じMTUにします。",
        "step.veth_up.title": "ホスト側の{host_if}を起動する",
        "step.veth_up.why": "ゲスト側は、コンテナに突っ込んでから起動します。",
        "step.addif.title": "{host_if}を{br}に接続する",
        "step.addif.why": "ホスト側のvethがブリッジのポートになります。brctl showで{br}の下に"
        "見えるはずです。",
        "step.move.title": "{guest_if}をコンテナのnetnsに突っ込む",
        "step.move.why": "この時点で{guest_if}はホストからは見えなくなり、逆にコンテナ側で見える"
        "ようになります。",
        "step.rename.title": "コンテナ内でのデバイス名を「{ifname}」に変更する",
        "step.rename.why": "コンテナ内のNICの設定も、先ほどの「ip netns exec」を駆使してホスト側"
        "で行います。",
        "step.addr.title": "{ifname}に{ip}を設定する",
        "step.addr.why": "DHCPではありません。ホスト側からコンテナのnetnsに入り込んで設定します。",
        "step.link_up.title": "{ifname}を起動する",
        "step.link_up.why": "これでコンテナに2つめのNICが使える状態になります。",
        "step.route_del.title": "古いデフォルトルートを削除する",
        "step.route_del.why": "{dev0}経由({old_gw})のデフォルトルートを削除します。ルーティング"
        "テーブルを変更して、{ifname}側をデフォルトゲートウェイにします。",
        "step.route_none.title": "削除するデフォルトルートはありません",
        "step.route_none.why": "コンテナにデフォルトルートがないので、元記事のip route delete "
        "defaultは飛ばします。",
        "step.route_add.title": "{gw}経由のデフォルトルートを追加する",
        "step.route_add.why": "これで完成です。route -nを見ると、デフォルトゲートウェイが"
        "{ifname}側の{gw}になり、{dev0}側のネットワークへのルートは"
        "そのまま残っています。",
        "step.ping.title": "ホストからpingする",
        "step.ping.why": "ホストから新しいアドレス{ip_addr}にpingが通るはずです。",
        "step.cleanup.title": "すべての操作を元に戻す",
        "step.cleanup.why": "次のコマンドで、チュートリアルを始める前の状態に戻します。",
    },
}


def say(lang: str, key: str, **values: object) -> str:
    """The text for KEY in LANG, with ``{placeholders}`` filled from VALUES."""
    return TEXT[lang][key].format(**values)
