"""Users and sign-in (issue 9): the users file, lock-out, ``twin users add``, and a server with users over
REST and in headless Chromium."""
from __future__ import annotations

import base64
import json
import re
import ssl
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime, timedelta, timezone

import pytest
from bokeh.util.token import get_token_payload

from conftest import TWIN, needs_chromium
from live.clock import ManualClock
from live.config import LiveSpec
from live.runtime import Live
from test_web import READY, box_park
from twin import users
from twin.errors import InputError
from twin.roles import ROLES
from twin.users import UserBook, WeakPassword, hash_password, password_matches
from twin.web.access import Principal, Unauthenticated, audit_log
from twin.web.auth import SignIn
from twin.web.sessions import Sessions
from twin.web.server import BackgroundServer, check_address, check_tls

START = datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc)
PASSWORDS = {"ada": "Analytical-1843", "tom": "Tour-guide-2026", "mona": "Monitor-desk-7", "bob": "Wrong-guesses-9"}
ROLE_OF = {"ada": "admin", "tom": "tour", "mona": "monitor", "bob": "monitor"}


def book_with(path, clock: ManualClock | None = None) -> UserBook:
    book = UserBook(path, clock or ManualClock(START))
    for name, password in PASSWORDS.items():
        book.add(name, ROLE_OF[name], password)
    return book


# --- the users file --------------------------------------------------------------------------------
def test_a_password_is_kept_as_a_salted_scrypt_hash(tmp_path):
    stored = hash_password("Analytical-1843")
    assert stored.startswith("scrypt$16384$8$1$") and stored != hash_password("Analytical-1843")  # salted
    assert password_matches("Analytical-1843", stored) and not password_matches("analytical-1843", stored)
    book = UserBook(tmp_path / "users.toml")
    assert book.add("ada", "admin", "Analytical-1843", full_name="阿达") is True
    assert book.add("ada", "admin", "Analytical-1844") is False  # an update keeps the full name
    text = (tmp_path / "users.toml").read_text(encoding="utf-8")
    assert "Analytical" not in text and 'full_name = "阿达"' in text
    assert book.verify("ada", "Analytical-1843") is None
    principal = book.verify("ada", "Analytical-1844")
    assert (principal.name, principal.role, principal.permissions) == ("ada", "admin", ROLES["admin"])


@pytest.mark.parametrize("password, rule", [
    ("Ab1-short", "password: at least 10 characters (this one has 9)"),
    ("alllowercase-words", "password: at least 3 of upper case, lower case, digits and symbols "
                           "(this one has lower case and symbols)"),
    ("Xtomcat-2026!", "password: must not contain the user name"),
])
def test_each_broken_password_rule_is_one_line_naming_it(tmp_path, password, rule):
    with pytest.raises(WeakPassword) as error:
        UserBook(tmp_path / "users.toml").add("TomCat", "tour", password)
    assert str(error.value) == rule
    assert not (tmp_path / "users.toml").exists()


def test_an_unknown_role_or_a_bad_file_is_one_line_naming_it(tmp_path):
    with pytest.raises(InputError, match=r"^role 'guard': not a role \(one of tour, wall, monitor, commander, "
                                         r"maintainer, admin\)$"):
        UserBook(tmp_path / "users.toml").add("ada", "guard", "Analytical-1843")
    path = tmp_path / "typo.toml"
    path.write_text('[[users]]\nname = "ada"\nrole = "admin"\npassword = "Analytical-1843"\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"typo.toml: users\[0\].password: not a scrypt hash written by twin "
                                         r"users add$"):
        UserBook(path).users()


def test_five_failures_lock_the_user_for_15_minutes_even_across_a_restart(tmp_path):
    clock = ManualClock(START)
    book = book_with(tmp_path / "users.toml", clock)
    for _ in range(4):
        assert book.verify("bob", "guess", "10.0.0.7") is None
    clock.advance(16 * 60)  # those four are outside the window now
    assert book.verify("bob", "guess") is None and book.verify("bob", PASSWORDS["bob"]) is not None
    for _ in range(5):
        assert book.verify("bob", "guess", "10.0.0.7") is None
    assert book.verify("bob", PASSWORDS["bob"]) is None  # locked: the right password too
    restarted = UserBook(tmp_path / "users.toml", clock)
    assert restarted.verify("bob", PASSWORDS["bob"]) is None
    lockout = tmp_path / "users.lockout.json"
    assert json.loads(lockout.read_text())["bob"]["locked_until"] == "2026-03-02T08:31:00+00:00"
    clock.advance(15 * 60)
    assert restarted.verify("bob", PASSWORDS["bob"]).name == "bob"
    assert restarted.verify("nobody", "anything") is None and "nobody" not in lockout.read_text()


