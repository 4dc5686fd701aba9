"""The demo registry: the upper apps register their demo steps in AppConfig.ready(), so
`seed_demo` (an onboarding command) runs them without importing them (no importlib)."""
import pytest

from onboarding import demo


def test_upper_apps_register_their_demo_steps_in_installed_apps_order():
    steps = {s.app: s for s in demo.demo_steps()}
    # which app seeds before approval and which after, as each app's demo module defines
    assert [s.app for s in demo.demo_steps()] == ["compliance", "tax", "accounts", "trading", "reconciliation"]
    assert steps["compliance"].seed is not None and steps["tax"].seed is not None
    assert all(steps[a].after_approval is not None for a in ("accounts", "trading", "reconciliation"))
    assert steps["accounts"].seed is None


def test_a_registration_without_steps_is_refused():
    with pytest.raises(ValueError, match="needs a seed or an after_approval"):
        demo.register_demo("nothing")
