import pytest

from shared.core.errors import PayloadTooLarge, ValidationFailed
from shared.core.models import AttachmentUpload
from shared.core.settings import Settings
from shared.tickets.validation import check_attachments, validate_submission

SETTINGS = Settings.from_env({"AzureWebJobsStorage": "UseDevelopmentStorage=true",
                              "HELPDESK_LIMIT_ATTACHMENT_BYTES": "10",
                              "HELPDESK_LIMIT_ATTACHMENTS_PER_TICKET": "2",
                              "HELPDESK_LIMIT_SUBJECT_CHARS": "20"})
GOOD = {"name": "Ada", "email": "ada@example.com", "subject": "Printer",
        "description": "It is on fire."}


def test_defaults_fill_priority_and_category():
    s = validate_submission(GOOD, SETTINGS)
    assert s.priority == "normal" and s.category == "general"


def test_every_bad_field_is_named_at_once():
    with pytest.raises(ValidationFailed) as err:
        validate_submission({"email": "not-an-address", "subject": "x" * 21,
                             "priority": "whenever", "category": "nope"}, SETTINGS)
    fields = {e["field"] for e in err.value.errors}
    assert {"name", "email", "description", "priority", "category", "subject"} <= fields


def test_unknown_fields_are_refused():
    with pytest.raises(ValidationFailed) as err:
        validate_submission({**GOOD, "status": "closed"}, SETTINGS)
    assert [e["field"] for e in err.value.errors] == ["status"]


def test_blank_text_is_refused():
    with pytest.raises(ValidationFailed) as err:
        validate_submission({**GOOD, "subject": "   "}, SETTINGS)
    assert [e["field"] for e in err.value.errors] == ["subject"]


def test_attachment_limits():
    small = AttachmentUpload(filename="a.txt", data=b"12345")
    check_attachments([small, small], SETTINGS)
    with pytest.raises(PayloadTooLarge):
        check_attachments([small] * 3, SETTINGS)
    with pytest.raises(PayloadTooLarge):
        check_attachments([AttachmentUpload(filename="big", data=b"x" * 11)], SETTINGS)
    with pytest.raises(ValidationFailed):
        check_attachments([AttachmentUpload(filename=" ", data=b"x")], SETTINGS)
