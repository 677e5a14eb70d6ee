"""Docker's records: IDs in cgroup lines, and a container's name read without json."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netwrap import docker_records

ID_A = "641b8c4cef17fd49e57ee81604232722a8a2d82c6956844fce134a8de6293bd4"
ID_B = "641bff00aa11223344556677889900aabbccddeeff00112233445566778899aa"

# The start of a real config.v2.json (Docker 20.10 here), cut down: compact, keys in
# the Go struct's order, a "Name" nested in MountPoints and one in a label.
REAL = (
    '{"StreamConfig":{},"State":{"Running":true,"Pid":15042,"Error":"","Health":null},'
    f'"ID":"{ID_A}","Path":"sleep","Args":["100000"],'
    '"Config":{"Hostname":"13a9f5d55e61","Env":["PATH=/bin"],"Cmd":["sleep","100000"],'
    '"Labels":{"Name":"/impostor","Name2":"/impostor2"}},'
    '"NetworkSettings":{"Ports":{}},"LogPath":"/var/lib/docker/x-json.log",'
    '"Name":"/web","Driver":"overlay2",'
    '"MountPoints":{"/data":{"Source":"/v","Name":"vol","Driver":"local"}}}'
)


def write(root, cid, text, fname="config.v2.json"):
    d = root / "containers" / cid
    d.mkdir(parents=True, exist_ok=True)
    (d / fname).write_text(text)


@pytest.mark.parametrize(
    "text,expected",
    [
        ("0::/docker/" + ID_A + "\n", ID_A),
        ("0::/system.slice/docker-" + ID_A + ".scope\n", ID_A),
        ("0::/user.slice/" + "a" * 63 + "\n", None),
        ("0::/x/" + ID_B + "f\n", ID_B),
    ],
)
def test_the_first_64_hex_id_in_a_cgroup_line(text, expected):
    assert docker_records.first_id64(text) == expected


def test_the_top_level_name_not_a_label_or_a_mount(tmp_path):
    assert json.loads(REAL)["Name"] == "/web"
    assert docker_records._top_level_name(REAL.encode()) == "web"
    write(tmp_path, ID_A, REAL)
    assert docker_records.name(ID_A, None, str(tmp_path)) == "web"
    assert docker_records.name(ID_A, "web", str(tmp_path)) == "web"
    assert docker_records.name(ID_A, "impostor", str(tmp_path)) == "web"  # held, but not named
    assert docker_records.name(ID_A, "api", str(tmp_path)) is None  # not held: not read on
    assert docker_records.name(ID_B, "web", str(tmp_path)) is None  # no record


def test_a_backslash_anywhere_is_left_to_json(tmp_path):
    text = REAL.replace('"Name2"', '"x\\"Name"')
    assert json.loads(text)["Config"]["Labels"]['x"Name'] == "/impostor2"
    assert docker_records._top_level_name(text.encode()) is docker_records._UNSURE
    write(tmp_path, ID_A, text)
    assert docker_records.name(ID_A, "web", str(tmp_path)) == "web"


def test_a_record_as_json_dumps_writes_it_and_the_2014_file(tmp_path):
    write(tmp_path, ID_A, json.dumps({"ID": ID_A, "Name": "/web"}, indent=2))
    write(tmp_path, ID_B, json.dumps({"ID": ID_B, "Name": "/old"}), fname="config.json")
    assert docker_records.name(ID_A, "web", str(tmp_path)) == "web"
    assert docker_records.name(ID_B, "old", str(tmp_path)) == "old"


@pytest.mark.parametrize(
    "text",
    [
        '{"Name":"/w\\u0065b"}',  # an escape: json decides
        '{"Name":"/web","Name":"/api"}',  # twice: json takes the last
        '{"Name":null}',
        '{"Config":{"Name":"/web"}',  # never closed: json says it is no JSON
        '{"Name":"/"}',
        "[]",
    ],
)
def test_unusual_records_are_read_as_json_reads_them(tmp_path, text):
    write(tmp_path, ID_A, text)
    try:
        expected = docker_records.name_of(json.loads(text)) if text != "[]" else None
    except ValueError:
        expected = None
    assert docker_records.name(ID_A, None, str(tmp_path)) == expected


def test_a_text_json_would_escape_is_not_looked_for_as_written(tmp_path):
    write(tmp_path, ID_A, json.dumps({"Name": '/we"b<'}))
    assert docker_records.name(ID_A, 'we"b<', str(tmp_path)) == 'we"b<'


names = st.one_of(
    st.text(alphabet="abN09_.-/{}[]:, ", max_size=8),  # brackets and colons in strings
    st.text(alphabet='abcXYZ09_.-/\\"{}[]:,é', max_size=8),  # escapes: left to json
)
leaves = st.one_of(st.none(), st.booleans(), st.integers(), names)
values = st.recursive(
    leaves,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(["Name", "x", 'a"Name', "ID"]), inner, max_size=3),
    ),
    max_leaves=10,
)
records = st.dictionaries(st.sampled_from(["ID", "Config", "Name", "Mounts", "Labels"]), values)


@settings(max_examples=300, deadline=None)
@given(records, st.sampled_from([None, 0, 2]))
def test_the_scan_agrees_with_json_on_any_record(record, indent):
    text = json.dumps(record, indent=indent, separators=None if indent else (",", ":"))
    expected = docker_records.name_of(record)
    found = docker_records._top_level_name(text.encode())
    assert found is docker_records._UNSURE or found == expected
    if "\\" not in text and isinstance(record.get("Name"), str):
        assert found is not docker_records._UNSURE  # plain records need no json


@pytest.mark.parametrize("cid", ["", ".", "..", "../../etc", "/tmp/x", "a/b"])
def test_an_id_that_is_a_path_reads_nothing_outside_the_containers_directory(tmp_path, cid):
    """A shim's -id is the shim's say: only an ID's own directory is read."""
    write(tmp_path / "root", "x", REAL)  # root/containers/x
    outside = tmp_path / "tmp" / "x"
    outside.mkdir(parents=True)
    (outside / "config.v2.json").write_text(REAL)
    (tmp_path / "config.v2.json").write_text(REAL)
    root = str(tmp_path / "root")
    assert docker_records.name(cid, None, root) is None
    assert docker_records.config(cid, root) is None
    assert docker_records.name("x", None, root) == "web"
