"""Finding 9 (YAML): rule YAML is loaded with alias and size limits; the admin rule-pack editor
refuses an alias bomb at once instead of spending seconds (x10 per 50 bytes) expanding it."""
from __future__ import annotations

import time

import pytest
from django.test import Client

from onboarding import safeyaml, services
from onboarding.models import RulePack
from tests.factories import OfficerFactory


def bomb(levels: int) -> str:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for n in range(1, levels + 1):
        lines.append(f"a{n}: &a{n} [" + ",".join([f"*a{n - 1}"] * 10) + "]")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("levels", [5, 7, 9])
def test_alias_bombs_are_refused_quickly(levels):
    start = time.perf_counter()
    with pytest.raises(safeyaml.YAMLLimitExceeded):
        safeyaml.load(bomb(levels))
    assert time.perf_counter() - start < 0.5


def test_limits_on_size_alias_count_and_recursion():
    with pytest.raises(safeyaml.YAMLLimitExceeded, match="larger than"):
        safeyaml.load("a: 1\n" * 300_000)
    with pytest.raises(safeyaml.YAMLLimitExceeded, match="aliases"):
        safeyaml.load("x: &x 1\nl: [" + ",".join(["*x"] * 101) + "]\n")
    with pytest.raises(safeyaml.YAMLLimitExceeded, match="recursive"):
        safeyaml.load("a: &a [*a]\n")
    assert safeyaml.load("base: &b {x: 1}\nother: *b\n") == {"base": {"x": 1}, "other": {"x": 1}}


@pytest.mark.django_db
def test_the_rule_pack_editor_refuses_the_bomb_and_keeps_the_pack():
    services.rulepacks_load()
    pack = RulePack.objects.filter(is_active=True).order_by("code", "-version").first()
    before = RulePack.objects.count()
    officer = OfficerFactory(is_superuser=True)
    client = Client()
    client.force_login(officer)
    url = f"/admin/onboarding/rulepack/{pack.pk}/change/"

    def timed(text):
        start = time.perf_counter()
        response = client.post(url, {"content_yaml": text, "reason": "attack"})
        return response, time.perf_counter() - start

    timed("[unclosed")  # warm-up
    _, baseline = timed("[unclosed")  # the page with an ordinary YAML error
    response, elapsed = timed(bomb(8))  # 10^9 strings if expanded
    assert response.status_code == 200 and "not valid YAML" in response.content.decode()
    assert elapsed < baseline + 1.0
    assert RulePack.objects.count() == before
