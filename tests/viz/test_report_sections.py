"""Extra report sections (the demo's Table 1 and curves): escaped text, tables, inlined PNG figures."""

from __future__ import annotations

import base64

from PIL import Image

from partparse.viz.report_sections import ReportSection


def test_section_escapes_text_and_inlines_its_figures(tmp_path):
    png = tmp_path / "curve.png"
    Image.new("RGB", (4, 3), (255, 0, 0)).save(png)
    html = ReportSection("Table <1>", note="a & b", header=("row", "TPS"), rows=[("<script>", 0.5)],
                         figures=[("curve \"x\"", png)]).to_html()
    assert "<h2>Table &lt;1&gt;</h2>" in html and "<p>a &amp; b</p>" in html
    assert "<th>row</th><th>TPS</th>" in html and "<td>&lt;script&gt;</td><td>0.5</td>" in html
    assert "<script>" not in html
    data = html.split('src="data:image/png;base64,')[1].split('"')[0]
    assert base64.b64decode(data) == png.read_bytes()
    assert "<figcaption>curve &quot;x&quot;</figcaption>" in html


def test_a_section_without_table_or_figures_is_its_title():
    assert ReportSection("only").to_html() == "<section class=extra><h2>only</h2></section>"
