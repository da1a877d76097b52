"""All SQL of customer events, churn and pain points. Flushes, never commits."""

from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from feedback_svc.common import source_clause
from feedback_svc.customers import rules
from feedback_svc.customers.models import CustomerEvent


class CustomerRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add_once(self, event: CustomerEvent) -> CustomerEvent:
        """Insert unless (source, external_id) is stored; the stored event either way."""
        await self.session.execute(
            insert(CustomerEvent)
            .values(event.model_dump())
            .on_conflict_do_nothing(index_elements=["source", "external_id"])
        )
        row = (
            await self.session.execute(
                text("SELECT * FROM customer_events WHERE source = :source AND external_id = :external_id"),
                {"source": event.source, "external_id": event.external_id},
            )
        ).one()
        return CustomerEvent.model_validate(dict(row._mapping))

    async def churn(
        self, start: datetime, end: datetime, bucket: str, tz: str, sources: frozenset[str] | None
    ) -> list[dict[str, Any]]:
        """Per period of [start, end): customers active at its start, those of them who left in it, joiners."""
        params: dict[str, Any] = {"start": start, "end": end, "bucket": bucket, "tz": tz}
        visible = source_clause("e.source", sources, params) or "true"
        statement = text(
            f"""
            WITH periods AS (
                SELECT p AT TIME ZONE :tz AS p_start,
                       (p + CAST('1 ' || :bucket AS interval)) AT TIME ZONE :tz AS p_end
                FROM generate_series(
                    date_trunc(:bucket, CAST(:start AS timestamptz) AT TIME ZONE :tz),
                    CAST(:end AS timestamptz) AT TIME ZONE :tz - interval '1 microsecond',
                    CAST('1 ' || :bucket AS interval)
                ) AS p
            ),
            membership AS (
                SELECT * FROM customer_events e WHERE {visible} AND e.type IN ('joined', 'left')
            )
            SELECT pr.p_start AS period,
                   (SELECT count(*) FROM (
                        SELECT DISTINCT ON (m.customer_ref) m.customer_ref, m.type FROM membership m
                        WHERE m.at < pr.p_start ORDER BY m.customer_ref, m.at DESC, m.type
                    ) latest WHERE latest.type = 'joined') AS active_at_start,
                   (SELECT count(*) FROM (
                        SELECT DISTINCT ON (m.customer_ref) m.customer_ref, m.type FROM membership m
                        WHERE m.at < pr.p_start ORDER BY m.customer_ref, m.at DESC, m.type
                    ) latest WHERE latest.type = 'joined' AND EXISTS (
                        SELECT 1 FROM membership l WHERE l.customer_ref = latest.customer_ref AND l.type = 'left'
                        AND l.at >= pr.p_start AND l.at < pr.p_end)) AS left,
                   (SELECT count(DISTINCT m.customer_ref) FROM membership m
                    WHERE m.type = 'joined' AND m.at >= pr.p_start AND m.at < pr.p_end) AS joined
            FROM periods pr
            ORDER BY pr.p_start
            """
        )
        return [dict(r._mapping) for r in (await self.session.execute(statement, params)).all()]

    async def pain_points(
        self,
        start: datetime | None,
        end: datetime | None,
        customer_ref: str | None,
        sources: frozenset[str] | None,
        after: tuple[int, str] | None,
        limit: int,
        warning_runs: dict[str, int] | None = None,
    ) -> list[dict[str, Any]]:
        """Per customer: complaints, repeats, low-CSAT responses and `warning_runs` (counted by evaluation-svc,
        given here; None: not known, counted as 0 in the order), highest index first."""
        warnings = warning_runs or {}
        params: dict[str, Any] = {
            "warn_customers": list(warnings),
            "warn_counts": list(warnings.values()),
            "ww": rules.WARNING_RUN_WEIGHT,
            "start": start,
            "end": end,
            "customer": customer_ref,
            "low": rules.LOW_CSAT,
            "cw": rules.COMPLAINT_WEIGHT,
            "rw": rules.REPEAT_WEIGHT,
            "lw": rules.LOW_CSAT_WEIGHT,
            "limit": limit,
        }
        complaints_visible = source_clause("c.source", sources, params) or "true"
        feedback_visible = source_clause("f.source", sources, params) or "true"
        window_c = (
            "(CAST(:start AS timestamptz) IS NULL OR c.received_at >= :start)"
            " AND (CAST(:end AS timestamptz) IS NULL OR c.received_at < :end)"
            " AND (CAST(:customer AS text) IS NULL OR c.customer_ref = :customer)"
        )
        window_f = window_c.replace("c.received_at", "f.given_at").replace("c.customer_ref", "f.customer_ref")
        page = "true"
        if after is not None:
            page = "(j.idx < :after_idx OR (j.idx = :after_idx AND j.customer_ref > :after_customer))"
            params.update(after_idx=after[0], after_customer=after[1])
        statement = text(
            f"""
            WITH per_category AS (
                SELECT c.customer_ref, c.category, count(*) AS n,
                       count(*) FILTER (WHERE c.repeat_of IS NOT NULL) AS r
                FROM complaints c WHERE {complaints_visible} AND {window_c}
                GROUP BY 1, 2
            ),
            per_customer AS (
                SELECT customer_ref, sum(n)::int AS complaints, sum(r)::int AS repeats,
                       jsonb_agg(jsonb_build_object('category', category, 'complaints', n, 'repeats', r)
                                 ORDER BY n DESC, category) AS by_category
                FROM per_category GROUP BY 1
            ),
            low AS (
                SELECT f.customer_ref, count(*)::int AS low_csat FROM feedback f
                WHERE {feedback_visible} AND {window_f} AND f.customer_ref IS NOT NULL AND f.csat <= :low
                GROUP BY 1
            ),
            warned AS (
                SELECT w.customer_ref, w.warning_runs
                FROM unnest(CAST(:warn_customers AS text[]), CAST(:warn_counts AS int[]))
                     AS w(customer_ref, warning_runs)
                WHERE (CAST(:customer AS text) IS NULL OR w.customer_ref = :customer)
            ),
            joined AS (
                SELECT coalesce(pc.customer_ref, l.customer_ref, w.customer_ref) AS customer_ref,
                       coalesce(pc.complaints, 0) AS complaints, coalesce(pc.repeats, 0) AS repeats,
                       coalesce(l.low_csat, 0) AS low_csat, coalesce(w.warning_runs, 0) AS warning_runs,
                       coalesce(pc.by_category, '[]') AS by_category
                FROM per_customer pc
                FULL JOIN low l ON l.customer_ref = pc.customer_ref
                FULL JOIN warned w ON w.customer_ref = coalesce(pc.customer_ref, l.customer_ref)
            )
            SELECT * FROM (
                SELECT joined.*, :cw * complaints + :rw * repeats + :lw * low_csat + :ww * warning_runs AS idx
                FROM joined
            ) j
            WHERE {page}
            ORDER BY j.idx DESC, j.customer_ref
            LIMIT :limit
            """
        )
        return [dict(r._mapping) for r in (await self.session.execute(statement, params)).all()]
