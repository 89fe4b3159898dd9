"""Checks of the built book in a real headless Chromium, as a reader would open it.

For every HTML page of ``_build/html`` (opened via ``file://``, as a reader opens a downloaded book, or
from a local ``http.server`` on 127.0.0.1), ``check_page`` records:

- every network request the page makes (Chrome's DevTools ``Network`` events, read from the performance
  log) and those that would leave the machine (anything but ``file:``, ``data:``, ``blob:``, ``about:`` and
  the loopback addresses); in ``file`` mode such requests are blocked, so an offline check stays fast;
- local requests that failed (a missing font, script or image);
- every ``<img>`` that did not load (``naturalWidth == 0``);
- the equations: every ``.math`` element (Sphinx's markup of inline and display math) must hold a MathJax
  ``mjx-container``, with no ``mjx-merror`` and no raw ``$$``, ``\\(``, ``\\[`` or ``\\begin{`` left in the
  visible text outside code;
- elements that stick out of the content column (``article.bd-article``, else ``main``) horizontally; an
  element inside a wrapper that scrolls or clips horizontally (tables, code, wide equations) is fine as long
  as the wrapper itself fits;
- a full-page screenshot at a window 1280 px wide, saved as ``<book>/_build/screenshots/<page>.png``.

``python -m nbsrc.browser [BUILD_DIR]`` checks a built book and prints one line per page; it exits
non-zero when a check fails. ``ensure_chromium()`` installs Debian's ``chromium`` and ``chromium-driver``
with apt-get when they are missing; the driver path is always given to selenium explicitly, so
selenium-manager never downloads anything.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import functools
import http.server
import ipaddress
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
APT_PACKAGES = ("chromium", "chromium-driver", "fonts-dejavu-core")
WINDOW = (1280, 900)
LOCAL_SCHEMES = ("file", "data", "blob", "about", "javascript", "chrome", "chrome-untrusted", "devtools")
LOCAL_HOSTS = ("localhost", "::1")
# The content column, first match wins.
COLUMN_SELECTORS = ("article.bd-article", "main", "body")
# Requests from ``file`` pages to these are blocked (and still reported): no wait on a missing network.
BLOCKED_URLS = ("http://*", "https://*", "ws://*", "wss://*")
PAGE_TIMEOUT_S = 30.0
_APT_TIMEOUT_S = 1800


class BrowserUnavailableError(RuntimeError):
    """Chromium or its driver could not be installed or started; the message says how to fix it."""


# ------------------------------------------------------------------------------------------ install


def _version(binary: Path) -> str | None:
    try:
        res = subprocess.run([str(binary), "--version"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r"\b(\d+)\.\d+\.\d+", res.stdout)
    return match.group(1) if res.returncode == 0 and match else None


def _chromium_ready() -> bool:
    """Both binaries run and have the same major version (the driver refuses another browser version)."""
    if not (os.access(CHROMIUM, os.X_OK) and os.access(CHROMEDRIVER, os.X_OK)):
        return False
    browser, driver = _version(CHROMIUM), _version(CHROMEDRIVER)
    return browser is not None and browser == driver


def ensure_chromium() -> tuple[Path, Path]:
    """``(chromium, chromedriver)``, installing Debian's ``chromium`` and ``chromium-driver`` with apt-get
    (as root; ``apt-get update`` once when the package lists are missing or stale) when they are missing or
    their versions differ. Raises ``BrowserUnavailableError`` with the command that fixes it."""
    if _chromium_ready():
        return CHROMIUM, CHROMEDRIVER
    fix = f"apt-get update && apt-get install -y --no-install-recommends {' '.join(APT_PACKAGES)}"
    apt = shutil.which("apt-get")
    if apt is None:
        raise BrowserUnavailableError(
            f"{CHROMIUM} / {CHROMEDRIVER} missing and apt-get not found: install Chromium and its "
            "matching chromedriver (Debian: " + fix + ")"
        )
    if os.geteuid() != 0:
        raise BrowserUnavailableError(f"{CHROMIUM} / {CHROMEDRIVER} missing; as root, run: {fix}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = [apt, "-o", "DPkg::Lock::Timeout=600", "install", "-y", "--no-install-recommends"]

    def run(cmd: list[str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=_APT_TIMEOUT_S)

    res = run([*install, *APT_PACKAGES])
    if res.returncode != 0 or not _chromium_ready():
        # Missing or stale package lists (a version no longer on the mirror): update once and retry.
        update = run([apt, "-o", "DPkg::Lock::Timeout=600", "update"])
        res = run([*install, *APT_PACKAGES]) if update.returncode == 0 else update
    if res.returncode != 0 or not _chromium_ready():
        tail = "\n".join((res.stderr or res.stdout).strip().splitlines()[-8:])
        raise BrowserUnavailableError(
            f"could not install Debian's {', '.join(APT_PACKAGES)} (exit {res.returncode}): {tail}\n"
            f"To fix: as root, run `{fix}` (the machine needs access to the Debian mirrors)"
        )
    return CHROMIUM, CHROMEDRIVER


# ------------------------------------------------------------------------------------------ browser


def settle(driver: object, quiet_s: float = 1.0, limit_s: float = 20.0) -> None:
    """Let a fresh Chromium finish what it loads by itself: Chromium 150 opens its new-tab page at start
    and loads its several hundred chrome:// resources in the first moments, which would otherwise be
    counted against the first page checked. Opens about:blank and waits until the DevTools log stays quiet
    for ``quiet_s`` (at most ``limit_s``), dropping what it logged."""
    driver.get("about:blank")
    start = last = time.monotonic()
    while time.monotonic() - last < quiet_s and time.monotonic() - start < limit_s:
        if driver.get_log("performance"):
            last = time.monotonic()
        time.sleep(0.1)


@contextlib.contextmanager
def open_browser(width: int = WINDOW[0], height: int = WINDOW[1]) -> Iterator[object]:
    """A headless Chromium (selenium ``webdriver.Chrome``) with a ``width`` x ``height`` window, the
    DevTools network log on, and a throw-away profile, settled (:func:`settle`); closed on exit."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium, chromedriver = ensure_chromium()
    with tempfile.TemporaryDirectory(prefix="nbsrc-chromium-") as profile:
        options = webdriver.ChromeOptions()
        options.binary_location = str(chromium)
        for arg in (
            "--headless=new",
            "--no-sandbox",  # root in a container
            "--disable-dev-shm-usage",
            "--disable-gpu",
            f"--window-size={width},{height}",
            "--hide-scrollbars",
            "--force-device-scale-factor=1",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--disable-default-apps",
            "--mute-audio",
            f"--user-data-dir={profile}",
        ):
            options.add_argument(arg)
        options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
        service = Service(executable_path=str(chromedriver))  # never selenium-manager
        try:
            driver = webdriver.Chrome(service=service, options=options)
        except Exception as e:  # selenium raises several kinds
            raise BrowserUnavailableError(f"could not start {chromium} with {chromedriver}: {e}") from e
        try:
            driver.execute_cdp_cmd("Network.enable", {})
            settle(driver)
            yield driver
        finally:
            driver.quit()


