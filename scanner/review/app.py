"""The review pages: a FastAPI router served under /review (server-rendered Jinja2, autoescaped)."""
from __future__ import annotations

import datetime as dt
import math
import threading
import time
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

import jinja2
import sqlalchemy as sa
from fastapi import APIRouter, Form, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from scanner.review import auth, decisions, queue, stats
from scanner.review.highlight import highlight, listing_fields, spans_by_field
from scanner.review.settings import ReviewSettings
from scanner.store import keys
from scanner.store.store import Store, T

HERE = Path(__file__).parent
STATIC = {"review.js": "text/javascript", "review.css": "text/css"}
SESSION_COOKIE, LOGIN_COOKIE = "review_session", "review_csrf"
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
                               "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
FORM = Annotated[str, Form()]
OPT = Annotated[str, Form(max_length=4000)]


def _env() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["pct"] = lambda v: "–" if v is None else f"{100 * v:.1f} %"
    env.filters["ts"] = lambda v: "" if v is None else v.strftime("%Y-%m-%d %H:%M")
    return env


class Review:
    """State shared by the routes: where the store and the rule points come from, the templates."""

    def __init__(self, store: Store | None, settings: ReviewSettings, rulesets, prefix: str):
        self._store, self._rulesets = store, rulesets
        self.settings, self.prefix, self.env = settings, prefix, _env()
        self._points: dict[str, int] | None = None
        self._synced = 0.0
        self._lock = threading.Lock()

    def store(self, request: Request) -> Store:
        if self._store is not None:
            return self._store
        rt = getattr(request.app.state, "runtime", None)
        if rt is None:
            raise RuntimeError("the review pages need a store: the service is not ready")
        return rt.store

    def rule_points(self, request: Request) -> dict[str, int]:
        if self._points is None:
            rs = self._rulesets
            if rs is None:
                rt = getattr(request.app.state, "runtime", None)
                if rt is not None:
                    rs = rt.scanner.rulesets
                else:
                    from scanner.rulesets import load_rulesets
                    rs = load_rulesets()
            self._points = {rid: r.points for rid, r in rs.rules.items()}
        return self._points

    def sync(self, engine: sa.Engine) -> None:
        with self._lock:
            if time.monotonic() - self._synced < self.settings.sync_seconds:
                return
            queue.sync(engine)
            self._synced = time.monotonic()

    # --- responses ---------------------------------------------------------------------------------------
    def page(self, name: str, status: int = 200, **ctx: Any) -> HTMLResponse:
        html = self.env.get_template(name).render(prefix=self.prefix, **ctx)
        return HTMLResponse(html, status_code=status, headers=HEADERS)

    def error(self, status: int, message: str, session: auth.Session | None = None) -> HTMLResponse:
        return self.page("error.html", status, message=message, session=session)

    def redirect(self, url: str) -> RedirectResponse:
        return RedirectResponse(url, status_code=303, headers=HEADERS)

    def to_login(self, request: Request) -> RedirectResponse:
        nxt = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return self.redirect(f"{self.prefix}/login?{urlencode({'next': nxt})}")

    def safe_next(self, nxt: str | None) -> str:
        """Only a path of these pages (no scheme, no host, no backslash tricks) is followed."""
        if nxt and nxt.startswith(self.prefix + "/") and "//" not in nxt and "\\" not in nxt \
                and all(c.isprintable() for c in nxt):
            return nxt[:2000]
        return self.prefix + "/"

    def secure(self, request: Request) -> bool:
        mode = self.settings.secure_cookies
        return mode == "always" or (mode == "auto" and request.url.scheme == "https")

    # --- sessions -------------------------------------------------------------------------------------------
    def session(self, request: Request, engine: sa.Engine) -> auth.Session | None:
        return auth.session_for(engine, request.cookies.get(SESSION_COOKIE))


