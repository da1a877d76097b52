"""Sign-in with a user token: the session's terms from the gateway's account of the token (`GET /v1/me`)."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from pledge_common.scopes import Scope
from pledge_console.accounts.repository import Account, SessionRow
from pledge_console.accounts.rules import TOKEN_ROLE, TokenTerms, token_terms

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
EIGHT_HOURS = timedelta(hours=8)
VIEWER = ["complaints:read", "definitions:read", "feedback:read", "reports:read", "tickets:read"]


def me(**overrides: object) -> dict[str, object]:
    return {
        "sub": "ana",
        "kind": "user",
        "scopes": VIEWER,
        "sources": None,
        "department": "grid-ops",
        "expires_at": "2026-12-03T12:30:00Z",
        **overrides,
    }


class TestTokenTerms:
    def test_a_viewer_token_opens_a_session_until_the_token_expires(self) -> None:
        assert token_terms(me(), NOW, EIGHT_HOURS) == TokenTerms(
            subject="ana", scopes=VIEWER, department="grid-ops", expires_at=datetime(2026, 12, 3, 12, 30, tzinfo=UTC)
        )

    def test_a_long_lived_token_is_cut_to_the_consoles_session_lifetime(self) -> None:
        terms = token_terms(me(expires_at="2027-01-01T00:00:00Z"), NOW, EIGHT_HOURS)
        assert isinstance(terms, TokenTerms)
        assert terms.expires_at == NOW + EIGHT_HOURS

    def test_an_api_key_does_not_sign_in(self) -> None:
        assert token_terms(me(kind="key", expires_at=None), NOW, EIGHT_HOURS) == "not_a_user_token"

    def test_a_token_that_cannot_read_reports_does_not_sign_in(self) -> None:
        assert token_terms(me(scopes=["events:write"]), NOW, EIGHT_HOURS) == "token_no_scope"
        assert isinstance(token_terms(me(scopes=["admin"]), NOW, EIGHT_HOURS), TokenTerms)

    @pytest.mark.parametrize("expires_at", [None, "soon", "2026-12-03T11:59:59Z", "2026-12-03T12:30:00"])
    def test_a_token_without_a_future_expiry_does_not_sign_in(self, expires_at: object) -> None:
        assert token_terms(me(expires_at=expires_at), NOW, EIGHT_HOURS) == "not_a_user_token"

    def test_no_department_claim_means_no_department(self) -> None:
        terms = token_terms(me(department=None), NOW, EIGHT_HOURS)
        assert isinstance(terms, TokenTerms)
        assert terms.department is None


class TestSessionScopes:
    def holder(self, scopes: set[str]) -> SessionRow:
        account = Account(uuid.UUID(int=0), "ana", "", TOKEN_ROLE, None)
        return SessionRow(account, "csrf", "token", None, NOW, frozenset(scopes))

    def test_a_session_may_what_its_scopes_allow(self) -> None:
        viewer = self.holder(set(VIEWER))
        assert viewer.may(Scope.reports_read)
        assert not viewer.may(Scope.alerts_manage)

    def test_admin_may_everything(self) -> None:
        assert self.holder({"admin"}).may(Scope.alerts_manage)
