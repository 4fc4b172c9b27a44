"""Sign-in for the browser tests: a real OpenID Connect provider on loopback (the
``oidc-provider-mock`` package, a Flask app served here on a free 127.0.0.1 port) and an app
server whose secrets point Streamlit's ``st.login`` at it, with ``[roles]`` for the test addresses.

The provider issues real signed ID tokens; a test signs in by typing an address on its authorize
form, exactly as a member of staff would type theirs at Microsoft or Google. The secrets live in a
temporary file passed to ``streamlit run --secrets.files``, never in the repository's ``.streamlit/``.

>>> print(secrets_toml(8600, "http://127.0.0.1:9400", {"@x.sch.uk": "governor"}, cookie_secret="c" * 8))
[auth]
redirect_uri = "http://127.0.0.1:8600/oauth2callback"
cookie_secret = "cccccccc"
client_id = "engagement-browser-tests"
client_secret = "not-a-secret"
server_metadata_url = "http://127.0.0.1:9400/.well-known/openid-configuration"
<BLANKLINE>
[roles]
"@x.sch.uk" = "governor"
<BLANKLINE>
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from . import harness as h

CLIENT_ID = "engagement-browser-tests"


@dataclass
class Provider:
    """The running OpenID provider."""

    url: str

    @property
    def metadata_url(self) -> str:
        return f"{self.url}/.well-known/openid-configuration"

    def set_user(self, email: str, **claims) -> None:
        """Give the provider an account whose subject and email are ``email`` (plus ``claims``)."""
        import httpx

        response = httpx.put(f"{self.url}/users/{quote(email)}", json={"email": email, **claims}, timeout=10)
        response.raise_for_status()


@contextmanager
def run_provider() -> Iterator[Provider]:
    """The provider on a free loopback port for the length of the block."""
    import oidc_provider_mock
    import werkzeug.serving

    # The provider is plain http on loopback; Authlib refuses that unless told it is a test.
    previous = os.environ.get("AUTHLIB_INSECURE_TRANSPORT")
    os.environ["AUTHLIB_INSECURE_TRANSPORT"] = "1"

    class Quiet(werkzeug.serving.WSGIRequestHandler):
        def log_request(self, *args) -> None:  # one line per request would bury the test's output
            pass

    server = werkzeug.serving.make_server(
        "127.0.0.1", 0, oidc_provider_mock.app(), threaded=True, request_handler=Quiet
    )
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        yield Provider(f"http://127.0.0.1:{server.server_port}")
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
        if previous is None:
            os.environ.pop("AUTHLIB_INSECURE_TRANSPORT", None)
        else:
            os.environ["AUTHLIB_INSECURE_TRANSPORT"] = previous


def _toml_string(text: str) -> str:
    return json.dumps(text)  # a JSON string of printable text is a TOML basic string


def _toml_value(value) -> str:
    """A role, or a grant ``{"role": ..., "schools": [...]}`` as a TOML inline table."""
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {json.dumps(v)}" for k, v in value.items()) + " }"
    return _toml_string(value)


def secrets_toml(app_port: int, provider_url: str, roles: dict, cookie_secret: str | None = None) -> str:
    """The secrets of an app on ``app_port`` signing in through ``provider_url``."""
    auth = {
        "redirect_uri": f"http://127.0.0.1:{app_port}/oauth2callback",
        "cookie_secret": cookie_secret or secrets.token_urlsafe(32),
        "client_id": CLIENT_ID,
        "client_secret": "not-a-secret",
        "server_metadata_url": f"{provider_url}/.well-known/openid-configuration",
    }
    lines = [
        "[auth]",
        *(f"{k} = {_toml_string(v)}" for k, v in auth.items()),
        "",
        "[roles]",
        *(f"{_toml_string(k)} = {_toml_value(v)}" for k, v in roles.items()),
        "",
    ]
    return "\n".join(lines)


def start_signin_server(
    log_path: Path,
    secrets_path: Path,
    provider: Provider,
    roles: dict,
    env: dict[str, str] | None = None,
    timeout: float = 60.0,
    attempts: int = 3,
) -> h.AppServer:
    """``streamlit run app.py`` with sign-in configured. The redirect URI names the app's port, so
    the port is chosen here, before the secrets are written (the harness chooses its own)."""
    log_path = h.worker_file(log_path)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    full_env = {**os.environ, **(env or {}), "AUTHLIB_INSECURE_TRANSPORT": "1"}
    last_error = ""
    for _ in range(attempts):
        port = h.free_port()
        secrets_path.parent.mkdir(parents=True, exist_ok=True)
        secrets_path.write_text(secrets_toml(port, provider.url, roles))
        command = [
            h._python(),
            "-m",
            "streamlit",
            "run",
            "app.py",
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
            "--server.headless",
            "true",
            "--secrets.files",
            str(secrets_path),
        ]
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                command,
                cwd=h.PROJECT_DIR,
                env=full_env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        server = h.AppServer(process, port, log_path)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and process.poll() is None:
            if h._healthy(server.url):
                return server
            time.sleep(0.2)
        server.stop()
        last_error = server.log_tail()
        if "address already in use" not in last_error.lower():
            break
    raise RuntimeError(f"the signed-in app did not become healthy within {timeout:.0f} s; its log ends:\n{last_error}")


@dataclass
class ProviderTraffic:
    """Requests the browser made to the provider, or from the provider's own pages (its form pulls
    a stylesheet from a CDN, aborted like every outside request): the provider's business, not the
    app's, so they are taken out of the visit's outside requests."""

    provider_url: str
    urls: list[str] = field(default_factory=list)

    def note(self, request) -> None:
        try:
            frame_url = request.frame.url
        except Exception:
            frame_url = ""
        if request.url.startswith(self.provider_url) or frame_url.startswith(self.provider_url):
            self.urls.append(request.url)


def allow_provider(record: h.Visit, page, provider: Provider) -> ProviderTraffic:
    """Let the browser of a harness visit reach the provider (and only it, besides the app)."""
    traffic = ProviderTraffic(provider.url)
    h.allow_origin(record, provider.url)
    page.context.on("request", traffic.note)
    return traffic


def forget_provider_traffic(record: h.Visit, traffic: ProviderTraffic) -> None:
    """Take the provider's requests out of the record before its problems are judged."""
    mine = set(traffic.urls)
    record.outside = [url for url in record.outside if url not in mine]
    record.console_errors = [
        e for e in record.console_errors if not any(url in e for url in mine) and traffic.provider_url not in e
    ]


def sign_in(page, email: str, app_url: str) -> None:
    """From the app's sign-in prompt, through the provider's authorize form, back to the app."""
    page.get_by_role("button", name="Sign in").click()
    page.get_by_placeholder("sub").wait_for(timeout=30_000)
    page.get_by_placeholder("sub").fill(email)
    page.get_by_role("button", name="Authorize").click()
    page.wait_for_url(
        lambda url: url.startswith(app_url) and "/oauth2callback" not in url and "/auth/" not in url, timeout=30_000
    )
    h.wait_ready(page)
