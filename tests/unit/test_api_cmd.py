"""`lab api credentials` on a paper lab (tests/unit/conftest.py), and `lab api serve`'s host check."""

from __future__ import annotations

import json
import subprocess

import pytest

from lab.cli import api_cmd
from lab.cli.main import main


def run(capsys, *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_json_lists_every_account_and_user(paper_lab, capsys):
    name, _ = paper_lab
    code, out, _ = run(capsys, "api", "credentials", "--name", name)
    assert code == 0
    items = json.loads(out)
    assert [(i["Account"], i["AccountId"], i.get("UserName")) for i in items] == [
        ("provider", "111111111111", None), ("consumer", "222222222222", None),
        ("consumer", "222222222222", "reader"), ("consumer", "222222222222", "scoped")]
    assert all(i["AccessKeyId"].startswith("AKIA") and len(i["AccessKeyId"]) == 20 and len(i["SecretAccessKey"]) == 40
               for i in items)
    assert len({i["AccessKeyId"] for i in items}) == 4
    assert json.loads(run(capsys, "api", "credentials", "--name", name)[1]) == items  # stable: same secret


def test_keys_differ_between_labs(paper_lab, capsys, tmp_path):
    from lab.iam.keys import derive

    a, b = derive(b"s" * 32, "lab-a", "consumer", "222222222222"), derive(b"s" * 32, "lab-b", "consumer", "222222222222")
    assert a.access_key_id != b.access_key_id and a.secret_access_key != b.secret_access_key
    assert derive(b"t" * 32, "lab-a", "consumer", "222222222222").access_key_id != a.access_key_id


def test_env_lines_are_for_eval(paper_lab, capsys):
    name, _ = paper_lab
    code, out, _ = run(capsys, "api", "credentials", "--name", name, "--account", "consumer", "--format", "env",
                       "--endpoint-url", "http://127.0.0.1:9999")
    assert code == 0
    shown = subprocess.run(["bash", "-c", out + "\necho $AWS_ACCESS_KEY_ID $AWS_DEFAULT_REGION $AWS_ENDPOINT_URL"],
                           capture_output=True, text=True, check=True).stdout.split()
    key = json.loads(run(capsys, "api", "credentials", "--name", name, "-a", "222222222222")[1])[0]["AccessKeyId"]
    assert shown == [key, "us-east-1", "http://127.0.0.1:9999"]


def test_env_needs_one_account(paper_lab, capsys):
    name, _ = paper_lab
    code, _, err = run(capsys, "api", "credentials", "--name", name, "--format", "env")
    assert code == 2
    assert err.strip().splitlines()[-1] == ("error: --account: env output is for one account, and 4 match; "
                                           "fix: add --account, one of: provider, consumer")


def test_user_keys(paper_lab, capsys):
    name, _ = paper_lab
    code, out, _ = run(capsys, "api", "credentials", "--name", name, "-a", "consumer", "--user", "reader", "--format", "env")
    assert code == 0 and out.count("export ") == 4
    reader = [i for i in json.loads(run(capsys, "api", "credentials", "--name", name)[1]) if i.get("UserName") == "reader"]
    assert f"export AWS_ACCESS_KEY_ID={reader[0]['AccessKeyId']}" in out
    code, _, err = run(capsys, "api", "credentials", "--name", name, "--user", "mallory")
    assert code == 2 and err.strip().endswith("fix: use one of: reader, scoped")


def test_aws_config_profiles(paper_lab, capsys):
    name, _ = paper_lab
    code, out, _ = run(capsys, "api", "credentials", "--name", name, "--format", "aws-config")
    assert code == 0
    profiles = [line for line in out.splitlines() if line.startswith("[profile ")]
    assert profiles == [f"[profile {name}-provider]", f"[profile {name}-consumer]", f"[profile {name}-consumer-reader]",
                        f"[profile {name}-consumer-scoped]"]
    assert out.count("endpoint_url = http://127.0.0.1:4566") == 4


def test_unknown_account(paper_lab, capsys):
    name, _ = paper_lab
    code, _, err = run(capsys, "api", "credentials", "--name", name, "--account", "nobody")
    assert code == 2 and "no account 'nobody'" in err


@pytest.mark.parametrize("host,loopback", [("127.0.0.1", True), ("127.9.9.9", True), ("::1", True),
                                           ("localhost", True), ("0.0.0.0", False), ("192.0.2.1", False),
                                           ("::", False)])
def test_only_loopback_is_quiet(host, loopback):
    assert api_cmd._is_loopback(host) is loopback
