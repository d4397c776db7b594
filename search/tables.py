"""Rich tables for the terminal."""

from __future__ import annotations

from rich.table import Table

from models import Analysis


def layer_table(title: str, result: Analysis) -> Table:
    table = Table(title=title)
    for col in ("#", "layer", "output", "params", "RF", "jump"):
        table.add_column(col, justify="left" if col == "layer" else "right")
    for row in result.rows:
        shape = "x".join(str(d) for d in row.output)
        table.add_row(str(row.index), row.layer, shape, f"{row.params:,}", str(row.rf), str(row.jump))
    table.caption = f"params {result.params:,}  MACs {result.macs:,}  receptive field {result.rf}"
    return table
