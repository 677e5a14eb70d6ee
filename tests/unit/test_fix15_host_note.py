"""Issue 15: `netwrap host` prints the FORWARD DROP note before the rules table, so the
note must point down at it, not up."""

from __future__ import annotations

import inspect


def test_forward_drop_note_points_at_the_rules_table_below_it():
    from netwrap import host_view

    assert "(the rules below)" in host_view.FORWARD_DROP_NOTE
    assert "above" not in host_view.FORWARD_DROP_NOTE
    src = inspect.getsource(host_view)
    # the note is written before the rules table's title
    assert src.index("wrap(FORWARD_DROP_NOTE") < src.index('title="NAT and FORWARD rules')
