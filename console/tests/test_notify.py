"""The notifications pages' pure parts: a form read into the API's body, a problem's fields mapped to the
form's, the delivery log's query, and the pages drawn (escaped; a channel's URL and secret never drawn back)."""

import re
import uuid
from pathlib import Path
from typing import Any

import pledge_console
import pytest
from jinja2 import Environment, FileSystemLoader
from pledge_console.i18n import MESSAGES, NOTIFY_MESSAGES, Translator
from pledge_console.web.notify import (
    CHANNEL_FIELDS,
    CONTACT_FIELDS,
    FORM_WIDE,
    RULE_FIELDS,
    TABS,
    channel_body,
    contact_body,
    done_message,
    field_messages,
    idempotency_key,
    log_query,
    rule_body,
    split_list,
)
from pledge_console.web.pages import PageError

EMAIL_ID = str(uuid.UUID(int=1))
CHAT_ID = str(uuid.UUID(int=2))
LI_WEI = str(uuid.UUID(int=3))


class TestContactBody:
    def test_blank_optional_fields_are_null_and_values_are_trimmed(self) -> None:
        built = contact_body({"department": " field ", "name": "Li Wei", "position": "", "email": "  ", "csrf": "x"})
        assert built.errors == {}
        assert built.body == {
            "department": "field",
            "position": None,
            "name": "Li Wei",
            "email": None,
            "chat_handle": None,
            "language": "zh",
        }

    def test_every_field_is_carried(self) -> None:
        form = {
            "department": "field",
            "position": "dispatcher",
            "name": "李伟",
            "email": "li.wei@example.cn",
            "chat_handle": "liwei",
            "language": "en",
        }
        assert contact_body(form).body == form

    def test_missing_name_and_department_and_an_unknown_language_name_their_fields(self) -> None:
        built = contact_body({"language": "fr"})
        assert set(built.errors) == {"department", "name", "language"}


class TestChannelBody:
    def test_an_email_channel_has_no_url_nor_secret(self) -> None:
        built = channel_body(
            {"kind": "email", "name": "mail", "language": "en", "enabled": "on", "url": "", "secret": ""}
        )
        assert built.errors == {}
        assert built.body == {"kind": "email", "name": "mail", "language": "en", "enabled": True}

    def test_a_chat_channel_carries_its_url_and_secret_and_an_unticked_box_disables_it(self) -> None:
        form = {"kind": "dingtalk", "name": "ops", "url": "https://oapi.dingtalk.com/robot/send?access_token=t"}
        built = channel_body({**form, "secret": "SECabc"})
        assert built.errors == {}
        assert built.body["url"] == form["url"]
        assert built.body["secret"] == "SECabc"
        assert built.body["enabled"] is False

    def test_a_chat_channel_without_url_and_an_email_channel_with_one_are_refused_on_url(self) -> None:
        assert channel_body({"kind": "slack", "name": "s"}).errors == {"url": "required for a chat or webhook channel"}
        assert "url" in channel_body({"kind": "email", "name": "m", "url": "https://x.example"}).errors

    def test_an_unknown_kind_is_refused_on_kind(self) -> None:
        assert set(channel_body({"kind": "fax", "name": "f"}).errors) == {"kind"}


