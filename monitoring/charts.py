"""Small charts drawn on the server as inline SVG: no JavaScript and no CDN.

Colours come from CSS classes (see templates/admin/dashboard.html), so the admin's light and dark
themes apply. Every text is escaped; every bar and point carries a <title>, the browser's tooltip.
"""

from math import ceil

from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

WIDTH, HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 84, 12, 24, 24  # room for values on the left, dates below, a legend above
PLOT_WIDTH, PLOT_HEIGHT = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
MAX_X_LABELS = 8


def bar_chart(bars, *, label, fmt=str):
    """`bars`: [(x label, value, tooltip)], drawn left to right as one <rect class="bar"> each; a value
    below zero (a day's loss) hangs down from the zero line as a <rect class="bar negative">."""
    lowest = min((value for _, value, _ in bars), default=0)
    top = _nice_top(max((value for _, value, _ in bars), default=0))
    low = -_nice_top(-lowest) if lowest < 0 else 0
    zero = _y(0, top, low)
    step = PLOT_WIDTH / max(len(bars), 1)
    rects = []
    for i, (_, value, tooltip) in enumerate(bars):
        height = max(PLOT_HEIGHT * abs(value) / (top - low), 1)  # an empty day still shows, and keeps its tooltip
        y, kind = (zero, "bar negative") if value < 0 else (zero - height, "bar")
        rects.append((kind, _n(LEFT + (i + 0.1) * step), _n(y), _n(step * 0.8), _n(height), tooltip))
    body = format_html_join(
        "", '<rect class="{}" x="{}" y="{}" width="{}" height="{}"><title>{}</title></rect>', rects
    )
    x_labels = [(LEFT + (i + 0.5) * step, x_label) for i, (x_label, _, _) in enumerate(bars)]
    return _frame(label, top, fmt, x_labels, body, low=low)


def line_chart(x_labels, series, *, label, fmt=str):
    """`series`: [(name, values)] over the same `x_labels`: a polyline, and a <circle> with a tooltip per point."""
    top = _nice_top(max((max(values, default=0) for _, values in series), default=0))
    step = PLOT_WIDTH / max(len(x_labels) - 1, 1)
    xs = [LEFT + i * step for i in range(len(x_labels))] if len(x_labels) > 1 else [LEFT + PLOT_WIDTH / 2]
    parts = []
    for n, (name, values) in enumerate(series):
        points = [(_n(x), _n(_y(value, top))) for x, value in zip(xs, values)]
        parts.append(format_html(
            '<text class="legend series-{}" x="{}" y="14">● {}</text>', n, LEFT + n * 180, name
        ))
        parts.append(format_html(
            '<polyline class="line series-{}" points="{}"></polyline>', n, " ".join(f"{x},{y}" for x, y in points)
        ))
        tooltips = [f"{x_label} — {name}: {fmt(value)}" for x_label, value in zip(x_labels, values)]
        parts.append(format_html_join(
            "", '<circle class="point series-{}" cx="{}" cy="{}" r="3"><title>{}</title></circle>',
            ((n, x, y, tooltip) for (x, y), tooltip in zip(points, tooltips)),
        ))
    return _frame(label, top, fmt, list(zip(xs, x_labels)), mark_safe("".join(parts)))


def _frame(label, top, fmt, x_labels, body, low=0):
    """The <svg> with its title, gridlines at zero, half and top (at the bottom, zero and top when values go
    below zero) with their values, and a few x labels."""
    grid = format_html_join(
        "",
        '<line class="grid" x1="{left}" x2="{right}" y1="{y}" y2="{y}"></line>'
        '<text class="axis" x="{value_x}" y="{y}" dy="4" text-anchor="end">{value}</text>',
        (
            {"left": LEFT, "right": WIDTH - RIGHT, "value_x": LEFT - 6, "y": _n(_y(value, top, low)),
             "value": fmt(value)}
            for value in ((low, 0, top) if low else (0, top // 2, top))
        ),
    )
    every = ceil(len(x_labels) / MAX_X_LABELS) or 1
    dates = format_html_join(
        "", '<text class="axis" x="{}" y="{}" text-anchor="middle">{}</text>',
        ((_n(x), HEIGHT - 6, text) for x, text in x_labels[::every]),
    )
    return format_html(
        '<svg class="kc-chart" viewBox="0 0 {} {}" role="img" aria-label="{}"><title>{}</title>{}{}{}</svg>',
        WIDTH, HEIGHT, label, label, grid, dates, body,
    )


def _nice_top(value):
    """The smallest 2, 4, 6, 8 or 10 × a power of ten that holds `value`, so the half-way line stays whole."""
    magnitude = 10 ** (len(str(max(int(value), 1))) - 1)
    return next(m * magnitude for m in (2, 4, 6, 8, 10) if m * magnitude >= value)


def _y(value, top, low=0):
    return TOP + PLOT_HEIGHT * (1 - (value - low) / (top - low))


def _n(number):
    """SVG coordinates to a tenth of a unit: enough precision, short markup."""
    return f"{number:.1f}"
