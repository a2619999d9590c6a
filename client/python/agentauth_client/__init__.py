"""Access tokens from an agentauth daemon for Python callers.

    source = TokenSource("127.0.0.1:50051", "reports")
    requests.get(url, auth=BearerAuth(source))

The generated stubs (package ``agentauth.v1``) come from the build: put
``build/client/python/generated`` and ``client/python`` on ``PYTHONPATH``.
"""

from agentauth_client.auth import BearerAuth, call_credentials
from agentauth_client.token_source import AgentAuthError, Token, TokenSource

__all__ = ["AgentAuthError", "BearerAuth", "Token", "TokenSource", "call_credentials"]
