"""Agents, teams and categories: data that admins manage. Models and the seed set."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints, field_validator

from shared.core.fields import FieldDef, check_definitions

Slug = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class AutoClose(BaseModel):
    """When a team's tickets close by themselves (see shared/tickets/autoclose.py)."""

    model_config = ConfigDict(extra="forbid")

    remind_after_days: float = Field(3, gt=0)
    resolve_after_days: float = Field(4, gt=0)
    close_after_days: float = Field(7, gt=0)


class Team(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: Slug
    name: Name
    tier: int | None = Field(None, ge=1, le=9, description="support tier; none for a vendor")
    description: str = ""
    auto_close: AutoClose | None = None
    assignment: Literal["manual", "round-robin", "fewest-open"] = "manual"
    sla_plan: str | None = Field(None, description="an SLA plan id for this team's tickets")


class Agent(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: Name = Field(description="the user id App Service Authentication gives")
    name: Name
    email: EmailStr
    teams: list[Slug] = Field(default_factory=list)
    roles: list[str] = Field(default_factory=lambda: ["agent"])
    available: bool = True


class CategoryDef(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: Slug
    name: Name
    sla_plan: str | None = Field(None, description="an SLA plan id for this category")
    fields: list[FieldDef] = Field(default_factory=list, description="the category's own "
                                   "fields, in the order forms show them (shared/core/fields.py)")

    @field_validator("fields")
    @classmethod
    def _fields_fit(cls, fields: list[FieldDef]) -> list[FieldDef]:
        return check_definitions(fields)


class CannedResponse(BaseModel):
    """A saved reply. Placeholders: {{requester_name}}, {{number}}, {{subject}},
    {{agent_name}}; nothing else is expanded (no template code runs)."""

    model_config = ConfigDict(extra="forbid")

    id: Slug
    title: Name
    body: Annotated[str, StringConstraints(min_length=1, max_length=20_000)]


PLACEHOLDERS = ("requester_name", "number", "subject", "agent_name")


def render_canned(body: str, values: dict[str, str]) -> str:
    for name in PLACEHOLDERS:
        for token in ("{{" + name + "}}", "{{ " + name + " }}"):
            body = body.replace(token, values.get(name, ""))
    return body


SEED_TEAMS = (
    Team(id="service-desk", name="Service Desk", tier=1, description="First line"),
    Team(id="senior-support", name="Senior Support", tier=2),
    Team(id="sysadmins-developers", name="SysAdmins/Developers", tier=3),
    Team(id="vendor-support", name="Vendor Support", tier=None,
         description="Cases handed to an outside vendor"),
)
