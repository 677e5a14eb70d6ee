"""Issue 15: `COLUMNS=80 netwrap diagram` fits its boxes in 80 columns (render passes
the width on; diagram.text alone was always able to)."""

from __future__ import annotations

from test_diagram import captured


def test_text_render_fits_columns(monkeypatch):
    from netwrap import diagram, diagram_gather
    from netwrap.output import width

    model = diagram.build(captured())
    wide = max(width(line) for line in diagram.text(model).splitlines())
    cols = min(40, wide - 1)  # narrower than the picture drawn without a width
    monkeypatch.setenv("COLUMNS", str(cols))
    got = diagram_gather.render(None, model, "text")
    assert all(width(line) <= cols for line in got.splitlines()), got
