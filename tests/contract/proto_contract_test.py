"""The contract check on deliberately broken copies of proto/: each break must fail it.

Usage: proto_contract_test.py PROTOC PROTO_ROOT SNAPSHOT (run by CTest as contract.checker).
"""

import pathlib
import shutil
import subprocess
import sys
import tempfile
import unittest

CHECKER = pathlib.Path(__file__).with_name("proto_contract.py")
PROTOC, PROTO_ROOT, SNAPSHOT = sys.argv[1:4]
PROTO = "agentauth/v1/token_service.proto"


class ProtoContractTest(unittest.TestCase):
    def check(self, *edits):
        """Runs the check on a copy of proto/ with each (old, new) text replacement made."""
        with tempfile.TemporaryDirectory() as scratch:
            root = pathlib.Path(scratch) / "proto"
            shutil.copytree(PROTO_ROOT, root)
            proto = root / PROTO
            text = proto.read_text()
            for old, new in edits:
                self.assertIn(old, text, "the edit no longer applies to the proto")
                text = text.replace(old, new)
            proto.write_text(text)
            return subprocess.run(
                [sys.executable, CHECKER, "check", "--protoc", PROTOC, "--proto-root", root,
                 "--snapshot", SNAPSHOT], capture_output=True, text=True, check=False)

    def assert_breaks(self, expected, *edits):
        result = self.check(*edits)
        self.assertEqual(result.returncode, 1, result.stdout + result.stderr)
        self.assertIn(f"BREAKING: {expected}", result.stderr)
        self.assertIn("make proto-snapshot", result.stderr)

    def test_current_proto_is_compatible(self):
        result = self.check()

        self.assertEqual(result.returncode, 0, result.stderr)

    def test_added_field_and_rpc_are_compatible(self):
        result = self.check(
            ("bool force_refresh = 5;", "bool force_refresh = 5;\n  string reason = 6;"),
            ("rpc GetStatus(", "rpc Ping(GetStatusRequest) returns (GetStatusResponse);\n"
                               "  rpc GetStatus("))

        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("added (compatible): field agentauth.v1.GetAccessTokenRequest.reason = 6",
                      result.stdout)
        self.assertIn("added (compatible): rpc agentauth.v1.TokenService.Ping", result.stdout)

    def test_changed_field_number_breaks(self):
        self.assert_breaks("field agentauth.v1.GetAccessTokenRequest.audience = 3 changed its "
                           "number to 9", ("string audience = 3;", "string audience = 9;"))

    def test_changed_field_type_breaks(self):
        self.assert_breaks("field agentauth.v1.GetAccessTokenRequest.force_refresh = 5 changed "
                           "its type from bool to int32",
                           ("bool force_refresh = 5;", "int32 force_refresh = 5;"))

    def test_changed_cardinality_breaks(self):
        self.assert_breaks("field agentauth.v1.GetAccessTokenRequest.audience = 3 changed its "
                           "label from singular to repeated",
                           ("string audience = 3;", "repeated string audience = 3;"))

    def test_removed_field_breaks(self):
        self.assert_breaks("field agentauth.v1.GetAccessTokenResponse.authorization = 5 removed",
                           ("string authorization = 5;", ""))

    def test_renamed_field_breaks(self):
        self.assert_breaks("field agentauth.v1.GetAccessTokenResponse.authorization = 5 changed "
                           "its name from authorization to header",
                           ("string authorization = 5;", "string header = 5;"))

    def test_removed_rpc_breaks(self):
        self.assert_breaks("rpc agentauth.v1.TokenService.GetStatus removed or renamed",
                           ("rpc GetStatus(GetStatusRequest) returns (GetStatusResponse);", ""))

    def test_renamed_message_breaks(self):
        self.assert_breaks("message agentauth.v1.GetStatusRequest removed or renamed",
                           ("GetStatusRequest", "StatusQuery"))

    def test_renamed_service_breaks(self):
        self.assert_breaks("service agentauth.v1.TokenService removed or renamed",
                           ("service TokenService {", "service Tokens {"))

    def test_removed_enum_value_breaks(self):
        self.assert_breaks("enum value agentauth.v1.ClientState.CLIENT_STATE_FAILING = 5 removed",
                           ("CLIENT_STATE_FAILING = 5;", ""))


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1])
