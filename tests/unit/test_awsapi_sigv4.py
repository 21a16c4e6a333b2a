"""Our SigV4 verification against botocore's own signer: what botocore signs, we accept; any
change to what was signed, a wrong secret, an unknown key or a stale date, we refuse."""

from __future__ import annotations

import datetime as dt

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from lab.awsapi import sigv4
from lab.awsapi.errors import Ec2Error

KEY, SECRET = "AKIAEXAMPLEEXAMPLE12", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
BODY = "Action=DescribeVpcEndpoints&Version=2016-11-15&Filter.1.Name=vpc-id&Filter.1.Value.1=vpc-0abc%2Fx+y"


def signed(body: str = BODY, url: str = "http://127.0.0.1:4566/", secret: str = SECRET, region: str = "us-east-1",
           service: str = "ec2", headers: dict | None = None) -> AWSRequest:
    req = AWSRequest(method="POST", url=url, data=body.encode(),
                     headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8", **(headers or {})})
    SigV4Auth(Credentials(KEY, secret), service, region).add_auth(req)
    return req


def as_ours(req: AWSRequest, body: bytes | None = None, **changes) -> sigv4.SignedRequest:
    from urllib.parse import urlsplit

    url = urlsplit(req.url)
    headers = {k: v for k, v in req.headers.items()}
    headers["Host"] = url.netloc  # what the HTTP client sends (botocore signs it from the URL)
    out = sigv4.SignedRequest(req.method, url.path or "/", url.query, headers, req.body if body is None else body)
    return sigv4.SignedRequest(**{**out.__dict__, **changes})


def now_of(req) -> dt.datetime:
    return dt.datetime.strptime(req.headers["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.timezone.utc)


def secrets(key):
    return SECRET if key == KEY else None


def test_botocore_signature_verifies():
    req = signed()
    cred = sigv4.verify(as_ours(req), secrets, now_of(req))
    assert (cred.access_key, cred.region, cred.service) == (KEY, "us-east-1", "ec2")


def test_query_string_and_path_are_part_of_the_signature():
    req = signed(url="http://127.0.0.1:4566/some%20path/?b=2&a=1&c=x%2Fy")
    sigv4.verify(as_ours(req), secrets, now_of(req))
    with pytest.raises(Ec2Error) as err:
        sigv4.verify(as_ours(req, query="b=2&a=1&c=x%2Fz"), secrets, now_of(req))
    assert err.value.code == "AuthFailure"
    with pytest.raises(Ec2Error):
        sigv4.verify(as_ours(req, path="/other/"), secrets, now_of(req))


def _flip_last(auth: str) -> str:
    return auth[:-1] + ("1" if auth[-1] == "0" else "0")


@pytest.mark.parametrize("tamper", [
    lambda r: as_ours(r, body=r.body + b"&DryRun=true"),
    lambda r: as_ours(r, body=r.body.replace(b"vpc-0abc", b"vpc-0abd")),
    lambda r: as_ours(r, method="GET"),
    lambda r: as_ours(r, headers={**as_ours(r).headers, "Host": "127.0.0.1:4567"}),
    lambda r: as_ours(r, headers={**as_ours(r).headers, "Authorization": _flip_last(as_ours(r).headers["Authorization"])}),
])
def test_any_tampering_is_refused(tamper):
    req = signed()
    with pytest.raises(Ec2Error) as err:
        sigv4.verify(tamper(req), secrets, now_of(req))
    assert err.value.code == "AuthFailure"


def test_wrong_secret_and_unknown_key_are_auth_failures():
    req = signed(secret="not-the-secret")
    with pytest.raises(Ec2Error) as err:
        sigv4.verify(as_ours(req), secrets, now_of(req))
    assert err.value.code == "AuthFailure"
    with pytest.raises(Ec2Error) as err:
        sigv4.verify(as_ours(signed()), lambda _key: None, now_of(req))
    assert err.value.code == "AuthFailure"


def test_unsigned_and_malformed_authorization():
    req = signed()
    for auth in (None, "", "AWS4-HMAC-SHA256 garbage", "Basic dXNlcjpwdw==",
                 "AWS4-HMAC-SHA256 Credential=K/2026/us-east-1/ec2/aws4_request, SignedHeaders=host, Signature=" + "0" * 64):
        headers = {k: v for k, v in as_ours(req).headers.items() if k != "Authorization"}
        if auth is not None:
            headers["Authorization"] = auth
        with pytest.raises(Ec2Error) as err:
            sigv4.verify(as_ours(req, headers=headers), secrets, now_of(req))
        assert err.value.code == "AuthFailure"


@pytest.mark.parametrize("skew_s,code", [(sigv4.MAX_SKEW_S - 5, None), (sigv4.MAX_SKEW_S + 5, "RequestExpired"),
                                         (-(sigv4.MAX_SKEW_S + 5), "RequestExpired")])
def test_date_skew(skew_s, code):
    req = signed()
    now = now_of(req) + dt.timedelta(seconds=skew_s)
    if code is None:
        sigv4.verify(as_ours(req), secrets, now)
        return
    with pytest.raises(Ec2Error) as err:
        sigv4.verify(as_ours(req), secrets, now)
    assert err.value.code == code


def test_scope_must_name_ec2():
    req = signed(service="s3")
    with pytest.raises(Ec2Error) as err:
        sigv4.verify(as_ours(req), secrets, now_of(req))
    assert err.value.code == "AuthFailure"


def test_signing_key_matches_aws_documented_example():
    # The IAM user guide's worked example ("Examples of how to derive a signing key").
    key = sigv4.signing_key("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20120215", "us-east-1", "iam")
    assert key.hex() == "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"