def test_twin_users_add_reads_the_password_from_standard_input(tmp_path, twin_home):
    path = tmp_path / "users.toml"

    def add(*args: str, password: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(TWIN), "users", "add", str(path), *args], input=password + "\n",
                              capture_output=True, text=True, timeout=120)

    done = add("mona", "--role", "monitor", "--full-name", "莫娜", password=PASSWORDS["mona"])
    assert done.returncode == 0 and done.stderr.strip() == f"{path}: added mona (monitor)"
    assert UserBook(path).verify("mona", PASSWORDS["mona"]).role == "monitor"
    weak = add("mona", "--role", "monitor", password="monitor")
    assert weak.returncode == 2
    assert weak.stderr.strip() == "twin: error: password: at least 10 characters (this one has 7)"
    role = add("mona", "--role", "boss", password=PASSWORDS["mona"])
    assert role.returncode == 2 and len(role.stderr.strip().splitlines()) == 1 and "'boss': not a role" in role.stderr


def test_twin_users_list_and_remove_and_each_change_is_audited(tmp_path, twin_home):
    path = tmp_path / "users.toml"

    def twin(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
        return subprocess.run([str(TWIN), "users", *args], input=stdin, capture_output=True, text=True, timeout=120)

    assert twin("add", str(path), "ada", "--role", "admin", stdin=PASSWORDS["ada"] + "\n").returncode == 0
    assert twin("add", str(path), "mona", "--role", "monitor", "--full-name", "莫娜",
                stdin=PASSWORDS["mona"] + "\n").returncode == 0
    listed = twin("list", str(path))
    assert listed.returncode == 0 and listed.stdout.splitlines() == ["ada\tadmin\t", "mona\tmonitor\t莫娜"]
    assert "scrypt" not in listed.stdout, "no hash is ever shown"
    removed = twin("remove", str(path), "mona")
    assert removed.returncode == 0 and removed.stderr.strip() == f"{path}: removed mona"
    assert twin("list", str(path)).stdout.splitlines() == ["ada\tadmin\t"]
    absent = twin("remove", str(path), "mona")
    assert absent.returncode == 2 and absent.stderr.strip() == f"twin: error: {path}: no user 'mona' (twin users list {path})"
    missing = twin("list", str(tmp_path / "nobody.toml"))
    assert missing.returncode == 2 and "no such users file" in missing.stderr
    changes = {(r["action"], r["target"], r["user"].startswith("cli:")) for action in ("users.add", "users.remove")
               for r in audit_log().query("", "", action=action, limit=10)}
    assert {("users.add", f"{path}:mona (monitor)", True), ("users.remove", f"{path}:mona", True)} <= changes


def test_a_sessions_role_is_the_users_file_s_and_a_removed_user_is_signed_out(tmp_path):
    clock = ManualClock(START)
    book = book_with(tmp_path / "users.toml", clock)
    sessions = Sessions(timedelta(minutes=15), clock, users=book.principal)
    token = sessions.open(book.principal("mona"))
    assert sessions.principal(token).role == "monitor"
    book.add("mona", "tour", PASSWORDS["mona"])  # a new role reaches the open session at its next use
    assert sessions.principal(token).role == "tour"
    book.remove("mona")
    assert not sessions.alive(token)
    with pytest.raises(Unauthenticated):
        sessions.principal(token)
    with pytest.raises(KeyError):
        book.remove("mona")


def test_serving_flags_are_checked_before_the_park_loads(tmp_path):
    check_address("0.0.0.0", users=True)
    with pytest.raises(InputError, match="loopback interface only until users exist"):
        check_address("0.0.0.0")
    with pytest.raises(InputError, match=r"^--tls-cert .*cert.pem: No such file or directory$"):
        check_tls(tmp_path / "cert.pem", tmp_path / "key.pem")
    (tmp_path / "cert.pem").write_text("not a certificate")
    (tmp_path / "key.pem").write_text("not a key")
    with pytest.raises(InputError, match="not a PEM certificate and its private key"):
        check_tls(tmp_path / "cert.pem", tmp_path / "key.pem")
    served = subprocess.run([str(TWIN), "serve", "scenes/demo", "--users", str(tmp_path / "none.toml")],
                            capture_output=True, text=True, timeout=120)
    assert served.returncode == 2 and served.stderr.strip() == (
        f"twin: error: --users {tmp_path / 'none.toml'}: no such file (add one: twin users add "
        f"{tmp_path / 'none.toml'} NAME --role admin)")


# --- a server with users -----------------------------------------------------------------------------
class Client:
    """HTTP against the server without following redirects: (status, headers, body)."""

    def __init__(self, url: str, context: ssl.SSLContext | None = None):
        self.url = url
        self.opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=context), NoRedirect())

    def __call__(self, path: str, headers: dict[str, str] | None = None,
                 form: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        return self.raw("POST" if data is not None else "GET", path, data, headers or {})

    def raw(self, method: str, path: str, data: bytes | None,
            headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        try:
            request = urllib.request.Request(self.url + path, data, headers, method=method)
            with self.opener.open(request, timeout=60) as r:
                return r.status, r.headers, r.read()
        except urllib.error.HTTPError as error:
            return error.code, error.headers, error.read()

    def token(self, name: str) -> str:
        status, _, body = self("/login", {"Accept": "application/json"}, {"name": name, "password": PASSWORDS[name]})
        assert status == 200, body
        return json.loads(body)["token"]


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def basic(name: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{name}:{password}".encode()).decode()}


@pytest.fixture(scope="module")
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture(scope="module")
def server(twin_home, tmp_path_factory, clock):
    """The box park with a (not started) live side, for the users of :data:`PASSWORDS`."""
    folder = tmp_path_factory.mktemp("users")
    park = box_park()
    live = Live(park, LiveSpec(), broker_url="mqtt://127.0.0.1:1", folder=folder / "live", clock=ManualClock(START))
    sign_in = SignIn(book_with(folder / "users.toml", clock), clock=clock, watch_s=1)
    try:
        with BackgroundServer(park, live=live, sign_in=sign_in) as running:
            yield running
    finally:
        live.history.close()


@pytest.fixture(scope="module")
def client(server) -> Client:
    return Client(server.url)


def logins() -> list[tuple[str, str, str]]:
    return [(r["user"], r["target"], r["outcome"]) for r in audit_log().query("", "", action="login", limit=100)]


def test_rest_without_valid_credentials_is_401_with_a_basic_challenge(client):
    for headers in ({}, basic("ada", "wrong password"), basic("nobody", "Analytical-1843"),
                    {"Authorization": "Bearer not-a-session"}, {"Authorization": "Basic %%%"}):
        status, answer, body = client("/api/state/ifc:hall", headers)
        assert status == 401 and answer["WWW-Authenticate"] == 'Basic realm="twin"', headers
        assert list(json.loads(body)) == ["error"] and len(json.loads(body)["error"].splitlines()) == 1
    assert client("/geometry/" + "0" * 16 + ".bin")[0] == 401
    assert client("/healthz")[0] == 200  # probes need no sign-in
    assert ("ada", "basic", "denied") in logins() and ("nobody", "basic", "denied") in logins()


def test_the_role_decides_what_a_signed_in_user_may_read(client):
    assert client("/api/state/ifc:hall", basic("tom", PASSWORDS["tom"]))[0] == 403
    assert client("/api/scene", basic("tom", PASSWORDS["tom"]))[0] == 200
    status, _, body = client("/api/state/ifc:hall", basic("ada", PASSWORDS["ada"]))
    assert status == 200 and json.loads(body)["id"] == "ifc:hall"
    bearer = {"Authorization": "Bearer " + client.token("mona")}
    assert client("/api/state/ifc:hall", bearer)[0] == 200 and client("/api/audit", bearer)[0] == 403
    assert ("ada", "basic", "allowed") in logins() and ("mona", "form", "allowed") in logins()


def test_a_password_being_checked_holds_up_no_other_request(client, monkeypatch):
    """Passwords are checked off the event loop: while a Basic sign-in's hash is computed (made slow
    here), the server answers everything else."""
    slow_s, checking = 3.0, threading.Event()

    def slow_match(password: str, hashed: str) -> bool:
        checking.set()
        time.sleep(slow_s)
        return password_matches(password, hashed)

    monkeypatch.setattr(users, "password_matches", slow_match)
    answers: list[int] = []
    tom = basic("tom", PASSWORDS["tom"])
    signing_in = threading.Thread(target=lambda: answers.append(client("/api/scene", tom)[0]))
    signing_in.start()
    assert checking.wait(10)
    asked = time.monotonic()
    assert client("/healthz")[0] == 200
    waited_s = time.monotonic() - asked
    signing_in.join()
    assert answers == [200] and waited_s < slow_s / 2, f"/healthz waited {waited_s:.1f} s for the password check"


def test_the_login_form_sets_a_strict_http_only_cookie_and_goes_back_where_it_was_asked(client):
    status, headers, _ = client("/command")
    assert status == 302 and headers["Location"] == "./login?next=%2Fcommand"
    status, headers, _ = client("/login", form={"name": "mona", "password": PASSWORDS["mona"], "next": "/command"})
    cookie = headers["Set-Cookie"]
    assert status == 302 and headers["Location"] == "/command"
    assert cookie.startswith("twin_session=") and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert "Secure" not in cookie  # not over plain HTTP
    session = {"Cookie": cookie.split(";")[0]}
    status, _, page = client("/command", session)
    bokeh_token = json.loads(re.search(rb'"token":\s*("[^"]+")', page)[1])  # what the page's script can read
    payload = get_token_payload(bokeh_token)
    assert status == 200 and "twin_session" not in json.dumps(payload) and "Cookie" not in payload["headers"]
    assert client("/api/state/ifc:hall", session)[0] == 200
    assert client("/login", form={"name": "mona", "password": PASSWORDS["mona"], "next": "//evil.example"})[1][
        "Location"] == "/"
    assert client("/logout", session)[0] == 302 and client("/api/state/ifc:hall", session)[0] == 401


def test_a_session_unused_for_the_idle_timeout_ends(client, clock):
    used, idle = ({"Authorization": "Bearer " + client.token(name)} for name in ("mona", "tom"))
    clock.advance(14 * 60)
    assert client("/api/scene", used)[0] == 200
    clock.advance(14 * 60)  # 28 minutes for tom's session, 14 since mona's was last used
    assert client("/api/scene", used)[0] == 200 and client("/api/scene", idle)[0] == 401
    clock.advance(15 * 60)
    assert client("/api/scene", used)[0] == 401


def test_tls_serves_https_with_a_secure_cookie(tmp_path, twin_home, clock):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "1", "-subj", "/CN=twin", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=60)
    sign_in = SignIn(book_with(tmp_path / "users.toml", clock), clock=clock, secure=True)
    with BackgroundServer(box_park(), sign_in=sign_in, tls=check_tls(cert, key)) as running:
        assert running.url.startswith("https://")
        client = Client(running.url, ssl.create_default_context(cafile=cert))
        assert client("/api/scene")[0] == 401
        status, headers, _ = client("/login", form={"name": "tom", "password": PASSWORDS["tom"]})
        assert status == 302 and "Secure" in headers["Set-Cookie"]


@needs_chromium
@pytest.mark.browser
def test_the_app_asks_to_sign_in_and_leaves_when_the_session_ends(browser, server, clock):
    page = browser.new_page()
    try:
        page.goto(server.url + "/")
        page.wait_for_url("**/login?next=%2F")
        page.fill("#name", "mona")
        page.fill("#password", "not her password")
        page.click("button[type=submit]")
        errors = page.locator(".twin-error")
        assert errors.count() == 1 and "Wrong user name or password" in errors.inner_text()
        assert "\n" not in errors.inner_text().strip()
        page.fill("#password", PASSWORDS["mona"])
        page.click("button[type=submit]")
        page.wait_for_selector(READY, state="attached", timeout=60_000)
        assert page.url == server.url + "/"
        assert audit_log().query("", "", user="mona", action="page.workstation", limit=1)  # the session is hers
        clock.advance(16 * 60)  # the open page notices within watch_s and goes back to the form
        page.wait_for_url("**/login", timeout=15_000)
    finally:
        page.close()


def test_sessions_outlive_a_restart_and_only_the_wall_never_idles_out(tmp_path):
    clock, journal = ManualClock(START), tmp_path / "users.sessions.json"
    sessions = Sessions(timedelta(minutes=15), clock, journal)
    wall = sessions.open(Principal("screen-1", ROLES["wall"], "wall"))
    monitor = sessions.open(Principal("li", ROLES["monitor"], "monitor"))
    assert wall not in journal.read_text() and monitor not in journal.read_text(), "only digests are kept"
    restarted = Sessions(timedelta(minutes=15), clock, journal)
    assert restarted.principal(monitor).name == "li" and restarted.principal(wall).role == "wall"
    clock.advance(3600 * 24)
    assert restarted.principal(wall).name == "screen-1", "the unattended wall stays signed in"
    with pytest.raises(Unauthenticated):
        restarted.principal(monitor)
    restarted.close(wall)
    with pytest.raises(Unauthenticated):
        Sessions(timedelta(minutes=15), clock, journal).principal(wall)
