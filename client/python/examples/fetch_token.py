"""Calls an API with a token from agentauth. Run against `make demo`:

    PYTHONPATH=build/client/python/generated:client/python \
      /usr/bin/python3 client/python/examples/fetch_token.py 127.0.0.1:50051 demo URL
"""

import sys

import requests

from agentauth_client import BearerAuth, TokenSource

target, client, url = sys.argv[1:4]
source = TokenSource(target, client, min_validity=60)
print("token expires at", source.token().expires_at)
answer = requests.get(url, auth=BearerAuth(source), timeout=10)
print(answer.status_code, answer.text)
