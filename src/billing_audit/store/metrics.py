"""The product's CloudWatch metrics read back: what System Insights reports of API use and webhooks."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from billing_audit.resources import METRIC_SERVICE_DIMENSION, METRICS_NAMESPACE, SERVICE_NAME

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch.client import CloudWatchClient
else:
    CloudWatchClient = Any


class CloudWatchMetrics:
    def __init__(self, client: CloudWatchClient) -> None:
        self.client = client

    def sums(self, names: Sequence[str], start: datetime, end: datetime) -> dict[str, float]:
        """Each metric's sum over [start, end), in one GetMetricData call (pages followed)."""
        seconds = max(60, int((end - start).total_seconds()))
        period = seconds + (60 - seconds % 60) % 60  # one datapoint per metric: the whole window
        queries = [
            {
                "Id": f"m{index}",
                "Label": name,
                "MetricStat": {
                    "Metric": {
                        "Namespace": METRICS_NAMESPACE,
                        "MetricName": name,
                        "Dimensions": [{"Name": METRIC_SERVICE_DIMENSION, "Value": SERVICE_NAME}],
                    },
                    "Period": period,
                    "Stat": "Sum",
                },
            }
            for index, name in enumerate(names)
        ]
        totals = dict.fromkeys(names, 0.0)
        kwargs: dict[str, Any] = {"MetricDataQueries": queries, "StartTime": start, "EndTime": end}
        while True:
            answer = self.client.get_metric_data(**kwargs)
            for result in answer["MetricDataResults"]:
                totals[str(result["Label"])] += float(sum(result.get("Values", [])))
            if not answer.get("NextToken"):
                return totals
            kwargs["NextToken"] = answer["NextToken"]

    def per_minute(self, names: Sequence[str], start: datetime, end: datetime) -> dict[str, list[float]]:
        """Each metric's sums minute by minute over [start, end), the minutes with data only: a scan
        run reports its duration, calls and backlog once each, so one value is one run's."""
        queries = [
            {
                "Id": f"m{index}",
                "Label": name,
                "MetricStat": {
                    "Metric": {
                        "Namespace": METRICS_NAMESPACE,
                        "MetricName": name,
                        "Dimensions": [{"Name": METRIC_SERVICE_DIMENSION, "Value": SERVICE_NAME}],
                    },
                    "Period": 60,
                    "Stat": "Sum",
                },
            }
            for index, name in enumerate(names)
        ]
        series: dict[str, list[float]] = {name: [] for name in names}
        kwargs: dict[str, Any] = {"MetricDataQueries": queries, "StartTime": start, "EndTime": end}
        while True:
            answer = self.client.get_metric_data(**kwargs)
            for result in answer["MetricDataResults"]:
                series[str(result["Label"])].extend(float(value) for value in result.get("Values", []))
            if not answer.get("NextToken"):
                return series
            kwargs["NextToken"] = answer["NextToken"]
