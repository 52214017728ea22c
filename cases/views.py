"""Case pages. Every fetch of a case goes through access.get_case_for (access in one place)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import (
    Blueprint,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from sqlalchemy import select
from sqlalchemy.orm import load_only

from accounts.forms import ConfirmForm
from accounts.guards import current_staff, reauth_redirect, reauth_required, role_required
from accounts.models import Role, User
from cases import access, documents, duplicates, encryption, services, tasks
from cases.encryption import CaseError
from cases.forms import (
    AssignForm,
    BreakGlassForm,
    CaseForm,
    DocumentForm,
    NoteForm,
    ReopenForm,
    StageForm,
    TaskForm,
    VerificationForm,
)
from cases.models import (
    IDENTITY_FIELDS,
    Case,
    Outcome,
    ReferralSource,
    RiskLevel,
    Stage,
    Verification,
)
from extensions import db
from security import keystore
from security.clock import now
from security.fields import DecryptionError
from security.token import TokenError

bp = Blueprint("cases", __name__, url_prefix="/cases")
F = TypeVar("F", bound=Callable[..., Any])
STAFF = (Role.CASEWORKER, Role.ADMIN)
NEXT_ACTIONS = {
    "referred": _l("Screen the referral"),
    "screening": _l("Record and confirm the checks"),
    "verified": _l("Approve the relocation"),
    "approved": _l("Travel documents, or request the money"),
    "documents": _l("Request the money"),
    "funded": _l("Book travel"),
    "travel_booked": _l("Confirm departure"),
    "in_transit": _l("Confirm arrival"),
    "arrived": _l("Support settling in"),
    "settling": _l("Close the case"),
}
# The stages a case can be in today (the list filter): not the ones only history names.
CURRENT_STAGES = [stage for stage in Stage if stage not in (Stage.DECLINED, Stage.WITHDRAWN)]
CODE_QUERY = re.compile(r"^(?:RC-?)?([A-Z0-9]{4,8})$")


def locked_down(_error: access.CasesLockedDown) -> ResponseReturnValue:
    """Every case page while a lockdown is on (access.require_open raises it)."""
    return render_template("cases/locked.html"), 403


bp.register_error_handler(access.CasesLockedDown, locked_down)


def case_route(action: str) -> Callable[[F], F]:
    """Fetch the case through the access rule; 404 for anything not visible."""

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapped(case_id: str, *args: Any, **kwargs: Any) -> Any:
            try:
                case = access.get_case_for(current_staff(), case_id, action)
            except access.CaseNotFound:
                db.session.commit()  # keep the audit record of the refused attempt
                abort(404)
            return view(case, *args, **kwargs)

        return cast(F, wrapped)

    return decorator


def _identity(form: CaseForm) -> dict[str, str | None]:
    return {field: getattr(form, field).data for field in IDENTITY_FIELDS if hasattr(form, field)}


def _clear(form: CaseForm) -> services.ClearFields:
    return services.ClearFields(
        risk_level=RiskLevel(form.risk_level.data),
        region=form.region.data or "",
        household_size=int(form.household_size.data or 1),
        referral_source=ReferralSource(form.referral_source.data or "partner"),
        destination_country=form.destination_country.data or None,
    )


@bp.get("/")
@role_required(*STAFF)
def index() -> ResponseReturnValue:
    """A caseworker's own cases and their tasks due this week; for admins, every case
    without identity fields."""
    user = current_staff()
    if user.role is Role.ADMIN:
        return render_template(
            "cases/admin_list.html", cases=access.case_overview_for_admin(), moment=now()
        )
    query = access.cases_visible_to(user)
    stage, risk = request.args.get("stage", ""), request.args.get("risk", "")
    if stage in Stage.__members__.values():
        query = query.where(Case.stage == Stage(stage))
    if risk in RiskLevel.__members__.values():
        query = query.where(Case.risk_level == RiskLevel(risk))
    # The list shows clear fields only: leave the ciphertext columns in the database.
    shown = load_only(
        Case.id,
        Case.code,
        Case.stage,
        Case.risk_level,
        Case.region,
        Case.stage_changed_at,
    )
    cases = db.session.scalars(query.options(shown).order_by(Case.stage_changed_at)).all()
    page = render_template(
        "cases/index.html",
        cases=cases,
        # The home's tasks panel; a filtered list shows the matching cases alone.
        tasks=None if stage or risk else tasks.home_tasks(user),
        task_done_form=ConfirmForm(),
        moment=now(),
        stage=stage,
        risk=risk,
        stages=CURRENT_STAGES,
        risks=list(RiskLevel),
        next_actions=NEXT_ACTIONS,
    )
    db.session.commit()  # a written task's title is an audited opening of its case
    return page


@bp.get("/find")
@role_required(*STAFF)
def find() -> ResponseReturnValue:
    """Go to a case by its code (RC-7K3Q, or 7k3q): only among the cases this person may see,
    so a code nobody may see answers exactly like a code that does not exist."""
    access.require_open()
    typed = (request.args.get("code") or "").strip().upper().replace(" ", "")
    match = CODE_QUERY.match(typed)
    case = None
    if match:
        user = current_staff()
        code = f"RC-{match.group(1)}"
        if user.role is Role.ADMIN:
            case = db.session.scalar(select(Case).where(Case.code == code))
        else:
            case = db.session.scalar(
                access.cases_visible_to(user).where(Case.code == code).options(load_only(Case.id))
            )
    if case is None:
        flash(_("No case you can open has that code. Codes look like RC-7K3Q."), "error")
        return redirect(url_for("cases.index"))
    if current_staff().role is Role.ADMIN:
        return redirect(url_for("cases.manage", case_id=case.id))
    return redirect(url_for("cases.detail", case_id=case.id))


@bp.route("/new", methods=["GET", "POST"])
@role_required(Role.CASEWORKER)
def new() -> ResponseReturnValue:
    """Intake: a saved case is encrypted and assigned to the caseworker who created it. A
    possible duplicate is saved the same way (admins review it; cases.duplicates)."""
    access.require_open()
    try:
        duplicates.require_intake_open(current_staff())
    except duplicates.IntakePaused as error:
        return render_template("cases/intake_paused.html", message=str(error)), 403
    form = CaseForm()
    if form.validate_on_submit():
        try:
            case = services.create_case(current_staff(), _identity(form), _clear(form))
        except CaseError as error:
            db.session.rollback()
            form.form_errors.append(str(error))
        else:
            db.session.commit()
            flash(_("Case %(code)s created.", code=case.code), "info")
            return redirect(url_for("cases.detail", case_id=case.id))
    status = 400 if request.method == "POST" else 200
    return render_template("cases/form.html", form=form, case=None), status


@bp.get("/<case_id>")
@role_required(*STAFF)
@case_route("read")
def detail(case: Case) -> ResponseReturnValue:
    """The case: identity, stage history, notes, verification, break-glass openings."""
    history = services.history_for(case)
    notes = services.notes_for(case)
    verification = db.session.get(Verification, case.id)
    break_glass = access.break_glass_history(case)
    access_changes = access.access_history(case)
    document_entries = documents.documents_for(case)
    open_tasks, done_tasks = tasks.tasks_for(case)
    people = [change.actor_id for change, _ in history] + [note.author_id for note, _ in notes]
    people += [grant.admin_id for grant, _ in break_glass]
    people += [entry.document.created_by_id for entry in document_entries]
    people += [change.actor_id for change in access_changes]
    people += [change.staff_id for change in access_changes]
    people += [entry.task.assignee_id for entry in open_tasks + done_tasks]
    people += [entry.task.done_by_id for entry in done_tasks] + list(case.assignee_ids)
    if verification is not None:
        people += [verification.recorded_by_id, verification.confirmed_by_id]
    names = _staff_names(people)
    page = render_template(
        "cases/detail.html",
        case=case,
        identity=encryption.read_identity(case),
        history=history,
        notes=notes,
        verification=verification,
        break_glass=break_glass,
        access_changes=access_changes,
        names=names,
        note_form=NoteForm(),
        stage_form=_stage_form(case),
        verification_form=VerificationForm(),
        confirm_form=ConfirmForm(),
        documents=document_entries,
        document_form=DocumentForm(),
        open_tasks=open_tasks,
        done_tasks=done_tasks,
        task_form=_task_form(case, names),
    )
    db.session.commit()  # the read is audited
    return page


def _task_form(case: Case, names: dict[int, str]) -> TaskForm:
    form = TaskForm()
    form.assignee.choices = [("", _("Any of the case's caseworkers"))] + [
        (str(user_id), names.get(user_id, "")) for user_id in sorted(case.assignee_ids)
    ]
    return form


def _stage_form(case: Case) -> StageForm:
    form = StageForm()
    allowed = services.TRANSITIONS[case.stage]
    form.to_stage.choices = [
        choice for choice in form.to_stage.choices if Stage(choice.value) in allowed
    ]
    fitting = {outcome.value for outcome in services.outcomes_for(case.stage)}
    form.outcome.choices = [
        choice for choice in form.outcome.choices if not choice.value or choice.value in fitting
    ]
    return form


def _staff_names(user_ids: Iterable[int | None]) -> dict[int, str]:
    """Names of the staff a page mentions (not every user: that grows with the staff)."""
    wanted = {user_id for user_id in user_ids if user_id is not None}
    if not wanted:
        return {}
    rows = db.session.execute(select(User.id, User.name).where(User.id.in_(wanted)))
    return {row.id: row.name for row in rows}


@bp.route("/<case_id>/edit", methods=["GET", "POST"])
@role_required(*STAFF)
@case_route("edit")
def edit(case: Case) -> ResponseReturnValue:
    """Change a case's fields."""
    form = CaseForm()
    if request.method == "GET":
        for field, value in encryption.read_identity(case).items():
            getattr(form, field).data = value
        for name in ("region", "household_size", "destination_country"):
            getattr(form, name).data = getattr(case, name)
        form.risk_level.data = case.risk_level.value
        form.referral_source.data = case.referral_source.value
    elif form.validate_on_submit():
        encryption.read_identity(case)  # the audited read stays, whether the change is kept or not
        try:
            with db.session.begin_nested():
                services.update_case(case, current_staff(), _identity(form), _clear(form))
        except CaseError as error:
            form.form_errors.append(str(error))
        else:
            db.session.commit()
            flash(_("Case saved."), "info")
            return redirect(url_for("cases.detail", case_id=case.id))
    page = render_template("cases/form.html", form=form, case=case)
    db.session.commit()
    return page, 400 if request.method == "POST" else 200


