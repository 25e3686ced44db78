"""The one chart engine (core.charts) and its template: scales, a point's place, a line's gaps,
and an empty chart; the measure and roll-up charts built on it are tested with their pages."""

from __future__ import annotations

import datetime

from django.template.loader import render_to_string

from core.charts import (
    SMALL,
    WIDE,
    Chart,
    Mark,
    Point,
    Rule,
    Scale,
    Tick,
    band,
    evenly,
    marker,
    nice_top,
    series,
    thin,
)


def test_a_scale_maps_the_data_interval_onto_the_frame():
    x = Scale(1, 5, 44, 704)
    assert (x(1), x(3), x(5)) == (44, 374, 704)


def test_a_one_value_interval_maps_to_the_middle():
    assert Scale(7, 7, 40, 348)(7) == 194


def test_a_y_axis_grows_upward():
    y = WIDE.y_scale(0, 40)
    assert (y(0), y(30), y(40)) == (WIDE.bottom, 67.0, WIDE.top)


def test_coordinates_are_rounded_to_a_tenth():
    assert WIDE.x_scale(1, 24)(2) == 72.7  # 44 + 660 / 23


def test_a_missing_value_lifts_the_pen_and_draws_no_point():
    x, y = SMALL.x_scale(0, 3), SMALL.y_scale(0, 1)
    values = [0.5, None, 0.25, 1.0]
    line = series(
        "value", (None if v is None else Point(x(n), y(v), n, f"{v}") for n, v in enumerate(values))
    )
    assert line.path == "M40.0,64.0 M245.3,90.0 L348.0,12.0"
    assert [point.at for point in line.points] == [0, 2, 3]


def test_an_empty_series_draws_nothing():
    line = series("value", [])
    assert (line.path, line.points) == ("", [])
    chart = Chart(id="c", title="Nothing", description="", series=[line])
    assert chart.is_empty
    assert chart.path == ""


def test_markers_are_drawn_around_their_point():
    assert marker("square", 4) == "m-4,-4 h8 v8 h-8 z"
    assert marker("circle", 4.5) == "m-4.5,0 a4.5,4.5 0 1,0 9,0 a4.5,4.5 0 1,0 -9,0"


def test_a_band_runs_along_the_upper_line_and_back_along_the_lower():
    assert band([(1, 10), (2, 12)], [(1, 20), (2, 22)]) == "1.0,10.0 2.0,12.0 2.0,22.0 1.0,20.0"


def test_ticks_and_axis_tops():
    assert evenly(21, 3) == [0, 7, 14, 21]
    assert len(thin(list(range(25)))) == 9  # every third: at most twelve labels
    assert thin([1, 2, 3]) == [1, 2, 3]
    assert (nice_top(0), nice_top(0.3), nice_top(7), nice_top(5000)) == (1, 1, 10, 5000)


def test_the_template_draws_a_chart_with_its_text_and_no_style_attribute():
    x, y = WIDE.x_scale(1, 2), WIDE.y_scale(0, 10)
    chart = Chart(
        id="demo",
        title="Demo over time",
        description="The numbers are in the table below.",
        series=[series("a", [Point(x(1), y(5), 1, "5", "day 1: 5"), Point(x(2), y(10), 2, "10")])],
        y_ticks=[Tick(y(0), "0"), Tick(y(10), "10")],
        x_ticks=[Tick(x(1), "1"), Tick(x(2), "2")],
        rules=[Rule(y(3), "cut-off 3")],
        marks=[Mark(x(2), "Event at 2")],
        x_title="day",
    )
    svg = render_to_string("core/_chart.html", {"chart": chart})
    assert 'aria-labelledby="demo-title demo-desc"' in svg
    assert '<title id="demo-title">Demo over time</title>' in svg
    assert 'd="M44.0,118.0 L704.0,16.0"' in svg
    assert '<path class="chart-point chart-point-solid" d="M44.0,118.0 m-3,0' in svg
    assert svg.count("<title>") == 2  # the first point's and the mark's; the second has none
    assert "cut-off 3" in svg
    assert "style=" not in svg


def test_the_template_says_so_when_there_is_nothing_to_draw():
    chart = Chart(id="none", title="Nothing", description="")
    html = render_to_string("core/_chart.html", {"chart": chart})
    assert "<svg" not in html
    assert "No values yet." in html


def test_the_small_frame_places_a_lone_day_in_the_middle():
    day = datetime.date(2026, 3, 1).toordinal()
    assert SMALL.x_scale(day, day)(day) == (SMALL.left + SMALL.right) / 2
