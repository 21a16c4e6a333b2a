"""EC2's errors: a code botocore turns into `ClientError`, a message, and an HTTP status."""

from __future__ import annotations

# EC2 answers client errors with 400, authentication failures with 401 (AuthFailure) and
# permission failures with 403 (UnauthorizedOperation); botocore reads the code from the body.
_STATUS = {"AuthFailure": 401, "UnauthorizedOperation": 403, "RequestExpired": 400, "InternalError": 500,
           "DryRunOperation": 412, "SignatureDoesNotMatch": 403}


class Ec2Error(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code, self.message = code, message

    @property
    def status(self) -> int:
        return _STATUS.get(self.code, 400)
