"""Security of the review pages over HTTP (httpx against a real uvicorn): login redirects, CSRF,
roles, session ids, lock-out, cookie attributes, the append-only audit log."""
from __future__ import annotations

import contextlib
import re

import httpx
import pytest
import sqlalchemy as sa
from review_harness import PASSWORD, running_site, with_settings


def login(base: str, user: str, password: str = PASSWORD, client: httpx.Client | None = None) -> httpx.Client:
    c = client or httpx.Client(timeout=10)
    page = c.get(f"{base}/login")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    r = c.post(f"{base}/login", data={"username": user, "password": password, "csrf": token})
    assert r.status_code in (303, 401), r.text
    return c


def csrf_of(c: httpx.Client, base: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', c.get(f"{base}/").text).group(1)


def test_unauthenticated_requests_redirect_to_login(site):
    with httpx.Client(timeout=10) as c:
        for path in ("/", "/flags/1", "/admin"):
            r = c.get(site.url + path)
            assert r.status_code == 303
            assert r.headers["location"].startswith("/review/login?next=")
        r = c.post(f"{site.url}/flags/1/decide", data={"action": "confirm", "reason": "x", "csrf": "x"})
        assert r.status_code == 303 and r.headers["location"].startswith("/review/login")


def test_post_without_or_with_wrong_csrf_token_is_403(site):
    with contextlib.closing(login(site.url, "rita")) as c:
        good = csrf_of(c, site.url)
        for data in ({"action": "confirm", "reason": "r"}, {"action": "confirm", "reason": "r", "csrf": "nope"}):
            assert c.post(f"{site.url}/flags/1/decide", data=data).status_code == 403
            assert c.post(f"{site.url}/bulk", data=data).status_code == 403
        assert c.post(f"{site.url}/logout", data={}).status_code == 403
        assert c.get(f"{site.url}/").status_code == 200          # still signed in
        assert c.post(f"{site.url}/logout", data={"csrf": good}).status_code == 303
        assert c.get(f"{site.url}/").status_code == 303          # signed out
    with httpx.Client(timeout=10) as c:                            # the login form itself
        c.get(f"{site.url}/login")
        r = c.post(f"{site.url}/login", data={"username": "rita", "password": PASSWORD, "csrf": "forged"})
        assert r.status_code == 403 and "review_session" not in r.cookies


def test_reviewer_cannot_reach_admin_pages(site):
    with contextlib.closing(login(site.url, "rita")) as c:
        assert c.get(f"{site.url}/admin").status_code == 403
        token = csrf_of(c, site.url)
        assert c.post(f"{site.url}/admin/exceptions/1/revoke", data={"csrf": token, "reason": "x"}).status_code == 403
    with contextlib.closing(login(site.url, "ada")) as c:
        r = c.get(f"{site.url}/admin")
        assert r.status_code == 200 and 'id="rule-stats"' in r.text


def test_session_id_changes_at_login_and_old_one_dies(site):
    c = httpx.Client(timeout=10)
    login(site.url, "rita", client=c)
    first = c.cookies.get("review_session")
    assert first and c.get(f"{site.url}/").status_code == 200
    login(site.url, "rita", client=c)                 # signs in again from the same browser
    second = c.cookies.get("review_session")
    assert second and second != first
    stale = httpx.Client(timeout=10, cookies={"review_session": first})
    assert stale.get(f"{site.url}/").status_code == 303
    assert c.get(f"{site.url}/").status_code == 200
    c.close()
    stale.close()


def test_cookie_attributes(site):
    with httpx.Client(timeout=10) as c:
        c.get(f"{site.url}/login")
        token = c.cookies.get("review_csrf")
        r = c.post(f"{site.url}/login", data={"username": "rob", "password": PASSWORD, "csrf": token})
        cookie = [v for k, v in r.headers.multi_items() if k == "set-cookie" and v.startswith("review_session=")][0]  # noqa: RUF015
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/review" in cookie
        assert "Secure" not in cookie          # plain HTTP, secure_cookies=auto
        assert "default-src 'none'" in r.headers["content-security-policy"]


def test_secure_cookie_when_configured(rulesets, tmp_path):
    with running_site("sqlite", tmp_path, rulesets, with_settings(secure_cookies="always")) as s:  # noqa: SIM117
        with httpx.Client(timeout=10) as c:
            page = c.get(f"{s.url}/login")
            assert "Secure" in page.headers["set-cookie"]
            token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
            # a Secure cookie is not sent back over plain HTTP by a client: send it as a proxy would
            r = c.post(f"{s.url}/login", data={"username": "rob", "password": PASSWORD, "csrf": token},
                       headers={"Cookie": f"review_csrf={token}"})
            cookie = [v for k, v in r.headers.multi_items() if k == "set-cookie"  # noqa: RUF015
                      and v.startswith("review_session=")][0]
            assert "Secure" in cookie


def test_lockout_after_repeated_failed_logins(site):
    c = httpx.Client(timeout=10)
    for _ in range(site.settings.max_failed_logins - 1):
        token = c.cookies.get("review_csrf") or re.search(r'name="csrf" value="([^"]+)"',
                                                          c.get(f"{site.url}/login").text).group(1)
        r = c.post(f"{site.url}/login", data={"username": "rob", "password": "wrong password!", "csrf": token})
        assert r.status_code == 401 and "unknown user or wrong password" in r.text
    page = c.get(f"{site.url}/login")
    token = c.cookies.get("review_csrf")
    r = c.post(f"{site.url}/login", data={"username": "rob", "password": "wrong again!!", "csrf": token})
    assert r.status_code == 401 and "locked" in r.text
    r = c.post(f"{site.url}/login", data={"username": "rob", "password": PASSWORD, "csrf": token})
    assert r.status_code == 401 and "locked" in r.text       # even the right password, until it expires
    assert page.status_code == 200
    from scanner.review import auth
    assert auth.unlock(site.store.engine, "rob")
    r = c.post(f"{site.url}/login", data={"username": "rob", "password": PASSWORD, "csrf": token})
    assert r.status_code == 303
    c.close()


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_audit_log_is_append_only_in_the_database(kind, rulesets, tmp_path):
    from scanner.review.models import AUDIT
    with running_site(kind, tmp_path, rulesets) as s:
        with s.store.engine.begin() as conn:
            conn.execute(AUDIT.insert().values(at=sa.func.now(), actor="x", action="test", target="t", reason="r"))
        for stmt in (AUDIT.update().values(actor="mallory"), AUDIT.delete()):
            with pytest.raises(sa.exc.DBAPIError), s.store.engine.begin() as conn:
                conn.execute(stmt)
        with s.store.engine.connect() as conn:
            assert conn.execute(sa.select(AUDIT.c.actor)).scalars().all() == ["x"]