@bp.post("/<case_id>/notes")
@role_required(*STAFF)
@case_route("note")
def add_note(case: Case) -> ResponseReturnValue:
    """Add a note."""
    form = NoteForm()
    if form.validate_on_submit():
        services.add_note(case, current_staff(), form.body.data or "")
        flash(_("Note added."), "info")
    else:
        flash(_("Write something in the note."), "error")
    db.session.commit()
    return redirect(url_for("cases.detail", case_id=case.id))


@bp.post("/<case_id>/stage")
@role_required(*STAFF)
@case_route("stage")
def change_stage(case: Case) -> ResponseReturnValue:
    """Move the case to the next stage, with a reason."""
    form = StageForm()
    if form.validate_on_submit():
        try:
            services.change_stage(
                case,
                current_staff(),
                Stage(form.to_stage.data),
                form.reason.data or "",
                outcome=Outcome(form.outcome.data) if form.outcome.data else None,
                transit_country=form.transit_country.data,
            )
        except (CaseError, ValueError) as error:
            flash(str(error), "error")
        else:
            flash(_("Moved to %(stage)s.", stage=case.stage.label), "info")
    else:
        flash(_("Choose a stage (and, to close, an outcome) and give a reason."), "error")
    db.session.commit()
    return redirect(url_for("cases.detail", case_id=case.id))


