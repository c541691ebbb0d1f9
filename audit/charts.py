"""Bar charts as server-rendered SVG: no script, no external service, and a table beside each."""

import re
from collections.abc import Sequence
from html import escape

WIDTH, BAR_AREA_HEIGHT, LABEL_HEIGHT = 720, 200, 60


def bar_chart_svg(title: str, bars: Sequence[tuple[str, int]]) -> str:
    """A vertical bar chart of ``bars`` (label, value), scaled to the largest value."""
    largest = max((value for _, value in bars), default=0) or 1
    chart_id = "chart-" + re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
    slot = WIDTH / max(len(bars), 1)
    bar_width = max(slot * 0.7, 1)
    parts = [
        f'<svg class="app-chart" role="img" aria-labelledby="{chart_id}" '
        f'viewBox="0 0 {WIDTH} {BAR_AREA_HEIGHT + LABEL_HEIGHT}" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{chart_id}">{escape(title)}</title>',
    ]
    label_every = max(1, len(bars) // 15)
    for index, (label, value) in enumerate(bars):
        height = BAR_AREA_HEIGHT * value / largest
        x = index * slot + (slot - bar_width) / 2
        parts.append(
            f'<rect x="{x:.1f}" y="{BAR_AREA_HEIGHT - height:.1f}" width="{bar_width:.1f}" '
            f'height="{height:.1f}" fill="#1d70b8"><title>{escape(label)}: {value}</title></rect>'
        )
        if index % label_every == 0:
            parts.append(
                f'<text x="{x + bar_width / 2:.1f}" y="{BAR_AREA_HEIGHT + 16}" font-size="12" '
                f'text-anchor="middle" fill="#0b0c0c">{escape(label[:14])}</text>'
            )
    parts.append(
        f'<text x="0" y="{BAR_AREA_HEIGHT + 44}" font-size="12" fill="#505a5f">'
        f"Highest: {largest}</text></svg>"
    )
    return "".join(parts)