@contextlib.contextmanager
def serve(folder: str | Path) -> Iterator[str]:
    """Serve ``folder`` on ``http://127.0.0.1:<free port>/`` from a thread; yields the base URL."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


# ------------------------------------------------------------------------------------------- checks


def is_local_url(url: str) -> bool:
    """Whether loading ``url`` stays on this machine: file/data/blob/about URLs and the loopback addresses."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme in LOCAL_SCHEMES:
        return True
    if scheme not in ("http", "https", "ws", "wss"):
        return False
    host = (parts.hostname or "").lower()
    try:
        return host in LOCAL_HOSTS or ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name
        return False


def html_pages(html_dir: str | Path) -> list[Path]:
    """Every HTML page of a built book, relative to ``html_dir`` (Sphinx's ``_static`` etc. left out)."""
    html_dir = Path(html_dir)
    pages = (p.relative_to(html_dir) for p in html_dir.rglob("*.html"))
    return sorted(p for p in pages if not any(part.startswith(("_", ".")) for part in p.parts))


@dataclass
class PageReport:
    """What ``check_page`` found on one page; ``problems`` lists the failed checks (none: the page passes)."""

    page: str
    url: str
    seconds: float = 0.0
    requests: list[str] = field(default_factory=list)
    external: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    images: int = 0
    broken_images: list[str] = field(default_factory=list)
    math: int = 0
    display_math: int = 0
    rendered_math: int = 0
    math_errors: list[str] = field(default_factory=list)
    mathjax: str = "absent"
    raw_tex: list[str] = field(default_factory=list)
    raw_markdown: list[str] = field(default_factory=list)
    font_errors: list[str] = field(default_factory=list)
    overflow: list[str] = field(default_factory=list)
    screenshot: Path | None = None
    error: str | None = None

    @property
    def problems(self) -> list[str]:
        out = [f"the page could not be checked: {self.error}"] if self.error else []
        if self.external:
            out.append(f"{len(self.external)} request(s) leave the machine: {', '.join(self.external[:3])}")
        if self.failed:
            out.append(f"{len(self.failed)} local request(s) failed: {', '.join(self.failed[:3])}")
        if self.broken_images:
            out.append(f"{len(self.broken_images)} image(s) not loaded: {', '.join(self.broken_images[:3])}")
        if self.rendered_math < self.math:
            out.append(
                f"{self.math - self.rendered_math} of {self.math} equations not rendered ({self.mathjax})"
            )
        if self.math_errors:
            out.append(f"{len(self.math_errors)} MathJax error(s): {'; '.join(self.math_errors[:3])}")
        if self.raw_tex:
            out.append(f"raw TeX in the text: {' | '.join(self.raw_tex[:3])}")
        if self.raw_markdown:
            out.append(f"{len(self.raw_markdown)} Markdown table(s) shown as text: {self.raw_markdown[0]}")
        if self.font_errors:
            out.append(f"web fonts failed: {', '.join(self.font_errors[:5])}")
        if self.overflow:
            out.append(f"{len(self.overflow)} element(s) overflow the column: {'; '.join(self.overflow[:3])}")
        return out

    @property
    def ok(self) -> bool:
        return not self.problems

    def line(self) -> str:
        """One line: PASS/FAIL, the page, its counts and time, then what failed."""
        images = f"{self.images - len(self.broken_images)}/{self.images}"
        head = (
            f"{'PASS' if self.ok else 'FAIL'} {self.page}: {len(self.requests)} requests "
            f"({len(self.external)} external, {len(self.failed)} failed), images {images}, "
            f"equations {self.rendered_math}/{self.math}, overflow {len(self.overflow)}, {self.seconds:.1f} s"
        )
        return head if self.ok else f"{head} -- {' / '.join(self.problems)}"


