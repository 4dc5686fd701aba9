"""YAML for rule files with limits (issue 15: a 350-byte alias bomb in the rule-pack editor took
seconds, and every 50 more bytes multiplied that by ten).

`load(text)` is `yaml.safe_load` plus three limits checked on the composed node graph before any
Python object is built: the text's size, the number of aliases, and the number of nodes the
document would have with every alias expanded (counted once per node with memoisation, so the
check itself stays linear in the text). Exceeding one raises `YAMLLimitExceeded` (a YAMLError)."""
from __future__ import annotations

import yaml

MAX_BYTES = 1024 * 1024
MAX_ALIASES = 100
MAX_EXPANDED_NODES = 200_000


class YAMLLimitExceeded(yaml.YAMLError):
    pass


class _CountingLoader(yaml.SafeLoader):
    def __init__(self, stream):
        super().__init__(stream)
        self.aliases = 0

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            self.aliases += 1
            if self.aliases > self.max_aliases:
                raise YAMLLimitExceeded(f"more than {self.max_aliases} aliases")
        return super().compose_node(parent, index)


def _expanded_size(node, memo: dict[int, int], limit: int) -> int:
    key = id(node)
    if key in memo:
        if memo[key] < 0:
            raise YAMLLimitExceeded("a recursive alias (a node that contains itself)")
        return memo[key]
    memo[key] = -1  # in progress
    size = 1
    if isinstance(node, yaml.SequenceNode):
        for child in node.value:
            size += _expanded_size(child, memo, limit)
            if size > limit:
                break
    elif isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            size += _expanded_size(key_node, memo, limit) + _expanded_size(value_node, memo, limit)
            if size > limit:
                break
    memo[key] = size
    return size


def load(text: str | bytes, *, max_bytes: int = MAX_BYTES, max_aliases: int = MAX_ALIASES,
         max_nodes: int = MAX_EXPANDED_NODES):
    """Parse one YAML document safely, within the limits."""
    if len(text) > max_bytes:
        raise YAMLLimitExceeded(f"the YAML is larger than {max_bytes} bytes")
    loader = _CountingLoader(text)
    loader.max_aliases = max_aliases
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        size = _expanded_size(node, {}, max_nodes)
        if size > max_nodes:
            raise YAMLLimitExceeded(f"the YAML expands to more than {max_nodes} nodes (aliases)")
        return loader.construct_document(node)
    finally:
        loader.dispose()
