"""The Python helper against a live agentauthd; prints one JSON line for polyglot_test.cc.

Usage: python_probe.py TARGET CLIENT UNKNOWN_CLIENT UNREACHABLE_TARGET WHOAMI_URL
"""

import base64
import json
import sys

import requests

from agentauth_client import AgentAuthError, BearerAuth, TokenSource


def jwt_exp(token):
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["exp"]


def failure(target, client):
    try:
        TokenSource(target, client, timeout=10).token()
    except AgentAuthError as error:
        return {"code": error.code.name, "message": str(error)}
    return {"code": "OK", "message": "a token came back"}


def main(target, client, unknown_client, unreachable_target, whoami_url):
    source = TokenSource(target, client, timeout=10)
    token = source.token()
    # The second use goes through requests' auth hook to an API that checks the token.
    session = requests.Session()
    session.trust_env = False
    whoami = session.get(whoami_url, auth=BearerAuth(source), timeout=10)

    print(json.dumps({
        "language": "python",
        "access_token": token.access_token,
        "expires_at": int(token.expires_at),
        "jwt_exp": jwt_exp(token.access_token),
        "rpcs_after_two_uses": source.rpc_count,
        "api_status": whoami.status_code,
        "unknown_client": failure(target, unknown_client),
        "unreachable": failure(unreachable_target, client),
    }))


if __name__ == "__main__":
    main(*sys.argv[1:6])