class TestRuleBody:
    def test_lists_ticked_boxes_and_optional_fields(self) -> None:
        form = {
            "name": "field prewarnings",
            "departments": "field, ops\uff0cfield",
            "positions": "",
            "processes": "repair\ninstall",
            "level.warning": "on",
            "level.prewarning": "on",
            f"channel.{EMAIL_ID}": "on",
            f"channel.{CHAT_ID}": "on",
            f"contact.{LI_WEI}": "on",
            "responsible": "on",
            "escalate_after": "PT30M",
            "escalate_levels": "2",
            "quiet_calendar": "",
            "enabled": "on",
        }
        built = rule_body(form)
        assert built.errors == {}
        assert built.body == {
            "name": "field prewarnings",
            "departments": ["field", "ops"],
            "positions": [],
            "processes": ["repair", "install"],
            "nodes": [],
            "segments": [],
            "levels": ["prewarning", "warning"],  # in the levels' own order
            "channel_ids": [EMAIL_ID, CHAT_ID],
            "contact_ids": [LI_WEI],
            "responsible": True,
            "enabled": True,
            "escalate_after": "PT30M",
            "escalate_levels": 2,
        }

    def test_a_rule_needs_a_name_and_a_channel(self) -> None:
        assert set(rule_body({"responsible": "on"}).errors) == {"name", "channel_ids"}

    @pytest.mark.parametrize(
        ("form", "field"),
        [
            ({"level.panic": "on"}, "levels"),
            ({"channel.not-an-id": "on"}, "channel_ids"),
            ({"contact.42": "on"}, "contact_ids"),
            ({"escalate_levels": "9"}, "escalate_levels"),
            ({"escalate_levels": "two"}, "escalate_levels"),
        ],
    )
    def test_a_value_out_of_its_set_names_its_field(self, form: dict[str, str], field: str) -> None:
        built = rule_body({"name": "r", f"channel.{EMAIL_ID}": "on", **form})
        assert field in built.errors


def test_split_list_keeps_the_first_of_each_and_drops_blanks() -> None:
    assert split_list(" a ,b\u3001\n\na\uff0cc, b ") == ["a", "b", "c"]
    assert split_list("") == []


class TestFieldMessages:
    def test_a_body_field_goes_next_to_its_input_and_a_list_item_to_its_list(self) -> None:
        errors = [
            {"field": "body.email", "message": "String should match pattern"},
            {"field": "body.channel_ids.0", "message": "Input should be a valid UUID"},
        ]
        assert field_messages(errors, RULE_FIELDS + CONTACT_FIELDS) == {
            "email": "String should match pattern",
            "channel_ids": "Input should be a valid UUID",
        }

    def test_the_apis_bare_body_field_names_are_read_too(self) -> None:
        errors = [
            {"field": "escalate_after", "message": "not an ISO 8601 duration"},
            {"field": "channel_ids.1", "message": "Input should be a valid UUID"},
        ]
        assert field_messages(errors, RULE_FIELDS) == {
            "escalate_after": "not an ISO 8601 duration",
            "channel_ids": "Input should be a valid UUID",
        }

    def test_what_names_no_field_of_the_form_goes_above_it_with_its_name(self) -> None:
        errors = [
            {"field": "body.url", "message": "a private address"},
            {"field": "header.Idempotency-Key", "message": "reused"},
        ]
        assert field_messages(errors, CONTACT_FIELDS) == {
            FORM_WIDE: "body.url: a private address; header.Idempotency-Key: reused"
        }

    def test_two_messages_of_one_field_are_joined(self) -> None:
        errors = [{"field": "body.secret", "message": "required"}, {"field": "body.secret", "message": "whsec_"}]
        assert field_messages(errors, CHANNEL_FIELDS) == {"secret": "required; whsec_"}

    def test_a_problem_without_errors_shows_its_detail(self) -> None:
        assert field_messages([], CHANNEL_FIELDS, "a channel of that name exists") == {
            FORM_WIDE: "a channel of that name exists"
        }


def test_the_forms_key_is_kept_when_it_is_one_and_made_when_it_is_not() -> None:
    key = str(uuid.uuid4())
    assert idempotency_key({"idem": key}) == key
    made = idempotency_key({"idem": "<script>"})
    assert str(uuid.UUID(made)) == made


def test_only_the_closed_list_of_done_messages_is_shown() -> None:
    t = Translator("en")
    assert done_message(t, "created") == "Created."
    assert done_message(t, "<b>owned</b>") == ""
    assert done_message(t, None) == ""


class TestLogQuery:
    def test_filters_and_cursor(self) -> None:
        assert log_query("failed", EMAIL_ID, "abc") == [
            ("limit", "50"),
            ("status", "failed"),
            ("channel_id", EMAIL_ID),
            ("cursor", "abc"),
        ]
        assert log_query(None, "", None) == [("limit", "50")]

    @pytest.mark.parametrize(
        ("status", "channel", "field"), [("lost", None, "query.status"), (None, "x", "query.channel")]
    )
    def test_a_value_out_of_its_set_is_a_422_naming_it(
        self, status: str | None, channel: str | None, field: str
    ) -> None:
        with pytest.raises(PageError) as refused:
            log_query(status, channel, None)
        assert refused.value.status == 422
        assert refused.value.detail.startswith(field)