def create_review_router(store: Store | None = None, settings: ReviewSettings | None = None,
                         rulesets=None, prefix: str = "/review") -> APIRouter:
    """The review pages. Without `store`, they use the service's runtime store
    (request.app.state.runtime.store), so the router can be built before the app starts."""
    rv = Review(store, settings or ReviewSettings.from_env(), rulesets, prefix)
    s = rv.settings
    router = APIRouter(prefix=prefix, include_in_schema=False)

    def guard(request: Request, admin: bool = False):
        """(engine, session) for a signed-in user, or the response to send instead."""
        engine = rv.store(request).engine
        sess = rv.session(request, engine)
        if sess is None:
            return engine, rv.to_login(request)
        if admin and not sess.user.is_admin:
            return engine, rv.error(403, "This page is for admins.", sess)
        return engine, sess

    def csrf_ok(sess: auth.Session, token: str) -> bool:
        return auth.same(sess.csrf, token)

    @router.get("/static/{name}")
    def static(name: str):
        if name not in STATIC:
            return Response("not found", status_code=404, media_type="text/plain")
        return FileResponse(HERE / "static" / name, media_type=STATIC[name],
                            headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "max-age=300"})

    # --- login / logout ---------------------------------------------------------------------------
    def login_page(request: Request, status: int = 200, message: str = "", nxt: str = "") -> HTMLResponse:
        token = request.cookies.get(LOGIN_COOKIE) or ""
        if len(token) < 20 or len(token) > 100:
            token = auth.secrets.token_urlsafe(32)
        resp = rv.page("login.html", status, csrf=token, message=message, next=rv.safe_next(nxt), session=None)
        resp.set_cookie(LOGIN_COOKIE, token, httponly=True, samesite="lax", secure=rv.secure(request),
                        path=prefix)
        return resp

    @router.get("/login")
    def login_form(request: Request, next: str = ""):
        return login_page(request, nxt=next)

    @router.post("/login")
    def login(request: Request, username: OPT = "", password: OPT = "", csrf: OPT = "", next: OPT = ""):
        if not auth.same(request.cookies.get(LOGIN_COOKIE), csrf):
            return rv.error(403, "The form's security token is missing or wrong: reload the login page.")
        engine = rv.store(request).engine
        try:
            sess = auth.login(engine, s, username, password, request.cookies.get(SESSION_COOKIE))
        except auth.AuthError as exc:
            return login_page(request, 401, str(exc), next)
        with engine.begin() as conn:
            decisions.audit(conn, sess.user.username, "login", "session", "signed in")
        resp = rv.redirect(rv.safe_next(next))
        resp.set_cookie(SESSION_COOKIE, sess.token, max_age=s.session_seconds, httponly=True, samesite="lax",
                        secure=rv.secure(request), path=prefix)
        resp.delete_cookie(LOGIN_COOKIE, path=prefix)
        return resp

    @router.post("/logout")
    def logout(request: Request, csrf: OPT = ""):
        engine, sess = guard(request)
        if isinstance(sess, Response):
            return sess
        if not csrf_ok(sess, csrf):
            return rv.error(403, "The form's security token is missing or wrong.", sess)
        auth.logout(engine, sess.token)
        resp = rv.redirect(f"{prefix}/login")
        resp.delete_cookie(SESSION_COOKIE, path=prefix)
        return resp

    # --- queue ----------------------------------------------------------------------------------------
    @router.get("/")
    def queue_page(request: Request, page: int = 1):
        engine, sess = guard(request)
        if isinstance(sess, Response):
            return sess
        rv.sync(engine)
        filters = queue.Filters.from_mapping(request.query_params)
        page = max(1, min(page, 100_000))
        rows, total = queue.page(engine, filters, page, s.page_size)
        capped = total > queue.COUNT_CAP
        pages = max(1, math.ceil(total / s.page_size))
        here = f"{prefix}/?" + urlencode([*filters.items(), ("page", page)])
        return rv.page("queue.html", session=sess, rows=rows, total=total, page=page, pages=pages, capped=capped,
                       filters=filters, facets=queue.facets(list(rv.rule_points(request))), here=here,
                       link=lambda **kw: f"{prefix}/?" + urlencode([*filters.items(), *kw.items()]),
                       bulk_max=s.bulk_max)

    # --- one flag ----------------------------------------------------------------------------------------
    @router.get("/flags/{flag_id}")
    def flag_page(request: Request, flag_id: int, next: str = ""):
        engine, sess = guard(request)
        if isinstance(sess, Response):
            return sess
        store = rv.store(request)
        rv.sync(engine)
        ctx = _flag_context(store, engine, flag_id, sess, s)
        if ctx is None:
            return rv.error(404, f"No flag {flag_id}.", sess)
        return rv.page("flag.html", session=sess, back=rv.safe_next(next), **ctx)

    @router.post("/flags/{flag_id}/decide")
    def decide(request: Request, flag_id: int, action: OPT = "", reason: OPT = "", csrf: OPT = "",
               exception_expires: OPT = "", next: OPT = ""):
        engine, sess = guard(request)
        if isinstance(sess, Response):
            return sess
        if not csrf_ok(sess, csrf):
            return rv.error(403, "The form's security token is missing or wrong.", sess)
        try:
            expires = _date(flag_id, exception_expires)
            decisions.decide(engine, sess.user, flag_id, action, reason, rule_points=rv.rule_points(request),
                             claim_seconds=s.claim_seconds, max_reason=s.max_reason_chars,
                             exception_expires=expires)
        except decisions.DecisionError as exc:
            return rv.error(exc.status, str(exc), sess)
        return rv.redirect(rv.safe_next(next) if next else f"{prefix}/flags/{flag_id}")

    @router.post("/bulk")
    def bulk(request: Request, action: OPT = "", reason: OPT = "", csrf: OPT = "", family: OPT = "",
             rule: OPT = "", market: OPT = "", merchant: OPT = "", detector: OPT = "", decision: OPT = "",
             status: OPT = "open", q: OPT = ""):
        engine, sess = guard(request)
        if isinstance(sess, Response):
            return sess
        if not csrf_ok(sess, csrf):
            return rv.error(403, "The form's security token is missing or wrong.", sess)
        filters = queue.Filters.from_mapping({"family": family, "rule": rule, "market": market,
                                              "merchant": merchant, "detector": detector,
                                              "decision": decision, "status": status, "q": q})
        ids = queue.selection(engine, filters, s.bulk_max)
        try:
            result = decisions.decide_many(engine, sess.user, ids, action, reason,
                                           rule_points=rv.rule_points(request), claim_seconds=s.claim_seconds,
                                           max_reason=s.max_reason_chars)
        except decisions.DecisionError as exc:
            return rv.error(exc.status, str(exc), sess)
        with engine.begin() as conn:
            decisions.audit(conn, sess.user.username, f"bulk_{action}", urlencode(filters.items()) or "(all)",
                            reason, None, {"decided": len(result.done), "skipped": len(result.skipped)})
        return rv.page("bulk.html", session=sess, result=result, action=action, filters=filters,
                       back=f"{prefix}/?" + urlencode(filters.items()))

    # --- admin ------------------------------------------------------------------------------------------
    @router.get("/admin")
    def admin(request: Request):
        engine, sess = guard(request, admin=True)
        if isinstance(sess, Response):
            return sess
        rv.sync(engine)
        escalated, n_escalated = queue.page(engine, queue.Filters(status="escalated"), 1, s.page_size)
        return rv.page("admin.html", session=sess, escalated=escalated, n_escalated=n_escalated,
                       rules=stats.rule_stats(engine), detectors=stats.detector_stats(engine),
                       weekly=stats.weekly_stats(engine), exceptions=stats.exceptions(engine),
                       users=auth.list_users(engine), audit=decisions.recent_audit(engine),
                       today=dt.date.today())

    @router.post("/admin/exceptions/{exception_id}/revoke")
    def revoke(request: Request, exception_id: int, csrf: OPT = "", reason: OPT = ""):
        engine, sess = guard(request, admin=True)
        if isinstance(sess, Response):
            return sess
        if not csrf_ok(sess, csrf):
            return rv.error(403, "The form's security token is missing or wrong.", sess)
        if not reason.strip():
            return rv.error(422, f"exception {exception_id}: field 'reason': a reason is required", sess)
        ex = T["rule_exceptions"]
        with engine.begin() as conn:
            n = conn.execute(ex.update().where(ex.c.id == exception_id, ex.c.revoked_at.is_(None))
                             .values(revoked_at=auth.utcnow())).rowcount
            if n:
                decisions.audit(conn, sess.user.username, "revoke_exception", f"exception {exception_id}",
                                reason.strip()[:s.max_reason_chars], {"revoked": False}, {"revoked": True})
        if not n:
            return rv.error(404, f"No active exception {exception_id}.", sess)
        return rv.redirect(f"{prefix}/admin")

    return router


