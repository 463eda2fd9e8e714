"""Titles and bodies of the notifications that scans create.

Notifications reach users whose roles may not read financial fields, so the texts
name the contract, its number, its client and dates, and never an amount, a VAT
rate, indexation or a price agreement.
"""

from __future__ import annotations

from datetime import date

from contractgql.domain.reminders import PlannedReminder
from contractgql.jobs.planning import ContractRow

TITLE_LENGTH = 300


def reminder_message(
    contract: ContractRow, reminder: PlannedReminder, today: date
) -> tuple[str, str]:
    """Return the title and body of the notification about a new reminder."""
    label = contract.label
    client = contract.client_name
    anchor = reminder.anchor_date.isoformat()
    if reminder.kind == "notice":
        title = f"Notice deadline {anchor}: {label}"
        body = (
            f"The last day to give notice on contract {label} with {client} is "
            f"{anchor}."
        )
    elif reminder.kind == "end":
        title = f"Contract ends {anchor}: {label}"
        body = f"Contract {label} with {client} ends on {anchor}."
    elif reminder.kind == "review":
        title = f"Review due {anchor}: {label}"
        body = (
            f"Open-ended contract {label} with {client} is due for its yearly review "
            f"on {anchor}."
        )
    else:
        title = f"Notice deadline passed: {label}"
        end = contract.end_date.isoformat() if contract.end_date else "its end date"
        body = (
            f"The notice deadline of contract {label} with {client} passed on "
            f"{anchor} without notice, so the contract renews automatically after "
            f"{end}."
        )
    if reminder.due_date < today:
        body += (
            f" This reminder is late: it was due on {reminder.due_date.isoformat()}."
        )
    return title[:TITLE_LENGTH], body


def task_message(
    contract: ContractRow, task_title: str, due_date: date
) -> tuple[str, str]:
    """Return the title and body of the notification to a task's assignee."""
    title = f"New task: {task_title}"
    body = (
        f"{task_title}, for contract {contract.label} with {contract.client_name}, "
        f"is due on {due_date.isoformat()}."
    )
    return title[:TITLE_LENGTH], body
