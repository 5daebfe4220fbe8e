"""CSV forms of the reports (UTF-8 with a byte-order mark, so spreadsheet programs read the Chinese right).

The analytics CSV is long-form, one figure per row: `section,item,metric,value`. The feedback CSV has one
complaint per row under the column titles of `feedback_columns.zh.yml` (wording is data).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from functools import cache
from pathlib import Path

import yaml

from crm.services.analytics.schemas import AnalyticsOut, FeedbackItem, FeedbackOut

BOM = "\ufeff"
COLUMNS_FILE = Path(__file__).with_name("feedback_columns.zh.yml")
Row = tuple[str, str, str, object]


def analytics_csv(report: AnalyticsOut) -> str:
    return _write(["section", "item", "metric", "value"], _analytics_rows(report))


def _analytics_rows(report: AnalyticsOut) -> Iterable[Row]:
    period = f"{report.period_from}..{report.period_to}"
    yield ("period", period, "timezone", report.timezone)
    for metric in (
        "conversations",
        "contained",
        "escalated",
        "containment_rate",
        "escalation_rate",
        "escalations",
        "customer_messages",
        "nlu_messages",
        "fallbacks",
        "fallback_rate",
        "csat_responses",
        "csat_average",
    ):
        yield ("summary", period, metric, getattr(report, metric))
    for metric, value in report.bot.model_dump().items():
        yield ("bot", period, metric, value)
    for day in report.conversations_by_day:
        yield ("conversations_by_day", day.day.isoformat(), "total", day.total)
        for channel, count in day.by_channel.items():
            yield ("conversations_by_day", day.day.isoformat(), channel, count)
    for tier, count in report.escalations_by_tier.items():
        yield ("escalations_by_tier", tier, "escalations", count)
    for reason in report.escalations_by_reason:
        yield ("escalations_by_reason", reason.key, "escalations", reason.count)
    for tier, times in report.first_response.items():
        for metric, value in times.model_dump().items():
            yield ("first_response", tier, metric, value)
    for tier, compliance in report.sla_compliance.items():
        yield ("sla_compliance", tier, "rate", compliance)
    for intent in report.top_intents:
        yield ("top_intents", intent.key, "messages", intent.count)
    for faq in report.top_faq_keys:
        yield ("top_faq_keys", faq.key, "messages", faq.count)
    for score, count in report.csat_distribution.items():
        yield ("csat_distribution", score, "responses", count)
    for section, groups in (("csat_by_agent", report.csat_by_agent), ("csat_by_business", report.csat_by_business)):
        for group in groups:
            item = group.label or group.key
            yield (section, item, "responses", group.responses)
            yield (section, item, "average", group.average)
            for score, count in group.distribution.items():
                yield (section, item, f"score_{score}", count)
    for department in report.complaints_by_business:
        item = department.business_name or department.business
        yield ("complaints_by_business", item, "total", department.total)
        yield ("complaints_by_business", item, "high_severity", department.high_severity)
        yield ("complaints_by_business", item, "open", department.open)
        for category, count in department.by_category.items():
            yield ("complaints_by_business", item, category, count)


@cache
def feedback_columns() -> dict[str, str]:
    """FeedbackItem field -> column title, in the report's column order."""
    with COLUMNS_FILE.open(encoding="utf-8") as handle:
        columns: dict[str, str] = yaml.safe_load(handle)
    unknown = set(columns) - set(FeedbackItem.model_fields)
    if unknown:
        raise ValueError(f"{COLUMNS_FILE.name}: unknown fields {sorted(unknown)}")
    return columns


def feedback_csv(report: FeedbackOut) -> str:
    columns = feedback_columns()
    rows = ([getattr(item, field) for field in columns] for item in report.items)
    return _write(list(columns.values()), rows)


def _write(header: list[str], rows: Iterable[Iterable[object]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if value is None else value for value in row])
    return BOM + buffer.getvalue()
