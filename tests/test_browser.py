"""The built book in a real headless Chromium: offline, images, equations, layout and screenshots.

Chromium and its driver are installed with apt-get when missing (``ensure_chromium``), never skipped.
"""

from __future__ import annotations

import pytest
from PIL import Image

from nbsrc import assets
from nbsrc.browser import (
    WINDOW,
    check_book,
    check_page,
    ensure_chromium,
    html_pages,
    is_local_url,
    open_browser,
    serve,
)


@pytest.fixture(scope="module")
def browser():
    ensure_chromium()
    with open_browser() as driver:
        yield driver


# ------------------------------------------------------------------------------- hand-made pages

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>t</title>{head}
<style>body {{ margin: 0; font-family: sans-serif; }} article {{ width: 600px; margin: 0 auto; }}</style>
</head><body><main><article class="bd-article">{body}</article></main></body></html>
"""

CLEAN = """
<p>Plain text, with a price of $5 and $6 that is no equation.</p>
<img id="local" src="dot.png" alt="a local image">
<div class="scroller" style="overflow-x: auto"><table style="width: 3000px"><tr><td>a wide table in a
  scrolling wrapper</td></tr></table></div>
<pre style="overflow-x: auto">{long_line}</pre>
<p><span style="position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0, 0, 0, 0)">
  visually hidden, like a screen-reader label {long_line}</span></p>
"""

BAD = """
<p>An external image and an element too wide for the column:</p>
<img id="external" src="https://example.invalid/x.png" alt="external">
<div id="too-wide" style="width: 2000px">a deliberately too-wide element</div>
<div class="scroller" style="overflow-x: auto">
  <table style="width: 3000px"><tr><td>fine</td></tr></table></div>
<p>$$x^2$$ left as raw TeX and a table left as Markdown: | a | b | |---|---| | 1 | 2 |</p>
"""

SPHINX_MATH = """<script>window.MathJax = {{"options": {{"processHtmlClass":
  "tex2jax_process|mathjax_process|math|output_area"}}}}</script>
<script defer="defer" src="{src}"></script>"""

MATH = """<section class="tex2jax_ignore mathjax_ignore">
<p>Entropy <span class="math notranslate nohighlight">\\(H(T) = -\\sum_t p(t) \\log_2 p(t)\\)</span>,
  not $5.</p>
