"""Unit tests of the Python helper, with a scripted stub and a clock that moves when told."""

import os
import threading
import unittest
from concurrent import futures

import grpc
import requests

from agentauth.v1 import token_service_pb2, token_service_pb2_grpc
from agentauth_client import AgentAuthError, BearerAuth, TokenSource, call_credentials
from agentauth_client.auth import _MetadataPlugin

START = 1_800_000_000.0


class FakeClock:
    def __init__(self):
        self.now = START

    def __call__(self):
        return self.now


class FakeRpcError(grpc.RpcError):
    def __init__(self, code, details):
        super().__init__()
        self._code, self._details = code, details

    def code(self):
        return self._code

    def details(self):
        return self._details


class FakeStub:
    """Answers tokens "t1", "t2", ... that expire `lifetime` seconds after the clock's now."""

    def __init__(self, clock, lifetime=3600.0):
        self.clock, self.lifetime = clock, lifetime
        self.requests = []
        self.error = None
        self.release = threading.Event()
        self.release.set()

    def GetAccessToken(self, request, timeout):  # pylint: disable=invalid-name
        self.requests.append((request, timeout))
        self.release.wait()
        if self.error is not None:
            raise self.error
        response = token_service_pb2.GetAccessTokenResponse(
            access_token=f"t{len(self.requests)}", token_type="Bearer",
            authorization=f"Bearer t{len(self.requests)}", scopes=["api.read"])
        response.expires_at.FromNanoseconds(int((self.clock() + self.lifetime) * 1e9))
        return response


class TokenSourceTest(unittest.TestCase):
    def setUp(self):
        self.clock = FakeClock()
        self.stub = FakeStub(self.clock)

    def source(self, **options):
        return TokenSource(None, "reports", stub=self.stub, now=self.clock, **options)

    def test_request_carries_client_scopes_audience_min_validity_and_timeout(self):
        source = self.source(scopes=["api.read"], audience="https://api.example.com",
                             min_validity=300.5, timeout=7)

        source.token()

        request, timeout = self.stub.requests[0]
        self.assertEqual(request.client, "reports")
        self.assertEqual(list(request.scopes), ["api.read"])
        self.assertEqual(request.audience, "https://api.example.com")
        self.assertEqual(request.min_validity.ToNanoseconds(), 300_500_000_000)
        self.assertEqual(timeout, 7)

    def test_second_use_within_validity_makes_no_rpc(self):
        source = self.source()

        first = source.token()
        self.clock.now += 3600 - 60 - 0.001
        second = source.token()

        self.assertEqual(first, second)
        self.assertEqual(first.expires_at, START + 3600)
        self.assertEqual(source.rpc_count, 1)

    def test_token_is_fetched_again_min_validity_before_expiry(self):
        source = self.source(min_validity=120)
        source.token()

        self.clock.now += 3600 - 120
        token = source.token()

        self.assertEqual(token.access_token, "t2")
        self.assertEqual(source.rpc_count, 2)

    def test_short_lived_token_is_kept_for_half_its_lifetime(self):
        self.stub.lifetime = 100
        source = self.source(min_validity=60)
        source.token()

        self.clock.now += 49.9
        kept = source.token()
        self.clock.now += 0.1
        renewed = source.token()

        self.assertEqual((kept.access_token, renewed.access_token), ("t1", "t2"))

    def test_concurrent_callers_share_one_rpc(self):
        source = self.source()
        self.stub.release.clear()
        results = []
        threads = [threading.Thread(target=lambda: results.append(source.token()))
                   for _ in range(8)]
        for thread in threads:
            thread.start()
        while source.waiting_callers < 7:
            os.sched_yield()

        self.stub.release.set()
        for thread in threads:
            thread.join()

        self.assertEqual(len(self.stub.requests), 1)
        self.assertEqual({token.access_token for token in results}, {"t1"})

    def test_error_reaches_every_waiter_and_is_not_kept(self):
        source = self.source()
        self.stub.release.clear()
        self.stub.error = FakeRpcError(grpc.StatusCode.NOT_FOUND, 'not configured')
        errors = []

        def call():
            try:
                source.token()
            except AgentAuthError as error:
                errors.append(error)

        threads = [threading.Thread(target=call) for _ in range(3)]
        for thread in threads:
            thread.start()
        while source.waiting_callers < 2:
            os.sched_yield()
        self.stub.release.set()
        for thread in threads:
            thread.join()
        self.stub.error = None
        recovered = source.token()

        self.assertEqual([error.code for error in errors], [grpc.StatusCode.NOT_FOUND] * 3)
        self.assertIn('agentauth at (injected stub), client "reports": not configured',
                      str(errors[0]))
        self.assertIn("NOT_FOUND", str(errors[0]))
        self.assertEqual(recovered.access_token, "t2")

    def test_negative_min_validity_is_refused(self):
        with self.assertRaisesRegex(ValueError, "min_validity must not be negative"):
            self.source(min_validity=-1)


class CredentialsTest(unittest.TestCase):
    def setUp(self):
        self.clock = FakeClock()
        self.stub = FakeStub(self.clock)
        self.source = TokenSource(None, "reports", stub=self.stub, now=self.clock)

    def test_requests_auth_sets_the_authorization_header(self):
        request = requests.Request("GET", "http://127.0.0.1:1/", auth=BearerAuth(self.source))

        prepared = request.prepare()

        self.assertEqual(prepared.headers["Authorization"], "Bearer t1")

    def test_grpc_plugin_passes_the_header_or_the_error(self):
        answers = []
        plugin = _MetadataPlugin(self.source)

        plugin(None, lambda metadata, error: answers.append((metadata, error)))
        self.source = TokenSource(None, "gone", stub=self.stub, now=self.clock)
        self.stub.error = FakeRpcError(grpc.StatusCode.UNAVAILABLE, "connection refused")
        _MetadataPlugin(self.source)(None, lambda metadata, error: answers.append((metadata,
                                                                                   error)))

        self.assertEqual(answers[0], ((("authorization", "Bearer t1"),), None))
        self.assertEqual(answers[1][0], ())
        self.assertEqual(answers[1][1].code, grpc.StatusCode.UNAVAILABLE)

    def test_call_credentials_carry_the_token_on_real_calls(self):
        received = []

        class Recorder(token_service_pb2_grpc.TokenServiceServicer):
            def GetStatus(self, request, context):  # pylint: disable=invalid-name
                received.append(dict(context.invocation_metadata()).get("authorization"))
                return token_service_pb2.GetStatusResponse()

        # gRPC sends call credentials only over a channel it deems secure: local ones are.
        local = grpc.LocalConnectionType.LOCAL_TCP
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        token_service_pb2_grpc.add_TokenServiceServicer_to_server(Recorder(), server)
        port = server.add_secure_port("127.0.0.1:0", grpc.local_server_credentials(local))
        server.start()
        credentials = grpc.composite_channel_credentials(grpc.local_channel_credentials(local),
                                                         call_credentials(self.source))
        with grpc.secure_channel(f"127.0.0.1:{port}", credentials,
                                 options=[("grpc.enable_http_proxy", 0)]) as channel:
            stub = token_service_pb2_grpc.TokenServiceStub(channel)
            for _ in range(2):
                stub.GetStatus(token_service_pb2.GetStatusRequest(), timeout=10)
        server.stop(None)

        self.assertEqual(received, ["Bearer t1", "Bearer t1"])
        self.assertEqual(self.source.rpc_count, 1)


if __name__ == "__main__":
    unittest.main()
