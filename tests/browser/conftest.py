"""Real-browser harness: JupyterLab on 127.0.0.1 driven by Playwright in Debian's chromium.

Session fixtures start one JupyterLab server (random free port, random token, a temp copy of
notebooks/ with ../data kept reachable through a symlink) and one headless chromium; every test
gets a fresh browser context and, through ``LabPage.open_fresh``, a fresh kernel on a fresh,
output-free copy of the notebook it drives.

The browser tests skip (never fail) when Playwright or the chromium binary is missing:
``make test`` installs Debian's chromium when it runs as root with apt-get (CI), a developer
laptop without it just sees the skip reason.  Set PEXTLAB_CHROMIUM to use another binary.
Screenshots and the server/console logs go to build/test-output/browser/.
"""
from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
OUT_DIR = REPO / "build" / "test-output" / "browser"
CHROMIUM = os.environ.get("PEXTLAB_CHROMIUM") or "/usr/bin/chromium"

# Playwright adds --headless itself.  --no-sandbox: CI runs as root.
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--no-proxy-server",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1280, "height": 1400}
STEP_TIMEOUT_MS = 30_000  # default Playwright timeout per action

# User settings for the temp server: no news/update toast over the widgets, no "Select Kernel"
# dialog (start the notebook's own kernel), and no notebook windowing (JupyterLab 4
# virtualises off-screen cells, which hides widgets from Playwright).
USER_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {
        "windowingMode": "none",
        "autoStartDefaultKernel": True,
    },
}


def browser_skip_reason() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright (Python) is not installed: pip install -e '.[test]'"
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        return (
            f"no chromium at {CHROMIUM}: `make test` installs Debian's chromium only when run as "
            "root with apt-get; install it (apt-get install chromium) or set PEXTLAB_CHROMIUM"
        )
    try:
        import jupyterlab  # noqa: F401
    except ImportError:
        return "jupyterlab is not installed: pip install -e '.[test]'"
    return None


# --------------------------------------------------------------------------------------------
# output folder


@pytest.fixture(scope="session")
def shots_dir() -> Path:
    """build/test-output/browser/, emptied once per session so screenshots are never stale."""
    if OUT_DIR.exists():
        shutil.rmtree(OUT_DIR)
    OUT_DIR.mkdir(parents=True)
    return OUT_DIR


