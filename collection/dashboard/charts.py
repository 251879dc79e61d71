"""The dashboard's charts: horizontal bar charts drawn by the server as inline SVG from a template
(templates/collection/dashboard/_bars.svg.html), no script and no CDN. Colours and type come from
desk.css by class, so the Content-Security-Policy needs no inline style; each chart carries a
title and a description, and the table beside it holds the same numbers for a screen reader."""

import dataclasses
from decimal import Decimal

WIDTH = 480
LABEL_WIDTH = 120
VALUE_WIDTH = 100
ROW_HEIGHT = 26
BAR_HEIGHT = 18
PADDING = 6


@dataclasses.dataclass(frozen=True)
class Bar:
    label: str
    value_text: str
    y: int
    width: float
    text_y: int
    value_x: float


@dataclasses.dataclass(frozen=True)
class BarChart:
    id: str
    title: str
    description: str
    bars: list[Bar]
    height: int
    label_width: int = LABEL_WIDTH
    width: int = WIDTH

    @property
    def value_x(self) -> float:
        return self.label_width + PADDING

    @property
    def view_box(self) -> str:
        return f"0 0 {self.width} {self.height}"


def bar_chart(
    *, id: str, title: str, description: str, rows: list[tuple[str, Decimal | int | float | None, str]]
) -> BarChart | None:
    """A chart of (label, value, value as shown) rows, bars scaled to the largest value; None when
    there is nothing to draw (no row above zero)."""
    values = [float(value or 0) for _label, value, _text in rows]
    largest = max(values, default=0)
    if largest <= 0:
        return None
    span = WIDTH - LABEL_WIDTH - VALUE_WIDTH - 2 * PADDING
    bars = []
    for index, ((label, _value, text), value) in enumerate(zip(rows, values, strict=True)):
        top = PADDING + index * ROW_HEIGHT
        bars.append(
            Bar(
                label=str(label),
                value_text=text,
                y=top,
                width=round(max(value, 0) / largest * span, 1),
                text_y=top + BAR_HEIGHT - 4,
                value_x=round(LABEL_WIDTH + PADDING + max(value, 0) / largest * span + 4, 1),
            )
        )
    return BarChart(
        id=id,
        title=title,
        description=description,
        bars=bars,
        height=PADDING * 2 + len(rows) * ROW_HEIGHT,
    )
