"""The demo target's tenant identification, in memory: the three modes, refusals, and the rule that
only the NLB's PROXY header (the connection's first bytes) is believed.

`believe_the_client` is the deliberately broken variant, kept here: it trusts a PROXY header found
in the client's payload. The forged-header tests run against it too and must then see the forged
tenant, which is how we know they can fail (tests/e2e/test_multi_tenant.py runs the same variant
inside a live lab).
"""

from __future__ import annotations

import asyncio
import json

import pytest

from lab.apps import target as app
from lab.ppv2 import aws_health_check_header, aws_nlb_header, decode, encode
from lab.ppv2.codec import SIGNATURE

VPCE_A, VPCE_B = "vpce-0aaaaaaaaaaaaaaaa", "vpce-0bbbbbbbbbbbbbbbb"
PPV2_TABLE = [[VPCE_A, "tenant-a"], [VPCE_B, "tenant-b"]]


def believe_the_client(nlb_header, payload_prefix):
    """BROKEN on purpose: a PROXY header inside the payload wins over the NLB's."""
    if payload_prefix.startswith(SIGNATURE):
        return decode(payload_prefix)
    return nlb_header


class Writer:
    def __init__(self):
        self.data = b""

    def get_extra_info(self, _key):
        return ("10.0.1.254", 40000)

    def write(self, data):
        self.data += data

    async def drain(self):
        pass

    def close(self):
        pass


def _serve(target: app.Target, chunks: list[bytes], port: int = 8080) -> tuple[int | None, dict | None]:
    async def run():
        reader = asyncio.StreamReader()
        for chunk in chunks:
            reader.feed_data(chunk)
        reader.feed_eof()
        writer = Writer()
        await target.handle(reader, writer, port)
        return writer.data

    raw = asyncio.run(run())
    if not raw:
        return None, None
    head, _, body = raw.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


def _nlb(vpce: str) -> bytes:
    return encode(aws_nlb_header("10.0.1.10", 51000, "10.0.1.200", 80, vpce))


def _forged(vpce: str) -> bytes:
    """What a client writes into its own payload: byte for byte a header the NLB could have sent."""
    return _nlb(vpce)


GET = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"


def ppv2_target():
    return app.Target("target-a", "us-east-1a", 8080, {8080}, app.Tenancy("ppv2", PPV2_TABLE))


def test_ppv2_mode_names_the_tenant_of_the_endpoint_the_nlb_wrote():
    assert _serve(ppv2_target(), [_nlb(VPCE_A) + GET])[1]["tenant"] == "tenant-a"
    assert _serve(ppv2_target(), [_nlb(VPCE_B) + GET])[1]["tenant"] == "tenant-b"


def test_ppv2_mode_refuses_an_endpoint_it_does_not_know():
    status, body = _serve(ppv2_target(), [_nlb("vpce-0cccccccccccccccc") + GET])
    assert status == 403 and body["tenant"] is None and "vpce-0cccccccccccccccc" in body["error"]


@pytest.mark.parametrize("split", [False, True], ids=["one-segment", "forged-header-alone-first"])
def test_a_forged_header_in_the_payload_is_never_believed(split):
    """tenant-b's client writes a PROXY header naming tenant-a's endpoint after the NLB's own."""
    chunks = [_nlb(VPCE_B), _forged(VPCE_A), GET] if split else [_nlb(VPCE_B) + _forged(VPCE_A) + GET]
    status, body = _serve(ppv2_target(), chunks)
    assert (status, body["tenant"], body["vpce_id"]) == (200, "tenant-b", VPCE_B)
    assert body["client_proxy_header_ignored"] is True


def test_the_forged_header_test_goes_red_when_the_app_believes_the_client(monkeypatch):
    monkeypatch.setattr(app, "trusted_header", believe_the_client)
    status, body = _serve(ppv2_target(), [_nlb(VPCE_B) + _forged(VPCE_A) + GET])
    assert body["tenant"] == "tenant-a", "the broken variant should have been fooled"
    assert body["tenant"] != "tenant-b"  # i.e. the assertion of the test above fails with it


def test_health_checks_are_not_requests():
    target = ppv2_target()
    assert _serve(target, [encode(aws_health_check_header())]) == (None, None)
    plain = app.Target("t", "us-east-1a", 8081, set(), app.Tenancy("port", [["8081", "tenant-a"]]))
    assert _serve(plain, [], 8081) == (None, None)  # a TCP check: connect, close
    assert target.served == 0 and plain.served == 0


def test_a_ppv2_port_refuses_a_connection_without_a_header():
    assert _serve(ppv2_target(), [GET]) == (None, None)


