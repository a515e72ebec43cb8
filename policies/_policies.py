"""Which retry policy applies where: per operation kind, with per-node overrides."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from ._errors import ConfigurationError
from ._retry import DEFAULT_POLICIES, OPERATION_KINDS, OperationKind, RetryPolicy

NodeKey = tuple[str, OperationKind | None]
"""``(node name, kind)``; kind ``None`` means every kind of operation of that node."""


def _check_kind(kind: object) -> OperationKind:
    for known in OPERATION_KINDS:
        if kind == known:
            return known
    raise ConfigurationError(
        f"unknown operation kind {kind!r}; expected one of {', '.join(OPERATION_KINDS)}"
    )


def _check_policy(policy: object) -> RetryPolicy:
    if not isinstance(policy, RetryPolicy):
        raise ConfigurationError(f"expected a RetryPolicy, got {type(policy).__name__}")
    return policy


@dataclass(frozen=True)
class Policies:
    """The retry policies of a graph: one per operation kind, plus per-node overrides.

    Build with :meth:`default` and :meth:`override`; values are immutable, every change returns
    a new value. Kinds left out of ``kinds`` fall back to :data:`DEFAULT_POLICIES`.

    Attributes:
        kinds: policy per operation kind.
        nodes: overrides keyed by ``(node, kind)``; ``(node, None)`` covers all of a node's
            kinds.

    Raises:
        ConfigurationError: an unknown kind or a value that is not a :class:`RetryPolicy`.
    """

    kinds: Mapping[OperationKind, RetryPolicy] = field(default_factory=lambda: DEFAULT_POLICIES)
    nodes: Mapping[NodeKey, RetryPolicy] = field(default_factory=dict)

    def __post_init__(self) -> None:
        kinds: dict[OperationKind, RetryPolicy] = dict(DEFAULT_POLICIES)
        for kind, policy in self.kinds.items():
            kinds[_check_kind(kind)] = _check_policy(policy)
        nodes: dict[NodeKey, RetryPolicy] = {}
        for key, policy in self.nodes.items():
            if not (isinstance(key, tuple) and len(key) == 2 and isinstance(key[0], str)):
                raise ConfigurationError(f"node override keys are (node, kind) tuples, got {key!r}")
            node, node_kind = key
            checked = None if node_kind is None else _check_kind(node_kind)
            nodes[(node, checked)] = _check_policy(policy)
        object.__setattr__(self, "kinds", MappingProxyType(kinds))
        object.__setattr__(self, "nodes", MappingProxyType(nodes))

    @classmethod
    def default(cls) -> Policies:
        """Return the default policies (:data:`DEFAULT_POLICIES`, no overrides)."""
        return cls()

    def for_node(self, node_name: str, kind: OperationKind) -> RetryPolicy:
        """Return the policy for ``kind`` operations of node ``node_name``.

        Lookup order: override for (node, kind), override for the whole node, policy of kind.

        Raises:
            ConfigurationError: ``kind`` is not an operation kind.
        """
        kind = _check_kind(kind)
        policy = self.nodes.get((node_name, kind)) or self.nodes.get((node_name, None))
        return policy if policy is not None else self.kinds[kind]

    def override(
        self,
        *,
        node: str | None = None,
        kind: OperationKind | None = None,
        policy: RetryPolicy,
    ) -> Policies:
        """Return a copy with ``policy`` set for a node, a kind, or a node's kind.

        Args:
            node: node name; ``None`` changes the default of ``kind`` for every node.
            kind: operation kind; ``None`` (with ``node``) covers all kinds of that node.
            policy: the policy to use there.

        Raises:
            ConfigurationError: neither ``node`` nor ``kind`` given, unknown kind, or
                ``policy`` is not a :class:`RetryPolicy`.
        """
        policy = _check_policy(policy)
        if node is None:
            if kind is None:
                raise ConfigurationError("override() needs node=..., kind=... or both")
            return Policies(kinds={**self.kinds, _check_kind(kind): policy}, nodes=self.nodes)
        checked = None if kind is None else _check_kind(kind)
        return Policies(kinds=self.kinds, nodes={**self.nodes, (node, checked): policy})