@bp.post("/<case_id>/verification")
@role_required(*STAFF)
@case_route("verification")
def record_verification(case: Case) -> ResponseReturnValue:
    """Record the verification checklist (a second person then confirms)."""
    form = VerificationForm()
    if form.validate_on_submit():
        services.record_verification(
            case,
            current_staff(),
            has_seen_documents=bool(form.has_seen_documents.data),
            has_contacted_references=bool(form.has_contacted_references.data),
            has_assessed_risk=bool(form.has_assessed_risk.data),
            notes=form.notes.data or "",
        )
        flash(_("Checks recorded. A second person must confirm them."), "info")
    db.session.commit()
    return redirect(url_for("cases.detail", case_id=case.id))


@bp.post("/<case_id>/verification/confirm")
@role_required(*STAFF)
@case_route("verification")
def confirm_verification(case: Case) -> ResponseReturnValue:
    """Confirm another person's verification."""
    if ConfirmForm().validate_on_submit():
        try:
            services.confirm_verification(case, current_staff())
        except CaseError as error:
            flash(str(error), "error")
        else:
            flash(_("Verification confirmed."), "info")
    db.session.commit()
    return redirect(url_for("cases.detail", case_id=case.id))


@bp.get("/<case_id>/export")
@role_required(*STAFF)
@reauth_required
@case_route("export")
def export(case: Case) -> ResponseReturnValue:
    """A print page of one case, to hand to a partner organisation (re-authenticated)."""
    history = services.history_for(case)
    notes = services.notes_for(case)
    people = [change.actor_id for change, _ in history] + [note.author_id for note, _ in notes]
    page = render_template(
        "cases/export.html",
        case=case,
        identity=encryption.read_identity(case),
        history=history,
        notes=notes,
        names=_staff_names(people),
        moment=now(),
    )
    db.session.commit()
    return page


