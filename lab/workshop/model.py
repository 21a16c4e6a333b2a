"""What an exercise file may say: its task, its hints, and criteria of a few kinds.

Every criterion is observed on the participant's live lab (lab.workshop.criteria): a `lab verify` run
on packets, endpoints as DescribeVpcEndpoints shows them, a request made from an instance, an AZ's
state, a capture file, or an answer the participant wrote. Values may name live facts as
`{endpoint.NAME.id}` and the like (lab.workshop.values), so no expected answer is typed in twice.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class _Criterion(_Strict):
    title: Annotated[str, Field(min_length=1, max_length=120)]  # what it checks, in one line


class VerifyCriterion(_Criterion):
    """`lab verify` passes on the exercise's lab: every declared flow, name and rule, on packets."""

    kind: Literal["verify"]
    flows_at_least: int = 1  # a lab with no flows left to prove proves nothing
    # Checks of a category (residency, tenancy, ...) that must pass, at least so many: deleting the rule
    # a task is about must not make `lab verify` pass.
    passing_at_least: dict[str, int] = {}


class EndpointsCriterion(_Criterion):
    """How many endpoints match: in a VPC, to a service, in a state, with private DNS, by the service's region."""

    kind: Literal["endpoints"]
    vpc: str | None = None
    service: str | None = None
    state: str | None = None
    private_dns: bool | None = None
    service_region: str | None = None  # only endpoints whose service lives in this region
    service_region_not: str | None = None  # only endpoints whose service lives elsewhere
    at_least: int | None = None
    at_most: int | None = None


class RequestCriterion(_Criterion):
    """One GET from an instance to a name or address (a value): answered (by a target in an AZ, as a tenant) or not."""

    kind: Literal["request"]
    from_: Annotated[str, Field(alias="from")]
    host: str
    port: int = 80
    expect: Literal["answered", "unanswered"] = "answered"
    answered_from_az: str | None = None  # the answering target's AZ
    tenant: str | None = None  # the tenant the target answered as


class AnswerCriterion(_Criterion):
    """A key of the participant's answers.yaml equals a value (case and surrounding space ignored)."""

    kind: Literal["answer"]
    key: str
    equals: str | list[str]  # a list: any one of them is right


class AzCriterion(_Criterion):
    kind: Literal["az"]
    az: str
    state: Literal["failed", "available"]


class PcapCriterion(_Criterion):
    """The pcap file an answer names holds a PPv2 header with this source address (or this endpoint ID)."""

    kind: Literal["pcap"]
    key: str
    source: str | None = None
    endpoint_id: str | None = None


Criterion = Annotated[VerifyCriterion | EndpointsCriterion | RequestCriterion | AnswerCriterion | AzCriterion
                      | PcapCriterion, Field(discriminator="kind")]


class Exercise(_Strict):
    number: Annotated[int, Field(ge=1, le=99)]
    title: Annotated[str, Field(min_length=1, max_length=80)]
    minutes: Annotated[int, Field(ge=1, le=60)]
    topology: str  # a built-in topology's name, or a file beside exercise.yaml
    claim: str  # what the talk (NET310) claims, for a participant who has not seen it
    task: str
    answers: list[str] = []  # keys the participant fills in answers.yaml
    hints: Annotated[list[str], Field(min_length=1)]
    criteria: Annotated[list[Criterion], Field(min_length=1)]
