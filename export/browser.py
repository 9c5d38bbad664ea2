"""A static HTTP server on 127.0.0.1 and Debian's headless Chromium, for the latent explorer's
tests and benchmark (not used by the export itself).

    with serve(folder) as base_url, headless_chromium(scratch_dir) as driver:
        driver.get(base_url + "/tflite/")

Chromium runs as root here, so with --no-sandbox, and with every background connection off
(the machines' closed network refuses them); its profile, caches, crash dumps and HOME all
live in `scratch_dir`, so a run leaves nothing in ~ or /tmp. Nothing is downloaded: the
browser and its driver come from Debian's `chromium` and `chromium-driver` packages
(`scripts/install.sh test` installs them), and Selenium is pointed at both, so its
Selenium Manager never looks for others.
"""

import contextlib
import functools
import http.server
import os
import shutil
import tempfile
import threading

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--disable-dev-shm-usage",
    "--window-size=1100,700",
)


class BrowserMissing(RuntimeError):
    """Chromium, chromedriver or selenium is not installed."""


def require_browser():
    """Raises BrowserMissing with the install command unless Chromium, chromedriver and selenium are there."""
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not shutil.which(path)]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("the Python package selenium")
    if missing:
        raise BrowserMissing(
            f"The browser tests need {', '.join(missing)}: run `bash scripts/install.sh test` "
            "(apt-get install chromium chromium-driver; pip install '.[test]')."
        )


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map, ".wasm": "application/wasm",
                      ".js": "text/javascript", ".mjs": "text/javascript"}

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass


@contextlib.contextmanager
def serve(folder):
    """Serves `folder` on 127.0.0.1 at an ephemeral port in a thread; yields the base URL.

    The same server `python -m http.server` is (http.server's SimpleHTTPRequestHandler), so
    the tests see what a user serving the export folder sees.

    Example:
    >>> import pathlib, tempfile, urllib.request
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "index.html").write_text("<p>explorer</p>")
    >>> with serve(folder) as url:
    ...     urllib.request.urlopen(url + "/index.html").read()
    b'<p>explorer</p>'
    """
    handler = functools.partial(_QuietHandler, directory=os.fspath(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@contextlib.contextmanager
def headless_chromium(scratch_dir, script_timeout=120):
    """Starts Debian's headless Chromium through chromedriver; yields the Selenium driver.

    Args:
        scratch_dir: str or Path. Chromium's profile, caches, crash dumps and HOME go here.
        script_timeout: float, default 120. Seconds an `execute_async_script` may take.
    """
    require_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    scratch_dir = os.fspath(scratch_dir)
    home = os.path.join(scratch_dir, "home")
    for sub in ("profile", "cache", "crash", "home"):
        os.makedirs(os.path.join(scratch_dir, sub), exist_ok=True)
    # Chromium puts its singleton socket in TMPDIR, and a Unix socket path has at most 107
    # bytes: under a deeply nested scratch_dir (CI's private TMPDIR, then pytest's) Chromium
    # exits at start. A short private folder in /tmp, removed when the browser quits, instead.
    socket_dir = tempfile.mkdtemp(prefix="kvae-chromium-", dir="/tmp")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={os.path.join(scratch_dir, 'profile')}")
    options.add_argument(f"--disk-cache-dir={os.path.join(scratch_dir, 'cache')}")
    options.add_argument(f"--crash-dumps-dir={os.path.join(scratch_dir, 'crash')}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    env = dict(
        os.environ, HOME=home, TMPDIR=socket_dir,
        XDG_CONFIG_HOME=os.path.join(home, ".config"), XDG_CACHE_HOME=os.path.join(home, ".cache"),
        SE_OFFLINE="true", SE_CACHE_PATH=os.path.join(scratch_dir, "selenium"),
    )
    service = Service(executable_path=CHROMEDRIVER, env=env, log_output=os.path.join(scratch_dir, "chromedriver.log"))
    try:
        driver = webdriver.Chrome(service=service, options=options)
        try:
            driver.set_script_timeout(script_timeout)
            yield driver
        finally:
            driver.quit()
    finally:
        shutil.rmtree(socket_dir, ignore_errors=True)


def wait_for_page(driver, timeout=120):
    """Waits until the explorer finished loading; returns its state ("ready" or "error") and status text."""
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, timeout).until(
        lambda d: d.execute_script("return document.body && document.body.dataset.state") in ("ready", "error")
    )
    return driver.execute_script("return [document.body.dataset.state, document.getElementById('status').textContent]")


def show(driver, z, variant, label=None):
    """Decodes one latent vector in the page (window.explorer.show); returns lastDecode or {"error": ...}."""
    return driver.execute_async_script(
        """
        const [z, variant, label, done] = arguments;
        window.explorer.show(z, {variant, label: label === null ? undefined : label})
          .then(done, (e) => done({error: String(e && e.message || e)}));
        """,
        list(map(float, z)), variant, label,
    )
