"""The EC2 API's calls: what `lab api serve` (lab/awsapi) and `lab api credentials` use, through lab.api.

The EC2 Query API server acts through these only, so it runs the very transactions the `lab
endpoint ...` and `lab service ...` commands run: the data plane changes live, and `lab endpoint
list` and DescribeVpcEndpoints read the same stored state. lab.api hands every name of this module
out on first use (its module __getattr__), so a CLI command that needs none of it loads none of it.
"""

from __future__ import annotations

import os as _os
import secrets as _secrets

from lab.iam.keys import KeyPair, derive
from lab.privatelink import shapes as _shapes
from lab.privatelink.control import (
    ControlPlaneError,
    accept_connections,
    allow_principals,
    create_endpoint,
    delete_endpoints,
    read_view,
    reject_connections,
    revoke_principals,
    set_acceptance,
)
from lab.privatelink.principals import NotAuthorized, resolve_account
from lab.privatelink.workflow import WorkflowError
from lab.state.store import LabState
from lab.topology.errors import LabInputError

API_SECRET_FILE = "api-secret"  # in the lab's state folder: `lab down` removes it with the lab


def ec2_view(lab: str) -> _shapes.LabView:
    """The lab as it is now: topology, plan and control record (DescribeX reads this)."""
    return read_view(lab)


def _api_secret(lab: str) -> bytes:
    state = LabState(lab)
    state.load_plan()  # "no lab named X is up" before a secret is made for it
    path = state.dir / API_SECRET_FILE
    try:
        fd = _os.open(path, _os.O_WRONLY | _os.O_CREAT | _os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes()
    with _os.fdopen(fd, "wb") as out:
        out.write(_secrets.token_bytes(32))
    return path.read_bytes()


def ec2_credentials(lab: str, view: _shapes.LabView | None = None) -> list[KeyPair]:
    """One key pair per account of the lab, and one per IAM user declared in the topology's `iam:`."""
    view = view or read_view(lab)
    secret = _api_secret(lab)
    pairs = [derive(secret, lab, name, account_id) for name, account_id in view.topo.accounts.items()]
    for ident in getattr(view.topo, "iam", None) or []:
        if ident.user:
            pairs.append(derive(secret, lab, ident.account, view.topo.accounts[ident.account], ident.user))
    return pairs


ec2_describe_endpoint = _shapes.endpoint
ec2_describe_service = _shapes.service
describe_connection = _shapes.connection
describe_permissions = _shapes.permissions


API_STORE_FILE = "api-store.json"  # the API's own facts: tags set through it, ClientTokens seen


def ec2_store(lab: str) -> dict:
    """{"Tags": {resource_id: [{Key, Value}]}, "ClientTokens": {account/token: {...}}} (empty at first)."""
    import json

    path = LabState(lab).dir / API_STORE_FILE
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def ec2_store_save(lab: str, data: dict) -> None:
    import json

    path = LabState(lab).dir / API_STORE_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
    tmp.replace(path)



from lab.topology.rules import principal_allows  # noqa: E402 - who may see and connect to a service



def ec2_state_stamp(lab: str) -> tuple:
    """Changes whenever the lab's desired state, plan or control record is replaced (mtime, size, inode)."""
    state = LabState(lab)
    out = []
    for path in (state.topology_file, state.plan_file, state.dir / "privatelink.json", state.dir / API_STORE_FILE):
        try:
            st = path.stat()
            out.append((st.st_mtime_ns, st.st_size, st.st_ino))
        except OSError:
            out.append(None)
    return tuple(out)



from lab.privatelink.modify import modify_endpoint  # noqa: E402 - ModifyVpcEndpoint


from lab.privatelink.domains import verify_domain  # noqa: E402,F401 - StartVpcEndpointServicePrivateDnsVerification


from lab.privatelink import subscriptions as _subscriptions  # noqa: E402 - connection notifications

subscriptions_create = _subscriptions.create
subscriptions_delete = _subscriptions.delete
subscriptions_describe = _subscriptions.describe



from lab.usecases.cloudwatch import cloudwatch_get_metric_data, cloudwatch_list_metrics  # noqa: E402,F401 - issue 16
from lab.metrics.query import NAMESPACES as CLOUDWATCH_NAMESPACES  # noqa: E402,F401
from lab.metrics.query import QueryError as CloudWatchQueryError  # noqa: E402,F401
