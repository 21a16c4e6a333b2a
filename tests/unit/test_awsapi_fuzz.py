"""Robustness: 10,000 malformed requests (random form fields for every action, truncated bodies,
huge values, bad encodings, broken signatures), in process through werkzeug's test client. Every
answer is EC2-shaped XML, none is an InternalError, nothing reaches the control plane (a tripwire,
tests/unit/conftest.py), and the stored lab is byte-for-byte unchanged. Seeded: reproducible."""

from __future__ import annotations

import hashlib
import random
import time
import xml.etree.ElementTree as ET
from urllib.parse import quote

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from werkzeug.test import Client

from lab import api
from lab.awsapi import wire
from lab.awsapi.server import ACTIONS, Ec2Api

REQUESTS = 10_000
NS = "{" + wire.NAMESPACE + "}"


def wire_keys(op) -> list[str]:
    """Some field names that the action really takes (so the fuzz reaches the parser's depths)."""
    out = []

    def walk(shape, prefix, depth):
        if depth > 4:
            return
        for member, mshape in shape.members.items():
            key = f"{prefix}.{wire._query_name(mshape, member)}" if prefix else wire._query_name(mshape, member)
            if mshape.type_name == "structure":
                walk(mshape, key, depth + 1)
            elif mshape.type_name == "list":
                if mshape.member.type_name == "structure":
                    walk(mshape.member, f"{key}.1", depth + 1)
                else:
                    out.append(f"{key}.1")
                    out.append(f"{key}.{random.randint(2, 3000)}")
            else:
                out.append(key)

    if op.input_shape is not None:
        walk(op.input_shape, "", 0)
    return out


def random_value(rng: random.Random) -> str:
    kind = rng.randrange(10)
    if kind == 0:
        return "x" * rng.choice([10_000, 200_000])  # huge
    if kind == 1:
        return rng.choice(["true", "false", "TRUE", "-1", "0", "99999999999999999999", "1e9", ""])
    if kind == 2:
        return "".join(chr(rng.randrange(0x20, 0x2FFF)) for _ in range(rng.randrange(1, 40)))  # any Unicode
    if kind == 3:
        return rng.choice(["vpce-", "vpce-0123456789abcdef0", "vpc-" + "f" * 17, "subnet-0", "sg-", "*", "?",
                           "com.amazonaws.vpce.us-east-1.vpce-svc-0", "Interface", "Gateway", "<x/>", "]]>&amp;"])
    return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789-_.%&=+") for _ in range(rng.randrange(0, 30)))


def random_body(rng: random.Random, ops: dict) -> bytes:
    action = rng.choice(list(ops) + ["RunInstances", "", "DescribeVpcEndpoints" * 50, "<script>"])
    fields = {"Action": action, "Version": rng.choice([wire.API_VERSION] * 8 + ["2014-01-01", ""])}
    keys = ops.get(action, [])
    for _ in range(rng.randrange(0, 12)):
        key = rng.choice(keys) if keys and rng.random() < 0.8 else random_value(rng)[:40]
        fields[key] = random_value(rng)
    if rng.random() < 0.1:
        fields.pop("Action")
    body = "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in fields.items()).encode()
    mangle = rng.randrange(8)
    if mangle == 0:
        body = body[: rng.randrange(0, len(body) + 1)]  # truncated
    elif mangle == 1:
        body += rng.choice([b"&%FF%FE=1", b"&Filter.1.Name=\xff\xfe", b"&&&==", b"&a=%zz", b"&%=%"])  # bad encodings
    elif mangle == 2:
        body += b"&" + b"&".join(b"k%d=v" % n for n in range(rng.choice([10, 1001, 1500])))  # very many fields
    elif mangle == 3:
        body = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 300)))  # noise
    return body


def state_hash(state) -> str:
    return hashlib.sha256(b"".join((state.dir / f).read_bytes() for f in ("topology.yaml", "plan.json"))).hexdigest()


@pytest.mark.slow
def test_ten_thousand_malformed_requests(paper_lab):
    name, state = paper_lab
    before = state_hash(state)
    app = Ec2Api(name)
    client = Client(app)
    keys = api.ec2_credentials(name)
    rng = random.Random(20261201)
    random.seed(20261201)
    ops = {a: wire_keys(wire.operation(a)) for a in ACTIONS}
    codes: dict[str, int] = {}
    t0 = time.monotonic()
    for n in range(REQUESTS):
        body = random_body(rng, ops)
        headers = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
        sign = rng.random()
        if sign < 0.85:
            key = rng.choice(keys)
            secret = key.secret_access_key if sign < 0.8 else "wrong-secret"
            req = AWSRequest(method="POST", url="http://localhost/", data=body, headers=headers)
            SigV4Auth(Credentials(key.access_key_id, secret), "ec2", "us-east-1").add_auth(req)
            headers = dict(req.headers.items())
            if rng.random() < 0.05:
                body = body + b"x"  # signed, then changed in flight
        method = "POST" if rng.random() < 0.97 else rng.choice(["GET", "PUT", "DELETE"])
        reply = client.open("/", method=method, data=body, headers=headers)
        text = reply.get_data()
        assert reply.status_code != 500, (n, body[:200], text[:500])
        root = ET.fromstring(text)
        if root.tag == "Response":
            code = root.findtext("Errors/Error/Code")
            assert code and root.findtext("Errors/Error/Message") is not None and root.findtext("RequestID"), text
            assert code != "InternalError", (n, body[:200], text[:500])
        else:
            assert root.tag.startswith(NS) and root.tag.endswith("Response") and root.findtext(f"{NS}requestId"), text
            code = "(answered)"
        codes[code] = codes.get(code, 0) + 1
    elapsed = time.monotonic() - t0
    print(f"{REQUESTS} requests in {elapsed:.1f} s; answers: {dict(sorted(codes.items(), key=lambda kv: -kv[1]))}")
    assert sum(codes.values()) == REQUESTS
    assert codes.get("AuthFailure", 0) > 100 and codes.get("InvalidParameterValue", 0) + codes.get("UnknownParameter", 0) > 100
    assert state_hash(state) == before
