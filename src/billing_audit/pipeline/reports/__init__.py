"""Reports: the workbook and dashboard of a window of events, stored in S3 behind lasting links."""
