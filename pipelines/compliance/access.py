"""Who may do what: four roles, each a set of commands.

- analyst: `sql --role analyst` — the pseudonymised copy of the warehouse, read-only;
- finance: `sql --role finance` — the warehouse with clear financial and personal data;
- crm_service: the serving API — held by API keys (`api-key create`), never by a person;
- dpo: `dsar`, `forget`, `retention`, `suppress` — subject rights and retention.

Roles are given to operating-system users in `ledgerbridge.toml` (`[access]`, role → users,
"*" for everyone). Without an `[access]` table the lake is a developer's own: the local user
holds every role. A refused command is audited with outcome "denied". This is the
application's guard; the storage boundary under it is the file permissions of the lake
(warehouse.duckdb readable by finance only, analyst.duckdb by analysts).
"""

from __future__ import annotations

import getpass

ROLES = ("analyst", "finance", "crm_service", "dpo")
# a role that may also act as another (finance sees everything an analyst sees)
IMPLIES = {"finance": ("analyst",), "dpo": ("analyst",)}


class AccessDenied(PermissionError):
    """The user lacks the role the command needs (the message names both)."""


def roles_of(user: str, access: dict[str, list[str]] | None) -> set[str]:
    if access is None:
        return set(ROLES)  # a developer's own lake
    unknown = sorted(set(access) - set(ROLES))
    if unknown:
        raise ValueError(
            f"[access] names unknown roles {', '.join(unknown)}; roles are {', '.join(ROLES)}"
        )
    held = {role for role, users in access.items() if user in users or "*" in users}
    for role in list(held):
        held.update(IMPLIES.get(role, ()))
    return held


def require(role: str, access: dict[str, list[str]] | None, user: str | None = None) -> str:
    """The user, if they hold `role`; else AccessDenied."""
    user = user or getpass.getuser()
    if role not in roles_of(user, access):
        raise AccessDenied(
            f"user {user!r} does not hold the role {role!r} this command needs "
            f"(roles are given in ledgerbridge.toml [access])"
        )
    return user
