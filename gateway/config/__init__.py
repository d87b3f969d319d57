"""Configuration: every YAML file the gateway reads, read once, validated, and turned into
frozen dataclasses or domain records.

An unknown key, a wrong type or a missing file fails at start-up with a ``ConfigError`` naming
the file, the key and what was expected. The four provinces differ by these files only.

| file | reader | becomes |
| --- | --- | --- |
| ``config/federation.yaml`` | ``federation`` | ``FederationConfig`` |
| ``nodes/<id>/node.yaml`` | ``node`` | ``NodeConfig`` |
| the standard it names | ``standard_file`` | ``gateway.standard.Standard`` |
| ``crosswalk.yaml``, ``departments.yaml`` | ``province`` | ``Crosswalk``, ``Departments`` |
| ``interfaces.yaml`` | ``interfaces_file`` | ``gateway.exchange.model.Interface`` |

``load_province`` reads one node's settings and every file they name.
"""

from gateway.config.federation import (
    DEFAULT_FEDERATION,
    FederationConfig,
    NodeAddress,
    load_federation,
    split_address,
)
from gateway.config.interfaces_file import load_interfaces
from gateway.config.node import (
    EXIT_MARGIN_S,
    MAX_WORKERS,
    AuditSettings,
    Limits,
    NodeConfig,
    SearchSettings,
    SeedSettings,
    load_node,
)
from gateway.config.province import Province, load_crosswalk, load_departments, load_province
from gateway.config.standard_file import load_standard

__all__ = [
    "DEFAULT_FEDERATION",
    "EXIT_MARGIN_S",
    "MAX_WORKERS",
    "FederationConfig",
    "AuditSettings",
    "Limits",
    "NodeAddress",
    "NodeConfig",
    "Province",
    "SearchSettings",
    "SeedSettings",
    "load_crosswalk",
    "load_departments",
    "load_federation",
    "load_interfaces",
    "load_node",
    "load_province",
    "load_standard",
    "split_address",
]
