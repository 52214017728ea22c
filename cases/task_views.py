"""A case's tasks: add one by hand, mark one done or open again. The case is fetched through
the same access rule as its page (views.case_route), so anyone else gets 404, audited."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from accounts.forms import ConfirmForm
from accounts.guards import current_staff, role_required
from cases import access, tasks
from cases.encryption import CaseError
from cases.forms import TaskForm
from cases.models import Case
from cases.task_models import CaseTask
from cases.views import STAFF, case_route, locked_down
from extensions import db

bp = Blueprint("case_tasks", __name__, url_prefix="/cases")
bp.register_error_handler(access.CasesLockedDown, locked_down)


def _task_or_404(case: Case, task_id: str) -> CaseTask:
    try:
        return tasks.get_task(case, task_id)
    except tasks.TaskNotFound:
        abort(404)


def _back(case: Case) -> Response:
    if request.form.get("back") == "home":  # marked done from the caseworker's home list
        return redirect(url_for("cases.index", _anchor="tasks"))
    return redirect(url_for("cases.detail", case_id=case.id, _anchor="tasks"))


@bp.post("/<case_id>/tasks")
@role_required(*STAFF)
@case_route("task_add")
def add(case: Case) -> ResponseReturnValue:
    """Add a task written by hand (its title encrypted with the case)."""
    form = TaskForm()
    if not form.validate_on_submit():
        errors = [error for field in form for error in field.errors]
        flash(" ".join(str(error) for error in errors) or _("Check the task."), "error")
        return _back(case)
    assignee = form.assignee.data or ""
    try:
        tasks.add_task(
            case,
            current_staff(),
            form.title.data or "",
            form.due_on.data,
            int(assignee) if assignee.isdigit() else None,
        )
    except CaseError as error:
        db.session.rollback()
        flash(str(error), "error")
        return _back(case)
    db.session.commit()
    flash(_("Task added."), "info")
    return _back(case)


@bp.post("/<case_id>/tasks/<task_id>/done")
@role_required(*STAFF)
@case_route("task_done")
def done(case: Case, task_id: str) -> ResponseReturnValue:
    """Mark a task done (audited)."""
    task = _task_or_404(case, task_id)
    if ConfirmForm().validate_on_submit():
        tasks.mark_done(case, task, current_staff())
        flash(_("Task done."), "info")
    else:
        flash(_("The page had expired: try again."), "error")
    db.session.commit()
    return _back(case)


@bp.post("/<case_id>/tasks/<task_id>/undo")
@role_required(*STAFF)
@case_route("task_undo")
def undo(case: Case, task_id: str) -> ResponseReturnValue:
    """Open a done task again (audited)."""
    task = _task_or_404(case, task_id)
    if ConfirmForm().validate_on_submit():
        tasks.mark_undone(case, task, current_staff())
        flash(_("Task open again."), "info")
    else:
        flash(_("The page had expired: try again."), "error")
    db.session.commit()
    return _back(case)
