"""The workshop's pure parts: every shipped exercise loads and is complete, values name live facts,
and a bad exercise file is one line naming the file and the key."""

from __future__ import annotations

import pytest

from lab.plan.build import build_plan
from lab.topology.errors import LabInputError
from lab.topology.load import load_topology
from lab.workshop import catalog
from lab.workshop.model import AnswerCriterion
from lab.workshop.values import Unknown, expand


def test_every_exercise_loads_with_hints_criteria_and_a_topology():
    exercises = catalog.all_exercises()
    assert len(exercises) >= 6
    numbers = [ex.number for _, ex in exercises]
    assert numbers == sorted(set(numbers))
    for folder, ex in exercises:
        assert folder.name.startswith(f"{ex.number:02d}-")
        assert ex.hints and ex.criteria and ex.claim.strip() and ex.task.strip()
        from lab import api
        assert api.topology_text(str(folder / ex.topology) if (folder / ex.topology).is_file() else ex.topology)
        for crit in ex.criteria:  # an answer criterion needs the key the task asks for
            if isinstance(crit, AnswerCriterion):
                assert crit.key in ex.answers, (ex.number, crit.key)


def test_an_unknown_exercise_names_the_ones_there_are():
    with pytest.raises(LabInputError, match="there is no exercise 42; fix: use one of: 1, "):
        catalog.get(42)


def test_a_bad_exercise_file_is_one_line_with_its_path(tmp_path):
    (tmp_path / "exercise.yaml").write_text("number: 3\ntitle: x\nminutes: 5\ntopology: basic\nclaim: c\ntask: t\n"
                                            "hints: [h]\ncriteria: [{kind: answer, title: t, key: k, equal: v}]\n")
    with pytest.raises(LabInputError) as err:
        catalog.load(tmp_path)
    assert str(err.value).startswith(f"{tmp_path / 'exercise.yaml'}: criteria.0.answer")
    assert "\n" not in str(err.value)


@pytest.fixture(scope="module")
def plan():
    return build_plan(load_topology("basic"), "t").to_dict()


def test_values_name_the_lab_facts(plan):
    ep = plan["endpoints"][0]
    assert expand("{endpoint.web-endpoint.id}", plan, {}) == ep["id"]
    regional = next(e["DnsName"] for e in ep["dns_entries"] if e["Scope"] == "regional")
    assert expand("http://{endpoint.web-endpoint.regional}/", plan, {}) == f"http://{regional}/"
    assert expand("{endpoint.web-endpoint.zonal.us-east-1b}", plan, {}).endswith(".vpce.amazonaws.com")
    assert expand("{instance.consumer-client.ip}", plan, {}) == "10.0.1.10"
    assert expand("{node.web-nlb.us-east-1a.ip}", plan, {}).startswith("10.0.1.")
    # inner references first: an endpoint named by the participant's answer
    assert expand("{endpoint.{answer.id}.regional}", plan, {"id": ep["id"]}) == regional


@pytest.mark.parametrize("ref, why", [
    ("{endpoint.nope.id}", "no endpoint 'nope'"),
    ("{endpoint.web-endpoint.zonal.us-east-1z}", "no ENI in us-east-1z"),
    ("{answer.name}", "answers.yaml has no 'name' yet"),
    ("{instance.ghost.ip}", "no instance 'ghost'"),
])
def test_a_value_the_lab_does_not_have_fails_its_criterion_saying_why(plan, ref, why):
    with pytest.raises(Unknown, match=why):
        expand(ref, plan, {})
