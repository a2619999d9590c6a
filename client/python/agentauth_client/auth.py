"""The token of a TokenSource as an HTTP (requests) or gRPC credential."""

import grpc
import requests.auth

from agentauth_client.token_source import TokenSource


class BearerAuth(requests.auth.AuthBase):
    """requests' auth hook: sets Authorization to the source's current token.

        requests.get(url, auth=BearerAuth(source))
    """

    def __init__(self, source: TokenSource):
        self._source = source

    def __call__(self, request):
        request.headers["Authorization"] = self._source.authorization()
        return request


class _MetadataPlugin(grpc.AuthMetadataPlugin):
    def __init__(self, source: TokenSource):
        self._source = source

    def __call__(self, context, callback):
        try:
            authorization = self._source.authorization()
        except Exception as error:  # pylint: disable=broad-except
            # gRPC fails the call with this error instead of sending it without a token.
            callback((), error)
            return
        callback((("authorization", authorization),), None)


def call_credentials(source: TokenSource) -> grpc.CallCredentials:
    """gRPC call credentials adding the source's authorization header to every call.

    gRPC sends call credentials only over secure channels (TLS, or local_channel_credentials).
    """
    return grpc.metadata_call_credentials(_MetadataPlugin(source), name="agentauth")
