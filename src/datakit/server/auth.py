"""Who may act on `datakit serve`'s pages: logins, sessions, CSRF tokens, and throttled guessing.

The pages that only read stay open on a loopback address; every action (a POST) needs a user logged in
with a password or token from the secrets mapping (`serve.users` in datakit.yaml), or `--auth none`,
which only a loopback address accepts. On any other address every page needs a login.

- **Sessions** live in this process's memory, keyed by a random 256-bit id in an HttpOnly, SameSite=Strict
  cookie: a restart logs everyone out, and nothing a client holds can be forged or replayed elsewhere.
  Their number is bounded (the oldest goes first).
- **CSRF.** Every form carries a token, the HMAC (with a key made at start) of a random per-browser
  cookie nonce and the session id: a page of another site can neither read it nor make it, and a
  token stolen from one session is useless in another. A POST whose token does not match is refused,
  and so is one whose Origin header names another site.
- **Guessing** is throttled per client address: after `MAX_FAILURES` failed logins within `WINDOW`
  seconds, logins from that address are refused until the window has passed. Passwords are compared
  in constant time, and a wrong user name costs the same comparison as a wrong password.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from pydantic import SecretStr
from starlette.requests import Request
from starlette.responses import Response

from datakit.config.project import Project
from datakit.connectors.from_config import project_secrets
from datakit.errors import DatakitError, SecretError

SESSION_COOKIE = "datakit_session"
NONCE_COOKIE = "datakit_nonce"
MAX_SESSIONS = 1000
MAX_FAILURES = 5
WINDOW = 300.0
_MAX_CLIENTS = 10_000  # failure records kept (oldest forgotten first)
LOCAL_USER = "local"
"""The actor of actions under `--auth none`, with the client's address."""