def token_target():
    table = [["tok-a-7Qx2mN4p", "tenant-a"], ["tok-b-Vh8sK1wz", "tenant-b"]]
    return app.Target("target-a", "us-east-1a", 8080, set(), app.Tenancy("token", table))


@pytest.mark.parametrize("header", [b"Authorization: Bearer tok-b-Vh8sK1wz", b"authorization: bearer  tok-b-Vh8sK1wz ",
                                    b"X-Api-Token: tok-b-Vh8sK1wz"])
def test_token_mode_names_the_tenant_of_the_token(header):
    status, body = _serve(token_target(), [b"GET / HTTP/1.0\r\nHost: x\r\n" + header + b"\r\n\r\n"])
    assert (status, body["tenant"], body["tenancy"]) == (200, "tenant-b", "token")


@pytest.mark.parametrize("header", [b"", b"Authorization: Bearer tok-z-00000000\r\n", b"Authorization: Basic dG9rLWE=\r\n"],
                         ids=["missing", "unknown", "not-bearer"])
def test_token_mode_refuses_a_missing_or_wrong_token_with_401(header):
    status, body = _serve(token_target(), [b"GET / HTTP/1.0\r\nHost: x\r\n" + header + b"\r\n"])
    assert status == 401 and body["tenant"] is None and body["error"]


def test_token_mode_cannot_see_the_network():
    """The same token through any endpoint (PPv2 off: the app has no endpoint ID to compare)."""
    answers = {_serve(token_target(), [b"GET / HTTP/1.0\r\nAuthorization: Bearer tok-a-7Qx2mN4p\r\n\r\n"])[1]["tenant"]
               for _ in range(2)}
    assert answers == {"tenant-a"}


def test_port_mode_names_the_tenant_of_the_port():
    table = [["8081", "tenant-a"], ["8082", "tenant-b"]]
    target = app.Target("target-a", "us-east-1a", 8081, set(), app.Tenancy("port", table))
    assert _serve(target, [GET], 8082)[1]["tenant"] == "tenant-b"
    assert _serve(target, [GET], 8081)[1]["tenant"] == "tenant-a"
    status, body = _serve(target, [GET], 8083)
    assert status == 403 and body["tenant"] is None


def test_without_a_table_the_answer_is_as_before():
    status, body = _serve(app.Target("target-a", "us-east-1a", 8080), [_nlb(VPCE_A) + GET])
    assert status == 200 and body["vpce_id"] == VPCE_A and "tenant" not in body


def test_load_config_defaults_to_one_ppv2_port():
    assert app.load_config(None, 8080) == {"ports": [8080], "ppv2_ports": [8080], "tenancy": "", "tenants": []}


HEALTH = b"GET /health HTTP/1.1\r\nHost: lab-health-check\r\n\r\n"


def test_an_http_check_after_a_local_header_is_answered_by_its_path():
    """AWS's HTTP checks with PPv2: a LOCAL header, then the GET. /status/NNN answers NNN."""
    target = ppv2_target()
    local = encode(aws_health_check_header())
    assert _serve(target, [local + HEALTH])[0] == 200
    assert _serve(target, [local, HEALTH.replace(b"/health", b"/status/500")])[0] == 500
    assert _serve(target, [HEALTH]) == (None, None)  # no header on a PPv2 port: refused, as before
    assert target.served == 0  # checks are not requests


def test_an_http_check_on_a_port_without_ppv2_is_not_a_tenant_request():
    plain = app.Target("t", "us-east-1a", 8081, set(), app.Tenancy("token", [["tok", "tenant-a"]]))
    assert _serve(plain, [HEALTH.replace(b"/health", b"/status/503")], 8081)[0] == 503
    assert _serve(plain, [GET], 8081)[0] == 401  # a request without its token still is refused


class ResetWriter(Writer):
    async def drain(self):
        raise ConnectionResetError(104, "Connection reset by peer")


def test_a_peer_that_resets_is_logged_as_one_json_event(capsys):
    """A rejected endpoint cuts its connections; the target's log must stay one JSON object per line
    (tests read it as NDJSON), not asyncio's free-text traceback."""
    async def run():
        reader = asyncio.StreamReader()
        reader.feed_data(_nlb(VPCE_A) + GET)
        reader.feed_eof()
        await ppv2_target().handle(reader, ResetWriter(), 8080)

    asyncio.run(run())
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [e["event"] for e in events] == ["request", "connection-lost"]
    assert events[-1]["reason"] == "ConnectionResetError"
