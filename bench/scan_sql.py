"""One hand-written SQL statement that selects the reminders a scan would insert.

It applies the rules of `contractgql.domain.reminders` and
`contractgql.jobs.planning.plan_contract` to the organization's signed,
unarchived contracts as of one date:

- the anchor is the notice deadline (end date + 1 day - notice period - 1 day) for
  contracts with a notice period. It is the end date for auto-renewing contracts
  without one (both of kind `notice`) and for all others (kind `end`);
- the offsets are the contract's own, else its type's, else 3 and 1 months, and a
  contract of 24 months or more also gets 6 months when none of its offsets reaches
  that far before its end date;
- a reminder is due when its anchor is today or later and its due date (the anchor
  minus the offset) is today or earlier;
- an auto-renewing contract whose notice deadline has passed and whose end date has
  not gets a `missed_notice` alert, due the day after the deadline;
- an open-ended contract gets a `review` reminder one month before the next
  anniversary of its start, and none of the above;
- a contract with recorded notice (`notice_date`) gets nothing.

PostgreSQL's `date - interval 'n months'` clamps to the month's end, as
relativedelta does. The statement only selects rows: it does not check the
reminders already stored, so it matches the scan on an empty reminders table.
It assumes valid offsets, as the benchmark seeds them, where the scan would skip
a contract with invalid ones.
"""

from __future__ import annotations

# $1: organization id, $2: the organization's date.
DUE_REMINDERS_SQL = """
WITH candidate AS (
    SELECT
        c.id,
        c.start_date,
        c.end_date,
        c.auto_renewal,
        c.notice_count IS NOT NULL AND c.notice_unit IS NOT NULL AS has_notice,
        CASE
            WHEN c.notice_count IS NOT NULL AND c.notice_unit IS NOT NULL THEN
                (c.end_date + 1 - CASE c.notice_unit
                    WHEN 'days' THEN make_interval(days => c.notice_count)
                    WHEN 'weeks' THEN make_interval(weeks => c.notice_count)
                    ELSE make_interval(months => c.notice_count)
                END)::date - 1
        END AS notice_deadline,
        COALESCE(
            CASE WHEN jsonb_typeof(c.reminder_offsets) = 'array'
                AND jsonb_array_length(c.reminder_offsets) > 0
                THEN c.reminder_offsets END,
            CASE WHEN jsonb_typeof(t.reminder_offsets) = 'array'
                AND jsonb_array_length(t.reminder_offsets) > 0
                THEN t.reminder_offsets END,
            '[{"count": 3, "unit": "months"}, {"count": 1, "unit": "months"}]'::jsonb
        ) AS offsets
    FROM contracts c
    LEFT JOIN contract_types t ON t.id = c.contract_type_id
    WHERE c.organization_id = $1
      AND c.stage = 'signed'
      AND c.archived_at IS NULL
      AND c.notice_date IS NULL
),
anchored AS (
    SELECT
        candidate.*,
        CASE WHEN has_notice OR auto_renewal THEN 'notice' ELSE 'end' END AS kind,
        CASE WHEN has_notice OR auto_renewal
            THEN COALESCE(notice_deadline, end_date)
            ELSE end_date
        END AS anchor_date,
        (start_date + interval '24 months')::date <= end_date + 1 AS long_term
    FROM candidate
)
SELECT a.id AS contract_id, r.kind, r.anchor_date, r.offset_count, r.offset_unit,
       r.due_date
FROM anchored a
CROSS JOIN LATERAL (
    SELECT a.kind, a.anchor_date, o.offset_count, o.offset_unit,
           (a.anchor_date - CASE o.offset_unit
               WHEN 'days' THEN make_interval(days => o.offset_count)
               WHEN 'weeks' THEN make_interval(weeks => o.offset_count)
               ELSE make_interval(months => o.offset_count)
           END)::date AS due_date
    FROM (
        SELECT (e ->> 'count')::int AS offset_count, e ->> 'unit' AS offset_unit
        FROM jsonb_array_elements(a.offsets) AS e
        UNION
        SELECT 6, 'months'
        WHERE a.long_term AND NOT EXISTS (
            SELECT 1 FROM jsonb_array_elements(a.offsets) AS e
            WHERE (a.end_date - CASE e ->> 'unit'
                WHEN 'days' THEN make_interval(days => (e ->> 'count')::int)
                WHEN 'weeks' THEN make_interval(weeks => (e ->> 'count')::int)
                ELSE make_interval(months => (e ->> 'count')::int)
            END)::date <= (a.end_date - interval '6 months')::date
        )
    ) AS o
    WHERE a.end_date IS NOT NULL AND a.anchor_date >= $2

    UNION ALL

    SELECT 'missed_notice', a.notice_deadline, 0, 'days', a.notice_deadline + 1
    WHERE a.auto_renewal
      AND a.end_date IS NOT NULL
      AND a.notice_deadline < $2
      AND $2 <= a.end_date

    UNION ALL

    SELECT 'review', anniversary, 1, 'months',
           (anniversary - interval '1 month')::date
    FROM (
        SELECT CASE WHEN first_try < $2
            THEN (a.start_date + make_interval(years => years + 1))::date
            ELSE first_try
        END AS anniversary
        FROM (
            SELECT years,
                   (a.start_date + make_interval(years => years))::date AS first_try
            FROM (
                SELECT greatest(
                    1, extract(year FROM $2::date)::int
                       - extract(year FROM a.start_date)::int
                ) AS years
            ) AS y
        ) AS tries
    ) AS next_anniversary
    WHERE a.end_date IS NULL
) AS r
WHERE r.due_date <= $2
"""

# The reminders that a scan stored, in the statement's columns.
STORED_REMINDERS_SQL = """
SELECT contract_id, kind, anchor_date, offset_count, offset_unit, due_date
FROM reminders
WHERE organization_id = $1
"""


def difference_sql(left: str, right: str) -> str:
    """Return a statement counting the rows of `left` that `right` lacks."""
    return f"SELECT count(*) FROM (({left}) EXCEPT ALL ({right})) AS missing"
