"""`lab service create|delete` (issue 14): a provider offers one of its NLBs as an endpoint service,
or stops offering one, live; the EC2 API's CreateVpcEndpointServiceConfiguration and
DeleteVpcEndpointServiceConfigurations call the same transaction (lab.privatelink.provision)."""

from __future__ import annotations


def _quiet(_msg: str) -> None:
    pass


def create_service(lab: str, account: str, nlb: str, name: str | None = None, acceptance_required: bool = True,
                   principals: list[str] | None = None, ip_types: list[str] | None = None, progress=_quiet):
    """CreateVpcEndpointServiceConfiguration on NLB `nlb` (its name or ARN). -> ServiceChange"""
    from lab.privatelink import provision

    return provision.create_service(lab, account, nlb, name=name, acceptance_required=acceptance_required,
                                    principals=principals, ip_types=ip_types, progress=progress)


def delete_services(lab: str, account: str, services: list[str], progress=_quiet):
    """DeleteVpcEndpointServiceConfigurations; a service with endpoints is refused. -> ServiceChange"""
    from lab.privatelink import provision

    return provision.delete_services(lab, account, services, progress)


def check_service_arguments(name: str | None = None, ip_types: list[str] | None = None) -> None:
    """The arguments' own checks, before any lab is looked up (bad input: exit 2, nothing read)."""
    from lab.privatelink import provision

    provision.check_name(name)
    provision.check_ip_types(ip_types)

