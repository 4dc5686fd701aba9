"""Effective ownership through chains, multiple paths and cycles."""
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from onboarding.ownership import Edge, effective_ownership

D = Decimal


def test_a_chain_multiplies_the_shares_along_it():
    # A (person 1) owns 50% of B (2), B owns 60% of C (3): A owns 30% of C.
    result = effective_ownership(3, [Edge(1, 2, D(50)), Edge(2, 3, D(60))])
    assert result.shares[1].effective == D(30)
    assert result.shares[2].effective == D(60)
    assert result.cycles == []


def test_shares_through_several_paths_are_summed():
    # Person 1 holds 10% of root 9 directly, and 50% of 2 which holds 40% of 9: 10 + 20 = 30%.
    result = effective_ownership(9, [Edge(1, 9, D(10)), Edge(1, 2, D(50)), Edge(2, 9, D(40))])
    assert result.shares[1].effective == D(30)
    assert len(result.shares[1].paths) == 2
    assert [o.party_id for o in result.above(D(25))] == [2, 1]


def test_the_threshold_can_be_inclusive_or_strict():
    result = effective_ownership(9, [Edge(1, 9, D(25)), Edge(2, 9, D("25.01"))])
    assert {o.party_id for o in result.above(D(25), inclusive=True)} == {1, 2}
    assert {o.party_id for o in result.above(D(25), inclusive=False)} == {2}


def test_a_circular_holding_is_detected_and_the_walk_ends():
    # 2 owns 50% of 3, 3 owns 50% of 2 (cross-holding), person 1 owns 50% of 2; root is 4 owned 100% by 3.
    edges = [Edge(3, 4, D(100)), Edge(2, 3, D(50)), Edge(3, 2, D(50)), Edge(1, 2, D(50))]
    result = effective_ownership(4, edges)
    assert result.cycles, "the cross-holding must be flagged"
    assert set(result.cycles[0]) == {2, 3}
    # 1 -> 2 -> 3 -> 4 : 50% * 50% * 100% = 25%
    assert result.shares[1].effective == D(25)


def test_control_roles_on_the_root_are_kept_without_shares():
    result = effective_ownership(9, [Edge(5, 9, D(0), role="director"), Edge(6, 9, D(100))])
    assert result.shares[5].roles == {"director"}
    assert result.shares[5].effective == D(0)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 6), st.integers(1, 6), st.integers(1, 100)), max_size=14))
def test_any_graph_terminates_and_no_share_exceeds_what_exists(raw):
    """Whatever the graph, including cycles, the walk ends; with at most 100% held of each
    entity, nobody ends up with more than 100% of the root through acyclic paths."""
    edges, held = [], {}
    for owner, owned, pct in raw:
        if owner == owned or held.get(owned, 0) + pct > 100:
            continue
        held[owned] = held.get(owned, 0) + pct
        edges.append(Edge(owner, owned, D(pct)))
    result = effective_ownership(1, edges)
    for share in result.shares.values():
        assert D(0) <= share.effective <= D(100)
        for path, _ in share.paths:
            assert len(set(path)) == len(path), "a path never visits a node twice"
