"""Signature Version 4, verified as AWS does (the IAM user guide's "Create a signed AWS API request").

canonical request = method, URI, query, headers, signed headers, hash of the payload;
string to sign = algorithm, time, scope, hash of the canonical request;
signing key = HMAC chain of "AWS4"+secret over date, region, service and "aws4_request".
The server recomputes the signature with the secret it knows for the access key and compares
in constant time. Only the Authorization-header form is accepted (no presigned query strings).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
from dataclasses import dataclass
from urllib.parse import quote, unquote

from lab.awsapi.errors import Ec2Error

ALGORITHM = "AWS4-HMAC-SHA256"
# EC2's RequestExpired: "more than 15 minutes after the date stamp on the request ... or the date
# stamp is more than 15 minutes in the future" (AWS's common errors for the Query APIs).
MAX_SKEW_S = 15 * 60
_AUTH_RE = re.compile(r"^AWS4-HMAC-SHA256 Credential=([^,\s]+),\s*SignedHeaders=([^,\s]+),\s*Signature=([0-9a-f]{64})$")


@dataclass(frozen=True)
class SignedRequest:
    method: str
    path: str
    query: str  # the raw query string, without '?'
    headers: dict[str, str]  # names in any case
    body: bytes


@dataclass(frozen=True)
class Credential:
    access_key: str
    date: str
    region: str
    service: str


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    key = _hmac(("AWS4" + secret).encode(), date)
    for part in (region, service, "aws4_request"):
        key = _hmac(key, part)
    return key


def _uri_encode(text: str, safe: str) -> str:
    return quote(text, safe=safe + "-_.~")


def canonical_uri(path: str) -> str:
    """Every path segment URI-encoded once more (non-S3 services encode twice; botocore does too)."""
    return _uri_encode(path or "/", safe="/")


def canonical_query(query: str) -> str:
    pairs = []
    for part in query.split("&") if query else []:
        name, _, value = part.partition("=")
        pairs.append((_uri_encode(unquote(name), ""), _uri_encode(unquote(value), "")))
    return "&".join(f"{n}={v}" for n, v in sorted(pairs))


def canonical_request(req: SignedRequest, signed_headers: list[str]) -> str:
    lower = {k.lower(): v for k, v in req.headers.items()}
    lines = []
    for name in signed_headers:
        if name not in lower:
            raise Ec2Error("AuthFailure", f"AWS was not able to validate the provided access credentials "
                           f"(signed header {name[:64]} is missing)")
        lines.append(f"{name}:{' '.join(lower[name].split())}\n")
    payload = lower.get("x-amz-content-sha256") or _sha256(req.body)
    return "\n".join([req.method, canonical_uri(req.path), canonical_query(req.query), "".join(lines),
                      ";".join(signed_headers), payload])


def string_to_sign(amz_date: str, scope: str, canonical: str) -> str:
    return "\n".join([ALGORITHM, amz_date, scope, _sha256(canonical.encode())])


def read_authorization(headers: dict[str, str]) -> tuple[Credential, list[str], str]:
    """The credential, signed header names and signature of the Authorization header."""
    lower = {k.lower(): v for k, v in headers.items()}
    auth = lower.get("authorization")
    if not auth:
        raise Ec2Error("AuthFailure", "AWS was not able to validate the provided access credentials "
                       "(no Authorization header; sign the request with Signature Version 4)")
    match = _AUTH_RE.match(auth.strip())
    if not match:
        raise Ec2Error("AuthFailure", "AWS was not able to validate the provided access credentials "
                       "(the Authorization header is not AWS4-HMAC-SHA256)")
    parts = match.group(1).split("/")
    if len(parts) != 5 or parts[4] != "aws4_request" or not re.fullmatch(r"\d{8}", parts[1]):
        raise Ec2Error("AuthFailure", "AWS was not able to validate the provided access credentials "
                       "(malformed credential scope)")
    signed = match.group(2).split(";")
    if signed != sorted(signed) or "host" not in signed:
        raise Ec2Error("AuthFailure", "AWS was not able to validate the provided access credentials "
                       "(SignedHeaders must be sorted and include host)")
    return Credential(*parts[:4]), signed, match.group(3)


def request_time(headers: dict[str, str]) -> dt.datetime:
    lower = {k.lower(): v for k, v in headers.items()}
    raw = lower.get("x-amz-date", "")
    try:
        return dt.datetime.strptime(raw, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.timezone.utc)
    except ValueError:
        raise Ec2Error("AuthFailure", "AWS was not able to validate the provided access credentials "
                       "(X-Amz-Date is missing or not YYYYMMDDTHHMMSSZ)") from None


def verify(req: SignedRequest, secret_for, now: dt.datetime, service: str = "ec2") -> Credential:
    """The request's credential if its signature is right; EC2's error otherwise.
    `secret_for(access_key)` gives the secret, or None for a key nobody was given."""
    cred, signed, signature = read_authorization(req.headers)
    secret = secret_for(cred.access_key)
    if secret is None:
        raise Ec2Error("AuthFailure", "AWS was not able to validate the provided access credentials")
    when = request_time(req.headers)
    if when.strftime("%Y%m%d") != cred.date:
        raise Ec2Error("AuthFailure", "AWS was not able to validate the provided access credentials "
                       "(the credential's date is not X-Amz-Date's)")
    if abs((now - when).total_seconds()) > MAX_SKEW_S:
        raise Ec2Error("RequestExpired", f"Request has expired: its date {when:%Y%m%dT%H%M%SZ} is more than "
                       f"{MAX_SKEW_S // 60} minutes from the server's {now:%Y%m%dT%H%M%SZ}")
    if cred.service != service:
        raise Ec2Error("AuthFailure", f"AWS was not able to validate the provided access credentials "
                       f"(credential scope names service {cred.service[:32]!r}, not {service!r})")
    scope = f"{cred.date}/{cred.region}/{cred.service}/aws4_request"
    to_sign = string_to_sign(when.strftime("%Y%m%dT%H%M%SZ"), scope, canonical_request(req, signed))
    expected = hmac.new(signing_key(secret, cred.date, cred.region, cred.service), to_sign.encode(),
                        hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature):
        raise Ec2Error("AuthFailure", "AWS was not able to validate the provided access credentials")
    return cred