# --- Admin: assignment, break-glass, purge, lockdown --------------------------------------------


def _any_case_or_404(case_id: str) -> Case:
    try:
        return access.case_facts_for_admin(current_staff(), case_id)
    except access.CaseNotFound:
        abort(404)


@bp.route("/<case_id>/manage", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def manage(case_id: str) -> ResponseReturnValue:
    """Assign caseworkers and see the clear facts; contents only through break-glass."""
    case = _any_case_or_404(case_id)
    form = AssignForm()
    caseworkers = db.session.scalars(
        select(User).where(
            User.role == Role.CASEWORKER, User.is_active.is_(True), User.is_vetted.is_(True)
        )
    ).all()
    form.user_id.choices = [(user.id, user.name) for user in caseworkers]
    if request.method == "POST" and (again := reauth_redirect()) is not None:
        return again
    if form.validate_on_submit():
        worker = db.session.get(User, form.user_id.data)
        try:
            if worker is None:
                raise CaseError(_("Choose a caseworker."))
            services.assign(case, worker, current_staff())
        except CaseError as error:
            flash(str(error), "error")
        else:
            db.session.commit()
            flash(_("%(name)s is assigned to %(code)s.", name=worker.name, code=case.code), "info")
        return redirect(url_for("cases.manage", case_id=case.id))
    access_changes = access.access_history(case)
    people: list[int | None] = [assignment.user_id for assignment in case.assignments]
    people += [change.actor_id for change in access_changes]
    people += [change.staff_id for change in access_changes]
    page = render_template(
        "cases/manage.html",
        case=case,
        form=form,
        names=_staff_names(people),
        access_changes=access_changes,
        confirm_form=ConfirmForm(),
        glass_form=BreakGlassForm(),
        reopen_form=ReopenForm(),
        uses_token=keystore.uses_token(),
        backups_unreadable_after=keystore.backups_unreadable_after(),
        retention_days=keystore.retention().days,
    )
    return page, 400 if request.method == "POST" else 200


@bp.post("/<case_id>/unassign/<int:user_id>")
@role_required(Role.ADMIN)
def unassign(case_id: str, user_id: int) -> ResponseReturnValue:
    """Take a caseworker off a case."""
    case = _any_case_or_404(case_id)
    if ConfirmForm().validate_on_submit():
        try:
            services.unassign(case, user_id, current_staff())
        except CaseError as error:
            flash(str(error), "error")
        else:
            db.session.commit()
    return redirect(url_for("cases.manage", case_id=case.id))


@bp.post("/<case_id>/break-glass")
@role_required(Role.ADMIN)
@reauth_required
def break_glass(case_id: str) -> ResponseReturnValue:
    """Open a case's contents for 30 minutes, with a reason (audited, shown to its staff)."""
    form = BreakGlassForm()
    if not form.validate_on_submit():
        flash(_("Explain why you need to open this case (at least a sentence)."), "error")
        return redirect(url_for("cases.manage", case_id=case_id))
    try:
        access.break_glass(case_id, current_staff(), form.reason.data or "")
    except access.CaseNotFound:
        abort(404)
    except (CaseError, access.CasesLockedDown) as error:
        flash(str(error), "error")  # the form's own page explains, rather than the locked page
        return redirect(url_for("cases.manage", case_id=case_id))
    db.session.commit()
    return redirect(url_for("cases.detail", case_id=case_id))


@bp.post("/<case_id>/purge")
@role_required(Role.ADMIN)
@reauth_required
def purge(case_id: str) -> ResponseReturnValue:
    """Crypto-shred one case now (emergency), after re-authentication."""
    case = _any_case_or_404(case_id)
    if not ConfirmForm().validate_on_submit() or request.form.get("confirm_code") != case.code:
        flash(_("Type the case code (%(code)s) to confirm the purge.", code=case.code), "error")
        return redirect(url_for("cases.manage", case_id=case.id))
    destroy_backups = request.form.get("destroy_backups") == "1" and keystore.uses_token()
    services.purge_case(case, current_staff(), "emergency")
    db.session.commit()
    code = case.code
    try:
        report = services.finish_purge(current_staff(), emergency=destroy_backups)
    except (keystore.KeystoreError, TokenError, DecryptionError) as error:
        db.session.rollback()
        flash(
            _(
                "%(code)s was purged, but the older key generations were not destroyed"
                " (%(error)s). Run flask --app app keys rotate-generation --force and check"
                " keys status.",
                code=code,
                error=error,
            ),
            "error",
        )
        return redirect(url_for("cases.index"))
    if report is not None:
        flash(
            ngettext(
                "%(code)s was purged, and %(num)d older key generation destroyed: no existing"
                " backup opens any case now. Live cases were re-wrapped and still open.",
                "%(code)s was purged, and %(num)d older key generations destroyed: no existing"
                " backup opens any case now. Live cases were re-wrapped and still open.",
                len(report.destroyed),
                code=code,
            ),
            "info",
        )
    else:
        flash(_("%(code)s was purged. Its contents can no longer be recovered.", code=code), "info")
    return redirect(url_for("cases.index"))


@bp.post("/<case_id>/reopen")
@role_required(Role.ADMIN)
@reauth_required
def reopen(case_id: str) -> ResponseReturnValue:
    """Reopen a closed case that is not purged (an admin, with a reason)."""
    case = _any_case_or_404(case_id)
    form = ReopenForm()
    if not form.validate_on_submit():
        flash(_("Explain why the case is reopened (at least a sentence)."), "error")
        return redirect(url_for("cases.manage", case_id=case.id))
    try:
        back_to = services.reopen_case(case, current_staff(), form.reason.data or "")
    except CaseError as error:
        flash(str(error), "error")
        return redirect(url_for("cases.manage", case_id=case.id))
    db.session.commit()
    flash(_("%(code)s is open again, at %(stage)s.", code=case.code, stage=back_to.label), "info")
    return redirect(url_for("cases.manage", case_id=case.id))


lockdown_bp = Blueprint("lockdown", __name__, url_prefix="/admin/lockdown")


@lockdown_bp.route("/", methods=["GET", "POST"])
@role_required(Role.ADMIN)
@reauth_required
def lockdown() -> ResponseReturnValue:
    """Emergency lockdown: end every staff session and close case pages until lifted."""
    form = ConfirmForm()
    if form.validate_on_submit():
        if request.form.get("action") == "lift":
            access.lift_lockdown(current_staff())
            db.session.commit()
            flash(_("Lockdown lifted: case pages are open again."), "info")
            return redirect(url_for("lockdown.lockdown"))
        ended = access.start_lockdown(current_staff())
        db.session.commit()
        flash(
            ngettext(
                "Lockdown on. %(num)d session ended, yours included.",
                "Lockdown on. %(num)d sessions ended, yours included.",
                ended,
            ),
            "info",
        )
        return redirect(url_for("accounts.login"))
    return render_template("cases/lockdown.html", form=form, is_locked_down=access.is_locked_down())
