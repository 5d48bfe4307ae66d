"""The YAML loader spec files are read with."""

from __future__ import annotations

import re

import yaml

__all__ = ["OneValuePerKey"]


class OneValuePerKey(yaml.SafeLoader):
    """YAML's safe loader, refusing a key given twice in one mapping (PyYAML keeps the last
    silently: `{learner: ols, learner: lasso}` would run lasso), and reading `1e-3` as a number.

    PyYAML follows YAML 1.1, whose floats need a dot: `alpha: 1e-3` would arrive as the text
    '1e-3', which scikit-learn refuses and R would coerce. YAML 1.2 reads it as the number every
    reader of the spec sees, and so does this loader."""

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


# A number with an exponent and no dot (1e-3, 2E+5, -1e4): YAML 1.2's float, not matched by 1.1's.
OneValuePerKey.add_implicit_resolver(
    "tag:yaml.org,2002:float", re.compile(r"^[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+$"), list("-+0123456789")
)
