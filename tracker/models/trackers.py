from __future__ import annotations

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models

from tracker.models.projects import Project

color_validator = RegexValidator(r"^#[0-9a-fA-F]{6}$", "Use a color like #1f77b4.")


class Tracker(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="trackers")
    name = models.CharField(max_length=100)
    shortname = models.SlugField(max_length=25, help_text="Used in artifact references such as bug #42.")
    description = models.TextField(blank=True)
    color = models.CharField(max_length=7, default="#1f77b4", validators=[color_validator])
    created_on = models.DateTimeField(auto_now_add=True)
    # Create by email (off by default): a member's message to <email_local_part>@EMAIL_GATEWAY_DOMAIN
    # becomes an artifact. A project admin turns it on (tracker.services.trackers.set_email_creation).
    accepts_email = models.BooleanField(
        default=False, help_text="Members may create artifacts by writing to the tracker's address."
    )
    email_local_part = models.CharField(
        max_length=64,
        blank=True,
        help_text="The part before @ of the tracker's address (unique on the site); empty: the shortname.",
    )

    class Meta:
        ordering = ["project", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["email_local_part"],
                condition=~models.Q(email_local_part=""),
                name="tracker_email_local_part_unique",
            ),
            models.UniqueConstraint(fields=["project", "shortname"], name="tracker_shortname_unique"),
            models.UniqueConstraint(fields=["project", "name"], name="tracker_name_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.project.shortname}/{self.shortname}"


class FieldType(models.TextChoices):
    STRING = "string", "String"
    TEXT = "text", "Text"
    INTEGER = "int", "Integer"
    FLOAT = "float", "Float"
    DATE = "date", "Date"
    DATETIME = "datetime", "Date and time"
    SELECT = "sb", "Select box"
    MULTI_SELECT = "msb", "Multi-select box"
    USER = "user", "User"
    USERS = "users", "Users"
    OPEN_LIST = "tbl", "Open list (labels)"
    FILES = "file", "File attachments"
    LINKS = "art_link", "Artifact links"


USER_FIELD_TYPES = {FieldType.USER, FieldType.USERS}
CHOICE_FIELD_TYPES = {FieldType.SELECT, FieldType.MULTI_SELECT}


class Field(models.Model):
    tracker = models.ForeignKey(Tracker, on_delete=models.CASCADE, related_name="fields")
    name = models.SlugField(max_length=50, help_text="Stable name used by the API.")
    label = models.CharField(max_length=100)
    type = models.CharField(max_length=10, choices=FieldType.choices)
    required = models.BooleanField(default=False)
    help_text = models.CharField(max_length=255, blank=True)
    rank = models.PositiveIntegerField(default=0)
    notify = models.BooleanField(
        default=False, help_text="User fields only: the people named here are notified of changes."
    )
    is_title = models.BooleanField(default=False)
    # Select fields: the value a new artifact gets when it is created without one (the artifact
    # service applies it). Removing the option clears it.
    default_option = models.ForeignKey(
        "FieldOption", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # A hidden field is left out of the artifact forms and lists and takes no new value; its stored
    # values, its history and the API's reads keep it (tracker.services.fields.hide_field). A field
    # that holds values is never deleted, so that history always has its label.
    hidden = models.BooleanField(default=False, help_text="Hidden from forms and lists; history keeps it.")

    class Meta:
        ordering = ["tracker", "rank", "id"]
        constraints = [
            models.UniqueConstraint(fields=["tracker", "name"], name="field_name_unique"),
            models.UniqueConstraint(
                fields=["tracker"], condition=models.Q(is_title=True), name="field_one_title_per_tracker"
            ),
        ]

    def __str__(self) -> str:
        return self.label

    @property
    def is_user_field(self) -> bool:
        return self.type in USER_FIELD_TYPES

    @property
    def is_choice_field(self) -> bool:
        return self.type in CHOICE_FIELD_TYPES


# The badge colours a select value may have: a fixed palette of CSS classes (static/css), since the
# Content-Security-Policy forbids inline style attributes.
OPTION_COLORS = {
    "grey": "Grey",
    "red": "Red",
    "orange": "Orange",
    "yellow": "Yellow",
    "green": "Green",
    "teal": "Teal",
    "blue": "Blue",
    "purple": "Purple",
}


class FieldOption(models.Model):
    """A static value of a select or multi-select field."""

    field = models.ForeignKey(Field, on_delete=models.CASCADE, related_name="options")
    label = models.CharField(max_length=255)
    rank = models.PositiveIntegerField(default=0)
    is_closed = models.BooleanField(default=False, help_text="This value means the work is done.")
    # Not offered for new values; still shown where set and in history (a used value is never deleted).
    hidden = models.BooleanField(default=False)
    # A key of OPTION_COLORS (a CSS class badge-color-<key>: the CSP forbids inline styles); "": none.
    color = models.CharField(max_length=20, blank=True, default="")

    class Meta:
        ordering = ["field", "rank", "id"]
        constraints = [models.UniqueConstraint(fields=["field", "label"], name="field_option_unique")]

    def __str__(self) -> str:
        return self.label


class NotificationListEntry(models.Model):
    """The tracker's global notification list: a user or a plain email address.

    A plain address receives notifications only once confirmed (``confirmed_at``): by its owner,
    through the link of the one confirmation email (tracker.services.notification_list), or because a
    site administrator added it. Until then it gets nothing, so an account cannot make the platform
    mail strangers.
    """

    tracker = models.ForeignKey(Tracker, on_delete=models.CASCADE, related_name="notification_list")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE)
    email = models.EmailField(blank=True)
    on_creation_only = models.BooleanField(
        default=False, help_text="Only notify when an artifact is created, not on its updates."
    )
    confirmed_at = models.DateTimeField(
        null=True, blank=True, help_text="Plain addresses: when its owner (or a site admin) confirmed it."
    )
    confirmation_sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(user__isnull=False, email="") | models.Q(user__isnull=True) & ~models.Q(email="")
                ),
                name="notification_entry_user_xor_email",
            ),
            models.UniqueConstraint(fields=["tracker", "user"], name="notification_entry_user_unique"),
            models.UniqueConstraint(
                fields=["tracker", "email"],
                condition=~models.Q(email=""),
                name="notification_entry_email_unique",
            ),
        ]

    def __str__(self) -> str:
        return str(self.user) if self.user_id else self.email

    @property
    def is_confirmed(self) -> bool:
        return self.user_id is not None or self.confirmed_at is not None
