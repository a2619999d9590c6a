"""TokenSource: one client's token, kept until min_validity before it expires."""

import threading
import time
from typing import Callable, NamedTuple, Optional, Sequence

import grpc
from agentauth.v1 import token_service_pb2, token_service_pb2_grpc


class Token(NamedTuple):
    access_token: str
    # "Bearer <access_token>", the value of an Authorization header.
    authorization: str
    # Unix time in seconds, as the daemon stated it.
    expires_at: float
    scopes: Sequence[str]


class AgentAuthError(Exception):
    """GetAccessToken failed. ``code`` is the grpc.StatusCode the daemon (or gRPC) gave."""

    def __init__(self, code: grpc.StatusCode, message: str):
        super().__init__(f"{code.name}: {message}")
        self.code = code
        self.message = message


class _Flight:
    """One GetAccessToken call that every concurrent caller waits for."""

    def __init__(self):
        self.done = threading.Event()
        self.token: Optional[Token] = None
        self.error: Optional[BaseException] = None


class TokenSource:
    """Returns an access token of one configured client, asking the daemon only when needed.

    A token is kept until ``min_validity`` seconds before its expiry; when the token lives
    shorter than twice that, until half its lifetime, as the daemon does, so that short-lived
    tokens are not fetched on every use. Concurrent callers that find no usable token share one
    GetAccessToken call and its result or error. Thread-safe.

    ``stub`` (anything with the TokenServiceStub's GetAccessToken) replaces the connection to
    ``target``; ``now`` replaces time.time. Both are for tests.
    """

    def __init__(self, target: Optional[str], client: str, *, scopes: Sequence[str] = (),
                 audience: str = "", min_validity: float = 60.0, timeout: float = 10.0,
                 stub=None, now: Callable[[], float] = time.time):
        if min_validity < 0:
            raise ValueError(f"min_validity must not be negative, got {min_validity}")
        if stub is None:
            if not target:
                raise ValueError("either target or stub is required")
            # A proxy from the environment has no business between a caller and its daemon.
            channel = grpc.insecure_channel(target, options=[("grpc.enable_http_proxy", 0)])
            stub = token_service_pb2_grpc.TokenServiceStub(channel)
        self._target = target or "(injected stub)"
        self._client = client
        self._request = token_service_pb2.GetAccessTokenRequest(
            client=client, scopes=list(scopes), audience=audience)
        self._request.min_validity.FromNanoseconds(int(min_validity * 1e9))
        self._min_validity = min_validity
        self._timeout = timeout
        self._stub = stub
        self._now = now
        self._lock = threading.Lock()
        self._token: Optional[Token] = None
        self._received_at = 0.0
        self._flight: Optional[_Flight] = None
        self._rpcs = 0
        self._waiting = 0

    @property
    def rpc_count(self) -> int:
        """GetAccessToken calls made so far."""
        with self._lock:
            return self._rpcs

    @property
    def waiting_callers(self) -> int:
        """Callers blocked right now on another caller's GetAccessToken call."""
        with self._lock:
            return self._waiting

    def token(self) -> Token:
        """Returns a usable token; raises AgentAuthError when the daemon cannot give one."""
        with self._lock:
            if self._usable():
                return self._token
            leader = self._flight is None
            if leader:
                self._flight = _Flight()
                self._rpcs += 1
            else:
                self._waiting += 1
            flight = self._flight

        if leader:
            self._fly(flight)
        else:
            flight.done.wait()
            with self._lock:
                self._waiting -= 1

        if flight.error is not None:
            raise flight.error
        return flight.token

    def authorization(self) -> str:
        """The value of an Authorization header: "Bearer <token>"."""
        return self.token().authorization

    def _usable(self) -> bool:
        if self._token is None:
            return False
        lifetime = self._token.expires_at - self._received_at
        margin = min(self._min_validity, lifetime / 2)
        return self._now() < self._token.expires_at - margin

    def _fly(self, flight: _Flight) -> None:
        received_at = self._now()
        try:
            response = self._stub.GetAccessToken(self._request, timeout=self._timeout)
            flight.token = Token(response.access_token, response.authorization,
                                 response.expires_at.ToNanoseconds() / 1e9,
                                 tuple(response.scopes))
        except grpc.RpcError as error:
            flight.error = AgentAuthError(
                error.code(), f'agentauth at {self._target}, client "{self._client}": '
                              f"{error.details()}")
        except Exception as error:  # pylint: disable=broad-except
            # Whatever went wrong reaches every waiting caller instead of leaving them hanging.
            flight.error = error

        with self._lock:
            if flight.token is not None:
                self._token = flight.token
                self._received_at = received_at
            self._flight = None
        flight.done.set()
