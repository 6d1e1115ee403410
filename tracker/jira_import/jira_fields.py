"""Jira's own catalogue of fields, as its REST API names them, and what each becomes here.

``GET /rest/api/2/field`` describes each field with a schema: ``schema.system`` for a built-in field,
``schema.custom`` for the type of a custom field (``ATLASSIAN_CUSTOM`` for Jira's, ``GREENHOPPER``
for Jira Software's). These tables are the facts about Jira; :mod:`tracker.jira_import.mapping`
decides from them which tracker fields an import creates.
"""

from __future__ import annotations

from tracker.models import FieldType

ATLASSIAN_CUSTOM = "com.atlassian.jira.plugin.system.customfieldtypes:"
GREENHOPPER = "com.pyxis.greenhopper.jira:"

# schema.system -> (our type, value kind)
SYSTEM_FIELDS: dict[str, tuple[str, str]] = {
    "summary": (FieldType.STRING, "string"),
    "description": (FieldType.TEXT, "text"),
    "environment": (FieldType.TEXT, "text"),
    "duedate": (FieldType.DATE, "date"),
    "priority": (FieldType.SELECT, "named"),
    "resolution": (FieldType.SELECT, "named"),
    "components": (FieldType.MULTI_SELECT, "named_items"),
    "versions": (FieldType.MULTI_SELECT, "named_items"),
    "fixVersions": (FieldType.MULTI_SELECT, "named_items"),
    "labels": (FieldType.OPEN_LIST, "labels"),
    "assignee": (FieldType.USER, "user"),
    "reporter": (FieldType.USER, "user"),
    # Permissions are not imported: the level's name is kept as text, for the record.
    "security": (FieldType.STRING, "named_text"),
    # Jira keeps seconds; the tracker shows hours.
    "timeoriginalestimate": (FieldType.FLOAT, "seconds"),
    "timeestimate": (FieldType.FLOAT, "seconds"),
    "timespent": (FieldType.FLOAT, "seconds"),
}
# Jira system fields the always-created fields, the links, the time entries or the trackers stand
# for, and those Jira computes from others (aggregates, progress): nothing of them is lost.
IMPLIED_SYSTEM_FIELDS = {
    "issuetype",
    "project",
    "status",
    "resolutiondate",
    "created",
    "updated",
    "creator",
    "attachment",
    "issuelinks",
    "subtasks",
    "parent",
    "comment",
    "worklog",
    "timetracking",
    "aggregatetimeoriginalestimate",
    "aggregatetimeestimate",
    "aggregatetimespent",
    "aggregateprogress",
    "progress",
    "workratio",
    "lastViewed",
    "statuscategorychangedate",
    "thumbnail",
}
# Fields with a value that nothing here holds.
UNSUPPORTED_SYSTEM_FIELDS = {
    "votes": "who voted for an issue is not imported",
    "watches": "who watches an issue is not imported (people watch artifacts here themselves)",
}
# What the search asks of every issue besides its mapped fields (not the computed ones).
SEARCHED_SYSTEM_FIELDS = {
    "summary",
    "reporter",
    "issuetype",
    "status",
    "resolutiondate",
    "created",
    "updated",
    "creator",
    "attachment",
    "issuelinks",
    "subtasks",
    "parent",
    "comment",
    "worklog",
}
# The last part of schema.custom for Atlassian's own custom field types -> (our type, value kind)
CUSTOM_FIELDS: dict[str, tuple[str, str]] = {
    "textfield": (FieldType.STRING, "string"),
    "url": (FieldType.STRING, "string"),
    "readonlyfield": (FieldType.STRING, "string"),
    "textarea": (FieldType.TEXT, "text"),
    "float": (FieldType.FLOAT, "number"),
    "datepicker": (FieldType.DATE, "date"),
    "datetime": (FieldType.DATETIME, "datetime"),
    "select": (FieldType.SELECT, "option"),
    "radiobuttons": (FieldType.SELECT, "option"),
    "version": (FieldType.SELECT, "named"),
    "multiselect": (FieldType.MULTI_SELECT, "options"),
    "multicheckboxes": (FieldType.MULTI_SELECT, "options"),
    "multiversion": (FieldType.MULTI_SELECT, "named_items"),
    "labels": (FieldType.OPEN_LIST, "labels"),
    "userpicker": (FieldType.USER, "user"),
    "multiuserpicker": (FieldType.USERS, "users"),
    # One select of "Parent / Child" values: the pair is one choice in Jira and one changelog item,
    # so one field keeps each change one change (two fields would split it, and a child means
    # nothing without its parent).
    "cascadingselect": (FieldType.SELECT, "cascading"),
}
UNSUPPORTED_CUSTOM_FIELDS = {
    "grouppicker": "groups are not imported",
    "multigrouppicker": "groups are not imported",
    "project": "project pickers name Jira projects, which are not imported",
}
# Jira Software's fields (schema.custom after GREENHOPPER).
SOFTWARE_FIELDS: dict[str, tuple[str, str]] = {
    "gh-epic-label": (FieldType.STRING, "string"),
    "gh-epic-color": (FieldType.STRING, "string"),
    "gh-epic-status": (FieldType.SELECT, "option"),
    "jsw-story-points": (FieldType.FLOAT, "number"),
}
UNSUPPORTED_SOFTWARE_FIELDS = {
    "gh-lexo-rank": "the board's rank (the order of the backlog) is not imported",
}
# Fields that become links: the epic link (Server; Cloud uses ``parent``) and the sprints.
EPIC_LINK = "epic"
SPRINT = "sprint"
LINK_FIELDS = {"gh-epic-link": EPIC_LINK, "gh-sprint": SPRINT}
# An app's field of one of these schema types has a well-known value shape: imported as such.
PLAIN_SCHEMA_TYPES: dict[str, tuple[str, str]] = {
    "string": (FieldType.STRING, "string"),
    "number": (FieldType.FLOAT, "number"),
    "date": (FieldType.DATE, "date"),
    "datetime": (FieldType.DATETIME, "datetime"),
}
# Names the changelog of Jira Server gives system fields (Cloud adds fieldId to every item).
CHANGELOG_ALIASES = {
    "Fix Version": "fixVersions",
    "Version": "versions",
    "Component": "components",
    "Attachment": "attachment",
    "duedate": "duedate",
    "Security": "security",
    "Environment": "environment",
    "timeoriginalestimate": "timeoriginalestimate",
    "timeestimate": "timeestimate",
    "timespent": "timespent",
}