# Waits for MathJax's first typeset (when the page loads MathJax), every image and the web fonts.
_SETTLE_JS = """
const done = arguments[arguments.length - 1];
const timeoutMs = arguments[0];
const deadline = Date.now() + timeoutMs;
const sleep = ms => new Promise(r => setTimeout(r, ms));
const left = () => Math.max(0, deadline - Date.now());
(async () => {
  let mathjax = 'absent';
  const scripts = Array.from(document.scripts).map(s => s.src || '');
  if (scripts.some(src => /mathjax|tex-(mml-)?(chtml|svg)/i.test(src))) {
    // The page's load event has fired, so a script that loaded has run: wait only briefly for it.
    const grace = Date.now() + Math.min(3000, left());
    const loaded = () => !!(window.MathJax && MathJax.startup && MathJax.startup.promise);
    while (!loaded() && Date.now() < grace) await sleep(50);
    if (loaded()) {
      try {
        const typeset = MathJax.startup.promise.then(() => 'ready');
        const r = await Promise.race([typeset, sleep(left()).then(() => 'timeout')]);
        mathjax = r === 'ready' ? 'ready' : 'typesetting timed out';
      } catch (e) { mathjax = 'failed: ' + e; }
    } else {
      mathjax = 'script did not load';
    }
  }
  for (const img of document.images) if (img.loading === 'lazy') img.loading = 'eager';
  const pending = Array.from(document.images).filter(img => !img.complete).map(img => new Promise(r => {
    img.addEventListener('load', r, {once: true}); img.addEventListener('error', r, {once: true});
  }));
  await Promise.race([Promise.all(pending), sleep(left())]);
  await Promise.race([document.fonts.ready, sleep(left())]);
  done(mathjax);
})();
"""