def is_loopback(host: str) -> bool:
    """Whether `host` (an address to bind, or `localhost`) is reachable from this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class Session:
    id: str
    user: str
    expires_at: float


@dataclass(frozen=True)
class AuthPolicy:
    """What the server asks of a visitor: `users` (name -> secret) may log in; with `none`, anyone on
    this machine may act without one; `pages_need_login` when the server listens beyond loopback."""

    users: Mapping[str, SecretStr]
    none: bool = False
    pages_need_login: bool = False
    session_seconds: float = 12 * 3600.0

    @property
    def can_act(self) -> bool:
        return self.none or bool(self.users)


def auth_policy(project: Project, host: str, *, auth: str = "users") -> AuthPolicy:
    """The policy for serving `project` on `host`; refuses what would leave actions or pages open to
    the network: `--auth none` beyond loopback, or no users there. A user whose secret is not set
    refuses the start (naming each)."""
    settings = project.config.serve
    loopback = is_loopback(host)
    if auth not in ("users", "none"):
        raise DatakitError(f"unknown --auth {auth!r}", hint="one of: users, none")
    if auth == "none":
        if not loopback:
            raise DatakitError(
                f"--auth none is refused on {host}: anyone who can reach it could start and cancel runs",
                hint="listen on 127.0.0.1, or log users in (serve.users in datakit.yaml)",
            )
        return AuthPolicy({}, none=True)
    if not loopback and not settings.users:
        raise DatakitError(
            f"refusing to listen on {host} without a login: the pages would be open to the network",
            hint="add serve.users (a name and a secret_key each) to datakit.yaml, or listen on 127.0.0.1",
        )
    resolved = project_secrets(project)
    users: dict[str, SecretStr] = {}
    problems: list[str] = []
    for user in settings.users:
        try:
            value = resolved.resolve(user.secret_key)
        except SecretError as exc:
            problems.append(f"user {user.name!r}: {exc}")
            continue
        if value is None or len(value.get_secret_value()) < 8:
            var = resolved.env_var(user.secret_key) or "its variable"
            problems.append(
                f"user {user.name!r}: secret {user.secret_key!r} is unset or shorter than 8 characters "
                f"({var})"
            )
            continue
        users[user.name] = value
    if problems:
        raise DatakitError(
            "cannot log users in without their secrets:\n  " + "\n  ".join(problems),
            hint="set the variables, or remove those users from serve.users",
        )
    return AuthPolicy(users, pages_need_login=not loopback, session_seconds=settings.session_hours * 3600)


@dataclass
class Throttle:
    """Failed logins per client address within a sliding window."""

    max_failures: int = MAX_FAILURES
    window: float = WINDOW
    clock: Callable[[], float] = time.monotonic
    _failures: OrderedDict[str, deque[float]] = field(default_factory=OrderedDict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def blocked_for(self, client: str) -> float:
        """Seconds until `client` may try again (0: now)."""
        with self._lock:
            recent = self._recent(client)
            if len(recent) < self.max_failures:
                return 0.0
            return max(recent[0] + self.window - self.clock(), 0.0)

    def failed(self, client: str) -> None:
        with self._lock:
            self._recent(client).append(self.clock())
            self._failures.move_to_end(client)
            while len(self._failures) > _MAX_CLIENTS:
                self._failures.popitem(last=False)

    def _recent(self, client: str) -> deque[float]:
        times = self._failures.setdefault(client, deque())
        while times and times[0] <= self.clock() - self.window:
            times.popleft()
        return times


class Auth:
    """Logins, sessions and CSRF tokens of one server process (see the module's docstring)."""

    def __init__(self, policy: AuthPolicy, *, clock: Callable[[], float] = time.time) -> None:
        self.policy = policy
        self.clock = clock
        self.throttle = Throttle()
        self._key = secrets.token_bytes(32)
        self._sessions: OrderedDict[str, Session] = OrderedDict()
        self._lock = threading.Lock()

    # --- logins -----------------------------------------------------------------------------------

    def check_password(self, user: str, password: str) -> bool:
        """Constant time whether the user exists or not (an unknown name compares against a dummy)."""
        expected = self.policy.users.get(user)
        target = expected.get_secret_value() if expected is not None else secrets.token_hex(16)
        same = hmac.compare_digest(
            hashlib.sha256(password.encode()).digest(), hashlib.sha256(target.encode()).digest()
        )
        return same and expected is not None

    def start_session(self, user: str) -> Session:
        session = Session(secrets.token_urlsafe(32), user, self.clock() + self.policy.session_seconds)
        with self._lock:
            self._sessions[session.id] = session
            while len(self._sessions) > MAX_SESSIONS:
                self._sessions.popitem(last=False)
        return session

    def end_session(self, request: Request) -> None:
        with self._lock:
            self._sessions.pop(request.cookies.get(SESSION_COOKIE, ""), None)

    def session(self, request: Request) -> Session | None:
        """The request's live session, if any."""
        sid = request.cookies.get(SESSION_COOKIE)
        if not sid:
            return None
        with self._lock:
            found = self._sessions.get(sid)
            if found is not None and found.expires_at <= self.clock():
                del self._sessions[sid]
                found = None
        return found

    def actor(self, request: Request) -> str | None:
        """Who may act for this request: the logged-in user, `local` under `--auth none`, else None."""
        session = self.session(request)
        if session is not None:
            return session.user
        return LOCAL_USER if self.policy.none else None

    # --- CSRF -------------------------------------------------------------------------------------

    def csrf_token(self, request: Request) -> str:
        """The token forms of this page carry (for the browser's nonce cookie and session)."""
        nonce = request.state.datakit_nonce if hasattr(request.state, "datakit_nonce") else ""
        nonce = request.cookies.get(NONCE_COOKIE) or nonce
        if not nonce:
            nonce = secrets.token_urlsafe(24)
            request.state.datakit_nonce = nonce  # set as a cookie on the response (`set_cookies`)
        sid = request.cookies.get(SESSION_COOKIE, "")
        return hmac.new(self._key, f"{nonce}|{sid}".encode(), hashlib.sha256).hexdigest()

    def csrf_problem(self, request: Request, token: str) -> str | None:
        """Why a POST fails the CSRF check, or None when it passes."""
        origin = request.headers.get("origin")
        if origin and origin != "null":
            parts = urlsplit(origin)
            if parts.netloc != request.headers.get("host", ""):
                return f"the request came from another site ({origin})"
        nonce = request.cookies.get(NONCE_COOKIE)
        if not nonce:
            return "the browser sent no CSRF cookie (are cookies off?)"
        sid = request.cookies.get(SESSION_COOKIE, "")
        expected = hmac.new(self._key, f"{nonce}|{sid}".encode(), hashlib.sha256).hexdigest()
        if not token or not hmac.compare_digest(expected, token):
            return "the form's CSRF token is missing or wrong (reload the page and try again)"
        return None

    def set_cookies(self, request: Request, response: Response, session: Session | None = None) -> None:
        """The nonce cookie (when this response made one) and, on login, the session's cookie."""
        secure = request.url.scheme == "https"
        nonce = getattr(request.state, "datakit_nonce", None)
        if nonce and not request.cookies.get(NONCE_COOKIE):
            response.set_cookie(NONCE_COOKIE, nonce, httponly=True, samesite="strict", secure=secure)
        if session is not None:
            response.set_cookie(
                SESSION_COOKIE,
                session.id,
                max_age=int(self.policy.session_seconds),
                httponly=True,
                samesite="strict",
                secure=secure,
            )
