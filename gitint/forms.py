"""Form classes (Flask-WTF). CSRF tokens are off: the context-token header is the defence."""

from flask import request
from flask_wtf import FlaskForm
from flask_wtf.form import SUBMIT_METHODS, _Auto
from wtforms import (
    BooleanField,
    DateField,
    IntegerField,
    PasswordField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import (
    URL,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    Regexp,
    ValidationError,
)

from .models import DEFAULT_TEMPLATE, PROVIDER_KINDS
from .settings import (
    KIND_FIELDS,
    KIND_LABELS,
    MAX_LENGTH,
    MIN_LENGTH,
    NO_PAT_VERSIONS,
    SEPARATORS,
    SERVER_VERSIONS,
    SYNC_EVERY,
    format_prefixes,
    parse_prefixes,
    template_problem,
)

RANGE_MESSAGE = f"Enter a number from {MIN_LENGTH} to {MAX_LENGTH}."
HOST_FIELDS = ("base_url", "organization", "region", "server_version")
REGION_PATTERN = r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$"


def options(pairs) -> list[SelectChoice]:
    """SelectField choices from (value, label) pairs."""
    return [SelectChoice(value, label) for value, label in pairs]


def _strip(value):
    return value.strip() if isinstance(value, str) else value


class Form(FlaskForm):
    """A FlaskForm that reads a submitted form body only: Flask-WTF would otherwise take a JSON
    body as the form data, and a JSON list, number or deep nesting raise instead of failing
    validation (a 500)."""

    class Meta:
        def wrap_formdata(self, form, formdata):
            if formdata is not _Auto:  # the view passed its own (request.args, or None)
                return formdata
            return request.form if request.method in SUBMIT_METHODS else None


class IntegrationForm(Form):
    """Add or edit an integration: provider kind first, then only the fields that kind needs."""

    kind = SelectField(
        "Provider", choices=options((k, KIND_LABELS[k]) for k in PROVIDER_KINDS), default="github"
    )
    name = StringField("Name", [InputRequired(), Length(max=120)], filters=[_strip])
    base_url = StringField(
        "Base URL",
        [
            Optional(),
            URL(require_tld=False, message="Enter a URL like https://git.example.com."),
            Length(max=500),
        ],
        filters=[_strip, lambda v: v.rstrip("/") if v else v],
    )
    organization = StringField("Organization", [Optional(), Length(max=255)], filters=[_strip])
    server_version = SelectField(
        "Server version", choices=options([("", "Choose…"), *SERVER_VERSIONS.items()]), default=""
    )
    region = StringField(
        "Region",
        [Optional(), Regexp(REGION_PATTERN, message="Enter an AWS region such as eu-west-1.")],
        filters=[_strip],
    )
    token = PasswordField("Personal access token", [Optional(), Length(max=2000)])
    account_user = StringField("User name", [Optional(), Length(max=255)], filters=[_strip])
    access_key_id = StringField("Access key ID", [Optional(), Length(max=128)], filters=[_strip])
    secret_access_key = PasswordField("Secret access key", [Optional(), Length(max=256)])

    def validate_for(self, editing: bool) -> bool:
        """Validate the fields the chosen kind uses; require its host fields and (when adding)
        the credential. Fields of other kinds are ignored."""
        self.validate()
        needed = KIND_FIELDS.get(self.kind.data, ())
        keys = self.kind.data == "codecommit"
        unused = [name for name in HOST_FIELDS if name not in needed]
        unused += ["token"] if keys else ["access_key_id", "secret_access_key"]
        unused += [] if self.uses_account() else ["account_user"]
        for name in unused:
            self[name].errors = []
        for name in needed:
            field = self[name]
            if not field.data and not field.errors:
                field.errors.append(f"Enter the {field.label.text.lower()}.")
        if keys:
            key_id, secret = self.access_key_id.data, self.secret_access_key.data
            if bool(key_id) != bool(secret) or (not editing and not key_id):
                which = self.secret_access_key if key_id else self.access_key_id
                which.errors.append("Enter both the access key ID and the secret access key.")
        elif self.uses_account() and bool(self.account_user.data) != bool(self.token.data):
            which = self.token if self.account_user.data else self.account_user
            which.errors.append("Enter both the user name and the password.")
        elif not editing and not self.token.data:
            what = "password" if self.uses_account() else "token"
            self.token.errors.append(f"Enter the integration account's {what}.")
        return not any(field.errors for field in self)

    def host_values(self) -> dict:
        """Kind and the host fields that kind uses (the others are cleared)."""
        needed = KIND_FIELDS.get(self.kind.data, ())
        values = {"kind": self.kind.data}
        for name in HOST_FIELDS:
            values[name] = (self[name].data or None) if name in needed else None
        return values

    def uses_account(self) -> bool:
        """TFS 2013 and 2015 have no PATs: the account's user name and password instead."""
        return self.kind.data == "tfs" and self.server_version.data in NO_PAT_VERSIONS

    def secret(self) -> str:
        """The credential typed in: a token, ``KEY_ID:SECRET`` for CodeCommit, or
        ``user:password`` on TFS 2013/2015 ('' = keep)."""
        if self.kind.data == "codecommit":
            if not self.access_key_id.data:
                return ""
            return f"{self.access_key_id.data}:{(self.secret_access_key.data or '').strip()}"
        if self.uses_account() and self.account_user.data:
            return f"{self.account_user.data}:{self.token.data or ''}"
        return (self.token.data or "").strip()

    def credential_field(self):
        """Where a message about the credential goes."""
        return self.secret_access_key if self.kind.data == "codecommit" else self.token


class SettingsForm(Form):
    """The feature settings of one integration, saved with the Update button."""

    require_user_pat = BooleanField("Require User PAT")
    allow_branch = BooleanField("Allow branch creation")
    allow_pull_request = BooleanField("Allow pull request creation")
    branch_template = StringField(
        "Branch name template", [Length(max=MAX_LENGTH)], default=DEFAULT_TEMPLATE, filters=[_strip]
    )
    separator = SelectField("Separator", choices=options((s, s) for s in SEPARATORS), default="-")
    max_length = IntegerField(
        "Maximum length",
        [NumberRange(MIN_LENGTH, MAX_LENGTH, RANGE_MESSAGE)],
        default=100,
    )
    type_prefixes = TextAreaField("Issue type prefixes")
    sync_every_hours = SelectField(
        "Sync every", choices=options(SYNC_EVERY.items()), coerce=int, default=6
    )

    def validate_branch_template(self, field):
        problem = template_problem(field.data)
        if problem:
            raise ValidationError(problem)

    def validate_type_prefixes(self, field):
        problem = parse_prefixes(field.data)[1]
        if problem:
            raise ValidationError(problem)

    @classmethod
    def of(cls, integration) -> "SettingsForm":
        """The form showing an integration's stored settings."""
        names = ("require_user_pat", "allow_branch", "allow_pull_request", "branch_template")
        data = {name: getattr(integration, name) for name in names}
        data.update(
            separator=integration.separator,
            max_length=integration.max_length,
            type_prefixes=format_prefixes(integration.type_prefixes),
            sync_every_hours=integration.sync_every_hours,
        )
        return cls(formdata=None, data=data)

    def values(self) -> dict:
        """The validated settings as Integration column values."""
        return {
            "require_user_pat": self.require_user_pat.data,
            "allow_branch": self.allow_branch.data,
            "allow_pull_request": self.allow_pull_request.data,
            "branch_template": self.branch_template.data,
            "separator": self.separator.data,
            "max_length": self.max_length.data,
            "type_prefixes": parse_prefixes(self.type_prefixes.data)[0],
            "sync_every_hours": self.sync_every_hours.data,
        }


class AuditFilterForm(Form):
    """Filters of the audit log page (read from the query string)."""

    class Meta:
        csrf = False

    user = StringField("User", [Optional(), Length(max=128)], filters=[_strip])
    integration = SelectField("Integration", choices=options([("", "Any")]), default="")
    action = SelectField("Action", choices=options([("", "Any")]), default="")
    result = SelectField(
        "Result",
        choices=options([("", "Any"), ("success", "Success"), ("error", "Error")]),
        default="",
    )
    since = DateField("From", [Optional()])
    until = DateField("To", [Optional()])
    page = IntegerField("Page", [Optional(), NumberRange(min=1)], default=1)