# Images, equations, raw TeX and horizontal overflow of the content column.
_CHECK_JS = """
const selectors = arguments[0];
const tol = 1;
const column = selectors.map(s => document.querySelector(s)).find(e => e) || document.body;
const describe = el => {
  let d = el.tagName.toLowerCase();
  if (el.id) d += '#' + el.id;
  const cls = (typeof el.className === 'string' ? el.className : '').trim().split(/\\s+/).filter(c => c);
  if (cls.length) d += '.' + cls.slice(0, 3).join('.');
  const text = (el.textContent || '').trim().replace(/\\s+/g, ' ').slice(0, 40);
  return text ? d + ' "' + text + '"' : d;
};

const images = Array.from(document.images).map(img => ({
  src: img.currentSrc || img.src || img.getAttribute('src') || '',
  ok: img.complete && img.naturalWidth > 0}));

const maths = Array.from(document.querySelectorAll('.math'));
const rendered = maths.filter(m => m.tagName === 'MJX-CONTAINER' || m.querySelector('mjx-container')).length;
const display = maths.filter(m => m.tagName === 'DIV').length;
const errors = Array.from(document.querySelectorAll('mjx-merror')).map(
  e => e.getAttribute('data-mjx-error') || (e.textContent || '').slice(0, 60));

const skip = 'pre, code, kbd, samp, script, style, noscript, template, textarea, mjx-container, .highlight';
const raw = [];
const rawRe = /\\$\\$|\\\\\\(|\\\\\\)|\\\\\\[|\\\\\\]|\\\\begin\\{/;
// The rule line of a Markdown table left as text (Sphinx's smartquotes turn --- into dashes).
const tableRe = /\\|\\s*:?[-\\u2013\\u2014]+:?\\s*\\|\\s*:?[-\\u2013\\u2014]+:?\\s*\\|/;
const rawMd = [];
const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
for (let node = walker.nextNode(); node; node = walker.nextNode()) {
  const parent = node.parentElement;
  if (!parent || parent.closest(skip)) continue;
  if (parent.checkVisibility && !parent.checkVisibility({visibilityProperty: true})) continue;
  const m = node.data.match(rawRe);
  if (m) raw.push(node.data.slice(Math.max(0, m.index - 30), m.index + 40).replace(/\\s+/g, ' ').trim());
  const t = node.data.match(tableRe);
  if (t) rawMd.push(node.data.slice(0, 60).replace(/\\s+/g, ' ').trim());
}

const box = column.getBoundingClientRect();
const overflow = [];
const scrolls = ['auto', 'scroll', 'hidden', 'clip'];
const span = r => ' spans x ' + Math.round(r.left) + '..' + Math.round(r.right) +
                  ', column ' + Math.round(box.left) + '..' + Math.round(box.right);
const sticksOut = r => r.width > 0 && r.height > 0 && (r.right > box.right + tol || r.left < box.left - tol);
const range = document.createRange();
const walk = el => {
  for (const child of el.childNodes) {
    if (child.nodeType === Node.TEXT_NODE) {  // text can overflow the box of its element
      if (!child.data.trim()) continue;
      range.selectNodeContents(child);
      const r = range.getBoundingClientRect();
      const where = '" in ' + describe(el).split(' ')[0];
      if (sticksOut(r)) overflow.push('text "' + child.data.trim().slice(0, 40) + where + span(r));
      continue;
    }
    if (child.nodeType !== Node.ELEMENT_NODE) continue;
    const st = getComputedStyle(child);
    if (st.display === 'none' || st.position === 'fixed') continue;
    if (st.clipPath !== 'none' || (st.clip && st.clip !== 'auto')) continue;  // visually hidden
    const r = child.getBoundingClientRect();
    if (sticksOut(r)) {
      overflow.push(describe(child) + span(r));
      continue;  // its descendants would only repeat it
    }
    if (scrolls.includes(st.overflowX)) continue;  // a wrapper that fits: what scrolls inside it is fine
    walk(child);
  }
};
walk(column);
const doc = document.documentElement;
if (doc.scrollWidth > doc.clientWidth + tol) {
  overflow.push('the page scrolls horizontally: ' + doc.scrollWidth + ' px wide, window ' + doc.clientWidth);
}
const fonts = Array.from(document.fonts).filter(f => f.status === 'error').map(f => f.family);
return {images, math: maths.length, display, rendered, errors, raw, rawMd, fonts, overflow,
        column: describe(column).split(' ')[0]};
"""


