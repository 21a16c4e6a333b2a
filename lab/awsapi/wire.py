"""The EC2 Query protocol's wire format, driven by botocore's own EC2 service model.

Requests are flat form fields (`SubnetId.1`, `Filter.1.Value.2`, `TagSpecification.1.Tag.1.Key`);
replies are XML in EC2's namespace whose element names (`vpcEndpointSet`, `item`) come from the
model's `locationName`s. Reading both from the model botocore ships - the same file the clients
use - means the names cannot drift from what boto3 and the AWS CLI send and parse.
"""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from functools import lru_cache

from lab.awsapi.errors import Ec2Error

NAMESPACE = "http://ec2.amazonaws.com/doc/2016-11-15/"
API_VERSION = "2016-11-15"
MAX_FIELDS = 1000  # a request with more form fields than this is refused before it is read
MAX_LIST = 1000  # list indices above this are refused (EC2's own lists are far shorter)

ET.register_namespace("", NAMESPACE)  # replies carry EC2's namespace as the default one, as EC2's do


@lru_cache(maxsize=1)
def service_model():
    from botocore.loaders import Loader
    from botocore.model import ServiceModel

    return ServiceModel(Loader().load_service_model("ec2", "service-2"), service_name="ec2")


def operation(name: str):
    try:
        return service_model().operation_model(name)
    except Exception:  # noqa: BLE001 - botocore's OperationNotFoundError and friends
        return None


def _query_name(shape, member_name: str) -> str:
    """The name botocore's EC2 serializer gives a member on the wire (queryName, else LocationName)."""
    if "queryName" in shape.serialization:
        return shape.serialization["queryName"]
    name = shape.serialization.get("name")
    return name[0].upper() + name[1:] if name else member_name


# -- requests ---------------------------------------------------------------------------------------

def parse_request(op, form: dict[str, str]) -> dict:
    """The operation's input as botocore would have built it, checked against the model's types.
    Every form field must be used: a leftover one is EC2's UnknownParameter."""
    used: set[str] = set()
    params = _parse_structure(op.input_shape, "", form, used, _index(form)) if op.input_shape else {}
    extra = sorted(set(form) - used - {"Action", "Version"})
    if extra:
        raise Ec2Error("UnknownParameter", f"The parameter {extra[0][:200]} is not recognized")
    return params


def _index(form: dict[str, str]) -> dict[str, set[int]]:
    """For every prefix `a.b`, the list indices that follow it (`a.b.1...`, `a.b.2...`)."""
    out: dict[str, set[int]] = {}
    for key in form:
        parts = key.split(".")
        for k in range(1, len(parts)):
            if parts[k].isdigit() and len(parts[k]) <= 4:
                out.setdefault(".".join(parts[:k]), set()).add(int(parts[k]))
    return out


def _parse_structure(shape, prefix: str, form, used, index) -> dict:
    out = {}
    for member, mshape in shape.members.items():
        key = f"{prefix}.{_query_name(mshape, member)}" if prefix else _query_name(mshape, member)
        value = _parse_value(mshape, key, form, used, index)
        if value is not None:
            out[member] = value
    for member in shape.required_members:
        if member not in out:
            raise Ec2Error("MissingParameter", f"The request must contain the parameter {member}")
    return out


def _parse_value(shape, key: str, form, used, index):
    kind = shape.type_name
    if kind == "structure":
        if not any(k == key or k.startswith(key + ".") for k in form):
            return None
        return _parse_structure(shape, key, form, used, index)
    if kind == "list":
        positions = sorted(index.get(key, ()))
        if not positions:
            return None
        if positions[-1] > MAX_LIST:
            raise Ec2Error("InvalidParameterValue", f"{key}: index {positions[-1]} is out of range")
        return [v for v in (_parse_value(shape.member, f"{key}.{n}", form, used, index) for n in positions)
                if v is not None]
    if kind == "map":
        raise Ec2Error("InvalidParameterValue", f"{key}: maps are not supported by this lab")
    if key not in form:
        return None
    used.add(key)
    return _scalar(shape, key, form[key])


def _scalar(shape, key: str, raw: str):
    kind = shape.type_name
    if kind in ("integer", "long"):
        try:
            return int(raw)
        except ValueError:
            raise Ec2Error("InvalidParameterValue", f"Value ({raw[:100]}) for parameter {key} is invalid. "
                           "Expected an integer.") from None
    if kind == "boolean":
        if raw.lower() not in ("true", "false"):
            raise Ec2Error("InvalidParameterValue", f"Value ({raw[:100]}) for parameter {key} is invalid. "
                           "Expected 'true' or 'false'.")
        return raw.lower() == "true"
    if kind in ("double", "float"):
        try:
            return float(raw)
        except ValueError:
            raise Ec2Error("InvalidParameterValue", f"Value ({raw[:100]}) for parameter {key} is invalid.") from None
    if kind == "timestamp":
        try:
            return dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            raise Ec2Error("InvalidParameterValue", f"Value ({raw[:100]}) for parameter {key} is invalid.") from None
    if shape.enum and raw not in shape.enum:
        raise Ec2Error("InvalidParameterValue", f"Value ({raw[:100]}) for parameter {key} is invalid. "
                       f"Valid values: {', '.join(shape.enum)}")
    return raw


# -- replies ----------------------------------------------------------------------------------------

def _tag(name: str) -> str:
    return f"{{{NAMESPACE}}}{name}"


def render_result(op, result: dict, request_id: str) -> bytes:
    root = ET.Element(_tag(f"{op.name}Response"))
    ET.SubElement(root, _tag("requestId")).text = request_id
    if op.output_shape is not None:
        _fill_structure(root, op.output_shape, result)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def _fill_structure(parent, shape, value: dict) -> None:
    for member, mshape in shape.members.items():
        if member in value and value[member] is not None:
            _fill(parent, mshape, mshape.serialization.get("name", member), value[member])


def _fill(parent, shape, name: str, value) -> None:
    node = ET.SubElement(parent, _tag(name))
    kind = shape.type_name
    if kind == "structure":
        _fill_structure(node, shape, value)
    elif kind == "list":
        item = shape.member.serialization.get("name", "member")
        for element in value:
            _fill(node, shape.member, item, element)
    elif kind == "boolean":
        node.text = "true" if value else "false"
    elif kind == "timestamp":
        node.text = value if isinstance(value, str) else value.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    else:
        node.text = str(value)


def render_error(code: str, message: str, request_id: str) -> bytes:
    """EC2's error document (no namespace): botocore's EC2 parser reads Errors/Error/Code."""
    root = ET.Element("Response")
    error = ET.SubElement(ET.SubElement(root, "Errors"), "Error")
    ET.SubElement(error, "Code").text = code
    ET.SubElement(error, "Message").text = message
    ET.SubElement(root, "RequestID").text = request_id
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)