def _date(flag_id: int, value: str) -> dt.date | None:
    if not value.strip():
        return None
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        raise decisions.DecisionError(flag_id, "exception_expires", "not a date (YYYY-MM-DD)") from None


def _flag_context(store: Store, engine: sa.Engine, flag_id: int, sess: auth.Session,
                  s: ReviewSettings) -> dict | None:
    flags = T["review_flags"]
    with engine.begin() as conn:
        flag = conn.execute(sa.select(flags).where(flags.c.id == flag_id)).first()
        if flag is None:
            return None
        claim = None
        if flag.status in ("open", "escalated") and flag.resolved_at is None:
            claim = queue.claim(conn, flag_id, sess.user.username, s.claim_seconds)
        rank = conn.execute(sa.select(queue.QUEUE).where(queue.QUEUE.c.flag_id == flag_id)).first()
        content = conn.execute(sa.select(T["listings"].c.content)
                               .where(T["listings"].c.listing_id == flag.listing_id)).scalar()
        others = [dict(r._mapping) for r in conn.execute(
            sa.select(flags).where(flags.c.merchant_id == flag.merchant_id, flags.c.id != flag_id)
            .order_by(flags.c.id.desc()).limit(50))]
    listing = keys.unpack_content(content) if content else {}
    history = store.history(flag.listing_id)
    judged = next((h for h in history if h["seq"] == flag.seq), history[-1] if history else None)
    findings = judged["findings"] if judged else []
    spans = spans_by_field(findings)
    fields = []
    for name, value in listing_fields(listing, spans):
        html, cut = highlight(value, spans.get(name, []), s.max_field_chars)
        fields.append({"name": name, "html": html, "truncated": cut, "hits": len(spans.get(name, []))})
    shown = {f["name"] for f in fields}
    elsewhere = sorted(k for k in spans if k not in shown)
    medical = [f for f in findings if any(e.get("detector") in ("lookup", "certificate")
                                          for e in f.get("evidence") or [])]
    return {"flag": dict(flag._mapping), "rank": dict(rank._mapping) if rank else None, "claim": claim,
            "fields": fields, "elsewhere": elsewhere, "findings": findings, "medical": medical,
            "certificates": [c.model_dump(mode="json") for c in store.certificates_for(flag.merchant_id)],
            "history": history, "judged_seq": judged["seq"] if judged else None, "others": others,
            "points": store.merchant_points(flag.merchant_id), "ledger": store.charges(flag.merchant_id),
            "audit": decisions.flag_audit(engine, flag_id), "today": dt.date.today()}