def _network_log(driver: object) -> tuple[list[str], list[str]]:
    """Requested URLs and failed ones (``URL (error)``) from the performance log since the last read."""
    urls: dict[str, str] = {}
    order: list[str] = []
    failed: list[str] = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        method, params = message.get("method"), message.get("params", {})
        if method == "Network.requestWillBeSent":
            url = params["request"]["url"]
            urls[params["requestId"]] = url
            order.append(url)
        elif method == "Network.loadingFailed" and not params.get("canceled"):
            url = urls.get(params["requestId"], "?")
            failed.append(f"{url} ({params.get('blockedReason') or params.get('errorText')})")
        elif method == "Network.responseReceived":
            status = params.get("response", {}).get("status", 0)
            # The browser's own guess at /favicon.ico (the book names no icon) is no page's request.
            if status >= 400 and not params["response"].get("url", "").endswith("/favicon.ico"):
                failed.append(f"{params['response'].get('url')} (HTTP {status})")
    return list(dict.fromkeys(order)), failed


def _short(url: str, base: str) -> str:
    return url[len(base) :] if base and url.startswith(base) else url


def screenshot(driver: object, path: str | Path) -> Path:
    """Save a PNG of the whole page at ``path``: the window is made as tall as the page (same width, so
    the same layout), captured, then given back its size."""
    width = int(driver.execute_script("return window.innerWidth"))
    height = int(driver.execute_script("return document.documentElement.scrollHeight"))
    try:
        for _ in range(3):  # a taller window can change the page's height (100vh elements): settle
            driver.execute_cdp_cmd(
                "Emulation.setDeviceMetricsOverride",
                {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
            )
            new = int(driver.execute_script("return document.documentElement.scrollHeight"))
            if new <= height:
                break
            height = new
        shot = driver.execute_cdp_cmd("Page.captureScreenshot", {"format": "png"})
    finally:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(base64.b64decode(shot["data"]))
    return path


_REDIRECT_JS = "return !!document.querySelector('meta[http-equiv=\"refresh\" i]')"


def _inspect(driver: object, url: str, report: PageReport, timeout_s: float) -> None:
    """Load ``url``, let it settle and fill ``report`` with what the checks found."""
    driver.get(url)
    # A redirect page (index.html: meta refresh) moves on by itself: wait until the target has loaded.
    if driver.execute_script(_REDIRECT_JS):
        deadline = time.monotonic() + timeout_s
        while driver.current_url == url and time.monotonic() < deadline:
            time.sleep(0.05)
        loading = lambda: driver.execute_script("return document.readyState") != "complete"  # noqa: E731
        while loading() and time.monotonic() < deadline:
            time.sleep(0.05)
    report.mathjax = driver.execute_async_script(_SETTLE_JS, int(timeout_s * 1000))
    found = driver.execute_script(_CHECK_JS, list(COLUMN_SELECTORS))
    base = url.rsplit("/", 1)[0] + "/"
    report.requests, failed = _network_log(driver)
    report.external = [u for u in report.requests if not is_local_url(u)]
    report.failed = [f for f in failed if is_local_url(f.split(" (")[0])]
    report.images = len(found["images"])
    report.broken_images = [_short(i["src"], base) or "(no src)" for i in found["images"] if not i["ok"]]
    report.math, report.display_math = found["math"], found["display"]
    report.rendered_math, report.math_errors = found["rendered"], found["errors"]
    report.raw_tex, report.raw_markdown, report.overflow = found["raw"], found["rawMd"], found["overflow"]
    report.font_errors = found["fonts"]


def check_page(
    driver: object,
    url: str,
    page: str | None = None,
    screenshot_path: str | Path | None = None,
    block_external: bool = True,
    timeout_s: float = PAGE_TIMEOUT_S,
) -> PageReport:
    """Open ``url`` in ``driver`` (from ``open_browser``), wait for MathJax, images and fonts, run every
    check and save a full-page screenshot at ``screenshot_path`` (when given). A page that cannot be
    loaded or inspected (a timeout, a crashed tab) is reported in ``error``, not raised."""
    from selenium.common.exceptions import WebDriverException

    start = time.perf_counter()
    report = PageReport(page=page or url, url=url)
    driver.execute_cdp_cmd("Network.setBlockedURLs", {"urls": list(BLOCKED_URLS) if block_external else []})
    driver.get_log("performance")  # drop what earlier pages left
    driver.set_page_load_timeout(timeout_s)
    driver.set_script_timeout(timeout_s + 10)  # the settle script gives up by itself after timeout_s
    try:
        _inspect(driver, url, report, timeout_s)
        if screenshot_path is not None:
            report.screenshot = screenshot(driver, screenshot_path)
    except WebDriverException as e:  # a page that hangs or crashes the tab fails, the others go on
        report.error = f"{type(e).__name__}: {(e.msg or str(e)).strip().splitlines()[0]}"
    report.seconds = time.perf_counter() - start
    return report


def resolve_html_dir(build_dir: str | Path) -> Path:
    """The HTML folder of a book: ``build_dir/_build/html`` (a book root), ``build_dir/html`` (its
    ``_build``) or ``build_dir`` itself, whichever holds HTML pages first."""
    build_dir = Path(build_dir)
    for candidate in (build_dir / "_build" / "html", build_dir / "html", build_dir):
        if candidate.is_dir() and html_pages(candidate):
            return candidate
    raise FileNotFoundError(f"no built HTML book in {build_dir} (nor in its html/ or _build/html/)")


def check_book(
    html_dir: str | Path,
    screenshot_dir: str | Path | None = None,
    mode: str = "file",
    driver: object | None = None,
    echo: bool = False,
) -> list[PageReport]:
    """Check every page of the built book in ``html_dir`` (see ``check_page``); screenshots go to
    ``screenshot_dir`` (default: ``_build/screenshots`` beside ``_build/html``) as ``<page>.png``.

    ``mode`` is ``"file"`` (file:// URLs, external requests blocked and reported) or ``"http"`` (a local
    http.server on 127.0.0.1). ``driver``: reuse an open browser. ``echo``: print each page's line.
    """
    if mode not in ("file", "http"):
        raise ValueError(f"mode must be 'file' or 'http', got {mode!r}")
    html_dir = Path(html_dir).resolve()
    pages = html_pages(html_dir)
    if not pages:
        raise FileNotFoundError(f"no HTML pages in {html_dir}")
    shots = Path(screenshot_dir) if screenshot_dir is not None else html_dir.parent / "screenshots"
    reports = []
    with contextlib.ExitStack() as stack:
        if driver is None:
            driver = stack.enter_context(open_browser())
        base = stack.enter_context(serve(html_dir)) if mode == "http" else html_dir.as_uri() + "/"
        for page in pages:
            report = check_page(
                driver,
                base + page.as_posix(),
                page=page.as_posix(),
                screenshot_path=shots / page.with_suffix(".png"),
                block_external=mode == "file",
            )
            if echo:
                print(report.line(), flush=True)
            reports.append(report)
    return reports


# ---------------------------------------------------------------------------------------------- CLI


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m nbsrc.browser [BUILD_DIR]``: check every page of a built book in headless Chromium and
    save full-page screenshots; exits 1 when a check fails."""
    p = argparse.ArgumentParser(prog="python -m nbsrc.browser", description=main.__doc__)
    p.add_argument(
        "build_dir",
        nargs="?",
        default=str(ROOT / "_build" / "html"),
        help="the book's _build/html (or its root)",
    )
    p.add_argument(
        "--mode", choices=("file", "http"), default="file", help="file:// URLs or a 127.0.0.1 server"
    )
    p.add_argument("--screenshots", help="screenshot folder (default: _build/screenshots beside _build/html)")
    args = p.parse_args(argv)
    try:
        html_dir = resolve_html_dir(args.build_dir)
        start = time.perf_counter()
        reports = check_book(html_dir, args.screenshots, mode=args.mode, echo=True)
    except (FileNotFoundError, BrowserUnavailableError) as e:
        print(f"error: {e}")
        return 2
    failed = [r.page for r in reports if not r.ok]
    shots = Path(args.screenshots) if args.screenshots else html_dir.parent / "screenshots"
    verdict = f"{len(failed)} of {len(reports)} pages FAIL" if failed else f"all {len(reports)} pages pass"
    print(f"browser checks: {verdict} ({time.perf_counter() - start:.1f} s; screenshots in {shots})")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
