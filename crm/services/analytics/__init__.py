"""Analytics over the CRM's own tables (conversations, transcript, owner changes, escalations, CSAT, bookings,
complaints) for the ops dashboard: `analytics_report`, the department `feedback_report`, and their CSV forms."""

from crm.services.analytics.csv_export import analytics_csv, feedback_csv
from crm.services.analytics.period import Period, PeriodError
from crm.services.analytics.report import analytics_report, feedback_report

__all__ = ["Period", "PeriodError", "analytics_csv", "analytics_report", "feedback_csv", "feedback_report"]
