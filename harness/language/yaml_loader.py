"""The YAML loader spec files are read with."""

from __future__ import annotations

import yaml

__all__ = ["OneValuePerKey"]


class OneValuePerKey(yaml.SafeLoader):
    """YAML's safe loader, refusing a key given twice in one mapping (PyYAML keeps the last
    silently: `{learner: ols, learner: lasso}` would run lasso)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: set = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *defaults`: its keys may be overridden
                continue
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, str) and key in seen:
                problem = f"key '{key}' given twice in one mapping"
                raise yaml.constructor.ConstructorError(None, None, problem, key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)