<div class="math notranslate nohighlight">\\[I(T;Y) = H(T) - H(T \\mid Y) \\le \\mathcal{{H}}\\]</div>
</section>"""


def write_page(folder, name, body, head=""):
    folder.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (8, 4), "red").save(folder / "dot.png")
    path = folder / name
    path.write_text(PAGE.format(head=head, body=body.format(long_line="x" * 400)))
    return path


def test_the_request_filter():
    for url in (
        "file:///tmp/book/_static/mathjax/tex-mml-chtml.js",
        "data:image/png;base64,AAAA",
        "blob:file:///abc",
        "about:blank",
        "chrome://new-tab-page/",  # the browser's own pages (Chromium 150 loads its new-tab page at start)
        "chrome-untrusted://new-tab-page/one-google-bar",
        "http://127.0.0.1:8000/index.html",
        "http://localhost:8000/x.css",
        "ws://[::1]:9000/",
    ):
        assert is_local_url(url), url
    for url in (
        "https://example.invalid/x.png",
        "https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-mml-chtml.js",
        "http://10.0.0.1/x",
        "http://127.0.0.1.example.com/x",
        "//fonts.googleapis.com/css",
    ):
        assert not is_local_url(url), url


def test_a_clean_page_passes(browser, tmp_path):
    page = write_page(tmp_path, "clean.html", CLEAN)
    report = check_page(browser, page.as_uri(), screenshot_path=tmp_path / "shots" / "clean.png")
    assert report.ok, report.problems
    assert report.images == 1 and report.broken_images == []
    assert any(url.endswith("/dot.png") for url in report.requests)  # the network log is read
    with Image.open(report.screenshot) as shot:
        assert shot.size[0] == WINDOW[0]


def test_a_clean_page_passes_over_http(browser, tmp_path):
    write_page(tmp_path, "clean.html", CLEAN)
    with serve(tmp_path) as base:
        report = check_page(browser, base + "clean.html", block_external=False)
    assert report.ok, report.problems
    assert any(url.startswith(base) and url.endswith("/dot.png") for url in report.requests)


def test_the_checks_catch_an_external_request_a_broken_image_overflow_and_raw_tex(browser, tmp_path):
    page = write_page(tmp_path, "bad.html", BAD)
    report = check_page(browser, page.as_uri(), screenshot_path=tmp_path / "bad.png")
    assert report.external == ["https://example.invalid/x.png"]
    assert report.broken_images == ["https://example.invalid/x.png"]
    assert report.overflow[0].startswith("div#too-wide"), report.overflow
    assert not [o for o in report.overflow if "table" in o or "scroller" in o], report.overflow
    assert report.raw_tex and report.raw_markdown
    assert not report.ok and report.line().startswith("FAIL")
    assert (tmp_path / "bad.png").is_file()


def test_equations_render_offline_with_the_local_mathjax(browser, tmp_path):
    entry = assets.prepare(tmp_path)
    src = entry.relative_to(tmp_path).as_posix()
    page = write_page(tmp_path, "math.html", MATH, head=SPHINX_MATH.format(src=src))
    report = check_page(browser, page.as_uri())
    assert report.ok, report.problems
    assert report.mathjax == "ready"
    assert (report.math, report.display_math, report.rendered_math) == (2, 1, 2)
    fonts = [url for url in report.requests if url.endswith(".woff")]
    assert fonts and all(url.startswith("file://") for url in fonts)  # the web fonts load locally too


def test_equations_without_mathjax_are_reported(browser, tmp_path):
    page = write_page(tmp_path, "nomath.html", MATH, head=SPHINX_MATH.format(src="missing/tex-mml-chtml.js"))
    report = check_page(browser, page.as_uri())
    assert report.rendered_math == 0 and report.math == 2
    assert report.raw_tex and any("missing/tex-mml-chtml.js" in f for f in report.failed)
    assert not report.ok


# ----------------------------------------------------------------------------------- the book


@pytest.fixture(scope="module")
def book_reports(smoke_book, browser):
    """Every page of the smoke book, checked once (screenshots in ``_build/screenshots``)."""
    return {r.page: r for r in check_book(smoke_book / "_build" / "html", driver=browser)}


def test_every_page_is_checked(smoke_book, book_reports):
    pages = {p.as_posix() for p in html_pages(smoke_book / "_build" / "html")}
    assert set(book_reports) == pages
    chapters = ("intro", "method", "mnist", "fashion_mnist", "cifar10", "summary")
    assert {f"book/{name}.html" for name in chapters} <= pages


def test_no_request_leaves_the_machine(book_reports):
    assert {page: r.external for page, r in book_reports.items() if r.external} == {}
    assert {page: r.failed for page, r in book_reports.items() if r.failed} == {}
    assert all(r.requests for r in book_reports.values())  # the log was read on every page


def test_every_image_loads(book_reports):
    assert {page: r.broken_images for page, r in book_reports.items() if r.broken_images} == {}
    for name in ("mnist", "fashion_mnist", "cifar10"):
        assert book_reports[f"book/{name}.html"].images >= 5


def test_equations_render(book_reports):
    for page, r in book_reports.items():
        assert r.rendered_math == r.math, (page, r.mathjax)
        assert (r.math_errors, r.raw_tex, r.raw_markdown, r.font_errors) == ([], [], [], []), page
    method = book_reports["book/method.html"]
    assert method.mathjax == "ready" and method.display_math >= 1 and method.rendered_math >= 2


def test_no_horizontal_overflow(book_reports):
    assert {page: r.overflow for page, r in book_reports.items() if r.overflow} == {}


def test_a_screenshot_of_every_page(smoke_book, book_reports):
    shots = smoke_book / "_build" / "screenshots"
    for page, r in book_reports.items():
        assert r.screenshot == shots / page.replace(".html", ".png"), page
        with Image.open(r.screenshot) as shot:
            assert shot.size[0] == WINDOW[0] and shot.size[1] >= WINDOW[1] // 2, (page, shot.size)


def test_every_page_passes(book_reports):
    assert [r.line() for r in book_reports.values() if not r.ok] == []
