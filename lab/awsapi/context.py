"""Who is calling, and whether they may: the caller's account (from the access key), its IAM
policies, and DryRun. Every action asks `authorize` before it changes or reads anything."""

from __future__ import annotations

from dataclasses import dataclass, field

from lab.awsapi.errors import Ec2Error
from lab.iam.keys import KeyPair
from lab.iam.policy import Request, decide


@dataclass
class Call:
    lab: str
    view: object  # lab.api.ec2_view(): topology, plan and control record, read once per request
    caller: KeyPair
    policies: list[dict] | None  # None: no identity policies declared, the account root's rights
    action: str
    dry_run: bool = False
    iam_service: str = "ec2"  # the IAM action's prefix: ec2, or cloudwatch for the CloudWatch calls
    authorized: bool = field(default=False, init=False)

    @property
    def region(self) -> str:
        return self.view.topo.region

    @property
    def account_id(self) -> str:
        return self.caller.account_id

    def arn(self, kind: str, resource_id: str, owner: str | None = None) -> str:
        return f"arn:aws:ec2:{self.region}:{owner or self.account_id}:{kind}/{resource_id}"

    def authorize(self, resources: list[str] | tuple[str, ...] = ("*",), context: dict[str, str] | None = None) -> None:
        """UnauthorizedOperation if the caller's policies do not allow the action on `resources`;
        DryRunOperation if they do and the request is a dry run (so nothing is changed)."""
        ctx = {"aws:PrincipalAccount": self.account_id, "ec2:Region": self.region,
               "aws:RequestedRegion": self.region, **(context or {})}
        decision = decide(self.policies, Request(f"{self.iam_service}:{self.action}", tuple(resources) or ("*",), ctx))
        if decision != "Allow":
            why = "with an explicit deny in an identity-based policy" if decision == "ExplicitDeny" else \
                "because no identity-based policy allows the action"
            raise Ec2Error("UnauthorizedOperation",
                           f"You are not authorized to perform this operation. User: {self.caller.arn} is not "
                           f"authorized to perform: {self.iam_service}:{self.action} on resource: "
                           f"{resources[0] if resources else '*'} "
                           f"{why}")
        if self.dry_run:
            raise Ec2Error("DryRunOperation", "Request would have succeeded, but DryRun flag is set.")
        self.authorized = True
