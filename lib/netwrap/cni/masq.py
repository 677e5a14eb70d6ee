"""ipMasq: the reference plugins' NAT rules for one container, added and removed whole.

The same chain, rules and comment as containernetworking/plugins ``ip.SetupIPMasq``
(a chain per network and container, named ``CNI-`` and a hash), fed to
``iptables-restore --noflush`` in one process, one transaction:

    iptables-restore -w --noflush <<'EOF'
    *nat
    :CNI-2f6920ff58e98dcee6657a12 - [0:0]
    -A CNI-2f6920ff58e98dcee6657a12 -d 198.51.100.0/24 -j ACCEPT -m comment --comment ...
    -A CNI-2f6920ff58e98dcee6657a12 ! -d 224.0.0.0/4 -j MASQUERADE -m comment --comment ...
    -A POSTROUTING -s 198.51.100.2/32 -j CNI-2f6920ff58e98dcee6657a12 -m comment --comment ...
    COMMIT
    EOF

Removal reads the table (``iptables -t nat -S``) and deletes what carries the
container's chain, so DEL needs no record and is safe to repeat.
"""

from __future__ import annotations


def chain(network: str, container_id: str) -> str:
    """``utils.FormatChainName``: CNI- and the SHA-512 of name+id, 28 characters."""
    import hashlib  # here: only ipMasq needs it

    return ("CNI-" + hashlib.sha512((network + container_id).encode()).hexdigest())[:28]


def comment(network: str, container_id: str) -> str:
    """``utils.FormatComment``: Go's %q of each, which for these names is JSON quoting."""
    return f'name: "{network}" id: "{container_id}"'


def quote(text: str) -> str:
    """Double quotes, as ``iptables -S`` prints them and ``iptables-restore`` reads them
    (it does not know single quotes)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _tool(version: int, restore: bool = False) -> str:
    return ("ip6tables" if version == 6 else "iptables") + ("-restore" if restore else "")


def restore_argv(version: int) -> tuple[str, ...]:
    return (_tool(version, True), "-w", "--noflush")


def setup_input(network: str, container_id: str, addresses) -> dict[int, str]:
    """The ``iptables-restore`` input per IP version for the container's ``addresses``
    (``ipaddress`` interfaces)."""
    name, note = chain(network, container_id), comment(network, container_id)
    tail = f"-m comment --comment {quote(note)}"
    out = {}
    for version in (4, 6):
        mine = [a for a in addresses if a.version == version]
        if not mine:
            continue
        multicast = "224.0.0.0/4" if version == 4 else "ff00::/8"
        lines = ["*nat", f":{name} - [0:0]"]
        for a in mine:
            lines.append(f"-A {name} -d {a.network} -j ACCEPT {tail}")
        lines.append(f"-A {name} ! -d {multicast} -j MASQUERADE {tail}")
        for a in mine:
            lines.append(f"-A POSTROUTING -s {a.ip}/{a.max_prefixlen} -j {name} {tail}")
        out[version] = "\n".join([*lines, "COMMIT"]) + "\n"
    return out


def teardown_input(saved: str, network: str, container_id: str) -> str | None:
    """From ``iptables -t nat -S``: the restore input that removes the container's chain
    and the rules jumping to it, or None when there is nothing of it."""
    name = chain(network, container_id)
    jumps = [
        line
        for line in saved.splitlines()
        if line.startswith("-A ")
        and f" -j {name} " in line + " "
        and not line.startswith(f"-A {name} ")
    ]
    exists = f"-N {name}" in saved.splitlines()
    if not jumps and not exists:
        return None
    lines = ["*nat", *("-D " + line[3:] for line in jumps)]
    if exists:
        lines += [f"-F {name}", f"-X {name}"]
    return "\n".join([*lines, "COMMIT"]) + "\n"


def undo_input(setup: str) -> str:
    """The restore input that takes ``setup_input``'s rules and chain away again."""
    lines = setup.splitlines()
    name = lines[1][1:].split()[0]
    deletes = ["-D " + line[3:] for line in lines if line.startswith("-A POSTROUTING ")]
    return "\n".join(["*nat", *deletes, f"-F {name}", f"-X {name}", "COMMIT"]) + "\n"


def list_argv(version: int) -> tuple[str, ...]:
    return (_tool(version), "-w", "-t", "nat", "-S")