# --------------------------------------------------------------------------------------------
# JupyterLab server


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LabServer:
    """A JupyterLab process on 127.0.0.1 serving ``notebooks`` (a temp dir)."""

    def __init__(self, state: Path, notebooks: Path, log_path: Path):
        self.state = state
        self.notebooks = notebooks
        self.log_path = log_path
        self.token = secrets.token_hex(16)
        self.proc: subprocess.Popen | None = None
        self.port = 0
        # Talk to 127.0.0.1 directly even when CI exports http_proxy for the registries.
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 90.0) -> None:
        for attempt in range(3):  # a free port can be taken between probe and bind
            self.port = _free_port()
            if self._start_once(timeout):
                return
            self.stop()
        raise RuntimeError(f"JupyterLab did not start; log:\n{self.log_tail()}")

    def _start_once(self, timeout: float) -> bool:
        settings = self.state / "user-settings"
        for name, value in USER_SETTINGS.items():
            f = settings / name  # <settings>/@jupyterlab/<extension>/<plugin>.jupyterlab-settings
            f.parent.mkdir(parents=True, exist_ok=True)
            f.write_text(json.dumps(value))
        env = dict(os.environ)
        env.update(
            JUPYTER_CONFIG_DIR=str(self.state / "config"),
            JUPYTER_RUNTIME_DIR=str(self.state / "runtime"),
            IPYTHONDIR=str(self.state / "ipython"),
            JUPYTER_PLATFORM_DIRS="1",
            PYTHONUNBUFFERED="1",
            JUPYTER_DATA_DIR=str(self.state / "data"),  # kernelspecs still come from sys.prefix
        )
        env.pop("MPLBACKEND", None)  # the kernel must pick matplotlib-inline, as for a user
        cmd = [
            sys.executable, "-m", "jupyterlab",
            "--ServerApp.open_browser=False",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={self.port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={self.notebooks}",
            "--LabApp.news_url=None",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            f"--LabApp.user_settings_dir={settings}",
            f"--LabApp.workspaces_dir={self.state / 'workspaces'}",
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            cmd.append("--allow-root")
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            cmd, cwd=self.notebooks, env=env, stdin=subprocess.DEVNULL,
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                if self.api("GET", "/api/status", timeout=2) is not None:
                    return True
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            time.sleep(0.2)
        return False

    def api(self, method: str, path: str, timeout: float = 10.0):
        req = urllib.request.Request(
            self.base_url + path, method=method,
            headers={"Authorization": f"token {self.token}"},
        )
        with self._opener.open(req, timeout=timeout) as r:
            body = r.read()
        return json.loads(body) if body else {}

    def delete_sessions(self) -> None:
        """Shut down every session and kernel, so the next notebook opened gets a fresh one."""
        for s in self.api("GET", "/api/sessions"):
            self.api("DELETE", f"/api/sessions/{s['id']}")
        for k in self.api("GET", "/api/kernels"):
            self.api("DELETE", f"/api/kernels/{k['id']}")

    def log_tail(self, n: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def stop(self) -> None:
        """Stop the server and everything it started (kernels run in their own sessions)."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        try:
            import psutil
            children = psutil.Process(proc.pid).children(recursive=True)
        except Exception:  # psutil missing, or the server already exited
            children = []
        if proc.poll() is None:
            try:
                self.delete_sessions()
            except Exception:
                pass
            proc.send_signal(signal.SIGTERM)  # jupyter_server shuts its kernels down, then exits
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        for c in children:
            try:
                if c.is_running():
                    c.kill()
            except Exception:
                pass


@pytest.fixture(scope="session")
def lab_server(tmp_path_factory, request):
    reason = browser_skip_reason()
    if reason:
        pytest.skip(reason)
    shots_dir = request.getfixturevalue("shots_dir")
    top = tmp_path_factory.mktemp("jlab")
    # top/notebooks is a copy of the repo's notebooks, top/data -> repo data, so a notebook's
    # ../data/real-kernel keeps working and the tracked notebooks are never modified.
    notebooks = top / "notebooks"
    notebooks.mkdir()
    for nb in sorted((REPO / "notebooks").glob("*.ipynb")):
        shutil.copy2(nb, notebooks / nb.name)
    (top / "data").symlink_to(REPO / "data", target_is_directory=True)
    state = top / "state"
    state.mkdir()
    server = LabServer(state, notebooks, shots_dir / "jupyterlab.log")
    t0 = time.monotonic()
    server.start()
    with open(shots_dir / "timings.txt", "a") as f:
        f.write(f"jupyterlab server ready: {time.monotonic() - t0:.1f}s\n")
    yield server
    server.stop()


# --------------------------------------------------------------------------------------------
# browser


@pytest.fixture(scope="session")
def chromium(lab_server):
    from playwright.sync_api import sync_playwright

    pw = sync_playwright().start()
    try:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
    except Exception:
        pw.stop()
        raise
    yield browser
    browser.close()
    pw.stop()


def strip_outputs(src: Path, dst: Path) -> None:
    """Copy a notebook without stored outputs or widget state, so any widget or plot seen in
    the browser comes from this run's kernel and not from what was saved last time."""
    import nbformat

    nb = nbformat.read(src, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    nb.metadata.pop("widgets", None)
    nbformat.write(nb, dst)


class LabPage:
    """One Playwright page on the temp JupyterLab, with the few verbs the tests need."""

    def __init__(self, server: LabServer, page, shots: Path, prefix: str):
        self.server = server
        self.page = page
        self.shots = shots
        self.prefix = prefix
        self.console: list[str] = []
        self.name = ""
        self.open_seconds = 0.0
        page.on("console", lambda m: self.console.append(f"{m.type}: {m.text}"))
        page.on("pageerror", lambda e: self.console.append(f"pageerror: {e}"))
        page.on("request", lambda r: r.method not in ("GET", "HEAD") and self.console.append(
            f"request: {r.method} {r.url.split('?')[0]}"))
        page.set_default_timeout(STEP_TIMEOUT_MS)

    def open_fresh(self, source: Path, name: str) -> None:
        """Shut down all kernels, copy ``source`` output-free to ``name`` in the server's
        notebook dir, open it and wait for its (new) kernel to be idle."""
        t0 = time.monotonic()
        self.server.delete_sessions()
        self.name = name
        strip_outputs(source, self.server.notebooks / name)
        # A workspace of its own, so JupyterLab does not restore (and start kernels for) the
        # notebooks an earlier test left open in the default workspace.
        workspace = re.sub(r"[^A-Za-z0-9-]+", "-", name)
        self.page.goto(
            f"{self.server.base_url}/lab/workspaces/{workspace}/tree/{name}"
            f"?reset&token={self.server.token}",
            wait_until="domcontentloaded",
        )
        # The toolbar indicator says "idle" before the kernel is even up; running cells then
        # races the kernel start.  Wait for the server to see this page connected to an idle
        # kernel of this notebook, then for the page to agree.
        deadline = time.monotonic() + 60
        while True:
            ready = [
                s for s in self.server.api("GET", "/api/sessions")
                if s.get("path") == name and s.get("kernel")
                and s["kernel"].get("connections", 0) >= 1
                and s["kernel"].get("execution_state") == "idle"
            ]
            if ready:
                break
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"no idle kernel connected for {name}; server log:\n{self.server.log_tail()}"
                )
            time.sleep(0.2)
        self.page.wait_for_selector(
            '.jp-Notebook-ExecutionIndicator[data-status="idle"]', timeout=60_000
        )
        self.open_seconds = time.monotonic() - t0

    def kernel_idle(self) -> bool:
        """The server's view of this notebook's kernel (it follows the kernel's status messages,
        so it stays "busy" while a widget callback runs)."""
        return any(
            s.get("path") == self.name and s.get("kernel")
            and s["kernel"].get("execution_state") == "idle"
            for s in self.server.api("GET", "/api/sessions")
        )

    def run_all(self) -> None:
        page = self.page
        dialog = page.locator(".jp-Dialog", has_text="Select Kernel")
        if dialog.count():  # should not happen with autoStartDefaultKernel; accept the default
            dialog.locator(".jp-mod-accept").click()
            page.wait_for_selector('.jp-Notebook-ExecutionIndicator[data-status="idle"]')
        page.locator("#jp-MainMenu .lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
        page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()

    def shot(self, step: str, locator=None) -> Path:
        path = self.shots / f"{self.prefix}-{step}.png"
        if locator is not None:
            locator.screenshot(path=str(path))
        else:
            self.page.screenshot(path=str(path))
        return path

    def dump_console(self) -> None:
        if self.console:
            (self.shots / f"{self.prefix}-console.log").write_text("\n".join(self.console) + "\n")


@pytest.fixture
def lab_page(request, lab_server, chromium, shots_dir):
    """A fresh browser context on the temp JupyterLab; named after the test (and its params)."""
    prefix = re.sub(r"[^A-Za-z0-9_.-]+", "-", request.node.name).strip("-")
    context = chromium.new_context(viewport=VIEWPORT)
    lp = LabPage(lab_server, context.new_page(), shots_dir, prefix)
    try:
        yield lp
    finally:
        lp.dump_console()
        rep = getattr(request.node, "rep_call", None)
        if rep is not None and rep.failed:
            try:
                lp.shot("FAILED")  # the whole window, for the post-mortem
            except Exception:
                pass
        context.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    rep = yield
    if rep.when == "call":
        item.rep_call = rep
    return rep
