"""Buttons of the dashboard: start, stop, restart, diagnose, silence, send a test."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from stackmedic.deployments.actions import Action, ComposeUnavailable, UnknownDeployment
from stackmedic.engine.compose import ComposeError
from stackmedic.notify.errors import UnknownChannelError
from stackmedic.readmodel import agent_view
from stackmedic.web.formatting import when
from stackmedic.web.guard import Posted, dashboard, posted, safe_next
from stackmedic.web.routes.common import deployment_path, known_deployment

router = APIRouter(include_in_schema=False)
PostedDep = Annotated[Posted, Depends(posted)]
MAX_SILENCE_HOURS = 24 * 366
DONE = {
    Action.START: "started; stackmedic keeps it running",
    Action.STOP: "stopped; stackmedic leaves it stopped until you start it",
    Action.RESTART: "restarted",
}


def back(path: str) -> RedirectResponse:
    """See-other back to a page after a POST."""
    return RedirectResponse(path, status_code=303)


@router.post("/deployments/{name}/diagnose")
async def diagnose(request: Request, name: str, post: PostedDep) -> Response:
    """Diagnose without acting; the result is shown on the deployment page."""
    agent = agent_view(request)
    deployment = known_deployment(agent, name)
    _, diagnosis = await agent.recovery.diagnose(deployment.name)
    post.session.diagnoses[deployment.name] = {
        **diagnosis.as_dict(), "at": datetime.now(UTC).timestamp(),
    }
    return back(deployment_path(deployment.name) + "#diagnosis")


@router.post("/deployments/{name}/silence")
async def silence(request: Request, name: str, post: PostedDep) -> Response:
    """Hold this deployment's notifications for some hours."""
    agent = agent_view(request)
    deployment = known_deployment(agent, name)
    try:
        hours = float(post.field("hours"))
    except ValueError:
        hours = 0.0
    if not 0 < hours <= MAX_SILENCE_HOURS:
        post.session.flash("bad", f"Silence for between 0 and {MAX_SILENCE_HOURS} hours.")
        return back(deployment_path(deployment.name))
    until = datetime.now(UTC) + timedelta(hours=hours)
    reason = post.field("reason").strip()[:500] or "silenced from the dashboard"
    agent.notifier.add_silence(deployment.name, until, reason)
    post.session.flash(
        "ok", f"Notifications of {name} are silenced until {when(until.timestamp())}."
    )
    return back(deployment_path(deployment.name))


@router.post("/silences/{silence_id}/end")
async def end_silence(request: Request, silence_id: int, post: PostedDep) -> Response:
    """End a silence now; what it held back goes out."""
    if agent_view(request).notifier.remove_silence(silence_id):
        post.session.flash("ok", "Silence ended.")
    else:
        post.session.flash("warn", "That silence had already ended.")
    return back(safe_next(post.field("next")))


@router.post("/notifications/test")
async def send_test(request: Request, post: PostedDep) -> Response:
    """Send a test message to one channel, or to every channel."""
    channel = post.field("channel") or None
    try:
        results = await agent_view(request).notifier.send_test(channel)
    except UnknownChannelError as exc:
        post.session.flash("bad", str(exc))
        return back("/notifications")
    if not results:
        post.session.flash("warn", "No channels are configured.")
    for result in results:
        if result.ok:
            post.session.flash("ok", f"Test sent to {result.channel} ({result.kind}).")
        else:
            post.session.flash("bad", f"Test to {result.channel} failed", result.error or "")
    return back("/notifications")


# Last: its path would also match the routes above.
@router.post("/deployments/{name}/{verb}")
async def act(
    request: Request, name: str, verb: Literal["start", "stop", "restart"], post: PostedDep
) -> Response:
    """Record the desired state, then run Compose; a stop needs a confirmation first."""
    agent = agent_view(request)
    deployment = known_deployment(agent, name)
    action = Action(verb)
    if action is Action.STOP and post.field("confirmed") != "yes":
        return dashboard(request).renderer.page(
            "confirm_stop.html", {"name": deployment.name}, session=post.session
        )
    try:
        await agent.actions.perform(deployment.name, action, source="web")
    except ComposeError as exc:
        post.session.flash("bad", f"{verb} of {name} failed", exc.stderr.strip()[-2000:])
    except (ComposeUnavailable, UnknownDeployment) as exc:
        post.session.flash("bad", f"{verb} of {name} failed: {exc}")
    else:
        post.session.flash("ok", f"{name} {DONE[action]}.")
    return back(deployment_path(deployment.name))
