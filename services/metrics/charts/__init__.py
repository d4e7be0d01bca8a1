"""Charts drawn server-side as accessible SVG, from the figures the tables show (one chart
module for the committee pack and the BI feeds)."""

from services.metrics.charts.draw import BoxPlot, BoxStats, box_plot, render_svg

__all__ = ["BoxPlot", "BoxStats", "box_plot", "render_svg"]
