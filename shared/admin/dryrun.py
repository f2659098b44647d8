"""The rules' dry run (`POST /api/rules/test`): which rules would fire on a sample ticket,
and what they would do. Changes nothing.

The sample is what `POST /api/tickets` takes (`name`, `email`, `subject`, `description`,
`priority`, `category`), checked by the same validation with the same defaults (priority
`normal`, the desk's default category), so an admin can paste a web form's submission.
Around it, what the rules see that a submission does not say: `event` (`intake`, the
default, or `update`), `channel` (`web`; any channel the desk knows, `phone` needing no
email as at intake), `team`, `status` (`new`), `tags` and `at` (now). `name` may be left
out, as rules never look at it; `requester_email`, the name the rules give the address,
is taken for `email`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, EmailStr, Field, ValidationError

from shared.automation.engine import rules_for
from shared.automation.rules import Event, Facts, Outcome, evaluate
from shared.core.directory import CategoryDef
from shared.core.errors import ValidationFailed, field_errors
from shared.core.lifecycle import Status
from shared.core.models import Channel, Priority
from shared.tickets.validation import validate_submission

if TYPE_CHECKING:
    from shared.helpdesk import Helpdesk

SAMPLE_NAME = "Sample requester"


class SampleContext(BaseModel):
    """What the rules see beyond the submission itself."""

    model_config = ConfigDict(extra="forbid")

    event: Event = "intake"
    channel: Channel = Channel.WEB
    team: str | None = None
    status: Status = Status.NEW
    tags: list[str] = []
    at: AwareDatetime | None = None


_CONTEXT = frozenset(SampleContext.model_fields)


class RuleSample(SampleContext):
    """The dry run's body as the API's description shows it; `dry_run` validates it with
    intake's own validation, so the limits and categories are the desk's."""

    name: str | None = Field(None, description="optional: rules never look at it")
    email: EmailStr | None = Field(None, description="the requester; optional for channel phone")
    requester_email: EmailStr | None = Field(None, description="the same as email")
    subject: str = Field(min_length=1)
    description: str = Field(min_length=1)
    priority: Priority = Priority.NORMAL
    category: str | None = Field(None, description="default: the desk's default category")


async def dry_run(raw: Mapping[str, Any], *, desk: Helpdesk) -> Outcome:
    """The rules' outcome on the sample `raw`; `ValidationFailed` naming every bad field."""
    submission_raw = {k: v for k, v in raw.items() if k not in _CONTEXT}
    if "requester_email" in submission_raw:
        address = submission_raw.pop("requester_email")
        submission_raw.setdefault("email", address)
    submission_raw.setdefault("name", SAMPLE_NAME)
    errors: list[dict[str, Any]] = []
    context: SampleContext | None = None
    try:
        context = SampleContext.model_validate({k: v for k, v in raw.items() if k in _CONTEXT})
    except ValidationError as exc:
        errors += field_errors(exc)
    channel = context.channel if context else Channel.WEB
    defs = await desk.directory.list(CategoryDef)
    try:
        # The dry run is an admin's: every field of the category may be given.
        submission = validate_submission(submission_raw, desk.settings, [c.id for c in defs],
                                         channel=channel, audience=("agent", None),
                                         definitions={c.id: c.fields for c in defs})
    except ValidationFailed as exc:
        errors += exc.errors
    if errors or context is None:
        raise ValidationFailed("Invalid sample ticket.", errors=errors)
    facts = Facts(
        channel=channel.value, requester_email=str(submission.email or "").lower(),
        subject=submission.subject, description=submission.description,
        category=submission.category or "", priority=submission.priority, team=context.team,
        status=context.status.value, tags=context.tags, at=context.at or desk.clock(),
        fields=submission.fields,
    )
    return evaluate(await rules_for(desk), facts, event=context.event,
                    timezone=desk.settings.timezone)
