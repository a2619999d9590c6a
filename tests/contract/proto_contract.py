"""Guards the wire contract of proto/ against breaking changes.

    proto_contract.py check  --protoc PROTOC --proto-root proto --snapshot SNAPSHOT.json
    proto_contract.py update --protoc PROTOC --proto-root proto --snapshot SNAPSHOT.json

`check` compiles every .proto under the root, summarizes services, methods, messages, fields
(number, type, label) and enum values, and compares that with the committed snapshot. It exits 1
listing each breaking change: a service, method, message, enum, field or enum value removed or
renamed, a field's number, type or cardinality changed, a method's types or streaming changed.
Additions pass (they are listed, so the snapshot can be brought up to date). `update` rewrites
the snapshot: do that only for a deliberate, announced break (`make proto-snapshot`).
Runs under /usr/bin/python3 with Debian's python3-protobuf.
"""

import argparse
import json
import pathlib
import subprocess
import sys
import tempfile

from google.protobuf import descriptor_pb2

FieldType = descriptor_pb2.FieldDescriptorProto


def field_type(field):
    if field.type in (FieldType.TYPE_MESSAGE, FieldType.TYPE_ENUM):
        return field.type_name.lstrip(".")
    return FieldType.Type.Name(field.type)[len("TYPE_"):].lower()


def summarize_messages(prefix, messages, enums, out_messages, out_enums):
    for enum in enums:
        out_enums[f"{prefix}{enum.name}"] = {value.name: value.number for value in enum.value}
    for message in messages:
        name = f"{prefix}{message.name}"
        out_messages[name] = {
            str(field.number): {
                "name": field.name,
                "type": field_type(field),
                "label": "repeated" if field.label == FieldType.LABEL_REPEATED else "singular",
            }
            for field in message.field
        }
        summarize_messages(f"{name}.", message.nested_type, message.enum_type, out_messages,
                           out_enums)


def summarize(descriptor_set):
    """The contract of a FileDescriptorSet as plain JSON-able dictionaries."""
    summary = {"services": {}, "messages": {}, "enums": {}}
    for file in descriptor_set.file:
        prefix = f"{file.package}." if file.package else ""
        summarize_messages(prefix, file.message_type, file.enum_type, summary["messages"],
                           summary["enums"])
        for service in file.service:
            summary["services"][f"{prefix}{service.name}"] = {
                method.name: {
                    "input": method.input_type.lstrip("."),
                    "output": method.output_type.lstrip("."),
                    "client_streaming": method.client_streaming,
                    "server_streaming": method.server_streaming,
                }
                for method in service.method
            }
    return summary


def compile_contract(protoc, proto_root):
    root = pathlib.Path(proto_root)
    protos = sorted(str(path.relative_to(root)) for path in root.rglob("*.proto"))
    if not protos:
        raise SystemExit(f"proto_contract: no .proto files under {root}")
    with tempfile.TemporaryDirectory() as scratch:
        output = pathlib.Path(scratch) / "descriptors.pb"
        subprocess.run([protoc, f"--proto_path={root}", f"--descriptor_set_out={output}",
                        *protos], check=True)
        descriptor_set = descriptor_pb2.FileDescriptorSet()
        descriptor_set.ParseFromString(output.read_bytes())
    return summarize(descriptor_set)


def compare(old, new):
    """Returns (breaking changes, additions) going from summary `old` to summary `new`."""
    breaking, added = [], []

    for service, methods in old["services"].items():
        if service not in new["services"]:
            breaking.append(f"service {service} removed or renamed")
            continue
        for method, shape in methods.items():
            now = new["services"][service].get(method)
            if now is None:
                breaking.append(f"rpc {service}.{method} removed or renamed")
            elif now != shape:
                breaking.append(f"rpc {service}.{method} changed from {shape} to {now}")
        added += [f"rpc {service}.{m}" for m in new["services"][service] if m not in methods]
    added += [f"service {s}" for s in new["services"] if s not in old["services"]]

    for message, fields in old["messages"].items():
        if message not in new["messages"]:
            breaking.append(f"message {message} removed or renamed")
            continue
        for number, field in fields.items():
            now = new["messages"][message].get(number)
            where = f"field {message}.{field['name']} = {number}"
            if now is None:
                moved = [n for n, f in new["messages"][message].items()
                         if f["name"] == field["name"]]
                breaking.append(f"{where} removed" if not moved
                                else f"{where} changed its number to {moved[0]}")
                continue
            for aspect in ("name", "type", "label"):
                if now[aspect] != field[aspect]:
                    breaking.append(f"{where} changed its {aspect} from {field[aspect]} "
                                    f"to {now[aspect]}")
        added += [f"field {message}.{f['name']} = {n}"
                  for n, f in new["messages"][message].items() if n not in fields]
    added += [f"message {m}" for m in new["messages"] if m not in old["messages"]]

    for enum, values in old["enums"].items():
        if enum not in new["enums"]:
            breaking.append(f"enum {enum} removed or renamed")
            continue
        for value, number in values.items():
            now = new["enums"][enum].get(value)
            if now is None:
                breaking.append(f"enum value {enum}.{value} = {number} removed or renamed")
            elif now != number:
                breaking.append(f"enum value {enum}.{value} changed from {number} to {now}")
        added += [f"enum value {enum}.{v}" for v in new["enums"][enum] if v not in values]
    added += [f"enum {e}" for e in new["enums"] if e not in old["enums"]]
    return breaking, added


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["check", "update"])
    parser.add_argument("--protoc", required=True)
    parser.add_argument("--proto-root", required=True)
    parser.add_argument("--snapshot", required=True)
    args = parser.parse_args()

    current = compile_contract(args.protoc, args.proto_root)
    snapshot = pathlib.Path(args.snapshot)
    if args.mode == "update":
        snapshot.write_text(json.dumps(current, indent=2, sort_keys=True) + "\n")
        print(f"proto_contract: wrote {snapshot}")
        return 0

    breaking, added = compare(json.loads(snapshot.read_text()), current)
    for change in added:
        print(f"proto_contract: added (compatible): {change}")
    if breaking:
        for change in breaking:
            print(f"proto_contract: BREAKING: {change}", file=sys.stderr)
        print(f"proto_contract: {len(breaking)} breaking change(s) against {snapshot}. Callers "
              "built from the old contract would break. Undo them, or if the break is deliberate "
              "and announced, run `make proto-snapshot` and commit the snapshot.", file=sys.stderr)
        return 1
    print(f"proto_contract: compatible with {snapshot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
