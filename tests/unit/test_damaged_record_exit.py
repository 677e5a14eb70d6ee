"""A damaged record (bad bytes, not JSON, a field of the wrong type) gives one line and
exit 2, as any bad file netwrap reads does (issue 14), never a traceback."""

from __future__ import annotations

import pytest

from conftest import run_netwrap


@pytest.mark.parametrize(
    "content",
    [b"\xff\xfe\x00garbage", b"{not json", b'{"schema": 2, "ifname": 7}'],
    ids=["bytes", "json", "types"],
)
def test_nic_list_over_a_damaged_record_exits_2_in_one_line(tmp_path, content):
    run = tmp_path / "run"
    (run / "attachments").mkdir(parents=True)
    bad = run / "attachments" / "x.json"
    bad.write_bytes(content)
    proc = run_netwrap("nic", "list", env={"NETWRAP_RUN_DIR": str(run)})
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith(f"netwrap: error: state record {bad} is damaged (")
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
