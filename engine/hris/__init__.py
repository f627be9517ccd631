"""The HRIS user sync's pure core: file → rows → desired state → plan → rendered plan.

Nothing in this package does I/O, reads a clock or talks to a target; the source, the
target adapter and the apply step call into it with values and get values back.
"""

from engine.hris.actions import Action
from engine.hris.desired import DesiredState, DesiredUser, build_desired
from engine.hris.plan import Change, FieldChange, Guard, Plan, Summary
from engine.hris.planner import DeletionGuardTrippedError, plan_sync
from engine.hris.reader import HrisFile, read_rows
from engine.hris.render import plan_to_json, render_text
from engine.hris.rows import Problem, ProblemCode
from engine.hris.snapshot import CustomFieldDefinition, CustomValue, ExternalId, LmsGroup, LmsUser, Snapshot

__all__ = [
    "Action",
    "Change",
    "CustomFieldDefinition",
    "CustomValue",
    "DeletionGuardTrippedError",
    "DesiredState",
    "DesiredUser",
    "ExternalId",
    "FieldChange",
    "Guard",
    "HrisFile",
    "LmsGroup",
    "LmsUser",
    "Plan",
    "Problem",
    "ProblemCode",
    "Snapshot",
    "Summary",
    "build_desired",
    "plan_sync",
    "plan_to_json",
    "read_rows",
    "render_text",
]
