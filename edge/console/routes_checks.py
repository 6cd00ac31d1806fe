"""The daily device check and the repair log."""

from __future__ import annotations

from datetime import datetime, tzinfo

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, Response
from starlette.datastructures import UploadFile

from edge.console.checks import (
    MAX_PHOTO_BYTES,
    RESULTS,
    check_steps,
    parse_check,
    parse_fix,
    parse_repair,
)
from edge.console.forms import FormError
from edge.console.i18n import Words
from edge.console.web import back, console, page_session, render, signed_form, words

router = APIRouter()


def _clock(when: datetime | None, tz: tzinfo) -> str:
    return when.astimezone(tz).strftime("%m-%d %H:%M:%S") if when else ""


def _check_page(
    request: Request,
    status_code: int = 200,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
) -> Response:
    session = page_session(request)
    con, t = console(request), words(request)
    tz = con.host.cfg.site.tz
    now = con.host.clock.now()
    seen = {k: _seen(t, ts, now, tz) for k, ts in con.checks.evidence().items()}
    last = con.checks.last
    steps = check_steps(con.host)
    labels = {s.key: t(s.label, **dict(s.values)) for s in steps}
    return render(
        request,
        "check.html",
        session,
        status_code=status_code,
        steps=steps,
        labels=labels,
        last_failed=[labels.get(k, k) for k in (last.detail.get("failed", []) if last else [])],
        results=RESULTS,
        seen=seen,
        values=values or {},
        errors=errors or {},
        last=last,
        last_time=_clock(last.ts, tz) if last else "",
    )


def _seen(t: Words, when: datetime, now: datetime, tz: tzinfo) -> str:
    """When the gate saw a device work, and how long ago: never "just now" when it was not."""
    ago = max(0, int((now - when).total_seconds() // 60))
    return t("check_seen_at", time=when.astimezone(tz).strftime("%H:%M:%S"), ago=ago)


@router.get("/check")
async def check_page(request: Request) -> Response:
    return _check_page(request)


@router.post("/check")
async def save_check(request: Request) -> Response:
    session, form = await signed_form(request)
    con, t = console(request), words(request)
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    try:
        results = parse_check(values, check_steps(con.host))
    except FormError as err:
        errors = err.messages(t)
        return _check_page(request, 400, values, errors)
    con.checks.record(results, by=session.user.name)
    con.flash.add(session, "ok", t("check_saved"))
    return back("/check")


# --- repairs ------------------------------------------------------------------------------


@router.get("/repairs")
async def repairs_page(request: Request) -> Response:
    session = page_session(request)
    return render(request, "repairs.html", session, repairs=console(request).repairs.all())


def _new_repair_page(
    request: Request,
    status_code: int = 200,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
) -> Response:
    session = page_session(request)
    con = console(request)
    t = words(request)
    devices = [t(s.label, **dict(s.values)) for s in check_steps(con.host)]
    values = values or {"device": request.query_params.get("device", "")[:64]}
    return render(
        request,
        "repair_new.html",
        session,
        status_code=status_code,
        values=values,
        errors=errors or {},
        devices=devices,
    )


@router.get("/repairs/new")
async def new_repair_page(request: Request) -> Response:
    return _new_repair_page(request)


@router.post("/repairs")
async def open_repair(request: Request) -> Response:
    session, form = await signed_form(request)
    con, t = console(request), words(request)
    values = {k: str(form.get(k) or "") for k in ("device", "problem")}
    upload = form.get("photo")
    photo = None
    if isinstance(upload, UploadFile) and upload.filename:
        photo = await upload.read(MAX_PHOTO_BYTES + 1)  # one byte over tells "too large"
    try:
        parsed = parse_repair(values, photo)
    except FormError as err:
        errors = err.messages(t)
        return _new_repair_page(request, 400, values, errors)
    con.repairs.open(parsed, by=session.user.name)
    con.flash.add(session, "ok", t("r_opened_done"))
    return back("/repairs")


@router.post("/repairs/{repair_id}/close")
async def close_repair(request: Request, repair_id: int) -> Response:
    session, form = await signed_form(request)
    con, t = console(request), words(request)
    try:
        fix = parse_fix({"fix": str(form.get("fix") or "")})
    except FormError as err:
        key, v = err.problems["fix"]
        con.flash.add(session, "error", f"{t('r_fix')}: {t(key, **v)}")
        return back("/repairs")
    if con.repairs.close(repair_id, fix, by=session.user.name) is None:
        con.flash.add(session, "error", t("not_found"))
    else:
        con.flash.add(session, "ok", t("r_closed_done"))
    return back("/repairs")


@router.get("/repairs/{repair_id}/photo")
async def repair_photo(request: Request, repair_id: int) -> Response:
    page_session(request)
    repairs = console(request).repairs
    repair = repairs.get(repair_id)
    path = repairs.photo_path(repair) if repair else None
    if path is None:
        return Response(status_code=404)
    media = "image/png" if path.suffix == ".png" else "image/jpeg"
    return FileResponse(path, media_type=media, headers={"Cache-Control": "no-store"})