def test_every_message_has_both_languages() -> None:
    assert set(NOTIFY_MESSAGES["en"]) == set(NOTIFY_MESSAGES["zh"])
    for tab in TABS:
        assert f"notify_tab_{tab}" in MESSAGES["zh"]


# ---- the pages drawn -------------------------------------------------------------------------------------------

HOSTILE = '<script>alert("x")</script>'


def draw(name: str, lang: str = "en", **context: Any) -> str:
    env = Environment(loader=FileSystemLoader(Path(pledge_console.__file__).parent / "templates"), autoescape=True)
    base = {
        "t": Translator(lang),
        "lang": lang,
        "local": lambda v: str(v or ""),
        "path": "/console/notifications/x",
        "query": "",
        "me": {"username": "ana", "role": "admin"},
        "csrf": "CSRF-TOKEN",
        "can_manage": True,
        "tabs": TABS,
        "done": "",
        "idem": str(uuid.uuid4()),
        "errors": {},
        "values": {},
    }
    return env.get_template(name).render(**{**base, **context})


def channel(**over: Any) -> dict[str, Any]:
    return {
        "id": EMAIL_ID,
        "kind": "dingtalk",
        "name": HOSTILE,
        "url": "https://oapi.dingtalk.com/…",
        "has_secret": True,
        "language": "zh",
        "enabled": True,
        **over,
    }


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_channels_page_escapes_and_never_draws_a_url_or_secret_back(lang: str) -> None:
    values = {
        "kind": "slack",
        "name": HOSTILE,
        "url": "https://hooks.slack.com/services/T/B/HOOKTOKEN",
        "secret": "s3cr3t",
    }
    html = draw(
        "notify_channels.html",
        lang,
        tab="channels",
        channels=[channel()],
        kinds=("email", "slack"),
        values=values,
        errors={"url": "a private address", "_form": HOSTILE},
    )
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    assert "HOOKTOKEN" not in html
    assert "s3cr3t" not in html
    assert re.search(r'name="url" type="url" maxlength="2000" value=""', html)
    assert 'id="error-url"' in html
    assert 'id="error-form"' in html
    assert html.count('name="csrf" value="CSRF-TOKEN"') == 3  # sign-out, the switch, the create form


def test_every_post_form_of_the_rules_page_carries_the_csrf_token() -> None:
    rule = {
        "id": LI_WEI,
        "name": HOSTILE,
        "departments": ["field"],
        "positions": [],
        "processes": [],
        "nodes": [],
        "segments": [],
        "levels": ["warning"],
        "channel_ids": [EMAIL_ID],
        "contact_ids": [],
        "responsible": True,
        "quiet_calendar": None,
        "escalate_after": "PT30M",
        "escalate_levels": 1,
        "digest_every": None,
        "enabled": False,
    }
    html = draw(
        "notify_rules.html",
        tab="rules",
        rules=[rule],
        channels=[channel(name="mail", kind="email")],
        contacts=[],
        channel_names={EMAIL_ID: "mail"},
        contact_names={},
        levels=("prewarning", "warning"),
        errors={"channel_ids": "tick at least one channel"},
        values={"name": "x", f"channel.{EMAIL_ID}": "on"},
    )
    posts = re.findall(r'<form method="post"[^>]*>(.*?)</form>', html, re.S)
    assert len(posts) == 3  # sign-out, the rule's switch, the create form
    assert all('name="csrf" value="CSRF-TOKEN"' in form for form in posts)
    assert "&lt;script&gt;" in html
    assert "<script>" not in html
    assert 'id="error-channel_ids"' in html
    assert f'name="channel.{EMAIL_ID}" value="on" checked' in html
    assert 'name="enabled" value="true"' in html  # a disabled rule's button enables it
